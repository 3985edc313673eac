/** Where the runtime reports problems it handles itself (a lost lease, a store error it retries). */
export interface Logger {
  warn(message: string, details?: unknown): void;
  error(message: string, details?: unknown): void;
}

/** Reports to the console. */
export const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`[durable-rx] ${message}`, ...(details === undefined ? [] : [details])),
  error: (message, details) => console.error(`[durable-rx] ${message}`, ...(details === undefined ? [] : [details])),
};

/** Reports nothing. */
export const silentLogger: Logger = { warn: () => {}, error: () => {} };
