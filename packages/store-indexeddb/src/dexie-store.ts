import { hasMethods } from '@durable-rx/runtime/store-kit';
import { IdbStore, readIdbOptions, type IdbStoreOptions } from './idb-store.js';
import { dexieOpener } from './internal/dexie-backend.js';

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
 * Dexie transaction; a commit checks its lease inside it. Several tabs may open the same database and run workers:
 * leases keep each step applied once, and committed status snapshots reach `changes$` in every tab over a
 * BroadcastChannel. The database opens on first use.
 *
 * Errors: `StorageQuotaExceededError` when the origin is out of space, `DatabaseBlockedError` when an upgrade waits
 * for another tab, `DatabaseUpgradingError` after another tab upgraded the database, `IncompatibleSchemaError` for a
 * database written by newer code, `StorageError` where there is no IndexedDB (server-side rendering) or access to it is
 * denied (a sandboxed iframe: the store is made all the same, its calls fail); a failed write never leaves anything
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
    const { name, gapTimeoutMs, joinTimeoutMs, clock, indexedDB, IDBKeyRange } = readIdbOptions(options, 'DexieStore options', {
      indexedDB: hasMethods<IDBFactory>(['open']),
    });
    const opener = dexieOpener(name, {
      ...(indexedDB ? { indexedDB } : {}),
      ...(IDBKeyRange ? { IDBKeyRange } : {}),
    });
    super({
      kind: 'dexie',
      databaseName: name,
      // Read with their defaults by IdbStore (`??`): an absent option is undefined here.
      gapTimeoutMs, joinTimeoutMs, clock,
      openBackend: (onVersionChange) => opener.open(onVersionChange),
    });
    this.#opener = opener;
  }

  readonly #opener: ReturnType<typeof dexieOpener>;
  /**
   * The one promise every `close()` returns, as the Store contract asks (the conformance suite checks
   * `store.close() === store.close()`): IdbStore's close is made once, but `.finally` makes a new promise per call.
   */
  #closing: Promise<void> | undefined;

  /** As IdbStore's, and closes the connection an open still blocked by another connection makes once it opens. */
  override close(): Promise<void> {
    return (this.#closing ??= super.close().finally(() => this.#opener.cancel()));
  }
}
