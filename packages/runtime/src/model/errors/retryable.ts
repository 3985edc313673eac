import { isDurableError } from './durable-error.js';
import { isStoreClosed } from './store-closed-error.js';

/** HTTP statuses worth retrying: server errors, timeouts, rate limits. Other 4xx answers would not change. */
export function isRetryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * True when trying again may succeed where `error` ended a watch: a status worth retrying ({@link isRetryable}:
 * `unavailable`, `unreachable`, `internal`, a store that could not be read, 408, 429), or an answer that came from no
 * durable-rx server (a remote client's `bad-response`, whatever its status: a proxy's page during a deploy, a 404
 * included; but not a 414 or 431, a request line or headers too long for the server, which the same request gets
 * again). Never for a closed client or store, nor one that lost its database for good (`isStoreClosed`: `store-closed`,
 * IndexedDB's `database-upgrading`), nor for a refusal that retrying cannot change
 * (`invalid-argument`, `unauthorized`, `forbidden`, `not-found`, `instance-not-found` …), nor for an error that is no
 * `DurableError` (a bug, which would fail again). The one rule for the React hooks (which subscribe again after such
 * an error) and the HTTP API's single streams (which let an `EventSource` reconnect after such an `error` event).
 *
 * @example
 * ```ts
 * isRetryableError(new UnavailableError('no status arrived')); // true
 * isRetryableError(new InvalidArgumentError('bad id'));         // false
 * ```
 */
export function isRetryableError(error: unknown): boolean {
  return isDurableError(error) && !isStoreClosed(error)
    && (error.code === 'bad-response' ? error.status !== 414 && error.status !== 431 : isRetryable(error.status));
}

/**
 * True when `error` is a server's store closed or lost for good, as a remote client rebuilt it from the server's
 * answer: it says `storeClosed: true` (the HTTP API's error bodies and `close` events carry it) and is of one of
 * `answerClasses` (classes, abstract or not), the classes that client rebuilds answers into (a store's own error thrown in the page, as IndexedDB's
 * `DatabaseUpgradingError`, is of none of them). {@link isRetryableError} never retries it (`isStoreClosed`); a remote
 * client may: the store is the server's, and for that client it is the server that is unavailable for now (a restarted
 * or failed-over server serves again). `@durable-rx/rx-client`'s React hooks retry
 * `isRetryableError(error) || isRemoteStoreLost(error, answerClasses)`.
 *
 * @example
 * ```ts
 * isRemoteStoreLost(Object.assign(new StoreClosedError('closed'), { storeClosed: true }), [StoreClosedError]); // true
 * isRemoteStoreLost(new StoreClosedError('closed'), [StoreClosedError]); // false: a client's own close
 * ```
 */
export function isRemoteStoreLost(error: unknown, answerClasses: readonly (abstract new (...args: never[]) => object)[]): boolean {
  return (error as { readonly storeClosed?: unknown } | null | undefined)?.storeClosed === true
    && answerClasses.some((E) => error instanceof E);
}
