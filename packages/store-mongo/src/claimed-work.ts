import {
  decideClaimedWork, type ActivityWorkItem, type ClaimedWorkAction, type Lease, type OrchestrationWorkItem, type UnconfirmedClaims,
} from '@durable-rx/runtime/store-kit';
import { decodeInstanceState, decodeMessage, decodeTask, type InstanceDoc, type MessageDoc, type TaskDoc } from './documents.js';
import { instanceIdOfKey } from './instance-key.js';
import { mapCommitFailure } from './map-driver-error.js';

/**
 * What a claim does with the documents it leased: store-kit's `decideClaimedWork` (hand the work item out, or skip
 * work whose stored state, message or task does not decode: keep the lease, log, claim the next work), or
 * `'no-messages'` (an instance purged or replaced between the lease and the read of its messages: the claim releases
 * it and looks again). Decoding never throws out of here, so a document MongoStore did not write cannot make a claim
 * fail and stall every worker behind it.
 */
export type ClaimReading<T> = ClaimedWorkAction<T> | { readonly kind: 'no-messages' };

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
