import { MAX_TIMER_DELAY_MS, type Clock, type ClockTimer } from './clock.js';
import { FirstFailure } from './first-failure.js';
import { guardClock, type GuardedClock } from './guarded-clock.js';
import { onNextMacrotask } from './next-macrotask.js';
import { unref } from './unref.js';

/**
 * How many times in a row a {@link FallbackTimer} that `retries` makes again, at its next event-loop turn, an arming
 * that neither its clock nor the platform's timer could make, before it waits for its owner to arm it: a failure that
 * passes within a few turns loses no deadline, and one that lasts costs a few tries, not a loop of them.
 */
export const ARM_RETRIES = 3;

/**
 * What became of a {@link FallbackTimer} whose clock failed to arm it: the one armed before stays (`'kept'`), it is set
 * on the platform's timer (`'platform'`), or, the platform's failing too with none armed before, none is armed: it is
 * tried again at the next turn (`'retry'`, for a timer that `retries`), or not (`'none'`: only its owner's next arming
 * sets one; for a timer that `retries`, its tries are over, or no next turn could be asked for).
 */
export type Fallback = 'kept' | 'platform' | 'retry' | 'none';

/** What became of a timer its clock failed to arm ({@link Fallback}), in the words of its owner's report. */
export function fallbackText(fallback: Fallback): string {
  return fallback === 'platform' ? "the platform's timer stands in" : fallback === 'retry' ? "so did the platform's: it is tried again at the next turn"
    : fallback === 'kept' ? 'the one armed stays' : 'none is armed';
}

/** How a {@link FallbackTimer} is set, cleared and reported; every field is optional. */
export interface FallbackTimerOptions {
  /** Is told what any clock's `clearTimeout` throws but a {@link GuardedClock}'s (the timer is let go of all the same). */
  readonly clearFailed?: (error: unknown) => void;
  /**
   * The timer the clock failed to arm is set on the platform's in place of the one armed: for an owner whose armed
   * timer may be later than the one it asks for (a {@link DeadlineList}'s, armed by a deadline's callback as the
   * deadlines before it end), which it would otherwise wait for.
   */
  readonly inPlace?: boolean;
  /**
   * Every timer it sets, the clock's or the platform's, lets the process exit (`unref`): for a server's timers, which
   * must not keep a process alive that has nothing else to do.
   */
  readonly unref?: boolean;
  /**
   * Where it tells whether a failure to arm is the first since the clock last armed (`failed`'s `first`): one shared by
   * the timers of one owner (the sessions of a hub) reports a failing clock once for all of them. Its own by default.
   */
  readonly failures?: FirstFailure;
  /**
   * An arming that none could make (the clock's and the platform's timers failing) is made again, the same, at the next
   * turn, {@link ARM_RETRIES} times in a row at most, an arming that succeeds counting from 0 again: for an owner whose
   * timer nothing else would arm again soon (a worker's wake timer, a `DeadlineList`'s, a stream session's, the
   * heartbeats', a read token's expiry), so a failure that passes within a few turns loses it nothing. An arming or a
   * clear meanwhile cancels the try. The one rule of such a retry: no owner runs its own.
   */
  readonly retries?: boolean;
}

/**
 * The one timer of an owner that cannot do without it: a {@link DeadlineList}'s (with none armed, a store call left
 * pending would never end, nor a worker's step waiting for it) and a worker's wake timer (a due durable timer, a failed
 * claim's retry or a lease left to lapse would wait for a store signal). It is armed on the owner's clock. When the
 * clock fails to arm it (a custom `Clock` whose `setTimeout` throws), a timer armed already stays (its owner arms the
 * next one as it fires, asking the clock again), unless `inPlace`; with none armed, or `inPlace`, it is set on the
 * platform's timer (`globalThis.setTimeout`) instead (in place of the one armed, which stays only should that fail
 * too), and the next arming asks the clock again, so a clock that recovers is used at once. With the platform's failing
 * too and none armed, a timer that `retries` makes the arming again at the next turns ({@link ARM_RETRIES} at most).
 * An arming sets the new timer before it clears the one armed. A timer it clears is let go of first, and cleared
 * through a {@link GuardedClock} (the owner's, when it passes one): a clock whose `clearTimeout` throws (reported, never
 * thrown) leaves that timer set, and it does nothing when it fires; the one armed in its place is owned all the same,
 * and the next {@link clear} (an owner's stop) clears it. Each timer's callback fires only while it is the one armed:
 * the rule "is this firing the current timer" is held here for every owner that arms, re-arms and clears one timer.
 * `fired` runs as the armed timer fires, told whether it was the platform's, which does not run on the clock's time.
 * Whether a failure to arm is the first since the clock last armed, the one its owner reports, is decided here too
 * ({@link FirstFailure}): the owner says what to log.
 *
 * @example
 * ```ts
 * const timer = new FallbackTimer(clock, () => wake(), { clearFailed: (error) => logger.error('the clock failed to clear the wake timer', error) });
 * timer.arm(1000, (error, fallback, first) => first && logger.error(`the clock failed to arm the wake timer (${fallback})`, error));
 * ```
 */
export class FallbackTimer {
  /** Where timers are cleared; its `clock` is where they are set (a failure there is this class's to handle). */
  readonly #clock: GuardedClock;
  readonly #fired: (onPlatform: boolean) => void;
  #timer: ClockTimer | undefined;
  #onPlatform = false;
  /**
   * The callback the armed timer was set with: each arming sets its own, and one that is not this when it fires (its
   * timer cleared, or replaced, though the clock failed to clear it) does nothing.
   */
  #fire: (() => void) | undefined;
  readonly #inPlace: boolean;
  readonly #unref: boolean;
  readonly #failures: FirstFailure;
  readonly #retries: boolean;
  /** Armings in a row that none could make (`'none'` or `'retry'`); an arming that succeeds, or a clear, sets it back to 0. */
  #unarmed = 0;
  /** The try queued for the next turn to make an arming none could (`retries`); an arming or a clear cancels it. */
  #retry: (() => void) | undefined;

  /** @param clock the owner's clock; a {@link GuardedClock} reports what it fails to clear itself. */
  constructor(clock: Clock, fired: (onPlatform: boolean) => void, options: FallbackTimerOptions = {}) {
    const { clearFailed } = options;
    this.#clock = guardClock(clock, { warn() {}, error: (_, error) => clearFailed?.(error) });
    this.#fired = fired;
    this.#inPlace = options.inPlace === true;
    this.#unref = options.unref === true;
    this.#failures = options.failures ?? new FirstFailure();
    this.#retries = options.retries === true;
  }

  /**
   * A timer is armed (it has neither fired nor been cleared), or a try to arm one is pending at the next turn
   * (`retries`): `arm` returned its delay, and its owner holds it as armed. An owner that asked `armed` to decide
   * whether to arm again took the wake-up a try was about to make as none, and armed a later one in its place.
   */
  get armed(): boolean {
    return this.#timer !== undefined || this.#retry !== undefined;
  }

  /**
   * The last arming found neither the clock nor the platform able to set a timer, and none was set nor cleared since:
   * its tries at the next turns are pending, or over (`retries`). An owner that learns the timers may work again (a page
   * shown again) arms it then. One that cleared it wants none armed.
   */
  get unarmed(): boolean {
    return this.#unarmed > 0;
  }

  /**
   * Arms the timer `delayMs` (at most {@link MAX_TIMER_DELAY_MS}) from now, in place of the one armed. Without `failed`,
   * a clock that fails to arm it throws, the one armed left as it was. With it, the timer falls back as the class says,
   * for at most `platformMaxMs` on the platform's timer, and `failed` is told the clock's error, what became of the
   * timer ({@link Fallback}) and whether it is the first failure since the clock last armed (`first`: the one to
   * report, {@link FirstFailure}): once, when the fallback is settled (with `'none'`, `'retry'`, or `'kept'` after the
   * platform failed too, the error is an `AggregateError` of the clock's and the platform's). Returns the delay armed,
   * or to be armed at the next turn (`'retry'`: the owner holds it as armed, for a try that makes the same arming),
   * or `undefined` when none is (the one armed stays, or none is armed).
   */
  arm(delayMs: number, failed?: (error: unknown, fallback: Fallback, first: boolean) => void, platformMaxMs = MAX_TIMER_DELAY_MS): number | undefined {
    let timer: ClockTimer;
    let onPlatform = false;
    const fire = (): void => {
      if (this.#fire !== fire) return;
      this.#timer = this.#fire = undefined;
      this.#fired(onPlatform);
    };
    let clockError: unknown;
    let first = false;
    try {
      timer = this.#clock.clock.setTimeout(fire, delayMs);
      this.#failures.ok();
    } catch (error) {
      first = this.#failures.failed();
      // An arming that throws leaves all as it was, a pending try too: its owner holds that one armed still.
      if (!failed) throw error;
      this.#retry = undefined;
      if (this.#timer !== undefined && !this.#inPlace) {
        failed(error, 'kept', first);
        return undefined;
      }
      try {
        timer = globalThis.setTimeout(fire, (delayMs = Math.min(delayMs, platformMaxMs)));
      } catch (platformError) {
        let fallback: Fallback = 'kept';
        if (this.#timer === undefined) {
          fallback = this.#retries && this.#unarmed < ARM_RETRIES ? 'retry' : 'none';
          this.#unarmed++;
        }
        if (fallback === 'retry') {
          const retry = (): unknown => this.#retry === retry && this.arm(delayMs, failed, platformMaxMs);
          try {
            onNextMacrotask(retry);
            this.#retry = retry;
          } catch {
            // No turn to try it at (no MessageChannel, and the platform's setTimeout fails as it did above): none is
            // armed. Thrown, it reached an owner that passed `failed` to hear of it, and left a try held as armed.
            fallback = 'none';
          }
        }
        failed(new AggregateError([error, platformError], 'the clock and the platform failed to arm a timer'), fallback, first);
        return fallback === 'retry' ? delayMs : undefined;
      }
      onPlatform = true;
      clockError = error;
    }
    if (this.#unref) unref(timer);
    // Cancels a pending try, and counts the armings none could make from 0 again.
    this.clear();
    this.#timer = timer;
    this.#onPlatform = onPlatform;
    this.#fire = fire;
    if (onPlatform) failed?.(clockError, 'platform', first);
    return delayMs;
  }

  /**
   * Clears the armed timer, if any, on the clock or on the platform. It is let go of first: should the clock fail to
   * clear it (reported), it does nothing when it fires.
   */
  clear(): void {
    this.#retry = undefined;
    this.#unarmed = 0;
    const timer = this.#timer;
    if (timer === undefined) return;
    this.#timer = this.#fire = undefined;
    if (this.#onPlatform) globalThis.clearTimeout(timer as ReturnType<typeof globalThis.setTimeout>);
    else this.#clock.clearTimeout(timer);
  }
}
