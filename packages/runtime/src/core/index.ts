/**
 * `@durable-rx/runtime/core`: `createRuntime` with a required `store` and no `MemoryStore` default, for pages that
 * bring their own store and count bytes. Everything else (`createClient`, the errors, the types, ...) comes from
 * `@durable-rx/runtime` as usual; importing it there adds nothing unused to a bundle.
 *
 * @packageDocumentation
 */
export { createRuntimeWithStore as createRuntime, type CoreRuntimeOptions } from '../runtime/create-runtime-with-store.js';
export type { Runtime } from '../runtime/runtime-on-store.js';
