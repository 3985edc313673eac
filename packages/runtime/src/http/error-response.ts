import { jsonResponse } from '../client/json-response.js';
import { isDurableError } from '../model/errors/durable-error.js';
import { isStoreClosed } from '../model/errors/store-closed-error.js';
import type { Logger } from '../env/logger.js';

/**
 * What an error says: a stable machine-readable `code` and a human-readable `message` (the `error` of a stream
 * event; an error response adds `ExceptionMessage`, see {@link ErrorResponseBody}).
 */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  /**
   * The error's HTTP status, in a stream event's error (an error response has it as its status), so that a client
   * rebuilds it as the server's: a 503 stays worth retrying, a 400 does not.
   */
  readonly status?: number;
  /**
   * `true` when the server's store serves no call any more, closed or lost for good (`isStoreClosed`: code
   * `store-closed`, or `storeClosed: true` on the error, as IndexedDB's `database-upgrading`), in an error response as
   * in a stream event; absent otherwise. A client tells "the server's storage is unavailable" from it whatever the code.
   */
  readonly storeClosed?: true;
}

/**
 * The JSON body of every error response: {@link ErrorBody} and `ExceptionMessage`, the message again under the name
 * the Durable Functions extension gives it (the `azure-functions-durable` Python client raises it when a start is
 * refused with 400).
 */
export interface ErrorResponseBody extends ErrorBody {
  readonly ExceptionMessage: string;
}

/**
 * The body of an error response (the one place its shape is made): `code`, `message`, the message again as
 * `ExceptionMessage`, and `storeClosed: true` when the store serves no call any more.
 */
export function errorResponseBody(code: string, message: string, storeClosed?: boolean): ErrorResponseBody {
  return { code, message, ExceptionMessage: message, ...(storeClosed ? { storeClosed: true } : {}) };
}

/** A JSON error response. Never contains a stack trace. */
export function errorResponse(
  status: number, code: string, message: string, headers: Record<string, string> = {}, storeClosed?: boolean,
): Response {
  return jsonResponse(errorResponseBody(code, message, storeClosed), { status, headers: { 'cache-control': 'no-store', ...headers } });
}

/**
 * What a thrown value says on the wire (the one rule of error responses and stream events): a `DurableError` its
 * `code`, message and `status`, with `storeClosed: true` when `isStoreClosed`; anything else is an unexpected failure,
 * reported to `logger` (with `what`) and said as a generic 500 `internal` that reveals nothing.
 */
export function errorBodyOf(error: unknown, logger: Logger, what: string): Required<Pick<ErrorBody, 'status'>> & ErrorBody {
  if (!isDurableError(error)) {
    logger.error(`HTTP API: unexpected ${what}`, error);
    return { code: 'internal', message: 'Internal server error', status: 500 };
  }
  return { code: error.code, message: error.message, status: error.status, ...(isStoreClosed(error) ? { storeClosed: true } : {}) };
}

/**
 * Maps a thrown value to an error response (see {@link errorBodyOf}); a `DurableError` of status 500 or more is
 * reported to `logger` too.
 */
export function responseForError(error: unknown, logger: Logger): Response {
  if (isDurableError(error) && error.status >= 500) logger.error(`HTTP API: ${error.code}`, error);
  const { status, code, message, storeClosed } = errorBodyOf(error, logger, 'error');
  return errorResponse(status, code, message, {}, storeClosed);
}
