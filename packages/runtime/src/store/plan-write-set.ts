import { InstanceAlreadyExistsError } from '../model/errors/instance-already-exists-error.js';
import { instanceNotFound } from '../model/errors/instance-not-found-error.js';
import { InstanceNotRunningError } from '../model/errors/instance-not-running-error.js';
import { InstanceNotTerminalError } from '../model/errors/instance-not-terminal-error.js';
import { LeaseLostError } from '../model/errors/lease-lost-error.js';
import { assertNever, type HistoryEvent } from '../model/history-event.js';
import { historyIdOf } from '../model/history-position.js';
import { isTerminalStatus, MAX_REMEMBERED_EVENT_KEYS, type InstanceState } from '../model/instance-status.js';
import { isStaleResult, type ActivityTask, type Lease, type OrchestrationMessage } from '../model/message.js';
import type { ActivityStepLease, InstanceCondition, UnclaimedLease, WriteLease, WriteSet } from '../model/write-set.js';
import { invalid, isIdempotencyKey, isStartIfExists, isValidDate } from '../model/validation.js';
import type { CommitResult } from './store.js';
import { holdsLease, isDue, isLeaseToken, isVisible, validateTime } from './store-helpers.js';

/**
 * The row changes of one {@link WriteSet}, with every condition of the write set already evaluated against the
 * instances it touches: what a store writes, unconditionally, in one transaction. Produced by {@link planWriteSet}
 * (the one place where the conditions are decided, as rxdb's `categorizeBulkWriteRows` does for its storages).
 *
 * A store applies it in this order: delete the data of the `replaced` instances, then the history writes, message
 * deletions, task deletions, task and message inserts, and finally the instance rows of `states` (releasing the
 * orchestration lease of the write set, if any).
 */
export interface WritePlan {
  /**
   * Terminal instances that a `createInstance` replaces: delete their history, pending messages and activity tasks
   * first. Their rows are rewritten through `states`.
   */
  readonly replaced: readonly string[];
  /** History writes per instance, in order. `replace`: drop the stored history first, then write from position 0. */
  readonly history: readonly PlannedHistory[];
  /** Pending messages to delete (ids that are gone are skipped). */
  readonly deleteMessages: readonly { readonly instanceId: string; readonly messageIds: readonly string[] }[];
  /** Activity tasks to delete. */
  readonly deleteTasks: readonly string[];
  /** Activity tasks to add, in order. */
  readonly insertTasks: readonly ActivityTask[];
  /** The leases some of `insertTasks` are stored with; the others are stored unleased. */
  readonly taskLeases: readonly { readonly taskId: string; readonly lease: Lease }[];
  /** Messages to append, in arrival order; every target exists once the plan is applied. */
  readonly insertMessages: readonly OrchestrationMessage[];
  /**
   * The final state of every instance the write set creates or changes, in the order of their first change. `isNew`:
   * the instance did not exist before or was replaced (its row starts empty: no lease, no pending messages but
   * those of `insertMessages`).
   */
  readonly states: readonly PlannedState[];
  /** The snapshots to publish on `changes$` after the commit, in commit order. */
  readonly changes: readonly PlannedChange[];
  /**
   * The raise-key records to write ({@link RaiseKeysRecord}: put, replacing the stored one), one per instance a keyed
   * raise or signal-with-start remembered a key for. Empty unless the write set carries a key and `planWriteSet` was
   * given the stored records ({@link StoredRaiseKeys}).
   */
  readonly raiseKeys: readonly RaiseKeysRecord[];
  /**
   * True when claimable work was written: a message, or a task stored without a lease. A store also signals work
   * when the commit released an orchestration lease (`released`) and that instance still has pending messages.
   */
  readonly work: boolean;
  /**
   * The instance whose orchestration lease the commit releases, if any: the write set's own (`orchestration`), or an
   * expired one an `unclaimed` write takes over (live, the write set is refused before).
   */
  readonly released?: string;
}

/** A history write of a {@link WritePlan}. */
export interface PlannedHistory {
  readonly instanceId: string;
  /** Drop the stored history first (then `from` is 0). */
  readonly replace: boolean;
  /** Position of the first event. */
  readonly from: number;
  readonly events: readonly HistoryEvent[];
}

/** The final state of one instance in a {@link WritePlan}. */
export interface PlannedState {
  readonly state: InstanceState;
  /** Created, or replaced over a terminal instance: the row starts empty. */
  readonly isNew: boolean;
  /** The state as stored before the write set, if any. */
  readonly before: InstanceState | undefined;
  /**
   * The orchestration lease a created instance is stored with (`CreateInstanceWrite.lease`, a new id only): its
   * messages are claimable when the lease expires, not at once.
   */
  readonly lease?: Lease;
}

/** One snapshot to publish: the state after a change, and the `version` it follows (0 for a new id). */
export interface PlannedChange {
  readonly instanceId: string;
  readonly previousVersion: number;
  readonly state: InstanceState;
}

/**
 * The record of the idempotency keys an instance remembers (`RaiseEventOptions.idempotencyKey`,
 * `SignalWithStartOptions.idempotencyKey`): its latest {@link MAX_REMEMBERED_EVENT_KEYS} keys, oldest first. A store
 * keeps it apart from the instance's state, one per instance id: only a keyed raise or signal-with-start reads it
 * (its ids: {@link raiseKeyIdsOf}) and writes it ({@link WritePlan.raiseKeys}); no claim, commit of a step, status
 * read or change-feed event carries it. It outlives the executions of the id (a `continueAsNew`, a restart, a new
 * start over a terminal instance) and a purge of the instance deletes it, in the purge's transaction.
 */
export interface RaiseKeysRecord {
  readonly instanceId: string;
  readonly keys: readonly string[];
}

/**
 * The raise-key records {@link planWriteSet} reads: `get(id)` for each id of {@link raiseKeyIdsOf} (`undefined`: no
 * record), read in the transaction that applies the write set. A `Map` of the keys is one.
 */
export interface StoredRaiseKeys {
  get(instanceId: string): readonly string[] | undefined;
}

/**
 * The ids whose raise-key record ({@link RaiseKeysRecord}) {@link planWriteSet} needs: those a keyed raise or
 * signal-with-start of the write set goes to. Empty for every other write set (a step, an unkeyed raise), which then
 * reads no record.
 */
export function raiseKeyIdsOf(writeSet: WriteSet): string[] {
  let ids: string[] | undefined;
  for (const request of writeSet.requests) {
    const id = request.type === 'insertMessage' && request.idempotencyKey !== undefined ? request.message.instanceId
      : request.type === 'createInstance' && request.idempotencyKey !== undefined ? request.state.instanceId : undefined;
    if (id !== undefined && !(ids ??= []).includes(id)) ids.push(id);
  }
  return ids ?? [];
}

/**
 * The stored states {@link planWriteSet} reads: `get(id)` for each id of {@link instanceIdsOf} (`undefined`: no such
 * instance). A `Map` is one; a store may also answer from its own records without building one.
 */
export interface StoredStates {
  get(instanceId: string): InstanceState | undefined;
}

/**
 * The ids of every instance whose stored state {@link planWriteSet} needs: read them in the transaction that
 * applies the write set.
 */
export function instanceIdsOf(writeSet: WriteSet): string[] {
  // An array, not a Set: a write set names one or two instances, rarely more (and each one is added as an array of
  // its own size: a push into an empty array reserves room for 16).
  let ids: string[] = NONE as never[];
  const lease = writeSet.lease;
  if (lease && lease.kind !== 'activity') ids = [lease.instanceId];
  for (const request of writeSet.requests) {
    switch (request.type) {
      case 'createInstance':
        ids = addId(ids, request.state.instanceId);
        if (request.ifRunning.kind === 'notify') ids = addId(ids, request.ifRunning.message.instanceId);
        if (request.ifChildOf) ids = addId(ids, request.ifChildOf.message.instanceId);
        if (request.requires) ids = addId(ids, request.requires.instanceId);
        break;
      case 'replaceState':
        ids = addId(ids, request.state.instanceId);
        break;
      case 'insertMessage':
        ids = addId(ids, request.message.instanceId);
        break;
      case 'appendHistory':
      case 'replaceHistory':
      case 'deleteMessages':
      case 'insertTask':
      case 'deleteTask':
        break;
      default:
        assertNever(request);
    }
  }
  return (ids as readonly string[]) === NONE ? [] : ids; // the caller's own array, never the shared empty one
}

function addId(ids: string[], id: string): string[] {
  return ids.includes(id) ? ids : add(ids, id) as string[];
}

/**
 * Turns a write set into the row changes a store writes, deciding every condition it carries against `stored`: the
 * state of each instance of {@link instanceIdsOf} as the store has it inside its transaction (`undefined`: no such
 * instance). Pure; throws the `DurableError` that refuses the whole write set (`InstanceAlreadyExistsError`,
 * `InstanceNotFoundError`), and then the store writes nothing. The lease is the store's to check, before.
 *
 * The rules, in one place: a client start's `ifExists` (`fail`, `useExisting`) refuses or skips a create over any
 * instance of its id; otherwise a created instance replaces a terminal one one `version` higher (1 for a new id) and
 * drops its history, messages and tasks; a signal-with-start (`signal`) delivers its message to an active instance
 * instead of creating, or to the created execution after its start message; creating over a running instance fails
 * or notifies (`ifRunning`), over a child of another instance of the caller's fork lineage (one it was copied from, or whose link names the caller's root) refuses with `ifChildOf`'s message when it is given, over a sub-orchestration a parent's rewind takes back ({@link rewindsChild}) delivers `ifFailed` instead when it is given
 * (a second such create of the write set delivers the `ifRunning` message, the instance being rewound or created
 * already); a
 * message is dropped when its instance does not exist (or fails, `ifMissing: 'fail'`), when it carries another
 * execution's id, or when it goes to an active child only (`ifActiveChildOf`) and the instance is none; a `requires` condition (a client command on a running instance, a restart of a terminal one)
 * refuses the write set when the instance is missing or in the wrong state (see `InstanceCondition`). Requests see
 * the effects of earlier requests of the same write set.
 */
export function planWriteSet(writeSet: WriteSet, stored: StoredStates, keys?: StoredRaiseKeys): WritePlan {
  // This runs on every commit of every store, and a write set touches one or two instances and inserts a task or two:
  // plain arrays searched in place (no Maps), the helpers take the plan under construction instead of closing over
  // it, and a kind of row change the write set has none of shares one frozen empty array.
  const plan: PlanUnderWay = {
    replaced: NONE, history: NONE, deleteMessages: NONE, deleteTasks: NONE, insertTasks: NONE, insertMessages: NONE,
    taskLeases: NONE, states: NONE, changes: NONE, raiseKeys: NONE, work: false, keys,
  };
  for (const request of writeSet.requests) {
    switch (request.type) {
      case 'createInstance': {
        if (request.lease !== undefined) checkStoredLease(request.lease, 'createInstance.lease');
        if (request.requires) checkCondition(request.requires.instanceId, current(plan, stored, request.requires.instanceId), request.requires);
        const id = request.state.instanceId;
        const existing = current(plan, stored, id);
        // A repeat of a keyed signal-with-start starts and delivers nothing (`isRepeat`).
        const { signal, idempotencyKey } = request;
        if (idempotencyKey !== undefined && (!signal || isRepeat(plan, existing, id, idempotencyKey, 'createInstance.idempotencyKey'))) {
          if (!signal) invalid('createInstance.idempotencyKey', 'is only taken with a signal');
          break;
        }
        // A start told what to do with any instance of the id (`StartIfExists`): refused, or that instance kept.
        const { ifExists } = request;
        if (ifExists !== undefined && isStartIfExists(ifExists, 'createInstance.ifExists') !== 'overwrite' && existing) {
          if (ifExists === 'fail') throw alreadyExists(id, existing);
          break; // useExisting: nothing created, nothing delivered
        }
        // Signal-with-start: an active instance takes the signal, and nothing is created.
        if (signal && existing && !isTerminalStatus(existing.runtimeStatus)) {
          deliver(plan, stored, signal, 'drop');
          if (idempotencyKey !== undefined) rememberKey(plan, stored, id, idempotencyKey);
          break;
        }
        // A GUID-named call over a child of another instance of the caller's fork lineage: one the caller was copied
        // from, or a copy of the same root (a fork of the caller, another fork of its source).
        const { ifChildOf } = request;
        const parentId = existing?.parentInstanceId;
        if (ifChildOf && parentId !== undefined && parentId !== ifChildOf.message.instanceId) {
          const refusal = ifChildOf.parents.includes(parentId) ? ifChildOf.message
            : ifChildOf.root !== undefined && existing!.parentCall?.forkRoot === ifChildOf.root ? ifChildOf.ofFork : undefined;
          if (refusal) {
            deliver(plan, stored, refusal, 'drop');
            break;
          }
        }
        // A parent's rewind (`rewindsChild`). A second call of the rewind to it finds it being rewound or created, as
        // over a running instance, and is told so (`ifRunning`).
        if (request.ifFailed && rewindsChild(existing, request.state)) {
          const again = !!plannedOf(plan, id)?.isNew || plan.insertMessages.some((m) => m.instanceId === id && m.event.type === 'ExecutionRewound');
          deliver(plan, stored, again && request.ifRunning.kind === 'notify' ? request.ifRunning.message : request.ifFailed, 'drop');
          break;
        }
        if (existing && !isTerminalStatus(existing.runtimeStatus)) {
          const { ifRunning } = request;
          switch (ifRunning.kind) {
            case 'fail':
              throw alreadyExists(id, existing);
            case 'notify':
              deliver(plan, stored, ifRunning.message, 'drop');
              break;
            default:
              assertNever(ifRunning);
          }
          break;
        }
        if (existing) {
          // Everything written so far for the replaced execution goes with it.
          if (stored.get(id) !== undefined && !plan.replaced.includes(id)) plan.replaced = [...plan.replaced, id];
          plan.insertMessages = plan.insertMessages.filter((m) => m.instanceId !== id);
          plan.insertTasks = plan.insertTasks.filter((t) => t.instanceId !== id);
          plan.taskLeases = leasesOf(plan.insertTasks, plan.taskLeases);
          plan.history = plan.history.filter((h) => h.instanceId !== id);
        }
        // Only a new id is leased: the starter runs the step on the state it wrote, version 1.
        setState(plan, stored, { ...request.state, version: (existing?.version ?? 0) + 1 }, true, request.lease && !existing ? request.lease : undefined);
        deliver(plan, stored, request.message, 'drop');
        if (signal) deliver(plan, stored, signal, 'drop'); // after the start: the new execution finds it buffered
        if (idempotencyKey !== undefined) rememberKey(plan, stored, id, idempotencyKey);
        break;
      }
      case 'replaceState':
        if (!current(plan, stored, request.state.instanceId)) {
          throw instanceNotFound(request.state.instanceId);
        }
        setState(plan, stored, request.state, false, undefined);
        break;
      case 'appendHistory':
        if (request.events.length > 0) plan.history = add(plan.history, { instanceId: request.instanceId, replace: false, from: request.from, events: request.events });
        break;
      case 'replaceHistory':
        plan.history = add(plan.history, { instanceId: request.instanceId, replace: true, from: 0, events: request.events });
        break;
      case 'deleteMessages':
        if (request.messageIds.length > 0) plan.deleteMessages = add(plan.deleteMessages, { instanceId: request.instanceId, messageIds: request.messageIds });
        break;
      case 'insertMessage': {
        const { message, idempotencyKey } = request;
        // A repeat of a keyed raise delivers nothing, whatever the instance's status now (`isRepeat`).
        if (idempotencyKey !== undefined && isRepeat(plan, current(plan, stored, message.instanceId), message.instanceId, idempotencyKey, 'insertMessage.idempotencyKey')) break;
        if (request.requires) checkCondition(message.instanceId, current(plan, stored, message.instanceId), request.requires);
        if (request.ifActiveChildOf !== undefined && !isActiveChildOf(current(plan, stored, message.instanceId), request.ifActiveChildOf)) break;
        deliver(plan, stored, message, request.ifMissing);
        if (idempotencyKey !== undefined) rememberKey(plan, stored, message.instanceId, idempotencyKey);
        break;
      }
      case 'insertTask': {
        const { task, lease } = request;
        if (lease !== undefined) checkStoredLease(lease, 'insertTask.lease');
        if (lease) {
          // A task inserted twice keeps its last lease, if any (as a keyed map of leases would).
          const leases = plan.taskLeases;
          let known = 0;
          while (known < leases.length && leases[known]!.taskId !== task.id) known++;
          if (known < leases.length) (leases as { taskId: string; lease: Lease }[])[known] = { taskId: task.id, lease };
          else plan.taskLeases = add(leases, { taskId: task.id, lease });
        }
        plan.insertTasks = add(plan.insertTasks, task);
        break;
      }
      case 'deleteTask':
        plan.deleteTasks = add(plan.deleteTasks, request.taskId);
        break;
      default:
        assertNever(request);
    }
  }

  // A message to an instance created leased is claimable only when that lease expires.
  // (Index loops over the plan's arrays: an empty one is the frozen NONE, which for-of handles on a slower path.)
  const { insertMessages, insertTasks, taskLeases } = plan;
  for (let i = 0; i < insertMessages.length; i++) if (!plannedOf(plan, insertMessages[i]!.instanceId)?.lease) plan.work = true;
  if (!plan.work && taskLeases.length < insertTasks.length) plan.work = someUnleased(insertTasks, taskLeases);
  plan.released = releasedInstanceOf(writeSet.lease);
  return plan;
}

/**
 * Whether a parent's rewind takes back the instance `existing` (the stored state of the id a rerun call creates,
 * `undefined`: none) for that call, whose new state is `created` (with the call as its `parentCall`), instead of
 * creating it: delivers the call's `ExecutionRewound` to it (`CreateInstanceWrite.ifFailed`). It must run the same
 * orchestrator for the same parent, and be Failed (rewound in place: it reports to the call from then on, though it
 * may have been created for another call, one that found it running) or active and report to this very call: the
 * child that failed the call, rewound on its own since, or the execution it continued as, whose result the rewind
 * would take had it come already. An active one that reports to another call, or to another execution of the parent
 * (it was running when the call was made, and failed it), is not the call's: the call is told it runs. The one rule of
 * every store, through {@link planWriteSet}.
 *
 * @example
 * ```ts
 * rewindsChild({ ...child, runtimeStatus: 'Running', parentCall: { executionId: 'p1', taskScheduledId: 0 } }, created); // true: the call's own
 * rewindsChild({ ...child, runtimeStatus: 'Running', parentCall: { executionId: 'p0', taskScheduledId: 0 } }, created); // false: an earlier execution's
 * ```
 */
export function rewindsChild(existing: InstanceState | undefined, created: InstanceState): boolean {
  if (!existing || existing.name !== created.name || existing.parentInstanceId !== created.parentInstanceId) return false;
  if (existing.runtimeStatus === 'Failed') return true;
  const call = existing.parentCall;
  return !isTerminalStatus(existing.runtimeStatus) && call !== undefined && call.taskScheduledId === created.parentCall?.taskScheduledId &&
    call.executionId === created.parentCall.executionId;
}

/**
 * The instance whose lease a commit under `lease` releases: its own (`orchestration`), or an expired one an unclaimed
 * write takes over (`unclaimed`); `undefined` for the other kinds. What {@link planWriteSet} reports as `released`,
 * and what a store's transaction reads first.
 *
 * @example
 * ```ts
 * releasedInstanceOf({ kind: 'orchestration', instanceId: 'a', token: 't' }); // 'a'
 * ```
 */
export function releasedInstanceOf(lease: WriteLease | undefined): string | undefined {
  return lease?.kind === 'orchestration' || lease?.kind === 'unclaimed' ? lease.instanceId : undefined;
}

/**
 * Whether a store writes the input of a planned state ({@link PlannedState}), the one rule of every store that keeps
 * the input apart from the rest of the state: for a created or replaced row (`isNew`, written whole), and for a new
 * execution (a `continueAsNew`: an `executionId` other than the stored one's). Otherwise the stored input stays, and a
 * store need not read it in the commit's transaction nor encode it again: an instance's input is its execution's, set
 * when the execution is created (`decideStart`, a `continueAsNew` in `decideStep`) and kept by every later state of
 * that execution (`applyEvent`: the start that a worker records keeps it, a refused one too), so a state of the same
 * execution carries the input stored already.
 *
 * @example
 * ```ts
 * writesInput(planWriteSet(step, states).states[0]!);           // false: a step of the same execution
 * writesInput(planWriteSet(continuedAsNew, states).states[0]!); // true: the next execution's input
 * ```
 */
export function writesInput(planned: PlannedState): boolean {
  return planned.isNew || planned.before === undefined || planned.state.executionId !== planned.before.executionId;
}

/**
 * True when writing `plan` changes nothing: it creates, replaces or changes no instance and writes or deletes no
 * history, message, task or raise-key record, and the instance whose lease it releases (`released`), if any, has no lease stored
 * (`leaseStored`: a lease on it, live or expired; an unclaimed write clears an expired one, a change). A client's
 * commit of no request is one once its check holds: a suspend or resume that changes nothing (an HTTP retry, see
 * `unclaimedStatus`). A store then writes nothing (no row, no lease field), so the commit publishes no snapshot and
 * wakes no worker: the work it left claimable was claimable before.
 *
 * @example
 * ```ts
 * changesNothing(planWriteSet({ lease: unclaimed, requests: [] }, states), false); // true
 * ```
 */
export function changesNothing(plan: WritePlan, leaseStored: boolean): boolean {
  return plan.states.length === 0 && plan.raiseKeys.length === 0 && plan.replaced.length === 0 && plan.history.length === 0 && plan.deleteMessages.length === 0 &&
    plan.deleteTasks.length === 0 && plan.insertTasks.length === 0 && plan.insertMessages.length === 0 &&
    (plan.released === undefined || !leaseStored);
}

/**
 * True when a store signals `workAvailable$` after writing `plan`, the one rule of every store: the plan wrote
 * claimable work (`work`: a message, a task stored without a lease), or the commit changes something (see
 * {@link changesNothing}, which `leaseStored` is for) and the instance whose lease it releases (`released`) has
 * messages left after it (`pendingLeft`: due now, or later, a time the workers learn by asking again). A step that
 * consumed every message of its instance and wrote no work signals nothing: whatever is claimable was claimable
 * before, and a claim round of every worker would find nothing new. `leaseStored` and `pendingLeft` are read by the
 * store inside its transaction (`false` when the plan releases no lease).
 *
 * @example
 * ```ts
 * signalsWork(planWriteSet(step, states), true, false); // false: the step consumed its instance's messages, wrote none
 * signalsWork(planWriteSet(step, states), true, true);  // true: an event arrived during the step, claimable now
 * ```
 */
export function signalsWork(plan: WritePlan, leaseStored: boolean, pendingLeft: boolean): boolean {
  return plan.work || (plan.released !== undefined && pendingLeft && !changesNothing(plan, leaseStored));
}

// The helpers below take the plan's arrays as arguments: a closure over them in planWriteSet made every call allocate
// a context for it, used or not.

/** The leases of `leases` whose task is among `tasks`. */
function leasesOf(tasks: readonly ActivityTask[], leases: PlanUnderWay['taskLeases']): PlanUnderWay['taskLeases'] {
  return leases.filter((l) => tasks.some((t) => t.id === l.taskId));
}

/** True when some task of `tasks` has no lease in `leases`. */
function someUnleased(tasks: readonly ActivityTask[], leases: PlanUnderWay['taskLeases']): boolean {
  return tasks.some((t) => !leases.some((l) => l.taskId === t.id));
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A {@link WritePlan} while {@link planWriteSet} builds it. */
interface PlanUnderWay {
  replaced: readonly string[];
  history: readonly PlannedHistory[];
  deleteMessages: readonly { readonly instanceId: string; readonly messageIds: readonly string[] }[];
  deleteTasks: readonly string[];
  insertTasks: readonly ActivityTask[];
  insertMessages: readonly OrchestrationMessage[];
  taskLeases: readonly { readonly taskId: string; readonly lease: Lease }[];
  states: readonly PlannedState[];
  changes: readonly PlannedChange[];
  raiseKeys: readonly RaiseKeysRecord[];
  work: boolean;
  released?: string;
  /** The stored raise-key records; `undefined`: the store keeps the keys in the instance's state (`InstanceState.raisedEventKeys`). */
  readonly keys: StoredRaiseKeys | undefined;
}

/** The empty row changes of a plan, shared (frozen: {@link add} makes an array before anything is added). */
const NONE: readonly never[] = Object.freeze([]);

/** `list` with `item` appended: the shared empty array is replaced by a new one, any other grows in place. */
function add<T>(list: readonly T[], item: T): readonly T[] {
  if (list === NONE) return [item];
  (list as T[]).push(item);
  return list;
}

function plannedOf(plan: PlanUnderWay, id: string): PlannedState | undefined {
  const states = plan.states;
  for (let i = 0; i < states.length; i++) if (states[i]!.state.instanceId === id) return states[i];
  return undefined;
}

/** The state of an instance as the requests so far left it: its planned state, else the stored one. */
function current(plan: PlanUnderWay, stored: StoredStates, id: string): InstanceState | undefined {
  return plannedOf(plan, id)?.state ?? stored.get(id);
}

/**
 * Records the new state of an instance. `isNew` (created): `lease` is the lease it is stored with, if any; a state
 * replaced later in the same write set keeps the lease it was created with.
 */
function setState(plan: PlanUnderWay, stored: StoredStates, given: InstanceState, isNew: boolean, lease: Lease | undefined): void {
  const id = given.instanceId;
  const known = plannedOf(plan, id);
  const before = known ? known.before : stored.get(id);
  const state = withRaisedEventKeys(withPreviousHistory(given, before), known ? known.state : before);
  plan.changes = add(plan.changes, { instanceId: id, previousVersion: known ? known.state.version : before?.version ?? 0, state });
  const planned: Mutable<PlannedState> = { state, isNew: isNew || !!known?.isNew, before };
  const kept = isNew ? lease : known?.lease;
  if (kept) planned.lease = kept;
  if (known) (plan.states as PlannedState[])[plan.states.indexOf(known)] = planned;
  else plan.states = add(plan.states, planned);
}

/**
 * `state` as written over `before` (the stored state, `undefined`: none): with the `previousHistory` that
 * {@link InstanceState.previousHistory} says. A state that starts its history over (another execution or epoch than
 * `before`'s) names `before`'s history as it ends, with `before`'s length; one in the same history keeps `before`'s
 * (a state built without it loses nothing); a new id has none. `state` itself when it says so already (every commit
 * but those, and no copy). The one rule of every store, through {@link planWriteSet}.
 *
 * @example
 * ```ts
 * withPreviousHistory({ ...x1At4, executionId: 'x2', historyLength: 0 }, x1At4).previousHistory; // { execution: 'x1/0', events: 4 }
 * withPreviousHistory({ ...x2At0, historyLength: 3 }, x2At0).previousHistory; // x2At0's, kept
 * ```
 */
function withPreviousHistory(state: InstanceState, before: InstanceState | undefined): InstanceState {
  const previous = before === undefined
    ? undefined
    : state.executionId === before.executionId && (state.historyEpoch ?? 0) === (before.historyEpoch ?? 0)
      ? before.previousHistory
      : { execution: historyIdOf(before), events: before.historyLength };
  const given = state.previousHistory;
  if (given?.execution === previous?.execution && given?.events === previous?.events) return state;
  if (previous !== undefined) return { ...state, previousHistory: previous };
  const { previousHistory: _dropped, ...rest } = state;
  return rest;
}

/**
 * `state` with the idempotency keys of raised events that `current` remembers (the instance as the write set found it,
 * `undefined`: none), whatever `state` says: a worker's step, decided from the state its claim read, would otherwise
 * drop a key a raise added since. `state` itself when the two agree (every commit of an instance raised to without
 * keys). The one rule of {@link InstanceState.raisedEventKeys}, through {@link planWriteSet}.
 */
function withRaisedEventKeys(state: InstanceState, current: InstanceState | undefined): InstanceState {
  const keys = current?.raisedEventKeys;
  if (state.raisedEventKeys === keys) return state;
  if (keys !== undefined) return { ...state, raisedEventKeys: keys };
  const { raisedEventKeys: _dropped, ...rest } = state;
  return rest;
}

/**
 * Whether a raise (or signal-with-start) with idempotency key `key` repeats one the instance `id` (`target`,
 * `undefined`: none) remembers: among the keys of its record ({@link RaiseKeysRecord}) or those its state carries
 * (`InstanceState.raisedEventKeys`: where a store keeps no records, and in a state written by a version before them or
 * by code of that version still sharing the store, which reads and writes its keys there only). Each list is checked
 * whole: the two have no order between them, so neither pushes the other's keys out. No instance remembers anything.
 * A malformed key is an `InvalidArgumentError` naming `what`, the request's member.
 */
function isRepeat(plan: PlanUnderWay, target: InstanceState | undefined, id: string, key: string, what: string): boolean {
  isIdempotencyKey(key, what);
  return target !== undefined && ((target.raisedEventKeys?.includes(key) ?? false) || (plan.keys !== undefined && (recordOf(plan, id)?.includes(key) ?? false)));
}

/** The keys of instance `id`'s raise-key record as the write set has it so far; `undefined`: none. */
function recordOf(plan: PlanUnderWay, id: string): readonly string[] | undefined {
  const records = plan.raiseKeys;
  for (let i = 0; i < records.length; i++) if (records[i]!.instanceId === id) return records[i]!.keys;
  return plan.keys?.get(id);
}

/**
 * Adds `key` to the keys the instance remembers (the latest {@link MAX_REMEMBERED_EVENT_KEYS}): in its record
 * ({@link WritePlan.raiseKeys}), its state untouched. Keys a state of an earlier version carries stay there: code of
 * that version sharing the store reads them from the state only, and here they count as well (`isRepeat`). A store that
 * keeps no records (`plan.keys` undefined) keeps the keys in the state, written once more at the same `version` and
 * published as no change. Nothing when the instance is gone (the message was dropped with it).
 */
function rememberKey(plan: PlanUnderWay, stored: StoredStates, id: string, key: string): void {
  const known = plannedOf(plan, id);
  const state = known ? known.state : stored.get(id);
  if (!state) return;
  const kept = (plan.keys ? recordOf(plan, id) : state.raisedEventKeys) ?? NONE;
  const keys = kept.length < MAX_REMEMBERED_EVENT_KEYS ? [...kept, key] : [...kept.slice(kept.length - MAX_REMEMBERED_EVENT_KEYS + 1), key];
  if (plan.keys) {
    const records = plan.raiseKeys;
    let at = 0;
    while (at < records.length && records[at]!.instanceId !== id) at++;
    if (at < records.length) (records as RaiseKeysRecord[])[at] = { instanceId: id, keys };
    else plan.raiseKeys = add(records, { instanceId: id, keys });
    return;
  }
  const planned: Mutable<PlannedState> = { state: { ...plainState(state), raisedEventKeys: keys }, isNew: !!known?.isNew, before: known ? known.before : state };
  if (known?.lease) planned.lease = known.lease;
  if (known) (plan.states as PlannedState[])[plan.states.indexOf(known)] = planned;
  else plan.states = add(plan.states, planned);
  // A change already planned for the instance publishes the state with its keys.
  const changes = plan.changes as PlannedChange[];
  for (let i = 0; i < changes.length; i++) if (changes[i]!.state === state) changes[i] = { ...changes[i]!, state: planned.state };
}

/**
 * The fields of `state` on a plain object: a stored state may be an object of a class that reads as an
 * {@link InstanceState} through getters (MemoryStore's records), which a spread would leave out.
 */
function plainState(state: InstanceState): InstanceState {
  const copy: Record<string, unknown> = { ...state };
  for (let proto: unknown = Object.getPrototypeOf(state); proto !== Object.prototype && proto !== null; proto = Object.getPrototypeOf(proto)) {
    const descriptors = Object.getOwnPropertyDescriptors(proto as object);
    for (const key in descriptors) {
      if (descriptors[key]!.get === undefined || copy[key] !== undefined) continue;
      const value: unknown = (state as unknown as Record<string, unknown>)[key];
      if (value !== undefined) copy[key] = value;
    }
  }
  return copy as unknown as InstanceState;
}

function alreadyExists(id: string, existing: InstanceState): InstanceAlreadyExistsError {
  return new InstanceAlreadyExistsError(`Instance ${JSON.stringify(id)} already exists and is ${existing.runtimeStatus}`);
}

/** `target` (a stored or planned state) is a non-terminal sub-orchestration of `parentId` (`InsertMessageWrite.ifActiveChildOf`). */
function isActiveChildOf(target: InstanceState | undefined, parentId: string): boolean {
  return target !== undefined && target.parentInstanceId === parentId && !isTerminalStatus(target.runtimeStatus);
}

function deliver(plan: PlanUnderWay, stored: StoredStates, message: OrchestrationMessage, ifMissing: 'drop' | 'fail'): void {
  const target = current(plan, stored, message.instanceId);
  if (!target) {
    if (ifMissing === 'fail') throw instanceNotFound(message.instanceId);
    return;
  }
  if (isStaleResult(message, target)) return;
  plan.insertMessages = add(plan.insertMessages, heldUntilStart(message, target));
}

/**
 * `message` as it is queued for `target`, the instance it goes to: an execution whose start is delayed (a
 * `scheduledStartTime`, `StartNewOptions.startAt`) and that has not started yet (no history, not terminal) takes no
 * message before that time, so a message that would be visible sooner (an event raised, a command sent to a worker)
 * is queued with `visibleAt` = `scheduledStartTime`. A claim never hands out a message of an execution whose start it
 * cannot hand out with it, and at that time the start comes first, in arrival order: an event raised early is buffered
 * as for any Pending instance. Any other message, and one to any other instance, is queued as it is. The one rule of
 * every store, through {@link planWriteSet}.
 *
 * @example
 * ```ts
 * heldUntilStart(eventRaised, { ...pending, scheduledStartTime: at }).visibleAt; // at
 * heldUntilStart(eventRaised, running); // eventRaised, as it is
 * ```
 */
export function heldUntilStart(message: OrchestrationMessage, target: InstanceState): OrchestrationMessage {
  const at = target.scheduledStartTime;
  if (at === undefined || target.historyLength !== 0 || isTerminalStatus(target.runtimeStatus)) return message;
  const atMs = at.getTime();
  if (message.visibleAt !== undefined && message.visibleAt.getTime() >= atMs) return message;
  return { ...message, visibleAt: new Date(atMs) };
}

const NOTHING_LEASED: CommitResult = Object.freeze({ leasedStarts: Object.freeze([]) });

/** What a store's `commit` resolves with once it has written `plan` (a shared frozen value when nothing was leased). */
export function commitResultOf(plan: WritePlan): CommitResult {
  let leasedStarts: string[] | undefined;
  const states = plan.states;
  for (let i = 0; i < states.length; i++) if (states[i]!.lease) (leasedStarts ??= []).push(states[i]!.state.instanceId);
  return leasedStarts ? { leasedStarts } : NOTHING_LEASED;
}

/**
 * Checks a lease a request stores its work with (`CreateInstanceWrite.lease`, `InsertTaskWrite.lease`): an object
 * with a non-empty string `owner`, a lease token ({@link isLeaseToken}) and an `expiresAt` that is a valid Date.
 * Throws `InvalidArgumentError` otherwise, and the store writes nothing. An Invalid Date expiry made a lease that no
 * comparison sees as live or as expired (`claimableAtMs` NaN): the work was never claimed again, or at once.
 */
function checkStoredLease(lease: Lease, what: string): void {
  const { owner, token, expiresAt } = (lease ?? {}) as Partial<Record<keyof Lease, unknown>>;
  if (typeof owner !== 'string' || owner === '') invalid(what, 'has a malformed owner');
  if (!isLeaseToken(token)) invalid(what, 'has a malformed token');
  validateTime(expiresAt, `${what}.expiresAt`);
}

/** Throws the typed error of an {@link InstanceCondition} that `state` (the instance `id`, if it exists) does not meet. */
function checkCondition(id: string, state: InstanceState | undefined, condition: InstanceCondition): void {
  if (!state) throw instanceNotFound(id);
  const status = state.runtimeStatus;
  const terminal = isTerminalStatus(status);
  const wanted = condition.status;
  if (wanted === 'running' ? !terminal : wanted === 'terminal' ? terminal : status === 'Failed') return;
  // A terminal instance cannot take it (410); an active one is not there yet (409).
  const message = `Cannot ${condition.operation} instance ${JSON.stringify(id)}: it is ${status}` +
    (wanted === 'running' ? '' : `, not ${wanted === 'failed' ? 'Failed' : wanted}`);
  throw terminal ? new InstanceNotRunningError(message) : new InstanceNotTerminalError(message);
}

/**
 * Checks the shape of a write set's lease, the first thing every store's `commit` does, before it reads or writes
 * anything: a known `kind`, non-empty string ids, a `version` that is a safe integer >= 1 and a `now` that is a valid
 * Date (`activityStep`, `unclaimed`: the store compares times with it, and an Invalid Date would see no message as
 * visible and no lease as live, so a write would commit ahead of what it must wait for), and an `unclaimed` lease's
 * `command` absent or one of those {@link unclaimedHolds} knows (an unknown one would go ahead of nothing). Throws
 * `InvalidArgumentError` otherwise. A token that names no lease ({@link isLeaseToken}: a caller that lost it)
 * is refused with {@link leaseLostError}, as a token that no longer names the lease is. `undefined` (no lease) passes.
 *
 * @example
 * ```ts
 * checkWriteLease({ kind: 'unclaimed', instanceId: 'a', executionId: 'e1', version: 1, now: new Date() }); // passes
 * checkWriteLease({ kind: 'unclaimed', instanceId: 'a', executionId: 'e1', version: 1, now: new Date(NaN) }); // throws InvalidArgumentError
 * ```
 */
export function checkWriteLease(lease: WriteLease | undefined): void {
  if (lease === undefined) return;
  const kind: unknown = (lease as Partial<WriteLease> | null)?.kind;
  const timed = kind === 'activityStep' || kind === 'unclaimed';
  // The ids each kind carries; then the first malformed member, named in the message.
  const ids = kind === 'orchestration' ? ['instanceId'] : kind === 'activity' ? ['taskId']
    : kind === 'activityStep' ? ['taskId', 'instanceId'] : kind === 'unclaimed' ? ['instanceId', 'executionId'] : undefined;
  // `kind` known: an object (a null or a primitive has none).
  const fields = lease as unknown as Record<string, unknown>;
  const bad = ids === undefined ? 'kind' : ids.find((id) => typeof fields[id] !== 'string' || fields[id] === '') ??
    (!timed ? undefined : !Number.isSafeInteger(fields.version) || (fields.version as number) < 1 ? 'version' : !isValidDate(fields.now) ? 'now'
      : kind === 'unclaimed' && fields.command !== undefined && !UNCLAIMED_COMMANDS.includes(fields.command as string) ? 'command'
        : kind === 'unclaimed' && fields.takes !== undefined && (typeof fields.takes !== 'string' || fields.takes === '') ? 'takes' : undefined);
  if (bad !== undefined) invalid("a write set's lease", `has a malformed ${bad}`);
  if (lease.kind !== 'unclaimed' && !isLeaseToken(lease.token)) throw leaseLostError(lease);
}

/**
 * The error a store throws when the lease of a write set is no longer held; the same text on every store.
 * `claimedCommand`: the last suspend or resume the claim holding the instance took ({@link unclaimedRefusal} gives it).
 */
export function leaseLostError(lease: WriteLease, claimedCommand?: 'suspend' | 'resume'): LeaseLostError {
  // An unclaimed write's "lease" is the instance being free: a worker holds it, or the instance moved on.
  const held = lease.kind === 'activity' || lease.kind === 'activityStep' ? `activity task ${JSON.stringify(lease.taskId)}` : JSON.stringify(lease.instanceId);
  const moved = lease.kind === 'activityStep' || lease.kind === 'unclaimed' ? ` (or instance ${JSON.stringify(lease.instanceId)} moved past version ${lease.version})` : '';
  const message = `Lease on ${held} is no longer held${moved}; not committed`;
  return claimedCommand === undefined ? new LeaseLostError(message) : new LeaseLostError(message, { claimedCommand });
}

/** What a store read, inside its transaction, to check an {@link ActivityStepLease}. */
export interface ActivityStepReading {
  /** The lease on the activity task (only its token is read), or `undefined` when the task is gone or unleased. */
  readonly taskLease: Pick<Lease, 'token'> | undefined;
  /** The instance's stored state (`undefined`: gone). */
  readonly state: InstanceState | undefined;
  /** The orchestration lease on the instance, live or expired. */
  readonly instanceLease: Lease | undefined;
  /** The earliest `visibleAt` (ms, 0 = at once) of the instance's pending messages; `undefined` when it has none. */
  readonly firstVisibleMs: number | undefined;
}

/**
 * True when an activity result may be committed together with the step the worker decided from it: the task's lease
 * is held, the instance is still at the version the step started from, nobody holds a live lease on it, and no other
 * message of it is visible yet (so the step saw exactly what a claim would have handed out). A store refuses the
 * write set with {@link leaseLostError} otherwise.
 */
export function activityStepHolds(lease: ActivityStepLease, reading: ActivityStepReading): boolean {
  const { state, instanceLease, firstVisibleMs } = reading;
  return holdsLease(reading.taskLease, lease.token) &&
    state !== undefined && state.version === lease.version &&
    (instanceLease === undefined || isDue(instanceLease.expiresAt.getTime(), lease.now)) &&
    (firstVisibleMs === undefined || !isDue(firstVisibleMs, lease.now));
}

/** What a store read, inside its transaction, to check an {@link UnclaimedLease}. */
export interface UnclaimedReading {
  /** The instance's stored state (`undefined`: gone). */
  readonly state: InstanceState | undefined;
  /** The orchestration lease on the instance, live or expired. */
  readonly instanceLease: Pick<Lease, 'expiresAt'> | undefined;
  /** The instance's pending messages, in any order. */
  readonly messages: readonly OrchestrationMessage[];
  /**
   * The messages the claim holding `instanceLease` handed out, as the store recorded them with that lease (by the last
   * one's position in the queue, and a timer that fell due since may be among them), **in arrival order**: the last
   * suspend or resume among them is taken as the latest the claim took. Read only while that lease is live. Absent or
   * empty: none recorded (a start committed leased to its starter takes no command).
   */
  readonly claimed?: readonly OrchestrationMessage[] | undefined;
}

/** The commands an {@link UnclaimedLease} may name. */
const UNCLAIMED_COMMANDS: readonly string[] = ['terminate', 'suspend', 'resume'];

/**
 * True when a write decided without a lease may commit (see {@link UnclaimedLease}): the instance is still at the
 * version and execution the writer read, nobody holds a live orchestration lease on it at the writer's `now`, and no
 * message of it visible at `now` holds the write back ({@link unclaimedHeldBack}: for a client's command, a command
 * queued before it, which a worker applies first, in order). A store reads all three inside the transaction that
 * applies the write set, refuses it with {@link unclaimedRefusal}'s error otherwise, and clears an expired lease with the commit
 * (`released`). A store that reads the messages one at a time may ask about each on its own (the answer for several
 * is `false` as soon as it is for one of them).
 *
 * @example
 * ```ts
 * const lease: UnclaimedLease = { kind: 'unclaimed', instanceId: 'a', executionId: 'e1', version: 3, now, command: 'suspend' };
 * unclaimedHolds(lease, { state, instanceLease: undefined, messages: [eventRaised] }); // true: the event is kept for the resume
 * unclaimedHolds(lease, { state, instanceLease: undefined, messages: [resumeQueued] }); // false: the resume queued first goes first
 * unclaimedHolds({ ...lease, command: 'terminate' }, { state, instanceLease: undefined, messages: [terminateQueued] }); // false: the first terminate's reason is the output
 * ```
 */
export function unclaimedHolds(lease: UnclaimedLease, reading: UnclaimedReading): boolean {
  return unclaimedRefusal(lease, reading) === undefined;
}

/**
 * The error a store refuses a write decided without a lease with (`undefined`: it may commit, {@link unclaimedHolds}),
 * the one rule of every store: {@link leaseLostError}, which names, while a worker's claim holds the instance, the last
 * suspend or resume that claim took (`LeaseLostError.claimedCommand`, from `reading.claimed`): its step commits that
 * command before anything sent now reaches the instance, so a client whose resume (or suspend) the status reflects
 * already waits for the instance to show it again rather than resolve while that step is in flight.
 *
 * @example
 * ```ts
 * const refusal = unclaimedRefusal(lease, { state, instanceLease, messages, claimed: [suspendQueued] });
 * if (refusal) throw refusal; // refusal.claimedCommand === 'suspend' while that lease is live
 * ```
 */
export function unclaimedRefusal(lease: UnclaimedLease, reading: UnclaimedReading): LeaseLostError | undefined {
  const { state, instanceLease, messages } = reading;
  if (state?.version !== lease.version || state.executionId !== lease.executionId) return leaseLostError(lease);
  if (instanceLease !== undefined && !isDue(instanceLease.expiresAt.getTime(), lease.now)) return leaseLostError(lease, lastSuspendOrResume(reading.claimed));
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.id !== lease.takes && isVisible(m, lease.now) && unclaimedHeldBack(lease, m.event)) return leaseLostError(lease);
  }
  return undefined;
}

/** The last suspend or resume among `messages` (a claim's, in arrival order), the one its step commits last. */
function lastSuspendOrResume(messages: readonly OrchestrationMessage[] | undefined): 'suspend' | 'resume' | undefined {
  for (let i = (messages?.length ?? 0) - 1; i >= 0; i--) {
    const type = messages![i]!.event.type;
    if (type === 'ExecutionSuspended') return 'suspend';
    if (type === 'ExecutionResumed') return 'resume';
  }
  return undefined;
}

/**
 * Whether a visible message queued before an unclaimed write (its `event`) holds the write back, to be applied by a
 * worker first. The start of the execution read never does (a Pending instance stays terminable, suspendable and
 * resumable). A client's command (a terminate, suspend or resume) goes ahead of an event, a result or a timer, which
 * then reaches the instance as if it had arrived after the command (recorded and ignored after a termination; kept
 * while suspended, processed after the resume), but not of a command queued before it (a suspend, resume, terminate
 * or rewind: a resume that overtook the suspend it undoes would leave the instance suspended, and a terminate that
 * overtook one queued before it would make the later reason the output, where Durable Functions keeps the first) nor
 * of a start of another execution. A write of no command (a rewind, a misuse's failure) goes ahead of nothing else.
 */
function unclaimedHeldBack(lease: UnclaimedLease, event: HistoryEvent): boolean {
  switch (event.type) {
    case 'ExecutionStarted':
      return event.executionId !== lease.executionId;
    case 'ExecutionSuspended':
    case 'ExecutionResumed':
    case 'ExecutionTerminated':
    case 'ExecutionRewound':
      return true;
    default:
      return lease.command === undefined;
  }
}
