import { describe, expect, it } from 'vitest';
import { createRuntime, UnavailableError, type Clock, type ClockTimer, type Logger, type Orchestrator } from '../src/index.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { FailingStore } from './failing-store.js';

/**
 * A VirtualClock whose readings can also move on while code runs (`jump`), as a real clock's do while a step's code
 * runs. Its timers are the VirtualClock's, set after the jump here (the deadlines of the calls before it have passed).
 */
class JumpingClock implements Clock {
  readonly inner = new VirtualClock();
  readonly timersFireOnTime = true;
  #offsetMs = 0;

  now(): Date {
    return new Date(this.inner.now().getTime() + this.#offsetMs);
  }

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    return this.inner.setTimeout(callback, delayMs);
  }

  clearTimeout(timer: ClockTimer): void {
    this.inner.clearTimeout(timer);
  }

  /** Moves the readings on by `ms` at once. */
  jump(ms: number): void {
    this.#offsetMs += ms;
  }
}

describe("an activity result's commit with the step it wakes", () => {
  it('is abandoned at storeCallTimeoutMs from the attempt, however long the step it wakes ran its code', async () => {
    const clock = new JumpingClock();
    const store = new FailingStore();
    const hang = store.hangNext('commit', 0, { where: (writeSet) => writeSet.lease?.kind === 'activityStep' });
    let ranFor = false;
    const Slow: Orchestrator = function* (ctx) {
      const a: string = yield ctx.callActivity('Echo', 'a');
      // The step the result wakes runs its code for 3 s of the clock's time.
      if (!ctx.isReplaying && !ranFor) {
        ranFor = true;
        clock.jump(3000);
      }
      return a;
    };
    // The activity ends 10 s after it began: the bounds of the calls before it have all passed.
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const abandoned: number[] = [];
    const report = (_message: string, details?: unknown): void => {
      if (details instanceof UnavailableError) abandoned.push(clock.now().getTime());
    };
    const logger: Logger = { warn: report, error: report };
    const runtime = createRuntime({
      store, clock, logger, storeCallTimeoutMs: 5000, orchestrationLeaseMs: 60_000, activityLeaseMs: 60_000,
      orchestrators: { Slow }, activities: { Echo: async (value: string) => (await done, value) },
    });
    await runtime.start();
    await runtime.client.startNew('Slow', { instanceId: 'slow' });
    await clock.inner.advance(10_000);
    finish();
    await clock.inner.advance(0);
    await hang.called;
    expect(ranFor).toBe(true);
    // The attempt read the clock 3 s ago, before the step's code ran: its bound, 5 s from that reading, is 2 s away.
    const attemptMs = clock.now().getTime() - 3000;
    await clock.inner.advance(2000);
    expect(abandoned).toEqual([attemptMs + 5000]);
    void hang.release();
    await runtime.stop({ graceMs: 0 });
  });
});
