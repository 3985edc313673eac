import { Subject, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { DurableClient, InstanceStatus } from '../src/index.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { StatusChange, Store } from '../src/store/store.js';
import { createClient } from '../src/client/create-client.js';

/**
 * A real MemoryStore whose change feed reaches its subscribers when the test lets each change through: what a shared
 * store does when a read answers from a commit whose change is still on its way (IndexedDB answers a read from a
 * commit in flight; a tab reads after another tab's commit, before its message arrives). Nothing is faked: every
 * change is the store's own, delivered in commit order.
 */
function laggingStore(inner: MemoryStore): { store: Store; deliverNext: () => void; held: () => number } {
  const out = new Subject<StatusChange>();
  const queue: StatusChange[] = [];
  inner.changes$.subscribe((change) => queue.push(change));
  const store = new Proxy(inner, {
    get: (target, key) => {
      if (key === 'changes$') return out.asObservable() as Observable<StatusChange>;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, deliverNext: () => out.next(queue.shift()!), held: () => queue.length };
}

describe('a purge that reaches a reader after its read showed the next run (purge + startNew of one id)', () => {
  let inner: MemoryStore;
  let client: DurableClient;
  let lagging: ReturnType<typeof laggingStore>;
  afterEach(async () => inner.close());

  /** 'x' started and terminated, then purged and started again; the purge and the new start not delivered yet. */
  async function purgedAndStartedAgain(): Promise<void> {
    inner = new MemoryStore();
    lagging = laggingStore(inner);
    client = createClient({ store: lagging.store });
    await client.startNew('O', { instanceId: 'x' });
    await client.terminate('x', 'bye');
    while (lagging.held() > 0) lagging.deliverNext();
    await client.purgeInstanceHistory('x');
    await client.startNew('O', { instanceId: 'x' });
    expect(lagging.held()).toBe(2); // the purge, then the new run's creation
  }

  it('status$ shows the new run once (never a purge after it) and waitForCompletion waits for it', async () => {
    await purgedAndStartedAgain();
    const seen: (string | undefined)[] = [];
    const sub = client.status$('x').subscribe((s) => seen.push(s?.runtimeStatus));
    const waited = client.waitForCompletion('x', { timeoutMs: 60_000 });
    lagging.deliverNext(); // the purge, while both reads are in flight (they show the new run)
    await new Promise((resolve) => setTimeout(resolve, 0));
    lagging.deliverNext(); // the new run's creation
    expect(seen).toEqual(['Pending']);
    await client.terminate('x', 'done');
    while (lagging.held() > 0) lagging.deliverNext();
    await expect(waited).resolves.toMatchObject({ runtimeStatus: 'Terminated' });
    expect(seen).toEqual(['Pending', 'Terminated']);
    sub.unsubscribe();
  });

  it('instances$ keeps the new run', async () => {
    await purgedAndStartedAgain();
    const lists: string[][] = [];
    const sub = client.instances$().subscribe((list: InstanceStatus[]) => lists.push(list.map((s) => `${s.instanceId} ${s.runtimeStatus}`)));
    lagging.deliverNext(); // the purge, while the query is in flight (it shows the new run)
    await new Promise((resolve) => setTimeout(resolve, 0));
    lagging.deliverNext();
    expect(lists).toEqual([['x Pending']]);
    sub.unsubscribe();
  });
});
