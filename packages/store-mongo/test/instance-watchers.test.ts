import type { StatusChange } from '@durable-rx/runtime/store-kit';
import { Observable, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InstanceWatchers } from '../src/instance-watchers.js';

type Change = StatusChange;
/** A purge of `instanceId` (a change without a snapshot); each call is a distinct object, told apart by identity. */
const change = (instanceId: string): Change => ({ instanceId, state: undefined });

/** A source that counts its subscribers, as the per-instance change feed does. */
function countedSource() {
  const subject = new Subject<Change>();
  let open = 0;
  const source = new Observable<Change>((subscriber) => {
    open++;
    const subscription = subject.subscribe(subscriber);
    return () => {
      open--;
      subscription.unsubscribe();
    };
  });
  return { subject, source, open: () => open };
}

describe('instanceChanges$ watchers', () => {
  it('routes each change to the watchers of its instance over one source subscription, released by the last', () => {
    const { subject, source, open } = countedSource();
    const watched: string[] = [];
    const watchers = new InstanceWatchers(source, (id) => watched.push(id));
    const a: Change[] = [];
    const b: Change[] = [];
    const subA = watchers.watch('a').subscribe((c) => a.push(c));
    const subB = watchers.watch('b').subscribe((c) => b.push(c));
    expect(open()).toBe(1);
    expect(watchers.ids().sort()).toEqual(['a', 'b']);
    expect(watched).toEqual(['a', 'b']);
    const [ca, cb, cc] = [change('a'), change('b'), change('c')];
    subject.next(ca);
    subject.next(cb);
    subject.next(cc);
    expect(a).toHaveLength(1);
    expect(a[0]).toBe(ca);
    expect(b).toHaveLength(1);
    expect(b[0]).toBe(cb);
    // A second watcher of one id counts once in the $match and keeps it until it leaves too.
    const again = watchers.watch('b').subscribe();
    expect(watchers.ids().sort()).toEqual(['a', 'b']);
    again.unsubscribe();
    expect(watchers.ids().sort()).toEqual(['a', 'b']);
    subA.unsubscribe();
    expect(watchers.ids()).toEqual(['b']);
    expect([watchers.isWatched('a'), watchers.isWatched('b'), watchers.isWatched('c')]).toEqual([false, true, false]);
    expect(open()).toBe(1);
    subB.unsubscribe();
    expect(open()).toBe(0);
  });

  it('tells the store when a watcher leaves, once the instance no longer counts it (so the $match can narrow)', () => {
    const { source } = countedSource();
    const left: string[][] = [];
    const watchers = new InstanceWatchers(source, () => undefined, () => left.push(watchers.ids().sort()));
    const a1 = watchers.watch('a').subscribe();
    const a2 = watchers.watch('a').subscribe();
    const b = watchers.watch('b').subscribe();
    a1.unsubscribe();
    a2.unsubscribe();
    b.unsubscribe();
    expect(left).toEqual([['a', 'b'], ['b'], []]);
  });

  it('completes every watcher when the source completes (the store closed), and every later watcher at once', () => {
    const { subject, source } = countedSource();
    const watchers = new InstanceWatchers(source, () => undefined);
    let firstDone = false;
    watchers.watch('a').subscribe({ complete: () => (firstDone = true) });
    subject.complete();
    expect(firstDone).toBe(true);
    // Before the fix the store kept the dead subscription: the second watcher after close never completed.
    const later = [false, false];
    watchers.watch('b').subscribe({ complete: () => (later[0] = true) });
    watchers.watch('c').subscribe({ complete: () => (later[1] = true) });
    expect(later).toEqual([true, true]);
    expect(watchers.ids()).toEqual([]);
  });

  it('completes watchers of a source that is already complete when the first one subscribes', () => {
    const subject = new Subject<Change>();
    subject.complete();
    const watchers = new InstanceWatchers(subject.asObservable(), () => undefined);
    const done = [false, false];
    watchers.watch('a').subscribe({ complete: () => (done[0] = true) });
    watchers.watch('b').subscribe({ complete: () => (done[1] = true) });
    expect(done).toEqual([true, true]);
  });

  it('passes an error of the source to every watcher and lets go of it', () => {
    const { subject, source, open } = countedSource();
    const watchers = new InstanceWatchers(source, () => undefined);
    const errors: unknown[] = [];
    watchers.watch('a').subscribe({ error: (e: unknown) => errors.push(e) });
    watchers.watch('b').subscribe({ error: (e: unknown) => errors.push(e) });
    const failure = new Error('feed failed');
    subject.error(failure);
    expect(errors).toEqual([failure, failure]);
    expect(watchers.ids()).toEqual([]);
    expect(open()).toBe(0);
  });
});
