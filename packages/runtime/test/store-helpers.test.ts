import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  decideClaimedWork, decodeContinuationToken, encodeContinuationToken, holdsLease, nextPageToken, planInstancePage, isHeldBy, isLeaseToken, leaseTokens,
  lifeLeaseOwner, newLease, validateLeaseOwner,
} from '../src/store/store-helpers.js';
import { copyStoreValue } from '../src/model/json.js';

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

  it('copies a Date of another realm as a Date of this one, as structuredClone does', () => {
    const foreign = runInNewContext('({ at: new Date(1767225600000), list: [new Date(5)], spoof: { [Symbol.toStringTag]: "Date" } })') as {
      at: Date; list: Date[]; spoof: object;
    };
    expect(foreign.at).not.toBeInstanceOf(Date); // the premise: instanceof fails across realms
    const copy = copyStoreValue(foreign);
    expect(copy.at).toBeInstanceOf(Date);
    expect(copy.at.getTime()).toBe(1767225600000);
    expect(copy.list[0]).toBeInstanceOf(Date);
    expect(copy.list[0]!.getTime()).toBe(5);
    expect(copy.spoof).not.toBeInstanceOf(Date); // an object that only names itself a Date stays an object
  });
});

describe('continuation tokens', () => {
  it('round-trip any instance id and refuse forgeries', () => {
    const key = { createdTime: 1767225600000, instanceId: '東京/🚀?#%41' };
    expect(decodeContinuationToken(encodeContinuationToken(key))).toEqual(key);
    // Sent back in the x-ms-continuation-token header and in query strings: printable ASCII without spaces.
    expect(encodeContinuationToken(key)).toMatch(/^[\x21-\x7e]+$/);
    for (const bad of ['', 'x', btoa('[1]'), btoa('{"a":1}'), btoa('[null,"x"]')]) {
      expect(() => decodeContinuationToken(bad)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
  });

  it('refuse a token whose time is no instant a store keys an instance by (a fraction, beyond the Date range)', () => {
    // A store keys pages by a creation time in whole milliseconds that a Date holds: MongoStore turns the time into a
    // Date, and an invalid one is written to the server as the epoch, so such a token would start the listing over.
    for (const time of [1.5, 1e300, -1e300, 8.64e15 + 1, -8.64e15 - 1]) {
      const token = encodeURIComponent(JSON.stringify([time, 'x']));
      expect(() => decodeContinuationToken(token), String(time)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
    for (const time of [0, -1, 8.64e15, -8.64e15]) expect(decodeContinuationToken(encodeContinuationToken({ createdTime: time, instanceId: 'x' })).createdTime).toBe(time);
  });
});

describe('planInstancePage and nextPageToken', () => {
  const at = (ms: number) => new Date(ms);
  const key = { createdTime: 5000, instanceId: 'e' };

  it('records on a first page the newest createdTime the store holds, never one before the page\'s last key', async () => {
    expect(planInstancePage({ pageSize: 2 })).toEqual({ query: { pageSize: 2 }, after: undefined, order: 'asc' });
    const plan = planInstancePage({});
    expect(decodeContinuationToken(await nextPageToken(plan, key, () => 9000))).toEqual({ ...key, boundMs: 9000 });
    expect(decodeContinuationToken(await nextPageToken(plan, key, async () => 9000))).toEqual({ ...key, boundMs: 9000 });
    expect(decodeContinuationToken(await nextPageToken(plan, key, () => undefined))).toEqual({ ...key, boundMs: 5000 });
    expect(decodeContinuationToken(await nextPageToken(plan, key, () => 4000))).toEqual({ ...key, boundMs: 5000 });
  });

  it('bounds every later page by the bound its token carries, intersected with the caller\'s createdTimeTo, and passes it on', async () => {
    const token = encodeContinuationToken(key, 9000);
    const plan = planInstancePage({ continuationToken: token, createdTimeFrom: at(1000) });
    expect(plan).toEqual({ query: { continuationToken: token, createdTimeFrom: at(1000), createdTimeTo: at(9000) }, after: { ...key, boundMs: 9000 }, order: 'asc' });
    expect(planInstancePage({ continuationToken: token, createdTimeTo: at(7000) }).query.createdTimeTo).toEqual(at(7000));
    expect(planInstancePage({ continuationToken: token, createdTimeTo: at(12_000) }).query.createdTimeTo).toEqual(at(9000));
    // Later pages keep the bound of the first: the store is not read for it again.
    const next = await nextPageToken(plan, { createdTime: 8000, instanceId: 'h' }, () => { throw new Error('read'); });
    expect(decodeContinuationToken(next)).toEqual({ createdTime: 8000, instanceId: 'h', boundMs: 9000 });
  });

  it('accepts a token of the version before (no bound): that page is unbounded and its token records the bound', async () => {
    const old = encodeURIComponent(JSON.stringify([5000, 'e']));
    expect(old).toBe(encodeContinuationToken(key));
    const plan = planInstancePage({ continuationToken: old });
    expect(plan).toEqual({ query: { continuationToken: old }, after: key, order: 'asc' });
    expect(decodeContinuationToken(await nextPageToken(plan, { createdTime: 6000, instanceId: 'f' }, () => 9000)).boundMs).toBe(9000);
  });

  it('records the order of a newest-first listing in its tokens, and refuses a token with the other order', async () => {
    const desc = await nextPageToken(planInstancePage({ order: 'desc' }), key, () => 9000);
    expect(decodeContinuationToken(desc)).toEqual({ ...key, boundMs: 9000, order: 'desc' });
    expect(planInstancePage({ order: 'desc', continuationToken: desc })).toMatchObject({ after: { ...key, boundMs: 9000, order: 'desc' }, order: 'desc' });
    // An ascending token is written as the version before wrote it.
    const asc = await nextPageToken(planInstancePage({ order: 'asc' }), key, () => 9000);
    expect(asc).toBe(encodeContinuationToken(key, 9000));
    for (const [order, token] of [['asc', desc], [undefined, desc], ['desc', asc], ['desc', encodeContinuationToken(key)]] as const) {
      expect(() => planInstancePage({ ...(order ? { order } : {}), continuationToken: token }), `${order} ${token}`)
        .toThrow(expect.objectContaining({ code: 'invalid-argument', message: expect.stringContaining('order') }));
    }
    expect(() => decodeContinuationToken(encodeURIComponent(JSON.stringify([5000, 'e', 9000, 'asc'])))).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('refuses a token whose bound is no instant', () => {
    for (const bound of [1.5, null, '9000', 8.64e15 + 1]) {
      expect(() => planInstancePage({ continuationToken: encodeURIComponent(JSON.stringify([5000, 'e', bound])) }), String(bound))
        .toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
    expect(() => decodeContinuationToken(encodeURIComponent(JSON.stringify([5000, 'e', 9000, 1])))).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
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

describe('lease tokens given back (holdsLease, isLeaseToken)', () => {
  it('a missing token holds nothing, a free lease least of all; a token holds only its own lease', () => {
    for (const missing of [undefined, null, '', 0]) {
      expect(isLeaseToken(missing)).toBe(false);
      expect(holdsLease(undefined, missing)).toBe(false);
      expect(holdsLease({ token: '' }, missing)).toBe(false);
    }
    const token = leaseTokens()();
    expect(isLeaseToken(token)).toBe(true);
    expect(holdsLease({ token }, token)).toBe(true);
    expect(holdsLease({ token: `${token}x` }, token)).toBe(false);
    expect(holdsLease(undefined, token)).toBe(false);
  });
});

describe('decideClaimedWork', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');
  const lease = newLease({ owner: 'w', leaseMs: 30_000, now }, 'tok');

  it('hands out what decodes', () => {
    expect(decideClaimedWork({ kind: 'orchestration', id: 'order-1' }, lease, () => ({ lease, n: 1 }))).toEqual({ kind: 'hand-out', item: { lease, n: 1 } });
  });

  it('skips what does not decode instead of throwing (a claim that threw would fail every worker behind it)', () => {
    const corrupt = new SyntaxError('Unexpected token');
    const action = decideClaimedWork({ kind: 'orchestration', id: 'order-1' }, lease, () => { throw corrupt; });
    expect(action).toMatchObject({ kind: 'skip', error: corrupt });
  });

  it('says in the message to log which work it skipped and that it is claimed again when the kept lease expires', () => {
    const fail = (): never => { throw new Error('corrupt'); };
    const skipped = decideClaimedWork({ kind: 'orchestration', id: 'order-1' }, lease, fail);
    expect(skipped.kind === 'skip' && skipped.message).toMatch(/instance "order-1".*2026-01-01T00:00:30\.000Z/);
    const task = decideClaimedWork({ kind: 'activity', id: 't-1' }, lease, fail);
    expect(task.kind === 'skip' && task.message).toMatch(/activity task "t-1"/);
  });
});

describe('the leases Store.releaseOwner releases (isHeldBy)', () => {
  const lease = (owner: string) => ({ owner });
  const earlier = lifeLeaseOwner('node-1', new Date(1000));
  const current = lifeLeaseOwner('node-1', new Date(2000));
  const later = lifeLeaseOwner('node-1', new Date(3000));

  it('marks each life of a worker id with its start, so two lives begun at one time still differ', () => {
    expect(earlier).toMatch(/^node-1#rs\.[0-9a-f]{8}$/); // 1000 ms in base 36
    expect(lifeLeaseOwner('node-1', new Date(2000))).not.toBe(current);
  });

  it('with the asking life: the bare id (older versions) and the lives begun before it, not itself nor a later one', () => {
    expect(isHeldBy(lease('node-1'), 'node-1', current)).toBe(true);
    expect(isHeldBy(lease(earlier), 'node-1', current)).toBe(true);
    expect(isHeldBy(lease(lifeLeaseOwner('node-1', new Date(1999))), 'node-1', current)).toBe(true);
    // Begun in the same millisecond: which came first is not known, so it is kept (a lease waits out its time at worst).
    expect(isHeldBy(lease(lifeLeaseOwner('node-1', new Date(2000))), 'node-1', current)).toBe(false);
    expect(isHeldBy(lease(current), 'node-1', current)).toBe(false);
    expect(isHeldBy(lease(later), 'node-1', current)).toBe(false);
  });

  it('without one, or asked by a life of another id: every lease of the id', () => {
    for (const owner of ['node-1', earlier, current, later]) {
      expect(isHeldBy(lease(owner), 'node-1')).toBe(true);
      expect(isHeldBy(lease(owner), 'node-1', lifeLeaseOwner('tab-2', new Date(0)))).toBe(true);
    }
  });

  it('never a lease of another worker, whose id may start with the same characters or hold a \'#\'', () => {
    for (const owner of ['node-10', lifeLeaseOwner('node-10', new Date(0)), 'node-1#a', lifeLeaseOwner('node-1#a', new Date(0)), 'node']) {
      expect(isHeldBy(lease(owner), 'node-1', current)).toBe(false);
      expect(isHeldBy(lease(owner), 'node-1')).toBe(false);
    }
    expect(isHeldBy(lease(lifeLeaseOwner('node-1#a', new Date(0))), 'node-1#a')).toBe(true);
    expect(isHeldBy(undefined, 'node-1')).toBe(false);
  });

  it('refuses an owner that is not a worker id and an asking life that is not a non-empty string', () => {
    expect(validateLeaseOwner('node-1', current)).toBe('node-1');
    expect(() => validateLeaseOwner('')).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => validateLeaseOwner('node-1', '')).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => validateLeaseOwner('node-1', 42)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
