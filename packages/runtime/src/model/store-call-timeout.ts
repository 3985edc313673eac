/**
 * How long a worker or client waits for one store call, unless told otherwise (`storeCallTimeoutMs` of
 * `createRuntime` and `createClient`).
 */
export const DEFAULT_STORE_CALL_TIMEOUT_MS = 30_000;
