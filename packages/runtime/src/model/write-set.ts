import type { HistoryEvent } from './history-event.js';
import type { InstanceState } from './instance-status.js';
import type { ActivityTask, Lease, OrchestrationMessage } from './message.js';

/**
 * A write set: everything one operation writes, decided in advance by pure code (`engine/decide-step.ts` for an
 * orchestration step, `engine/decide-client.ts` for the client's writes, the worker for an activity result) and
 * executed by a store atomically, all or nothing, in one transaction. Compare the requests of Dexie's DBCore: plain,
 * readonly data, no callbacks.
 *
 * A store executes the requests in order. The few conditions a write set carries (does an instance exist, is it
 * terminal, does a result still belong to its execution) are evaluated inside the transaction by one shared pure
 * function, `planWriteSet` in `@durable-rx/runtime/store-kit`; a store never decides them itself.
 */
export interface WriteSet {
  /**
   * The lease the write needs. The store refuses the whole write set with `LeaseLostError` and writes nothing when
   * the lease is no longer held (it was taken over, or the work item is gone). Absent: no lease is needed (the
   * client's writes). A malformed lease (an unknown kind, an empty id, a `version` that is no integer >= 1, a `now`
   * that is no valid Date) is refused with `InvalidArgumentError` before anything is read or written (store-kit's
   * `checkWriteLease`, which every store's `commit` calls first).
   */
  readonly lease?: WriteLease;
  /** Applied in this order. */
  readonly requests: readonly WriteRequest[];
}

/**
 * The lease a {@link WriteSet} commits under. An orchestration lease is released by the commit; an activity task is
 * deleted by its own `deleteTask` request.
 */
export type WriteLease =
  | { readonly kind: 'orchestration'; readonly instanceId: string; readonly token: string }
  | { readonly kind: 'activity'; readonly taskId: string; readonly token: string }
  | ActivityStepLease
  | UnclaimedLease;

/**
 * The lease of an activity result committed together with the orchestration step it wakes (one transaction instead
 * of three: complete the activity, claim the instance, commit the step). The worker that ran the activity holds the
 * task's lease and decided the step from its cached execution at `version`, with the result as the only new message.
 * The store commits only when that is exactly what a claim would have handed out: the task's lease is held, the
 * instance is at `version`, nobody holds a live lease on it and none of its pending messages is visible at `now`
 * (`activityStepHolds`). Otherwise it refuses with `LeaseLostError` and writes nothing; the worker then commits the
 * result alone. Only for stores with `capabilities.fusedSteps`.
 */
export interface ActivityStepLease {
  readonly kind: 'activityStep';
  readonly taskId: string;
  readonly token: string;
  readonly instanceId: string;
  readonly version: number;
  /** The worker's clock when it decided the step. */
  readonly now: Date;
}

/**
 * The condition of a write decided by someone who holds no lease (a client that terminates, suspends or resumes an
 * instance itself), all checked by `unclaimedHolds` in the store's transaction:
 *
 * - the instance is still at `version` of execution `executionId`, the ones the decision read (a version alone
 *   repeats: a purge and a new start of the id begin at version 1 again);
 * - nobody holds a live orchestration lease on it at `now`: no worker is running a step of it, and none committed one
 *   since the read;
 * - no message of it is visible at `now` that the write may not go ahead of (`command`). A terminate, suspend or
 *   resume goes ahead of all but a command (a suspend, resume, terminate or rewind queued before it is applied first,
 *   by a worker, in order: a resume never overtakes the suspend it undoes, and a terminate queued first keeps its
 *   reason as the output, as in Durable Functions) and a start of another execution: an event, a result or a timer
 *   queued before it reaches the instance as one that arrived after it (after a terminate, recorded and ignored,
 *   `decideStep`; after a suspend, kept, and processed after the resume). A write of no `command` (a rewind, a
 *   misuse's failure) goes ahead of none but the start of the execution. The queued message `takes` names (a
 *   recursive terminate its parent's commit handed on to the instance, which the write applies and deletes) holds
 *   nothing back.
 *
 * The store refuses the write set with `LeaseLostError` otherwise and writes nothing (the client then sends its
 * command as a message, for a worker). Like a claim, the commit takes over an expired lease: the commit clears it, so
 * the late holder's own commit is refused. Only for stores with `capabilities.unclaimedWrites`.
 */
export interface UnclaimedLease {
  readonly kind: 'unclaimed';
  readonly instanceId: string;
  readonly executionId: string;
  readonly version: number;
  /** The writer's clock when it read the instance. */
  readonly now: Date;
  /** The client command the write applies, which decides the queued messages it may go ahead of (see above). */
  readonly command?: 'terminate' | 'suspend' | 'resume';
  /**
   * The id of the queued message the write applies itself and deletes in the same commit (a terminate a parent's
   * recursive terminate handed on to this instance): it holds the write back no more than the write's own event would.
   */
  readonly takes?: string;
}

/** One request of a {@link WriteSet}, keyed by `type`. Every switch over it ends in `assertNever`. */
export type WriteRequest =
  | CreateInstanceWrite
  | ReplaceStateWrite
  | AppendHistoryWrite
  | ReplaceHistoryWrite
  | DeleteMessagesWrite
  | InsertMessageWrite
  | InsertTaskWrite
  | DeleteTaskWrite;

/**
 * Creates an instance with its start message. When the id is taken by a terminal instance (Completed, Failed,
 * Terminated), that instance is replaced: its history, pending messages and activity tasks are dropped and the new
 * state gets the old `version` + 1 (1 for a new id), so change-feed subscribers order the new execution after the
 * old one. When the id is taken by a non-terminal instance, `ifRunning` says what happens.
 */
export interface CreateInstanceWrite {
  readonly type: 'createInstance';
  /** The new state; its `version` is ignored (see above). */
  readonly state: InstanceState;
  /** The ExecutionStarted message. */
  readonly message: OrchestrationMessage;
  /**
   * `fail`: the whole write set is refused with `InstanceAlreadyExistsError` (a client start).
   * `notify`: nothing is created and `message` is delivered instead (a sub-orchestration: the failure to its parent).
   */
  readonly ifRunning: { readonly kind: 'fail' } | { readonly kind: 'notify'; readonly message: OrchestrationMessage };
  /**
   * What a client start does when the id is taken, whatever the instance's status ({@link StartIfExists}), checked
   * before anything else of this request: `fail` refuses the whole write set with `InstanceAlreadyExistsError`;
   * `useExisting` creates nothing and delivers nothing for this request (the rest of the write set proceeds). Absent or
   * `overwrite`: a terminal instance is replaced and a non-terminal one is handled by `ifRunning`.
   */
  readonly ifExists?: StartIfExists;
  /**
   * Signal-with-start (`DurableClient.signalWithStart`): a message (an `EventRaised`) for the instance of the id
   * whichever way the request goes, checked after `ifExists`. An active instance (Pending, Running, Suspended) gets it
   * and nothing is created (`ifRunning` is not consulted); otherwise the instance is created (over a terminal one as
   * usual) and gets it right after its start message, so the new execution finds it buffered. Two such requests for
   * one id that race, from any process, create one execution and deliver both messages.
   */
  readonly signal?: OrchestrationMessage;
  /**
   * The caller's idempotency key of `signal` (`SignalWithStartOptions.idempotencyKey`, checked by `isIdempotencyKey`;
   * only with `signal`), checked first: when the instance of the id remembers it (the keys of
   * {@link InsertMessageWrite.idempotencyKey}) the request is a repeat, and nothing is created or delivered. Otherwise
   * the request goes as without it, and the key is remembered for the id with the signal, in the same commit.
   */
  readonly idempotencyKey?: string;
  /**
   * A parent's rewind re-creating a sub-orchestration that failed: when the id is taken by a Failed instance with the
   * same name and parent, nothing is created and this message (an `ExecutionRewound`) is delivered to it instead, so
   * the child is rewound in place (its completed work is kept, as Durable Functions rewinds failed sub-orchestrations
   * with their parent) and reports its result to the parent's waiting call. So is it to an active instance that
   * reports to this very call (its `parentCall` is the one of `state`): the child that failed the call, rewound on its
   * own since (or the execution it continued as), which keeps running and answers the call; not one that reports to
   * another call or another execution of the parent (a call that found it running failed for it: it fails again). A
   * second create of the same write set with `ifFailed` over that instance finds it being rewound (or created) and
   * delivers the `ifRunning` message instead (a parent whose two calls name one instance: the second fails again, as
   * it did before the rewind). Over any other instance, or none, the create proceeds as usual. The rule:
   * `rewindsChild` in store-kit's `planWriteSet`.
   */
  readonly ifFailed?: OrchestrationMessage;
  /**
   * A sub-orchestration call whose id holds a GUID: when an instance of the id exists, whatever its status, whose
   * parent (`parentInstanceId`) is not the caller (the instance `message` goes to) and is either one of `parents` (the
   * instances the caller was copied from, `ExecutionStartedEvent.forkedFrom`) or a copy of the caller's lineage (its
   * link's `ParentCall.forkRoot` is `root`: a fork of the caller, or another fork of the instance the caller was copied
   * from), nothing is created and the call's failure, saying why, is delivered instead (`message`, or `ofFork` for a
   * copy); `ifRunning` and `ifFailed` are not consulted. Over any other instance, or none, the create proceeds as
   * usual. The rule is in store-kit's `planWriteSet`.
   */
  readonly ifChildOf?: {
    readonly parents: readonly string[];
    readonly message: OrchestrationMessage;
    /** The instance the caller's lineage began with: the last of its `forkedFrom`, or the caller itself. */
    readonly root?: string;
    /** The call's failure when the child's parent is a copy of the caller's lineage (`root`). */
    readonly ofFork?: OrchestrationMessage;
  };
  /**
   * A state another (or the same) instance must be in, checked first, in the same transaction (a restart: the
   * restarted instance must be terminal). When it does not hold, the whole write set is refused (see
   * {@link InstanceCondition}).
   */
  readonly requires?: InstanceCondition & { readonly instanceId: string };
  /**
   * The instance is stored with this orchestration lease (the committing worker's, which runs the first step right
   * after the commit), so no claim is needed and nobody else runs the step before the lease expires. Only a new id
   * is leased: over a terminal instance the new execution is stored unleased (its `version` is not 1, which the
   * starter assumed) and claimed as usual; `commit` reports which starts it leased (`CommitResult.leasedStarts`), and
   * the starter runs only those. Only for stores with `capabilities.fusedSteps`. A malformed lease (an `expiresAt`
   * that is no valid Date, an empty `owner` or `token`) is refused with `InvalidArgumentError` (`planWriteSet`),
   * nothing written.
   */
  readonly lease?: Lease;
}

/**
 * What starting an instance does when its id is taken (`StartNewOptions.ifExists`, `CreateInstanceWrite.ifExists`):
 * - `overwrite` (the default): a terminal instance (Completed, Failed, Terminated) is replaced by the new execution;
 *   a Pending, Running or Suspended one refuses the start with `InstanceAlreadyExistsError` (409);
 * - `fail`: any instance with the id, terminal or not, refuses the start with `InstanceAlreadyExistsError` (409);
 * - `useExisting`: any instance with the id is kept as it is and the start resolves with its id; nothing is written.
 *
 * Decided inside the store's transaction (store-kit's `planWriteSet`), so two starts that race cannot both create.
 */
export type StartIfExists = 'overwrite' | 'fail' | 'useExisting';

/**
 * A state an instance must be in for a write set to commit, evaluated by the store inside the transaction that
 * applies the write set, so a client command cannot race the instance finishing. When it does not hold the whole
 * write set is refused and nothing is written:
 * - the instance does not exist: `InstanceNotFoundError` (404);
 * - `running`: the instance is terminal: `InstanceNotRunningError` (410);
 * - `terminal`: the instance is Pending, Running or Suspended: `InstanceNotTerminalError` (409);
 * - `failed`: Completed or Terminated: `InstanceNotRunningError` (410); not terminal: `InstanceNotTerminalError` (409).
 */
export interface InstanceCondition {
  readonly status: 'running' | 'terminal' | 'failed';
  /** The operation the condition guards, for the error message: `terminate`, `restart`... */
  readonly operation: string;
}

/** Replaces the state of an existing instance (with its new `version`, `historyLength`, status...). */
export interface ReplaceStateWrite {
  readonly type: 'replaceState';
  readonly state: InstanceState;
}

/**
 * Appends events to the current execution's history. `from` is the position of the first one, the number of events
 * stored before (the `historyLength` of the state the decision started from).
 */
export interface AppendHistoryWrite {
  readonly type: 'appendHistory';
  readonly instanceId: string;
  readonly from: number;
  readonly events: readonly HistoryEvent[];
}

/** Drops the stored history of an instance (an earlier execution's, or one rewritten by a rewind) and writes `events` from position 0. */
export interface ReplaceHistoryWrite {
  readonly type: 'replaceHistory';
  readonly instanceId: string;
  readonly events: readonly HistoryEvent[];
}

/** Deletes pending messages of an instance (those a step consumed); ids that are gone are skipped. */
export interface DeleteMessagesWrite {
  readonly type: 'deleteMessages';
  readonly instanceId: string;
  readonly messageIds: readonly string[];
}

/**
 * Appends a message to an instance, after all earlier messages of that instance (timers carry `visibleAt`). It is
 * dropped when its `executionId` is set and the instance runs another execution, and when the instance does not
 * exist, unless `ifMissing` is `fail`: then the whole write set is refused with `InstanceNotFoundError`.
 */
export interface InsertMessageWrite {
  readonly type: 'insertMessage';
  readonly message: OrchestrationMessage;
  readonly ifMissing: 'drop' | 'fail';
  /** A state the target instance must be in (a client command: not terminal); checked before the message is appended. */
  readonly requires?: InstanceCondition;
  /**
   * Delivered only to a non-terminal sub-orchestration of this instance (the target's `parentInstanceId`), dropped
   * otherwise: a recursive terminate handed on to a child never reaches an instance of that id that another parent, or
   * nobody, started (a call that found the id taken), nor one that ended meanwhile.
   */
  readonly ifActiveChildOf?: string;
  /**
   * The caller's idempotency key of a raised event (`RaiseEventOptions.idempotencyKey`, checked by
   * `isIdempotencyKey`). When the target instance remembers it (its raise-key record, store-kit's `RaiseKeysRecord`,
   * or `InstanceState.raisedEventKeys` where the store keeps none: raised before, still pending or consumed long since)
   * the request is a repeat: nothing is appended and `requires` is not checked (the first raise was accepted; the
   * instance may have finished since). Otherwise the key is added to the instance's remembered keys in the same commit
   * (its record is written and its state is not; without records, the state is rewritten at the same `version`): no
   * status change is published.
   * Decided by `planWriteSet` inside the store's transaction, so two raises with one key that race deliver once.
   */
  readonly idempotencyKey?: string;
}

/** Adds an activity task. */
export interface InsertTaskWrite {
  readonly type: 'insertTask';
  readonly task: ActivityTask;
  /**
   * The task is stored already leased (to the committing worker, which runs it right after the commit), so no claim
   * is needed and nobody else runs it before the lease expires. Only for stores with `capabilities.fusedSteps`. A
   * malformed lease is refused as `CreateInstanceWrite.lease`'s is.
   */
  readonly lease?: Lease;
}

/** Deletes an activity task (the one whose result the write set delivers). */
export interface DeleteTaskWrite {
  readonly type: 'deleteTask';
  readonly taskId: string;
}
