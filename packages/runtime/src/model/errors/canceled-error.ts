import type { FailureDetails } from '../instance-status.js';
import { DurableError } from './durable-error.js';

/**
 * Thrown into an orchestrator at the `yield` it waits at when `client.cancel(id, reason)` reaches it (cooperative
 * cancellation: unlike `terminate`, the orchestrator's code runs on). It may catch it, call compensating activities
 * (new calls and timers work as before) and return or throw; `ctx.isCancellationRequested` is true from then on. If
 * it escapes the orchestrator, the instance ends Failed with `failureDetails.errorType` `'CanceledError'` (see
 * {@link isCancellation}). The message is `Canceled` followed by the reason, when one was given: `Canceled: <reason>`.
 * The work it waited for is not canceled: an activity still running finishes and its result is recorded (and ignored
 * unless the orchestrator yields that task again).
 *
 * @example
 * ```ts
 * function* order(ctx: OrchestrationContext): Orchestration<string> {
 *   yield ctx.callActivity('Reserve');
 *   try {
 *     yield ctx.waitForExternalEvent('Paid');
 *     return 'shipped';
 *   } catch (error) {
 *     if (!isCancellation(error)) throw error;
 *     yield ctx.callActivity('Release'); // compensate, then end as canceled
 *     throw error;
 *   }
 * }
 * ```
 */
export class CanceledError extends DurableError {
  override readonly name = 'CanceledError';
  readonly code = 'canceled' as const;
  readonly status = 500 as const;

  constructor(
    message: string,
    /** The reason given to `cancel`, if any. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

/**
 * True when `value` says an orchestration was canceled: a {@link CanceledError} (also from another realm, by its
 * `name` and `code`), a `TaskFailedError` whose failed sub-orchestration ended canceled (its `failureDetails.errorType`
 * is `'CanceledError'`; never an activity's, whatever its error was named: an activity is not canceled), or `FailureDetails` (an instance status's `failureDetails`) with that `errorType`. In the
 * spirit of Temporal's `isCancellation`.
 *
 * @example
 * ```ts
 * const done = await client.waitForCompletion(id);
 * if (done.runtimeStatus === 'Failed' && isCancellation(done.failureDetails)) console.log('canceled');
 * ```
 */
export function isCancellation(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown; errorType?: unknown; failureDetails?: unknown; task?: unknown };
  if (v.name === 'CanceledError' && v.code === 'canceled') return true;
  if (typeof v.errorType === 'string') return v.errorType === 'CanceledError';
  if (v.name === 'TaskFailedError' && typeof v.failureDetails === 'object' && v.failureDetails !== null) {
    // Not an activity's: an activity that threw an error of that name (an aborted HTTP request) was not canceled.
    if ((v.task as { kind?: unknown } | undefined)?.kind === 'activity') return false;
    return (v.failureDetails as FailureDetails).errorType === 'CanceledError';
  }
  return false;
}
