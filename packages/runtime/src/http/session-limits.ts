/**
 * Most subscriptions one stream session holds, and most one subscription request lists to add and to remove: the
 * server refuses a request past either (400 `invalid-argument`, changing nothing). A client that sends a session's
 * changes (rx-client's stream mux) splits them by it. Not an option of the handler: a client takes it from here.
 *
 * @example
 * ```ts
 * const later = unsubscribe.splice(MAX_SUBSCRIPTIONS_PER_SESSION); // sent in the next request
 * ```
 */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 1000;
