import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, MemoryStore, silentLogger, type Clock, type ClockTimer, type Runtime } from '../src/index.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** A clock whose time and timers move only by hand; reports each timer set. */
class HandClock implements Clock {
  ms = T0;
  readonly timers = new Map<number, { readonly at: number; readonly callback: () => void }>();
  #nextId = 1;
  #onSet: (() => void)[] = [];

  now(): Date {
    return new Date(this.ms);
  }

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    const id = this.#nextId++;
    this.timers.set(id, { at: this.ms + Math.max(0, delayMs), callback });
    for (const notify of this.#onSet.splice(0)) notify();
    return id;
  }

  clearTimeout(timer: ClockTimer): void {
    this.timers.delete(timer as number);
  }

  /** Resolves with the next timer set (the wake timer: nothing else in this runtime sets one). */
  nextTimer(): Promise<{ readonly id: number; readonly at: number }> {
    return new Promise((resolve) => this.#onSet.push(() => {
      const [id, timer] = [...this.timers].at(-1)!;
      resolve({ id, at: timer.at });
    }));
  }

  fire(id: number): void {
    const timer = this.timers.get(id);
    this.timers.delete(id);
    timer?.callback();
  }
}

/**
 * A store whose wake-time read lags its claims, as MongoDB's majority reads can under replication lag: it keeps
 * reporting work due at T0 that its claims (rightly) do not find, because another worker took it.
 */
class LaggingStore extends MemoryStore {
  claims = 0;

  override async claimOrchestration(...args: Parameters<MemoryStore['claimOrchestration']>) {
    this.claims++;
    return super.claimOrchestration(...args);
  }

  override async nextWakeTime(): Promise<Date | undefined> {
    return new Date(T0);
  }
}

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
});

describe('a wake time the claims do not find', () => {
  it('is re-checked at once the first time, then after a back-off that doubles to 1 s: no tight loop while a store lags', async () => {
    const clock = new HandClock();
    const store = new LaggingStore();
    const runtime = createRuntime({ store, clock, logger: silentLogger, orchestrators: {} });
    runtimes.push(runtime);
    let timer = clock.nextTimer();
    await runtime.start();
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const { id, at } = await timer;
      delays.push(at - clock.ms);
      clock.ms = at;
      timer = clock.nextTimer();
      clock.fire(id);
    }
    expect(delays).toEqual([0, 10, 20, 40, 80, 160, 320, 640, 1000]);
    // One claim per wake-up, not a claim per round trip for as long as the lag lasts.
    expect(store.claims).toBeLessThanOrEqual(delays.length + 1);
  });
});
