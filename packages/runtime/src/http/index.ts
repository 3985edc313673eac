/**
 * `@durable-rx/runtime/http`: the Durable Functions HTTP management API (plus Server-Sent Event status streams) as
 * a WHATWG fetch handler. Web-standard only: runs in Node (through `@durable-rx/runtime/node`), Deno, Bun,
 * Cloudflare Workers and Service Workers.
 *
 * @packageDocumentation
 */
export { createHttpHandler, type HttpHandler, type HttpHandlerOptions } from './create-http-handler.js';
export type { NativeWireStatus, WireFailureDetails, WireHistoryEvent, WireInstanceStatus } from './wire-status.js';
export type { ErrorBody, ErrorResponseBody } from './error-response.js';
export { historyEventsHeld, type HistoryPosition } from '../model/history-position.js';
export { KeyVerifier } from './key-verifier.js';
export { createReadToken, type ReadTokenOptions } from './read-token.js';
