import { describe, expect, it } from 'vitest';
import { filterCovers } from '../src/change-events.js';
import { WATCH_REOPEN_BURST, WatchScope } from '../src/watch-scope.js';

/**
 * What the store does with a {@link WatchScope} when watches of new instances arrive at the given times (ms), each
 * watched for `watchMs`: a watch the stream's filter does not name reopens it (named, or wide once the bucket is
 * empty), and a wide scope is narrowed (one more reopen) when `narrowAt` comes. Returns how many times the stream
 * was reopened.
 */
function reopensFor(times: readonly number[], watchMs = 2000, max = 1000): { reopens: number; wideAtEnd: boolean } {
  const scope = new WatchScope(0);
  const watched = new Map<string, number>();
  const keys = () => new Set(watched.keys());
  let filter: readonly string[] | undefined = scope.filterFor(keys(), max);
  let narrowAt: number | undefined;
  let reopens = 0;
  times.forEach((at, i) => {
    for (const [key, since] of watched) if (since + watchMs <= at) watched.delete(key);
    if (narrowAt !== undefined && at >= narrowAt) {
      if (scope.narrow(narrowAt)) {
        filter = scope.filterFor(keys(), max);
        reopens++;
      }
      narrowAt = undefined;
    }
    const key = `id-${i}`;
    watched.set(key, at);
    if (filterCovers(filter, key)) return;
    if (scope.reopenFor(at) === 'wide') narrowAt ??= scope.narrowAt(at);
    filter = scope.filterFor(keys(), max);
    reopens++;
  });
  return { reopens, wideAtEnd: scope.wide };
}

describe('the per-instance status stream\u2019s scope under churn', () => {
  it('names each newly watched instance for a burst of reopens, then names none and needs no reopen for the next watches', () => {
    const scope = new WatchScope(0);
    const keys = new Set(['a', 'b']);
    for (let i = 0; i < WATCH_REOPEN_BURST; i++) expect(scope.reopenFor(i)).toBe('named');
    expect(scope.filterFor(keys, 1000)).toEqual(['a', 'b']);
    expect(scope.reopenFor(WATCH_REOPEN_BURST)).toBe('wide');
    expect(scope.wide).toBe(true);
    expect(scope.filterFor(keys, 1000)).toBeUndefined(); // filterCovers(undefined, anything): no reopen for later watches
    expect(scope.reopenFor(20)).toBe('wide');
  });

  it('names the watched instances again once the bucket is full, and goes wide again at the next burst', () => {
    const scope = new WatchScope(0);
    for (let i = 0; i <= WATCH_REOPEN_BURST; i++) scope.reopenFor(0);
    const at = scope.narrowAt(0);
    expect(at).toBe(10_000); // ten tokens at one a second
    expect(scope.narrow(at)).toBe(true);
    expect(scope.filterFor(new Set(['a']), 1000)).toEqual(['a']);
    expect(scope.narrow(at)).toBe(false);
    // The narrowing reopen spent a token: nine more named reopens, then wide.
    for (let i = 0; i < WATCH_REOPEN_BURST - 1; i++) expect(scope.reopenFor(at)).toBe('named');
    expect(scope.reopenFor(at)).toBe('wide');
  });

  it('keeps naming the watched instances past maxWatchedInstances only as the bound allows', () => {
    const scope = new WatchScope(0);
    expect(scope.filterFor(new Set(['a', 'b', 'c']), 2)).toBeUndefined();
    expect(scope.filterFor(new Set(['a', 'b']), 2)).toEqual(['a', 'b']);
  });

  it('reopens about once a second under 300 new watches a second (2 s each) for a minute, where it reopened for each (18,000)', () => {
    const times = Array.from({ length: 300 * 60 }, (_, i) => Math.floor((i * 1000) / 300));
    const { reopens, wideAtEnd } = reopensFor(times);
    // The burst, then per ten seconds one narrowing reopen, nine named ones and one to go wide again.
    expect(reopens).toBeLessThanOrEqual(WATCH_REOPEN_BURST + 60);
    expect(wideAtEnd).toBe(true);
  });

  it('never goes wide for watches that come one every two seconds: each is named at once', () => {
    const times = Array.from({ length: 100 }, (_, i) => i * 2000);
    const { reopens, wideAtEnd } = reopensFor(times);
    expect(reopens).toBe(100);
    expect(wideAtEnd).toBe(false);
  });
});
