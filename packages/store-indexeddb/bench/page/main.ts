import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { type Store } from '@durable-rx/runtime/store-kit';
import { helloSequence, sayHello } from '@durable-rx/runtime/samples';
import { DexieStore, KeyvalStore } from '../../src/index.js';
import { countIndexedDb } from '../../test/count-idb.js';
import type { BenchAdapter } from './api.js';

let runs = 0;

function storeFor(adapter: BenchAdapter): Store {
  const name = `bench-${adapter}-${Date.now()}-${++runs}`;
  switch (adapter) {
    case 'dexie':
      return new DexieStore({ name });
    case 'keyval':
      return new KeyvalStore({ name });
    case 'memory':
      return new MemoryStore();
  }
}

/** Counts the Store calls the runtime makes (each is one IndexedDB transaction for the IndexedDB stores). */
function counted(store: Store, calls: Record<string, number>): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        calls[property] = (calls[property] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

window.bench = {
  async run(adapter, instances) {
    const calls: Record<string, number> = {};
    const store = counted(storeFor(adapter), calls);
    const runtime = createRuntime({
      store, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello },
      logger: silentLogger,
    });
    // Opens the database before the clock starts.
    await store.getInstance('warm-up');
    await runtime.start();
    const counter = countIndexedDb();
    const ids = Array.from({ length: instances }, (_, i) => `bench-${i}`);
    const started = performance.now();
    await Promise.all(ids.map((instanceId) => runtime.client.startNew('HelloSequence', { instanceId })));
    const done = await Promise.all(ids.map((id) => runtime.client.waitForCompletion(id, { timeoutMs: 300_000 })));
    const elapsedMs = performance.now() - started;
    const idb = counter.counts();
    counter.uninstall();
    if (done.some((s) => s.runtimeStatus !== 'Completed')) throw new Error('an instance did not complete');
    const { steps, activitiesRun } = runtime.metrics;
    await runtime.stop();
    await store.close();
    return { adapter, instances, steps, activities: activitiesRun, elapsedMs, calls, idb };
  },
};
