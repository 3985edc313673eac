import type { ExecutionStartedEvent, HistoryEvent, OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import {
  claimableAtMs, dueAtMs, matchesName, matchesTags, writesInput, type ActivityTask, type InstanceState, type Lease, type OrchestrationMessage, type PlannedState,
} from '@durable-rx/runtime/store-kit';

/**
 * What both IndexedDB stores keep, as plain structured-cloneable rows. Each adapter lays the rows out in its own way
 * (Dexie tables with indexes, or idb-keyval keys with hand-kept index entries); the shared logic in `idb-store.ts`
 * only sees these types.
 */

/**
 * True when the instance has the orchestrator name `name` and the tag pair `tag`, those given: store-kit's
 * `matchesName` and `matchesTags`, the one name and tag rule of every store, for a scan of the IndexedDB stores that
 * checks a row against the name or tag pair it lists by (an index entry that may be stale, or none yet).
 *
 * @example
 * ```ts
 * isMemberOf(row, 'Checkout', ['tenant', 'acme']); // row.state.name is 'Checkout' and row.state.tags.tenant is 'acme'
 * ```
 */
export function isMemberOf(row: InstanceRow, name: string | undefined, tag: readonly [string, string] | undefined): boolean {
  return matchesName(row.state.name, name === undefined ? undefined : [name]) &&
    matchesTags(row.state.tags, tag === undefined ? undefined : { [tag[0]]: tag[1] });
}

/**
 * An instance's lease as its row keeps it: a claim's records the sequence number of the last message it handed out
 * (`claimedSeq`), which {@link claimedMessages} reads back. A lease without it (written by a release before the field,
 * say a claim of an older tab still running at the upgrade) records nothing, so a client waits for no step behind it,
 * as before the field: a read may then show a command that claim took after the call resolved, until the next step.
 */
export type StoredLease = Lease & { readonly claimedSeq?: number };

/**
 * The pending messages (`pending`, in arrival order) that the claim holding `lease` handed out: those up to the last
 * one it took (`StoredLease.claimedSeq`), for store-kit's `unclaimedRefusal`.
 */
export function claimedMessages(lease: StoredLease | undefined, pending: readonly MessageRow[]): OrchestrationMessage[] | undefined {
  const last = lease?.claimedSeq;
  return last === undefined ? undefined : pending.filter((m) => m.seq <= last).map((m) => m.message);
}

/** One orchestration instance with its lease and the claim schedule derived from its pending messages. */
export interface InstanceRow {
  readonly id: string;
  readonly state: InstanceState;
  /** `state.createdTime` in ms, the paging key. */
  readonly createdMs: number;
  /** `state.runtimeStatus`, for the status index. */
  readonly status: OrchestrationRuntimeStatus;
  /** Present from a claim until its commit or abandon (an expired lease stays until the next claim). */
  readonly lease?: StoredLease;
  /** Earliest `visibleAt` of the pending messages in ms (0 = at once); absent when there are none. */
  readonly minVisibleMs?: number;
  /** Sequence number of the oldest pending message; absent when there are none. */
  readonly headSeq?: number;
  /**
   * How many messages are pending; absent when there are none, or unknown (rows written by layout version 1). A
   * commit that consumes that many knows none is left without listing them.
   */
  readonly pendingCount?: number;
  /**
   * When the instance can be claimed: `max(lease expiry, minVisibleMs)`; absent when it has no pending message.
   * Indexed together with `headSeq`, so a claim and `nextWakeTime` are one index lookup.
   */
  readonly readyMs?: number;
  /**
   * Sequence number of the newest message ever stored for the instance, kept by layouts that number messages
   * themselves (KeyvalStore), so the next one is greater; absent before the first, and in rows of other layouts.
   */
  readonly tailSeq?: number;
  /**
   * Rows written since DexieStore's layout 7 and KeyvalStore's layout 12: the state's input is kept in the instance's
   * {@link InputRecord}, and `state` has none (see {@link isInputApart}). Absent in rows of earlier layouts, whose state
   * holds its input, and in rows of instances without one.
   */
  readonly inputApart?: true;
}

/**
 * The input of an instance's execution, kept apart from its row: a step, a raise, a claim's lease and an activity
 * result rewrite the row, which would otherwise structured-clone and write the input (up to the input size limit) every
 * time. Written once by the commit that creates the execution (a start, a restart, a `continueAsNew`: store-kit's
 * `writesInput`), read only by what answers a state with its input (a status read, a listing, a claim), and deleted
 * with the instance by every purge.
 */
export interface InputRecord {
  /**
   * The execution the input is of: a record whose execution is not the row's (code of an earlier layout started the
   * instance over, writing its input into the state, or purged it and left the record) is no input of the row's.
   */
  readonly executionId: string;
  /**
   * When the instance of that execution was created (ms): with the execution id, what names the run (see
   * {@link isRecordOf}). Absent in records written before it was kept.
   */
  readonly createdMs?: number;
  readonly input: unknown;
}

/**
 * True when `record` is the input record of the run `state` is of: the same execution id and, where the record keeps
 * it, the same creation time. The id alone is what the port promises unique, but a caller's own `newId` may repeat
 * it: a run of the instance created again (a restart, or a start over a purged or ended run, by code of an earlier
 * layout that left the record) with a repeated execution id is another run, created at another time, and the record
 * of the earlier one is no input of it. A record written before the creation time was kept is compared by its id.
 */
export function isRecordOf(record: Pick<InputRecord, 'executionId' | 'createdMs'> | undefined, state: Pick<InstanceState, 'executionId' | 'createdTime'>): boolean {
  return record !== undefined && record.executionId === state.executionId &&
    (record.createdMs === undefined || record.createdMs === state.createdTime.getTime());
}

/**
 * True when `record` is of a run created before the one `state` is of (it keeps its creation time, and that is
 * earlier). A commit of this layout that creates a run writes that run's record, or deletes the record, with it; so
 * such a record was left by code of an earlier layout still open in another tab, which started the run over a row whose
 * input was apart, copying that row's mark, and wrote no record: the run has no input there, and a state of it is
 * answered without one (as {@link stateWithInput} answers it). A record of a later run, or of the same time, or one that
 * does not keep its time, tells nothing of the kind.
 */
export function isEarlierRecord(record: Pick<InputRecord, 'createdMs'>, state: Pick<InstanceState, 'createdTime'>): boolean {
  return record.createdMs !== undefined && record.createdMs < state.createdTime.getTime();
}

/**
 * True when the input of `row`'s state is in the instance's {@link InputRecord}: the row says so and its state carries
 * no input of its own. A state with an `input` member was written by code of an earlier layout (a tab still open
 * during an upgrade that started the execution over over a row of this layout): its own input wins.
 */
export function isInputApart(row: InstanceRow): boolean {
  return row.inputApart === true && !Object.hasOwn(row.state, 'input');
}

/**
 * The state of `row` with its input: from `record` when the input is kept apart ({@link isInputApart}) and the record
 * is of the row's execution, else the state as stored (its input inline, or none).
 *
 * @example
 * ```ts
 * stateWithInput(row, await tx.getInput(row.id)); // what getInstance answers
 * ```
 */
export function stateWithInput(row: InstanceRow, record: InputRecord | undefined): InstanceState {
  if (!isInputApart(row) || !isRecordOf(record, row.state)) return row.state;
  return { ...row.state, input: record!.input };
}

/**
 * The execution whose {@link InputRecord} an instance has once a commit wrote its row: the row's, when the row keeps its
 * input apart ({@link isInputApart}), else none. What {@link startWithoutInput} stores a start against.
 */
export type RecordedExecution = Pick<InputRecord, 'executionId' | 'createdMs'>;

/** {@link RecordedExecution} of `row` as written (undefined: no row, or its input is not in a record). */
export function recordedExecutionOf(row: InstanceRow | undefined): RecordedExecution | undefined {
  return row && isInputApart(row) ? { executionId: row.state.executionId, createdMs: row.createdMs } : undefined;
}

/**
 * A start (an `ExecutionStarted` message or history event) as stored without its input: `inputInRecord` is the creation
 * time (ms) of the run whose input record holds it (with the event's `executionId`, what names the record: see
 * {@link isRecordOf}). Rows of KeyvalStore's layouts before 15 and DexieStore's before 9 hold their starts with the input.
 */
export type StoredEvent<E> = E & { readonly inputInRecord?: number };

/**
 * How a start is stored where its instance keeps the input of `recorded` apart (see {@link recordedExecutionOf}): the
 * one rule of both IndexedDB layouts for where a start's input lives. An `ExecutionStarted` of that execution with an
 * input leaves it out, and says so (`inputInRecord`): an execution's input is the one its start carries (`decideStart`,
 * a `continueAsNew`, a restart copy it into both the state and the start message, and the step that takes the message
 * records its event from it), so the record holds it already and the start is written without a second copy of up to
 * the input size limit (a fork's copied start too: `forkHistory` names the fork's execution on it). Anything else is
 * stored as it is: another event, a start of another execution, a start recorded without its input
 * (`payloadRefused`), an instance whose input is not in a record. {@link startWithInput} puts the input back where a
 * start is read.
 *
 * @example
 * ```ts
 * startWithoutInput(started, { executionId: 'exec-1', createdMs }); // { ...started without input, inputInRecord: createdMs }
 * startWithoutInput(raised, { executionId: 'exec-1', createdMs });  // raised, as it is
 * ```
 */
export function startWithoutInput<E extends HistoryEvent>(event: E, recorded: RecordedExecution | undefined): StoredEvent<E> {
  if (event.type !== 'ExecutionStarted' || recorded === undefined || recorded.createdMs === undefined) return event;
  if (event.executionId !== recorded.executionId || event.input === undefined) return event;
  const { input: _input, ...rest } = event;
  return { ...rest, inputInRecord: recorded.createdMs } as StoredEvent<E>;
}

/**
 * A stored start as read, with its input: from `record` when it was stored without it ({@link startWithoutInput}) and
 * `record` is that run's input record (else without one: the record went with a purge, and so did the start), else the
 * event as stored (an earlier layout's start with its input, or any other event).
 *
 * @example
 * ```ts
 * startWithInput(stored, await tx.getInput(instanceId)); // the ExecutionStarted event as it was committed
 * ```
 */
export function startWithInput<E extends HistoryEvent>(event: StoredEvent<E>, record: InputRecord | undefined): E {
  if (!isStoredApart(event)) return event;
  const { inputInRecord: createdMs, ...rest } = event as StoredEvent<ExecutionStartedEvent>;
  const own = isRecordOf(record, { executionId: rest.executionId, createdTime: new Date(createdMs!) });
  return (own ? { ...rest, input: record!.input } : rest) as unknown as E;
}

/** True when `event` is a start stored without its input ({@link startWithoutInput}). */
export function isStoredApart(event: HistoryEvent): boolean {
  return event.type === 'ExecutionStarted' && typeof (event as StoredEvent<HistoryEvent>).inputInRecord === 'number';
}

/** What a commit writes for a planned state: see {@link stateWriteOf}. */
export interface StateWrite {
  /** The row's own fields for the state (`id`, `state` without its input, `createdMs`, `status`, `inputApart`). */
  readonly row: InstanceRow;
  /** The input record to write; `null`: delete the instance's record; `undefined`: leave it as it is. */
  readonly input: InputRecord | null | undefined;
  /**
   * The state as stored, with its input, as a read answers it; `undefined` when the commit does not know it (a state of
   * the same execution given without its input: the stored one stays, unread).
   */
  readonly full: InstanceState | undefined;
}

/**
 * How a planned state is stored over the instance's row as the transaction read it (`stored`, undefined: none): the
 * row without the input, and the input record. The one rule of both IndexedDB layouts. The record is written when the
 * commit writes the input (store-kit's `writesInput`: a created or replaced instance, a new execution), and when the
 * stored row of an earlier layout holds its input in its state (it moves out at the instance's first write, so
 * opening an older database rewrites no row); a step of the same execution over a row whose input is apart writes no
 * input at all, whatever its state carries. A new execution without input deletes the record of the one it replaces.
 *
 * @example
 * ```ts
 * stateWriteOf(stepPlanned, storedRow);  // { row: { ..., inputApart: true }, input: undefined, full }: no input written
 * stateWriteOf(startPlanned, undefined); // { row, input: { executionId, createdMs, input }, full }
 * ```
 */
export function stateWriteOf(planned: PlannedState, stored: InstanceRow | undefined): StateWrite {
  const { input: given, ...state } = planned.state;
  let input = given;
  if (stored && !writesInput(planned)) {
    // The execution's input is stored already: apart, it is not written again; in the state of an earlier layout's
    // row, it moves out now.
    if (isInputApart(stored)) {
      return { row: { ...instanceRow(state), inputApart: true }, input: undefined, full: Object.hasOwn(planned.state, 'input') ? planned.state : undefined };
    }
    input = stored.state.input;
  }
  if (input === undefined) return { row: instanceRow(state), input: stored?.inputApart ? null : undefined, full: state };
  return {
    row: { ...instanceRow(state), inputApart: true },
    input: { executionId: state.executionId, createdMs: state.createdTime.getTime(), input },
    full: input === given ? planned.state : { ...state, input },
  };
}

/** A pending message. `seq` orders messages by arrival, across tabs (it comes from the database). */
export interface MessageRow {
  readonly seq: number;
  readonly instanceId: string;
  /** `message.visibleAt` in ms, 0 when visible at once. */
  readonly visibleMs: number;
  readonly message: OrchestrationMessage;
}

/** An activity task with its lease. */
export interface TaskRow {
  readonly seq: number;
  readonly id: string;
  readonly instanceId: string;
  /** When the task can be claimed: 0, or the expiry of its lease. */
  readonly readyMs: number;
  readonly task: ActivityTask;
  readonly lease?: Lease;
}

/** A task row before the database gave it a sequence number. */
export type NewTaskRow = Omit<TaskRow, 'seq'>;

/** A message row before the database gave it a sequence number. */
export type NewMessageRow = Omit<MessageRow, 'seq'>;

/**
 * The history events one write appended, stored together from position `seq` (one row per step, not per event).
 * Rows of an instance cover positions 0, 1, ... without gaps. Layout version 1 stored one `event` per row; both
 * shapes are read.
 */
export interface HistoryRow {
  readonly instanceId: string;
  readonly seq: number;
  readonly events?: readonly HistoryEvent[];
  /** Layout version 1: a single event. */
  readonly event?: HistoryEvent;
}

/** The events of a stored history row or value (a batch, or a single event of layout version 1). */
export function eventsOf(stored: readonly HistoryEvent[] | HistoryEvent | undefined): readonly HistoryEvent[] {
  if (stored === undefined) return [];
  return Array.isArray(stored) ? stored : [stored as HistoryEvent];
}

/**
 * The events of history rows (in position order, the first at position `firstSeq`, default 0) at positions `from`
 * and later, before `to` (default: all).
 */
export function historyFrom(rows: readonly (readonly HistoryEvent[])[], from: number, firstSeq = 0, to = Infinity): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const batch of rows) events.push(...batch);
  return from > firstSeq || to - firstSeq < events.length ? events.slice(from - firstSeq, to - firstSeq) : events;
}

/** The claim-schedule fields of an {@link InstanceRow}. */
export type QueueFields = Pick<InstanceRow, 'minVisibleMs' | 'headSeq' | 'readyMs' | 'pendingCount'>;

/** A fresh row for `state`, without lease or pending messages. */
export function instanceRow(state: InstanceState): InstanceRow {
  return { id: state.instanceId, state, createdMs: state.createdTime.getTime(), status: state.runtimeStatus };
}

/** The claim schedule of an instance holding `lease` (if any) with exactly these pending messages. */
export function queueFieldsOf(lease: Lease | undefined, pending: readonly MessageRow[]): QueueFields {
  if (pending.length === 0) return {};
  let minVisibleMs = Infinity;
  let headSeq = Infinity;
  for (const m of pending) {
    minVisibleMs = Math.min(minVisibleMs, m.visibleMs);
    headSeq = Math.min(headSeq, m.seq);
  }
  return { minVisibleMs, headSeq, readyMs: claimableAtMs(lease?.expiresAt, minVisibleMs), pendingCount: pending.length };
}

/** The claim schedule after one more message arrived (no need to read the others). */
export function queueFieldsAfterEnqueue(row: InstanceRow, message: MessageRow): QueueFields {
  const minVisibleMs = Math.min(row.minVisibleMs ?? Infinity, message.visibleMs);
  const pendingCount = row.headSeq === undefined ? 1 : row.pendingCount === undefined ? undefined : row.pendingCount + 1;
  return {
    minVisibleMs,
    headSeq: row.headSeq ?? message.seq,
    readyMs: claimableAtMs(row.lease?.expiresAt, minVisibleMs),
    ...(pendingCount === undefined ? {} : { pendingCount }),
  };
}

/**
 * The row with `lease` (if any) and the claim schedule of exactly these pending messages, or `undefined` when that is
 * the row as it is: the same lease and schedule, so there is nothing to write (a client's commit of no request, a
 * command that changes nothing: an HTTP retry of a suspend before the start, which releases no lease and leaves the
 * same start message pending).
 *
 * @example
 * ```ts
 * rescheduled(row, undefined, pending) ?? row; // the row to keep, written only when it changed
 * ```
 */
export function rescheduled(row: InstanceRow, lease: Lease | undefined, pending: readonly MessageRow[]): InstanceRow | undefined {
  const fields = queueFieldsOf(lease, pending);
  if (lease === row.lease && fields.minVisibleMs === row.minVisibleMs && fields.headSeq === row.headSeq
    && fields.readyMs === row.readyMs && fields.pendingCount === row.pendingCount) return undefined;
  return withQueueFields(row, lease, fields);
}

/**
 * The row with its lease released: no lease, and the claim schedule of exactly these pending messages (claimable as
 * soon as they are visible). What `releaseOwner` does to an instance, and an upgrade of DexieStore's database to those
 * of the tabs it closed.
 */
export function releasedInstance(row: InstanceRow, pending: readonly MessageRow[]): InstanceRow {
  return withQueueFields(row, undefined, queueFieldsOf(undefined, pending));
}

/** The task with its lease released: no lease, claimable at once. */
export function releasedTask(row: TaskRow): TaskRow {
  const { lease: _lease, ...rest } = row;
  return { ...rest, readyMs: 0 };
}

/** Replaces the claim-schedule fields of a row (dropping absent ones). */
export function withQueueFields(row: InstanceRow, lease: Lease | undefined, fields: QueueFields): InstanceRow {
  const { lease: _l, minVisibleMs: _m, headSeq: _h, readyMs: _r, pendingCount: _c, ...rest } = row;
  return { ...rest, ...(lease ? { lease } : {}), ...fields };
}

/**
 * The row of a new pending message, a start stored without its input where the instance keeps the input of `recorded`
 * apart ({@link startWithoutInput}: read back with {@link messageWithInput}).
 */
export function messageRow(message: OrchestrationMessage, recorded?: RecordedExecution): NewMessageRow {
  const event = startWithoutInput(message.event, recorded);
  return { instanceId: message.instanceId, visibleMs: dueAtMs(message), message: event === message.event ? message : { ...message, event } };
}

/** A pending message as read, its start with its input ({@link startWithInput}). */
export function messageWithInput(message: OrchestrationMessage, record: InputRecord | undefined): OrchestrationMessage {
  return isStoredApart(message.event) ? { ...message, event: startWithInput(message.event, record) } : message;
}
