import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Browsers give `crypto.randomUUID` to secure contexts only (HTTPS, localhost): on a page served over plain HTTP from
 * a LAN address it is missing. Importing the stores and running a runtime on them must not need it. The store module
 * makes its lease tokens when it loads, so it is imported only after `randomUUID` is taken away.
 */
let restore: (() => void) | undefined;
beforeAll(() => {
  const removed: { readonly owner: object; readonly descriptor: PropertyDescriptor }[] = [];
  for (let owner: object | null = globalThis.crypto; owner; owner = Object.getPrototypeOf(owner) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(owner, 'randomUUID');
    if (!descriptor) continue;
    removed.push({ owner, descriptor });
    delete (owner as { randomUUID?: unknown }).randomUUID;
  }
  restore = () => {
    for (const { owner, descriptor } of removed) Object.defineProperty(owner, 'randomUUID', descriptor);
  };
});
afterAll(() => restore?.());

describe('without crypto.randomUUID (an insecure browser context)', () => {
  it.each(['DexieStore', 'KeyvalStore'] as const)('a runtime on a %s imported then starts an instance and completes it', async (kind) => {
    expect('randomUUID' in crypto).toBe(false);
    const stores = await import('../../src/index.js');
    const { createRuntime, silentLogger } = await import('@durable-rx/runtime');
    const { sampleActivities, sampleOrchestrators } = await import('@durable-rx/runtime/samples');
    const store = new stores[kind]({ name: `insecure-${kind}-${Date.now()}` });
    const runtime = createRuntime({ store, orchestrators: sampleOrchestrators, activities: sampleActivities, logger: silentLogger, workerId: 'tab' });
    await runtime.start();
    try {
      const id = await runtime.client.startNew('E1_HelloSequence');
      const done = await runtime.client.waitForCompletion(id, { timeoutMs: 60_000 });
      expect(done.runtimeStatus).toBe('Completed');
      expect(done.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    } finally {
      await runtime.stop();
      await store.close?.();
    }
  });
});
