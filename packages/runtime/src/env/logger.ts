import { dropRejection } from './thenable.js';

/**
 * Where the runtime reports problems it handles itself (a lost lease, a store error it retries). Its methods are not
 * awaited: a report that throws, or an `async` one that rejects, is dropped (see {@link guardedLogger}).
 */
export interface Logger {
  /**
   * Something went wrong that the runtime works around, such as a lease lost to another worker (that step's result is
   * discarded) or a fused step committed in two parts. `details` is the error, when there is one.
   */
  warn(message: string, details?: unknown): void;
  /**
   * An operation failed, such as a store call, a claim or a step, and the runtime carries on: it retries, or leaves
   * the work to be claimed again when its lease expires. `details` is the error.
   */
  error(message: string, details?: unknown): void;
}

/** Reports to the console. */
export const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`[durable-rx] ${message}`, ...(details === undefined ? [] : [details])),
  error: (message, details) => console.error(`[durable-rx] ${message}`, ...(details === undefined ? [] : [details])),
};

/** Reports nothing. */
export const silentLogger: Logger = { warn: () => {}, error: () => {} };

/**
 * `logger` with calls that never throw. Reports are made where a failure is being handled (a catch, an error
 * callback); a logger that throws there (a closed stream, a bug in it) would turn one recorded failure into a second,
 * unrecorded one that escapes the handler (a retry not armed, a request that never gets its answer), and one whose
 * methods are `async` and reject would end a Node process with an unhandled rejection: such a rejection is handled
 * (dropped) as a throw is. The runtime, the HTTP handler and stores that log (through `@durable-rx/runtime/store-kit`)
 * wrap the logger they are given once.
 *
 * @example
 * ```ts
 * guardedLogger({ warn() {}, error() { throw new Error('closed'); } }).error('step failed'); // returns
 * ```
 */
export function guardedLogger(logger: Logger): Logger {
  const guard = (report: () => unknown): void => {
    try {
      // An `async` method (a logger posting to a remote sink) fits the type too: its rejection is handled here, as a
      // throw is, instead of ending the process as an unhandled rejection.
      dropRejection(report());
    } catch {
      // Nowhere left to report it.
    }
  };
  return {
    warn: (message, details) => guard(() => logger.warn(message, details)),
    error: (message, details) => guard(() => logger.error(message, details)),
  };
}
