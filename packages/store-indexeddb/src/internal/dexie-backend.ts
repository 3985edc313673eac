import { Dexie, type Transaction, type DBCoreIndex, type DBCoreKeyRange, type DBCoreMutateRequest, type DBCoreRangeType, type DBCoreTable } from 'dexie';
import { systemClock, type Clock, type HistoryEvent, type OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import { tagPairsOf, type BoundedRange, type EndedKey } from '@durable-rx/runtime/store-kit';
import { IncompatibleSchemaError } from '../errors/incompatible-schema-error.js';
import { StorageError } from '../errors/storage-error.js';
import { errorNames, mapStorageError } from './map-storage-error.js';
import type { OpenAttempt } from './open-gate.js';
import { BrowserClose, finishChecked, refusedWhileClosing } from './idb-transaction.js';
import type { PageFreeze } from './page-freeze.js';
import {
  eventsOf, historyFrom, isMemberOf, releasedInstance, releasedTask, type HistoryRow, type InputRecord, type InstanceRow, type MessageRow, type NewMessageRow,
  type NewTaskRow, type TaskRow,
} from './rows.js';
import { IndexRebuild, splitRange, type PlaceRange } from './index-rebuild.js';
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
export const DEXIE_SCHEMA_VERSION = 10;

/**
 * The IndexedDB version of the tables and indexes (Dexie's `db.version`). Layout version 2 changed what history rows
 * hold (one row per appended batch), not the tables, so the database itself was not upgraded. Layout 3 (Dexie
 * version 2) keeps an instance's first activity task in its row (see {@link StoredInstance}). Layout 4 (Dexie version
 * 3) adds the name index `[state.name+createdMs+id]` for the list's name filter: IndexedDB builds it from the rows
 * as they are (every row holds its state's name), so the upgrade writes no row. Layout 5 (Dexie version 4) adds the
 * `raiseKeys` table: the raise-key record of each instance (store-kit's `RaiseKeysRecord`, `{ id, keys }`), so a keyed
 * raise reads and writes that small row instead of the instance's (which holds its input). The upgrade writes no row:
 * keys a state of an earlier layout carries (`InstanceState.raisedEventKeys`) still count, and stay in the state (new
 * keys go to the record). Older code cannot be open beside it: the upgrade closes its connections, and it refuses a
 * database with a table it does not know. Layout 6 (Dexie version 5) adds the tag index `*tagKeys` for the list's tag
 * filter: its upgrade gives every row with tags its `tagKeys` ({@link StoredInstance.tagKeys}), from which IndexedDB
 * builds the index (since layout 8 after the open, in steps: see {@link TAG_KEYS_STEP}). Layout 7 (Dexie version 6) adds the `inputs` table: the input of each instance's execution
 * (`{ id, executionId, createdMs, input }`, see `InputRecord`), written by the commit that creates the execution, so that a step,
 * a raise or a claim rewrites a row without it. The upgrade moves no input: a row of an earlier layout keeps its input in
 * its state, which reads take as it is, until the instance's next write moves it out. Layout 8 changes no table: the
 * `tagKeys` of the rows of layout 5 or older are given after the open instead of in the upgrade. Layout 9 (Dexie
 * version 7) changes no table: an execution's start message and the `ExecutionStarted` event of its history are written
 * without its input, which its input record holds (rows.ts's `startWithoutInput`, the rule KeyvalStore's layout 15
 * shares), and get it back from there where they are read; the upgrade writes nothing (starts of older layouts hold
 * their input, read as they are), and is made only to close the connections of older code, which would hand out such
 * starts without their input. Layout 10 (Dexie version 8) adds the end index `[status+state.lastUpdatedTime+id]` of
 * `listEnded` (a retention sweep's listing in end order): IndexedDB builds it from the rows as they are (every row's
 * state holds its `lastUpdatedTime` as a Date), so the upgrade writes no row. The upgrade to this version, from any
 * older one, releases the leases of the tabs it closed ({@link releaseLeases}); the next version's upgrade must do it
 * too.
 */
const DEXIE_DB_VERSION = 8;

/**
 * Tables and their indexes. Every query of the store is one index range: claims use `[readyMs+headSeq]` for
 * instances, and for activity tasks `[readyMs+seq]` of the tasks table and `[taskReadyMs+taskOrder]` of the instances
 * (their row's task); paging `[createdMs+id]` and `[status+createdMs+id]`, history and messages their
 * `[instanceId+seq]` keys. Layout 3 only added an index to the instances of layouts 1 and 2 (Dexie version 1): code
 * of layout 2 opening the database finds every table and index it declares, so Dexie does not upgrade it again (which
 * would close this layout's connections), and that code refuses it by its marker.
 */
const SCHEMA: Readonly<Record<string, string>> = {
  meta: 'key',
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id], [taskReadyMs+taskOrder], [state.name+createdMs+id], *tagKeys, [status+state.lastUpdatedTime+id]',
  history: '[instanceId+seq]',
  messages: '++seq, [instanceId+seq]',
  tasks: '++seq, &id, [readyMs+seq], instanceId',
  raiseKeys: 'id',
  inputs: 'id',
};

/** Layouts 7 to 9 (Dexie versions 6 and 7): no end index. */
const SCHEMA_V7: Readonly<Record<string, string>> = {
  ...SCHEMA,
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id], [taskReadyMs+taskOrder], [state.name+createdMs+id], *tagKeys',
};

/** Layout 6 (Dexie version 5): no input records. */
const { inputs: _inputs, ...SCHEMA_V5 } = SCHEMA_V7;

/** Layout 5 (Dexie version 4): no tag index. */
const SCHEMA_V4: Readonly<Record<string, string>> = {
  ...SCHEMA_V5,
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id], [taskReadyMs+taskOrder], [state.name+createdMs+id]',
};

/** Layout 4 (Dexie version 3): no raise-key records. */
const { raiseKeys: _raiseKeys, ...SCHEMA_V3 } = SCHEMA_V4;

/** Layouts 1 and 2 (Dexie version 1): every task a row of the tasks table. */
const SCHEMA_V1: Readonly<Record<string, string>> = {
  ...SCHEMA_V3,
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id]',
};

/** Layout 3 (Dexie version 2): an instance's first task in its row. */
const SCHEMA_V2: Readonly<Record<string, string>> = {
  ...SCHEMA_V3,
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id], [taskReadyMs+taskOrder]',
};

/** A row of the `inputs` table (layout 7): the input record of instance `id`. */
interface InputRow extends InputRecord {
  readonly id: string;
}

/** A row of the `raiseKeys` table (layout 5): the raise-key record of instance `id`. */
interface RaiseKeysRow {
  readonly id: string;
  readonly keys: readonly string[];
}

/**
 * An instance row as layout 3 stores it: with at most one activity task of the instance (`task`, its `seq` being
 * its claim order), indexed by `taskReadyMs` and `taskOrder` (the task's `readyMs` and `seq`). A step that completes
 * an activity and schedules the next (a sequence of activities) then reads and writes only the instance row, which it
 * reads and writes anyway: no task row, no task index entries. Further tasks (a fan-out) are rows of the tasks table,
 * so no write ever rewrites more than one task with the row: fan-out stays linear.
 *
 * Claim order is `(readyMs, order)`, `order` being a stamp from the clock ({@link stamp}) given to a task of either
 * place when it is scheduled. The tasks table orders its rows by `(readyMs, seq)`, its key, which numbers them in the
 * order they were written, so its first row is its first by `(readyMs, order)` too (across tabs, as far as their
 * clocks agree); a claim compares it with the first instance task. The two orders agree wherever scheduling has an
 * order: within a transaction (a task is added at once, in call order, whether or not its instance was read) and
 * between a commit and one that began after it committed (stamps increase in a tab; IndexedDB numbers the later
 * commit's rows higher). Only rows of two commits of one tab in flight at once (one reads ahead of the database, so
 * it stamps first and runs second) may be numbered in the other order than stamped: neither was scheduled before the
 * other, and a task still never waits behind one whose commit began after its own committed. A task row of layouts 1
 * and 2 has no `order`: it counts as 0, older than every stamp, as it is.
 */
interface StoredInstance extends InstanceRow {
  readonly task?: TaskRow;
  readonly taskReadyMs?: number;
  readonly taskOrder?: number;
  /**
   * Layout 6: one key `[key, value, createdMs, id]` per tag pair of the state ({@link tagKeysOf}), the entries of the
   * multiEntry tag index: the instances of one pair in paging order. Written with the row every time (a new execution
   * may change the tags and the createdMs), absent when the state has no tags.
   */
  readonly tagKeys?: readonly (readonly [string, string, number, string])[];
}

/** The `tagKeys` of a row ({@link StoredInstance.tagKeys}); `undefined` when its state has no tags. */
function tagKeysOf(row: InstanceRow): StoredInstance['tagKeys'] {
  const pairs = tagPairsOf(row.state.tags);
  return pairs.length === 0 ? undefined : pairs.map(([key, value]) => [key, value, row.createdMs, row.id] as const);
}

/** A row of the tasks table: `seq` is its key, `order` its claim-order stamp (absent in rows of layouts 1 and 2). */
interface StoredTask extends TaskRow {
  readonly order?: number;
}

let lastStamp = 0;
/**
 * A claim-order stamp: microseconds since the epoch, increasing in this realm. Stamps of two tabs may tie (the index
 * then orders by key): claim order across tabs is by time, best effort, as for messages.
 */
function stamp(): number {
  lastStamp = Math.max(lastStamp + 1, Date.now() * 1000);
  return lastStamp;
}

/** The `meta` row that records which schema wrote the database. */
interface MetaRow {
  readonly key: 'schema';
  readonly version: number;
  readonly store: 'durable-rx/dexie';
  /** The rebuild of the rows' `tagKeys` under way (layout 8): where its next step starts. Absent once done. */
  readonly rebuild?: TagKeysRebuild;
}

/**
 * Where the rebuild of the rows' `tagKeys` goes on (layout 8): after the instance `after` (its `[createdMs, id]`) in
 * paging order, at the first instance without it.
 */
interface TagKeysRebuild {
  readonly after?: readonly [number, string];
}

/**
 * Instances per step of the rebuild of the rows' `tagKeys` (layout 8). Layout 6 gave every row of an older layout its
 * `tagKeys` in the upgrade's `versionchange` transaction, which every call of the store waited for: 23.2 s for 20,000
 * tagged instances in headless Chromium at load 9 to 12. The upgrade now only marks the database with the rebuild's
 * place ({@link TagKeysRebuild}); the store then gives the rows their `tagKeys` in steps of this many instances in
 * paging order, a readwrite transaction each ({@link DexieTransaction.rebuildTagKeys}, run by an {@link IndexRebuild},
 * as KeyvalStore's layout 14 rebuilds its name and tag entries), behind which a call waits at most. Each step moves the
 * place on in its own transaction: a rebuild cut short (a reload, a close) goes on at the next open, in any tab, one a
 * freeze stopped at the page's resume, one whose step failed at the store's next call (after failed steps in a row, once a wait has passed: see IndexRebuild); tabs that open meanwhile share it. Until it is done the tag index may miss instances past the rebuild's place, so a listing or purge
 * by tags reads it up to the place and the paging order past it, checking the tag pair on each row there: exact, at the
 * cost of reading the instances past the place. Rows this layout writes meanwhile get their `tagKeys` as always, and code
 * of layout 7 refuses the database from the open on (its marker is older), so none trusts the index too early.
 */
const TAG_KEYS_STEP = 256;

/** Dexie's dependencies, injectable so Node tests can pass fake-indexeddb. */
export interface DexieDependencies {
  readonly indexedDB?: IDBFactory;
  readonly IDBKeyRange?: typeof IDBKeyRange;
}

/** An array key sorts after every number and string, so `[x, MAX]` bounds every `[x, anything]`. */
const MAX: never[] = [];

/**
 * Releases, in an upgrade of the database (its `versionchange` transaction), every lease still running at `nowMs`:
 * orchestration leases of instances, and activity leases of tasks (kept in their instance's row or in the tasks table).
 * The upgrade runs once every other connection closed (a DexieStore closes its connection when another asks for a new
 * version, and the upgrade waits for one that does not), and a store whose connection closed so never opens another:
 * every lease in the database is held by a tab that can commit nothing more. Left alone, those leases would hold their
 * instances and tasks back until they ran out (up to a lease, 5 min for an activity by default); released, the workers
 * of this version take them at once, as `releaseOwner` gives them back. The leased instances and tasks are found by
 * their claim indexes (a lease holds its row there until it ends): the rows ready later than `nowMs`, which are the
 * leased ones and the instances with a message not yet visible (a timer), read but not written.
 */
async function releaseLeases(tx: Transaction, nowMs: number): Promise<void> {
  const instances = tx.table<StoredInstance, string>('instances');
  const [queued, withTask, tasks] = await Promise.all([
    instances.where('[readyMs+headSeq]').above([nowMs, Infinity]).toArray(),
    instances.where('[taskReadyMs+taskOrder]').above([nowMs, Infinity]).toArray(),
    tx.table<TaskRow, number>('tasks').where('[readyMs+seq]').above([nowMs, Infinity]).toArray(),
  ]);
  const rows = new Map<string, StoredInstance>();
  for (const row of queued) {
    if (!row.lease) continue;
    const pending = await tx.table<MessageRow, number>('messages').where('[instanceId+seq]').between([row.id, -Infinity], [row.id, MAX]).toArray();
    rows.set(row.id, releasedInstance(row, pending) as StoredInstance);
  }
  for (const stored of withTask) {
    if (!stored.task?.lease) continue;
    const row = rows.get(stored.id) ?? stored;
    const task = releasedTask(stored.task);
    rows.set(stored.id, { ...row, task, taskReadyMs: task.readyMs });
  }
  await Promise.all([
    rows.size > 0 ? instances.bulkPut([...rows.values()]) : undefined,
    ...tasks.filter((row) => row.lease).map((row) => tx.table<TaskRow, number>('tasks').put(releasedTask(row))),
  ]);
}

/**
 * Begins opening (creating or upgrading) DexieStore's database and checking its schema version: `opened` rejects with
 * `IncompatibleSchemaError` when newer code wrote the database; `blocked` tells that the upgrade waits for another
 * connection, which the store's `OpenGate` turns into `DatabaseBlockedError`. `page`: the store's, which aborts its
 * transactions when the page freezes (see {@link PageFreeze}): the upgrade's and the schema check's too, and `opened`
 * then rejects with `page` (the store opens again once the page resumes). `onDropped` is called when the browser closes
 * the connection itself (see {@link BrowserClose}). `clock`: the store's, which tells the leases an upgrade releases
 * (see {@link releaseLeases}) from those that ended.
 */
export function startDexieOpen(
  name: string, dependencies: DexieDependencies, onVersionChange: () => void, page?: PageFreeze, onDropped?: () => void, clock: Clock = systemClock,
): OpenAttempt {
  let answer!: () => void;
  const firstAnswer = new Promise<void>((resolve) => (answer = resolve));
  /** The last transaction of the open begun: the upgrade's, then the schema check's. */
  let lastBegun: IDBTransaction | undefined;
  const begin = (transaction: IDBTransaction): void => {
    lastBegun = transaction;
    page?.beginOpening(transaction);
  };
  /** Why the database is refused, once the open found it someone else's (see {@link checkingOpens}). */
  let refused: IncompatibleSchemaError | undefined;
  const refuse = (error: IncompatibleSchemaError): void => {
    refused ??= error;
    // Ends the open Dexie has under way (a connection refused at `success` never reaches Dexie).
    db.close({ disableAutoOpen: true });
  };
  const factory = checkingOpens(dependencies.indexedDB, name, { answered: answer, upgrading: begin, refuse });
  const db = new Dexie(name, {
    autoOpen: false,
    cache: 'disabled',
    chromeTransactionDurability: 'relaxed',
    ...(factory ? { indexedDB: factory } : {}),
    ...(dependencies.IDBKeyRange ? { IDBKeyRange: dependencies.IDBKeyRange } : {}),
  });
  db.version(1).stores(SCHEMA_V1);
  // Layouts 3, 4 and 6 each add an index, layouts 5 and 7 a table, layout 9 none; the marker is written in the upgrade itself, so that
  // no older code opening the database after the upgrade takes it for its own. The rows stay as they are (see SCHEMA and
  // StoredInstance), but for layout 6's `tagKeys`, which the marker names a rebuild of from the upgrade to Dexie
  // version 5 on: the store gives them to the rows after the open, in steps (see TAG_KEYS_STEP).
  let rebuild: TagKeysRebuild | undefined;
  const mark = (tx: Transaction) => tx.table<MetaRow, string>('meta').put({
    key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie', ...(rebuild ? { rebuild } : {}),
  });
  db.version(2).stores(SCHEMA_V2).upgrade(mark);
  db.version(3).stores(SCHEMA_V3).upgrade(mark);
  db.version(4).stores(SCHEMA_V4).upgrade(mark);
  db.version(5).stores(SCHEMA_V5).upgrade(async (tx) => {
    rebuild = {};
    await mark(tx);
  });
  // The upgrade to this version, from any older one, releases the leases of the tabs it closed (run last of the
  // upgrades: those of the versions between run before it).
  db.version(6).stores(SCHEMA_V7).upgrade(mark);
  // The upgrade to Dexie version 7 (layout 9) and to this one, the same: one from version 6 runs both.
  const latest = async (tx: Transaction) => {
    // A rebuild of `tagKeys` that a layout-8 database has under way goes on from its place.
    rebuild ??= (await tx.table<MetaRow, string>('meta').get('schema'))?.rebuild;
    await mark(tx);
    await releaseLeases(tx, clock.now().getTime());
  };
  db.version(7).stores(SCHEMA_V7).upgrade(latest);
  db.version(DEXIE_DB_VERSION).stores(SCHEMA).upgrade(latest);
  // Nothing but this store sees this private instance: no liveQuery reads it and no hook is registered on it. Dexie's
  // observability layer would cost every write a set of changed key ranges, and every readwrite transaction an event
  // plus a BroadcastChannel message to all tabs (the store's own change feed already tells them what they need); its
  // query cache, an AbortController and listeners per readwrite transaction; its hooks layer, a lookup of the
  // transaction's table (rebuilt once per transaction) per write, and a zone that native async functions do not keep.
  for (const name of ['Observability', 'Cache', 'HooksMiddleware']) db.unuse({ stack: 'dbcore', name });
  // Returning false keeps Dexie's default handlers (which log) from running.
  /** The backend once opened: another connection's upgrade aborts its rebuild step under way, as `close` does. */
  let backend: DexieBackend | undefined;
  db.on('versionchange', () => {
    // The step's transaction would otherwise hold the closing connection, and the upgrade, until it committed.
    backend?.closing();
    onVersionChange();
    db.close({ disableAutoOpen: true });
    return false;
  });
  const blocked = new Promise<unknown>((resolve) => {
    db.on('blocked', (event: unknown) => {
      resolve(event);
      return false;
    });
  });
  const opening = db.open();
  // Answered at the request's first event, not once `db.open()` settles: that comes only after the whole upgrade
  // transaction, which may outlast the bound on the open without any other connection in the way (a large database).
  const answered = Promise.race([firstAnswer, opening.then(() => undefined, () => undefined)]);
  const opened = (async () => {
    let rebuildTagKeys: TagKeysRebuild | undefined;
    try {
      await opening;
      await db.transaction('rw', 'meta', async (tx) => {
        begin(tx.idbtrans);
        const meta = tx.table<MetaRow, string>('meta');
        const found = await meta.get('schema');
        const foreign = refusalOf(name, [...db.backendDB().objectStoreNames], found);
        if (foreign) throw foreign;
        // An older layout is read as it is and marked as this one, so older code refuses the database from now on.
        if (!found || found.version < DEXIE_SCHEMA_VERSION) {
          await meta.put({ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' });
        }
        if (found?.version === DEXIE_SCHEMA_VERSION) rebuildTagKeys = found.rebuild;
      });
    } catch (error) {
      db.close({ disableAutoOpen: true });
      if (refused) throw refused;
      throw page?.aborted(lastBegun) ? page : mapOpenError(error, name);
    }
    backend = new DexieBackend(db, page, onDropped, rebuildTagKeys, clock);
    return backend;
  })();
  opened.catch(() => undefined);
  return { opened, answered, blocked };
}

/** The tables of DexieStore's database: every layout makes them all at once, `meta` (its marker) among them. */
const TABLES: ReadonlySet<string> = new Set(Object.keys(SCHEMA));

/**
 * Why an existing database whose object stores are `tables` is not DexieStore's to open, or undefined when it is.
 * `marker` is the row its `meta` table holds, when read (without it, only the tables are judged). A database without
 * tables holds nothing: it is taken (someone's open created it empty). One with a table DexieStore does not keep, or
 * without `meta` (DexieStore makes every table at once), is someone else's: the app's own Dexie database, a
 * KeyvalStore's. So is one whose marker names another store; one marked by a newer schema is newer code's. Without a
 * marker, a database of DexieStore's tables alone is its own, whose first schema check did not complete.
 */
function refusalOf(name: string, tables: readonly string[], marker?: MetaRow): IncompatibleSchemaError | undefined {
  const ours = (marker ? marker.store === 'durable-rx/dexie' && marker.version <= DEXIE_SCHEMA_VERSION : true) &&
    tables.every((table) => TABLES.has(table)) && (tables.length === 0 || tables.includes('meta'));
  return ours ? undefined : new IncompatibleSchemaError(
    `Database ${JSON.stringify(name)} (tables ${tables.join()}, schema ${JSON.stringify(marker)}) is not DexieStore's version ${DEXIE_SCHEMA_VERSION}`,
  );
}

/** What {@link checkingOpens} tells about the open requests of the store's database. */
interface OpenEvents {
  /** The request was answered (see {@link checkingOpens}). */
  readonly answered: () => void;
  /** An upgrade begins, with its transaction. */
  readonly upgrading: (transaction: IDBTransaction) => void;
  /** The database is someone else's: the open must fail with this, having written nothing. */
  readonly refuse: (error: IncompatibleSchemaError) => void;
}

/**
 * The IndexedDB factory Dexie opens the database with (`given`, else the global one; undefined where there is none or
 * reading it throws, and Dexie then fails the open as it does). At each open request of the store's database (`name`)
 * made through it, before Dexie's own handlers:
 *
 * - `answered` at its first `upgradeneeded`, `success` or `error`: the request was answered, whatever the upgrade still
 *   does (an open of another database, were Dexie to make one, answers nothing). A `VersionError` is not an answer:
 *   Dexie opens again without a version then, and the store's bound on the open (`openTimeoutMs`, in its `OpenGate`)
 *   holds until that second request is answered. `blocked` is not an answer: the request goes on waiting for another
 *   connection (the store's `OpenGate` hears it from Dexie).
 * - the database is checked to be DexieStore's ({@link refusalOf}) before Dexie changes it: Dexie's upgrade to this
 *   schema deletes every table it does not declare, and a database that lacks a declared table, whatever its version,
 *   is upgraded by Dexie to add it. At `upgradeneeded` of an existing database (not a new one), with `upgrading` and
 *   the upgrade's transaction first: judged by its tables, the upgrade is aborted before Dexie sees it; with a `meta`
 *   table, its marker is read first in the upgrade (ahead of Dexie's requests), and the upgrade aborted if it is not
 *   DexieStore's. At `success` (no upgrade asked), judged by its tables, the connection is closed before Dexie sees it,
 *   so Dexie does not open the database again with a higher version to add its tables, which would tell the other
 *   connections to close. Either way nothing is written, and `refuse` says why.
 *
 * Dexie gives the request to no one, so the factory is wrapped (a factory other than the global one only turns off
 * Dexie's workaround for Safari 14, which cannot run this package's ES2022 output anyway: private methods).
 */
function checkingOpens(given: IDBFactory | undefined, name: string, events: OpenEvents): IDBFactory | undefined {
  let factory = given;
  try {
    factory ??= (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  } catch {
    return undefined; // denied by the browser's settings (a SecurityError): Dexie fails the open with it
  }
  if (!factory) return undefined;
  const open = (dbName: string, version?: number): IDBOpenDBRequest => {
    const request = version === undefined ? factory.open(dbName) : factory.open(dbName, version);
    if (dbName !== name) return request;
    // A VersionError (the database is at a higher version than this code's) answers nothing: Dexie then opens again
    // without a version, and that request may queue behind another connection's upgrade, so the bound goes on to it.
    const answer = (event: Event): void => {
      if (event.type !== 'error' || version === undefined || request.error?.name !== 'VersionError') events.answered();
    };
    for (const type of ['upgradeneeded', 'success', 'error']) request.addEventListener(type, answer, { once: true });
    request.addEventListener('upgradeneeded', (event) => {
      const transaction = request.transaction!;
      events.upgrading(transaction);
      // A new database: Dexie creates its tables. (Safari reported a huge old version for one.)
      const { oldVersion } = event as IDBVersionChangeEvent;
      if (oldVersion < 1 || oldVersion > 2 ** 62) return;
      const tables = [...request.result.objectStoreNames];
      const refusal = refusalOf(name, tables);
      if (refusal) {
        event.stopImmediatePropagation(); // Dexie never sees it: the request fails with the abort
        events.refuse(refusal);
        transaction.abort();
      } else if (tables.includes('meta')) {
        const marker = transaction.objectStore('meta').get('schema');
        marker.addEventListener('success', () => {
          const foreign = refusalOf(name, tables, marker.result as MetaRow | undefined);
          if (!foreign) return;
          events.refuse(foreign);
          transaction.abort();
        });
      }
    });
    request.addEventListener('success', (event) => {
      const refusal = refusalOf(name, [...request.result.objectStoreNames]);
      if (!refusal) return;
      event.stopImmediatePropagation();
      request.result.close();
      events.refuse(refusal);
    });
    return request;
  };
  return new Proxy(factory, {
    get(target, key) {
      if (key === 'open') return open;
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
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
  readonly meta: DBCoreTable;
  readonly instances: DBCoreTable;
  readonly history: DBCoreTable;
  readonly messages: DBCoreTable;
  readonly tasks: DBCoreTable;
  readonly raiseKeys: DBCoreTable;
  readonly inputs: DBCoreTable;
  /** `[readyMs+headSeq]` and `[taskReadyMs+taskOrder]` of instances, `[instanceId+seq]` of messages, `[readyMs+seq]` and `id` of tasks. */
  readonly instancesReady: DBCoreIndex;
  readonly instanceTasksReady: DBCoreIndex;
  readonly messagesOf: DBCoreIndex;
  readonly tasksReady: DBCoreIndex;
  readonly taskIds: DBCoreIndex;
  /** `[createdMs+id]`, `[status+createdMs+id]` and `[state.name+createdMs+id]` of instances (paging), `instanceId` of tasks. */
  readonly instancesCreated: DBCoreIndex;
  readonly instancesByStatus: DBCoreIndex;
  readonly instancesByName: DBCoreIndex;
  /** `*tagKeys` of instances: `[key, value, createdMs, id]` per tag pair (multiEntry). */
  readonly instancesByTag: DBCoreIndex;
  /** `[status+state.lastUpdatedTime+id]` of instances: the end order of `listEnded` (layout 10). */
  readonly instancesEnded: DBCoreIndex;
  readonly tasksOf: DBCoreIndex;
}

class DexieBackend implements StoreBackend {
  readonly #db: Dexie;
  readonly #core: CoreTables;
  /**
   * The browser closing the connection itself (the site's data cleared, a storage failure). This backend opens no
   * other ({@link DexieBackend.dropped}): a transaction the close kept from running, or the closing connection refused,
   * rejects with `reads`, and the store runs it again on a new backend, which opens the database again.
   */
  readonly #closed: BrowserClose;
  readonly #page: PageFreeze | undefined;
  /** Instances a start assumed absent and then failed, mostly found present (see {@link MAX_PRESENT}): read from then on. */
  readonly #present = new Set<string>();
  /** The rebuild of the rows' `tagKeys` (see {@link TAG_KEYS_STEP}), its steps run on this connection. */
  readonly #tagKeys: IndexRebuild;

  /**
   * `rebuildTagKeys`: the rebuild of the rows' `tagKeys` the marker names (its steps begin at once), if any. `clock`: the
   * store's, which times the wait after the rebuild's failed steps.
   */
  constructor(db: Dexie, page: PageFreeze | undefined, onDropped: (() => void) | undefined, rebuildTagKeys?: TagKeysRebuild, clock: Clock = systemClock) {
    this.#db = db;
    this.#page = page;
    this.#tagKeys = new IndexRebuild(async (stop) => {
      const next = await this.#transact(
        'readwrite', ['meta', 'instances'], (tx) => (tx as DexieTransaction).rebuildTagKeys(), new ReadsAhead(undefined), stop,
      );
      // Committed: the rows up to the place have their keys.
      if (next) this.#tagKeys.place = next;
      return next !== undefined;
    }, page, clock);
    this.#closed = new BrowserClose(db.backendDB(), onDropped);
    const table = (name: TableName): DBCoreTable => db.table(name).core;
    // Every one of these indexes is in SCHEMA, which opening the database checked.
    const index = (core: DBCoreTable, keyPath: string | string[]): DBCoreIndex => core.schema.getIndexByKeyPath(keyPath)!;
    const instances = table('instances');
    const messages = table('messages');
    const tasks = table('tasks');
    this.#core = {
      meta: table('meta'), instances, messages, tasks, history: table('history'), raiseKeys: table('raiseKeys'), inputs: table('inputs'),
      instancesReady: index(instances, ['readyMs', 'headSeq']),
      instanceTasksReady: index(instances, ['taskReadyMs', 'taskOrder']),
      messagesOf: index(messages, ['instanceId', 'seq']),
      tasksReady: index(tasks, ['readyMs', 'seq']),
      taskIds: index(tasks, 'id'),
      instancesCreated: index(instances, ['createdMs', 'id']),
      instancesByStatus: index(instances, ['status', 'createdMs', 'id']),
      instancesByName: index(instances, ['state.name', 'createdMs', 'id']),
      instancesByTag: index(instances, 'tagKeys'),
      instancesEnded: index(instances, ['status', 'state.lastUpdatedTime', 'id']),
      tasksOf: index(tasks, 'instanceId'),
    };
    this.#tagKeys.pending = rebuildTagKeys !== undefined;
    this.#tagKeys.place = rebuildTagKeys?.after;
    this.#tagKeys.resume();
  }

  transact<T>(
    mode: 'readonly' | 'readwrite', scope: readonly TableName[], work: (tx: BackendTransaction) => Promise<T>, reads = new ReadsAhead(undefined),
  ): Promise<T> {
    const result = this.#transact(mode, scope, work, reads);
    // A rebuild of the rows' `tagKeys` whose steps stopped on a failure goes on with the store's next call, after the
    // call's transaction (which it would otherwise hold up by one step).
    this.#tagKeys.resume();
    return result;
  }

  async #transact<T>(
    mode: 'readonly' | 'readwrite', scope: readonly TableName[], work: (tx: BackendTransaction) => Promise<T>, reads: ReadsAhead, stop?: AbortSignal,
  ): Promise<T> {
    // DBCore's transaction is the IndexedDB transaction itself (Dexie's own Transaction listens to it the same way):
    // no Dexie zone, promise or Transaction object per store operation.
    if (this.dropped) return Promise.reject(reads);
    let trans: IDBTransaction;
    try {
      trans = this.#db.core.transaction([...scope], mode, { durability: 'relaxed' }) as unknown as IDBTransaction;
    } catch (error) {
      // Refused by a connection this store closed (`close`, an upgrade elsewhere: the store refuses calls from then on)
      // as it is; by one Dexie closed by itself, run again on a new backend at once; by one the browser is closing, run
      // again once it closed.
      if (this.#db.hasBeenClosed()) return Promise.reject(error);
      return this.dropped ? Promise.reject(reads) : refusedWhileClosing(this.#closed, error, reads);
    }
    const tx = new DexieTransaction(trans, this.#core, reads, this.#present, this.#tagKeys);
    return finishChecked(trans, reads, () => tx.run(work), {
      closed: this.#closed, rerun: true, page: this.#page, stop,
    }).catch((error: unknown) => {
      // Taken as absent, an instance was there after all, or a failure may rest on that: nothing was written, and the
      // run again reads it (as do later starts of it by this handle).
      tx.rememberAssumed();
      if (tx.foundPresent) throw reads;
      throw error;
    });
  }

  /**
   * The connection is gone, though the store did not close it: the store opens a new backend for its next transaction.
   * The browser closed it itself (see {@link DexieBackend.#closed}), or Dexie did: at a `pagehide` that puts the page
   * into the back/forward cache, Dexie closes every connection of the page (unless the app set `Dexie.disableBfCache`),
   * and a restored page's transactions would fail on it with `InvalidStateError` ("The database connection is
   * closing"), which no `close` event follows. Dexie's closes tell themselves apart from the store's: the store's
   * (`close`, another connection's upgrade, a refused open) disable reopening (`hasBeenClosed`), Dexie's own do not.
   */
  get dropped(): boolean {
    return this.#closed.fired || (!this.#db.isOpen() && !this.#db.hasBeenClosed());
  }

  closing(): void {
    void this.#tagKeys.end();
  }

  close(): Promise<void> {
    const stepped = this.#tagKeys.end();
    this.#db.close({ disableAutoOpen: true });
    return stepped;
  }
}

/** At most `bound` rows read by a scan, which calls `stopped` with the last one when it stops there. */
interface ReadBound<R> {
  readonly bound: number;
  readonly stopped: (row: R) => void;
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

/** Every key `[readyMs, order]` of a claim index with `afterMs < readyMs <= untilMs`. */
function readyBetween(afterMs: number, untilMs: number): DBCoreKeyRange {
  return untilMs === Infinity ? above([afterMs, Infinity]) : { ...between([afterMs, Infinity], [untilMs, Infinity]), lowerOpen: true };
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
  /**
   * The instances this transaction read or wrote, each with its task ({@link StoredInstance}). Every read of an
   * instance by key goes through here; a changed row is written once, before the next read of an instance index (so
   * the index is current) or when the work is done, so a step that changes the row and its task writes it once. Every
   * change applies at once, in call order: one that needs the row (its task) is made only on an instance read here.
   */
  readonly #loaded = new Map<string, Loaded>();
  readonly #loading = new Map<string, Promise<Loaded>>();
  /**
   * Messages of an instance read before they were asked for (a claim reads those of the instance it will likely find
   * with the claim index), each for the next {@link DexieTransaction.listMessages} of its instance; a write to any
   * messages drops them all (requests run in order, so a read answers as of the moment it was made).
   */
  readonly #messagesRead = new Map<string, Promise<MessageRow[]>>();
  /**
   * Instances taken as absent without a read (see {@link DexieTransaction.expectAbsent}), each with the function that
   * confirms it to the transaction's reads: written with `add`.
   */
  readonly #assumedAbsent = new Map<string, () => void>();
  /** The backend's instances a start took as absent and failed on, bounded: a start of one of them reads it. */
  readonly #present: Set<string>;
  /** The instances taken as absent whose `add` was issued (a later write of one in this transaction is a `put`). */
  readonly #added = new Set<string>();
  /** An `add` of an instance taken as absent failed: it is present, the transaction aborts and runs again. */
  foundPresent = false;
  /** The rebuild of the rows' `tagKeys`, as the backend knows it (see {@link DexieTransaction.scanInstances}). */
  readonly #tagKeys: IndexRebuild | undefined;

  constructor(trans: IDBTransaction, core: CoreTables, reads: ReadsAhead, present = new Set<string>(), tagKeys?: IndexRebuild) {
    this.#trans = trans;
    this.#core = core;
    this.#reads = reads;
    this.#present = present;
    this.#tagKeys = tagKeys;
  }

  async run<T>(work: (tx: BackendTransaction) => Promise<T>): Promise<T> {
    try {
      const result = await work(this);
      this.#flush();
      // An instance taken as absent and not created: what the transaction did may rest on that; it runs again, reading.
      if (this.#added.size < this.#assumedAbsent.size) throw this.#reads; // #added holds only ids taken as absent
      await this.#writes.settle();
      return result;
    } catch (error) {
      this.#writes.settle()?.catch(() => undefined);
      throw error;
    }
  }

  /**
   * Takes an instance about to be created as absent, without reading it: its row is written with `add`, which fails
   * if it is present after all (a start over an id in use), aborting the transaction; the run again (which runs no
   * longer ahead) reads it. Only in a call's first run, for an instance neither read by this transaction nor known to
   * this handle: one it committed or found present before.
   */
  expectAbsent(id: string): void {
    if (!this.#reads.ahead || this.#loaded.has(id) || this.#loading.has(id) || this.#present.has(id) || this.#reads.remembers(`i:${id}`)) return;
    this.#assumedAbsent.set(id, this.#reads.assume());
    this.#loaded.set(id, { row: undefined, task: undefined, dirty: false });
  }

  /** After a failed run: the instances it took as absent are read by this handle's later starts. */
  rememberAssumed(): void {
    for (const id of this.#assumedAbsent.keys()) {
      this.#present.delete(id);
      if (this.#present.size >= MAX_PRESENT) this.#present.delete(this.#present.values().next().value!);
      this.#present.add(id);
    }
  }

  /** Reads an instance once per transaction (later reads see this transaction's changes). */
  #load(id: string): Promise<Loaded> {
    const known = this.#loaded.get(id);
    if (known) return Promise.resolve(known);
    let loading = this.#loading.get(id);
    if (!loading) {
      const read = () => this.#core.instances.get({ trans: this.#trans, key: id }) as Promise<StoredInstance | undefined>;
      loading = (this.#reads.take(`i:${id}`, read) ?? read()).then((stored) => this.#loaded.get(id) ?? this.#seed(id, stored));
      this.#loading.set(id, loading);
    }
    return loading;
  }

  /** Takes a stored instance read by this transaction (by key or through an index) as what it knows of it. */
  #seed(id: string, stored: StoredInstance | undefined): Loaded {
    const known = this.#loaded.get(id);
    if (known) return known;
    let loaded: Loaded = { row: undefined, task: undefined, dirty: false };
    if (stored) {
      const { task, taskReadyMs: _r, taskOrder: _o, tagKeys: _t, ...row } = stored;
      loaded = { row, task, dirty: false };
    }
    this.#loaded.set(id, loaded);
    return loaded;
  }

  /** The rows of stored instances read through an index, as this transaction has them. */
  #rowsOf(rows: readonly StoredInstance[]): InstanceRow[] {
    return rows.flatMap((stored) => this.#seed(stored.id, stored).row ?? []);
  }

  /** The instance `row` is the task of, when it is kept in the instance row (else it is a row of the tasks table). */
  #holder(row: TaskRow): Loaded | undefined {
    const loaded = this.#loaded.get(row.instanceId);
    return loaded?.task?.id === row.id ? loaded : undefined;
  }

  /** Writes every instance row this transaction changed (with its task), once. */
  #flush(): void {
    for (const [id, loaded] of this.#loaded) {
      if (!loaded.dirty || !loaded.row) continue;
      loaded.dirty = false;
      const { task } = loaded;
      const tagKeys = tagKeysOf(loaded.row);
      const stored: StoredInstance = task || tagKeys
        ? { ...loaded.row, ...(task ? { task, taskReadyMs: task.readyMs, taskOrder: task.seq } : {}), ...(tagKeys ? { tagKeys } : {}) }
        : loaded.row;
      const confirm = this.#assumedAbsent.get(id);
      if (confirm && !this.#added.has(id)) this.#addInstance(id, stored, confirm);
      else this.#store('instances').put(stored);
      this.#reads.writes.set(`i:${id}`, stored);
    }
  }

  /** Writes the row of an instance taken as absent, if it is: else the transaction aborts (see {@link DexieTransaction.expectAbsent}). */
  #addInstance(id: string, stored: StoredInstance, confirm: () => void): void {
    this.#added.add(id);
    const request = this.#store('instances').add(stored);
    request.addEventListener('success', confirm);
    request.addEventListener('error', () => {
      if (request.error?.name === 'ConstraintError') this.foundPresent = true;
    });
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

  /** Deletes the rows of an index range: their keys (one request), then one delete per row; the commit waits for it. */
  #deleteAll(table: 'messages' | 'tasks', index: DBCoreIndex, range: DBCoreKeyRange): void {
    void this.#writes.track(this.#core[table].query({ trans: this.#trans, values: false, query: { index, range } }).then(({ result }) => {
      for (const key of result) this.#store(table).delete(key as number);
    }));
  }

  /**
   * Issues a read once the tracked writes before it are done (a deletion of an instance's tasks or messages reads
   * their keys first), so that it sees them; at once when none is pending, as a read ahead's check must be.
   */
  #after<R>(read: () => Promise<R>): Promise<R> {
    return this.#writes.settle()?.then(read) ?? read();
  }

  async #first<R>(table: DBCoreTable, index: DBCoreIndex, range: DBCoreKeyRange, direction: 'next' | 'prev' = 'next'): Promise<R | undefined> {
    const { result } = await this.#after(() => table.query({ trans: this.#trans, values: true, limit: 1, direction, query: { index, range } }));
    return result[0] as R | undefined;
  }

  async #all<R>(table: DBCoreTable, index: DBCoreIndex, range: DBCoreKeyRange): Promise<R[]> {
    return (await this.#after(() => table.query({ trans: this.#trans, values: true, query: { index, range } }))).result as R[];
  }

  /** The rows of an index range that `filter` accepts, at most `limit`, read with a cursor (it stops at the limit). */
  async #scan<R>(
    table: DBCoreTable, index: DBCoreIndex, range: DBCoreKeyRange, filter: (row: R) => boolean, limit = Infinity, reverse = false,
    bounded?: ReadBound<R>,
  ): Promise<R[]> {
    const rows: R[] = [];
    const cursor = await this.#after(() => table.openCursor({ trans: this.#trans, values: true, reverse, query: { index, range } }));
    if (!cursor || limit <= 0) return rows;
    let read = 0;
    await cursor.start(() => {
      const row = cursor.value as R;
      if (filter(row)) rows.push(row);
      if (rows.length >= limit) cursor.stop();
      else if (bounded && ++read >= bounded.bound) {
        bounded.stopped(row);
        cursor.stop();
      } else cursor.continue();
    });
    return rows;
  }

  async getInstance(id: string): Promise<InstanceRow | undefined> {
    return (await this.#load(id)).row;
  }

  /** The instance must have been read in this transaction: its row keeps its task. */
  putInstance(row: InstanceRow): void {
    Object.assign(this.#loaded.get(row.id) ?? unread('putInstance', row.id), { row, dirty: true });
  }

  deleteInstance(row: InstanceRow): void {
    this.#store('instances').delete(row.id);
    this.#reads.writes.set(`i:${row.id}`, undefined);
    this.#loaded.set(row.id, { row: undefined, task: undefined, dirty: false });
  }

  /**
   * The first instance of the claim index. A claim lists its messages next: `likely`'s are read alongside the index
   * (one round trip for the claim's reads when it is the first; see {@link DexieTransaction.listMessages}).
   */
  async firstReadyInstance(nowMs: number, likely?: string): Promise<InstanceRow | undefined> {
    this.#flush();
    if (likely !== undefined) {
      const messages = this.listMessages(likely);
      // A failed read fails the transaction: unused (a wrong guess), it is no unhandled rejection.
      messages.catch(() => undefined);
      this.#messagesRead.set(likely, messages);
    }
    const row = await this.#first<StoredInstance>(this.#core.instances, this.#core.instancesReady, between([-Infinity, -Infinity], [nowMs, Infinity]));
    return row && this.#rowsOf([row])[0];
  }

  async nextInstanceReadyMs(afterMs: number, untilMs = Infinity): Promise<number | undefined> {
    this.#flush();
    return (await this.#first<InstanceRow>(this.#core.instances, this.#core.instancesReady, readyBetween(afterMs, untilMs)))?.readyMs;
  }

  async queuedInstances(filter: (row: InstanceRow) => boolean): Promise<InstanceRow[]> {
    this.#flush();
    const rows = await this.#scan<StoredInstance>(this.#core.instances, this.#core.instancesReady, above([-Infinity, -Infinity]), () => true);
    return this.#rowsOf(rows).filter(filter);
  }

  /**
   * The rows of one index range (see {@link InstanceScan}). While the rows' `tagKeys` are rebuilt (see
   * {@link TAG_KEYS_STEP}) the tag index may miss instances past the place the rebuild has come to: a scan by a tag pair
   * reads the tag index up to that place, and past it the index it would read without the pair, the pair checked on
   * each row (both parts in paging order, so a page is exact however far the rebuild has come), at most
   * `scan.readBound` rows of it; the rebuild's steps are started again if they stopped here.
   */
  async scanInstances(scan: InstanceScan): Promise<InstanceRow[]> {
    this.#flush();
    const rebuild = this.#tagKeys;
    if (scan.tag === undefined || !rebuild?.pending) return this.#scanIndex(scan);
    rebuild.resume();
    const { tag, name, filter, limit = Infinity } = scan;
    const range: PlaceRange = { lower: [scan.fromMs, scan.fromId], lowerOpen: scan.fromOpen, upper: [scan.toMs, scan.toId], upperOpen: scan.toOpen === true };
    const [rebuilt, rest] = splitRange(range, rebuild.place);
    const parts: [PlaceRange | undefined, InstanceScan][] = [
      [rebuilt, scan],
      [rest, { ...scan, tag: undefined, filter: (row) => isMemberOf(row, name, tag) && (!filter || filter(row)) }],
    ];
    const rows: InstanceRow[] = [];
    for (const [part, base] of scan.reverse ? parts.reverse() : parts) {
      if (!part || rows.length >= limit) continue;
      // The part past the place reads every row of it: a listing bounds those reads (see InstanceScan.readBound).
      const { readBound, stopped } = scan;
      const bounded = part === rest && readBound !== undefined && stopped
        ? { bound: readBound, stopped: (row: StoredInstance) => stopped([row.createdMs, row.id]) }
        : undefined;
      rows.push(...await this.#scanIndex({
        ...base, fromMs: part.lower[0], fromId: part.lower[1] ?? '', fromOpen: part.lowerOpen,
        toMs: part.upper[0], toId: part.upper[1], toOpen: part.upperOpen, limit: limit - rows.length,
      }, bounded));
    }
    return rows;
  }

  async #scanIndex(scan: InstanceScan, bounded?: ReadBound<StoredInstance>): Promise<InstanceRow[]> {
    const lower = [scan.fromMs, scan.fromId];
    const upper = [scan.toMs, scan.toId ?? MAX];
    const open = { lowerOpen: scan.fromOpen, upperOpen: scan.toOpen === true };
    const [index, range] = scan.tag !== undefined
      ? [this.#core.instancesByTag, { ...between([...scan.tag, ...lower], [...scan.tag, ...upper]), ...open }]
      : scan.name !== undefined
      ? [this.#core.instancesByName, { ...between([scan.name, ...lower], [scan.name, ...upper]), ...open }]
      : scan.status === undefined
        ? [this.#core.instancesCreated, { ...between(lower, upper), ...open }]
        : [this.#core.instancesByStatus, { ...between([scan.status, ...lower], [scan.status, ...upper]), ...open }];
    return this.#rowsOf(await this.#scan(this.#core.instances, index, range, scan.filter ?? (() => true), scan.limit, scan.reverse, bounded));
  }

  /**
   * One step of the rebuild of the rows' `tagKeys` (see {@link TAG_KEYS_STEP}), at the place the marker keeps, and the
   * place moved on (the marker without it once done): the next {@link TAG_KEYS_STEP} instances in paging order, each
   * with tags and without `tagKeys` written with them. Resolves with the new place while steps are left; `undefined`
   * when none is (and, writing nothing, when the marker names no rebuild or is not this layout's).
   */
  async rebuildTagKeys(): Promise<TagKeysRebuild['after']> {
    const { meta, instances, instancesCreated } = this.#core;
    const marker = (await meta.get({ trans: this.#trans, key: 'schema' })) as MetaRow | undefined;
    const rebuild = marker?.rebuild;
    if (!marker || !rebuild || marker.store !== 'durable-rx/dexie' || marker.version !== DEXIE_SCHEMA_VERSION) return undefined;
    const range = rebuild.after ? above(rebuild.after) : { type: 3 as DBCoreRangeType, lower: undefined, upper: undefined };
    const { result } = await instances.query({ trans: this.#trans, values: true, limit: TAG_KEYS_STEP, query: { index: instancesCreated, range } });
    const rows = result as StoredInstance[];
    for (const row of rows) {
      const tagKeys = row.tagKeys ? undefined : tagKeysOf(row);
      if (tagKeys) this.#store('instances').put({ ...row, tagKeys } satisfies StoredInstance);
    }
    const last = rows[rows.length - 1];
    const { rebuild: _done, ...rest } = marker;
    const next: MetaRow = rows.length === TAG_KEYS_STEP && last ? { ...rest, rebuild: { after: [last.createdMs, last.id] } } : rest;
    this.#store('meta').put(next);
    return next.rebuild?.after;
  }

  async scanEnded(status: OrchestrationRuntimeStatus, after: EndedKey | undefined, toMs: number, limit: number): Promise<InstanceRow[]> {
    this.#flush();
    // One range of the end index: (status, after) exclusive, or the status's first key, to (status, toMs) and every id.
    const lower = after === undefined ? [status] : [status, new Date(after.endedMs), after.instanceId];
    const range = { ...between(lower, [status, new Date(toMs), MAX]), lowerOpen: after !== undefined };
    const { result } = await this.#after(() => this.#core.instances.query({
      trans: this.#trans, values: true, limit, query: { index: this.#core.instancesEnded, range },
    }));
    return this.#rowsOf(result as StoredInstance[]);
  }

  async countTagged(pair: readonly [string, string]): Promise<number> {
    this.#flush();
    const { instances, instancesByTag } = this.#core;
    return this.#after(() => instances.count({ trans: this.#trans, query: { index: instancesByTag, range: between([...pair], [...pair, MAX]) } }));
  }

  async newestCreatedMs(): Promise<number | undefined> {
    // The last key of the created index only (a key cursor): the row holds the input and the first task, which can be
    // large, and the bound needs none of it.
    const { instances, instancesCreated } = this.#core;
    const cursor = await this.#after(() => instances.openCursor({
      trans: this.#trans, values: false, reverse: true, query: { index: instancesCreated, range: above([-Infinity, -Infinity]) },
    }));
    const key: unknown = cursor?.key;
    return Array.isArray(key) && typeof key[0] === 'number' ? key[0] : undefined;
  }

  async getRaiseKeys(instanceId: string): Promise<readonly string[] | undefined> {
    return ((await this.#core.raiseKeys.get({ trans: this.#trans, key: instanceId })) as RaiseKeysRow | undefined)?.keys;
  }

  putRaiseKeys(instanceId: string, keys: readonly string[]): void {
    this.#store('raiseKeys').put({ id: instanceId, keys } satisfies RaiseKeysRow);
  }

  deleteRaiseKeys(instanceId: string): void {
    this.#store('raiseKeys').delete(instanceId);
  }

  async getInput(instanceId: string): Promise<InputRecord | undefined> {
    const row = (await this.#core.inputs.get({ trans: this.#trans, key: instanceId })) as InputRow | undefined;
    return row && { executionId: row.executionId, ...(row.createdMs === undefined ? {} : { createdMs: row.createdMs }), input: row.input };
  }

  putInput(instanceId: string, { executionId, createdMs, input }: InputRecord): void {
    this.#store('inputs').put({ id: instanceId, executionId, ...(createdMs === undefined ? {} : { createdMs }), input } satisfies InputRow);
  }

  deleteInput(instanceId: string): void {
    this.#store('inputs').delete(instanceId);
  }

  async readHistory(instanceId: string, { from, to }: BoundedRange): Promise<HistoryEvent[]> {
    if (to <= from) return [];
    const { history } = this.#core;
    const key = history.schema.primaryKey;
    // From the row that holds event `from` (the last that begins at or before it) up to the first that begins at `to`.
    const first = from > 0 ? await this.#first<HistoryRow>(history, key, between([instanceId, -Infinity], [instanceId, from]), 'prev') : undefined;
    if (from > 0 && !first) return [];
    const firstSeq = first?.seq ?? -Infinity;
    const range: DBCoreKeyRange = { type: 2 as DBCoreRangeType, lower: [instanceId, firstSeq], upper: [instanceId, to], lowerOpen: false, upperOpen: true };
    const rows = await this.#all<HistoryRow>(history, key, range);
    return historyFrom(rows.map(rowEvents), from, first?.seq ?? 0, to);
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
    this.#messagesRead.clear();
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

  /** The messages read ahead for this instance, if no write to messages came since, else a read now. */
  listMessages(instanceId: string): Promise<MessageRow[]> {
    const read = this.#messagesRead.get(instanceId);
    this.#messagesRead.delete(instanceId);
    return read ?? this.#all(this.#core.messages, this.#core.messagesOf, ofInstance(instanceId));
  }

  deleteMessages(rows: readonly Pick<MessageRow, 'instanceId' | 'seq'>[]): void {
    this.#messagesRead.clear();
    for (const { seq } of rows) this.#store('messages').delete(seq);
  }

  deleteMessagesOf(instanceId: string): void {
    this.#messagesRead.clear();
    this.#deleteAll('messages', this.#core.messagesOf, ofInstance(instanceId));
  }

  /**
   * The instance's task when it has none yet (read in this transaction, and existing), else a row of the tasks table.
   * Either way at once: rows of the tasks table are numbered in the order they are added, which is then their order
   * by stamp too (see {@link StoredInstance}).
   */
  addTask(row: NewTaskRow): void {
    const order = stamp();
    const loaded = this.#loaded.get(row.instanceId);
    if (loaded?.row && !loaded.task) Object.assign(loaded, { task: { ...row, seq: order }, dirty: true });
    else this.#addTaskRow({ ...row, order });
  }

  #addTaskRow(row: Omit<StoredTask, 'seq'>): void {
    const request = this.#store('tasks').add(row);
    const key = `t:${row.id}`;
    // Remembered with the number the database gave it (the stored row has it); forgotten if that never comes.
    this.#reads.writes.set(key, undefined);
    request.onsuccess = () => this.#reads.writes.set(key, { ...row, seq: request.result as number });
  }

  /**
   * The task with this id: the task of its instance (with `instanceId`: that instance is read first), else a row of
   * the tasks table, else, without `instanceId`, the task of any instance (one read of the instances with a task).
   */
  async getTask(id: string, instanceId?: string): Promise<TaskRow | undefined> {
    if (instanceId !== undefined) {
      const loaded = await this.#load(instanceId);
      if (loaded.task?.id === id) return loaded.task;
    }
    const read = () => this.#first<TaskRow>(this.#core.tasks, this.#core.taskIds, between(id, id));
    const found = await (this.#reads.take(`t:${id}`, read) ?? read());
    if (found || instanceId !== undefined) return found;
    return (await this.#instanceTasks()).find((task) => task.id === id);
  }

  putTask(row: TaskRow, previous: TaskRow): void {
    const holder = this.#holder(previous);
    if (holder) {
      holder.task = row;
      holder.dirty = true;
      return;
    }
    this.#store('tasks').put(row);
    this.#reads.writes.set(`t:${row.id}`, row);
  }

  deleteTask(row: TaskRow): void {
    const holder = this.#holder(row);
    if (holder) {
      holder.task = undefined;
      holder.dirty = true;
      return;
    }
    this.#store('tasks').delete(row.seq);
    this.#reads.writes.set(`t:${row.id}`, undefined);
  }

  replaceTask(previous: TaskRow, row: NewTaskRow): void {
    // The new task keeps the old one's claim order (and, in the tasks table, its key: one put replaces the row).
    const holder = this.#holder(previous);
    if (holder) {
      holder.task = { ...row, seq: previous.seq };
      holder.dirty = true;
      return;
    }
    const replacement: StoredTask = { ...row, seq: previous.seq, order: orderOf(previous) };
    this.#store('tasks').put(replacement);
    this.#reads.writes.set(`t:${previous.id}`, undefined);
    this.#reads.writes.set(`t:${row.id}`, replacement);
  }

  /** The first ready task by (readyMs, order) of the tasks table and of the instances: one index read of each. */
  async firstReadyTask(nowMs: number): Promise<TaskRow | undefined> {
    this.#flush();
    const [row, instance] = await Promise.all([
      this.#first<StoredTask>(this.#core.tasks, this.#core.tasksReady, between([-Infinity, -Infinity], [nowMs, Infinity])),
      this.#first<StoredInstance>(this.#core.instances, this.#core.instanceTasksReady, between([-Infinity, -Infinity], [nowMs, Infinity])),
    ]);
    const task = instance && this.#seed(instance.id, instance).task;
    if (!row) return task;
    if (!task) return row;
    return task.readyMs < row.readyMs || (task.readyMs === row.readyMs && task.seq < orderOf(row)) ? task : row;
  }

  async nextTaskReadyMs(afterMs: number, untilMs = Infinity): Promise<number | undefined> {
    this.#flush();
    const range = readyBetween(afterMs, untilMs);
    const [row, instance] = await Promise.all([
      this.#first<StoredTask>(this.#core.tasks, this.#core.tasksReady, range),
      this.#first<StoredInstance>(this.#core.instances, this.#core.instanceTasksReady, range),
    ]);
    const next = Math.min(row?.readyMs ?? Infinity, instance?.taskReadyMs ?? Infinity);
    return next === Infinity ? undefined : next;
  }

  async listTasks(filter: (row: TaskRow) => boolean): Promise<TaskRow[]> {
    const [rows, tasks] = await Promise.all([
      this.#scan<TaskRow>(this.#core.tasks, this.#core.tasks.schema.primaryKey, { type: 3 as DBCoreRangeType, lower: undefined, upper: undefined }, filter),
      this.#instanceTasks(),
    ]);
    return [...rows, ...tasks.filter(filter)];
  }

  /** The instance must have been read in this transaction (its task goes with its row). */
  deleteTasksOf(instanceId: string): void {
    const loaded = this.#loaded.get(instanceId) ?? unread('deleteTasksOf', instanceId);
    if (loaded.task) Object.assign(loaded, { task: undefined, dirty: true });
    this.#deleteAll('tasks', this.#core.tasksOf, between(instanceId, instanceId));
  }

  /** The task of every instance that has one (a scan of their index). */
  async #instanceTasks(): Promise<TaskRow[]> {
    this.#flush();
    const { instances, instanceTasksReady } = this.#core;
    const rows = await this.#scan<StoredInstance>(instances, instanceTasksReady, { type: 3 as DBCoreRangeType, lower: undefined, upper: undefined }, () => true);
    return rows.flatMap((stored) => this.#seed(stored.id, stored).task ?? []);
  }
}

/**
 * Instances a handle remembers from a start that took them as absent and failed, most often because they were present
 * (also a lost lease, a freeze, a closed connection: such an id only costs its next start a read); the oldest go first.
 */
const MAX_PRESENT = 256;

/** An instance as a transaction has it: its row without the task, and its task. */
interface Loaded {
  /** Undefined: no such instance. */
  row: InstanceRow | undefined;
  task: TaskRow | undefined;
  /** The row must be written before the transaction commits. */
  dirty: boolean;
}

/**
 * Refuses a write that keeps or drops the activity task an instance's row holds, of an instance the transaction has not
 * read (or is still reading): a bug of the store. The transaction is aborted, so nothing of it is written.
 */
function unread(operation: string, id: string): never {
  throw new StorageError(`DexieStore: ${operation} of unread instance ${JSON.stringify(id)}`);
}

/** The claim-order stamp of a row of the tasks table (0: a row of layouts 1 and 2, older than every stamp). */
function orderOf(row: TaskRow): number {
  return (row as StoredTask).order ?? 0;
}

function rowEvents(row: HistoryRow): readonly HistoryEvent[] {
  return eventsOf(row.events ?? row.event);
}
