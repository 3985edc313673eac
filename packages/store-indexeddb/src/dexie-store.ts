import { hasMethods } from '@durable-rx/runtime/store-kit';
import { IdbStore, readIdbOptions, type IdbStoreOptions } from './idb-store.js';
import { startDexieOpen } from './internal/dexie-backend.js';

/** Options of {@link DexieStore}. */
export interface DexieStoreOptions extends IdbStoreOptions {
  /** The IndexedDB factory (default: the global `indexedDB`); Node tests pass fake-indexeddb's. */
  readonly indexedDB?: IDBFactory;
  /** The `IDBKeyRange` class belonging to `indexedDB` (default: the global one). */
  readonly IDBKeyRange?: typeof IDBKeyRange;
}

/**
 * A durable, shared Store on IndexedDB through Dexie: tables for instances, history, messages and activity tasks,
 * with an index for every query (claims, timers, paging, per-instance history and messages). Every method is one
 * Dexie transaction; a commit checks its lease inside it. A start of an id the store object has not met writes the
 * instance without reading it first (if the id is taken after all, the database refuses that write, nothing is
 * written, and the start runs again reading it). Several tabs may open the same database and run workers:
 * leases keep each step applied once, and committed status snapshots reach `changes$` in every tab over a
 * BroadcastChannel. The database opens on first use.
 *
 * Errors: `StorageQuotaExceededError` when the origin is out of space, `DatabaseBlockedError` while opening waits
 * for another tab (an upgrade it blocks, or an open queued behind such an upgrade for `openTimeoutMs`),
 * `DatabaseUpgradingError` after another tab upgraded the database, `IncompatibleSchemaError` for a database written
 * by newer code or that belongs to someone else (the app's own Dexie database of the same name: nothing of it is
 * changed), `StorageError` where there is no IndexedDB (server-side rendering) or access to it is denied (a
 * sandboxed iframe: the store is made all the same, its calls fail); a failed write never leaves anything
 * half-written.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@durable-rx/runtime/core'; // no MemoryStore in the bundle
 * import { DexieStore } from '@durable-rx/store-indexeddb';
 *
 * const runtime = createRuntime({ store: new DexieStore({ name: 'my-app' }), orchestrators, activities });
 * await runtime.start();
 * ```
 */
export class DexieStore extends IdbStore {
  constructor(options: DexieStoreOptions) {
    // Every option checked before anything is opened (the change feed's channel, the database).
    const { name, gapTimeoutMs, joinTimeoutMs, openTimeoutMs, clock, indexedDB, IDBKeyRange } = readIdbOptions(options, 'DexieStore options', {
      indexedDB: hasMethods<IDBFactory>(['open']),
    });
    const dependencies = { ...(indexedDB ? { indexedDB } : {}), ...(IDBKeyRange ? { IDBKeyRange } : {}) };
    super({
      kind: 'dexie',
      databaseName: name,
      indexEntriesOutlive: true,
      // Read with their defaults by IdbStore (`??`): an absent option is undefined here.
      gapTimeoutMs, joinTimeoutMs, openTimeoutMs, clock,
      startOpen: (onVersionChange, storeClock, _openTimeoutMs, page, _onReopened, onDropped) =>
        startDexieOpen(name, dependencies, onVersionChange, page, onDropped, storeClock),
    });
  }
}
