import { afterEach, vi } from 'vitest';
import type { Clock, ClockTimer, Runtime } from '../src/index.js';
import { onNextMacrotask } from '../src/env/next-macrotask.js';
import { settle } from '../src/testing/virtual-clock.js';
import { within } from './within.js';

/** The start of every {@link HandClock}: 2026-01-01T00:00:00.000Z. */
export const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/**
 * A clock for the worker's wake-up tests: its time and timers move only by hand, so a test can fire a wake-up
 * whenever it likes and see every timer the worker sets (`timers`, by id).
 */
export class HandClock implements Clock {
  ms = T0;
  /**
   * With `platformLimit`, a delay beyond 2^31-1 ms fires after 1 ms, as Node's and browsers' `setTimeout` do (the
   * system clock clamps such delays itself): a test sees what a long delay handed to one timer would do.
   */
  constructor(readonly options: { readonly platformLimit?: boolean } = {}) {}
  readonly timers = new Map<number, { readonly at: number; readonly callback: () => void }>();
  #nextId = 1;
  #onSet: (() => void)[] = [];

  now(): Date {
    return new Date(this.ms);
  }

  /** While true, `setTimeout` throws 'injected: no timer' (a clock that fails to arm), counted in `refused`. */
  refusing = false;
  refused = 0;

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    if (this.refusing) {
      this.refused++;
      throw new Error('injected: no timer');
    }
    const id = this.#nextId++;
    const delay = this.options.platformLimit && delayMs > 2 ** 31 - 1 ? 1 : Math.max(0, delayMs);
    this.timers.set(id, { at: this.ms + delay, callback });
    for (const notify of this.#onSet.splice(0)) notify();
    return id;
  }

  clearTimeout(timer: ClockTimer): void {
    this.timers.delete(timer as number);
  }

  /** The earliest pending timer's delay from now (Infinity when none is pending). */
  earliestDelay(): number {
    return Math.min(...[...this.timers.values()].map((t) => t.at - this.ms));
  }

  /** Resolves with the next timer set whose delay `where` accepts (any, by default). */
  nextTimer(where: (delayMs: number) => boolean = () => true): Promise<{ readonly id: number; readonly at: number }> {
    return new Promise((resolve) => {
      const listen = (): void => {
        const [id, timer] = [...this.timers].at(-1)!;
        if (where(timer.at - this.ms)) resolve({ id, at: timer.at });
        else this.#onSet.push(listen);
      };
      this.#onSet.push(listen);
    });
  }

  /** Resolves once a timer due at or before `ms` is pending. */
  async timerDueBy(ms: number): Promise<number> {
    for (;;) {
      const found = [...this.timers].find(([, t]) => t.at <= ms);
      if (found) return found[0];
      await new Promise<void>((resolve) => this.#onSet.push(resolve));
    }
  }

  /**
   * A machine asleep for `ms`: the wall clock (`now`) moves on, the timers stand still (browsers and some operating
   * systems pause them), so each fires as late after the wake as it was due before the sleep.
   */
  sleep(ms: number): void {
    this.ms += ms;
    for (const [id, timer] of this.timers) this.timers.set(id, { ...timer, at: timer.at + ms });
  }

  fire(id: number): void {
    const timer = this.timers.get(id);
    this.timers.delete(id);
    timer?.callback();
  }

  /** Fires every timer due at the clock's time (`ms`), those armed meanwhile too. */
  fireDue(): void {
    for (const [id, timer] of this.timers) if (timer.at <= this.ms) this.fire(id);
  }

  /**
   * Fires the earliest pending timer, moving the clock to it, one at a time until `end` settles: at most `max` timers,
   * each awaited within SETTLED of real time (`what` names it when none comes). Before each, what the last one started
   * runs (`settle`, as VirtualClock's ticks do): a worker that waits for its event-loop turn after a long burst (a
   * loaded machine makes bursts long) goes on before time moves, instead of finding later timers fired meanwhile (its
   * lease's expiry, minutes ahead). Returns the clock's time when `end` settled, or undefined when it had not after
   * `max` timers.
   */
  async fireUntil(end: Promise<unknown>, what: string, max: number): Promise<number | undefined> {
    let settledAt: number | undefined;
    const settled = (): -1 => {
      settledAt = this.ms;
      return -1;
    };
    const ended = end.then(settled, settled);
    for (let fired = 0; fired < max; fired++) {
      if ((await within(Promise.race([this.timerDueBy(Infinity), ended]), what)) === -1 || settledAt !== undefined) break;
      await settle();
      if (settledAt !== undefined) break;
      const earliest = [...this.timers].sort(([, a], [, b]) => a.at - b.at)[0];
      if (!earliest) continue; // cleared meanwhile
      this.ms = Math.max(this.ms, earliest[1].at);
      this.fire(earliest[0]);
    }
    return settledAt;
  }
}

/**
 * The runtimes a test file runs on a HandClock, each stopped after its test: with no grace, whose timer (armed at once
 * when work still runs) fires by hand. A stop that rejects is left to the test that expects it.
 */
export function runtimesStoppedAfterEach(): { runtime: Runtime; clock: HandClock }[] {
  const runtimes: { runtime: Runtime; clock: HandClock }[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map(({ runtime, clock }) => {
      const stopping = runtime.stop({ graceMs: 0 });
      clock.fireDue();
      return stopping.catch(() => undefined);
    }));
  });
  return runtimes;
}

/**
 * Resolves at the next turn of the event loop, after what was queued for it before (one shared channel): a timer none
 * could arm has been tried again by then.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => onNextMacrotask(resolve));
}

/** Makes the platform's `setTimeout` throw until `restore()` (with a {@link HandClock} `refusing`: no timer can be set). */
export function failPlatformTimers(): { readonly restore: () => void } {
  const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation((() => {
    throw new Error('injected: the platform failed to set a timer');
  }) as unknown as typeof setTimeout);
  return { restore: () => spy.mockRestore() };
}
