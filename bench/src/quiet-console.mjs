/**
 * durabletask-js' TestOrchestrationWorker builds each OrchestrationExecutor without a logger, so it logs every
 * event at info/debug level to the console, and it offers no option to pass one. While a durabletask-js
 * measurement runs, those console methods are replaced by no-ops (its log formatting still runs; the terminal I/O
 * does not). durable-rx runs with `silentLogger` throughout.
 *
 * @template T
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withQuietConsole(fn) {
  const saved = { log: console.log, info: console.info, debug: console.debug, warn: console.warn };
  const noop = () => {};
  Object.assign(console, { log: noop, info: noop, debug: noop, warn: noop });
  try {
    return await fn();
  } finally {
    Object.assign(console, saved);
  }
}
