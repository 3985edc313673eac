/**
 * Most subscriptions one stream session holds, and most one subscription request lists to add and to remove. A
 * request listing more is refused (400 `invalid-argument`, changing nothing); of the subscribes of one that fits, those
 * past the session's room are refused one by one (each its `close` event with an `invalid-argument` error), the rest
 * applied. A client that sends a session's changes (rx-client's stream mux) splits them by it. Not an option of the
 * handler: a client takes it from here.
 *
 * @example
 * ```ts
 * const later = unsubscribe.splice(MAX_SUBSCRIPTIONS_PER_SESSION); // sent in the next request
 * ```
 */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 1000;
