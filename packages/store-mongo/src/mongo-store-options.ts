import { InvalidArgumentError, type Clock, type Logger } from '@durable-rx/runtime';
import { checkDependencies, hasMethods, isBoolean, isString, readChecked, taken, type MemberCheck } from '@durable-rx/runtime/store-kit';
import type { MongoClient, MongoClientOptions, TransactionOptions } from 'mongodb';
import { isStoreCallTimeoutMs } from './call-deadline.js';
import { isIndexBuildTimeoutMs } from './index-deadline.js';
import { DEFAULT_RESUME_POLICY, type ResumePolicy } from './resume-policy.js';

/** Options every way of opening a {@link MongoStore} shares. */
export interface MongoStoreCommonOptions {
  /** Prepended to the collection names (`instances`, `history`, `messages`, `activityTasks`). Default `''`. */
  readonly collectionPrefix?: string;
  /**
   * Create the indexes when opening (idempotent). Default `true`; turn off when indexes are managed by migrations: then
   * `connect` only checks that every index of `INDEXES` exists, and fails with `MongoStoreError` naming those missing.
   */
  readonly createIndexes?: boolean;
  /**
   * How long `connect` (and `ensureIndexes`) may take over the collections and indexes: listing them, creating the
   * missing ones and waiting for an index build, or (with `createIndexes: false`) checking them. Default 10 minutes
   * (600 000 ms). A build waits for its commit quorum (every voting data-bearing member of the
   * replica set), which a member that is down holds up with no end of its own; past this deadline `connect` rejects
   * with `IndexBuildTimeoutError`, which names the step and what to do, and the build goes on on the server. A number of
   * ms above 0 and at most 2^31 - 1, or `Infinity` for no deadline (else `InvalidArgumentError`).
   */
  readonly indexBuildTimeoutMs?: number;
  /**
   * Largest JSON text per stored document: an instance's status (input, output, custom status), a history event, a
   * message, an activity task. Default and maximum {@link MAX_PAYLOAD_BYTES} (15 MiB). Larger values are refused
   * with `PayloadTooLargeError` (413) before anything is written.
   */
  readonly maxPayloadBytes?: number;
  /** Where change-feed trouble is reported (a dropped stream that is resumed, a corrupt event). Default: the console. */
  readonly logger?: Logger;
  /**
   * Back-off of the change feed's reopen after failures, and after how many consecutive persistent failures a status
   * feed ends its subscribers with the error (`maxPersistentFailures`, default 6) instead of retrying quietly.
   */
  readonly resumePolicy?: Partial<ResumePolicy>;
  /**
   * How long a change stream stays open after its last subscriber left, so that subscribers that come and go (SSE
   * clients, `waitForCompletion` calls) reuse it instead of reopening one each time. Default 3 s; 0 closes at once.
   */
  readonly feedLingerMs?: number;
  /**
   * The store's time and timers: the change feeds' linger (`feedLingerMs`), reopen back-off (`resumePolicy`) and
   * resync retries, the last moment a feed was healthy, the write time of messages and tasks a commit inserts, and
   * the deadline of a `listEnded` call (its timer; its elapsed time by `performance.now()` unless the clock's
   * `timersFireOnTime` is `true`, as a `VirtualClock`'s is, then by its `now()`). Default: the system clock. Pass the runtime's clock (a `VirtualClock` from `@durable-rx/runtime/testing` in tests).
   * The clock-skew check when connecting always measures the real clock against the server's.
   */
  readonly clock?: Clock;
  /**
   * Most messages one orchestration claim takes (and so one step consumes and one commit deletes). The rest stay
   * queued and are claimed by the next step, so a backlog drains in bounded transactions. Default and largest
   * 100; a claim's own `maxMessages` can only lower it.
   */
  readonly maxMessagesPerClaim?: number;
  /**
   * Most instances whose ids the per-instance status stream (`instanceChanges$`) names in its server-side `$match`;
   * beyond it the stream carries every instance and the process filters. Default 1000. Also beyond 4 MiB of their keys
   * (`MAX_WATCH_FILTER_BYTES`: about 5,000 ids of 256 non-ASCII characters), whatever this bound, so that the command
   * that opens the stream stays under MongoDB's 16 MiB. (It also carries every instance
   * for 10 s at a time while new instances are watched faster than its reopens allow: 10 at once, then one a second;
   * see `WatchScope`.) A stream that carries every instance is reopened naming the watched ones as soon as a watch
   * that ends brings them back within both bounds (from the same reopen budget, or 10 s later when it is spent).
   */
  readonly maxWatchedInstances?: number;
  /**
   * Largest tolerated difference between this process's clock and the server's, checked when connecting and every
   * `clockSkewCheckMs` after (a warning through `logger` beyond it, repeated at most hourly while it lasts). Default
   * 2 s. Leases and timers are judged by each worker's clock. A finite number, 0 or more (else `InvalidArgumentError`).
   * Apart from this warning, claims are refused while the skew exceeds 10 % of the lease they ask for (see
   * `refuseClaimsOnClockSkew`).
   */
  readonly maxClockSkewMs?: number;
  /**
   * Time between two clock checks after the one at connect (a `hello` to the server; `store.clockSkew` holds the
   * latest). Default 60 s; 0 checks at connect only (a claim that would be refused for clock skew still measures
   * again first when the last measurement is over 10 s old). Timed by `clock`. A finite number, 0 or more (else
   * `InvalidArgumentError`).
   */
  readonly clockSkewCheckMs?: number;
  /**
   * Refuse claims (`StoreUnreachableError`, 503) while this process's clock is off the server's by more than 10 % of
   * the lease they ask for, as the latest clock check measured it (the system clock: a runtime's own `clock`, such as
   * a virtual one in tests, is not judged). Default `true`: with several workers such a clock takes over live
   * leases or writes leases that expire early for the others, and an activity may run twice. A deployment with a
   * single worker process has no other worker to race and may pass `false`, so that a skewed clock never stops its
   * work (the warning beyond `maxClockSkewMs` stays). A boolean (else `InvalidArgumentError`).
   */
  readonly refuseClaimsOnClockSkew?: boolean;
  /**
   * The `storeCallTimeoutMs` of the runtime and clients that use this store (`createRuntime`, `createClient`), when
   * not their default 30 s: how long they wait for one store call before they give up on it and try again. A
   * `listEnded` call (the retention sweep's listing, its reads and the repairs it writes) ends by five sixths of it,
   * 25 s at most (`listingDeadlineMs`), so it has answered, and none of its work goes on, before its caller gives up
   * and starts another. Default 30 000 (a 25 s deadline). A number of ms of at least 1 000, `Infinity` included (a
   * floor under which every listing would fail: `isStoreCallTimeoutMs`; else `InvalidArgumentError` naming it). A
   * runtime whose own bound is shorter gives up on every MongoDB call before its server could answer; give its store
   * 1 000.
   */
  readonly storeCallTimeoutMs?: number;
  /**
   * Options of every transaction, merged over the default: snapshot read concern, majority write concern, primary, 30 s
   * commit limit. A `w` other than `'majority'` gives up read-your-writes (`connect` logs a warning).
   */
  readonly transactionOptions?: TransactionOptions;
}

/** Open a store on a connection string; the store owns the client it creates and closes it on `close()`. */
export interface MongoStoreUriOptions extends MongoStoreCommonOptions {
  /** A `mongodb://` or `mongodb+srv://` connection string of a replica set or sharded cluster. */
  readonly uri: string;
  /** The database. Default: the database in the URI's path, else `'durable-rx'`. */
  readonly dbName?: string;
  /**
   * Driver options, merged over the store's defaults (`serverSelectionTimeoutMS: 10_000`, `connectTimeoutMS: 10_000`,
   * `waitQueueTimeoutMS: 10_000`, `appName: 'durable-rx'`).
   */
  readonly clientOptions?: MongoClientOptions;
}

/** Open a store on a client the application manages; `close()` leaves the client open. */
export interface MongoStoreClientOptions extends MongoStoreCommonOptions {
  readonly client: MongoClient;
  readonly dbName: string;
}

/** How to open a {@link MongoStore}: a connection string, or an existing `MongoClient` and a database name. */
export type MongoStoreOptions = MongoStoreUriOptions | MongoStoreClientOptions;

/**
 * Default driver options of a store that creates its own client. `waitQueueTimeoutMS` bounds the wait for a free
 * connection when every connection of the pool (`maxPoolSize`, 100) is busy: the driver's default is no limit, and
 * (since it ignores `timeoutMS`) nothing else ends that wait.
 */
export const DEFAULT_CLIENT_OPTIONS = {
  serverSelectionTimeoutMS: 10_000,
  connectTimeoutMS: 10_000,
  waitQueueTimeoutMS: 10_000,
  appName: 'durable-rx',
} as const satisfies MongoClientOptions;

/** Default database when neither `dbName` nor the URI names one. */
export const DEFAULT_DB_NAME = 'durable-rx';

/**
 * The driver options of a store that creates its own client: {@link DEFAULT_CLIENT_OPTIONS} for every option the
 * connection string does not set (options given to `MongoClient` would override the URI's), then `clientOptions`.
 *
 * @example
 * ```ts
 * clientOptionsFor('mongodb://h/?replicaSet=rs0&serverSelectionTimeoutMS=2000', undefined);
 * // { connectTimeoutMS: 10000, appName: 'durable-rx' }: the URI's 2 s selection timeout stays in force
 * ```
 */
export function clientOptionsFor(uri: string, clientOptions: MongoClientOptions | undefined): MongoClientOptions {
  const query = uri.includes('?') ? uri.slice(uri.indexOf('?') + 1).split('#')[0] ?? '' : '';
  const inUri = new Set(
    query.split('&').map((pair) => decodeURIComponentSafe(pair.split('=')[0] ?? '').toLowerCase()).filter((key) => key !== ''),
  );
  const defaults = Object.fromEntries(Object.entries(DEFAULT_CLIENT_OPTIONS).filter(([key]) => !inUri.has(key.toLowerCase())));
  return { ...defaults, ...clientOptions };
}

/**
 * Warnings about driver options that weaken the store's guarantees under failures (logged by `connect`, not refused:
 * the application may have reasons):
 * - `retryWrites: false`: a claim, a lease renewal or release that meets a failover fails instead of being retried once
 *   by the driver (a claim that was applied keeps its instance leased until the lease expires);
 * - `retryReads: false`: every read that meets a failover fails;
 * - a `socketTimeoutMS` shorter than a commit may legitimately wait for a majority (`maxCommitTimeMS` + 1 s, 31 s by
 *   default) or for a change stream's `getMore`: the driver closes the connection and the outcome of that commit is
 *   unknown (`CommitOutcomeUnknownError`);
 * - `waitQueueTimeoutMS: 0` (the driver's default, so every client the application creates without it): when every
 *   pooled connection is busy, an operation (a claim, a commit, a feed's read) waits for one without limit, and
 *   nothing else ends that wait (the driver ignores `timeoutMS`); a store that creates its client sets 10 s.
 *
 * @example
 * ```ts
 * clientOptionWarnings({ retryWrites: false }); // ['retryWrites is off: ...']
 * ```
 */
export function clientOptionWarnings(
  options: {
    readonly retryWrites?: boolean; readonly retryReads?: boolean; readonly socketTimeoutMS?: number; readonly waitQueueTimeoutMS?: number;
  },
  commitWaitMs = 31_000,
): string[] {
  const warnings: string[] = [];
  if (options.retryWrites === false) {
    warnings.push(
      'retryWrites is off: a claim or lease write that meets a failover fails instead of being retried once by the driver ' +
        '(a claim that was applied then waits out its lease). Remove retryWrites=false unless the deployment cannot retry writes.',
    );
  }
  if (options.retryReads === false) warnings.push('retryReads is off: every read that meets a failover fails instead of being retried once.');
  const socket = options.socketTimeoutMS;
  if (socket !== undefined && socket > 0 && socket <= commitWaitMs) {
    warnings.push(
      `socketTimeoutMS (${socket} ms) is not longer than a commit may wait for a majority (${commitWaitMs} ms): such a ` +
        'commit is cut off with an unknown outcome. Leave socketTimeoutMS at 0 (the driver interrupts operations on a ' +
        'server whose heartbeat times out) or set it above that.',
    );
  }
  if (options.waitQueueTimeoutMS === 0) {
    warnings.push(
      'waitQueueTimeoutMS is 0 (the driver\u2019s default): when every pooled connection is busy, an operation waits for ' +
        'one without limit (the driver ignores timeoutMS). Set waitQueueTimeoutMS on the client (a store that creates ' +
        `its own client uses ${DEFAULT_CLIENT_OPTIONS.waitQueueTimeoutMS} ms).`,
    );
  }
  return warnings;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * What is wrong with the change-feed options of `options` (`undefined`: nothing), checked by `connect` before it
 * connects: `feedLingerMs` a finite number of ms, 0 or more; `maxWatchedInstances` an integer, 0 or more;
 * `resumePolicy.initialDelayMs` and `maxDelayMs` finite and above 0, the largest delay at least the first;
 * `maxPersistentFailures` an integer, 1 or more, or `Infinity`. A NaN or 0 delay would reopen a failing change stream on a 1 ms
 * timer for as long as it fails (a request loop against the server), and a NaN linger would close it at once.
 *
 * @example
 * ```ts
 * feedOptionProblem({ uri, resumePolicy: { initialDelayMs: Number.NaN } });
 * // 'resumePolicy.initialDelayMs must be a finite number of milliseconds above 0'
 * ```
 */
export function feedOptionProblem(options: MongoStoreCommonOptions): string | undefined {
  const { feedLingerMs, maxWatchedInstances } = options;
  if (feedLingerMs !== undefined && !(isFiniteNumber(feedLingerMs) && feedLingerMs >= 0)) {
    return 'feedLingerMs must be a finite number of milliseconds, 0 or more';
  }
  if (maxWatchedInstances !== undefined && !(Number.isInteger(maxWatchedInstances) && maxWatchedInstances >= 0)) {
    return 'maxWatchedInstances must be an integer, 0 or more';
  }
  const policy: unknown = options.resumePolicy;
  if (policy === undefined) return undefined;
  if (policy === null || typeof policy !== 'object') return 'resumePolicy must be an object';
  const given = policy as Partial<Record<keyof ResumePolicy, unknown>>;
  for (const name of ['initialDelayMs', 'maxDelayMs'] as const) {
    const ms = given[name];
    if (ms !== undefined && !(isFiniteNumber(ms) && ms > 0)) return `resumePolicy.${name} must be a finite number of milliseconds above 0`;
  }
  const { initialDelayMs, maxDelayMs } = { ...DEFAULT_RESUME_POLICY, ...(policy as Partial<ResumePolicy>) };
  if (maxDelayMs < initialDelayMs) return `resumePolicy.maxDelayMs (${maxDelayMs}) must be at least its initialDelayMs (${initialDelayMs})`;
  const failures = given.maxPersistentFailures;
  if (failures !== undefined && failures !== Infinity && !(Number.isInteger(failures) && (failures as number) >= 1)) {
    return 'resumePolicy.maxPersistentFailures must be an integer, 1 or more, or Infinity (never stop retrying)';
  }
  return undefined;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Checks the shape of `connect`'s `options` before anything is created (no client, no connection): an object with a
 * `client` (a MongoClient) or a `uri` (a string); `dbName` and `collectionPrefix` strings; `createIndexes` and
 * `refuseClaimsOnClockSkew` booleans; `indexBuildTimeoutMs` a number of ms above 0 (at most 2^31 - 1) or `Infinity`;
 * `storeCallTimeoutMs` a number of ms of at least 1 s or `Infinity` (`isStoreCallTimeoutMs`);
 * `clientOptions` and `transactionOptions` objects; `clock` a Clock and `logger` a Logger. Anything else is an
 * `InvalidArgumentError` naming the member (`MongoStore options.createIndexes must be a boolean`). The numbers are
 * checked after, with their ranges (`feedOptionProblem`).
 *
 * @example
 * ```ts
 * checkConnectOptions({ uri: 'mongodb://h/?replicaSet=rs0', createIndexes: 'no' }); // throws InvalidArgumentError
 * ```
 */
export function checkConnectOptions(options: unknown): void {
  const what = 'MongoStore options';
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${what} must be an object with a uri or a client`);
  const checked = readChecked(options, what, CONNECT_CHECKS);
  if (checked.client === undefined && checked.uri === undefined) throw new InvalidArgumentError(`${what} need a uri or a client`);
  if (checked.client !== undefined && checked.dbName === undefined) throw new InvalidArgumentError(`${what}.dbName is required with a client`);
  checkDependencies(checked, what);
}

const isObject: MemberCheck<object> = (value, what) => {
  if (value === null || typeof value !== 'object') throw new InvalidArgumentError(`${what} must be an object`);
  return value;
};

/** The members `checkConnectOptions` checks, by kind. */
const CONNECT_CHECKS = {
  client: hasMethods<MongoClient>(['db', 'startSession', 'close']),
  uri: isString,
  dbName: isString,
  collectionPrefix: isString,
  createIndexes: isBoolean,
  indexBuildTimeoutMs: isIndexBuildTimeoutMs,
  refuseClaimsOnClockSkew: isBoolean,
  storeCallTimeoutMs: isStoreCallTimeoutMs,
  clientOptions: isObject,
  transactionOptions: isObject,
  // Checked after, by `checkDependencies` and `feedOptionProblem` (ranges), or where they are used.
  clock: taken,
  logger: taken,
  maxPayloadBytes: taken,
  resumePolicy: taken,
  feedLingerMs: taken,
  maxMessagesPerClaim: taken,
  maxWatchedInstances: taken,
  maxClockSkewMs: taken,
  clockSkewCheckMs: taken,
};
