import { UnavailableError } from '../model/errors/unavailable-error.js';
import { StoreClosedError } from '../model/errors/store-closed-error.js';
import { FIRST_ANSWER_GRACE_MS } from './timeout-after.js';

/**
 * The error `waitForCompletion` rejects with, in every client, when no status of the instance could be read by its
 * timeout and the {@link FIRST_ANSWER_GRACE_MS} after it (the store did not answer the first read; a remote client's
 * server sent no snapshot, and its plain read failed too): `UnavailableError` (`unavailable`, 503, retryable: the
 * instance may well exist and run on), with the last read's failure, if one was seen, as its `cause`. A status that
 * was read ends the wait instead, with that status.
 *
 * @example
 * ```ts
 * const error = noStatusError('order-1');
 * error.code; // 'unavailable'
 * ```
 */
export function noStatusError(instanceId: string, cause?: unknown): UnavailableError {
  return new UnavailableError(
    `No status of instance ${JSON.stringify(instanceId)} could be read within the wait's timeout and ${FIRST_ANSWER_GRACE_MS / 1000} s more`,
    { cause },
  );
}

/**
 * The error `waitForCompletion` rejects with, in every client, when the client or its store closes (a remote
 * client's `close()`; not its server ending the watch, after which the wait goes on) before the instance is terminal
 * and before the timeout:
 * `StoreClosedError` (`store-closed`), as every later call of that client gets. The wait resolves only with a terminal
 * status or at its timeout, so a non-terminal status never stands for a close.
 *
 * @example
 * ```ts
 * closedWaitError('order-1').code; // 'store-closed'
 * ```
 */
export function closedWaitError(instanceId: string, cause?: unknown): StoreClosedError {
  return new StoreClosedError(`The client or its store closed before instance ${JSON.stringify(instanceId)} completed`, { cause });
}
