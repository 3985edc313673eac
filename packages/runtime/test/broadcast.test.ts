import { Broadcast, type StatusChange } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
// From the sources, while Broadcast comes from the built package: two copies of the module share their marks.
import { isShared } from '../src/store/shared-states.js';

describe('Broadcast (the hot feed behind MemoryStore.changes$ and workAvailable$)', () => {
  it('hands each value to the subscribers present when it is pushed, and reports whether anyone listens', () => {
    const feed = new Broadcast<number>();
    expect(feed.observed).toBe(false);
    const a: number[] = [];
    const b: number[] = [];
    const subA = feed.observable.subscribe((v) => a.push(v));
    feed.next(1);
    const subB = feed.observable.subscribe((v) => b.push(v));
    expect(feed.observed).toBe(true);
    feed.next(2);
    subA.unsubscribe();
    feed.next(3);
    subB.unsubscribe();
    feed.next(4);
    expect(a).toEqual([1, 2]);
    expect(b).toEqual([2, 3]);
    expect(feed.observed).toBe(false);
  });

  it('marks the state of a change it hands to several subscribers shared before any of them hears it, and no other', () => {
    const feed = new Broadcast<StatusChange>();
    const change = (): StatusChange => ({ instanceId: 'x', state: { input: { n: 1 } } as unknown as StatusChange['state'] });
    const heard: boolean[] = [];
    const first = feed.observable.subscribe((c) => c.state && heard.push(isShared(c.state)));
    const alone = change();
    feed.next(alone);
    const second = feed.observable.subscribe(() => undefined);
    const together = change();
    feed.next(together);
    feed.next({ instanceId: 'x', state: undefined }); // a purge: nothing to mark
    first.unsubscribe();
    second.unsubscribe();
    expect(heard).toEqual([false, true]);
    expect([isShared(alone.state!), isShared(together.state!)]).toEqual([false, true]);
  });

  it('stops delivering to a subscriber that another one unsubscribed during the same value', () => {
    const feed = new Broadcast<number>();
    const heard: string[] = [];
    let second: { unsubscribe(): void } | undefined;
    feed.observable.subscribe((v) => {
      heard.push(`first ${v}`);
      second?.unsubscribe();
    });
    second = feed.observable.subscribe((v) => heard.push(`second ${v}`));
    feed.next(1);
    expect(heard).toEqual(['first 1']);
  });

  it('does not hand the value being delivered to a subscriber that the only subscriber adds while it hears it', () => {
    const feed = new Broadcast<number>();
    const heard: string[] = [];
    const first = feed.observable.subscribe((v) => {
      heard.push(`first ${v}`);
      if (v === 1) feed.observable.subscribe((w) => heard.push(`added ${w}`));
    });
    feed.next(1);
    feed.next(2);
    first.unsubscribe();
    expect(heard).toEqual(['first 1', 'first 2', 'added 2']);
  });

  it('completes every subscriber, and later ones at once, and ignores values after completion', () => {
    const feed = new Broadcast<number>();
    const events: string[] = [];
    feed.observable.subscribe({ next: (v) => events.push(`early ${v}`), complete: () => events.push('early done') });
    feed.complete();
    feed.complete();
    feed.next(1);
    feed.observable.subscribe({ next: (v) => events.push(`late ${v}`), complete: () => events.push('late done') });
    expect(events).toEqual(['early done', 'late done']);
    expect(feed.observed).toBe(false);
  });
});
