import { createRuntime, silentLogger } from '@durable-rx/runtime';
import { helloSequence, sayHello } from '@durable-rx/runtime/samples';
import { afterEach, describe, expect, it } from 'vitest';
import { countIndexedDb, type IdbCounter } from '../count-idb.js';
import { adapters, uniqueName, type AdapterName } from './fixtures.js';

// IndexedDB work per orchestration step of the hello sequence (4 steps, 3 activities per instance), counted by
// wrapping the IndexedDB prototypes. Counts depend only on the sequence of store calls, not on speed.
const budgets: Record<AdapterName, { readonly requestsPerStep: number }> = {
  DexieStore: { requestsPerStep: 6 },
  KeyvalStore: { requestsPerStep: 7 },
};

let counter: IdbCounter | undefined;
afterEach(() => {
  counter?.uninstall();
  counter = undefined;
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: IndexedDB work per hello-sequence step', (adapter) => {
  it.each([1, 10])('with %i concurrent instance(s): at most 3 readwrite transactions, none empty', async (instances) => {
    const store = adapters[adapter](uniqueName('counts'));
    const runtime = createRuntime({
      store, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger,
    });
    try {
      await runtime.start();
      // A first instance opens the database and lets the worker settle (its start-up claims are not per-step work).
      await runtime.client.startNew('HelloSequence', { instanceId: 'warm-up' });
      await runtime.client.waitForCompletion('warm-up', { timeoutMs: 60_000 });
      const before = runtime.metrics.steps;
      counter = countIndexedDb();
      const ids = Array.from({ length: instances }, (_, i) => `hello-${i}`);
      await Promise.all(ids.map((instanceId) => runtime.client.startNew('HelloSequence', { instanceId })));
      const done = await Promise.all(ids.map((id) => runtime.client.waitForCompletion(id, { timeoutMs: 60_000 })));
      expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
      const counts = counter.counts();
      const steps = runtime.metrics.steps - before;
      expect(steps).toBe(4 * instances);
      // The start is committed leased to the worker (no claim), the step that completes an activity is fused with it,
      // and the activities a step schedules are leased in its own commit: per instance, its start and four commits.
      expect(counts.readwrite / steps).toBeLessThanOrEqual(3);
      expect(counts.readwrite).toBeLessThanOrEqual(5 * instances + 1);
      expect(counts.emptyReadwrite).toBe(0);
      expect(counts.requests / steps).toBeLessThanOrEqual(budgets[adapter].requestsPerStep);
    } finally {
      await runtime.stop();
      await store.close();
    }
  });
});
