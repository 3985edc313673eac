import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ActivityContext } from '../src/engine/orchestration-context.js';
import { createClient } from '../src/client/create-client.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { SETTLED } from '../src/testing/settled.js';
import { ending } from './ending.js';
import { startedRuntimes } from './started-runtimes.js';
import { within } from './within.js';

const { start } = startedRuntimes();

describe('what orchestrators and activities are given', () => {
  it('gives an orchestrator its instanceId, parentInstanceId, name and input, and an activity its instanceId, name and attempt', async () => {
    const orchestrators: unknown[] = [];
    const activities: unknown[] = [];
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) {
          orchestrators.push({ instanceId: ctx.instanceId, parentInstanceId: ctx.parentInstanceId, name: ctx.name, input: ctx.getInput() });
          return yield ctx.callSubOrchestrator('Child', 'child input', 'the-child');
        },
        Child: function* (ctx) {
          orchestrators.push({ instanceId: ctx.instanceId, parentInstanceId: ctx.parentInstanceId, name: ctx.name, input: ctx.getInput() });
          return yield ctx.callActivity('Work', 'activity input');
        },
      },
      activities: {
        Work: (input: string, ctx: ActivityContext) => {
          activities.push({ input, instanceId: ctx.instanceId, name: ctx.name, attempt: ctx.attempt });
          return 'worked';
        },
      },
    });
    await runtime.client.startNew('Parent', { instanceId: 'the-parent', input: 'parent input' });
    expect(await runtime.client.waitForCompletion('the-parent', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'worked' });
    // Each orchestrator records once per replay; the first record is its first run.
    expect(orchestrators).toContainEqual({ instanceId: 'the-parent', parentInstanceId: undefined, name: 'Parent', input: 'parent input' });
    expect(orchestrators).toContainEqual({ instanceId: 'the-child', parentInstanceId: 'the-parent', name: 'Child', input: 'child input' });
    expect(activities).toEqual([{ input: 'activity input', instanceId: 'the-child', name: 'Work', attempt: 1 }]);
  });
});

describe('tasks', () => {
  it('marks a failed task completed and faulted, as a Durable Functions Task is: completion is not success', async () => {
    const runtime = await start({
      orchestrators: {
        Race: function* (ctx) {
          const failing = ctx.callActivity('Fail');
          const never = ctx.waitForExternalEvent('never');
          const winner = yield ctx.Task.any([failing, never]);
          const succeeding = ctx.callActivity('Succeed');
          yield succeeding;
          return {
            winnerIsFailing: winner === failing,
            failing: { isCompleted: failing.isCompleted, isFaulted: failing.isFaulted, error: failing.error?.name },
            never: { isCompleted: never.isCompleted, isFaulted: never.isFaulted },
            succeeding: { isCompleted: succeeding.isCompleted, isFaulted: succeeding.isFaulted, result: succeeding.result },
          };
        },
      },
      activities: {
        Fail: () => {
          throw new Error('broken');
        },
        Succeed: () => 'fine',
      },
    });
    const id = await runtime.client.startNew('Race');
    expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toEqual({
      winnerIsFailing: true,
      failing: { isCompleted: true, isFaulted: true, error: 'TaskFailedError' },
      never: { isCompleted: false, isFaulted: false },
      succeeding: { isCompleted: true, isFaulted: false, result: 'fine' },
    });
  });
});

describe('timers', () => {
  it("cancels a timer that lost the race, seen through Durable Functions' isCanceled as well as isCancelled", async () => {
    const runtime = await start({
      orchestrators: {
        Approval: function* (ctx) {
          const timeout = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 3600_000));
          const approved = ctx.waitForExternalEvent('approved');
          const winner = yield ctx.Task.any([approved, timeout]);
          const before = { isCompleted: timeout.isCompleted, isCanceled: timeout.isCanceled };
          if (!timeout.isCompleted) timeout.cancel();
          return { approved: winner === approved, before, after: { isCanceled: timeout.isCanceled, isCancelled: timeout.isCancelled } };
        },
      },
    });
    const id = await runtime.client.startNew('Approval');
    await runtime.client.raiseEvent(id, 'approved', true);
    expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toEqual({
      approved: true, before: { isCompleted: false, isCanceled: false }, after: { isCanceled: true, isCancelled: true },
    });
  });
});

describe('suspended instances keep what reaches them', () => {
  it('keeps a durable timer that fires while suspended and goes on with it after the resume', async () => {
    const clock = new VirtualClock();
    const runtime = await start({
      clock,
      orchestrators: {
        Sleep: function* (ctx) {
          yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
          ctx.setCustomStatus('woke');
          return 'done';
        },
      },
    });
    const { client } = runtime;
    const id = await client.startNew('Sleep');
    const fireAt = clock.now().getTime() + 60_000;
    await within(firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the instance running');
    await client.suspend(id, 'hold');
    const recorded = firstValueFrom(client.history$(id).pipe(filter((e) => e.type === 'TimerFired')));
    // Move the clock past the timer (and whatever the worker armed before it).
    while (clock.now().getTime() < fireAt) {
      await within(clock.waitForTimer(), 'a timer armed on the clock');
      await clock.advanceTo(new Date(Math.min(clock.nextTimerAt!.getTime(), fireAt)));
    }
    await within(recorded, 'the TimerFired recorded'); // the fire was committed ...
    expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Suspended' }); // ... and not acted on
    expect((await client.getStatus(id))?.customStatus).toBeUndefined();
    await client.resume(id, 'go on');
    expect(await ending(client, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done', customStatus: 'woke' });
  });
});

describe('waitForCompletion on a clock that does not move by itself', () => {
  it('answers timeoutMs: 0 with the current status at once, without waiting for the clock to move', async () => {
    const clock = new VirtualClock();
    const runtime = await start({
      clock,
      orchestrators: {
        Wait: function* (ctx) {
          return yield ctx.waitForExternalEvent('go');
        },
      },
    });
    const id = await runtime.client.startNew('Wait');
    const now = await within(runtime.client.waitForCompletion(id, { timeoutMs: 0 }), 'the answer to waitForCompletion with timeoutMs: 0');
    expect(['Pending', 'Running']).toContain(now.runtimeStatus);
  });
});

describe('getStatusAll and getStatusBy', () => {
  it('follow every page: more instances than the largest page (1,000) all come back', async () => {
    const client = createClient({ store: new MemoryStore() });
    const ids = Array.from({ length: 1_001 }, (_, i) => `many-${String(i).padStart(4, '0')}`);
    for (const instanceId of ids) await client.startNew('Anything', { instanceId, input: instanceId });
    const all = await client.getStatusAll();
    expect(all).toHaveLength(ids.length);
    expect(new Set(all.map((s) => s.instanceId))).toEqual(new Set(ids));
    const pending = await client.getStatusBy({ runtimeStatus: ['Pending'], instanceIdPrefix: 'many-', showInput: false });
    expect(pending).toHaveLength(ids.length);
    expect(pending.every((s) => s.input === undefined)).toBe(true);
  });
});
