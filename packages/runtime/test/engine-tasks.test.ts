import { describe, expect, it, vi } from 'vitest';
import { filter, firstValueFrom, skip } from 'rxjs';
import { DurableTask } from '../src/engine/durable-task.js';
import { OrchestrationExecution, type StepResult } from '../src/engine/orchestration-execution.js';
import type { OrchestrationContext, Orchestrator } from '../src/engine/orchestration-context.js';
import { Task } from '../src/engine/task.js';
import type { WhenAllTask } from '../src/engine/when-all-task.js';
import { WhenAnyTask } from '../src/engine/when-any-task.js';
import { ReplayFlag } from '../src/engine/flags.js';
import { MisuseMarks } from '../src/engine/misuse-marks.js';
import { InvalidArgumentError } from '../src/model/errors/invalid-argument-error.js';
import { OrchestrationError } from '../src/model/errors/orchestration-error.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { HistoryBuilder, eventRaised, executionStarted, taskCompleted, taskFailed, timerFired } from '../src/testing/history-builder.js';
import { startedRuntimes } from './started-runtimes.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const limit = { customStatusLimitBytes: 16 * 1024 };
const { start } = startedRuntimes();

/** An execution of `orchestrator` that records every event of its steps, so a replay of them can be checked. */
function live(orchestrator: Orchestrator) {
  const execution = new OrchestrationExecution(orchestrator, limit);
  execution.replay([]);
  const history: HistoryEvent[] = [];
  return {
    execution,
    history,
    step(ms: number, events: HistoryEvent[]): StepResult {
      const step = execution.step(at(ms), events);
      history.push(...step.newEvents);
      return step;
    },
  };
}

function completion(step: StepResult) {
  return step.newEvents.find((e) => e.type === 'ExecutionCompleted') as Extract<HistoryEvent, { type: 'ExecutionCompleted' }> | undefined;
}

/**
 * The outcome a fresh execution reaches replaying `history` (without its recorded outcome, so that the step after the
 * replay records the one the replay reached).
 */
function replayed(orchestrator: Orchestrator, history: readonly HistoryEvent[]) {
  const execution = new OrchestrationExecution(orchestrator, limit);
  execution.replay(history.filter((e) => e.type !== 'ExecutionCompleted'));
  expect(execution.isFinished).toBe(true);
  return completion(execution.step(at(1_000_000), []));
}

describe('a task several composites wait on', () => {
  const firstThenAll: Orchestrator = function* (ctx) {
    const calls = ['a', 'b', 'c'].map((x) => ctx.callActivity<string>('Work', x));
    const all = ctx.Task.all(calls);
    const first: DurableTask<string> = yield ctx.Task.any(calls);
    ctx.setCustomStatus(`first: ${first.result}`);
    return yield all;
  };

  it('settles each of them: Task.all then Task.any over the same calls completes, live and replayed', () => {
    const run = live(firstThenAll);
    run.step(0, [executionStarted('O')]);
    expect(run.step(1, [taskCompleted(1, 'B')]).customStatus).toBe('first: B');
    run.step(2, [taskCompleted(0, 'A')]);
    expect(completion(run.step(3, [taskCompleted(2, 'C')]))).toMatchObject({ orchestrationStatus: 'Completed', result: ['A', 'B', 'C'] });
    expect(replayed(firstThenAll, run.history)).toMatchObject({ result: ['A', 'B', 'C'] });
  });

  it('settles two Task.any that share a call, and the Task.all over them', () => {
    const orch: Orchestrator = function* (ctx) {
      const shared = ctx.callActivity<string>('Work');
      const both: DurableTask<unknown>[] = yield ctx.Task.all([
        ctx.Task.any([shared, ctx.waitForExternalEvent('E1')]),
        ctx.Task.any([shared, ctx.waitForExternalEvent('E2')]),
      ]);
      return both.map((winner) => winner === shared);
    };
    const run = live(orch);
    run.step(0, [executionStarted('O')]);
    expect(completion(run.step(1, [taskCompleted(0, 'done')]))).toMatchObject({ result: [true, true] });
    expect(replayed(orch, run.history)).toMatchObject({ result: [true, true] });
  });

  it('tells a composite that already settled nothing more: Task.any keeps its first winner', () => {
    const orch: Orchestrator = function* (ctx) {
      const a = ctx.callActivity<string>('A');
      const b = ctx.callActivity<string>('B');
      const any = ctx.Task.any([a, b]);
      const all: string[] = yield ctx.Task.all([a, b]);
      return [(any.result as DurableTask<string>).result, all];
    };
    const run = live(orch);
    run.step(0, [executionStarted('O')]);
    expect(completion(run.step(1, [taskCompleted(1, 'b'), taskCompleted(0, 'a')]))).toMatchObject({ result: ['b', ['a', 'b']] });
  });

  it('completes an instance end to end (runtime): first result, then all of them', async () => {
    const runtime = await start({ store: new MemoryStore(), orchestrators: { FirstThenAll: firstThenAll }, activities: { Work: (x: unknown) => String(x).toUpperCase() } });
    const done = await runtime.client.waitForCompletion(await runtime.client.startNew('FirstThenAll'), SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 'B', 'C'] });
    expect(done.customStatus).toMatch(/^first: [ABC]$/);
  });
});

describe('Task.all', () => {
  const fanOut = (n: number): Orchestrator => function* (ctx) {
    try {
      return yield ctx.Task.all(Array.from({ length: n }, (_, i) => ctx.callActivity<number>('Work', i)));
    } catch (error) {
      return `caught: ${(error as Error).message}`;
    }
  };

  it('fails at the first failure, while other children are pending, with that child\'s error; later ones change nothing', () => {
    const run = live(fanOut(3));
    run.step(0, [executionStarted('O')]);
    const failed = completion(run.step(1, [taskFailed(1, 'first'), taskFailed(0, 'second')]));
    expect(failed?.result).toMatch(/^caught: .*first$/);
    expect(run.step(2, [taskCompleted(2, 2)]).isFinished).toBe(true);
    expect(replayed(fanOut(3), run.history)?.result).toBe(failed?.result);
  });

  it('fails at once when built over an already failed child: the first failed in order', () => {
    const orch: Orchestrator = function* (ctx) {
      const a = ctx.callActivity('A');
      const b = ctx.callActivity('B');
      yield ctx.Task.any([ctx.Task.all([a, b]), ctx.createTimer(at(1000))]);
      try {
        yield ctx.Task.all([a, b]);
      } catch (error) {
        return (error as Error).message;
      }
      return 'not failed';
    };
    const run = live(orch);
    run.step(0, [executionStarted('O')]);
    expect(completion(run.step(1, [taskFailed(1, 'b failed')]))?.result).toMatch(/b failed$/);
  });

  it('counts a child listed twice once, and completes with its result in both places', () => {
    const orch: Orchestrator = function* (ctx) {
      const a = ctx.callActivity<string>('A');
      const b = ctx.callActivity<string>('B');
      return yield ctx.Task.all([a, b, a]);
    };
    const run = live(orch);
    run.step(0, [executionStarted('O')]);
    expect(run.step(1, [taskCompleted(0, 'a')]).isFinished).toBe(false);
    expect(completion(run.step(2, [taskCompleted(1, 'b')]))).toMatchObject({ result: ['a', 'b', 'a'] });
  });

  it('completes at once over children already settled (an event that was buffered), and over none', () => {
    const orch: Orchestrator = function* (ctx) {
      const got = ctx.waitForExternalEvent<string>('E');
      const none: unknown[] = yield ctx.Task.all([]);
      return [none, yield ctx.Task.all([got, got])];
    };
    const run = live(orch);
    expect(completion(run.step(0, [eventRaised('E', 'e'), executionStarted('O')]))).toMatchObject({ result: [[], ['e', 'e']] });
  });

  it('looks at each child a bounded number of times, not at every child each time one settles', () => {
    // A fan-in of N children, settled one at a time: the children's state is read O(N) times in all (it was read
    // O(N²) times: every settle looked at every child). Counted reads, not time.
    let reads = 0;
    class Probe extends DurableTask<number> {
      override get isSettled(): boolean { reads++; return super.isSettled; }
      override get isFaulted(): boolean { reads++; return super.isFaulted; }
    }
    const n = 2000;
    const children = Array.from({ length: n }, () => new Probe());
    const all: WhenAllTask<Probe[]> = Task.all(children);
    children.forEach((child, i) => child.complete(i));
    expect(all.isSettled).toBe(true);
    expect(all.result).toEqual(children.map((_, i) => i));
    expect(reads).toBeLessThanOrEqual(4 * n);
  });
});

describe('composites over a shared task in a history recorded before CompositesNotifyEveryParent', () => {
  const twoAnys: Orchestrator = function* (ctx) {
    const shared = ctx.callActivity<string>('Work');
    const both: DurableTask<unknown>[] = yield ctx.Task.all([
      ctx.Task.any([shared, ctx.waitForExternalEvent('E1')]),
      ctx.Task.any([shared, ctx.waitForExternalEvent('E2')]),
    ]);
    return both.map((winner) => winner === shared ? 'shared' : winner.result);
  };

  it('replays the old result: only the last composite built over the task heard it settle', () => {
    const history = new HistoryBuilder({ name: 'O', legacy: true }).started().taskScheduled('Work')
      .step(1000).taskCompleted(0, 'done')
      .step(1000).eventRaised('E1', 'e1')
      .build();
    expect(replayed(twoAnys, history)).toMatchObject({ orchestrationStatus: 'Completed', result: ['e1', 'shared'] });
  });

  it('records the flag in a new execution, whose composites all hear it', () => {
    const run = live(twoAnys);
    const first = run.step(0, [executionStarted('O')]);
    expect(first.newEvents[0]).toMatchObject({ replayFlags: expect.arrayContaining([ReplayFlag.CompositesNotifyEveryParent]) });
    expect(completion(run.step(1, [taskCompleted(0, 'done')]))).toMatchObject({ result: ['shared', 'shared'] });
  });

  it('replays the old winner of a race whose call a later Task.all took over', () => {
    const race: Orchestrator = function* (ctx) {
      const a = ctx.callActivity('A');
      const timer = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 5000));
      const winner: DurableTask<unknown> = ctx.Task.any([a, timer]);
      ctx.Task.all([a, ctx.callActivity('B')]);
      return (yield winner) === a ? 'a' : 'timer';
    };
    const builder = new HistoryBuilder({ name: 'O', legacy: true }).started();
    const fireAt = new Date(builder.now.getTime() + 5000);
    const history = builder.taskScheduled('A').timerCreated(fireAt).taskScheduled('B')
      .step(1000).taskCompleted(0, 'a')
      .step(4000).timerFired(1, fireAt)
      .build();
    expect(replayed(race, history)).toMatchObject({ result: 'timer' });
  });
});

describe('a task a composite is built over once per pass of a loop', () => {
  it('keeps no composite that settled: a reminder loop of 50 passes tells one Task.any of the approval', () => {
    const orch: Orchestrator = function* (ctx) {
      const approval = ctx.waitForExternalEvent('Approval');
      for (let pass = 0; ; pass++) {
        const winner: DurableTask<unknown> = yield ctx.Task.any([approval, ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1000))]);
        if (winner === approval) return pass;
      }
    };
    const run = live(orch);
    run.step(0, [executionStarted('O')]);
    for (let pass = 0; pass < 50; pass++) run.step(1000 * (pass + 1), [timerFired(pass, at(1000 * (pass + 1)))]);
    const told = vi.spyOn(WhenAnyTask.prototype, 'onChildSettled');
    try {
      expect(completion(run.step(60_000, [eventRaised('Approval', 'ok')]))).toMatchObject({ result: 50 });
      expect(told).toHaveBeenCalledTimes(1); // 51 before: every Task.any of the loop stayed a parent of the approval
    } finally {
      told.mockRestore();
    }
  });
});

describe('ctx used outside the orchestrator\'s run', () => {
  it('does not throw, schedules nothing, and fails the instance with an OrchestrationError at its next step', () => {
    let saved: OrchestrationContext | undefined;
    const orch: Orchestrator = function* (ctx) {
      saved = ctx;
      const first: unknown = yield ctx.callActivity('A');
      return [first, yield ctx.callActivity('B')];
    };
    const uses: Record<string, (ctx: OrchestrationContext) => unknown> = {
      callActivity: (ctx) => ctx.callActivity('Ghost'),
      callActivityWithRetry: (ctx) => ctx.callActivityWithRetry('Ghost', { firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 2 }),
      callSubOrchestrator: (ctx) => ctx.callSubOrchestrator('Ghost'),
      callSubOrchestratorWithRetry: (ctx) => ctx.callSubOrchestratorWithRetry('Ghost', { firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 2 }),
      createTimer: (ctx) => ctx.createTimer(at(5)),
      waitForExternalEvent: (ctx) => ctx.waitForExternalEvent('E'),
      newGuid: (ctx) => ctx.newGuid(),
      setCustomStatus: (ctx) => ctx.setCustomStatus('x'),
      continueAsNew: (ctx) => ctx.continueAsNew('x'),
    };
    for (const [name, use] of Object.entries(uses)) {
      const run = live(orch);
      run.step(0, [executionStarted('O')]);
      const ctx = saved!;
      // From a host callback a throw would be uncaught and end the process: the call returns, the next step fails.
      expect(() => use(ctx), name).not.toThrow();
      const next = run.step(1, [eventRaised('E', 'e'), taskCompleted(0, 'a')]);
      expect(next.actions, name).toEqual([]);
      expect(next.customStatus, name).toBeUndefined();
      const failed = completion(next);
      expect(failed, name).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorType: 'OrchestrationError' } });
      expect(failed?.failureDetails?.errorMessage, name).toContain('ctx used outside the orchestrator\'s run');
    }
  });

  it('keeps the mark for the next step when that step replays a fresh execution (the cached one was dropped)', () => {
    let saved: OrchestrationContext | undefined;
    const orch: Orchestrator = function* (ctx) {
      saved = ctx;
      return yield ctx.waitForExternalEvent('Go');
    };
    // As a worker runs them: one MisuseMarks for every execution.
    const options = { ...limit, misuseMarks: new MisuseMarks() };
    const first = new OrchestrationExecution(orch, options);
    first.replay([]);
    const history = [...first.step(at(0), [executionStarted('O')]).newEvents];
    saved!.newGuid(); // from a callback, between steps
    // The cached execution is evicted: the next step replays the history into a new one.
    const fresh = new OrchestrationExecution(orch, options);
    fresh.replay(history);
    const failed = completion(fresh.step(at(1), [eventRaised('Go', 1)]));
    expect(failed).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorType: 'OrchestrationError' } });
    expect(failed?.failureDetails?.errorMessage).toContain('ctx used outside the orchestrator\'s run');
    expect(options.misuseMarks.size).toBe(0);
    // ctx used after the execution ended marks nothing: no step would take it.
    saved!.newGuid();
    expect(options.misuseMarks.size).toBe(0);
  });

  it('keeps one mark per instance, its first for an execution, and the newest ones beyond its capacity', () => {
    const marks = new MisuseMarks(2);
    const mark = (instanceId: string, executionId: string, message: string) => marks.mark(instanceId, executionId, 0, new OrchestrationError(message));
    mark('a', 'e1', 'first');
    mark('a', 'e1', 'second');
    expect(marks.take('a', 'e1', 0)?.message).toBe('first');
    expect(marks.take('a', 'e1', 0)).toBeUndefined(); // taken
    mark('a', 'e1', 'a');
    mark('b', 'e1', 'b');
    mark('c', 'e1', 'c'); // over capacity: the oldest, a's, goes
    expect(marks.size).toBe(2);
    expect(marks.take('a', 'e1', 0)).toBeUndefined();
    expect(marks.take('c', 'e1', 0)?.message).toBe('c');
    mark('b', 'e2', 'b2'); // b's next execution: its mark replaces the one of the execution before
    expect(marks.take('b', 'e1', 0)).toBeUndefined(); // another execution's mark is taken, not reported
    expect(marks.size).toBe(0);
  });

  for (const cacheSize of [undefined, 0]) it(`fails the instance end to end (runtime${cacheSize === undefined ? '' : `, cacheSize ${cacheSize}`}) after a call from a setTimeout, which does not throw`, async () => {
    let called!: (error?: unknown) => void;
    const calledFromTimer = new Promise<unknown>((resolve) => { called = resolve; });
    const runtime = await start({
      store: new MemoryStore(),
      ...(cacheSize === undefined ? {} : { cacheSize }),
      orchestrators: {
        Misuser: function* (ctx) {
          if (!ctx.isReplaying) {
            setTimeout(() => {
              try {
                ctx.callActivity('Ghost');
                called();
              } catch (error) {
                called(error);
              }
            });
          }
          return yield ctx.waitForExternalEvent('Go');
        },
      },
      activities: { Ghost: () => 'ghost' },
    });
    const id = await runtime.client.startNew('Misuser');
    expect(await calledFromTimer).toBeUndefined();
    // The worker records the failure in the store as soon as it can: a raise after that finds the instance ended.
    await runtime.client.raiseEvent(id, 'Go', 1).catch((error: unknown) => expect(error).toMatchObject({ status: 410 }));
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'OrchestrationError' } });
  });
  // A mark lives in one worker's memory: a new runtime on the same store (a restart; so another worker that takes the
  // next step) ran the instance on to completion as if nothing went wrong.
  it('records the failure in the store when it sees the misuse, so a restarted runtime does not complete the instance', async () => {
    const store = new MemoryStore();
    let saved: OrchestrationContext | undefined;
    const orchestrators: Record<string, Orchestrator> = {
      Misuser: function* (ctx) {
        saved = ctx;
        return yield ctx.waitForExternalEvent('Go');
      },
    };
    const first = await start({ store, orchestrators });
    const id = await first.client.startNew('Misuser');
    await firstValueFrom(first.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    saved!.newGuid(); // between steps, as from a callback
    await first.stop(); // drains what its worker is doing; the marks in its memory are gone with it
    const second = await start({ store, orchestrators });
    if ((await second.client.getStatus(id))?.runtimeStatus === 'Running') await second.client.raiseEvent(id, 'Go', 1);
    const done = await second.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'OrchestrationError' } });
    expect(done.failureDetails?.errorMessage).toContain('ctx used outside the orchestrator\'s run');
  });

  it('lets an instance the worker failed for a misuse be rewound: the rewound run goes on from where it waited', async () => {
    let saved: OrchestrationContext | undefined;
    const runtime = await start({
      store: new MemoryStore(),
      orchestrators: {
        Misuser: function* (ctx) {
          saved = ctx;
          return yield ctx.waitForExternalEvent('Go');
        },
      },
    });
    const id = await runtime.client.startNew('Misuser');
    await firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const misused = saved!;
    misused.newGuid(); // between steps: the worker fails the instance without waiting for a step
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'OrchestrationError' } });
    await runtime.client.rewind(id);
    misused.newGuid(); // the run before the rewind, late again: it fails nothing of the rewound run
    await runtime.client.raiseEvent(id, 'Go', 'went');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'went' });
  });

  // A rewind keeps the execution id: a mark that named the execution alone, made by a late callback of an execution
  // object from before the rewind, failed the rewound run at its next step.
  it('lets a rewound instance complete when an execution from before the rewind uses its ctx late (cacheSize 0)', async () => {
    const contexts: OrchestrationContext[] = [];
    let attempts = 0;
    let rerunning!: () => void;
    const rerun = new Promise<void>((resolve) => { rerunning = resolve; });
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    const runtime = await start({
      store: new MemoryStore(),
      cacheSize: 0, // every step replays a fresh execution: the first step's stays unfinished, its ctx usable
      orchestrators: {
        Flaky: function* (ctx) {
          contexts.push(ctx);
          return yield ctx.callActivity('Once');
        },
      },
      activities: {
        Once: async () => {
          if (++attempts === 1) throw new Error('first attempt fails');
          rerunning();
          await released;
          return 'done';
        },
      },
    });
    const id = await runtime.client.startNew('Flaky');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
    await runtime.client.rewind(id);
    await rerun; // the rewound run's step is committed and its activity runs
    contexts[0]!.newGuid(); // the first step's execution, from before the rewind, uses its ctx late
    release();
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
  });
});

describe('an async generator orchestrator', () => {
  const asyncOrchestrator = async function* (ctx: OrchestrationContext): AsyncGenerator<unknown, unknown, unknown> {
    return yield ctx.callActivity('A');
  };

  it('fails its instance saying it must be a generator function, not async (not "yielded undefined")', () => {
    const run = live(asyncOrchestrator as unknown as Orchestrator);
    const failed = completion(run.step(0, [executionStarted('O')]));
    expect(failed).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorType: 'OrchestrationError' } });
    expect(failed?.failureDetails?.errorMessage).toMatch(/must be a generator function \(function\*, not async\)/);
    expect(run.history.some((e) => e.type === 'TaskScheduled')).toBe(false);
  });

  it('is refused by createRuntime with InvalidArgumentError', () => {
    const create = () => createRuntime({ store: new MemoryStore(), orchestrators: { Async: asyncOrchestrator as unknown as Orchestrator } });
    expect(create).toThrow(InvalidArgumentError);
    expect(create).toThrow(/"Async" is an async function\*: not supported, use function\*/);
  });
});

describe('a cancelled timer', () => {
  it('throws OrchestrationError into the orchestrator when yielded, instead of waiting for ever; live and replayed', () => {
    const orch: Orchestrator = function* (ctx) {
      const timer = ctx.createTimer(at(60_000));
      timer.cancel();
      try {
        yield timer;
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`;
      }
      return 'waited';
    };
    const run = live(orch);
    const done = completion(run.step(0, [executionStarted('O')]));
    expect(done?.result).toMatch(/^OrchestrationError: yielded a cancelled timer, which never fires$/);
    expect(replayed(orch, run.history)?.result).toBe(done?.result);
    // Its fire, when it comes, is recorded and ignored.
    expect(run.step(60_000, [timerFired(0, at(60_000))]).isFinished).toBe(true);
  });

  /** Cancels a timer, yields the composite `build` makes of it, and returns what the yield threw (or gave). */
  const yieldingComposite = (build: (ctx: OrchestrationContext, cancelled: () => DurableTask<unknown>) => DurableTask<unknown>): Orchestrator =>
    function* (ctx) {
      const cancelled = () => {
        const timer = ctx.createTimer(at(60_000));
        timer.cancel();
        return timer;
      };
      try {
        yield build(ctx, cancelled);
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`;
      }
      return 'completed';
    };

  const doomed: Record<string, Parameters<typeof yieldingComposite>[0]> = {
    'Task.all over it and a call': (ctx, cancelled) => ctx.Task.all([cancelled(), ctx.callActivity('A')]),
    'Task.any over cancelled timers only': (ctx, cancelled) => ctx.Task.any([cancelled(), cancelled()]),
    'Task.all over such a Task.any': (ctx, cancelled) => ctx.Task.all([ctx.callActivity('A'), ctx.Task.any([cancelled(), cancelled()])]),
    'Task.any over a Task.all over it': (ctx, cancelled) => ctx.Task.any([ctx.Task.all([ctx.callActivity('A'), cancelled()])]),
  };
  for (const [name, build] of Object.entries(doomed)) {
    it(`throws the same OrchestrationError when yielded in a composite that cannot do without it (${name}); live and replayed`, () => {
      const orch = yieldingComposite(build);
      const run = live(orch);
      const done = completion(run.step(0, [executionStarted('O')]));
      expect(done?.result).toMatch(/^OrchestrationError: yielded Task\.(all|any) waiting for a cancelled timer, which never fires$/);
      expect(replayed(orch, run.history)?.result).toBe(done?.result);
    });
  }

  it('never wins a Task.any that has another task to wait for: its fire is ignored and the event wins', () => {
    const orch = yieldingComposite((ctx, cancelled) => ctx.Task.any([cancelled(), ctx.waitForExternalEvent('E')]));
    const run = live(orch);
    expect(run.step(0, [executionStarted('O')]).isFinished).toBe(false);
    expect(run.step(60_000, [timerFired(0, at(60_000))]).isFinished).toBe(false);
    expect(completion(run.step(70_000, [eventRaised('E', 'e')]))).toMatchObject({ orchestrationStatus: 'Completed', result: 'completed' });
  });

  it('replays a history recorded before CompositeOverCancelledTimerThrows as recorded: Task.all failed with its call', () => {
    const orch = yieldingComposite((ctx, cancelled) => ctx.Task.all([cancelled(), ctx.callActivity('A')]));
    const history = new HistoryBuilder({ name: 'O', legacy: true }).started().timerCreated(at(60_000)).taskScheduled('A')
      .step(1000).taskFailed(1, { errorType: 'Error', errorMessage: 'boom' })
      .build();
    expect(replayed(orch, history)?.result).toMatch(/^TaskFailedError: .*boom/);
    const run = live(orch);
    expect(run.step(0, [executionStarted('O')]).newEvents[0]).toMatchObject({
      replayFlags: expect.arrayContaining([ReplayFlag.CompositeOverCancelledTimerThrows]),
    });
  });
});

describe('an external event with several waiters of its name', () => {
  /**
   * Durable Functions' reminder loop: a new wait per pass, raced with a timer; when the timer wins, a reminder goes out
   * and the next pass waits again. The waiter of a pass the timer won is never yielded again.
   */
  const reminderLoop: Orchestrator = function* (ctx) {
    for (let pass = 0; pass < 5; pass++) {
      const approval = ctx.waitForExternalEvent<string>('Approval');
      const reminder = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 3600_000));
      const winner: DurableTask<unknown> = yield ctx.Task.any([approval, reminder]);
      if (winner === approval) {
        reminder.cancel();
        return `approved by ${approval.result} on pass ${pass}`;
      }
      yield ctx.callActivity('Remind', pass);
    }
    return 'gave up';
  };

  it('goes to the waiter the orchestrator waits on, not to one of a race the timer won; live and replayed', () => {
    const run = live(reminderLoop);
    run.step(0, [executionStarted('O')]);
    run.step(3600_000, [timerFired(0, at(3600_000))]); // pass 0 times out: reminder #1
    run.step(3600_001, [taskCompleted(1)]); // pass 1 waits (timer #2)
    const approved = run.step(3600_002, [eventRaised('Approval', 'ana')]);
    expect(completion(approved)).toMatchObject({ orchestrationStatus: 'Completed', result: 'approved by ana on pass 1' });
    expect(replayed(reminderLoop, run.history)).toMatchObject({ result: 'approved by ana on pass 1' });
  });

  it('still goes to the first waiter of its name when the orchestrator waits on several (FIFO) or on none', () => {
    const orch: Orchestrator = function* (ctx) {
      const early = ctx.waitForExternalEvent('X');
      yield ctx.callActivity('A');
      const both: unknown[] = yield ctx.Task.all([ctx.waitForExternalEvent('X'), ctx.waitForExternalEvent('X')]);
      return [yield early, both];
    };
    const run = live(orch);
    run.step(0, [executionStarted('O')]);
    run.step(1, [eventRaised('X', 1)]); // nobody waits on an X: the first waiter made takes it
    run.step(2, [taskCompleted(0)]);
    const done = run.step(3, [eventRaised('X', 2), eventRaised('X', 3)]);
    expect(completion(done)).toMatchObject({ result: [1, [2, 3]] });
    expect(replayed(orch, run.history)).toMatchObject({ result: [1, [2, 3]] });
  });

  it('finds the waiter for each event of a fan-in over many waiters of one name at once, not by a walk of the Task.all', () => {
    const n = 2000;
    const orch: Orchestrator = function* (ctx) {
      const results: number[] = yield ctx.Task.all(Array.from({ length: n }, () => ctx.waitForExternalEvent<number>('Vote')));
      return results.reduce((a, b) => a + b, 0);
    };
    const run = live(orch);
    run.step(0, [executionStarted('O')]);
    const asked = vi.spyOn(DurableTask.prototype, 'awaitedBy');
    try {
      const done = run.step(1, Array.from({ length: n }, () => eventRaised('Vote', 1)));
      expect(completion(done)).toMatchObject({ result: n });
      // The first waiter of the name, then the Task.all it reaches: twice per event (a walk down was n per event).
      expect(asked.mock.calls.length).toBeLessThanOrEqual(2 * n);
    } finally {
      asked.mockRestore();
    }
  });

  it('replays a history recorded before EventGoesToAwaitedWaiter as recorded: the stale waiter takes the event', () => {
    // Recorded without replay flags: the approval went to pass 0's waiter, and pass 1 went on waiting.
    const history = new HistoryBuilder({ name: 'O', legacy: true })
      .started().timerCreated(at(3600_000))
      .step(3600_000).timerFired(0, at(3600_000)).taskScheduled('Remind', 0)
      .step(1).taskCompleted(1).timerCreated(at(7200_001))
      .step(1).eventRaised('Approval', 'ana')
      .build();
    const execution = new OrchestrationExecution(reminderLoop, limit);
    execution.replay(history);
    expect(execution.flags.includes(ReplayFlag.EventGoesToAwaitedWaiter)).toBe(false);
    const next = execution.step(at(7200_001), [timerFired(2, at(7200_001))]);
    expect(next.actions).toEqual([{ type: 'ScheduleTask', eventId: 3, name: 'Remind', input: 1, attempt: 1 }]);
  });

  it('completes the reminder loop end to end (runtime, virtual clock) when the approval comes after a reminder', async () => {
    const clock = new VirtualClock();
    const reminders: number[] = [];
    const runtime = await start({
      clock,
      orchestrators: { Approve: reminderLoop },
      activities: { Remind: (pass: number) => void reminders.push(pass) },
    });
    const id = await runtime.client.startNew('Approve');
    await clock.waitForTimer();
    await clock.advance(3600_000);
    // Raised only once pass 1 waits (its timer is the history's second TimerCreated): raised while Remind runs, no
    // waiter of its name is awaited and it goes to pass 0's waiter, whose race the timer won.
    const pass1Timer = runtime.client.history$(id).pipe(filter((e) => e.type === 'TimerCreated'), skip(1));
    await within(firstValueFrom(pass1Timer), 'pass 1 creating its reminder timer');
    await runtime.client.raiseEvent(id, 'Approval', 'ana');
    // The step that applies the approval commits its outcome with it.
    await firstValueFrom(runtime.client.history$(id).pipe(filter((e) => e.type === 'EventRaised')));
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'approved by ana on pass 1' });
    expect(reminders).toEqual([0]);
  });
});
