import {
  InstanceAlreadyExistsError, InstanceNotTerminalError, InvalidArgumentError, LeaseLostError, StoreClosedError,
  consoleLogger, isTerminalStatus, systemClock, type Clock, type ClockTimer, type HistoryEvent, type InstanceTags, type Logger,
} from '@durable-rx/runtime';
import {
  assertNever, checkWriteLease, commitResultOf, releasedInstanceOf, guardedLogger, instanceIdsOf, isHeldBy, isLeaseToken, leaseLostError, leaseTokens, newLease,
  matchesQuery, nextPageToken, pageSizeOf, planInstancePage, planWriteSet, raiseKeyIdsOf, selectiveTagPair, validateClaimOptions, validateEndedQuery, validateInstanceQuery, validateLeaseOwner, validatePurgeFilter, validateTime,
  type ActivityWorkItem, type ClaimOptions, type CommitResult, type EndedQuery, type InstancePage, type InstanceQuery, type InstanceState, type Lease,
  type OrchestrationMessage, type OrchestrationWorkItem, type PurgeFilter, type PurgeMember, type PurgeSetResult, type StatusChange, type Store,
  purgeMemberHolds, validatePurgeSet, type HistoryRange,
  type StoreCapabilities, type UnclaimedLease, type WritePlan, type WriteRequest, type WriteSet, UnconfirmedClaims,
} from '@durable-rx/runtime/store-kit';
import {
  MongoClient, ObjectId, ReadConcern, type Abortable, type AnyBulkWriteOperation, type BulkWriteOptions, type ChangeStreamOptions, type ClientSession, type Collection,
  type CreateIndexesOptions, type Db, type Document, type DropIndexesOptions, type Filter, type IndexDescription, type ListIndexesOptions,
  type FindCursor, type ServerHeartbeatSucceededEvent, type Timestamp, type TransactionOptions, type UpdateFilter, type WithId,
} from 'mongodb';
import { Buffer } from 'node:buffer';
import { defer, merge, Observable, of, Subject } from 'rxjs';
import {
  concernsWatched, DEFAULT_MAX_WATCHED_INSTANCES, filterCovers, InputCache, matchKeysFor, PurgeMarks, readStatusEvent, statusPipeline, wakePipeline, wakeSignalOf,
  withInput,
  type ChangeEventLike,
} from './change-events.js';
import { allSettledOrThrow } from './all-settled-or-throw.js';
import { batchedInputProjection, InputReads, type BatchedInput, type StoredInput } from './input-reads.js';
import { ChangeFeed, FeedReadError } from './change-feed.js';
import { inputReadStep } from './input-read-retry.js';
import {
  CLAIM_REMEASURE_MS, claimSkewProblem, ClockSkewMonitor, DEFAULT_CLOCK_SKEW_CHECK_MS, DEFAULT_MAX_CLOCK_SKEW_MS, elapsedAtLeast,
  resyncFrom, skewOfHello, takeoverSkewProblem, type ClockSkew,
} from './clock-skew.js';
import { ClusterClock, isMajorityWriteConcern, majorityProbe, majorityReadTimeOf, majorityTimeSource } from './cluster-time.js';
import { assertReplicaSet, assertWritablePrimary, classifyDeployment, databaseFromUri, directConnectionWarning, SINGLE_NODE_REPLICA_SET_HOWTO } from './deployment.js';
import {
  EPOCH, FREE_LEASE, NEVER, claimAtOf, decodeHistoryEvent, decodeInstanceState, decodeStoredState, newHistoryGen, storedLeaseOf,
  endOrderRepair, purgeDocs, purgeMarkOf, sameStateFilter, tagKeysOf, type HistoryDoc, type InstanceDoc, type MessageDoc, type PurgeDoc, type QueueHead, type RaiseKeysDoc, type SweepDoc, type TaskDoc,
} from './documents.js';
import { ReplicaSetRequiredError } from './errors/replica-set-required-error.js';
import { StoreUnreachableError } from './errors/store-unreachable-error.js';
import {
  collectionNames, collectionsListingFilter, indexConflictProblem, INDEXES, indexesListedAtConnect, missingCollections, missingIndexes, missingIndexesProblem, obsoleteIndexesPresent,
  RETIRED_INDEXES, retiredIndexesNotice, retiredIndexesPresent, unfitIndexes, unfitIndexesProblem, validateNamespace,
  type CollectionNames,
} from './indexes.js';
import { DEFAULT_INDEX_BUILD_TIMEOUT_MS, withIndexDeadline, type IndexDeadline } from './index-deadline.js';
import { instanceIdOfKey, instanceKey } from './instance-key.js';
import { InstanceWatchers } from './instance-watchers.js';
import { classifyDriverError, isDuplicateIdOf, mapCommitFailure, mapDriverError } from './map-driver-error.js';
import {
  CLAIMED_INSTANCE_PROJECTION, claimFirstReadable, claimReadBound, claimReadFailure, keepUnconfirmedLease, readClaimedInstance, readClaimedTask, takeWithinBytes,
  unreadableMessages, type ClaimReading,
  unreleasedClaimWarning,
} from './claimed-work.js';
import {
  checkConnectOptions, clientOptionsFor, clientOptionWarnings, DEFAULT_DB_NAME, feedOptionProblem, type MongoStoreOptions,
} from './mongo-store-options.js';
import { assertPrivileges, requiredPrivileges } from './privileges.js';
import { MongoStoreError } from './errors/mongo-store-error.js';
import { MAX_PAYLOAD_BYTES } from './payload-codec.js';
import {
  activityClaimTries, buildQueryFilter, instanceProjection, queryProjection, leaseLookupFilter, changedSinceFilter, CLAIM_ACTIVITY_HINT, CLAIM_ACTIVITY_SORT, CLAIM_ORCHESTRATION_HINT,
  CLAIM_ORCHESTRATION_SORT, claimBound, historyQuery, nextPageKey, PURGE_SCAN_PROJECTION, purgeScanFilter,
  consumedMessagesFilter, DEFAULT_MAX_MESSAGES_PER_CLAIM, INSTANCE_WAKE_FILTER, MISSING_CLAIM_AT_FILTER, MISSING_NAME_FILTER, MISSING_NAME_HINT, MISSING_TAG_KEYS_FILTER, NAME_STATUS_PAGE_HINT, NEWEST_CREATED, TAG_COUNT_LIMIT, TAG_PAGE_HINT, tagCountFilter,
  ENDED_HINT, endedListingQuery, MISSING_END_ORDER_FILTER, orchestrationClaimTries, pageSortOf,
  PURGES_HINT, purgedSinceFilter, QUERY_PAGE_BYTES, queueHeadQueries, readPageWithinBytes, RESYNC_HINT, ownerLeasesFilter, RELEASE_OWNER_HINTS, sweepChunkQuery, TASK_WAKE_FILTER, TASK_WAKE_HINT, TASK_WAKE_SORT,
  TIMED_ACTIVITY_CLAIM_PROBE_PROJECTION, TIMED_CLAIM_PROBE_PROJECTION, timedActivityClaimProbeFilter, timedClaimProbeFilter, UNCLAIMED_MESSAGES_READ, UNCLAIMED_READ_MAX_MS, visibleMessagesQuery,
  type VisibleMessagesQuery,
} from './queries.js';
import { adminDb, STORE_BSON_OPTIONS, storeDb } from './store-db.js';
import { readBound, SCAN_BOUND, TRANSACTION_READ_BOUND } from './read-bound.js';
import { statusResync, type ResyncInstanceDoc } from './status-resync.js';
import { DEFAULT_RESUME_POLICY, type ResumePoint } from './resume-policy.js';
import { assertSupportedWriteSet } from './supported-write-set.js';
import {
  commitSignalsWork, instanceUpdate, instanceUpdateFields, leaseReleaseFields, STAMP_PURGED_AT, STAMP_UPDATED_AT, TAKEN_INSTANCE_PROJECTION, translateWritePlan, type MongoWrite,
  type TakenInstanceDoc,
} from './translate-write-plan.js';
import { claimedMessagesQuery, claimedReadOf, claimLeaseUpdate, claimReadOf } from './claim-read.js';
import { endedPage, upTo, type EndedRead, type EndOrderRepair } from './ended-page.js';
import { CallDeadline, listingDeadlineMs } from './call-deadline.js';
import { fillInBatches } from './fill-in-batches.js';
import { mergeBySeq } from './merge-by-seq.js';
import { purgeInBatches } from './purge-in-batches.js';
import { seqPages } from './seq-pages.js';
import { heldSweepsQuery, sweepClaim, sweepFinishedBy, sweepRecheckDelay, sweepRenewal, sweepRetryDelay } from './sweep-lease.js';
import { unclaimedWriteRefusal } from './unclaimed-write-holds.js';
import { closeWhatRemains, CLIENT_CLOSE_WAIT_MS } from './close-own-client.js';
import { allOf, documentsOf, UnboundedCalls, type Closable, type CursorBound, type CursorDocuments, type NextOf } from './unbounded-calls.js';
import { waitAtMost, type WaitOutcome } from './wait-at-most.js';
import { wakeSignals } from './wake-signals.js';
import { transactionEndWaitMs, transactionRanOut, transactionRetryStep, unansweredCommit, type TransactionRetryStep } from './transaction-deadline.js';
import { WatchScope } from './watch-scope.js';
import { readStableGeneration } from './stable-generation-read.js';
import { snapshotReadOptions, transactionOptionsFor, transactionOptionsProblem, transactionWriteConcernWarning } from './write-concern.js';

/**
 * What a caller of `MongoStore.#transaction` means by it, each part on its own: what it is `doing` (for the error of a
 * commit that failed), the transaction's `options` (default: the store's `transactionOptions`; `snapshotReadOptions`
 * for a read of several documents as of one moment), whether the transaction whose callback returned `result` wrote
 * anything (default: it did), which decides whether its commit's operation time is a majority-committed time
 * (`ClusterClock`) and what a commit that failed may have applied (`mapCommitFailure`), and whether it is a `read`,
 * its purpose (`getInstanceHistory`).
 */
interface TransactionUse<T> {
  readonly doing: string;
  readonly options?: TransactionOptions;
  readonly wrote?: (result: T) => boolean;
  readonly read?: true;
}

/**
 * What an orchestration claim reads of the instance it leased (`CLAIMED_INSTANCE_PROJECTION`): its state, its input
 * unless it is Running, and `messageSeq`, `leaseSeq` and `leaseRead`, which bound the read of its messages
 * (`claimedReadOf`).
 */
type ClaimedInstanceDoc = Pick<InstanceDoc, '_id' | 'state' | 'input' | 'messageSeq' | 'leaseSeq' | 'leaseRead'>;

/** A document a claim leased, with the lease it holds. */
interface TakenLease<D> {
  readonly doc: D;
  readonly lease: Lease;
}

/** What a commit without a keyed raise reads of the raise-key records: none. */
const NO_RAISE_KEYS: ReadonlyMap<string, readonly string[]> = new Map();

/** Instances purged per transaction by `purgeInstances`. */
const PURGE_BATCH = 50;

/** Ids per cursor batch of the scan `purgeInstances` purges from (one batch in memory at a time). */
const PURGE_SCAN_BATCH = 1000;

/** History events deleted per round trip by the sweeper. */
const SWEEP_CHUNK = 1000;

/**
 * How long the majority read that refreshes the stream start time on a sharded deployment may take (server selection
 * included) before it fails; a failed one is logged and retried at the next interval.
 */
const MAJORITY_READ_TIMEOUT_MS = 10_000;

/** How long one periodic clock check (a `hello`, server selection included) may take before it fails and is retried. */
const CLOCK_CHECK_TIMEOUT_MS = 10_000;
/** How often a claim refused for clock skew is logged while refusals last. */
const CLAIM_REFUSAL_RELOG_MS = 60_000;

/**
 * How long each command of the deployment check at `connect` (`hello`, then `connectionStatus`) may wait for its reply
 * once a server is selected; server selection has its own `serverSelectionTimeoutMS` on top.
 */
const PROBE_REPLY_TIMEOUT_MS = 10_000;

/** Instances per read of the inputs the status feeds miss (see `InputReads`). */
const INPUT_READ_BATCH = 100;

/** How often `getHistory` re-reads when the instance moved to a new history generation while it read. */
const HISTORY_READ_ATTEMPTS = 3;

/**
 * The Store port on MongoDB (a replica set or a sharded cluster): several Node processes on several machines share
 * one database and its work through leases, and watch status through change streams.
 *
 * - Collections `instances`, `history`, `messages`, `activityTasks`, `sweeps`, `purges`, `raiseKeys` (with an optional prefix), with an
 *   index for every query and claim (`ensureIndexes`, run when opening); claims are pinned to theirs with a hint.
 * - Every write is one write set (`@durable-rx/runtime/store-kit`), decided by the shared `planWriteSet` and
 *   executed in one transaction whose first operation takes the instance documents it needs; an orchestration step
 *   commits only while its lease token is still on the instance (otherwise `LeaseLostError`, nothing written).
 * - Claims are ordered by the time their messages became visible and take at most `maxMessagesPerClaim` messages;
 *   old histories are deleted after the commit, in chunks, by generation.
 * - `changes$` comes from a change stream on `instances`: each event carries the snapshot its transaction wrote.
 *   `workAvailable$` comes from a change stream on new messages, tasks and released leases. Both open at the
 *   latest majority-committed operation time known when the first subscriber arrives (so a majority read right after
 *   subscribing and the stream leave no gap between them), resume from their resume token after failures, and
 *   resync (workers rescan, status subscribers get what changed) when the position was lost.
 * - Reads use `majority` read concern, writes `majority` write concern (waiting at most 30 s for the majority).
 *   `getInstanceHistory` reads the instance and its history in one read-only `snapshot` transaction committed with a
 *   majority: the history its state shows, read at one moment.
 * - User JSON is stored as JSON text: keys with `$` or `.` and `__proto__` round-trip exactly. Each document's JSON
 *   is limited to `maxPayloadBytes` (default and maximum 15 MiB).
 * - `connect` checks the deployment: a standalone server is refused with `ReplicaSetRequiredError` (which says how to
 *   start a single-node replica set), a user without the privileges the store needs with `StoreAuthenticationError`
 *   naming each missing one.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@durable-rx/runtime';
 * import { MongoStore } from '@durable-rx/store-mongo';
 *
 * const store = await MongoStore.connect({ uri: 'mongodb://127.0.0.1:27017/orders?replicaSet=rs0' });
 * const runtime = createRuntime({ store, orchestrators, activities });
 * await runtime.start();
 * // ...
 * await runtime.stop();
 * await store.close();
 * ```
 */
export class MongoStore implements Store {
  readonly capabilities: StoreCapabilities = { name: 'mongodb', shared: true, durable: true, unclaimedWrites: true, filters: ['name', 'tags', 'order'] };

  /** Every committed status change, from any process, in commit order per instance. */
  readonly changes$: Observable<StatusChange>;

  /** Fires when a message or activity task was written or a lease released (by a commit: one that leaves messages), by this or another process. */
  readonly workAvailable$: Observable<void>;

  /** The database the store works in. */
  readonly dbName: string;

  /** The names of the store's collections. */
  readonly collections: CollectionNames;

  /**
   * This process's clock against the server's: the latest measurement, taken when connecting and every
   * `clockSkewCheckMs` after (`undefined`: the server sent no time).
   */
  get clockSkew(): ClockSkew | undefined {
    return this.#skew.latest;
  }

  readonly #client: MongoClient;
  readonly #ownsClient: boolean;
  readonly #db: Db;
  /** How long one pass over the collections and indexes may take (`indexBuildTimeoutMs`). */
  readonly #indexBuildTimeoutMs: number;
  /** The deadline of a `listEnded` call, within its caller's `storeCallTimeoutMs` (`listingDeadlineMs`). */
  readonly #listingDeadlineMs: number;
  readonly #instances: Collection<InstanceDoc>;
  readonly #history: Collection<HistoryDoc>;
  readonly #messages: Collection<MessageDoc>;
  readonly #tasks: Collection<TaskDoc>;
  readonly #sweeps: Collection<SweepDoc>;
  readonly #purges: Collection<PurgeDoc>;
  /** The raise-key record of each instance raised to with a key (`RaiseKeysDoc`), apart from its document. */
  readonly #raiseKeys: Collection<RaiseKeysDoc>;
  /**
   * `instances` and `activityTasks` read at `local` concern: the look-ups of leases claims may have written without
   * learning it (`#recoverInstance`, `#recoverTask`) find one the primary applied before a majority acknowledged it.
   */
  readonly #instancesLocal: Collection<InstanceDoc>;
  readonly #tasksLocal: Collection<TaskDoc>;
  /** The leases of claims that failed after their lease write was sent, when it may have applied (store-kit's rule). */
  readonly #unconfirmedInstances = new UnconfirmedClaims();
  readonly #unconfirmedTasks = new UnconfirmedClaims();
  readonly #limit: number;
  readonly #maxMessages: number;
  readonly #transactionOptions: TransactionOptions;
  /** Those of a read-only transaction that reads at one moment (`getInstanceHistory`). */
  readonly #snapshotReadOptions: TransactionOptions;
  readonly #logger: Logger;
  readonly #clusterClock: ClusterClock;
  readonly #clock: Clock;
  readonly #onHeartbeat: (event: ServerHeartbeatSucceededEvent) => void;
  /** The next majority read refreshing the stream start time (deployments whose `hello` has no `lastWrite` only). */
  #majorityReadTimer: ClockTimer | undefined;
  /** The clock check: the measurement at connect, then one per `clockSkewCheckMs` on its own timer until `close`. */
  readonly #skew: ClockSkewMonitor;
  readonly #statusFeed: ChangeFeed<ChangeEventLike, StatusChange>;
  readonly #wakeFeed: ChangeFeed<ChangeEventLike, true | Date>;
  /** The per-instance status stream: its `$match` names the watched instances (see `instanceChanges$`). */
  readonly #watchFeed: ChangeFeed<ChangeEventLike, StatusChange>;
  readonly #watchers: InstanceWatchers;
  readonly #maxWatched: number;
  #watchFilter: readonly string[] | undefined;
  /** Whether the per-instance stream names the watched instances, and how often it may reopen to add one. */
  readonly #watchScope: WatchScope;
  /** Ends a wide scope taken because of churn (see `WatchScope`). */
  #narrowTimer: ClockTimer | undefined;
  /** True from a narrowing reopen's `refresh` until the microtask after it (see `#narrowIfDue`). */
  #narrowQueued = false;
  readonly #inputs = new InputCache();
  /**
   * Reads the inputs the status feeds miss, in batches by key (one `$in` read per batch, one read at a time): a burst
   * of changes of instances the cache does not know costs one read per hundred, not a round trip each in turn. The
   * batched read brings back inputs of up to 128 KiB only; each larger one is read on its own, one at a time, so the
   * reads hold one batch of small inputs and one large input at most, not a hundred of 15 MiB (see `InputReads`).
   */
  readonly #inputReads = new InputReads(
    (keys) => this.#track(async () => {
      const docs = await this.#readInOwnSession(readBound(), (bound, session) => this.#instances.find<BatchedInput & { _id: string }>({ _id: { $in: [...keys] } }, { session, projection: batchedInputProjection(), ...bound }), (docs) => allOf(docs));
      return new Map(docs.map((doc) => [doc._id, doc]));
    }),
    (key) => this.#track(async () => (await this.#instances.findOne({ _id: key }, { projection: { executionId: 1, input: 1 }, ...readBound() })) ?? undefined),
    INPUT_READ_BATCH,
  );
  readonly #localWork = new Subject<void>();
  readonly #inFlight = new Set<Promise<unknown>>();
  /**
   * The cursor and change-stream closes (`killCursors`, no signal or time limit) the store started and no operation
   * waits for (a cursor's close, held by `UnboundedCalls.openCursor`; the feeds' `hold`): `close` ends them with a client of its own, or waits for them 5 s
   * at most. A driver whose cursors lack the `getMore` method driver 7.8's have (`watchGetMore`) is logged once: its
   * reads fail at a failed `getMore` only once the driver's own `killCursors` settled.
   */
  readonly #unbounded = new UnboundedCalls((warning) => this.#logger.warn(`MongoStore ${this.dbName}: ${warning}`));
  /** The explicit session of a read of its own (`#readInOwnSession`, a status resync's re-read): not causally consistent, as the implicit one. */
  readonly #ownSession = {
    start: (): ClientSession => this.#client.startSession({ causalConsistency: false }),
    end: (session: ClientSession): Promise<void> => session.endSession(),
  };
  /** Ends of transactions whose abort or commit the store stopped waiting for (`#keepUnanswered`). */
  readonly #unanswered = new Set<Promise<void>>();
  /** Whether claims are refused while their clock is off the server's (`refuseClaimsOnClockSkew`). */
  readonly #refuseClaimsOnSkew: boolean;
  /** When a claim refusal was last logged (`performance.now()`; `#checkClaimClock`), undefined after a claim went ahead. */
  #skewRefusalLoggedAt: number | undefined;
  /** Wakes each back-off of `#pause` still waiting; `close` calls them. */
  readonly #pauses = new Set<() => void>();
  #sweeping: Promise<void> | undefined;
  /** The next look at sweeps other processes hold (`#recheckSweepsIn`). */
  #sweepRecheckTimer: ClockTimer | undefined;
  #sweepAgain = false;
  /** History sweep passes that failed in a row (`sweepRetryDelay`); 0 after one that got through. */
  #sweepFailures = 0;
  #closed: Promise<void> | undefined;

  /**
   * Connects (when given a URI), checks the deployment, compares this process's clock with the server's (a warning
   * through `logger` beyond `maxClockSkewMs`), creates the collections and indexes, resumes any unfinished history
   * sweep, and returns the open store.
   *
   * The deployment check is two commands, each bounded (`serverSelectionTimeoutMS` + 10 s) and leaving no cursor or
   * session behind: `hello` (a replica set or sharded cluster, reached at its primary: transactions and change
   * streams) and `connectionStatus` with `showPrivileges` (the user may do what the store does: `find`, `insert`,
   * `update`, `remove` on its collections, `changeStream` + `find` on the database, `listIndexes`, and while creating
   * indexes `createCollection`, `createIndex`, `dropIndex`; see `requiredPrivileges`). Driver options that weaken failover
   * handling (`retryWrites=false`, a short `socketTimeoutMS`, `waitQueueTimeoutMS` 0) are logged as warnings. With
   * `createIndexes: false` nothing is created: `connect` checks that every index of `INDEXES` exists instead.
   *
   * Rejects with `StoreUnreachableError` when no server answers within `serverSelectionTimeoutMS` (default 10 s) or the
   * check's deadline, or when the connection string reaches a secondary directly; `StoreAuthenticationError` when the
   * credentials are refused or a privilege is missing (the message names each one and how to grant it);
   * `ReplicaSetRequiredError` for a standalone server or a replica set never initiated; and `InvalidArgumentError` for
   * a malformed connection string or option (including a database name or collection prefix MongoDB would refuse,
   * checked before connecting); `MongoStoreError` naming each missing index with `createIndexes: false` (the store's
   * claims name their indexes in hints and would fail at every call); `IndexBuildTimeoutError` when creating or checking
   * the collections and indexes takes longer than `indexBuildTimeoutMs` (10 min by default: an index build waits for
   * every voting data-bearing member of the replica set, so a member that is down holds it up; the build goes on on
   * the server). A client the store created is closed again when opening fails.
   *
   * @example
   * ```ts
   * const store = await MongoStore.connect({ uri: process.env.MONGODB_URI!, dbName: 'orders' });
   * // or on a client the application owns (close() leaves it open):
   * const shared = await MongoStore.connect({ client, dbName: 'orders', collectionPrefix: 'drx_' });
   * ```
   */
  static async connect(options: MongoStoreOptions): Promise<MongoStore> {
    checkConnectOptions(options); // before any client is created
    let client: MongoClient;
    let dbName: string;
    let ownsClient: boolean;
    if ('client' in options) {
      client = options.client;
      dbName = options.dbName;
      ownsClient = false;
    } else {
      dbName = options.dbName ?? databaseFromUri(options.uri) ?? DEFAULT_DB_NAME;
      ownsClient = true;
      try {
        client = new MongoClient(options.uri, clientOptionsFor(options.uri, options.clientOptions));
      } catch (error) {
        throw new InvalidArgumentError(`Invalid MongoDB connection string or client option: ${messageOf(error)}`, { cause: error });
      }
    }
    const fail = async (message: string): Promise<never> => {
      if (ownsClient) await client.close().catch(() => undefined);
      throw new InvalidArgumentError(message);
    };
    try {
      validateNamespace(dbName, options.collectionPrefix);
    } catch (error) {
      await fail(messageOf(error));
    }
    const limit = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAYLOAD_BYTES) {
      await fail(`maxPayloadBytes must be an integer from 1 to ${MAX_PAYLOAD_BYTES}`);
    }
    const maxMessages = options.maxMessagesPerClaim ?? DEFAULT_MAX_MESSAGES_PER_CLAIM;
    if (!Number.isInteger(maxMessages) || maxMessages < 1 || maxMessages > DEFAULT_MAX_MESSAGES_PER_CLAIM) {
      await fail(`maxMessagesPerClaim must be an integer from 1 to ${DEFAULT_MAX_MESSAGES_PER_CLAIM}`);
    }
    // A NaN interval would run the clock check on a 1 ms timer (a `hello` per round trip), and a NaN tolerance would
    // warn at every check: refuse both, as any other bad option.
    for (const name of ['maxClockSkewMs', 'clockSkewCheckMs'] as const) {
      const ms = options[name];
      if (ms !== undefined && !(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0)) {
        await fail(`${name} must be a finite number of milliseconds, 0 or more`);
      }
    }
    const feedProblem = feedOptionProblem(options);
    if (feedProblem !== undefined) await fail(feedProblem);
    const transactionProblem = transactionOptionsProblem(options.transactionOptions);
    if (transactionProblem !== undefined) await fail(transactionProblem);
    // With `replicaSet=` in the connection string the driver ignores a standalone (or never initiated) server and
    // reports an unreachable topology; its heartbeat replies still show what answered.
    const replies: Document[] = [];
    const onHeartbeat = (event: ServerHeartbeatSucceededEvent) => void replies.push(event.reply);
    client.on('serverHeartbeatSucceeded', onHeartbeat);
    try {
      await client.connect();
      // The deployment check: each command is bounded (a deadline on top of server selection), and neither leaves a
      // cursor or a session behind. First what the deployment is (a replica set or sharded cluster, reached at its
      // primary), then what this user may do there, so that a missing role fails here, not hours later in a feed.
      const probeMs = client.options.serverSelectionTimeoutMS + PROBE_REPLY_TIMEOUT_MS;
      const sentAt = Date.now();
      const reply = await hello(client, { signal: AbortSignal.timeout(probeMs) });
      const receivedAt = Date.now();
      assertReplicaSet(reply);
      assertWritablePrimary(reply);
      // Wrapped once: a report made while a failure is handled (a resync's retry, a sweep, the clock check) cannot
      // throw out of the handler and leave its retry unarmed.
      const logger = guardedLogger(options.logger ?? consoleLogger);
      const status = await connectionStatus(client, AbortSignal.timeout(probeMs), logger);
      if (status !== undefined) {
        assertPrivileges(status, requiredPrivileges(dbName, collectionNames(options.collectionPrefix), { createIndexes: options.createIndexes !== false }));
      }
      const commitWaitMs = transactionOptionsFor(options.transactionOptions).writeConcern?.wtimeoutMS;
      for (const warning of clientOptionWarnings(client.options, commitWaitMs)) logger.warn(`MongoStore ${dbName}: ${warning}`);
      const directWarning = directConnectionWarning(client.options.directConnection, reply);
      if (directWarning !== undefined) logger.warn(`MongoStore ${dbName}: ${directWarning}`);
      const writeConcernWarning = transactionWriteConcernWarning(transactionOptionsFor(options.transactionOptions));
      if (writeConcernWarning !== undefined) logger.warn(`MongoStore ${dbName}: ${writeConcernWarning}`);
      const skew = skewOfHello(reply, sentAt, receivedAt);
      const clusterClock = new ClusterClock();
      clusterClock.observe(reply);
      for (const heartbeat of replies) clusterClock.observe(heartbeat);
      const store = new MongoStore({ client, ownsClient, dbName, options, limit, maxMessages, logger, skew, clusterClock });
      try {
        if (options.createIndexes !== false) await store.ensureIndexes();
        else await store.#checkIndexes();
        await store.#fillClaimAt();
        await store.#fillName();
        await store.#fillTagKeys();
        await store.#fillEndOrder();
        // A mongos sends no majority-committed time in its heartbeats: read it now (so the first stream does not
        // open at the present) and once per heartbeat interval from then on (see majorityTimeSource).
        if (majorityTimeSource(reply) === 'majority-reads') {
          await store.#readMajorityTime();
          store.#scheduleMajorityRead(client.options.heartbeatFrequencyMS);
        }
      } catch (error) {
        // Releases what the store attached to the client (and the client, when the store created it).
        await store.close().catch(() => undefined);
        throw error;
      }
      store.#sweep();
      store.#skew.start();
      return store;
    } catch (error) {
      if (ownsClient) await client.close().catch(() => undefined);
      if (classifyDriverError(error) === 'unreachable' && replies.some((reply) => classifyDeployment(reply) === 'standalone')) {
        throw new ReplicaSetRequiredError(
          'The server answered but is not a member of an initiated replica set (a standalone mongod, or --replSet ' +
            'without rs.initiate()); the driver ignores such a server when the connection string names a replicaSet. ' +
            SINGLE_NODE_REPLICA_SET_HOWTO,
          { cause: error },
        );
      }
      throw mapDriverError(error, `opening the store on database ${JSON.stringify(dbName)}`);
    } finally {
      client.off('serverHeartbeatSucceeded', onHeartbeat);
    }
  }

  private constructor(o: {
    client: MongoClient; ownsClient: boolean; dbName: string; options: MongoStoreOptions; limit: number; maxMessages: number;
    logger: Logger; skew: ClockSkew | undefined; clusterClock: ClusterClock;
  }) {
    const { client, dbName, options, logger } = o;
    this.#client = client;
    this.#ownsClient = o.ownsClient;
    this.dbName = dbName;
    this.#db = storeDb(client, dbName);
    this.#indexBuildTimeoutMs = options.indexBuildTimeoutMs ?? DEFAULT_INDEX_BUILD_TIMEOUT_MS;
    this.#listingDeadlineMs = listingDeadlineMs(options.storeCallTimeoutMs);
    this.collections = collectionNames(options.collectionPrefix);
    this.#instances = this.#db.collection<InstanceDoc>(this.collections.instances);
    this.#history = this.#db.collection<HistoryDoc>(this.collections.history);
    this.#messages = this.#db.collection<MessageDoc>(this.collections.messages);
    this.#tasks = this.#db.collection<TaskDoc>(this.collections.activityTasks);
    this.#sweeps = this.#db.collection<SweepDoc>(this.collections.sweeps);
    this.#purges = this.#db.collection<PurgeDoc>(this.collections.purges);
    this.#raiseKeys = this.#db.collection<RaiseKeysDoc>(this.collections.raiseKeys);
    const local = { readConcern: new ReadConcern('local') };
    this.#instancesLocal = this.#db.collection<InstanceDoc>(this.collections.instances, local);
    this.#tasksLocal = this.#db.collection<TaskDoc>(this.collections.activityTasks, local);
    this.#limit = o.limit;
    this.#maxMessages = o.maxMessages;
    this.#transactionOptions = transactionOptionsFor(options.transactionOptions);
    this.#snapshotReadOptions = snapshotReadOptions(this.#transactionOptions);
    this.#logger = logger;
    this.#clock = options.clock ?? systemClock;
    this.#clusterClock = o.clusterClock;
    this.#refuseClaimsOnSkew = options.refuseClaimsOnClockSkew ?? true;
    this.#skew = new ClockSkewMonitor({
      clock: this.#clock,
      intervalMs: options.clockSkewCheckMs ?? DEFAULT_CLOCK_SKEW_CHECK_MS,
      maxSkewMs: options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
      // The check's own signal (aborted by close) with its deadline: a signal per check, none long-lived.
      measure: (signal) => this.#op('checking the clock against the server\u2019s', async () => {
        const sentAt = Date.now();
        const reply = await hello(client, { signal: AbortSignal.any([signal, AbortSignal.timeout(CLOCK_CHECK_TIMEOUT_MS)]) });
        return skewOfHello(reply, sentAt, Date.now());
      }),
      warn: (message, details) => logger.warn(`MongoStore ${dbName}: ${message}`, details),
    }, o.skew);
    this.#onHeartbeat = (event) => this.#clusterClock.observe(event.reply);
    client.on('serverHeartbeatSucceeded', this.#onHeartbeat);
    const policy = { ...DEFAULT_RESUME_POLICY, ...options.resumePolicy };
    const lingerMs = options.feedLingerMs ?? 3_000;
    const clock = this.#clock;
    const startTime = () => this.#clusterClock.streamStart;
    // Every change a stream delivers is majority-committed at its clusterTime: the clock takes it before the change is
    // mapped and emitted, so a read made on hearing it waits for it (see #sessionAfterKnownCommits).
    const heard = <T>(map: (event: ChangeEventLike) => T) => (event: ChangeEventLike): T => {
      this.#clusterClock.observeMajority(event.clusterTime);
      return map(event);
    };
    // What every feed shares: its stream closes (killCursors, no signal or time limit) held among the store's unbounded
    // calls, which close() ends or waits for.
    const feedCommon = { logger, policy, lingerMs, clock, hold: (closing: Promise<void>) => void this.#unbounded.add(closing) };
    // Each status feed reads the purge marks of the events it carries (see PurgeMarks).
    const statusMarks = new PurgeMarks();
    this.#statusFeed = new ChangeFeed<ChangeEventLike, StatusChange>({
      name: `MongoStore ${dbName}.${this.collections.instances} status feed`,
      watch: (point) => this.#instances.watch<InstanceDoc, ChangeEventLike>(statusPipeline(), streamOptions(point)),
      map: heard((event) => this.#readStatusEvent(event, statusMarks)),
      startTime,
      resync: (since) => this.#changedSince(since),
      giveUp: (error) => mapDriverError(error, 'watching status changes'),
      ...feedCommon,
    });
    this.#wakeFeed = new ChangeFeed<ChangeEventLike, true | Date>({
      name: `MongoStore ${dbName} wake-up feed`,
      watch: (point) => this.#db.watch<Document, ChangeEventLike>(wakePipeline(this.collections), streamOptions(point)),
      map: heard(wakeSignalOf),
      startTime,
      // Work written while the position was lost is found by a rescan: the worker claims on every signal. This feed
      // never gives up, so also at each reopen after any failure: while the stream stays broken, an idle worker (no
      // timer armed) would otherwise never learn of work another process wrote.
      resync: () => of(true as const),
      resyncOnResume: true,
      ...feedCommon,
    });
    this.#maxWatched = options.maxWatchedInstances ?? DEFAULT_MAX_WATCHED_INSTANCES;
    this.#watchScope = new WatchScope(clock.now().getTime());
    const watchMarks = new PurgeMarks();
    this.#watchFeed = new ChangeFeed<ChangeEventLike, StatusChange>({
      name: `MongoStore ${dbName}.${this.collections.instances} per-instance status feed`,
      watch: (point, resumeEvent) => {
        this.#watchFilter = this.#watchScope.filterFor(new Set(this.#watchers.ids().map(instanceKey)), this.#maxWatched);
        // The instance of the event the stream resumes after stays in the $match, watched or not: else the server
        // cannot find the token (see matchKeysFor).
        return this.#instances.watch<InstanceDoc, ChangeEventLike>(statusPipeline(matchKeysFor(this.#watchFilter, resumeEvent)), streamOptions(point));
      },
      // Past maxWatchedInstances (or while churn keeps it wide) the stream carries every instance, and a narrow one the
      // instance kept only to resume (matchKeysFor) and those unwatched since it opened: only the watched ones are read.
      map: heard((event) => (concernsWatched(event, (id) => this.#watchers.isWatched(id)) ? this.#readStatusEvent(event, watchMarks) : undefined)),
      startTime,
      resync: (since) => this.#changedSince(since, this.#watchers.ids()),
      giveUp: (error) => mapDriverError(error, 'watching status changes'),
      ...feedCommon,
    });
    // A stream that is open (or lingering) without a newly watched instance in its $match is reopened where it is
    // (after its last token, in this tick: see ChangeFeed.refresh), naming it, or naming no instance once such
    // reopens come faster than WatchScope allows.
    // A watch that ends may bring the watched instances back within maxWatchedInstances: a stream that names none
    // then is reopened naming them (see narrowsStream), from the same budget.
    this.#watchers = new InstanceWatchers(this.#watchFeed.events$, (instanceId) => {
      if (filterCovers(this.#watchFilter, instanceKey(instanceId))) return;
      const now = clock.now().getTime();
      if (this.#watchScope.reopenFor(now) === 'wide') this.#narrowLater(now);
      this.#watchFeed.refresh();
    }, () => this.#narrowIfDue(clock.now().getTime()));
    this.changes$ = this.#statusFeed.events$;
    this.workAvailable$ = merge(this.#localWork, wakeSignals(this.#wakeFeed.events$, clock));
  }

  /**
   * Creates the store's seven collections when missing (a transaction on a sharded cluster cannot create one) and its
   * indexes (see the README for the list). It drops no index an earlier version may still hint: those the current
   * layout replaced (`RETIRED_INDEXES`) are kept, so that processes of the earlier version keep working during a rolling
   * upgrade, and named in a warning until `dropRetiredIndexes` (or a `dropIndex` by hand) removes them. The one kind it
   * drops (`OBSOLETE_INDEXES`) is an old unique index the current layout cannot write beside. A new index on a populated
   * collection is built before `connect` returns. Idempotent; `connect` runs it unless `createIndexes: false`. An index
   * that exists under the same name or key with another definition fails it with `MongoStoreError` naming the index to drop.
   * The whole pass has one deadline, `indexBuildTimeoutMs` (10 min by default): past it, it rejects with
   * `IndexBuildTimeoutError` naming the step that was waiting (usually a build waiting for its commit quorum: every
   * voting data-bearing member must have built the index), and a build already started goes on on the server.
   */
  async ensureIndexes(): Promise<void> {
    await this.#op('creating indexes', () => withIndexDeadline(this.#indexBuildTimeoutMs, this.dbName, async (deadline) => {
      const { signal } = deadline;
      // Every collection exists before the first transaction: MongoDB cannot create a collection inside a
      // cross-shard write transaction (a sharded cluster), and `sweeps` has no index that would create it.
      // Only what is missing is created and only what is present is dropped, so that on the current layout connect
      // sends no create or dropIndexes, which lock a busy collection exclusively (createIndexes of indexes that all
      // exist returns without building anything).
      const existing = await this.#db.listCollections(collectionsListingFilter(this.collections), { nameOnly: true, authorizedCollections: true, signal }).toArray();
      for (const name of missingCollections(this.collections, new Set(existing.map((c) => c.name)))) {
        deadline.step(`creating collection ${name}`);
        await createIfMissing(this.#db, name, signal);
      }
      // Each collection's indexes are listed once (indexesListedAtConnect), before anything is created or dropped: the
      // indexes created below are never obsolete or retired ones, so the lists stay right for the drop and the warning.
      const listed = await this.#listIndexes(indexesListedAtConnect(), deadline);
      this.#refuseUnfitIndexes(listed);
      const names = (kind: keyof CollectionNames) => (listed.get(kind) ?? []).map((index) => String(index['name']));
      // The old history index goes first: it would refuse the events of a restarted instance's new generation.
      deadline.step(`dropping obsolete indexes of ${this.collections.history}`);
      await dropIndexesPresent(this.#history, obsoleteIndexesPresent('history', names('history')), signal);
      const build = async <T extends Document>(collection: Collection<T>, specs: readonly IndexDescription[]) => {
        deadline.step(`building the indexes of ${collection.collectionName}`, collection.collectionName);
        await createIndexesOn(collection, specs, signal);
      };
      await build(this.#instances, INDEXES.instances);
      await build(this.#history, INDEXES.history);
      await build(this.#messages, INDEXES.messages);
      await build(this.#tasks, INDEXES.activityTasks);
      await build(this.#purges, INDEXES.purges);
      const notice = retiredIndexesNotice([...listed.keys()].map((kind) => ({
        collection: this.collections[kind], indexes: retiredIndexesPresent(kind, names(kind)),
      })));
      if (notice !== undefined) this.#logger.warn(`MongoStore ${this.dbName}: ${notice}`);
    }));
  }

  /**
   * Drops the indexes of earlier layouts that this version no longer uses (`RETIRED_INDEXES`, which `connect` keeps
   * and warns about) and returns them, as `<collection>.<index>`. Run it once no process of an earlier version uses the
   * database: such a process names those indexes in hints, and MongoDB fails a query whose hint names a missing
   * index, so its claims would fail until it is replaced. Idempotent (an index another process dropped meanwhile is no
   * error); needs the `dropIndex` privilege (as `connect` with `createIndexes`).
   *
   * @example
   * ```ts
   * // after the last process of the earlier version stopped:
   * const dropped = await store.dropRetiredIndexes(); // e.g. ['drx_messages.instance_due']
   * ```
   */
  async dropRetiredIndexes(): Promise<string[]> {
    return this.#op('dropping retired indexes', async () => {
      const listed = await this.#listIndexes(Object.keys(RETIRED_INDEXES) as (keyof CollectionNames)[]);
      const dropped: string[] = [];
      for (const [kind, indexes] of listed) {
        const present = retiredIndexesPresent(kind, indexes.map((index) => String(index['name'])));
        await dropIndexesPresent(this.#collectionsByKind()[kind], present);
        dropped.push(...present.map((name) => `${this.collections[kind]}.${name}`));
      }
      return dropped;
    });
  }

  /**
   * What `connect` does instead of `ensureIndexes` with `createIndexes: false`: lists the indexes of every collection
   * (one `listIndexes` each, no write) and fails with `MongoStoreError` naming every index of `INDEXES`
   * that is missing (`missingIndexes`, `missingIndexesProblem`), rather than open a store whose claims fail at every
   * call on a hint to a missing index.
   */
  async #checkIndexes(): Promise<void> {
    await this.#op('checking the indexes', () => withIndexDeadline(this.#indexBuildTimeoutMs, this.dbName, async (deadline) => {
      const listed = await this.#listIndexes(indexesListedAtConnect(), deadline);
      this.#refuseUnfitIndexes(listed);
      const problem = missingIndexesProblem([...listed].map(([kind, indexes]) => ({
        collection: this.collections[kind], indexes: missingIndexes(kind, indexes),
      })));
      if (problem !== undefined) throw new MongoStoreError(problem);
    }));
  }

  /**
   * Fails `connect` with `MongoStoreError` when a collection has an index the store needs (or its `_id_`) with a
   * partial filter, `sparse` or a collation other than `simple` (`unfitIndexes`): hinted queries would miss documents,
   * and a default collation would make `_id`s that differ only in case one document.
   */
  #refuseUnfitIndexes(listed: ReadonlyMap<keyof CollectionNames, readonly Document[]>): void {
    const problem = unfitIndexesProblem([...listed].map(([kind, indexes]) => ({ collection: this.collections[kind], indexes: unfitIndexes(kind, indexes) })));
    if (problem !== undefined) throw new MongoStoreError(problem);
  }

  /** The store's collections by kind, as far as index maintenance uses them. */
  #collectionsByKind(): { readonly [K in keyof CollectionNames]: Pick<Collection, 'listIndexes' | 'dropIndex'> } {
    return {
      instances: this.#instances, history: this.#history, messages: this.#messages, activityTasks: this.#tasks, sweeps: this.#sweeps, purges: this.#purges,
      raiseKeys: this.#raiseKeys,
    };
  }

  /**
   * The indexes `listIndexes` returns for each of `kinds` (none for a collection that does not exist), each read under
   * `deadline` when one is given (connect's index pass).
   */
  async #listIndexes(kinds: readonly (keyof CollectionNames)[], deadline?: IndexDeadline): Promise<Map<keyof CollectionNames, Document[]>> {
    const collections = this.#collectionsByKind();
    const listed = new Map<keyof CollectionNames, Document[]>();
    for (const kind of kinds) {
      deadline?.step(`listing the indexes of ${this.collections[kind]}`);
      const options: ListIndexesOptions & Abortable = { signal: deadline?.signal };
      try {
        listed.set(kind, await collections[kind].listIndexes(options).toArray());
      } catch (error) {
        // NamespaceNotFound: the collection does not exist, so it has no index.
        if ((error as { code?: unknown }).code !== 26) throw error;
        listed.set(kind, []);
      }
    }
    return listed;
  }

  /** Number of change streams open right now (0 when nobody subscribes to `changes$`, `workAvailable$` or `instanceChanges$`). */
  get openChangeStreams(): number {
    return [this.#statusFeed, this.#wakeFeed, this.#watchFeed].filter((feed) => feed.isActive).length;
  }

  /**
   * The committed changes of one instance, from a status stream that only carries the watched instances: its
   * `$match` names every instance this process watches (up to `maxWatchedInstances`, then every instance, filtered
   * here). So a process that watches few instances does not receive and parse every commit of every instance. The
   * client's per-instance observables (`status$`, `customStatus$`, `waitForCompletion`) use it. Watching an instance
   * the `$match` does not name reopens the stream after its last token (nothing missed or repeated); when that
   * happens faster than `WatchScope` allows, the stream carries every instance for a while instead.
   *
   * @example
   * ```ts
   * store.instanceChanges$('order-1').subscribe((change) => console.log(change.state?.runtimeStatus));
   * ```
   */
  instanceChanges$(instanceId: string): Observable<StatusChange> {
    return this.#watchers.watch(instanceId);
  }

  // ---------------------------------------------------------------- write sets

  /**
   * Executes a write set atomically, in one transaction: takes (and, for an orchestration lease, releases) the
   * instance documents the write set names as its first operations, lets the shared `planWriteSet` decide every
   * condition, and writes the plan's operations (`translateWritePlan`). Throws `LeaseLostError` when the lease is no
   * longer held and the `DurableError` the plan refuses with (`InstanceAlreadyExistsError`, `InstanceNotFoundError`);
   * then nothing is written. A write set of fused steps (an `activityStep` lease, a leased start or task; MongoStore
   * does not set `capabilities.fusedSteps`) is refused with `InvalidArgumentError` before anything is sent. `CommitOutcomeUnknownError` when MongoDB could not confirm the commit;
   * `StoreUnreachableError` when the write set changes nothing (nothing was written) and its commit was not confirmed.
   *
   * @example
   * ```ts
   * await store.commit({ requests: [{ type: 'insertMessage', message, ifMissing: 'fail' }] });
   * ```
   */
  async commit(writeSet: WriteSet): Promise<CommitResult> {
    checkWriteLease(writeSet.lease); // a malformed lease is refused before anything is sent
    assertSupportedWriteSet(writeSet); // fused steps are refused before anything is sent
    return this.#commit(writeSet, false);
  }

  /** {@link MongoStore.commit} after its checks; `retried`: the second run of a start that lost a race (see below). */
  async #commit(writeSet: WriteSet, retried: boolean): Promise<CommitResult> {
    // The creates that fail over a running instance: a duplicate of one's key is that conflict (see the catch below).
    const creates = writeSet.requests.filter((r) => r.type === 'createInstance' && r.ifRunning.kind === 'fail');
    let result: CommitResult | undefined;
    let work = false;
    let sweeps = false;
    let wrote = true;
    let again = false;
    const doing = describeWriteSet(writeSet);
    await this.#op(doing, async () => {
      try {
        await this.#transaction(async (session) => {
          const now = this.#clock.now();
          const rows = await this.#take(session, writeSet);
          const states = new Map([...rows].map(([id, row]) => [id, row?.state]));
          // The raise-key records of a keyed raise or signal-with-start, read after its instance was taken.
          const plan = planWriteSet(writeSet, states, await this.#readRaiseKeys(session, raiseKeyIdsOf(writeSet)));
          result = commitResultOf(plan);
          const stored = new Map([...rows].map(([id, row]) => [id, row?.row]));
          const writes = translateWritePlan(plan, { stored, limitBytes: this.#limit, now, newGen: newHistoryGen });
          const releasedHead = await this.#apply(session, writes, now);
          await this.#writeRaiseKeys(session, plan.raiseKeys);
          // Work when new work was written or the released lease left messages (a plan that changes nothing has no
          // operation, translateWritePlan, and nothing to signal).
          work = commitSignalsWork(plan, stored, releasedHead);
          sweeps = writes.some((w) => w.op === 'scheduleSweep');
          wrote = takesInstances(writeSet) || writes.length > 0;
        }, { doing, wrote: () => wrote });
      } catch (error) {
        // Two creates racing for a new id: the loser's insert hits the unique _id of the instance it creates. Only that
        // duplicate is the caller's conflict; one on another index or document is a store error (mapDriverError).
        for (const request of creates) {
          if (request.type !== 'createInstance' || !isDuplicateIdOf(error, instanceKey(request.state.instanceId))) continue;
          // A start that keeps any instance of its id (`ifExists: 'useExisting'`) or signals an active one
          // (signal-with-start, `signal`) runs again, and planWriteSet, now reading the instance that won, decides (it
          // keeps it, or delivers the signal to it). Once: a second duplicate is an id purged and taken again
          // meanwhile, a conflict as for any start.
          if ((request.ifExists === 'useExisting' || request.signal !== undefined) && !retried) {
            again = true;
            return;
          }
          const id = request.state.instanceId;
          throw new InstanceAlreadyExistsError(`Instance ${JSON.stringify(id)} already exists`, { cause: error });
        }
        throw error;
      }
    });
    if (again) return this.#commit(writeSet, true);
    if (work) this.#localWork.next();
    if (sweeps) this.#sweep();
    return result!; // set by the transaction that committed
  }

  // ---------------------------------------------------------------- orchestration work items

  async claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined> {
    return this.#op('claiming an orchestration work item', async () => {
      validateClaimOptions(options);
      await this.#checkClaimClock(options);
      const limit = claimBound(options.maxMessages, this.#maxMessages);
      // One causally consistent session for the lease and the read of its messages: the `majority` read then carries
      // the lease write's operation time (afterClusterTime), so it sees every write before it, the messages that made
      // the instance claimable included, even on a node (a new primary) whose majority snapshot lags. Without it,
      // replication lag could show the claim an instance without its messages, and it released and retried for nothing.
      // The due timers are read in a second session, moved to the same operation time before each read (#claimIn):
      // behind a load balancer a session pins one connection for its cursors, and the driver unpins it whenever one of
      // them closes outside a transaction (driver 7.8 AbstractCursor.cleanup, maybeClearPinnedConnection), so with both
      // reads in one session a due page closing left the at-once cursor's getMore and killCursors to another connection,
      // which may reach another mongos: CursorNotFound, the lease released, the claim failed.
      const session = this.#client.startSession({ causalConsistency: true });
      const timers = this.#client.startSession({ causalConsistency: true });
      try {
        return await this.#claimIn({ lease: session, timers }, options, limit);
      } finally {
        // Not while a getMore or killCursors of the messages' read still runs in them (#visibleMessages): after them.
        await this.#unbounded.endAfter(session, () => session.endSession());
        await this.#unbounded.endAfter(timers, () => timers.endSession());
      }
    });
  }

  /**
   * The claim's tries (`claimFirstReadable`): each leased instance is handed out, or skipped when unreadable (kept
   * leased), or released when its messages went meanwhile (a purge or restart raced the claim).
   */
  async #claimIn(
    sessions: { readonly lease: ClientSession; readonly timers: ClientSession }, options: ClaimOptions, limit: number,
  ): Promise<OrchestrationWorkItem | undefined> {
    const session = sessions.lease;
    return claimFirstReadable(async () => {
      const taken = await this.#leaseNext(session, options, limit);
      if (!taken) return undefined;
      const { doc, lease } = taken;
      let reading: ClaimReading<OrchestrationWorkItem>;
      try {
        // Bounded in time (claimReadBound: the session's operation time may be past the majority commit point), in
        // bytes (every message taken becomes a history event of the step's one transaction), and to the messages
        // queued up to the lease write (upToSeq), so that the two reads, merged in arrival order, read one set.
        // As the lease write recorded it (`leaseRead`, up to `leaseSeq`; a lease this process recovered: as the claim
        // that wrote it, not the messages sent since), so that an unclaimed write's check reads the same messages.
        const { read, upToSeq } = claimedReadOf(doc, lease, options.now, limit);
        const query = claimedMessagesQuery(doc._id, read, upToSeq);
        // The due timers' session reads after the lease write too (its operation time: afterClusterTime).
        if (session.operationTime !== undefined) sessions.timers.advanceOperationTime(session.operationTime);
        const messages = await takeWithinBytes(
          this.#visibleMessages({ atOnce: session, due: sessions.timers }, query, claimReadBound(options.leaseMs), read.limit), read.bytes,
        );
        reading = readClaimedInstance(doc, messages, lease);
      } catch (error) {
        // Messages every claim would fail to read (not valid UTF-8, a message or seq of the wrong type): skipped and
        // kept leased, as an undecodable message is, so the claims of every worker do not all stop at this instance.
        if (claimReadFailure(error) === 'skip') {
          reading = unreadableMessages(instanceIdOfKey(doc._id), lease, error);
        } else {
          // The claim must not keep a lease it cannot use: release it, or the instance waits out the whole lease. A
          // release that fails too (the server most often the same one that failed the read) is logged with the instance.
          await this.#release(doc._id, lease.token).catch((releaseError: unknown) => {
            this.#logger.warn(`MongoStore ${this.dbName}: ${unreleasedClaimWarning(instanceIdOfKey(doc._id), lease)}`, releaseError);
          });
          throw error;
        }
      }
      switch (reading.kind) {
        case 'hand-out':
          break;
        case 'skip':
          // Kept leased (claimAt is its expiry), so it is not first in line again: logged, and the next one claimed.
          this.#skipped(reading);
          break;
        case 'no-messages':
          // The instance was purged or replaced between the claim and the read: let go and look again.
          await this.#release(doc._id, lease.token);
          break;
        default:
          return assertNever(reading, 'claim reading');
      }
      return reading;
    });
  }

  /**
   * Leases the instance that became claimable first at `options.now` (`orchestrationClaimTries`): a probe of the timed
   * band's head (one index key), then `findOneAndUpdate`s on ranges of the `claim_at` index, so the server picks and
   * leases atomically and never visits an instance that is leased or waits for a later time. First, a lease an
   * earlier claim of this owner may have written without learning it (`#recoverInstance`); and when MongoDB cannot
   * confirm this claim's own lease write, that lease is kept (store-kit's `UnconfirmedClaims`, by the error mapping:
   * an outcome left open) and looked up at once, else by the next claims: not left idle until it lapses.
   */
  async #leaseNext(session: ClientSession, options: ClaimOptions, limit: number): Promise<TakenLease<ClaimedInstanceDoc> | undefined> {
    const recovered = await this.#recoverInstance(session, options);
    if (recovered) return recovered;
    const { now } = options;
    const lease = newLease(options, nextLeaseToken());
    const head = await this.#instances.findOne(timedClaimProbeFilter(now), {
      session, sort: CLAIM_ORCHESTRATION_SORT, hint: CLAIM_ORCHESTRATION_HINT, projection: TIMED_CLAIM_PROBE_PROJECTION,
      ...claimReadBound(options.leaseMs),
    });
    // The claimed instance's earliest message is due at or before `now`, so this is claimAtOf(lease, its due time).
    const claimAt = claimAtOf(lease.expiresAt, now);
    try {
      for (const { filter } of orchestrationClaimTries(head?.claimAt, now)) {
        const doc = await this.#instances.findOneAndUpdate(
          filter,
          // A pipeline, so that the lease records the `messageSeq` it read in the same write (`leaseSeq`), with how the
          // claim reads its messages (`leaseRead`).
          claimLeaseUpdate(lease, claimAt, claimReadOf(lease, now, limit)),
          { session, sort: CLAIM_ORCHESTRATION_SORT, hint: CLAIM_ORCHESTRATION_HINT, returnDocument: 'after', projection: CLAIMED_INSTANCE_PROJECTION },
        );
        if (doc) return { doc, lease };
      }
      return undefined;
    } catch (error) {
      if (!keepUnconfirmedLease(this.#unconfirmedInstances, lease, error, 'claiming an orchestration work item')) throw error;
      // A write concern error comes after the primary applied the write: the look-up most often finds it. One that
      // fails (the server still unreachable) leaves the lease to the next claim's.
      const found = await this.#recoverInstance(session, options).catch(() => undefined);
      if (found) return found;
      throw error;
    }
  }

  /**
   * The first lease of `options.owner` that an earlier claim may have written without learning it (store-kit's
   * `UnconfirmedClaims`: those still live at `options.now`) and that its instance holds, with the instance; each one
   * looked up is settled (found or not), one whose look-up fails is looked up again by the next claim. Read at
   * `local` concern, so a lease the primary applied before a majority acknowledged it is found; should a failover roll
   * it back, the step's commit finds no lease and writes nothing (`LeaseLostError`).
   */
  async #recoverInstance(session: ClientSession, options: ClaimOptions): Promise<TakenLease<ClaimedInstanceDoc> | undefined> {
    for (const lease of this.#unconfirmedInstances.pending(options.owner, options.now)) {
      const doc = await this.#instancesLocal.findOne(leaseLookupFilter(lease), {
        session, hint: RELEASE_OWNER_HINTS.instances, projection: CLAIMED_INSTANCE_PROJECTION, ...claimReadBound(options.leaseMs),
      });
      this.#unconfirmedInstances.settle(lease.token);
      if (doc) return { doc, lease };
    }
    return undefined;
  }

  async abandonOrchestration(instanceId: string, leaseToken: string): Promise<void> {
    const released = await this.#op(`releasing the lease on ${JSON.stringify(instanceId)}`, async () =>
      // A missing token holds nothing: sent, the driver would make it null, the token of a free instance.
      isLeaseToken(leaseToken) && this.#release(instanceKey(instanceId), leaseToken));
    if (released) this.#localWork.next();
  }

  // ---------------------------------------------------------------- activity tasks

  async claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined> {
    return this.#op('claiming an activity task', async () => {
      validateClaimOptions(options);
      await this.#checkClaimClock(options);
      return claimFirstReadable(async () => {
        const taken = await this.#leaseNextTask(options);
        if (!taken) return undefined;
        const reading = readClaimedTask(taken.doc, taken.lease);
        // Kept leased (its claim_at key is the expiry), so it is not first in line again: logged, and the next one claimed.
        if (reading.kind === 'skip') this.#skipped(reading);
        return reading;
      });
    });
  }

  /**
   * Refuses a claim, before anything is sent, while this process's clock is off the server's by more than a share of
   * the lease it asks for (`claimSkewProblem` on the latest measurement). The system clock is judged, not the claim's
   * `options.now`: a runtime given a clock of its own (a virtual clock in tests, the conformance suite's fixed dates)
   * keeps its times its own business, as it does on every other store. A claim that would be refused first measures again
   * when the last measurement is older than `CLAIM_REMEASURE_MS` (10 s; whatever `clockSkewCheckMs`, at most one
   * `hello` per 10 s, bounded and ended by `close`), so a clock set right is noticed. Refused: `StoreUnreachableError`
   * (503, nothing ran), logged as an error at most once a minute while refusals last. Nothing is refused with
   * `refuseClaimsOnClockSkew: false`.
   */
  async #checkClaimClock(options: ClaimOptions): Promise<void> {
    if (!this.#refuseClaimsOnSkew) return;
    const problem = () => claimSkewProblem(this.#skew.latest, options.leaseMs);
    let found = problem();
    if (found !== undefined) {
      await this.#skew.refreshIfStale(CLAIM_REMEASURE_MS);
      found = problem();
    }
    if (found === undefined) {
      this.#skewRefusalLoggedAt = undefined; // the next refusal is logged at once
      return;
    }
    const nowMs = performance.now();
    if (elapsedAtLeast(this.#skewRefusalLoggedAt, nowMs, CLAIM_REFUSAL_RELOG_MS)) {
      this.#skewRefusalLoggedAt = nowMs;
      this.#logger.error(`MongoStore ${this.dbName}: ${found}`);
    }
    throw new StoreUnreachableError(`MongoStore ${this.dbName} refused a claim: ${found}`);
  }

  /** The state of a document a read of many instances returned, or undefined, logged, when it does not decode. */
  #readable(doc: Pick<InstanceDoc, '_id' | 'state'> & { readonly input?: string }, readBy: string): InstanceState | undefined {
    return decodeStoredState(doc, (key, error) => this.#logger.error(
      `MongoStore ${this.dbName}: instance ${JSON.stringify(instanceIdOfKey(key))} cannot be read (its stored state does not decode); ` +
        `it was left out of ${readBy}`,
      error,
    ));
  }

  /** Logs work a claim skipped (`decideClaimedWork`); its lease is kept: it is claimed again when that expires. */
  #skipped(skip: { readonly message: string; readonly error: unknown }): void {
    this.#logger.error(`MongoStore ${this.dbName}: ${skip.message}`, skip.error);
  }

  /**
   * Leases the activity task that became claimable first at `options.now` (`activityClaimTries`): a probe of the first
   * expired lease (one index key), then `findOneAndUpdate`s on ranges of the tasks' `claim_at` index, whose leading
   * field is the lease expiry, so the server picks and leases atomically and never visits a task whose lease is live.
   * A lease MongoDB could not confirm is kept and looked up as `#leaseNext` does (`#recoverTask`).
   */
  async #leaseNextTask(options: ClaimOptions): Promise<TakenLease<Pick<TaskDoc, '_id' | 'task'>> | undefined> {
    const recovered = await this.#recoverTask(options);
    if (recovered) return recovered;
    const { now } = options;
    const lease = newLease(options, nextLeaseToken());
    const head = await this.#tasks.findOne(timedActivityClaimProbeFilter(now), {
      sort: CLAIM_ACTIVITY_SORT, hint: CLAIM_ACTIVITY_HINT, projection: TIMED_ACTIVITY_CLAIM_PROBE_PROJECTION, ...claimReadBound(options.leaseMs),
    });
    try {
      for (const { filter } of activityClaimTries(head?.leaseExpiresAt, now)) {
        const doc = await this.#tasks.findOneAndUpdate(
          filter,
          { $set: { leaseOwner: lease.owner, leaseToken: lease.token, leaseExpiresAt: lease.expiresAt } },
          { sort: CLAIM_ACTIVITY_SORT, hint: CLAIM_ACTIVITY_HINT, returnDocument: 'after', projection: { task: 1 } },
        );
        if (doc) return { doc, lease };
      }
      return undefined;
    } catch (error) {
      if (!keepUnconfirmedLease(this.#unconfirmedTasks, lease, error, 'claiming an activity task')) throw error;
      const found = await this.#recoverTask(options).catch(() => undefined);
      if (found) return found;
      throw error;
    }
  }

  /** `#recoverInstance` for activity tasks: on their `lease_owner` index, as on instances. */
  async #recoverTask(options: ClaimOptions): Promise<TakenLease<Pick<TaskDoc, '_id' | 'task'>> | undefined> {
    for (const lease of this.#unconfirmedTasks.pending(options.owner, options.now)) {
      const doc = await this.#tasksLocal.findOne(leaseLookupFilter(lease), {
        hint: RELEASE_OWNER_HINTS.activityTasks, projection: { task: 1 }, ...claimReadBound(options.leaseMs),
      });
      this.#unconfirmedTasks.settle(lease.token);
      if (doc) return { doc, lease };
    }
    return undefined;
  }

  async abandonActivity(taskId: string, leaseToken: string): Promise<void> {
    const released = await this.#op(`releasing the lease on activity task ${JSON.stringify(taskId)}`, async () =>
      // A missing token holds nothing: sent, the driver would make it null, the token of a free task.
      isLeaseToken(leaseToken) && (await this.#tasks.updateOne({ _id: taskId, leaseToken }, { $set: FREE_LEASE })).modifiedCount > 0);
    if (released) this.#localWork.next();
  }

  async releaseOwner(owner: string, current?: string): Promise<number> {
    validateLeaseOwner(owner, current);
    // The query finds the candidates (leases whose owner starts with `owner`); isHeldBy decides which are released.
    const released = (doc: { readonly leaseOwner: string | null }) => doc.leaseOwner !== null && isHeldBy({ owner: doc.leaseOwner }, owner, current);
    const projection = { _id: 1, leaseOwner: 1, leaseToken: 1, nextMessageAt: 1 } as const;
    // One transaction for the instances' and the tasks' leases: one operation, as the port says, that close() waits
    // for as a whole (two operations in parallel left the second running when the first failed).
    const doing = `releasing the leases of ${JSON.stringify(owner)}`;
    const count = await this.#op(doing, async () => this.#transaction(async (session) => {
      const now = this.#clock.now();
      const instances = (await this.#instances
        .find(ownerLeasesFilter(owner), { session, hint: RELEASE_OWNER_HINTS.instances, projection, ...TRANSACTION_READ_BOUND })
        .toArray()).filter(released);
      const tasks = (await this.#tasks
        .find(ownerLeasesFilter(owner), { session, hint: RELEASE_OWNER_HINTS.activityTasks, projection, ...TRANSACTION_READ_BOUND })
        .toArray()).filter(released);
      const freedInstances = instances.length === 0 ? 0 : (await this.#instances.bulkWrite(
        instances.map((doc) => ({ updateOne: { filter: { _id: doc._id, leaseToken: doc.leaseToken }, update: { $set: releasedFields(doc.nextMessageAt, now) } } })),
        { session, ordered: true },
      )).modifiedCount;
      const freedTasks = tasks.length === 0 ? 0 : (await this.#tasks.bulkWrite(
        tasks.map((doc) => ({ updateOne: { filter: { _id: doc._id, leaseToken: doc.leaseToken }, update: { $set: FREE_LEASE } } })),
        { session, ordered: true },
      )).modifiedCount;
      return freedInstances + freedTasks;
    }, { doing, wrote: (freed) => freed > 0 }));
    if (count > 0) this.#localWork.next();
    return count;
  }

  async renewActivityLease(taskId: string, leaseToken: string, expiresAt: Date): Promise<void> {
    const renewed = await this.#op(`renewing the lease on activity task ${JSON.stringify(taskId)}`, async () =>
      // An Invalid Date would be sent as the epoch; a missing token holds nothing (sent, the driver would make it null
      // and lease a free task to nobody).
      !!validateTime(expiresAt, 'renewActivityLease expiresAt') && isLeaseToken(leaseToken) && (await this.#tasks.updateOne({ _id: taskId, leaseToken }, { $set: { leaseExpiresAt: expiresAt } })).matchedCount > 0);
    if (!renewed) {
      throw new LeaseLostError(`Lease on activity task ${JSON.stringify(taskId)} is no longer held`);
    }
  }

  // ---------------------------------------------------------------- reads

  /** `showInput: false`: the input is not read (see {@link instanceProjection}), and the state has none. */
  async getInstance(instanceId: string, options?: { readonly showInput?: boolean }): Promise<InstanceState | undefined> {
    return this.#op(`reading instance ${JSON.stringify(instanceId)}`, () => this.#readAfterKnownCommits(async (session) => {
      const doc = await this.#instances.findOne({ _id: instanceKey(instanceId) }, { session, projection: instanceProjection(options?.showInput), ...readBound() });
      return doc ? decodeInstanceState(doc.state, doc.input) : undefined;
    }));
  }

  async getHistory(instanceId: string, options?: HistoryRange): Promise<HistoryEvent[]> {
    return this.#op(`reading the history of ${JSON.stringify(instanceId)}`, () => this.#readAfterKnownCommits(async (session) => {
      const key = instanceKey(instanceId);
      const genOf = async () => (await this.#instances.findOne({ _id: key }, { session, projection: { historyGen: 1 }, ...readBound() }))?.historyGen;
      // A restart in between moves the instance to a new generation (and the old one is being swept): read again, and
      // after HISTORY_READ_ATTEMPTS such moves fail with UnavailableError rather than answer an empty history.
      // Each event is decoded as it is taken from its batch (allOf, not the cursor's map, whose failure would await the
      // cursor's killCursors inside the read), so the JSON text of one batch is held at a time,
      // not that of the whole history next to its events; the decoding counts towards the read's deadline (readBound's
      // signal, 35 s). An event that does not decode (MongoStoreError) may be in a generation a restart abandoned
      // during the read: readStableGeneration reads the generation again and reads the new one, as it would have
      // had the read succeeded; the error is thrown when the generation did not move.
      return readStableGeneration(genOf, (gen) => {
        const { filter, options: findOptions } = historyQuery(key, gen, options);
        return this.#readCursor(readBound(), (bound) => this.#history.find(filter, { ...findOptions, session, ...bound }), (docs) => allOf(docs, (d) => decodeHistoryEvent(d.event)), session);
      }, HISTORY_READ_ATTEMPTS, instanceId, (error) => error instanceof MongoStoreError);
    }));
  }

  /**
   * The instance and the history its state shows, read as of one moment: one read-only transaction with
   * `readConcern: snapshot` (`snapshotReadOptions`) reads the instance document, then the events of the generation it
   * names. Both reads see the same snapshot, so neither a commit in between (a longer history, a continue-as-new or
   * restart that moves the instance to a new generation) nor the sweep of the old generation that follows can reach
   * them: nothing to check or read again, unlike {@link MongoStore.getHistory}. The commit, `w: majority`, returns once
   * what was read is majority-committed, as every other read of the store is. Like the other reads that answer a
   * caller, it comes after every commit this process knows of (`#sessionAfterKnownCommits`).
   */
  async getInstanceHistory(
    instanceId: string, options?: HistoryRange & { readonly showInput?: boolean },
  ): Promise<{ readonly state: InstanceState | undefined; readonly history: HistoryEvent[] }> {
    const doing = `reading instance ${JSON.stringify(instanceId)} with its history`;
    return this.#op(doing, async () => {
      const key = instanceKey(instanceId);
      const read = await this.#transaction(async (session) => {
        const doc = await this.#instances.findOne({ _id: key }, { session, projection: { ...instanceProjection(options?.showInput), historyGen: 1 }, ...TRANSACTION_READ_BOUND });
        if (!doc) return undefined;
        const { filter, options: findOptions } = historyQuery(key, doc.historyGen, options);
        // Decoded batch by batch, as getHistory's; the decoding counts towards the transaction's lifetime
        // (transactionLifetimeLimitSeconds). An event that does not decode aborts the transaction (MongoStoreError).
        const events = await this.#history.find(filter, { ...findOptions, session, ...TRANSACTION_READ_BOUND }).map((d) => decodeHistoryEvent(d.event)).toArray();
        return { doc, events };
        // A read: its commit writes nothing, so an unconfirmed one is a read to make again (UnavailableError), not a
        // write that may have applied.
      }, { doing, options: this.#snapshotReadOptions, wrote: () => false, read: true });
      if (!read) return { state: undefined, history: [] };
      return { state: decodeInstanceState(read.doc.state, read.doc.input), history: read.events };
    });
  }

  async queryInstances(request: InstanceQuery): Promise<InstancePage> {
    const query = validateInstanceQuery(request); // the shared rule: unknown statuses and non-arrays are refused
    return this.#op('querying instances', () => this.#readAfterKnownCommits(async (session) => {
      const pageSize = pageSizeOf(query);
      const plan = planInstancePage(query); // the shared paging rule: after the token's key, up to its bound
      // Bounded in bytes too (QUERY_PAGE_BYTES): the page ends early, with a token, rather than hold up to
      // MAX_PAGE_SIZE documents of up to 15 MiB each.
      // With tags, pinned to `tag_page`, bounded by the most selective pair's keys.
      // Counted outside the read's session (#leadTag): the choice of keys needs no read-your-writes, the rows do.
      const lead = await this.#leadTag(plan.query.tags, readBound());
      const pageFilter = buildQueryFilter(plan.query, plan.after, plan.order, lead);
      // A page cut short by size leaves its cursor open (documentsOf: not the driver's iteration, which would await its
      // killCursors inside the call): its close is the store's (#readCursor).
      const read = await this.#readCursor(
        readBound(),
        (bound) => lead === undefined
          ? this.#instances.find(pageFilter, {
            session, sort: pageSortOf(plan.order), limit: pageSize + 1, projection: queryProjection(request.showInput), ...bound,
          })
          : this.#instances.find(pageFilter, {
            session, sort: pageSortOf(plan.order), hint: TAG_PAGE_HINT, limit: pageSize + 1, projection: queryProjection(request.showInput), ...bound,
          }),
        (docs) => readPageWithinBytes<QueriedDoc>(documentsOf(docs), pageSize, QUERY_PAGE_BYTES, queriedBytes),
        session,
      );
      const pageDocs = read.page;
      // A document that does not decode is logged and left out, not the whole page failed (see decodeStoredState).
      const page = pageDocs.flatMap((d) => this.#readable(d, 'a query page') ?? []);
      // The next page starts after the page's last indexed key, read or not (as the filter pages by).
      const next = read.next === undefined ? undefined : nextPageKey([...pageDocs, read.next], pageDocs.length);
      // A first page's bound is read after the page, in the same causally consistent session: it is at least the
      // createdTime of every instance the page could see.
      const newest = async () => {
        const doc = await this.#instances.findOne(NEWEST_CREATED.filter, {
          session, sort: NEWEST_CREATED.sort, hint: NEWEST_CREATED.hint, projection: NEWEST_CREATED.projection, ...readBound(),
        });
        return doc?.createdTime instanceof Date ? doc.createdTime.getTime() : undefined;
      };
      return {
        // The filter already selected these; the shared predicate keeps the semantics identical to every store.
        instances: page.filter((state) => matchesQuery(state, plan.query)),
        ...(next ? { continuationToken: await nextPageToken(plan, next, newest) } : {}),
      };
    }));
  }

  /**
   * `Store.listEnded`: one range of `ended` ({@link endedListingQuery}: the rule of `matchesEndedQuery`, in the order of
   * `compareEndedKeys`), read in a session that has seen this store's known commits, the states without their input.
   * A document whose state does not decode is logged and left out, and the read goes on past it, so a page shorter than
   * `limit` is still the last. So is one whose key is not its state's (`endOrderRepair`: an earlier version running
   * beside this one ended it again without writing its end time), as the caller goes on after the key of the last state
   * listed: listed under its stale, earlier time, it would make the next page skip every instance between the two. Its
   * key is set right (conditional on the state read): every one the page meets, in bulk writes as their batches fill
   * during the read (`endedPage`: one batch held at most), so a call cut short by its deadline keeps the ones it wrote;
   * a repair that fails is logged, and the instance is tried again when a listing meets it next. The page lists such an
   * instance at its state's key when that key belongs before the page's last (`withMoved`): the next page, after that
   * key, would not meet it. The whole call, its read and its repairs' writes, runs under one deadline
   * ({@link CallDeadline}: 25 s, within the runtime's 30 s `storeCallTimeoutMs`, or five sixths of the store's
   * `storeCallTimeoutMs` option: `listingDeadlineMs`), so none of them goes on once it has answered. An ended instance written before the
   * end-order fields were kept is listed once `connect` filled them in.
   */
  async listEnded(request: EndedQuery): Promise<InstanceState[]> {
    const query = validateEndedQuery(request); // refused before anything is read
    // One deadline for the whole call, its reads and its repairs' writes (25 s, within the runtime's 30 s
    // storeCallTimeoutMs; five sixths of a shorter one the store was given): each takes the server time left and the
    // call's signal, and none starts once it has passed.
    const deadline = new CallDeadline(this.#clock, this.#listingDeadlineMs);
    try {
      return await this.#op('listing ended instances', () => this.#readAfterKnownCommits(async (session) => {
        // The repairs go in a session of their own, never the cursor's while it is open: a cursor closes itself when its
        // signal aborts (killCursors in its session, and behind a load balancer the connection its session pins goes
        // back to the pool: driver 7.8 AbstractCursor's abort listener, maybeClearPinnedConnection), which a repair
        // then running in that session, on that connection, would meet.
        const writes = this.#client.startSession({ causalConsistency: true });
        try {
          // Each find limited to what the page still needs and read to its end (endedPage): the server has closed its
          // cursor, and its close sends no killCursors, which driver 7.8 sends with no signal or time limit. One it
          // still sends (a find the read failed in; a page past 16 MiB, whose last getMore may leave the cursor open
          // on MongoDB 5.0+; at the deadline, the store's own close) is the store's, waited for until the call's
          // deadline, no longer (#readCursor).
          const read: EndedRead<WithId<InstanceDoc>> = (from, limit, use) => {
            const { filter, options } = endedListingQuery(query, from, limit);
            return this.#readCursor(
              deadline.read(),
              (bound) => this.#instances.find(filter, { ...options, session, ...bound }),
              (docs) => use(upTo(() => docs.next(), limit)),
              session,
            );
          };
          const repair = (repairs: EndOrderRepair[]) => this.#repairEndOrder(writes, repairs, deadline);
          return await endedPage(read, query, (doc) => this.#readable(doc, 'an ended listing'), repair);
        } finally {
          await writes.endSession().catch(() => undefined);
        }
      }));
    } finally {
      deadline.release();
    }
  }

  /**
   * Sets right the end order of instances a listing left out (a batch of `endedPage`'s repairs, each conditional on the
   * state read), in the listing's session for its writes (`writes`), between two batches of its read: acknowledged by a
   * majority and recorded as a known commit, so the next listing of this process reads them under their end time.
   * Bounded by what is left of the listing's `deadline` (its server time, its majority wait and its signal), and not
   * sent once none is: the batches written before stay written. A failure is logged, not thrown, as the page is right
   * without it, and a listing that meets the instance again tries again.
   */
  async #repairEndOrder(writes: ClientSession, repairs: EndOrderRepair[], deadline: CallDeadline): Promise<void> {
    try {
      // Driver 7.8 honours `signal` on a bulk write (every operation's options) though BulkWriteOptions does not list it.
      const bound: BulkWriteOptions & Abortable = { session: writes, ordered: false, ...deadline.write() };
      await this.#instances.bulkWrite(repairs.map((updateOne) => ({ updateOne })), bound);
      this.#clusterClock.observeMajority(writes.operationTime);
    } catch (error) {
      this.#logger.warn(
        `MongoStore ${this.dbName}: setting right the end time of ${repairs.length} ended instance(s) a listing found under a stale one failed; a listing that meets them there again tries again`,
        error,
      );
    }
  }

  async nextWakeTime(now: Date): Promise<Date | undefined> {
    return this.#op('finding the next wake-up time', async () => {
      validateTime(now, 'nextWakeTime now');
      // Every instance's and task's `claimableAtMs` is indexed (`claimAt`; a task's lease expiry, EPOCH when free), so
      // the earliest is the first key of each index: work claimable already gives a time at or before `now`, and a
      // worker whose claim ran a moment early claims again instead of losing the wake-up.
      // Both reads settle before the operation does (close waits for it): one still running after the other failed
      // would outlive close.
      const [instance, task] = await allSettledOrThrow([
        this.#instances.findOne(INSTANCE_WAKE_FILTER, {
          sort: CLAIM_ORCHESTRATION_SORT, hint: CLAIM_ORCHESTRATION_HINT, projection: TIMED_CLAIM_PROBE_PROJECTION, ...readBound(),
        }),
        this.#tasks.findOne(TASK_WAKE_FILTER, { sort: TASK_WAKE_SORT, hint: TASK_WAKE_HINT, projection: TIMED_ACTIVITY_CLAIM_PROBE_PROJECTION, ...readBound() }),
      ]);
      const times = [instance?.claimAt, task?.leaseExpiresAt].filter((t): t is Date => t instanceof Date).map((t) => t.getTime());
      return times.length === 0 ? undefined : new Date(Math.min(...times));
    });
  }

  // ---------------------------------------------------------------- purge

  async purgeInstance(instanceId: string): Promise<number> {
    const doing = `purging instance ${JSON.stringify(instanceId)}`;
    const purged = await this.#op(doing, async () =>
      this.#transaction(async (session) => {
        // Only what the purge decides by and drops: not the input or state, which may be megabytes.
        const doc = await this.#instances.findOne(
          { _id: instanceKey(instanceId) }, { session, projection: { _id: 1, runtimeStatus: 1, historyGen: 1, executionId: 1, version: 1 }, ...TRANSACTION_READ_BOUND },
        );
        if (!doc) return 0;
        if (!isTerminalStatus(doc.runtimeStatus)) {
          throw new InstanceNotTerminalError(
            `Instance ${JSON.stringify(instanceId)} is ${doc.runtimeStatus}; only terminal instances can be purged`,
          );
        }
        await this.#drop(session, [doc]);
        return 1;
      }, { doing, wrote: (n) => n > 0 }));
    if (purged > 0) this.#sweep();
    return purged;
  }

  async purgeInstanceSet(request: readonly PurgeMember[]): Promise<PurgeSetResult> {
    const members = validatePurgeSet(request); // refused before anything is deleted
    if (members.length === 0) return { instancesDeleted: 0 };
    const doing = `purging ${members.length} instances of a tree`;
    const result = await this.#op(doing, async () =>
      this.#transaction(async (session): Promise<PurgeSetResult> => {
        // One transaction: every member read and checked by its indexed copies (the store's own rule, as purgeInstance
        // decides by the indexed status), then every one deleted, or none. Its deletes write each document read, so a
        // commit of another transaction to one of them since the read fails this one's, which runs again and reads
        // again.
        const memberKeys = members.map((m) => instanceKey(m.instanceId));
        const docs = await this.#instances.find(
          { _id: { $in: memberKeys } },
          { session, projection: { _id: 1, runtimeStatus: 1, historyGen: 1, executionId: 1, version: 1 }, ...TRANSACTION_READ_BOUND },
        ).toArray();
        const byKey = new Map(docs.map((d) => [d._id, d]));
        const changed = members.find((m) => !purgeMemberHolds(m, byKey.get(instanceKey(m.instanceId))))?.instanceId;
        if (changed !== undefined) return { instancesDeleted: 0, changed };
        await this.#drop(session, docs);
        return { instancesDeleted: docs.length };
      }, { doing, wrote: (r) => r.instancesDeleted > 0 }));
    if (result.instancesDeleted > 0) this.#sweep();
    return result;
  }

  async purgeInstances(request: PurgeFilter): Promise<number> {
    const filter = validatePurgeFilter(request); // refused before anything is deleted
    const deleted = await this.#op('purging instances', async () => {
      // Every tag pair is in the filter (the scan's and each batch's re-read): with tags, the scan is pinned to
      // `tag_page`, bounded by the most selective pair's keys.
      const lead = await this.#leadTag(filter.tags);
      const mongoFilter = purgeScanFilter(filter, lead);
      const purge = async (batch: readonly string[]) => this.#transaction(async (session) => {
        // Re-read inside the transaction: an instance restarted since the scan is no longer terminal. The filter
        // decides, on the indexed status and created time (written with the state by every update), as purgeInstance
        // decides by the indexed status: one rule, so an instance whose state does not decode is purged by either.
        // By the batch's keys, all strings: only this store's documents.
        const doomed = await this.#instances
          .find({ $and: [{ _id: { $in: [...batch] } }, mongoFilter] }, { session, projection: { _id: 1, historyGen: 1, executionId: 1, version: 1 }, ...TRANSACTION_READ_BOUND })
          .toArray();
        if (doomed.length > 0) await this.#drop(session, doomed);
        return doomed.length;
      }, { doing: 'purging instances', wrote: (n) => n > 0 });
      // The matching ids are read as they are purged, not all first: a retention purge of millions of instances
      // holds one cursor batch in memory, not every id. The scan reads index keys alone (purgeScanFilter), so it
      // returns the keys of other programs' documents too; those are not strings, never keys of this store's.
      // By name (without tags) the scan is pinned to `name_status_page`, which holds every field of the filter: the
      // candidates come from index keys alone, as by status and time on `status_page`, whichever the planner picks.
      const scan = (bound: CursorBound) => lead !== undefined
        ? this.#instances.find<{ readonly _id: unknown }>(mongoFilter, { hint: TAG_PAGE_HINT, projection: PURGE_SCAN_PROJECTION, batchSize: PURGE_SCAN_BATCH, ...bound })
        : filter.name !== undefined && filter.name.length > 0
          ? this.#instances.find<{ readonly _id: unknown }>(mongoFilter, { hint: NAME_STATUS_PAGE_HINT, projection: PURGE_SCAN_PROJECTION, batchSize: PURGE_SCAN_BATCH, ...bound })
          : this.#instances.find<{ readonly _id: unknown }>(mongoFilter, { projection: PURGE_SCAN_PROJECTION, batchSize: PURGE_SCAN_BATCH, ...bound });
      // Stops between batches once close() began: close waits for one batch, not for the rest of the scan, and the
      // scan's close (a killCursors) is the store's to end, not the purge's to wait for (#readCursor; documentsOf, not the
      // driver's iteration, which would await it inside the purge).
      return this.#readCursor(SCAN_BOUND, scan, (docs) => purgeInBatches(idsOf(documentsOf(docs)), PURGE_BATCH, purge, () => this.#closed !== undefined));
    });
    if (deleted > 0) this.#sweep();
    return deleted;
  }

  // ---------------------------------------------------------------- history sweeps

  /**
   * Resolves when this store has no history sweep running: the old generations it could take (from its restarts,
   * purges and those left when it connected) are deleted; one another process holds (a sweep's lease) is left to that
   * process, or taken up here once its lease lapsed. Sweeps run in the background after each commit that needs one;
   * this is for operations and tests, never needed for correctness (an old generation is never read).
   *
   * @example
   * ```ts
   * await store.purgeInstance(id);
   * await store.flushSweeps(); // the purged history is gone from the collection too
   * ```
   */
  async flushSweeps(): Promise<void> {
    this.#ensureOpen();
    while (this.#sweeping) await this.#sweeping;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Closes the change streams, waits for operations in flight (a running history sweep stops after its current
   * chunk, and another process or the next `connect` takes it up once its lease lapsed, within a minute; a `purgeInstances` after its current batch, rejecting with
   * `StoreClosedError` that names the count purged before), and closes the client if the store created it, waiting for
   * that 5 s at most (`CLIENT_CLOSE_WAIT_MS`; then a warning is logged and the driver's close ends by itself). The
   * feeds' closes and the `killCursors` the store holds (`#unbounded`: no signal or time limit in driver 7.8) end with
   * that client's close, which fails the commands in use first (`closeWhatRemains`); an application's client is left
   * open, and they are waited for 5 s at most as well (then a warning is logged: they write nothing, and end with that
   * client's close). Afterwards every method
   * rejects with `StoreClosedError`. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const feeds = Promise.all([this.#statusFeed.close(), this.#wakeFeed.close(), this.#watchFeed.close()]);
      for (const wake of [...this.#pauses]) wake();
      this.#localWork.complete();
      if (this.#majorityReadTimer !== undefined) this.#clock.clearTimeout(this.#majorityReadTimer);
      this.#majorityReadTimer = undefined;
      if (this.#narrowTimer !== undefined) this.#clock.clearTimeout(this.#narrowTimer);
      this.#narrowTimer = undefined;
      if (this.#sweepRecheckTimer !== undefined) this.#clock.clearTimeout(this.#sweepRecheckTimer);
      this.#sweepRecheckTimer = undefined;
      const skewChecks = this.#skew.stop();
      // Until none is left: an operation may hand work on as it ends, which joins the set after this wait began.
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      await skewChecks;
      this.#client.off('serverHeartbeatSucceeded', this.#onHeartbeat);
      // Then the feeds' closes and the killCursors the store holds (no signal or time limit in driver 7.8): a client of
      // its own is closed over them, which fails them at once, all within CLIENT_CLOSE_WAIT_MS (the driver's close can
      // wait a whole serverSelectionTimeoutMS to abort again a transaction whose end the store stopped waiting for; on
      // the system clock, as the transaction bounds: the driver runs on it); on an application's client they are
      // waited for within the same bound (a killCursors writes nothing; the application's close of its client ends it).
      const own = this.#ownsClient ? { client: this.#client, unanswered: () => this.#unanswered } : undefined;
      let outcome: 'closed' | 'late';
      try {
        outcome = await closeWhatRemains(feeds, this.#unbounded, own, systemClock);
      } catch (error) {
        throw mapDriverError(error, 'closing the client');
      }
      if (outcome === 'late' && own !== undefined) {
        this.#logger.warn(`MongoStore.close: the MongoDB client had not closed after ${CLIENT_CLOSE_WAIT_MS} ms (it aborts again a transaction left open, which waits for a server and its reply, or waits for a connection to send its endSessions on); it closes by itself: the abort within serverSelectionTimeoutMS, or once the pool's monitor gives up on a server that stopped answering, the endSessions, which awaits no reply, within connectTimeoutMS`);
      } else if (outcome === 'late') {
        this.#logger.warn(`MongoStore.close: a cursor or change stream close (killCursors) the store sent on the application's MongoDB client had not ended after ${CLIENT_CLOSE_WAIT_MS} ms (a server that holds it); it writes nothing, and ends with the client's close, or once the pool's monitor gives up on a server that stopped answering`);
      }
    })();
    return this.#closed;
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Runs work the store starts by itself (a feed's input read, a resync's re-read) so that `close` waits for it: on a
   * client the application owns, nothing of the store's is still running once `close` resolved, but for a cursor's
   * close it gave up on after 5 s (`#unbounded`, logged). After `close` began it rejects with `StoreClosedError` without starting.
   */
  #track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreClosedError('The store is closed'));
    return this.#hold(fn());
  }

  /** Runs one store operation: refuses after `close`, tracks it for `close`, and maps driver errors. */
  async #op<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    this.#ensureOpen();
    const run = this.#hold(fn());
    try {
      return await run;
    } catch (error) {
      throw mapDriverError(error, doing);
    }
  }

  /**
   * Reads a cursor `open` opens under `bound` (`use`), and closes it, all within `bound.signal`: the read rejects with
   * its reason once it aborts, mid-`getMore` too (`UnboundedCalls.within`: driver 7.8 gives a `getMore` no signal), and
   * every close of the cursor, its close at that abort included (before the driver's own, which nobody would hold:
   * `UnboundedCalls.openCursor`), is among the store's unbounded calls, waited for until the signal aborts at most, not
   * at all without one. So neither a `getMore` nor a `killCursors` a server holds keeps the operation past its bound,
   * and `close()` ends them with a client of its own or waits for them (5 s at most) on an application's. `session`:
   * the explicit session `open` gives the cursor, whose end (`#readAfterKnownCommits`) waits for what is held in it.
   */
  #readCursor<C extends Closable & { next(): Promise<unknown> }, T>(
    bound: CursorBound, open: (bound: CursorBound) => C, use: (docs: CursorDocuments<NextOf<C>>) => Promise<T>, session?: ClientSession,
  ): Promise<T> {
    return this.#unbounded.read(bound, open, use, session);
  }

  /**
   * `#readCursor` in an explicit session of its own, not causally consistent (as the implicit one the driver would
   * start), ended only after the `getMore` and `killCursors` a read gave up on still run in it (`UnboundedCalls.readInSession`:
   * driver 7.8 ends a cursor's implicit session right after its `killCursors`, while such a `getMore` still runs): for
   * the bounded reads outside a caller's session (the feeds' batched input reads, the history sweep's chunks).
   */
  #readInOwnSession<C extends Closable & { next(): Promise<unknown> }, T>(
    bound: CursorBound, open: (bound: CursorBound, session: ClientSession) => C, use: (docs: CursorDocuments<NextOf<C>>) => Promise<T>,
  ): Promise<T> {
    return this.#unbounded.readInSession(this.#ownSession.start, this.#ownSession.end, bound, open, use);
  }

  /** Keeps `run` among what `close` waits for (`#inFlight`) until it settles; returns it. */
  #hold<T>(run: Promise<T>): Promise<T> {
    this.#inFlight.add(run);
    void run.then(() => this.#inFlight.delete(run), () => this.#inFlight.delete(run));
    return run;
  }

  /** Reads the deployment's majority commit point (`majorityProbe` on the instances collection) into the cluster clock. */
  async #readMajorityTime(): Promise<void> {
    const reply = await this.#op('reading the majority commit point', () =>
      this.#db.command(majorityProbe(this.collections.instances), { signal: AbortSignal.timeout(MAJORITY_READ_TIMEOUT_MS) }));
    this.#clusterClock.observeMajority(majorityReadTimeOf(reply));
  }

  /**
   * Reads the majority commit point again in `intervalMs`, then every `intervalMs` after the previous read ended, until
   * `close`. A failed read is logged; streams opening meanwhile start at the last time known (more changes delivered
   * again, none missed).
   */
  #scheduleMajorityRead(intervalMs: number): void {
    if (this.#closed) return;
    this.#majorityReadTimer = this.#clock.setTimeout(() => {
      this.#majorityReadTimer = undefined;
      this.#readMajorityTime().then(
        () => this.#scheduleMajorityRead(intervalMs),
        (error: unknown) => {
          if (this.#closed) return;
          this.#logger.warn(
            `MongoStore ${this.dbName}: reading the majority commit point failed; change streams opening now start at the last one known; retrying in ${intervalMs} ms`,
            error,
          );
          this.#scheduleMajorityRead(intervalMs);
        },
      );
    }, intervalMs);
    // Like a lingering feed, this timer never keeps the process alive by itself.
    (this.#majorityReadTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Names the watched instances in the per-instance stream's `$match` again once `WatchScope` allows a reopen for
   * them (its bucket is full): ends the scope that churn made wide, then reopens the stream where it is when
   * `#narrowIfDue` says so. Not armed again while the watched instances are past `maxWatchedInstances`: the watch that
   * ends and brings them back within it asks `#narrowIfDue` itself.
   */
  #narrowLater(nowMs: number): void {
    if (this.#narrowTimer !== undefined || this.#closed) return;
    this.#narrowTimer = this.#clock.setTimeout(() => {
      this.#narrowTimer = undefined;
      if (this.#closed) return;
      this.#watchScope.narrow();
      this.#narrowIfDue(this.#clock.now().getTime());
    }, this.#watchScope.narrowAt(nowMs) - nowMs);
    // Like a lingering feed, this timer never keeps the process alive by itself.
    (this.#narrowTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Reopens the per-instance stream where it is, naming the watched instances, when it names none though they fit
   * (`WatchScope.narrowing`): at once when the reopen budget allows, else on the narrowing timer. Once per tick: the
   * reopen (`ChangeFeed.refresh`, a microtask) sets the new `$match`, and the watches that end before it would
   * otherwise each spend a token on it.
   */
  #narrowIfDue(nowMs: number): void {
    if (this.#closed || this.#narrowQueued || !this.#watchFeed.isActive) return;
    const keys = new Set(this.#watchers.ids().map(instanceKey));
    const decision = this.#watchScope.narrowing(this.#watchFilter, keys, this.#maxWatched, nowMs);
    if (decision === 'later') this.#narrowLater(nowMs);
    if (decision !== 'reopen') return;
    this.#narrowQueued = true;
    this.#watchFeed.refresh();
    // Queued after the refresh's own microtask, which rebuilds the pipeline (and #watchFilter) first.
    queueMicrotask(() => {
      this.#narrowQueued = false;
    });
  }

  #ensureOpen(): void {
    if (this.#closed) throw new StoreClosedError('The store is closed', { beforeCall: true });
  }

  /**
   * Runs the reads of one call that answers a caller (`getInstance`, `getHistory`, `queryInstances`) in one session
   * from `#sessionAfterKnownCommits`, and ends the session when they are done (a session must not
   * carry operations in parallel, so each call has its own).
   */
  async #readAfterKnownCommits<T>(read: (session: ClientSession) => Promise<T>): Promise<T> {
    const session = this.#sessionAfterKnownCommits();
    try {
      return await read(session);
    } finally {
      // Not while a getMore or killCursors a read gave up on at its signal still runs in it (#readCursor): after them.
      await this.#unbounded.endAfter(session, () => session.endSession());
    }
  }

  /**
   * A causally consistent session whose reads come after every commit this process knows of: its operation time is
   * advanced to the latest majority-committed time the cluster clock holds (this process's own commits, which
   * `#transaction` records before they resolve, the deployment's heartbeats or majority reads, and the clusterTime of
   * each change its streams deliver, taken before the change is emitted), so the driver sends
   * each read with `readConcern: { level: 'majority', afterClusterTime }` and the server answers only once its majority
   * snapshot has reached that time. MongoDB guarantees read-your-writes only within causally consistent sessions
   * (majority reads after majority writes, "Causal Consistency and Read and Write Concerns"); a plain majority read
   * right after a commit can miss it on a new primary whose majority snapshot still lags, or through another `mongos`.
   * On a healthy primary the time is already majority-committed there, so nothing waits. Costs no round trip: the
   * driver takes the server session from its pool and puts it back when the session ends. The wait is bounded by the
   * read's own `maxTimeMS`.
   */
  #sessionAfterKnownCommits(): ClientSession {
    const session = this.#client.startSession({ causalConsistency: true });
    const after = this.#clusterClock.readsAfter;
    if (after !== undefined) session.advanceOperationTime(after);
    return session;
  }

  /**
   * Runs `fn` in a transaction, as its caller states it (`TransactionUse`): with the store's transaction options or
   * the given ones (`snapshotReadOptions`: several documents read as of one moment), and, once committed, the commit's
   * operation time taken for a majority-committed time only when the transaction wrote (`wrote`).
   *
   * The store runs the loop itself (start, `fn`, commit), not the driver's `withTransaction`, whose retries of a commit
   * with an unknown outcome run for 120 s with no back-off: `transactionRetryStep` decides each retry, within
   * `TRANSACTION_RETRY_MS` (20 s) of the first attempt and never once `close` began. An error of `fn` is thrown as it is
   * (nothing was committed), unless it aborted the transaction (`TransientTransactionError`) and no attempt may start
   * any more: then `StoreUnreachableError` (nothing written). An error of the commit is mapped by what the transaction
   * did (`mapCommitFailure`): a commit whose outcome is still open is `CommitOutcomeUnknownError` only when the
   * transaction wrote, and an unreachable server during the commit's retry is such an outcome too (driver 7.8 does not
   * label it so). So a call ends before the runtime's default `storeCallTimeoutMs` (30 s) abandons it, but for an
   * attempt or commit already started.
   */
  async #transaction<T>(fn: (session: ClientSession) => Promise<T>, use: TransactionUse<T>): Promise<T> {
    const options = use.options ?? this.#transactionOptions;
    // A read (getInstanceHistory) answers a caller: it comes after every commit this process knows of.
    const session = use.read ? this.#sessionAfterKnownCommits() : this.#client.startSession();
    const startedMs = performance.now();
    const retryAfter = (error: unknown, attempt: number, commits: number) => transactionRetryStep({
      error, attempt, commits, elapsedMs: performance.now() - startedMs, random: Math.random(), closing: this.#closed !== undefined,
    });
    // Waits out a retry's back-off. `close` ends the wait early: then nothing starts, and the step is decided again
    // (closing: the unknown outcome or the aborted transaction is reported) instead of retrying at once.
    const backOff = async (step: TransactionRetryStep & { readonly delayMs: number }, error: unknown, attempt: number, commits: number) => {
      await this.#pause(step.delayMs, systemClock);
      return this.#closed === undefined ? step : retryAfter(error, attempt, commits);
    };
    // An abort or a commit the store stopped waiting for (transactionEndWaitMs): the session ends once it settles.
    let unanswered: Promise<void> | undefined;
    const endWithin = async <R>(end: Promise<R>): Promise<WaitOutcome<R> & { readonly waitedMs: number }> => {
      const waitedMs = transactionEndWaitMs(performance.now() - startedMs);
      const outcome = await waitAtMost(end, waitedMs, systemClock);
      if (outcome.kind === 'late') unanswered = end.then(() => undefined, () => undefined);
      return { ...outcome, waitedMs };
    };
    try {
      for (let attempt = 1; ; attempt++) {
        session.startTransaction(options);
        let result: T;
        try {
          result = await fn(session);
        } catch (error) {
          if (session.inTransaction()) await endWithin(session.abortTransaction().catch(() => undefined));
          let step = retryAfter(error, attempt, 0);
          // An abort still under way leaves the bound spent, so no new attempt fits (nor could one start on the session).
          if (unanswered !== undefined && step.kind === 'retry-transaction') step = { kind: 'ran-out' };
          if (step.kind === 'retry-transaction') step = await backOff(step, error, attempt, 0);
          if (step.kind === 'retry-transaction') continue;
          if (step.kind === 'ran-out') throw transactionRanOut(use.doing, error);
          throw error;
        }
        const work = use.read ? 'read' : (use.wrote?.(result) ?? true) ? 'wrote' : 'wrote-nothing';
        let retried = false;
        for (let commit = 1; ; commit++) {
          let sent: { readonly kind: 'settled' | 'late'; readonly waitedMs: number };
          try {
            sent = await endWithin(session.commitTransaction());
          } catch (error) {
            let step = retryAfter(error, attempt, commit);
            if (step.kind === 'retry-commit' || step.kind === 'retry-transaction') step = await backOff(step, error, attempt, commit);
            if (step.kind === 'retry-commit') continue;
            if (step.kind === 'retry-transaction') {
              retried = true;
              break;
            }
            if (step.kind === 'ran-out') throw transactionRanOut(use.doing, error);
            throw mapCommitFailure(error, use.doing, work);
          }
          // No answer within the bound (no primary selected for it, or for its resend inside the call): it may apply yet.
          if (sent.kind === 'late') throw mapCommitFailure(unansweredCommit(sent.waitedMs), use.doing, work);
          break;
        }
        if (retried) continue;
        // Committed: with a majority write concern the operation time of a commit that wrote is majority-committed, so
        // change streams may open there (see ClusterClock). A commit that wrote nothing is no such time (MongoDB
        // documents no such meaning for the time it replies with), and a failed or unconfirmed one tells nothing.
        if (work === 'wrote' && isMajorityWriteConcern(options.writeConcern)) this.#clusterClock.observeMajority(session.operationTime);
        return result;
      }
    } finally {
      // Never while an abort or commit is still under way on the session: after it, owned by the store (`#unanswered`).
      const ending = (unanswered ?? Promise.resolve()).then(() => session.endSession()).catch(() => undefined);
      if (unanswered === undefined) await ending;
      else this.#keepUnanswered(ending);
    }
  }

  /**
   * Keeps the end of a transaction whose abort or commit the store stopped waiting for (`transactionEndWaitMs`) until
   * it settles. `close` waits for these only once it has closed a client of its own, which fails them (the driver's
   * `close` fails the commands on its connections, and then a server selection still waiting); on a client the
   * application owns they end by themselves, within its `serverSelectionTimeoutMS`.
   */
  #keepUnanswered(ending: Promise<void>): void {
    this.#unanswered.add(ending);
    void ending.then(() => this.#unanswered.delete(ending));
  }

  /**
   * The first operations of a write set's transaction: checks an activity lease, then takes every instance document
   * the write set needs (`$inc rev`: a write, so a concurrent transaction on the same document conflicts at once
   * instead of after all the work), the orchestration lease's instance first and only while it holds the lease.
   * A write set of no request only reads them (`takesInstances`). Returns what was stored, by instance id.
   */
  async #take(session: ClientSession, writeSet: WriteSet): Promise<Map<string, { row: TakenInstanceDoc; state: InstanceState } | undefined>> {
    // The lease's shape (and a missing token, which would be sent as null, a free lease's) was checked by commit.
    const lease = writeSet.lease;
    if (lease?.kind === 'activity') {
      const task = await this.#tasks.findOne({ _id: lease.taskId, leaseToken: lease.token }, { session, projection: { _id: 1 }, ...TRANSACTION_READ_BOUND });
      if (!task) throw leaseLostError(lease);
    }
    // The instance whose lease the commit releases: its own (orchestration), or one an unclaimed write takes over.
    const leased = releasedInstanceOf(lease);
    const ids = instanceIdsOf(writeSet).sort((a, b) => Number(b === leased) - Number(a === leased));
    // Each document as taken (its lease fields too: an unclaimed write's check reads them), without its input, which
    // only a new execution's state writes (TAKEN_INSTANCE_PROJECTION): the plan's states of the same execution carry it.
    const rows = new Map<string, { row: TakenInstanceDoc; state: InstanceState } | undefined>();
    for (const id of ids) {
      const filter: Filter<InstanceDoc> = lease?.kind === 'orchestration' && id === leased
        ? { _id: instanceKey(id), leaseToken: lease.token }
        : { _id: instanceKey(id) };
      const doc: TakenInstanceDoc | null = takesInstances(writeSet)
        ? await this.#instances.findOneAndUpdate(filter, { $inc: { rev: 1 } }, { session, returnDocument: 'after', projection: TAKEN_INSTANCE_PROJECTION })
        : await this.#instances.findOne(filter, { session, projection: TAKEN_INSTANCE_PROJECTION, ...TRANSACTION_READ_BOUND });
      if (!doc && lease?.kind === 'orchestration' && id === leased) throw leaseLostError(lease);
      // A document written before the input had a field of its own keeps it inside `state`, and decodes with it.
      rows.set(id, doc ? { row: doc, state: decodeInstanceState(doc.state) } : undefined);
    }
    if (lease?.kind === 'unclaimed') await this.#checkUnclaimed(session, lease, rows.get(lease.instanceId));
    return rows;
  }

  /**
   * The check of an unclaimed write (`unclaimedWriteRefusal`, store-kit's `unclaimedRefusal`): the instance as `#take` took
   * it (its lease fields; `$inc rev` already written, so a claim or a message insert for it conflicts with this
   * transaction from here on, and the messages read below are those of the same snapshot; a write set of no request
   * only read it, and answers as of that snapshot, or conflicts when it clears an expired lease) and its messages
   * visible at the writer's time, in arrival order, up to the first one that decides, at most `UNCLAIMED_SCAN_LIMIT` (a
   * longer queue or a read past `UNCLAIMED_READ_MAX_MS` refuses the write). Throws `LeaseLostError` when
   * it does not hold; nothing has been written that the transaction's abort does not undo.
   */
  async #checkUnclaimed(session: ClientSession, lease: UnclaimedLease, taken: { row: TakenInstanceDoc; state: InstanceState } | undefined): Promise<void> {
    // One snapshot (the transaction's), so the two reads see one set of messages and need no seq bound.
    // At most UNCLAIMED_SCAN_LIMIT + 1 messages, in one batch, within UNCLAIMED_READ_MAX_MS: a longer queue, or a read
    // that ran out of time, refuses the write (the client sends the command as a message) rather than keep the instance
    // locked in this transaction for as long as a backlog takes to read.
    const query = visibleMessagesQuery(instanceKey(lease.instanceId), lease.now, UNCLAIMED_MESSAGES_READ);
    // Read only if the instance alone lets the write through, and closed however the check ends (its answer, an error).
    const visible = this.#visibleMessages({ atOnce: session, due: session }, query, { maxTimeMS: UNCLAIMED_READ_MAX_MS }, UNCLAIMED_MESSAGES_READ.limit);
    // Taking over a lease is judged on the client's clock: refused past the skew a claim is refused at, so that the
    // command goes to a worker as a message instead (the visible messages, read lazily, are then never read).
    if (this.#refuseClaimsOnSkew && takeoverSkewProblem(this.#skew.latest, taken !== undefined && storedLeaseOf(taken.row) !== undefined) !== undefined) {
      await visible.return(undefined);
      throw leaseLostError(lease);
    }
    let refusal: LeaseLostError | undefined;
    try {
      refusal = await unclaimedWriteRefusal(lease, taken && { doc: taken.row, state: taken.state }, visible, {
        // The messages the claim holding the instance handed out, read in this transaction's snapshot as that claim read them.
        claimed: (read, upToSeq) => this.#visibleMessages(
          { atOnce: session, due: session }, claimedMessagesQuery(instanceKey(lease.instanceId), read, upToSeq), { maxTimeMS: UNCLAIMED_READ_MAX_MS }, read.limit,
        ),
      });
    } catch (error) {
      if (classifyDriverError(error) === 'timed-out') throw leaseLostError(lease);
      throw error;
    }
    if (refusal) throw refusal;
  }

  /**
   * Runs the operations of a translated write plan, in order, in the transaction. Returns the queue head it wrote for
   * the instance whose lease the plan releases (`commitSignalsWork`), if it wrote one.
   */
  async #apply(session: ClientSession, writes: readonly MongoWrite[], now: Date): Promise<QueueHead | undefined> {
    let releasedHead: QueueHead | undefined;
    for (const w of writes) {
      switch (w.op) {
        case 'deleteQueue':
          await this.#messages.deleteMany({ instanceId: w.instanceKey }, { session });
          await this.#tasks.deleteMany({ instanceId: w.instanceKey }, { session });
          break;
        case 'scheduleSweep':
          await this.#sweeps.insertOne(w.doc, { session });
          break;
        case 'insertHistory':
          await this.#history.insertMany([...w.docs], { session });
          break;
        case 'deleteMessages':
          await this.#messages.deleteMany(consumedMessagesFilter(w.instanceKey, w.messageIds), { session });
          break;
        case 'deleteTasks':
          await this.#tasks.deleteMany({ _id: { $in: [...w.taskIds] } }, { session });
          break;
        case 'insertTasks':
          await this.#tasks.insertMany([...w.docs], { session });
          break;
        case 'insertMessages':
          await this.#messages.insertMany([...w.docs], { session });
          break;
        case 'setQueue':
          await this.#instances.updateOne({ _id: w.instanceKey }, { $set: { ...w.fields } }, { session });
          break;
        case 'insertInstance':
          await this.#instances.insertOne(w.doc, { session });
          await this.#instances.updateOne({ _id: w.doc._id }, STAMP_UPDATED_AT, { session });
          break;
        case 'replaceInstance':
          await this.#instances.replaceOne({ _id: w.doc._id }, w.doc, { session });
          await this.#instances.updateOne({ _id: w.doc._id }, STAMP_UPDATED_AT, { session });
          break;
        case 'updateInstance': {
          const head = w.queue.kind === 'set' ? w.queue.head : await this.#queueHead(session, w.instanceKey, w.queue.messageSeq);
          await this.#instances.updateOne({ _id: w.instanceKey }, instanceUpdate(instanceUpdateFields(w, head, now)), { session });
          if (w.release) releasedHead = head;
          break;
        }
        default:
          return assertNever(w, 'mongo write');
      }
    }
    return releasedHead;
  }

  /**
   * An instance's visible messages in arrival order (`visibleMessagesQuery`), at most `limit`, read as they are asked
   * for (nothing is sent until the first one is): the messages visible at once, and the due timers a page at a time
   * (`seqPages`: a page of their `seq`s from the index keys alone, then those documents; the next page only when more
   * is asked for), merged by `seq` (`mergeBySeq`, which closes both cursors however its consumer ends). In a
   * transaction both run in its session (which stays pinned to its connection until the transaction ends); outside one
   * (a claim) each in a session of its own, since closing a cursor unpins its session's connection behind a load
   * balancer while the other cursor may still need it.
   */
  #visibleMessages(
    sessions: { readonly atOnce: ClientSession; readonly due: ClientSession }, query: VisibleMessagesQuery,
    bound: CursorBound, limit?: number,
  ): AsyncGenerator<Pick<MessageDoc, 'message' | 'seq'>, void, undefined> {
    const { atOnce, due: session } = sessions;
    const messages = this.#messages;
    // A claim's reads (a signal: claimReadBound) are read as the store's other bounded reads (#readCursor): each
    // `next()` ends at the signal, mid-getMore too, and a cursor's close (the merge's end, a claim stopped by its byte
    // budget, the signal) is held, waited for until the signal at most, its session ended after it. In a transaction (no
    // signal: an abort would close its connection) the cursors are read and closed in it as before, one command at a
    // time: a killCursors held past the read would run beside the transaction's next command or its commit.
    const claim = bound.signal !== undefined;
    const documents = <D>(inSession: ClientSession, open: (bound: CursorBound) => FindCursor<D>): AsyncIterable<D> =>
      claim ? this.#unbounded.documents(bound, open, inSession) : open(bound);
    const dueTimers = seqPages(
      query.duePage,
      async (afterSeq) => {
        const page = query.dueSeqs(afterSeq);
        const open = (given: CursorBound) => messages.find(page.filter, { ...page.options, session, ...given });
        return (claim ? await this.#readCursor(bound, open, (docs) => allOf(docs), session) : await open(bound).toArray()).map((doc) => doc.seq);
      },
      (seqs) => {
        const docs = query.dueDocs(seqs);
        return documents(session, (given) => messages.find(docs.filter, { ...docs.options, session, ...given }));
      },
    );
    return mergeBySeq(documents(atOnce, (given) => messages.find(query.atOnce.filter, { ...query.atOnce.options, session: atOnce, ...given })), dueTimers, limit);
  }

  /** The queue head of an instance from its remaining messages (inside the transaction that changed them). */
  async #queueHead(session: ClientSession, key: string, messageSeq: number): Promise<QueueHead> {
    const heads = queueHeadQueries(key);
    const due = await this.#messages.findOne(heads.due.filter, { session, sort: heads.due.sort, hint: heads.due.hint, projection: heads.due.projection, ...TRANSACTION_READ_BOUND });
    const ready = await this.#messages.findOne(heads.readyAt.filter, {
      session, sort: heads.readyAt.sort, hint: heads.readyAt.hint, projection: heads.readyAt.projection, ...TRANSACTION_READ_BOUND,
    });
    return { messageSeq, nextMessageAt: due?.due ?? NEVER, readyAt: ready?.readyAt ?? NEVER };
  }

  /**
   * Releases an orchestration lease without a commit (waking every worker, `handoff`, when a message is visible now);
   * true when it was still held.
   * A transaction: `claimAt` is computed from the queue head it reads, which a message sent meanwhile would change
   * (that write conflicts, and the transaction retries).
   */
  async #release(key: string, leaseToken: string): Promise<boolean> {
    return this.#transaction(async (session) => {
      const doc = await this.#instances.findOne({ _id: key, leaseToken }, { session, projection: { nextMessageAt: 1 }, ...TRANSACTION_READ_BOUND });
      if (!doc) return false;
      await this.#instances.updateOne({ _id: key, leaseToken }, { $set: releasedFields(doc.nextMessageAt, this.#clock.now()) }, { session });
      return true;
    }, { doing: `releasing the lease on ${JSON.stringify(instanceIdOfKey(key))}`, wrote: (released) => released });
  }

  /**
   * Gives instances written before `name` was kept (by an earlier version, also one still running beside this one in a
   * rolling upgrade) their `name`, read off their state: one pass over them on `name_page`. A state that does not
   * decode is left alone (every read of it logs it): it is listed by no name filter. Once done, one index probe that
   * finds nothing.
   */
  #fillName(): Promise<void> {
    return this.#fillIn('name', () => this.#instances.find(MISSING_NAME_FILTER, { hint: MISSING_NAME_HINT, projection: { _id: 1, state: 1 }, ...SCAN_BOUND }), (doc) => {
      const state = decodeStoredState(doc as { _id: string; state: string }, () => undefined);
      // Conditional on the state read: a commit meanwhile (which may be an earlier version's, writing no name) wins.
      return state && { filter: sameStateFilter(doc), update: { $set: { name: state.name } } };
    });
  }

  /**
   * Gives instances written before `tagKeys` was kept their `tagKeys` (`['{}']` without tags), read off their state, as
   * {@link MongoStore.#fillName} does `name`, on `tag_page`. A state that does not decode is left alone (listed by no
   * tag filter).
   */
  #fillTagKeys(): Promise<void> {
    return this.#fillIn('tagKeys', () => this.#instances.find(MISSING_TAG_KEYS_FILTER, { hint: TAG_PAGE_HINT, projection: { _id: 1, state: 1 }, ...SCAN_BOUND }), (doc) => {
      const state = decodeStoredState(doc as { _id: string; state: string }, () => undefined);
      return state && { filter: sameStateFilter(doc), update: { $set: { tagKeys: tagKeysOf(state) } } };
    });
  }

  /**
   * Gives the ended instances without an end time (`MISSING_END_ORDER_FILTER`: written before `lastUpdatedTime` and
   * `idOrder` were kept, or ended since by a process of such a version) those fields (`endOrderRepair` of their
   * state), as {@link MongoStore.#fillName} does `name`, on `ended`: `listEnded` lists an instance once it has them.
   * Each update is conditional on the state read (`sameStateFilter`), so a commit meanwhile, which may restart the
   * instance and end it later, is never given the earlier end time. A state that does not decode is left alone (no
   * listing reads it).
   */
  #fillEndOrder(): Promise<void> {
    return this.#fillIn('lastUpdatedTime', () => this.#instances.find(MISSING_END_ORDER_FILTER, { hint: ENDED_HINT, projection: { _id: 1, state: 1 }, ...SCAN_BOUND }), (doc) => {
      const state = decodeStoredState(doc as { _id: string; state: string }, () => undefined);
      return state && endOrderRepair(doc, state);
    });
  }

  /**
   * The pair of a tag filter whose `tag_page` keys bound its scan: the one with the fewest instances
   * (`selectiveTagPair`), each counted on `tag_page` up to {@link TAG_COUNT_LIMIT}, within `bound`; `undefined`
   * without tags. The counts run at once, each in a session of its own (the driver's implicit one), never in the
   * caller's: a session carries one operation at a time (its causal operation time is advanced by each reply), and
   * the counts only choose which keys the read scans; any pair gives the same rows, since the read checks every pair.
   */
  #leadTag(tags: InstanceTags | undefined, bound: { readonly maxTimeMS: number; readonly signal?: AbortSignal } = SCAN_BOUND): Promise<readonly [string, string] | undefined> {
    return selectiveTagPair(tags, (pair) => this.#instances.countDocuments(tagCountFilter(pair), { ...bound, hint: TAG_PAGE_HINT, limit: TAG_COUNT_LIMIT }));
  }

  /**
   * Gives instances written before `claimAt` existed their `claimAt` (`claimAtOf` their lease and queue head), each
   * update conditional on the fields it was computed from. A document without those fields was not written by
   * MongoStore and is left alone. Once done, one index probe that finds nothing.
   */
  #fillClaimAt(): Promise<void> {
    const missing = () => this.#instances.find(MISSING_CLAIM_AT_FILTER, {
      hint: CLAIM_ORCHESTRATION_HINT, projection: { _id: 1, leaseExpiresAt: 1, nextMessageAt: 1 }, ...SCAN_BOUND,
    });
    return this.#fillIn('claimAt', missing, (doc) => {
      const { leaseExpiresAt, nextMessageAt } = doc as Partial<InstanceDoc>;
      if (!(leaseExpiresAt instanceof Date) || !(nextMessageAt instanceof Date)) return undefined;
      return { filter: { _id: doc._id, leaseExpiresAt, nextMessageAt }, update: { $set: { claimAt: claimAtOf(leaseExpiresAt, nextMessageAt) } } };
    });
  }

  /**
   * One connect-time pass that gives the instances missing `field` (the cursor `missing` opens, each caller's query on
   * its own index) the value `update` computes from the projected document: updated in unordered batches of at most
   * 500 updates and at most 16 MiB of the states they carry (`fillInBatches`), each update conditional (its filter) so
   * that a commit meanwhile wins; a document `update` skips is left as it is.
   */
  async #fillIn(
    field: string, missing: () => FindCursor<WithId<InstanceDoc>>,
    update: (doc: WithId<InstanceDoc>) => { filter: Filter<InstanceDoc>; update: UpdateFilter<InstanceDoc> } | undefined,
  ): Promise<void> {
    const write = (doc: WithId<InstanceDoc>): AnyBulkWriteOperation<InstanceDoc> | undefined => {
      const updateOne = update(doc);
      return updateOne && { updateOne };
    };
    // A fill-in cut short (a failed write) leaves its cursor open (documentsOf: the driver's iteration would close it and
    // await that): its close is the store's, not connect's to wait for.
    await this.#op(`filling in ${field}`, () => this.#readCursor(SCAN_BOUND, missing, (docs) =>
      fillInBatches(documentsOf(docs), write, (doc) => doc.state, (batch) => this.#instances.bulkWrite(batch, { ordered: false }))));
  }

  /**
   * Deletes instances with their pending messages and tasks, schedules their histories for the sweeper, and records
   * the purges (for a `changes$` resync after a lost position). Each instance is first marked with the snapshot it
   * deletes (`purgeMarkOf`, one `$set` each in one round trip): the status feeds give that mark to the delete's change
   * (`StatusChange.purged`), which a delete event alone cannot carry.
   */
  async #drop(session: ClientSession, docs: readonly Pick<InstanceDoc, '_id' | 'historyGen' | 'executionId' | 'version'>[]): Promise<void> {
    const keys = docs.map((d) => d._id);
    const marks: AnyBulkWriteOperation<InstanceDoc>[] = docs.flatMap((doc) => {
      const purged = purgeMarkOf(doc);
      return purged ? [{ updateOne: { filter: { _id: doc._id }, update: { $set: { purged } } } }] : [];
    });
    if (marks.length > 0) await this.#instances.bulkWrite(marks, { session, ordered: true });
    await this.#instances.deleteMany({ _id: { $in: keys } }, { session });
    await this.#messages.deleteMany({ instanceId: { $in: keys } }, { session });
    await this.#tasks.deleteMany({ instanceId: { $in: keys } }, { session });
    await this.#sweeps.insertMany(docs.map((d) => ({ _id: new ObjectId(), instanceId: d._id, gen: d.historyGen })), { session });
    const records = purgeDocs(keys, this.#clock.now());
    await this.#purges.insertMany(records, { session });
    await this.#purges.updateMany({ _id: { $in: records.map((record) => record._id) } }, STAMP_PURGED_AT, { session });
    await this.#raiseKeys.deleteMany({ _id: { $in: keys } }, { session });
  }

  /**
   * The raise-key records of `ids` (store-kit's `raiseKeyIdsOf`: those a keyed raise or signal-with-start goes to),
   * read in the commit's transaction after `#take` took their instances: a raise racing this one with the same key
   * conflicts on the instance document, and one of the two runs again and reads the other's record. No read for any
   * other write set.
   */
  async #readRaiseKeys(session: ClientSession, ids: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>> {
    if (ids.length === 0) return NO_RAISE_KEYS;
    const docs = await this.#raiseKeys.find({ _id: { $in: ids.map(instanceKey) } }, { session, ...TRANSACTION_READ_BOUND }).toArray();
    const byKey = new Map(docs.map((doc) => [doc._id, doc.keys]));
    const found = new Map<string, readonly string[]>();
    for (const id of ids) {
      const keys = byKey.get(instanceKey(id));
      if (keys !== undefined) found.set(id, keys);
    }
    return found;
  }

  /** Writes the raise-key records of a plan (`WritePlan.raiseKeys`), each replacing the stored one, in the commit's transaction. */
  async #writeRaiseKeys(session: ClientSession, records: WritePlan['raiseKeys']): Promise<void> {
    for (const { instanceId, keys } of records) {
      // An upsert takes its _id from the filter.
      await this.#raiseKeys.replaceOne({ _id: instanceKey(instanceId) }, { keys: [...keys] }, { session, upsert: true });
    }
  }

  /**
   * Deletes the history generations scheduled by commits and purges, in chunks of {@link SWEEP_CHUNK}, outside any
   * transaction. Each sweep names one generation, so a late sweep can never touch a newer execution's events. Runs
   * in the background (one pass at a time per store). Each sweep is first leased to this process (`sweepClaim`, a
   * `findOneAndUpdate`, renewed after every chunk), so one process works a sweep at a time, not every process every
   * sweep. When the only sweeps left are held by other processes, a timer looks again once the earliest of their
   * leases has lapsed (`sweepRecheckDelay`): the sweep of a process that stopped is finished by another within about a
   * lease. A pass that fails (the server unreachable, a read out of time) is logged and run again on the same timer
   * after a back-off (`sweepRetryDelay`: 1 s doubling to a minute), until one gets through or `close`. An interrupted
   * sweep is also taken up at the next restart, purge or `connect` once its lease lapsed.
   */
  #sweep(): void {
    if (this.#closed) return;
    if (this.#sweeping) {
      this.#sweepAgain = true;
      return;
    }
    if (this.#sweepRecheckTimer !== undefined) this.#clock.clearTimeout(this.#sweepRecheckTimer);
    this.#sweepRecheckTimer = undefined;
    this.#sweeping = this.#hold((async () => {
      do {
        this.#sweepAgain = false;
        for (;;) {
          if (this.#closed) return;
          const token = nextLeaseToken();
          const claim = sweepClaim(this.#clock.now(), token);
          const sweep = await this.#sweeps.findOneAndUpdate(claim.filter, claim.update, claim.options);
          if (!sweep) break;
          await this.#sweepGeneration(sweep, token);
        }
      } while (this.#sweepAgain);
      // Nothing left to take: those still pending (if any) are other processes'. Look again when the first lapses.
      const now = this.#clock.now();
      const held = heldSweepsQuery(now);
      const first = await this.#sweeps.findOne(held.filter, { sort: held.sort, projection: held.projection, ...readBound() });
      const delayMs = sweepRecheckDelay(first?.leaseExpiresAt, now);
      if (delayMs !== undefined) this.#recheckSweepsIn(delayMs);
      this.#sweepFailures = 0;
    })()
      .catch((error: unknown) => {
        if (this.#closed) return; // close stops a pass; another process or the next connect takes its sweep up
        const delayMs = sweepRetryDelay(++this.#sweepFailures);
        this.#logger.error(`MongoStore ${this.dbName}: sweeping old history failed; trying again in ${delayMs} ms (and with the next restart, purge or connect)`, error);
        this.#recheckSweepsIn(delayMs);
      })
      .finally(() => {
        this.#sweeping = undefined;
      }));
  }

  /** Runs `#sweep` again in `delayMs` (one timer; cleared by the next pass and by `close`; never keeps the process alive). */
  #recheckSweepsIn(delayMs: number): void {
    if (this.#closed || this.#sweepRecheckTimer !== undefined) return;
    this.#sweepRecheckTimer = this.#clock.setTimeout(() => {
      this.#sweepRecheckTimer = undefined;
      this.#sweep();
    }, delayMs);
    (this.#sweepRecheckTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Deletes the events of the generation `sweep` names, a chunk at a time, renewing its lease (`token`) after each;
   * stops when the lease was lost (another process took it after it lapsed: it finishes the work) or at `close`. The
   * sweep is deleted once a chunk comes back short (`sweepFinishedBy`): a generation of fewer than `SWEEP_CHUNK`
   * events costs one read, one delete of its events and one of the sweep.
   */
  async #sweepGeneration(sweep: SweepDoc, token: string): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const chunk = sweepChunkQuery(sweep, SWEEP_CHUNK);
      const ids = (await this.#readInOwnSession(readBound(), (bound, session) => this.#history.find(chunk.filter, { ...chunk.options, session, ...bound }), (docs) => allOf(docs))).map((d) => d._id);
      if (ids.length > 0) await this.#history.deleteMany({ _id: { $in: ids } });
      // Fewer than a chunk: that was the rest of the generation, which gains no events.
      if (sweepFinishedBy(ids.length, SWEEP_CHUNK)) break;
      const renewal = sweepRenewal(sweep, this.#clock.now(), token);
      if ((await this.#sweeps.updateOne(renewal.filter, renewal.update, renewal.options)).matchedCount === 0) return;
    }
    await this.#sweeps.deleteOne({ _id: sweep._id });
  }

  /** The status change of a status-feed event, reading the instance's input when the feed does not know it. */
  #readStatusEvent(event: ChangeEventLike, marks: PurgeMarks): StatusChange | undefined | Promise<StatusChange> {
    const reading = readStatusEvent(event, this.#inputs, marks);
    switch (reading.kind) {
      case 'change':
        return reading.change;
      case 'none':
        return undefined;
      case 'needs-input':
        return this.#readInput(reading.key).then((stored) => withInput(reading, stored ?? null, this.#inputs));
      default:
        return assertNever(reading, 'status event');
    }
  }

  /**
   * The input a status change needs, read until a read succeeds (`inputReadStep`: a failure that passes is read again
   * after a back-off, five reads at most). The feed delivers the events after this one only once it is delivered, so
   * the wait keeps stream order. A read that keeps failing rejects with `FeedReadError`: the change is never delivered
   * without its input (a `status$` subscriber would see it vanish and come back), the feed ends as at a persistent
   * failure instead. A back-off ends at `close`, after which the next read is refused (`StoreClosedError`, ignored by
   * the closed feed).
   */
  async #readInput(key: string): Promise<StoredInput | undefined> {
    for (let failures = 1; ; failures++) {
      try {
        return await this.#inputReads.load(key);
      } catch (error) {
        const step = inputReadStep(error, failures);
        const instance = JSON.stringify(instanceIdOfKey(key));
        switch (step.kind) {
          case 'closed':
            throw error;
          case 'fail':
            throw new FeedReadError(
              `reading the input of instance ${instance} for a status change failed (${failures} ${failures === 1 ? 'read' : 'reads'}); the change is not delivered without it`,
              { cause: error },
            );
          case 'retry':
            this.#logger.warn(
              `MongoStore ${this.dbName}: reading the input of instance ${instance} for a status change failed; reading it again in ${step.delayMs} ms (later changes wait)`,
              error,
            );
            await this.#pause(step.delayMs);
            break;
          default:
            return assertNever(step, 'input read step');
        }
      }
    }
  }

  /**
   * Resolves after `ms` on the store's clock (or on `timers`: a transaction's back-off runs on the system clock, as its
   * deadline does, whatever clock the store was given), or as soon as `close` begins.
   */
  #pause(ms: number, timers: Clock = this.#clock): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        timers.clearTimeout(timer);
        this.#pauses.delete(wake);
        resolve();
      };
      const timer = timers.setTimeout(wake, ms);
      this.#pauses.add(wake);
    });
  }

  /**
   * A status resync after a change feed lost its position (`statusResync`): the re-read runs from `since` on the
   * server's clock (this process's skew), less a margin for the writers' clocks (`resyncFrom`).
   */
  #changedSince(since: Date, instanceIds?: readonly string[]): Observable<StatusChange> {
    return defer(() => {
      const from = resyncFrom(since, this.#skew.latest);
      const projection = { _id: 1, state: 1, input: 1 } as const;
      return statusResync({
        calls: this.#unbounded,
        session: this.#ownSession,
        purges: (bound, session) => this.#purges.find(purgedSinceFilter(from), { hint: PURGES_HINT, projection: { _id: 0, instanceId: 1 }, session, ...bound }),
        changed: (bound, session) => this.#instances.find<ResyncInstanceDoc>(changedSinceFilter(from), { projection, hint: RESYNC_HINT, session, ...bound }),
        named: (keys, bound, session) => this.#instances.find<ResyncInstanceDoc>({ _id: { $in: keys } }, { projection, session, ...bound }),
        state: (doc) => this.#readable(doc, 'the re-read after a change-feed gap'),
        track: (work) => this.#track(work),
        mapError: (error) => mapDriverError(error, 're-reading instances after a change-feed gap'),
      }, instanceIds);
    });
  }
}

/**
 * What releasing an orchestration lease without a commit writes, for an instance whose earliest due message is at
 * `nextMessageAt`: the rule a commit's release follows (`leaseReleaseFields`: a `handoff` only when a message is
 * visible at `now`), and the `claimAt` of a free lease.
 */
function releasedFields(nextMessageAt: Date, now: Date) {
  return { ...leaseReleaseFields(nextMessageAt, now), claimAt: claimAtOf(FREE_LEASE.leaseExpiresAt, nextMessageAt) };
}

/**
 * Whether a write set's transaction takes the instance documents it reads (`$inc rev`, see `MongoStore.#take`), or
 * only reads them: a write set of no request writes at most the release of the lease it names (`planWriteSet`), and
 * nothing when the instance has none (`changesNothing`: a client's suspend or resume that changes nothing, an HTTP
 * retry), so it writes nothing at all, not even `rev`. What it reads is one snapshot; the release it may write
 * updates the same document, which conflicts with any change made since, as the take would.
 */
function takesInstances(writeSet: WriteSet): boolean {
  return writeSet.requests.length > 0;
}

function describeWriteSet(writeSet: WriteSet): string {
  const lease = writeSet.lease;
  if (lease?.kind === 'orchestration') return `committing a step of ${JSON.stringify(lease.instanceId)}`;
  if (lease?.kind === 'activity') return `completing activity task ${JSON.stringify(lease.taskId)}`;
  const first = writeSet.requests[0];
  if (first?.type === 'createInstance') return `creating instance ${JSON.stringify(first.state.instanceId)}`;
  if (first?.type === 'insertMessage') return `sending a message to ${JSON.stringify(first.message.instanceId)}`;
  return 'writing';
}

/**
 * Drops the indexes of an earlier layout the collection still has (`present`, from `obsoleteIndexesPresent` or
 * `retiredIndexesPresent`); another process dropping one at the same time is no error (IndexNotFound,
 * NamespaceNotFound: nothing to drop).
 */
async function dropIndexesPresent(collection: Pick<Collection, 'dropIndex'>, present: readonly string[], signal?: AbortSignal): Promise<void> {
  // The driver honours a signal on every command (`Abortable`), though `DropIndexesOptions` does not name it.
  const options: DropIndexesOptions & Abortable = { signal };
  for (const name of present) {
    try {
      await collection.dropIndex(name, options);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== 27 && code !== 26) throw error;
    }
  }
}

/** Lease tokens of this module: unique per page or process (a random prefix) and per claim (a counter). */
const nextLeaseToken = leaseTokens();

/**
 * A change stream's options: where it starts, and the store's BSON options. The latter are stated again for clarity
 * only: driver 7.8's `Collection.watch` and `Db.watch` resolve a stream's options from their handle
 * (`resolveOptions(this, options)`), so a stream already inherits the pins of the store's `Db` and its collections
 * (see `storeDb`). None of these keys reaches the `$changeStream` stage: the driver keeps every BSON option out of it.
 */
function streamOptions(point: ResumePoint | undefined): ChangeStreamOptions {
  return { ...STORE_BSON_OPTIONS, ...point };
}

/**
 * The `hello` command. `options.signal` is the deadline: driver 7.8 ignores `timeoutMS` (deprecated, "has no effect"),
 * so an `AbortSignal` is what bounds a command whose reply never comes (its reason, a `TimeoutError`, maps to
 * `StoreUnreachableError`).
 */
async function hello(client: MongoClient, options: { readonly signal: AbortSignal }): Promise<Document> {
  const admin = adminDb(client);
  try {
    return await admin.command({ hello: 1 }, options);
  } catch (error) {
    // Servers before 4.4.2 know only the legacy name (CommandNotFound).
    if ((error as { code?: unknown }).code === 59) return admin.command({ isMaster: 1 }, options);
    throw error;
  }
}

/**
 * The reply of `connectionStatus` with `showPrivileges: true` (what the authenticated user may do), or `undefined`
 * when the server does not answer it (a proxy or service without the command): then the check is skipped with a
 * warning, and a missing privilege shows as `StoreAuthenticationError` when it is first used. One command: no
 * cursor, no session left open.
 */
async function connectionStatus(client: MongoClient, signal: AbortSignal, logger: Logger): Promise<Document | undefined> {
  try {
    return await adminDb(client).command({ connectionStatus: 1, showPrivileges: true }, { signal });
  } catch (error) {
    if (classifyDriverError(error) !== 'other') throw error;
    logger.warn('MongoStore: the server did not answer connectionStatus, so the privileges were not checked at connect', error);
    return undefined;
  }
}

/** Creates a collection unless it exists (NamespaceExists), so no transaction has to create one (see `ensureIndexes`). */
async function createIfMissing(db: Db, name: string, signal?: AbortSignal): Promise<void> {
  try {
    await db.command({ create: name }, { signal });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 48) throw error;
  }
}

/**
 * `collection.createIndexes`, with a spec that conflicts with an existing index of the same name explained. `signal`
 * ends the wait for the build (the driver honours it on every command, though `CreateIndexesOptions` does not name
 * it): the server's `maxTimeMS` is no way to bound it, since driver 7.8 strips `maxTimeMS` from `createIndexes` and an
 * interrupted `createIndexes` would abort the build for every process waiting on it, while a client that stops
 * waiting leaves it running.
 */
async function createIndexesOn<T extends Document>(collection: Collection<T>, specs: readonly IndexDescription[], signal?: AbortSignal): Promise<void> {
  const options: CreateIndexesOptions & Abortable = { signal };
  try {
    await collection.createIndexes([...specs], options);
  } catch (error) {
    const problem = indexConflictProblem(collection.collectionName, error);
    if (problem !== undefined) throw new MongoStoreError(problem, { cause: error });
    throw error;
  }
}

/** What a `queryInstances` read returns of each instance (`queryProjection`). */
type QueriedDoc = Pick<InstanceDoc, '_id' | 'state' | 'createdTime'> & { readonly input?: string };

/** The stored text of a queried instance that a page holds (UTF-8 bytes of its state and input). */
function queriedBytes(doc: QueriedDoc): number {
  // Total: a document another program wrote may lack either string (it is logged and left out of the page later).
  const text = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
  return text(doc.state) + text(doc.input);
}

/** The `_id`s a cursor yields, as it yields them. */
async function* idsOf(cursor: AsyncIterable<{ readonly _id: unknown }>): AsyncGenerator<unknown> {
  for await (const doc of cursor) yield doc._id;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
