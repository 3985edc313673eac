/**
 * Databases as the layouts before this one left them, and the layout a database is at: what the frozen-page browser
 * tests and the e2e page both need. A module of its own (no test framework imported), so that the e2e page can bundle
 * it as the browser tests import it.
 */
import { Dexie } from 'dexie';
import { DEXIE_LAYOUT_2 } from './dexie-layout-2.js';

/** KeyvalStore's object store and the key of its layout marker. */
const KEYVAL_STORE = 'durable-rx';
const KEYVAL_META = ['meta'];

/** What an IndexedDB request answers, or its error. */
export function requested<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Writes database `name`, empty, as the layout before this one left it: DexieStore 2 (Dexie version 1), KeyvalStore 7. */
export async function writeOldLayout(dexie: boolean, name: string): Promise<void> {
  if (dexie) {
    const old = new Dexie(name);
    old.version(1).stores(DEXIE_LAYOUT_2);
    await old.table('meta').put({ key: 'schema', version: 2, store: 'durable-rx/dexie' });
    old.close();
    return;
  }
  const request = indexedDB.open(name);
  request.onupgradeneeded = () => request.result.createObjectStore(KEYVAL_STORE);
  const connection = await requested(request);
  try {
    const transaction = connection.transaction(KEYVAL_STORE, 'readwrite');
    transaction.objectStore(KEYVAL_STORE).put({ version: 7, store: 'durable-rx/keyval' }, KEYVAL_META);
    await new Promise((resolve) => (transaction.oncomplete = resolve));
  } finally {
    connection.close();
  }
}

/**
 * The IndexedDB version of database `name` and the layout its marker names, read on a connection `open` makes (no
 * version asked: never an upgrade; a test that wraps IndexedDB's `open` passes the unwrapped one).
 */
export async function layoutOf(
  dexie: boolean, name: string, open: (name: string) => IDBOpenDBRequest = (n) => indexedDB.open(n),
): Promise<{ idbVersion: number; layout: number | undefined }> {
  const connection = await requested(open(name));
  try {
    const [table, key] = dexie ? ['meta', 'schema'] : [KEYVAL_STORE, KEYVAL_META];
    const transaction = connection.transaction(table, 'readonly');
    const marker = await requested(transaction.objectStore(table).get(key)) as { version?: number } | undefined;
    // Closed once the transaction ended: a connection closing still counts as open for an upgrade elsewhere (blocked).
    await new Promise((resolve) => (transaction.oncomplete = resolve));
    return { idbVersion: connection.version, layout: marker?.version };
  } finally {
    connection.close();
  }
}
