import { isCancellation } from '../model/errors/canceled-error.js';
import { TaskFailedError } from '../model/errors/task-failed-error.js';
import type { FailureDetails } from '../model/instance-status.js';
import { invalid, isFunction, isNumber, readChecked } from '../model/validation.js';
import type { AtomicTask } from './atomic-task.js';
import { DurableTask } from './durable-task.js';
import type { RetryOptions } from './retry-options.js';
import type { TimerTask } from './timer-task.js';
import { toFailureDetails } from './orchestration-execution.js';
import { dropRejection } from '../env/thenable.js';

/** What a {@link RetryableTask} needs from the execution that owns it. */
export interface RetryScheduler<T> {
  /** The orchestration's deterministic current time. */
  now(): Date;
  createTimer(fireAt: Date): TimerTask;
  startAttempt(attempt: number): AtomicTask<T>;
  /** Whether retries follow Durable Functions' rules (see `ReplayFlag.RetriesAsDurableFunctions`). */
  readonly asDurableFunctions: boolean;
  /** Whether the options are read and checked once, at the call (see `ReplayFlag.RetryArgumentsAtCall`). */
  readonly atCall: boolean;
  /** Whether an own member the options do not take is refused at the call (see `ReplayFlag.RetryOptionsRefuseUnknownMembers`). */
  readonly refusesUnknownMembers: boolean;
  /** Whether a `handle` that returns a promise fails the call (see `ReplayFlag.RetryHandleDecidesAtOnce`). */
  readonly handleDecidesAtOnce: boolean;
  /**
   * Whether a cancel stops retries (see `ReplayFlag.NoRetryAfterCancel`): a cancel request that reached the execution
   * after the call, and a sub-orchestration that ended canceled.
   */
  readonly stopsOnCancel: boolean;
  /** Whether a cancel request reached the execution. */
  cancelRequested(): boolean;
}

/**
 * An activity or sub-orchestration call that is retried on failure after a durable timer, per {@link RetryOptions}.
 * Every attempt and every delay is an ordinary scheduled action, so replay reproduces them exactly.
 */
export class RetryableTask<T> extends DurableTask<T> {
  #attempt = 1;
  #current: AtomicTask<T>;
  #timer: TimerTask | undefined;
  readonly #firstAttemptAt: number;
  /** Made after a cancel request (a compensation): retried as usual. */
  readonly #afterCancel: boolean;
  readonly #scheduler: RetryScheduler<T>;
  /** The options the retries follow: a copy taken at the call, or (a history recorded before that) the caller's. */
  readonly options: RetryOptions;

  constructor(options: RetryOptions, scheduler: RetryScheduler<T>) {
    super();
    this.#scheduler = scheduler;
    this.options = scheduler.atCall ? retryOptionsAtCall(options, scheduler.refusesUnknownMembers) : options;
    validateRetryOptions(this.options, scheduler.asDurableFunctions);
    this.#firstAttemptAt = scheduler.now().getTime();
    this.#afterCancel = scheduler.cancelRequested();
    this.#current = this.#start();
  }

  /** @internal */
  onChildSettled(child: DurableTask<unknown>): void {
    if (this.isSettled) return;
    if (child === this.#timer) {
      this.#timer = undefined;
      // Canceled while it waited to retry: no new attempt, the call fails with the last one's error.
      if (this.#stopRetrying()) return this.fail(this.#current.error!);
      this.#attempt += 1;
      this.#current = this.#start();
      return;
    }
    if (child !== this.#current) return;
    if (!child.isFaulted) return this.complete(child.result as T);
    const error = child.error!; // a faulted task holds the Error it failed with
    // Canceled since the call, or a sub-orchestration canceled by id: not retried (a retry would start it again).
    if (this.#stopRetrying() || (this.#scheduler.stopsOnCancel && isCancellation(error))) return this.fail(error);
    let delay: number | undefined;
    try {
      delay = this.#nextDelay(error);
    } catch (thrown) {
      // A `handle` that throws stops the retries, and the call fails saying so: its error is the failure recorded.
      // One that returned a promise fails it too: its answer would come after the step, and replay could not wait for it.
      return this.fail(thrown === PROMISED
        ? handleFailed(error, 'returned a promise', PROMISED_DETAILS)
        : handleFailed(error, 'threw', toFailureDetails(thrown)));
    }
    if (delay === undefined) return this.fail(error);
    this.#timer = this.#scheduler.createTimer(new Date(this.#scheduler.now().getTime() + delay));
    this.#timer.addParent(this);
  }

  /** Canceled since the call: no new attempt starts (`ReplayFlag.NoRetryAfterCancel`). */
  #stopRetrying(): boolean {
    return this.#scheduler.stopsOnCancel && !this.#afterCancel && this.#scheduler.cancelRequested();
  }

  #start(): AtomicTask<T> {
    const task = this.#scheduler.startAttempt(this.#attempt);
    task.addParent(this);
    return task;
  }

  /**
   * The delay before the next attempt after `error` failed this one, or undefined for none: the one place retries are
   * decided. In order, as Durable Functions' `RetryInterceptor`: no retry after the last attempt (`handle` is not
   * asked then), none when `handle` says no, none when the failure comes at or after the first attempt's time plus
   * `retryTimeoutInMilliseconds` (orchestration time both), else `firstRetryIntervalInMilliseconds *
   * backoffCoefficient ^ (attempt - 1)`, at most `maxRetryIntervalInMilliseconds` (6 days when left out), in whole
   * milliseconds. Without `asDurableFunctions` (a history recorded before it), the timeout counted the delay too
   * (no retry that would start after it) and nothing capped a delay left uncapped.
   */
  #nextDelay(error: Error): number | undefined {
    const o = this.options;
    if (this.#attempt >= o.maxNumberOfAttempts) return undefined;
    if (o.handle) {
      const answer: unknown = o.handle(error);
      // A promise (an `async` handle in untyped code) has its rejection dropped either way; a history recorded before
      // `handleDecidesAtOnce` read it as true, as it did, whatever its `then` does (one that throws retries there too).
      if (this.#scheduler.handleDecidesAtOnce) {
        if (dropRejection(answer)) throw PROMISED;
      } else {
        try {
          dropRejection(answer);
        } catch {
          // Read as it was: the answer alone decides.
        }
      }
      if (!answer) return undefined;
    }
    const df = this.#scheduler.asDurableFunctions;
    const now = this.#scheduler.now().getTime();
    const cap = o.maxRetryIntervalInMilliseconds ?? (df ? DEFAULT_MAX_RETRY_INTERVAL_MS : Infinity);
    const delay = Math.min(o.firstRetryIntervalInMilliseconds * Math.pow(o.backoffCoefficient ?? 1, this.#attempt - 1), cap);
    const timeout = o.retryTimeoutInMilliseconds;
    if (timeout !== undefined) {
      const elapsed = now - this.#firstAttemptAt;
      if (df ? !(elapsed < timeout) : elapsed + delay > timeout) return undefined;
    }
    // A retry later than a Date can name (a backoff that overflowed) never comes: the call fails with its error.
    if (!(now + delay <= MAX_DATE_MS)) return undefined;
    return Math.round(delay);
  }
}

/** The cap of a retry delay when `maxRetryIntervalInMilliseconds` is left out: Durable Functions' default, 6 days. */
const DEFAULT_MAX_RETRY_INTERVAL_MS = 6 * 86_400_000;

/** The latest time a Date holds (ECMAScript's time range: 8.64e15 ms after the epoch). */
const MAX_DATE_MS = 8.64e15;

/** What `#nextDelay` throws for a `handle` that returned a promise. */
const PROMISED: unknown = {};

/** The failure details of a `handle` that returned a promise. */
const PROMISED_DETAILS: FailureDetails = {
  errorType: 'Error',
  errorMessage: 'a handle must return true or false, not a promise (replay cannot wait for one)',
};

/**
 * The failure of a call whose retry `handle` threw (or returned a promise: `how`) when asked about `error`: a
 * {@link TaskFailedError} of the same task whose failure details are the handle's error (its type and stack; the
 * message says what the handle did and names the failure it was asked about).
 */
function handleFailed(error: Error, how: string, details: FailureDetails): TaskFailedError {
  const failureDetails = { ...details, errorMessage: `retry handle ${how}: ${details.errorMessage} (on: ${error.message})` };
  const task = error instanceof TaskFailedError ? error.task : { name: '', taskScheduledId: -1 };
  return new TaskFailedError(`${error.message}; its retry handle ${how}: ${details.errorMessage}`, task, failureDetails);
}

/** How {@link retryOptionsAtCall} reads each member of {@link RetryOptions} (its range is checked after). */
const RETRY_OPTION_CHECKS = {
  firstRetryIntervalInMilliseconds: isNumber, maxNumberOfAttempts: isNumber, backoffCoefficient: isNumber,
  maxRetryIntervalInMilliseconds: isNumber, retryTimeoutInMilliseconds: isNumber, handle: isFunction,
};

/**
 * The options a call with retries follows (`ReplayFlag.RetryArgumentsAtCall`): each member of the caller's object read
 * once, now, into a frozen object of the task's own (`readChecked`), so a change to the caller's object after the call
 * changes nothing. `handle` is still called with the caller's object as `this`. Throws `InvalidArgumentError` for
 * anything but an object (`undefined` too), a member that should be a number and is not (a numeric string such as
 * `'100'` is refused, not coerced), a `handle` that is no function, or, with `refusesUnknownMembers`
 * (`ReplayFlag.RetryOptionsRefuseUnknownMembers`), an own member that is none of the six (`backoffCoeficient`);
 * {@link validateRetryOptions} then checks the ranges.
 */
function retryOptionsAtCall(given: RetryOptions, refusesUnknownMembers: boolean): RetryOptions {
  // A history recorded before the flag took members of its own (read through an object that has none): its `handle`
  // may read them through `this` (`this.fatal`), and its replay must not throw where the call once ran.
  const read = given === null || typeof given !== 'object' ? given ?? null : refusesUnknownMembers ? given : Object.create(given);
  const taken = readChecked(read, 'retryOptions', RETRY_OPTION_CHECKS);
  const { handle } = taken;
  return Object.freeze({ ...taken, handle: handle && ((error: Error) => handle.call(given, error as never) as boolean) }) as RetryOptions;
}

/**
 * Throws `InvalidArgumentError` at the call for an option out of range. With `asDurableFunctions`, the first interval
 * and the cap must also be finite: `Infinity` there would read as "never retry" but, capped at 6 days, retries. A
 * history recorded before that flag accepted them, and keeps replaying so (a check at the call cannot change what was
 * recorded, but a throw would fail a replay that once ran).
 */
function validateRetryOptions(o: RetryOptions, asDurableFunctions: boolean): void {
  const delay = asDurableFunctions ? (ms: number) => ms > 0 && ms < Infinity : (ms: number) => ms > 0;
  const range = asDurableFunctions ? 'must be finite and > 0' : 'must be > 0';
  if (!delay(o.firstRetryIntervalInMilliseconds)) invalid('firstRetryIntervalInMilliseconds', range);
  if (!Number.isInteger(o.maxNumberOfAttempts) || o.maxNumberOfAttempts < 1) invalid('maxNumberOfAttempts', 'must be an integer >= 1');
  if (o.backoffCoefficient !== undefined && !(o.backoffCoefficient >= 1)) invalid('backoffCoefficient', 'must be >= 1');
  if (o.maxRetryIntervalInMilliseconds !== undefined && !delay(o.maxRetryIntervalInMilliseconds)) invalid('maxRetryIntervalInMilliseconds', range);
  if (o.retryTimeoutInMilliseconds !== undefined && !(o.retryTimeoutInMilliseconds > 0)) invalid('retryTimeoutInMilliseconds', 'must be > 0');
}
