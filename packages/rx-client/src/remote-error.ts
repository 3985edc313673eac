import { isRemoteStoreLost, isRetryableError } from '@durable-rx/runtime/client-kit';
import {
  DurableError, InstanceAlreadyExistsError, InstanceNotFoundError, InstanceNotRunningError, InstanceNotTerminalError,
  InvalidArgumentError, PayloadTooLargeError, StoreClosedError, UnavailableError,
} from '@durable-rx/runtime';

/**
 * An error the server answered with that has no class of its own in `@durable-rx/runtime` (401 `unauthorized`,
 * 403 `forbidden` for what a read token does not allow, 404 `not-found` for an unknown route, 405, 500 `internal` …), or a failure to reach the server
 * (`code: 'unreachable'`) or to understand its answer (`code: 'bad-response'`). It is a `DurableError`, so callers
 * switch on `code` and `status` as for every other error.
 *
 * @example
 * ```ts
 * try { await client.getStatusAll(); }
 * catch (e) { if (e instanceof RemoteError && e.code === 'unauthorized') showLogin(); }
 * ```
 */
export class RemoteError extends DurableError {
  override readonly name = 'RemoteError';
  // Assigned in the constructor (declared only, so no field definitions in the page).
  declare readonly code: string;
  declare readonly status: number;
  /**
   * `true` when the server's store is closed or lost for good (its answer said `storeClosed: true`): for this client
   * the server is unavailable for now, and the React hooks retry it. Also set on the runtime's classes the client
   * rebuilds such an answer into (a `StoreClosedError` for `store-closed`); absent otherwise.
   */
  declare readonly storeClosed?: true;

  constructor(code: string, status: number, message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
  }
}

/** The error for a server answer the client cannot read: `RemoteError` `bad-response` (502) saying what was wrong. */
export function badResponse(message: string): RemoteError {
  return new RemoteError('bad-response', 502, message);
}

type ErrorClass = new (message: string) => DurableError;

/**
 * The error classes of `@durable-rx/runtime` that an HTTP route answers with (each one's `code` is read from an
 * instance, so it is written once). The engine's and worker's own errors (`NonDeterminismError`, `OrchestrationError`,
 * `UnknownEventTypeError`, `LeaseLostError`) are never an answer of a route (the client's commands neither run the
 * engine nor commit under a lease), so a body with their code becomes a {@link RemoteError} with that code.
 */
const ERROR_CLASSES: readonly ErrorClass[] = [
  InvalidArgumentError, InstanceNotFoundError, InstanceAlreadyExistsError, InstanceNotRunningError,
  InstanceNotTerminalError, PayloadTooLargeError, StoreClosedError, UnavailableError,
];

/**
 * Rebuilds the typed error of an error body `{ code, message, storeClosed? }`: the same class the server's client threw
 * (e.g. `InstanceNotFoundError` for `instance-not-found`; the classes of `invalid-argument`, `instance-not-found`,
 * `instance-already-exists`, `instance-not-running`, `instance-not-terminal`, `payload-too-large`, `store-closed` and
 * `unavailable`), or a {@link RemoteError} with the body's `code`, message and `status` for any other code. A body that
 * says `storeClosed: true` (the server's store is closed or lost for good) gives an error with `storeClosed: true`,
 * which {@link isRetryableForHooks} retries: for this client it is the server that is unavailable (see the README).
 */
export function errorFromBody(status: number, body: unknown): DurableError & Pick<RemoteError, 'storeClosed'> {
  const code = memberOf(body, 'code');
  const message = memberOf(body, 'message') ?? `HTTP ${status}`;
  const ErrorClass = ERROR_CLASSES.find((E) => new E('').code === code);
  // A body without a code (a proxy's page, say) is a bad response, except that a 413 says what was wrong.
  // The server's store gone: marked (see `isRetryableForHooks`), and nothing added to any other error.
  return Object.assign(
    ErrorClass ? new ErrorClass(message) : new RemoteError(code ?? (status === 413 ? 'payload-too-large' : 'bad-response'), status, message),
    (body as { storeClosed?: unknown } | undefined)?.storeClosed === true && { storeClosed: true as const },
  );
}

/**
 * The HTTP status of an error sent in an event (a subscription's `close`): its `status` when that is an integer from 400
 * to 599, else 500 (none, a string, a fraction, a status that is no error's): what the server sent is not reinterpreted.
 */
export function errorStatusOf(status: unknown): number {
  return Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599 ? status as number : 500;
}

/**
 * The JSON body of `response`, or `NaN` when it has none (a proxy's page, say): no JSON value is `NaN`, so every reader
 * of an answer refuses it as a bad response, as it refuses JSON without what it reads. Read as it arrives, so that a
 * body longer than `max` bytes (as they arrive, counted before they are decoded) is not held whole: it is cancelled,
 * and the value is a `RemoteError` `bad-response` saying so (no JSON value is one), which an error body reads as well
 * (its `code` and `message`). A body that never ends is ended by the caller's abort.
 */
export async function jsonOf(response: Response, max: number): Promise<unknown> {
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  let long: RemoteError | undefined;
  try {
    await readBody(response, (chunk) => {
      if ((bytes += chunk.length) > max) throw (long = tooLong('An answer', max));
      text += decoder.decode(chunk, { stream: true });
    });
    return JSON.parse(text + decoder.decode());
  } catch {
    return long ?? NaN;
  }
}

/**
 * Reads the body of `response` to its end, telling `take` each chunk (a throw of it ends the reading, rejecting), and
 * lets the body go however the reading ends (nothing is left to let go once it was read to its end; else the connection
 * goes: not awaited, it may never settle). A body that never ends is ended by the caller's abort.
 */
export async function readBody(response: Response, take: (chunk: Uint8Array) => void): Promise<void> {
  const reader = response.body?.getReader();
  try {
    for (let chunk; reader && !(chunk = await reader.read()).done;) take(chunk.value);
  } finally {
    void reader?.cancel().catch(() => {});
  }
}

/** The errors {@link isRetryableForHooks} never retries though their status says retryable (see {@link tooLong}). */
const FINAL = new WeakSet<object>();

/**
 * The error for a body or an event longer than `max` bytes: `RemoteError` `bad-response` (502). With `final` it is
 * marked so that {@link isRetryableForHooks} says no: given for the event of one watch, its value (a long `instances$`
 * list, say: the server would send the same value again, whole, on every retry). Code and status stay those of any
 * answer the client cannot read. The stream's failure is unmarked, retried: by an event over `max` that names no watch
 * (a broken server or proxy), and by one longer than twice `max` (the watch it named has failed for good already, so
 * the other watches, subscribed again, do not get it again; each such failure ends one more watch).
 */
export function tooLong(what: string, max: number, final?: boolean): RemoteError {
  const error = badResponse(`${what} is longer than maxResponseBytes (${max})`);
  if (final) FINAL.add(error);
  return error;
}

/** The errors {@link startsOver} says the hooks subscribe again after at once. */
const MISSED = new WeakSet<object>();

/**
 * `UnavailableError` for a watch that cannot go on exactly (values were committed that it can no longer receive),
 * marked so that the React hooks subscribe again at once ({@link startsOver}): they show the current value, which the
 * new subscription starts from, and render no error.
 */
export function valuesMissed(message: string): UnavailableError {
  const error = new UnavailableError(message);
  MISSED.add(error);
  return error;
}

/** Whether `error` is one of {@link valuesMissed}: the hooks start over on the current value at once. */
export function startsOver(error: unknown): boolean {
  return MISSED.has(error as object);
}

/**
 * Member `key` of `json` (a parsed JSON value, or `NaN`) when it is a string, else `undefined`. No check that `json` is
 * an object: a JSON array, string, number, `true` or `false` has no such member of its own, and none inherits one that
 * is a string (`undefined` and `null` are read as none).
 */
export function memberOf(json: unknown, key: string): string | undefined {
  const value = (json as Record<string, unknown> | null | undefined)?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** The shared rule of which HTTP statuses are worth retrying (the runtime's client-kit), as rx-client's own. */
export { isRetryable } from '@durable-rx/runtime/client-kit';

/** The longest delay between two attempts of a watch ({@link retryDelayMs}). */
export const MAX_RETRY_MS = 10_000;

/**
 * The delay before a watch that failed with an error worth retrying ({@link isRetryableForHooks}) is subscribed again
 * after `failures` failures before it, by a hook or by a remote `waitForCompletion`: 1 s, doubling on each failure, at
 * most {@link MAX_RETRY_MS}, so a watch that failed for long (a server's store down) is back soon after it works again.
 */
export function retryDelayMs(failures: number): number {
  return Math.min(MAX_RETRY_MS, 1000 * 2 ** failures);
}

/**
 * The React hooks' retry rule: true when subscribing again may succeed where `error` ended a watch. The runtime's
 * `isRetryableError` (the shared rule: `unavailable`, `unreachable`, 5xx, a proxy's page …), and also a server's store
 * closed or lost for good (`isRemoteStoreLost`: an error {@link errorFromBody} rebuilt from a body with
 * `storeClosed: true`, of the classes it rebuilds answers into), which the shared rule never retries: the store is the
 * server's, which may be restarted or fail over, so from here it is the server that is unavailable for now. This
 * client's own close (a `StoreClosedError` without the mark) is never retried, nor a store lost in the page (a local
 * store's own error class, as IndexedDB's `DatabaseUpgradingError`), nor a watch's value longer than `maxResponseBytes`
 * (a `bad-response` 502 {@link tooLong} marks: the same value would come again, whole, on every retry). The failure
 * of the stream such an event ended once longer than twice that is retried: the other watches, subscribed again, do
 * not get that value.
 */
export function isRetryableForHooks(error: unknown): boolean {
  // Of every class errorFromBody rebuilds an answer into (listed here: this rule is in the hooks' entry only).
  return !FINAL.has(error as object) && (isRetryableError(error) || isRemoteStoreLost(error, [RemoteError, ...ERROR_CLASSES]));
}
