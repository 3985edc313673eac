import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { silentLogger } from '../src/env/logger.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { helloSequence, sayHello } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';

/** A predictable id source: id-1, id-2, ... */
function counter(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}

describe('an injected id source', () => {
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('gives the runtime its instance, execution and worker ids', async () => {
    runtime = createRuntime({
      logger: silentLogger, newId: counter('id'),
      orchestrators: { E1_HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello },
    });
    await runtime.start();
    const id = await runtime.client.startNew('E1_HelloSequence');
    expect(id).toMatch(/^id-\d+$/);
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed' });
    const state = await runtime.store.getInstance(id);
    expect(state?.executionId).toMatch(/^id-\d+$/);
  });

  it('gives a client without a worker its ids', async () => {
    const store = new MemoryStore();
    const client = createClient({ store, newId: counter('c') });
    try {
      expect(await client.startNew('Anything')).toBe('c-1');
      expect((await store.getInstance('c-1'))?.executionId).toBe('c-2');
    } finally {
      await store.close();
    }
  });
});
