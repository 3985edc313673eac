import type { Observable } from 'rxjs';
import type { HistoryEvent } from '../model/history-event.js';
import type { InstanceState, OrchestrationRuntimeStatus } from '../model/instance-status.js';
import type { ActivityTask, Lease, OrchestrationMessage } from '../model/message.js';

/**
 * The Store port: everything the worker and the client need from persistence. MemoryStore, DexieStore,
 * KeyvalStore and MongoStore implement it and prove it by passing `describeStoreConformance` from
 * `@durable-rx/runtime/testing`.
 *
 * Rules every implementation keeps:
 * - Values crossing the port are plain JSON plus the Date fields of {@link InstanceState}, {@link Lease} and
 *   `visibleAt`. A store returns copies: callers may not mutate what it keeps, and it may not keep what it was given.
 * - Every write method is atomic: it happens completely or not at all. Errors are thrown as `DurableError`s
 *   (conflicts included); driver errors are wrapped with the original as `cause`.
 * - {@link Store.changes$} delivers every committed change of every instance, in commit order per instance, after
 *   the commit is durable. Shared stores also deliver changes committed by other processes or tabs.
 * - After {@link Store.close} resolves, nothing is left running (no timers, cursors, channels) and every method
 *   rejects with `StoreClosedError`. `close` is idempotent.
 */
export interface Store {
  /** What the store can do; the conformance suite and the worker read it. */
  readonly capabilities: StoreCapabilities;

  /**
   * Creates an instance together with its start message. If an instance with the id exists: when it is terminal
   * (Completed, Failed, Terminated) it is replaced (its history, pending messages and activity tasks are deleted);
   * otherwise throws `InstanceAlreadyExistsError` and writes nothing. The store sets `version` to the replaced
   * instance's version + 1 (1 for a new id), so change-feed subscribers order the new execution after the old one.
   */
  createInstance(request: CreateInstanceRequest): Promise<void>;

  /**
   * Appends a message to an existing instance, after all earlier messages of that instance.
   * Throws `InstanceNotFoundError` (writing nothing) when no instance has `message.instanceId`.
   */
  sendMessage(message: OrchestrationMessage): Promise<void>;

  /**
   * Claims an instance that has a visible message (`visibleAt` absent or <= `now`) and that nobody holds a live lease
   * on — preferably the one that has waited longest (best effort: fairness, not a guarantee tests rely on). Returns its state and its visible messages in arrival order under a new lease
   * (`now + leaseMs`), or `undefined` when there is no such work. Two concurrent claims never get the same instance.
   * A store may hand out only the oldest visible messages (at most `maxMessages`, or a bound of its own); the rest
   * stay queued, in order, for the next claim.
   */
  claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined>;

  /**
   * Commits one orchestration step atomically: history append (or replacement), the new state, removal of the
   * consumed messages, new activity tasks, new messages (timers, messages to other instances) and new instances
   * (sub-orchestrations), then releases the lease. Throws `LeaseLostError` and writes nothing when the lease token no
   * longer matches (the lease was taken over). Messages to instances that no longer exist are dropped.
   */
  commitOrchestration(commit: OrchestrationCommit): Promise<void>;

  /** Releases an orchestration lease without writing anything (the messages become claimable again). */
  abandonOrchestration(instanceId: string, leaseToken: string): Promise<void>;

  /** Claims the oldest activity task nobody holds a live lease on, or returns `undefined`. */
  claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined>;

  /**
   * Atomically deletes a claimed activity task and appends its result message. Throws `LeaseLostError` when the
   * lease is no longer held. When the instance is gone or runs another execution, the result is dropped.
   */
  completeActivity(completion: ActivityCompletion): Promise<void>;

  /** Releases an activity lease so another worker may run the task. */
  abandonActivity(taskId: string, leaseToken: string): Promise<void>;

  /**
   * Extends a held activity lease to `expiresAt`: the heartbeat that keeps a long activity from being claimed and
   * run again by another worker (or by this one). Throws `LeaseLostError` when the lease is no longer held.
   */
  renewActivityLease(taskId: string, leaseToken: string, expiresAt: Date): Promise<void>;

  /** The state of one instance, or `undefined`. */
  getInstance(instanceId: string): Promise<InstanceState | undefined>;

  /** The current execution's history (from `fromIndex`, default 0); empty for an unknown instance. */
  getHistory(instanceId: string, options?: { readonly fromIndex?: number }): Promise<HistoryEvent[]>;

  /**
   * One page of instances matching the query, ordered by (createdTime, instanceId). Keyset paging: a page never
   * repeats or skips an instance that existed when paging began.
   */
  queryInstances(query: InstanceQuery): Promise<InstancePage>;

  /** Deletes a terminal instance with its history and messages; 0 when unknown. `InstanceNotTerminalError` otherwise. */
  purgeInstance(instanceId: string): Promise<number>;

  /** Deletes the terminal instances matching the filter; returns how many. */
  purgeInstances(filter: PurgeFilter): Promise<number>;

  /**
   * The earliest future time at which work may become claimable without any new write (a delayed message becomes
   * visible, a lease expires), or `undefined`. Workers set one timer for it instead of polling.
   */
  nextWakeTime(now: Date): Promise<Date | undefined>;

  /** Every committed change of instance state (see the rules above). Hot; never completes before `close`. */
  readonly changes$: Observable<StatusChange>;

  /** Signals that work may be claimable (a message or activity task was written, a lease was released). */
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
}

/** Arguments of a claim. */
export interface ClaimOptions {
  /** Worker id, recorded in the lease. */
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

/** An instance to create with its start message. */
export interface CreateInstanceRequest {
  readonly state: InstanceState;
  /** The ExecutionStarted message. */
  readonly message: OrchestrationMessage;
}

/** A sub-orchestration to create during a commit. */
export interface CreateSubInstanceRequest extends CreateInstanceRequest {
  /** Sent to the parent instead when a non-terminal instance already has the id (the creation fails). */
  readonly onConflict: OrchestrationMessage;
}

/** A claimed orchestration work item. */
export interface OrchestrationWorkItem {
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

/** The result of an activity. */
export interface ActivityCompletion {
  readonly taskId: string;
  readonly leaseToken: string;
  /** TaskCompleted or TaskFailed message to the instance. */
  readonly result: OrchestrationMessage;
}

/** Everything one orchestration step writes (see `commit-plan.ts`). */
export interface OrchestrationCommit {
  readonly instanceId: string;
  readonly leaseToken: string;
  /** The state after the step (its `version` is the previous version + 1). */
  readonly state: InstanceState;
  /** Events appended to the history; with `replaceHistory`, the new history. */
  readonly history: readonly HistoryEvent[];
  /** True when the history is replaced (continue-as-new, rewind). */
  readonly replaceHistory: boolean;
  readonly consumedMessageIds: readonly string[];
  readonly activityTasks: readonly ActivityTask[];
  /** Messages to this or other instances (timers carry `visibleAt`). */
  readonly messages: readonly OrchestrationMessage[];
  readonly subInstances: readonly CreateSubInstanceRequest[];
}

/** A committed change of one instance. `state` is `undefined` when the instance was purged. */
export interface StatusChange {
  readonly instanceId: string;
  /** The committed snapshot. */
  readonly state: InstanceState | undefined;
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
  /** Default 100. */
  readonly pageSize?: number;
  /** From the previous page. */
  readonly continuationToken?: string;
}

/** One page of a query. */
export interface InstancePage {
  readonly instances: readonly InstanceState[];
  /** Present when more instances may follow. */
  readonly continuationToken?: string;
}

/** Which instances `purgeInstances` deletes (terminal ones only). */
export interface PurgeFilter {
  /** Inclusive. */
  readonly createdTimeFrom: Date;
  /** Inclusive. */
  readonly createdTimeTo?: Date;
  /** Restricts to these statuses (non-terminal ones never match). */
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[];
}
