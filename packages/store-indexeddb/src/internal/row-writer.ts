import { dueAtMs, signalsWork, type InstanceState, type OrchestrationMessage, type WritePlan } from '@durable-rx/runtime/store-kit';
import {
  isInputApart, messageRow, queueFieldsAfterEnqueue, recordedExecutionOf, rescheduled, startWithoutInput, stateWriteOf, withQueueFields,
  type InstanceRow, type MessageRow, type StoredEvent, type TaskRow,
} from './rows.js';
import type { HistoryEvent } from '@durable-rx/runtime';
import type { BackendTransaction } from './store-backend.js';
import type { ExecutionInputs } from './execution-inputs.js';
import type { FeedChange } from './version-gate.js';

interface Entry {
  /** The row as the database has it (index entries of it may need removing). */
  original: InstanceRow | undefined;
  row: InstanceRow | undefined;
  dirty: boolean;
}

/**
 * Messages the store wrote ahead of its reads ({@link BackendTransaction.addMessageAhead}), by message id, with the
 * number the database gives each and the `visibleMs` they were written with.
 */
export type MessagesAhead = ReadonlyMap<string, {
  readonly instanceId: string;
  readonly visibleMs: number;
  /** The start was stored without its input, against the run created at this time (see `startWithoutInput`). */
  readonly inputInRecord: number | undefined;
  readonly seq: Promise<number>;
}>;

/** What the store read under the write set's lease before planning it. */
export interface LeasedRows {
  /**
   * The instance whose orchestration lease the write set releases, with its pending messages, or `allConsumed` when
   * the write set consumes every one of them (they are then deleted by range, without being read).
   */
  readonly instance?: { readonly id: string; readonly pending: readonly MessageRow[] | 'allConsumed' };
  /** The activity task of an activity lease. */
  readonly task?: TaskRow;
}

/**
 * Writes a {@link WritePlan} into one IndexedDB transaction. The instance rows it touches stay in memory until
 * {@link RowWriter.flush}, so that a commit that creates a sub-instance and then messages it (or times itself) updates
 * each row once, consistently. It keeps the claim schedule of each row (`readyMs`, `headSeq`) in step with the
 * pending messages, and records the snapshots to publish and whether claimable work was written. Every decision was
 * made by `planWriteSet`; this is only how rows, indexes and sequence numbers change.
 */
export class RowWriter {
  readonly #tx: BackendTransaction;
  readonly #entries = new Map<string, Entry>();
  /**
   * The states this transaction wrote, with their inputs (the row's state has none when it is kept apart), or
   * `undefined` where the commit does not know it (see {@link StateWrite.full}); a purged instance's is `undefined` too.
   */
  readonly #states = new Map<string, InstanceState | undefined>();
  /**
   * The instances whose written row keeps its input apart in a record this commit did not write (a step of an
   * execution, its end): their changes are marked {@link FeedChange.inputApart}.
   */
  readonly #inputKept = new Set<string>();
  /** Snapshots to publish after the commit, in commit order. */
  readonly changes: FeedChange[] = [];
  /** True when claimable work was written (a message, an unleased task) or released (a lease on pending messages). */
  work = false;
  /** True when a task or instance was stored leased to the committing worker: other workers must time its lease expiry. */
  leasedWork = false;
  /** Instances this write left claimable at any time (`readyMs` 0: a message visible at once, no lease), after {@link flush}. */
  readonly claimable: string[] = [];

  constructor(tx: BackendTransaction) {
    this.#tx = tx;
  }

  /** The current row of an instance (as this transaction has changed it). */
  async get(instanceId: string): Promise<InstanceRow | undefined> {
    const known = this.#entries.get(instanceId);
    if (known) return known.row;
    const original = await this.#tx.getInstance(instanceId);
    this.#entries.set(instanceId, { original, row: original, dirty: false });
    return original;
  }

  /**
   * The state of an instance as this transaction leaves it, if the transaction read it: `{ state }` (undefined: no
   * such instance), else `undefined`. Once the transaction committed, that is the committed state. The input of a
   * row that keeps it apart, which the transaction did not write, is the one `inputs` knows for the row's execution
   * (see {@link ExecutionInputs}): unknown there, the state is unknown too.
   */
  stateOf(instanceId: string, inputs?: ExecutionInputs): { readonly state: InstanceState | undefined } | undefined {
    const entry = this.#entries.get(instanceId);
    if (!entry) return undefined;
    const { row } = entry;
    if (!row) return { state: undefined };
    if (this.#states.has(instanceId)) {
      const written = this.#states.get(instanceId);
      return written ? { state: written } : undefined;
    }
    // The state with its input: a row's that holds it (inline, or none), else the one known for its execution.
    if (!isInputApart(row)) return { state: row.state };
    const known = inputs?.get(instanceId, row.state);
    return known ? { state: { ...row.state, input: known } } : undefined;
  }

  /**
   * Writes a planned write set; read every instance of it with {@link RowWriter.get} first. A message of the plan that
   * was written `ahead` is kept (the instance's claim schedule takes its number); one the plan does not deliver, or
   * that a replaced instance's dropped messages took with them, is deleted.
   */
  async apply(plan: WritePlan, leased: LeasedRows, ahead?: MessagesAhead): Promise<void> {
    const tx = this.#tx;
    for (const id of plan.replaced) this.#dropPending(id);
    for (const planned of plan.states) {
      const { state, isNew, lease } = planned;
      const id = state.instanceId;
      const stored = this.#cached(id);
      // The row without the input, and the input record: written by the commit that creates the execution, not by its steps.
      const write = stateWriteOf(planned, stored);
      if (write.input === null) tx.deleteInput(id);
      else if (write.input) tx.putInput(id, write.input);
      this.#states.set(id, write.full);
      if (write.row.inputApart === true && write.input === undefined) this.#inputKept.add(id);
      else this.#inputKept.delete(id);
      const kept = isNew ? undefined : stored && withoutInputApart(stored);
      this.#set(kept ? { ...kept, ...write.row } : lease ? { ...write.row, lease } : write.row);
      // Created leased to the committing worker: other workers time the lease expiry.
      if (lease) this.leasedWork = true;
    }
    // After the states: a start of the execution whose input record the instance has once they are written is stored
    // without its input (see startWithoutInput).
    for (const { instanceId, replace, from, events } of plan.history) {
      if (replace) tx.deleteHistory(instanceId);
      const recorded = recordedExecutionOf(this.#cached(instanceId));
      tx.appendHistory(instanceId, from, recorded ? events.map((event) => startWithoutInput(event, recorded)) : events);
    }
    // The pending messages of the leased instance after this commit decide its claim schedule; its lease goes.
    const deleted = new Set<string>();
    for (const { instanceId, messageIds } of plan.deleteMessages) {
      const known = instanceId === leased.instance?.id ? leased.instance.pending : undefined;
      if (known === 'allConsumed') {
        // A single pending message is the row's head: deleted by its key, without a range scan.
        const original = this.#entries.get(instanceId)?.original;
        if (original?.pendingCount === 1 && original.headSeq !== undefined) tx.deleteMessages([{ instanceId, seq: original.headSeq }]);
        else tx.deleteMessagesOf(instanceId);
        continue;
      }
      const pending = known ?? await tx.listMessages(instanceId);
      const ids = new Set(messageIds);
      tx.deleteMessages(pending.filter((m) => ids.has(m.message.id)));
      if (instanceId === leased.instance?.id) for (const id of ids) deleted.add(id);
      else this.#reschedule(instanceId, pending.filter((m) => !ids.has(m.message.id)), true);
    }
    // What signalsWork reads of the released instance: whether a lease (live or expired) is stored on it, the one the
    // reschedule releases, and whether messages it had are left pending (those the plan adds are its `work`; a
    // replaced instance was rewritten without a lease and has only those).
    let leaseStored = false;
    let pendingLeft = false;
    if (leased.instance && !plan.replaced.includes(leased.instance.id)) {
      const { pending } = leased.instance;
      const remaining = pending === 'allConsumed' ? [] : pending.filter((m) => !deleted.has(m.message.id));
      leaseStored = this.#cached(leased.instance.id)?.lease !== undefined;
      pendingLeft = remaining.length > 0;
      this.#reschedule(leased.instance.id, remaining, false);
    }
    const deletedTasks: TaskRow[] = [];
    for (const taskId of plan.deleteTasks) {
      const row = leased.task?.id === taskId ? leased.task : await tx.getTask(taskId);
      if (row) deletedTasks.push(row);
    }
    for (const task of plan.insertTasks) {
      const lease = plan.taskLeases.find((l) => l.taskId === task.id)?.lease;
      const row = { id: task.id, instanceId: task.instanceId, readyMs: lease ? lease.expiresAt.getTime() : 0, task, ...(lease ? { lease } : {}) };
      // A step that completes one activity and schedules the next replaces the row (one write where the layout allows);
      // only a task of the same instance, as a layout may keep an instance's task in the instance's own row.
      const at = deletedTasks.findLastIndex((row) => row.instanceId === task.instanceId);
      const replaced = at < 0 ? undefined : deletedTasks.splice(at, 1)[0];
      if (replaced) tx.replaceTask(replaced, row);
      else tx.addTask(row);
      if (lease) this.leasedWork = true;
    }
    for (const row of deletedTasks) tx.deleteTask(row);
    const unused = new Map(ahead);
    for (const message of plan.insertMessages) {
      const stored = unused.get(message.id);
      // A replaced instance's messages were dropped above, a message stored ahead of that with them. One the plan
      // delivers later than it was written (held until a delayed start's time, `heldUntilStart`) is written again as
      // delivered, and the one stored ahead deleted: a row visible sooner would let a claim hand it out without its start.
      // So is one stored ahead with or without its input as it is not now (a start's instance turned out not created).
      const kept = stored?.instanceId === message.instanceId && stored.visibleMs === dueAtMs(message) && !plan.replaced.includes(message.instanceId)
        && stored.inputInRecord === inputInRecordOf(message, this.#cached(message.instanceId)) ? stored : undefined;
      if ((await this.#enqueue(message, kept?.seq)) && kept) unused.delete(message.id);
    }
    for (const { instanceId, seq } of unused.values()) tx.deleteMessages([{ instanceId, seq: await seq }]);
    // The raise-key records a keyed raise or signal-with-start remembered a key in (their states are not written).
    for (const { instanceId, keys } of plan.raiseKeys) tx.putRaiseKeys(instanceId, keys);
    for (const { instanceId, previousVersion, state } of plan.changes) {
      this.changes.push(this.#inputKept.has(instanceId) ? { instanceId, after: previousVersion, state, inputApart: true } : { instanceId, after: previousVersion, state });
    }
    // Released with messages still pending, they are claimable again (at once, or when the first is visible); a signal
    // wakes this tab's and every other tab's worker, so none is sent for a commit that left claimable only what was.
    if (signalsWork(plan, leaseStored, pendingLeft)) this.work = true;
  }

  /**
   * Appends a message after all earlier ones of its instance (false, writing nothing, when it does not exist), or
   * takes the one stored ahead. Whether that is work to signal is the plan's `work` (a message to an instance created
   * leased is not claimable yet).
   */
  async #enqueue(message: OrchestrationMessage, storedAhead: Promise<number> | undefined): Promise<boolean> {
    const row = await this.get(message.instanceId);
    if (!row) return false;
    const newRow = messageRow(message, recordedExecutionOf(row));
    const added = storedAhead ?? this.#tx.addMessage(newRow, row);
    if (typeof added === 'number') {
      this.#set(withQueueFields({ ...row, tailSeq: added }, row.lease, queueFieldsAfterEnqueue(row, { ...newRow, seq: added })));
    } else {
      // The new sequence number only matters when this is the instance's oldest pending message.
      const seq = row.headSeq ?? (await added);
      this.#set(withQueueFields(row, row.lease, queueFieldsAfterEnqueue(row, { ...newRow, seq })));
    }
    return true;
  }

  /**
   * Deletes an instance with its history, messages, tasks, raise-key record and input record (read it with
   * {@link RowWriter.get} first; the transaction's scope has `raiseKeys` and `inputs`). The input record goes whatever
   * the row says: code of an earlier layout may have left one behind it.
   */
  remove(row: InstanceRow): void {
    this.#tx.deleteInstance(this.#entries.get(row.id)?.original ?? row);
    this.#tx.deleteRaiseKeys(row.id);
    this.#tx.deleteInput(row.id);
    this.#states.set(row.id, undefined);
    this.#inputKept.delete(row.id);
    this.#dropPending(row.id);
    this.#entries.set(row.id, { original: undefined, row: undefined, dirty: false });
    const { executionId, version } = row.state;
    this.changes.push({ instanceId: row.id, after: version, state: undefined, purged: { executionId, version } });
  }

  /** Writes every changed row. */
  flush(): void {
    for (const entry of this.#entries.values()) {
      if (entry.dirty && entry.row) {
        this.#tx.putInstance(entry.row, entry.original);
        entry.original = entry.row;
        if (entry.row.readyMs === 0) this.claimable.push(entry.row.id);
      }
      entry.dirty = false;
    }
  }

  /** Sets the claim schedule of an instance to exactly these pending messages, keeping or dropping its lease. */
  #reschedule(instanceId: string, remaining: readonly MessageRow[], keepLease: boolean): void {
    const row = this.#cached(instanceId);
    if (!row) return;
    // The same lease and schedule (a client's commit of no request, a command that changes nothing): not written again.
    const changed = rescheduled(row, keepLease ? row.lease : undefined, remaining);
    if (changed) this.#set(changed);
  }

  #cached(instanceId: string): InstanceRow | undefined {
    return this.#entries.get(instanceId)?.row;
  }

  #set(row: InstanceRow): void {
    const entry = this.#entries.get(row.id);
    if (entry) {
      entry.row = row;
      entry.dirty = true;
    } else {
      this.#entries.set(row.id, { original: undefined, row, dirty: true });
    }
  }

  #dropPending(instanceId: string): void {
    this.#tx.deleteHistory(instanceId);
    this.#tx.deleteMessagesOf(instanceId);
    this.#tx.deleteTasksOf(instanceId);
  }
}

/** The `inputInRecord` of `message` as stored for the instance's row `row` (see `startWithoutInput`). */
function inputInRecordOf(message: OrchestrationMessage, row: InstanceRow | undefined): number | undefined {
  return (messageRow(message, recordedExecutionOf(row)).message.event as StoredEvent<HistoryEvent>).inputInRecord;
}

/** A row without its {@link InstanceRow.inputApart} mark: a state written over it says where its input is. */
function withoutInputApart(row: InstanceRow): InstanceRow {
  if (row.inputApart === undefined) return row;
  const { inputApart: _apart, ...rest } = row;
  return rest;
}
