import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ChangeRouter } from '../src/client/change-router.js';
import type { StatusChange } from '../src/store/store.js';

describe('ChangeRouter', () => {
  const change = (instanceId: string): StatusChange => ({ instanceId, state: undefined });

  it('routes the store\u2019s changes of every instance to the listeners of each instance', () => {
    const source = new Subject<StatusChange>();
    const router = new ChangeRouter(source);
    const seen: string[] = [];
    const subscription = router.instance('a').subscribe((c) => seen.push(c.instanceId));
    source.next(change('b'));
    source.next(change('a'));
    subscription.unsubscribe();
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
    const subscription = router.instance('a').subscribe((c) => seen.push(c.instanceId));
    expect(source.observed).toBe(false);
    perInstance.get('a')?.next(change('a'));
    subscription.unsubscribe();
    expect(seen).toEqual(['a']);
    expect(perInstance.get('a')?.observed).toBe(false);
  });
});
