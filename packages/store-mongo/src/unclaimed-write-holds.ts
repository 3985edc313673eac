import { leaseLostError, unclaimedRefusal, type InstanceState, type OrchestrationMessage, type UnclaimedLease } from '@durable-rx/runtime/store-kit';
import type { LeaseLostError } from '@durable-rx/runtime';
import { recordedClaimRead } from './claim-read.js';
import { takeWithinBytes } from './claimed-work.js';
import { decodeMessage, storedLeaseOf, type ClaimRead, type InstanceDoc, type MessageDoc } from './documents.js';
import { UNCLAIMED_SCAN_LIMIT } from './queries.js';

/** The instance an unclaimed write names, as its transaction took it: the decoded state and the lease fields. */
export interface TakenInstance {
  readonly state: InstanceState;
  readonly doc: Pick<InstanceDoc, 'leaseExpiresAt'> & {
    readonly leaseSeq?: number | undefined; readonly leaseToken?: string | null | undefined; readonly leaseRead?: ClaimRead | undefined;
  };
}

/** The messages of an instance as a claim read them (`claimedMessagesQuery` of `read` up to `upToSeq`), in arrival order. */
export type ClaimedMessagesRead = (read: ClaimRead, upToSeq: number) => AsyncIterable<Pick<MessageDoc, 'message'>>;

/** How far {@link unclaimedWriteRefusal} reads. */
export interface RefusalReads {
  /** The most visible messages read (`UNCLAIMED_SCAN_LIMIT` unless a test asks for fewer). */
  readonly scanLimit?: number;
  /** The read of the messages the claim holding the instance handed out, where its lease write recorded how (`leaseRead`). */
  readonly claimed?: ClaimedMessagesRead;
}

/**
 * Why a write decided without a lease (a client's own terminate, suspend or resume: an `unclaimed` lease) may not
 * commit, `undefined` when it may: store-kit's `unclaimedRefusal` over the instance as the transaction took it
 * (`undefined`: gone) and its messages visible at `lease.now` (`visible`, read in that transaction, in arrival order). A
 * free lease is no lease (`storedLeaseOf`); any other is judged by its expiry, so an expired one is taken over (the
 * commit releases it). A refusal while a claim holds the instance names the last suspend or resume that claim took:
 * where its lease write recorded how it read them (`leaseRead`, the current lease's: `recordedClaimRead`), exactly the
 * messages it handed out (`reads.claimed`, the first `limit` up to its `leaseSeq` visible at its time, within its
 * bytes), so that one a claim of at most so many messages (`maxMessagesPerClaim`) left queued does not count as taken;
 * a lease an earlier version wrote records no read, and every visible message up to `leaseSeq` counts, at most
 * `scanLimit` of them.
 *
 * The messages are read only as far as the answer needs: the instance alone first, then one message more at a time,
 * stopping at the first refusal (a message more never lets a refused write through). A terminate, suspend or
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
 * const refusal = await unclaimedWriteRefusal(lease, taken, visible);
 * if (refusal) throw refusal;
 * ```
 */
export async function unclaimedWriteRefusal(
  lease: UnclaimedLease, taken: TakenInstance | undefined, visible: AsyncIterable<Pick<MessageDoc, 'message'> & Partial<Pick<MessageDoc, 'seq'>>>,
  reads: RefusalReads = {},
): Promise<LeaseLostError | undefined> {
  const scanLimit = reads.scanLimit ?? UNCLAIMED_SCAN_LIMIT;
  const state = taken?.state;
  const instanceLease = taken && storedLeaseOf(taken.doc);
  // The rule holds for every message alone once it holds for the instance: each is asked about on its own, not again
  // with all those before it.
  const alone = unclaimedRefusal(lease, { state, instanceLease, messages: [] });
  if (alone) {
    const upTo = taken?.doc.leaseSeq;
    if (instanceLease === undefined || upTo === undefined) return alone;
    // Held (or once held) by a claim: the messages it took, for the rule to name the command its step commits first.
    const recorded = taken && recordedClaimRead(taken.doc);
    if (reads.claimed && recorded) {
      const handedOut = await takeWithinBytes(reads.claimed(recorded, upTo), recorded.bytes);
      return unclaimedRefusal(lease, { state, instanceLease, messages: [], claimed: handedOut.map((doc) => decodeMessage(doc.message)) });
    }
    const claimed: OrchestrationMessage[] = [];
    for await (const doc of visible) {
      if (doc.seq === undefined || doc.seq > upTo || claimed.length >= scanLimit) break;
      claimed.push(decodeMessage(doc.message));
    }
    return unclaimedRefusal(lease, { state, instanceLease, messages: [], claimed });
  }
  let read = 0;
  for await (const doc of visible) {
    // Past the scan limit, refused: the command goes to a worker as a message rather than read on.
    if (++read > scanLimit) return leaseLostError(lease);
    const refusal = unclaimedRefusal(lease, { state, instanceLease, messages: [decodeMessage(doc.message)] });
    if (refusal) return refusal;
  }
  return undefined;
}
