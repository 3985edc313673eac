import type { Clock, ClockTimer } from '../src/index.js';

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

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
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

  fire(id: number): void {
    const timer = this.timers.get(id);
    this.timers.delete(id);
    timer?.callback();
  }
}
