import { describe, expect, it } from 'vitest';
import { ClaimQueue } from '../src/store/claim-queue.js';

describe('ClaimQueue (MemoryStore\'s claim index)', () => {
  it('hands out keys claimable at once in arrival order, and forgets keys without work', () => {
    const queue = new ClaimQueue();
    queue.set('a', 0);
    queue.set('b', 0);
    queue.set('a', 0); // no new arrival: a keeps its place
    expect(queue.first(100)).toBe('a');
    queue.set('a', Infinity);
    expect(queue.first(100)).toBe('b');
    queue.set('b', Infinity);
    expect(queue.first(100)).toBeUndefined();
    expect(queue.nextAt(100)).toBeUndefined();
  });

  it('holds a key claimable later until a claim\'s now reaches it, and reports that time as the next wake-up', () => {
    const queue = new ClaimQueue();
    queue.set('timer', 500);
    expect(queue.first(499)).toBeUndefined();
    expect(queue.nextAt(499)).toBe(500);
    expect(queue.first(500)).toBe('timer');
    expect(queue.nextAt(500)).toBe(500);
  });

  it('skips a timeline entry whose key changed since (a lease released early, a key claimed meanwhile)', () => {
    const queue = new ClaimQueue();
    queue.set('x', 1_000); // leased until 1,000 with work pending
    queue.set('x', 0); // the lease is released: claimable at once
    queue.set('x', Infinity); // claimed and committed: no work left
    expect(queue.first(2_000)).toBeUndefined();
    expect(queue.nextAt(2_000)).toBeUndefined();
  });

  it('orders keys claimable later by time, whatever the order they were set in', () => {
    const queue = new ClaimQueue();
    for (const [key, at] of [['c', 30], ['a', 10], ['d', 40], ['b', 20]] as const) queue.set(key, at);
    const claimed: string[] = [];
    for (let key = queue.first(100); key !== undefined; key = queue.first(100)) {
      claimed.push(key);
      queue.set(key, Infinity);
    }
    expect(claimed).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps every live key through many stale timeline entries (the timeline is rebuilt)', () => {
    const queue = new ClaimQueue();
    for (let i = 0; i < 5_000; i++) queue.set(`k${i % 10}`, 1_000 + i); // each key moves later and later
    const due: string[] = [];
    for (let key = queue.first(10_000); key !== undefined; key = queue.first(10_000)) {
      due.push(key);
      queue.set(key, Infinity);
    }
    expect(due.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort());
    expect(queue.first(0)).toBeUndefined();
  });
});
