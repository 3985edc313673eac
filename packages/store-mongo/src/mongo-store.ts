import {
  InstanceAlreadyExistsError, InstanceNotFoundError, InstanceNotTerminalError, InvalidArgumentError, LeaseLostError,
  StoreClosedError, consoleLogger, decodeContinuationToken, encodeContinuationToken, isTerminalStatus, matchesPurgeFilter,
  matchesQuery, pageKeyOf, pageSizeOf, resolveSubInstance, validateInstanceQuery, validatePurgeFilter,
  type ActivityCompletion, type ActivityWorkItem, type ClaimOptions, type CreateInstanceRequest, type HistoryEvent,
  type InstancePage, type InstanceQuery, type InstanceState, type Lease, type Logger, type OrchestrationCommit,
  type OrchestrationMessage,
  type OrchestrationWorkItem, type PurgeFilter, type StatusChange, type Store, type StoreCapabilities,
} from '@durable-rx/runtime';
import {
  MongoClient, type ClientSession, type Collection, type Db, type Document, type ServerHeartbeatSucceededEvent,
  type TransactionOptions,
} from 'mongodb';
import { map, merge, Subject, type Observable } from 'rxjs';
import { statusPipeline, toStatusChange, wakePipeline, type ChangeEventLike } from './change-events.js';
import { ChangeFeed } from './change-feed.js';
import { assertReplicaSet, classifyDeployment, databaseFromUri, SINGLE_NODE_REPLICA_SET_HOWTO } from './deployment.js';
import { ReplicaSetRequiredError } from './errors/replica-set-required-error.js';
import {
  FREE_LEASE, NEVER, LAST_OBJECT_ID, decodeHistoryEvent, decodeInstanceState, decodeMessage, decodeTask,
  encodeHistoryEvent, encodeInstanceState, encodeMessage, instanceDoc, messageDoc, taskDoc,
  type EncodedMessage, type HistoryDoc, type InstanceDoc, type MessageDoc, type QueueHead, type TaskDoc,
} from './documents.js';
import { collectionNames, INDEXES, type CollectionNames } from './indexes.js';
import { classifyDriverError, mapDriverError } from './map-driver-error.js';
import { clientOptionsFor, DEFAULT_DB_NAME, type MongoStoreOptions } from './mongo-store-options.js';
import { MAX_PAYLOAD_BYTES } from './payload-codec.js';
import {
  buildPurgeFilter, buildQueryFilter, CLAIM_ACTIVITY_SORT, CLAIM_ORCHESTRATION_SORT, claimActivityFilter,
  claimOrchestrationFilter, PAGE_SORT,
} from './queries.js';
import { DEFAULT_RESUME_POLICY, type ResumePoint } from './resume-policy.js';

/** Transactions: a consistent snapshot, durable on a majority before they count as committed, on the primary. */
const DEFAULT_TRANSACTION_OPTIONS: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority' },
  readPreference: 'primary',
  // Without it a majority commit blocks for good when no majority can acknowledge (e.g. a PSA set with the
  // secondary down); MaxTimeMSExpired is not retried by withTransaction, so the step fails and is retried later.
  maxCommitTimeMS: 30_000,
};

/** Instances purged per transaction by `purgeInstances`. */
const PURGE_BATCH = 50;

/** How often a claim retries when the instance it leased turned out to have no visible message (a purge raced it). */
const CLAIM_ATTEMPTS = 3;

/**
 * The Store port on MongoDB (a replica set or a sharded cluster): several Node processes on several machines share
 * one database and its work through leases, and watch status through change streams.
 *
 * - Collections `instances`, `history`, `messages`, `activityTasks` (with an optional prefix), with an index for
 *   every query and claim (`ensureIndexes`, run when opening).
 * - Every write that spans documents runs in one transaction; an orchestration step commits only while its lease
 *   token is still on the instance (otherwise `LeaseLostError`, nothing written).
 * - `changes$` comes from a change stream on `instances`: each event carries the snapshot its transaction wrote.
 *   `workAvailable$` comes from a change stream on new messages and tasks (and this process's own writes). Both
 *   resume from their resume token after failures.
 * - User JSON is stored as JSON text: keys with `$` or `.` and `__proto__` round-trip exactly. Each document's JSON
 *   is limited to `maxPayloadBytes` (default and maximum 15 MiB).
 * - A standalone server is refused with `ReplicaSetRequiredError`, which says how to start a single-node replica set.
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
  readonly capabilities: StoreCapabilities = { name: 'mongodb', shared: true, durable: true };

  /** Every committed status change, from any process, in commit order per instance. */
  readonly changes$: Observable<StatusChange>;

  /** Fires when a message or activity task was written or a lease released, by this or another process. */
  readonly workAvailable$: Observable<void>;

  /** The database the store works in. */
  readonly dbName: string;

  /** The names of the store's collections. */
  readonly collections: CollectionNames;

  readonly #client: MongoClient;
  readonly #ownsClient: boolean;
  readonly #db: Db;
  readonly #instances: Collection<InstanceDoc>;
  readonly #history: Collection<HistoryDoc>;
  readonly #messages: Collection<MessageDoc>;
  readonly #tasks: Collection<TaskDoc>;
  readonly #limit: number;
  readonly #transactionOptions: TransactionOptions;
  readonly #statusFeed: ChangeFeed<ChangeEventLike, StatusChange>;
  readonly #wakeFeed: ChangeFeed<ChangeEventLike, true>;
  readonly #localWork = new Subject<void>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  /**
   * Connects (when given a URI), checks that the deployment is a replica set or sharded cluster, creates the indexes
   * and returns the open store.
   *
   * Rejects with `StoreUnreachableError` when no server answers within `serverSelectionTimeoutMS` (default 10 s),
   * `StoreAuthenticationError` when the credentials are refused, `ReplicaSetRequiredError` for a standalone server
   * and `InvalidArgumentError` for a malformed connection string or option. A client the store created is closed
   * again when opening fails.
   *
   * @example
   * ```ts
   * const store = await MongoStore.connect({ uri: process.env.MONGODB_URI!, dbName: 'orders' });
   * // or on a client the application owns (close() leaves it open):
   * const shared = await MongoStore.connect({ client, dbName: 'orders', collectionPrefix: 'drx_' });
   * ```
   */
  static async connect(options: MongoStoreOptions): Promise<MongoStore> {
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
    const limit = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAYLOAD_BYTES) {
      if (ownsClient) await client.close().catch(() => undefined);
      throw new InvalidArgumentError(`maxPayloadBytes must be an integer from 1 to ${MAX_PAYLOAD_BYTES}`);
    }
    // With `replicaSet=` in the connection string the driver ignores a standalone (or never initiated) server and
    // reports an unreachable topology; its heartbeat replies still show what answered.
    const replies: Document[] = [];
    const onHeartbeat = (event: ServerHeartbeatSucceededEvent) => void replies.push(event.reply);
    client.on('serverHeartbeatSucceeded', onHeartbeat);
    try {
      await client.connect();
      assertReplicaSet(await hello(client));
      const store = new MongoStore(client, ownsClient, dbName, options, limit);
      if (options.createIndexes !== false) await store.ensureIndexes();
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

  private constructor(client: MongoClient, ownsClient: boolean, dbName: string, options: MongoStoreOptions, limit: number) {
    this.#client = client;
    this.#ownsClient = ownsClient;
    this.dbName = dbName;
    this.#db = client.db(dbName, { readPreference: 'primary' });
    this.collections = collectionNames(options.collectionPrefix);
    this.#instances = this.#db.collection<InstanceDoc>(this.collections.instances);
    this.#history = this.#db.collection<HistoryDoc>(this.collections.history);
    this.#messages = this.#db.collection<MessageDoc>(this.collections.messages);
    this.#tasks = this.#db.collection<TaskDoc>(this.collections.activityTasks);
    this.#limit = limit;
    this.#transactionOptions = { ...DEFAULT_TRANSACTION_OPTIONS, ...options.transactionOptions };
    const logger: Logger = options.logger ?? consoleLogger;
    const policy = { ...DEFAULT_RESUME_POLICY, ...options.resumePolicy };
    const readyTimeoutMs = options.feedReadyTimeoutMs ?? 10_000;
    this.#statusFeed = new ChangeFeed<ChangeEventLike, StatusChange>({
      name: `MongoStore ${dbName}.${this.collections.instances} status feed`,
      watch: (point) => this.#instances.watch<InstanceDoc, ChangeEventLike>(statusPipeline(), streamOptions(point)),
      map: toStatusChange,
      logger, policy, readyTimeoutMs,
    });
    this.#wakeFeed = new ChangeFeed<ChangeEventLike, true>({
      name: `MongoStore ${dbName} wake-up feed`,
      watch: (point) => this.#db.watch<Document, ChangeEventLike>(wakePipeline(this.collections), streamOptions(point)),
      map: () => true,
      logger, policy, readyTimeoutMs,
    });
    this.changes$ = this.#statusFeed.events$;
    this.workAvailable$ = merge(this.#localWork, this.#wakeFeed.events$).pipe(map((): void => undefined));
  }

  /**
   * Creates the store's indexes (see the README for the list). Idempotent; `connect` runs it unless
   * `createIndexes: false`.
   */
  async ensureIndexes(): Promise<void> {
    await this.#op('creating indexes', async () => {
      await this.#instances.createIndexes([...INDEXES.instances]);
      await this.#history.createIndexes([...INDEXES.history]);
      await this.#messages.createIndexes([...INDEXES.messages]);
      await this.#tasks.createIndexes([...INDEXES.activityTasks]);
    });
  }

  /** Number of change streams open right now (0 when nobody subscribes to `changes$` or `workAvailable$`). */
  get openChangeStreams(): number {
    return (this.#statusFeed.isActive ? 1 : 0) + (this.#wakeFeed.isActive ? 1 : 0);
  }

  // ---------------------------------------------------------------- instances and messages

  async createInstance(request: CreateInstanceRequest): Promise<void> {
    const id = request.state.instanceId;
    await this.#op(`creating instance ${JSON.stringify(id)}`, async () => {
      encodeInstanceState(request.state, this.#limit); // a payload too large fails before the transaction starts
      const start = encodeMessage(request.message, this.#limit);
      try {
        await this.#transaction(async (session) => {
          const existing = await this.#instances.findOne({ _id: id }, { session, projection: { state: 0 } });
          if (existing && !isTerminalStatus(existing.runtimeStatus)) {
            throw new InstanceAlreadyExistsError(`Instance ${JSON.stringify(id)} already exists and is ${existing.runtimeStatus}`);
          }
          await this.#createIn(session, request.state, start, existing);
        });
      } catch (error) {
        // Two creates racing for a new id: the loser's insert hits the unique _id.
        if (classifyDriverError(error) === 'duplicate-key') {
          throw new InstanceAlreadyExistsError(`Instance ${JSON.stringify(id)} already exists`, { cause: error });
        }
        throw error;
      }
    });
    this.#localWork.next();
  }

  async sendMessage(message: OrchestrationMessage): Promise<void> {
    await this.#op(`sending a message to ${JSON.stringify(message.instanceId)}`, async () => {
      const encoded = encodeMessage(message, this.#limit);
      await this.#transaction(async (session) => {
        if (!(await this.#enqueue(session, encoded))) {
          throw new InstanceNotFoundError(`No instance with id ${JSON.stringify(message.instanceId)}`);
        }
      });
    });
    this.#localWork.next();
  }

  // ---------------------------------------------------------------- orchestration work items

  async claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined> {
    return this.#op('claiming an orchestration work item', async () => {
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        const lease = newLease(options);
        const doc = await this.#instances.findOneAndUpdate(
          claimOrchestrationFilter(options.now),
          { $set: { leaseOwner: lease.owner, leaseToken: lease.token, leaseExpiresAt: lease.expiresAt } },
          { sort: CLAIM_ORCHESTRATION_SORT, returnDocument: 'after' },
        );
        if (!doc) return undefined;
        const messages = await this.#messages
          .find({ instanceId: doc._id, due: { $lte: options.now } }, { sort: { seq: 1 } })
          .toArray();
        if (messages.length > 0) {
          return { state: decodeInstanceState(doc.state), messages: messages.map((m) => decodeMessage(m.message)), lease };
        }
        // The instance was purged or replaced between the claim and the read: let go and look again.
        await this.#instances.updateOne({ _id: doc._id, leaseToken: lease.token }, { $set: FREE_LEASE });
      }
      return undefined;
    });
  }

  async commitOrchestration(commit: OrchestrationCommit): Promise<void> {
    const id = commit.instanceId;
    await this.#op(`committing a step of ${JSON.stringify(id)}`, async () => {
      // Encode everything first: a payload over the limit fails before anything is written.
      const stateText = encodeInstanceState(commit.state, this.#limit);
      const events = commit.history.map((event) => encodeHistoryEvent(event, this.#limit));
      const tasks = commit.activityTasks.map((task) => taskDoc(task, this.#limit));
      const messages = commit.messages.map((message) => encodeMessage(message, this.#limit));
      const subs = commit.subInstances.map((request) => {
        encodeInstanceState(request.state, this.#limit);
        return { request, start: encodeMessage(request.message, this.#limit), onConflict: encodeMessage(request.onConflict, this.#limit) };
      });

      await this.#transaction(async (session) => {
        const doc = await this.#instances.findOne({ _id: id }, { session, projection: { state: 0 } });
        if (!doc || doc.leaseToken !== commit.leaseToken) throw leaseLost(id);

        if (commit.replaceHistory) await this.#history.deleteMany({ instanceId: id }, { session });
        if (events.length > 0) {
          // Appended after the last stored event (as MemoryStore concatenates), whatever the state's historyLength says.
          const last = commit.replaceHistory
            ? null
            : await this.#history.findOne({ instanceId: id }, { session, sort: { index: -1 }, projection: { index: 1 } });
          const base = last ? last.index + 1 : 0;
          await this.#history.insertMany(events.map((event, i) => ({ instanceId: id, index: base + i, event })), { session });
        }
        if (commit.consumedMessageIds.length > 0) {
          await this.#messages.deleteMany({ instanceId: id, id: { $in: [...commit.consumedMessageIds] } }, { session });
        }
        if (tasks.length > 0) await this.#tasks.insertMany(tasks, { session });

        // Messages to this instance take sequence numbers from the document replaced below; others are queued on
        // their instance's document (and dropped when the instance does not exist).
        let selfSeq = doc.messageSeq;
        const enqueue = async (message: EncodedMessage): Promise<void> => {
          if (message.instanceId === id) {
            selfSeq += 1;
            await this.#messages.insertOne(messageDoc(message, selfSeq), { session });
          } else {
            await this.#enqueue(session, message);
          }
        };
        for (const sub of subs) {
          const subId = sub.request.state.instanceId;
          const existing = subId === id ? null : await this.#instances.findOne({ _id: subId }, { session });
          const decision = subId === id
            ? { create: false as const, message: sub.request.onConflict }
            : resolveSubInstance(existing ? decodeInstanceState(existing.state) : undefined, sub.request);
          if (decision.create) await this.#createIn(session, sub.request.state, sub.start, existing);
          else await enqueue(sub.onConflict);
        }
        for (const message of messages) await enqueue(message);

        const head = await this.#queueHead(session, id, selfSeq);
        const replaced = await this.#instances.replaceOne(
          { _id: id, leaseToken: commit.leaseToken },
          instanceDoc(commit.state, stateText, head),
          { session },
        );
        if (replaced.matchedCount !== 1) throw leaseLost(id);
      });
    });
    // Messages that arrived during the step are claimable now; this process's worker looks at once.
    this.#localWork.next();
  }

  async abandonOrchestration(instanceId: string, leaseToken: string): Promise<void> {
    const released = await this.#op(`releasing the lease on ${JSON.stringify(instanceId)}`, async () =>
      this.#instances.updateOne({ _id: instanceId, leaseToken }, { $set: FREE_LEASE }));
    if (released.modifiedCount > 0) this.#localWork.next();
  }

  // ---------------------------------------------------------------- activity tasks

  async claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined> {
    return this.#op('claiming an activity task', async () => {
      const lease = newLease(options);
      const doc = await this.#tasks.findOneAndUpdate(
        claimActivityFilter(options.now),
        { $set: { leaseOwner: lease.owner, leaseToken: lease.token, leaseExpiresAt: lease.expiresAt } },
        { sort: CLAIM_ACTIVITY_SORT, returnDocument: 'after' },
      );
      return doc ? { task: decodeTask(doc.task), lease } : undefined;
    });
  }

  async completeActivity(completion: ActivityCompletion): Promise<void> {
    await this.#op(`completing activity task ${JSON.stringify(completion.taskId)}`, async () => {
      const result = encodeMessage(completion.result, this.#limit);
      await this.#transaction(async (session) => {
        const task = await this.#tasks.findOneAndDelete(
          { _id: completion.taskId, leaseToken: completion.leaseToken },
          { session, projection: { instanceId: 1, executionId: 1 } },
        );
        if (!task) throw new LeaseLostError(`Lease on activity task ${JSON.stringify(completion.taskId)} is no longer held`);
        // A result for an execution that was replaced (or an instance that is gone) is dropped.
        if (result.instanceId === task.instanceId) await this.#enqueue(session, result, task.executionId);
      });
    });
    this.#localWork.next();
  }

  async abandonActivity(taskId: string, leaseToken: string): Promise<void> {
    const released = await this.#op(`releasing the lease on activity task ${JSON.stringify(taskId)}`, async () =>
      this.#tasks.updateOne({ _id: taskId, leaseToken }, { $set: FREE_LEASE }));
    if (released.modifiedCount > 0) this.#localWork.next();
  }

  async renewActivityLease(taskId: string, leaseToken: string, expiresAt: Date): Promise<void> {
    const renewed = await this.#op(`renewing the lease on activity task ${JSON.stringify(taskId)}`, async () =>
      this.#tasks.updateOne({ _id: taskId, leaseToken }, { $set: { leaseExpiresAt: expiresAt } }));
    if (renewed.matchedCount === 0) {
      throw new LeaseLostError(`Lease on activity task ${JSON.stringify(taskId)} is no longer held`);
    }
  }

  // ---------------------------------------------------------------- reads

  async getInstance(instanceId: string): Promise<InstanceState | undefined> {
    return this.#op(`reading instance ${JSON.stringify(instanceId)}`, async () => {
      const doc = await this.#instances.findOne({ _id: instanceId }, { projection: { state: 1 } });
      return doc ? decodeInstanceState(doc.state) : undefined;
    });
  }

  async getHistory(instanceId: string, options?: { readonly fromIndex?: number }): Promise<HistoryEvent[]> {
    return this.#op(`reading the history of ${JSON.stringify(instanceId)}`, async () => {
      const from = Math.max(0, options?.fromIndex ?? 0);
      const docs = await this.#history
        .find({ instanceId, index: { $gte: from } }, { sort: { index: 1 }, projection: { event: 1 } })
        .toArray();
      return docs.map((d) => decodeHistoryEvent(d.event));
    });
  }

  async queryInstances(request: InstanceQuery): Promise<InstancePage> {
    const query = validateInstanceQuery(request); // the shared rule: unknown statuses and non-arrays are refused
    return this.#op('querying instances', async () => {
      const pageSize = pageSizeOf(query);
      const after = query.continuationToken === undefined ? undefined : decodeContinuationToken(query.continuationToken);
      const docs = await this.#instances
        .find(buildQueryFilter(query, after), { sort: PAGE_SORT, limit: pageSize + 1, projection: { state: 1 } })
        .toArray();
      const page = docs.slice(0, pageSize).map((d) => decodeInstanceState(d.state));
      const last = page[page.length - 1];
      return {
        // The filter already selected these; the shared predicate keeps the semantics identical to every store.
        instances: page.filter((state) => matchesQuery(state, query)),
        ...(docs.length > pageSize && last ? { continuationToken: encodeContinuationToken(pageKeyOf(last)) } : {}),
      };
    });
  }

  async nextWakeTime(now: Date): Promise<Date | undefined> {
    return this.#op('finding the next wake-up time', async () => {
      const [message, instance, task] = await Promise.all([
        this.#messages.findOne({ due: { $gt: now } }, { sort: { due: 1 }, projection: { due: 1 } }),
        this.#instances.findOne(
          { leaseExpiresAt: { $gt: now }, nextMessageAt: { $lt: NEVER } },
          { sort: { leaseExpiresAt: 1 }, projection: { leaseExpiresAt: 1 } },
        ),
        this.#tasks.findOne({ leaseExpiresAt: { $gt: now } }, { sort: { leaseExpiresAt: 1 }, projection: { leaseExpiresAt: 1 } }),
      ]);
      const times = [message?.due, instance?.leaseExpiresAt, task?.leaseExpiresAt]
        .filter((t): t is Date => t instanceof Date)
        .map((t) => t.getTime());
      return times.length === 0 ? undefined : new Date(Math.min(...times));
    });
  }

  // ---------------------------------------------------------------- purge

  async purgeInstance(instanceId: string): Promise<number> {
    return this.#op(`purging instance ${JSON.stringify(instanceId)}`, async () =>
      this.#transaction(async (session) => {
        const doc = await this.#instances.findOne({ _id: instanceId }, { session, projection: { runtimeStatus: 1 } });
        if (!doc) return 0;
        if (!isTerminalStatus(doc.runtimeStatus)) {
          throw new InstanceNotTerminalError(
            `Instance ${JSON.stringify(instanceId)} is ${doc.runtimeStatus}; only terminal instances can be purged`,
          );
        }
        await this.#instances.deleteOne({ _id: instanceId }, { session });
        await this.#dropDependents(session, { $in: [instanceId] });
        return 1;
      }));
  }

  async purgeInstances(request: PurgeFilter): Promise<number> {
    const filter = validatePurgeFilter(request); // refused before anything is deleted
    return this.#op('purging instances', async () => {
      const mongoFilter = buildPurgeFilter(filter);
      const ids = (await this.#instances.find(mongoFilter, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
      let deleted = 0;
      for (let i = 0; i < ids.length; i += PURGE_BATCH) {
        const batch = ids.slice(i, i + PURGE_BATCH);
        deleted += await this.#transaction(async (session) => {
          // Re-read inside the transaction: an instance restarted since the scan is no longer terminal.
          const docs = await this.#instances
            .find({ $and: [{ _id: { $in: batch } }, mongoFilter] }, { session, projection: { state: 1 } })
            .toArray();
          const doomed = docs.map((d) => decodeInstanceState(d.state)).filter((s) => matchesPurgeFilter(s, filter)).map((s) => s.instanceId);
          if (doomed.length === 0) return 0;
          await this.#instances.deleteMany({ _id: { $in: doomed } }, { session });
          await this.#dropDependents(session, { $in: doomed });
          return doomed.length;
        });
      }
      return deleted;
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Closes the change streams, waits for operations in flight, and closes the client if the store created it.
   * Afterwards every method rejects with `StoreClosedError`. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const feeds = Promise.all([this.#statusFeed.close(), this.#wakeFeed.close()]);
      this.#localWork.complete();
      await Promise.allSettled([...this.#inFlight]);
      await feeds;
      if (this.#ownsClient) {
        try {
          await this.#client.close();
        } catch (error) {
          throw mapDriverError(error, 'closing the client');
        }
      }
    })();
    return this.#closed;
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Runs one store operation: refuses after `close`, waits until freshly opened change feeds have their position
   * (so a subscriber never misses a change this store commits after it subscribed), and maps driver errors.
   */
  async #op<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    this.#ensureOpen();
    const run = (async () => {
      // One microtask: a `changes$` subscription made in the same synchronous block (e.g. by `merge`) opens its
      // feed before this operation looks at the feeds.
      await null;
      await Promise.all([this.#statusFeed.ready(), this.#wakeFeed.ready()]);
      this.#ensureOpen();
      return fn();
    })();
    this.#inFlight.add(run);
    try {
      return await run;
    } catch (error) {
      throw mapDriverError(error, doing);
    } finally {
      this.#inFlight.delete(run);
    }
  }

  #ensureOpen(): void {
    if (this.#closed) throw new StoreClosedError('The store is closed');
  }

  async #transaction<T>(fn: (session: ClientSession) => Promise<T>): Promise<T> {
    const session = this.#client.startSession();
    try {
      return await session.withTransaction(fn, this.#transactionOptions);
    } finally {
      await session.endSession().catch(() => undefined);
    }
  }

  /**
   * Writes a new execution of an instance with its start message, inside a transaction: a new document, or (for a
   * terminal `existing` one) a replacement with version + 1 after deleting the old history, messages and tasks.
   */
  async #createIn(
    session: ClientSession, state: InstanceState, start: EncodedMessage, existing: Pick<InstanceDoc, 'version' | 'messageSeq'> | null,
  ): Promise<void> {
    const id = state.instanceId;
    const version = (existing?.version ?? 0) + 1;
    const seq = (existing?.messageSeq ?? 0) + 1;
    const next: InstanceState = { ...state, version };
    const doc = instanceDoc(next, encodeInstanceState(next, this.#limit), { messageSeq: seq, nextMessageAt: start.due, oldestMessageId: start.oid });
    if (existing) {
      await this.#dropDependents(session, { $in: [id] });
      await this.#instances.replaceOne({ _id: id }, doc, { session });
    } else {
      await this.#instances.insertOne(doc, { session });
    }
    await this.#messages.insertOne(messageDoc(start, seq), { session });
  }

  /**
   * Queues a message on an existing instance inside a transaction: takes the next sequence number and lowers the
   * instance's queue head. With `executionId`, only while the instance runs that execution. False when no instance
   * matched (nothing written).
   */
  async #enqueue(session: ClientSession, message: EncodedMessage, executionId?: string): Promise<boolean> {
    const target = await this.#instances.findOneAndUpdate(
      { _id: message.instanceId, ...(executionId === undefined ? {} : { executionId }) },
      { $inc: { messageSeq: 1 }, $min: { nextMessageAt: message.due, oldestMessageId: message.oid } },
      { session, returnDocument: 'after', projection: { messageSeq: 1 } },
    );
    if (!target) return false;
    await this.#messages.insertOne(messageDoc(message, target.messageSeq), { session });
    return true;
  }

  /** The queue head of an instance from its remaining messages (inside the transaction that changed them). */
  async #queueHead(session: ClientSession, instanceId: string, messageSeq: number): Promise<QueueHead> {
    const earliest = await this.#messages.findOne({ instanceId }, { session, sort: { due: 1 }, projection: { due: 1 } });
    const oldest = await this.#messages.findOne({ instanceId }, { session, sort: { seq: 1 }, projection: { _id: 1 } });
    return {
      messageSeq,
      nextMessageAt: earliest?.due ?? NEVER,
      oldestMessageId: oldest?._id ?? LAST_OBJECT_ID,
    };
  }

  /** Deletes the history, messages and activity tasks of instances. */
  async #dropDependents(session: ClientSession, ids: { readonly $in: readonly string[] }): Promise<void> {
    const instanceId = { $in: [...ids.$in] };
    await this.#history.deleteMany({ instanceId }, { session });
    await this.#messages.deleteMany({ instanceId }, { session });
    await this.#tasks.deleteMany({ instanceId }, { session });
  }
}

function newLease(options: ClaimOptions): Lease {
  return { owner: options.owner, token: crypto.randomUUID(), expiresAt: new Date(options.now.getTime() + options.leaseMs) };
}

function leaseLost(instanceId: string): LeaseLostError {
  return new LeaseLostError(`Lease on ${JSON.stringify(instanceId)} is no longer held; the step was not committed`);
}

function streamOptions(point: ResumePoint): { resumeAfter?: unknown; startAfter?: unknown } {
  return point ? { ...point } : {};
}

async function hello(client: MongoClient): Promise<Document> {
  const admin = client.db('admin');
  try {
    return await admin.command({ hello: 1 });
  } catch (error) {
    // Servers before 4.4.2 know only the legacy name (CommandNotFound).
    if ((error as { code?: unknown }).code === 59) return admin.command({ isMaster: 1 });
    throw error;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
