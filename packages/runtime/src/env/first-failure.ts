/**
 * The rule "a failure that repeats is reported once, until what failed works again", for every owner of something that
 * keeps failing the same way: a clock that fails to arm a timer ({@link FallbackTimer}, which keeps one, or several timers
 * sharing one; a deadline a `DeadlineList` failed to add), a clock that gives no time ({@link GuardedClock.nowMs}). One
 * that keeps failing is logged once, not at each try; one that recovers then fails again is logged again.
 *
 * @example
 * ```ts
 * const failures = new FirstFailure();
 * try {
 *   arm();
 *   failures.ok();
 * } catch (error) {
 *   if (failures.failed()) logger.error('the clock failed to arm the timer', error);
 * }
 * ```
 */
export class FirstFailure {
  #failing = false;

  /** It worked: its next failure is the first again. */
  ok(): void {
    this.#failing = false;
  }

  /** It failed: whether this is the first failure since it last worked (the one to report). */
  failed(): boolean {
    const first = !this.#failing;
    this.#failing = true;
    return first;
  }
}
