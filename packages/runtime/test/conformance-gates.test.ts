import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/env/logger.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { Gates } from '../src/testing/gates.js';
import { SETTLED } from '../src/testing/settled.js';

/**
 * The client conformance suite's gates, which its cleanup opens with `openAll()` before it stops the runtime: a gate
 * waited on after that is open too, so an orchestration a test left running (a sub-orchestration whose parent it
 * terminated) runs on to its end instead of leaving an activity that `stop()` waits on for its whole grace period.
 */

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the conformance suite gates', () => {
  it('opens a gate waited on after openAll()', async () => {
    const gates = new Gates();
    const before = gates.wait('before');
    gates.openAll();
    let passed = false;
    void Promise.all([before, gates.wait('after')]).then(() => (passed = true));
    await new Promise((resolve) => setTimeout(resolve, 0)); // a macrotask: every resolved promise has run its callbacks
    expect(passed).toBe(true);
  });

  it('lets a sub-orchestration left running by its terminated parent run on to its end once openAll() is called', async () => {
    const gates = new Gates();
    const orchestrators: Record<string, Orchestrator> = {
      Parent: function* (ctx) {
        return yield ctx.callSubOrchestrator('TwoGates', undefined, `${ctx.instanceId}-child`);
      },
      TwoGates: function* (ctx) {
        yield ctx.callActivity('Gated', `${ctx.instanceId}/1`);
        return yield ctx.callActivity('Gated', `${ctx.instanceId}/2`);
      },
    };
    const runtime: Runtime = createRuntime({
      store: new MemoryStore(), orchestrators, activities: { Gated: (key: string) => gates.wait(key).then(() => key) }, logger: silentLogger,
    });
    await runtime.start();
    cleanups.push(() => runtime.stop({ graceMs: 0 }));
    await runtime.client.startNew('Parent', { instanceId: 'p' });
    await gates.reached('p-child/1');
    await runtime.client.terminate('p', 'stop');
    // The test is over: its cleanup opens the gates. The child's second call waits on a gate made only now.
    gates.openAll();
    expect(await runtime.client.waitForCompletion('p-child', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'p-child/2' });
    expect(await firstValueFrom(runtime.client.status$('p').pipe(filter((s) => s !== undefined)))).toMatchObject({ runtimeStatus: 'Terminated' });
  });
});
