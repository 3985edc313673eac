import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/index.js';
import { HandClock, T0 } from './hand-clock.js';
import { startedRuntimes } from './started-runtimes.js';

/** A MemoryStore that can run a hook after a claim that found nothing, and reports each wake-time question. */
class RacingStore extends MemoryStore {
  afterEmptyClaim: (() => void) | undefined;
  #asked: (() => void) | undefined;

  override async claimOrchestration(...args: Parameters<MemoryStore['claimOrchestration']>) {
    const item = await super.claimOrchestration(...args);
    if (!item) this.afterEmptyClaim?.();
    return item;
  }

  override async nextWakeTime(now: Date) {
    const at = await super.nextWakeTime(now);
    this.#asked?.();
    return at;
  }

  /** Resolves after the worker asked for its next wake time and had a macrotask to act on the answer. */
  nextWakeTimeAsked(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#asked = () => {
        this.#asked = undefined;
        globalThis.setTimeout(resolve, 0);
      };
    });
  }
}

const { start } = startedRuntimes();

describe('wake-ups', () => {
  it('claims a durable timer whose wake-up fired 1 ms before the timer was due', async () => {
    const clock = new HandClock();
    const store = new RacingStore();
    const runtime = await start({
      store, clock,
      orchestrators: {
        Sleep: function* (ctx) {
          yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 10));
          return 'woke';
        },
      },
    });
    const id = await runtime.client.startNew('Sleep');
    const wake = await clock.timerDueBy(T0 + 10);
    expect(clock.timers.get(wake)?.at).toBe(T0 + 10);

    // The race, exactly: the wake-up fires at T0 + 9, so the claim sees nothing due; time reaches T0 + 10 before the
    // worker asks when to wake next.
    clock.ms = T0 + 9;
    store.afterEmptyClaim = () => {
      clock.ms = T0 + 10;
      store.afterEmptyClaim = undefined;
    };
    const asked = store.nextWakeTimeAsked();
    clock.fire(wake);
    await asked;

    // The timer message is visible now and nobody claimed it: the worker must have re-armed for it.
    const rearmed = [...clock.timers.values()].filter((t) => t.at <= T0 + 10);
    expect(rearmed).toHaveLength(1);
    const completed = firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Completed')));
    clock.fire(await clock.timerDueBy(T0 + 10));
    expect(await completed).toMatchObject({ runtimeStatus: 'Completed', output: 'woke' });
  });
});
