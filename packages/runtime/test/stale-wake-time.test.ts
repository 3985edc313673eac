import { describe, expect, it, vi } from 'vitest';
import { createRuntime, MemoryStore, silentLogger, type Runtime } from '../src/index.js';
import { echo } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { HandClock, T0 } from './hand-clock.js';
import { startedRuntimes } from './started-runtimes.js';

/**
 * A store whose wake-time read lags its claims, as MongoDB's majority reads can under replication lag: it keeps
 * reporting work due at T0 that its claims (rightly) do not find, because another worker took it.
 */
class LaggingStore extends MemoryStore {
  claims = 0;
  /** What `nextWakeTime` reports: due work at T0 (the lag), or a later time. */
  wakeTime = new Date(T0);

  override async claimOrchestration(...args: Parameters<MemoryStore['claimOrchestration']>) {
    this.claims++;
    return super.claimOrchestration(...args);
  }

  override async nextWakeTime(): Promise<Date | undefined> {
    return this.wakeTime;
  }
}

/** The same, without starts handed to the worker (`fusedSteps`): a started instance is taken by a claim. */
class ClaimingStore extends LaggingStore {
  override readonly capabilities = { ...new MemoryStore().capabilities, fusedSteps: false };
}

/**
 * The worker's wake timer, not the deadline of a store call in flight: those are 30 s out (the orchestration lease and
 * the default `storeCallTimeoutMs`), and go when the call settles.
 */
const wakeTimer = (delayMs: number): boolean => delayMs < 30_000;

const { runtimes } = startedRuntimes();

/** Starts a runtime on `store` and lets its wake timer back off through the delays 0, 10 and 20 ms. */
async function backedOff(store: LaggingStore): Promise<{ clock: HandClock; runtime: Runtime; next: () => Promise<number> }> {
  const clock = new HandClock();
  const runtime = createRuntime({ store, clock, logger: silentLogger, orchestrators: { Echo: echo } });
  runtimes.push(runtime);
  let timer = clock.nextTimer(wakeTimer);
  await runtime.start();
  /** Fires the pending wake timer at its time; resolves with the delay of the one armed after it. */
  const next = async (): Promise<number> => {
    const { id, at } = await timer;
    clock.ms = at;
    timer = clock.nextTimer(wakeTimer);
    clock.fire(id);
    const armed = await timer;
    return armed.at - clock.ms;
  };
  // The first timer (delay 0) is armed by start(); firing it and the next gives 10, then 20.
  expect(await next()).toBe(10);
  expect(await next()).toBe(20);
  return { clock, runtime, next };
}

describe('a wake time the claims do not find', () => {
  it('is re-checked at once the first time, then after a back-off that doubles to 1 s: no tight loop while a store lags', async () => {
    const clock = new HandClock();
    const store = new LaggingStore();
    const runtime = createRuntime({ store, clock, logger: silentLogger, orchestrators: {} });
    runtimes.push(runtime);
    let timer = clock.nextTimer(wakeTimer);
    await runtime.start();
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const { id, at } = await timer;
      delays.push(at - clock.ms);
      clock.ms = at;
      timer = clock.nextTimer(wakeTimer);
      clock.fire(id);
    }
    expect(delays).toEqual([0, 10, 20, 40, 80, 160, 320, 640, 1000]);
    // One claim per wake-up, not a claim per round trip for as long as the lag lasts.
    expect(store.claims).toBeLessThanOrEqual(delays.length + 1);
  });
});

describe('the re-check back-off starts over', () => {
  it('after a claim that takes work: due work the claims then miss is re-checked at once again', async () => {
    const store = new ClaimingStore();
    const { clock, runtime } = await backedOff(store);
    const claims = store.claims;
    // The pending re-check is 20 ms out, and the next one would be 40 ms. Real work arrives and is claimed.
    const id = await runtime.client.startNew('Echo', { input: 1 });
    await runtime.client.waitForCompletion(id);
    expect(store.claims).toBeGreaterThan(claims);
    // The claims after it find nothing while the store still says work is due: the wake timer is armed at once, not
    // 40 ms out. (The pump re-arms after the step's commit, on a loaded machine after an event-loop turn: wait for it.)
    await vi.waitFor(() => expect(clock.earliestDelay()).toBe(0), { timeout: SETTLED.timeoutMs });
  });

  it('after a wake time that is not due: when work is due again and not found, it is re-checked at once', async () => {
    const store = new LaggingStore();
    const { clock, next } = await backedOff(store);
    // The lag ends: the store now reports the next work 5 s out, and the worker sleeps until then.
    store.wakeTime = new Date(clock.ms + 20 + 5000);
    expect(await next()).toBe(5000);
    // Due work the claims do not find again: the back-off starts from the beginning, not at 40 ms.
    store.wakeTime = new Date(T0);
    expect(await next()).toBe(0);
    expect(await next()).toBe(10);
  });
});
