import type { Observable } from 'rxjs';
import { Broadcast } from './broadcast.js';
import { InstanceNotTerminalError } from '../model/errors/instance-not-terminal-error.js';
import { LeaseLostError } from '../model/errors/lease-lost-error.js';
import { StoreClosedError } from '../model/errors/store-closed-error.js';
import type { HistoryEvent } from '../model/history-event.js';
import { isTerminalStatus, type InstanceState, type InstanceTags } from '../model/instance-status.js';
import type { ActivityTask, Lease, OrchestrationMessage } from '../model/message.js';
import { frozenCopy } from '../model/frozen.js';
import { readChecked, validateInstanceQuery, validatePurgeFilter } from '../model/validation.js';
import type { WriteSet } from '../model/write-set.js';
import { ClaimQueue } from './claim-queue.js';
import { EndedIndex, type EndedEntry } from './ended-index.js';
import { validateEndedQuery } from './ended-listing.js';
import { lastUpdatedMsOf, StoredState } from './stored-state.js';
import { historyRangeOf, type HistoryRange } from './history-range.js';
import { activityStepHolds, checkWriteLease, commitResultOf, leaseLostError, planWriteSet, signalsWork, unclaimedRefusal, writesInput, type StoredStates, type WritePlan } from './plan-write-set.js';
import { markShared } from './shared-states.js';
import type {
  ActivityWorkItem, ClaimOptions, CommitResult, EndedQuery, InstancePage, InstanceQuery, OrchestrationWorkItem, PurgeFilter, PurgeMember, PurgeSetResult,
  StatusChange, Store, StoreCapabilities,
} from './store.js';
import { purgeMemberHolds, validatePurgeSet } from './plan-tree-purge.js';
import {
  claimableAtMs, dueAtMs, holdsLease, isHeldBy,
  isVisible, leaseTokens, matchesPurgeFilter, matchesQuery, namesOf, newLease, nextPageToken, pageKeyOf, pageOrderOf, pageSizeOf, planInstancePage, sameTags,
  tagEntryKey, tagPairsOf, validateClaimOptions, validateLeaseOwner, validateTime,
} from './store-helpers.js';
import { copyStoreValue } from '../model/json.js';

/**
 * A lease as a record keeps it: plain fields, its expiry in ms. A claim hands out one {@link Lease} built from them,
 * instead of storing a lease object with its Date and handing out a copy of both (two objects and two Dates per
 * claim). A record without a lease has none of these (one empty field per waiting instance).
 */
interface HeldLease {
  readonly token: string;
  readonly owner: string;
  expiresMs: number;
  /** The id of the last message the claim that took this lease handed out (a claim's lease only). */
  readonly claimedThrough: string | undefined;
}

/**
 * An instance as the store keeps it: its {@link StoredState} with the lease, history and pending messages on the same
 * object (a record object pointing at the state was 56 B per instance).
 */
class InstanceRecord extends StoredState {
  lease: HeldLease | undefined;
  /** The current execution's history ({@link NO_EVENTS} while it is empty). */
  history: HistoryEvent[] = NO_EVENTS;
  /** Pending messages, in arrival order ({@link NO_MESSAGES} when there are none). */
  messages: OrchestrationMessage[] = NO_MESSAGES;

  constructor(state: InstanceState, lease: HeldLease | undefined) {
    super(state);
    this.lease = lease;
  }
}

// Shared by every record that has no history or no pending messages (most waiting instances have no messages): frozen,
// so a push into them fails loudly instead of reaching every instance. Records replace them, never push into them.
const NO_EVENTS = Object.freeze([]) as unknown as HistoryEvent[];
const NO_MESSAGES = Object.freeze([]) as unknown as OrchestrationMessage[];

/**
 * The ids of the instances of one orchestrator name, in an array rather than a Set (a Set took 26-33 B per instance at
 * 50,000-10,000 instances, the array about 10 B): an instance that leaves the name (purged, or started again under
 * another) leaves its id behind until the list holds more than twice its live ids, or is read; an instance that leaves
 * and comes back may be listed twice meanwhile. `live` counts the instances of the name, so that `ids.length - live` is
 * the number of such stale entries.
 */
interface NameIndex {
  ids: string[];
  live: number;
}

interface TaskRecord {
  lease: HeldLease | undefined;
  task: ActivityTask;
}

/**
 * The embedded default store: everything in memory, in one process. Not durable, not shared between processes;
 * several runtimes in one process may share one MemoryStore (leases keep their steps apart).
 *
 * Each operation copies what crosses the port at most once: a commit copies what it keeps of its write set on the
 * way in (the store never changes those objects in place; a history event or message handed over deeply frozen is
 * kept without a copy), reads and claims copy on the way out (history events and messages excepted: they are stored
 * frozen and handed out as they are), and each published change is copied once for all its subscribers (marked
 * shared when it has several: each client then copies what its users may change, see `markShared`). An instance's
 * input is the exception: kept frozen once per execution (a step of it keeps the one kept, and a deeply frozen input,
 * as a client's start sends, is kept without a copy), it is published as it is, the state marked shared, so a step
 * with a large input copies it neither in nor out. An instance's state is kept as a compact {@link StoredState}. Claims take the oldest claimable instance or task from a {@link ClaimQueue}
 * instead of scanning the pending work.
 *
 * @example
 * ```ts
 * const runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities });
 * ```
 */
export class MemoryStore implements Store {
  readonly capabilities: StoreCapabilities = { name: 'memory', shared: false, durable: false, fusedSteps: true, unclaimedWrites: true, filters: ['name', 'tags', 'order'] };

  readonly #instances = new Map<string, InstanceRecord>();
  /** The ids of the instances of each orchestrator name: the index a name filter lists from (see {@link NameIndex}). */
  readonly #byName = new Map<string, NameIndex>();
  /** The ids of the instances with each tag pair (`tagEntryKey`): the index a tag filter lists from. */
  readonly #byTag = new Map<string, Set<string>>();
  /** The ended instances of each status in end order: the index `listEnded` reads its page from. */
  readonly #ended = new EndedIndex();
  /** Activity tasks in scheduling order. */
  readonly #tasks = new Map<string, TaskRecord>();
  /** Instances with pending messages, by when they are claimable (oldest first). */
  readonly #claimableInstances = new ClaimQueue();
  /** Activity tasks, by when they are claimable (oldest first). */
  readonly #claimableTasks = new ClaimQueue();
  readonly #changes = new Broadcast<StatusChange>();
  readonly #work = new Broadcast<void>();
  #closed: Promise<void> | undefined;
  readonly #newToken = leaseTokens();
  /** What planWriteSet reads: the stored state of an instance, straight from its record. */
  readonly #storedStates: StoredStates = { get: (instanceId) => this.#instances.get(instanceId) };
  /** The raise-key record of each instance that has one (`RaiseKeysRecord`), apart from its state: frozen key lists. */
  readonly #raiseKeys = new Map<string, readonly string[]>();

  readonly changes$: Observable<StatusChange> = this.#changes.observable;
  readonly workAvailable$: Observable<void> = this.#work.observable;

  /**
   * @param options none yet: left out, `undefined` or an object. Anything else (`new MemoryStore(5)`) is an
   * `InvalidArgumentError`, as for every store's options, rather than an argument silently dropped.
   */
  constructor(options?: Readonly<Record<string, never>> | undefined) {
    readChecked(options, 'MemoryStore options', {});
  }

  async claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined> {
    this.#ensureOpen();
    validateClaimOptions(options);
    const instanceId = this.#claimableInstances.first(options.now.getTime());
    if (instanceId === undefined) return undefined;
    const record = this.#instances.get(instanceId)!; // the claim index names only kept instances
    // Messages are stored frozen (see `keptFrozen`): a claim hands them out as they are, in a new array (the engine
    // copies a frozen payload before orchestrator code receives it).
    const messages = visibleMessages(record.messages, options.now);
    const lease = hold(record, options, this.#newToken(), messages[messages.length - 1]?.id);
    this.#indexInstance(instanceId);
    return { state: record.toState(), messages, lease };
  }

  /**
   * The reference executor: checks the lease, lets `planWriteSet` decide the write set's conditions against the
   * stored instances, then writes the plan. Nothing here is a domain rule; everything runs synchronously, so the
   * write set is atomic.
   */
  async commit(writeSet: WriteSet): Promise<CommitResult> {
    this.#ensureOpen();
    return this.#commit(writeSet);
  }

  #commit(writeSet: WriteSet): CommitResult {
    const { lease } = writeSet;
    checkWriteLease(lease);
    if (lease?.kind === 'activityStep') {
      const record = this.#instances.get(lease.instanceId);
      let firstVisibleMs: number | undefined;
      const messages = record?.messages ?? NO_MESSAGES;
      for (let i = 0; i < messages.length; i++) {
        const due = dueAtMs(messages[i]!);
        if (firstVisibleMs === undefined || due < firstVisibleMs) firstVisibleMs = due;
      }
      const holds = activityStepHolds(lease, {
        taskLease: this.#tasks.get(lease.taskId)?.lease, state: record, instanceLease: record && leaseOf(record), firstVisibleMs,
      });
      if (!holds) throw leaseLostError(lease);
    } else if (lease?.kind === 'unclaimed') {
      const record = this.#instances.get(lease.instanceId);
      const messages = record?.messages ?? NO_MESSAGES;
      const refusal = unclaimedRefusal(lease, { state: record, instanceLease: record && leaseOf(record), messages, claimed: record && claimedOf(record) });
      if (refusal) throw refusal;
    } else if (lease) {
      const held = lease.kind === 'orchestration' ? this.#instances.get(lease.instanceId) : this.#tasks.get(lease.taskId);
      if (!holdsLease(held?.lease, lease.token)) throw leaseLostError(lease);
    }
    // planWriteSet is pure: it reads the write set as given, and what the store keeps of it is copied below (the one
    // copy of what comes in; from then on the store owns those objects and never changes them in place). Index loops
    // throughout: this runs on every commit.
    const plan = planWriteSet(writeSet, this.#storedStates, this.#raiseKeys);
    const instances = this.#instances;
    for (let i = 0; i < plan.raiseKeys.length; i++) {
      const { instanceId, keys } = plan.raiseKeys[i]!;
      this.#raiseKeys.set(instanceId, Object.freeze([...keys]));
    }

    for (let i = 0; i < plan.replaced.length; i++) this.#dropPending(plan.replaced[i]!);
    // The copies kept, in the order of plan.states (a write set changes one or two instances: no Map).
    const states = plan.states;
    const kept: StoredState[] = new Array<StoredState>(states.length);
    for (let i = 0; i < states.length; i++) {
      const { state, isNew, lease: startLease } = states[i]!;
      const record = instances.get(state.instanceId);
      if (record && !isNew) {
        // Overwritten in place: nothing outside a synchronous operation of this store holds a StoredState (every read
        // copies it), and a new one per step outlived the young generation of the heap (a step of each instance
        // comes round only after thousands of others) to die in a full collection.
        const { name, tags } = record;
        const ended = endedEntryOf(record);
        record.assign(state, !writesInput(states[i]!));
        this.#ended.move(ended, endedEntryOf(record));
        if (record.name !== name) this.#indexName(state.instanceId, name, record.name);
        if (!sameTags(record.tags, tags)) this.#indexTags(state.instanceId, tags, record.tags);
        kept[i] = record;
      } else {
        const copy = new InstanceRecord(state, startLease && heldLease(startLease));
        kept[i] = copy;
        instances.set(state.instanceId, copy);
        this.#ended.move(record && endedEntryOf(record), endedEntryOf(copy));
        if (record?.name !== copy.name) this.#indexName(state.instanceId, record?.name, copy.name);
        if (!sameTags(record?.tags, copy.tags)) this.#indexTags(state.instanceId, record?.tags, copy.tags);
      }
    }
    // Whether the commit releases a lease stored on the instance (live or expired), for signalsWork.
    const released = plan.released === undefined ? undefined : instances.get(plan.released)!;
    const leaseStored = released?.lease !== undefined;
    if (released) released.lease = undefined;
    for (let i = 0; i < plan.history.length; i++) {
      const { instanceId, replace, events } = plan.history[i]!;
      const record = instances.get(instanceId);
      if (!record) continue;
      // An empty history takes an exact-size copy (a push would reserve room for 16 events); a longer one grows in
      // place, so a step costs O(new events), not O(history).
      if (replace || record.history.length === 0) {
        const copies = new Array<HistoryEvent>(events.length);
        for (let e = 0; e < events.length; e++) copies[e] = keptEvent(record, events[e]!);
        record.history = copies;
      } else {
        for (let e = 0; e < events.length; e++) record.history.push(keptEvent(record, events[e]!));
      }
    }
    for (let i = 0; i < plan.deleteMessages.length; i++) {
      const { instanceId, messageIds } = plan.deleteMessages[i]!;
      const record = instances.get(instanceId);
      if (!record) continue;
      const left = messagesLeft(record.messages, messageIds);
      record.messages = left.length === 0 ? NO_MESSAGES : left;
    }
    for (let i = 0; i < plan.deleteTasks.length; i++) {
      const taskId = plan.deleteTasks[i]!;
      this.#tasks.delete(taskId);
      this.#claimableTasks.set(taskId, Infinity);
    }
    for (let i = 0; i < plan.insertTasks.length; i++) {
      const task = plan.insertTasks[i]!;
      const taskLease = plannedLeaseOf(plan.taskLeases, task.id);
      this.#tasks.set(task.id, { lease: taskLease && heldLease(taskLease), task: copyStoreValue(task) });
      this.#claimableTasks.set(task.id, taskLease ? taskLease.expiresAt.getTime() : 0);
    }
    for (let i = 0; i < plan.insertMessages.length; i++) {
      const message = plan.insertMessages[i]!;
      const record = instances.get(message.instanceId);
      if (!record) continue;
      if (record.messages === NO_MESSAGES) record.messages = [keptFrozen(message)];
      else record.messages.push(keptFrozen(message));
    }
    // Whose claimable time may have changed, as the plan says: the lease released, messages consumed or delivered (a
    // replaced instance left the index in #dropPending and comes back with its start message). No instanceIdsOf here:
    // an instance named twice is looked at twice, and the queue keeps a time it already has without any work; but a
    // step's own instance (released, its messages consumed) once.
    if (plan.released !== undefined) this.#indexInstance(plan.released);
    for (let i = 0; i < plan.deleteMessages.length; i++) {
      const instanceId = plan.deleteMessages[i]!.instanceId;
      if (instanceId !== plan.released) this.#indexInstance(instanceId);
    }
    for (let i = 0; i < plan.insertMessages.length; i++) this.#indexInstance(plan.insertMessages[i]!.instanceId);
    if (this.#changes.observed) {
      const changes = plan.changes;
      for (let i = 0; i < changes.length; i++) {
        const change = changes[i]!;
        // A change is published as the kept copy of its state; a state a later request of the write set replaced was
        // not kept and is copied for the feed.
        let at = 0;
        while (at < kept.length && states[at]!.state !== change.state) at++;
        this.#emit(change.instanceId, at < kept.length ? kept[at] : change.state);
      }
    }
    if (signalsWork(plan, leaseStored, released !== undefined && released.messages.length > 0)) this.#work.next();
    return commitResultOf(plan);
  }

  async abandonOrchestration(instanceId: string, leaseToken: string): Promise<void> {
    this.#ensureOpen();
    const record = this.#instances.get(instanceId);
    if (holdsLease(record?.lease, leaseToken)) {
      record.lease = undefined;
      this.#indexInstance(instanceId);
      this.#work.next();
    }
  }

  async claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined> {
    this.#ensureOpen();
    validateClaimOptions(options);
    const taskId = this.#claimableTasks.first(options.now.getTime());
    if (taskId === undefined) return undefined;
    const record = this.#tasks.get(taskId)!; // the claim index names only kept tasks
    const lease = hold(record, options, this.#newToken());
    this.#claimableTasks.set(taskId, record.lease!.expiresMs);
    return { task: copyStoreValue(record.task), lease };
  }

  async abandonActivity(taskId: string, leaseToken: string): Promise<void> {
    this.#ensureOpen();
    const record = this.#tasks.get(taskId);
    if (holdsLease(record?.lease, leaseToken)) {
      record.lease = undefined;
      this.#claimableTasks.set(taskId, 0);
      this.#work.next();
    }
  }

  async releaseOwner(owner: string, current?: string): Promise<number> {
    validateLeaseOwner(owner, current);
    this.#ensureOpen();
    let released = 0;
    for (const [instanceId, record] of this.#instances) {
      if (!isHeldBy(record.lease, owner, current)) continue;
      record.lease = undefined;
      this.#indexInstance(instanceId);
      released++;
    }
    for (const [taskId, record] of this.#tasks) {
      if (!isHeldBy(record.lease, owner, current)) continue;
      record.lease = undefined;
      this.#claimableTasks.set(taskId, 0);
      released++;
    }
    if (released > 0) this.#work.next();
    return released;
  }

  async renewActivityLease(taskId: string, leaseToken: string, expiresAt: Date): Promise<void> {
    this.#ensureOpen();
    validateTime(expiresAt, 'renewActivityLease expiresAt');
    const record = this.#tasks.get(taskId);
    if (!holdsLease(record?.lease, leaseToken)) {
      throw new LeaseLostError(`Lease on activity task ${JSON.stringify(taskId)} is no longer held`);
    }
    record.lease.expiresMs = expiresAt.getTime();
    this.#claimableTasks.set(taskId, record.lease.expiresMs);
  }

  /** `options.showInput` changes nothing here: the input is held with the state, and read with it at no cost. */
  async getInstance(instanceId: string, _options?: { readonly showInput?: boolean }): Promise<InstanceState | undefined> {
    this.#ensureOpen();
    const record = this.#instances.get(instanceId);
    return record?.toState();
  }

  async getHistory(instanceId: string, options?: HistoryRange): Promise<HistoryEvent[]> {
    this.#ensureOpen();
    // The events are stored deeply frozen (see `keptFrozen`): a new array of the same events is all a read needs to copy.
    return sliceOf(this.#instances.get(instanceId)?.history ?? NO_EVENTS, options);
  }

  async getInstanceHistory(
    instanceId: string, options?: HistoryRange & { readonly showInput?: boolean },
  ): Promise<{ readonly state: InstanceState | undefined; readonly history: HistoryEvent[] }> {
    this.#ensureOpen();
    const record = this.#instances.get(instanceId);
    return { state: record?.toState(), history: sliceOf(record?.history ?? NO_EVENTS, options) };
  }

  async queryInstances(request: InstanceQuery): Promise<InstancePage> {
    const query = validateInstanceQuery(request); // the shared rule: unknown statuses and non-arrays are refused
    this.#ensureOpen();
    const pageSize = pageSizeOf(query);
    const plan = planInstancePage(query); // the shared paging rule: after the token's key, up to its bound
    const { after } = plan;
    // With a tag filter, only the instances of its most selective pair (the tag index) are read; else with a name
    // filter, only the instances of those names (the name index).
    const records = this.#indexedRecords(plan.query.tags, plan.query.name);
    const order = pageOrderOf(plan.order);
    const matching = records
      .map((r) => ({ state: r, key: pageKeyOf(r) }))
      .filter((m) => matchesQuery(m.state, plan.query) && (!after || order(m.key, after) > 0))
      .sort((a, b) => order(a.key, b.key));
    const page = matching.slice(0, pageSize);
    const last = page[page.length - 1];
    const newest = () => [...this.#instances.values()].reduce<number | undefined>((max, r) => Math.max(max ?? -Infinity, r.createdTime.getTime()), undefined);
    return {
      instances: page.map((m) => m.state.toState()),
      ...(matching.length > pageSize && last ? { continuationToken: await nextPageToken(plan, last.key, newest) } : {}),
    };
  }

  async listEnded(request: EndedQuery): Promise<InstanceState[]> {
    const query = validateEndedQuery(request); // refused before anything is read
    this.#ensureOpen();
    const ids = this.#ended.page(query.runtimeStatus, query.after, query.endedTo.getTime(), query.limit);
    return ids.map((id) => this.#instances.get(id)!.toState());
  }

  async purgeInstance(instanceId: string): Promise<number> {
    this.#ensureOpen();
    const record = this.#instances.get(instanceId);
    if (!record) return 0;
    if (!isTerminalStatus(record.runtimeStatus)) {
      throw new InstanceNotTerminalError(`Instance ${JSON.stringify(instanceId)} is ${record.runtimeStatus}; only terminal instances can be purged`);
    }
    this.#delete(instanceId);
    return 1;
  }

  async purgeInstanceSet(request: readonly PurgeMember[]): Promise<PurgeSetResult> {
    const members = validatePurgeSet(request); // refused before anything is deleted
    this.#ensureOpen();
    // Every condition first, then every deletion: all or nothing.
    const changed = members.find((m) => !purgeMemberHolds(m, this.#instances.get(m.instanceId)));
    if (changed) return { instancesDeleted: 0, changed: changed.instanceId };
    for (const { instanceId } of members) this.#delete(instanceId);
    return { instancesDeleted: members.length };
  }

  async purgeInstances(request: PurgeFilter): Promise<number> {
    const filter = validatePurgeFilter(request); // refused before anything is deleted
    this.#ensureOpen();
    const ids = this.#indexedRecords(filter.tags, filter.name).filter((r) => matchesPurgeFilter(r, filter)).map((r) => r.instanceId);
    for (const id of ids) this.#delete(id);
    return ids.length;
  }

  async nextWakeTime(now: Date): Promise<Date | undefined> {
    this.#ensureOpen();
    validateTime(now, 'nextWakeTime now');
    // Every message and task not yet claimed counts, including those due already (see `claimableAtMs`).
    const nowMs = now.getTime();
    const next = Math.min(this.#claimableInstances.nextAt(nowMs) ?? Infinity, this.#claimableTasks.nextAt(nowMs) ?? Infinity);
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
    if (this.#closed) throw new StoreClosedError('The store is closed', { beforeCall: true });
  }

  /**
   * The records a filter can match, from an index: those with the tag pair of `tags` with the fewest instances, else
   * those of `names`, else every one. The caller checks the whole filter against each.
   */
  #indexedRecords(tags: InstanceTags | undefined, name: readonly string[] | undefined): InstanceRecord[] {
    const pairs = tagPairsOf(tags);
    if (pairs.length > 0) {
      // selectiveTagPair's rule, synchronously (the sets' sizes are at hand).
      let fewest: Set<string> | undefined;
      for (const pair of pairs) {
        const ids = this.#byTag.get(tagEntryKey(pair));
        if (!ids) return [];
        if (!fewest || ids.size < fewest.size) fewest = ids;
      }
      return [...fewest!].map((id) => this.#instances.get(id)!);
    }
    const names = namesOf(name);
    return names ? this.#namedRecords(names) : [...this.#instances.values()];
  }

  /** Moves an instance in the tag index from the tags it had (`undefined`: none) to `to` (none: purged). */
  #indexTags(instanceId: string, from: InstanceTags | undefined, to: InstanceTags | undefined): void {
    for (const pair of tagPairsOf(from)) {
      const key = tagEntryKey(pair);
      const ids = this.#byTag.get(key);
      ids?.delete(instanceId);
      if (ids?.size === 0) this.#byTag.delete(key);
    }
    for (const pair of tagPairsOf(to)) {
      const key = tagEntryKey(pair);
      let ids = this.#byTag.get(key);
      if (!ids) this.#byTag.set(key, (ids = new Set()));
      ids.add(instanceId);
    }
  }

  /** The records of the instances of `names`, from the name index. */
  #namedRecords(names: readonly string[]): InstanceRecord[] {
    const records: InstanceRecord[] = [];
    for (const name of names) {
      const index = this.#byName.get(name);
      if (!index) continue;
      if (index.ids.length > index.live) this.#compactName(name, index); // ids of instances that left it: out first
      for (const id of index.ids) records.push(this.#instances.get(id)!);
    }
    return records;
  }

  /** Moves an instance in the name index from the name it had (`undefined`: none, a new id) to `to` (none: purged). */
  #indexName(instanceId: string, from: string | undefined, to: string | undefined): void {
    if (from !== undefined) {
      const index = this.#byName.get(from)!; // an instance's name is indexed
      // Its id stays in the list until a compaction: a search for it here cost O(instances of the name).
      if (--index.live === 0) this.#byName.delete(from);
      else if (index.ids.length > 2 * index.live + 1024) this.#compactName(from, index);
    }
    if (to !== undefined) {
      let index = this.#byName.get(to);
      if (!index) this.#byName.set(to, (index = { ids: [], live: 0 }));
      index.ids.push(instanceId);
      index.live++;
    }
  }

  /**
   * Keeps in the list of `name` only the ids of the instances of that name now, each once, where it was listed last
   * (an instance that left and came back is listed from its return, as a Set it was deleted from and added to again).
   */
  #compactName(name: string, index: NameIndex): void {
    const seen = new Set<string>();
    const kept: string[] = [];
    for (let i = index.ids.length - 1; i >= 0; i--) {
      const id = index.ids[i]!;
      if (this.#instances.get(id)?.name !== name || seen.has(id)) continue;
      seen.add(id);
      kept.push(id);
    }
    index.ids = kept.reverse();
  }

  #delete(instanceId: string): void {
    const record = this.#instances.get(instanceId);
    this.#instances.delete(instanceId);
    if (record) {
      this.#indexName(instanceId, record.name, undefined);
      this.#indexTags(instanceId, record.tags, undefined);
      this.#ended.move(endedEntryOf(record), undefined);
    }
    this.#raiseKeys.delete(instanceId);
    this.#dropPending(instanceId);
    if (record && this.#changes.observed) this.#changes.next({ instanceId, state: undefined, purged: { executionId: record.executionId, version: record.version } });
  }

  #dropPending(instanceId: string): void {
    const record = this.#instances.get(instanceId);
    if (record) {
      record.history = NO_EVENTS;
      record.messages = NO_MESSAGES;
    }
    this.#claimableInstances.set(instanceId, Infinity);
    for (const [id, task] of this.#tasks) {
      if (task.task.instanceId !== instanceId) continue;
      this.#tasks.delete(id);
      this.#claimableTasks.set(id, Infinity);
    }
  }

  /** Tells the claim index when an instance is claimable: once a message is visible and no live lease holds it. */
  #indexInstance(instanceId: string): void {
    const record = this.#instances.get(instanceId);
    if (!record) return; // a deleted instance was taken out of the index with its data
    let due = Infinity;
    const messages = record.messages;
    for (let i = 0; i < messages.length && due > 0; i++) due = Math.min(due, dueAtMs(messages[i]!));
    this.#claimableInstances.set(instanceId, due === Infinity ? Infinity : claimableAtMs(record.lease?.expiresMs, due));
  }

  #emit(instanceId: string, state: StoredState | InstanceState | undefined): void {
    if (!this.#changes.observed) return; // nobody to copy for
    // The kept input goes out as it is, frozen (the next step of its execution publishes it again): the state is marked
    // shared, so that a client copies it only for a status it builds.
    const change = { instanceId, state: state instanceof StoredState ? state.toState(true) : copyStoreValue(state) };
    if (typeof change.state?.input === 'object' && change.state.input !== null) markShared(change);
    this.#changes.next(change);
  }
}


/**
 * The messages of `messages` whose ids `consumed` does not list. The usual step consumes the instance's only message:
 * nothing to filter, and no closure (a filter closure in the commit made every step's commit allocate a context for it).
 */
function messagesLeft(messages: OrchestrationMessage[], consumed: readonly string[]): OrchestrationMessage[] {
  return consumed.length === 1 && messages.length === 1 && messages[0]!.id === consumed[0] ? NO_MESSAGES : unconsumed(messages, consumed);
}

/** The filter itself, apart so that its closure is made only when it runs: one id compared, several looked up. */
function unconsumed(messages: OrchestrationMessage[], consumed: readonly string[]): OrchestrationMessage[] {
  if (consumed.length === 1) {
    const id = consumed[0];
    return messages.filter((m) => m.id !== id);
  }
  const ids = new Set(consumed);
  return messages.filter((m) => !ids.has(m.id));
}

/** The lease a plan stores task `taskId` with, if any. */
function plannedLeaseOf(leases: WritePlan['taskLeases'], taskId: string): Lease | undefined {
  for (let i = 0; i < leases.length; i++) if (leases[i]!.taskId === taskId) return leases[i]!.lease;
  return undefined;
}

/**
 * The messages of `messages` visible at `now` (see `isVisible`), in a new array of their number (a push into an empty
 * array reserves room for 16: a claim's one message cost 17 slots).
 */
function visibleMessages(messages: readonly OrchestrationMessage[], now: Date): OrchestrationMessage[] {
  let count = 0;
  for (let i = 0; i < messages.length; i++) if (isVisible(messages[i]!, now)) count++;
  if (count === messages.length) return messages.slice();
  const visible = new Array<OrchestrationMessage>(count);
  for (let i = 0, at = 0; i < messages.length; i++) if (isVisible(messages[i]!, now)) visible[at++] = messages[i]!;
  return visible;
}

/**
 * Takes a claim's lease on `record` (see `newLease`) and returns it as the claim hands it out; `lastId`, the id of the
 * last message it hands out, is kept with it ({@link claimedOf}).
 */
function hold(record: { lease: HeldLease | undefined }, options: ClaimOptions, token: string, lastId?: string): Lease {
  const lease = newLease(options, token);
  record.lease = heldLease(lease, lastId);
  return lease;
}

/**
 * The messages the claim holding `record` handed out, for store-kit's `unclaimedRefusal`: those queued up to the last
 * one it took (`HeldLease.claimedThrough`); none when no claim's lease is held (only a claim writes one).
 */
function claimedOf(record: { readonly lease: HeldLease | undefined; readonly messages: readonly OrchestrationMessage[] }): readonly OrchestrationMessage[] | undefined {
  const last = record.lease?.claimedThrough;
  if (last === undefined) return undefined;
  const at = record.messages.findIndex((m) => m.id === last);
  return at < 0 ? undefined : record.messages.slice(0, at + 1);
}

function heldLease(lease: Lease, claimedThrough?: string): HeldLease {
  return { token: lease.token, owner: lease.owner, expiresMs: lease.expiresAt.getTime(), claimedThrough };
}

/** The lease held on `record` as a {@link Lease}, for the shared rules that read one; `undefined` when none is. */
function leaseOf(record: { readonly lease: HeldLease | undefined }): Lease | undefined {
  const held = record.lease;
  return held && { owner: held.owner, token: held.token, expiresAt: new Date(held.expiresMs) };
}

/**
 * What the store keeps of a history event or message it is given, its {@link frozenCopy}: the value itself when it is
 * deeply frozen already (nobody can change it: the client and the engine hand over what they built frozen, and a claimed message's event
 * comes back in the step that consumes it), otherwise a deep copy whose objects and arrays are all frozen. Nobody can
 * change a stored event or message in place, so `getHistory` and claims hand out the stored objects themselves (in a
 * new array) instead of a deep copy per read: a replay after a cache miss read every event of the history again (a
 * fifth of a raise's allocations at 10k waiting instances). Events are plain JSON (the port's rule), so freezing
 * covers all of them.
 */
function keptFrozen<T>(value: T): T {
  // What the engine and the client built frozen (`freezeBuilt`: the step markers, the events of a step whose payloads
  // are no objects, messages) is taken by its mark, without a walk.
  return frozenCopy(value);
}

/**
 * What the store keeps of a history event `record`'s step appends: the event of one of the instance's stored
 * messages (an event the step consumed) is kept already, so it is not walked again; any other as {@link keptFrozen}.
 */
function keptEvent(record: InstanceRecord, event: HistoryEvent): HistoryEvent {
  const messages = record.messages;
  for (let i = 0; i < messages.length; i++) if (messages[i]!.event === event) return event;
  return keptFrozen(event);
}

/** The events of `history` in `range` (`historyRangeOf`), a new array of the stored events. */
function sliceOf(history: readonly HistoryEvent[], range: HistoryRange | undefined): HistoryEvent[] {
  const { from, to } = historyRangeOf(range);
  return history.slice(from, to);
}

/** What the end index reads of a kept instance. */
function endedEntryOf(record: StoredState): EndedEntry {
  return { instanceId: record.instanceId, runtimeStatus: record.runtimeStatus, endedMs: lastUpdatedMsOf(record) };
}
