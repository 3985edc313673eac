import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';

type Query = Parameters<Store['queryInstances']>[0];
type Page = Awaited<ReturnType<Store['queryInstances']>>;

/**
 * `store`, whose listings are recorded in `queries` and handed to `onPage` before the caller gets them (what another
 * client does between a command by filter's listing and its commands).
 */
function watchedListings(store: MemoryStore, onPage: (query: Query, page: Page) => unknown = () => undefined): { store: MemoryStore; queries: Query[] } {
  const queries: Query[] = [];
  const proxy = new Proxy(store, {
    get(target, key) {
      if (key === 'queryInstances') {
        return async (query: Query) => {
          const page = await target.queryInstances(query);
          queries.push(query);
          await onPage(query, page);
          return page;
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: proxy, queries };
}

/** Starts `n` instances `${prefix}000` .. (Pending: no worker runs). */
async function startMany(store: MemoryStore, prefix: string, n: number): Promise<string[]> {
  const admin = createClient({ store });
  const ids = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
  for (const id of ids) await admin.startNew('Work', { instanceId: id, input: { big: 'x'.repeat(100) } });
  return ids;
}

async function statusCounts(store: MemoryStore, prefix: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const s of await createClient({ store }).getStatusBy({ instanceIdPrefix: prefix })) counts[s.runtimeStatus] = (counts[s.runtimeStatus] ?? 0) + 1;
  return counts;
}

describe('commands by filter on a local client', () => {
  it('lists page by page, at most 100 instances a page and without their inputs, whatever the set', async () => {
    const memory = new MemoryStore();
    await startMany(memory, 'p', 250);
    const { store, queries } = watchedListings(memory);
    expect(await createClient({ store }).terminateBy({ instanceIdPrefix: 'p' }, 'stop')).toEqual({ instancesAffected: 250, instancesSkipped: 0 });
    expect(queries).toHaveLength(3);
    for (const query of queries) expect(query).toMatchObject({ pageSize: 100, showInput: false, runtimeStatus: ['Pending', 'Running', 'Suspended'] });
    expect(await statusCounts(memory, 'p')).toEqual({ Terminated: 250 });
  });

  it('skips an instance that ended or was purged between the listing and its command, and counts it', async () => {
    const memory = new MemoryStore();
    const ids = await startMany(memory, 's', 5);
    const other = createClient({ store: memory });
    const { store } = watchedListings(memory, async (_query, page) => {
      if (page.instances.length === 0) return;
      await other.terminate(ids[0]!, 'by someone else');
      await other.terminate(ids[1]!, 'by someone else');
      await other.purgeInstanceHistory(ids[1]!);
    });
    expect(await createClient({ store }).terminateBy({ instanceIdPrefix: 's' }, 'stop')).toEqual({ instancesAffected: 3, instancesSkipped: 2 });
    expect((await other.getStatus(ids[0]!))?.output).toBe('by someone else');
    expect(await other.getStatus(ids[1]!)).toBeUndefined();
    expect(await statusCounts(memory, 's')).toEqual({ Terminated: 4 });
  });

  it('stops taking up instances once its signal is aborted and rejects with its reason; repeating the call does the rest', async () => {
    const memory = new MemoryStore();
    await startMany(memory, 'a', 150);
    const abort = new AbortController();
    const { store, queries } = watchedListings(memory, () => {
      if (queries.length === 2) abort.abort(new Error('enough'));
    });
    const client = createClient({ store });
    await expect(client.suspendBy({ instanceIdPrefix: 'a' }, 'pause', { signal: abort.signal })).rejects.toThrow('enough');
    expect(await statusCounts(memory, 'a')).toEqual({ Suspended: 100, Pending: 50 });
    expect(await client.suspendBy({ instanceIdPrefix: 'a' }, 'pause')).toEqual({ instancesAffected: 50, instancesSkipped: 0 });
    expect(await statusCounts(memory, 'a')).toEqual({ Suspended: 150 });
  });

  it('returns its counts and continuation token when its signal is aborted only after it took up all its limit asked', async () => {
    const memory = new MemoryStore();
    await startMany(memory, 'l', 20);
    const abort = new AbortController();
    let commits = 0;
    const store = new Proxy(memory, {
      get(target, key) {
        if (key === 'commit') {
          return async (writeSet: Parameters<Store['commit']>[0]) => {
            const result = await target.commit(writeSet);
            if (++commits === 10) abort.abort(new Error('enough'));
            return result;
          };
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const client = createClient({ store });
    const first = await client.cancelBy({ instanceIdPrefix: 'l' }, 'stop', { limit: 10, signal: abort.signal });
    expect(first).toMatchObject({ instancesAffected: 10, instancesSkipped: 0 });
    // The token goes on with the ten not asked yet (a repeated cancel would ask the first ten again).
    expect(await client.cancelBy({ instanceIdPrefix: 'l' }, 'stop', { continuationToken: first.continuationToken })).toEqual({ instancesAffected: 10, instancesSkipped: 0 });
  });

  it('rejects with a store error it meets and keeps what it changed before', async () => {
    const memory = new MemoryStore();
    await startMany(memory, 'e', 150);
    const { store } = watchedListings(memory, (query) => {
      if (query.continuationToken !== undefined) throw new Error('store down');
    });
    await expect(createClient({ store }).terminateBy({ instanceIdPrefix: 'e' })).rejects.toThrow('store down');
    expect(await statusCounts(memory, 'e')).toEqual({ Terminated: 100, Pending: 50 });
  });
});
