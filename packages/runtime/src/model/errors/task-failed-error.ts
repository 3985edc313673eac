import type { FailureDetails } from '../instance-status.js';
import { DurableError } from './durable-error.js';

/**
 * Thrown into an orchestrator when an activity or sub-orchestration it awaited failed. `failureDetails` describes the
 * remote failure (it crossed a store, so it is data, not the original Error object); `cause` holds an Error rebuilt
 * from it. Built from a message alone (`new TaskFailedError('x')`, as every error class here builds, e.g. in a test),
 * it names no task (`name` `''`, `taskScheduledId` -1) and its failure is an `Error` with that message.
 */
export class TaskFailedError extends DurableError {
  override readonly name = 'TaskFailedError';
  readonly code = 'task-failed' as const;
  readonly status = 500 as const;

  constructor(
    message: string,
    /**
     * Which task failed: the activity or sub-orchestration name and its scheduling id, and (when the engine built it)
     * which of the two it is.
     */
    readonly task: {
      readonly name: string; readonly taskScheduledId: number; readonly kind?: 'activity' | 'sub-orchestration';
    } = { name: '', taskScheduledId: -1 },
    /** The failure as recorded in history. */
    readonly failureDetails: FailureDetails = { errorType: 'Error', errorMessage: message },
  ) {
    super(message, { cause: failureToError(failureDetails) });
  }
}

function failureToError(details: FailureDetails): Error {
  const error = new Error(details.errorMessage);
  error.name = details.errorType;
  if (details.stackTrace !== undefined) error.stack = details.stackTrace;
  return error;
}
