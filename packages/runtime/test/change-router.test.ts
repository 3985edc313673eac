import { defer, retry, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ChangeRouter } from '../src/client/change-router.js';
import type { StatusChange } from '../src/store/store.js';

describe('ChangeRouter', () => {
  const change = (instanceId: string): StatusChange => ({ instanceId, state: undefined });

  it('routes the store\u2019s changes of every instance to the listeners of each instance', () => {
    const source = new Subject<StatusChange>();
    const router = new ChangeRouter(source);
    const seen: string[] = [];
    const stop = router.watch('a', { next: (c) => seen.push(c.instanceId), error: () => {}, complete: () => {} });
    source.next(change('b'));
    source.next(change('a'));
    stop();
    expect(seen).toEqual(['a']);
    expect(source.observed).toBe(false);
  });

  it('uses the store\u2019s own per-instance feed when it has one, so the store can filter on its server', () => {
    const source = new Subject<StatusChange>();
    const perInstance = new Map<string, Subject<StatusChange>>();
    const router = new ChangeRouter(source, (id) => {
      const feed = new Subject<StatusChange>();
      perInstance.set(id, feed);
      return feed;
    });
    const seen: string[] = [];
    const stop = router.watch('a', { next: (c) => seen.push(c.instanceId), error: () => {}, complete: () => {} });
    expect(source.observed).toBe(false);
    perInstance.get('a')?.next(change('a'));
    stop();
    expect(seen).toEqual(['a']);
    expect(perInstance.get('a')?.observed).toBe(false);
  });

  it('hands one instance\u2019s changes to a plain observer until it stops, then lets go of the store\u2019s feed', () => {
    const source = new Subject<StatusChange>();
    const router = new ChangeRouter(source);
    const seen: string[] = [];
    let completed = false;
    const stop = router.watch('a', { next: (c) => seen.push(c.instanceId), error: () => {}, complete: () => (completed = true) });
    source.next(change('b'));
    source.next(change('a'));
    stop();
    stop(); // a second stop changes nothing
    source.next(change('a'));
    expect(seen).toEqual(['a']);
    expect(completed).toBe(false);
    expect(source.observed).toBe(false);
  });

  it('delivers a change to the listeners present when it arrived, whether one stops another or starts a new one', () => {
    const source = new Subject<StatusChange>();
    const router = new ChangeRouter(source);
    const seen: string[] = [];
    const noop = () => {};
    let stopSecond = noop;
    let late = noop;
    const stopFirst = router.watch('a', {
      next: () => {
        seen.push('first');
        stopSecond();
        late = router.watch('a', { next: () => seen.push('late'), error: noop, complete: noop });
      },
      error: noop,
      complete: noop,
    });
    stopSecond = router.watch('a', { next: () => seen.push('second'), error: noop, complete: noop });
    source.next(change('a'));
    expect(seen).toEqual(['first', 'second']);
    stopFirst();
    source.next(change('a'));
    expect(seen).toEqual(['first', 'second', 'late']);
    late();
    expect(source.observed).toBe(false);
  });

  it('completes every listener when the store\u2019s feed completes', () => {
    const source = new Subject<StatusChange>();
    const router = new ChangeRouter(source);
    const ended: string[] = [];
    router.watch('a', { next: () => {}, error: () => {}, complete: () => ended.push('a') });
    router.watch('b', { next: () => {}, error: () => {}, complete: () => ended.push('b') });
    router.all().subscribe({ complete: () => ended.push('all') });
    source.complete();
    expect(ended.sort()).toEqual(['a', 'all', 'b']);
  });

  it('close ends every listener when one listener\u2019s end throws, then throws the first error', () => {
    const source = new Subject<StatusChange>();
    const router = new ChangeRouter(source);
    const ended: string[] = [];
    const bad = new Error('a listener whose complete throws');
    router.watch('a', { next: () => {}, error: () => {}, complete: () => { ended.push('a'); throw bad; } });
    router.watch('a', { next: () => {}, error: () => {}, complete: () => { ended.push('a2'); throw new Error('second'); } });
    router.watch('b', { next: () => {}, error: () => {}, complete: () => ended.push('b') });
    router.all().subscribe({ complete: () => ended.push('all') });
    expect(() => router.close()).toThrow(bad);
    expect(ended.sort()).toEqual(['a', 'a2', 'all', 'b']);
    expect(source.observed).toBe(false);
  });

  it('close completes every listener, lets go of the store\u2019s feed, and completes later listeners at once', () => {
    const source = new Subject<StatusChange>();
    const router = new ChangeRouter(source);
    const ended: string[] = [];
    const seen: string[] = [];
    router.watch('a', { next: (c) => seen.push(c.instanceId), error: () => {}, complete: () => ended.push('a') });
    router.all().subscribe({ complete: () => ended.push('all') });
    expect(source.observed).toBe(true);
    router.close();
    router.close(); // a second close changes nothing
    expect(source.observed).toBe(false);
    expect(ended.sort()).toEqual(['a', 'all']);
    const stop = router.watch('b', { next: (c) => seen.push(c.instanceId), error: () => {}, complete: () => ended.push('late b') });
    router.all().subscribe({ complete: () => ended.push('late all') });
    stop();
    source.next(change('a'));
    source.next(change('b'));
    expect(ended).toEqual(['a', 'all', 'late b', 'late all']);
    expect(seen).toEqual([]);
    expect(source.observed).toBe(false);
  });
  it('opens a fresh feed for listeners that start again from the error of the feed that ended', () => {
    // A store feed that fails for good (MongoDB's status feed after persistent failures) must not leave a listener
    // that retries attached to the dead feed: it would wait for changes that never come, and hear no error either.
    let feed = new Subject<StatusChange>();
    let opened = 0;
    const router = new ChangeRouter(defer(() => {
      opened++;
      return feed;
    }));
    const everything: string[] = [];
    const ofA: string[] = [];
    const all = router.all().pipe(retry(1)).subscribe((c) => everything.push(c.instanceId));
    // A listener of one instance that watches again from the feed's error.
    let stopA = (): void => {};
    const watchA = (retries: number): void => {
      stopA = router.watch('a', { next: (c) => ofA.push(c.instanceId), error: () => retries > 0 && watchA(retries - 1), complete: () => {} });
    };
    watchA(1);
    const failed = feed;
    feed = new Subject<StatusChange>();
    failed.error(new Error('the feed failed for good'));
    feed.next(change('a'));
    feed.next(change('b'));
    expect(opened).toBe(2);
    expect(everything).toEqual(['a', 'b']);
    expect(ofA).toEqual(['a']);
    all.unsubscribe();
    stopA();
    expect(feed.observed).toBe(false);
  });
});
