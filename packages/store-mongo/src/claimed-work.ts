import type { ActivityWorkItem, Lease, OrchestrationWorkItem } from '@durable-rx/runtime/store-kit';
import { decodeInstanceState, decodeMessage, decodeTask, type InstanceDoc, type MessageDoc, type TaskDoc } from './documents.js';

/**
 * What a claim makes of the documents it leased: the work item; `'no-messages'` (an instance purged or replaced
 * between the lease and the read of its messages: the claim releases it and looks again); or `'unreadable'` when a
 * stored state, message or task does not decode (the claim keeps the lease, logs and claims the next work, per
 * `decideUnreadableWork` of store-kit). Decoding never throws out of here, so a document MongoStore did not write
 * cannot make a claim fail and stall every worker behind it.
 */
export type ClaimReading<T> =
  | { readonly kind: 'item'; readonly item: T }
  | { readonly kind: 'no-messages' }
  | { readonly kind: 'unreadable'; readonly error: unknown };

/**
 * Reads a leased instance and its visible messages (arrival order) into a work item.
 *
 * @example
 * ```ts
 * readClaimedInstance(doc, messages, lease); // { kind: 'item', item: { state, messages, lease } }
 * readClaimedInstance({ state: 'not json' }, messages, lease); // { kind: 'unreadable', error }
 * ```
 */
export function readClaimedInstance(
  doc: Pick<InstanceDoc, 'state' | 'input'>, messages: readonly Pick<MessageDoc, 'message'>[], lease: Lease,
): ClaimReading<OrchestrationWorkItem> {
  if (messages.length === 0) return { kind: 'no-messages' };
  try {
    return { kind: 'item', item: { state: decodeInstanceState(doc.state, doc.input), messages: messages.map((m) => decodeMessage(m.message)), lease } };
  } catch (error) {
    return { kind: 'unreadable', error };
  }
}

/** Reads a leased activity task into a work item (`'unreadable'` when its stored task does not decode). */
export function readClaimedTask(doc: Pick<TaskDoc, 'task'>, lease: Lease): ClaimReading<ActivityWorkItem> {
  try {
    return { kind: 'item', item: { task: decodeTask(doc.task), lease } };
  } catch (error) {
    return { kind: 'unreadable', error };
  }
}
