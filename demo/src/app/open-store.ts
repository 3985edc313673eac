import { MemoryStore, type Store } from '@durable-rx/runtime';
import { DexieStore } from '@durable-rx/store-indexeddb';

/** The IndexedDB database every tab of the demo shares. */
export const DATABASE_NAME = 'durable-rx-demo';

/** The store the demo runs on, and how to describe it on screen. */
export interface DemoStore {
  readonly store: Store;
  readonly description: string;
}

/**
 * The demo's store: a DexieStore on IndexedDB, shared by every tab of the origin and kept across reloads. Where
 * IndexedDB is missing, a MemoryStore, so the page still works (for this tab and until it is closed).
 */
export function openStore(): DemoStore {
  if (typeof indexedDB === 'undefined') {
    return { store: new MemoryStore(), description: 'in memory (IndexedDB is unavailable here; nothing survives a reload)' };
  }
  return { store: new DexieStore({ name: DATABASE_NAME }), description: 'IndexedDB (DexieStore), shared by every tab' };
}
