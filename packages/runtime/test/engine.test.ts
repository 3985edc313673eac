import { describe, expect, it } from 'vitest';
import { DEFAULT_CUSTOM_STATUS_LIMIT_BYTES, keptWhileSuspendedAfter, OrchestrationExecution, type StepResult } from '../src/engine/orchestration-execution.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import type { RetryOptions } from '../src/engine/retry-options.js';
import { rewindHistory } from '../src/engine/rewind-history.js';
import { applyEvent, heldCommands } from '../src/engine/apply-event.js';
import { decideTerminate } from '../src/engine/decide-step.js';
import { PayloadTooLargeError } from '../src/model/errors/payload-too-large-error.js';
import { TaskFailedError } from '../src/model/errors/task-failed-error.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import { isTerminalStatus, type InstanceState } from '../src/model/instance-status.js';
import { HistoryBuilder, eventRaised, executionStarted, taskCompleted, taskFailed, timerFired } from '../src/testing/history-builder.js';
import { helloSequence } from '../src/testing/samples.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const limit = { customStatusLimitBytes: 16 * 1024 };

function run(orchestrator: Orchestrator, history: HistoryEvent[] = []) {
  const execution = new OrchestrationExecution(orchestrator, limit);
  execution.replay(history);
  return execution;
}

function completion(step: StepResult) {
  return step.newEvents.find((e) => e.type === 'ExecutionCompleted') as Extract<HistoryEvent, { type: 'ExecutionCompleted' }> | undefined;
}

describe('replay engine', () => {
  it('schedules the first activity of the hello sequence and records the step', () => {
    const step = run(helloSequence).step(T0, [executionStarted('E1_HelloSequence')]);
    expect(step.actions).toEqual([{ type: 'ScheduleTask', eventId: 0, name: 'E1_SayHello', input: 'Tokyo', attempt: 1 }]);
    expect(step.newEvents.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'TaskScheduled', 'OrchestratorCompleted']);
    expect(step.customStatus).toBeUndefined();
    expect(step.isFinished).toBe(false);
  });

  it('replays a hand-built history and continues with the next activity and custom status', () => {
    const history = new HistoryBuilder({ name: 'E1_HelloSequence' }).started().taskScheduled('E1_SayHello', 'Tokyo').build();
    const execution = new OrchestrationExecution(helloSequence, limit);
    expect(execution.replay(history)).toBe(history.length);
    const step = execution.step(at(1000), [taskCompleted(0, 'Hello Tokyo!')]);
    expect(step.actions).toEqual([{ type: 'ScheduleTask', eventId: 1, name: 'E1_SayHello', input: 'Seattle', attempt: 1 }]);
    expect(step.customStatus).toBe('Tokyo');
  });

  it('completes with the outputs in order', () => {
    const history = new HistoryBuilder({ name: 'E1_HelloSequence' })
      .started().taskScheduled('E1_SayHello', 'Tokyo')
      .step(1).taskCompleted(0, 'Hello Tokyo!').taskScheduled('E1_SayHello', 'Seattle')
      .step(1).taskCompleted(1, 'Hello Seattle!').taskScheduled('E1_SayHello', 'London')
      .build();
    const step = run(helloSequence, history).step(at(5), [taskCompleted(2, 'Hello London!')]);
    expect(completion(step)).toMatchObject({ orchestrationStatus: 'Completed', result: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'] });
    expect(step.customStatus).toBe('London');
    expect(step.isFinished).toBe(true);
  });

  it('fails the orchestration with a TypeError when it calls a method taken off ctx, and works when called on ctx', () => {
    const detached: Orchestrator = function* (ctx) {
      const { callActivity } = ctx;
      return yield callActivity('E1_SayHello', 'Tokyo');
    };
    const failed = completion(run(detached).step(T0, [executionStarted('Detached')]));
    expect(failed).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorType: 'TypeError' } });
    const onCtx = run(helloSequence).step(T0, [executionStarted('E1_HelloSequence')]);
    expect(onCtx.actions).toHaveLength(1);
  });

  it('sets isReplaying while replaying only', () => {
    const seen: boolean[] = [];
    const orch: Orchestrator = function* (ctx) {
      seen.push(ctx.isReplaying);
      yield ctx.callActivity('A');
      seen.push(ctx.isReplaying);
      yield ctx.callActivity('B');
      seen.push(ctx.isReplaying);
    };
    const history = new HistoryBuilder({ name: 'O' }).started().taskScheduled('A').step().taskCompleted(0).taskScheduled('B').build();
    run(orch, history).step(T0, [taskCompleted(1)]);
    expect(seen).toEqual([true, true, false]);
  });

  it('fails with NonDeterminismError naming the recorded and the actual call', () => {
    const history = new HistoryBuilder({ name: 'Changed' }).started().taskScheduled('OldActivity').build();
    const changed: Orchestrator = function* (ctx) {
      yield ctx.callActivity('NewActivity');
    };
    const step = run(changed, history).step(T0, [taskCompleted(0)]);
    const failed = completion(step);
    expect(failed?.orchestrationStatus).toBe('Failed');
    expect(failed?.failureDetails?.errorType).toBe('NonDeterminismError');
    expect(failed?.failureDetails?.errorMessage).toContain('callActivity("OldActivity")');
    expect(failed?.failureDetails?.errorMessage).toContain('callActivity("NewActivity")');
    expect(step.actions).toEqual([]);
  });

  it('fails with NonDeterminismError when history recorded work the code no longer schedules', () => {
    const history = new HistoryBuilder({ name: 'Shrunk' }).started().timerCreated(at(10)).build();
    const shrunk: Orchestrator = function* () {
      return 'nothing';
    };
    const failed = completion(run(shrunk, history).step(T0, []));
    expect(failed?.failureDetails).toMatchObject({ errorType: 'NonDeterminismError' });
    expect(failed?.failureDetails?.errorMessage).toMatch(/history has createTimer\(\) as #0, replay returned$/);
  });

  it('names what a replay threw instead of the recorded call, with the stack of where it threw', () => {
    const history = new HistoryBuilder({ name: 'Throws' }).started().taskScheduled('A').build();
    const throwsOnReplay: Orchestrator = function* throwsOnReplay() {
      throw new TypeError('settings is undefined');
    };
    const failed = completion(run(throwsOnReplay, history).step(T0, [taskCompleted(0)]));
    expect(failed?.failureDetails).toMatchObject({
      errorType: 'NonDeterminismError',
      errorMessage: 'Non-deterministic orchestrator "Throws": history has callActivity("A") as #0, replay threw TypeError: settings is undefined',
    });
    expect(failed?.failureDetails?.stackTrace).toMatch(/^NonDeterminismError: [^]*\nCaused by: TypeError: settings is undefined\n\s+at throwsOnReplay/);
  });

  it('copies only the first line of what a replay threw, cut to a few hundred characters, into its message and stack', () => {
    const history = new HistoryBuilder({ name: 'Throws' }).started().taskScheduled('A').build();
    const long = `${'x'.repeat(200_000)}\nsecond line`;
    const throwsOnReplay: Orchestrator = function* throwsOnReplay() {
      throw new TypeError(long);
    };
    const failed = completion(run(throwsOnReplay, history).step(T0, [taskCompleted(0)]));
    const { errorMessage, stackTrace } = failed!.failureDetails!;
    expect(errorMessage).toMatch(/, replay threw TypeError: x{299}…$/);
    expect(stackTrace).toMatch(/\nCaused by: TypeError: x{299}…\n\s+at throwsOnReplay/);
    expect(stackTrace!.length).toBeLessThan(5_000);
  });

  it('copies at most 300 characters of a replay\'s thrown first line, the ellipsis of a further line included', () => {
    const history = new HistoryBuilder({ name: 'Throws' }).started().taskScheduled('A').build();
    const copied = (message: string): string => {
      const throwsOnReplay: Orchestrator = function* throwsOnReplay() {
        throw new TypeError(message);
      };
      const { errorMessage } = completion(run(throwsOnReplay, history).step(T0, [taskCompleted(0)]))!.failureDetails!;
      return /, replay threw TypeError: (.*)$/s.exec(errorMessage)![1]!;
    };
    expect(copied(`${'x'.repeat(300)}\nsecond line`)).toBe(`${'x'.repeat(299)}…`);
    expect(copied(`${'x'.repeat(299)}\nsecond line`)).toBe(`${'x'.repeat(299)}…`);
    expect(copied(`${'x'.repeat(298)}\nsecond line`)).toBe(`${'x'.repeat(298)}…`);
    expect(copied('x'.repeat(300))).toBe('x'.repeat(300));
    expect(copied('x'.repeat(301))).toBe(`${'x'.repeat(299)}…`);
  });

  it('throws TaskFailedError into the orchestrator with the failure details', () => {
    let caught: unknown;
    const orch: Orchestrator = function* (ctx) {
      try {
        yield ctx.callActivity('Boom');
      } catch (error) {
        caught = error;
        return 'recovered';
      }
    };
    const step = run(orch, new HistoryBuilder({ name: 'O' }).started().taskScheduled('Boom').build()).step(T0, [taskFailed(0, 'kaput')]);
    expect(caught).toBeInstanceOf(TaskFailedError);
    expect((caught as TaskFailedError).failureDetails.errorMessage).toBe('kaput');
    expect((caught as TaskFailedError).cause).toBeInstanceOf(Error);
    expect(completion(step)).toMatchObject({ orchestrationStatus: 'Completed', result: 'recovered' });
  });

  it('buffers external events raised before the orchestrator waits, FIFO per name', () => {
    const orch: Orchestrator = function* (ctx) {
      yield ctx.createTimer(at(100));
      const a: unknown = yield ctx.waitForExternalEvent('E');
      const b: unknown = yield ctx.waitForExternalEvent('E');
      return [a, b];
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O'), eventRaised('E', 1), eventRaised('F', 'other'), eventRaised('E', 2)]);
    const step = execution.step(at(100), [timerFired(0, at(100))]);
    expect(completion(step)).toMatchObject({ result: [1, 2] });
  });

  it('gives each external event to the first waiter of its name, with several waiting at once, live and replayed', () => {
    const orch: Orchestrator = function* (ctx) {
      const waiters = [ctx.waitForExternalEvent('A'), ctx.waitForExternalEvent('B'), ctx.waitForExternalEvent('A')];
      const results: unknown = yield ctx.Task.all(waiters);
      const last: unknown = yield ctx.waitForExternalEvent('B');
      return [results, last];
    };
    const events = [eventRaised('B', 'b1'), eventRaised('A', 'a1'), eventRaised('B', 'b2'), eventRaised('A', 'a2')];
    const live = run(orch);
    live.step(T0, [executionStarted('O')]);
    live.step(at(1), events.slice(0, 2)); // the waiter of B (the middle one), then the first of A
    const step = live.step(at(2), events.slice(2)); // b2 waits in a buffer, a2 completes the Task.all, then B takes it
    expect(completion(step)).toMatchObject({ result: [['a1', 'b1', 'a2'], 'b2'] });
    // Replayed from the same history, the events reach the same waiters: the step that follows the replay reports
    // the same result.
    const replayed = run(orch, [...new HistoryBuilder({ name: 'O' }).started().build(), ...events]);
    expect(replayed.isFinished).toBe(true);
    expect(completion(replayed.step(at(3), []))).toMatchObject({ result: [['a1', 'b1', 'a2'], 'b2'] });
  });

  it('matches external event names with case ignored, as Durable Functions: live, buffered FIFO across cases, replayed', () => {
    const waitApproval: Orchestrator = function* (ctx) {
      return yield ctx.waitForExternalEvent('Approval');
    };
    const live = run(waitApproval);
    live.step(T0, [executionStarted('O')]);
    expect(completion(live.step(at(1), [eventRaised('approval', 'lower')]))).toMatchObject({ result: 'lower' });

    // Raised before anyone waits, in three cases: one queue, in the order raised; another name keeps its own.
    const twoOfOneName: Orchestrator = function* (ctx) {
      yield ctx.createTimer(at(100));
      const a: unknown = yield ctx.waitForExternalEvent('Order');
      const b: unknown = yield ctx.waitForExternalEvent('ORDER');
      const c: unknown = yield ctx.waitForExternalEvent('order');
      return [a, b, c];
    };
    const buffered = run(twoOfOneName);
    const raised = [eventRaised('order', 1), eventRaised('Orders', 'other'), eventRaised('ORDER', 2), eventRaised('Order', 3)];
    const first = buffered.step(T0, [executionStarted('O'), ...raised]);
    const last = buffered.step(at(100), [timerFired(0, at(100))]);
    expect(completion(last)).toMatchObject({ result: [1, 2, 3] });
    // A cache miss replays the recorded history (its first step recorded the flag): the same result.
    const replayed = run(twoOfOneName, [...first.newEvents, ...last.newEvents.filter((e) => e.type !== 'ExecutionCompleted')]);
    expect(completion(replayed.step(at(101), []))).toMatchObject({ result: [1, 2, 3] });

    // Several waiters at once: the event goes to the first of its name in any case.
    const waiters: Orchestrator = function* (ctx) {
      return yield ctx.Task.all([ctx.waitForExternalEvent('go'), ctx.waitForExternalEvent('Stop'), ctx.waitForExternalEvent('GO')]);
    };
    const several = run(waiters);
    several.step(T0, [executionStarted('O')]);
    const all = several.step(at(1), [eventRaised('Go', 'g1'), eventRaised('STOP', 's'), eventRaised('gO', 'g2')]);
    expect(completion(all)).toMatchObject({ result: ['g1', 's', 'g2'] });
  });

  it('keeps names of other letters apart, and matches letters beyond ASCII by their simple uppercase', () => {
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.Task.all([ctx.waitForExternalEvent('Straße'), ctx.waitForExternalEvent('ÉTÉ'), ctx.waitForExternalEvent('𐐀')]);
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    // `STRASSE` is the full uppercase of `Straße`, not its simple one (.NET keeps ß too): it is another name.
    const step = execution.step(at(1), [eventRaised('STRASSE', 'no'), eventRaised('straße', 'ß'), eventRaised('été', 'é'), eventRaised('𐐨', 'deseret')]);
    expect(completion(step)).toMatchObject({ result: ['ß', 'é', 'deseret'] });
  });

  it('yields the winning task from Task.any and ignores a cancelled timer that fires later', () => {
    const orch: Orchestrator = function* (ctx) {
      const timeout = ctx.createTimer(at(60_000));
      const approval = ctx.waitForExternalEvent<string>('Approval');
      const winner: unknown = yield ctx.Task.any([approval, timeout]);
      if (winner === approval) {
        timeout.cancel();
        return `approved by ${approval.result}`;
      }
      return 'timed out';
    };
    const execution = run(orch);
    const first = execution.step(T0, [executionStarted('O')]);
    expect(first.actions).toEqual([{ type: 'CreateTimer', eventId: 0, fireAt: at(60_000).toISOString() }]);
    const second = execution.step(at(10), [eventRaised('Approval', 'ana')]);
    expect(completion(second)).toMatchObject({ result: 'approved by ana' });
    const late = execution.step(at(60_000), [timerFired(0, at(60_000))]);
    expect(late.newEvents.map((e) => e.type)).toEqual(['OrchestratorStarted', 'TimerFired', 'OrchestratorCompleted']);
  });

  it('runs a fan-out with Task.all and fails fast with the first failure', () => {
    const fanOut: Orchestrator = function* (ctx) {
      const results: number[] = yield ctx.Task.all([1, 2, 3].map((n) => ctx.callActivity<number>('Double', n)));
      return results;
    };
    const execution = run(fanOut);
    expect(execution.step(T0, [executionStarted('O')]).actions.map((a) => a.eventId)).toEqual([0, 1, 2]);
    execution.step(at(1), [taskCompleted(2, 6)]);
    expect(completion(execution.step(at(2), [taskCompleted(0, 2), taskCompleted(1, 4)]))).toMatchObject({ result: [2, 4, 6] });

    const failing = run(fanOut);
    failing.step(T0, [executionStarted('O')]);
    const failed = completion(failing.step(at(1), [taskCompleted(0, 2), taskFailed(1, 'no')]));
    expect(failed).toMatchObject({ orchestrationStatus: 'Failed' });
    expect(failed?.failureDetails?.errorMessage).toContain('no');
  });

  it('retries a failed activity after durable timers with exponential backoff, capped', () => {
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('Flaky', {
        firstRetryIntervalInMilliseconds: 1000, backoffCoefficient: 2, maxNumberOfAttempts: 4, maxRetryIntervalInMilliseconds: 3000,
      }, 'x');
    };
    const execution = run(orch);
    expect(execution.step(T0, [executionStarted('O')]).actions).toEqual([{ type: 'ScheduleTask', eventId: 0, name: 'Flaky', input: 'x', attempt: 1 }]);
    expect(execution.step(at(0), [taskFailed(0, 'e1')]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(1000).toISOString() }]);
    expect(execution.step(at(1000), [timerFired(1, at(1000))]).actions).toEqual([{ type: 'ScheduleTask', eventId: 2, name: 'Flaky', input: 'x', attempt: 2 }]);
    expect(execution.step(at(1000), [taskFailed(2, 'e2')]).actions).toEqual([{ type: 'CreateTimer', eventId: 3, fireAt: at(3000).toISOString() }]);
    execution.step(at(3000), [timerFired(3, at(3000))]);
    expect(execution.step(at(3000), [taskFailed(4, 'e3')]).actions).toEqual([{ type: 'CreateTimer', eventId: 5, fireAt: at(6000).toISOString() }]);
    execution.step(at(6000), [timerFired(5, at(6000))]);
    const failed = completion(execution.step(at(6000), [taskFailed(6, 'e4')]));
    expect(failed?.failureDetails?.errorMessage).toContain('e4');
  });

  it('retries while a failure comes before the first attempt + retryTimeoutInMilliseconds, however long the delay (as Durable Functions)', () => {
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('Flaky', {
        firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 10, retryTimeoutInMilliseconds: 2500,
      }, 'x');
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    expect(execution.step(at(0), [taskFailed(0, 'e1')]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(1000).toISOString() }]);
    execution.step(at(1000), [timerFired(1, at(1000))]);
    expect(execution.step(at(1000), [taskFailed(2, 'e2')]).actions).toEqual([{ type: 'CreateTimer', eventId: 3, fireAt: at(2000).toISOString() }]);
    execution.step(at(2000), [timerFired(3, at(2000))]);
    // Failed at 2000 ms, before the 2500 ms deadline: a third attempt, although it starts after the deadline.
    expect(execution.step(at(2000), [taskFailed(4, 'e3')]).actions).toEqual([{ type: 'CreateTimer', eventId: 5, fireAt: at(3000).toISOString() }]);
    execution.step(at(3000), [timerFired(5, at(3000))]);
    const failed = completion(execution.step(at(3000), [taskFailed(6, 'e4')]));
    expect(failed).toMatchObject({ orchestrationStatus: 'Failed' });
    expect(failed?.failureDetails?.errorMessage).toContain('e4');
  });

  it('retries once when the first interval alone is longer than retryTimeoutInMilliseconds (as Durable Functions)', () => {
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('Flaky', {
        firstRetryIntervalInMilliseconds: 60_000, maxNumberOfAttempts: 5, retryTimeoutInMilliseconds: 10_000,
      });
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    expect(execution.step(at(0), [taskFailed(0, 'e1')]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(60_000).toISOString() }]);
    execution.step(at(60_000), [timerFired(1, at(60_000))]);
    expect(completion(execution.step(at(60_000), [taskFailed(2, 'e2')]))?.failureDetails?.errorMessage).toContain('e2');
  });

  it('gives up on a failure at the retry deadline itself, not on one a millisecond before it', () => {
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('Slow', {
        firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5, retryTimeoutInMilliseconds: 2000,
      });
    };
    for (const [failedAt, retries] of [[1999, true], [2000, false]] as const) {
      const execution = run(orch);
      execution.step(T0, [executionStarted('O')]);
      execution.step(at(0), [taskFailed(0, 'e1')]);
      execution.step(at(1000), [timerFired(1, at(1000))]);
      // The second attempt runs long and fails at failedAt.
      const step = execution.step(at(failedAt), [taskFailed(2, 'e2')]);
      if (retries) expect(step.actions).toEqual([{ type: 'CreateTimer', eventId: 3, fireAt: at(failedAt + 1000).toISOString() }]);
      else expect(completion(step)).toMatchObject({ orchestrationStatus: 'Failed' });
    }
  });

  it('caps each retry delay at 6 days when maxRetryIntervalInMilliseconds is left out (as Durable Functions)', () => {
    const day = 86_400_000;
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('Flaky', { firstRetryIntervalInMilliseconds: day, backoffCoefficient: 10, maxNumberOfAttempts: 4 });
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    expect(execution.step(at(0), [taskFailed(0, 'e1')]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(day).toISOString() }]);
    execution.step(at(day), [timerFired(1, at(day))]);
    // 10 days by the coefficient, 6 by the default cap.
    expect(execution.step(at(day), [taskFailed(2, 'e2')]).actions).toEqual([{ type: 'CreateTimer', eventId: 3, fireAt: at(7 * day).toISOString() }]);
  });

  it('stops retrying when handle() says so', () => {
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('Flaky', {
        firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 5, handle: (e) => !e.message.includes('fatal'),
      });
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    expect(completion(execution.step(T0, [taskFailed(0, 'fatal error')]))).toMatchObject({ orchestrationStatus: 'Failed' });
  });

  it('asks handle() about every failure but the last attempt\'s', () => {
    const asked: string[] = [];
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('Flaky', {
        firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 2, handle: (e) => { asked.push(e.message); return true; },
      });
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    expect(execution.step(at(0), [taskFailed(0, 'e1')]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(10).toISOString() }]);
    execution.step(at(10), [timerFired(1, at(10))]);
    const failed = completion(execution.step(at(10), [taskFailed(2, 'e2')]));
    expect(failed?.failureDetails?.errorMessage).toContain('e2');
    // Asked once, about e1: after the last attempt there is no retry to decide, so handle is not called.
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain('e1');
  });

  it('retries each call with its input as it was at the call, though the caller reused the object for the next call', () => {
    const orch: Orchestrator = function* (ctx) {
      const payload = { id: '' };
      const calls = [];
      for (const id of ['a', 'b', 'c']) {
        payload.id = id;
        calls.push(ctx.callActivityWithRetry('Process', { firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 2 }, payload));
      }
      return yield ctx.Task.all(calls);
    };
    const execution = run(orch);
    expect(execution.step(T0, [executionStarted('O')]).actions.map((a) => a.type === 'ScheduleTask' && a.input))
      .toEqual([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    execution.step(at(0), [taskFailed(0, 'transient')]);
    expect(execution.step(at(10), [timerFired(3, at(10))]).actions)
      .toEqual([{ type: 'ScheduleTask', eventId: 4, name: 'Process', input: { id: 'a' }, attempt: 2 }]);
  });

  it('retries a sub-orchestration with its input as it was at the call', () => {
    const orch: Orchestrator = function* (ctx) {
      const payload = { n: 1 };
      const call = ctx.callSubOrchestratorWithRetry('Child', { firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 2 }, payload, 'child');
      payload.n = 2;
      return yield call;
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    execution.step(at(0), [{
      type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp: at(0).toISOString(), taskScheduledId: 0,
      failureDetails: { errorType: 'Error', errorMessage: 'transient' },
    }]);
    expect(execution.step(at(10), [timerFired(1, at(10))]).actions)
      .toEqual([{ type: 'CreateSubOrchestration', eventId: 2, name: 'Child', instanceId: 'child', input: { n: 1 } }]);
  });

  it('follows the retry options as they were at the call, though the caller changed its object after', () => {
    const options: { -readonly [K in keyof RetryOptions]: RetryOptions[K] } = { firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 2 };
    const orch: Orchestrator = function* (ctx) {
      const call = ctx.callActivityWithRetry('Flaky', options);
      options.maxNumberOfAttempts = 1;
      options.firstRetryIntervalInMilliseconds = 5000;
      options.handle = () => false;
      return yield call;
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    expect(execution.step(at(0), [taskFailed(0, 'e1')]).actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(10).toISOString() }]);
  });

  it('calls handle() with the caller\'s options object as this, whose prototype may carry what it decides on', () => {
    class StopOnFatal {
      readonly firstRetryIntervalInMilliseconds = 10;
      readonly maxNumberOfAttempts = 2;
      get fatal(): string { return 'fatal'; }
      handle(error: Error): boolean { return !error.message.includes(this.fatal); }
    }
    const options = new StopOnFatal();
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callActivityWithRetry('Flaky', options);
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    expect(completion(execution.step(at(0), [taskFailed(0, 'fatal error')]))).toMatchObject({ orchestrationStatus: 'Failed' });
  });

  it('refuses, at the call, retry options that are no object, a handle that is no function, and numbers given as strings', () => {
    const refusal = (options: unknown) => {
      const orch: Orchestrator = function* (ctx) {
        try {
          ctx.callActivityWithRetry('A', options as RetryOptions);
          return 'accepted';
        } catch (error) {
          return `${(error as Error).name}: ${(error as Error).message}`;
        }
      };
      return completion(run(orch).step(T0, [executionStarted('O')]))?.result;
    };
    expect(refusal(null)).toBe('InvalidArgumentError: retryOptions must be an object');
    expect(refusal(undefined)).toBe('InvalidArgumentError: retryOptions must be an object');
    expect(refusal({ firstRetryIntervalInMilliseconds: 10, maxNumberOfAttempts: 3, handle: 5 })).toBe('InvalidArgumentError: retryOptions.handle must be a function');
    const valid = { firstRetryIntervalInMilliseconds: 100, maxNumberOfAttempts: 3 };
    for (const key of ['firstRetryIntervalInMilliseconds', 'backoffCoefficient', 'maxRetryIntervalInMilliseconds', 'retryTimeoutInMilliseconds']) {
      expect(refusal({ ...valid, [key]: '100' }), key).toBe(`InvalidArgumentError: retryOptions.${key} must be a number`);
    }
    expect(refusal({ ...valid, maxNumberOfAttempts: '3' })).toBe('InvalidArgumentError: retryOptions.maxNumberOfAttempts must be a number');
    expect(refusal(valid)).toBe('accepted');
  });

  it('never moves currentUtcDateTime back when a step comes at an earlier time (a clock set back), and records it so', () => {
    const seen: string[] = [];
    const orch: Orchestrator = function* (ctx) {
      seen.push(ctx.currentUtcDateTime.toISOString());
      yield ctx.callActivity('A');
      seen.push(ctx.currentUtcDateTime.toISOString());
      yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1000));
    };
    const execution = run(orch);
    const first = execution.step(at(5000), [executionStarted('O')]);
    const second = execution.step(at(2000), [taskCompleted(0)]); // the clock went back 3 s
    expect(seen).toEqual([at(5000).toISOString(), at(5000).toISOString()]);
    expect(second.newEvents[0]).toMatchObject({ type: 'OrchestratorStarted', timestamp: at(5000).toISOString() });
    expect(second.actions).toEqual([{ type: 'CreateTimer', eventId: 1, fireAt: at(6000).toISOString() }]);
    // A replay of what the steps recorded sees the same times.
    seen.length = 0;
    run(orch, [...first.newEvents, ...second.newEvents]);
    expect(seen).toEqual([at(5000).toISOString(), at(5000).toISOString()]);
  });

  it('takes currentUtcDateTime from history and makes newGuid deterministic', () => {
    const seen: string[] = [];
    const orch: Orchestrator = function* (ctx) {
      seen.push(ctx.currentUtcDateTime.toISOString(), ctx.newGuid(), ctx.newGuid());
      yield ctx.callActivity('A');
      seen.push(ctx.currentUtcDateTime.toISOString());
    };
    // Replayed from what the first step recorded (with the replay flags it ran under, which newGuid follows).
    const history = run(orch).step(T0, [executionStarted('O')]).newEvents as HistoryEvent[];
    const firstRun = [...seen];
    seen.length = 0;
    run(orch, history).step(at(5000), [taskCompleted(0)]);
    expect(seen.slice(0, 3)).toEqual(firstRun.slice(0, 3));
    expect(seen[0]).toBe(T0.toISOString());
    expect(seen[1]).not.toBe(seen[2]);
    expect(seen[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(seen[3]).toBe(at(5000).toISOString());
  });

  it('continues as new with the new input, carrying unprocessed events when asked', () => {
    const orch: Orchestrator = function* (ctx) {
      const n = ctx.getInput<number>();
      yield ctx.createTimer(at(1));
      ctx.continueAsNew(n + 1, { preserveUnprocessedEvents: true });
    };
    const execution = run(orch);
    execution.step(T0, [{ ...executionStarted('O', 1) }, eventRaised('Later', 'keep me')]);
    const step = execution.step(at(1), [timerFired(0, at(1))]);
    expect(step.continueAsNew).toMatchObject({ input: 2, carryOverEvents: [{ type: 'EventRaised', name: 'Later', input: 'keep me' }] });
    expect(step.newEvents.map((e) => e.type)).toContain('ContinueAsNew');
    expect(step.isFinished).toBe(true);
  });

  it('fails clearly when the orchestrator yields something that is not a task', () => {
    const orch = function* () {
      yield Promise.resolve(1);
    } as unknown as Orchestrator;
    const failed = completion(run(orch).step(T0, [executionStarted('O')]));
    expect(failed?.failureDetails?.errorMessage).toMatch(/yielded object; only tasks/);
  });

  it('throws PayloadTooLargeError in the orchestrator for an oversized custom status', () => {
    let caught: unknown;
    const orch: Orchestrator = function* (ctx) {
      try {
        ctx.setCustomStatus('x'.repeat(100));
      } catch (error) {
        caught = error;
      }
      ctx.setCustomStatus('ok');
      yield ctx.callActivity('A');
    };
    const execution = new OrchestrationExecution(orch, { customStatusLimitBytes: 50 });
    execution.replay([]);
    const step = execution.step(T0, [executionStarted('O')]);
    expect(caught).toBeInstanceOf(PayloadTooLargeError);
    expect(step.customStatus).toBe('ok');
  });

  it('counts the default custom status limit in UTF-8 bytes of JSON, as its TSDoc says (not UTF-16, as Durable Functions)', () => {
    const accepted = (status: string): boolean => {
      let caught: unknown;
      const execution = new OrchestrationExecution(function* (ctx) {
        try {
          ctx.setCustomStatus(status);
        } catch (error) {
          caught = error;
        }
        yield ctx.callActivity('A');
      }, { customStatusLimitBytes: DEFAULT_CUSTOM_STATUS_LIMIT_BYTES });
      execution.replay([]);
      execution.step(T0, [executionStarted('O')]);
      if (caught !== undefined && !(caught instanceof PayloadTooLargeError)) throw caught;
      return caught === undefined;
    };
    // JSON text with its two quotes: ASCII up to 16,382 characters (Durable Functions: about 8,192).
    expect(accepted('x'.repeat(16_382))).toBe(true);
    expect(accepted('x'.repeat(16_383))).toBe(false);
    // CJK, 3 bytes each, and the quotes: up to 5,460 characters (Durable Functions: about 8,192).
    expect(accepted('語'.repeat(5_460))).toBe(true);
    expect(accepted('語'.repeat(5_461))).toBe(false);
  });

  it('starts sub-orchestrations with a deterministic default id, unique per execution', () => {
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.callSubOrchestrator('Child', { x: 1 });
    };
    const step = run(orch).step(T0, [executionStarted('Parent', undefined, 'parent-1')]);
    expect(step.actions).toEqual([{ type: 'CreateSubOrchestration', eventId: 0, name: 'Child', instanceId: 'parent-1:execution-1:0', input: { x: 1 } }]);
  });

  it.each([
    ['the name waited for', 'Go'],
    ['another case of it', 'GO'],
  ])('holds events raised while suspended under %s and gives them to the waiter on resume', (_, raisedAs) => {
    const orch: Orchestrator = function* (ctx) {
      return yield ctx.waitForExternalEvent('Go');
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O')]);
    const suspended = execution.step(at(1), [{ type: 'ExecutionSuspended', eventId: -1, timestamp: at(1).toISOString() }, eventRaised(raisedAs, raisedAs)]);
    expect(completion(suspended)).toBeUndefined();
    const resumed = execution.step(at(2), [{ type: 'ExecutionResumed', eventId: -1, timestamp: at(2).toISOString() }]);
    expect(completion(resumed)).toMatchObject({ result: raisedAs });
  });

  it('carries an event buffered under another case over continueAsNew, where a waiter of any case takes it', () => {
    const orch: Orchestrator = function* (ctx) {
      if (ctx.getInput<number>() === 2) return yield ctx.waitForExternalEvent('LATER');
      yield ctx.createTimer(at(1));
      ctx.continueAsNew(2, { preserveUnprocessedEvents: true });
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('O', 1), eventRaised('later', 'kept')]);
    const step = execution.step(at(1), [timerFired(0, at(1))]);
    expect(step.continueAsNew?.carryOverEvents).toMatchObject([{ name: 'later', input: 'kept' }]);
    const next = run(orch);
    const done = next.step(at(2), [executionStarted('O', 2), ...step.continueAsNew!.carryOverEvents]);
    expect(completion(done)).toMatchObject({ result: 'kept' });
  });

  it('records and ignores results after termination', () => {
    const execution = run(helloSequence);
    execution.step(T0, [executionStarted('E1_HelloSequence')]);
    const step = execution.step(at(1), [{ type: 'ExecutionTerminated', eventId: -1, timestamp: at(1).toISOString(), reason: 'stop' }, taskCompleted(0, 'late')]);
    expect(step.newEvents.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionTerminated', 'TaskCompleted', 'OrchestratorCompleted']);
    expect(step.actions).toEqual([]);
    expect(step.isFinished).toBe(true);
  });

  it('fails with UnknownEventTypeError on an event type it does not know', () => {
    const execution = run(helloSequence);
    execution.step(T0, [executionStarted('E1_HelloSequence')]);
    const failed = completion(execution.step(at(1), [{ type: 'FromTheFuture', eventId: -1, timestamp: T0.toISOString() } as unknown as HistoryEvent]));
    expect(failed?.failureDetails?.errorType).toBe('UnknownEventTypeError');
  });

  it('steps a cached execution in O(new events): the 1,000th step does not replay the first 999', () => {
    let resumed = 0; // how often the orchestrator's code went on past a yield: once per step unless a step replays
    const long: Orchestrator = function* (ctx) {
      for (let i = 0; i < 1000; i++) {
        yield ctx.callActivity('Step', i);
        resumed++;
      }
      return 'done';
    };
    const execution = run(long);
    execution.step(T0, [executionStarted('Long')]);
    let last: StepResult | undefined;
    for (let i = 0; i < 1000; i++) {
      last = execution.step(at(i + 1), [taskCompleted(i, i)]);
      expect(resumed).toBe(i + 1);
    }
    expect(completion(last!)).toMatchObject({ result: 'done' });
  });
});

describe('rewindHistory', () => {
  it('reruns a call whose late result was recorded without its payload (the store refused it), and drops such a raised event', () => {
    const failed = { type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed', failureDetails: { errorType: 'Error', errorMessage: 'final' } } as HistoryEvent;
    const payloadRefused = 'the store refused to record it (PayloadTooLargeError: too large)';
    const history = new HistoryBuilder({ name: 'O' })
      .started().taskScheduled('Slow').taskScheduled('Flaky').taskScheduled('Kept')
      .step().taskFailed(1, { errorType: 'Error', errorMessage: 'final' }).event(failed)
      .step().event({ type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, payloadRefused })
      .event({ type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'E', payloadRefused })
      .taskCompleted(2, 'kept')
      .build();
    const calls = rewindHistory(history).flatMap((e) => e.type === 'TaskScheduled' ? [`scheduled ${e.eventId}`]
      : e.type === 'TaskCompleted' || e.type === 'TaskFailed' ? [`${e.type} ${e.taskScheduledId}`] : e.type === 'EventRaised' ? ['EventRaised'] : []);
    // Slow (0) and Flaky (1) are made again; Kept (2) keeps its result.
    expect(calls).toEqual(['scheduled 2', 'TaskCompleted 2']);
  });

  it('removes the failures that failed the orchestration and keeps handled (retried) ones', () => {
    const history = new HistoryBuilder({ name: 'O' })
      .started().taskScheduled('Ok').step().taskCompleted(0, 1).taskScheduled('Flaky')
      .step().taskFailed(1, { errorType: 'Error', errorMessage: 'handled' }).timerCreated(T0)
      .step().timerFired(2, T0).taskScheduled('Flaky')
      .step().taskFailed(3, { errorType: 'Error', errorMessage: 'final' })
      .event({ type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed', failureDetails: { errorType: 'Error', errorMessage: 'final' } })
      .build();
    const rewound = rewindHistory(history);
    expect(rewound.some((e) => e.type === 'TaskFailed' && e.taskScheduledId === 1)).toBe(true);
    expect(rewound.some((e) => e.type === 'TaskFailed' && e.taskScheduledId === 3)).toBe(false);
    expect(rewound.some((e) => e.type === 'TaskScheduled' && e.eventId === 3)).toBe(false);
    expect(rewound.some((e) => e.type === 'ExecutionCompleted')).toBe(false);
  });

  it('keeps a call whose failure was followed by its completion (a sub-orchestration rewound on its own) with that result, and reruns the rest', () => {
    const failedBoth = { type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed', failureDetails: { errorType: 'Error', errorMessage: 'kid broke' } } as HistoryEvent;
    const kidFailed = (taskScheduledId: number) => ({ type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp: T0.toISOString(), taskScheduledId, failureDetails: { errorType: 'Error', errorMessage: 'kid broke' } }) as HistoryEvent;
    const history = new HistoryBuilder({ name: 'O' })
      .started().subOrchestrationCreated('Child', 'kid').subOrchestrationCreated('Child', 'other')
      .step().event(kidFailed(0)).event(kidFailed(1)).event(failedBoth)
      .step().subOrchestrationCompleted(0, 'late')
      .build();
    const rewound = rewindHistory(history);
    // The first call keeps its creation and gets its late result; its failure is gone. The second reruns.
    const calls = rewound.flatMap((e) => e.type === 'SubOrchestrationInstanceCreated' ? [`created ${e.eventId}`]
      : e.type === 'SubOrchestrationInstanceCompleted' || e.type === 'SubOrchestrationInstanceFailed' ? [`${e.type} ${e.taskScheduledId}`] : []);
    expect(calls).toEqual(['created 0', 'SubOrchestrationInstanceCompleted 0']);
  });

  const failedFlaky = { type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed', failureDetails: { errorType: 'Error', errorMessage: 'final' } } as HistoryEvent;
  const ignoredAfterFailure: HistoryEvent[] = [
    { type: 'ExecutionSuspended', eventId: -1, timestamp: T0.toISOString() },
    { type: 'ExecutionResumed', eventId: -1, timestamp: T0.toISOString() },
    { type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString(), reason: 'stop' },
    eventRaised('Go', 'raced the failure'),
  ];

  it('drops the terminate, suspend and resume the failed instance ignored, and keeps every raised event and the results of its calls', () => {
    const history = new HistoryBuilder({ name: 'O' })
      .started().taskScheduled('Ok').taskScheduled('Flaky')
      .step().event({ type: 'ExecutionSuspended', eventId: -1, timestamp: T0.toISOString() }).event({ type: 'ExecutionResumed', eventId: -1, timestamp: T0.toISOString() }).eventRaised('Go', 'before')
      .step().taskFailed(1, { errorType: 'Error', errorMessage: 'final' }).event(failedFlaky).eventRaised('Go', 'same step')
      .step().taskCompleted(0, 'ok')
      .build();
    history.push(...ignoredAfterFailure);
    const rewound = rewindHistory(history);
    // Raised while the instance ran (raiseEvent refuses one to a Failed instance): accepted, so never dropped.
    expect(rewound.filter((e) => e.type === 'EventRaised').map((e) => e.input)).toEqual(['before', 'same step', 'raced the failure']);
    expect(rewound.filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed')).toHaveLength(2);
    expect(rewound.some((e) => e.type === 'ExecutionTerminated')).toBe(false);
    expect(rewound.some((e) => e.type === 'TaskCompleted' && e.taskScheduledId === 0)).toBe(true);
  });

  it('drops the suspends no resume followed of a failure not in the history (its record refused too), so the rewound history does not end suspended', () => {
    const suspend = { type: 'ExecutionSuspended', eventId: -1, timestamp: T0.toISOString() } as HistoryEvent;
    const resume = { type: 'ExecutionResumed', eventId: -1, timestamp: T0.toISOString() } as HistoryEvent;
    // Suspended, resumed, suspended again with an event kept: the step that would have recorded the failure was
    // refused with its record, so the history ends there.
    const history = new HistoryBuilder({ name: 'O' }).started().taskScheduled('A')
      .step().event(suspend).event(resume).step().event(suspend).eventRaised('Go', 'kept')
      .build();
    const rewound = rewindHistory(history);
    expect(rewound.filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed').map((e) => e.type))
      .toEqual(['ExecutionSuspended', 'ExecutionResumed']);
    expect(rewound.filter((e) => e.type === 'EventRaised').map((e) => e.input)).toEqual(['kept']);
    expect(keptWhileSuspendedAfter(rewound, 0, rewound.length, false, false)).toBeUndefined();
  });

  it('lets the rewound instance finish when a suspend, resume, terminate or event reached it after it failed, and delivers the event', () => {
    const orchestrator: Orchestrator = function* (ctx) {
      const flaky: string = yield ctx.callActivity('Flaky');
      const go: string = yield ctx.waitForExternalEvent('Go');
      return [flaky, go];
    };
    const cases: [HistoryEvent[], string | undefined][] = [
      [ignoredAfterFailure, 'raced the failure'], [[ignoredAfterFailure[0]!], undefined], [[ignoredAfterFailure[3]!], 'raced the failure'],
    ];
    for (const [ignored, delivered] of cases) {
      const history = new HistoryBuilder({ name: 'O' }).started().taskScheduled('Flaky')
        .step().taskFailed(0, { errorType: 'Error', errorMessage: 'final' }).event(failedFlaky).build();
      history.push(...ignored);
      const execution = run(orchestrator, rewindHistory(history));
      const rewind = execution.step(at(5), [{ type: 'ExecutionRewound', eventId: -1, timestamp: at(5).toISOString() }]);
      expect(rewind.actions).toEqual([{ type: 'ScheduleTask', eventId: 0, name: 'Flaky', attempt: 1 }]);
      // Not suspended by a suspend the failed instance ignored; an event recorded after the failure is buffered.
      const rerun = completion(execution.step(at(6), [taskCompleted(0, 'fixed')]));
      if (delivered !== undefined) {
        expect(rerun).toMatchObject({ orchestrationStatus: 'Completed', result: ['fixed', delivered] });
        continue;
      }
      expect(rerun).toBeUndefined();
      expect(completion(execution.step(at(7), [eventRaised('Go', 'after the rewind')]))).toMatchObject({
        orchestrationStatus: 'Completed', result: ['fixed', 'after the rewind'],
      });
    }
  });

  it('delivers an event that woke the step in which the instance failed once the code is fixed and it is rewound', () => {
    // It waited for Approve; a redeploy made its replay throw; raiseEvent('Approve') was accepted while it ran and woke
    // the step that failed it, so the event is recorded after the failure.
    const history = new HistoryBuilder({ name: 'Approval' }).started()
      .step().event({ ...failedFlaky, failureDetails: { errorType: 'Error', errorMessage: 'redeployed code throws' } } as HistoryEvent)
      .eventRaised('Approve', 'yes')
      .build();
    const fixed: Orchestrator = function* (ctx) {
      const approval: string = yield ctx.waitForExternalEvent('Approve');
      return approval;
    };
    const step = run(fixed, rewindHistory(history)).step(at(5), [{ type: 'ExecutionRewound', eventId: -1, timestamp: at(5).toISOString() }]);
    expect(completion(step)).toMatchObject({ orchestrationStatus: 'Completed', result: 'yes' });
  });
});

describe('an execution that ends with no outcome in its history', () => {
  const failed = (message: string) => ({
    type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed',
    failureDetails: { errorType: 'Error', errorMessage: message },
  }) as HistoryEvent;
  const terminated = { type: 'ExecutionTerminated', eventId: -1, timestamp: T0.toISOString(), reason: 'stop' } as HistoryEvent;
  const rewound = { type: 'ExecutionRewound', eventId: -1, timestamp: at(5).toISOString() } as HistoryEvent;

  it('fails again in its rewind step when a terminate that came after the failure is still in its history', () => {
    const throwing: Orchestrator = function* () {
      throw new Error('own code');
    };
    // A terminate sent while it ran, claimed after it failed: recorded and ignored. A rewind drops it now; a rewind by
    // an earlier version kept it, without the failure, in the history it wrote: that history is replayed here.
    const history = new HistoryBuilder({ name: 'Throws' }).started().event(failed('own code')).step().event(terminated).build();
    expect(rewindHistory(history).some((e) => e.type === 'ExecutionTerminated')).toBe(false);
    const keptByAnEarlierRewind = history.filter((e) => e.type !== 'ExecutionCompleted');
    const step = run(throwing, keptByAnEarlierRewind).step(at(5), [rewound]);
    expect(completion(step)).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorMessage: 'own code' } });
  });

  it('records a replay that now returns, but not when the step terminates it', () => {
    const shorter: Orchestrator = function* (ctx) {
      yield ctx.callActivity('A');
      return 'done';
    };
    // Recorded by code that then waited for an event: this code returns during the replay.
    const history = new HistoryBuilder({ name: 'Shorter' }).started().taskScheduled('A').step().taskCompleted(0).build();
    const raised = run(shorter, history).step(at(5), [eventRaised('Go', 1)]);
    expect(completion(raised)).toMatchObject({ orchestrationStatus: 'Completed', result: 'done' });
    const ended = run(shorter, history).step(at(5), [terminated]);
    expect(completion(ended)).toBeUndefined();
    expect(ended.newEvents.some((e) => e.type === 'ExecutionTerminated')).toBe(true);
  });
});

describe('applyEvent', () => {
  const base: InstanceState = {
    instanceId: 'i', name: 'O', runtimeStatus: 'Pending', createdTime: T0, lastUpdatedTime: T0, executionId: 'e', historyLength: 0, version: 1,
  };
  const ev = (e: Partial<HistoryEvent> & Pick<HistoryEvent, 'type'>) => ({ eventId: -1, timestamp: T0.toISOString(), ...e }) as HistoryEvent;

  it('walks the status through start, suspend, resume, completion', () => {
    let s = applyEvent(base, ev({ type: 'ExecutionStarted', name: 'O', instanceId: 'i', executionId: 'e', input: 1 } as Partial<HistoryEvent> & { type: 'ExecutionStarted' }));
    expect(s).toMatchObject({ runtimeStatus: 'Running', input: 1 });
    s = applyEvent(s, ev({ type: 'ExecutionSuspended' }));
    expect(s.runtimeStatus).toBe('Suspended');
    s = applyEvent(s, ev({ type: 'ExecutionResumed' }));
    expect(s.runtimeStatus).toBe('Running');
    s = applyEvent(s, ev({ type: 'ExecutionCompleted', orchestrationStatus: 'Completed', result: 'r' } as Partial<HistoryEvent> & { type: 'ExecutionCompleted' }));
    expect(s).toMatchObject({ runtimeStatus: 'Completed', output: 'r' });
  });

  it('holds back every suspend and resume of an execution not started yet that changes its status, in order, and gives the status it had back on a resume', () => {
    type Command = Partial<HistoryEvent> & { type: 'ExecutionSuspended' | 'ExecutionResumed' };
    const command = (e: Command) => ev(e) as HistoryEvent & { type: Command['type'] };
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew'] as const) {
      const before: InstanceState = { ...base, runtimeStatus };
      const hold = command({ type: 'ExecutionSuspended', reason: 'hold' });
      const held = applyEvent(before, hold);
      const list = (...commands: HistoryEvent[]) => ({ executionId: 'e', commands });
      expect(held).toEqual({ ...before, runtimeStatus: 'Suspended', heldSuspend: { timestamp: T0.toISOString(), reason: 'hold', resumeTo: runtimeStatus }, held: list(hold) });
      // A repeated suspend (an HTTP retry) changes nothing: not held, so that retries cannot grow the state.
      const later = '2026-01-01T00:00:05.000Z';
      expect(applyEvent(held, command({ type: 'ExecutionSuspended', timestamp: later, reason: 'again' }))).toBe(held);
      // A resume gives the status back and is held after the suspend; a resume with nothing suspended is not held; a
      // suspend after them is, and its time and reason stand beside the commands, for a worker of an earlier version.
      const resume = command({ type: 'ExecutionResumed', timestamp: '2026-01-01T00:00:09.000Z', reason: 'go' });
      const resumed = applyEvent(held, resume);
      expect(resumed).toEqual({ ...before, heldSuspend: { timestamp: T0.toISOString(), reason: 'hold', resumeTo: runtimeStatus, resumed: resume }, held: list(hold, resume) });
      expect(applyEvent(resumed, command({ type: 'ExecutionResumed', reason: 'retry' }))).toBe(resumed);
      const third = command({ type: 'ExecutionSuspended', timestamp: later, reason: 'third' });
      expect(applyEvent(resumed, third)).toEqual({
        ...before, runtimeStatus: 'Suspended', heldSuspend: { timestamp: later, reason: 'third', resumeTo: runtimeStatus }, held: list(hold, resume, third),
      });
      const bare = command({ type: 'ExecutionSuspended', timestamp: later });
      expect(applyEvent(resumed, bare)).toMatchObject({ heldSuspend: { timestamp: later, resumeTo: runtimeStatus }, held: list(hold, resume, bare) });
      for (const end of [
        ev({ type: 'ExecutionStarted', name: 'O', instanceId: 'i', executionId: 'e' } as Partial<HistoryEvent> & { type: 'ExecutionStarted' }),
        ev({ type: 'ExecutionTerminated' }),
      ]) {
        expect(applyEvent(resumed, end)).not.toHaveProperty('heldSuspend');
        expect(applyEvent(resumed, end)).not.toHaveProperty('held');
      }
      // Started while suspended: it stays Suspended and lets the held commands go (recorded ahead of the start by then);
      // so does a terminate before the start.
      const started = applyEvent(held, ev({ type: 'ExecutionStarted', name: 'O', instanceId: 'i', executionId: 'e' } as Partial<HistoryEvent> & { type: 'ExecutionStarted' }));
      expect(started.runtimeStatus).toBe('Suspended');
      expect(started).not.toHaveProperty('heldSuspend');
      expect(started).not.toHaveProperty('held');
      expect(applyEvent(started, ev({ type: 'ExecutionResumed' })).runtimeStatus).toBe('Running');
      const terminated = applyEvent(held, ev({ type: 'ExecutionTerminated', reason: 'x' } as Partial<HistoryEvent> & { type: 'ExecutionTerminated' }));
      expect(terminated).toMatchObject({ runtimeStatus: 'Terminated', output: 'x' });
      expect(terminated).not.toHaveProperty('heldSuspend');
      expect(terminated).not.toHaveProperty('held');
      // A resume alone changes nothing, and holds nothing.
      expect(applyEvent(before, command({ type: 'ExecutionResumed' }))).toBe(before);
    }
    // A started execution holds nothing back: its commands are in its history.
    expect(applyEvent({ ...base, runtimeStatus: 'Running' }, ev({ type: 'ExecutionSuspended' }))).not.toHaveProperty('heldSuspend');
    const running: InstanceState = { ...base, runtimeStatus: 'Running', historyLength: 3 };
    expect(applyEvent(running, ev({ type: 'ExecutionResumed' }))).toBe(running);
    // Nor does a resume in the step that continues a started execution as new (its history has it).
    const continued: InstanceState = { ...base, runtimeStatus: 'ContinuedAsNew', historyLength: 3 };
    expect(applyEvent(continued, ev({ type: 'ExecutionResumed' }))).toBe(continued);
  });

  it('reads the suspend and resume an earlier version held (no commands) as the first commands', () => {
    const suspend = { type: 'ExecutionSuspended' as const, eventId: -1, timestamp: T0.toISOString(), reason: 'old' };
    const resume = { type: 'ExecutionResumed' as const, eventId: -1, timestamp: '2026-01-01T00:00:01.000Z' };
    const stored: InstanceState = { ...base, heldSuspend: { timestamp: suspend.timestamp, reason: 'old', resumeTo: 'Pending', resumed: resume } };
    expect(heldCommands(stored)).toEqual([suspend, resume]);
    expect(heldCommands({ ...stored, runtimeStatus: 'Suspended', heldSuspend: { timestamp: suspend.timestamp, reason: 'old', resumeTo: 'Pending' } })).toEqual([suspend]);
    const next = ev({ type: 'ExecutionSuspended', reason: 'new' });
    expect(heldCommands(applyEvent(stored, next))).toEqual([suspend, resume, next]);
  });

  it('reads a resume an earlier version added to the commands this one held (after their last suspend) as the last command', () => {
    // A tab not reloaded yet resumes by copying the held object and adding `resumed`, the status given back: the list
    // still ends with the suspend it resumed. The start's step records the resume after it and starts the execution.
    const resumeAsBefore = (s: InstanceState, resume: HistoryEvent & { type: 'ExecutionResumed' }): InstanceState => {
      const { heldSuspend, ...rest } = s;
      return { ...rest, runtimeStatus: heldSuspend!.resumeTo, heldSuspend: { ...heldSuspend!, resumed: resume } };
    };
    const start = ev({ type: 'ExecutionStarted', name: 'O', instanceId: 'i', executionId: 'e' } as Partial<HistoryEvent> & { type: 'ExecutionStarted' });
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew'] as const) {
      const before: InstanceState = { ...base, runtimeStatus };
      const s1 = ev({ type: 'ExecutionSuspended', reason: 'new tab' });
      const r1 = ev({ type: 'ExecutionResumed', timestamp: '2026-01-01T00:00:01.000Z', reason: 'new tab' });
      const s2 = ev({ type: 'ExecutionSuspended', timestamp: '2026-01-01T00:00:02.000Z' });
      const old = ev({ type: 'ExecutionResumed', timestamp: '2026-01-01T00:00:03.000Z', reason: 'old tab' }) as HistoryEvent & { type: 'ExecutionResumed' };
      for (const commands of [[s1], [s1, r1, s2]]) {
        const suspended = commands.reduce(applyEvent, before);
        expect(suspended.runtimeStatus).toBe('Suspended');
        const resumed = resumeAsBefore(suspended, old);
        expect(heldCommands(resumed)).toEqual([...commands, old]);
        // The start that takes it runs: the events before it leave the status the resume gave back.
        expect([...heldCommands(resumed), start].reduce(applyEvent, before).runtimeStatus).toBe('Running');
        // This version's next command comes after that resume.
        const s3 = ev({ type: 'ExecutionSuspended', timestamp: '2026-01-01T00:00:04.000Z', reason: 'new tab again' });
        expect(heldCommands(applyEvent(resumed, s3))).toEqual([...commands, old, s3]);
      }
      // This version never stores that shape: its resume is the last of its commands, and a suspend after it holds no
      // resume beside them.
      const own = applyEvent(applyEvent(before, s1), old);
      expect(own.held?.commands.at(-1)).toBe(old);
      expect(own.heldSuspend).not.toHaveProperty('commands');
      expect(applyEvent(own, s2).heldSuspend).not.toHaveProperty('resumed');
    }
  });

  // A tab not reloaded yet (the release before `commands` were held, on a shared IndexedDB) commits a suspend or a
  // resume of an execution not started yet with that release's applyEvent: it keeps every field of the state it read
  // but the two it writes. A suspend writes a `heldSuspend` of its own (the latest suspend alone); a resume copies it
  // and adds `resumed`.
  const asBefore = (s: InstanceState, e: HistoryEvent & { type: 'ExecutionSuspended' | 'ExecutionResumed' }): InstanceState => {
    if (e.type === 'ExecutionSuspended') {
      const resumeTo = (s.runtimeStatus === 'Suspended' && s.heldSuspend?.resumeTo) || s.runtimeStatus;
      if (resumeTo !== 'Pending' && resumeTo !== 'ContinuedAsNew') return isTerminalStatus(s.runtimeStatus) ? s : { ...s, runtimeStatus: 'Suspended' };
      const { timestamp, reason } = e;
      return { ...s, runtimeStatus: 'Suspended', heldSuspend: reason === undefined ? { timestamp, resumeTo } : { timestamp, reason, resumeTo } };
    }
    if (s.runtimeStatus !== 'Suspended') return s;
    const { heldSuspend, ...rest } = s;
    if (!heldSuspend) return { ...rest, runtimeStatus: 'Running' };
    return { ...rest, runtimeStatus: heldSuspend.resumeTo, heldSuspend: { ...heldSuspend, resumed: e } };
  };
  const startOf = (executionId: string) =>
    ev({ type: 'ExecutionStarted', name: 'O', instanceId: 'i', executionId } as Partial<HistoryEvent> & { type: 'ExecutionStarted' });

  it('records every command this version and a tab of the release before it held, once each, in order, the last giving the status', () => {
    // Each row: the commands in the order committed, by this version (new) or the older tab (old), and those the
    // start records ahead of it. A command that changes nothing (a resume of one not suspended, a suspend of one
    // suspended by this version) is not held. What the older tab held before its latest suspend is lost by its own
    // rule (its suspend replaces what it held), and a suspend of its own of one suspended cannot be told from a
    // resume and a suspend of its own: both read as one suspend more.
    const rows: Array<[string, number[]]> = [
      ['new s, new r, old s', [0, 1, 2]],
      ['new s, new r, old s, old r', [0, 1, 2, 3]],
      ['new s, new r, old s, new r', [0, 1, 2, 3]],
      ['new s, new r, old s, new r, old s', [0, 1, 2, 3, 4]],
      ['new s, new r, old s, new r, new s, old r, old s', [0, 1, 2, 3, 4, 6]],
      ['new s, old r', [0, 1]],
      ['new s, old r, new s', [0, 1, 2]],
      ['new s, old r, new s, old r, new s', [0, 1, 2, 3, 4]],
      ['old s, new r', [0, 1]],
      ['old s, new r, new s', [0, 1, 2]],
      ['old s, old r, new s, new r', [0, 1, 2, 3]],
      ['old s, new r, old s, old r', [0, 1, 2, 3]],
      // Repeated: this version holds a retry of neither; the older tab's retry of a resume changes nothing either.
      ['new s, new s, new r, new r, old r, old s', [0, 2, 5]],
      ['new s, new r, old r, old s, new s', [0, 1, 3]],
      ['new s, new r, old s, new s, old r', [0, 1, 2, 4]],
      // An older tab's suspend of one suspended: read as one suspend more; so is its resume and suspend (the resume lost).
      ['new s, old s', [0, 1]],
      ['new s, old s, old s, old s', [0, 3]],
      ['new s, old r, old s', [0, 2]],
      ['new s, new r, new s, old r, old s, old r', [0, 1, 2, 4, 5]],
    ];
    for (const runtimeStatus of ['Pending', 'ContinuedAsNew'] as const) {
      const before: InstanceState = { ...base, runtimeStatus };
      for (const [row, kept] of rows) {
        const steps = row.split(', ');
        const commands = steps.map((step, i) => ev({
          type: step.endsWith('s') ? 'ExecutionSuspended' : 'ExecutionResumed', timestamp: at(1000 * (i + 1)).toISOString(), reason: `${step} ${i}`,
        }) as HistoryEvent & { type: 'ExecutionSuspended' | 'ExecutionResumed' });
        const what = `${runtimeStatus}: ${row}`;
        const s = commands.reduce((state, command, i) => (steps[i]!.startsWith('old') ? asBefore(state, command) : applyEvent(state, command)), before);
        const recorded = kept.map((i) => commands[i]);
        expect(heldCommands(s), what).toEqual(recorded);
        // The status the instance shows is the last command's; the start records the commands ahead of it and starts
        // suspended exactly when the last is a suspend.
        const suspended = recorded.at(-1)!.type === 'ExecutionSuspended';
        expect(s.runtimeStatus, what).toBe(suspended ? 'Suspended' : runtimeStatus);
        expect([...heldCommands(s), startOf('e')].reduce(applyEvent, before).runtimeStatus, what).toBe(suspended ? 'Suspended' : 'Running');
        // This version's next command comes after them, and a retry of it holds nothing.
        const next = ev({ type: suspended ? 'ExecutionResumed' : 'ExecutionSuspended', timestamp: at(60_000).toISOString(), reason: 'next' }) as HistoryEvent & { type: 'ExecutionSuspended' | 'ExecutionResumed' };
        const after = applyEvent(s, next);
        expect(heldCommands(after), what).toEqual([...recorded, next]);
        expect(applyEvent(after, { ...next, timestamp: at(61_000).toISOString() }), what).toBe(after);
        // A terminate among them ends the execution: the client records what it holds ahead of the termination, what
        // it holds goes, and no command after it holds anything.
        const terminate = ev({ type: 'ExecutionTerminated', timestamp: at(62_000).toISOString() }) as HistoryEvent & { type: 'ExecutionTerminated' };
        const decided = decideTerminate({ state: s, event: terminate, now: at(62_000), newId: () => 'id' });
        if (decided.kind !== 'commit') throw new Error('expected a commit');
        const appended = decided.writeSet.requests.find((r) => r.type === 'appendHistory');
        expect(appended?.type === 'appendHistory' && appended.events.slice(1, -1), what).toEqual([...recorded, terminate]);
        expect(decided.state, what).not.toHaveProperty('held');
        const terminated = applyEvent(after, ev({ type: 'ExecutionTerminated' }));
        expect(terminated, what).not.toHaveProperty('held');
        expect(heldCommands(terminated), what).toEqual([]);
        for (const command of commands) {
          expect(applyEvent(terminated, command), what).toBe(terminated);
          expect(heldCommands(asBefore(terminated, command)), what).toEqual([]);
        }
      }
    }
  });

  it('holds no more for retries, whichever version sends them: the state stays the size the status changes make it', () => {
    const command = (type: 'ExecutionSuspended' | 'ExecutionResumed', i: number, by: string) =>
      ev({ type, timestamp: at(1000 * i).toISOString(), reason: `${by} ${i}` }) as HistoryEvent & { type: 'ExecutionSuspended' | 'ExecutionResumed' };
    const held = [command('ExecutionSuspended', 1, 'new'), command('ExecutionResumed', 2, 'new')].reduce(applyEvent, base);
    const suspended = applyEvent(held, command('ExecutionSuspended', 3, 'new'));
    for (const [start, retry] of [[held, 'ExecutionResumed'], [suspended, 'ExecutionSuspended']] as const) {
      let s = start;
      for (let i = 10; i < 2010; i += 2) s = applyEvent(asBefore(s, command(retry, i, 'old')), command(retry, i + 1, 'new'));
      // A resume retried changes nothing; the older tab's suspend of one suspended reads as one suspend more, its last.
      expect(heldCommands(s)).toEqual(retry === 'ExecutionResumed' ? heldCommands(start) : [...heldCommands(start), command(retry, 2008, 'old')]);
      expect(JSON.stringify(s).length).toBeLessThan(JSON.stringify(start).length + 200);
    }
  });

  it('keeps the commands held out of the next execution when a tab of the release before takes the start and a continueAsNew', () => {
    // That tab's worker keeps the list through the start (a field it does not know) and the continueAsNew; a suspend by
    // it of the next execution holds that suspend alone, which is all the next execution holds.
    const s1 = ev({ type: 'ExecutionSuspended', reason: 'first execution' }) as HistoryEvent & { type: 'ExecutionSuspended' };
    const r1 = ev({ type: 'ExecutionResumed', timestamp: at(1000).toISOString() }) as HistoryEvent & { type: 'ExecutionResumed' };
    const held = applyEvent(applyEvent(base, s1), r1);
    const { heldSuspend: _h, ...startedAsBefore } = { ...held, runtimeStatus: 'Running' as const, historyLength: 4 };
    const next: InstanceState = { ...startedAsBefore, runtimeStatus: 'ContinuedAsNew', executionId: 'e2', historyLength: 0 };
    expect(next.held?.commands).toEqual([s1, r1]);
    expect(heldCommands(next)).toEqual([]);
    const s2 = ev({ type: 'ExecutionSuspended', timestamp: at(2000).toISOString(), reason: 'next execution' }) as HistoryEvent & { type: 'ExecutionSuspended' };
    expect(heldCommands(asBefore(next, s2))).toEqual([s2]);
    expect(heldCommands(applyEvent(next, s2))).toEqual([s2]);
    expect(applyEvent(next, s2).held).toEqual({ executionId: 'e2', commands: [s2] });
  });

  it('reads the commands a version of 2026-12-02 and 03 held in heldSuspend.commands', () => {
    const s1 = ev({ type: 'ExecutionSuspended', reason: 'a' }) as HistoryEvent & { type: 'ExecutionSuspended' };
    const r1 = ev({ type: 'ExecutionResumed', timestamp: at(1000).toISOString() }) as HistoryEvent & { type: 'ExecutionResumed' };
    const stored: InstanceState = { ...base, heldSuspend: { timestamp: s1.timestamp, reason: 'a', resumeTo: 'Pending', resumed: r1, commands: [s1, r1] } };
    expect(heldCommands(stored)).toEqual([s1, r1]);
    const s2 = ev({ type: 'ExecutionSuspended', timestamp: at(2000).toISOString() }) as HistoryEvent & { type: 'ExecutionSuspended' };
    expect(applyEvent(stored, s2)).toEqual({
      ...base, runtimeStatus: 'Suspended', heldSuspend: { timestamp: s2.timestamp, resumeTo: 'Pending' }, held: { executionId: 'e', commands: [s1, r1, s2] },
    });
    // One that held a resume of one not suspended (a retry then), no suspend beside it.
    const resumesOnly: InstanceState = { ...base, heldSuspend: { resumeTo: 'Pending', commands: [r1] } };
    expect(heldCommands(resumesOnly)).toEqual([r1]);
  });

  it('gives a resume before the start the status the instance had, not the one a held suspend left behind kept', () => {
    // Stored by a worker of an earlier version that copied the field through the start and a continueAsNew: the next
    // execution not started (ContinuedAsNew, no history), not Suspended, holding the first execution's suspend.
    const left: InstanceState = {
      ...base, runtimeStatus: 'ContinuedAsNew', heldSuspend: { timestamp: T0.toISOString(), reason: 'old', resumeTo: 'Pending' },
    };
    const later = '2026-01-01T00:00:05.000Z';
    const suspended = applyEvent(left, ev({ type: 'ExecutionSuspended', timestamp: later, reason: 'new' } as Partial<HistoryEvent> & { type: 'ExecutionSuspended' }));
    const suspend = { type: 'ExecutionSuspended', eventId: -1, timestamp: later, reason: 'new' };
    expect(suspended).toEqual({
      ...left, runtimeStatus: 'Suspended', heldSuspend: { timestamp: later, reason: 'new', resumeTo: 'ContinuedAsNew' }, held: { executionId: 'e', commands: [suspend] },
    });
    expect(applyEvent(suspended, ev({ type: 'ExecutionResumed', timestamp: later })).runtimeStatus).toBe('ContinuedAsNew');
  });

  it('lets a held suspend left behind by an earlier version\u2019s start go at the next step, so a resume makes it Running', () => {
    // Stored by a worker whose ExecutionStarted kept the field: started (a history), Suspended, the suspend still held.
    const left: InstanceState = {
      ...base, runtimeStatus: 'Suspended', historyLength: 4, heldSuspend: { timestamp: T0.toISOString(), resumeTo: 'Pending' },
    };
    const stepped = [ev({ type: 'OrchestratorStarted' }), ev({ type: 'ExecutionResumed' })].reduce(applyEvent, left);
    expect(stepped.runtimeStatus).toBe('Running');
    expect(stepped).not.toHaveProperty('heldSuspend');
    // Before the start (no history yet) a step keeps it: the suspend is still to be recorded ahead of the start.
    const waiting: InstanceState = { ...left, historyLength: 0 };
    expect(applyEvent(waiting, ev({ type: 'OrchestratorStarted' }))).toBe(waiting);
  });

  it('keeps a terminal status against late terminate and suspend events', () => {
    const done: InstanceState = { ...base, runtimeStatus: 'Completed', output: 'r' };
    expect(applyEvent(done, ev({ type: 'ExecutionTerminated', reason: 'x' } as Partial<HistoryEvent> & { type: 'ExecutionTerminated' }))).toBe(done);
    expect(applyEvent(done, ev({ type: 'ExecutionSuspended' }))).toBe(done);
  });
});
