/**
 * Marks a request a server received from the network (`serve()` of `@durable-rx/runtime/node` sets it on every
 * request it hands to its handler): its URL's host is the `Host` header a client sent, as a page whose DNS name was
 * rebound to this address sends it, which an anonymous `createHttpHandler` checks (see `allowedHosts`). A `Request`
 * made and handed to a handler in process (a test's `handler(new Request('http://test/…'))`) has no mark: its host
 * is no name anyone resolved. `Symbol.for`, so that two copies of the package agree, as for `SSE_STREAM`.
 */
export const RECEIVED: unique symbol = Symbol.for('durable-rx.received');

/** A request that may carry the {@link RECEIVED} mark. */
export type MarkedRequest = Request & { [RECEIVED]?: true };
