import {
  InstanceNotTerminalError, InvalidArgumentError, LeaseLostError, StoreClosedError, TERMINAL_RUNTIME_STATUSES, isTerminalStatus, systemClock,
  type Clock, type DurableError, type ExecutionStartedEvent, type HistoryEvent, type InstanceTags, type OrchestrationRuntimeStatus,
} from '@durable-rx/runtime';
import {
  activityStepHolds, unclaimedRefusal, checkWriteLease, releasedInstanceOf, commitResultOf, validateInstanceQuery, validatePurgeFilter, assertNever, comparePageKeys,
  holdsLease, instanceIdsOf, raiseKeyIdsOf, isHeldBy, isVisible, leaseLostError, leaseTokens, newLease, matchesPurgeFilter, matchesQuery, namesOf, nextPageToken, pageKeyOf, pageOrderOf, selectiveTagPair,
  pageSizeOf, planInstancePage, planWriteSet, Broadcast, CLOCK_METHODS, copyStoreValue, hasMethods, isDelayMs, isFunction, isTimeoutMs, readChecked, type MemberCheck, type ActivityWorkItem, type ClaimOptions, type CommitResult, type InstancePage, type InstanceQuery,
  type InstanceState, type Lease, type OrchestrationWorkItem, type PurgeFilter, type PurgeMember, type PurgeSetResult, type StatusChange, type Store,
  purgeMemberHolds, validatePurgeSet, historyRangeOf, type BoundedRange, type HistoryRange,
  type StoreCapabilities, type PageKey, type WritePlan, type WriteSet, validateClaimOptions, validateLeaseOwner, validateTime,
  validateEndedQuery, type EndedQuery,
} from '@durable-rx/runtime/store-kit';
import type { Observable } from 'rxjs';
import { DatabaseUpgradingError } from './errors/database-upgrading-error.js';
import { ChangeFeed } from './internal/change-feed.js';
import { ExecutionInputs } from './internal/execution-inputs.js';
import { readChangeOf, type FeedChange } from './internal/version-gate.js';
import { WatchedInstances } from './internal/watched-instances.js';
import { mapStorageError } from './internal/map-storage-error.js';
import { DEFAULT_OPEN_TIMEOUT_MS, OpenGate, type OpenAttempt } from './internal/open-gate.js';
import { PageFreeze } from './internal/page-freeze.js';
import {
  isInputApart, isRecordOf, isStoredApart, messageRow, messageWithInput, queueFieldsOf, releasedInstance, releasedTask, startWithInput, stateWithInput,
  withQueueFields, claimedMessages, type InputRecord, type InstanceRow, type NewMessageRow, type StoredEvent,
} from './internal/rows.js';
import { ReadsAhead, type CommittedRows } from './internal/read-ahead.js';
import type { BackendTransaction, EndedScanPart, InstanceScan, StoreBackend, TableName } from './internal/store-backend.js';
import { RowWriter, type MessagesAhead } from './internal/row-writer.js';

/**
 * What an adapter tells the shared store about its database. Internal: left out of the published declarations, with
 * the open attempt it names (only DexieStore and KeyvalStore extend {@link IdbStore}).
 *
 * @internal
 */
export interface IdbStoreSettings {
  /** `capabilities.name`, e.g. `'dexie'`. */
  readonly kind: string;
  /** The IndexedDB database name; the change-feed channel is named after it. */
  readonly databaseName: string;
  /** See {@link IdbStoreOptions.gapTimeoutMs}. */
  readonly gapTimeoutMs?: number;
  /** See {@link IdbStoreOptions.joinTimeoutMs}. */
  readonly joinTimeoutMs?: number;
  /** See {@link IdbStoreOptions.clock}. */
  readonly clock?: Clock;
  /** See {@link IdbStoreOptions.openTimeoutMs}. */
  readonly openTimeoutMs?: number;
  /**
   * The layout's claim orders are IndexedDB indexes, whose entries Chromium does not delete with their row: an entry
   * left by a row written or deleted since stays, and a read steps over it, until a cursor of a readwrite transaction
   * passes it (which deletes it). A readonly look for due work (a claim's, of instances and of tasks) then reads no
   * further than now (where readwrite claims read), and the wake time, which reads past it, is read in a readwrite
   * transaction. Without it (a layout whose claim orders are keys of its own, deleted with their rows, as
   * KeyvalStore's), both are readonly. DexieStore, with lease expiries in its task index, stepped over the entry of
   * every task completed within a lease's length (its wake time read took 10.6, 23.0 then 37.4 ms after 1,000, 2,000
   * then 3,000 instances across two handles), and its look for due instances over the entry of every instance stepped
   * within an orchestration lease's length.
   */
  readonly indexEntriesOutlive?: boolean;
  /**
   * Begins opening the database (on first use, and again after a failed open). Calls `onVersionChange` when another
   * connection wants to upgrade or delete the database and this one was closed to let it. `clock` is the store's
   * (`clock`, else the system clock): a layout that decides anything by the time asks it. `openTimeoutMs` is the
   * store's (with its default), for a layout that opens the database again itself. `page` is the store's: every
   * transaction of the store ends through `finishChecked` with it, which aborts it when the page freezes, and the
   * open's own (an upgrade, a layout check) begin with {@link PageFreeze.beginOpening}: an open the freeze failed so
   * rejects with `page`, and the store opens again after the resume. A layout that opens a new connection itself after
   * the browser closed one (the site's data cleared) calls `onReopened` once it did: the store reads its watched
   * instances again. Every layout calls `onDropped` when the browser closes a connection of the store itself (its
   * `close` event: the site's data cleared, a storage failure): see {@link IdbStore.#dropped}.
   */
  readonly startOpen: (
    onVersionChange: () => void, clock: Clock, openTimeoutMs: number, page: PageFreeze, onReopened: () => void,
    onDropped: () => void,
  ) => OpenAttempt;
}

/**
 * Options both IndexedDB stores accept.
 *
 * @example
 * ```ts
 * new KeyvalStore({ name: 'my-app', gapTimeoutMs: 2000 });
 * ```
 */
export interface IdbStoreOptions {
  /** IndexedDB database name. Every store (in any tab of the origin) opened with the same name shares the data. */
  readonly name: string;
  /**
   * How long a status snapshot from another tab waits for a snapshot it must follow (messages of two tabs may
   * overtake each other) before it is delivered anyway. Default 1000 ms; it only matters when a tab died between
   * committing and posting.
   */
  readonly gapTimeoutMs?: number;
  /**
   * How long a new store waits, before its first read, for the stores already open on the database (in this page and
   * other tabs) to answer its announcement; see "How the cross-tab feed works" in the README. Default 1000 ms; a
   * store that is alone, or whose peers answer (within milliseconds), never waits that long. It only matters when a
   * tab holds the database but does not run (frozen): what it committed meanwhile reaches this store when it answers.
   */
  readonly joinTimeoutMs?: number;
  /**
   * Where the change feed times `gapTimeoutMs` and `joinTimeoutMs`. Default: the system clock. Pass the runtime's
   * clock; in tests a `VirtualClock` from `@durable-rx/runtime/testing` releases a held snapshot only when the test
   * advances it.
   */
  readonly clock?: Clock;
  /**
   * How long a call waits for IndexedDB to open the database before it fails with `DatabaseBlockedError`. Default
   * 5000 ms, in real time (not on `clock`: it bounds the browser's work), counted again from the resume when the page
   * froze meanwhile (a frozen page's open waits for the resume too). An open is answered in milliseconds, unless
   * it is queued behind another connection's upgrade or deletion of the database that a connection which does not
   * close holds back (a tab of an older version of the app): the open goes on meanwhile, every call fails at once
   * with that error, and once the other tab closes the store uses the database, by itself. `Infinity`: calls wait as
   * long as the open does (an open that IndexedDB reports blocked fails them at once all the same). A number > 0,
   * checked when the store is created (`InvalidArgumentError`): within 0 ms no open is answered, so every first call
   * would fail.
   */
  readonly openTimeoutMs?: number;
}

/**
 * A store's `options` (`what`: `DexieStore options`) read and checked when the store is created, before anything is
 * opened: options that are no object, or a `name` that is no non-empty string, give an `InvalidArgumentError` there,
 * not a TypeError (or a database named `"5"`) at its first call; so does any member that breaks the rule of its kind
 * (`gapTimeoutMs` and `joinTimeoutMs` waits of 0 ms or more, `openTimeoutMs` one of more than 0 ms, `clock` a Clock)
 * or of `checks` (the adapter's own).
 */
export function readIdbOptions<C extends Readonly<Record<string, MemberCheck>>>(
  options: unknown, what: string, checks: C,
): ReturnType<typeof readChecked<typeof IDB_CHECKS & C>> & { readonly name: string } {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${what} must be an object with a name`);
  const checked = readChecked(options, what, { ...IDB_CHECKS, ...checks });
  return { ...checked, name: (checked.name as string | undefined) ?? isNonEmptyString(undefined, `${what}.name`) };
}

/** The {@link MemberCheck} of a database or object store name: a non-empty string. */
export const isNonEmptyString: MemberCheck<string> = (value, what) => {
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(`${what} must be a non-empty string`);
  return value;
};

/**
 * The members every IndexedDB store's options have, and their checks: both adapters take an `IDBKeyRange` in place
 * of the global one (a constructor, with `indexedDB` in Node).
 */
const IDB_CHECKS = {
  name: isNonEmptyString,
  gapTimeoutMs: isTimeoutMs,
  joinTimeoutMs: isTimeoutMs,
  openTimeoutMs: isDelayMs, // 0 ms would fail every first call: no open is answered within it
  clock: hasMethods<Clock>(CLOCK_METHODS),
  IDBKeyRange: (value: unknown, what: string) => isFunction(value, what) as unknown as typeof globalThis.IDBKeyRange,
};

/**
 * Name of the BroadcastChannel the stores on database `name` share.
 *
 * @example
 * ```ts
 * changeChannelName('my-app'); // 'durable-rx:my-app'
 * ```
 */
export function changeChannelName(name: string): string {
  return `durable-rx:${name}`;
}

const DEFAULT_GAP_TIMEOUT_MS = 1000;
const DEFAULT_JOIN_TIMEOUT_MS = 1000;
/** At most this many instances are remembered as claimable (see `IdbStore.#claimableHints`). */
const MAX_CLAIMABLE_HINTS = 1000;
/** At most this many claimed tasks' instances are remembered (see `IdbStore.#taskInstances`). */
const MAX_TASK_INSTANCES = 100_000;
/**
 * A call's transaction runs at most this many times: once more after rows read ahead were not confirmed, once more
 * after the browser closed the connection under it or refused it as it closed (the site's data cleared), and once for
 * a second such close. The one bound on running again: a backend never runs a transaction again itself.
 */
const MAX_RUNS = 3;

// Transaction scopes: each operation locks only the tables it touches, so independent work runs in parallel.
const ALL: readonly TableName[] = ['instances', 'history', 'messages', 'tasks'];
/** What a commit without a keyed raise reads of the raise-key records: none. */
const NO_KEYS: readonly (readonly string[] | undefined)[] = [];
/** A purge: every table, the instances' raise-key and input records too. */
const PURGE: readonly TableName[] = [...ALL, 'raiseKeys', 'inputs'];
/** Instances and their pending messages (sending, claiming, releasing orchestration work). */
const QUEUE: readonly TableName[] = ['instances', 'messages'];
/** A claim: its instance's messages, and its input record (the work item's state carries the input). */
const CLAIM: readonly TableName[] = ['instances', 'messages', 'inputs'];
/** A read of input records alone (what a post from another handle left out: see `ChangeFeed`). */
const INPUTS: readonly TableName[] = ['inputs'];
/** A read of states with their inputs. */
const STATES: readonly TableName[] = ['instances', 'inputs'];
/** Activity tasks: DexieStore keeps an instance's first task in the instance row, so the instances come with them. */
const TASKS: readonly TableName[] = ['instances', 'tasks'];
const TASKS_AND_QUEUE: readonly TableName[] = ['tasks', 'instances', 'messages'];
const INSTANCES: readonly TableName[] = ['instances'];
const HISTORY: readonly TableName[] = ['history', 'inputs'];
const INSTANCE_HISTORY: readonly TableName[] = ['instances', 'history', 'inputs'];
const HISTORY_AND_QUEUE: readonly TableName[] = ['history', 'instances', 'messages'];

/**
 * The Store port on IndexedDB, shared by {@link DexieStore} and {@link KeyvalStore}: every rule of the port lives
 * here once, and each adapter only provides a {@link StoreBackend} (how rows, indexes and transactions map onto its
 * library). Every method is one IndexedDB transaction; a commit checks the lease inside its transaction, so a worker
 * in another tab that took the lease over makes it fail with `LeaseLostError` and nothing is written. After a write
 * commits, its snapshots go to `changes$` here and, over a BroadcastChannel, in every other handle and tab.
 *
 * @example
 * ```ts
 * const store: IdbStore = useKeyval ? new KeyvalStore({ name }) : new DexieStore({ name });
 * store.changes$.subscribe(({ instanceId, state }) => console.log(instanceId, state?.runtimeStatus));
 * ```
 */
export abstract class IdbStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly changes$: Observable<StatusChange>;
  readonly workAvailable$: Observable<void>;
  /**
   * Signals each time the store reads its watched instances again (another tab went without its goodbye, the database
   * was opened again, the page came back from the back/forward cache, a message on the channel carried changes the
   * feed could not read; see #readWatched): `changes$` may have missed commits, and a client's live
   * lists (`instances$`) run their query again. Ends as `changes$` does.
   */
  readonly resync$: Observable<void>;

  readonly #settings: IdbStoreSettings;
  readonly #clock: Clock;
  readonly #feed: ChangeFeed;
  /** A re-read of the watched instances runs (`#readWatched`), and another was asked for meanwhile. */
  #rereading = false;
  #rereadAgain = false;
  /** The subscribers of {@link IdbStore.instanceChanges$}: what the store reads again when a tab went (see #readWatched). */
  readonly #watched: WatchedInstances;
  readonly #resync = new Broadcast<void>();
  /**
   * The page's freeze: the store's transactions still at work are aborted at it and run again after the resume, and
   * none begins before the resume (see {@link IdbStore.#run}).
   */
  readonly #page = new PageFreeze();
  readonly #openTimeoutMs: number;
  readonly #gate: OpenGate<StoreBackend>;
  readonly #inFlight = new Set<Promise<unknown>>();
  #backend: Promise<StoreBackend> | undefined;
  /** What {@link IdbStore.#backend} opened, once it did. */
  #opened: StoreBackend | undefined;
  /** The database is to be opened again after the browser closed it: the watched instances are read once it is. */
  #readAgain = false;
  #closed: Promise<void> | undefined;
  #lost: DurableError | undefined;
  /**
   * The smallest `readyMs` of any instance (Infinity: none) as the last claim probe that found nothing due read it,
   * for the `nextWakeTime` that follows the claim round (it then reads only the tasks); never set where the probe
   * reads no further than now (see {@link IdbStoreSettings.indexEntriesOutlive}). An instance becomes claimable
   * sooner only through a write that signals work (a message, a lease released with messages pending), and every
   * such signal, here or from another handle, drops the value; readyMs that a claim or a commit moves later only
   * makes the worker wake early and look again.
   */
  #instancesHead: number | undefined;
  /** Bumped by every work signal: a probe that overlapped one does not keep what it read. */
  #workSignals = 0;
  /**
   * Instances a commit of this handle left claimable at once and no claim of this handle has taken since: a claim
   * while there is one goes straight to its readwrite transaction, as after a probe that found work (the probe would
   * only repeat what the commit just wrote). Bounded, for handles that never claim.
   */
  readonly #claimableHints = new Set<string>();
  /**
   * The instance of each activity task this handle claimed and still holds, for renewals and abandons (they name only
   * the task): a layout that keeps tasks in their instance then reads that one instance instead of every instance with
   * tasks. Dropped when the lease ends here; bounded (oldest first) for leases that just expire. A task not found
   * here is looked for the slow way.
   */
  readonly #taskInstances = new Map<string, string>();
  /**
   * The commits of this handle in flight, under each instance they read: a read of such an instance waits for the
   * last of them and answers with the state it committed (see {@link IdbStore.getInstance}).
   */
  readonly #committing = new Map<string, Promise<RowWriter>>();
  /** The instance reads that wait for the next readonly transaction (see {@link IdbStore.#readInstance}). */
  #instanceReads: InstanceReads | undefined;
  /**
   * The instance and task rows this handle's transactions last committed, by the backend's keys: a commit reads ahead
   * from them (see {@link ReadsAhead}), since a step usually follows one this handle committed.
   */
  readonly #committedRows: CommittedRows = new Map();
  /**
   * The inputs of the executions this handle's worker commits and claims, frozen (see {@link ExecutionInputs}): a
   * claim of a known execution reads no input record, a commit publishes the input without a copy, and a read answers
   * it without reading the record.
   */
  readonly #inputs = new ExecutionInputs();

  /** Only this package's adapters extend the class: the settings it takes are internal. */
  protected constructor(settings: never);
  /** @internal */
  protected constructor(settings: IdbStoreSettings);
  protected constructor(settings: IdbStoreSettings) {
    this.#settings = settings;
    this.#clock = settings.clock ?? systemClock;
    this.#openTimeoutMs = settings.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    this.#gate = new OpenGate<StoreBackend>(settings.databaseName, this.#openTimeoutMs, (backend) => backend.close(), this.#page);
    this.capabilities = { name: settings.kind, shared: true, durable: true, fusedSteps: true, unclaimedWrites: true, filters: ['name', 'tags', 'order'] };
    this.#feed = new ChangeFeed({
      channelName: changeChannelName(settings.databaseName),
      gapTimeoutMs: settings.gapTimeoutMs ?? DEFAULT_GAP_TIMEOUT_MS,
      joinTimeoutMs: settings.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS,
      clock: this.#clock,
      page: this.#page,
      peerGone: (owners) => this.#peerGone(owners),
      // Changes another handle posted that the feed could not read (dropped): one may stand for a commit, of work too.
      unreadable: () => {
        this.#readWatched();
        this.#feed.wakeHere();
      },
      // Back from the back/forward cache: the other tabs' commits of meanwhile were not heard here.
      restored: () => this.#readWatched(),
      inputs: {
        isKept: (value) => this.#inputs.isKept(value),
        get: (instanceId, execution) => this.#inputs.get(instanceId, execution),
        keep: (instanceId, execution, input, own) => this.#inputs.keep(instanceId, execution, input, own),
        forget: (instanceId) => this.#inputs.forget(instanceId),
        // What a post left out and this handle does not keep: the records, in a transaction of their own.
        read: (instanceIds) => this.#run('readInputs', 'readonly', INPUTS, (tx) => Promise.all(instanceIds.map((id) => tx.getInput(id)))),
      },
    });
    this.changes$ = this.#feed.changes$;
    this.#watched = new WatchedInstances(this.#feed.changes$);
    this.workAvailable$ = this.#feed.workAvailable$;
    this.resync$ = this.#resync.observable;
    // Ends with the feed (close; a database lost: see #lose).
    this.#feed.workAvailable$.subscribe({
      next: () => {
        this.#workSignals++;
        this.#instancesHead = undefined;
      },
      error: () => undefined,
    });
  }

  /**
   * The committed changes of one instance, as `changes$` delivers them (clients use it for `status$`, `customStatus$`
   * and `waitForCompletion`). Watching through it also tells the store which instances to read again when another tab
   * goes without saying goodbye (closed, reloaded, crashed): such a tab may have committed in its last moment without
   * posting it, and the read delivers the latest state (see {@link IdbStore.#readWatched}).
   */
  instanceChanges$(instanceId: string): Observable<StatusChange> {
    return this.#watched.watch(instanceId);
  }

  /**
   * Another tab went without its store's goodbye (see the `peerGone` option of {@link ChangeFeed}): the watched
   * instances are read again, and the leases its workers held (the owners its feed announced) are released, as their
   * next life would release them (`releaseOwner`): each worker of a tab holds a Web Lock for its life and the feed's
   * lock is held as long, so a freed lock means the tab is gone (a frozen tab keeps its locks). At least once: an
   * activity it was running runs again. Every other tab does the same; the second release finds nothing. A failure is
   * ignored: the leases then expire in their own time.
   *
   * The local worker is woken in every case, released leases or not: the gone tab may have committed work it never
   * posted (a start made in a tab without a worker, whose post went with the tab), and an idle worker has no timer
   * that would find it.
   */
  #peerGone(owners: readonly string[]): void {
    this.#readWatched();
    this.#feed.wakeHere();
    if (owners.length === 0 || this.#refusal()) return;
    const gone = new Set(owners);
    this.#releaseLeases('releaseOwner', (lease) => gone.has(lease.owner)).catch(() => undefined);
  }

  /**
   * The browser closed the store's connection itself (the site's data cleared, a storage failure). When a client
   * watches an instance or a live list (`instanceChanges$`, `resync$`), the store reads again at once, which opens the
   * database again (see {@link IdbStore.#readWatched}): a watcher of an instance that went with the data sees it go,
   * and a `waitForCompletion` on it ends, without waiting for the app's next call. With nothing watched, the database
   * is opened again on the next call, as before.
   */
  #dropped(): void {
    if (this.#watched.ids().length > 0 || this.#resync.observed) this.#readWatched();
  }

  /**
   * Reads again every watched instance (in one readonly transaction, which IndexedDB orders after the writes begun
   * before it, the gone tab's too) and delivers what is newer than what was delivered (`readChangeOf`, through the
   * feed's version gate: the one rule for snapshots from every tab). An instance not found is gone since its last
   * snapshot delivered: the gone tab purged it in its last moment, or, after the database was opened again (the
   * browser closed the connection), it went with the data. Its watchers get its purge ({@link ChangeFeed.deliverLost}),
   * as after a purge. Failures (a store closed meanwhile) deliver nothing. Live lists learn of it through `resync$`
   * and run their query again. At most one re-read runs and one waits: asked for while one runs (a burst of messages
   * the feed cannot read, each asking), the next begins once it ended, and reads what all those asked for; a burst
   * costs two re-reads, not one each. With nothing watched, an empty transaction paces the `resync$` signals so.
   */
  #readWatched(): void {
    if (this.#rereading) {
      this.#rereadAgain = true;
      return;
    }
    if (this.#refusal()) return;
    this.#rereading = true;
    this.#resync.next();
    const ids = this.#watched.ids();
    const reads = ids.map((id) => this.#readInstance(id, true).then((state) => state ?? id, () => undefined));
    const done = ids.length === 0
      ? this.#run('resync', 'readonly', INSTANCES, () => Promise.resolve())
      : Promise.all(reads).then((read) => {
        this.#feed.deliverRead(read.flatMap((r) => (typeof r === 'object' ? [readChangeOf(r)] : [])));
        this.#feed.deliverLost(read.filter((r) => typeof r === 'string'));
      });
    void done.catch(() => undefined).then(() => {
      this.#rereading = false;
      if (!this.#rereadAgain) return;
      this.#rereadAgain = false;
      this.#readWatched();
    });
  }


  /**
   * Executes a write set in one transaction: checks its lease, reads the instances it names, lets `planWriteSet`
   * decide its conditions and writes the plan through a {@link RowWriter}.
   */
  async commit(writeSet: WriteSet): Promise<CommitResult> {
    const { lease } = writeSet;
    checkWriteLease(lease); // before the transaction: nothing is read or written under a malformed lease
    // The leases it stores (a start or tasks leased to the committing worker) are announced before they exist.
    for (const request of writeSet.requests) {
      if ((request.type === 'insertTask' || request.type === 'createInstance') && request.lease) this.#feed.announceOwner(request.lease.owner);
    }
    let result: CommitResult | undefined;
    let leasedTasks: WritePlan['taskLeases'] = [];
    let inserted: WritePlan['insertTasks'] = [];
    const ids = instanceIdsOf(writeSet);
    // The raise-key records a keyed raise or signal-with-start reads (none for any other write set).
    const keyIds = raiseKeyIdsOf(writeSet);
    const writing = this.#write('commit', scopeOf(writeSet, keyIds.length > 0), async (rows, tx) => {
      // The instance whose lease the commit releases: its own (orchestration), or an expired one an unclaimed write takes over.
      const leasedId = releasedInstanceOf(lease);
      // A start's instance is usually new: where the backend can, it is written without being read first.
      // Not a restart or a rewind's re-create, which expect the instance there.
      if (tx.expectAbsent) {
        for (const request of writeSet.requests) {
          if (request.type === 'createInstance' && !request.requires && !request.ifFailed) tx.expectAbsent(request.state.instanceId);
        }
      }
      // The reads go out together: one round trip. Where the database numbers messages, they are stored with them.
      const reads = Promise.all([
        Promise.all(ids.map((id) => rows.get(id))),
        lease?.kind === 'activityStep' ? tx.getTask(lease.taskId, lease.instanceId)
          : lease?.kind === 'activity' ? tx.getTask(lease.taskId, this.#taskInstances.get(lease.taskId)) : undefined,
        keyIds.length === 0 ? NO_KEYS : Promise.all(keyIds.map((id) => tx.getRaiseKeys(id))),
      ]);
      const ahead = tx.addMessageAhead ? storeAhead(writeSet, tx.addMessageAhead.bind(tx)) : undefined;
      const [found, task, keys] = await reads;
      // The released instance's remaining messages decide its claim schedule. A step that consumes as many messages
      // as the row counts pending consumed all of them (it can only consume pending ones): no need to read them.
      const consumed = writeSet.requests.reduce((n, r) => (r.type === 'deleteMessages' && r.instanceId === leasedId ? n + r.messageIds.length : n), 0);
      const instance = leasedId === undefined ? undefined : {
        id: leasedId,
        pending: (await rows.get(leasedId))?.pendingCount === consumed ? 'allConsumed' as const : await tx.listMessages(leasedId),
      };
      if (lease?.kind === 'activityStep') {
        // The instance row's claim schedule says whether a message is pending and when the first becomes visible.
        const row = await rows.get(lease.instanceId);
        const holds = activityStepHolds(lease, {
          taskLease: task?.lease, state: row?.state, instanceLease: row?.lease,
          firstVisibleMs: row?.headSeq === undefined ? undefined : row.minVisibleMs,
        });
        if (!holds) throw leaseLostError(lease);
      } else if (lease?.kind === 'unclaimed') {
        // The instance's pending messages, read above (it is the released instance). An unclaimed write (a client's
        // terminate, suspend or resume) consumes none, so they are all listed; a write that consumed them all would have
        // none left to wait for.
        const row = await rows.get(lease.instanceId);
        const pending = instance!.pending;
        const messages = pending === 'allConsumed' ? [] : pending.map((m) => m.message);
        const claimed = pending === 'allConsumed' ? undefined : claimedMessages(row?.lease, pending);
        const refusal = unclaimedRefusal(lease, { state: row?.state, instanceLease: row?.lease, messages, claimed });
        if (refusal) throw refusal;
      } else if (lease) {
        const held = lease.kind === 'orchestration' ? await rows.get(lease.instanceId) : task;
        if (!holdsLease(held?.lease, lease.token)) throw leaseLostError(lease);
      }
      const plan = planWriteSet(writeSet, new Map(ids.map((id, i) => [id, found[i]?.state])), new Map(keyIds.map((id, i) => [id, keys[i]])));
      result = commitResultOf(plan);
      ({ taskLeases: leasedTasks, insertTasks: inserted } = plan);
      await rows.apply(plan, { instance, task }, ahead);
    }, true); // read ahead: a step usually follows one this handle committed
    for (const id of ids) this.#committing.set(id, writing);
    let writes: RowWriter;
    try {
      writes = await writing;
    } finally {
      for (const id of ids) if (this.#committing.get(id) === writing) this.#committing.delete(id);
    }
    // The task's lease ended with the commit (a lease lost throws before: the renewal that follows forgets it).
    if (lease?.kind === 'activity' || lease?.kind === 'activityStep') this.#taskInstances.delete(lease.taskId);
    for (const { taskId } of leasedTasks) {
      const task = inserted.find((t) => t.id === taskId);
      if (task) this.#rememberTask(taskId, task.instanceId);
    }
    for (const id of writes.claimable) if (this.#claimableHints.size < MAX_CLAIMABLE_HINTS) this.#claimableHints.add(id);
    // A worker's commit (a step, a start leased to it) keeps the execution's input: its next steps carry the same one.
    // An instance created again may reuse an execution id (a caller's own): what was kept of it goes.
    const keeps = lease?.kind === 'orchestration' || lease?.kind === 'activityStep' || writes.leasedWork;
    for (const request of writeSet.requests) if (request.type === 'createInstance') this.#inputs.forget(request.state.instanceId);
    this.#feed.publish(writes.changes.map((change) => this.#withKnownInput(change, keeps)), writes.work, writes.work || writes.leasedWork);
    return result!; // set by the transaction that committed
  }

  /**
   * `change` with its state's input as this handle keeps it (see {@link ExecutionInputs}), which the change feed
   * publishes without a copy: the input known for the execution, else (`keeps`: a worker's commit) the one given,
   * frozen and kept from now on. An instance that ended or was purged is forgotten.
   */
  #withKnownInput(change: FeedChange, keeps: boolean): FeedChange {
    const { instanceId, state } = change;
    if (!state || isTerminalStatus(state.runtimeStatus)) {
      const known = state && this.#inputs.get(instanceId, state);
      this.#inputs.forget(instanceId);
      return known ? { ...change, state: { ...state, input: known } } : change;
    }
    const input = keeps ? this.#inputs.keep(instanceId, state, state.input, false) : this.#inputs.get(instanceId, state) ?? state.input;
    return input === state.input ? change : { ...change, state: { ...state, input } };
  }

  async claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined> {
    validateClaimOptions(options);
    this.#feed.announceOwner(options.owner);
    const nowMs = options.now.getTime();
    // A readonly look first: most claims a worker makes find nothing, and an empty readwrite transaction still
    // queues behind every write on its tables and commits. The first key of the claim index is enough (no row is read).
    // Where index entries outlive their rows, the look reads no further than now (see
    // IdbStoreSettings.indexEntriesOutlive), and the wake time then reads the instances itself.
    if (this.#claimableHints.size === 0) {
      const signals = this.#workSignals;
      const bounded = this.#settings.indexEntriesOutlive === true;
      const head = (await this.#run('claimOrchestration', 'readonly', INSTANCES, (tx) => tx.nextInstanceReadyMs(-Infinity, bounded ? nowMs : undefined))) ?? Infinity;
      if (head > nowMs) {
        if (!bounded && signals === this.#workSignals) this.#instancesHead = head;
        return undefined;
      }
    }
    // The oldest hint is usually the first in claim order (this handle's commits ran in that order).
    const likely: string | undefined = this.#claimableHints.values().next().value;
    const item = await this.#run('claimOrchestration', 'readwrite', CLAIM, async (tx) => {
      for (let guess = likely; ; guess = undefined) {
        const row = await tx.firstReadyInstance(nowMs, guess);
        if (!row) return undefined;
        // The work item's state carries the input (a step's commit publishes the state it was given): the one this handle
        // knows for the execution, else read with the messages.
        const known = isInputApart(row) ? this.#inputs.get(row.id, row.state) : undefined;
        const [pending, input] = await Promise.all([tx.listMessages(row.id), known ? undefined : inputOf(tx, row)]);
        const visible = pending.filter((m) => isVisible(m.message, options.now));
        const lease = visible.length > 0 ? newLease(options, nextLeaseToken()) : row.lease;
        // Without visible messages the row's schedule was stale: repairing it moves it past `now`. A new lease keeps
        // the number of the last message it hands out (`claimedMessages`).
        const stored = lease && visible.length > 0 ? { ...lease, claimedSeq: visible.reduce((last, m) => Math.max(last, m.seq), -Infinity) } : lease;
        tx.putInstance(withQueueFields(row, stored, queueFieldsOf(lease, pending)), row);
        if (!lease || visible.length === 0) continue;
        const state = this.#claimedState(row, known, input);
        // A start stored without its input gets the state's, frozen and kept (one value for both), else its record's.
        const record = known || (input && isRecordOf(input, row.state)) ? { executionId: row.state.executionId, createdMs: row.createdMs, input: state.input }
          : visible.some((m) => isStoredApart(m.message.event)) ? await tx.getInput(row.id) : undefined;
        return { state, messages: visible.map((m) => messageWithInput(m.message, record)), lease };
      }
    });
    // Taken, or (nothing found) taken by another handle meanwhile: either way no longer a hint. So is a wrong guess
    // (taken elsewhere, or not first), which would otherwise cost every claim a wasted read.
    if (item) {
      this.#claimableHints.delete(item.state.instanceId);
      this.#claimableHints.delete(likely!);
    } else this.#claimableHints.clear();
    return item;
  }

  /**
   * The state a claim hands out: with the input known for its execution, else with the one read (when kept apart),
   * which is kept from now on, frozen (the worker's steps of the execution carry it: see {@link ExecutionInputs}).
   */
  #claimedState(row: InstanceRow, known: object | undefined, record: InputRecord | undefined): InstanceState {
    if (known) return { ...row.state, input: known };
    const state = stateWithInput(row, record);
    if (state === row.state) return state;
    return { ...state, input: this.#inputs.keep(row.id, state, state.input, true) };
  }

  async abandonOrchestration(instanceId: string, leaseToken: string): Promise<void> {
    const released = await this.#run('abandonOrchestration', 'readwrite', QUEUE, async (tx) => {
      const [row, pending] = await Promise.all([tx.getInstance(instanceId), tx.listMessages(instanceId)]);
      if (!holdsLease(row?.lease, leaseToken)) return false;
      tx.putInstance(withQueueFields(row, undefined, queueFieldsOf(undefined, pending)), row);
      return true;
    });
    if (released) this.#feed.publish([], true);
  }

  async claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined> {
    validateClaimOptions(options);
    this.#feed.announceOwner(options.owner);
    const nowMs = options.now.getTime();
    const due = await this.#run('claimActivity', 'readonly', TASKS, async (tx) => (await tx.nextTaskReadyMs(-Infinity, nowMs)) !== undefined);
    if (!due) return undefined;
    const claimed = await this.#run('claimActivity', 'readwrite', TASKS, async (tx) => {
      const row = await tx.firstReadyTask(nowMs);
      if (!row) return undefined;
      const lease = newLease(options, nextLeaseToken());
      tx.putTask({ ...row, lease, readyMs: lease.expiresAt.getTime() }, row);
      return { item: { task: row.task, lease }, id: row.id, instanceId: row.instanceId };
    });
    // Once committed: a transaction that did not commit (it may run again) leaves nothing remembered.
    if (claimed) this.#rememberTask(claimed.id, claimed.instanceId);
    return claimed?.item;
  }

  async abandonActivity(taskId: string, leaseToken: string): Promise<void> {
    const instanceId = this.#taskInstances.get(taskId);
    this.#taskInstances.delete(taskId);
    const released = await this.#run('abandonActivity', 'readwrite', TASKS, async (tx) => {
      const row = await tx.getTask(taskId, instanceId);
      if (!holdsLease(row?.lease, leaseToken)) return false;
      const { lease: _lease, ...rest } = row;
      tx.putTask({ ...rest, readyMs: 0 }, row);
      return true;
    });
    if (released) this.#feed.publish([], true);
  }

  async releaseOwner(owner: string, current?: string): Promise<number> {
    validateLeaseOwner(owner, current);
    return this.#releaseLeases('releaseOwner', (lease) => isHeldBy(lease, owner, current));
  }

  /** Releases every orchestration and activity lease `releases` names, in one transaction (see `releaseOwner`). */
  async #releaseLeases(operation: string, releases: (lease: Lease) => boolean): Promise<number> {
    const released = await this.#run(operation, 'readwrite', TASKS_AND_QUEUE, async (tx) => {
      const held = (row: { readonly lease?: Lease }) => row.lease !== undefined && releases(row.lease);
      const [instances, tasks] = await Promise.all([tx.queuedInstances(held), tx.listTasks(held)]);
      const pending = await Promise.all(instances.map((row) => tx.listMessages(row.id)));
      instances.forEach((row, i) => tx.putInstance(releasedInstance(row, pending[i] ?? []), row));
      for (const row of tasks) tx.putTask(releasedTask(row), row);
      return instances.length + tasks.length;
    });
    if (released > 0) this.#feed.publish([], true);
    return released;
  }

  async renewActivityLease(taskId: string, leaseToken: string, expiresAt: Date): Promise<void> {
    validateTime(expiresAt, 'renewActivityLease expiresAt');
    const held = await this.#run('renewActivityLease', 'readwrite', TASKS, async (tx) => {
      const row = await tx.getTask(taskId, this.#taskInstances.get(taskId));
      if (!holdsLease(row?.lease, leaseToken)) return false;
      const lease = { ...row.lease, expiresAt: new Date(expiresAt.getTime()) };
      tx.putTask({ ...row, lease, readyMs: lease.expiresAt.getTime() }, row);
      return true;
    });
    if (!held) {
      this.#taskInstances.delete(taskId);
      throw new LeaseLostError(`Lease on activity task ${JSON.stringify(taskId)} is no longer held`);
    }
  }

  /**
   * Reads an instance. While a commit of this handle that reads the instance is in flight, the read waits for it and
   * answers with (a copy of) the state that commit left, instead of a transaction of its own: the commit completes
   * after this call began and before it returns, so its state is the current one at a moment within the call (a
   * transaction of its own would wait for that commit anyway, IndexedDB orders it after). A commit that fails leaves
   * the read to its own transaction.
   */
  async getInstance(instanceId: string, options?: { readonly showInput?: boolean }): Promise<InstanceState | undefined> {
    const committing = this.#closed || this.#lost ? undefined : this.#committing.get(instanceId);
    const committed = committing && (await committing.then((writes) => writes.stateOf(instanceId, this.#inputs), () => undefined));
    if (committed) return committed.state && copyStoreValue(committed.state);
    return this.#readInstance(instanceId, options?.showInput !== false);
  }

  /**
   * Reads an instance in the readonly transaction that the reads asked for since the last one began share: a page
   * that watches many instances at once (a list of `status$`, many `waitForCompletion`) opens one transaction, not one
   * per instance, and each transaction in the queue of a busy database waits for the writes before it and holds up
   * those after it. Each read still happens after its call, and before it returns. `withInput` false: the caller shows
   * no input, and the instance's input record is not read unless another read of it in the batch wants it.
   */
  #readInstance(instanceId: string, withInput: boolean): Promise<InstanceState | undefined> {
    // A read asked for once the store closes (or lost its database) joins no transaction queued before.
    const refused = this.#refusal(true);
    if (refused) return Promise.reject(refused);
    let batch = this.#instanceReads;
    if (!batch) {
      const ids = new Map<string, boolean>();
      const read = this.#run('getInstance', 'readonly', STATES, async (tx) => {
        // Reads asked for from now on wait for the next transaction.
        if (this.#instanceReads?.ids === ids) this.#instanceReads = undefined;
        const states = await Promise.all([...ids].map(([id, input]) => readState(tx, id, this.#inputs, input)));
        return new Map([...ids.keys()].map((id, i) => [id, states[i]]));
      });
      // A read that failed before its transaction began (the open failed) leaves no batch behind for the next.
      read.catch(() => {
        if (this.#instanceReads?.ids === ids) this.#instanceReads = undefined;
      });
      batch = { ids, read };
      this.#instanceReads = batch;
    }
    const first = !batch.ids.has(instanceId);
    batch.ids.set(instanceId, withInput || batch.ids.get(instanceId) === true);
    // The port hands out copies: the first read of an instance takes the state the transaction read, a second read of
    // it in the same batch a copy of that.
    return batch.read.then((states) => {
      const state = states.get(instanceId);
      return first || !state ? state : copyStoreValue(state);
    });
  }

  getHistory(instanceId: string, options?: HistoryRange): Promise<HistoryEvent[]> {
    return this.#run('getHistory', 'readonly', HISTORY, (tx) => readHistory(tx, instanceId, historyRangeOf(options), this.#inputs));
  }

  /** An instance and its history in one readonly transaction: the history is the one the state shows. */
  getInstanceHistory(
    instanceId: string, options?: HistoryRange & { readonly showInput?: boolean },
  ): Promise<{ readonly state: InstanceState | undefined; readonly history: HistoryEvent[] }> {
    return this.#run('getInstanceHistory', 'readonly', INSTANCE_HISTORY, async (tx) => {
      const [state, history] = await Promise.all([
        readState(tx, instanceId, this.#inputs, options?.showInput !== false), readHistory(tx, instanceId, historyRangeOf(options), this.#inputs),
      ]);
      return { state, history };
    });
  }

  async queryInstances(request: InstanceQuery): Promise<InstancePage> {
    const query = validateInstanceQuery(request); // the shared rule: unknown statuses and non-arrays are refused
    const pageSize = pageSizeOf(query);
    const plan = planInstancePage(query); // the shared paging rule: after the token's key, up to its bound
    const { states, token } = await this.#run('queryInstances', 'readonly', STATES, async (tx) => {
      // Where each scan stopped for its bound on the rows read past a rebuild's place (see InstanceScan.readBound).
      const stops: PageKey[] = [];
      const scan = scanOf(plan.query, plan.after, plan.order);
      const compare = pageOrderOf(plan.order);
      const scanned = await scanIndexed(
        tx, plan.query.tags, statusesOf(plan.query.runtimeStatus), namesOf(plan.query.name),
        scan && { ...scan, readBound: LISTING_READ_BOUND, stopped: ([createdTime, instanceId]) => stops.push({ createdTime, instanceId }) },
        pageSize + 1, (row) => matchesQuery(row.state, plan.query), plan.order,
      );
      // The page ends where the first scan stopped: every instance up to there is checked, none after it.
      const stop = stops.sort(compare)[0];
      const found = stop ? scanned.filter((row) => compare(pageKeyOf(row.state), stop) <= 0) : scanned;
      const last = found.length > pageSize ? pageKeyOf(found[pageSize - 1]!.state) : stop;
      // The page's inputs, read together once its rows are known; none when the caller shows none (the states of an
      // earlier layout's rows still carry theirs).
      const page = found.slice(0, pageSize);
      const [inputs, next] = await Promise.all([
        request.showInput === false ? [] : Promise.all(page.map((row) => inputOf(tx, row))),
        // The bound a first page's token records is read in the page's own transaction.
        last && nextPageToken(plan, last, () => tx.newestCreatedMs()),
      ]);
      return { states: page.map((row, i) => stateWithInput(row, inputs[i])), token: next };
    });
    return {
      instances: states,
      ...(token === undefined ? {} : { continuationToken: token }),
    };
  }

  /**
   * `Store.listEnded`: one range of the layout's end index (DexieStore's `[status+state.lastUpdatedTime+id]`,
   * KeyvalStore's `xe` entries) and the page's rows, in one readonly transaction; in one after another while a
   * KeyvalStore writes its end entries after an upgrade (see `EndedScanPart`), so that writes wait for one of them at
   * most.
   */
  async listEnded(request: EndedQuery): Promise<InstanceState[]> {
    const query = validateEndedQuery(request); // refused before anything is read
    // One call however many transactions: close() waits for all of them, as for any call made before it.
    return this.#call(async () => {
      for (let part: EndedScanPart | undefined; ;) {
        const from = part;
        const read = await this.#transact('listEnded', 'readonly', STATES, (tx) => tx.scanEnded(query.runtimeStatus, query.after, query.endedTo.getTime(), query.limit, from), false);
        if (Array.isArray(read)) return read.map((row) => stateWithInput(row, undefined)); // without the inputs kept apart: none read
        part = read;
      }
    });
  }

  async purgeInstance(instanceId: string): Promise<number> {
    const writes = await this.#write('purgeInstance', PURGE, async (ws) => {
      const row = await ws.get(instanceId);
      if (!row) return;
      if (!isTerminalStatus(row.state.runtimeStatus)) {
        throw new InstanceNotTerminalError(
          `Instance ${JSON.stringify(instanceId)} is ${row.state.runtimeStatus}; only terminal instances can be purged`,
        );
      }
      ws.remove(row);
    });
    this.#publishPurged(writes.changes);
    return writes.changes.length;
  }

  async purgeInstanceSet(request: readonly PurgeMember[]): Promise<PurgeSetResult> {
    const members = validatePurgeSet(request); // refused before anything is deleted
    let changed: string | undefined;
    // One transaction: every member read and checked, then every one deleted, or none.
    const writes = await this.#write('purgeInstanceSet', PURGE, async (ws) => {
      const rows = await Promise.all(members.map((m) => ws.get(m.instanceId)));
      changed = members.find((m, i) => !purgeMemberHolds(m, rows[i]?.state))?.instanceId;
      if (changed === undefined) for (const row of rows) ws.remove(row!);
    });
    this.#publishPurged(writes.changes);
    return changed === undefined ? { instancesDeleted: writes.changes.length } : { instancesDeleted: 0, changed };
  }

  async purgeInstances(request: PurgeFilter): Promise<number> {
    const filter = validatePurgeFilter(request); // refused before anything is deleted
    const statuses = TERMINAL_RUNTIME_STATUSES.filter((s) => !filter.runtimeStatus?.length || filter.runtimeStatus.includes(s));
    const writes = await this.#write('purgeInstances', PURGE, async (ws, tx) => {
      const scan = scanOf(filter, undefined, 'asc');
      const rows = await scanIndexed(tx, filter.tags, statuses, namesOf(filter.name), scan, undefined, (row) => matchesPurgeFilter(row.state, filter), 'asc');
      for (const row of rows) ws.remove(row);
    });
    this.#publishPurged(writes.changes);
    return writes.changes.length;
  }

  /**
   * Publishes a purge's deletions and forgets the inputs kept of the instances it deleted (see {@link ExecutionInputs}):
   * one that another tab ended would otherwise stay kept until newer inputs push it out.
   */
  #publishPurged(changes: readonly FeedChange[]): void {
    for (const { instanceId } of changes) this.#inputs.forget(instanceId);
    this.#feed.publish(changes, false);
  }

  async nextWakeTime(now: Date): Promise<Date | undefined> {
    validateTime(now, 'nextWakeTime now');
    // The smallest `readyMs` of all (`claimableAtMs` of each row), due ones included: work a claim left behind is
    // reported as due at once, so the worker claims again instead of waiting for unrelated work. The instances' part
    // comes from the claim probe just before when no work was signalled since (used once).
    const known = this.#instancesHead;
    this.#instancesHead = undefined;
    const next = await this.#run('nextWakeTime', this.#settings.indexEntriesOutlive === true ? 'readwrite' : 'readonly', TASKS, async (tx) => {
      const [instance, task] = await Promise.all([known ?? tx.nextInstanceReadyMs(-Infinity), tx.nextTaskReadyMs(-Infinity)]);
      return Math.min(instance ?? Infinity, task ?? Infinity);
    });
    return next === Infinity ? undefined : new Date(next);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#feed.endJoin(); // what waits for it may run now: its notifications no longer matter here
      this.#page.refuse(); // so do the calls waiting for a frozen page's resume: refused
      // Calls waiting for an open (queued behind an old tab's connection) fail now, not when the open is answered:
      // the gate closes the connection it makes later. So do those waiting for a backend's new connection.
      this.#gate.close();
      void this.#backend?.then((backend) => backend.closing?.(), () => undefined);
      // Until then a freeze still aborts the transactions under way: a store closed from an earlier `freeze` listener
      // (the usual advice for the back/forward cache) holds no other tab's transactions while frozen.
      await this.#callsSettled();
      this.#page.dispose();
      this.#committedRows.clear();
      this.#claimableHints.clear();
      this.#inputs.clear();
      this.#endFeed();
      const backend = this.#backend;
      this.#backend = undefined;
      if (backend) await backend.then((b) => b.close(), () => undefined);
    })();
    return this.#closed;
  }

  /** Remembers the instance of a task leased here (see {@link IdbStore.#taskInstances}), forgetting the oldest past the bound. */
  #rememberTask(taskId: string, instanceId: string): void {
    this.#taskInstances.delete(taskId);
    if (this.#taskInstances.size >= MAX_TASK_INSTANCES) this.#taskInstances.delete(this.#taskInstances.keys().next().value ?? '');
    this.#taskInstances.set(taskId, instanceId);
  }

  /**
   * Runs `work` in one transaction, with the usual checks and error mapping. With `readAhead`, the rows this handle
   * last committed answer its reads of them ahead of the database; when the database did not confirm one, the
   * transaction wrote nothing and `work` runs again in a new one that reads the database. So it does when the browser
   * closed the connection under the transaction, or refused it as it closed (the backend rejects with `reads` then
   * too, once the close came), at most {@link MAX_RUNS} times in all.
   *
   * A transaction the page's freeze aborted before it asked to commit (see {@link PageFreeze}) wrote nothing either:
   * `work` runs again once the page resumes, unless the store closed or lost its database meanwhile (then the call
   * fails with that). Every `work` can run again from the start: it reads and decides inside its transaction (a lease,
   * a version, is checked anew), and changes nothing outside it before it commits (what it publishes, the hints and
   * rows it remembers, come after). Not counted in MAX_RUNS: the freeze aborts a transaction only between a `freeze`
   * and a `resume` event of the browser, so each run again takes a freeze of the page, and none spins. So is the open
   * of the database the call waits for (see {@link IdbStore.#openUnfrozen}).
   */
  #run<T>(
    operation: string, mode: 'readonly' | 'readwrite', scope: readonly TableName[], work: (tx: BackendTransaction) => Promise<T>,
    readAhead = false,
  ): Promise<T> {
    return this.#call(() => this.#transact(operation, mode, scope, work, readAhead));
  }

  /**
   * Runs `call` as one call of the store, whatever transactions it runs ({@link IdbStore.#transact}): refused as it is
   * made once the store closes or lost its database, and waited for by `close()` until it settles.
   */
  #call<T>(call: () => Promise<T>): Promise<T> {
    const refused = this.#refusal(true);
    if (refused) return Promise.reject(refused);
    const running = call();
    const tracked = running.finally(() => this.#inFlight.delete(tracked));
    tracked.catch(() => undefined);
    this.#inFlight.add(tracked);
    return running;
  }

  /** The transaction of {@link IdbStore.#run}, run again as that says, within a call ({@link IdbStore.#call}). */
  async #transact<T>(
    operation: string, mode: 'readonly' | 'readwrite', scope: readonly TableName[], work: (tx: BackendTransaction) => Promise<T>,
    readAhead: boolean,
  ): Promise<T> {
    for (let ahead = readAhead, runs = MAX_RUNS, froze = false; ; ahead = false) {
      const backend = await this.#open();
      // Code runs in a frozen page (its BroadcastChannel messages, the listeners of its `freeze` event): a transaction
      // begun then would be aborted at once, so the call waits for the resume (or the store's close or loss). So does
      // a call whose transaction the freeze aborted, before it runs it again.
      if (this.#page.frozen || froze) {
        await this.#page.resumed();
        const refusal = this.#refusal();
        if (refusal) throw refusal;
      }
      const reads = new ReadsAhead(ahead ? this.#committedRows : undefined);
      try {
        const result = await backend.transact(mode, scope, work, reads);
        // A handle that lost its connection or is closing remembers nothing more (close() forgets what it has).
        if (!this.#lost && !this.#closed) reads.committed(this.#committedRows, isSteppable);
        return result;
      } catch (error) {
        froze = error === this.#page;
        if (froze) continue;
        if (error !== reads || !--runs) throw this.#lost ?? mapStorageError(error === reads ? 'the connection kept closing' : error, operation);
      }
    }
  }

  /**
   * Why a call made now is refused without reading or writing anything: the store closes or closed
   * (`StoreClosedError`, from the moment `close()` is called), or lost its database; `undefined` while it serves calls.
   * `atCall`: asked as the call is made, before it waits for anything (the error says the store closed before it).
   */
  #refusal(atCall = false): DurableError | undefined {
    return this.#closed ? new StoreClosedError('The store is closed', { beforeCall: atCall }) : this.#lost;
  }

  /** Runs a write transaction through a {@link RowWriter} and flushes it; resolves once committed. */
  async #write(
    operation: string, scope: readonly TableName[], work: (ws: RowWriter, tx: BackendTransaction) => Promise<void>, readAhead = false,
  ): Promise<RowWriter> {
    return this.#run(operation, 'readwrite', scope, async (tx) => {
      const ws = new RowWriter(tx);
      await work(ws, tx);
      ws.flush();
      return ws;
    }, readAhead);
  }

  /**
   * Opens the database on first use, through the {@link OpenGate}: an open that is blocked or not answered within
   * `openTimeoutMs` fails the calls with `DatabaseBlockedError` and is kept, not begun again, until it is answered;
   * after a failed open, the next call tries again. Nothing reads or writes before the change feed has joined the
   * other handles on the database (see {@link ChangeFeed}): a handle that did not know this one was listening may have
   * committed without posting, and this handle's reads must come after those commits. The join runs while the
   * database opens.
   */
  #open(): Promise<StoreBackend> {
    const dropped = this.#opened;
    if (dropped?.dropped) {
      // The browser closed its connection (the site's data cleared), or Dexie did as the page went into the
      // back/forward cache: the database is opened again, and checked, as at first. The rows this handle committed may be gone with it: none is read ahead, and the watched instances are
      // read again once it opened.
      this.#readAgain = true;
      this.#opened = undefined;
      this.#backend = undefined;
      this.#committedRows.clear();
      dropped.close();
    }
    if (!this.#backend) {
      const opening = this.#openBackend();
      this.#backend = opening;
      opening.then((backend) => {
        if (this.#backend !== opening) return;
        this.#opened = backend;
        if (!this.#readAgain) return;
        this.#readAgain = false;
        this.#readWatched();
      }, () => {
        if (this.#backend === opening) this.#backend = undefined;
      });
    }
    return this.#backend;
  }

  async #openBackend(): Promise<StoreBackend> {
    const [backend] = await Promise.all([this.#openUnfrozen(), this.#feed.joined]);
    return backend;
  }

  /**
   * Opens the database while the page is not frozen (see {@link PageFreeze}): an open begun in a frozen page would
   * start its upgrade there, which holds every other tab's open of the database until the page resumes. So the open
   * waits for the resume, and an open whose upgrade or layout check the freeze aborted (it changed nothing) is made
   * again after the resume; each takes a freeze of the page, so none spins. Fails with the store's refusal when it
   * closes or loses its database meanwhile.
   */
  async #openUnfrozen(): Promise<StoreBackend> {
    for (;;) {
      await this.#page.resumed();
      const refused = this.#refusal();
      if (refused) throw refused;
      try {
        return await this.#gate.open(() => this.#settings.startOpen(
          () => void this.#lose(), this.#clock, this.#openTimeoutMs, this.#page, () => this.#readWatched(), () => this.#dropped(),
        ));
      } catch (error) {
        if (error !== this.#page) throw error;
      }
    }
  }

  /**
   * Another connection upgrades or deletes the database, and the backend closes this store's connection to let it:
   * from now on every call rejects with a {@link DatabaseUpgradingError}. Once the calls under way have settled (each
   * committed, or failed with that error), the change feed fails with it too, so that nothing waits on a feed that
   * will never deliver again (a client's `status$` and `customStatus$`, a worker's `workAvailable$`, which stops the
   * worker) and the feed's presence lock and channel are let go.
   */
  async #lose(): Promise<void> {
    this.#committedRows.clear();
    this.#lost ??= new DatabaseUpgradingError(
      `Another connection is upgrading or deleting database ${JSON.stringify(this.#settings.databaseName)}; ` +
        'this store closed its connection. Reload the page.',
    );
    this.#page.refuse(); // the calls waiting for a frozen page's resume fail with the loss
    await this.#callsSettled();
    this.#page.dispose();
    this.#endFeed();
  }

  /** Resolves once no call of the store is under way (those a settling call started too). */
  async #callsSettled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Ends the change feed: fails it with the store's loss (a database lost, see #lose), else completes it (close). */
  #endFeed(): void {
    if (this.#lost) this.#resync.error(this.#lost);
    else this.#resync.complete();
    if (this.#lost) this.#feed.fail(this.#lost);
    else this.#feed.close();
  }
}

/**
 * Whether a committed row is worth remembering for the next commit to read ahead: not an instance that ended (its
 * `status` is terminal; rows without one, such as tasks, are kept).
 */
function isSteppable(row: unknown): boolean {
  const { status } = row as { readonly status?: OrchestrationRuntimeStatus };
  return status === undefined || !isTerminalStatus(status);
}

/**
 * An instance's state with its input (see `stateWithInput`), in a scope with `inputs`: the row, then the input record
 * when the row keeps its input apart (an instance without input costs no read of a record it does not have), unless
 * the handle knows the input of the row's execution (`inputs`): then a copy of that, and no record read. Without
 * `withInput` (the caller shows none), the state as the row holds it: no record read, no copy.
 */
async function readState(tx: BackendTransaction, instanceId: string, inputs: ExecutionInputs, withInput = true): Promise<InstanceState | undefined> {
  const row = await tx.getInstance(instanceId);
  if (!row) return undefined;
  if (!withInput) return row.state;
  const known = isInputApart(row) ? inputs.get(row.id, row.state) : undefined;
  return known ? { ...row.state, input: copyStoreValue(known) } : stateWithInput(row, await inputOf(tx, row));
}

/**
 * An instance's history from position `from`, in a scope with `history` and `inputs`, its start with its input
 * (`startWithInput`): a start stored without it gets the one the handle knows for its execution (`inputs`: a copy), else
 * its input record's, read then (a history read past the start reads no record).
 */
async function readHistory(tx: BackendTransaction, instanceId: string, range: BoundedRange, inputs: ExecutionInputs): Promise<HistoryEvent[]> {
  const events = await tx.readHistory(instanceId, range);
  const start = events.find(isStoredApart) as StoredEvent<ExecutionStartedEvent> | undefined;
  if (!start) return events;
  const createdMs = start.inputInRecord!;
  const known = inputs.get(instanceId, { executionId: start.executionId, createdTime: new Date(createdMs) });
  const record = known ? { executionId: start.executionId, createdMs, input: copyStoreValue(known) } : await tx.getInput(instanceId);
  return events.map((event) => startWithInput(event, record));
}

/** The input record of a row whose input is kept apart (`isInputApart`), else nothing to read. */
function inputOf(tx: BackendTransaction, row: InstanceRow): Promise<InputRecord | undefined> | undefined {
  return isInputApart(row) ? tx.getInput(row.id) : undefined;
}

/** Instance reads that share one readonly transaction. */
interface InstanceReads {
  /** The instances to read, each with whether a read of it wants its input; the transaction reads those added before it begins. */
  readonly ids: Map<string, boolean>;
  readonly read: Promise<ReadonlyMap<string, InstanceState | undefined>>;
}

/**
 * The tables a write set touches: instances and messages always, history and tasks when it writes them, the input
 * records when it writes a state, the raise-key records for a keyed raise or signal-with-start (`keyed`: it has
 * `raiseKeyIdsOf`). One of {@link COMMIT_SCOPES}, built once: a commit allocates no scope of its own.
 *
 * @internal
 */
export function scopeOf(writeSet: WriteSet, keyed: boolean): readonly TableName[] {
  let history = false;
  let states = false;
  let tasks = writeSet.lease?.kind === 'activity' || writeSet.lease?.kind === 'activityStep';
  for (const request of writeSet.requests) {
    switch (request.type) {
      case 'createInstance': // may replace a terminal instance, dropping its history and tasks
        history = true;
        tasks = true;
        states = true;
        break;
      case 'appendHistory':
      case 'replaceHistory':
        history = true;
        break;
      case 'insertTask':
      case 'deleteTask':
        tasks = true;
        break;
      case 'replaceState':
        states = true;
        break;
      case 'deleteMessages':
      case 'insertMessage':
        break;
      default:
        assertNever(request, 'write request');
    }
  }
  return COMMIT_SCOPES[(history ? 1 : 0) | (tasks ? 2 : 0) | (states ? 4 : 0) | (keyed ? 8 : 0)]!;
}

/**
 * Every scope {@link scopeOf} answers, by what the commit touches (bit 1: history, 2: tasks, 4: a state, 8: raise
 * keys): the queue's tables, with history and tasks when written, the input records when a state is (it may write or
 * delete its instance's record: a new execution, a row of an earlier layout), the raise-key records for a keyed raise.
 */
const COMMIT_SCOPES: readonly (readonly TableName[])[] = Array.from({ length: 16 }, (_, bits) => {
  const history = (bits & 1) !== 0;
  const tasks = (bits & 2) !== 0;
  const base = history && tasks ? ALL : history ? HISTORY_AND_QUEUE : tasks ? TASKS_AND_QUEUE : QUEUE;
  return [...base, ...((bits & 4) !== 0 ? ['inputs' as const] : []), ...((bits & 8) !== 0 ? ['raiseKeys' as const] : [])];
});

/**
 * Stores the messages a write set may insert (its starts' and its sends') ahead of the reads, where the database
 * numbers them: the number of a message that becomes its instance's oldest pending one then arrives with the reads,
 * instead of costing a round trip between the reads and the commit (a start took three). The plan decides which are
 * delivered, and when; {@link RowWriter.apply} deletes the others, and those it delivers later than they were written
 * (an event held until a delayed start's time), which it writes again. Messages to an instance whose pending messages the commit
 * lists or deletes (the one it holds a lease on, or deletes messages of) take the usual way, after that, and so does
 * the second of two messages with one id.
 */
function storeAhead({ lease, requests }: WriteSet, add: (row: NewMessageRow) => Promise<number>): MessagesAhead {
  const listed = new Set<string>();
  if (lease && lease.kind !== 'activity') listed.add(lease.instanceId);
  for (const request of requests) if (request.type === 'deleteMessages') listed.add(request.instanceId);
  const ahead = new Map<string, MessagesAhead extends ReadonlyMap<string, infer V> ? V : never>();
  for (const request of requests) {
    if (request.type !== 'createInstance' && request.type !== 'insertMessage') continue;
    const { message } = request;
    if (listed.has(message.instanceId) || ahead.has(message.id)) continue;
    // A start's own message is stored as it will be once the start wrote its instance's input record (the input left
    // out: see startWithoutInput); the writer stores it again should the instance not be created so.
    const { state } = request.type === 'createInstance' ? request : { state: undefined };
    const row = messageRow(message, state?.input === undefined ? undefined : { executionId: state.executionId, createdMs: state.createdTime.getTime() });
    const { inputInRecord } = row.message.event as StoredEvent<HistoryEvent>;
    ahead.set(message.id, { instanceId: message.instanceId, visibleMs: row.visibleMs, inputInRecord, seq: add(row) });
  }
  return ahead;
}

/** Lease tokens of this module: unique per page or process (a random prefix) and per claim (a counter). */
const nextLeaseToken = leaseTokens();

/**
 * At most this many rows a page of `queryInstances` reads past the place a rebuild of the name or tag index under way
 * has come to (see InstanceScan.readBound), where the rows are read in paging order and each checked: a page of a rare
 * name or tag pair right after an upgrade reads up to this many there and ends, shorter than asked, with a token for
 * the rest, instead of reading every row of that part (20,000 just after the upgrade).
 */
const LISTING_READ_BOUND = 512;

/** The distinct statuses a query restricts to, or `undefined` for all. */
function statusesOf(statuses: readonly OrchestrationRuntimeStatus[] | undefined): readonly OrchestrationRuntimeStatus[] | undefined {
  return statuses && statuses.length > 0 ? [...new Set(statuses)] : undefined;
}

/**
 * The index range of a query: in ascending order, from the later of `createdTimeFrom` and the continuation key, to
 * `createdTimeTo`; newest first (`desc`), from `createdTimeFrom` to the earlier of `createdTimeTo` and the key, read
 * from the top. `undefined` when that range is empty (`createdTimeFrom` after `createdTimeTo`, or a token kept while
 * the filter was narrowed to end before it), which selects nothing. The one check of it for both backends: an index
 * range whose lower bound is above its upper one makes IndexedDB fail the request (DataError).
 */
function scanOf(
  query: Pick<InstanceQuery, 'createdTimeFrom' | 'createdTimeTo'>, after: PageKey | undefined, order: 'asc' | 'desc',
): InstanceScan | undefined {
  const fromMs = query.createdTimeFrom?.getTime() ?? -Infinity;
  const toMs = query.createdTimeTo?.getTime() ?? Infinity;
  if (order === 'desc') {
    // The lower bound is (fromMs, below every id): a range ending at fromMs is never empty, only one ending earlier.
    const scan = after && after.createdTime <= toMs
      ? { fromMs, fromId: '', fromOpen: false, toMs: after.createdTime, toId: after.instanceId, toOpen: true, reverse: true }
      : { fromMs, fromId: '', fromOpen: false, toMs, reverse: true };
    return fromMs > scan.toMs ? undefined : scan;
  }
  // The upper bound is (toMs, above every id): a range starting at toMs is never empty, only one starting later.
  const scan = after && comparePageKeys(after, { createdTime: fromMs, instanceId: '' }) >= 0
    ? { fromMs: after.createdTime, fromId: after.instanceId, fromOpen: true, toMs }
    : { fromMs, fromId: '', fromOpen: false, toMs };
  return scan.fromMs > toMs ? undefined : scan;
}

/**
 * Runs a scan on the tag index over the entries of the filter's most selective tag pair (`selectiveTagPair`, by the
 * entries' counts; names, statuses and the other pairs left to `filter`), else once per name (each on the name index;
 * statuses left to `filter`), else once per status (each on the status index), else once over all, merging in page
 * order; none when empty. `filter` checks the whole filter against each row (an index entry only narrows the read).
 */
async function scanIndexed(
  tx: BackendTransaction, tags: InstanceTags | undefined, statuses: readonly OrchestrationRuntimeStatus[] | undefined, names: readonly string[] | undefined,
  scan: InstanceScan | undefined, limit: number | undefined, filter: (row: InstanceRow) => boolean, order: 'asc' | 'desc',
): Promise<InstanceRow[]> {
  if (!scan) return [];
  const base = { ...scan, filter, limit };
  const tag = await selectiveTagPair(tags, (pair) => tx.countTagged(pair));
  if (tag) return tx.scanInstances({ ...base, tag });
  const scans = names ? names.map((name) => ({ ...base, name })) : statuses ? statuses.map((status) => ({ ...base, status })) : [base];
  if (scans.length === 1) return tx.scanInstances(scans[0]!);
  const rows: InstanceRow[] = [];
  for (const found of await Promise.all(scans.map((each) => tx.scanInstances(each)))) rows.push(...found);
  const compare = pageOrderOf(order);
  rows.sort((a, b) => compare(pageKeyOf(a.state), pageKeyOf(b.state)));
  return limit === undefined ? rows : rows.slice(0, limit);
}
