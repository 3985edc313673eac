import { describe, expect, it } from 'vitest';
import { createRuntime, MemoryStore, PayloadTooLargeError, type Orchestrator } from '../src/index.js';
import type { WriteSet } from '../src/model/write-set.js';
import { RecordingLogger } from './failing-store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';
import { untilEnded } from './until-ended.js';

const { runtimes, start } = startedRuntimes({ graceMs: 0 });

/** Most characters of JSON one commit may write on a {@link LimitedStore}. */
const LIMIT = 20_000;

/**
 * A store that refuses, for good, a commit that writes more than it can store (as MongoStore refuses a document over
 * its payload limit with a 413 before writing anything).
 */
class LimitedStore extends MemoryStore {
  refusals = 0;
  override commit(writeSet: WriteSet) {
    if (JSON.stringify(writeSet).length > LIMIT) {
      this.refusals++;
      return Promise.reject(new PayloadTooLargeError('the write exceeds what this store stores'));
    }
    return super.commit(writeSet);
  }
}

const big = (): string => 'x'.repeat(LIMIT);

/** A runtime on a LimitedStore and a virtual clock. */
async function onLimitedStore(orchestrators: Record<string, Orchestrator>, activities: Record<string, (input: never) => unknown> = {}) {
  const clock = new VirtualClock();
  const logger = new RecordingLogger();
  const store = new LimitedStore();
  const runtime = await start({ store, clock, logger, orchestrators, activities });
  const ended = (id: string, max?: number) => untilEnded(runtime, clock, id, max);
  return { clock, logger, store, runtime, ended };
}

describe('a step the store refuses for good (a 413 or a 400)', () => {
  it('fails the instance with the store\'s reason instead of retrying the step at every lease expiry', async () => {
    const { runtime, store, ended } = await onLimitedStore({ Big: function* () { return big(); } });
    const id = await runtime.client.startNew('Big');
    const status = await ended(id);
    expect(status).toMatchObject({
      runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError', errorMessage: 'the write exceeds what this store stores' },
    });
    expect(status!.history!.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'ExecutionCompleted', 'OrchestratorCompleted']);
    expect(store.refusals).toBe(1);
  });

  it('fails it so when the step schedules an activity with an input too large, and runs no activity', async () => {
    let runs = 0;
    const { runtime, ended } = await onLimitedStore(
      { Calls: function* (ctx) { yield ctx.callActivity('Small'); return yield ctx.callActivity('Work', big()); } },
      { Small: () => 'ok', Work: () => runs++ },
    );
    const id = await runtime.client.startNew('Calls');
    const status = await ended(id);
    expect(status).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    expect(status!.history!.filter((e) => e.type === 'TaskCompleted')).toHaveLength(1);
    expect(runs).toBe(0);
  });

  it('answers the parent of a sub-orchestration so refused, which sees it fail', async () => {
    const { runtime, ended } = await onLimitedStore({
      Child: function* (ctx) { yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1000)); return big(); },
      Parent: function* (ctx) {
        try {
          return yield ctx.callSubOrchestrator('Child', undefined, 'child-1');
        } catch (error) {
          return `caught: ${(error as Error).message}`;
        }
      },
    });
    const id = await runtime.client.startNew('Parent');
    const status = await ended(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed' });
    expect(status!.output).toMatch(/^caught: .*the write exceeds what this store stores/);
    expect(await runtime.client.getStatus('child-1')).toMatchObject({ runtimeStatus: 'Failed' });
  });

  it('fails a rewound instance whose step the store refuses again, and completes it once a rewind succeeds', async () => {
    let output = big();
    const { runtime, ended, store } = await onLimitedStore({
      Once: function* (ctx) { yield ctx.callActivity('Step'); return output; },
    }, { Step: () => 'done' });
    const id = await runtime.client.startNew('Once');
    expect(await ended(id)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    // Rewound, the replay ends with the same output: the store refuses that step too, and the instance fails again.
    const refusals = store.refusals;
    await runtime.client.rewind(id);
    const again = await ended(id);
    expect(again).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    expect(store.refusals).toBe(refusals + 1);
    // The history of the failed rewind is the one a rewind replays: the activity's result is kept, no step is left.
    output = 'small';
    await runtime.client.rewind(id);
    const completed = await ended(id);
    expect(completed).toMatchObject({ runtimeStatus: 'Completed', output: 'small' });
    expect(completed!.history!.filter((e) => e.type === 'TaskCompleted')).toHaveLength(1);
  });
});

describe('a step whose failure record the store refuses for good too', () => {
  it('fails the instance without the events that were refused, instead of retrying the step at every lease expiry', async () => {
    const clock = new VirtualClock();
    const logger = new RecordingLogger();
    const store = new LimitedStore();
    const runtime = createRuntime({
      store, clock, logger,
      orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('E'); } },
    });
    runtimes.push(runtime);
    const id = await runtime.client.startNew('Waits');
    // Two events that fit the store one at a time, not together: the step's history and its failure record both hold both.
    const half = 'x'.repeat(LIMIT * 0.6);
    await runtime.client.raiseEvent(id, 'E', half);
    await runtime.client.raiseEvent(id, 'E', half);
    await runtime.start();
    for (let s = 0; s < 120; s++) {
      const status = await runtime.client.getStatus(id);
      if (status && status.runtimeStatus !== 'Pending' && status.runtimeStatus !== 'Running') break;
      await clock.advance(1000);
    }
    const status = await runtime.client.getStatus(id, { showHistory: true });
    expect(status).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    expect(status!.failureDetails!.errorMessage).toMatch(/failure record were refused/);
    expect(status!.history!.filter((e) => e.type === 'EventRaised')).toEqual([]);
    expect(store.refusals).toBe(2);
  });
});
