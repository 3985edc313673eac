import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { OrchestrationExecution, type StepResult } from '../src/engine/orchestration-execution.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { silentLogger } from '../src/env/logger.js';
import { PayloadTooLargeError } from '../src/model/errors/payload-too-large-error.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { HistoryBuilder, executionStarted, taskCompleted } from '../src/testing/history-builder.js';
import { SETTLED, within } from '../src/testing/settled.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const later = new Date(T0.getTime() + 1000);
/** A custom status of 502 bytes of JSON. */
const STATUS = 'x'.repeat(500);

/** Sets a 502-byte status, then calls `Fallback` when that was too large, `Normal` when not; then `Last`. */
const statusOrFallback: Orchestrator = function* (ctx) {
  let fits = true;
  try {
    ctx.setCustomStatus(STATUS);
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError)) throw error;
    fits = false;
  }
  yield ctx.callActivity(fits ? 'Normal' : 'Fallback');
  yield ctx.callActivity('Last');
  return fits;
};

/** Runs the first step of `statusOrFallback` under `limit` and returns what it committed. */
function firstStep(limit: number): readonly HistoryEvent[] {
  const execution = new OrchestrationExecution(statusOrFallback, { customStatusLimitBytes: limit });
  execution.replay([]);
  return execution.step(T0, [executionStarted('StatusOrFallback')]).newEvents;
}

/** Replays `history` under a runtime limit of `limit` (a cache miss in another process), then completes call #0. */
function replayThenStep(history: readonly HistoryEvent[], limit: number): StepResult {
  const execution = new OrchestrationExecution(statusOrFallback, { customStatusLimitBytes: limit });
  execution.replay(history);
  return execution.step(later, [taskCompleted(0)]);
}

const failureOf = (step: StepResult) => step.newEvents.find((e) => e.type === 'ExecutionCompleted');
const scheduled = (events: readonly HistoryEvent[]) => events.flatMap((e) => (e.type === 'TaskScheduled' ? [e.name] : []));

describe('custom status limit of an execution', () => {
  it('is recorded on the first step of an execution, with the replay flags', () => {
    const events = firstStep(1000);
    expect(events[0]).toMatchObject({ type: 'OrchestratorStarted', customStatusLimitBytes: 1000 });
    expect(scheduled(events)).toEqual(['Normal']);
  });

  it('shares the first step\'s markers among the executions started in one millisecond under one limit', () => {
    const [a, b] = [firstStep(1000), firstStep(1000)];
    expect(b[0]).toBe(a[0]);
    expect(b.at(-1)).toBe(a.at(-1));
    expect(firstStep(100)[0]).toMatchObject({ customStatusLimitBytes: 100 });
  });

  it('keeps a status committed under a higher limit when the runtime that replays it has a lower one', () => {
    const history = firstStep(1000);
    const step = replayThenStep(history, 100);
    expect(failureOf(step)).toBeUndefined();
    expect(step.customStatus).toBe(STATUS);
    expect(scheduled(step.newEvents)).toEqual(['Last']);
  });

  it('replays the branch taken for a status too large when the runtime that replays it has a higher limit', () => {
    const history = firstStep(100);
    expect(scheduled(history)).toEqual(['Fallback']);
    const step = replayThenStep(history, 1000);
    expect(failureOf(step)).toBeUndefined();
    expect(step.customStatus).toBeUndefined();
    expect(scheduled(step.newEvents)).toEqual(['Last']);
  });

  it('checks the statuses set in later steps against the limit the execution started with', () => {
    const grows: Orchestrator = function* (ctx) {
      yield ctx.callActivity('A');
      ctx.setCustomStatus(STATUS);
      yield ctx.callActivity('B');
      ctx.setCustomStatus(STATUS.repeat(3));
      yield ctx.callActivity('C');
    };
    const started = new OrchestrationExecution(grows, { customStatusLimitBytes: 1000 });
    started.replay([]);
    const history = [...started.step(T0, [executionStarted('Grows')]).newEvents];
    // Another runtime, with a lower limit, takes the next steps: 502 bytes still fit, 1,502 do not.
    const execution = new OrchestrationExecution(grows, { customStatusLimitBytes: 100 });
    execution.replay(history);
    const second = execution.step(later, [taskCompleted(0)]);
    expect(second.customStatus).toBe(STATUS);
    expect(scheduled(second.newEvents)).toEqual(['B']);
    const third = execution.step(later, [taskCompleted(1)]);
    expect(failureOf(third)).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
  });

  it('replays a history recorded before the limit was recorded under the runtime\'s limit', () => {
    // Recorded with a limit of 100 by an engine that did not record it: the status was too large, `Fallback` was called.
    const history = new HistoryBuilder({ name: 'StatusOrFallback', legacy: true }).started().taskScheduled('Fallback').build();
    expect(history[0]).not.toHaveProperty('customStatusLimitBytes');
    const step = replayThenStep(history, 100);
    expect(failureOf(step)).toBeUndefined();
    expect(scheduled(step.newEvents)).toEqual(['Last']);
  });
});

describe('custom status limit across runtimes', () => {
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('lets an instance started under a higher limit finish on a runtime with a lower one, which new instances get', async () => {
    const store = new MemoryStore();
    const orchestrators = {
      Progress: function* (ctx: Parameters<Orchestrator>[0]) {
        ctx.setCustomStatus(STATUS);
        yield ctx.waitForExternalEvent('Go');
        return 'done';
      },
    };
    runtime = createRuntime({ store, logger: silentLogger, customStatusLimitBytes: 1000, orchestrators });
    await runtime.start();
    const id = await runtime.client.startNew('Progress');
    await within(firstValueFrom(runtime.client.customStatus$(id).pipe(filter((status) => status === STATUS))), 'the status of 502 bytes');
    await runtime.stop();

    runtime = createRuntime({ store, logger: silentLogger, customStatusLimitBytes: 100, orchestrators });
    await runtime.start();
    await runtime.client.raiseEvent(id, 'Go');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    const fresh = await runtime.client.startNew('Progress');
    expect(await runtime.client.waitForCompletion(fresh, SETTLED)).toMatchObject({
      runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' },
    });
  });
});
