import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { deadlineTimer } from '../src/client/deadline-timer.js';
import { LocalClient } from '../src/client/local-client.js';
import { MAX_TIMER_DELAY_MS } from '../src/client/timeout-after.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { StatusChange } from '../src/store/store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';

describe('deadlineTimer', () => {
  it('ends each deadline when its time passes, in time order, on one clock timer', async () => {
    const clock = new VirtualClock();
    const add = deadlineTimer(clock);
    const ended: string[] = [];
    add(300, () => ended.push('c'));
    add(100, () => ended.push('a'));
    add(200, () => ended.push('b'));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(99);
    expect(ended).toEqual([]);
    await clock.advance(1);
    expect(ended).toEqual(['a']);
    await clock.advance(200);
    expect(ended).toEqual(['a', 'b', 'c']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('never ends a cancelled deadline, and holds no timer once every deadline is cancelled', async () => {
    const clock = new VirtualClock();
    const add = deadlineTimer(clock);
    const ended: string[] = [];
    const cancelFirst = add(100, () => ended.push('first'));
    const cancelSecond = add(200, () => ended.push('second'));
    cancelFirst();
    await clock.advance(150);
    expect(ended).toEqual([]);
    cancelSecond();
    cancelSecond(); // twice: nothing more happens
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(1_000);
    expect(ended).toEqual([]);
  });

  it('arms no timer for an Infinity timeout, and waits out a delay beyond what setTimeout honours in steps', async () => {
    const clock = new VirtualClock();
    const add = deadlineTimer(clock);
    let ended = false;
    add(Infinity, () => {
      ended = true;
    });
    expect(clock.pendingTimers).toBe(0);
    add(MAX_TIMER_DELAY_MS + 10, () => {
      ended = true;
    });
    await clock.advance(MAX_TIMER_DELAY_MS);
    expect(ended).toBe(false);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(10);
    expect(ended).toBe(true);
  });

  it('holds no timer once the finite deadlines are cancelled while an Infinity one is pending', async () => {
    const clock = new VirtualClock();
    const add = deadlineTimer(clock);
    let ended = false;
    const cancelForever = add(Infinity, () => {
      ended = true;
    });
    const cancelHour = add(3_600_000, () => {
      ended = true;
    });
    expect(clock.pendingTimers).toBe(1);
    cancelHour();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(2 * MAX_TIMER_DELAY_MS);
    expect(ended).toBe(false);
    cancelForever();
    expect(clock.pendingTimers).toBe(0);
  });

  it('re-arms for an earlier deadline added after a later one', async () => {
    const clock = new VirtualClock();
    const add = deadlineTimer(clock);
    const ended: string[] = [];
    add(1_000, () => ended.push('late'));
    add(10, () => ended.push('early'));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(10);
    expect(ended).toEqual(['early']);
    await clock.advance(990);
    expect(ended).toEqual(['early', 'late']);
  });
});

describe('waitForCompletion timeouts', () => {
  it('share one timer between concurrent waits, each resolving at its own timeout, and leave none behind', async () => {
    const store = new MemoryStore();
    const clock = new VirtualClock();
    const client = createClient({ store, clock }); // no worker: the instances stay Pending
    try {
      const ids = await Promise.all([client.startNew('Anything'), client.startNew('Anything'), client.startNew('Anything')]);
      const settled: string[] = [];
      const waits = ids.map((id, i) => client.waitForCompletion(id, { timeoutMs: 1_000 * (i + 1) }).then((status) => {
        settled.push(status.instanceId);
        return status;
      }));
      await clock.waitForTimer();
      expect(clock.pendingTimers).toBe(1);
      await clock.advance(1_000);
      expect(settled).toEqual([ids[0]]);
      await clock.advance(2_000);
      expect(settled).toEqual(ids);
      for (const status of await Promise.all(waits)) expect(status.runtimeStatus).toBe('Pending');
      expect(clock.pendingTimers).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('let go of the store\u2019s change feed as they end: by timeout, by unsubscribing, or when the client closes', async () => {
    const store = new CountedFeed();
    const clock = new VirtualClock();
    const client = new LocalClient({ store, clock, storeCallTimeoutMs: Infinity }); // no worker: the instances stay Pending
    try {
      const [a, b] = await Promise.all([client.startNew('Anything'), client.startNew('Anything')]);
      const first = client.waitForCompletion(a, { timeoutMs: 1_000 });
      const second = client.waitForCompletion(b, { timeoutMs: 2_000 });
      await clock.waitForTimer();
      expect(store.subscribers).toBe(1); // the waits share one subscription
      const watching = client.status$(a).subscribe();
      expect(store.subscribers).toBe(1);
      await clock.advance(1_000);
      expect((await first).runtimeStatus).toBe('Pending');
      watching.unsubscribe();
      expect(store.subscribers).toBe(1); // the second wait still holds it
      await clock.advance(1_000);
      expect((await second).runtimeStatus).toBe('Pending');
      expect(store.subscribers).toBe(0);
      const third = client.waitForCompletion(a, { timeoutMs: 60_000 });
      expect(store.subscribers).toBe(1);
      client.close();
      expect((await third).runtimeStatus).toBe('Pending');
      expect(store.subscribers).toBe(0);
      expect(clock.pendingTimers).toBe(0);
    } finally {
      await store.close();
    }
  });
});

/** A MemoryStore that counts the subscriptions open on its change feed. */
class CountedFeed extends MemoryStore {
  subscribers = 0;

  constructor() {
    super();
    const feed = this.changes$;
    Object.defineProperty(this, 'changes$', {
      value: new Observable<StatusChange>((subscriber) => {
        this.subscribers++;
        const subscription = feed.subscribe(subscriber);
        return () => {
          this.subscribers--;
          subscription.unsubscribe();
        };
      }),
    });
  }
}
