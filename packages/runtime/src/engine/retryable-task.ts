import { invalid } from '../model/validation.js';
import type { AtomicTask } from './atomic-task.js';
import { DurableTask, type TaskParent } from './durable-task.js';
import type { RetryOptions } from './retry-options.js';
import type { TimerTask } from './timer-task.js';

/** What a {@link RetryableTask} needs from the execution that owns it. */
export interface RetryScheduler<T> {
  /** The orchestration's deterministic current time. */
  now(): Date;
  createTimer(fireAt: Date): TimerTask;
  startAttempt(attempt: number): AtomicTask<T>;
}

/**
 * An activity or sub-orchestration call that is retried on failure after a durable timer, per {@link RetryOptions}.
 * Every attempt and every delay is an ordinary scheduled action, so replay reproduces them exactly.
 */
export class RetryableTask<T> extends DurableTask<T> implements TaskParent {
  #attempt = 1;
  #current: AtomicTask<T>;
  #timer: TimerTask | undefined;
  readonly #firstAttemptAt: number;
  readonly #scheduler: RetryScheduler<T>;

  constructor(readonly options: RetryOptions, scheduler: RetryScheduler<T>) {
    super();
    this.#scheduler = scheduler;
    validateRetryOptions(options);
    this.#firstAttemptAt = scheduler.now().getTime();
    this.#current = this.#start();
  }

  /** The attempt in progress (1-based). */
  get attempt(): number {
    return this.#attempt;
  }

  /** @internal */
  onChildSettled(child: DurableTask<unknown>): void {
    if (this.isSettled) return;
    if (child === this.#timer) {
      this.#timer = undefined;
      this.#attempt += 1;
      this.#current = this.#start();
      return;
    }
    if (child !== this.#current) return;
    if (child.isCompleted) return this.complete(child.result as T);
    const error = child.error ?? new Error('task failed');
    const delay = this.#nextDelay(error);
    if (delay === undefined) return this.fail(error);
    this.#timer = this.#scheduler.createTimer(new Date(this.#scheduler.now().getTime() + delay));
    this.#timer.parent = this;
  }

  #start(): AtomicTask<T> {
    const task = this.#scheduler.startAttempt(this.#attempt);
    task.parent = this;
    return task;
  }

  #nextDelay(error: Error): number | undefined {
    const o = this.options;
    if (this.#attempt >= o.maxNumberOfAttempts) return undefined;
    if (o.handle) {
      let retry: boolean;
      try {
        retry = o.handle(error);
      } catch {
        retry = false;
      }
      if (!retry) return undefined;
    }
    let delay = o.firstRetryIntervalInMilliseconds * Math.pow(o.backoffCoefficient ?? 1, this.#attempt - 1);
    if (o.maxRetryIntervalInMilliseconds !== undefined) delay = Math.min(delay, o.maxRetryIntervalInMilliseconds);
    if (o.retryTimeoutInMilliseconds !== undefined) {
      const elapsed = this.#scheduler.now().getTime() - this.#firstAttemptAt;
      if (elapsed + delay > o.retryTimeoutInMilliseconds) return undefined;
    }
    return Math.round(delay);
  }
}

function validateRetryOptions(o: RetryOptions): void {
  if (!(o.firstRetryIntervalInMilliseconds > 0)) invalid('firstRetryIntervalInMilliseconds', 'must be > 0');
  if (!Number.isInteger(o.maxNumberOfAttempts) || o.maxNumberOfAttempts < 1) invalid('maxNumberOfAttempts', 'must be an integer >= 1');
  if (o.backoffCoefficient !== undefined && !(o.backoffCoefficient >= 1)) invalid('backoffCoefficient', 'must be >= 1');
  for (const name of ['maxRetryIntervalInMilliseconds', 'retryTimeoutInMilliseconds'] as const) {
    if (o[name] !== undefined && !(o[name] > 0)) invalid(name, 'must be > 0');
  }
}
