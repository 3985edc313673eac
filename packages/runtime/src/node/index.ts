/**
 * `@durable-rx/runtime/node`: serves the HTTP management API (`@durable-rx/runtime/http`) with `node:http`.
 *
 * @packageDocumentation
 */
export { serve, type FetchHandler, type NodeServer, type ServeOptions } from './serve.js';
