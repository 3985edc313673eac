import { filter, firstValueFrom, takeWhile, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { InvalidArgumentError } from '../src/model/errors/invalid-argument-error.js';
import { NonDeterminismError } from '../src/model/errors/non-determinism-error.js';
import { TaskFailedError } from '../src/model/errors/task-failed-error.js';
import { UnknownEventTypeError } from '../src/model/errors/unknown-event-type-error.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { HistoryBuilder } from '../src/testing/history-builder.js';
import { replayHistory } from '../src/testing/replay-history.js';
import { helloSequence, sampleActivities, sampleOrchestrators, waitForEvents } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';

/** The hello sequence with another activity name in its second call: what a careless edit deploys. */
const renamedSecondCall: Orchestrator<string[]> = function* (ctx) {
  const outputs: string[] = [];
  outputs.push(yield ctx.callActivity('E1_SayHello', 'Tokyo'));
  ctx.setCustomStatus('Tokyo');
  outputs.push(yield ctx.callActivity('E1_SayGoodbye', 'Seattle'));
  return outputs;
};

/** A runtime on MemoryStore with the samples, started; stopped by the caller. */
async function startedRuntime(): Promise<ReturnType<typeof createRuntime>> {
  const runtime = createRuntime({
    store: new MemoryStore(), orchestrators: { ...sampleOrchestrators, WaitForEvents: waitForEvents }, activities: sampleActivities,
  });
  await runtime.start();
  return runtime;
}

describe('replayHistory on histories a runtime recorded', () => {
  it('a completed hello sequence (getStatus with showHistory and showHistoryOutput) replays to the same output and status', async () => {
    const runtime = await startedRuntime();
    try {
      const id = await runtime.client.startNew('E1_HelloSequence');
      const done = await runtime.client.waitForCompletion(id, SETTLED);
      expect(done.runtimeStatus).toBe('Completed');
      const recorded = await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true });
      const history = recorded!.history!;
      const copy = structuredClone(history);

      const result = replayHistory(helloSequence, history);
      expect(result).toEqual({
        runtimeStatus: 'Completed', output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'], customStatus: 'London', pending: [],
      });
      expect(history).toEqual(copy); // the caller's events are not changed

      // The changed code: the replay fails as a worker running it would fail the instance, naming both calls.
      expect(() => replayHistory(renamedSecondCall, history)).toThrow(NonDeterminismError);
      expect(() => replayHistory(renamedSecondCall, history)).toThrow(/"E1_SayHello".*"E1_SayGoodbye"/);
    } finally {
      await runtime.stop();
    }
  });

  it('the history history$ streams replays too; a running instance reports the event it waits for', async () => {
    const runtime = await startedRuntime();
    try {
      const id = await runtime.client.startNew('WaitForEvents', { input: 2 });
      await runtime.client.raiseEvent(id, 'Item', 'first');
      await firstValueFrom(runtime.client.customStatus$(id).pipe(filter((status) => JSON.stringify(status) === '{"received":1}')));
      const status = await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true });
      const running = replayHistory(waitForEvents, status!.history!);
      expect(running).toEqual({ runtimeStatus: 'Running', customStatus: { received: 1 }, pending: [{ kind: 'event', name: 'Item' }] });

      await runtime.client.raiseEvent(id, 'Item', 'second');
      const streamed = await firstValueFrom(runtime.client.history$(id).pipe(
        takeWhile((event: HistoryEvent) => event.type !== 'ExecutionCompleted', true), toArray(),
      ));
      expect(replayHistory(waitForEvents, streamed)).toMatchObject({ runtimeStatus: 'Completed', output: ['first', 'second'] });
    } finally {
      await runtime.stop();
    }
  });
});

describe('replayHistory on built histories', () => {
  const started = (): HistoryBuilder => new HistoryBuilder({ name: 'E1_HelloSequence' }).started();

  it('an activity scheduled and not answered is pending, recorded in history', () => {
    const result = replayHistory(helloSequence, started().taskScheduled('E1_SayHello', 'Tokyo').build());
    expect(result).toEqual({
      runtimeStatus: 'Running', customStatus: undefined,
      pending: [{ kind: 'activity', eventId: 0, name: 'E1_SayHello', input: 'Tokyo', inHistory: true }],
    });
  });

  it('the call the orchestrator makes after the last recorded result is pending, for its next step to schedule', () => {
    expect(replayHistory(helloSequence, started().build()).pending)
      .toEqual([{ kind: 'activity', eventId: 0, name: 'E1_SayHello', input: 'Tokyo', inHistory: false }]);
    const afterTokyo = started().taskScheduled('E1_SayHello', 'Tokyo').step(1000).taskCompleted(0, 'Hello Tokyo!').build();
    expect(replayHistory(helloSequence, afterTokyo)).toEqual({
      runtimeStatus: 'Running', customStatus: 'Tokyo',
      pending: [{ kind: 'activity', eventId: 1, name: 'E1_SayHello', input: 'Seattle', inHistory: false }],
    });
  });

  it('a failed activity reaches the orchestrator as TaskFailedError, with its name and the recorded failure', () => {
    const tolerant: Orchestrator = function* (ctx) {
      try {
        return yield ctx.callActivity('Charge', 42);
      } catch (error) {
        if (!(error instanceof TaskFailedError)) throw error;
        return { failed: error.task.name, because: error.failureDetails.errorMessage };
      }
    };
    const history = new HistoryBuilder({ name: 'Pay' }).started()
      .taskScheduled('Charge', 42).step(10)
      .taskFailed(0, { errorType: 'Error', errorMessage: 'card declined' })
      .build();
    expect(replayHistory(tolerant, history)).toMatchObject({ runtimeStatus: 'Completed', output: { failed: 'Charge', because: 'card declined' } });

    const strict: Orchestrator = function* (ctx) {
      return yield ctx.callActivity('Charge', 42);
    };
    const failed = replayHistory(strict, history);
    expect(failed.runtimeStatus).toBe('Failed');
    expect(failed).toMatchObject({ failureDetails: { errorType: 'TaskFailedError', errorMessage: expect.stringContaining('card declined') } });
  });

  it('reports timers, sub-orchestrations and events waited for, and leaves out a cancelled timer', () => {
    const fireAt = new Date('2026-01-02T00:00:00.000Z');
    const orchestrator: Orchestrator = function* (ctx) {
      const cancelled = ctx.createTimer(new Date('2026-01-03T00:00:00.000Z'));
      cancelled.cancel();
      const child = ctx.callSubOrchestrator('Child', { n: 1 }, 'child-1');
      const deadline = ctx.createTimer(fireAt);
      yield ctx.Task.any([child, deadline, ctx.waitForExternalEvent('Approve')]);
    };
    const history = new HistoryBuilder({ name: 'Parent' }).started()
      .timerCreated(new Date('2026-01-03T00:00:00.000Z'))
      .subOrchestrationCreated('Child', 'child-1', { n: 1 })
      .build();
    expect(replayHistory(orchestrator, history).pending).toEqual([
      { kind: 'subOrchestration', eventId: 1, name: 'Child', instanceId: 'child-1', input: { n: 1 }, inHistory: true },
      { kind: 'timer', eventId: 2, fireAt, inHistory: false },
      { kind: 'event', name: 'Approve' },
    ]);
  });

  it('reports continueAsNew with the next input, a termination and a suspension', () => {
    const counter: Orchestrator = function* (ctx) {
      const n = ctx.getInput<number>();
      yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1000));
      ctx.continueAsNew(n + 1);
    };
    const at = new Date('2026-01-01T00:00:01.000Z');
    const fired = new HistoryBuilder({ name: 'Counter' }).started(1).timerCreated(at).step(1000).timerFired(0, at).build();
    expect(replayHistory(counter, fired)).toEqual({ runtimeStatus: 'ContinuedAsNew', input: 2, customStatus: undefined, pending: [] });

    const waiting = new HistoryBuilder({ name: 'Counter' }).started(1).timerCreated(at).step(10);
    const terminated = waiting.event({ type: 'ExecutionTerminated', eventId: -1, timestamp: waiting.now.toISOString(), reason: 'stop' }).build();
    expect(replayHistory(counter, terminated)).toEqual({ runtimeStatus: 'Terminated', customStatus: undefined, pending: [] });

    const paused = new HistoryBuilder({ name: 'Counter' }).started(1).timerCreated(at).step(10);
    const suspended = paused.event({ type: 'ExecutionSuspended', eventId: -1, timestamp: paused.now.toISOString() }).build();
    expect(replayHistory(counter, suspended)).toMatchObject({ runtimeStatus: 'Suspended', pending: [{ kind: 'timer', eventId: 0, fireAt: at }] });
  });

  it('a recorded ending is reproduced by code that ends the same way there: its output, failure or next input may differ', () => {
    const history = started().taskScheduled('E1_SayHello', 'Tokyo').step(10).taskCompleted(0, 'Hello Tokyo!')
      .event({ type: 'ExecutionCompleted', eventId: -1, timestamp: '2026-01-01T00:00:00.010Z', orchestrationStatus: 'Completed', result: 'recorded' })
      .build();
    const changed: Orchestrator = function* (ctx) {
      return `now: ${String(yield ctx.callActivity('E1_SayHello', 'Tokyo'))}`;
    };
    expect(replayHistory(changed, history)).toMatchObject({ runtimeStatus: 'Completed', output: 'now: Hello Tokyo!' });

    // The deploy check: code that goes on where the history ended, or ends otherwise, did not record this history.
    const goesOn: Orchestrator = function* (ctx) {
      yield ctx.callActivity('E1_SayHello', 'Tokyo');
      return yield ctx.callActivity('E1_SayHello', 'Seattle');
    };
    expect(() => replayHistory(goesOn, history)).toThrow(NonDeterminismError);
    expect(() => replayHistory(goesOn, history)).toThrow('History ends Completed, where the replayed code calls callActivity("E1_SayHello"), which the history does not record');
    const fails: Orchestrator = function* (ctx) {
      yield ctx.callActivity('E1_SayHello', 'Tokyo');
      throw new Error('changed');
    };
    expect(() => replayHistory(fails, history)).toThrow('History ends Completed, where the replayed code ends Failed');
    const waits: Orchestrator = function* (ctx) {
      yield ctx.callActivity('E1_SayHello', 'Tokyo');
      return yield ctx.waitForExternalEvent('More');
    };
    expect(() => replayHistory(waits, history)).toThrow('History ends Completed, where the replayed code does not end there');
  });

  it('checks a recorded continueAsNew, not a recorded failure (the runtime records some itself), and ignores what was recorded after the ending', () => {
    const at = new Date('2026-01-01T00:00:01.000Z');
    const loop = new HistoryBuilder({ name: 'Loop' }).started(1).timerCreated(at).step(1000).timerFired(0, at);
    const continued = loop.event({ type: 'ContinueAsNew', eventId: -1, timestamp: loop.now.toISOString(), input: 2, preserveUnprocessedEvents: false })
      .step(5).eventRaised('Late').build();
    const loops: Orchestrator = function* (ctx) {
      yield ctx.createTimer(at);
      ctx.continueAsNew(ctx.getInput<number>() + 1);
    };
    expect(replayHistory(loops, continued)).toEqual({ runtimeStatus: 'ContinuedAsNew', input: 2, customStatus: undefined, pending: [] });
    const returns: Orchestrator = function* (ctx) {
      yield ctx.createTimer(at);
      return 'done';
    };
    expect(() => replayHistory(returns, continued)).toThrow('History ends ContinuedAsNew, where the replayed code ends Completed');

    const charge = new HistoryBuilder({ name: 'Pay' }).started().taskScheduled('Charge').step(10)
      .taskFailed(0, { errorType: 'Error', errorMessage: 'card declined' });
    const failed = charge.event({
      type: 'ExecutionCompleted', eventId: -1, timestamp: charge.now.toISOString(), orchestrationStatus: 'Failed',
      failureDetails: { errorType: 'TaskFailedError', errorMessage: 'card declined' },
    }).build();
    const strict: Orchestrator = function* (ctx) {
      return yield ctx.callActivity('Charge');
    };
    expect(replayHistory(strict, failed)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'TaskFailedError' } });
    const retries: Orchestrator = function* (ctx) {
      try {
        return yield ctx.callActivity('Charge');
      } catch {
        return yield ctx.callActivity('Charge');
      }
    };
    // A Failed ending is not checked (the runtime records some failures itself): code that now handles the failure
    // shows the call it makes next.
    expect(replayHistory(retries, failed)).toMatchObject({
      runtimeStatus: 'Running', pending: [{ kind: 'activity', eventId: 1, name: 'Charge', inHistory: false }],
    });
    // A failure the runtime recorded (here a step the store refused for good) is not the code's: unchanged code that
    // completes does not throw.
    const bigStarted = new HistoryBuilder({ name: 'Big' }).started();
    const refused = bigStarted.event({
      type: 'ExecutionCompleted', eventId: -1, timestamp: bigStarted.now.toISOString(), orchestrationStatus: 'Failed',
      failureDetails: { errorType: 'PayloadTooLargeError', errorMessage: 'the step was refused' },
    }).build();
    const big: Orchestrator = function* () {
      return 'x'.repeat(100);
    };
    expect(replayHistory(big, refused)).toMatchObject({ runtimeStatus: 'Completed', output: 'x'.repeat(100) });
    // A recorded call that the code no longer makes still diverges.
    expect(() => replayHistory(big, failed)).toThrow(NonDeterminismError);
  });

  it('refuses what cannot be replayed: no orchestrator, no start, an unknown event type', () => {
    const history = started().build();
    expect(() => replayHistory(undefined as unknown as Orchestrator, history)).toThrow(InvalidArgumentError);
    expect(() => replayHistory(helloSequence, history.filter((event) => event.type !== 'ExecutionStarted'))).toThrow(InvalidArgumentError);
    expect(() => replayHistory(helloSequence, history, { customStatusLimitBytes: 0 })).toThrow(InvalidArgumentError);
    const newer = [...history, { type: 'SomethingNewer', eventId: -1, timestamp: history[0]!.timestamp } as unknown as HistoryEvent];
    expect(() => replayHistory(helloSequence, newer)).toThrow(UnknownEventTypeError);
    const withNull = [...history, null] as unknown as HistoryEvent[];
    expect(() => replayHistory(helloSequence, withNull)).toThrow(InvalidArgumentError);
    expect(() => replayHistory(helloSequence, withNull)).toThrow('history[' + history.length + '] is no object');
  });

  it('says that the HTTP API\'s default history (the Durable Functions shape) is not the one it replays, and where the native one is', () => {
    // As GET /instances/{id}?showHistory=true answers without format=native.
    const shaped = [
      { EventType: 'ExecutionStarted', FunctionName: 'E1_HelloSequence', Timestamp: '2026-01-01T00:00:00Z' },
      { EventType: 'TaskScheduled', Name: 'E1_SayHello', Timestamp: '2026-01-01T00:00:00Z' },
    ] as unknown as HistoryEvent[];
    expect(() => replayHistory(helloSequence, shaped)).toThrow(InvalidArgumentError);
    expect(() => replayHistory(helloSequence, shaped)).toThrow(/Durable Functions shape \(EventType\).*getStatus.*format=native/);
  });

  it('checks the custom status against the limit the history records, or the one given for a history that records none', () => {
    const history = (options: { customStatusLimitBytes?: number; legacy?: boolean }): HistoryEvent[] =>
      new HistoryBuilder({ name: 'E1_HelloSequence', ...options }).started()
        .taskScheduled('E1_SayHello', 'Tokyo').step(10).taskCompleted(0, 'Hello Tokyo!').build();
    const tooLarge = { runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } };
    expect(replayHistory(helloSequence, history({ customStatusLimitBytes: 4 }))).toMatchObject(tooLarge);
    // Recorded with the default limit: a replaying runtime's own limit does not change how it ran.
    expect(replayHistory(helloSequence, history({}), { customStatusLimitBytes: 4 })).toMatchObject({ runtimeStatus: 'Running' });
    expect(replayHistory(helloSequence, history({ legacy: true }), { customStatusLimitBytes: 4 })).toMatchObject(tooLarge);
  });

  it('a built history replays under the rules of an execution started now, as a live instance runs; legacy: under the oldest', async () => {
    // Races an `Approval` event against a timer: the event raised as `approval` matches it only under EventNamesIgnoreCase.
    const race: Orchestrator = function* (ctx) {
      const approval = ctx.waitForExternalEvent('Approval');
      const winner: unknown = yield ctx.Task.any([approval, ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 3_600_000))]);
      return winner === approval ? approval.result : 'timed out';
    };
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { Race: race } });
    await runtime.start();
    let live: readonly HistoryEvent[];
    try {
      const id = await runtime.client.startNew('Race');
      await runtime.client.raiseEvent(id, 'approval', 'yes');
      expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'yes' });
      live = (await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true }))!.history!;
    } finally {
      await runtime.stop();
    }

    const build = (legacy: boolean): HistoryEvent[] => {
      const builder = new HistoryBuilder({ name: 'Race', legacy }).started();
      return builder.timerCreated(new Date(builder.now.getTime() + 3_600_000)).step(1000).eventRaised('approval', 'yes').build();
    };
    const built = build(false);
    // The first step records what the live one recorded: the replay flags and the runtime's custom status limit.
    expect({ ...built[0], timestamp: '' }).toEqual({ ...live[0], timestamp: '' });
    expect(replayHistory(race, built)).toMatchObject({ runtimeStatus: 'Completed', output: 'yes' });
    // The oldest rules match names exactly: `approval` stays buffered, the race still waits.
    expect(replayHistory(race, build(true))).toMatchObject({
      runtimeStatus: 'Running', pending: [{ kind: 'timer', eventId: 0, inHistory: true }, { kind: 'event', name: 'Approval' }],
    });
  });
});
