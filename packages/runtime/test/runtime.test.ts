import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { defer, filter, finalize, firstValueFrom, lastValueFrom, throwError, timeout, toArray, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TaskFailedError } from '../src/model/errors/task-failed-error.js';
import type { InstanceStatus } from '../src/model/instance-status.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { StatusChange, Store } from '../src/store/store.js';
import { createClient } from '../src/client/create-client.js';
import { createRuntime, type RuntimeOptions } from '../src/runtime/create-runtime.js';
import { createRuntime as createCoreRuntime } from '../src/core/index.js';
import { silentLogger } from '../src/env/logger.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { ending } from './ending.js';
import { startedRuntimes } from './started-runtimes.js';

const DAY = 24 * 3600_000;
const { runtimes, start } = startedRuntimes();

describe('runtime', () => {
  it('fires a week-long durable timer at once on a virtual clock', async () => {
    const clock = new VirtualClock();
    const runtime = await start({
      clock,
      orchestrators: {
        WaitAWeek: function* (ctx) {
          const startedAt = ctx.currentUtcDateTime.getTime();
          yield ctx.createTimer(new Date(startedAt + 7 * DAY));
          return (ctx.currentUtcDateTime.getTime() - startedAt) / DAY;
        },
      },
    });
    const startedAt = clock.now().getTime();
    const id = await runtime.client.startNew('WaitAWeek');
    await clock.waitForTimer();
    // A wake-up armed while the start committed (for the lease on it the worker holds) may come first: it only re-arms.
    let earlier = 0;
    while ((clock.nextTimerAt?.getTime() ?? Infinity) < startedAt + 7 * DAY) {
      earlier++;
      await clock.advance(clock.nextTimerAt!.getTime() - clock.now().getTime());
    }
    expect(clock.nextTimerAt?.getTime()).toBe(startedAt + 7 * DAY);
    // The virtual clock's timers fire on its own time: the worker waits for the week with one timer, not in the 10,080
    // steps of 60 s it takes on the system clock (whose timers a sleeping machine pauses).
    expect(earlier).toBeLessThanOrEqual(2);
    expect((await runtime.client.getStatus(id))?.runtimeStatus).toBe('Running');
    await clock.advance(7 * DAY);
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 7 });
  });

  it('retries a failing activity on durable timers until it succeeds', async () => {
    const clock = new VirtualClock();
    const attempts: number[] = [];
    const runtime = await start({
      clock,
      orchestrators: {
        Retry: function* (ctx) {
          return yield ctx.callActivityWithRetry('Unstable', { firstRetryIntervalInMilliseconds: 60_000, maxNumberOfAttempts: 3 });
        },
      },
      activities: {
        Unstable: (_: unknown, ctx: { attempt: number }) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
          return 'third time lucky';
        },
      },
    });
    const id = await runtime.client.startNew('Retry');
    while ((await runtime.client.getStatus(id))?.runtimeStatus !== 'Completed') {
      await clock.waitForTimer();
      await clock.advance(60_000);
    }
    expect((await runtime.client.getStatus(id))?.output).toBe('third time lucky');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('keeps the lease of a long activity alive: it runs once even when it outlasts the lease many times', async () => {
    const clock = new VirtualClock();
    let runs = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const runtime = await start({
      clock,
      activityLeaseMs: 30_000,
      orchestrators: { Long: function* (ctx) { return yield ctx.callActivity('Slow'); } },
      activities: {
        Slow: async () => {
          runs++;
          started();
          await finished;
          return 'done';
        },
      },
    });
    const id = await runtime.client.startNew('Long');
    await running;
    for (let i = 0; i < 10; i++) await clock.advance(30_000); // five minutes: ten lease lengths
    finish();
    expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toBe('done');
    expect(runs).toBe(1);
  });

  it('retries a step that failed on a store error when its lease lapses, without spinning meanwhile', async () => {
    const clock = new VirtualClock();
    const inner = new MemoryStore();
    let broken = true;
    let claims = 0;
    let failed!: () => void;
    const firstFailure = new Promise<void>((resolve) => (failed = resolve));
    const store = new Proxy(inner, {
      get: (target, key) => {
        if (key === 'getHistory') {
          return (...args: Parameters<Store['getHistory']>) => {
            if (broken) {
              failed();
              return Promise.reject(new Error('disk on fire'));
            }
            return target.getHistory(...args);
          };
        }
        if (key === 'claimOrchestration') {
          return (...args: Parameters<Store['claimOrchestration']>) => {
            claims++;
            return target.claimOrchestration(...args);
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const runtime = await start({ store, clock, cacheSize: 0, orchestrationLeaseMs: 30_000, orchestrators: sampleOrchestrators, activities: sampleActivities });
    const id = await runtime.client.startNew('E1_HelloSequence');
    await firstFailure; // the second step needs the history (no cache) and the store fails
    await clock.advance(0);
    const claimsWhileBroken = claims;
    await clock.advance(10_000); // still within the lease: nothing is retried
    expect(claims).toBe(claimsWhileBroken);
    broken = false;
    await clock.advance(30_000); // the lease lapsed: the step is claimed again and succeeds
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('runs an instance its own client started without claiming it: the start is committed leased to the worker', async () => {
    const inner = new MemoryStore();
    let claimed = 0;
    const store = new Proxy(inner, {
      get: (target, key) => {
        const value = Reflect.get(target, key, target) as unknown;
        if (key === 'claimOrchestration') {
          return async (...args: [never]) => {
            const item = await (value as (...a: [never]) => Promise<unknown>).apply(target, args);
            if (item) claimed++;
            return item;
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const runtime = await start({ store, orchestrators: sampleOrchestrators, activities: sampleActivities });
    const ids = await Promise.all(['a', 'b', 'c'].map((instanceId) => runtime.client.startNew('E1_HelloSequence', { instanceId })));
    const done = await Promise.all(ids.map((id) => runtime.client.waitForCompletion(id, SETTLED)));
    expect(done.map((s) => s.output)).toEqual(ids.map(() => ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']));
    // Each first step ran on the lease its start was committed with, and each later one was fused with its activity.
    expect(claimed).toBe(0);
  });

  it('keeps trying to claim, backing off, while the store fails to hand out work', async () => {
    const clock = new VirtualClock();
    const inner = new MemoryStore();
    let outage = false;
    let refused = 0;
    const store = new Proxy(inner, {
      get: (target, key) => {
        if (key === 'claimOrchestration' || key === 'claimActivity') {
          return (...args: [never]) => {
            if (outage) {
              if (key === 'claimOrchestration') refused++;
              return Promise.reject(new Error('store unreachable'));
            }
            return (target[key] as (...a: [never]) => Promise<unknown>)(...args);
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const runtime = await start({ store, clock, orchestrators: sampleOrchestrators, activities: sampleActivities });
    outage = true;
    // Started by another client, so the runtime's worker has to claim it: its work signal meets the outage.
    const id = await createClient({ store, clock }).startNew('E1_HelloSequence');
    await clock.advance(1_000);
    const refusedInASecond = refused;
    expect(refusedInASecond).toBeGreaterThan(1); // retried ...
    expect(refusedInASecond).toBeLessThan(20); // ... with back-off, not in a loop
    outage = false;
    await clock.advance(60_000);
    expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('keeps retrying when its logger throws: reporting a failure never becomes a second failure', async () => {
    const clock = new VirtualClock();
    const inner = new MemoryStore();
    let outage = false;
    let refused = 0;
    let reports = 0;
    const store = new Proxy(inner, {
      get: (target, key) => {
        if (key === 'claimOrchestration' && outage) {
          return () => {
            refused++;
            return Promise.reject(new Error('store unreachable'));
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const report = (): never => {
      reports++;
      throw new Error('the log stream is closed');
    };
    const runtime = await start({ store, clock, orchestrators: sampleOrchestrators, activities: sampleActivities, logger: { warn: report, error: report } });
    outage = true;
    const id = await createClient({ store, clock }).startNew('E1_HelloSequence');
    await clock.advance(1_000);
    expect(reports).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(1); // the retry after a failed claim is armed although its report threw
    outage = false;
    await clock.advance(60_000);
    expect((await ending(runtime.client, id))?.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('runs sub-orchestrations and surfaces their failure as TaskFailedError', async () => {
    let caught: unknown;
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) {
          const ok: string[] = yield ctx.callSubOrchestrator('E1_HelloSequence', undefined, 'child-ok');
          try {
            yield ctx.callSubOrchestrator('Broken');
          } catch (error) {
            caught = error;
          }
          return ok.length;
        },
        Broken: function* () {
          throw new Error('child broke');
        },
        E1_HelloSequence: sampleOrchestrators.E1_HelloSequence,
      },
      activities: sampleActivities,
    });
    const id = await runtime.client.startNew('Parent', { instanceId: 'parent' });
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 3 });
    expect(caught).toBeInstanceOf(TaskFailedError);
    expect((caught as TaskFailedError).failureDetails.errorMessage).toBe('child broke');
    expect(await runtime.client.getStatus('child-ok')).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'parent' });
    const { executionId } = (await runtime.store.getInstance('parent'))!;
    expect(await runtime.client.getStatus(`parent:${executionId}:1`)).toMatchObject({ runtimeStatus: 'Failed', parentInstanceId: 'parent' });
  });

  for (const lone of [false, true]) {
    it(lone
      ? 'rewinds by a client with no worker running at once (no longer Failed), and a worker started later reruns the failed calls down the tree'
      : 'rewinds failed sub-orchestrations with their parent, down to the failed call: their completed work is not redone', async () => {
      const runs = { Prep: 0, Done: 0, Flaky: 0 };
      const registry: Pick<RuntimeOptions, 'orchestrators' | 'activities'> = {
        orchestrators: {
          Parent: function* (ctx) {
            const prep: number = yield ctx.callActivity('Prep');
            const child: unknown = yield ctx.callSubOrchestrator('Child', 'in', 'child');
            return [prep, child];
          },
          Child: function* (ctx) {
            const done: number = yield ctx.callActivity('Done');
            const grandchild: unknown = yield ctx.callSubOrchestrator('Grandchild'); // the default id
            return [ctx.getInput(), done, grandchild];
          },
          Grandchild: function* (ctx) {
            const done: number = yield ctx.callActivity('Done');
            return [done, yield ctx.callActivity('Flaky')];
          },
        },
        activities: {
          Prep: () => ++runs.Prep,
          Done: () => ++runs.Done,
          Flaky: () => {
            if (++runs.Flaky === 1) throw new Error('misconfigured');
            return 'fixed';
          },
        },
      };
      // A store of the test's own: a runtime closes the MemoryStore it made itself when it stops.
      const store = new MemoryStore();
      const runtime = await start({ store, ...registry });
      let { client } = runtime;
      const id = await client.startNew('Parent', { instanceId: 'parent' });
      expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
      const instances = await client.getStatusAll();
      const grandchildId = instances.find((s) => s.name === 'Grandchild')!.instanceId;
      expect(instances.map((s) => s.runtimeStatus)).toEqual(['Failed', 'Failed', 'Failed']);

      if (lone) {
        // No worker runs: the client rewrites the parent's history itself; the calls it reruns wait for a worker.
        await runtime.stop();
        client = createClient({ store });
        await client.rewind(id, 'configuration fixed');
        const rewound = await client.getStatus(id);
        expect(rewound?.runtimeStatus).toBe('Running');
        expect(rewound).not.toHaveProperty('failureDetails');
        expect(runs).toEqual({ Prep: 1, Done: 2, Flaky: 1 });
        await start({ store, ...registry });
      } else {
        await client.rewind(id, 'configuration fixed');
      }
      const done = await client.waitForCompletion(id, SETTLED);
      expect(done).toMatchObject({ runtimeStatus: 'Completed', output: [1, ['in', 1, [2, 'fixed']]] });
      // Each completed activity ran once; only the call that failed the whole tree ran again.
      expect(runs).toEqual({ Prep: 1, Done: 2, Flaky: 2 });
      // The sub-orchestrations were rewound in place (same ids, not started over: one ExecutionStarted each).
      const after = await client.getStatusAll();
      expect(after.map((s) => [s.instanceId, s.runtimeStatus]).sort()).toEqual([[grandchildId, 'Completed'], ['child', 'Completed'], ['parent', 'Completed']].sort());
      for (const childId of ['child', grandchildId]) {
        const history = (await client.getStatus(childId, { showHistory: true }))!.history!;
        expect(history.filter((e) => e.type === 'ExecutionStarted'), childId).toHaveLength(1);
        expect(history.filter((e) => e.type === 'ExecutionRewound'), childId).toHaveLength(1);
      }
    });
  }

  it('reruns the failed calls of a client\'s rewind whichever message the first claim after it takes (a timer of the failed execution due by then, with one message per claim)', async () => {
    const clock = new VirtualClock();
    const runs = { Done: 0, Flaky: 0 };
    const registry: Pick<RuntimeOptions, 'orchestrators' | 'activities'> = {
      orchestrators: {
        Parent: function* (ctx) {
          ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1500)); // never awaited: due once the rewind is queued
          return yield ctx.callSubOrchestrator('Child', undefined, 'child');
        },
        Child: function* (ctx) {
          return [yield ctx.callActivity('Done'), yield ctx.callActivity('Flaky')];
        },
      },
      activities: {
        Done: () => ++runs.Done,
        Flaky: () => {
          if (++runs.Flaky === 1) throw new Error('misconfigured');
          return 'fixed';
        },
      },
    };
    const store = new MemoryStore();
    const runtime = await start({ store, clock, ...registry });
    const id = await runtime.client.startNew('Parent', { instanceId: 'parent' });
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
    await runtime.stop();
    // No worker runs: the client rewrites the history itself and queues the rerun behind the parent's timer.
    const client = createClient({ store, clock });
    await client.rewind(id, 'configuration fixed');
    expect((await client.getStatus(id))?.runtimeStatus).toBe('Running');
    await clock.advance(2000);
    // A store whose claims hand out one message each (as MongoStore's are capped by maxMessagesPerClaim): the first
    // claim of the parent takes its timer, which is older than the rewind.
    const oneMessagePerClaim = new Proxy(store, {
      get: (target, key) => {
        if (key === 'claimOrchestration') {
          return async (options: Parameters<Store['claimOrchestration']>[0]) => {
            const item = await target.claimOrchestration(options);
            return item && { ...item, messages: item.messages.slice(0, 1) };
          };
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await start({ store: oneMessagePerClaim, clock, ...registry });
    expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'fixed'] });
    // The child was rewound in place: its completed activity did not run again.
    expect(runs).toEqual({ Done: 1, Flaky: 2 });
    const history = (await client.getStatus('child', { showHistory: true }))!.history!;
    expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
  });

  for (const purged of [false, true]) {
    it(purged
      ? 'starts afresh, with the input of the later execution\'s call, a failed sub-orchestration purged before its parent\'s rewind'
      : 'sends the result of a sub-orchestration rewound in place to the call now waiting for it, even one of a later execution; it keeps its own input', async () => {
      let failures = 1;
      const runtime = await start({
        orchestrators: {
          Parent: function* (ctx) {
            if (ctx.getInput<number>() === 0) {
              ctx.callSubOrchestrator('Child', 'first', 'child'); // not awaited: still running when the next execution calls it
              ctx.continueAsNew(1);
              return undefined;
            }
            return yield ctx.callSubOrchestrator('Child', 'second', 'child');
          },
          Child: function* (ctx) {
            yield ctx.waitForExternalEvent('go');
            return [ctx.getInput(), yield ctx.callActivity('Flaky')];
          },
        },
        activities: {
          Flaky: () => {
            if (failures-- > 0) throw new Error('misconfigured');
            return 'fixed';
          },
        },
      });
      const { client } = runtime;
      await client.startNew('Parent', { instanceId: 'parent', input: 0 });
      // The second execution's call finds the first execution's child running: that call fails, and the parent with it.
      expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
      await client.raiseEvent('child', 'go');
      expect(await client.waitForCompletion('child', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
      if (purged) await client.purgeInstanceHistory('child');
      // The rewind calls the child again. Found Failed, it is rewound in place (created by the first execution, for
      // another call, with that call's input), and its result goes to the call of the second execution that now waits
      // for it. Purged, it is created by that call, with that call's input.
      await client.rewind('parent');
      if (purged) await client.raiseEvent('child', 'go');
      const input = purged ? 'second' : 'first';
      expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [input, 'fixed'] });
      const history = (await client.getStatus('child', { showHistory: true }))!.history!;
      expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      expect(history.filter((e) => e.type === 'ExecutionRewound')).toHaveLength(purged ? 0 : 1);
      expect(await client.getStatus('child')).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'parent', input });
    });
  }

  it('fails again, rather than waiting for ever, a rewound parent whose two calls at once name one sub-orchestration', async () => {
    let failures = 1;
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) {
          return yield ctx.Task.all([ctx.callSubOrchestrator('Child', 'in', 'twin'), ctx.callSubOrchestrator('Child', 'in', 'twin')]);
        },
        Child: function* (ctx) {
          yield ctx.waitForExternalEvent('go');
          return yield ctx.callActivity('Flaky');
        },
      },
      activities: {
        Flaky: () => {
          if (failures-- > 0) throw new Error('misconfigured');
          return 'fixed';
        },
      },
    });
    const { client } = runtime;
    await client.startNew('Parent', { instanceId: 'parent' });
    // The second call finds the instance the first one created running: it fails, and the parent with it.
    const first = await client.waitForCompletion('parent', SETTLED);
    expect(first).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringContaining('already running') } });
    await client.raiseEvent('twin', 'go');
    expect(await client.waitForCompletion('twin', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
    // The rewind reruns both calls: the first rewinds the instance in place, the second finds it being rewound and
    // fails as it did the first time (before, both rewound it, it answered one of them and the other waited for ever).
    await client.rewind('parent');
    const again = await client.waitForCompletion('parent', SETTLED);
    expect(again).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringContaining('already running') } });
    // The twin's rewind is a message of the parent's failing step: the twin may still read Failed when the parent does.
    const twin = firstValueFrom(client.status$('twin').pipe(
      filter((s) => s?.runtimeStatus === 'Completed'),
      timeout({ first: SETTLED.timeoutMs, with: () => throwError(() => new Error('twin did not complete')) }),
    ));
    expect(await twin).toMatchObject({ runtimeStatus: 'Completed', output: 'fixed' });
    const history = (await client.getStatus('twin', { showHistory: true }))!.history!;
    expect(history.filter((e) => e.type === 'ExecutionRewound')).toHaveLength(1);
  });

  it('fails again a rewound parent whose second call at once named the sub-orchestration its first call still waits for, which runs', async () => {
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) {
          return yield ctx.Task.all([ctx.callSubOrchestrator('Child', 'in', 'twin'), ctx.callSubOrchestrator('Child', 'in', 'twin')]);
        },
        Child: function* (ctx) {
          return yield ctx.waitForExternalEvent('go');
        },
      },
    });
    const { client } = runtime;
    await client.startNew('Parent', { instanceId: 'parent' });
    const first = await client.waitForCompletion('parent', SETTLED);
    expect(first).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringContaining('already running') } });
    // The rewind keeps the first call, which still waits for the running twin, and reruns the second: it is not
    // attached to the twin (the first call would then wait for ever) but fails as it did.
    await client.rewind('parent');
    expect(await ending(client, 'parent')).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringContaining('already running') } });
    const history = (await client.getStatus('twin', { showHistory: true }))!.history!;
    expect(history.filter((e) => e.type === 'ExecutionRewound')).toHaveLength(0);
  });

  it('starts a failed sub-orchestration over on rewind when its instance was purged meanwhile', async () => {
    let failures = 1;
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) {
          return yield ctx.callSubOrchestrator('Child', undefined, 'child');
        },
        Child: function* () {
          if (failures-- > 0) throw new Error('child broke');
          return 'ok';
        },
      },
    });
    const { client } = runtime;
    const id = await client.startNew('Parent');
    expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
    expect(await client.purgeInstanceHistory('child')).toEqual({ instancesDeleted: 1 });
    await client.rewind(id);
    expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'ok' });
    expect(await client.getStatus('child')).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: id });
  });

  for (const lone of [false, true]) {
    const by = lone ? ' (rewound by a client with no worker running)' : '';
    /** A parent whose sub-orchestration failed, so it failed; the child is then rewound on its own and runs again. */
    const childRewoundFirst = async (waits: boolean) => {
      const runs = { Done: 0, Flaky: 0 };
      const registry: Pick<RuntimeOptions, 'orchestrators' | 'activities'> = {
        orchestrators: {
          Parent: function* (ctx) {
            return ['P', yield ctx.callSubOrchestrator('Child', undefined, 'kid')];
          },
          Child: function* (ctx) {
            const done: number = yield ctx.callActivity('Done');
            const flaky: string = yield ctx.callActivity('Flaky');
            if (!waits) return [done, flaky];
            ctx.setCustomStatus('waiting');
            return [done, flaky, yield ctx.waitForExternalEvent('go')];
          },
        },
        activities: {
          Done: () => ++runs.Done,
          Flaky: () => {
            if (++runs.Flaky === 1) throw new Error('misconfigured');
            return 'fixed';
          },
        },
      };
      const store = new MemoryStore();
      const runtime = await start({ store, ...registry });
      await runtime.client.startNew('Parent', { instanceId: 'parent' });
      expect(await runtime.client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
      await runtime.client.rewind('kid');
      return { runs, registry, store, runtime };
    };
    /** Rewinds the parent, by the runtime's client or, with `lone`, by a client alone and then a worker started. */
    const rewindParent = async (setup: Awaited<ReturnType<typeof childRewoundFirst>>) => {
      let { client } = setup.runtime;
      if (lone) {
        await setup.runtime.stop();
        client = createClient({ store: setup.store });
        await client.rewind('parent');
        expect((await client.getStatus('parent'))?.runtimeStatus).toBe('Running');
        await start({ store: setup.store, ...setup.registry });
      } else {
        await client.rewind('parent');
      }
      return client;
    };

    it(`attaches a rewound parent's rerun call to its failed sub-orchestration running again after its own rewind, instead of failing it as already running${by}`, async () => {
      const setup = await childRewoundFirst(true);
      await firstValueFrom(setup.runtime.client.customStatus$('kid').pipe(filter((status) => status === 'waiting')));
      const client = await rewindParent(setup);
      // The rerun step has run (it records the ExecutionRewound): the call now waits for the running child.
      await firstValueFrom(client.history$('parent').pipe(filter((e) => e.type === 'ExecutionRewound')));
      await client.raiseEvent('kid', 'go', 'g');
      expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['P', [1, 'fixed', 'g']] });
      expect(setup.runs).toEqual({ Done: 1, Flaky: 2 });
      const history = (await client.getStatus('kid', { showHistory: true }))!.history!;
      expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
    });

    it(`gives a rewound parent the result of its failed sub-orchestration that completed after its own rewind, without starting it again${by}`, async () => {
      const setup = await childRewoundFirst(false);
      expect(await setup.runtime.client.waitForCompletion('kid', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'fixed'] });
      // The child's result reached the parent while it was Failed: recorded after its failure.
      await firstValueFrom(setup.runtime.client.history$('parent').pipe(filter((e) => e.type === 'SubOrchestrationInstanceCompleted')));
      const kidVersions: string[] = [];
      const kidChanges = createClient({ store: setup.store }).status$('kid').subscribe((s) => kidVersions.push(s?.runtimeStatus ?? 'none'));
      const client = await rewindParent(setup);
      expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['P', [1, 'fixed']] });
      kidChanges.unsubscribe();
      // The child was not started again: its completed activities did not run again, and it stayed Completed.
      expect(setup.runs).toEqual({ Done: 1, Flaky: 2 });
      expect(kidVersions.every((status) => status === 'Completed')).toBe(true);
      expect((await client.getStatus('kid', { showHistory: true }))!.history!.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      // The call keeps the creation it had, and its result follows it.
      const calls = (await client.getStatus('parent', { showHistory: true }))!.history!.map((e) => e.type).filter((t) => t.startsWith('SubOrchestration'));
      expect(calls).toEqual(['SubOrchestrationInstanceCreated', 'SubOrchestrationInstanceCompleted']);
    });
  }

  it('fails again a rewound parent whose rerun call finds running the sub-orchestration of an earlier call, rewound on its own, instead of taking it for its own', async () => {
    let failures = 1;
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) {
          try {
            yield ctx.callSubOrchestrator('Child', 'first', 'kid');
          } catch {
            ctx.setCustomStatus('caught');
          }
          yield ctx.waitForExternalEvent('again');
          return yield ctx.callSubOrchestrator('Child', 'second', 'kid');
        },
        Child: function* (ctx) {
          const flaky: string = yield ctx.callActivity('Flaky');
          ctx.setCustomStatus('waiting');
          return [ctx.getInput(), flaky, yield ctx.waitForExternalEvent('go')];
        },
      },
      activities: {
        Flaky: () => {
          if (failures-- > 0) throw new Error('misconfigured');
          return 'fixed';
        },
      },
    });
    const { client } = runtime;
    await client.startNew('Parent', { instanceId: 'parent' });
    await firstValueFrom(client.customStatus$('parent').pipe(filter((status) => status === 'caught')));
    // The first call's child is rewound on its own and runs again; the parent's second call finds it running and fails.
    await client.rewind('kid');
    await firstValueFrom(client.customStatus$('kid').pipe(filter((status) => status === 'waiting')));
    await client.raiseEvent('parent', 'again');
    const failed = await client.waitForCompletion('parent', SETTLED);
    expect(failed).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringContaining('already running') } });
    // The rerun of that call finds it running still, for the first call: it fails again (it was attached, and the
    // parent took the result of the first call's child, started with the first call's input).
    await client.rewind('parent');
    await firstValueFrom(client.history$('parent').pipe(filter((e) => e.type === 'ExecutionRewound')));
    await client.raiseEvent('kid', 'go', 'g');
    expect(await client.waitForCompletion('kid', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['first', 'fixed', 'g'] });
    expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({
      runtimeStatus: 'Failed', failureDetails: { errorMessage: failed!.failureDetails!.errorMessage },
    });
    expect((await client.getStatus('kid', { showHistory: true }))!.history!.filter((e) => e.type === 'ExecutionRewound')).toHaveLength(1); // its own
  });

  it('attaches a rewound parent\'s rerun call to the execution its failed sub-orchestration continued as after its own rewind', async () => {
    let failures = 1;
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) {
          return yield ctx.callSubOrchestrator('Child', 0, 'kid');
        },
        Child: function* (ctx) {
          if (ctx.getInput<number>() === 0) {
            ctx.continueAsNew(yield ctx.callActivity('Flaky'));
            return undefined;
          }
          ctx.setCustomStatus('waiting');
          return [ctx.getInput(), yield ctx.waitForExternalEvent('go')];
        },
      },
      activities: {
        Flaky: () => {
          if (failures-- > 0) throw new Error('misconfigured');
          return 'continued';
        },
      },
    });
    const { client } = runtime;
    await client.startNew('Parent', { instanceId: 'parent' });
    expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
    // Rewound on its own, the child continues as a new execution, which still answers the parent's call: the
    // parent's rerun call waits for it, as it would take its result had it come already.
    await client.rewind('kid');
    await firstValueFrom(client.customStatus$('kid').pipe(filter((status) => status === 'waiting')));
    await client.rewind('parent');
    await firstValueFrom(client.history$('parent').pipe(filter((e) => e.type === 'ExecutionRewound')));
    await client.raiseEvent('kid', 'go', 'g');
    expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['continued', 'g'] });
  });

  it('records the outcome of a rewound instance whose orchestrator code threw, instead of leaving it Running for ever', async () => {
    let configured = false;
    const runtime = await start({
      orchestrators: {
        Always: function* (ctx) {
          yield ctx.callActivity('Prep');
          throw new Error('always broken');
        },
        Config: function* (ctx) {
          const prep: number = yield ctx.callActivity('Prep');
          if (!configured) throw new Error('not configured');
          return prep;
        },
      },
      activities: { Prep: () => 1 },
    });
    const { client } = runtime;
    // No failed call to rerun: the rewound replay itself ends the execution, and that outcome is recorded.
    await client.startNew('Always', { instanceId: 'always' });
    expect(await client.waitForCompletion('always', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
    await client.rewind('always');
    expect(await ending(client, 'always')).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: 'always broken' } });
    const history = (await client.getStatus('always', { showHistory: true }))!.history!;
    expect(history.map((e) => e.type).slice(-3)).toEqual(['ExecutionRewound', 'ExecutionCompleted', 'OrchestratorCompleted']);

    await client.startNew('Config', { instanceId: 'config' });
    expect(await client.waitForCompletion('config', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
    configured = true;
    await client.rewind('config');
    expect(await ending(client, 'config')).toMatchObject({ runtimeStatus: 'Completed', output: 1 });
  });

  it('records the outcome of an execution whose changed code now ends it during replay, instead of leaving it Running', async () => {
    const store = new MemoryStore();
    let endsEarly = false;
    const orchestrators = {
      Changed: function* (ctx: Parameters<RuntimeOptions['orchestrators'][string]>[0]) {
        const prep: number = yield ctx.callActivity('Prep');
        if (endsEarly) return prep + 1;
        ctx.setCustomStatus('waiting');
        const go: unknown = yield ctx.waitForExternalEvent('Go');
        return go;
      },
    };
    const first = await start({ store, orchestrators, activities: { Prep: () => 1 } });
    await first.client.startNew('Changed', { instanceId: 'changed' });
    await firstValueFrom(first.client.customStatus$('changed').pipe(filter((status) => status === 'waiting'), timeout(30_000)));
    await first.stop();
    // A deployment of the orchestrator that now returns right after the activity: its replay ends the execution,
    // which no history event records; the next message's step records it.
    endsEarly = true;
    const second = await start({ store, orchestrators, activities: { Prep: () => 1 } });
    await second.client.raiseEvent('changed', 'Go', 'late');
    expect(await ending(second.client, 'changed')).toMatchObject({ runtimeStatus: 'Completed', output: 2 });
  });

  it('fails a rewound parent again when its sub-orchestration, rewound in place, fails again in its own code', async () => {
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) {
          return yield ctx.callSubOrchestrator('Child', undefined, 'child');
        },
        Child: function* () {
          throw new Error('child broke');
        },
      },
    });
    const { client } = runtime;
    await client.startNew('Parent', { instanceId: 'parent' });
    expect(await client.waitForCompletion('parent', SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
    await client.rewind('parent');
    expect(await ending(client, 'parent')).toMatchObject({
      runtimeStatus: 'Failed', failureDetails: { errorMessage: expect.stringContaining('child broke') },
    });
    expect(await client.getStatus('child')).toMatchObject({ runtimeStatus: 'Failed', parentInstanceId: 'parent' });
    const history = (await client.getStatus('child', { showHistory: true }))!.history!;
    expect(history.filter((e) => e.type === 'ExecutionRewound')).toHaveLength(1);
  });

  it('retries a failing sub-orchestration on durable timers until it succeeds', async () => {
    const clock = new VirtualClock();
    let runs = 0;
    const runtime = await start({
      clock,
      orchestrators: {
        Parent: function* (ctx) {
          return yield ctx.callSubOrchestratorWithRetry('Unstable', { firstRetryIntervalInMilliseconds: 60_000, maxNumberOfAttempts: 3 }, 'in', 'child');
        },
        Unstable: function* (ctx) {
          runs++;
          if (runs < 3) throw new Error(`run ${runs} failed`);
          return `${String(ctx.getInput())}: third time lucky`;
        },
      },
    });
    const id = await runtime.client.startNew('Parent');
    // Each retry waits on a durable timer: advance through them until the parent ends, whichever way it ends (a parent
    // that failed, or stopped arming timers, must fail this test at once, not hang it until the runner's timeout).
    let done: InstanceStatus | undefined;
    const ended = ending(runtime.client, id).then((status) => {
      done = status;
    });
    ended.catch(() => undefined); // awaited below while the loop runs; a rejection after it is no unhandled error
    for (let interval = 0; interval < 10 && !done; interval++) {
      await Promise.race([clock.waitForTimer(), ended]);
      if (!done) await clock.advance(60_000);
    }
    expect(done, 'how the parent ended (undefined: still running after 10 retry intervals)').toMatchObject({ runtimeStatus: 'Completed', output: 'in: third time lucky' });
    expect(runs).toBe(3);
    expect(await runtime.client.getStatus('child')).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: id });
  });

  it('continues as new with a fresh history, keeping unprocessed events when asked', async () => {
    const runtime = await start({
      orchestrators: {
        Counter: function* (ctx) {
          const n = ctx.getInput<number>();
          const add: number = yield ctx.waitForExternalEvent<number>('Add');
          if (n + add >= 6) return n + add;
          ctx.continueAsNew(n + add, { preserveUnprocessedEvents: true });
        },
      },
    });
    const id = await runtime.client.startNew('Counter', { input: 0 });
    for (const add of [1, 2, 3]) await runtime.client.raiseEvent(id, 'Add', add);
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 6, input: 3 });
    const history = (await runtime.client.getStatus(id, { showHistory: true }))!.history!;
    expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
    expect(history.filter((e) => e.type === 'EventRaised')).toHaveLength(1);
  });

  it('starts each execution of a continueAsNew loop without a custom status (one the new execution sets is shown), keeping createdTime', async () => {
    const runtime = await start({
      orchestrators: {
        Passes: function* (ctx) {
          const n = ctx.getInput<number>();
          if (n === 0) ctx.setCustomStatus('first pass');
          yield ctx.waitForExternalEvent('Next');
          if (n === 1) ctx.setCustomStatus('second pass, after its wait');
          if (n === 2) return 'done';
          ctx.continueAsNew(n + 1);
        },
      },
    });
    const id = 'passes';
    const seen: unknown[] = [];
    const watch = runtime.client.customStatus$(id).subscribe((value) => seen.push(value));
    await runtime.client.startNew('Passes', { instanceId: id, input: 0 });
    const passes = (input: number) => firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.input === input && s.runtimeStatus === 'Running')));
    const first = await passes(0);
    expect(first!.customStatus).toBe('first pass');
    await runtime.client.raiseEvent(id, 'Next');
    // The second execution waits without one: the first's value went with its execution. It is the same instance:
    // its createdTime is the first execution's.
    const second = await passes(1);
    expect(second).not.toHaveProperty('customStatus');
    expect(second!.createdTime).toEqual(first!.createdTime);
    await runtime.client.raiseEvent(id, 'Next');
    await passes(2);
    await runtime.client.raiseEvent(id, 'Next');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).not.toHaveProperty('customStatus');
    watch.unsubscribe();
    expect(seen).toEqual([undefined, 'first pass', undefined, 'second pass, after its wait', undefined]);
  });

  it('fails an instance whose code changed incompatibly, naming both calls', async () => {
    const store = new MemoryStore();
    const v1 = await start({
      store,
      orchestrators: { Versioned: function* (ctx) { yield ctx.callActivity('Old'); yield ctx.waitForExternalEvent('Go'); } },
      activities: { Old: () => 1 },
    });
    const id = await v1.client.startNew('Versioned');
    await firstValueFrom(v1.client.history$(id).pipe(filter((e) => e.type === 'TaskCompleted')));
    await v1.stop();
    runtimes.splice(runtimes.indexOf(v1), 1);
    const v2 = await start({
      store,
      orchestrators: { Versioned: function* (ctx) { yield ctx.callActivity('New'); yield ctx.waitForExternalEvent('Go'); } },
      activities: { New: () => 2 },
    });
    await v2.client.raiseEvent(id, 'Go');
    const done = await v2.client.waitForCompletion(id, SETTLED);
    expect(done.runtimeStatus).toBe('Failed');
    expect(done.failureDetails?.errorType).toBe('NonDeterminismError');
    expect(done.failureDetails?.errorMessage).toContain('"Old"');
    expect(done.failureDetails?.errorMessage).toContain('"New"');
  });

  it('fails an orchestration whose custom status exceeds the configured limit', async () => {
    const runtime = await start({
      customStatusLimitBytes: 64,
      orchestrators: { Big: function* (ctx) { ctx.setCustomStatus({ blob: 'x'.repeat(100) }); yield ctx.createTimer(ctx.currentUtcDateTime); } },
    });
    const id = await runtime.client.startNew('Big');
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done.failureDetails).toMatchObject({ errorType: 'PayloadTooLargeError' });
    expect(done.customStatus).toBeUndefined();
  });

  it('fails instances of an orchestrator it does not know, and activities it does not know', async () => {
    const store = new MemoryStore();
    const runtime = await start({ store, orchestrators: { CallsMissing: function* (ctx) { return yield ctx.callActivity('Missing'); } } });
    const bare = createClient({ store });
    const unknown = await bare.startNew('NotRegistered');
    expect((await runtime.client.waitForCompletion(unknown, SETTLED)).failureDetails?.errorType).toBe('OrchestratorNotFoundError');
    const missing = await runtime.client.startNew('CallsMissing');
    const done = await runtime.client.waitForCompletion(missing, SETTLED);
    expect(done.failureDetails?.errorMessage).toContain('No activity named "Missing"');
  });

  it('resolves only registered names: constructor, toString and __proto__ are unknown activities and orchestrators', async () => {
    const store = new MemoryStore();
    const runtime = await start({
      store,
      orchestrators: {
        CallsInherited: function* (ctx) {
          const outcomes: string[] = [];
          for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
            try {
              yield ctx.callActivity(name, 'x');
              outcomes.push(`${name}: completed`);
            } catch (error) {
              outcomes.push(`${name}: ${(error as Error).message}`);
            }
          }
          return outcomes;
        },
      },
    });
    const id = await runtime.client.startNew('CallsInherited');
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toEqual([
      expect.stringMatching(/^constructor: .*No activity named "constructor"/),
      expect.stringMatching(/^toString: .*No activity named "toString"/),
      expect.stringMatching(/^__proto__: .*No activity named "__proto__"/),
      expect.stringMatching(/^hasOwnProperty: .*No activity named "hasOwnProperty"/),
    ]);
    // A bare client does not know the registry: the runtime must fail these, not run Object.prototype members.
    const bare = createClient({ store });
    for (const name of ['constructor', 'toString']) {
      const unknown = await bare.startNew(name);
      const failed = await runtime.client.waitForCompletion(unknown, SETTLED);
      expect(failed.runtimeStatus).toBe('Failed');
      expect(failed.failureDetails?.errorType).toBe('OrchestratorNotFoundError');
    }
    // The runtime's own client refuses them up front.
    await expect(runtime.client.startNew('constructor')).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('steps a long orchestration from the cache: the 1,000th step replays nothing', async () => {
    const runtime = await start({
      orchestrators: {
        Long: function* (ctx) {
          let sum = 0;
          for (let i = 0; i < 1000; i++) sum += (yield ctx.callActivity<number>('One')) as number;
          return sum;
        },
      },
      activities: { One: () => 1 },
    });
    const id = await runtime.client.startNew('Long');
    const done = await runtime.client.waitForCompletion(id, { timeoutMs: 60_000 });
    expect(done.output).toBe(1000);
    // The last step is counted once its commit has settled, which may be after the status it committed is seen.
    await runtime.stop({ graceMs: Infinity });
    const m = runtime.metrics;
    expect(m.steps).toBe(1001);
    expect(m.cacheMisses).toBe(0);
    expect(m.eventsReplayed).toBe(0);
    // One ExecutionStarted plus one TaskCompleted per step: engine work grows with new events only.
    expect(m.eventsApplied).toBe(1001);
  });

  it('replays after a cache eviction and still completes correctly', async () => {
    const runtime = await start({ cacheSize: 0, orchestrators: sampleOrchestrators, activities: sampleActivities });
    const id = await runtime.client.startNew('E1_HelloSequence');
    expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    expect(runtime.metrics.cacheMisses).toBe(3);
    expect(runtime.metrics.eventsReplayed).toBeGreaterThan(0);
  });

  it('leaves no change-feed listener behind after unsubscribing', async () => {
    const store = new MemoryStore();
    const counting = countingStore(store);
    const runtime = await start({ store: counting.store, orchestrators: sampleOrchestrators, activities: sampleActivities });
    const id = await runtime.client.startNew('E1_HelloSequence');
    const subs = [runtime.client.status$(id).subscribe(), runtime.client.customStatus$(id).subscribe(),
      runtime.client.instances$().subscribe(), runtime.client.history$(id).subscribe()];
    await runtime.client.waitForCompletion(id, SETTLED);
    expect(counting.listeners()).toBe(1); // one shared feed subscription, routed by instance id
    subs[0]!.unsubscribe();
    expect(counting.listeners()).toBe(1);
    for (const s of subs) s.unsubscribe();
    expect(counting.listeners()).toBe(0);
  });

  it('ends status$ with the store: close completes it instead of leaving it hanging', async () => {
    const store = new MemoryStore();
    const runtime = await start({ store, orchestrators: sampleOrchestrators, activities: sampleActivities });
    const id = await runtime.client.startNew('E1_HelloSequence');
    await runtime.client.waitForCompletion(id, SETTLED);
    const seen = lastValueFrom(runtime.client.status$(id).pipe(toArray()));
    await firstValueFrom(runtime.client.status$(id));
    await runtime.stop();
    await store.close();
    const statuses = await seen;
    expect(statuses.at(-1)?.runtimeStatus).toBe('Completed');
  });

  it('stops the worker only: its client follows the store on (observables, waits with their own timeout, commands) until client.close()', async () => {
    const store = new MemoryStore();
    const counting = countingStore(store);
    const clock = new VirtualClock();
    const runtime = await start({ store: counting.store, clock, orchestrators: sampleOrchestrators, activities: sampleActivities });
    const { client } = runtime;
    const id = await client.startNew('SetStatusTest');
    const ended: string[] = [];
    const recorded = <T>(name: string, source: Observable<T>) => lastValueFrom(source.pipe(finalize(() => ended.push(name)), toArray()));
    const statuses = recorded('status$', client.status$(id));
    const customStatuses = recorded('customStatus$', client.customStatus$(id));
    const history = recorded('history$', client.history$(id));
    const lists = recorded('instances$', client.instances$());
    await firstValueFrom(client.customStatus$(id).pipe(filter((s) => s !== undefined)));
    const waiting = client.waitForCompletion(id, { timeoutMs: 600_000 });
    await runtime.stop();

    // A wait made after the stop ends at its own timeout, on the runtime's clock, not at once.
    let settled = false;
    const timed = client.waitForCompletion(id, { timeoutMs: 5_000 }).finally(() => (settled = true));
    await clock.advance(4_999);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect((await timed).runtimeStatus).toBe('Running');
    expect(ended).toEqual([]); // nothing the client watches ended at the stop
    expect(counting.listeners()).toBeGreaterThan(0);

    // A command is taken while stopped; another worker on the store (another tab, another process) runs it, and what
    // the client watched since before the stop shows it.
    await client.raiseEvent(id, 'Proceed');
    const other = await start({ store, clock, orchestrators: sampleOrchestrators, activities: sampleActivities });
    expect(await waiting).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect((await other.client.getStatus(id))?.runtimeStatus).toBe('Completed');

    // close() ends what the client watches, after the current values; later watches end after their first value.
    client.close();
    expect((await statuses).map((s) => s?.runtimeStatus).slice(-2)).toEqual(['Running', 'Completed']);
    expect((await customStatuses).at(-1)).toEqual({ nextActions: ['A', 'B', 'C'], foo: 2 });
    expect((await history).map((e) => e.type)).toContain('ExecutionCompleted');
    expect((await lists).at(-1)?.map((s) => s.runtimeStatus)).toEqual(['Completed']);
    expect(ended.sort()).toEqual(['customStatus$', 'history$', 'instances$', 'status$']);
    expect(counting.listeners()).toBe(0);
    expect(await lastValueFrom(client.status$(id).pipe(toArray()))).toMatchObject([{ runtimeStatus: 'Completed' }]);
    expect(await client.waitForCompletion(id, { timeoutMs: 600_000 })).toMatchObject({ runtimeStatus: 'Completed' });
    // For good: a later start runs a worker, and leaves the client as its owner closed it.
    await runtime.start();
    expect(await lastValueFrom(client.status$(id).pipe(toArray()))).toMatchObject([{ runtimeStatus: 'Completed' }]);
  });

  it('stops idempotently, leaves the store it made open, and starts again', async () => {
    const runtime = createRuntime({ orchestrators: sampleOrchestrators, activities: sampleActivities, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    const id = await runtime.client.startNew('E1_HelloSequence');
    await runtime.client.waitForCompletion(id, SETTLED);
    const stopping = runtime.stop();
    expect(runtime.stop()).toBe(stopping);
    await stopping;
    expect((await runtime.store.getInstance(id))?.runtimeStatus).toBe('Completed'); // kept for the next start
    await runtime.start();
    const again = await runtime.client.startNew('E1_HelloSequence');
    expect((await runtime.client.waitForCompletion(again, SETTLED)).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('starts and stops through start and stop taken off the runtime (a promise\'s finally, an effect\'s cleanup)', async () => {
    const runtime = createRuntime({ orchestrators: sampleOrchestrators, activities: sampleActivities, logger: silentLogger });
    const { start, stop } = runtime;
    await Promise.resolve().then(start);
    const id = await runtime.client.startNew('E1_HelloSequence');
    expect((await runtime.client.waitForCompletion(id, { timeoutMs: 60_000 })).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    await Promise.resolve().finally(stop);
    await Promise.resolve().then(start);
    const again = await runtime.client.startNew('E1_HelloSequence');
    expect((await runtime.client.waitForCompletion(again, { timeoutMs: 60_000 })).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    await Promise.resolve().finally(stop);
  });

  it('runs on the store it is given from the /core entry, leaves that store open, and refuses to run without one', async () => {
    const store = new MemoryStore();
    const runtime = createCoreRuntime({ store, orchestrators: sampleOrchestrators, activities: sampleActivities, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    const id = await runtime.client.startNew('E1_HelloSequence');
    expect((await runtime.client.waitForCompletion(id, { timeoutMs: 60_000 })).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    await runtime.stop();
    expect((await store.getInstance(id))?.runtimeStatus).toBe('Completed'); // still open: the runtime did not create it
    const withoutStore = { orchestrators: sampleOrchestrators } as unknown as Parameters<typeof createCoreRuntime>[0];
    expect(() => createCoreRuntime(withoutStore)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    await store.close();
  });

  it('lets the process exit after stop(), the client\'s subscriptions left open: no timers left behind', () => {
    const script = fileURLToPath(new URL('./fixtures/exit-after-stop.mjs', import.meta.url));
    // The fixture reports what still holds the event loop; the time limit only ends a process that hangs anyway,
    // and a loaded machine can take many seconds to start one.
    const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 110_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('Completed ["Hello Tokyo!","Hello Seattle!","Hello London!"]');
  });
});

/** Wraps a real store, counting subscribers of its change feed (no behaviour is faked). */
function countingStore(inner: Store): { store: Store; listeners: () => number } {
  let listeners = 0;
  const changes$: Observable<StatusChange> = defer(() => {
    listeners++;
    return inner.changes$.pipe(finalize(() => listeners--));
  });
  const store = new Proxy(inner, {
    get: (target, key) => {
      if (key === 'changes$') return changes$;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, listeners: () => listeners };
}
