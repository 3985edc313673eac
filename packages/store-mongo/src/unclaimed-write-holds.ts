import { unclaimedHolds, type InstanceState, type UnclaimedLease } from '@durable-rx/runtime/store-kit';
import { decodeMessage, storedLeaseOf, type InstanceDoc, type MessageDoc } from './documents.js';
import { UNCLAIMED_SCAN_LIMIT } from './queries.js';

/** The instance an unclaimed write names, as its transaction took it: the decoded state and the lease fields. */
export interface TakenInstance {
  readonly state: InstanceState;
  readonly doc: Pick<InstanceDoc, 'leaseExpiresAt'>;
}

/**
 * Whether a write decided without a lease (a client's own terminate, suspend or resume: an `unclaimed` lease) may
 * commit: store-kit's `unclaimedHolds` over the instance as the transaction took it (`undefined`: gone) and its messages
 * visible at `lease.now` (`visible`, read in that transaction, in arrival order). A free lease is no lease
 * (`storedLeaseOf`); any other is judged by its expiry, so an expired one is taken over (the commit releases it).
 *
 * The messages are read only as far as the answer needs: the instance alone first, then one message more at a time,
 * stopping at the first answer `false` (a message more never lets a refused write through). A terminate, suspend or
 * resume reads the visible messages up to the first command among them (a queued event, result or timer does not hold
 * it back, so one that commits has read them all, so at most `scanLimit` of them, `UNCLAIMED_SCAN_LIMIT` unless a test
 * asks for fewer: one more refuses it, and the client sends the command as a message); a write of no command (a
 * rewind), the visible start of the execution at most.
 * MongoStore's `#visibleMessages` feeds it lazily (`mergeBySeq` of the messages visible at once and the due timers,
 * limited to `UNCLAIMED_MESSAGES_READ`: one batch of messages and one page of due timers' `seq`s, within
 * `UNCLAIMED_READ_MAX_MS`); a read past that time refuses the write too. A message that does not decode
 * throws (`MongoStoreError`): the command fails rather than overtake a message nobody can read.
 *
 * @example
 * ```ts
 * // An instance's visible messages in arrival order, read as far as the check asks (the sources are driver cursors).
 * const visible = mergeBySeq(atOnceCursor, seqPages(UNCLAIMED_MESSAGES_READ.limit, readDueSeqs, readDueDocs), UNCLAIMED_MESSAGES_READ.limit);
 * if (!(await unclaimedWriteHolds(lease, taken, visible))) throw leaseLostError(lease);
 * ```
 */
export async function unclaimedWriteHolds(
  lease: UnclaimedLease, taken: TakenInstance | undefined, visible: AsyncIterable<Pick<MessageDoc, 'message'>>,
  scanLimit = UNCLAIMED_SCAN_LIMIT,
): Promise<boolean> {
  const state = taken?.state;
  const instanceLease = taken && storedLeaseOf(taken.doc);
  // The rule holds for every message alone once it holds for the instance: each is asked about on its own, not again
  // with all those before it.
  if (!unclaimedHolds(lease, { state, instanceLease, messages: [] })) return false;
  let read = 0;
  for await (const doc of visible) {
    // Past the scan limit, refused: the command goes to a worker as a message rather than read on.
    if (++read > scanLimit) return false;
    if (!unclaimedHolds(lease, { state, instanceLease, messages: [decodeMessage(doc.message)] })) return false;
  }
  return true;
}
