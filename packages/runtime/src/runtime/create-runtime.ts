import { MemoryStore } from '../store/memory-store.js';
import { checkRuntimeOptions, runtimeOnStore, type Runtime, type RuntimeOptions } from './runtime-on-store.js';

export type { Runtime, RuntimeOptions } from './runtime-on-store.js';

/**
 * Creates a runtime: a worker that runs orchestrations and activities from a store, and a client for it. Without a
 * `store` it creates a `MemoryStore`, which lives as long as the runtime (a `stop()` leaves it open, for a later
 * `start()`). A page that always brings its own store can take `createRuntime` from `@durable-rx/runtime/core`
 * instead, which requires `store` and so leaves `MemoryStore` out of the bundle.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@durable-rx/runtime';
 *
 * const runtime = createRuntime({
 *   orchestrators: { Hello: function* (ctx) { return yield ctx.callActivity('Say', 'you'); } },
 *   activities: { Say: (name: string) => `Hello ${name}!` },
 * });
 * await runtime.start();
 * const id = await runtime.client.startNew('Hello');
 * (await runtime.client.waitForCompletion(id)).output; // 'Hello you!'
 * await runtime.stop();
 * ```
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  // Every option checked first: a bad one is refused before a MemoryStore is made.
  const checked = checkRuntimeOptions(options);
  return checked.store === undefined ? runtimeOnStore(checked, new MemoryStore()) : runtimeOnStore(checked, checked.store);
}
