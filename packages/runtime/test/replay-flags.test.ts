import { afterEach, describe, expect, it } from 'vitest';
import { CURRENT_REPLAY_FLAGS, ReplayFlag } from '../src/engine/flags.js';
import { OrchestrationExecution } from '../src/engine/orchestration-execution.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import type { RetryOptions } from '../src/engine/retry-options.js';
import { silentLogger } from '../src/env/logger.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { HistoryBuilder, eventRaised, executionStarted, taskFailed } from '../src/testing/history-builder.js';
import { SETTLED } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { uuidV5 } from '../src/engine/deterministic-guid.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const limit = { customStatusLimitBytes: 16 * 1024 };

/** Calls two children without ids, one after the other. */
const twoChildren: Orchestrator = function* (ctx) {
  const first = yield ctx.callSubOrchestrator('Child', 1);
  const second = yield ctx.callSubOrchestrator('Child', 2);
  return [first, second];
};

describe('replay flags', () => {
  it('records the flags in force on the first step of an execution, and only there', () => {
    const execution = new OrchestrationExecution(twoChildren, limit);
    execution.replay([]);
    const first = execution.step(T0, [executionStarted('Parent', undefined, 'p')]);
    expect(first.newEvents[0]).toMatchObject({ type: 'OrchestratorStarted', replayFlags: [...CURRENT_REPLAY_FLAGS] });
    const second = execution.step(new Date(T0.getTime() + 1000), [
      { type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'a' },
    ]);
    expect(second.newEvents[0]).toEqual({ type: 'OrchestratorStarted', eventId: -1, timestamp: new Date(T0.getTime() + 1000).toISOString() });
  });

  it('gives each flag its own id, never reused', () => {
    const ids = Object.values(ReplayFlag);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(Number.isInteger(id) && id > 0).toBe(true);
  });

  it('runs a new execution with every flag there is', () => {
    expect([...CURRENT_REPLAY_FLAGS].sort((a, b) => a - b)).toEqual(Object.values(ReplayFlag).sort((a, b) => a - b));
    expect(Object.isFrozen(CURRENT_REPLAY_FLAGS)).toBe(true);
  });

  it('replays a history recorded before SubOrchestrationIdPerExecution with the old child ids', () => {
    // Recorded by an engine without replay flags: the first child got the id `<instanceId>:<eventId>`.
    const history = new HistoryBuilder({ name: 'Parent', instanceId: 'p', legacy: true })
      .started()
      .subOrchestrationCreated('Child', 'p:0', 1)
      .step(1000)
      .build();
    const execution = new OrchestrationExecution(twoChildren, limit);
    execution.replay(history);
    expect(execution.flags.includes(ReplayFlag.SubOrchestrationIdPerExecution)).toBe(false);

    const step = execution.step(new Date(T0.getTime() + 2000), [
      { type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'a' },
    ]);
    // No NonDeterminismError, and the next child of this execution keeps the old format too.
    expect(step.newEvents.some((e) => e.type === 'ExecutionCompleted')).toBe(false);
    expect(step.actions).toEqual([{ type: 'CreateSubOrchestration', eventId: 1, name: 'Child', instanceId: 'p:1', input: 2 }]);
  });

  it('replays a history recorded with the flag with per-execution child ids', () => {
    const execution = new OrchestrationExecution(twoChildren, limit);
    execution.replay([]);
    const first = execution.step(T0, [executionStarted('Parent', undefined, 'p')]);
    expect(first.actions).toMatchObject([{ type: 'CreateSubOrchestration', instanceId: 'p:execution-1:0' }]);

    // A cache miss: a new execution replays what the first step committed.
    const replayed = new OrchestrationExecution(twoChildren, limit);
    replayed.replay(first.newEvents as HistoryEvent[]);
    expect(replayed.flags.includes(ReplayFlag.SubOrchestrationIdPerExecution)).toBe(true);
    const step = replayed.step(new Date(T0.getTime() + 1000), [
      { type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'a' },
    ]);
    expect(step.actions).toEqual([{ type: 'CreateSubOrchestration', eventId: 1, name: 'Child', instanceId: 'p:execution-1:1', input: 2 }]);
  });
});

describe('default sub-orchestration ids (SubOrchestrationIdPerExecution)', () => {
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('lets the execution after continueAsNew call a child while the previous execution\'s child still runs', async () => {
    runtime = createRuntime({
      logger: silentLogger,
      orchestrators: {
        Eternal: function* (ctx) {
          const generation = ctx.getInput<number>();
          if (generation === 0) {
            ctx.callSubOrchestrator('Waiter'); // fire and forget: still running when the next execution starts
            ctx.continueAsNew(1);
            return undefined;
          }
          return yield ctx.callSubOrchestrator('Quick');
        },
        Waiter: function* (ctx) {
          return yield ctx.waitForExternalEvent('never');
        },
        Quick: function* () {
          return 'done';
        },
      },
    });
    await runtime.start();
    const id = await runtime.client.startNew('Eternal', { instanceId: 'eternal', input: 0 });
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    const { instances } = await runtime.client.listInstances({ instanceIdPrefix: 'eternal:' });
    expect(instances.map((i) => [i.name, i.runtimeStatus]).sort()).toEqual([['Quick', 'Completed'], ['Waiter', 'Running']]);
  });
});

describe('newGuid per execution (GuidPerExecution)', () => {
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  /** Takes a guid, then continues as new with every guid taken so far until it holds `count`. */
  const collector: Orchestrator = function* (ctx) {
    const taken = [...ctx.getInput<string[]>(), ctx.newGuid()];
    if (taken.length === 3) return taken;
    ctx.continueAsNew(taken);
    return undefined;
  };

  it('gives each execution of a continueAsNew loop its own guids, even when they start in the same millisecond', async () => {
    // A clock that stands still starts every execution at the same time, as executions a fast loop runs within one
    // millisecond are: the guids must still differ (an eternal orchestration that names each pass's job with one).
    const clock = new VirtualClock();
    runtime = createRuntime({ logger: silentLogger, clock, orchestrators: { Collector: collector } });
    await runtime.start();
    const id = await runtime.client.startNew('Collector', { instanceId: 'collector', input: [] });
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done.runtimeStatus).toBe('Completed');
    const guids = done.output as string[];
    expect(new Set(guids).size).toBe(3);
  });

  /** Takes a guid in its first step and returns it once its activity completed. */
  const guidThenActivity: Orchestrator = function* (ctx) {
    const guid = ctx.newGuid();
    yield ctx.callActivity('Work');
    return guid;
  };
  const completed = { type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0 } as const;

  it('replays a history recorded before GuidPerExecution with the guids it gave then', () => {
    // Recorded by an engine without replay flags: the guid came from the instance id, the step time and the counter.
    const history = new HistoryBuilder({ name: 'Guid', instanceId: 'g', legacy: true }).started().taskScheduled('Work').build();
    const execution = new OrchestrationExecution(guidThenActivity, limit);
    execution.replay(history);
    expect(execution.flags.includes(ReplayFlag.GuidPerExecution)).toBe(false);
    const step = execution.step(new Date(T0.getTime() + 1000), [completed]);
    expect(step.newEvents).toContainEqual(expect.objectContaining({ type: 'ExecutionCompleted', result: uuidV5(`g_${T0.toISOString()}_0`) }));
  });

  it('gives a new execution guids of its execution id, the same on every replay', () => {
    const execution = new OrchestrationExecution(guidThenActivity, limit);
    execution.replay([]);
    const first = execution.step(T0, [executionStarted('Guid', undefined, 'g', T0)]);
    const replayed = new OrchestrationExecution(guidThenActivity, limit);
    replayed.replay(first.newEvents as HistoryEvent[]);
    expect(replayed.flags.includes(ReplayFlag.GuidPerExecution)).toBe(true);
    const step = replayed.step(new Date(T0.getTime() + 1000), [completed]);
    expect(step.newEvents).toContainEqual(expect.objectContaining({
      type: 'ExecutionCompleted', result: uuidV5(`g_execution-1_${T0.toISOString()}_0`),
    }));
  });
});

describe('default sub-orchestration ids of a long parent id (SubOrchestrationIdFits)', () => {
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const callsAChild: Orchestrator = function* (ctx) {
    return yield ctx.callSubOrchestrator('Child', 'hi');
  };
  /** A valid instance id of 250 characters: with `:<executionId>:<n>` after it, more than the 256 an id may have. */
  const LONG_ID = 'p'.repeat(250);

  it('calls a child without an id from a parent whose id leaves no room for the execution in the child\'s', async () => {
    runtime = createRuntime({
      logger: silentLogger,
      orchestrators: { Parent: callsAChild, Child: function* (ctx) { return ctx.getInput<string>(); } },
    });
    await runtime.start();
    const id = await runtime.client.startNew('Parent', { instanceId: LONG_ID });
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'hi' });
    const { instances } = await runtime.client.listInstances({});
    const child = instances.find((i) => i.name === 'Child');
    expect(child).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: LONG_ID });
  });

  it('replays a history recorded before SubOrchestrationIdFits as it ran then: the call throws', () => {
    const waitsThenCalls: Orchestrator = function* (ctx) {
      yield ctx.waitForExternalEvent('go');
      try {
        return yield ctx.callSubOrchestrator('Child');
      } catch {
        return 'refused';
      }
    };
    const recorded = new HistoryBuilder({ name: 'Parent', instanceId: LONG_ID }).started().build();
    // Its first step ran under every flag before this one.
    const flagsBefore = Object.values(ReplayFlag).filter((flag) => flag < ReplayFlag.SubOrchestrationIdFits);
    const history = [{ ...recorded[0]!, replayFlags: flagsBefore } as HistoryEvent, ...recorded.slice(1)];
    const execution = new OrchestrationExecution(waitsThenCalls, limit);
    execution.replay(history);
    expect(execution.flags.includes(ReplayFlag.SubOrchestrationIdFits)).toBe(false);
    const step = execution.step(new Date(T0.getTime() + 1000), [{ type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go' }]);
    expect(step.actions).toEqual([]);
    expect(step.newEvents).toContainEqual(expect.objectContaining({ type: 'ExecutionCompleted', result: 'refused' }));
  });

  it('gives such a child the same id on every replay, and one of its own per execution', () => {
    const childIdOf = (executionId: string) => {
      const execution = new OrchestrationExecution(callsAChild, limit);
      execution.replay([]);
      const started = { ...executionStarted('Parent', undefined, LONG_ID, T0), executionId } as HistoryEvent;
      const first = execution.step(T0, [started]);
      const action = first.actions[0] as { instanceId: string };
      const replayed = new OrchestrationExecution(callsAChild, limit);
      replayed.replay(first.newEvents as HistoryEvent[]);
      expect(replayed.flags.includes(ReplayFlag.SubOrchestrationIdFits)).toBe(true);
      return action.instanceId;
    };
    const id = childIdOf('execution-1');
    expect(id.length).toBeLessThanOrEqual(256);
    expect(childIdOf('execution-1')).toBe(id);
    expect(childIdOf('execution-2')).not.toBe(id);
  });
});

describe('retry decisions (RetriesAsDurableFunctions)', () => {
  const DAY = 86_400_000;
  const at = (ms: number) => new Date(T0.getTime() + ms);
  /** Waits for `go`, then calls `Flaky` with retries (so that the call comes in a step after the recorded start). */
  const retries = (options: RetryOptions): Orchestrator => function* (ctx) {
    yield ctx.waitForExternalEvent('go');
    return yield ctx.callActivityWithRetry('Flaky', options);
  };
  /** An execution whose first step ran under every flag before RetriesAsDurableFunctions, at `go` now. */
  const recordedBefore = (options: RetryOptions) => {
    const recorded = new HistoryBuilder({ name: 'Retries', instanceId: 'r' }).started().build();
    const flagsBefore = Object.values(ReplayFlag).filter((flag) => flag < ReplayFlag.RetriesAsDurableFunctions);
    const execution = new OrchestrationExecution(retries(options), limit);
    execution.replay([{ ...recorded[0]!, replayFlags: flagsBefore } as HistoryEvent, ...recorded.slice(1)]);
    expect(execution.flags.includes(ReplayFlag.RetriesAsDurableFunctions)).toBe(false);
    expect(execution.step(at(0), [eventRaised('go', undefined, T0)]).actions).toMatchObject([{ type: 'ScheduleTask', eventId: 0 }]);
    return execution;
  };
  /** The same for an execution that starts now, under every current flag. */
  const startedNow = (options: RetryOptions) => {
    const execution = new OrchestrationExecution(retries(options), limit);
    execution.replay([]);
    execution.step(T0, [executionStarted('Retries', undefined, 'r', T0)]);
    expect(execution.flags.includes(ReplayFlag.RetriesAsDurableFunctions)).toBe(true);
    expect(execution.step(at(0), [eventRaised('go', undefined, T0)]).actions).toMatchObject([{ type: 'ScheduleTask', eventId: 0 }]);
    return execution;
  };

  it('keeps the old timeout rule for a history recorded before: no retry that would start after the timeout', () => {
    const options = { firstRetryIntervalInMilliseconds: 60_000, maxNumberOfAttempts: 3, retryTimeoutInMilliseconds: 10_000 };
    const before = recordedBefore(options).step(at(0), [taskFailed(0, 'e1', T0)]);
    expect(before.actions).toEqual([]);
    expect(before.newEvents).toContainEqual(expect.objectContaining({ type: 'ExecutionCompleted', orchestrationStatus: 'Failed' }));
    // Durable Functions' rule: the failure came before the deadline, so the call is retried after the full interval.
    expect(startedNow(options).step(at(0), [taskFailed(0, 'e1', T0)]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(60_000).toISOString() }]);
  });

  it('refuses an infinite first interval or cap at the call, and keeps accepting them for a history recorded before', () => {
    const refused = (options: RetryOptions) => {
      const execution = new OrchestrationExecution(retries(options), limit);
      execution.replay([]);
      execution.step(T0, [executionStarted('Retries', undefined, 'r', T0)]);
      const step = execution.step(at(0), [eventRaised('go', undefined, T0)]);
      expect(step.actions).toEqual([]);
      return step.newEvents.find((e) => e.type === 'ExecutionCompleted');
    };
    const firstInfinite = { firstRetryIntervalInMilliseconds: Infinity, maxNumberOfAttempts: 3 };
    const capInfinite = { firstRetryIntervalInMilliseconds: DAY, maxNumberOfAttempts: 3, maxRetryIntervalInMilliseconds: Infinity };
    for (const [options, name] of [[firstInfinite, 'firstRetryIntervalInMilliseconds'], [capInfinite, 'maxRetryIntervalInMilliseconds']] as const) {
      const failed = refused(options);
      expect(failed, name).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorType: 'InvalidArgumentError' } });
      expect(failed?.failureDetails?.errorMessage, name).toContain(name);
    }
    // Recorded before: an infinite first interval never retried, an infinite cap capped nothing.
    const before = recordedBefore(firstInfinite).step(at(0), [taskFailed(0, 'e1', T0)]);
    expect(before.actions).toEqual([]);
    expect(before.newEvents).toContainEqual(expect.objectContaining({ type: 'ExecutionCompleted', orchestrationStatus: 'Failed' }));
    expect(recordedBefore({ ...capInfinite, backoffCoefficient: 10 }).step(at(0), [taskFailed(0, 'e1', T0)]).actions)
      .toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(DAY).toISOString() }]);
    // A timeout of Infinity is none, under either rule.
    expect(startedNow({ firstRetryIntervalInMilliseconds: DAY, maxNumberOfAttempts: 3, retryTimeoutInMilliseconds: Infinity })
      .step(at(0), [taskFailed(0, 'e1', T0)]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(DAY).toISOString() }]);
  });

  it('keeps uncapped delays for a history recorded before', () => {
    const options = { firstRetryIntervalInMilliseconds: 7 * DAY, maxNumberOfAttempts: 3 };
    expect(recordedBefore(options).step(at(0), [taskFailed(0, 'e1', T0)]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(7 * DAY).toISOString() }]);
    expect(startedNow(options).step(at(0), [taskFailed(0, 'e1', T0)]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(6 * DAY).toISOString() }]);
  });
});

describe('retry arguments taken at the call (RetryArgumentsAtCall)', () => {
  const at = (ms: number) => new Date(T0.getTime() + ms);
  /** Calls `Process` with retries for a, b and c through one payload object, changing the options object after. */
  const loop: Orchestrator = function* (ctx) {
    const payload = { id: '' };
    const options = { firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 2 };
    const calls = [];
    for (const id of ['a', 'b', 'c']) {
      payload.id = id;
      calls.push(ctx.callActivityWithRetry('Process', options, payload));
    }
    options.firstRetryIntervalInMilliseconds = 20;
    return yield ctx.Task.all(calls);
  };
  /** The actions after `a` fails and its retry timer fires, for an execution that ran its first step under `flags`. */
  const retryOfA = (flags: readonly number[]) => {
    const execution = new OrchestrationExecution(loop, limit);
    const started = new OrchestrationExecution(loop, limit);
    started.replay([]);
    const recorded = started.step(T0, [executionStarted('Loop', undefined, 'l', T0)]).newEvents;
    execution.replay([{ ...recorded[0]!, replayFlags: flags } as HistoryEvent, ...recorded.slice(1)]);
    const timer = execution.step(at(0), [taskFailed(0, 'transient', T0)]).actions;
    return { timer, retry: execution.step(at(20), [{ type: 'TimerFired', eventId: -1, timestamp: at(20).toISOString(), timerId: 3, fireAt: at(20).toISOString() }]).actions };
  };

  it('keeps reading the input and options objects at each attempt for a history recorded before', () => {
    const before = retryOfA(Object.values(ReplayFlag).filter((flag) => flag < ReplayFlag.RetryArgumentsAtCall));
    expect(before.timer).toEqual([{ type: 'CreateTimer', eventId: 3, fireAt: at(20).toISOString() }]);
    expect(before.retry).toEqual([{ type: 'ScheduleTask', eventId: 4, name: 'Process', input: { id: 'c' }, attempt: 2 }]);
  });

  it('retries an execution that starts now with the input and options as they were at the call', () => {
    const now = retryOfA(CURRENT_REPLAY_FLAGS);
    expect(now.timer).toEqual([{ type: 'CreateTimer', eventId: 3, fireAt: at(10).toISOString() }]);
    expect(now.retry).toEqual([{ type: 'ScheduleTask', eventId: 4, name: 'Process', input: { id: 'a' }, attempt: 2 }]);
  });

  it('keeps accepting numbers given as strings and a handle that is no function for a history recorded before', () => {
    const options = { firstRetryIntervalInMilliseconds: '10', maxNumberOfAttempts: 2, handle: 5 } as unknown as RetryOptions;
    const orch: Orchestrator = function* (ctx) {
      yield ctx.waitForExternalEvent('go');
      return yield ctx.callActivityWithRetry('A', options);
    };
    const recorded = new HistoryBuilder({ name: 'O', instanceId: 'o' }).started().build();
    const execution = new OrchestrationExecution(orch, limit);
    const flagsBefore = Object.values(ReplayFlag).filter((flag) => flag < ReplayFlag.RetryArgumentsAtCall);
    execution.replay([{ ...recorded[0]!, replayFlags: flagsBefore } as HistoryEvent, ...recorded.slice(1)]);
    expect(execution.step(at(0), [eventRaised('go', undefined, T0)]).actions).toMatchObject([{ type: 'ScheduleTask', eventId: 0, name: 'A' }]);
  });
});

describe('retry options refuse members they do not take (RetryOptionsRefuseUnknownMembers)', () => {
  const at = (ms: number) => new Date(T0.getTime() + ms);
  const misspelt = { firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 3, backoffCoeficient: 2 } as RetryOptions;
  const ownData = {
    firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 3, fatal: 'fatal',
    handle(this: { fatal: string }, error: Error) { return !error.message.includes(this.fatal); },
  } as RetryOptions;
  /** An execution that waits for `go`, then calls `A` with `options`, replayed from a first step recorded under `flags`. */
  const waitingToCall = (options: RetryOptions, flags: readonly number[]) => {
    const orch: Orchestrator = function* (ctx) {
      yield ctx.waitForExternalEvent('go');
      return yield ctx.callActivityWithRetry('A', options);
    };
    const recorded = new HistoryBuilder({ name: 'O', instanceId: 'o' }).started().build();
    const execution = new OrchestrationExecution(orch, limit);
    execution.replay([{ ...recorded[0]!, replayFlags: flags } as HistoryEvent, ...recorded.slice(1)]);
    return execution;
  };
  const flagsBefore = Object.values(ReplayFlag).filter((flag) => flag < ReplayFlag.RetryOptionsRefuseUnknownMembers);
  const failureOf = (step: { newEvents: readonly HistoryEvent[] }) =>
    (step.newEvents.find((event) => event.type === 'ExecutionCompleted') as { failureDetails?: { errorType: string; errorMessage: string } } | undefined)?.failureDetails;

  it('refuses a misspelt member at the call of an execution that starts now, naming it and the members taken', () => {
    const step = waitingToCall(misspelt, CURRENT_REPLAY_FLAGS).step(at(0), [eventRaised('go', undefined, T0)]);
    expect(step.actions).not.toContainEqual(expect.objectContaining({ type: 'ScheduleTask' }));
    expect(failureOf(step)).toMatchObject({
      errorType: 'InvalidArgumentError',
      errorMessage: 'retryOptions.backoffCoeficient is not known: accepted are firstRetryIntervalInMilliseconds, maxNumberOfAttempts, backoffCoefficient, maxRetryIntervalInMilliseconds, retryTimeoutInMilliseconds, handle',
    });
    expect(failureOf(waitingToCall(ownData, CURRENT_REPLAY_FLAGS).step(at(0), [eventRaised('go', undefined, T0)])))
      .toMatchObject({ errorType: 'InvalidArgumentError', errorMessage: expect.stringContaining('retryOptions.fatal is not known') });
  });

  it('keeps taking members of its own for a history recorded before, where a handle reads them through this', () => {
    const called = waitingToCall(misspelt, flagsBefore).step(at(0), [eventRaised('go', undefined, T0)]);
    expect(called.actions).toEqual([{ type: 'ScheduleTask', eventId: 0, name: 'A', attempt: 1 }]);
    const handled = waitingToCall(ownData, flagsBefore);
    expect(handled.step(at(0), [eventRaised('go', undefined, T0)]).actions).toMatchObject([{ type: 'ScheduleTask', eventId: 0, name: 'A' }]);
    expect(handled.step(at(1), [taskFailed(0, 'transient', T0)]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(11).toISOString() }]);
    const fatal = waitingToCall(ownData, flagsBefore);
    fatal.step(at(0), [eventRaised('go', undefined, T0)]);
    expect(failureOf(fatal.step(at(1), [taskFailed(0, 'fatal error', T0)]))).toMatchObject({ errorType: 'TaskFailedError' });
  });
});

describe('a retry handle that returns a promise (RetryHandleDecidesAtOnce)', () => {
  const at = (ms: number) => new Date(T0.getTime() + ms);
  /** The step after the first attempt fails, for an execution that ran its first step under `flags`, and the handlers the handle's promise got. */
  const firstFailure = (flags: readonly number[]) => {
    const rejectionHandlers: unknown[] = [];
    // What an `async` handle returns, seen through its `then`: whether anyone handles its rejection.
    const promise = { then: (_onFulfilled: unknown, onRejected: unknown) => void rejectionHandlers.push(onRejected) };
    const options = { firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 3, handle: () => promise } as unknown as RetryOptions;
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('A', options);
    };
    const started = new OrchestrationExecution(orch, limit);
    started.replay([]);
    const recorded = started.step(T0, [executionStarted('O', undefined, 'o', T0)]).newEvents;
    const execution = new OrchestrationExecution(orch, limit);
    execution.replay([{ ...recorded[0]!, replayFlags: flags } as HistoryEvent, ...recorded.slice(1)]);
    return { step: execution.step(at(0), [taskFailed(0, 'boom', T0)]), rejectionHandlers };
  };

  it('keeps retrying for a history recorded before, and handles the promise\'s rejection', () => {
    const before = firstFailure(Object.values(ReplayFlag).filter((flag) => flag < ReplayFlag.RetryHandleDecidesAtOnce));
    expect(before.step.actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(10).toISOString() }]);
    expect(before.rejectionHandlers).toEqual([expect.any(Function)]);
  });

  it('keeps retrying for a history recorded before when the answer\'s `then` throws, as it did before `then` was read', () => {
    const options = {
      firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 3,
      handle: () => ({ get then(): never { throw new Error('then unreadable'); } }),
    } as unknown as RetryOptions;
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('A', options);
    };
    const started = new OrchestrationExecution(orch, limit);
    started.replay([]);
    const recorded = started.step(T0, [executionStarted('O', undefined, 'o', T0)]).newEvents;
    const flagsBefore = Object.values(ReplayFlag).filter((flag) => flag < ReplayFlag.RetryHandleDecidesAtOnce);
    const execution = new OrchestrationExecution(orch, limit);
    execution.replay([{ ...recorded[0]!, replayFlags: flagsBefore } as HistoryEvent, ...recorded.slice(1)]);
    expect(execution.step(at(0), [taskFailed(0, 'boom', T0)]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(10).toISOString() }]);
  });

  it('fails the call of an execution that starts now, saying the handle returned a promise, and handles its rejection', () => {
    const now = firstFailure(CURRENT_REPLAY_FLAGS);
    expect(now.step.actions).not.toContainEqual(expect.objectContaining({ type: 'CreateTimer' }));
    const completed = now.step.newEvents.find((event) => event.type === 'ExecutionCompleted') as { orchestrationStatus: string; failureDetails: { errorType: string; errorMessage: string } };
    expect(completed.orchestrationStatus).toBe('Failed');
    expect(completed.failureDetails.errorType).toBe('TaskFailedError');
    expect(completed.failureDetails.errorMessage).toContain('boom; its retry handle returned a promise: a handle must return true or false, not a promise');
    expect(now.rejectionHandlers).toEqual([expect.any(Function)]);
  });
});

describe('event names matched with case ignored (EventNamesIgnoreCase)', () => {
  /** Races an `Approval` event against a timer. */
  const race: Orchestrator = function* (ctx) {
    const approval = ctx.waitForExternalEvent('Approval');
    const winner: unknown = yield ctx.Task.any([approval, ctx.createTimer(new Date(T0.getTime() + 60_000))]);
    return winner === approval ? approval.result : 'timed out';
  };

  it('keeps exact matching for a history recorded before: the event raised in another case stays buffered, the timer wins, no divergence', () => {
    // Recorded by the engine before the flag: `approval` did not match, and the timer won. Replayed now, it must still.
    const history = new HistoryBuilder({ name: 'Race', instanceId: 'r' })
      .started()
      .timerCreated(new Date(T0.getTime() + 60_000))
      .step(1000)
      .eventRaised('approval', 'yes')
      .step(60_000)
      .timerFired(0, new Date(T0.getTime() + 60_000))
      .build();
    const flagsBefore = Object.values(ReplayFlag).filter((flag) => flag < ReplayFlag.EventNamesIgnoreCase);
    const execution = new OrchestrationExecution(race, limit);
    execution.replay([{ ...history[0]!, replayFlags: flagsBefore } as HistoryEvent, ...history.slice(1)]);
    expect(execution.flags.includes(ReplayFlag.EventNamesIgnoreCase)).toBe(false);
    const step = execution.step(new Date(T0.getTime() + 61_000), []);
    expect(step.newEvents).toContainEqual(expect.objectContaining({ type: 'ExecutionCompleted', result: 'timed out' }));
  });

  it('gives an execution that starts now the event raised in another case', () => {
    const execution = new OrchestrationExecution(race, limit);
    execution.replay([]);
    execution.step(T0, [executionStarted('Race', undefined, 'r', T0)]);
    expect(execution.flags.includes(ReplayFlag.EventNamesIgnoreCase)).toBe(true);
    const step = execution.step(new Date(T0.getTime() + 1000), [eventRaised('approval', 'yes', T0)]);
    expect(step.newEvents).toContainEqual(expect.objectContaining({ type: 'ExecutionCompleted', result: 'yes' }));
  });
});

describe('nothing scheduled after continueAsNew (NothingScheduledAfterContinueAsNew)', () => {
  const completed = { type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0 } as const;
  /** Continues as new, then calls `Side` and yields it. */
  const sideAfterContinue: Orchestrator = function* (ctx) {
    const generation = ctx.getInput<number>();
    if (generation === 1) return 'second';
    ctx.continueAsNew(1);
    yield ctx.callActivity('Side');
    return 'never';
  };

  it('ends the execution at the yield after continueAsNew without scheduling what it yields', () => {
    const execution = new OrchestrationExecution(sideAfterContinue, limit);
    execution.replay([]);
    const step = execution.step(T0, [executionStarted('Loop', 0, 'l', T0)]);
    expect(step.actions).toEqual([]);
    expect(step.newEvents.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'ContinueAsNew', 'OrchestratorCompleted']);
    expect(step.continueAsNew).toEqual({ input: 1, carryOverEvents: [] });
  });

  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('never runs an activity called after continueAsNew', async () => {
    const sides: unknown[] = [];
    const store = new MemoryStore();
    runtime = createRuntime({
      store, logger: silentLogger,
      orchestrators: { Loop: sideAfterContinue },
      activities: { Side: (input: unknown) => void sides.push(input) },
    });
    await runtime.start();
    const id = await runtime.client.startNew('Loop', { input: 0 });
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'second' });
    // Not run, and not left waiting either: the store holds no activity task to claim.
    await runtime.stop();
    expect(sides).toEqual([]);
    expect(await store.claimActivity({ owner: 'check', leaseMs: 1000, now: new Date() })).toBeUndefined();
  });

  it('carries to the next execution a buffered event that a wait after continueAsNew would have taken', () => {
    const waitAfterContinue: Orchestrator = function* (ctx) {
      yield ctx.callActivity('A');
      ctx.continueAsNew('next', { preserveUnprocessedEvents: true });
      yield ctx.waitForExternalEvent('E');
    };
    const execution = new OrchestrationExecution(waitAfterContinue, limit);
    execution.replay([]);
    execution.step(T0, [executionStarted('Wait', undefined, 'w', T0)]);
    const step = execution.step(new Date(T0.getTime() + 1000), [eventRaised('E', 'payload', T0), { ...completed }]);
    expect(step.continueAsNew?.carryOverEvents).toMatchObject([{ type: 'EventRaised', name: 'E', input: 'payload' }]);
  });

  it('replays a history recorded before, which scheduled the call after continueAsNew, without divergence', () => {
    const history = new HistoryBuilder({ name: 'Loop', instanceId: 'l', legacy: true })
      .started(0)
      .taskScheduled('Side')
      .event({ type: 'ContinueAsNew', eventId: -1, timestamp: T0.toISOString(), input: 1, preserveUnprocessedEvents: false })
      .build();
    const execution = new OrchestrationExecution(sideAfterContinue, limit);
    execution.replay(history);
    expect(execution.flags.includes(ReplayFlag.NothingScheduledAfterContinueAsNew)).toBe(false);
    const step = execution.step(new Date(T0.getTime() + 1000), [{ ...completed }]);
    expect(step.newEvents.some((e) => e.type === 'ExecutionCompleted')).toBe(false);
  });
});
