import { describe, expect, it } from 'vitest';
import { DurableError, LeaseLostError, UnavailableError } from '../src/index.js';
import { UnconfirmedClaims } from '../src/store-kit/index.js';

// A claim whose lease write was sent and whose answer never came (MongoDB: a write concern error, a connection lost on
// the retry) may hold a lease its worker never heard of. The store keeps such leases and looks them up by token, at
// once and at the next claims of the same owner, instead of leaving the work idle until the lease lapses.

/** As MongoStore's CommitOutcomeUnknownError: the write may or may not have taken effect. */
class OutcomeUnknownError extends DurableError {
  override readonly name = 'OutcomeUnknownError';
  readonly code = 'commit-outcome-unknown';
  readonly status = 503;
}

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);
const lease = (token: string, owner = 'w1', expiresInMs = 30_000) => ({ owner, token, expiresAt: at(expiresInMs) });

describe('UnconfirmedClaims', () => {
  it('keeps the lease of a claim whose write may have applied, and nothing for a claim that certainly wrote nothing', () => {
    const claims = new UnconfirmedClaims();
    expect(claims.failed(lease('unknown'), new OutcomeUnknownError('no majority acknowledged the lease'))).toBe(true);
    expect(claims.failed(lease('abandoned'), new UnavailableError('the claim did not settle within its bound'))).toBe(true);
    expect(claims.failed(lease('refused'), new LeaseLostError('taken'))).toBe(false);
    expect(claims.failed(lease('plain'), new Error('no DurableError: nothing known'))).toBe(false);
    expect(claims.pending('w1', at(0)).map((l) => l.token)).toEqual(['unknown', 'abandoned']);
  });

  it('names only the owner\u2019s live leases, oldest first, and forgets every expired one', () => {
    const claims = new UnconfirmedClaims();
    const unknown = new OutcomeUnknownError('unconfirmed');
    claims.failed(lease('short', 'w1', 1_000), unknown);
    claims.failed(lease('other-worker', 'w2', 300_000), unknown);
    claims.failed(lease('long', 'w1', 300_000), unknown);
    claims.failed(lease('later', 'w1', 30_000), unknown);
    expect(claims.pending('w1', at(0)).map((l) => l.token)).toEqual(['short', 'long', 'later']);
    // At its expiry a lease is anyone's to claim the usual way: no longer looked up, and forgotten.
    expect(claims.pending('w1', at(1_000)).map((l) => l.token)).toEqual(['long', 'later']);
    expect(claims.pending('w2', at(1_000)).map((l) => l.token)).toEqual(['other-worker']);
    expect(claims.size).toBe(3);
    expect(claims.pending('w1', at(300_000))).toEqual([]);
    expect(claims.size).toBe(0);
  });

  it('forgets a lease once a look-up answered, and keeps a bounded number', () => {
    const claims = new UnconfirmedClaims(2);
    const unknown = new OutcomeUnknownError('unconfirmed');
    for (const token of ['a', 'b', 'c']) claims.failed(lease(token), unknown);
    expect(claims.pending('w1', at(0)).map((l) => l.token)).toEqual(['b', 'c']);
    claims.settle('b');
    expect(claims.pending('w1', at(0)).map((l) => l.token)).toEqual(['c']);
    expect(claims.pending('w1', at(0))[0]).toEqual(lease('c'));
  });
});
