import { Subject, type Observable } from 'rxjs';
import { InstanceAlreadyExistsError } from '../model/errors/instance-already-exists-error.js';
import { InstanceNotFoundError } from '../model/errors/instance-not-found-error.js';
import { InstanceNotTerminalError } from '../model/errors/instance-not-terminal-error.js';
import { LeaseLostError } from '../model/errors/lease-lost-error.js';
import { StoreClosedError } from '../model/errors/store-closed-error.js';
import type { HistoryEvent } from '../model/history-event.js';
import { isTerminalStatus, type InstanceState } from '../model/instance-status.js';
import type { ActivityTask, Lease, OrchestrationMessage } from '../model/message.js';
import { validateInstanceQuery, validatePurgeFilter } from '../model/validation.js';
import type {
  ActivityCompletion, ActivityWorkItem, ClaimOptions, CreateInstanceRequest, InstancePage, InstanceQuery,
  OrchestrationCommit, OrchestrationWorkItem, PurgeFilter, StatusChange, Store, StoreCapabilities,
} from './store.js';
import {
  comparePageKeys, copyStoreValue, decodeContinuationToken, encodeContinuationToken, isVisible, matchesPurgeFilter, matchesQuery,
  pageKeyOf, pageSizeOf, resolveSubInstance,
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

  async createInstance(request: CreateInstanceRequest): Promise<void> {
    this.#ensureOpen();
    const existing = this.#instances.get(request.state.instanceId);
    if (existing && !isTerminalStatus(existing.state.runtimeStatus)) {
      throw new InstanceAlreadyExistsError(`Instance ${JSON.stringify(request.state.instanceId)} already exists and is ${existing.state.runtimeStatus}`);
    }
    this.#create(request, existing);
    this.#work.next();
  }

  async sendMessage(message: OrchestrationMessage): Promise<void> {
    this.#ensureOpen();
    if (!this.#instances.has(message.instanceId)) {
      throw new InstanceNotFoundError(`No instance with id ${JSON.stringify(message.instanceId)}`);
    }
    this.#enqueue(clone(message));
    this.#work.next();
  }

  async claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined> {
    this.#ensureOpen();
    const now = options.now.getTime();
    for (const [instanceId, queue] of this.#messages) {
      const record = this.#instances.get(instanceId);
      if (!record) continue;
      if (record.lease && record.lease.expiresAt.getTime() > now) continue;
      const visible = queue.filter((m) => isVisible(m, options.now));
      if (visible.length === 0) continue;
      record.lease = newLease(options);
      return clone({ state: record.state, messages: visible, lease: record.lease });
    }
    return undefined;
  }

  async commitOrchestration(commit: OrchestrationCommit): Promise<void> {
    this.#ensureOpen();
    const record = this.#instances.get(commit.instanceId);
    if (!record || record.lease?.token !== commit.leaseToken) {
      throw new LeaseLostError(`Lease on ${JSON.stringify(commit.instanceId)} is no longer held; the step was not committed`);
    }
    const c = clone(commit);
    record.state = c.state;
    if (c.replaceHistory) record.history = [...c.history];
    else record.history.push(...c.history); // append in place: a step costs O(new events), not O(history)
    record.lease = undefined;
    const consumed = new Set(c.consumedMessageIds);
    const queue = this.#messages.get(c.instanceId)?.filter((m) => !consumed.has(m.id)) ?? [];
    if (queue.length > 0) this.#messages.set(c.instanceId, queue);
    else this.#messages.delete(c.instanceId);
    for (const task of c.activityTasks) this.#tasks.set(task.id, { task, lease: undefined });
    for (const sub of c.subInstances) {
      const existing = this.#instances.get(sub.state.instanceId);
      const decision = resolveSubInstance(existing?.state, sub);
      if (decision.create) this.#create(sub, existing);
      else this.#enqueue(decision.message);
    }
    for (const message of c.messages) if (this.#instances.has(message.instanceId)) this.#enqueue(message);
    this.#emit(c.instanceId, c.state);
    this.#work.next();
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
    const now = options.now.getTime();
    for (const record of this.#tasks.values()) {
      if (record.lease && record.lease.expiresAt.getTime() > now) continue;
      record.lease = newLease(options);
      return clone({ task: record.task, lease: record.lease });
    }
    return undefined;
  }

  async completeActivity(completion: ActivityCompletion): Promise<void> {
    this.#ensureOpen();
    const record = this.#tasks.get(completion.taskId);
    if (!record || record.lease?.token !== completion.leaseToken) {
      throw new LeaseLostError(`Lease on activity task ${JSON.stringify(completion.taskId)} is no longer held`);
    }
    this.#tasks.delete(completion.taskId);
    const instance = this.#instances.get(record.task.instanceId);
    if (instance && instance.state.executionId === record.task.executionId) {
      this.#enqueue(clone(completion.result));
      this.#work.next();
    }
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

  async nextWakeTime(now: Date): Promise<Date | undefined> {
    this.#ensureOpen();
    const t = now.getTime();
    let next = Infinity;
    for (const [instanceId, queue] of this.#messages) {
      const lease = this.#instances.get(instanceId)?.lease;
      if (lease && lease.expiresAt.getTime() > t) next = Math.min(next, lease.expiresAt.getTime());
      for (const m of queue) if (m.visibleAt && m.visibleAt.getTime() > t) next = Math.min(next, m.visibleAt.getTime());
    }
    for (const { lease } of this.#tasks.values()) {
      if (lease && lease.expiresAt.getTime() > t) next = Math.min(next, lease.expiresAt.getTime());
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

  #create(request: CreateInstanceRequest, existing: InstanceRecord | undefined): void {
    const { message } = clone(request);
    // Replacing an instance continues its version so change-feed subscribers see the new execution as newer.
    const state = { ...clone(request.state), version: (existing?.state.version ?? 0) + 1 };
    const id = state.instanceId;
    if (existing) this.#dropPending(id);
    this.#instances.set(id, { state, history: [], lease: undefined });
    this.#enqueue(message);
    this.#emit(id, state);
  }

  #delete(instanceId: string): void {
    this.#instances.delete(instanceId);
    this.#dropPending(instanceId);
    this.#emit(instanceId, undefined);
  }

  #dropPending(instanceId: string): void {
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
