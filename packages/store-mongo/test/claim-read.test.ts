import type { Lease } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
import { claimedMessagesQuery, claimedReadOf, claimLeaseUpdate, claimReadOf, recordedClaimRead } from '../src/claim-read.js';
import { CLAIM_MESSAGE_BYTES, CLAIMED_INSTANCE_PROJECTION } from '../src/claimed-work.js';
import { EPOCH } from '../src/documents.js';
import { UNCLAIMED_SCAN_LIMIT, visibleMessagesQuery } from '../src/queries.js';
import { TAKEN_INSTANCE_PROJECTION } from '../src/translate-write-plan.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const lease: Lease = { owner: 'w1#1', token: '$messageSeq', expiresAt: new Date(T0.getTime() + 30_000) };

describe('how a claim read its messages (claim-read)', () => {
  it('records, in the lease write that picks the instance, the messageSeq it read and how it reads the messages, every value a literal', () => {
    const read = claimReadOf(lease, T0, 2);
    expect(read).toEqual({ token: '$messageSeq', at: T0, limit: 2, bytes: CLAIM_MESSAGE_BYTES });
    expect(claimLeaseUpdate(lease, T0, read)).toEqual([{
      $set: {
        leaseOwner: { $literal: 'w1#1' }, leaseToken: { $literal: '$messageSeq' }, leaseExpiresAt: { $literal: lease.expiresAt },
        claimAt: { $literal: T0 }, leaseSeq: '$messageSeq', leaseRead: { $literal: read },
      },
    }]);
    // The claim reads the record back with the instance, and a commit's check with the lease.
    expect(CLAIMED_INSTANCE_PROJECTION).toMatchObject({ leaseSeq: 1, leaseRead: 1 });
    expect(TAKEN_INSTANCE_PROJECTION).toMatchObject({ leaseToken: 1, leaseRead: 1 });
  });

  it('reads, for the claim and for a check of what it took, the messages visible at the claim\u2019s time up to its leaseSeq, its limit at most', () => {
    const query = claimedMessagesQuery('order-1', { at: T0, limit: 2 }, 7);
    expect(query.atOnce).toEqual(visibleMessagesQuery('order-1', T0, { upToSeq: 7, limit: 2 }).atOnce);
    expect(query.atOnce.filter).toEqual({ instanceId: 'order-1', due: EPOCH, seq: { $lte: 7 } });
    expect(query.atOnce.options).toMatchObject({ limit: 2 });
    expect(query.dueSeqs().filter).toEqual({ instanceId: 'order-1', due: { $lte: T0, $ne: EPOCH }, seq: { $lte: 7 } });
  });

  it('reads, for a lease this process recovers after messages were sent to the instance, only those up to its leaseSeq, as the check of what it took does', () => {
    const read = claimReadOf(lease, T0, 2);
    // Leased when messageSeq was 3; two more messages sent before the look-up that recovers the lease read it.
    const recovered = { messageSeq: 5, leaseSeq: 3, leaseRead: read };
    expect(claimedReadOf(recovered, lease, new Date(T0.getTime() + 5_000), 100)).toEqual({ read, upToSeq: 3 });
    // The claim's own write returns the document as written: the two are the same there.
    expect(claimedReadOf({ ...recovered, messageSeq: 3 }, lease, T0, 2)).toEqual({ read, upToSeq: 3 });
    // No record of this lease (none is expected): the claim's own time and limit, up to messageSeq.
    expect(claimedReadOf({ messageSeq: 5, leaseSeq: 3, leaseRead: claimReadOf({ token: 'other' }, T0, 2) }, lease, T0, 7))
      .toEqual({ read: claimReadOf(lease, T0, 7), upToSeq: 5 });
  });

  it('takes a record only as the current lease\u2019s and as this version writes it', () => {
    const read = claimReadOf(lease, T0, 2);
    expect(recordedClaimRead({ leaseToken: lease.token, leaseRead: read })).toEqual(read);
    for (const doc of [
      { leaseToken: 'another', leaseRead: read }, { leaseToken: null, leaseRead: read }, { leaseToken: lease.token },
      { leaseToken: lease.token, leaseRead: { ...read, at: new Date(Number.NaN) } },
      { leaseToken: lease.token, leaseRead: { ...read, limit: UNCLAIMED_SCAN_LIMIT + 1 } }, { leaseToken: lease.token, leaseRead: { ...read, limit: 1.5 } },
      { leaseToken: lease.token, leaseRead: { ...read, bytes: 0 } }, { leaseToken: lease.token, leaseRead: 'x' },
    ]) {
      expect(recordedClaimRead(doc), JSON.stringify(doc)).toBeUndefined();
    }
  });
});
