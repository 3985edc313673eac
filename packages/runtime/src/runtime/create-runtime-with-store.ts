import type { Store } from '../store/store.js';
import { invalid } from '../model/validation.js';
import { checkRuntimeOptions, runtimeOnStore, type Runtime, type RuntimeOptions } from './runtime-on-store.js';

/** Options of `createRuntime` from `@durable-rx/runtime/core`: those of the main entry's, with `store` required. */
export interface CoreRuntimeOptions extends RuntimeOptions {
  /** Where instances live: any Store adapter. The runtime does not close it; its owner does. */
  readonly store: Store;
}

/**
 * `createRuntime` of `@durable-rx/runtime/core`: the main entry's `createRuntime` without its `MemoryStore` default,
 * so a bundle that brings its own store (DexieStore, KeyvalStore, ...) does not carry `MemoryStore`. A missing
 * `store` is an `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@durable-rx/runtime/core';
 * import { KeyvalStore } from '@durable-rx/store-indexeddb';
 *
 * const runtime = createRuntime({ store: new KeyvalStore({ name: 'app' }), orchestrators: { ... } });
 * ```
 */
export function createRuntimeWithStore(options: CoreRuntimeOptions): Runtime {
  const checked = checkRuntimeOptions(options);
  return runtimeOnStore(checked, checked.store ?? invalid('createRuntime options.store', 'must be a Store'));
}
