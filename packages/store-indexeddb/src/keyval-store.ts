import { IdbStore, isNonEmptyString, readIdbOptions, type IdbStoreOptions } from './idb-store.js';
import { startKeyvalOpen } from './internal/keyval-backend.js';

/** Options of {@link KeyvalStore}. */
export interface KeyvalStoreOptions extends IdbStoreOptions {
  /** Object store name inside the database (idb-keyval's `createStore(name, storeName)`). Default `'durable-rx'`. */
  readonly storeName?: string;
  /**
   * The `IDBKeyRange` class (default: the global one, read when the database is first opened). idb-keyval itself
   * always uses the global `indexedDB`.
   */
  readonly IDBKeyRange?: typeof IDBKeyRange;
}

/**
 * The same Store contract as {@link DexieStore}, on one idb-keyval custom store, for apps that count bytes:
 * idb-keyval adds well under 1 kB. Instances, history, messages and tasks are keys with array prefixes, and the
 * store keeps its own index keys, so claims, timers, paging and the end order of retention sweeps are key-range
 * lookups as well. Every method is one IndexedDB transaction on idb-keyval's object store (opened at IndexedDB version
 * 3, so that tabs of versions before layout 16 close), aborted on any failure; a start of an id the store object
 * has not met writes the instance without reading it first (if the id is taken after all, the database refuses that
 * write, nothing is written, and the start runs again reading it). The database opens on first use:
 * a store made where there is no IndexedDB (server-side rendering) or access to it is denied (a sandboxed iframe) is
 * made all the same, and its calls fail with `StorageError`, as DexieStore's do. An open that IndexedDB queues behind
 * another connection's upgrade or deletion of the database, or its own upgrade from an earlier version (either held back
 * by a tab that does not close), fails the calls
 * with `DatabaseBlockedError` after `openTimeoutMs`, and the store uses the database once the open goes through; so
 * does the new connection the store opens after the browser closed its own.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@durable-rx/runtime/core'; // no MemoryStore in the bundle
 * import { KeyvalStore } from '@durable-rx/store-indexeddb';
 *
 * const runtime = createRuntime({ store: new KeyvalStore({ name: 'my-app' }), orchestrators, activities });
 * await runtime.start();
 * ```
 */
export class KeyvalStore extends IdbStore {
  constructor(options: KeyvalStoreOptions) {
    // Every option checked before anything is opened (the change feed's channel, the database).
    const { name, gapTimeoutMs, joinTimeoutMs, openTimeoutMs, clock, storeName = 'durable-rx', IDBKeyRange: keyRange } = readIdbOptions(options, 'KeyvalStore options', {
      storeName: isNonEmptyString,
    });
    super({
      kind: 'keyval',
      databaseName: name,
      // Read with their defaults by IdbStore (`??`): an absent option is undefined here.
      gapTimeoutMs, joinTimeoutMs, openTimeoutMs, clock,
      startOpen: (onVersionChange, clock, openTimeoutMs, page, onReopened, onDropped) =>
        startKeyvalOpen(name, storeName, keyRange, clock, onVersionChange, openTimeoutMs, page, onReopened, onDropped),
    });
  }
}

