import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { READ_MAX_TIME_MS } from '../src/read-bound.js';
import {
  heldSweepsQuery, SWEEP_LEASE_MS, SWEEP_RECHECK_MARGIN_MS, SWEEP_RETRY, sweepClaim, sweepRecheckDelay, sweepRenewal, sweepFinishedBy, sweepRetryDelay,
} from '../src/sweep-lease.js';

const NOW = new Date('2026-12-05T01:00:00.000Z');

describe('one process at a time works a history sweep', () => {
  it('takes the oldest sweep nobody holds at now (never taken, or lapsed), and leases it to the claim for a while', () => {
    const { filter, update, options } = sweepClaim(NOW, 'tok-1');
    // Never taken (no field: a commit's, a purge's, an earlier version's), lapsed at now, or further off than two
    // leases (only a holder whose clock runs ahead by more than a lease writes one: not stuck should it stop); a live
    // lease, also one a holder slightly ahead renewed just now, is skipped.
    const live = { $gt: NOW, $lte: new Date(NOW.getTime() + 2 * SWEEP_LEASE_MS) };
    expect(filter).toEqual({ leaseExpiresAt: { $not: live } });
    expect(update).toEqual({ $set: { leaseExpiresAt: new Date(NOW.getTime() + SWEEP_LEASE_MS), leaseToken: 'tok-1' } });
    expect(options).toMatchObject({ sort: { _id: 1 }, returnDocument: 'after' });
  });

  it('bounds the take and the renewal as the store\u2019s other reads: maxTimeMS, and a deadline for a server that never answers', () => {
    // Without them a sweep pass (and close, which waits for it) could wait on a slow or silent server without end.
    const _id = new ObjectId();
    for (const { options } of [sweepClaim(NOW, 'tok-1'), sweepRenewal({ _id }, NOW, 'tok-1')]) {
      expect(options.maxTimeMS).toBe(READ_MAX_TIME_MS);
      expect(options.signal).toBeInstanceOf(AbortSignal);
      expect(options.signal.aborted).toBe(false);
    }
    // A signal per operation: one that fired for an earlier take does not abort the next.
    expect(sweepClaim(NOW, 'tok-1').options.signal).not.toBe(sweepClaim(NOW, 'tok-2').options.signal);
  });

  it('renews only while the claim still holds it, so a holder whose lease another took stops', () => {
    const _id = new ObjectId();
    const later = new Date(NOW.getTime() + 5_000);
    expect(sweepRenewal({ _id }, later, 'tok-1')).toMatchObject({
      filter: { _id, leaseToken: 'tok-1' },
      update: { $set: { leaseExpiresAt: new Date(later.getTime() + SWEEP_LEASE_MS), leaseToken: 'tok-1' } },
    });
  });

  it('looks again at sweeps other processes hold once the first lease lapses, and never later than a lease', () => {
    expect(heldSweepsQuery(NOW).filter).toEqual({ leaseExpiresAt: { $gt: NOW, $lte: new Date(NOW.getTime() + 2 * SWEEP_LEASE_MS) } });
    expect(sweepRecheckDelay(new Date(NOW.getTime() + 20_000), NOW)).toBe(20_000 + SWEEP_RECHECK_MARGIN_MS);
    // A holder whose clock runs far ahead wrote a lease far off: looked at again after one lease all the same.
    expect(sweepRecheckDelay(new Date(NOW.getTime() + 3_600_000), NOW)).toBe(SWEEP_LEASE_MS + SWEEP_RECHECK_MARGIN_MS);
    expect(sweepRecheckDelay(new Date(NOW.getTime() - 1), NOW)).toBe(SWEEP_RECHECK_MARGIN_MS);
    // None held: nothing to wait for (the next restart, purge or connect starts a pass).
    expect(sweepRecheckDelay(undefined, NOW)).toBeUndefined();
    expect(sweepRecheckDelay(new Date(Number.NaN), NOW)).toBeUndefined();
  });
});

describe('when a sweep is done', () => {
  it('ends with the chunk that comes back short: its generation gains no events, so no renewal and no empty read follow', () => {
    expect(sweepFinishedBy(0, 1000)).toBe(true);
    expect(sweepFinishedBy(3, 1000)).toBe(true);
    expect(sweepFinishedBy(999, 1000)).toBe(true);
    expect(sweepFinishedBy(1000, 1000)).toBe(false); // maybe more: renew the lease, read the next chunk
  });
});

describe('a history sweep pass that failed', () => {
  it('is tried again after a back-off that doubles from 1 s to a minute, for as long as passes fail', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(sweepRetryDelay)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    expect(sweepRetryDelay(1_000_000)).toBe(SWEEP_RETRY.maxMs);
    // Every wait has an end, whatever count it is given.
    for (const odd of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(sweepRetryDelay(odd)).toBe(SWEEP_RETRY.firstMs);
  });
});
