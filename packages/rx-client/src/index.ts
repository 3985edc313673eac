/**
 * `@durable-rx/rx-client`: a `DurableClient` over the durable-rx HTTP API — commands over `fetch`, status pushed
 * over Server-Sent Events with automatic, lossless reconnect — plus small operators for progress UIs.
 *
 * @packageDocumentation
 */
export { createRemoteClient, RemoteClient, type RemoteClientOptions } from './remote-client.js';
export type { ReconnectOptions } from './stream-mux.js';
export type { ConnectionState } from './stream-mux.js';
export { RemoteError } from './remote-error.js';
export { untilTerminal } from './operators/until-terminal.js';
export { progressFrom, type Progress } from './operators/progress-from.js';
