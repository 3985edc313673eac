import { InstanceNotFoundError } from '../model/errors/instance-not-found-error.js';
import { isTerminalStatus, type InstanceStatus } from '../model/instance-status.js';
import { absoluteUrl, isBoolean, isString, isTimeoutMs, readChecked } from '../model/validation.js';
import type {
  CheckStatusResponseOptions, DurableClient, HttpManagementPayload, WaitForCompletionOrCheckStatusOptions,
} from './durable-client.js';
import { jsonResponse } from './json-response.js';
import { toWireStatusWithoutHistory, type WireStatusOptions } from './wire-status.js';

/** `Retry-After` of a check-status response, in seconds, as Durable Functions sends it. */
export const CHECK_STATUS_RETRY_AFTER_SECONDS = 10;

/**
 * The Durable Functions check-status response for a payload: 202, the payload as JSON, `Location` =
 * `statusQueryGetUri`, `Retry-After`.
 *
 * @example
 * ```ts
 * checkStatusResponse(client.createHttpManagementPayload(id, 'https://api.example.com')).status; // 202
 * ```
 */
export function checkStatusResponse(payload: HttpManagementPayload, retryAfterSeconds = CHECK_STATUS_RETRY_AFTER_SECONDS): Response {
  return jsonResponse(payload, {
    status: 202,
    headers: { Location: payload.statusQueryGetUri, 'Retry-After': String(retryAfterSeconds) },
  });
}

/**
 * `payload` with its status link asking for 500 on failure when `returnInternalServerErrorOnFailure` is true: the
 * parameter appended to `statusQueryGetUri` (after `code=`, if any), as Durable Functions builds the links when asked.
 * The other links are unchanged.
 */
export function withFailureStatusLink(payload: HttpManagementPayload, returnInternalServerErrorOnFailure: boolean | undefined): HttpManagementPayload {
  if (returnInternalServerErrorOnFailure !== true) return payload;
  const link = payload.statusQueryGetUri;
  return { ...payload, statusQueryGetUri: `${link}${link.includes('?') ? '&' : '?'}returnInternalServerErrorOnFailure=true` };
}

/** Options of {@link completionResponse}. */
export interface CompletionResponseOptions extends WireStatusOptions {
  /** The HTTP status for a Failed instance: 500 (Durable Functions' JavaScript client) or 200 (its HTTP API's default). */
  readonly failedStatus: 200 | 500;
}

/**
 * The response for an instance that finished waiting, as Durable Functions answers: Completed → 200 with the
 * output as JSON (`null` when there is none); Terminated → 200 with the status body; Failed → `failedStatus` with the
 * status body. `undefined` while the instance is not terminal. `status` is a finished wait's, which has no `history`
 * (one would not be shown).
 *
 * @example
 * ```ts
 * completionResponse(await client.waitForCompletion(id), { failedStatus: 500 }) ?? checkStatusResponse(payload);
 * ```
 */
export function completionResponse(status: InstanceStatus, options: CompletionResponseOptions): Response | undefined {
  const { runtimeStatus } = status;
  if (!isTerminalStatus(runtimeStatus)) return undefined;
  if (runtimeStatus === 'Completed') return jsonResponse(status.output ?? null);
  return jsonResponse(toWireStatusWithoutHistory(status, options), { status: runtimeStatus === 'Failed' ? options.failedStatus : 200 });
}

/**
 * `createCheckStatusResponse` of a {@link DurableClient}, on its `createHttpManagementPayload`; both clients share it.
 *
 * @example
 * ```ts
 * // In a DurableClient implementation:
 * createCheckStatusResponse(request: Request, id: string, options?: CheckStatusResponseOptions): Response {
 *   return createCheckStatusResponseOf(this, request, id, options);
 * }
 * ```
 */
export function createCheckStatusResponseOf(
  client: DurableClient, request: Request, instanceId: string, options: CheckStatusResponseOptions = {},
): Response {
  const { baseUrl, key, returnInternalServerErrorOnFailure } = readChecked(options, 'createCheckStatusResponse options', {
    baseUrl: isString, key: isString, returnInternalServerErrorOnFailure: isBoolean,
  });
  // The request's origin unless a base is given; `?.`: a missing request is refused as a missing URL (400).
  const base = baseUrl ?? absoluteUrl(request?.url, 'request.url').origin;
  return checkStatusResponse(withFailureStatusLink(client.createHttpManagementPayload(instanceId, base, { key }), returnInternalServerErrorOnFailure));
}

/**
 * `waitForCompletionOrCreateCheckStatusResponse` of a {@link DurableClient}, on its `waitForCompletion` (which
 * follows `status$`: it answers the moment the instance completes, with no retry interval); both clients share it.
 * `options` may also be Durable Functions' positional form (its JavaScript SDK before v3):
 * `(request, id, timeoutInMilliseconds?, retryIntervalInMilliseconds?)`, a number or a fourth argument. It is read as
 * the options object `{ timeoutInMilliseconds, retryIntervalInMilliseconds }` by the same rule, so both forms accept
 * and refuse the same values.
 *
 * @example
 * ```ts
 * // A fetch handler that starts an orchestration and answers with its output when it is done within 5 s:
 * export default async function handle(request: Request): Promise<Response> {
 *   const id = await client.startNew('E1_HelloSequence');
 *   return client.waitForCompletionOrCreateCheckStatusResponse(request, id, { timeoutMs: 5000 });
 * }
 * ```
 */
export async function waitForCompletionOrCreateCheckStatusResponseOf(
  client: DurableClient, request: Request, instanceId: string, options?: WaitForCompletionOrCheckStatusOptions | number,
  retryIntervalInMilliseconds?: number,
): Promise<Response> {
  // Durable Functions' names are read too (`timeoutMs` wins); its retry interval is checked and ignored: nothing polls.
  const { timeoutMs, timeoutInMilliseconds, retryIntervalInMilliseconds: _retry, ...checkStatusOptions } = readChecked(
    typeof options === 'number' || retryIntervalInMilliseconds !== undefined
      ? { timeoutInMilliseconds: options, retryIntervalInMilliseconds }
      : options,
    'waitForCompletionOrCreateCheckStatusResponse options',
    {
      baseUrl: isString, key: isString, returnInternalServerErrorOnFailure: isBoolean,
      timeoutMs: isTimeoutMs, timeoutInMilliseconds: isTimeoutMs, retryIntervalInMilliseconds: isTimeoutMs,
    },
  );
  // Built first: a bad request or option fails before waiting.
  const checkStatus = createCheckStatusResponseOf(client, request, instanceId, checkStatusOptions);
  try {
    const status = await client.waitForCompletion(instanceId, { timeoutMs: timeoutMs ?? timeoutInMilliseconds });
    // Failed: 500, unless the caller said `returnInternalServerErrorOnFailure: false` (200, as .NET's parameter).
    const failedStatus = checkStatusOptions.returnInternalServerErrorOnFailure === false ? 200 : 500;
    return completionResponse(status, { failedStatus }) ?? checkStatus;
  } catch (error) {
    // An unknown instance is the caller's mistake: it rejects (404; both clients throw this class of this module's
    // package). A wait that fails otherwise (a store read, the network, a client that closes) says nothing about the
    // instance, which the caller has typically just started: a rejection would make its handler answer with a 5xx,
    // which a caller retrying takes for a start that did not happen. So it answers as a wait that times out, as the
    // HTTP API's start with `?timeout=` does.
    if (error instanceof InstanceNotFoundError) throw error;
    return checkStatus;
  }
}
