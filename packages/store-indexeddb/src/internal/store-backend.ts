import type { HistoryEvent, OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import type { BoundedRange, EndedKey } from '@durable-rx/runtime/store-kit';
import type { ReadsAhead } from './read-ahead.js';
import type { InputRecord, InstanceRow, MessageRow, NewMessageRow, NewTaskRow, TaskRow } from './rows.js';

/**
 * The small port between the shared store logic (`idb-store.ts`) and one way of laying rows out in IndexedDB.
 * `DexieBackend` uses Dexie tables and indexes; `KeyvalBackend` uses one idb-keyval store with array keys.
 * Every operation runs inside the transaction it was handed; none commits on its own.
 */
export interface StoreBackend {
  /**
   * Runs `work` in one transaction over the tables in `scope` (an adapter may lock more; Dexie locks exactly these,
   * so that, e.g., claiming an activity does not wait for a commit). A `readwrite` transaction commits once `work`
   * resolved and every write it issued succeeded (it asks to commit at once; a write that fails aborts it); if `work`
   * rejects or a write fails, the transaction is aborted and nothing is written. Resolves only after the commit. Rejects with the error of `work` or the driver's error.
   * `reads` (readwrite only) may answer reads of instance and task rows ahead of the database (see `read-ahead.ts`);
   * when a decision may rest on such a row that the database did not confirm, the transaction is aborted, nothing of
   * it is written, and it rejects with `reads` itself: run `work` again in a new transaction. A backend may reject
   * with `reads` as well when the browser closed the connection under a transaction that did not commit, or refused
   * the transaction as it closed (the site's data cleared), to run it again on a new one; it never runs
   * a transaction again itself (the caller bounds the runs). Every instance and task row a readwrite transaction writes
   * or deletes is recorded in `reads.writes`.
   */
  transact<T>(
    mode: 'readonly' | 'readwrite', scope: readonly TableName[], work: (tx: BackendTransaction) => Promise<T>, reads?: ReadsAhead,
  ): Promise<T>;
  /**
   * True once the browser closed the backend's connection itself (the site's data cleared, a storage failure), or the
   * driver did (Dexie, at a `pagehide` that puts the page into the back/forward cache), and the backend opens no
   * other: the store closes it and opens a new backend for its next transaction, which checks the database as the
   * first open did. Absent where the backend opens a new connection itself (KeyvalStore's).
   */
  readonly dropped?: boolean;
  /**
   * Closes the connection (pending transactions finish first, but for a step of an index rebuild, which is aborted):
   * resolves once that step ended.
   */
  close(): void | Promise<void>;
  /**
   * The store begins to close: a backend that opens connections of its own (KeyvalStore's after the browser closed
   * one) fails the calls waiting for one with `StoreClosedError` now, instead of once the open is answered or bounded;
   * the step of an index rebuild under way is aborted, and no other begins; `close` follows when the calls have settled.
   */
  closing?(): void;
}

/**
 * The tables the store keeps; a transaction's scope is a list of them. `raiseKeys`: the raise-key record of each
 * instance (store-kit's `RaiseKeysRecord`), which only a keyed raise or signal-with-start and a purge touch. `inputs`:
 * the input record of each instance ({@link InputRecord}), which a commit that writes a state, a read that answers one
 * and a purge touch. `meta`: the database's marker, which only a step of an index rebuild reads and writes (see
 * `index-rebuild.ts`).
 */
export type TableName = 'instances' | 'history' | 'messages' | 'tasks' | 'raiseKeys' | 'inputs' | 'meta';

/**
 * Where a scan over the (createdMs, instanceId) order starts and ends; never empty (`fromMs` at most `toMs`). The
 * range is (fromMs, fromId) to (toMs, toId), read in ascending order, or from its upper end down with `reverse`.
 */
export interface InstanceScan {
  /** Restricts to one status (uses the status index). */
  readonly status?: OrchestrationRuntimeStatus;
  /** Restricts to one orchestrator name (uses the name index; `status` is then left to `filter`). */
  readonly name?: string;
  /**
   * Restricts to the instances with one tag pair `[key, value]` (uses the tag index; `name` and `status` are then left
   * to `filter`, which must check the row's tags too where an entry may be stale, as KeyvalStore's may).
   */
  readonly tag?: readonly [string, string];
  /** The lower key: (createdMs, instanceId). */
  readonly fromMs: number;
  readonly fromId: string;
  /** True when the row at exactly (fromMs, fromId) is excluded (keyset paging). */
  readonly fromOpen: boolean;
  /** Inclusive upper bound of createdMs (may be Infinity). */
  readonly toMs: number;
  /** The upper key's instanceId; absent: above every id of `toMs`. */
  readonly toId?: string;
  /** True when the row at exactly (toMs, toId) is excluded (keyset paging, newest first). */
  readonly toOpen?: boolean;
  /** Reads the range from its upper end down (newest first). */
  readonly reverse?: boolean;
  /** Rows the scan must return at most (after `filter`). */
  readonly limit?: number;
  /** Residual filter evaluated during the scan. */
  readonly filter?: (row: InstanceRow) => boolean;
  /**
   * While a rebuild of the name or tag index is under way, the part of the range past its place is read in paging
   * order, each row checked: at most this many rows of that part are read, and when the scan stopped there with rows
   * left to read it calls `stopped` with the (createdMs, id) of the last row read (every row up to it checked). A
   * listing's page then ends there, shorter than asked (see `LISTING_READ_BOUND`). Absent: no bound (a purge).
   */
  readonly readBound?: number;
  readonly stopped?: (at: readonly [createdMs: number, id: string]) => void;
}

/**
 * A page of {@link BackendTransaction.scanEnded} read over more transactions than one (KeyvalStore while it writes
 * its end entries after an upgrade; see its layout 16): what the transactions so far read, handed to the next as it is.
 */
export interface EndedScanPart {
  /** The place of the writing of the end entries the page's first transaction read (an `xc` key; absent: its start). */
  readonly place?: IDBValidKey;
  /** The instance rows read so far are those up to this id (none yet: absent). */
  readonly readTo?: string;
  /** The last instance id when the page began: an instance after it is newer, and has its entry once ended. */
  readonly lastId: string;
  /**
   * The last paging entry (`['xc', createdMs, id]`) when the pass began: an instance whose entry comes after it was
   * started since (or started again), and has its end entry once ended.
   */
  readonly lastEntry: IDBValidKey;
  /** The rows read so far, by id, whose paging entry comes after `lastEntry`: put in the pass's way since it began. */
  readonly added: number;
  /**
   * Present once more rows than a transaction reads were put in the way of the pass (or from its first transaction when
   * `lastEntry` is ahead of the store's clock): the rows left (ids after `readTo`) are read by their paging entries past
   * the place, walking down from `lastEntry`, below `before` (absent: from `lastEntry`). Whatever the clocks of the tabs
   * starting instances meanwhile, a tab's starts land below the walk only until it passes that tab's clock, so they
   * cannot keep the pass reading.
   */
  readonly byPaging?: { readonly before?: IDBValidKey };
  /** The earliest-ended rows of the query past the place read so far, at most the page's `limit`, in end order. */
  readonly kept: readonly InstanceRow[];
  /** More rows of the query than `limit` were read past the place: `kept` left some out. */
  readonly dropped: boolean;
  /** The rows are read from the first again, as a kept one changed meanwhile (the last time over several transactions). */
  readonly again?: true;
}

/**
 * Operations inside one transaction of a {@link StoreBackend}. Reads return promises. Writes return nothing: they
 * take effect at once, in call order, for every later read of the transaction, index reads (claims, scans, listings)
 * included, and the transaction asks to commit as soon as `work` resolved, without waiting for them (a failed write
 * aborts it) — so a step costs two round trips to the database: its reads, then its writes with the commit.
 *
 * An instance's row may hold more than {@link InstanceRow} (DexieStore keeps its first activity task there): a write
 * that keeps or drops that ({@link BackendTransaction.putInstance}, {@link BackendTransaction.deleteTasksOf}) is only
 * for an instance this transaction read, with {@link BackendTransaction.getInstance} (awaited) or an index read that
 * returned it.
 */
export interface BackendTransaction {
  getInstance(id: string): Promise<InstanceRow | undefined>;
  /**
   * Present where a backend can create an instance without reading it first: `id` is about to be created (a start, a
   * sub-orchestration), so it is probably absent. The backend may then answer its read with "absent" without asking
   * the database, and write the instance only if it is indeed absent; if it is present, the transaction is aborted,
   * nothing of it is written, and it rejects with its `reads` (run it again: the run again reads the instance). Call it
   * before the instance is read.
   */
  expectAbsent?(id: string): void;
  /**
   * Writes `row` of an instance this transaction read; `previous` is the row as the database has it (adapters that
   * keep index entries by hand need it).
   */
  putInstance(row: InstanceRow, previous: InstanceRow | undefined): void;
  deleteInstance(row: InstanceRow): void;
  /**
   * The claimable instance with the smallest (readyMs, headSeq) among those with readyMs <= nowMs. `likely`: an
   * instance that is probably it, which a layout that reads the index before the row may read (with its messages)
   * before the index answers.
   */
  firstReadyInstance(nowMs: number, likely?: string): Promise<InstanceRow | undefined>;
  /** The smallest readyMs > afterMs of any instance, and at most `untilMs` when given (as {@link BackendTransaction.nextTaskReadyMs}). */
  nextInstanceReadyMs(afterMs: number, untilMs?: number): Promise<number | undefined>;
  /**
   * Every instance on the claim schedule (with pending messages, hence every instance that holds a lease) that
   * `filter` accepts: a scan of the ready index, which leaves finished instances out.
   */
  queuedInstances(filter: (row: InstanceRow) => boolean): Promise<InstanceRow[]>;
  /** Instances in (createdMs, instanceId) order. */
  scanInstances(scan: InstanceScan): Promise<InstanceRow[]>;
  /**
   * How many tag index entries `pair` has (an entry a tab of an older layout left may be counted): what a tag filter's
   * most selective pair is chosen by (`selectiveTagPair`).
   */
  countTagged(pair: readonly [string, string]): Promise<number>;
  /**
   * The instances of `status` in end order (`lastUpdatedTime`, id) after `after` (exclusive; absent: from the first),
   * up to `toMs`, at most `limit`, from the layout's end index (DexieStore's layout 10, KeyvalStore's layout 16):
   * `Store.listEnded`. A backend may answer with an {@link EndedScanPart} instead, a page it reads over more
   * transactions than one: run `scanEnded` again with the same query and that part, in a new readonly transaction,
   * until it answers with the rows.
   */
  scanEnded(status: OrchestrationRuntimeStatus, after: EndedKey | undefined, toMs: number, limit: number, part?: EndedScanPart): Promise<InstanceRow[] | EndedScanPart>;
  /** The largest createdMs of any instance (the last of the paging order), `undefined` when there is none. */
  newestCreatedMs(): Promise<number | undefined>;

  /**
   * The keys of an instance's raise-key record (store-kit's `RaiseKeysRecord`), `undefined` when it has none. Read
   * from the database (never ahead): only a keyed raise or signal-with-start reads it, in a scope with `raiseKeys`.
   */
  getRaiseKeys(instanceId: string): Promise<readonly string[] | undefined>;
  /** Writes an instance's raise-key record, replacing the stored one. */
  putRaiseKeys(instanceId: string, keys: readonly string[]): void;
  /** Deletes an instance's raise-key record, if any (a purge, in a scope with `raiseKeys`). */
  deleteRaiseKeys(instanceId: string): void;

  /**
   * The instance's input record ({@link InputRecord}), `undefined` when it has none. Read from the database (never
   * ahead), in a scope with `inputs`.
   */
  getInput(instanceId: string): Promise<InputRecord | undefined>;
  /** Writes the instance's input record, replacing the stored one. */
  putInput(instanceId: string, record: InputRecord): void;
  /** Deletes the instance's input record, if any. */
  deleteInput(instanceId: string): void;

  /**
   * History events of an instance at positions `from` up to, not including, `to` (`Infinity`: to the end), reading
   * only the rows that hold them.
   */
  readHistory(instanceId: string, range: BoundedRange): Promise<HistoryEvent[]>;
  /** Number of stored history events (position after the last one). */
  historyEnd(instanceId: string): Promise<number>;
  /** Writes `events` at positions `from`, `from + 1`, ... */
  appendHistory(instanceId: string, from: number, events: readonly HistoryEvent[]): void;
  deleteHistory(instanceId: string): void;

  /**
   * Stores a message for `instance` (its row as this transaction has it). Gives its arrival sequence number, greater
   * than every earlier one of that instance: at once when the layout numbers messages itself (then the row's
   * `tailSeq` must be set to it), or as a promise when the database does; awaiting it is optional (a failure fails
   * the transaction either way).
   */
  addMessage(row: NewMessageRow, instance: InstanceRow): number | Promise<number>;
  /**
   * Present where the database numbers messages: stores a message before its instance is read, so that its number
   * comes back with the reads instead of a round trip later (the instance's claim schedule needs it when the message
   * is the oldest pending one). A message stored ahead that the commit does not deliver must be deleted again by its
   * number; the transaction aborts if this write fails.
   */
  addMessageAhead?(row: NewMessageRow): Promise<number>;
  /** Pending messages of an instance in arrival order. */
  listMessages(instanceId: string): Promise<MessageRow[]>;
  /** Deletes messages by key (instance and sequence number). */
  deleteMessages(rows: readonly Pick<MessageRow, 'instanceId' | 'seq'>[]): void;
  deleteMessagesOf(instanceId: string): void;

  /**
   * Adds a task: among tasks ready at the same time, claimed after every task added before it (of any instance, read
   * by this transaction or not).
   */
  addTask(row: NewTaskRow): void;
  /**
   * The task with this id. `instanceId`, when given, must be the task's instance (as its row says): a layout that
   * keeps tasks in their instance then reads that instance instead of looking through every instance with tasks.
   */
  getTask(id: string, instanceId?: string): Promise<TaskRow | undefined>;
  putTask(row: TaskRow, previous: TaskRow): void;
  deleteTask(row: TaskRow): void;
  /**
   * Deletes `previous` and adds `row` (another task) in its place: a step that completes one activity and schedules
   * the next. A layout may reuse the slot of `previous` (its sequence number), so one write does both.
   */
  replaceTask(previous: TaskRow, row: NewTaskRow): void;
  /** The task with the smallest (readyMs, seq) among those with readyMs <= nowMs. */
  firstReadyTask(nowMs: number): Promise<TaskRow | undefined>;
  /**
   * The smallest readyMs > afterMs of any task, and at most `untilMs` when given: a look for work due by then does not
   * read past it (see {@link IdbStoreSettings.indexEntriesOutlive}).
   */
  nextTaskReadyMs(afterMs: number, untilMs?: number): Promise<number | undefined>;
  /** Deletes every task of an instance this transaction read (or deleted). */
  deleteTasksOf(instanceId: string): void;
  /** Every activity task that `filter` accepts. */
  listTasks(filter: (row: TaskRow) => boolean): Promise<TaskRow[]>;
}
