import { Buffer } from 'node:buffer';
import type { OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import {
  decideClaimedWork, type ActivityWorkItem, type ClaimedWorkAction, type Lease, type OrchestrationWorkItem, type UnconfirmedClaims,
} from '@durable-rx/runtime/store-kit';
import { decodeInstanceState, decodeMessage, decodeTask, type InstanceDoc, type MessageDoc, type TaskDoc } from './documents.js';
import { instanceIdOfKey } from './instance-key.js';
import { isDurableError } from '@durable-rx/runtime';
import { classifyDriverError, mapCommitFailure } from './map-driver-error.js';

/**
 * What a claim does with the documents it leased: store-kit's `decideClaimedWork` (hand the work item out, or skip
 * work whose stored state, message or task does not decode: keep the lease, log, claim the next work), or
 * `'no-messages'` (an instance purged or replaced between the lease and the read of its messages: the claim releases
 * it and looks again). Decoding never throws out of here, so a document MongoStore did not write cannot make a claim
 * fail and stall every worker behind it.
 */
export type ClaimReading<T> = ClaimedWorkAction<T> | { readonly kind: 'no-messages' };

/**
 * The statuses of instances whose claim leaves the input out of the work item's state: a step of a Running instance
 * never reads its state's input. The engine reads a claimed state's input only to rewind a Failed instance (the rewound
 * start of a history recorded without its payload gets the input back) and to apply a start recorded without its
 * input (an execution not started yet); the orchestrator's `getInput()` reads the start in the history. And MongoStore
 * writes the input only with a new execution (store-kit's `writesInput`): a step of the same execution leaves the
 * stored input as it is, whatever its state carries. So the hot path of a long orchestration, one step per activity
 * result, timer or event of a Running instance, no longer reads and parses an input of up to 15 MiB at every step;
 * a Pending, Suspended, ContinuedAsNew or terminal instance's claim still carries it.
 */
export const CLAIM_WITHOUT_INPUT: readonly OrchestrationRuntimeStatus[] = ['Running'];

/**
 * The projection of an orchestration claim's `findOneAndUpdate` (and of its look-up of a lease it could not confirm):
 * the state, `messageSeq`, `leaseSeq` and `leaseRead` (which bound the read of its messages, `claimedReadOf`), and the
 * input unless the instance's status is one of {@link CLAIM_WITHOUT_INPUT} (read from the indexed copy the same write
 * keeps beside the state). An aggregation expression in a `findAndModify` projection needs MongoDB 4.4, the store's oldest supported
 * server (as `TAKEN_INSTANCE_PROJECTION`). A document written before the input had a field of its own keeps it inside
 * `state`: its claim carries it whatever the status.
 *
 * @example
 * ```ts
 * instances.findOneAndUpdate(filter, lease$set, { returnDocument: 'after', projection: CLAIMED_INSTANCE_PROJECTION });
 * // { _id, state, messageSeq, leaseSeq, leaseRead } of a Running instance; the input too of any other
 * ```
 */
export const CLAIMED_INSTANCE_PROJECTION = {
  state: 1,
  messageSeq: 1,
  leaseSeq: 1,
  leaseRead: 1,
  input: { $cond: [{ $in: ['$runtimeStatus', CLAIM_WITHOUT_INPUT] }, '$$REMOVE', '$input'] },
} as const;

/**
 * Reads a leased instance document and its visible messages (arrival order) into what the claim does with it. The
 * claim leases only documents whose `_id` is a key this store writes (`storeKeyed`), so the document's `_id` is one.
 *
 * @example
 * ```ts
 * readClaimedInstance(doc, messages, lease); // { kind: 'hand-out', item: { state, messages, lease } }
 * readClaimedInstance({ ...doc, state: 'not json' }, messages, lease); // { kind: 'skip', message, error }
 * ```
 */
export function readClaimedInstance(
  doc: Pick<InstanceDoc, '_id' | 'state' | 'input'>, messages: readonly Pick<MessageDoc, 'message'>[], lease: Lease,
): ClaimReading<OrchestrationWorkItem> {
  if (messages.length === 0) return { kind: 'no-messages' };
  return decideClaimedWork({ kind: 'orchestration', id: instanceIdOfKey(doc._id) }, lease, () => ({
    state: decodeInstanceState(doc.state, doc.input), messages: messages.map((m) => decodeMessage(m.message)), lease,
  }));
}

/**
 * What a claim does when the read of the messages of an instance it leased failed: `'release'` the lease and fail the
 * claim (as before) when the failure is the server's or the driver's: unreachable, overloaded, out of time, closed,
 * refused (privileges, a command the server refuses: an index dropped by hand), which the next claim may not meet; or
 * `'skip'` the instance (keep the lease, log, go on with the next: store-kit's `decideClaimedWork` rule) when the
 * failure comes from the stored messages themselves, which every claim would meet again: text that is not valid UTF-8
 * (the driver's `BSONError` for the whole batch), a `message` that is not a string (`takeWithinBytes`), a `seq` that
 * is not a number (`mergeBySeq`). Released, such an instance was first in line again at once (its `claimAt` is its
 * oldest message's time, and the release woke every process): every claim of every worker took it, failed and
 * released it, and nothing behind it was ever claimed. Documents MongoStore writes never fail so; another program's
 * can.
 *
 * @example
 * ```ts
 * claimReadFailure(new MongoNetworkError('reset'));                     // 'release'
 * claimReadFailure(new BSONError('Invalid UTF-8 string in BSON document')); // 'skip'
 * ```
 */
export function claimReadFailure(error: unknown): 'release' | 'skip' {
  if (isDurableError(error) || classifyDriverError(error) !== 'other') return 'release';
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  // MongoServerError and the driver's own errors: the server or the driver failed, not the data.
  return typeof name === 'string' && name.startsWith('Mongo') ? 'release' : 'skip';
}

/**
 * The claim's reading of an instance whose messages could not be read for a reason in the data
 * ({@link claimReadFailure} `'skip'`): the skip of store-kit's `decideClaimedWork`, with its message.
 *
 * @example
 * ```ts
 * unreadableMessages('order-1', lease, error); // { kind: 'skip', message: 'claimed instance "order-1" but its stored data cannot be read; ...', error }
 * ```
 */
export function unreadableMessages(instanceId: string, lease: Lease, error: unknown): ClaimReading<OrchestrationWorkItem> {
  return decideClaimedWork<OrchestrationWorkItem>({ kind: 'orchestration', id: instanceId }, lease, () => {
    throw error;
  });
}

/**
 * Reads a leased activity task document into what the claim does with it (`'skip'` when its stored task does not
 * decode). Its `_id` is the task's id (the claim leases only string `_id`s, `storeKeyed`).
 *
 * @example
 * ```ts
 * readClaimedTask(doc, lease); // { kind: 'hand-out', item: { task, lease } }
 * readClaimedTask({ ...doc, task: '[]' }, lease); // { kind: 'skip', message, error }
 * ```
 */
export function readClaimedTask(doc: Pick<TaskDoc, '_id' | 'task'>, lease: Lease): ClaimReading<ActivityWorkItem> {
  return decideClaimedWork({ kind: 'activity', id: doc._id }, lease, () => ({ task: decodeTask(doc.task), lease }));
}

/**
 * The warning for a lease a claim could not release after it failed to read the leased instance's messages: names
 * the instance and when its lease lapses (`lease.expiresAt`), until when no worker claims it, so an operator can tell
 * a stalled instance from a lost one.
 *
 * @example
 * ```ts
 * unreleasedClaimWarning('order-1', lease); // 'the claim of instance "order-1" could not read its messages, and releasing its lease failed too; ...'
 * ```
 */
export function unreleasedClaimWarning(instanceId: string, lease: Pick<Lease, 'expiresAt'>): string {
  return `the claim of instance ${JSON.stringify(instanceId)} could not read its messages, and releasing its lease failed too; ` +
    `no worker claims it until the lease lapses at ${lease.expiresAt.toISOString()}`;
}

/**
 * How many leased instances (or tasks) one claim releases because their messages went meanwhile (a purge or restart
 * raced it) before it gives up and lets the worker ask again.
 */
export const CLAIM_RACE_ATTEMPTS = 3;

/**
 * How many unreadable instances (or tasks) one claim skips (each kept leased and logged) before it gives up. Larger
 * than {@link CLAIM_RACE_ATTEMPTS}: a claim that gave up on a few corrupt documents while readable work was due behind
 * them would leave the worker to find that work through its re-check back-off, seconds late.
 */
export const UNREADABLE_SKIPS = 100;

/**
 * The claim's loop: leases and reads the next work (`claimNext`, which also releases work with no messages and keeps
 * and logs unreadable work) until it hands out an item or finds nothing. Unreadable work is bounded apart from the
 * no-messages race, so a claim skips up to {@link UNREADABLE_SKIPS} corrupt documents at the head of the queue and
 * still takes the readable work behind them.
 *
 * @example
 * ```ts
 * const item = await claimFirstReadable(() => leaseAndRead(lease)); // undefined when nothing readable is claimable
 * ```
 */
export async function claimFirstReadable<T>(claimNext: () => Promise<ClaimReading<T> | undefined>): Promise<T | undefined> {
  let races = 0;
  let skips = 0;
  for (;;) {
    const reading = await claimNext();
    if (!reading) return undefined;
    if (reading.kind === 'hand-out') return reading.item;
    if (reading.kind === 'no-messages' ? ++races >= CLAIM_RACE_ATTEMPTS : ++skips >= UNREADABLE_SKIPS) return undefined;
  }
}

/**
 * Keeps `lease` in `claims` (store-kit's `UnconfirmedClaims`) when the claim's lease write (one `findOneAndUpdate`,
 * outside a transaction) failed with the driver's `error` and MongoDB left its outcome open, as `mapCommitFailure`
 * reads the failure of a write: a write concern error (the primary applied it; no majority acknowledged it in time,
 * or the primary stepped down while it waited), or a connection lost and its retry finding no primary. True when
 * kept: the claim then looks the lease up by its token instead of leaving it idle until it lapses. A write the
 * server refused, or an error of a transaction that aborted, leased nothing.
 *
 * @example
 * ```ts
 * try { doc = await tasks.findOneAndUpdate(filter, lease$set); }
 * catch (error) { if (keepUnconfirmedLease(unconfirmed, lease, error, 'claiming an activity task')) lookUp(); throw error; }
 * ```
 */
export function keepUnconfirmedLease(claims: UnconfirmedClaims, lease: Lease, error: unknown, doing: string): boolean {
  return claims.failed(lease, mapCommitFailure(error, doing, 'wrote'));
}

/** How long past a claim read's `maxTimeMS` the store waits for the server's answer before it gives up on its own. */
export const CLAIM_READ_MARGIN_MS = 5_000;

/** The longest `maxTimeMS` of a claim's reads, whatever the lease's length. */
export const CLAIM_READ_MAX_MS = 30_000;

/**
 * The bound of one read of an orchestration claim (the look-up of a lease it could not confirm, the probe, the read of
 * the messages): the lease's length (`leaseMs`, at most {@link CLAIM_READ_MAX_MS}) as `maxTimeMS`, and a deadline
 * {@link CLAIM_READ_MARGIN_MS} later for a server that does not answer at all. The claim's reads run in one causally
 * consistent session, so a `majority` read after a lease write MongoDB could not confirm (or after the `local`
 * look-up of such a lease) carries an operation time past the majority commit point, and waits until a majority
 * reaches it: without a bound, for as long as no majority answers, holding a pooled connection, and `close()`, which
 * waits for operations in flight, with it. Past the bound the claim fails with `UnavailableError` (503, the driver's
 * `MaxTimeMSExpired`) or `StoreUnreachableError` (503, the deadline), and the worker claims again later.
 *
 * @example
 * ```ts
 * messages.find(filter, { session, ...claimReadBound(30_000) }); // { maxTimeMS: 30000, signal: <aborts after 35 s> }
 * ```
 */
export function claimReadBound(leaseMs: number): { readonly maxTimeMS: number; readonly signal: AbortSignal } {
  const maxTimeMS = Math.max(1, Math.min(Math.ceil(leaseMs), CLAIM_READ_MAX_MS));
  return { maxTimeMS, signal: AbortSignal.timeout(maxTimeMS + CLAIM_READ_MARGIN_MS) };
}

/**
 * The most stored message text (UTF-8 bytes) one orchestration claim hands out. Each message becomes a history event
 * written in the step's one transaction, and WiredTiger refuses a transaction that holds most of its dirty cache
 * (`TransactionTooLargeForCache`, a few tens of MiB on a default cache); 100 messages of up to 15 MiB each would
 * pass that. The rest stay queued, claimable as soon as the step commits.
 */
export const CLAIM_MESSAGE_BYTES = 8 * 1024 * 1024;

/**
 * The claimed messages, in order, for as long as their stored text stays within `budget` bytes; always the first one
 * (a message is at most 16 MiB, so a single one never fails a claim). Stops reading at the first message past the
 * budget, so the cursor's later batches are never fetched.
 *
 * @example
 * ```ts
 * await takeWithinBytes(messages.find(filter, { limit: 100 }), CLAIM_MESSAGE_BYTES); // the first n whose text fits
 * ```
 */
export async function takeWithinBytes<T extends Pick<MessageDoc, 'message'>>(docs: AsyncIterable<T>, budget: number): Promise<T[]> {
  const taken: T[] = [];
  let bytes = 0;
  for await (const doc of docs) {
    bytes += Buffer.byteLength(doc.message, 'utf8');
    if (taken.length > 0 && bytes > budget) break;
    taken.push(doc);
  }
  return taken;
}
