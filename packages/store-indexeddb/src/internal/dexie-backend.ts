import { Dexie, type DBCoreIndex, type DBCoreKeyRange, type DBCoreMutateRequest, type DBCoreRangeType, type DBCoreTable, type Transaction } from 'dexie';
import type { HistoryEvent } from '@durable-rx/runtime';
import { DatabaseBlockedError } from '../errors/database-blocked-error.js';
import { IncompatibleSchemaError } from '../errors/incompatible-schema-error.js';
import { errorNames, mapStorageError } from './map-storage-error.js';
import { finishChecked } from './idb-transaction.js';
import { eventsOf, historyFrom, type HistoryRow, type InstanceRow, type MessageRow, type NewMessageRow, type NewTaskRow, type TaskRow } from './rows.js';
import { PackedInstances, stamp, type Loaded, type StoredInstance } from './packed-instances.js';
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
export const DEXIE_SCHEMA_VERSION = 3;

/**
 * The IndexedDB version of the tables and indexes (Dexie's `db.version`). Layout version 2 changed what history rows
 * hold (one row per appended batch), not the tables; layout 3 (Dexie version 2) packs the activity tasks into their
 * instances: opening a database of Dexie version 1 moves each row of its `tasks` table into its instance, in the
 * upgrade. Older code still open in another tab is closed by the upgrade (it reports `DatabaseUpgradingError`). The
 * `tasks` table stays, empty: older code that opens the database afterwards finds every table and index it declares,
 * so Dexie does not upgrade the database again to add them back (which would close this version's connections), and
 * it refuses the database by its schema marker (`IncompatibleSchemaError`).
 */
const DEXIE_DB_VERSION = 2;

/**
 * Tables and their indexes. Every query of the store is one index range:
 * claims use `[readyMs+headSeq]` and `tasksReadyMs`, paging `[createdMs+id]` and `[status+createdMs+id]`,
 * history and messages their `[instanceId+seq]` keys. An instance row holds its activity tasks (`tasks`), and
 * `tasksReadyMs`, the earliest `readyMs` among them (absent without tasks, so such a row is not in that index): a step
 * that completes an activity and schedules the next reads and writes only its instance row, and the database keeps
 * the task claim order. `tasks` is layout 2's table, kept empty (see {@link DEXIE_DB_VERSION}).
 */
const SCHEMA: Readonly<Record<string, string>> = {
  meta: 'key',
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id], tasksReadyMs',
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
  db.version(DEXIE_DB_VERSION).stores(SCHEMA).upgrade(packTasks);
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

/**
 * The upgrade from Dexie version 1: moves each row of the `tasks` table (numbered by the database) into its instance
 * (a task without one is dropped). A database without the table (made by other code at some version) has none.
 */
async function packTasks(tx: Transaction): Promise<void> {
  if (!tx.idbtrans.objectStoreNames.contains('tasks')) return;
  const byInstance = new Map<string, TaskRow[]>();
  const table = tx.table<TaskRow>('tasks');
  for (const task of await table.toArray()) {
    const tasks = byInstance.get(task.instanceId);
    if (tasks) tasks.push(task);
    else byInstance.set(task.instanceId, [task]);
  }
  await table.clear();
  const instances = tx.table<StoredInstance, string>('instances');
  const rows = await instances.bulkGet([...byInstance.keys()]);
  await instances.bulkPut(rows.flatMap((row) => {
    const tasks = row && byInstance.get(row.id);
    return tasks ? [{ ...row, tasks, tasksReadyMs: earliestReadyMs(tasks) }] : [];
  }));
}

/** The earliest `readyMs` of some tasks (undefined: none). */
function earliestReadyMs(tasks: readonly TaskRow[]): number | undefined {
  let earliest: number | undefined;
  for (const t of tasks) if (earliest === undefined || t.readyMs < earliest) earliest = t.readyMs;
  return earliest;
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
  /** `[readyMs+headSeq]` and `tasksReadyMs` of instances, `[instanceId+seq]` of messages. */
  readonly instancesReady: DBCoreIndex;
  readonly tasksReady: DBCoreIndex;
  readonly messagesOf: DBCoreIndex;
  /** `[createdMs+id]` and `[status+createdMs+id]` of instances (paging). */
  readonly instancesCreated: DBCoreIndex;
  readonly instancesByStatus: DBCoreIndex;
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
    this.#core = {
      instances, messages, history: table('history'),
      instancesReady: index(instances, ['readyMs', 'headSeq']),
      tasksReady: index(instances, 'tasksReadyMs'),
      messagesOf: index(messages, ['instanceId', 'seq']),
      instancesCreated: index(instances, ['createdMs', 'id']),
      instancesByStatus: index(instances, ['status', 'createdMs', 'id']),
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
 * Instance rows go through {@link PackedInstances}: each is read once and written once, when the work is done (with
 * its tasks), except that a query of the instances table first writes the rows changed so far, so that it sees them.
 */
class DexieTransaction implements BackendTransaction {
  readonly #trans: IDBTransaction;
  readonly #core: CoreTables;
  readonly #writes = new PendingWrites();
  readonly #packed: PackedInstances;

  constructor(trans: IDBTransaction, core: CoreTables, reads: ReadsAhead) {
    this.#trans = trans;
    this.#core = core;
    this.#packed = new PackedInstances(
      (id) => core.instances.get({ trans, key: id }) as Promise<StoredInstance | undefined>, reads, this.#writes,
    );
  }

  async run<T>(work: (tx: BackendTransaction) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await work(this);
      await this.#writes.settle();
      this.#flush();
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

  /**
   * Writes every instance changed so far (once), each with its tasks and the earliest `readyMs` among them. Before a
   * query of the instances table: IndexedDB answers a request after every earlier one of its transaction.
   */
  #flush(): void {
    for (const loaded of this.#packed.loaded.values()) {
      if (!loaded.tasksChanged) continue;
      loaded.entryMs = earliestReadyMs(loaded.tasks);
      loaded.tasksChanged = false;
    }
    this.#packed.flush((_, value) => this.#store('instances').put(value));
  }

  async #first<R>(table: DBCoreTable, index: DBCoreIndex, range: DBCoreKeyRange, direction: 'next' | 'prev' = 'next'): Promise<R | undefined> {
    const { result } = await table.query({ trans: this.#trans, values: true, limit: 1, direction, query: { index, range } });
    return result[0] as R | undefined;
  }

  /** The first key of an index range (the index's own key, no row read). */
  async #firstKey<K>(index: DBCoreIndex, range: DBCoreKeyRange): Promise<K | undefined> {
    const cursor = await this.#core.instances.openCursor({ trans: this.#trans, values: false, query: { index, range } });
    return cursor?.key as K | undefined;
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

  /** Instances read through an index, as this transaction has them (without their tasks). */
  #seeded(rows: readonly StoredInstance[]): Loaded[] {
    return rows.map((row) => this.#packed.seed(row.id, row));
  }

  /** The rows of instances read through an index, as this transaction has them. */
  #rowsOf(rows: readonly StoredInstance[]): InstanceRow[] {
    return this.#seeded(rows).flatMap((loaded) => (loaded.row ? [loaded.row] : []));
  }

  /** Every instance with tasks (one read of the task claim index). */
  async #withTasks(): Promise<Loaded[]> {
    this.#flush();
    const { instances, tasksReady } = this.#core;
    return this.#seeded(await this.#all<StoredInstance>(instances, tasksReady, { type: 3 as DBCoreRangeType, lower: undefined, upper: undefined }));
  }

  async getInstance(id: string): Promise<InstanceRow | undefined> {
    return (await this.#packed.load(id)).row;
  }

  putInstance(row: InstanceRow): void {
    this.#packed.setRow(row.id, row);
  }

  deleteInstance(row: InstanceRow): void {
    this.#store('instances').delete(row.id);
    this.#packed.deleted(row.id);
  }

  async firstReadyInstance(nowMs: number): Promise<InstanceRow | undefined> {
    this.#flush();
    const row = await this.#first<StoredInstance>(this.#core.instances, this.#core.instancesReady, between([-Infinity, -Infinity], [nowMs, Infinity]));
    return row && this.#rowsOf([row])[0];
  }

  async nextInstanceReadyMs(nowMs: number): Promise<number | undefined> {
    this.#flush();
    return (await this.#firstKey<[number, number]>(this.#core.instancesReady, above([nowMs, Infinity])))?.[0];
  }

  async queuedInstances(filter: (row: InstanceRow) => boolean): Promise<InstanceRow[]> {
    this.#flush();
    const rows = await this.#scan<StoredInstance>(this.#core.instances, this.#core.instancesReady, above([-Infinity, -Infinity]), () => true);
    return this.#rowsOf(rows).filter(filter);
  }

  async scanInstances(scan: InstanceScan): Promise<InstanceRow[]> {
    this.#flush();
    const lower = [scan.fromMs, scan.fromId];
    const upper = [scan.toMs, MAX];
    const [index, range] = scan.status === undefined
      ? [this.#core.instancesCreated, { ...between(lower, upper), lowerOpen: scan.fromOpen }]
      : [this.#core.instancesByStatus, { ...between([scan.status, ...lower], [scan.status, ...upper]), lowerOpen: scan.fromOpen }];
    return this.#rowsOf(await this.#scan(this.#core.instances, index, range, scan.filter ?? (() => true), scan.limit));
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

  /** Packs the task into its instance (the task of an instance that does not exist is not stored). */
  addTask(row: NewTaskRow): void {
    this.#packed.with(row.instanceId, (loaded) => this.#packed.setTasks(loaded, [...loaded.tasks, { ...row, seq: stamp() }], false));
  }

  /**
   * A task packed into an instance this transaction read (with `instanceId`: that instance is read first), else,
   * without `instanceId`, a task of any instance with tasks (one read of those instances).
   */
  async getTask(id: string, instanceId?: string): Promise<TaskRow | undefined> {
    if (instanceId !== undefined) await this.#packed.load(instanceId);
    const found = await this.#packed.find(id);
    if (found || instanceId !== undefined) return found;
    return (await this.#withTasks()).flatMap((loaded) => loaded.tasks).find((task) => task.id === id);
  }

  putTask(row: TaskRow, previous: TaskRow): void {
    this.#packed.putTask(row, previous);
  }

  deleteTask(row: TaskRow): void {
    this.#packed.deleteTask(row);
  }

  replaceTask(previous: TaskRow, row: NewTaskRow): void {
    // The new task keeps the old one's claim order.
    if (!this.#packed.putTask({ ...row, seq: previous.seq }, previous)) this.addTask(row);
  }

  /**
   * The task with the smallest (readyMs, seq) of the instance first in the task claim index, if it is due: that
   * instance holds the earliest `readyMs` of all tasks.
   */
  async firstReadyTask(nowMs: number): Promise<TaskRow | undefined> {
    this.#flush();
    const stored = await this.#first<StoredInstance>(this.#core.instances, this.#core.tasksReady, between(-Infinity, nowMs));
    if (!stored) return undefined;
    let first: TaskRow | undefined;
    for (const t of this.#seeded([stored])[0]!.tasks) {
      if (t.readyMs <= nowMs && (!first || t.readyMs < first.readyMs || (t.readyMs === first.readyMs && t.seq < first.seq))) first = t;
    }
    return first;
  }

  async nextTaskReadyMs(nowMs: number): Promise<number | undefined> {
    this.#flush();
    return this.#firstKey<number>(this.#core.tasksReady, above(nowMs));
  }

  async listTasks(filter: (row: TaskRow) => boolean): Promise<TaskRow[]> {
    return (await this.#withTasks()).flatMap((loaded) => loaded.tasks.filter(filter));
  }

  deleteTasksOf(instanceId: string): void {
    this.#packed.with(instanceId, (loaded) => {
      if (loaded.tasks.length > 0) this.#packed.setTasks(loaded, [], true);
    });
  }
}

function rowEvents(row: HistoryRow): readonly HistoryEvent[] {
  return eventsOf(row.events ?? row.event);
}
