import { promisifyRequest, type UseStore } from 'idb-keyval';
import { isTerminalStatus, type Clock, type HistoryEvent, type OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import {
  compareEndedKeys, endedKeyOf, matchesEndedQuery, sameTags, tagPairsOf, type BoundedRange, type EndedKey, type EndedQuery,
} from '@durable-rx/runtime/store-kit';
import { IncompatibleSchemaError } from '../errors/incompatible-schema-error.js';
import { errorNames, mapStorageError, missingApi } from './map-storage-error.js';
import {
  eventsOf, historyFrom, isMemberOf, type InputRecord, type InstanceRow, type MessageRow, type NewMessageRow, type NewTaskRow, type TaskRow,
} from './rows.js';
import { PendingWrites } from './pending-writes.js';
import { BrowserClose, finishChecked, refusedWhileClosing } from './idb-transaction.js';
import type { PageFreeze } from './page-freeze.js';
import { firstTask } from './first-task.js';
import { OpenGate, type OpenAttempt } from './open-gate.js';
import { EVERY_PLACE, IndexRebuild, splitRange, type Place, type PlaceRange } from './index-rebuild.js';
import { ReadsAhead } from './read-ahead.js';
import type { BackendTransaction, EndedScanPart, InstanceScan, StoreBackend, TableName } from './store-backend.js';

/**
 * Version of the KeyvalStore key layout, recorded under the key `['meta']`. A KeyvalStore refuses (with
 * `IncompatibleSchemaError`) a database whose recorded version is higher: newer code wrote it.
 *
 * @example
 * ```ts
 * console.log(`KeyvalStore layout v${KEYVAL_SCHEMA_VERSION}`);
 * ```
 */
export const KEYVAL_SCHEMA_VERSION = 16;

/**
 * The IndexedDB version KeyvalStore opens its database at. Layouts up to 14 opened it through idb-keyval's
 * `createStore`, without a version (so at 1); layout 15 opens it at 2 ({@link openKeyvalStore}), and the upgrade from 1
 * sends every connection of older code a `versionchange`, on which that code closes its connection and fails its calls
 * with `DatabaseUpgradingError` (reload the page): it would read this layout's starts without their input (see the
 * layout, layout 15). Older code that opens the database later opens it at 2 (no version asked) and refuses it by the
 * marker. A layout that older code must not run beside raises it again: layout 16 to 3 (its end entries, which older
 * code would not write when it ends, changes or purges an instance).
 */
export const KEYVAL_DB_VERSION = 3;

/**
 * Key layout in the one object store idb-keyval gives us. Array keys sort element by element, so each prefix is a
 * table and `[prefix, ..., MAX]` bounds a range; index entries are keys whose value is 0 (`xc` excepted).
 *
 *   ['meta']                         schema marker
 *   ['i', id]                        InstanceRow with up to MAX_PACKED_TASKS of its tasks (StoredInstance)
 *   ['h', id, n]                     history events from n (v1: event n)
 *   ['m', id, seq]                   MessageRow
 *   ['xr', readyMs, headSeq, id]     claim order
 *   ['xp', readyMs, seq, id]         task claim order: one entry per instance with tasks (layout 7)
 *   ['xc', createdMs, id]            paging order; its value is the instance's status when terminal, else 0
 *   ['xn', name, createdMs, id]      paging order per orchestrator name (layout 9, rebuilt since 13), for the name filter
 *   ['xg', key, value, createdMs, id] paging order per tag pair (layout 11, rebuilt since 13), for the tag filter
 *   ['t', taskId]                    a task row: a task beyond an instance's packed ones (layout 8), or of layout 5
 *   ['xt', readyMs, seq, taskId]     claim order of the task rows
 *   ['xi', instanceId, taskId]       the task rows of each instance (layout 8), for purges
 *   ['k', id]                        the instance's raise-key record, its keys (layout 10)
 *   ['in', id]                       the input record of the instance's execution, { executionId, createdMs, input } (layout 12)
 *   ['xe', status, endedMs, id]      end order of the ended instances per terminal status (layout 16), for `listEnded`
 *
 * Layout 6 packs an instance's activity tasks into its value: a step reads and writes that value anyway, so
 * scheduling, claiming and completing a task costs no request of its own. The `xp` entry of an instance (its key's
 * readyMs and seq are kept in the value as `tasksReadyMs` and `tasksSeq`) is never later than its first task by
 * (readyMs, seq) ({@link firstTask}), so the first entry leads to the oldest task of all, whatever the instance ids. A
 * step that replaces a leased task with the next one, whose lease ends later, leaves an entry that is not yet due where
 * it is (no index write per step); a claim that finds an entry early moves it to the instance's first task and looks
 * again; the worker of a lost lease wakes a little early at worst. A task is found by its instance (a commit
 * reads it), by its task row, or, for a lease renewed or abandoned by task id alone, among the instances with an
 * `xp` entry. The handle that leased a task remembers its instance (`IdbStore`), so only a renewal or abandon from
 * another handle (another store object, or past the leases a handle remembers) reads every instance with tasks. That
 * look stays O(N) by design: neither the task id (a UUID) nor the lease token (a worker makes those it takes in a
 * commit) names the instance; the one object store idb-keyval opens has no index IndexedDB could keep (its
 * `createStore` never upgrades the database, and an index needs an upgrade); and an entry per task id would cost every
 * step two requests (its put when a task is scheduled, its delete when the task completes) for a call that only
 * another handle makes.
 *
 * Layout 8 packs at most {@link MAX_PACKED_TASKS} tasks per instance, the oldest by seq; the others are task rows under
 * `['t', taskId]` (layout 5's rows), each with its claim-order entry `xt` and an entry `['xi', instanceId, taskId]` that
 * a purge or replacement lists to find them. Packed, every claim and completion of a fan-out of N tasks rewrote all N
 * (a fan-out cost time quadratic in N); as rows, each costs the same few requests on small values whatever N, and a
 * step of a sequence (one task, or a few) still writes its tasks with its instance. The instance's tasks are split
 * when its value is written ({@link KeyvalTransaction.#spillTasks}), so a value that packs more (older code) is split
 * by the next write here. Claims merge the first `xp` and the first `xt` entry by (readyMs, seq): oldest first across
 * packed tasks and rows.
 *
 * Layout 9 adds the `xn` entries: an instance's entry changes only with its createdTime or name (a new execution), so a
 * step writes none. Older code still open in another tab writes no `xn` entry for the instances it starts (or starts
 * again), and leaves the entry of one it starts again or purges: a name filter misses the instances that tab started
 * (nothing else does; `xc` stays exact) until the upgrade to layout 13 rebuilds the entries, and passes over an entry
 * that is not its row's, so it never lists a row out of its place.
 *
 * Layout 10 keeps the keys of an instance's keyed raises in a value of their own under `['k', id]` (store-kit's
 * `RaiseKeysRecord`): a keyed raise reads and writes that small value instead of the instance's (which holds its
 * input), and a purge deletes it. Opening an older layout writes nothing: keys a state of an earlier layout carries
 * (`InstanceState.raisedEventKeys`) still count, and stay in the state (new keys go to the record). Older code still
 * open in another tab keeps the keys of the raises it makes in the state, and they count here as well (with those of
 * the record); it reads no record, so a repeat there of a raise made here is delivered again; purging an instance it
 * leaves the record, whose keys then count against a new instance of the id until that tab reloads and purges no more
 * (nothing else: a raise with another key is delivered).
 *
 * Layout 11 adds the `xg` entries, one per tag pair of an instance: they change only with its createdTime or tags (a new
 * execution), so a step writes none. Layout-10 code still open in another tab, as for `xn`: it writes no `xg` entry for
 * the instances it starts (a tag filter misses those until the upgrade to layout 13) and leaves the entries of one it
 * starts again or purges, which a tag listing checks against the row (its createdMs and the pair) and passes over.
 *
 * Layout 12 keeps the input of an instance's execution in a value of its own under `['in', id]` (`InputRecord`), written
 * by the commit that creates the execution (a start, a restart, a `continueAsNew`), so that a step, a raise, a claim's
 * lease or an activity result rewrites the instance's value without it (the value's state has none, and says so:
 * `inputApart`). A read that answers a state with its input (a status read, a listing, a claim) reads the record too,
 * and a purge deletes it. Opening an older layout writes nothing: a value of an earlier layout keeps its input in its
 * state, which reads take as it is, until the instance's next write moves it out. Layout-11 code still open in another
 * tab reads the values of this layout without their input: its status reads and listings show none, the states its
 * claims hand out have none (its steps read the input from the history, as every step does) and the changes it
 * publishes of such an instance carry none, until a tab of this layout commits the instance again; a restart or a fork
 * it makes of such an instance starts the new execution without input (it read none). A new execution it starts with
 * an input keeps it in the state, which wins over the record here (the record names the execution it is of); a
 * purge there leaves the record, which names an execution no later row has, and is deleted by the next purge of the id
 * here.
 *
 * Layout 13 writes nothing new: opening an older layout rebuilt every `xn` and `xg` entry from the rows (all deleted,
 * then each row's written; layouts 9 and 11 only wrote the entries a row lacked when they were opened), and so does
 * every later upgrade from a layout before 14 (see layout 15). So the instances that code of layouts 8 and 10 started beside layouts 9 to 12 (which the name
 * and tag filters, and the purges by name or tags, missed for good) get their entries, and the entries such code left
 * behind go. Code of layout 10 or older still open in another tab beside this layout leaves the same gaps (it writes
 * the instances it starts without these entries) until the next upgrade; layouts 11 and 12 write every entry this one
 * does, and nothing cheaper tells a reader that such a tab wrote (it writes the keys every layout writes).
 *
 * Layout 15 keeps an execution's input only in its record: the start message of the execution and the
 * `ExecutionStarted` event its first step records are written without it, marked `inputInRecord` with the run's
 * creation time (rows.ts's `startWithoutInput`, the rule of both IndexedDB stores), and get it back from the record
 * wherever they are read: a claim (which reads the record for the state anyway, or knows the input), a history read (a
 * read from position 0 reads the record once, unless the handle knows the input; one past the start reads none). A start
 * of 1 MB input wrote 2 MB at `startNew` and 3 MB over a run; it writes 1 MB at `startNew` and over the run, and so does
 * a fork (its copied start names the fork's execution: `forkHistory`). A purge deletes the record with the history
 * and messages, a new execution (a `continueAsNew`, a restart) replaces the history and writes its own record. Opening
 * an older layout writes nothing new: its starts hold their input, and are read as they are. Code of layout 14 or older
 * must not run beside it (its claims and history reads would hand out starts without input, and its replays run with
 * none): the database's IndexedDB version goes from 1 to 2 ({@link KEYVAL_DB_VERSION}), which closes such code's
 * connections; one that does not close (a frozen tab) holds the open, which fails with `DatabaseBlockedError` after
 * `openTimeoutMs` until it does. Its upgrade from layout 14 rebuilds no name or tag entry (layout 14 writes them all):
 * it goes on with the rebuild the marker names, if any, from its place.
 *
 * Layout 16 adds the `xe` entries, one per ended instance: `['xe', status, endedMs, id]`, `endedMs` its
 * `lastUpdatedTime` (store-kit's `endedKeyOf`), the order `Store.listEnded` lists in (a retention sweep's listing). The
 * commit that writes the row writes the entry ({@link endedKeys}): a step of a running instance none, the step that
 * ends it one put, a change recorded on an ended instance (or a restart) a delete and at most one put, a purge one
 * delete, in the same transaction as the row. A page of `listEnded` is one key range of them (`getAllKeys`, bounded by
 * the page's size) and the reads of its rows. Code of layout 15 must not run beside it (it would end
 * and purge instances without their entries, which a sweep would then never list, or list an entry of a row no longer
 * ended): the IndexedDB version goes from 2 to 3, as layout 15 raised it, with the same holds by a tab that does not
 * close.
 *
 * Opening an older layout writes no end entry in the open's transaction: it marks the database with the place of their
 * writing (`ended`, {@link EndedRebuild}: from the start), and the store writes them after the open in the steps of the
 * rebuild of layout 14 (the same runner, transactions and place in the marker, this writing before any rebuild of the
 * name and tag entries), each step the entries of the ended instances among the next {@link SCAN_BATCH} `xc` entries
 * (their value holds the terminal status, exact since layout 4; only those rows are read). Written in the open, they
 * held every call of the store for 22 s with 20,000 ended instances in headless Chromium at load 20 (13.6 s at load
 * 13): the first call now comes after 0.7 to 1.4 s at load 13 to 17, and the steps write the entries in some 30 s
 * meanwhile, each call waiting for one step at most. A commit of this layout writes the entry of every instance it
 * writes, so only the instances that ended before the upgrade and have not changed since lack one, and those are past
 * the place: a page of `listEnded` read while the writing is under way reads the place, its key range of entries and
 * the rows past the place of its status, merged in end order, each instance once (store-kit's `matchesEndedQuery`
 * decides for those rows; see {@link KeyvalTransaction.scanEnded}). So every page is exact however far the writing
 * moved since the last. With at most {@link SCAN_BATCH} instances past the place, that is one transaction, which reads
 * those rows whose `xc` entry holds the page's status. With more, the page reads the instance rows {@link SCAN_BATCH}
 * at a time in id order, up to the last instance there was when it began, a readonly transaction each, keeping only the
 * page's `limit` earliest-ended of them past the place, and reads its entries and those kept rows again in its last
 * transaction (a row that changed between two has its own entry by then; when a kept one changed and rows were left out
 * for it, as when another tab's sweep purges the rows this page keeps, the page reads the rows again the same way, and
 * only if that happens once more, its last transaction reads them all by itself): memory in proportion to
 * {@link SCAN_BATCH} rows and the page, not the database, and the store's writes wait for one of those transactions at
 * most (but after two such changes), none of which reads more than {@link SCAN_BATCH} rows. Rows another tab starts
 * meanwhile with ids among those the page has still to read are in its way (they are this layout's, with their end
 * entries once ended, so it needs none of them), and a tab starting them faster than the page reads would keep it
 * reading: once a pass read more than {@link SCAN_BATCH} rows whose `xc` entry comes after the last there was when it
 * began, it walks down the `xc` entries from that last one to the place instead, {@link WALK_WINDOW} entries a
 * transaction, and reads one by one the rows of those that hold the page's status with an id it has not read,
 * {@link SCAN_BATCH} a transaction at most. A row without its end entry has been as it is since before the pass began,
 * so its `xc` entry is there. An `xc` entry holds the creation time on the clock of the tab that started the
 * instance; that clock goes up while the walk goes down, so a tab's starts land below the walk only until the walk has
 * passed its clock, whatever it says, and cannot keep the pass walking. When the last entry is ahead of the store's
 * clock (an instance started by a tab whose clock is ahead, or before the clock was set back), every tab's starts come
 * before it and none would be told by it: the pass walks from its first transaction. (Walking up, as this layout did
 * first, a tab whose clock was behind, or every tab while the last entry was ahead, kept a page reading as long as it
 * started instances: in the layout test, 23 reads by id of 256 rows until the inserting tab stopped.) Only a tab whose
 * clock is behind the creation time of the last instance, while that one is not ahead of the store's clock, still puts
 * instances among the rows read by id without their being told, and only until its clock passes that time: no longer
 * than it is behind the store's clock (with the system clock, which every tab shares, only the starts under way as the
 * pass begins); with random ids, their share of the ids left shrinks as the pass reads. Before, a pass read as many
 * rows as the
 * store's last such pass read, then counted those it had left and read them in as many transactions, the last
 * reading all it had left at once: the count of all 20,000 rows at a store's first such page held the writes 37 to
 * 214 ms at load 2 to 5 (70 to 680 ms at load 8 to 15), and every row another tab started after the count with an id
 * among those left was in that last read, however many (700 in the layout test: 444 left and 256 put in the way). With
 * 20,000 instances in headless Chromium at load 8 to 10, a page of 100 takes 0.4 to 0.6 s in 80 transactions, and a
 * write beside it waits 4 to 8 ms (median), 21 to 62 ms at most (303 ms, the page 1.5 s, beside the first page after
 * the database was written, 103 to 160 ms beside a store's first page before, with its count, at load 6 to 9). Beside a
 * connection starting instances 256 a transaction as fast as it can (24,320 during the page), a first page read 256
 * rows a transaction at most in 94 (before, one of its transactions read 12,557 rows); such a page takes minutes either
 * way, the writes waiting mostly for those starts. Each of its transactions waits for one of those starts (about a
 * second at load 11 to 15): walking up 256 entries a transaction went over all 20,000 again whatever the reads by id
 * had read (94 transactions, 92 and 125 s); walking down 1,024 a transaction takes 68 (69 and 79 s, in pairs beside
 * those; 17,664 starts beside it against 24,320), one more since the page's rows are read in a transaction of their own. Reading every instance row at once (one `getAll`, as this layout did
 * first), a page took 0.2 to 1.4 s (1.1 to 1.5 s at load 13 to 17) with every row in memory, and the writes waited for
 * all of it; 1,024 rows a transaction waited 12 to 18 ms (median), and the rows of the status alone, found by
 * their `xc` entries and read one by one, took 1.0 to 2.8 s a page. A page once the entries are written: 20 ms. A
 * reload, a freeze or a close cuts the writing short between steps and the next open (in any tab of this layout) goes
 * on from the place; the tabs open at once share it, each step reading the place the last left, so each entry is
 * written once.
 *
 * Layout 14 writes no new key either: it rebuilds the same entries without holding the open. Layout 13 did it in the
 * open's transaction, one put per entry: 5.6 s for 20,000 instances with a name and two tags in headless Chromium at
 * load 4 (17 s at load 19), which every call of the store waited for, so past some 35,000 instances on a slow machine
 * the first calls after an app update could pass a runtime's `storeCallTimeoutMs`. Opening an older layout now only
 * marks the database, with the rebuild's place in the marker (`rebuild`, {@link EntriesRebuild}); the store then runs
 * the rebuild in steps of {@link SCAN_BATCH} instances or entries, a readwrite transaction each (its calls queue behind
 * one step at most), writing the entries the rows lack (nothing for those they have: the entries of a name or tag pair
 * of a step's instances are one key range, read at once) and then deleting those that no instance has (an `xc` entry
 * says which instances there are, read by key range too). Each step moves the place on in its own transaction, so a
 * rebuild cut short (a reload, a freeze, a close) leaves a consistent database and goes on at the next open, in any tab
 * of this layout; in a tab whose steps stopped, at the page's resume (a freeze) or at the store's next call of any
 * kind (a failed step; after failed steps in a row, once a wait has passed: see IndexRebuild); the tabs that open meanwhile share it, each step reading the place. It never deletes an entry that is its row's, so code that
 * trusts the entries meanwhile (layout 13 in another tab) misses only the instances it missed before. This layout
 * trusts them, while the marker names a rebuild, only up to the rebuild's place: the `rows` step writes the entries in
 * paging order, so every instance up to its `after` has them (the `xg` and `xn` steps only delete entries, which reads
 * pass over). A listing or purge by name or tags reads the marker (one request, until it sees the rebuild done), the
 * entries up to that place, and past it the `xc` entries, checking the name or tag pair on each row. Both are in paging
 * order and read in one transaction with the marker, so a page is exact however far the rebuild moved since the last
 * (see {@link KeyvalTransaction.scanInstances}). The part past the place costs what a filter no entry serves costs, so
 * a listing's page reads at most `LISTING_READ_BOUND` (512) rows of it and then ends, shorter than asked, with a token
 * at the last row read (`InstanceScan.readBound`); a purge reads it all. Unbounded, a page of a rare name among 20,000
 * instances read every row of that part up to its last one (headless Chromium at load 17 to 32: 6.0 to 6.6 s with the
 * rebuild at its start, 0.27 to 0.35 s at 18,000; 5 ms once rebuilt).
 *
 * A paging value changes only when an instance becomes terminal or stops being so: a step from Pending to Running
 * (or to and from Suspended) writes no index entry, and a status query reads the rows of the entries without a
 * terminal status (as it reads every row it returns anyway).
 *
 * Sequence numbers come from the clock ({@link stamp}), kept increasing per instance by the row's `tailSeq`: no
 * shared counter to read and write in every transaction. Layouts 1 and 2 kept a counter under `['seq']` (its
 * numbers are far below any stamp, so their pending messages stay first) and an index of the tasks of each instance
 * under `['xti', instanceId, taskId]`; layouts 1 to 3 kept paging by status under `['xs', status, createdMs, id]`
 * (and 0 as the value of `xc`). Opening such a database deletes the task index and the status entries, and writes
 * the statuses into `xc`. Older code may still be open in another tab, and it checks the layout only when it opens:
 * - the counter stays, so such a tab keeps numbering its messages far below any stamp and never reuses the key of a
 *   pending message (with the counter gone it would count from 1 again);
 * - such a tab writes paging entries without a status, and changes a status by writing an `xs` entry while leaving the
 *   old status in `xc`. So an entry without a status is checked against its row, and while any `xs` entry exists a
 *   status query checks every row instead of trusting the statuses in `xc`.
 * Layout 4 kept every status in `xc`: its terminal ones are exact and its others are checked against the row (a step
 * of layout 5 from Pending to Running leaves 'Pending' there), so opening it changes nothing but the marker. Layout-4
 * code still open in another tab trusts every status string: a status query there may miss an instance whose
 * non-terminal status this layout changed (nothing is written wrongly; its next query after a reload is exact).
 * Layout 5 kept each task as a row of its own: opening it gives each row its `xi` entry (see layout 8), and its task
 * rows are still claimed, completed and purged. Layout-5 code still open in another tab reads tasks only from `t` and
 * `xt`, so it never claims a packed task (the tabs of this version run them) and never busy-loops on an `xp` entry;
 * it rewrites an instance value by copying what it read, so the tasks survive its steps; purging or replacing an
 * instance it drops the tasks with the value and leaves the `xp` entry, which a claim here deletes when it meets it
 * (the entry is not the instance's own: no value, or another `tasksReadyMs`). The task rows it writes have no `xi`
 * entry: a purge here leaves them, and their results are dropped (the instance is gone, or runs another execution).
 * Layout 6 keyed the `xp` entries `['xp', readyMs, id]`: unleased tasks all have readyMs 0, so instances were claimed
 * in id order, and one with a small id and many tasks kept the others waiting. Opening it moves each entry to its
 * instance's first task. Layout-6 code still open in another tab keeps writing such entries (they sort after the
 * entries of the same ms) and claims by its own rule; a claim here that meets one deletes it and, when the instance
 * has tasks, puts the instance's entry where it belongs.
 * Layout 7 packed every task of an instance: opening it writes each instance's tasks beyond the packed ones as rows,
 * and gives the task rows of layout 5 their `xi` entries. Layout-7 code still open in another tab reads task rows as
 * layout 5's: it claims, renews and completes them (deleting a row, it leaves the `xi` entry, which a purge here
 * deletes when it lists it), and a purge there finds them by reading every task row. It packs every task it schedules;
 * this layout splits them when it next writes the instance. It writes a task row only for a task of an instance it
 * has not stored yet, which the runtime never asks for; such a row has no `xi` entry, so a purge here leaves it, and
 * its result is dropped (its instance is gone, or runs another execution).
 */
const META_KEY = ['meta'];
/** Layouts 1 and 2: the tasks-of-an-instance index. */
const OLD_TASKS_OF_PREFIX = 'xti';
/** Layouts 1 to 3: paging by status. */
const OLD_BY_STATUS_PREFIX = 'xs';
/** An array sorts after every number and string. */
const MAX: never[] = [];
/**
 * At most this many tasks of an instance are packed into its value (layout 8); the others are task rows. A step of a
 * sequence schedules one or a few and writes the instance anyway, so packing saves it every task write; a fan-out of N
 * tasks packed would make each of its N claims and N completions rewrite all of them (quadratic), while rows make each
 * a constant number of requests on small values.
 */
export const MAX_PACKED_TASKS = 8;
/**
 * Instances a handle remembers from a start that took them as absent and failed, most often because they were present
 * (also a lost lease, a freeze, a closed connection: such an id only costs its next start a read); the oldest go first.
 */
const MAX_PRESENT = 256;
/**
 * Keys read per request while scanning instances; rows or entries per step of the rebuilds after the open (see the
 * layout, layouts 14 and 16); instance rows per transaction of a page of `listEnded` while the end entries are written
 * ({@link KeyvalTransaction.scanEnded}).
 */
const SCAN_BATCH = 256;
/**
 * At most this many keys of one key range are read at once by a step of the rebuild of the name and tag entries (see
 * {@link KeyvalTransaction.rebuildEntries}); a range that holds more is looked up key by key.
 */
const REBUILD_WINDOW = 2 * SCAN_BATCH;
/**
 * `xc` entries (keys and their small values) a transaction of a page's walk down the paging entries reads at most, of
 * which it reads the rows of {@link SCAN_BATCH} at most (see {@link KeyvalTransaction.#endedByPaging}).
 */
const WALK_WINDOW = 4 * SCAN_BATCH;

interface MetaValue {
  readonly version: number;
  readonly store: 'durable-rx/keyval';
  /** The rebuild of the name and tag entries under way (layout 14): where its next step starts. Absent once done. */
  readonly rebuild?: EntriesRebuild;
  /** The writing of the end entries under way (the upgrade to layout 16): where its next step starts. Absent once done. */
  readonly ended?: EndedRebuild;
}

/**
 * Where the writing of the end entries goes on (see the layout, layout 16): the `xe` entries of the ended instances in
 * paging order after the `xc` entry `after` (from the first without it) are still to be written.
 */
interface EndedRebuild {
  readonly after?: IDBValidKey;
}

/**
 * Where the rebuild of the name and tag entries goes on (see the layout, layout 14): `rows` writes the entries the
 * instance rows lack, in paging order after the `xc` entry `after`; `xg`, then `xn`, delete the entries of that prefix
 * after the key `after` that no instance has.
 */
interface EntriesRebuild {
  readonly step: 'rows' | 'xg' | 'xn';
  readonly after?: IDBValidKey;
}

/** What the transactions of a backend share about the rebuilds of the name and tag entries and of the end entries. */
interface EntriesState {
  /** The marker named a rebuild under way when last read: the name and tag entries, or the end entries, may miss instances. */
  pending: boolean;
  /** Runs the rebuild's steps in the background, unless they run already. */
  resume(): void;
}

/**
 * Begins opening the idb-keyval store `storeName` of database `name` (created on first use: {@link openKeyvalStore}),
 * checking its schema marker and watching for other connections that want to upgrade the database. The open uses the
 * global `indexedDB`; `keyRange` defaults to the global `IDBKeyRange`, read here (a store made where there is none, in
 * server-side rendering, fails its calls with a StorageError instead: see {@link KeyvalBackend.#connect}). `clock` is
 * the store's: it tells whether a task entry is still in the future. The open is answered late when queued behind
 * another connection's upgrade or deletion, or when it upgrades the database from an older layout's IndexedDB version
 * ({@link KEYVAL_DB_VERSION}) and a connection of older code does not close.
 * `openTimeoutMs` bounds the wait for a new connection after the browser closed one (see {@link KeyvalBackend.transact}).
 * `page`: the store's, which aborts its transactions when the page freezes (see {@link PageFreeze}): the layout check's
 * too, and `opened` then rejects with `page` (the store opens again once the page resumes). The upgrade that creates
 * the database (its object store) is never at work at a freeze: it has no request, so it commits as its
 * `upgradeneeded` event ends, and no other event (a `freeze`) runs in between.
 */
export function startKeyvalOpen(
  name: string, storeName: string, keyRange: typeof IDBKeyRange | undefined, clock: Clock, onVersionChange: () => void,
  openTimeoutMs: number, page?: PageFreeze, onReopened?: () => void, onDropped?: () => void,
): OpenAttempt {
  const range = keyRange ?? (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
  const backend: KeyvalBackend = new KeyvalBackend(
    openKeyvalStore(name, storeName, (event) => backend.blocked(event)), name, storeName, range, clock, onVersionChange, openTimeoutMs,
    page, onReopened, onDropped,
  );
  const { opened, answered, blocked } = backend.openAttempt();
  const checked = opened.then(() => backend, (error: unknown) => {
    backend.close();
    throw error;
  });
  checked.catch(() => undefined);
  return { opened: checked, answered, blocked };
}

/**
 * idb-keyval's `createStore`, at least at {@link KEYVAL_DB_VERSION}: its function opens a connection on first use and
 * again after the browser closed the last, and runs each call in a transaction of `storeName`. It opens without a
 * version, as idb-keyval does (so it queues behind nothing but the requests before it), and only a database below that
 * version (new, or of an older layout) is opened again at it, which upgrades it: an upgrade that creates the object
 * store in a new database, and changes nothing in an older one but its version. An existing database without the object
 * store is someone else's and is left as it is (the open fails with a `NotFoundError`, as a transaction on the missing
 * store does). `onBlocked` is told when IndexedDB reports that upgrade blocked by a connection that does not close.
 */
function openKeyvalStore(name: string, storeName: string, onBlocked: (event: Event) => void): UseStore {
  let connecting: Promise<IDBDatabase> | undefined;
  const openAt = (version?: number): Promise<IDBDatabase> => {
    const request = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    request.onblocked = onBlocked;
    let foreign = false;
    request.onupgradeneeded = (event) => {
      if (request.result.objectStoreNames.contains(storeName)) return;
      foreign = event.oldVersion > 0;
      if (foreign) request.transaction!.abort();
      else request.result.createObjectStore(storeName);
    };
    return promisifyRequest(request).catch((error: unknown) => {
      throw foreign ? new DOMException(`No object store ${JSON.stringify(storeName)}`, 'NotFoundError') : error;
    });
  };
  const connection = (): Promise<IDBDatabase> => {
    if (connecting) return connecting;
    const opened = openAt().then((db) => {
      if (db.version >= KEYVAL_DB_VERSION) return db;
      db.close();
      return openAt(KEYVAL_DB_VERSION);
    });
    connecting = opened;
    opened.then((db) => {
      db.addEventListener('close', () => (connecting = undefined));
    }, () => {
      connecting = undefined;
    });
    return opened;
  };
  return (mode, work) => connection().then((db) => work(db.transaction(storeName, mode).objectStore(storeName)));
}

/**
 * Reads the schema marker of the database in a readwrite transaction, before anything else is made on its connection:
 * an empty database without one (new, or cleared by the browser) or one with an older layout is marked as this one (an
 * older layout upgraded first, but for the rebuilds of the name and tag entries and of the end entries, which the marker
 * names and the store runs later in steps: see the layout, layouts 14 and 16), so older code refuses it from then on;
 * one of a newer layout or of someone else, or one that holds keys without a marker, is refused. Resolves true when
 * the marker names a rebuild under way.
 */
async function checkLayout(store: IDBObjectStore, name: string, keyRange: typeof IDBKeyRange, clock: Clock): Promise<boolean> {
  const meta = await promisifyRequest<MetaValue | undefined>(store.get(META_KEY));
  // Keys but no marker: written by older code after the browser cleared the database (older code checks the layout
  // only when it opens, and wrote no marker to a database cleared under it), or by someone else. Marking it would take
  // its keys for this layout's without upgrading them.
  if (!meta && (await promisifyRequest(store.getAllKeys(null, 1))).length) {
    throw new IncompatibleSchemaError(`Database ${JSON.stringify(name)} holds keys without a layout marker; this KeyvalStore reads version ${KEYVAL_SCHEMA_VERSION}`);
  }
  // An older layout is read as it is and marked as this one, so older code refuses the database from now on.
  if (!meta || (meta.store === 'durable-rx/keyval' && meta.version < KEYVAL_SCHEMA_VERSION)) {
    if (meta && meta.version < 3) {
      // Layout 3 dropped the tasks-of-an-instance index and no longer uses the counter, which stays for older code
      // still open elsewhere (see the layout above).
      store.delete(keyRange.bound([OLD_TASKS_OF_PREFIX], [OLD_TASKS_OF_PREFIX, MAX]));
    }
    if (meta && meta.version < 4) {
      // Layout 4 keeps the status as the value of the paging entry instead of a second entry per instance.
      const byStatus = keyRange.bound([OLD_BY_STATUS_PREFIX], [OLD_BY_STATUS_PREFIX, MAX]);
      const old = await promisifyRequest(store.getAllKeys(byStatus)) as [string, string, number, string][];
      for (const [, status, createdMs, id] of old) store.put(status, ['xc', createdMs, id]);
      store.delete(byStatus);
    }
    if (meta && meta.version < 7) await upgradeTaskEntries(store, keyRange);
    if (meta && meta.version < 8) await upgradeTaskRows(store, keyRange, clock);
    // Since layout 13, every upgrade from a layout before 14 rebuilds the name and tag entries from the rows (see the
    // layout): none missing, none left behind. Since layout 14 in steps after the open. Code of layout 14 writes every
    // entry, so an upgrade from it only goes on with the rebuild its marker names, from its place: restarted, the
    // listings by tags meanwhile failed with a DataError.
    const rebuild: EntriesRebuild | undefined = !meta ? undefined : meta.version >= 14 ? meta.rebuild : { step: 'rows' };
    // The end entries of the instances that ended before layout 16 are written in steps after the open too, from the
    // first instance of the paging order (see the layout, layout 16).
    const ended: EndedRebuild | undefined = !meta ? undefined : meta.version >= 16 ? meta.ended : {};
    const marker: MetaValue = { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', ...(rebuild ? { rebuild } : {}), ...(ended ? { ended } : {}) };
    store.put(marker, META_KEY);
    await promisifyRequest(store.transaction);
    return underWay(marker);
  } else if (meta.store !== 'durable-rx/keyval' || meta.version > KEYVAL_SCHEMA_VERSION) {
    throw new IncompatibleSchemaError(
      `Database ${JSON.stringify(name)} has schema ${JSON.stringify(meta)}; this KeyvalStore reads version ${KEYVAL_SCHEMA_VERSION}`,
    );
  }
  await promisifyRequest(store.transaction);
  return underWay(meta);
}

/** Whether `meta` names a rebuild under way: of the name and tag entries, or of the end entries. */
function underWay(meta: MetaValue): boolean {
  return meta.rebuild !== undefined || meta.ended !== undefined;
}

/** A connection idb-keyval handed out, with the browser's close of it. */
interface Connection {
  readonly db: IDBDatabase;
  readonly closed: BrowserClose;
  /** {@link checkLayout} passed on it: the store's transactions may be made on it. */
  checked: boolean;
}

class KeyvalBackend implements StoreBackend {
  readonly #useStore: UseStore;
  readonly #name: string;
  readonly #storeName: string;
  /** Undefined where there is none (see {@link KeyvalBackend.#connect}); a connection is made only with one. */
  readonly #keyRange: typeof IDBKeyRange | undefined;
  readonly #clock: Clock;
  readonly #onVersionChange: () => void;
  /**
   * The last connection idb-keyval handed out (in use, being checked, or refused by the check): the one `close`
   * closes. Kept here because idb-keyval's function hands its connection only through a promise (a hop per
   * transaction).
   */
  #latest: Connection | undefined;
  /** A new connection on its way (see {@link KeyvalBackend.#connect}). */
  #connecting: Promise<Connection> | undefined;
  /** This backend closed its connection (`close`, an upgrade elsewhere): the store has ended, nothing reopens. */
  #ended = false;
  /** The rule of the store's first open, for the connections opened after the browser closed one (see {@link KeyvalBackend.transact}). */
  readonly #gate: OpenGate<Connection>;
  /** The new connection the calls wait for, through the gate. */
  #reconnecting: Promise<Connection> | undefined;
  /** Tells the last {@link KeyvalBackend.openAttempt} that its upgrade is blocked. */
  #blocked: ((event: unknown) => void) | undefined;
  readonly #page: PageFreeze | undefined;
  /** Called once a new connection after the browser closed one is open and checked (see {@link KeyvalBackend.#reconnect}). */
  readonly #onReopened: (() => void) | undefined;
  /** Called when the browser closes a connection of this backend itself (see {@link BrowserClose}). */
  readonly #onDropped: (() => void) | undefined;
  /** Instances a start assumed absent and then failed, mostly found present (see {@link MAX_PRESENT}): read from then on. */
  readonly #present = new Set<string>();
  /**
   * The rebuilds after the open the marker names (of the end entries, then of the name and tag entries), as this
   * backend's transactions know them (see the layout, layouts 14 and 16): their steps, each a transaction of its own on
   * the connection in use, run in the background.
   */
  readonly #entries: IndexRebuild;

  constructor(
    useStore: UseStore, name: string, storeName: string, keyRange: typeof IDBKeyRange | undefined, clock: Clock, onVersionChange: () => void,
    openTimeoutMs: number, page: PageFreeze | undefined, onReopened: (() => void) | undefined, onDropped?: () => void,
  ) {
    this.#onReopened = onReopened;
    this.#onDropped = onDropped;
    this.#useStore = useStore;
    this.#page = page;
    this.#name = name;
    this.#storeName = storeName;
    this.#keyRange = keyRange;
    this.#clock = clock;
    this.#onVersionChange = onVersionChange;
    this.#gate = new OpenGate<Connection>(name, openTimeoutMs, ({ db }) => db.close(), page);
    this.#entries = new IndexRebuild(async (stop) => {
      const inUse = this.#inUse;
      // No connection, or the browser closed it under the step (which then rejects with its reads, to run again): the
      // steps end, and go on with the next, no failure counted (see IndexRebuild.resume).
      if (this.#ended || !inUse) return undefined;
      const reads = new ReadsAhead(undefined);
      try {
        return await this.#transactOn(inUse, 'readwrite', (tx) => (tx as KeyvalTransaction).rebuildEntries(), reads, stop);
      } catch (error) {
        if (error === reads) return undefined;
        throw error;
      }
    }, page, clock);
  }

  /**
   * The connection in use: the latest, once its layout was checked, until the browser closes it (the site's data
   * cleared, a storage failure; idb-keyval then opens a new one on its next call, as it listens too).
   */
  get #inUse(): Connection | undefined {
    const latest = this.#latest;
    return latest?.checked && !latest.closed.fired ? latest : undefined;
  }

  /**
   * Opens a connection through idb-keyval (its function opens one when it has none: first use, or after the browser
   * closed the last) and checks its layout ({@link checkLayout}) in the connection's first transaction; the store's
   * transactions are made on it only after that. So a database the browser cleared under the store is marked (or
   * refused) before the store writes to it, as at the first open. Resolves with the connection even when the browser
   * closed it meanwhile (then it is not the one in use, and a transaction made on it is refused).
   *
   * Where there is no IndexedDB (server-side rendering) or access to it is denied (`indexedDB.open` throws a
   * SecurityError in a sandboxed iframe), idb-keyval's function throws at once: that rejects, mapped as every failure
   * to open is, so the store's call fails with a StorageError that names the cause. `answered` is called once
   * IndexedDB has handed out the connection, before the check. A check the page's freeze aborted (see
   * {@link PageFreeze.beginOpening}) rejects with the store's `PageFreeze`: the store connects again after the resume.
   */
  #connect(answered?: () => void): Promise<Connection> {
    if (this.#connecting) return this.#connecting;
    const keyRange = this.#keyRange;
    let connecting: Promise<Connection>;
    try {
      // Reading `indexedDB` throws in browsers that deny it by their settings (a SecurityError).
      if (!(globalThis as { indexedDB?: IDBFactory }).indexedDB || !keyRange) throw missingApi(keyRange ? 'indexedDB' : 'IDBKeyRange');
      connecting = this.#useStore('readwrite', async (store) => {
        answered?.();
        const { db } = store.transaction;
        const connection: Connection = { db, closed: new BrowserClose(db, this.#onDropped), checked: false };
        this.#latest = connection;
        db.onversionchange = () => {
          this.#ended = true;
          // The rebuild's step under way would otherwise hold the closing connection, and the upgrade, until it committed.
          void this.#entries.end();
          this.#onVersionChange();
          db.close();
        };
        // The check (with an upgrade of the layout) locks the one object store: aborted at a freeze while at work.
        this.#page?.beginOpening(store.transaction);
        let rebuild: boolean;
        try {
          rebuild = await checkLayout(store, this.#name, keyRange, this.#clock);
        } catch (error) {
          throw this.#page?.aborted(store.transaction) ? this.#page : error;
        }
        connection.checked = true;
        if (rebuild) {
          this.#entries.pending = true;
          this.#entries.resume();
        }
        return connection;
      });
    } catch (error) {
      connecting = Promise.reject(error);
    }
    this.#connecting = connecting.then((connection) => {
      this.#connecting = undefined;
      return connection;
    }, (error: unknown) => {
      this.#connecting = undefined;
      if (this.#page && error === this.#page) throw error;
      throw errorNames(error).includes('NotFoundError')
        ? new IncompatibleSchemaError(`Database ${JSON.stringify(this.#name)} exists without the object store ${JSON.stringify(this.#storeName)}`, { cause: error })
        : mapStorageError(error, `opening database ${JSON.stringify(this.#name)}`);
    });
    return this.#connecting;
  }

  /**
   * Begins {@link KeyvalBackend.#connect}: an {@link OpenAttempt} for an {@link OpenGate}. Its `blocked` resolves when
   * IndexedDB reports the upgrade of this open blocked ({@link KeyvalBackend.blocked}).
   */
  openAttempt(): OpenAttempt<Connection> {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const blocked = new Promise<unknown>((resolve) => (this.#blocked = resolve));
    const opened = this.#connect(answer);
    opened.then(answer, answer);
    return { opened, answered, blocked };
  }

  /**
   * IndexedDB reported the upgrade of the open under way blocked (`event`): a connection to the older version (a tab
   * that ignores `versionchange`) does not close. The last attempt is told, so its calls fail at once, as DexieStore's.
   */
  blocked(event: unknown): void {
    this.#blocked?.(event);
  }

  /**
   * A new connection after the browser closed the one in use (the site's data cleared): opened as the store's first
   * was, through an {@link OpenGate}, so a call does not wait for ever for an open queued behind another connection's
   * blocked upgrade or deletion; it fails with `DatabaseBlockedError` after `openTimeoutMs` instead.
   */
  #reconnect(): Promise<Connection> {
    if (!this.#reconnecting) {
      const reconnecting = this.#gate.open(() => this.openAttempt());
      this.#reconnecting = reconnecting;
      const forget = (): void => {
        if (this.#reconnecting === reconnecting) this.#reconnecting = undefined;
      };
      reconnecting.then(() => {
        forget();
        this.#onReopened?.();
      }, forget);
    }
    return this.#reconnecting;
  }

  /**
   * idb-keyval has one object store, so every transaction locks all of it whatever the scope. The transaction is made
   * at once on the connection in use, instead of after idb-keyval's promise of it: a step's transaction then begins
   * before the callbacks queued behind the call (the client's, the change feed's subscribers), as DexieStore's does,
   * and its requests are on their way while those run. Without a connection (the browser closed it) one is opened and
   * checked first.
   *
   * A transaction the browser's close of its connection kept from running rejects with `reads`, and the store runs it
   * again, on a new connection (at most three runs in all: see IdbStore). So does one the connection refused as it was
   * closing ({@link KeyvalBackend.#refused}): a command made while the site's data is cleared does not fail for it.
   * A refusal is a rejection (a StoreBackend's calls return a promise).
   */
  transact<T>(
    mode: 'readonly' | 'readwrite', _scope: readonly TableName[], work: (tx: BackendTransaction) => Promise<T>, reads = new ReadsAhead(undefined),
  ): Promise<T> {
    const inUse = this.#inUse;
    const result = inUse ? this.#transactOn(inUse, mode, work, reads) : this.#reconnect().then((connection) => this.#transactOn(connection, mode, work, reads));
    // A rebuild whose steps stopped on a failure goes on with the store's next call, after
    // the call's transaction (which it would otherwise hold up by one step).
    this.#entries.resume();
    return result;
  }

  #transactOn<T>(
    connection: Connection, mode: 'readonly' | 'readwrite', work: (tx: BackendTransaction) => Promise<T>, reads: ReadsAhead, stop?: AbortSignal,
  ): Promise<T> {
    let store: IDBObjectStore;
    try {
      store = connection.db.transaction(this.#storeName, mode).objectStore(this.#storeName);
    } catch (error) {
      return this.#refused(connection, error, reads);
    }
    const tx = new KeyvalTransaction(store, this.#keyRange!, this.#clock, reads, this.#present, this.#entries); // set: the connection was made with it
    return finishChecked(store.transaction, reads, async () => {
      const result = await work(tx);
      await tx.finish();
      return result;
    }, { closed: connection.closed, rerun: true, abandon: () => tx.abandon(), page: this.#page, stop }).catch((error: unknown) => {
      // Taken as absent, an instance was there after all, or a failure may rest on that: nothing was written, and the
      // run again reads it (as do later starts of it by this handle).
      tx.rememberAssumed();
      if (tx.foundPresent) throw reads;
      throw error;
    });
  }

  /**
   * `connection` refused a transaction with `error`. A connection the browser is closing refuses transactions, and so
   * does a new one the browser closed right after its layout check: the transaction rejects with `reads` (run it again)
   * once that connection's `close` event came (at most `CLOSE_WAIT_MS`, else it fails with `error`), and the
   * next run opens a new connection. One this backend closed (`close`, an upgrade elsewhere) has ended the store: its
   * later calls are refused before they get here; calls already under way fail with `error`, which the store maps to
   * the error that ended it.
   */
  async #refused(connection: Connection, error: unknown, reads: ReadsAhead): Promise<never> {
    if (this.#ended) throw error;
    return refusedWhileClosing(connection.closed, error, reads);
  }

  closing(): void {
    void this.#entries.end();
    this.#gate.close();
  }

  close(): Promise<void> {
    this.#ended = true;
    const stepped = this.#entries.end();
    this.#latest?.db.close();
    this.#gate.close();
    return stepped;
  }
}

/** An instance as layout 6 stores it under `['i', id]`: the row, with the activity tasks packed into it. */
interface StoredInstance extends InstanceRow {
  /** The instance's activity tasks (layout 6; tasks of layout 5 are rows of their own under `['t', id]`). */
  readonly tasks?: readonly TaskRow[];
  /** The `readyMs` of the instance's `['xp', readyMs, seq, id]` entry, present while it has one. */
  readonly tasksReadyMs?: number;
  /** The `seq` of that entry (absent: layout 6's `['xp', readyMs, id]`). */
  readonly tasksSeq?: number;
}

/** The row of a stored instance, without its packed tasks and their entry's place. */
function rowOf(stored: StoredInstance): InstanceRow {
  const { tasks: _tasks, tasksReadyMs: _readyMs, tasksSeq: _seq, ...row } = stored;
  return row;
}

/** An instance as this transaction has it (read or written). */
interface Loaded {
  /** The row without its packed tasks (undefined: no such instance). */
  row: InstanceRow | undefined;
  tasks: TaskRow[];
  /** The instance's `xp` entry in the database (as this transaction left it): its key without `'xp'` and the id. */
  entry: readonly number[] | undefined;
  /** The stored value must be written at the end of the transaction. */
  dirty: boolean;
  /** The tasks changed: the `xp` entry may have to move. */
  tasksChanged: boolean;
  /** The `xp` entry must sit exactly at the earliest `readyMs` of the tasks (not earlier). */
  exact: boolean;
}

/** The backend operations as requests on the object store of one transaction. */
class KeyvalTransaction implements BackendTransaction {
  readonly #store: IDBObjectStore;
  readonly #keyRange: typeof IDBKeyRange;
  /** The store's clock: whether an early task entry is still in the future (see {@link KeyvalTransaction.#syncTaskEntries}). */
  readonly #clock: Clock;
  readonly #writes = new PendingWrites();
  /**
   * The instances this transaction read or wrote. Every read of an instance goes through here, and its value is
   * written once, when the transaction finishes (with its packed tasks), so a step that changes the row and its tasks
   * writes one value.
   */
  readonly #loaded = new Map<string, Loaded>();
  readonly #loading = new Map<string, Promise<Loaded>>();
  /**
   * Messages of an instance read before they were asked for (a claim reads them with the row of the instance it
   * found), each for the next {@link KeyvalTransaction.listMessages} of its instance; a write to any messages drops
   * them all (requests run in order, so a read answers as of the moment it was made).
   */
  readonly #messagesRead = new Map<string, Promise<MessageRow[]>>();
  readonly #reads: ReadsAhead;
  /**
   * Instances taken as absent without a read (see {@link KeyvalTransaction.expectAbsent}), each with the function that
   * confirms it to the transaction's reads: written with `add`.
   */
  readonly #assumedAbsent = new Map<string, () => void>();
  /** The backend's instances a start took as absent and failed on, bounded: a start of one of them reads it. */
  readonly #present: Set<string>;
  /** The instances taken as absent whose `add` was issued. */
  readonly #added = new Set<string>();
  /** An `add` of an instance taken as absent failed: it is present, the transaction aborts and runs again. */
  foundPresent = false;

  /**
   * The rebuilds of the name and tag entries and of the end entries, as the backend knows them (see
   * {@link KeyvalTransaction.#rebuilding}).
   */
  readonly #entries: EntriesState;

  constructor(
    store: IDBObjectStore, keyRange: typeof IDBKeyRange, clock: Clock, reads: ReadsAhead, present = new Set<string>(),
    entries: EntriesState = { pending: false, resume: () => undefined },
  ) {
    this.#store = store;
    this.#keyRange = keyRange;
    this.#clock = clock;
    this.#reads = reads;
    this.#present = present;
    this.#entries = entries;
  }

  /**
   * Takes an instance about to be created as absent, without reading it: its value is written with `add`, which fails
   * if it is present after all (a start over an id in use), aborting the transaction; the run again (which runs no
   * longer ahead) reads it. Only in a call's first run, for an instance neither read by this transaction nor known to
   * this handle: one it committed or found present before.
   */
  expectAbsent(id: string): void {
    if (!this.#reads.ahead || this.#loaded.has(id) || this.#loading.has(id) || this.#present.has(id) || this.#reads.remembers(`i:${id}`)) return;
    this.#assumedAbsent.set(id, this.#reads.assume());
    this.#loaded.set(id, { row: undefined, tasks: [], entry: undefined, dirty: false, tasksChanged: false, exact: false });
  }

  /** After a failed run: the instances it took as absent are read by this handle's later starts. */
  rememberAssumed(): void {
    for (const id of this.#assumedAbsent.keys()) this.#remember(id);
  }

  #remember(id: string): void {
    this.#present.delete(id);
    if (this.#present.size >= MAX_PRESENT) this.#present.delete(this.#present.values().next().value!);
    this.#present.add(id);
  }

  /** Writes the instances this transaction changed and waits for every issued write. */
  async finish(): Promise<void> {
    await this.#writes.settle();
    this.#flushInstances();
    // An instance taken as absent and not created: what the transaction did may rest on that; it runs again, reading.
    if (this.#added.size < this.#assumedAbsent.size) throw this.#reads; // #added holds only ids taken as absent
    await this.#writes.settle();
  }

  /** Observes the writes of a failed transaction (it is being aborted). */
  abandon(): void {
    this.#writes.settle()?.catch(() => undefined);
  }

  async getInstance(id: string): Promise<InstanceRow | undefined> {
    return (await this.#load(id)).row;
  }

  putInstance(row: InstanceRow, previous: InstanceRow | undefined): void {
    this.#replaceIndexKeys(previous ? claimKeys(previous) : [], claimKeys(row));
    this.#replaceIndexKeys(previous ? endedKeys(previous) : [], endedKeys(row));
    if (previous && previous.createdMs !== row.createdMs) this.#store.delete(['xc', previous.createdMs, row.id]);
    const paging = pagingValue(row);
    if (!previous || previous.createdMs !== row.createdMs || pagingValue(previous) !== paging) this.#store.put(paging, ['xc', row.createdMs, row.id]);
    if (!previous || previous.createdMs !== row.createdMs || previous.state.name !== row.state.name) {
      if (previous) this.#store.delete(nameKey(previous));
      this.#store.put(0, nameKey(row));
    }
    if (!previous ? row.state.tags !== undefined : previous.createdMs !== row.createdMs || !sameTags(previous.state.tags, row.state.tags)) {
      if (previous) for (const key of tagKeys(previous)) this.#store.delete(key);
      for (const key of tagKeys(row)) this.#store.put(0, key);
    }
    this.#withInstance(row.id, (loaded) => {
      loaded.row = row;
      loaded.dirty = true;
    });
  }

  deleteInstance(row: InstanceRow): void {
    this.#replaceIndexKeys([...claimKeys(row), ...endedKeys(row)], []);
    this.#store.delete(['xc', row.createdMs, row.id]);
    this.#store.delete(nameKey(row));
    for (const key of tagKeys(row)) this.#store.delete(key);
    this.#store.delete(['i', row.id]);
    this.#reads.writes.set(`i:${row.id}`, undefined);
    this.#withInstance(row.id, (loaded) => {
      if (loaded.entry !== undefined) this.#store.delete(['xp', ...loaded.entry, row.id]);
      Object.assign(loaded, { row: undefined, tasks: [], entry: undefined, dirty: false, tasksChanged: false });
    });
  }

  /**
   * The instance of the first claim entry. A claim lists its messages next, so they are read with its row: `likely`'s
   * with the claim entry (one round trip for the claim's reads when it is the first), else once the entry names it.
   */
  async firstReadyInstance(nowMs: number, likely?: string): Promise<InstanceRow | undefined> {
    if (likely !== undefined) this.#readForClaim(likely);
    const [key] = await this.#keys(this.#range(['xr', -Infinity], ['xr', nowMs, MAX]), 1);
    if (!key) return undefined;
    const id = lastOf(key);
    if (id !== likely) this.#readForClaim(id);
    return this.getInstance(id);
  }

  /** Reads an instance and its messages at once (see {@link KeyvalTransaction.listMessages}). */
  #readForClaim(id: string): void {
    const messages = this.#listMessages(id);
    // A failed read fails the transaction: unused (a wrong guess), it is no unhandled rejection.
    messages.catch(() => undefined);
    this.#load(id).catch(() => undefined);
    this.#messagesRead.set(id, messages);
  }

  async nextInstanceReadyMs(afterMs: number, untilMs = Infinity): Promise<number | undefined> {
    const [key] = await this.#keys(this.#readyRange('xr', afterMs, untilMs), 1);
    return key ? (key[1] as number) : undefined;
  }

  async queuedInstances(filter: (row: InstanceRow) => boolean): Promise<InstanceRow[]> {
    const keys = await this.#keys(this.#range(['xr'], ['xr', MAX]));
    const rows = await Promise.all(keys.map((key) => this.getInstance(lastOf(key))));
    return rows.filter((row): row is InstanceRow => row !== undefined && filter(row));
  }

  /**
   * Pages the `xc` entries, or with a tag pair the `xg` entries of that pair, or with a name the `xn` entries of that
   * name; with a status, only the rows whose `xc` entry holds it, or holds no terminal status (a non-terminal instance,
   * or older code), are read. While the name and tag entries are rebuilt (see the layout, layout 14) the entries serve
   * the part of the paging order the rebuild has passed, and the `xc` entries the rest, the name or tag pair checked
   * on each row: the place the rebuild has reached is read in this transaction, so each page is exact however far the
   * rebuild moves between pages (both parts are in the paging order, (createdMs, id)).
   */
  async scanInstances(scan: InstanceScan): Promise<InstanceRow[]> {
    const range: PlaceRange = { lower: [scan.fromMs, scan.fromId], lowerOpen: scan.fromOpen, upper: [scan.toMs, scan.toId], upperOpen: scan.toOpen === true };
    const limit = scan.limit ?? Infinity;
    const rows: InstanceRow[] = [];
    const accept = (row: InstanceRow) => !scan.filter || scan.filter(row);
    const { name, tag, reverse = false } = scan;
    if (name === undefined && tag === undefined) {
      const status = scan.status;
      // An `xs` entry means older code changed a status since the upgrade and left the old one in `xc` (see the layout).
      const trustStatuses = status !== undefined &&
        await promisifyRequest(this.#store.getKey(this.#range([OLD_BY_STATUS_PREFIX], [OLD_BY_STATUS_PREFIX, MAX]))) === undefined;
      const byStatus = status === undefined ? accept : (row: InstanceRow) => row.status === status && accept(row);
      await this.#scanRange(['xc'], range, reverse, (_, row) => byStatus(row), rows, limit, trustStatuses ? status : undefined);
      return rows;
    }
    // A name or tag entry that is not its row's (older code started the instance again, or purged it) is passed over:
    // its row listed there would be out of its place, and the next page, after its key, would skip the ones between.
    const entryOf = tag !== undefined ? isTagEntryOf : isNameEntryOf;
    const [rebuilt, rest] = splitRange(range, await this.#entriesRebuilt());
    const parts: [IDBValidKey[], PlaceRange | undefined, (key: IDBValidKey[], row: InstanceRow) => boolean][] = [
      [tag !== undefined ? ['xg', ...tag] : ['xn', name!], rebuilt, (key, row) => entryOf(key, row) && accept(row)],
      [['xc'], rest, (_, row) => isMemberOf(row, name, tag) && accept(row)],
    ];
    // The part past the place reads every row of it: a listing bounds those reads (see InstanceScan.readBound).
    const { readBound, stopped } = scan;
    const bounded = readBound !== undefined && stopped ? { bound: readBound, stopped } : undefined;
    for (const [prefix, part, keep] of reverse ? parts.reverse() : parts) {
      if (part && rows.length < limit) await this.#scanRange(prefix, part, reverse, keep, rows, limit, undefined, part === rest ? bounded : undefined);
    }
    return rows;
  }

  /**
   * Reads the entries under `prefix` in `range`, in batches upwards (or from the top down, `reverse`), and the rows they
   * name, adding to `rows` those `keep` takes until `rows` holds `limit`. `status`: the statuses in the `xc` entries are
   * trusted, and only the rows whose entry holds it, or holds no terminal status, are read. `bounded` (`xc` entries
   * only): once a batch brought the rows read to `bound`, the scan stops and calls `stopped` with the place of the
   * batch's last entry, unless the range ended there.
   */
  async #scanRange(
    prefix: IDBValidKey[], range: PlaceRange, reverse: boolean, keep: (key: IDBValidKey[], row: InstanceRow) => boolean,
    rows: InstanceRow[], limit: number, status?: OrchestrationRuntimeStatus,
    bounded?: { readonly bound: number; readonly stopped: (at: readonly [number, string]) => void },
  ): Promise<void> {
    let read = 0;
    let lower: IDBValidKey[] = [...prefix, range.lower[0], range.lower[1] ?? MAX];
    let lowerOpen = range.lowerOpen;
    let upper: IDBValidKey[] = [...prefix, range.upper[0], range.upper[1] ?? MAX];
    let upperOpen = range.upperOpen;
    for (;;) {
      const batchRange = this.#keyRange.bound(lower, upper, lowerOpen, upperOpen);
      // Newest first: a cursor from the top of the range (getAllKeys reads upwards only), with the entries' values.
      const [keys, statuses] = reverse ? await this.#entriesDown(batchRange, SCAN_BATCH, status !== undefined) : await Promise.all([
        this.#keys(batchRange, SCAN_BATCH),
        status !== undefined ? promisifyRequest(this.#store.getAll(batchRange, SCAN_BATCH)) as Promise<unknown[]> : undefined,
      ]);
      // Trusted, an entry's value is exact for a terminal status and 0 (or layout 4's exact status) for any other, so a
      // terminal status reads only its own rows: a retention sweep or a list of Completed ones skips the running ones.
      const terminal = status !== undefined && isTerminalStatus(status);
      const wanted = statuses ? keys.filter((_, i) => statuses[i] === status || (!terminal && !isTerminalValue(statuses[i]))) : keys;
      const batch = await Promise.all(wanted.map((key) => this.getInstance(lastOf(key))));
      for (const [i, row] of batch.entries()) {
        if (row && keep(wanted[i]!, row)) rows.push(row);
        if (rows.length >= limit) return;
      }
      const last = keys[keys.length - 1];
      // A full batch whose last key is the range's own end leaves nothing after it (a range from that key to itself,
      // open, is refused with a DataError): the end is an entry where the part the name and tag entries serve ends at
      // the rebuild's place, after a step of SCAN_BATCH rows whose instances all have the tag pair or name.
      if (keys.length < SCAN_BATCH || !last || sameEntry(last, reverse ? lower : upper)) return;
      read += wanted.length;
      if (bounded && read >= bounded.bound) {
        bounded.stopped([last[1] as number, last[2] as string]);
        return;
      }
      if (reverse) {
        upper = last;
        upperOpen = true;
      } else {
        lower = last;
        lowerOpen = true;
      }
    }
  }

  /**
   * The keys of at most `count` entries from the top of `range` down, read with one cursor, and with `values` their
   * values (as `getAll` gives them upwards).
   */
  #entriesDown(range: IDBKeyRange, count: number, withValues: boolean): Promise<[IDBValidKey[][], unknown[] | undefined]> {
    const keys: IDBValidKey[][] = [];
    const values: unknown[] = [];
    const request = withValues ? this.#store.openCursor(range, 'prev') : this.#store.openKeyCursor(range, 'prev');
    return new Promise((resolve, reject) => {
      request.onsuccess = () => {
        const cursor = request.result;
        if (cursor) {
          keys.push(cursor.key as IDBValidKey[]);
          if (withValues) values.push((cursor as IDBCursorWithValue).value);
        }
        if (!cursor || keys.length >= count) resolve([keys, withValues ? values : undefined]);
        else cursor.continue();
      };
      request.onerror = () => reject(request.error);
    });
  }

  /**
   * How far the name and tag entries can be trusted: up to the place in the paging order the rebuild of them has
   * passed (see the layout, layout 14), `undefined` when it has passed none, {@link EVERY_PLACE} when none is under
   * way or its steps left are the deletions of stale entries (which reads pass over). While the backend knows of a
   * rebuild, the marker is read (the rebuild may have moved on or ended in another tab), and the rebuild's steps started
   * again if they stopped here.
   */
  async #entriesRebuilt(): Promise<Place | undefined> {
    const rebuild = (await this.#rebuilding())?.rebuild;
    if (rebuild === undefined || rebuild.step !== 'rows') return EVERY_PLACE;
    const after = rebuild.after as readonly [string, number, string] | undefined;
    return after && [after[1], after[2]];
  }

  /**
   * The marker, read while the backend knows of a rebuild under way (of the name and tag entries, or of the end
   * entries), with the rebuild's steps started again if they stopped here; `undefined` when none is under way (then
   * the backend knows it from now on, and reads no marker).
   */
  async #rebuilding(): Promise<MetaValue | undefined> {
    if (!this.#entries.pending) return undefined;
    const meta = await this.#get<MetaValue>(META_KEY);
    if (!meta || !underWay(meta)) {
      this.#entries.pending = false;
      return undefined;
    }
    this.#entries.resume();
    return meta;
  }

  /**
   * One step of the rebuilds the marker names, at the place it keeps, and the place moved on (the marker without it once
   * done): the end entries' first ({@link KeyvalTransaction.#writeEndEntries}), then the name and tag entries' (see the
   * layout, layouts 16 and 14). Resolves true while steps are left; false, writing nothing, when the marker names no
   * rebuild or is not this layout's (a newer tab took over).
   *
   * The steps of the name and tag entries:
   * - `rows`: the next {@link SCAN_BATCH} `xc` entries (paging order), their rows read, and the entries those rows lack
   *   written. The entries of one name or tag pair of the batch's instances lie in one key range (the batch's first to
   *   last (createdMs, id)), read at once; one with more keys than {@link REBUILD_WINDOW} (stale entries of instances
   *   no longer there) is looked up key by key instead.
   * - `xg`, then `xn`: the next {@link SCAN_BATCH} entries of that prefix, each deleted unless an instance has its
   *   (createdMs, id): an `xc` entry ({@link createdKeyOf}). The `xc` entries of a run of entries of one name or tag
   *   pair lie in one key range too, read at once unless it holds more than {@link REBUILD_WINDOW} keys.
   */
  async rebuildEntries(): Promise<boolean> {
    const store = this.#store;
    const meta = await this.#get<MetaValue>(META_KEY);
    if (!meta || !underWay(meta) || meta.store !== 'durable-rx/keyval' || meta.version !== KEYVAL_SCHEMA_VERSION) return false;
    if (meta.ended) {
      const { ended: _done, ...marker } = meta;
      const next = await this.#writeEndEntries(meta.ended);
      store.put(next ? { ...marker, ended: next } : marker, META_KEY);
      return next !== undefined || marker.rebuild !== undefined;
    }
    const rebuild = meta.rebuild!;
    const step = rebuild.step;
    const keys = await this.#keys(this.#after([step === 'rows' ? 'xc' : step], rebuild.after), SCAN_BATCH);
    if (step === 'rows') {
      const rows = await Promise.all(keys.map((key) => this.#get<InstanceRow>(['i', lastOf(key)])));
      // A row created again since its `xc` entry was read is left to the code that wrote it.
      const wanted = rows.flatMap((row, i) => (row && row.createdMs === keys[i]![1] ? entryKeys(row) : []));
      await Promise.all(groupsOf(wanted).map(async (group) => {
        const present = await this.#window(group, (key) => key);
        await Promise.all(group.map(async (key) => {
          const has = present ? present.has(JSON.stringify(key)) : await promisifyRequest(store.getKey(key)) !== undefined;
          if (!has) store.put(0, key);
        }));
      }));
    } else {
      await Promise.all(groupsOf(keys).map(async (group) => {
        const created = await this.#window(group, createdKeyOf);
        await Promise.all(group.map(async (key) => {
          const xc = createdKeyOf(key);
          const has = created ? created.has(JSON.stringify(xc)) : await promisifyRequest(store.getKey(xc)) !== undefined;
          if (!has) store.delete(key);
        }));
      }));
    }
    const next = nextRebuild(rebuild, keys[keys.length - 1], keys.length === SCAN_BATCH);
    const { rebuild: _done, ...marker } = meta;
    store.put(next ? { ...marker, rebuild: next } : marker, META_KEY);
    return next !== undefined;
  }

  /**
   * One step of the writing of the end entries (see the layout, layout 16) at `ended`: the next {@link SCAN_BATCH} `xc`
   * entries (paging order), the rows of those whose value is a terminal status read, and the `xe` entry of each such row
   * put (one a commit of this layout wrote already is put again, the same key). Resolves with the place after the step,
   * `undefined` once none is left.
   */
  async #writeEndEntries(ended: EndedRebuild): Promise<EndedRebuild | undefined> {
    const range = this.#after(['xc'], ended.after);
    const [keys, values] = await Promise.all([this.#keys(range, SCAN_BATCH), promisifyRequest(this.#store.getAll(range, SCAN_BATCH))]);
    await Promise.all(keys.filter((_, i) => isTerminalValue(values[i])).map(async (key) => {
      const row = await this.#get<InstanceRow>(['i', lastOf(key)]);
      // A row created again since its `xc` entry was read is left to the code that wrote it (its commit wrote its entry).
      for (const entry of row && row.createdMs === key[1] ? endedKeys(row) : []) this.#store.put(0, entry);
    }));
    const last = keys[keys.length - 1];
    return keys.length === SCAN_BATCH && last !== undefined ? { after: last } : undefined;
  }

  /**
   * The keys (as JSON) in the range from `at(first)` to `at(last)` of `group` (keys in (createdMs, id) order), read at
   * once; `undefined` when the range holds more than {@link REBUILD_WINDOW} (then look the keys up one by one).
   */
  async #window(group: readonly IDBValidKey[][], at: (key: IDBValidKey[]) => IDBValidKey[]): Promise<Set<string> | undefined> {
    const keys = await this.#keys(this.#range(at(group[0]!), at(group[group.length - 1]!)), REBUILD_WINDOW + 1);
    return keys.length > REBUILD_WINDOW ? undefined : new Set(keys.map((key) => JSON.stringify(key)));
  }

  /** The keys under `prefix` after `after` (all of them without `after`). */
  #after(prefix: [string], after: IDBValidKey | undefined): IDBKeyRange {
    return after === undefined ? this.#range(prefix, [...prefix, MAX]) : this.#range(after as IDBValidKey[], [...prefix, MAX], true);
  }

  /**
   * The `xe` entries of `status` after `after` (all of them without it) up to `toMs`, at most `limit`, and their rows:
   * one key range. An entry whose row is not there as ended at that key (none is: the commit that changes the row
   * changes its entry) is passed over.
   *
   * While the end entries are written after the upgrade to layout 16 (see the layout), those of the instances past the
   * place the writing has reached may be missing, and the rows past it of the query (store-kit's `matchesEndedQuery`)
   * are merged into the page in end order, each instance once. With at most {@link SCAN_BATCH} instances past the place,
   * the rows whose `xc` entry holds `status` are read one by one, in the transaction that reads the place. With more,
   * the page is read over several transactions ({@link EndedScanPart}), none reading more than {@link SCAN_BATCH}
   * instance rows: the rows in id order up to the last instance, a transaction each, keeping the `limit` earliest-ended
   * of the query past the place the first read (see {@link KeyvalTransaction.#endedChunk}); then the entries and those
   * kept rows read again, in the last one ({@link KeyvalTransaction.#endedLast}).
   */
  async scanEnded(
    status: OrchestrationRuntimeStatus, after: EndedKey | undefined, toMs: number, limit: number, part?: EndedScanPart,
  ): Promise<InstanceRow[] | EndedScanPart> {
    if (after !== undefined && after.endedMs > toMs) return []; // an empty range, which IndexedDB refuses to bound
    const query: EndedQuery = { runtimeStatus: status, endedTo: new Date(toMs), limit, ...(after ? { after } : {}) };
    if (part !== undefined) return this.#endedRows(query, part);
    const [keys, ended] = await Promise.all([this.#endedKeys(query), this.#rebuilding().then((meta) => meta?.ended)]);
    if (ended === undefined) return this.#endedEntryRows(keys);
    // One more than SCAN_BATCH of the entries past the place at most (a count would go through them all), and where a
    // pass over the rows would end: with more, the rows are read in the next transactions, from the first (EndedScanPart).
    const past = this.#after(['xc'], ended.after);
    const [xcKeys, values, pass] = await Promise.all([
      this.#keys(past, SCAN_BATCH + 1), promisifyRequest(this.#store.getAll(past, SCAN_BATCH + 1)), this.#endedPass(ended),
    ]);
    if (xcKeys.length > SCAN_BATCH && pass) return pass;
    const rows = await Promise.all(xcKeys.filter((_, i) => values[i] === status).map((key) => this.getInstance(lastOf(key))));
    return mergeEnded(await this.#endedEntryRows(keys), rows, query);
  }

  /**
   * A pass over the instance rows of a page read over several transactions, from the first (see
   * {@link KeyvalTransaction.scanEnded}): from the place `ended` of the writing of the end entries, up to the last
   * instance and the last `xc` entry there are now. `undefined` when no row is past the place.
   */
  async #endedPass(ended: EndedRebuild): Promise<EndedScanPart | undefined> {
    const [lastRow, lastEntry] = await Promise.all([
      promisifyRequest(this.#store.openKeyCursor(this.#range(['i'], ['i', MAX]), 'prev')),
      promisifyRequest(this.#store.openKeyCursor(this.#range(['xc'], ['xc', MAX]), 'prev')),
    ]);
    if (!lastRow || !lastEntry) return undefined;
    if (ended.after !== undefined && !this.#keyRange.lowerBound(ended.after, true).includes(lastEntry.key)) return undefined;
    // A last entry ahead of this store's clock is an instance started by a tab whose clock is ahead (or before the clock
    // was set back): every tab's starts come before it, so none read by id would count as put in the way. The pass walks
    // down the paging entries from the first transaction instead, which those starts cannot keep going.
    const ahead = (lastEntry.key as [string, number, string])[1] > this.#clock.now().getTime();
    return {
      ...(ended.after === undefined ? {} : { place: ended.after }), lastId: lastOf(lastRow.key as IDBValidKey[]), lastEntry: lastEntry.key,
      kept: [], dropped: false, added: 0, ...(ahead ? { byPaging: {} } : {}),
    };
  }

  /**
   * The next transaction of a page read over several (see {@link KeyvalTransaction.scanEnded}): the next rows of its
   * pass, those of the query kept (the page's `limit` earliest-ended); once they are all read, the page's rows, or the
   * page read again from the first ({@link KeyvalTransaction.#endedLast}).
   */
  async #endedRows(query: EndedQuery, part: EndedScanPart): Promise<InstanceRow[] | EndedScanPart> {
    const [read, more] = await this.#endedStep(query, part);
    return more ? read : this.#endedLast(query, read);
  }

  /** One transaction's rows of a pass, by id or by their paging entries ({@link EndedScanPart.byPaging}), and whether more follow. */
  #endedStep(query: EndedQuery, part: EndedScanPart): Promise<[EndedScanPart, boolean]> {
    return part.byPaging ? this.#endedByPaging(query, part, part.byPaging) : this.#endedChunk(query, part);
  }

  /**
   * The instance rows after `part.readTo` (from the first without it) up to `part.lastId`, at most {@link SCAN_BATCH}:
   * `part` with those of the query whose `xc` entry is past the place (and not after `lastEntry`) kept, `readTo` the last
   * id read, and whether more rows may follow. Rows started since the pass began (their `xc` entry after `lastEntry`)
   * have their end entries once ended, but with ids among those left they are read all the same: once more of them
   * than {@link SCAN_BATCH} were read, the rows left are read by a walk down their paging entries instead
   * ({@link KeyvalTransaction.#endedByPaging}), which such starts cannot keep going, so that another tab starting
   * instances faster than the pass reads cannot keep it reading.
   */
  async #endedChunk(query: EndedQuery, part: EndedScanPart): Promise<[EndedScanPart, boolean]> {
    const lower = part.readTo === undefined ? ['i'] : ['i', part.readTo];
    const range = this.#range(lower, ['i', part.lastId], part.readTo !== undefined);
    const stored = await promisifyRequest(this.#store.getAll(range, SCAN_BATCH)) as StoredInstance[];
    const past = this.#endedPast(part);
    const begun = this.#keyRange.upperBound(part.lastEntry);
    const found = stored.filter((row) => matchesEndedQuery(row.state, query) && past.includes(['xc', row.createdMs, row.id])).map(rowOf);
    const added = part.added + stored.filter((row) => !begun.includes(['xc', row.createdMs, row.id])).length;
    const readTo = stored[stored.length - 1]?.id ?? part.readTo;
    const read: EndedScanPart = { ...part, ...(readTo === undefined ? {} : { readTo }), ...keptWith(part, found, query.limit), added };
    const more = stored.length === SCAN_BATCH && readTo !== part.lastId;
    return [more && added > SCAN_BATCH ? { ...read, byPaging: {} } : read, more];
  }

  /**
   * The next transaction of a pass's walk down the `xc` entries past the place, from `lastEntry` (below `at.before`,
   * else from it): the next {@link WALK_WINDOW} entries at most, and the rows of those that hold the query's status with
   * an id the pass has not read (after `readTo`, up to `lastId`), {@link SCAN_BATCH} at most, read one by one from the
   * top down: `part` with those of the query kept, and whether entries may be left below (or rows were read: the
   * page's are read in a transaction of their own). A row without its end entry
   * is as it was when the pass began, so its `xc` entry is there, up to `lastEntry`. The walk goes down and a tab's
   * clock goes up: a start lands below the walk only while the clock of the tab that made it reads less than the entry
   * the walk has come down to, which it passes once, so whatever the tabs' clocks say (ahead of `lastEntry`, behind it,
   * or `lastEntry` itself ahead of them all), their starts cannot keep the pass walking (see the layout, layout 16).
   */
  async #endedByPaging(query: EndedQuery, part: EndedScanPart, at: { readonly before?: IDBValidKey }): Promise<[EndedScanPart, boolean]> {
    const lower = (part.place ?? ['xc']) as IDBValidKey[];
    const upper = (at.before ?? part.lastEntry) as IDBValidKey[];
    const walk = this.#keyRange.bound(lower, upper, part.place !== undefined, at.before !== undefined);
    // The window's top, then its bottom WALK_WINDOW - 1 entries below (none: the walk's end is in it); then the window.
    const request = this.#store.openKeyCursor(walk, 'prev');
    const top = await promisifyRequest(request);
    if (!top) return [part, false];
    const topKey = top.key as IDBValidKey[];
    top.advance(WALK_WINDOW - 1);
    const bottom = await promisifyRequest(request);
    const window = bottom ? this.#range(bottom.key as IDBValidKey[], topKey) : this.#keyRange.bound(lower, topKey, part.place !== undefined, false);
    const [keys, values] = await Promise.all([this.#keys(window), promisifyRequest(this.#store.getAll(window))]);
    const left = (id: string) => (part.readTo === undefined || id > part.readTo) && id <= part.lastId;
    const [taken, ids] = walkDown(keys, (key, i) => values[i] === query.runtimeStatus && left(lastOf(key)), SCAN_BATCH);
    const rows = await Promise.all(ids.map((id) => this.getInstance(id)));
    const found = rows.filter((row): row is InstanceRow => row !== undefined && matchesEndedQuery(row.state, query));
    const read: EndedScanPart = { ...part, ...keptWith(part, found, query.limit), byPaging: { before: keys[taken] ?? topKey } };
    // A transaction that read rows here leaves the page's own (its last transaction's) to the next, which finds no entry
    // left: no transaction reads the rows of a step and the page's.
    return [read, taken > 0 || bottom !== null || ids.length > 0];
  }

  /** The `xc` entries of a pass past its place, up to the last there was when it began. */
  #endedPast(part: EndedScanPart): IDBKeyRange {
    const to = part.lastEntry as IDBValidKey[];
    return part.place === undefined ? this.#range(['xc'], to) : this.#range(part.place as IDBValidKey[], to, true);
  }

  /**
   * The last transaction of a page read over several: the page's key range of entries and the rows `part` kept, read
   * again, so every row of the page is as this transaction reads it. A row the query takes that has no entry kept its
   * status and end since the upgrade (a commit that changes them writes the entry) and is past the place, so past the
   * place the first transaction read (it only moves on): its pass read it as it is. A kept row that changed has its own
   * entry if it is still ended. So the page is exact, unless rows were left out for the kept ones (`dropped`) and one of
   * those changed: one left out may then belong to the page. The rows are then read again from the first, over new
   * transactions as before (another tab's sweep purging the rows this page keeps does that), and if that happens again,
   * here, in this one transaction.
   */
  async #endedLast(query: EndedQuery, part: EndedScanPart): Promise<InstanceRow[] | EndedScanPart> {
    const [entries, again] = await Promise.all([
      this.#endedKeys(query).then((keys) => this.#endedEntryRows(keys)), Promise.all(part.kept.map((row) => this.getInstance(row.id))),
    ]);
    const changed = again.some((row, i) => !row || !matchesEndedQuery(row.state, query) || byEnd(row, part.kept[i]!) !== 0);
    if (!changed || !part.dropped) return mergeEnded(entries, again, query);
    const ended = (await this.#rebuilding())?.ended;
    const pass = ended && await this.#endedPass(ended);
    if (pass === undefined) return entries;
    if (!part.again) return { ...pass, again: true };
    let read: [EndedScanPart, boolean] = [pass, true];
    while (read[1]) read = await this.#endedStep(query, read[0]);
    return mergeEnded(entries, read[0].kept, query);
  }

  /** The `xe` entries of the query's status after its `after` (all without it) up to its `endedTo`, at most its `limit`. */
  #endedKeys({ runtimeStatus: status, after, endedTo, limit }: EndedQuery): Promise<IDBValidKey[][]> {
    const lower = after === undefined ? ['xe', status] : ['xe', status, after.endedMs, after.instanceId];
    return this.#keys(this.#range(lower, ['xe', status, endedTo.getTime(), MAX], after !== undefined), limit);
  }

  /** The rows of end entries, those whose row is not there as ended at that key passed over. */
  async #endedEntryRows(keys: readonly IDBValidKey[][]): Promise<InstanceRow[]> {
    const rows = await Promise.all(keys.map((key) => this.getInstance(lastOf(key))));
    return rows.filter((row, i): row is InstanceRow => row !== undefined && sameEntry(endedKeys(row)[0], keys[i]));
  }

  async countTagged(pair: readonly [string, string]): Promise<number> {
    return promisifyRequest(this.#store.count(this.#range(['xg', ...pair], ['xg', ...pair, MAX])));
  }

  async newestCreatedMs(): Promise<number | undefined> {
    // The last key of the created entries only: a key cursor reads no value.
    const cursor = await promisifyRequest(this.#store.openKeyCursor(this.#range(['xc'], ['xc', MAX]), 'prev'));
    return cursor ? (cursor.key as [string, number, string])[1] : undefined;
  }

  async readHistory(instanceId: string, { from, to }: BoundedRange): Promise<HistoryEvent[]> {
    if (to <= from) return [];
    // From the row that holds event `from` (the last that begins at or before it) up to the first that begins at `to`.
    let firstSeq = 0;
    if (from > 0) {
      const cursor = await promisifyRequest(this.#store.openKeyCursor(this.#range(['h', instanceId], ['h', instanceId, from]), 'prev'));
      if (!cursor) return [];
      firstSeq = (cursor.key as [string, string, number])[2];
    }
    const upper = to === Infinity ? ['h', instanceId, MAX] : ['h', instanceId, to];
    const range = this.#keyRange.bound(['h', instanceId, firstSeq], upper, false, to !== Infinity);
    const stored = await promisifyRequest(this.#store.getAll(range)) as (HistoryEvent[] | HistoryEvent)[];
    return historyFrom(stored.map(eventsOf), from, firstSeq, to);
  }

  async historyEnd(instanceId: string): Promise<number> {
    const cursor = await promisifyRequest(this.#store.openCursor(this.#range(['h', instanceId], ['h', instanceId, MAX]), 'prev'));
    return cursor ? (cursor.key as [string, string, number])[2] + eventsOf(cursor.value as HistoryEvent[] | HistoryEvent).length : 0;
  }

  getRaiseKeys(instanceId: string): Promise<readonly string[] | undefined> {
    return promisifyRequest(this.#store.get(['k', instanceId])) as Promise<readonly string[] | undefined>;
  }

  putRaiseKeys(instanceId: string, keys: readonly string[]): void {
    this.#store.put(keys, ['k', instanceId]);
  }

  deleteRaiseKeys(instanceId: string): void {
    this.#store.delete(['k', instanceId]);
  }

  getInput(instanceId: string): Promise<InputRecord | undefined> {
    return this.#get<InputRecord>(['in', instanceId]);
  }

  putInput(instanceId: string, record: InputRecord): void {
    this.#store.put(record, ['in', instanceId]);
  }

  deleteInput(instanceId: string): void {
    this.#store.delete(['in', instanceId]);
  }

  appendHistory(instanceId: string, from: number, events: readonly HistoryEvent[]): void {
    if (events.length > 0) this.#store.put(events, ['h', instanceId, from]);
  }

  deleteHistory(instanceId: string): void {
    this.#store.delete(this.#range(['h', instanceId], ['h', instanceId, MAX]));
  }

  addMessage(row: NewMessageRow, instance: InstanceRow): number {
    this.#messagesRead.clear();
    const seq = Math.max((instance.tailSeq ?? 0) + 1, stamp());
    this.#store.put({ ...row, seq } satisfies MessageRow, ['m', row.instanceId, seq]);
    return seq;
  }

  /** The messages read ahead for this instance, if no write to its messages came since, else a read now. */
  listMessages(instanceId: string): Promise<MessageRow[]> {
    const read = this.#messagesRead.get(instanceId);
    this.#messagesRead.delete(instanceId);
    return read ?? this.#listMessages(instanceId);
  }

  #listMessages(instanceId: string): Promise<MessageRow[]> {
    return promisifyRequest(this.#store.getAll(this.#range(['m', instanceId], ['m', instanceId, MAX]))) as Promise<MessageRow[]>;
  }

  deleteMessages(rows: readonly Pick<MessageRow, 'instanceId' | 'seq'>[]): void {
    this.#messagesRead.clear();
    for (const row of rows) this.#store.delete(['m', row.instanceId, row.seq]);
  }

  deleteMessagesOf(instanceId: string): void {
    this.#messagesRead.clear();
    this.#store.delete(this.#range(['m', instanceId], ['m', instanceId, MAX]));
  }

  /**
   * Packs the task into its instance when this transaction read it (a task of an instance it did not read, or that does
   * not exist, gets a row of its own, at once: the task indexes have it for every later read); the instance's tasks
   * beyond {@link MAX_PACKED_TASKS} become rows when the transaction writes it.
   */
  addTask(newRow: NewTaskRow): void {
    const row = { ...newRow, seq: stamp() };
    const loaded = this.#loaded.get(row.instanceId);
    if (loaded?.row) {
      loaded.tasks.push(row);
      this.#tasksChanged(loaded, false);
    } else this.#putTaskRow(row);
  }

  /**
   * A task packed into an instance this transaction read (with `instanceId`: that instance is read first), else a task
   * row (layout 5), else, without `instanceId`, a task packed into any instance with tasks (one read per such
   * instance). With `instanceId` the last look is skipped: a task never moves to another instance.
   */
  async getTask(id: string, instanceId?: string): Promise<TaskRow | undefined> {
    if (instanceId !== undefined) void this.#load(instanceId); // #packedTask waits for it
    const found = (await this.#packedTask(id)) ?? (await this.#get<TaskRow>(['t', id]));
    return found ?? (instanceId === undefined ? (await this.#packedTasks()).find((row) => row.id === id) : undefined);
  }

  putTask(row: TaskRow, previous: TaskRow): void {
    const loaded = this.#packing(previous);
    if (loaded) {
      loaded.tasks = loaded.tasks.map((t) => (t.id === previous.id ? row : t));
      this.#tasksChanged(loaded, true);
      return;
    }
    this.#replaceIndexKeys(taskIndexKeys(previous), taskIndexKeys(row));
    this.#store.put(row, ['t', row.id]);
  }

  deleteTask(row: TaskRow): void {
    const loaded = this.#packing(row);
    if (loaded) {
      loaded.tasks = loaded.tasks.filter((t) => t.id !== row.id);
      this.#tasksChanged(loaded, false);
      return;
    }
    this.#replaceIndexKeys(taskIndexKeys(row), []);
    this.#store.delete(['xi', row.instanceId, row.id]);
    this.#store.delete(['t', row.id]);
  }

  replaceTask(previous: TaskRow, row: NewTaskRow): void {
    this.deleteTask(previous);
    this.addTask(row);
  }

  async firstReadyTask(nowMs: number): Promise<TaskRow | undefined> {
    await this.#tasksIndexed();
    const [[rowKey], packed] = await Promise.all([
      this.#keys(this.#range(['xt', -Infinity], ['xt', nowMs, MAX]), 1),
      this.#firstReadyPacked(nowMs),
    ]);
    if (packed && (!rowKey || firstTask([packed, { readyMs: rowKey[1], seq: rowKey[2] } as TaskRow]) === packed)) return packed;
    return rowKey ? this.#get<TaskRow>(['t', lastOf(rowKey)]) : undefined;
  }

  async nextTaskReadyMs(afterMs: number, untilMs = Infinity): Promise<number | undefined> {
    await this.#tasksIndexed();
    const next = await Promise.all(['xt', 'xp'].map((prefix) => this.#keys(this.#readyRange(prefix, afterMs, untilMs), 1)));
    const first = Math.min(...next.map(([key]) => (key ? key[1] as number : Infinity)));
    return first < Infinity ? first : undefined;
  }

  async listTasks(filter: (row: TaskRow) => boolean): Promise<TaskRow[]> {
    const packed = await this.#packedTasks(); // first: it brings the task indexes up to this transaction's writes
    const keys = await this.#keys(this.#range(['xt'], ['xt', MAX]));
    const rows = await Promise.all(keys.map((key) => this.#get<TaskRow>(['t', lastOf(key)])));
    return [...rows, ...packed].filter((row): row is TaskRow => row !== undefined && filter(row));
  }

  /**
   * Drops the packed tasks, and the task rows its `xi` entries name. Their entries are listed and deleted at once, so
   * rows this transaction writes for the instance later (a replaced instance's new tasks) stay; a row another handle
   * deleted leaves nothing to delete.
   */
  deleteTasksOf(instanceId: string): void {
    this.#withInstance(instanceId, (loaded) => {
      if (loaded.tasks.length === 0) return;
      loaded.tasks = [];
      this.#tasksChanged(loaded, true);
    });
    const range = this.#range(['xi', instanceId], ['xi', instanceId, MAX]);
    const keys = this.#keys(range);
    this.#store.delete(range);
    this.#writes.track((async () => {
      const rows = await Promise.all((await keys).map((key) => this.#get<TaskRow>(['t', lastOf(key)])));
      for (const row of rows) {
        if (row?.instanceId !== instanceId) continue;
        this.#replaceIndexKeys(taskIndexKeys(row), []);
        this.#store.delete(['t', row.id]);
      }
    })());
  }

  /** Reads an instance once per transaction (later reads see this transaction's writes). */
  #load(id: string): Promise<Loaded> {
    const known = this.#loaded.get(id);
    if (known) return Promise.resolve(known);
    let loading = this.#loading.get(id);
    if (!loading) {
      const read = () => this.#get<StoredInstance>(['i', id]);
      loading = (this.#reads.take(`i:${id}`, read) ?? read()).then((stored) => {
        const raced = this.#loaded.get(id);
        if (raced) return raced;
        let loaded: Loaded = { row: undefined, tasks: [], entry: undefined, dirty: false, tasksChanged: false, exact: false };
        if (stored) {
          const { tasks, tasksReadyMs, tasksSeq } = stored;
          const entry = tasksReadyMs === undefined ? undefined : tasksSeq === undefined ? [tasksReadyMs] : [tasksReadyMs, tasksSeq];
          loaded = { ...loaded, row: rowOf(stored), tasks: tasks ? [...tasks] : [], entry };
        }
        this.#loaded.set(id, loaded);
        return loaded;
      });
      this.#loading.set(id, loading);
    }
    return loading;
  }

  /** Runs `change` on the instance: at once when this transaction read it, else once it is read (before the commit). */
  #withInstance(id: string, change: (loaded: Loaded) => void): void {
    const known = this.#loaded.get(id);
    if (known) change(known);
    else this.#writes.track(this.#load(id).then(change));
  }

  /** Writes a new task row with its index entries. */
  #putTaskRow(row: TaskRow): void {
    this.#replaceIndexKeys([], taskIndexKeys(row));
    this.#store.put(0, ['xi', row.instanceId, row.id]);
    this.#store.put(row, ['t', row.id]);
  }

  /** The instance `row` is packed into, when it is a packed task (else it is a task row). */
  #packing(row: TaskRow): Loaded | undefined {
    const loaded = this.#loaded.get(row.instanceId);
    return loaded?.tasks.some((t) => t.id === row.id) ? loaded : undefined;
  }

  #tasksChanged(loaded: Loaded, exact: boolean): void {
    loaded.tasksChanged = true;
    loaded.dirty = true;
    if (exact) loaded.exact = true;
  }

  /**
   * Brings the task indexes up to this transaction's writes before they are read: the task rows a deletion of an
   * instance's tasks is still deleting (it reads them first), and the `xp` entries.
   */
  async #tasksIndexed(): Promise<void> {
    await this.#writes.settle();
    this.#syncTaskEntries();
  }

  /**
   * A task packed into an instance this transaction reads or read, once those reads and the tracked writes are done
   * (so that a task row read next is read as they leave it).
   */
  async #packedTask(id: string): Promise<TaskRow | undefined> {
    await Promise.all([...this.#loading.values(), this.#writes.settle()]);
    return [...this.#loaded.values()].flatMap((loaded) => loaded.tasks).find((t) => t.id === id);
  }

  /** Every packed task (one read per instance with tasks). */
  async #packedTasks(): Promise<TaskRow[]> {
    await this.#tasksIndexed();
    const keys = await this.#keys(this.#range(['xp'], ['xp', MAX]));
    const instances = await Promise.all(keys.map((key) => this.#load(lastOf(key))));
    return [...new Set(instances)].flatMap((loaded) => loaded.tasks);
  }

  /**
   * The packed task with the smallest (readyMs, seq) among those with readyMs <= nowMs: the first task of the instance
   * of the first `xp` entry, when that entry is exactly there. An entry may be early (see the layout), left behind by
   * older code, or layout 6's: it is moved or deleted, and the first one is looked at again.
   */
  async #firstReadyPacked(nowMs: number): Promise<TaskRow | undefined> {
    for (;;) {
      const [key] = await this.#keys(this.#range(['xp', -Infinity], ['xp', nowMs, MAX]), 1);
      if (!key) return undefined;
      if (key.length === 3) {
        await this.#replaceLayout6Entries(key[1] as number);
        continue;
      }
      const loaded = await this.#load(lastOf(key));
      const first = firstTask(loaded.tasks);
      if (sameEntry(loaded.entry, key.slice(1, -1) as number[])) {
        if (first && sameEntry(loaded.entry, [first.readyMs, first.seq])) return first;
        // The instance's own entry, early.
        this.#tasksChanged(loaded, true);
        this.#syncTaskEntries();
      } else {
        // Not the instance's entry: older code replaced or purged the instance, or moved its entry.
        this.#store.delete(key);
      }
    }
  }

  /**
   * Replaces every layout-6 entry (`['xp', readyMs, id]`, written by layout-6 code in another tab) at `readyMs` by the
   * entry of its instance at its first task. They sort after the entries of their ms and by id among themselves, so
   * all of that ms are replaced at once, before any is claimed from.
   */
  async #replaceLayout6Entries(readyMs: number): Promise<void> {
    const keys = await this.#keys(this.#range(['xp', readyMs, ''], ['xp', readyMs, MAX]));
    const instances = await Promise.all(keys.map((key) => {
      this.#store.delete(key);
      return this.#load(lastOf(key));
    }));
    for (const loaded of instances) if (loaded.row) this.#tasksChanged(loaded, true);
    this.#syncTaskEntries();
  }

  /**
   * Moves the `xp` entry of every instance whose tasks changed: it must not be later than its first task by (readyMs,
   * seq). Where a commit replaced a task (the next one's lease ends later) an entry still in the future stays, so a
   * step writes no index entry; a claim or a repair puts it exactly.
   */
  #syncTaskEntries(): void {
    let nowMs: number | undefined;
    for (const [id, loaded] of this.#loaded) {
      if (!loaded.tasksChanged) continue;
      const first = firstTask(loaded.tasks);
      const exact = first && [first.readyMs, first.seq];
      const before = loaded.entry;
      const keep = exact !== undefined && before?.length === 2 && !loaded.exact &&
        firstTask([first!, { readyMs: before[0], seq: before[1] } as TaskRow]) !== first &&
        before[0]! > (nowMs ??= this.#clock.now().getTime());
      const after = keep ? before : exact;
      if (!sameEntry(after, before)) {
        if (before !== undefined) this.#store.delete(['xp', ...before, id]);
        if (after !== undefined) this.#store.put(0, ['xp', ...after, id]);
        loaded.entry = after;
        loaded.dirty = true;
      }
      loaded.tasksChanged = false;
      loaded.exact = false;
    }
  }

  /**
   * Marks each of these instances that packs more than {@link MAX_PACKED_TASKS} tasks for writing, so that the others
   * become rows: the upgrade to layout 8.
   */
  async repack(ids: readonly string[]): Promise<void> {
    for (const loaded of await Promise.all(ids.map((id) => this.#load(id)))) {
      if (loaded.row && loaded.tasks.length > MAX_PACKED_TASKS) loaded.dirty = true;
    }
  }

  /**
   * Turns the tasks of each instance to write beyond the {@link MAX_PACKED_TASKS} oldest (by seq) into task rows: those
   * a fan-out just scheduled, or that older code packed (layout 7 packed them all).
   */
  #spillTasks(): void {
    for (const loaded of this.#loaded.values()) {
      if (!loaded.dirty || !loaded.row || loaded.tasks.length <= MAX_PACKED_TASKS) continue;
      const bySeq = [...loaded.tasks].sort((a, b) => a.seq - b.seq);
      for (const row of bySeq.slice(MAX_PACKED_TASKS)) this.#putTaskRow(row);
      loaded.tasks = bySeq.slice(0, MAX_PACKED_TASKS);
      this.#tasksChanged(loaded, true);
    }
  }

  /** Writes every instance value this transaction changed, once. */
  #flushInstances(): void {
    this.#spillTasks();
    this.#syncTaskEntries();
    for (const [id, loaded] of this.#loaded) {
      if (!loaded.dirty) continue;
      loaded.dirty = false;
      if (!loaded.row) continue;
      const value: StoredInstance = {
        ...loaded.row,
        ...(loaded.tasks.length > 0 ? { tasks: loaded.tasks } : {}),
        ...(loaded.entry === undefined ? {} : { tasksReadyMs: loaded.entry[0], tasksSeq: loaded.entry[1] }),
      };
      const confirm = this.#assumedAbsent.get(id);
      if (confirm) this.#addInstance(id, value, confirm);
      else this.#store.put(value, ['i', id]);
      this.#reads.writes.set(`i:${id}`, value);
    }
  }

  /** Writes the value of an instance taken as absent, if it is: else the transaction aborts (see {@link KeyvalTransaction.expectAbsent}). */
  #addInstance(id: string, value: StoredInstance, confirm: () => void): void {
    this.#added.add(id);
    const request = this.#store.add(value, ['i', id]);
    request.addEventListener('success', confirm);
    request.addEventListener('error', () => {
      if (request.error?.name === 'ConstraintError') this.foundPresent = true;
    });
  }

  async #get<T>(key: IDBValidKey): Promise<T | undefined> {
    return (await promisifyRequest(this.#store.get(key))) as T | undefined;
  }

  async #keys(range: IDBKeyRange, count?: number): Promise<IDBValidKey[][]> {
    return (await promisifyRequest(this.#store.getAllKeys(range, count))) as IDBValidKey[][];
  }

  #range(lower: IDBValidKey[], upper: IDBValidKey[], lowerOpen = false): IDBKeyRange {
    return this.#keyRange.bound(lower, upper, lowerOpen, false);
  }

  /** The claim-order keys `[prefix, readyMs, ...]` with `afterMs < readyMs <= untilMs`. */
  #readyRange(prefix: string, afterMs: number, untilMs: number): IDBKeyRange {
    return this.#range([prefix, afterMs, MAX], untilMs === Infinity ? [prefix, MAX] : [prefix, untilMs, MAX], true);
  }

  /** Deletes index keys that are no longer wanted and writes the new ones. */
  #replaceIndexKeys(before: readonly IDBValidKey[][], after: readonly IDBValidKey[][]): void {
    const wanted = new Set(after.map((k) => JSON.stringify(k)));
    const present = new Set(before.map((k) => JSON.stringify(k)));
    for (const key of before) if (!wanted.has(JSON.stringify(key))) this.#store.delete(key);
    for (const key of after) if (!present.has(JSON.stringify(key))) this.#store.put(0, key);
  }
}

let stamps = 0;
/**
 * A sequence number from the clock: ms since the epoch times 1000, plus a counter of this realm that orders stamps of
 * the same ms. Claims prefer smaller ones (fairness across instances, best effort); the order of one instance's
 * messages is kept by its row's `tailSeq` even if the clock steps back.
 */
function stamp(): number {
  stamps = (stamps + 1) % 1000;
  return Date.now() * 1000 + stamps;
}

/** The value of an instance's paging entry: its status when terminal (exact), else 0 (read the row). */
function pagingValue(row: InstanceRow): OrchestrationRuntimeStatus | 0 {
  return isTerminalStatus(row.status) ? row.status : 0;
}

function isTerminalValue(value: unknown): boolean {
  return typeof value === 'string' && isTerminalStatus(value as OrchestrationRuntimeStatus);
}

/**
 * The walk of a page's pass down the `keys` of a window (ascending): from the last, the ids of those `take` takes, `max`
 * at most, and the index of the lowest key it went down to (0: the whole window).
 */
function walkDown(keys: readonly IDBValidKey[][], take: (key: IDBValidKey[], index: number) => boolean, max: number): [number, string[]] {
  const ids: string[] = [];
  let at = keys.length;
  while (at > 0 && ids.length < max) {
    at--;
    if (take(keys[at]!, at)) ids.push(lastOf(keys[at]!));
  }
  return [at, ids];
}

/**
 * The rows a pass of a page read over several transactions keeps (see {@link KeyvalTransaction.scanEnded}): those it
 * kept and those `found` now (a row read again replacing the one before), the `limit` earliest-ended.
 */
function keptWith(part: EndedScanPart, found: readonly InstanceRow[], limit: number): Pick<EndedScanPart, 'kept' | 'dropped'> {
  const ids = new Set(found.map((row) => row.id));
  const all = [...part.kept.filter((row) => !ids.has(row.id)), ...found].sort(byEnd);
  return { kept: all.slice(0, limit), dropped: part.dropped || all.length > limit };
}

/** Orders rows by end (store-kit's `compareEndedKeys`): the order of `listEnded`. */
function byEnd(a: InstanceRow, b: InstanceRow): number {
  return compareEndedKeys(endedKeyOf(a.state), endedKeyOf(b.state));
}

/**
 * A page of `query` while end entries may be missing: the rows of its entries and, of `others` (rows past the place of
 * their writing, `undefined` for one not there), those the query takes, each instance once, in end order, at most
 * `query.limit`.
 */
function mergeEnded(entries: readonly InstanceRow[], others: readonly (InstanceRow | undefined)[], query: EndedQuery): InstanceRow[] {
  const listed = new Set(entries.map((row) => row.id));
  const past = others.filter((row): row is InstanceRow => row !== undefined && !listed.has(row.id) && matchesEndedQuery(row.state, query));
  return [...entries, ...past].sort(byEnd).slice(0, query.limit);
}

/** The claim-order entry of an instance (none without pending messages). */
function claimKeys(row: InstanceRow): IDBValidKey[][] {
  return row.readyMs !== undefined && row.headSeq !== undefined ? [['xr', row.readyMs, row.headSeq, row.id]] : [];
}

/** The end-order entry of an instance (`listEnded`, layout 16): none unless it has ended. */
function endedKeys(row: InstanceRow): IDBValidKey[][] {
  return isTerminalStatus(row.status) ? [['xe', row.status, endedKeyOf(row.state).endedMs, row.id]] : [];
}

function taskIndexKeys(row: TaskRow): IDBValidKey[][] {
  return [['xt', row.readyMs, row.seq, row.id]];
}

/** Whether two `xp` entries (keys without `'xp'` and the id), or two keys of the store, are the same. */
function sameEntry(a: readonly IDBValidKey[] | undefined, b: readonly IDBValidKey[] | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));
}

/**
 * The next place of the rebuild of the name and tag entries after a step at `rebuild` that read up to the key `last`
 * (an `xc` entry, or a tag or name entry), `full` when it read a whole batch (more may follow): the same step after
 * `last`, else the next step from its start (`rows`, then `xg`, then `xn`), else `undefined` (done).
 */
function nextRebuild(rebuild: EntriesRebuild, last: IDBValidKey | undefined, full: boolean): EntriesRebuild | undefined {
  if (full && last !== undefined) return { step: rebuild.step, after: last };
  if (rebuild.step === 'rows') return { step: 'xg' };
  if (rebuild.step === 'xg') return { step: 'xn' };
  return undefined;
}

/** The name and tag entries of an instance: its `xn` entry and one `xg` entry per tag pair. */
function entryKeys(row: InstanceRow): IDBValidKey[][] {
  return [nameKey(row), ...tagKeys(row)];
}

/**
 * The `xc` entry a name or tag entry is its instance's by: an instance's name and tags change only with its createdMs
 * (a new execution), so an entry whose (createdMs, id) an `xc` entry has is its instance's, and one whose none has was
 * left behind. One left by an instance purged and started again in the same ms with another name or tags stays, and
 * reads pass over it as over any entry that is not its row's.
 */
function createdKeyOf(entry: readonly IDBValidKey[]): IDBValidKey[] {
  return ['xc', ...entry.slice(-2)];
}

/**
 * Name and tag entries grouped by name or tag pair (all but their last two elements, createdMs and id), each group in
 * the order given.
 */
function groupsOf(keys: readonly IDBValidKey[][]): IDBValidKey[][][] {
  const groups = new Map<string, IDBValidKey[][]>();
  for (const key of keys) {
    const of = JSON.stringify(key.slice(0, -2));
    const group = groups.get(of);
    if (group) group.push(key);
    else groups.set(of, [key]);
  }
  return [...groups.values()];
}

/** True when `key` is the `xn` entry of `row` (its name and createdMs), not one older code left behind. */
function isNameEntryOf(key: readonly IDBValidKey[], row: InstanceRow): boolean {
  return key[1] === row.state.name && key[2] === row.createdMs;
}

/**
 * True when `key` is an `xg` entry of `row` (`['xg', key, value, createdMs, id]`: the row has that tag pair and that
 * createdMs), not one older code left behind.
 */
function isTagEntryOf(key: readonly IDBValidKey[], row: InstanceRow): boolean {
  return key[3] === row.createdMs && typeof key[1] === 'string' && typeof key[2] === 'string' && isMemberOf(row, undefined, [key[1], key[2]]);
}

/** The `xg` entries of an instance, one per tag pair: its place in the paging order of each. */
function tagKeys(row: InstanceRow): IDBValidKey[][] {
  return tagPairsOf(row.state.tags).map(([key, value]) => ['xg', key, value, row.createdMs, row.id]);
}

/** The `xn` entry of an instance: its place in the paging order of its orchestrator name. */
function nameKey(row: InstanceRow): IDBValidKey[] {
  return ['xn', row.state.name, row.createdMs, row.id];
}

/**
 * Layout 6 -> 7: moves each `['xp', readyMs, id]` entry to `['xp', readyMs, seq, id]` at its instance's first task
 * (an entry that is not its instance's, or of an instance without tasks, is dropped).
 */
async function upgradeTaskEntries(store: IDBObjectStore, keyRange: typeof IDBKeyRange): Promise<void> {
  const keys = await promisifyRequest(store.getAllKeys(keyRange.bound(['xp'], ['xp', MAX]))) as IDBValidKey[][];
  await Promise.all(keys.filter((key) => key.length === 3).map(async (key) => {
    const id = lastOf(key);
    store.delete(key);
    const stored = await promisifyRequest(store.get(['i', id])) as StoredInstance | undefined;
    const first = stored && stored.tasksReadyMs === key[1] && stored.tasksSeq === undefined ? firstTask(stored.tasks ?? []) : undefined;
    if (!stored || !first) return;
    store.put(0, ['xp', first.readyMs, first.seq, id]);
    store.put({ ...stored, tasksReadyMs: first.readyMs, tasksSeq: first.seq } satisfies StoredInstance, ['i', id]);
  }));
}

/**
 * Layout 7 -> 8: gives every task row (layout 5's) its `xi` entry, and turns the tasks of each instance beyond the
 * {@link MAX_PACKED_TASKS} oldest into task rows.
 */
async function upgradeTaskRows(store: IDBObjectStore, keyRange: typeof IDBKeyRange, clock: Clock): Promise<void> {
  const [rows, entries] = await Promise.all([
    promisifyRequest(store.getAll(keyRange.bound(['t'], ['t', MAX]))) as Promise<TaskRow[]>,
    promisifyRequest(store.getAllKeys(keyRange.bound(['xp'], ['xp', MAX]))) as Promise<IDBValidKey[][]>,
  ]);
  for (const row of rows) store.put(0, ['xi', row.instanceId, row.id]);
  const tx = new KeyvalTransaction(store, keyRange, clock, new ReadsAhead(undefined));
  await tx.repack([...new Set(entries.map(lastOf))]);
  await tx.finish();
}

/** The id at the end of an index key. */
function lastOf(key: readonly IDBValidKey[]): string {
  return key[key.length - 1] as string;
}
