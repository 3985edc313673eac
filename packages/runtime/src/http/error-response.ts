import { jsonResponse } from '../client/json-response.js';
import { isDurableError } from '../model/errors/durable-error.js';
import type { Logger } from '../env/logger.js';

/**
 * What an error says: a stable machine-readable `code` and a human-readable `message` (the `error` of a stream
 * event; an error response adds `ExceptionMessage`, see {@link ErrorResponseBody}).
 */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
}

/**
 * The JSON body of every error response: {@link ErrorBody} and `ExceptionMessage`, the message again under the name
 * the Durable Functions extension gives it (the `azure-functions-durable` Python client raises it when a start is
 * refused with 400).
 */
export interface ErrorResponseBody extends ErrorBody {
  readonly ExceptionMessage: string;
}

/** A JSON error response. Never contains a stack trace. */
export function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  const body: ErrorResponseBody = { code, message, ExceptionMessage: message };
  return jsonResponse(body, { status, headers: { 'cache-control': 'no-store', ...headers } });
}

/**
 * Maps a thrown value to an error response: a `DurableError` keeps its `status`, `code` and message; anything else
 * is an unexpected failure, reported to `logger` and answered with a generic 500 that reveals nothing.
 */
export function responseForError(error: unknown, logger: Logger): Response {
  if (isDurableError(error)) {
    if (error.status >= 500) logger.error(`HTTP API: ${error.code}`, error);
    return errorResponse(error.status, error.code, error.message);
  }
  logger.error('HTTP API: unexpected error', error);
  return errorResponse(500, 'internal', 'Internal server error');
}
