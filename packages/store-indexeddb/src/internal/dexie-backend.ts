import { Dexie, type DBCoreIndex, type DBCoreKeyRange, type DBCoreMutateRequest, type DBCoreRangeType, type DBCoreTable } from 'dexie';
import type { HistoryEvent } from '@durable-rx/runtime';
import { DatabaseBlockedError } from '../errors/database-blocked-error.js';
import { IncompatibleSchemaError } from '../errors/incompatible-schema-error.js';
import { errorNames, mapStorageError } from './map-storage-error.js';
import { finishChecked } from './idb-transaction.js';
import { eventsOf, historyFrom, type HistoryRow, type InstanceRow, type MessageRow, type NewMessageRow, type NewTaskRow, type TaskRow } from './rows.js';
import { PendingWrites } from './pending-writes.js';
import { ReadsAhead } from './read-ahead.js';
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
  // Nothing but this store sees this private instance: no liveQuery reads it and no hook is registered on it. Dexie's
  // observability layer would cost every write a set of changed key ranges, and every readwrite transaction an event
  // plus a BroadcastChannel message to all tabs (the store's own change feed already tells them what they need); its
  // query cache, an AbortController and listeners per readwrite transaction; its hooks layer, a lookup of the
  // transaction's table (rebuilt once per transaction) per write, and a zone that native async functions do not keep.
  for (const name of ['Observability', 'Cache', 'HooksMiddleware']) db.unuse({ stack: 'dbcore', name });
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

/**
 * The operations the hot paths use, on Dexie's documented low-level layer (DBCore): a table and index resolved once
 * per connection, native promises, and no Collection or zone machinery per request. Dexie's own table objects of a
 * transaction rebuild every middleware's table on first use, which costs more than the requests of a small
 * transaction; the rare scans (filters, paging, purges) still use them.
 */
interface CoreTables {
  readonly instances: DBCoreTable;
  readonly history: DBCoreTable;
  readonly messages: DBCoreTable;
  readonly tasks: DBCoreTable;
  /** `[readyMs+headSeq]` of instances, `[instanceId+seq]` of messages, `[readyMs+seq]` and `id` of tasks. */
  readonly instancesReady: DBCoreIndex;
  readonly messagesOf: DBCoreIndex;
  readonly tasksReady: DBCoreIndex;
  readonly taskIds: DBCoreIndex;
  /** `[createdMs+id]` and `[status+createdMs+id]` of instances (paging), `instanceId` of tasks. */
  readonly instancesCreated: DBCoreIndex;
  readonly instancesByStatus: DBCoreIndex;
  readonly tasksOf: DBCoreIndex;
}

class DexieBackend implements StoreBackend {
  readonly #db: Dexie;
  readonly #core: CoreTables;

  constructor(db: Dexie) {
    this.#db = db;
    const table = (name: TableName): DBCoreTable => db.table(name).core;
    // Every one of these indexes is in SCHEMA, which opening the database checked.
    const index = (core: DBCoreTable, keyPath: string | string[]): DBCoreIndex => core.schema.getIndexByKeyPath(keyPath)!;
    const instances = table('instances');
    const messages = table('messages');
    const tasks = table('tasks');
    this.#core = {
      instances, messages, tasks, history: table('history'),
      instancesReady: index(instances, ['readyMs', 'headSeq']),
      messagesOf: index(messages, ['instanceId', 'seq']),
      tasksReady: index(tasks, ['readyMs', 'seq']),
      taskIds: index(tasks, 'id'),
      instancesCreated: index(instances, ['createdMs', 'id']),
      instancesByStatus: index(instances, ['status', 'createdMs', 'id']),
      tasksOf: index(tasks, 'instanceId'),
    };
  }

  async transact<T>(
    mode: 'readonly' | 'readwrite', scope: readonly TableName[], work: (tx: BackendTransaction) => Promise<T>, reads = new ReadsAhead(undefined),
  ): Promise<T> {
    // DBCore's transaction is the IndexedDB transaction itself (Dexie's own Transaction listens to it the same way):
    // no Dexie zone, promise or Transaction object per store operation.
    const trans = this.#db.core.transaction([...scope], mode, { durability: 'relaxed' }) as unknown as IDBTransaction;
    return finishChecked(trans, mode, reads, () => new DexieTransaction(trans, this.#core, reads).run(work));
  }

  close(): void {
    this.#db.close({ disableAutoOpen: true });
  }
}

/** A DBCore write without its transaction (only range deletes go through DBCore). */
type Mutation = { readonly type: 'deleteRange'; readonly range: DBCoreKeyRange };

/** A key range of DBCore (the numbers of Dexie's `DBCoreRangeType`, a const enum). */
function between(lower: unknown, upper: unknown): DBCoreKeyRange {
  return { type: 2 as DBCoreRangeType, lower, upper, lowerOpen: false, upperOpen: false };
}

function above(lower: unknown): DBCoreKeyRange {
  return { type: 2 as DBCoreRangeType, lower, upper: undefined, lowerOpen: true };
}

/** Every key `[instanceId, n]` of one instance. */
function ofInstance(instanceId: string): DBCoreKeyRange {
  return between([instanceId, -Infinity], [instanceId, Infinity]);
}

/**
 * The backend operations of one transaction, on DBCore. Using a table outside the scope fails the transaction.
 */
class DexieTransaction implements BackendTransaction {
  readonly #trans: IDBTransaction;
  readonly #core: CoreTables;
  readonly #writes = new PendingWrites();
  readonly #reads: ReadsAhead;

  constructor(trans: IDBTransaction, core: CoreTables, reads: ReadsAhead) {
    this.#trans = trans;
    this.#core = core;
    this.#reads = reads;
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

  /**
   * An object store of the transaction. Writes are issued on it directly: a failed request then aborts the
   * transaction (IndexedDB's default), so the transaction commits without waiting for its writes. DBCore's `mutate`
   * keeps the transaction alive on a failure (it reports failures in its response, for bulk writes), which would cost
   * a round trip to check before every commit.
   */
  #store(table: TableName): IDBObjectStore {
    return this.#trans.objectStore(table);
  }

  /**
   * Issues a DBCore write (a range delete, rare). DBCore reports a failed request in its response (and keeps the
   * transaction alive) rather than rejecting: the failure becomes a rejection here, tracked, so the transaction aborts.
   */
  #mutate(table: DBCoreTable, request: Mutation): Promise<unknown> {
    const full: DBCoreMutateRequest = { ...request, trans: this.#trans };
    return this.#writes.track(table.mutate(full).then((response) => {
      if (response.numFailures > 0) throw Object.values(response.failures)[0];
      return response.results?.[0];
    }));
  }

  async #first<R>(table: DBCoreTable, index: DBCoreIndex, range: DBCoreKeyRange, direction: 'next' | 'prev' = 'next'): Promise<R | undefined> {
    const { result } = await table.query({ trans: this.#trans, values: true, limit: 1, direction, query: { index, range } });
    return result[0] as R | undefined;
  }

  async #all<R>(table: DBCoreTable, index: DBCoreIndex, range: DBCoreKeyRange): Promise<R[]> {
    return (await table.query({ trans: this.#trans, values: true, query: { index, range } })).result as R[];
  }

  /** The rows of an index range that `filter` accepts, at most `limit`, read with a cursor (it stops at the limit). */
  async #scan<R>(table: DBCoreTable, index: DBCoreIndex, range: DBCoreKeyRange, filter: (row: R) => boolean, limit = Infinity): Promise<R[]> {
    const rows: R[] = [];
    const cursor = await table.openCursor({ trans: this.#trans, values: true, query: { index, range } });
    if (!cursor || limit <= 0) return rows;
    await cursor.start(() => {
      const row = cursor.value as R;
      if (filter(row)) rows.push(row);
      if (rows.length >= limit) cursor.stop();
      else cursor.continue();
    });
    return rows;
  }

  getInstance(id: string): Promise<InstanceRow | undefined> {
    const read = () => this.#core.instances.get({ trans: this.#trans, key: id }) as Promise<InstanceRow | undefined>;
    return this.#reads.take(`i:${id}`, read) ?? read();
  }

  putInstance(row: InstanceRow): void {
    this.#store('instances').put(row);
    this.#reads.writes.set(`i:${row.id}`, row);
  }

  deleteInstance(row: InstanceRow): void {
    this.#store('instances').delete(row.id);
    this.#reads.writes.set(`i:${row.id}`, undefined);
  }

  firstReadyInstance(nowMs: number): Promise<InstanceRow | undefined> {
    return this.#first(this.#core.instances, this.#core.instancesReady, between([-Infinity, -Infinity], [nowMs, Infinity]));
  }

  async nextInstanceReadyMs(nowMs: number): Promise<number | undefined> {
    return (await this.#first<InstanceRow>(this.#core.instances, this.#core.instancesReady, above([nowMs, Infinity])))?.readyMs;
  }

  queuedInstances(filter: (row: InstanceRow) => boolean): Promise<InstanceRow[]> {
    return this.#scan(this.#core.instances, this.#core.instancesReady, above([-Infinity, -Infinity]), filter);
  }

  scanInstances(scan: InstanceScan): Promise<InstanceRow[]> {
    const lower = [scan.fromMs, scan.fromId];
    const upper = [scan.toMs, MAX];
    const [index, range] = scan.status === undefined
      ? [this.#core.instancesCreated, { ...between(lower, upper), lowerOpen: scan.fromOpen }]
      : [this.#core.instancesByStatus, { ...between([scan.status, ...lower], [scan.status, ...upper]), lowerOpen: scan.fromOpen }];
    return this.#scan(this.#core.instances, index, range, scan.filter ?? (() => true), scan.limit);
  }

  async readHistory(instanceId: string, from: number): Promise<HistoryEvent[]> {
    const { history } = this.#core;
    const rows = await this.#all<HistoryRow>(history, history.schema.primaryKey, ofInstance(instanceId));
    return historyFrom(rows.map(rowEvents), from);
  }

  async historyEnd(instanceId: string): Promise<number> {
    const { history } = this.#core;
    const last = await this.#first<HistoryRow>(history, history.schema.primaryKey, ofInstance(instanceId), 'prev');
    return last ? last.seq + rowEvents(last).length : 0;
  }

  appendHistory(instanceId: string, from: number, events: readonly HistoryEvent[]): void {
    if (events.length > 0) this.#store('history').put({ instanceId, seq: from, events } satisfies HistoryRow);
  }

  deleteHistory(instanceId: string): void {
    // The history's primary key is [instanceId+seq]: one range delete.
    void this.#mutate(this.#core.history, { type: 'deleteRange', range: ofInstance(instanceId) });
  }

  /** The database numbers messages (`++seq`, increasing across tabs). */
  addMessage(row: NewMessageRow): Promise<number> {
    const request = this.#store('messages').add(row);
    const seq = new Promise<number>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result as number);
      request.onerror = () => reject(request.error); // not prevented: the transaction aborts
    });
    seq.catch(() => undefined); // awaiting it is optional
    return seq;
  }

  addMessageAhead(row: NewMessageRow): Promise<number> {
    return this.addMessage(row);
  }

  listMessages(instanceId: string): Promise<MessageRow[]> {
    return this.#all(this.#core.messages, this.#core.messagesOf, ofInstance(instanceId));
  }

  deleteMessages(rows: readonly Pick<MessageRow, 'instanceId' | 'seq'>[]): void {
    for (const { seq } of rows) this.#store('messages').delete(seq);
  }

  deleteMessagesOf(instanceId: string): void {
    // The keys of the instance's messages (one request), then one delete per message.
    const { messages, messagesOf } = this.#core;
    const trans = this.#trans;
    void this.#writes.track(messages.query({ trans, values: false, query: { index: messagesOf, range: ofInstance(instanceId) } }).then(({ result }) => {
      for (const key of result) this.#store('messages').delete(key as number);
    }));
  }

  addTask(row: NewTaskRow): void {
    const request = this.#store('tasks').add(row);
    const key = `t:${row.id}`;
    // Remembered with the number the database gave it (the stored row has it); forgotten if that never comes.
    this.#reads.writes.set(key, undefined);
    request.onsuccess = () => this.#reads.writes.set(key, { ...row, seq: request.result as number });
  }

  getTask(id: string): Promise<TaskRow | undefined> {
    const read = () => this.#first<TaskRow>(this.#core.tasks, this.#core.taskIds, between(id, id));
    return this.#reads.take(`t:${id}`, read) ?? read();
  }

  putTask(row: TaskRow): void {
    this.#store('tasks').put(row);
    this.#reads.writes.set(`t:${row.id}`, row);
  }

  deleteTask(row: TaskRow): void {
    this.#store('tasks').delete(row.seq);
    this.#reads.writes.set(`t:${row.id}`, undefined);
  }

  replaceTask(previous: TaskRow, row: NewTaskRow): void {
    // Same primary key: one put replaces the row and its index entries (the new task keeps the old claim order).
    const replacement: TaskRow = { ...row, seq: previous.seq };
    this.#store('tasks').put(replacement);
    this.#reads.writes.set(`t:${previous.id}`, undefined);
    this.#reads.writes.set(`t:${row.id}`, replacement);
  }

  firstReadyTask(nowMs: number): Promise<TaskRow | undefined> {
    return this.#first(this.#core.tasks, this.#core.tasksReady, between([-Infinity, -Infinity], [nowMs, Infinity]));
  }

  async nextTaskReadyMs(nowMs: number): Promise<number | undefined> {
    return (await this.#first<TaskRow>(this.#core.tasks, this.#core.tasksReady, above([nowMs, Infinity])))?.readyMs;
  }

  listTasks(filter: (row: TaskRow) => boolean): Promise<TaskRow[]> {
    return this.#scan(this.#core.tasks, this.#core.tasks.schema.primaryKey, { type: 3 as DBCoreRangeType, lower: undefined, upper: undefined }, filter);
  }

  deleteTasksOf(instanceId: string): void {
    const { tasks, tasksOf } = this.#core;
    void this.#writes.track(tasks.query({ trans: this.#trans, values: false, query: { index: tasksOf, range: between(instanceId, instanceId) } }).then(({ result }) => {
      for (const key of result) this.#store('tasks').delete(key as number);
    }));
  }
}

function rowEvents(row: HistoryRow): readonly HistoryEvent[] {
  return eventsOf(row.events ?? row.event);
}
