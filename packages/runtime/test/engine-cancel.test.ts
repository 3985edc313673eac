import { describe, expect, it } from 'vitest';
import { OrchestrationExecution, type StepResult } from '../src/engine/orchestration-execution.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { rewindHistory } from '../src/engine/rewind-history.js';
import { CanceledError, isCancellation } from '../src/model/errors/canceled-error.js';
import { TaskFailedError } from '../src/model/errors/task-failed-error.js';
import type { ExecutionCancelRequestedEvent, HistoryEvent } from '../src/model/history-event.js';
import { ReplayFlag } from '../src/engine/flags.js';
import { HistoryBuilder, eventRaised, executionStarted, taskCompleted, taskFailed, timerFired } from '../src/testing/history-builder.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const limit = { customStatusLimitBytes: 16 * 1024 };

function run(orchestrator: Orchestrator, history: HistoryEvent[] = []) {
  const execution = new OrchestrationExecution(orchestrator, limit);
  execution.replay(history);
  return execution;
}

function cancel(reason?: string): ExecutionCancelRequestedEvent {
  return { type: 'ExecutionCancelRequested', eventId: -1, timestamp: T0.toISOString(), ...(reason === undefined ? {} : { reason }) };
}

function completion(step: StepResult) {
  return step.newEvents.find((e) => e.type === 'ExecutionCompleted') as Extract<HistoryEvent, { type: 'ExecutionCompleted' }> | undefined;
}

/** Reserves, waits for payment; on cancel releases the reservation and ends with the cancel's reason. */
const order: Orchestrator = function* (ctx) {
  yield ctx.callActivity('Reserve');
  try {
    yield ctx.waitForExternalEvent('Paid');
    return 'shipped';
  } catch (error) {
    if (!(error instanceof CanceledError) || !ctx.isCancellationRequested) throw error;
    yield ctx.callActivity('Release', error.reason);
    return `released: ${error.reason}`;
  }
};

/** The history of `order` up to its wait for payment. */
const waiting = () => new HistoryBuilder({ name: 'Order' }).started().taskScheduled('Reserve').step(1).taskCompleted(0).build();

describe('cooperative cancellation in the engine', () => {
  it('throws CanceledError at the yield the orchestrator waits at; it compensates with a new activity and completes', () => {
    const execution = run(order, waiting());
    const step = execution.step(at(10), [cancel('withdrawn')]);
    expect(step.newEvents.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionCancelRequested', 'TaskScheduled', 'OrchestratorCompleted']);
    expect(step.actions).toEqual([{ type: 'ScheduleTask', eventId: 1, name: 'Release', input: 'withdrawn', attempt: 1 }]);
    expect(step.isFinished).toBe(false);
    const done = execution.step(at(20), [taskCompleted(1)]);
    expect(completion(done)).toMatchObject({ orchestrationStatus: 'Completed', result: 'released: withdrawn' });
  });

  it('replays a history that holds the cancel: the orchestrator meets it at the same yield and schedules nothing again', () => {
    const history = new HistoryBuilder({ name: 'Order' })
      .started().taskScheduled('Reserve').step(1).taskCompleted(0)
      .step(1).event(cancel('withdrawn')).taskScheduled('Release', 'withdrawn')
      .build();
    const execution = new OrchestrationExecution(order, limit);
    expect(execution.replay(history)).toBe(history.length);
    expect(execution.inspection.phase.kind).toBe('running');
    const done = execution.step(at(20), [taskCompleted(1)]);
    expect(done.actions).toEqual([]);
    expect(completion(done)).toMatchObject({ orchestrationStatus: 'Completed', result: 'released: withdrawn' });
  });

  it('fails the instance with errorType CanceledError when the error escapes the orchestrator', () => {
    const plain: Orchestrator = function* (ctx) {
      return yield ctx.waitForExternalEvent('Never');
    };
    const step = run(plain).step(T0, [executionStarted('Plain'), cancel('stop')]);
    const ended = completion(step);
    expect(ended).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorType: 'CanceledError', errorMessage: 'Canceled: stop' } });
    expect(isCancellation(ended!.failureDetails)).toBe(true);
    const bare = completion(run(plain).step(T0, [executionStarted('Plain'), cancel()]));
    expect(bare?.failureDetails).toMatchObject({ errorType: 'CanceledError', errorMessage: 'Canceled' });
  });

  it('delivers a cancel that came before the start at the first yield, with isCancellationRequested already true', () => {
    const seen: boolean[] = [];
    const orch: Orchestrator = function* (ctx) {
      seen.push(ctx.isCancellationRequested);
      try {
        yield ctx.callActivity('Work');
      } catch (error) {
        return isCancellation(error) ? 'canceled before it ran' : 'other';
      }
      return 'worked';
    };
    // A continueAsNew's start queued behind a cancel: the cancel is recorded ahead of the start.
    const step = run(orch).step(T0, [cancel(), executionStarted('Orch')]);
    expect(completion(step)).toMatchObject({ orchestrationStatus: 'Completed', result: 'canceled before it ran' });
    expect(seen).toEqual([true]);
    // Replayed, the same: the recorded history ends where it ended.
    const replayed = new OrchestrationExecution(orch, limit);
    replayed.replay(step.newEvents);
    expect(replayed.isFinished).toBe(true);
  });

  it('delivers a cancel that came in the batch of the start (a Pending instance) at the first yield', () => {
    const step = run(order).step(T0, [executionStarted('Order'), cancel('early')]);
    // The first yield is the reservation: the cancel escapes (the try begins after it).
    expect(step.actions.map((a) => a.type === 'ScheduleTask' && a.name)).toEqual(['Reserve']);
    expect(completion(step)).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorType: 'CanceledError' } });
  });

  it('records and ignores a second cancel: the orchestrator is told once', () => {
    let caught = 0;
    const orch: Orchestrator = function* (ctx) {
      for (;;) {
        try {
          return yield ctx.waitForExternalEvent('Done');
        } catch {
          caught++;
        }
      }
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('Orch'), cancel('first')]);
    const second = execution.step(at(1), [cancel('second')]);
    expect(second.newEvents.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionCancelRequested', 'OrchestratorCompleted']);
    expect(caught).toBe(1);
    expect(completion(execution.step(at(2), [eventRaised('Done', 'ok')]))).toMatchObject({ orchestrationStatus: 'Completed', result: 'ok' });
  });

  it('holds a cancel that reaches a suspended execution until the resume', () => {
    const execution = run(order, waiting());
    const suspended = execution.step(at(5), [{ type: 'ExecutionSuspended', eventId: -1, timestamp: T0.toISOString() }, cancel('later')]);
    expect(suspended.actions).toEqual([]);
    const resumed = execution.step(at(6), [{ type: 'ExecutionResumed', eventId: -1, timestamp: T0.toISOString() }]);
    expect(resumed.actions).toEqual([{ type: 'ScheduleTask', eventId: 1, name: 'Release', input: 'later', attempt: 1 }]);
  });

  it('throws into a Task.any of a timer and an event, whichever would have won', () => {
    const orch: Orchestrator = function* (ctx) {
      const timer = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
      const event = ctx.waitForExternalEvent('Go');
      try {
        yield ctx.Task.any([timer, event]);
        return 'raced';
      } catch (error) {
        timer.cancel();
        return isCancellation(error) ? 'canceled' : 'failed';
      }
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('Orch')]);
    expect(completion(execution.step(at(1), [cancel()]))).toMatchObject({ orchestrationStatus: 'Completed', result: 'canceled' });
  });

  it('leaves the abandoned task alone: its result completes it later, and yielding it again gives that result', () => {
    const orch: Orchestrator = function* (ctx) {
      const slow = ctx.callActivity('Slow');
      try {
        yield slow;
      } catch {
        return `after cancel: ${String(yield slow)}`;
      }
      return 'no cancel';
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('Orch')]);
    expect(execution.step(at(1), [cancel()]).actions).toEqual([]);
    expect(completion(execution.step(at(2), [taskCompleted(0, 'late')]))).toMatchObject({ result: 'after cancel: late' });
  });

  describe('a call with retries made before the cancel starts no new attempt', () => {
    /** Charges with retries; on cancel refunds (with retries too) and ends with what the charge call said. */
    const charge: Orchestrator = function* (ctx) {
      const retry = { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5 };
      try {
        return yield ctx.callActivityWithRetry('Charge', retry);
      } catch (error) {
        if (!ctx.isCancellationRequested) throw error;
        yield ctx.callActivityWithRetry('Refund', retry);
        return 'refunded';
      }
    };
    const types = (step: StepResult) => step.actions.map((a) => (a.type === 'ScheduleTask' ? `${a.name}#${a.attempt}` : a.type));

    it('a retry timer that fires after the cancel fails the call with the last error, while the compensation retries', () => {
      const execution = run(charge);
      execution.step(T0, [executionStarted('Charge')]);
      expect(types(execution.step(at(1), [taskFailed(0, 'declined')]))).toEqual(['CreateTimer']); // timer #1
      expect(types(execution.step(at(2), [cancel('withdrawn')]))).toEqual(['Refund#1']); // #2
      // The charge's retry timer fires: no second charge.
      expect(types(execution.step(at(1002), [timerFired(1, at(1001))]))).toEqual([]);
      // The refund, called after the cancel, retries as its options say.
      expect(types(execution.step(at(1003), [taskFailed(2, 'busy')]))).toEqual(['CreateTimer']);
      expect(types(execution.step(at(2004), [timerFired(3, at(2003))]))).toEqual(['Refund#2']);
      expect(completion(execution.step(at(2005), [taskCompleted(4)]))).toMatchObject({ orchestrationStatus: 'Completed', result: 'refunded' });
    });

    it('an attempt that fails after the cancel fails the call: no retry timer, and a replay of that history agrees', () => {
      const yieldsAgain: Orchestrator = function* (ctx) {
        const call = ctx.callActivityWithRetry('Charge', { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5 });
        try {
          return yield call;
        } catch (error) {
          if (!isCancellation(error)) throw error;
        }
        try {
          return yield call; // the charge's own outcome, once it has one
        } catch (error) {
          return `charge failed: ${(error as Error).message}`;
        }
      };
      const execution = run(yieldsAgain);
      const history = [...execution.step(T0, [executionStarted('Charge')]).newEvents, ...execution.step(at(1), [cancel()]).newEvents];
      const failed = execution.step(at(2), [taskFailed(0, 'declined')]);
      history.push(...failed.newEvents);
      expect(failed.actions).toEqual([]);
      expect(completion(failed)).toMatchObject({ orchestrationStatus: 'Completed', result: expect.stringContaining('declined') });
      const cold = new OrchestrationExecution(yieldsAgain, limit);
      expect(cold.replay(history)).toBe(history.length);
      expect(cold.inspection.phase.kind).toBe('finished');
    });

    it('a sub-orchestration canceled by id is not called again by its parent\'s retries; an activity error of that name is retried', () => {
      const canceled = { errorType: 'CanceledError', errorMessage: 'Canceled: by id' };
      const parent: Orchestrator = function* (ctx) {
        try {
          return yield ctx.callSubOrchestratorWithRetry('Child', { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 3 });
        } catch (error) {
          return isCancellation(error) ? 'child canceled' : 'child failed';
        }
      };
      const execution = run(parent);
      execution.step(T0, [executionStarted('Parent')]);
      const failed = execution.step(at(1), [{ type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, failureDetails: canceled }]);
      expect(failed.actions).toEqual([]);
      expect(completion(failed)).toMatchObject({ orchestrationStatus: 'Completed', result: 'child canceled' });

      const fetching: Orchestrator = function* (ctx) {
        return yield ctx.callActivityWithRetry('Fetch', { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 3 });
      };
      const activity = run(fetching);
      activity.step(T0, [executionStarted('Fetching')]);
      const aborted = activity.step(at(1), [{ type: 'TaskFailed', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, failureDetails: canceled }]);
      expect(types(aborted)).toEqual(['CreateTimer']);
    });

    it('a history recorded before the flag keeps retrying after the cancel', () => {
      const flags = Object.values(ReplayFlag).filter((f) => f !== ReplayFlag.NoRetryAfterCancel);
      const built = new HistoryBuilder({ name: 'Charge' }).started().taskScheduled('Charge').build();
      const history = [{ ...built[0]!, replayFlags: flags } as HistoryEvent, ...built.slice(1)];
      const execution = run(charge, history);
      expect(types(execution.step(at(1), [taskFailed(0, 'declined')]))).toEqual(['CreateTimer']);
      execution.step(at(2), [cancel()]);
      expect(types(execution.step(at(1002), [timerFired(1, at(1001))]))).toEqual(['Charge#2']);
    });
  });

  it('records and ignores a cancel that reaches a finished execution', () => {
    const quick: Orchestrator = function* () {
      return 'done';
    };
    const execution = run(quick);
    execution.step(T0, [executionStarted('Quick')]);
    const late = execution.step(at(1), [cancel()]);
    expect(late.newEvents.map((e) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionCancelRequested', 'OrchestratorCompleted']);
  });

  it('keeps the cancel in a rewound history: the rerun compensation meets it where the failed one did', () => {
    const failedCompensation = new HistoryBuilder({ name: 'Order' })
      .started().taskScheduled('Reserve').step(1).taskCompleted(0)
      .step(1).event(cancel('withdrawn')).taskScheduled('Release', 'withdrawn')
      .step(1).taskFailed(1, { errorType: 'Error', errorMessage: 'down' })
      .event({ type: 'ExecutionCompleted', eventId: -1, timestamp: T0.toISOString(), orchestrationStatus: 'Failed', failureDetails: { errorType: 'TaskFailedError', errorMessage: 'x' } })
      .build();
    const rewound = rewindHistory(failedCompensation, undefined);
    expect(rewound.some((e) => e.type === 'ExecutionCancelRequested')).toBe(true);
    const execution = new OrchestrationExecution(order, limit);
    execution.replay(rewound);
    const rerun = execution.step(at(30), []);
    expect(rerun.actions).toEqual([{ type: 'ScheduleTask', eventId: 1, name: 'Release', input: 'withdrawn', attempt: 1 }]);
  });
});

describe('isCancellation', () => {
  it('holds for a CanceledError, a failed sub-orchestration that was canceled and failure details of a cancel', () => {
    expect(isCancellation(new CanceledError('Canceled'))).toBe(true);
    expect(isCancellation(Object.assign(new Error('Canceled'), { name: 'CanceledError', code: 'canceled' }))).toBe(true);
    expect(isCancellation(new TaskFailedError('child failed', { name: 'Child', taskScheduledId: 0 }, { errorType: 'CanceledError', errorMessage: 'Canceled' }))).toBe(true);
    expect(isCancellation({ errorType: 'CanceledError', errorMessage: 'Canceled' })).toBe(true);
    expect(new CanceledError('Canceled')).toMatchObject({ code: 'canceled', name: 'CanceledError' });
  });

  it('does not hold for an activity that failed with an error named CanceledError (an aborted request): no cancel reached the instance', () => {
    let seen: boolean | undefined;
    const orch: Orchestrator = function* (ctx) {
      try {
        return yield ctx.callActivity('Fetch');
      } catch (error) {
        seen = isCancellation(error);
        return 'handled';
      }
    };
    const execution = run(orch);
    execution.step(T0, [executionStarted('Orch')]);
    execution.step(at(1), [{ type: 'TaskFailed', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, failureDetails: { errorType: 'CanceledError', errorMessage: 'canceled' } }]);
    expect(seen).toBe(false);
  });

  it('does not hold for other errors and values', () => {
    expect(isCancellation(new Error('x'))).toBe(false);
    expect(isCancellation(new TaskFailedError('x'))).toBe(false);
    expect(isCancellation({ errorType: 'Error', errorMessage: 'Canceled' })).toBe(false);
    expect(isCancellation(undefined)).toBe(false);
    expect(isCancellation('CanceledError')).toBe(false);
  });
});
