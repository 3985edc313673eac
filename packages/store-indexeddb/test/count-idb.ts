/**
 * Counts IndexedDB work in this realm: transactions by mode (counted when they first touch an object store), readwrite transactions that wrote nothing, and requests
 * (every call that issues an `IDBRequest`, including each cursor step). It wraps the methods of the IndexedDB
 * prototypes (`IDBTransaction`, `IDBObjectStore`, `IDBIndex`, `IDBCursor`), so it sees Dexie and idb-keyval alike, in
 * Chromium and under fake-indexeddb. The counts are deterministic for a given sequence of store calls, so tests may
 * assert them; the bench reports them per orchestration step.
 *
 * @example
 * ```ts
 * const counter = countIndexedDb();
 * await runHelloSequence();
 * console.log(counter.counts()); // { readwrite: 6, readonly: 1, emptyReadwrite: 0, requests: 40, ... }
 * counter.uninstall();
 * ```
 */
export interface IdbCounts {
  readonly readwrite: number;
  readonly readonly: number;
  /** Readwrite transactions that completed without issuing a write request. */
  readonly emptyReadwrite: number;
  /** Requests issued (reads, writes, cursor steps). */
  readonly requests: number;
  /** Write requests (put, add, delete, clear). */
  readonly writes: number;
  /**
   * The size of the values and keys written by put, add and cursor updates, as JSON characters (a measure of the bytes IndexedDB has
   * to clone and store, not their exact number).
   */
  readonly bytesWritten: number;
  /** Requests by method name, e.g. `get`, `getAll`, `put`, `cursor.continue`. */
  readonly byMethod: Readonly<Record<string, number>>;
}

/** A running counter; see {@link countIndexedDb}. */
export interface IdbCounter {
  /** The counts since the counter was installed or last reset. */
  counts(): IdbCounts;
  reset(): void;
  /** Restores the original methods. */
  uninstall(): void;
}

const READS = ['get', 'getAll', 'getAllKeys', 'getKey', 'count', 'openCursor', 'openKeyCursor'] as const;
const WRITES = ['put', 'add', 'delete', 'clear'] as const;

/** Wraps the IndexedDB prototypes of `scope` (default `globalThis`) until {@link IdbCounter.uninstall}. */
export function countIndexedDb(scope: typeof globalThis = globalThis): IdbCounter {
  let state = empty();
  const writesOf = new WeakMap<IDBTransaction, number>();
  const restore: (() => void)[] = [];

  const wrap = <T extends object>(proto: T, name: string, around: (self: T, original: (...args: unknown[]) => unknown, args: unknown[]) => unknown) => {
    const original = (proto as Record<string, unknown>)[name];
    if (typeof original !== 'function') return;
    (proto as Record<string, unknown>)[name] = function (this: T, ...args: unknown[]) {
      return around(this, (...a) => (original as (...x: unknown[]) => unknown).apply(this, a), args);
    };
    restore.push(() => {
      (proto as Record<string, unknown>)[name] = original;
    });
  };

  const request = (method: string, write: boolean, transaction: IDBTransaction | undefined, written?: readonly unknown[]) => {
    state.requests++;
    if (written) state.bytesWritten += written.reduce<number>((n, value) => n + jsonLength(value), 0);
    state.byMethod[method] = (state.byMethod[method] ?? 0) + 1;
    if (write) {
      state.writes++;
      if (transaction) writesOf.set(transaction, (writesOf.get(transaction) ?? 0) + 1);
    }
  };

  // Transactions are counted when they are first used (Dexie binds `IDBDatabase#transaction` when it opens, so
  // wrapping that would miss a database opened before the counter was installed).
  wrap(scope.IDBTransaction.prototype, 'objectStore', (self, original, args) => {
    const tx = self as IDBTransaction;
    if (!writesOf.has(tx)) {
      writesOf.set(tx, 0);
      if (tx.mode === 'readwrite') {
        state.readwrite++;
        const counted = state;
        tx.addEventListener('complete', () => {
          if (writesOf.get(tx) === 0 && counted === state) state.emptyReadwrite++;
        });
      } else {
        state.readonly++;
      }
    }
    return original(...args);
  });
  for (const method of READS) {
    wrap(scope.IDBObjectStore.prototype, method, (_self, original, args) => {
      request(method, false, undefined);
      return original(...args);
    });
    wrap(scope.IDBIndex.prototype, method, (_self, original, args) => {
      request(`index.${method}`, false, undefined);
      return original(...args);
    });
  }
  for (const method of WRITES) {
    wrap(scope.IDBObjectStore.prototype, method, (self, original, args) => {
      request(method, true, (self as IDBObjectStore).transaction, method === 'put' || method === 'add' ? args : undefined);
      return original(...args);
    });
  }
  for (const method of ['continue', 'advance', 'continuePrimaryKey'] as const) {
    wrap(scope.IDBCursor.prototype, method, (_self, original, args) => {
      request(`cursor.${method}`, false, undefined);
      return original(...args);
    });
  }
  for (const method of ['update', 'delete'] as const) {
    wrap(scope.IDBCursor.prototype, method, (self, original, args) => {
      const source = (self as IDBCursor).source;
      const store = 'objectStore' in source ? source.objectStore : source;
      request(`cursor.${method}`, true, store.transaction, method === 'update' ? args : undefined);
      return original(...args);
    });
  }

  return {
    counts: () => ({ ...state, byMethod: { ...state.byMethod } }),
    reset: () => {
      state = empty();
    },
    uninstall: () => {
      for (const undo of restore.splice(0).reverse()) undo();
    },
  };
}

function empty(): {
  readwrite: number; readonly: number; emptyReadwrite: number; requests: number; writes: number; bytesWritten: number; byMethod: Record<string, number>;
} {
  return { readwrite: 0, readonly: 0, emptyReadwrite: 0, requests: 0, writes: 0, bytesWritten: 0, byMethod: {} };
}

/** The length of `value` as JSON (0 for what JSON leaves out, such as `undefined`). */
function jsonLength(value: unknown): number {
  return JSON.stringify(value)?.length ?? 0;
}
