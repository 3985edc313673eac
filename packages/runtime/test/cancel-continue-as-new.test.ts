import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { OrchestrationExecution } from '../src/engine/orchestration-execution.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { silentLogger } from '../src/env/logger.js';
import { isCancellation } from '../src/model/errors/canceled-error.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { SETTLED } from '../src/testing/settled.js';

const at = '2026-01-01T00:00:00.000Z';
const limit = { customStatusLimitBytes: 16_384 };
const cancel = { type: 'ExecutionCancelRequested', eventId: -1, timestamp: at, reason: 'stop' } as const;

/** Counts the `tick` events it takes, one execution each; a cancel ends it with the count so far. */
const counter: Orchestrator = function* (ctx) {
  const count = ctx.getInput<number>();
  try {
    yield ctx.waitForExternalEvent('tick');
  } catch (error) {
    if (isCancellation(error)) return `canceled at ${count}`;
    throw error;
  }
  ctx.continueAsNew(count + 1);
  return undefined;
};

describe('a cancel that reaches an execution after its continueAsNew', () => {
  it('is carried to the next execution, before any raised event it carries, cached and replayed alike', () => {
    const start = { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'Counter', instanceId: 'c', executionId: 'e1', input: 0 } as const;
    const tick = { type: 'EventRaised', eventId: -1, timestamp: at, name: 'tick' } as const;
    const same = new OrchestrationExecution(counter, limit).step(new Date(at), [start, tick, cancel]);
    expect(same.continueAsNew).toMatchObject({ input: 1, carryOverEvents: [{ type: 'ExecutionCancelRequested', reason: 'stop' }] });

    // Reached while suspended, applied at the resume after the tick that made it continue.
    const steps: HistoryEvent[][] = [[start], [{ type: 'ExecutionSuspended', eventId: -1, timestamp: at }], [tick, cancel]];
    const cached = new OrchestrationExecution(counter, limit);
    const history = steps.flatMap((events) => cached.step(new Date(at), events).newEvents);
    const replayed = new OrchestrationExecution(counter, limit);
    replayed.replay(history);
    for (const execution of [cached, replayed]) {
      const resumed = execution.step(new Date(at), [{ type: 'ExecutionResumed', eventId: -1, timestamp: at }]);
      expect(resumed.continueAsNew?.carryOverEvents).toMatchObject([{ type: 'ExecutionCancelRequested', reason: 'stop' }]);
    }
  });

  it('is not carried when the execution received it before it continued', () => {
    const caughtThenContinued: Orchestrator = function* (ctx) {
      try {
        yield ctx.waitForExternalEvent('tick');
      } catch {
        ctx.continueAsNew('after cancel');
      }
      return undefined;
    };
    const execution = new OrchestrationExecution(caughtThenContinued, limit);
    const step = execution.step(new Date(at), [
      { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'X', instanceId: 'x', executionId: 'e1' }, cancel,
    ]);
    expect(step.continueAsNew).toEqual({ input: 'after cancel', carryOverEvents: [] });
  });

  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('ends the next execution: the instance that continued as new is canceled, not left running', async () => {
    runtime = createRuntime({ store: new MemoryStore(), logger: silentLogger, orchestrators: { Counter: counter } });
    await runtime.start();
    const client = runtime.client;
    const id = await client.startNew('Counter', { input: 0 });
    await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    await client.suspend(id);
    // Both reach it while suspended; at the resume the tick makes it continue, and then comes the cancel.
    await client.raiseEvent(id, 'tick');
    await client.cancel(id, 'stop');
    await client.resume(id);
    expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'canceled at 1' });
  });
});
