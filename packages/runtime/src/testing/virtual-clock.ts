import type { Clock, ClockTimer } from '../env/clock.js';
import { onNextMacrotask } from '../env/next-macrotask.js';
import { workersWaitingForTimer } from '../worker/turns.js';

interface PendingTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A {@link Clock} whose time moves only when a test says so. `advance(ms)` fires due timers in time order and lets
 * the work they trigger settle, so a week-long durable timer fires at once and deterministically.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const runtime = createRuntime({ clock, orchestrators, activities });
 * await runtime.start();
 * const id = await runtime.client.startNew('WaitAWeek');
 * await clock.waitForTimer();               // the worker armed its wake-up for the durable timer
 * await clock.advance(7 * 24 * 3600_000);   // fires it
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: PendingTimer[] = [];
  #waiters: (() => void)[] = [];

  /** Its timers fire by its own time, never late: the worker gives a long wait to one timer, not 60 s steps. */
  readonly timersFireOnTime = true;

  constructor(start: Date = new Date('2026-01-01T00:00:00.000Z')) {
    this.#now = start.getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, delayMs), callback };
    this.#timers.push(timer);
    this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
    return timer.id;
  }

  clearTimeout(timer: ClockTimer): void {
    this.#timers = this.#timers.filter((t) => t.id !== timer);
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** When the next timer fires, if any. */
  get nextTimerAt(): Date | undefined {
    const next = this.#timers[0];
    return next ? new Date(next.at) : undefined;
  }

  /** Resolves as soon as a timer is pending (at once if one already is). */
  waitForTimer(): Promise<void> {
    if (this.#timers.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order, each at its own time; after each fire
   * it yields to the event loop so the work the timer started (claims, commits) can run and arm new timers.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const next = this.#timers[0];
      if (!next || next.at > target) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = target;
    await settle();
  }

  /** Moves time to `date` (see {@link VirtualClock.advance}). */
  advanceTo(date: Date): Promise<void> {
    return this.advance(Math.max(0, date.getTime() - this.#now));
  }
}

/**
 * Lets pending promise callbacks and rounds of macrotasks run: a timer's, what a worker put off to its next macrotask
 * (the first step of a start, after the reads its caller issues), which Node may deliver after a timer, and the work
 * of a worker that waits for a timer turn after a long burst (a loaded machine makes bursts long), round after round
 * while one waits (at most {@link SETTLE_ROUNDS}: an eternal loop waits for turns for ever). What a tick started so
 * runs before the next tick, whatever the machine's load. (The runtime's own tests settle a hand-moved clock so too.)
 */
export async function settle(): Promise<void> {
  await macrotaskRound();
  for (let round = 1; round < SETTLE_ROUNDS && workersWaitingForTimer(); round++) await macrotaskRound();
}

/** The most macrotask rounds one settling waits while workers wait for their timer turns. */
const SETTLE_ROUNDS = 1000;

function macrotaskRound(): Promise<void> {
  return new Promise((resolve) => {
    let left = 2;
    const done = (): void => {
      if (--left === 0) resolve();
    };
    globalThis.setTimeout(done, 0);
    onNextMacrotask(done);
  });
}
