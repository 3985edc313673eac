import { afterEach } from 'vitest';
import { silentLogger } from '../src/env/logger.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../src/runtime/create-runtime.js';
import type { StopOptions } from '../src/worker/worker.js';

/** The runtimes of a test file ({@link startedRuntimes}). */
export interface StartedRuntimes {
  /** Every runtime of the file's current test, stopped after it; a test pushes those it creates its own way. */
  readonly runtimes: Runtime[];
  /** Creates a runtime from `options` (with the silent logger unless they name one), tracks it and starts it. */
  start(options: RuntimeOptions): Promise<Runtime>;
}

/**
 * The runtimes a test file starts, each stopped after its test (all at once, with `stopOptions`). Called once at the
 * top of the file: it registers the `afterEach` that stops them. Vitest runs a file's `afterEach` hooks in reverse
 * order, so a hook registered after this one (closing servers, letting blocked activities end) runs before it.
 */
export function startedRuntimes(stopOptions?: StopOptions): StartedRuntimes {
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop(stopOptions)));
  });
  return {
    runtimes,
    async start(options) {
      const runtime = createRuntime({ logger: silentLogger, ...options });
      runtimes.push(runtime);
      await runtime.start();
      return runtime;
    },
  };
}
