import { AtomicTask } from './atomic-task.js';

/**
 * A durable timer (`ctx.createTimer(fireAt)`). Cancel it when it lost a race (`Task.any`) so the orchestration does
 * not wait for it; a fire that arrives after cancellation is recorded in history and ignored.
 */
export class TimerTask extends AtomicTask<void> {
  #cancelled = false;

  constructor(
    eventId: number,
    /** When the timer fires. */
    readonly fireAt: Date,
  ) {
    super('timer', '', eventId);
  }

  /** True after {@link TimerTask.cancel}. */
  get isCancelled(): boolean {
    return this.#cancelled;
  }

  /**
   * Durable Functions' name of {@link isCancelled} (its `TimerTask.isCanceled`), so orchestrators written for it run
   * unchanged.
   *
   * @example
   * ```ts
   * if (!timeout.isCompleted) timeout.cancel();
   * timeout.isCanceled; // true
   * ```
   */
  get isCanceled(): boolean {
    return this.#cancelled;
  }

  /**
   * Stops waiting for the timer. Throws if it already fired. A cancelled timer never settles: yielding it afterwards
   * throws an `OrchestrationError` into the orchestrator.
   */
  cancel(): void {
    if (this.isSettled) throw new Error('cannot cancel a timer that has already fired');
    this.#cancelled = true;
  }
}
