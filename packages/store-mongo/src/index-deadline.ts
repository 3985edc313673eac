import { InvalidArgumentError } from '@durable-rx/runtime';
import { isDelayMs, MAX_TIMER_DELAY_MS, type MemberCheck } from '@durable-rx/runtime/store-kit';
import { IndexBuildTimeoutError } from './errors/index-build-timeout-error.js';

/**
 * How long `connect` waits by default for its collections and indexes (`indexBuildTimeoutMs`): 10 minutes. A first
 * `connect` to a new database builds on empty collections at once, and one on the current layout builds nothing; a
 * build that takes longer is a new index on a populated collection (build it before the rollout) or a build waiting
 * for a replica set member that is down.
 */
export const DEFAULT_INDEX_BUILD_TIMEOUT_MS = 10 * 60_000;

/**
 * The {@link MemberCheck} of `indexBuildTimeoutMs`: a number of milliseconds above 0 (the store kit's `isDelayMs`) and at
 * most what one timer can wait (the store kit's `MAX_TIMER_DELAY_MS`, 2^31 - 1: 24.8 days; `AbortSignal.timeout` fires
 * a longer one at once), or `Infinity` (no deadline: `connect` waits for the build however long it takes).
 *
 * @example
 * ```ts
 * isIndexBuildTimeoutMs(60_000, 'MongoStore options.indexBuildTimeoutMs'); // 60000
 * isIndexBuildTimeoutMs(0, 'MongoStore options.indexBuildTimeoutMs');      // throws InvalidArgumentError
 * ```
 */
export const isIndexBuildTimeoutMs: MemberCheck<number> = (value, what) => {
  const ms = isDelayMs(value, what);
  if (ms !== Infinity && ms > MAX_TIMER_DELAY_MS) {
    throw new InvalidArgumentError(`${what} must be at most ${MAX_TIMER_DELAY_MS} ms (24.8 days), or Infinity for no deadline`);
  }
  return ms;
};

/** The deadline of one pass over the indexes: the signal each command is sent with, and what the pass is doing. */
export interface IndexDeadline {
  /** Aborted when the deadline passes; `undefined` with no deadline (`Infinity`). */
  readonly signal: AbortSignal | undefined;
  /** Records the step under way (`building the indexes of drx_messages`): the error names it. */
  step(doing: string, collection?: string): void;
}

/**
 * Runs `run` (the index pass of `connect` or `ensureIndexes`) under one deadline of `timeoutMs`: every command it sends
 * carries `deadline.signal`, which the driver honours by giving up the command (it closes that connection). When the
 * pass fails after the deadline passed, it fails with {@link IndexBuildTimeoutError} naming the step that was waiting
 * and what to do ({@link indexDeadlineMessage}); any other failure passes through as it is.
 *
 * @example
 * ```ts
 * await withIndexDeadline(600_000, 'orders', async (deadline) => {
 *   deadline.step('building the indexes of drx_messages', 'drx_messages');
 *   await messages.createIndexes(specs, { signal: deadline.signal });
 * });
 * ```
 */
export async function withIndexDeadline<T>(timeoutMs: number, dbName: string, run: (deadline: IndexDeadline) => Promise<T>): Promise<T> {
  const signal = timeoutMs === Infinity ? undefined : AbortSignal.timeout(timeoutMs);
  let doing = 'listing the collections';
  let building: string | undefined;
  const deadline: IndexDeadline = {
    signal,
    step: (next, collection) => {
      doing = next;
      building = collection;
    },
  };
  try {
    return await run(deadline);
  } catch (error) {
    if (signal?.aborted === true) throw new IndexBuildTimeoutError(indexDeadlineMessage(dbName, timeoutMs, doing, building), { cause: error });
    throw error;
  }
}

/**
 * What {@link IndexBuildTimeoutError} says: the step that did not finish within `timeoutMs`, and, when it was an index
 * build (`building`: the collection), why a build waits (its commit quorum), that the build goes on on the server, and
 * what to do.
 *
 * @example
 * ```ts
 * indexDeadlineMessage('orders', 600_000, 'building the indexes of drx_messages', 'drx_messages');
 * // 'MongoStore orders: building the indexes of drx_messages did not finish within 600000 ms (indexBuildTimeoutMs). ...'
 * ```
 */
export function indexDeadlineMessage(dbName: string, timeoutMs: number, doing: string, building?: string): string {
  const head = `MongoStore ${dbName}: ${doing} did not finish within ${timeoutMs} ms (indexBuildTimeoutMs).`;
  if (building === undefined) {
    return `${head} The command waited on the server, most likely for a lock on the collection that another operation ` +
      '(an index build, a dropIndexes) holds. Nothing was changed by the step that timed out; connect again once that ' +
      'operation is done (db.currentOp() shows it).';
  }
  return `${head} MongoDB marks a new index ready only once every voting data-bearing member of the replica set has ` +
    'built it (the default commit quorum), so a member that is down or far behind holds the build up, as does a large ' +
    'collection. The build itself goes on on the server (db.currentOp() shows it as createIndexes on ' +
    `${JSON.stringify(building)}): bring the member back, or lower that build's quorum in mongosh ` +
    `(db.runCommand({ setIndexCommitQuorum: ${JSON.stringify(building)}, indexNames: [<the indexes being built>], ` +
    'commitQuorum: \'majority\' })), or let a large build finish; then connect again: a later connect joins the running ' +
    'build or finds the index ready. To wait longer at connect, raise indexBuildTimeoutMs.';
}
