import { describe, expect, it } from 'vitest';
import {
  claimableAtMs, copyStoreValue, decideUnreadableWork, decodeContinuationToken, encodeContinuationToken, leaseTokens, newLease,
} from '../src/store/store-helpers.js';

describe('copyStoreValue', () => {
  it('deep-copies JSON and Dates, keeping hostile keys as own data', () => {
    const hostile = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"$set":[1,{"a.b":null}]}') as Record<string, unknown>;
    const value = { when: new Date('2026-01-01T00:00:00Z'), hostile, list: [1, 'two', { three: 3 }], missing: undefined };
    const copy = copyStoreValue(value);
    expect(copy).toEqual(value);
    expect(copy.when).not.toBe(value.when);
    expect(copy.when.getTime()).toBe(value.when.getTime());
    expect(copy.list[2]).not.toBe(value.list[2]);
    expect(Object.keys(copy.hostile)).toEqual(['__proto__', 'constructor', '$set']);
    expect(Object.getPrototypeOf(copy.hostile)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect('missing' in copy).toBe(true);
  });
});

describe('continuation tokens', () => {
  it('round-trip any instance id and refuse forgeries', () => {
    const key = { createdTime: 1767225600000, instanceId: '東京/🚀?#' };
    expect(decodeContinuationToken(encodeContinuationToken(key))).toEqual(key);
    for (const bad of ['', 'x', btoa('[1]'), btoa('{"a":1}'), btoa('[null,"x"]')]) {
      expect(() => decodeContinuationToken(bad)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
  });
});

describe('leaseTokens and newLease', () => {
  it('give tokens that differ within one source and between sources, and a lease that ends leaseMs after now', () => {
    const a = leaseTokens();
    const b = leaseTokens();
    const tokens = [a(), a(), b(), b(), a()];
    expect(new Set(tokens).size).toBe(tokens.length);
    const now = new Date('2026-01-01T00:00:00.000Z');
    expect(newLease({ owner: 'w', leaseMs: 1500, now }, 'tok')).toEqual({ owner: 'w', token: 'tok', expiresAt: new Date('2026-01-01T00:00:01.500Z') });
  });
});

describe('decideUnreadableWork', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');
  const lease = newLease({ owner: 'w', leaseMs: 30_000, now }, 'tok');

  it('keeps the claim\'s lease: the work is claimable again only when it expires, not at once ahead of the rest', () => {
    const { retryAt } = decideUnreadableWork({ kind: 'orchestration', id: 'bad' }, lease);
    expect(retryAt).toEqual(new Date('2026-01-01T00:00:30.000Z'));
    // What every store's claim index then says of it: claimable at the lease expiry, whatever its messages' due time.
    expect(claimableAtMs(retryAt, 0)).toBeGreaterThan(now.getTime());
  });

  it('names the work and when it is tried again in the message the store logs', () => {
    expect(decideUnreadableWork({ kind: 'orchestration', id: 'order-1' }, lease).message).toMatch(/instance "order-1".*2026-01-01T00:00:30\.000Z/);
    expect(decideUnreadableWork({ kind: 'activity', id: 't-1' }, lease).message).toMatch(/activity task "t-1"/);
  });
});
