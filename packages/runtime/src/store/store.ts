import type { Observable } from 'rxjs';
import type { HistoryEvent } from '../model/history-event.js';
import type { InstanceState, InstanceTags, OrchestrationRuntimeStatus, PurgedSnapshot } from '../model/instance-status.js';
import type { ActivityTask, Lease, OrchestrationMessage } from '../model/message.js';
import type { WriteSet } from '../model/write-set.js';
import type { HistoryRange } from './history-range.js';

/** What {@link Store.commit} reports of a committed write set: the outcomes its writer could not know in advance. */
export interface CommitResult {
  /**
   * The instances created with their `CreateInstanceWrite.lease` held. `planWriteSet` leases only a new id: a start
   * over a terminal instance is stored unleased (and claimed as usual), so its starter must not run its first step.
   */
  readonly leasedStarts: readonly string[];
}

/**
 * The Store port: everything the worker and the client need from persistence. MemoryStore, DexieStore,
 * KeyvalStore and MongoStore implement it and prove it by passing `describeStoreConformance` from
 * `@durable-rx/runtime/testing`.
 *
 * Rules every implementation keeps:
 * - Values crossing the port are plain JSON plus the Date fields of {@link InstanceState}, {@link Lease} and
 *   `visibleAt`. A store returns copies, or values frozen all the way down (MemoryStore's history events and pending
 *   messages): callers may not mutate what it keeps, and it keeps a copy of what it was given unless that is already plain JSON
 *   frozen all the way down (MemoryStore keeps such history events and messages as they are). (The engine copies frozen
 *   payloads before user orchestrator code receives them, and the local client copies history events on their way to
 *   users, so apps get mutable values of their own whatever the store.)
 * - A store keeps every field of the {@link InstanceState} it is given, the optional ones it never reads too
 *   (`historyEpoch`, `previousHistory`, `heldSuspend`, `held`, `rerun`, `suspension`, `continuedAt`, `lineage`), and hands each back as it was given: a
 *   delayed start's `scheduledStartTime` too, as a Date (a store that encodes states as JSON text restores it).
 * - An instance id outlives its executions, and nothing of an execution the instance no longer runs reaches, or is
 *   counted as work of, the one it runs. A message that names another execution (a result, a timer, a
 *   sub-orchestration's answer: `isStaleResult` in store-kit) is dropped by `planWriteSet` instead of queued, whatever
 *   task or timer id it names (each execution numbers its own from 0). A start over a terminal instance
 *   (`WritePlan.replaced`) and a purge delete the old execution's history, pending messages and activity tasks, leased
 *   ones too: the late holder's completion is refused with `LeaseLostError`, or its result dropped. What an execution
 *   that continued as new had queued stays until it is handed out (an activity that lost a race runs to its end, a
 *   timer falls due), and is then dropped: its result by `planWriteSet`, a queued message by the step that claims it,
 *   which commits nothing else for it (as Durable Functions discards messages whose execution id is not the current
 *   one). The conformance suite proves it ("leftovers of an earlier execution of an id").
 * - A message that names the execution a terminal instance ended (a result that raced a terminate, a timer or a
 *   sub-orchestration's answer that reaches it after it completed) is not stale: it is queued as any other, and the
 *   step that claims it records and ignores it (appended to the history, `version` + 1, the status as it was, a change
 *   on `changes$`). Nothing that reaches an execution is silently dropped. The conformance suite proves it ("records
 *   and ignores an activity result that arrives after a terminate", "records and ignores a late result, timer or
 *   sub-orchestration answer of an execution that ended").
 * - Every write method is atomic: it happens completely or not at all. Errors are thrown as `DurableError`s
 *   (conflicts included); driver errors are wrapped with the original as `cause`.
 * - {@link Store.changes$} delivers every committed change of every instance, in commit order per instance, after
 *   the commit is durable. Shared stores also deliver changes committed by other processes or tabs. A change's state
 *   is an object the store no longer changes; a store that hands one state object to more than one subscriber, or
 *   keeps it after handing it out, marks it with `markShared` (store-kit) before any subscriber hears of it, so that
 *   each client copies what its users may change (a store-kit `Broadcast` marks what it hands to several
 *   subscribers). The client conformance suite proves it ("two clients of one store").
 * - Work a claim took and cannot read (a stored state, message or task that does not decode) is neither handed out
 *   nor released at once, where every claim would take it again ahead of the rest: the claim keeps its lease, so the
 *   work is claimable again when the lease expires, logs the failure through the store's logger, and claims the next
 *   work (`decideClaimedWork` in store-kit). A store whose values cannot become unreadable (MemoryStore) never
 *   meets the case.
 * - From the moment {@link Store.close} is called, every method rejects with `StoreClosedError` and changes nothing
 *   (calls made before may finish: `close` waits for them; none made after joins one of them). A call made after
 *   `close()` was called is refused as it is made, with `beforeCall: true` on its error: a worker whose first claim is
 *   refused so was started on a store closed already, and logs that once (a close that overtakes a claim under way,
 *   `beforeCall: false`, is the closer's doing and is not logged). After it resolves, nothing is left running (no
 *   timers, cursors, channels), and {@link Store.changes$} and {@link Store.workAvailable$} complete at once for a new
 *   subscriber; a store whose close sends a request that ends no work (MongoStore: a `killCursors`) waits for it a
 *   bounded time, and one still unanswered then is logged as a warning and left to the server, its answer to no one.
 *   `close` is idempotent.
 * - A store that loses what it stores on for good while open (an IndexedDB database another tab upgrades or deletes)
 *   rejects every call from then on, and fails {@link Store.changes$} and {@link Store.workAvailable$} (those of its
 *   instances too), with a `DurableError` that says `storeClosed: true` (`isStoreClosed` reads it): nothing waits on a
 *   feed that will never deliver again, and a worker stops instead of retrying.
 */
export interface Store {
  /** What the store can do; the conformance suite and the worker read it. */
  readonly capabilities: StoreCapabilities;

  /**
   * Executes a write set atomically, all or nothing, in one transaction: the only way instance data is written
   * (starts, messages, orchestration steps, activity results). The store checks the write set's lease (throws
   * `LeaseLostError` via `leaseLostError` when it is no longer held), reads the instances `instanceIdsOf` names,
   * lets `planWriteSet` decide every condition (it throws `InstanceAlreadyExistsError` or `InstanceNotFoundError`)
   * and writes the resulting plan, releasing an orchestration lease. It makes no decision of its own; see
   * `@durable-rx/runtime/store-kit`. Throws and writes nothing when any of this fails. Resolves with what the plan
   * decided that the writer could not know in advance (`commitResultOf(plan)`). The one failure after which the write
   * set may have been written: a store that could not learn whether its transaction committed rejects with a
   * `DurableError` whose `code` is `'commit-outcome-unknown'` (HTTP 503; MongoStore's `CommitOutcomeUnknownError`), and
   * the worker reads that code.
   */
  commit(writeSet: WriteSet): Promise<CommitResult>;

  /**
   * Claims an instance that has a visible message (`visibleAt` absent or <= `now`) and that nobody holds a live lease
   * on — preferably the one that has waited longest (best effort: fairness, not a guarantee tests rely on). Returns its state and its visible messages in arrival order under a new lease
   * (`now + leaseMs`), or `undefined` when there is no such work. Two concurrent claims never get the same instance.
   * A store may hand out only the oldest visible messages (at most `maxMessages`, or a bound of its own); the rest
   * stay queued, in order, for the next claim. Malformed options (`validateClaimOptions` in store-kit: an owner that
   * is no non-empty string, a `leaseMs` that is not a finite number > 0 or that ends the lease past the last valid
   * Date, a `now` that is no valid Date, a `maxMessages` that is not an integer >= 1) are refused with
   * `InvalidArgumentError` before anything is leased. The store keeps with the lease, in the write that takes it,
   * how far the claim read the queue (the last message it hands out, or any bound at or past it), so that a client's
   * own commit it refuses while the lease is live names the last suspend or resume the claim took (`claimed` of
   * `UnclaimedReading`, judged by `unclaimedRefusal` in store-kit): the client then waits for that step.
   *
   * A claim that fails after its lease write was sent, with an error after which that write may have applied
   * (`mayHaveApplied`: MongoStore's `CommitOutcomeUnknownError` for a write concern error or a connection lost),
   * leaves no lease idle until it lapses: the store keeps the lease (`UnconfirmedClaims` in store-kit), looks it up by
   * its token at once and at the claims of the same owner that follow while it is live, and hands out the work it
   * took. The same holds for {@link Store.claimActivity}. A store whose claims always learn their outcome (one
   * transaction that commits or aborts) never meets the case.
   */
  claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined>;

  /** Releases an orchestration lease without writing anything (the messages become claimable again). */
  abandonOrchestration(instanceId: string, leaseToken: string): Promise<void>;

  /**
   * Claims the oldest activity task nobody holds a live lease on, or returns `undefined`. Malformed options are
   * refused as {@link Store.claimOrchestration} refuses them.
   */
  claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined>;

  /** Releases an activity lease so another worker may run the task. */
  abandonActivity(taskId: string, leaseToken: string): Promise<void>;

  /**
   * Releases every orchestration and activity lease recorded by worker `owner` (live or expired), as
   * {@link Store.abandonOrchestration} and {@link Store.abandonActivity} would, in one operation, without writing
   * anything else, and signals {@link Store.workAvailable$} when it released any. Returns how many it released. This
   * is how a worker's next life (a reloaded tab, a restarted process) frees the work its earlier lives held, including
   * a claim that was still committing when a life ended and that the worker never heard of. `current` is the asking
   * life's lease owner (`lifeLeaseOwner`): the leases of that life, and of any life begun after it (or in the same
   * millisecond), are kept, so a release the store applies late (its caller gave up waiting) never takes leases the
   * caller or a later life took since. Which leases
   * match is decided by `isHeldBy` (store-kit); the arguments are checked with `validateLeaseOwner` (an empty or
   * non-string owner: `InvalidArgumentError`, nothing released). A commit or renewal under a released lease is refused
   * afterwards.
   */
  releaseOwner(owner: string, current?: string): Promise<number>;

  /**
   * Extends a held activity lease to `expiresAt`: the heartbeat that keeps a long activity from being claimed and
   * run again by another worker (or by this one). Throws `LeaseLostError` when the lease is no longer held, or when
   * `leaseToken` is no lease token at all (missing or empty, `holdsLease`): it never leases a free task. An
   * `expiresAt` that is no valid Date is refused with `InvalidArgumentError` (`validateTime`), the lease left as it was.
   */
  renewActivityLease(taskId: string, leaseToken: string, expiresAt: Date): Promise<void>;

  /**
   * The state of one instance, or `undefined`. `showInput: false`: the caller shows no input, so a store may leave
   * `input` out of the state (and read none it keeps apart from the instance).
   */
  getInstance(instanceId: string, options?: { readonly showInput?: boolean }): Promise<InstanceState | undefined>;

  /**
   * The current execution's history, the events from `fromIndex` (default 0) up to, not including, `toIndex` (default:
   * to the end; `historyRangeOf` in store-kit is the one reading of a range); empty for an unknown instance. A store
   * reads only the events of the range (a restart reads the first events of a long history, not all of them). A worker
   * steps only on a history that holds every event of the state it claimed (`completeHistory`): a store whose read can
   * lag a state read before it (a replica behind) is read again, never replayed short. `toIndex` came after the port's
   * first version: a store that ignores it answers more events than asked, and readers cut them (`eventsInRange`).
   */
  getHistory(instanceId: string, options?: HistoryRange): Promise<HistoryEvent[]>;

  /**
   * Optional: {@link Store.getInstance} and {@link Store.getHistory} read at one moment (in one transaction), so the
   * history is the one the state shows. Clients that read a history with a status (`getStatus` with `showHistory`,
   * `history$`) use it when present; without it they read the state again once the history has answered (see
   * `eventsOfHistory`), a second round trip. The history's range as for `getHistory`; `showInput: false` as for
   * `getInstance`.
   */
  getInstanceHistory?(
    instanceId: string, options?: HistoryRange & { readonly showInput?: boolean },
  ): Promise<{ readonly state: InstanceState | undefined; readonly history: HistoryEvent[] }>;

  /**
   * One page of instances matching the query, ordered by (createdTime, instanceId), ascending or, with
   * `order: 'desc'`, descending: ids by the store's own string order (UTF-16 code units in MemoryStore and the
   * IndexedDB stores, UTF-8 bytes in MongoStore; see its README), one order for a listing and its tokens. Every filter (the name filter included) and both orders are served by an index,
   * never by reading every instance. Keyset paging bounded by the point
   * paging began (`planInstancePage`, `nextPageToken` of the store kit): a page never repeats or skips an instance that
   * existed when paging began, and instances created after it (new executions of terminal ones included) are left
   * out, as long as their createdTime is after the bound: a clock behind the one that stamped the newest instance, or a
   * start in its very millisecond, can stamp a new execution inside it, which is then listed once more.
   */
  queryInstances(query: InstanceQuery): Promise<InstancePage>;

  /**
   * Optional: one page of the ended instances of one status in end order, (`lastUpdatedTime`, `instanceId`) ascending:
   * those of `runtimeStatus` whose `lastUpdatedTime` is at or before `endedTo`, after the key `after` (exclusive), at
   * most `limit`; a page shorter than `limit` is the last. `matchesEndedQuery` (store-kit) is the rule, and
   * `validateEndedQuery` checks the query first (`InvalidArgumentError`, nothing read). A store may leave `input` out
   * of the states (as with `showInput: false`).
   * Served from an index on (status, end time, id), so that it reads only the instances it answers: a retention sweep
   * reads only the instances whose period has passed, and goes on after the last one it listed instead of listing
   * from the start again. Without it a sweep lists by `createdTime` (`queryInstances`), which also reads the instances
   * created before the cutoff that ended since, and lists each status from the start again once a period.
   */
  listEnded?(query: EndedQuery): Promise<InstanceState[]>;

  /** Deletes a terminal instance with its history and messages; 0 when unknown. `InstanceNotTerminalError` otherwise. */
  purgeInstance(instanceId: string): Promise<number>;

  /**
   * Deletes the terminal instances matching the filter; returns how many. A store may purge in batches, each all or
   * nothing; one whose `close()` begins during the purge may stop between batches (MongoStore does), so that closing
   * waits for one batch, not all of them, and rejects with `StoreClosedError` naming the count deleted before: the
   * instances left match the filter still, and a purge on an open store deletes them.
   */
  purgeInstances(filter: PurgeFilter): Promise<number>;

  /**
   * Deletes a set of terminal instances with their histories, messages and tasks in ONE transaction, each only while
   * it is still the snapshot the caller decided on (`purgeMemberHolds` in store-kit: the same execution at the same
   * `version`, terminal): all or nothing. When any member's condition fails (another execution started over its id, a
   * rewind, a late result recorded, purged already), nothing is deleted and the result names that member (`changed`);
   * the caller reads again and decides again. This is how a recursive purge deletes a tree (`planTreePurge` decides the
   * members, deepest first; the client sends at most `MAX_PURGE_SET` at a time). The set is checked with
   * `validatePurgeSet` first (`InvalidArgumentError`, nothing deleted: not an array, more than `MAX_PURGE_SET`
   * members, a member that is malformed or given twice). An empty set deletes nothing.
   */
  purgeInstanceSet(members: readonly PurgeMember[]): Promise<PurgeSetResult>;

  /**
   * The earliest time at which work that nobody has claimed is or becomes claimable without any new write: a pending
   * message becomes visible, a lease expires (`claimableAtMs` from the store helpers, over every unclaimed message and
   * activity task), or `undefined` when there is none. Work that is claimable already gives a time at or before
   * `now`: a wake-up that came a moment early, or a claim that ran with an earlier `now`, never loses a timer. Workers
   * set one timer for it instead of polling. A `now` that is no valid Date is refused with `InvalidArgumentError`.
   */
  nextWakeTime(now: Date): Promise<Date | undefined>;

  /**
   * Every committed change of instance state (see the rules above). Hot; never completes before `close`, and errors
   * only when the store lost its database for good (see the rules above). A published state may be shared with other
   * subscribers and with the store, and parts of it (its input included) may be frozen all the way down: a subscriber
   * must not change it in place (the clients copy what they hand out).
   */
  readonly changes$: Observable<StatusChange>;

  /**
   * Optional: the committed changes of one instance, with the same rules as `changes$` (a state handed to several
   * subscriptions, of one instance or of `changes$` too, is marked with `markShared` before any of them hears of it:
   * a client subscribes once per watcher and does not mark what it gets). A shared store implements it
   * when it can filter on its server (MongoStore: a change stream whose `$match` names the watched instances), so a
   * process that watches a few instances does not receive every commit of every instance. Clients use it for their
   * per-instance observables when present.
   */
  instanceChanges$?(instanceId: string): Observable<StatusChange>;

  /**
   * Optional: signals that `changes$` may have missed commits (IndexedDB: another tab went without posting its last
   * ones, or the database was opened again). A reader that keeps the result of a query (a client's `instances$`) runs
   * it again once per signal; the store itself reads again the instances watched through `instanceChanges$`. Hot;
   * ends as `changes$` does. Without it a reader trusts `changes$` alone.
   */
  readonly resync$?: Observable<void>;

  /**
   * Signals that work may be claimable (a message or activity task was written, a lease was released). Ends as
   * `changes$` does.
   */
  readonly workAvailable$: Observable<void>;

  /** Releases everything; see the rules above. */
  close(): Promise<void>;
}

/** What a store can do. */
export interface StoreCapabilities {
  /** Short name for messages, e.g. `'memory'`, `'dexie'`. */
  readonly name: string;
  /** Several processes/tabs may open the same database: changes of others reach `changes$` and leases matter. */
  readonly shared: boolean;
  /** Data survives a restart of the process. */
  readonly durable: boolean;
  /**
   * The store executes tasks inserted with a lease (`InsertTaskWrite.lease`) and `activityStep` leases. The worker
   * then hands the activities a step schedules to itself in the step's own commit, and commits an activity's result
   * together with the step it wakes, saving the claims in between. Absent: the worker claims every work item.
   */
  readonly fusedSteps?: boolean;
  /**
   * The store executes `unclaimed` leases (`UnclaimedLease`): a client applies a terminate, suspend or resume in its
   * own commit when no worker holds the instance, instead of queueing it for a worker. Absent: the client always sends
   * the command as a message.
   */
  readonly unclaimedWrites?: boolean;
  /**
   * The members of {@link InstanceQuery} and {@link PurgeFilter} the store applies beyond the ones every store applies
   * (`runtimeStatus`, `createdTimeFrom`, `createdTimeTo`, `instanceIdPrefix`): `name`, `tags`, and `order` (`'desc'`).
   * A client refuses a list, purge or command by filter that uses a member the store does not name here, with
   * `InvalidArgumentError` and before the store is called (`assertStoreFilters`), so a store written before a filter
   * existed, which would ignore it, never lists or purges instances the caller excluded. Every store of this
   * repository names all three. Absent: none of them.
   */
  readonly filters?: readonly StoreFilter[];
}

/** A member of an instance filter that a store may or may not apply ({@link StoreCapabilities.filters}). */
export type StoreFilter = 'name' | 'tags' | 'order';

/** Arguments of a claim. */
export interface ClaimOptions {
  /** Recorded in the lease: the worker id, or the worker's life (`lifeLeaseOwner`). */
  readonly owner: string;
  /** Lease length. */
  readonly leaseMs: number;
  /** The worker's clock. */
  readonly now: Date;
  /**
   * Most messages an orchestration claim may hand out, oldest first. The rest stay queued and the instance is
   * claimable again as soon as the step commits (or its lease is released). Optional: a store may also apply a bound
   * of its own (MongoStore keeps every transaction bounded), and stores without one may ignore it.
   */
  readonly maxMessages?: number;
}

/** A claimed orchestration work item. */
export interface OrchestrationWorkItem {
  /**
   * The instance's state. A store that keeps the input apart and writes it only with a new execution (`writesInput`)
   * may leave `input` out of a Running instance's state (MongoStore does): no step of a Running instance reads it, the
   * orchestrator's `getInput()` reads the start in the history. A Failed instance's state carries it (a rewind of a start
   * recorded without its input gives it back), as does that of an instance not started yet.
   */
  readonly state: InstanceState;
  /** Visible messages, in arrival order. */
  readonly messages: readonly OrchestrationMessage[];
  readonly lease: Lease;
}

/** A claimed activity task. */
export interface ActivityWorkItem {
  readonly task: ActivityTask;
  readonly lease: Lease;
}

/** A committed change of one instance. `state` is `undefined` when the instance was purged. */
export interface StatusChange {
  readonly instanceId: string;
  /** The committed snapshot. */
  readonly state: InstanceState | undefined;
  /**
   * Of a purge: the snapshot it deleted (its execution and version), so that a reader who already holds a later run
   * of the id (its read answered after the purge and the next start committed, before the purge reached it) can tell
   * the purge is older and keep what it holds (`isNewerChange`). Every store names it on the purges it commits
   * (MongoStore from a mark its purge sets on the document before the delete: a delete's change event carries no
   * pre-image); a purge a change feed learns of otherwise (the re-read after a MongoDB change stream lost its
   * position, a purge by an earlier version of a store) leaves it out, and a reader takes such a purge as news while it
   * holds the instance.
   */
  readonly purged?: PurgedSnapshot;
}


/** Filters and paging of `queryInstances`. */
export interface InstanceQuery {
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[];
  /** Inclusive. */
  readonly createdTimeFrom?: Date;
  /** Inclusive. */
  readonly createdTimeTo?: Date;
  /** Matched literally (no pattern characters). */
  readonly instanceIdPrefix?: string;
  /**
   * Only instances of one of these orchestrator names, matched exactly (case included; `matchesQuery` is the rule);
   * absent or empty: any name. A store serves it with an index on (name, createdTime, instanceId).
   */
  readonly name?: readonly string[];
  /**
   * `'asc'` (default): (createdTime, instanceId) ascending; `'desc'`: newest first, the exact reverse. A continuation
   * token carries the order it was made for; used with the other order, `planInstancePage` refuses it (400).
   */
  readonly order?: 'asc' | 'desc';
  /**
   * Only instances whose tags include every one of these pairs (the key with exactly that value; `matchesQuery` is
   * the rule); absent: any tags. A store serves it from an index of tag pairs, one entry per pair of each instance,
   * kept with the instance's tags and createdTime (a new execution may change both): it reads the entries of the pair
   * with the fewest (`selectiveTagPair`) and checks the rest of the filter against each row, never every instance.
   */
  readonly tags?: InstanceTags;
  /** Default 100. */
  readonly pageSize?: number;
  /**
   * From the previous page, or made for a key by `encodeContinuationToken` (store-kit) with a bound: the listing goes
   * on after that key, up to the bound (a retention sweep goes on after the last instance it listed). The
   * conformance suite proves both.
   */
  readonly continuationToken?: string;
  /** `false`: the caller shows no input, so a store may leave `input` out of the states it answers. */
  readonly showInput?: boolean;
}

/** A key of the end order of {@link Store.listEnded}: an instance's `lastUpdatedTime` in ms and its id. */
export interface EndedKey {
  readonly endedMs: number;
  readonly instanceId: string;
}

/** What {@link Store.listEnded} lists. */
export interface EndedQuery {
  /** Completed, Failed or Terminated. */
  readonly runtimeStatus: OrchestrationRuntimeStatus;
  /** Inclusive: the latest `lastUpdatedTime` listed. */
  readonly endedTo: Date;
  /** Exclusive: the listing goes on after this key; absent, from the first. */
  readonly after?: EndedKey;
  /** Most instances of the page, from 1 to `MAX_PAGE_SIZE`. */
  readonly limit: number;
}

/** One page of a query. */
export interface InstancePage {
  readonly instances: readonly InstanceState[];
  /**
   * Present when more instances may follow. A page may hold fewer than `pageSize` instances, or none, with a token
   * (an IndexedDB store's page by name or tags while it rebuilds that index): a caller follows the token, not the size.
   */
  readonly continuationToken?: string;
}

/**
 * One instance of {@link Store.purgeInstanceSet}: deleted only while the stored instance runs execution `executionId`
 * at `version` (the snapshot its purge was decided on, terminal then, so terminal still).
 */
export interface PurgeMember {
  readonly instanceId: string;
  readonly executionId: string;
  readonly version: number;
}

/** What {@link Store.purgeInstanceSet} did: every member deleted, or none. */
export interface PurgeSetResult {
  /** The count deleted: every member's, or 0 when a condition failed. */
  readonly instancesDeleted: number;
  /** The first member whose condition failed (`instancesDeleted` is then 0); absent when the set was deleted. */
  readonly changed?: string;
}

/** Which instances `purgeInstances` deletes (terminal ones only). */
export interface PurgeFilter {
  /** Inclusive. */
  readonly createdTimeFrom: Date;
  /** Inclusive. */
  readonly createdTimeTo?: Date;
  /** Restricts to these statuses (non-terminal ones never match). */
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[];
  /** Restricts to these orchestrator names, as {@link InstanceQuery.name}. */
  readonly name?: readonly string[];
  /** Restricts to instances with these tags, as {@link InstanceQuery.tags}. */
  readonly tags?: InstanceTags;
}
