import { Dexie, type Table, type Transaction } from 'dexie';
import type { HistoryEvent } from '@durable-rx/runtime';
import { DatabaseBlockedError } from '../errors/database-blocked-error.js';
import { IncompatibleSchemaError } from '../errors/incompatible-schema-error.js';
import { errorNames, mapStorageError } from './map-storage-error.js';
import { eventsOf, historyFrom, type HistoryRow, type InstanceRow, type MessageRow, type NewMessageRow, type NewTaskRow, type TaskRow } from './rows.js';
import { PendingWrites } from './pending-writes.js';
import type { BackendTransaction, InstanceScan, StoreBackend, TableName } from './store-backend.js';

/**
 * Version of the DexieStore schema, recorded in the database's `meta` table. A DexieStore refuses (with
 * `IncompatibleSchemaError`) a database whose recorded version is higher: newer code wrote it.
 *
 * @example
 * ```ts
 * console.log(`DexieStore schema v${DEXIE_SCHEMA_VERSION}`);
 * ```
 */
export const DEXIE_SCHEMA_VERSION = 2;

/**
 * The IndexedDB version of the tables and indexes (Dexie's `db.version`). Layout version 2 changed what history rows
 * hold (one row per appended batch), not the tables, so the database itself is not upgraded.
 */
const DEXIE_DB_VERSION = 1;

/**
 * Tables and their indexes. Every query of the store is one index range:
 * claims use `[readyMs+headSeq]` / `[readyMs+seq]`, paging `[createdMs+id]` and `[status+createdMs+id]`,
 * history and messages their `[instanceId+seq]` keys.
 */
const SCHEMA: Readonly<Record<string, string>> = {
  meta: 'key',
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id]',
  history: '[instanceId+seq]',
  messages: '++seq, [instanceId+seq]',
  tasks: '++seq, &id, [readyMs+seq], instanceId',
};

/** The `meta` row that records which schema wrote the database. */
interface MetaRow {
  readonly key: 'schema';
  readonly version: number;
  readonly store: 'durable-rx/dexie';
}

/** Dexie's dependencies, injectable so Node tests can pass fake-indexeddb. */
export interface DexieDependencies {
  readonly indexedDB?: IDBFactory;
  readonly IDBKeyRange?: typeof IDBKeyRange;
}

/** An array key sorts after every number and string, so `[x, MAX]` bounds every `[x, anything]`. */
const MAX: never[] = [];

/**
 * Opens (creating or upgrading) the database and checks its schema version. Rejects with `DatabaseBlockedError` when
 * an upgrade waits for another connection that will not close, and `IncompatibleSchemaError` when newer code wrote
 * the database.
 */
export async function openDexieBackend(
  name: string, dependencies: DexieDependencies, onVersionChange: () => void,
): Promise<StoreBackend> {
  const db = new Dexie(name, {
    autoOpen: false,
    cache: 'disabled',
    chromeTransactionDurability: 'relaxed',
    ...(dependencies.indexedDB ? { indexedDB: dependencies.indexedDB } : {}),
    ...(dependencies.IDBKeyRange ? { IDBKeyRange: dependencies.IDBKeyRange } : {}),
  });
  db.version(DEXIE_DB_VERSION).stores(SCHEMA);
  // No liveQuery ever reads this private instance: Dexie's observability layer would only cost every write a set of
  // changed key ranges, and every readwrite transaction an event plus a BroadcastChannel message to all tabs (the
  // store's own change feed already tells them what they need).
  db.unuse({ stack: 'dbcore', name: 'Observability' });
  // Returning false keeps Dexie's default handlers (which log) from running.
  db.on('versionchange', () => {
    onVersionChange();
    db.close({ disableAutoOpen: true });
    return false;
  });
  const blocked = new Promise<never>((_, reject) => {
    db.on('blocked', (event: unknown) => {
      reject(new DatabaseBlockedError(
        `Database ${JSON.stringify(name)} needs an upgrade, but another connection (another tab?) keeps the old version open`,
        { cause: event },
      ));
      return false;
    });
  });
  const opening = db.open();
  opening.catch(() => undefined);
  try {
    await Promise.race([opening, blocked]);
    await db.transaction('rw', 'meta', async (tx) => {
      const meta = tx.table<MetaRow, string>('meta');
      const found = await meta.get('schema');
      // An older layout is read as it is and marked as this one, so older code refuses the database from now on.
      if (!found || (found.store === 'durable-rx/dexie' && found.version < DEXIE_SCHEMA_VERSION)) {
        await meta.put({ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' });
      } else if (found.store !== 'durable-rx/dexie' || found.version > DEXIE_SCHEMA_VERSION) {
        throw new IncompatibleSchemaError(
          `Database ${JSON.stringify(name)} has schema ${JSON.stringify(found)}; this DexieStore reads version ${DEXIE_SCHEMA_VERSION}`,
        );
      }
    });
  } catch (error) {
    db.close({ disableAutoOpen: true });
    throw mapOpenError(error, name);
  }
  return new DexieBackend(db);
}

function mapOpenError(error: unknown, name: string): Error {
  const names = errorNames(error);
  if (names.includes('UpgradeError') || names.includes('SchemaError')) {
    return new IncompatibleSchemaError(`Database ${JSON.stringify(name)} has a schema DexieStore cannot upgrade`, { cause: error });
  }
  return mapStorageError(error, `opening database ${JSON.stringify(name)}`);
}

class DexieBackend implements StoreBackend {
  readonly #db: Dexie;

  constructor(db: Dexie) {
    this.#db = db;
  }

  async transact<T>(mode: 'readonly' | 'readwrite', scope: readonly TableName[], work: (tx: BackendTransaction) => Promise<T>): Promise<T> {
    // Waiting for the writes inside the scope makes a failed write reject the scope, which aborts the transaction.
    return this.#db.transaction(mode === 'readonly' ? 'r' : 'rw', [...scope], (trans) => new DexieTransaction(trans).run(work));
  }

  close(): void {
    this.#db.close({ disableAutoOpen: true });
  }
}

/**
 * The backend operations on the transaction-bound tables of one Dexie transaction (bound tables work without Dexie's
 * zone tracking, so native async functions are safe). Using a table outside the scope throws Dexie's NotFoundError.
 */
class DexieTransaction implements BackendTransaction {
  readonly #trans: Transaction;
  readonly #writes = new PendingWrites();

  constructor(trans: Transaction) {
    this.#trans = trans;
  }

  async run<T>(work: (tx: BackendTransaction) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await work(this);
    } catch (error) {
      this.#writes.settle().catch(() => undefined);
      throw error;
    }
    await this.#writes.settle();
    return result;
  }

  get #instances(): Table<InstanceRow, string> {
    return this.#trans.table('instances');
  }

  get #history(): Table<HistoryRow, [string, number]> {
    return this.#trans.table('history');
  }

  get #messages(): Table<MessageRow, number, NewMessageRow> {
    return this.#trans.table('messages');
  }

  get #tasks(): Table<TaskRow, number, NewTaskRow> {
    return this.#trans.table('tasks');
  }

  getInstance(id: string): Promise<InstanceRow | undefined> {
    return this.#instances.get(id);
  }

  putInstance(row: InstanceRow): void {
    this.#writes.track(this.#instances.put(row));
  }

  deleteInstance(row: InstanceRow): void {
    this.#writes.track(this.#instances.delete(row.id));
  }

  firstReadyInstance(nowMs: number): Promise<InstanceRow | undefined> {
    return this.#instances.where('[readyMs+headSeq]').between([-Infinity, -Infinity], [nowMs, Infinity], true, true).first();
  }

  async nextInstanceReadyMs(nowMs: number): Promise<number | undefined> {
    return (await this.#instances.where('[readyMs+headSeq]').above([nowMs, Infinity]).first())?.readyMs;
  }

  queuedInstances(filter: (row: InstanceRow) => boolean): Promise<InstanceRow[]> {
    return this.#instances.where('[readyMs+headSeq]').above([-Infinity, -Infinity]).filter(filter).toArray();
  }

  scanInstances(scan: InstanceScan): Promise<InstanceRow[]> {
    const range = scan.status === undefined
      ? this.#instances.where('[createdMs+id]').between([scan.fromMs, scan.fromId], [scan.toMs, MAX], !scan.fromOpen, true)
      : this.#instances.where('[status+createdMs+id]').between([scan.status, scan.fromMs, scan.fromId], [scan.status, scan.toMs, MAX], !scan.fromOpen, true);
    const filtered = scan.filter ? range.filter(scan.filter) : range;
    return (scan.limit === undefined ? filtered : filtered.limit(scan.limit)).toArray();
  }

  async readHistory(instanceId: string, from: number): Promise<HistoryEvent[]> {
    const rows = await this.#historyOf(instanceId).toArray();
    return historyFrom(rows.map(rowEvents), from);
  }

  async historyEnd(instanceId: string): Promise<number> {
    const last = await this.#historyOf(instanceId).last();
    return last ? last.seq + rowEvents(last).length : 0;
  }

  appendHistory(instanceId: string, from: number, events: readonly HistoryEvent[]): void {
    if (events.length > 0) this.#writes.track(this.#history.put({ instanceId, seq: from, events }));
  }

  deleteHistory(instanceId: string): void {
    this.#writes.track(this.#historyOf(instanceId).delete());
  }

  /** Dexie numbers messages itself (`++seq`, increasing across tabs). */
  addMessage(row: NewMessageRow): Promise<number> {
    return this.#writes.track(this.#messages.add(row));
  }

  listMessages(instanceId: string): Promise<MessageRow[]> {
    return this.#messagesOf(instanceId).toArray();
  }

  deleteMessages(rows: readonly Pick<MessageRow, 'instanceId' | 'seq'>[]): void {
    if (rows.length > 0) this.#writes.track(this.#messages.bulkDelete(rows.map((r) => r.seq)));
  }

  deleteMessagesOf(instanceId: string): void {
    this.#writes.track(this.#messagesOf(instanceId).delete());
  }

  addTask(row: NewTaskRow): void {
    this.#writes.track(this.#tasks.add(row));
  }

  getTask(id: string): Promise<TaskRow | undefined> {
    return this.#tasks.where('id').equals(id).first();
  }

  putTask(row: TaskRow): void {
    this.#writes.track(this.#tasks.put(row));
  }

  deleteTask(row: TaskRow): void {
    this.#writes.track(this.#tasks.delete(row.seq));
  }

  replaceTask(previous: TaskRow, row: NewTaskRow): void {
    // Same primary key: one put replaces the row and its index entries (the new task keeps the old claim order).
    const replacement: TaskRow = { ...row, seq: previous.seq };
    this.#writes.track(this.#tasks.put(replacement));
  }

  firstReadyTask(nowMs: number): Promise<TaskRow | undefined> {
    return this.#tasks.where('[readyMs+seq]').between([-Infinity, -Infinity], [nowMs, Infinity], true, true).first();
  }

  async nextTaskReadyMs(nowMs: number): Promise<number | undefined> {
    return (await this.#tasks.where('[readyMs+seq]').above([nowMs, Infinity]).first())?.readyMs;
  }

  listTasks(filter: (row: TaskRow) => boolean): Promise<TaskRow[]> {
    return this.#tasks.filter(filter).toArray();
  }

  deleteTasksOf(instanceId: string): void {
    this.#writes.track(this.#tasks.where('instanceId').equals(instanceId).delete());
  }

  #historyOf(instanceId: string) {
    return this.#history.where('[instanceId+seq]').between([instanceId, -Infinity], [instanceId, Infinity], true, true);
  }

  #messagesOf(instanceId: string) {
    return this.#messages.where('[instanceId+seq]').between([instanceId, -Infinity], [instanceId, Infinity], true, true);
  }
}

function rowEvents(row: HistoryRow): readonly HistoryEvent[] {
  return eventsOf(row.events ?? row.event);
}
