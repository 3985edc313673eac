import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRuntime, MemoryStore, silentLogger, type Orchestrator } from '../src/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { WAKE_CHECK_MS } from '../src/worker/worker.js';
import { HandClock, runtimesStoppedAfterEach } from './hand-clock.js';
import { within } from './within.js';

const HOUR_MS = 60 * 60 * 1000;

/** Waits for a durable timer of 24 h, then completes. */
const waitsADay: Orchestrator = function* (ctx) {
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 24 * HOUR_MS));
  return 'fired';
};

/** A MemoryStore that counts the reads the worker makes to find and claim work. */
class CountingStore extends MemoryStore {
  reads = 0;

  override async claimOrchestration(...args: Parameters<MemoryStore['claimOrchestration']>) {
    this.reads++;
    return super.claimOrchestration(...args);
  }

  override async claimActivity(...args: Parameters<MemoryStore['claimActivity']>) {
    this.reads++;
    return super.claimActivity(...args);
  }

  override async nextWakeTime(...args: Parameters<MemoryStore['nextWakeTime']>) {
    this.reads++;
    return super.nextWakeTime(...args);
  }
}

const runtimes = runtimesStoppedAfterEach();

/** Starts a runtime on a HandClock and an instance waiting for its 24 h timer, with the worker idle. */
async function waitingADay() {
  const clock = new HandClock();
  const store = new CountingStore();
  const runtime = createRuntime({ store, clock, logger: silentLogger, orchestrators: { waitsADay } });
  runtimes.push({ runtime, clock });
  await runtime.start();
  const id = await runtime.client.startNew('waitsADay');
  // Runs what is due (the first step, then the wake-ups it leads to) until the instance waits for its timer.
  await vi.waitFor(async () => {
    clock.fireDue();
    const history = await store.getHistory(id);
    expect(history.some((event) => event.type === 'TimerCreated')).toBe(true);
  }, { timeout: SETTLED.timeoutMs });
  await vi.waitFor(() => {
    clock.fireDue();
    expect(clock.earliestDelay()).toBeGreaterThan(0);
  }, { timeout: SETTLED.timeoutMs });
  const completed = firstValueFrom(runtime.client.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
  return { clock, store, runtime, id, completed };
}

describe('a machine that sleeps while durable timers wait', () => {
  it('fires a durable timer that fell due during the sleep within one wake check of waking, not a day later', async () => {
    const { clock, completed } = await waitingADay();
    // No timer the worker armed waits longer than one check: a 24 h wait is taken in steps.
    expect(clock.earliestDelay()).toBeLessThanOrEqual(WAKE_CHECK_MS);
    clock.sleep(25 * HOUR_MS); // the timer came due an hour before the wake
    clock.ms += WAKE_CHECK_MS; // awake for one check: the timers move on again
    clock.fireDue();
    const status = await within(completed, 'the instance completing after the wake');
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'fired' });
  });

  it('takes a step of a long wait with no store read when nothing has come due', async () => {
    const { clock, store } = await waitingADay();
    const reads = store.reads;
    clock.ms += WAKE_CHECK_MS;
    clock.fireDue();
    // The next step is armed at once, from the clock's time, and nothing was read to arm it.
    expect(clock.earliestDelay()).toBe(WAKE_CHECK_MS);
    expect(store.reads).toBe(reads);
  });
});

describe('wake events of the global object', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('looks at the clock when the page becomes visible again, and stops listening when the runtime stops', async () => {
    const host = new EventTarget();
    const added = vi.fn(host.addEventListener.bind(host));
    const removed = vi.fn(host.removeEventListener.bind(host));
    vi.stubGlobal('addEventListener', added);
    vi.stubGlobal('removeEventListener', removed);
    const { clock, runtime, completed } = await waitingADay();
    expect(added.mock.calls.map(([type]) => type)).toEqual(['visibilitychange', 'pageshow', 'online']);
    clock.sleep(25 * HOUR_MS);
    host.dispatchEvent(new Event('visibilitychange')); // no timer fires: the event alone wakes the worker
    expect(await within(completed, 'the instance completing on the event')).toMatchObject({ runtimeStatus: 'Completed' });
    const stopping = runtime.stop({ graceMs: 0 });
    clock.fireDue();
    await stopping;
    expect(removed.mock.calls.map(([type, listener]) => [type, listener])).toEqual(added.mock.calls.map(([type, listener]) => [type, listener]));
  });
});
