import { Subject, type Observable } from 'rxjs';
import { InstanceNotTerminalError } from '../model/errors/instance-not-terminal-error.js';
import { LeaseLostError } from '../model/errors/lease-lost-error.js';
import { StoreClosedError } from '../model/errors/store-closed-error.js';
import type { HistoryEvent } from '../model/history-event.js';
import { isTerminalStatus, type InstanceState } from '../model/instance-status.js';
import type { ActivityTask, Lease, OrchestrationMessage } from '../model/message.js';
import { validateInstanceQuery, validatePurgeFilter } from '../model/validation.js';
import type { WriteSet } from '../model/write-set.js';
import { instanceIdsOf, leaseLostError, planWriteSet } from './plan-write-set.js';
import type {
  ActivityWorkItem, ClaimOptions, InstancePage, InstanceQuery, OrchestrationWorkItem, PurgeFilter, StatusChange, Store,
  StoreCapabilities,
} from './store.js';
import {
  claimableAtMs, comparePageKeys, copyStoreValue, decodeContinuationToken, dueAtMs, encodeContinuationToken, isDue, isVisible,
  matchesPurgeFilter, matchesQuery, pageKeyOf, pageSizeOf,
} from './store-helpers.js';

interface InstanceRecord {
  state: InstanceState;
  history: HistoryEvent[];
  lease: Lease | undefined;
}

interface TaskRecord {
  task: ActivityTask;
  lease: Lease | undefined;
}

/**
 * The embedded default store: everything in memory, in one process. Not durable, not shared between processes;
 * several runtimes in one process may share one MemoryStore (leases keep their steps apart).
 *
 * @example
 * ```ts
 * const runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities });
 * ```
 */
export class MemoryStore implements Store {
  readonly capabilities: StoreCapabilities = { name: 'memory', shared: false, durable: false };

  readonly #instances = new Map<string, InstanceRecord>();
  /** Pending messages per instance, in arrival order. Map order approximates "oldest waiting instance first". */
  readonly #messages = new Map<string, OrchestrationMessage[]>();
  /** Activity tasks in scheduling order. */
  readonly #tasks = new Map<string, TaskRecord>();
  readonly #changes = new Subject<StatusChange>();
  readonly #work = new Subject<void>();
  #closed: Promise<void> | undefined;

  readonly changes$: Observable<StatusChange> = this.#changes.asObservable();
  readonly workAvailable$: Observable<void> = this.#work.asObservable();

  async claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined> {
    this.#ensureOpen();
    for (const [instanceId, queue] of this.#messages) {
      const record = this.#instances.get(instanceId);
      if (!record) continue;
      if (record.lease && !isDue(record.lease.expiresAt.getTime(), options.now)) continue;
      const visible = queue.filter((m) => isVisible(m, options.now));
      if (visible.length === 0) continue;
      record.lease = newLease(options);
      return clone({ state: record.state, messages: visible, lease: record.lease });
    }
    return undefined;
  }

  /**
   * The reference executor: checks the lease, lets `planWriteSet` decide the write set's conditions against the
   * stored instances, then writes the plan. Nothing here is a domain rule; everything runs synchronously, so the
   * write set is atomic.
   */
  async commit(writeSet: WriteSet): Promise<void> {
    this.#ensureOpen();
    const { lease } = writeSet;
    if (lease) {
      const held = lease.kind === 'orchestration'
        ? this.#instances.get(lease.instanceId)?.lease
        : this.#tasks.get(lease.taskId)?.lease;
      if (held?.token !== lease.token) throw leaseLostError(lease);
    }
    const stored = new Map(instanceIdsOf(writeSet).map((id) => [id, this.#instances.get(id)?.state]));
    const plan = clone(planWriteSet(writeSet, stored));

    for (const id of plan.replaced) this.#dropPending(id);
    for (const { state, isNew } of plan.states) {
      const record = this.#instances.get(state.instanceId);
      if (record && !isNew) record.state = state;
      else this.#instances.set(state.instanceId, { state, history: [], lease: undefined });
    }
    if (lease?.kind === 'orchestration') this.#instances.get(lease.instanceId)!.lease = undefined;
    for (const { instanceId, replace, events } of plan.history) {
      const record = this.#instances.get(instanceId);
      if (!record) continue;
      if (replace) record.history = [...events];
      else record.history.push(...events); // append in place: a step costs O(new events), not O(history)
    }
    for (const { instanceId, messageIds } of plan.deleteMessages) {
      const consumed = new Set(messageIds);
      const queue = this.#messages.get(instanceId)?.filter((m) => !consumed.has(m.id)) ?? [];
      if (queue.length > 0) this.#messages.set(instanceId, queue);
      else this.#messages.delete(instanceId);
    }
    for (const taskId of plan.deleteTasks) this.#tasks.delete(taskId);
    for (const task of plan.insertTasks) this.#tasks.set(task.id, { task, lease: undefined });
    for (const message of plan.insertMessages) this.#enqueue(message);
    for (const change of plan.changes) this.#emit(change.instanceId, change.state);
    if (plan.work) this.#work.next();
  }

  async abandonOrchestration(instanceId: string, leaseToken: string): Promise<void> {
    this.#ensureOpen();
    const record = this.#instances.get(instanceId);
    if (record?.lease?.token === leaseToken) {
      record.lease = undefined;
      this.#work.next();
    }
  }

  async claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined> {
    this.#ensureOpen();
    for (const record of this.#tasks.values()) {
      if (record.lease && !isDue(record.lease.expiresAt.getTime(), options.now)) continue;
      record.lease = newLease(options);
      return clone({ task: record.task, lease: record.lease });
    }
    return undefined;
  }

  async abandonActivity(taskId: string, leaseToken: string): Promise<void> {
    this.#ensureOpen();
    const record = this.#tasks.get(taskId);
    if (record?.lease?.token === leaseToken) {
      record.lease = undefined;
      this.#work.next();
    }
  }

  async renewActivityLease(taskId: string, leaseToken: string, expiresAt: Date): Promise<void> {
    this.#ensureOpen();
    const record = this.#tasks.get(taskId);
    if (!record?.lease || record.lease.token !== leaseToken) {
      throw new LeaseLostError(`Lease on activity task ${JSON.stringify(taskId)} is no longer held`);
    }
    record.lease = { ...record.lease, expiresAt: new Date(expiresAt.getTime()) };
  }

  async getInstance(instanceId: string): Promise<InstanceState | undefined> {
    this.#ensureOpen();
    const record = this.#instances.get(instanceId);
    return record ? clone(record.state) : undefined;
  }

  async getHistory(instanceId: string, options?: { readonly fromIndex?: number }): Promise<HistoryEvent[]> {
    this.#ensureOpen();
    const history = this.#instances.get(instanceId)?.history ?? [];
    return clone(history.slice(options?.fromIndex ?? 0));
  }

  async queryInstances(request: InstanceQuery): Promise<InstancePage> {
    const query = validateInstanceQuery(request); // the shared rule: unknown statuses and non-arrays are refused
    this.#ensureOpen();
    const pageSize = pageSizeOf(query);
    const after = query.continuationToken === undefined ? undefined : decodeContinuationToken(query.continuationToken);
    const matching = [...this.#instances.values()]
      .map((r) => r.state)
      .filter((s) => matchesQuery(s, query) && (!after || comparePageKeys(pageKeyOf(s), after) > 0))
      .sort((a, b) => comparePageKeys(pageKeyOf(a), pageKeyOf(b)));
    const page = matching.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      instances: clone(page),
      ...(matching.length > pageSize && last ? { continuationToken: encodeContinuationToken(pageKeyOf(last)) } : {}),
    };
  }

  async purgeInstance(instanceId: string): Promise<number> {
    this.#ensureOpen();
    const record = this.#instances.get(instanceId);
    if (!record) return 0;
    if (!isTerminalStatus(record.state.runtimeStatus)) {
      throw new InstanceNotTerminalError(`Instance ${JSON.stringify(instanceId)} is ${record.state.runtimeStatus}; only terminal instances can be purged`);
    }
    this.#delete(instanceId);
    return 1;
  }

  async purgeInstances(request: PurgeFilter): Promise<number> {
    const filter = validatePurgeFilter(request); // refused before anything is deleted
    this.#ensureOpen();
    const ids = [...this.#instances.values()].filter((r) => matchesPurgeFilter(r.state, filter)).map((r) => r.state.instanceId);
    for (const id of ids) this.#delete(id);
    return ids.length;
  }

  async nextWakeTime(_now: Date): Promise<Date | undefined> {
    this.#ensureOpen();
    // Every message not yet claimed counts, including those due already (see `claimableAtMs`).
    let next = Infinity;
    for (const [instanceId, queue] of this.#messages) {
      const record = this.#instances.get(instanceId);
      if (!record) continue;
      let due = Infinity;
      for (const m of queue) due = Math.min(due, dueAtMs(m));
      if (due !== Infinity) next = Math.min(next, claimableAtMs(record.lease?.expiresAt, due));
    }
    for (const { lease } of this.#tasks.values()) {
      next = Math.min(next, claimableAtMs(lease?.expiresAt, 0));
    }
    return next === Infinity ? undefined : new Date(next);
  }

  close(): Promise<void> {
    this.#closed ??= Promise.resolve().then(() => {
      this.#changes.complete();
      this.#work.complete();
    });
    return this.#closed;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new StoreClosedError('The store is closed');
  }

  #delete(instanceId: string): void {
    this.#instances.delete(instanceId);
    this.#dropPending(instanceId);
    this.#emit(instanceId, undefined);
  }

  #dropPending(instanceId: string): void {
    const record = this.#instances.get(instanceId);
    if (record) record.history = [];
    this.#messages.delete(instanceId);
    for (const [id, record] of this.#tasks) if (record.task.instanceId === instanceId) this.#tasks.delete(id);
  }

  #enqueue(message: OrchestrationMessage): void {
    const queue = this.#messages.get(message.instanceId);
    if (queue) queue.push(message);
    else this.#messages.set(message.instanceId, [message]);
  }

  #emit(instanceId: string, state: InstanceState | undefined): void {
    this.#changes.next({ instanceId, state: state === undefined ? undefined : clone(state) });
  }
}

function newLease(options: ClaimOptions): Lease {
  return { owner: options.owner, token: crypto.randomUUID(), expiresAt: new Date(options.now.getTime() + options.leaseMs) };
}

function clone<T>(value: T): T {
  return copyStoreValue(value);
}
