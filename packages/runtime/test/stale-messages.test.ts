import { describe, expect, it } from 'vitest';
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

// Messages of an execution the instance no longer runs (it continued as new) carry that execution's id: they are
// dropped, whatever task or timer id they name (the new execution numbers its tasks and timers from 0 again).
describe('messages of an execution an instance continued from', () => {
  it('drops the result of the activity that lost a race: the new execution\'s task of the same id waits for its own', async () => {
    const slow = heldRuns();
    const runtime = await start({
      store: new MemoryStore(),
      activities: { Slow: slow.activity },
      orchestrators: {
        Race: function* (ctx) {
          if (ctx.getInput<number>() === 0) {
            yield ctx.Task.any([ctx.callActivity('Slow', 'old'), ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 20))]);
            ctx.continueAsNew(1);
            return undefined;
          }
          return yield ctx.callActivity('Slow', 'new');
        },
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
    const clock = new VirtualClock();
    const runtime = await start({
      clock,
      store: new MemoryStore(),
      activities: { Fast: async () => 'fast' },
      orchestrators: {
        Race: function* (ctx) {
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
        },
      },
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

// A Completed or Terminated execution takes nothing more (`isStaleResult`): a result that arrives after its end is
// deleted, as Durable Functions discards messages for an orchestration that completed or was terminated.
describe('messages of an execution that ended', () => {
  it('drops the result of an activity that was running when the instance was terminated: no history, no version, no change', async () => {
    const slow = heldRuns();
    const store = new MemoryStore();
    const runtime = await start({
      store,
      activities: { Slow: slow.activity },
      orchestrators: {
        One: function* (ctx) {
          return yield ctx.callActivity('Slow', 'one');
        },
      },
    });
    const id = await runtime.client.startNew('One');
    await within(slow.count(1), 'the activity running');
    await runtime.client.terminate(id, 'stop');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    const before = await runtime.client.getStatus(id, { showHistory: true });
    // The store's own feed, not status$ (which leaves out a change of version or history length alone): any commit
    // that touched the instance shows here.
    const seen: unknown[] = [];
    const watching = store.changes$.subscribe((c) => { if (c.instanceId === id) seen.push(c); });
    try {
      slow.runs[0]!.finish('late');
      // The activity's task goes with its result's commit: then nothing is left to wake for.
      await within((async () => {
        while (await store.nextWakeTime(new Date(Date.now() + 3_600_000)) !== undefined) await new Promise((r) => setTimeout(r, 10));
      })(), 'the late result committed');
      expect(await runtime.client.getStatus(id, { showHistory: true })).toEqual(before);
      expect(seen).toEqual([]); // no change committed for the late result
    } finally {
      watching.unsubscribe();
    }
  });
});
