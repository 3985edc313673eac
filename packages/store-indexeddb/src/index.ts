/**
 * `@durable-rx/store-indexeddb`: durable-rx Stores on IndexedDB for browsers — offline, reload-proof and shared
 * between tabs. `DexieStore` uses Dexie; `KeyvalStore` uses idb-keyval for the smallest bundle. Both pass the
 * runtime's Store conformance suite and share a cross-tab change feed; `runAsLeader` lets one tab do the work.
 *
 * @packageDocumentation
 */
export { DexieStore, type DexieStoreOptions } from './dexie-store.js';
export { KeyvalStore, type KeyvalStoreOptions } from './keyval-store.js';
export { IdbStore, changeChannelName, type IdbStoreOptions } from './idb-store.js';
export { runAsLeader, type Leadership, type RunAsLeaderOptions } from './run-as-leader.js';
export { StorageQuotaExceededError } from './errors/storage-quota-exceeded-error.js';
export { DatabaseBlockedError } from './errors/database-blocked-error.js';
export { DatabaseUpgradingError } from './errors/database-upgrading-error.js';
export { IncompatibleSchemaError } from './errors/incompatible-schema-error.js';
export { StorageError, type StorageErrorOptions } from './errors/storage-error.js';
