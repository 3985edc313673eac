import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDBKeyRange as FakeKeyRange } from 'fake-indexeddb';

/**
 * Server-side rendering: the app's modules run in Node, where there is no IndexedDB, and make their store there too.
 * The node project's setup installs fake-indexeddb's globals; they are taken away here, before the stores (and Dexie,
 * which reads them when it loads) are imported, so this file runs as plain Node does.
 */
let restore: (() => void) | undefined;
beforeAll(() => {
  const removed = Object.getOwnPropertyNames(globalThis)
    .filter((key) => key === 'indexedDB' || key.startsWith('IDB'))
    .map((key) => [key, Object.getOwnPropertyDescriptor(globalThis, key)!] as const);
  for (const [key] of removed) delete (globalThis as Record<string, unknown>)[key];
  restore = () => {
    for (const [key, descriptor] of removed) Object.defineProperty(globalThis, key, descriptor);
  };
});
afterAll(() => restore?.());

const adapters = ['DexieStore', 'KeyvalStore'] as const;
let n = 0;
const name = (kind: string) => `no-idb-${kind}-${++n}`;

/** The error of a store's call where IndexedDB is missing: the same typed one for both adapters. */
const UNAVAILABLE = {
  code: 'storage-error',
  status: 500,
  message: expect.stringMatching(/^IndexedDB is not available here/),
  cause: expect.objectContaining({ name: 'MissingAPIError' }),
};

describe('where there is no IndexedDB (server-side rendering in Node)', () => {
  it.each(adapters)('a %s is made, and its calls fail with StorageError and write nothing', async (kind) => {
    expect(typeof indexedDB).toBe('undefined');
    expect(typeof IDBKeyRange).toBe('undefined');
    const stores = await import('../../src/index.js');
    const store = new stores[kind]({ name: name(kind) });
    await expect(store.getInstance('a')).rejects.toMatchObject(UNAVAILABLE);
    await expect(store.claimOrchestration({ owner: 'w', leaseMs: 1000, now: new Date() })).rejects.toMatchObject(UNAVAILABLE);
    // Each call tries to open again, and fails as the first did.
    await expect(store.queryInstances({})).rejects.toMatchObject(UNAVAILABLE);
    await store.close();
  });

  it('a KeyvalStore given an IDBKeyRange still needs the global indexedDB, and says so with StorageError', async () => {
    const { KeyvalStore } = await import('../../src/index.js');
    const store = new KeyvalStore({ name: name('keyval-range'), IDBKeyRange: FakeKeyRange });
    await expect(store.getInstance('a')).rejects.toMatchObject({ ...UNAVAILABLE, cause: expect.objectContaining({ message: expect.stringContaining('indexedDB') }) });
    await store.close();
  });

  it.each(adapters)('a runtime on a %s rejects its client calls with StorageError and its worker logs it', async (kind) => {
    const stores = await import('../../src/index.js');
    const { createRuntime } = await import('@durable-rx/runtime');
    const { sampleActivities, sampleOrchestrators } = await import('@durable-rx/runtime/samples');
    let logged: (details: unknown) => void = () => undefined;
    const workerError = new Promise<unknown>((resolve) => (logged = resolve));
    const logger = { warn: () => undefined, error: (_message: string, details?: unknown) => logged(details) };
    const store = new stores[kind]({ name: name(kind) });
    const runtime = createRuntime({ store, orchestrators: sampleOrchestrators, activities: sampleActivities, logger, workerId: 'ssr' });
    await runtime.start();
    try {
      await expect(runtime.client.startNew('E1_HelloSequence', { instanceId: 'a' })).rejects.toMatchObject(UNAVAILABLE);
      await expect(runtime.client.getStatus('a')).rejects.toMatchObject(UNAVAILABLE);
      expect(await workerError).toMatchObject(UNAVAILABLE);
    } finally {
      await runtime.stop();
      await store.close();
    }
  });

  it.each(adapters)('the worker of a runtime on a %s stops once, instead of retrying for ever', async (kind) => {
    const stores = await import('../../src/index.js');
    const { createRuntime } = await import('@durable-rx/runtime');
    const { isRetryableError } = await import('@durable-rx/runtime/client-kit');
    const { VirtualClock } = await import('@durable-rx/runtime/testing');
    const { sampleActivities, sampleOrchestrators } = await import('@durable-rx/runtime/samples');
    const errors: [string, unknown][] = [];
    let reported: (report: [string, unknown]) => void = () => undefined;
    const firstReport = new Promise<[string, unknown]>((resolve) => (reported = resolve));
    const logger = {
      warn: () => undefined,
      error: (message: string, details?: unknown) => {
        errors.push([message, details]);
        reported([message, details]);
      },
    };
    const clock = new VirtualClock(new Date('2026-01-01T00:00:00.000Z'));
    const store = new stores[kind]({ name: name(kind) });
    const runtime = createRuntime({ store, clock, orchestrators: sampleOrchestrators, activities: sampleActivities, logger, workerId: 'ssr' });
    await runtime.start();
    try {
      const [message, error] = await firstReport;
      expect(message).toContain('the worker stops');
      expect(error).toMatchObject({ ...UNAVAILABLE, storeClosed: true });
      // Hooks and SSE streams do not subscribe again to a store that cannot serve the page.
      expect(isRetryableError(error)).toBe(false);
      // An hour on the worker's clock, far past every back-off: no claim is tried again, nothing more is logged.
      await clock.advance(3_600_000);
      expect(errors.map(([message]) => message)).toEqual([expect.stringContaining('the worker stops')]);
      expect(clock.pendingTimers).toBe(0);
    } finally {
      await runtime.stop();
      await store.close();
    }
  });
});
