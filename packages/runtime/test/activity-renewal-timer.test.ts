import { filter, firstValueFrom, throwError, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { DurableClient } from '../src/client/durable-client.js';
import type { ClockTimer } from '../src/env/clock.js';
import { isTerminalStatus, type InstanceStatus } from '../src/model/instance-status.js';
import type { RuntimeOptions } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { SETTLED } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';

// An activity's lease renewals wait on the worker's deadline timer, not on a timer of their own: an activity that
// returns at once (most do) costs no timer set and cleared, a long one still has its lease renewed, and a stop ends
// every renewal.

/** A virtual clock that counts the timers armed on it. */
class CountingClock extends VirtualClock {
  armed = 0;
  override setTimeout(callback: () => void, delayMs: number): ClockTimer {
    this.armed++;
    return super.setTimeout(callback, delayMs);
  }
}

/** A MemoryStore that counts lease renewals. */
class RenewalsStore extends MemoryStore {
  renewals = 0;
  override renewActivityLease(...args: Parameters<MemoryStore['renewActivityLease']>): Promise<void> {
    this.renewals++;
    return super.renewActivityLease(...args);
  }
}

/** The terminal status of `id`, by notification, within SETTLED of real time (the virtual clock times nothing here). */
function settled(client: DurableClient, id: string): Promise<InstanceStatus | undefined> {
  return firstValueFrom(client.status$(id).pipe(
    filter((s) => s !== undefined && isTerminalStatus(s.runtimeStatus)),
    timeout({ first: SETTLED.timeoutMs, with: () => throwError(() => new Error(`instance ${id} did not finish`)) }),
  ));
}

const ACTIVITIES = 30;
const orchestrators: RuntimeOptions['orchestrators'] = {
  Sequence: function* (ctx) {
    for (let i = 0; i < ACTIVITIES; i++) yield ctx.callActivity('Echo', i);
    return 'done';
  },
  Long: function* (ctx) {
    return yield ctx.callActivity('Wait');
  },
};

const releases: (() => void)[] = [];
const { start } = startedRuntimes({ graceMs: 0 });
afterEach(() => {
  for (const release of releases.splice(0)) release();
});

describe("an activity's lease renewals", () => {
  it('arm no timer for an activity that returns at once', async () => {
    const clock = new CountingClock();
    const runtime = await start({ store: new MemoryStore(), clock, orchestrators, activities: { Echo: (x: number) => x } });
    // The worker's own timers (wake-up, deadline list) are armed once it runs; what is counted from here is per step.
    const warm = await runtime.client.startNew('Sequence');
    expect(await settled(runtime.client, warm)).toMatchObject({ runtimeStatus: 'Completed' });
    const before = clock.armed;
    const id = await runtime.client.startNew('Sequence');
    expect(await settled(runtime.client, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    // One timer set and cleared per activity before: 30 or more.
    expect(clock.armed - before).toBeLessThan(ACTIVITIES / 3);
  });

  it("still renew a long activity's lease every third of it, and end with the activity", async () => {
    const clock = new VirtualClock();
    const store = new RenewalsStore();
    let runs = 0;
    let finish: (value: string) => void = () => undefined;
    let began!: () => void;
    const running = new Promise<void>((resolve) => { began = resolve; });
    const runtime = await start({
      store, clock, orchestrators, activityLeaseMs: 30_000,
      activities: { Wait: () => new Promise<string>((resolve) => { runs++; finish = resolve; began(); }) },
    });
    releases.push(() => finish('released'));
    const id = await runtime.client.startNew('Long');
    await running;
    await clock.advance(95_000);
    // Renewed at 10 s, 20 s ... 90 s: the lease never lapsed, so the task was not claimed and run again.
    expect(store.renewals).toBe(9);
    expect(runs).toBe(1);
    finish('finished');
    expect(await settled(runtime.client, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'finished' });
    const renewals = store.renewals;
    await clock.advance(60_000);
    expect(store.renewals).toBe(renewals);
  });

  it('end with the worker: none goes out after a stop', async () => {
    const clock = new VirtualClock();
    const store = new RenewalsStore();
    let began!: () => void;
    const running = new Promise<void>((resolve) => { began = resolve; });
    const runtime = await start({
      store, clock, orchestrators, activityLeaseMs: 30_000,
      activities: { Wait: () => { began(); return new Promise<string>(() => undefined); } },
    });
    await runtime.client.startNew('Long');
    await running;
    await clock.advance(10_000);
    expect(store.renewals).toBe(1);
    const stopping = runtime.stop({ graceMs: 0 });
    await clock.advance(0);
    await stopping;
    await clock.advance(120_000);
    expect(store.renewals).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });
});
