import { describe, expect, it } from 'vitest';
import { filterCovers } from '../src/change-events.js';
import { narrowsStream, WATCH_REOPEN_BURST, WATCH_REOPENS_PER_SECOND, WatchScope } from '../src/watch-scope.js';

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
      scope.narrow();
      if (scope.narrowing(filter, keys(), max, narrowAt) === 'reopen') {
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
    expect(scope.narrow()).toBe(true);
    expect(scope.narrowing(undefined, new Set(['a']), 1000, at)).toBe('reopen');
    expect(scope.filterFor(new Set(['a']), 1000)).toEqual(['a']);
    expect(scope.narrow()).toBe(false);
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

/**
 * The per-instance stream as the store drives it: a watch the open filter does not name reopens it (`reopenFor`), a
 * watch that ends or the narrowing timer asks `narrowing`, and each reopen builds the filter from the keys watched
 * then. `reopens` counts the reopens; `filter` is the `$match` of the open stream.
 */
function drivenStream(max: number) {
  const scope = new WatchScope(0);
  const watched = new Set<string>();
  let filter = scope.filterFor(watched, max);
  let narrowAt: number | undefined;
  let reopens = 0;
  const reopen = () => {
    filter = scope.filterFor(watched, max);
    reopens++;
  };
  const narrowIfDue = (now: number) => {
    const decision = scope.narrowing(filter, watched, max, now);
    if (decision === 'reopen') reopen();
    if (decision === 'later') narrowAt ??= scope.narrowAt(now);
  };
  return {
    get filter() {
      return filter;
    },
    get reopens() {
      return reopens;
    },
    get narrowAt() {
      return narrowAt;
    },
    watch(key: string, now: number) {
      watched.add(key);
      if (filterCovers(filter, key)) return;
      if (scope.reopenFor(now) === 'wide') narrowAt ??= scope.narrowAt(now);
      reopen();
    },
    unwatch(key: string, now: number) {
      watched.delete(key);
      narrowIfDue(now);
    },
    timer(now: number) {
      narrowAt = undefined;
      scope.narrow();
      narrowIfDue(now);
    },
  };
}

describe('the per-instance status stream narrows again once the watched instances fit', () => {
  it('reopens a stream that names no instance when the watched ones fit maxWatchedInstances again, and only then', () => {
    expect(narrowsStream(undefined, new Set(['a']), 1000, false)).toBe(true);
    expect(narrowsStream(undefined, new Set(['a', 'b']), 1, false)).toBe(false); // still past the bound
    expect(narrowsStream(undefined, new Set(['a']), 1000, true)).toBe(false); // wide for churn: the timer ends that
    expect(narrowsStream(undefined, new Set(), 1000, false)).toBe(false); // nothing watched: the stream is closing
    expect(narrowsStream(['a', 'b'], new Set(['a']), 1000, false)).toBe(false); // it names them already
    expect(narrowsStream(undefined, new Set(['x'.repeat(100), 'y'.repeat(100)]), 1000, false)).toBe(true);
  });

  it('names the watched instances again after a spike past maxWatchedInstances ends, and a later new watch reopens it', () => {
    const stream = drivenStream(1000);
    // Slow watches, each named at once while the bucket refills (one token a second), up to 1001: wide.
    for (let i = 0; i <= 1000; i++) stream.watch(`id-${i}`, i * 1000);
    expect(stream.filter).toBeUndefined();
    const wideReopens = stream.reopens;
    // The first watch that ends brings them within the bound: one reopen names the 1000 left.
    stream.unwatch('id-0', 2_000_000);
    expect(stream.reopens).toBe(wideReopens + 1);
    expect(stream.filter).toHaveLength(1000);
    for (let i = 1; i <= 1000; i++) stream.unwatch(`id-${i}`, 2_000_000);
    expect(stream.reopens).toBe(wideReopens + 1); // a stream that names instances is not reopened when they leave
    // A new watch the stream does not name reopens it naming the watched ones only.
    stream.watch('fresh', 2_000_001);
    expect(stream.filter).toEqual(['fresh']);
  });

  it('draws the narrowing reopen from the same bucket: with none left it waits for the timer, which reopens it once', () => {
    const stream = drivenStream(1);
    stream.watch('a', 0); // a token
    // Each round: a second watch goes past the bound (a reopen, a token), and its end narrows the stream (another).
    for (let round = 1; round < WATCH_REOPEN_BURST / 2; round++) {
      stream.watch('b', 0);
      expect(stream.filter).toBeUndefined();
      stream.unwatch('b', 0);
      expect(stream.filter).toEqual(['a']);
    }
    stream.watch('b', 0); // the last token
    stream.unwatch('b', 0);
    expect(stream.filter).toBeUndefined(); // none left: wait
    const at = stream.narrowAt;
    expect(at).toBe((WATCH_REOPEN_BURST / WATCH_REOPENS_PER_SECOND) * 1000);
    const before = stream.reopens;
    stream.timer(at ?? 0);
    expect(stream.filter).toEqual(['a']);
    expect(stream.reopens).toBe(before + 1);
  });

  it('leaves a stream past the bound as it is when the timer fires, and narrows it when a later watch ends', () => {
    const stream = drivenStream(2);
    for (let i = 0; i <= WATCH_REOPEN_BURST; i++) stream.watch(`k-${i}`, 0); // a burst: wide for churn, and past the bound
    expect(stream.filter).toBeUndefined();
    const at = stream.narrowAt ?? 0;
    const reopens = stream.reopens;
    stream.timer(at);
    expect(stream.filter).toBeUndefined(); // eleven watched, max 2
    expect(stream.reopens).toBe(reopens);
    expect(stream.narrowAt).toBeUndefined(); // no timer while past the bound: the watch that ends asks again
    for (let i = 0; i < WATCH_REOPEN_BURST - 1; i++) stream.unwatch(`k-${i}`, at);
    expect(stream.filter).toEqual([`k-${WATCH_REOPEN_BURST}`, `k-${WATCH_REOPEN_BURST - 1}`]); // sorted
    expect(stream.reopens).toBe(reopens + 1);
  });
});
