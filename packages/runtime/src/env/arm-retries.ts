/**
 * How many times in a row an owner whose one timer neither its clock nor the platform's timer could arm (a
 * `FallbackTimer` arming that came to `'none'`) tries again at its next event-loop turn, before it waits for something
 * else to arm it: a failure that passes within a few turns loses no deadline, and one that lasts costs a few tries, not
 * a loop of them.
 */
export const ARM_RETRIES = 3;

/**
 * The one rule of a timer that none could arm, for every owner of one (the worker's wake timer, a `DeadlineList`'s,
 * and through a `FallbackTimer` that `retries`, a stream session's, the heartbeats' and a read token's expiry):
 * it is tried again at the owner's next turn, {@link ARM_RETRIES} times in a row at most, and an arming that succeeds
 * counts from 0 again. The owner defers the try (on its own turns) and logs whether one comes.
 *
 * @example
 * ```ts
 * const retries = new ArmRetries();
 * const unarmed = (error: unknown, fallback: Fallback) => {
 *   const retry = fallback === 'none' && retries.unarmed();
 *   logger.error(`no timer is armed; ${retry ? 'tried again at the next turn' : 'waiting for the next signal'}`, error);
 *   if (retry) onNextTurn(armAgain);
 * };
 * ```
 */
export class ArmRetries {
  #failures = 0;

  /** An arming succeeded: the next failure is the first in a row again. */
  armed(): void {
    this.#failures = 0;
  }

  /** None could arm the timer: whether to try again at the next turn (the first {@link ARM_RETRIES} times in a row). */
  unarmed(): boolean {
    return this.#failures++ < ARM_RETRIES;
  }

  /** The last arming failed, and none succeeded since (its retries may be over). */
  get failing(): boolean {
    return this.#failures > 0;
  }
}
