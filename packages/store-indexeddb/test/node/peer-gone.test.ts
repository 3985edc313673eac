import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, createRuntime, silentLogger, type Orchestrator } from '@durable-rx/runtime';
import type { InstanceState } from '@durable-rx/runtime/store-kit';
import { changeChannelName } from '../../src/idb-store.js';
import { KeyvalStore } from '../../src/keyval-store.js';
import { FakeLocks } from '../fake-locks.js';
import { SETTLED } from '../../../../test-support/settled.js';

const PRESENCE = 'durable-rx/presence@1';
const orchestrators: Record<string, Orchestrator> = {
  *Done() {
    return 'done';
  },
};

/**
 * Another tab that commits without ever posting (its feed has no channel: the commits a tab made in its last moment,
 * before it went), on the same database; and a peer feed `peer` whose lock the test holds, then drops.
 */
async function setUp(name: string) {
  const locks = new FakeLocks();
  vi.stubGlobal('navigator', { locks, userAgent: '' });
  const store = new KeyvalStore({ name });
  const channel = new BroadcastChannel(changeChannelName(name));
  await store.getInstance('none'); // opened and joined
  const real = globalThis.BroadcastChannel;
  vi.stubGlobal('BroadcastChannel', undefined);
  const silent = new KeyvalStore({ name });
  vi.stubGlobal('BroadcastChannel', real);
  const runtime = createRuntime({ store: silent, orchestrators, logger: silentLogger, workerId: 'silent' });
  const peerLock = `${changeChannelName(name)}/feed/peer`;
  const peerArrives = async () => {
    void locks.request(peerLock, {}, () => new Promise(() => undefined));
    channel.postMessage({ type: PRESENCE, kind: 'hello', from: 'peer' });
    await vi.waitFor(() => expect(locks.waits(peerLock, 'shared')).toBe(true), { timeout: SETTLED.timeoutMs }); // the store watches the peer's lock
  };
  const seen: (InstanceState | undefined)[] = [];
  const watching = store.instanceChanges$('i').subscribe(({ state }) => seen.push(state));
  const close = async () => {
    watching.unsubscribe();
    channel.close();
    await runtime.stop();
    await silent.close();
    await store.close();
  };
  return { locks, store, channel, runtime, client: createClient({ store: silent }), peerLock, peerArrives, seen, close };
}

type SetUp = Awaited<ReturnType<typeof setUp>>;

/** A peer tab arrives, then the test's runtime runs instance `id` to completion: committed by the silent store. */
async function completeUnposted(t: SetUp, id: string): Promise<void> {
  await t.peerArrives();
  await t.runtime.start();
  await t.runtime.client.startNew('Done', { instanceId: id });
  await t.runtime.client.waitForCompletion(id, { timeoutMs: 60_000 });
}

describe('a peer feed that goes', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
    vi.unstubAllGlobals();
  });

  /** The test's store and silent peer, closed after the test. */
  const arrange = async (name: string): Promise<SetUp> => {
    const t = await setUp(`${name}-${Date.now()}`);
    close = t.close;
    return t;
  };

  it('without its goodbye: the store reads the watched instance again and delivers what was never posted', async () => {
    const t = await arrange('peer-gone');
    await completeUnposted(t, 'i');
    expect(t.seen).toEqual([]); // committed, never posted
    t.locks.drop(t.peerLock);
    await vi.waitFor(() => expect(t.seen.at(-1)?.runtimeStatus).toBe('Completed'), { timeout: SETTLED.timeoutMs });
  });

  it('without its goodbye after purging a watched instance: the store delivers the purge, as the purging commit would have', async () => {
    const t = await arrange('peer-purge');
    await completeUnposted(t, 'i');
    const statuses: (string | undefined)[] = [];
    const status = createClient({ store: t.store }).status$('i').subscribe((s) => statuses.push(s?.runtimeStatus));
    t.locks.drop(t.peerLock);
    await vi.waitFor(() => expect(t.seen.at(-1)?.runtimeStatus).toBe('Completed'), { timeout: SETTLED.timeoutMs });
    await vi.waitFor(() => expect(statuses.at(-1)).toBe('Completed'), { timeout: SETTLED.timeoutMs });
    await t.peerArrives(); // another tab, which purges the instance in its last moment
    await t.client.purgeInstanceHistory('i');
    t.locks.drop(t.peerLock);
    await vi.waitFor(() => expect(t.seen).toHaveLength(2), { timeout: SETTLED.timeoutMs });
    expect(t.seen[1]).toBeUndefined();
    await vi.waitFor(() => expect(statuses.at(-1)).toBeUndefined(), { timeout: SETTLED.timeoutMs }); // status$ shows the purge
    status.unsubscribe();
  });

  it('without its goodbye: a live list runs its query again and shows the completion and the purge it never heard of', async () => {
    const t = await arrange('peer-list');
    const lists: string[][] = []; // of 'j', which no status$ watches (the store reads 'i' again itself)
    const list = createClient({ store: t.store }).instances$().subscribe((l) => lists.push(l.map((s) => `${s.instanceId}:${s.runtimeStatus}`)));
    await vi.waitFor(() => expect(lists).toEqual([[]]), { timeout: SETTLED.timeoutMs });
    await completeUnposted(t, 'j');
    await t.store.getInstance('j');
    expect(lists.at(-1)).toEqual([]); // committed, never posted
    t.locks.drop(t.peerLock);
    await vi.waitFor(() => expect(lists.at(-1)).toEqual(['j:Completed']), { timeout: SETTLED.timeoutMs });
    await t.peerArrives(); // another tab, which purges the instance in its last moment
    await t.client.purgeInstanceHistory('j');
    t.locks.drop(t.peerLock);
    await vi.waitFor(() => expect(lists.at(-1)).toEqual([]), { timeout: SETTLED.timeoutMs });
    list.unsubscribe();
  });

  it('after its goodbye: nothing is read again (its store closed after posting what it committed)', async () => {
    const t = await arrange('peer-bye');
    await completeUnposted(t, 'i');
    t.channel.postMessage({ type: PRESENCE, kind: 'bye', from: 'peer' });
    await vi.waitFor(() => expect(t.locks.waits(t.peerLock, 'shared')).toBe(false), { timeout: SETTLED.timeoutMs }); // the store stopped watching it
    t.locks.drop(t.peerLock);
    // A read after the drop: a re-read begun by it would have been delivered by now (same readonly transaction queue).
    await t.store.getInstance('i');
    await t.store.getInstance('i');
    expect(t.seen).toEqual([]);
  });
});
