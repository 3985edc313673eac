import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import type { Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { startedRuntimes } from './started-runtimes.js';
import { untilEnded } from './until-ended.js';

const { start } = startedRuntimes();

/** An activity whose runs each wait until the test ends them: `runs` holds each run's input and its `finish`. */
function heldRuns() {
  const runs: { input: unknown; finish: (value: string) => void }[] = [];
  let arrived: () => void = () => {};
  const activity = (input: unknown): Promise<string> => new Promise<string>((resolve) => {
    runs.push({ input, finish: resolve });
    arrived();
  });
  const count = (n: number): Promise<void> => new Promise<void>((resolve) => {
    arrived = () => { if (runs.length >= n) resolve(); };
    arrived();
  });
  return { activity, runs, count };
}

/** A runtime on a MemoryStore running `orchestrators`, whose activity Slow is {@link heldRuns}'s (`slow`). */
async function heldRuntime(orchestrators: Record<string, Orchestrator>): Promise<{ slow: ReturnType<typeof heldRuns>; store: MemoryStore; runtime: Runtime }> {
  const slow = heldRuns();
  const store = new MemoryStore();
  const runtime = await start({ store, activities: { Slow: slow.activity }, orchestrators });
  return { slow, store, runtime };
}

/** A runtime on a MemoryStore and a virtual clock running `race` as the orchestrator Race; its activity Fast returns at once. */
async function raceRuntime(race: Orchestrator): Promise<{ clock: VirtualClock; runtime: Runtime }> {
  const clock = new VirtualClock();
  const runtime = await start({ clock, store: new MemoryStore(), activities: { Fast: async () => 'fast' }, orchestrators: { Race: race } });
  return { clock, runtime };
}

// Messages of an execution the instance no longer runs (it continued as new) carry that execution's id: they are
// dropped, whatever task or timer id they name (the new execution numbers its tasks and timers from 0 again).
describe('messages of an execution an instance continued from', () => {
  it('drops the result of the activity that lost a race: the new execution\'s task of the same id waits for its own', async () => {
    const { slow, runtime } = await heldRuntime({
      Race: function* (ctx) {
        if (ctx.getInput<number>() === 0) {
          yield ctx.Task.any([ctx.callActivity('Slow', 'old'), ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 20))]);
          ctx.continueAsNew(1);
          return undefined;
        }
        return yield ctx.callActivity('Slow', 'new');
      },
    });
    const id = await runtime.client.startNew('Race', { input: 0 });
    await within(slow.count(2), 'both runs of the activity');
    expect(slow.runs.map((r) => r.input)).toEqual(['old', 'new']);
    slow.runs[0]!.finish('from-old');
    slow.runs[1]!.finish('from-new');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'from-new' });
  });

  it('consumes a timer of the old execution without a step of the new one: no empty episode, no early timer', async () => {
    const { clock, runtime } = await raceRuntime(function* (ctx) {
      const now = ctx.currentUtcDateTime.getTime();
      if (ctx.getInput<number>() === 0) {
        // Timer 1 loses to the activity and is still queued when the execution continues as new.
        yield ctx.Task.any([ctx.callActivity('Fast'), ctx.createTimer(new Date(now + 5000))]);
        ctx.continueAsNew(1);
        return undefined;
      }
      yield ctx.callActivity('Fast');
      yield ctx.createTimer(new Date(now + 60_000)); // timer 1 again, in the new execution
      return 'done';
    });
    const id = await runtime.client.startNew('Race', { input: 0 });
    const status = await untilEnded(runtime, clock, id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    const history = status!.history!;
    // Three episodes of the new execution: its start, the activity's result, its own timer.
    expect(history.filter((e) => e.type === 'OrchestratorStarted')).toHaveLength(3);
    const created = history.find((e) => e.type === 'TimerCreated') as { fireAt: string };
    expect(history.filter((e) => e.type === 'TimerFired')).toMatchObject([{ timerId: 1, fireAt: created.fireAt }]);
  });
});

// A Completed or Terminated instance records and ignores what still reaches its execution (a result that raced a
// terminate, the loser of a race, a timer falling due after the end): visibly in history, the status as it was.
describe('messages of an execution that ended', () => {
  it('records the result of an activity that was running when the instance was terminated, and ignores it', async () => {
    const { slow, store, runtime } = await heldRuntime({
      One: function* (ctx) {
        return yield ctx.callActivity('Slow', 'one');
      },
    });
    const id = await runtime.client.startNew('One');
    await within(slow.count(1), 'the activity running');
    await runtime.client.terminate(id, 'stop');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    const before = (await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true }))!;
    const seen: unknown[] = [];
    const watching = runtime.client.status$(id).subscribe((s) => seen.push(s));
    try {
      await within(new Promise<void>((resolve) => { const check = () => (seen.length > 0 ? resolve() : setTimeout(check, 5)); check(); }), 'the first status');
      const recorded = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === id && (c.state?.historyLength ?? 0) > before.history!.length)));
      slow.runs[0]!.finish('late');
      const change = await within(recorded, 'the late result recorded');
      const after = (await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true }))!;
      const { history: historyAfter, ...statusAfter } = after;
      const { history: historyBefore, ...statusBefore } = before;
      expect(statusAfter).toEqual(statusBefore); // ignored: Terminated, the reason as output, lastUpdatedTime as it was
      expect(historyAfter!.slice(0, historyBefore!.length)).toEqual(historyBefore);
      expect(historyAfter!.slice(historyBefore!.length)).toMatchObject([{ type: 'TaskCompleted', result: 'late' }]);
      expect(historyBefore!.map((e) => e.type)).toContain('ExecutionTerminated');
      expect(change.state).toMatchObject({ version: (await store.getInstance(id))!.version, historyLength: historyAfter!.length });
      // status$ shows no change: nothing it shows changed (its history is read through history$ or showHistory).
      expect(seen).toHaveLength(1);
    } finally {
      watching.unsubscribe();
    }
  });

  it('records the result of the activity that lost a race after the instance completed, and its history$ shows it', async () => {
    const { slow, runtime } = await heldRuntime({
      Race: function* (ctx) {
        const winner: { result: unknown } = yield ctx.Task.any([ctx.callActivity('Slow', 'a'), ctx.callActivity('Slow', 'b')]);
        return winner.result;
      },
    });
    const id = await runtime.client.startNew('Race');
    await within(slow.count(2), 'both activities running');
    const winner = slow.runs.find((r) => r.input === 'a')!;
    const loser = slow.runs.find((r) => r.input === 'b')!;
    winner.finish('first');
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'first' });
    const late = firstValueFrom(runtime.client.history$(id).pipe(filter((e) => e.type === 'TaskCompleted' && (e as { result?: unknown }).result === 'second')));
    loser.finish('second');
    await within(late, 'the late result in history$');
    const after = (await runtime.client.getStatus(id, { showHistory: true }))!;
    expect(after).toMatchObject({ runtimeStatus: 'Completed', output: 'first', lastUpdatedTime: done.lastUpdatedTime });
    const types = after.history!.map((e) => e.type);
    expect(types.at(-1)).toBe('TaskCompleted');
    expect(types.indexOf('ExecutionCompleted')).toBeLessThan(types.length - 1);
  });

  it('records a timer that falls due after the instance completed', async () => {
    const { clock, runtime } = await raceRuntime(function* (ctx) {
      yield ctx.Task.any([ctx.callActivity('Fast'), ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 5000))]);
      return 'done';
    });
    const id = await runtime.client.startNew('Race');
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    const fired = firstValueFrom(runtime.client.history$(id).pipe(filter((e) => e.type === 'TimerFired')));
    await clock.advance(5000);
    await within(fired, 'the late timer in history$');
    const after = (await runtime.client.getStatus(id, { showHistory: true }))!;
    expect(after).toMatchObject({ runtimeStatus: 'Completed', output: 'done', lastUpdatedTime: done.lastUpdatedTime });
    expect(after.history!.map((e) => e.type).slice(-1)).toEqual(['TimerFired']);
  });

  // The other rule (a message that names another execution is stale, `isStaleResult`): it holds whether the late
  // results of an ended execution of its own are recorded or dropped, so it guards the drop, not the recording.
  it('drops a late result that names an earlier, terminated and purged run of the id, out of the run started again', async () => {
    const { slow, runtime } = await heldRuntime({
      One: function* (ctx) {
        return yield ctx.callActivity('Slow', ctx.getInput<string>());
      },
    });
    await runtime.client.startNew('One', { instanceId: 'again', input: 'old' });
    await within(slow.count(1), 'the first run\u2019s activity');
    await runtime.client.terminate('again', 'stop');
    await runtime.client.waitForCompletion('again', SETTLED);
    await runtime.client.purgeInstanceHistory('again');
    await runtime.client.startNew('One', { instanceId: 'again', input: 'new' });
    await within(slow.count(2), 'the second run\u2019s activity');
    slow.runs[0]!.finish('from-old'); // the same task id (0) as the new run's call: it names the old execution
    slow.runs[1]!.finish('from-new');
    const done = await runtime.client.waitForCompletion('again', SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'from-new' });
    const history = (await runtime.client.getStatus('again', { showHistory: true, showHistoryOutput: true }))!.history!;
    expect(history.filter((e) => e.type === 'TaskCompleted')).toMatchObject([{ result: 'from-new' }]);
  });
});
