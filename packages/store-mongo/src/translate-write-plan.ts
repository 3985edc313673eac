import {
  assertNever, changesNothing, signalsWork, writesInput, type InstanceState, type PlannedState, type WritePlan,
} from '@durable-rx/runtime/store-kit';
import { ObjectId } from 'mongodb';
import {
  EPOCH, FREE_LEASE, NEVER, emptyQueueHead, storedLeaseOf, encodeHistoryEvent, encodeInstanceState, encodeStateBesideInput, encodeMessage, instanceDoc, lowerQueueHead, tagKeysOf, endOrderFields, messageDoc, queueFields,
  taskDoc, type EncodedMessage, type HistoryDoc, type InstanceDoc, type MessageDoc, type QueueFields, type QueueHead,
  type SweepDoc, type TaskDoc,
} from './documents.js';
import { MongoStoreError } from './errors/mongo-store-error.js';
import { instanceKey } from './instance-key.js';

/**
 * The translation of a {@link WritePlan} (the row changes `planWriteSet` decided) into MongoDB operations — pure, so
 * every operation a commit sends is unit-tested without a server. MongoStore runs the result in order inside the
 * transaction that read the instances; it decides nothing itself.
 */

/**
 * The bookkeeping of an instance document as read (and locked) at the start of the transaction: the fields of
 * {@link TAKEN_INSTANCE_PROJECTION} but the state, whose decoded value the plan takes.
 */
export type StoredRow = Pick<InstanceDoc, 'messageSeq' | 'historyGen' | 'nextMessageAt' | 'readyAt' | 'leaseExpiresAt' | 'leaseSeq' | 'leaseRead'>
  & Partial<Pick<InstanceDoc, 'leaseToken'>> & {
  /**
   * The UTF-8 bytes of the stored input, counted against the size limit with a state written beside it. Absent when
   * the document has no input field of its own (one written before the input was kept apart, its input inside
   * `state`) or one that is not text: then a commit that changes the state writes the input too.
   */
  readonly inputBytes?: number;
};

/** An instance document as a commit's transaction reads it ({@link TAKEN_INSTANCE_PROJECTION}). */
export type TakenInstanceDoc = Pick<InstanceDoc, '_id' | 'state'> & StoredRow;

/**
 * The projection of a commit's read of each instance document it takes: everything the plan and its translation use
 * (the state, the queue and lease bookkeeping, the history generation), and of the input only its size in UTF-8 bytes
 * (`$strLenBytes`), not the input itself, which a step leaves as it is ({@link translateWritePlan}): so a step of an
 * instance with a multi-megabyte input does not read that input, nor encode it again. Aggregation expressions in a
 * `findAndModify` projection need MongoDB 4.4, the store's oldest supported server. An input that is not text (absent,
 * or a document MongoStore did not write) has no size: `$strLenBytes` would raise on it and fail the commit, so the
 * field is left out instead (`$$REMOVE`), and the commit writes the input.
 *
 * @example
 * ```ts
 * instances.findOneAndUpdate(filter, { $inc: { rev: 1 } }, { session, returnDocument: 'after', projection: TAKEN_INSTANCE_PROJECTION });
 * ```
 */
export const TAKEN_INSTANCE_PROJECTION = {
  state: 1, messageSeq: 1, historyGen: 1, nextMessageAt: 1, readyAt: 1, leaseExpiresAt: 1, leaseSeq: 1, leaseToken: 1, leaseRead: 1,
  inputBytes: { $cond: [{ $eq: [{ $type: '$input' }, 'string'] }, { $strLenBytes: '$input' }, '$$REMOVE'] },
} as const;

/** What the translation needs besides the plan. */
export interface TranslationContext {
  /** The instances the transaction read, by instance id; absent or `undefined`: no such instance. */
  readonly stored: ReadonlyMap<string, StoredRow | undefined>;
  /** Largest JSON text per document. */
  readonly limitBytes: number;
  /** The writer's clock: the scheduling time of new tasks, the ready time of messages without a timestamp. */
  readonly now: Date;
  /** Makes a fresh history generation. */
  readonly newGen: () => string;
}

/** One MongoDB operation of a commit. Applied in order, in one transaction. */
export type MongoWrite =
  /** Delete the pending messages and activity tasks of a replaced instance. */
  | { readonly op: 'deleteQueue'; readonly instanceKey: string }
  /** Record an old history generation for the sweeper (deleted in chunks after the commit). */
  | { readonly op: 'scheduleSweep'; readonly doc: SweepDoc }
  | { readonly op: 'insertHistory'; readonly docs: readonly HistoryDoc[] }
  | { readonly op: 'deleteMessages'; readonly instanceKey: string; readonly messageIds: readonly string[] }
  | { readonly op: 'deleteTasks'; readonly taskIds: readonly string[] }
  | { readonly op: 'insertTasks'; readonly docs: readonly TaskDoc[] }
  | { readonly op: 'insertMessages'; readonly docs: readonly MessageDoc[] }
  /**
   * New messages for an instance whose state the plan leaves alone: its exact new queue head, and when that makes it
   * claimable under the lease it has (another worker may hold one).
   */
  | { readonly op: 'setQueue'; readonly instanceKey: string; readonly fields: QueueFields }
  | { readonly op: 'insertInstance'; readonly doc: InstanceDoc }
  | { readonly op: 'replaceInstance'; readonly doc: InstanceDoc }
  /**
   * The new state of an existing instance (`set`; empty when only its queue changes). `queue`: its exact new head
   * (`set`), or `recompute` when messages were consumed: the executor reads the earliest remaining ones after the
   * message operations. `release`: the lease the commit releases (the plan's `released`), freed by this write. `leaseExpiresAt`: the
   * lease expiry the document has after this write (EPOCH when released), from which the executor writes `claimAt`
   * with `queueFields`.
   */
  | {
    readonly op: 'updateInstance';
    readonly instanceKey: string;
    readonly set: InstanceFields | Record<string, never>;
    readonly queue: { readonly kind: 'set'; readonly head: QueueHead } | { readonly kind: 'recompute'; readonly messageSeq: number };
    readonly release: boolean;
    readonly leaseExpiresAt: Date;
  };

/**
 * The fields of an instance document a commit rewrites (leases and queue bookkeeping aside); `input` only for a new
 * execution (store-kit's `writesInput`), so a step's oplog entry does not carry it.
 */
export type InstanceFields = Pick<
  InstanceDoc, 'state' | 'runtimeStatus' | 'createdTime' | 'name' | 'tagKeys' | 'updatedAt' | 'lastUpdatedTime' | 'idOrder' | 'executionId' | 'version' | 'historyLength' | 'historyGen'
> & { readonly input?: string };

/**
 * Translates a plan into the operations that write it, in the plan's order: the replaced instances' queues and
 * history generations, history inserts, message and task deletions, task and message inserts, then one write per
 * instance document. Encodes every payload it writes (so a value over the size limit fails here, before anything is
 * written); a step's update leaves the stored input alone, unencoded (`instanceFields`).
 *
 * - A replaced or rewritten history gets a fresh generation; the old one is scheduled for the sweeper, so a late
 *   sweep can only ever delete that generation, never the new execution's events.
 * - Message sequence numbers and queue heads are computed from the rows read at the start of the transaction; the
 *   transaction's write conflicts make that exact.
 * - A plan that changes nothing (store-kit's `changesNothing`: a client's commit of no request on an instance without
 *   a lease, an HTTP retry of a suspend before the start) is no operation at all: releasing no lease rewrote the lease
 *   fields and a fresh `handoff`, which woke every process's worker through the wake-up feed for nothing.
 *
 * @example
 * ```ts
 * const writes = translateWritePlan(planWriteSet(writeSet, states), { stored, limitBytes, now, newGen });
 * ```
 */
export function translateWritePlan(plan: WritePlan, context: TranslationContext): MongoWrite[] {
  const { stored, limitBytes, now } = context;
  const writes: MongoWrite[] = [];
  if (changesNothing(plan, releasedLeaseStored(plan, stored))) return writes;
  const planned = new Map(plan.states.map((s) => [s.state.instanceId, s]));

  // History generations: fresh for new rows and rewritten histories; the old ones go to the sweeper.
  const gens = new Map<string, string>();
  const genOf = (id: string): string => {
    const known = gens.get(id) ?? stored.get(id)?.historyGen;
    if (known === undefined) throw new MongoStoreError(`The write set writes history of ${JSON.stringify(id)}, an instance that does not exist`);
    return known;
  };
  const sweep = (id: string, gen: string): void => {
    writes.push({ op: 'scheduleSweep', doc: { _id: new ObjectId(), instanceId: instanceKey(id), gen } });
  };
  for (const id of plan.replaced) {
    writes.push({ op: 'deleteQueue', instanceKey: instanceKey(id) });
    const old = stored.get(id)?.historyGen;
    if (old !== undefined) sweep(id, old);
  }
  for (const state of plan.states) if (state.isNew) gens.set(state.state.instanceId, context.newGen());
  const rewritten = new Set<string>();
  for (const h of plan.history) {
    if (!h.replace || rewritten.has(h.instanceId)) continue;
    rewritten.add(h.instanceId);
    if (planned.get(h.instanceId)?.isNew) continue; // already a fresh generation
    sweep(h.instanceId, genOf(h.instanceId));
    gens.set(h.instanceId, context.newGen());
  }

  const historyDocs: HistoryDoc[] = [];
  for (const h of plan.history) {
    const gen = genOf(h.instanceId);
    const key = instanceKey(h.instanceId);
    h.events.forEach((event, i) => historyDocs.push({ instanceId: key, gen, index: h.from + i, event: encodeHistoryEvent(event, limitBytes) }));
  }
  if (historyDocs.length > 0) writes.push({ op: 'insertHistory', docs: historyDocs });

  const consumed = new Set<string>();
  for (const d of plan.deleteMessages) {
    consumed.add(d.instanceId);
    writes.push({ op: 'deleteMessages', instanceKey: instanceKey(d.instanceId), messageIds: [...d.messageIds] });
  }
  if (plan.deleteTasks.length > 0) writes.push({ op: 'deleteTasks', taskIds: [...plan.deleteTasks] });
  if (plan.insertTasks.length > 0) {
    writes.push({ op: 'insertTasks', docs: plan.insertTasks.map((task) => taskDoc(task, limitBytes, scheduledAt(plan, task.instanceId, now))) });
  }

  // Messages: numbered per target after the stored sequence (a replaced row keeps counting).
  const added = new Map<string, EncodedMessage[]>();
  const messageDocs: MessageDoc[] = [];
  for (const message of plan.insertMessages) {
    const encoded = encodeMessage(message, limitBytes, now);
    const list = added.get(message.instanceId) ?? [];
    list.push(encoded);
    added.set(message.instanceId, list);
    messageDocs.push(messageDoc(encoded, (stored.get(message.instanceId)?.messageSeq ?? 0) + list.length));
  }
  if (messageDocs.length > 0) writes.push({ op: 'insertMessages', docs: messageDocs });

  // The instance whose lease the commit releases (`released`: the write set's orchestration lease, or the expired
  // lease an unclaimed write takes over).
  const leased = plan.released;
  for (const [id, list] of added) {
    if (planned.has(id) || id === leased) continue;
    const row = stored.get(id);
    if (!row) throw new MongoStoreError(`The write plan queues a message for ${JSON.stringify(id)}, which it did not read`);
    writes.push({ op: 'setQueue', instanceKey: instanceKey(id), fields: queueFields(lowerQueueHead(headOf(row), list), row.leaseExpiresAt) });
  }

  for (const plannedState of plan.states) {
    const { state, isNew } = plannedState;
    const id = state.instanceId;
    const row = stored.get(id);
    const mine = added.get(id) ?? [];
    const gen = genOf(id);
    if (isNew) {
      const head = lowerQueueHead(emptyQueueHead(row?.messageSeq ?? 0), mine);
      const doc = instanceDoc(state, encodeInstanceState(state, limitBytes), head, gen);
      writes.push(row ? { op: 'replaceInstance', doc } : { op: 'insertInstance', doc });
      continue;
    }
    if (!row) throw new MongoStoreError(`The write plan changes ${JSON.stringify(id)}, which it did not read`);
    writes.push({
      op: 'updateInstance',
      instanceKey: instanceKey(id),
      set: instanceFields(plannedState, row, gen, limitBytes),
      queue: queueChange(row, mine, consumed.has(id)),
      release: id === leased,
      leaseExpiresAt: id === leased ? EPOCH : row.leaseExpiresAt,
    });
  }
  // The leased instance's lease is released by the commit even when its state does not change.
  if (leased !== undefined && !planned.has(leased)) {
    const row = stored.get(leased);
    if (row) {
      writes.push({
        op: 'updateInstance', instanceKey: instanceKey(leased), set: {}, queue: queueChange(row, added.get(leased) ?? [], consumed.has(leased)),
        release: true, leaseExpiresAt: EPOCH,
      });
    }
  }
  return writes;
}

/**
 * Whether a lease is stored on the instance `plan` releases (`released`), live or expired (`storedLeaseOf`: an
 * expired one is still stored, and an unclaimed write clears it), as the transaction read it (`stored`): what
 * store-kit's `changesNothing` and `signalsWork` take. False when the plan releases no lease.
 *
 * @example
 * ```ts
 * releasedLeaseStored(plan, stored); // true for a worker's step: its own lease is on the instance
 * ```
 */
export function releasedLeaseStored(plan: WritePlan, stored: TranslationContext['stored']): boolean {
  const row = plan.released === undefined ? undefined : stored.get(plan.released);
  return row !== undefined && storedLeaseOf(row) !== undefined;
}

/**
 * Whether the process that committed `plan` signals its own workers (`workAvailable$`), by store-kit's
 * `signalsWork`, the rule of every store: `releasedHead` is the queue head the commit wrote for the instance whose
 * lease it released (the `updateInstance` write with `release`; `undefined` when there is none: the plan changes
 * nothing, or releases no lease, or replaced that instance, whose messages are then the plan's own `work`). A step
 * that consumed every message of its instance and wrote no work signals nothing, as the wake-up feed tells the other
 * processes nothing (no `handoff`, `claimAt` NEVER); one that left a message, due now or later, does.
 *
 * @example
 * ```ts
 * commitSignalsWork(plan, stored, emptyQueueHead(7)); // false: nothing left, nothing new
 * ```
 */
export function commitSignalsWork(plan: WritePlan, stored: TranslationContext['stored'], releasedHead: QueueHead | undefined): boolean {
  return signalsWork(plan, releasedLeaseStored(plan, stored), releasedHead !== undefined && releasedHead.nextMessageAt.getTime() < NEVER.getTime());
}

/**
 * The update an `updateInstance` write sends, given what it sets (`fields`, {@link instanceUpdateFields}): those fields,
 * except `updatedAt` (present when the write changes the state), which MongoDB stamps with its own clock instead
 * (`$currentDate`, {@link STAMP_UPDATED_AT}). `updatedAt` serves one reader, the status resync after a change feed lost
 * its place (`updated` index: every instance changed since the feed was last healthy), and a writer's clock put it
 * wherever that clock was: a client's start or command, or a worker, more than the resync's 5 min margin behind wrote
 * a change that no resync read again, and its subscribers never saw it. Stamped by the server, it is on the one clock
 * the resync window is placed on (`resyncFrom`). The snapshot's own `lastUpdatedTime` stays the writer's.
 *
 * @example
 * ```ts
 * instanceUpdate({ runtimeStatus: 'Running', updatedAt: stepTime }); // { $set: { runtimeStatus: 'Running' }, $currentDate: { updatedAt: true } }
 * instanceUpdate({ claimAt: EPOCH });                                 // { $set: { claimAt: EPOCH } }: a release alone
 * ```
 */
export function instanceUpdate(fields: Readonly<Record<string, unknown>>): {
  readonly $set: Record<string, unknown>; readonly $currentDate?: typeof STAMP_UPDATED_AT.$currentDate;
} {
  if (!('updatedAt' in fields)) return { $set: { ...fields } };
  const { updatedAt: _writerTime, ...set } = fields;
  return { $set: set, ...STAMP_UPDATED_AT };
}

/**
 * The update that stamps an instance document just inserted or replaced (in the same transaction) with MongoDB's clock
 * as its `updatedAt` ({@link instanceUpdate}): the document is written whole, and an insert or replacement takes no
 * update operator.
 */
export const STAMP_UPDATED_AT = { $currentDate: { updatedAt: true } } as const;

/**
 * The update that stamps purge records just inserted (in the purge's transaction) with MongoDB's clock as their
 * `purgedAt`, for the same reason as {@link instanceUpdate}: `changes$`'s resync reads the purges since the feed was
 * last healthy by it, and a purging client's clock put them wherever it was.
 */
export const STAMP_PURGED_AT = { $currentDate: { purgedAt: true } } as const;

/**
 * What an `updateInstance` write `$set`s, once its queue head is known (`head`: computed by the plan, or read in the
 * transaction): the state fields, the queue fields with `claimAt` under the lease that remains, and for a release a
 * free lease, with a fresh `handoff` when visible messages are left at `now` (every process's worker takes them at
 * once). A release that leaves only a message due later writes `claimAt` at its due time and no `handoff`: the
 * wake-up feed tells every process that time (`wakeSignalOf`).
 */
export function instanceUpdateFields(w: Extract<MongoWrite, { op: 'updateInstance' }>, head: QueueHead, now: Date): Record<string, unknown> {
  return { ...w.set, ...queueFields(head, w.leaseExpiresAt), ...(w.release ? leaseReleaseFields(head.nextMessageAt, now) : {}) };
}

/**
 * What releasing an orchestration lease `$set`s besides the queue fields, by a commit or without one (an abandon, a
 * claim that found no messages, `releaseOwner`): a free lease, and a fresh `handoff` only when a message is visible
 * at `now` (`nextMessageAt`, the instance's earliest due message), so that every process's worker claims it at once.
 * A release that leaves only a later message, or none, wakes nobody that way: its `claimAt` tells the wake-up feed
 * the time (`wakeSignalOf`), or there is nothing to claim.
 *
 * @example
 * ```ts
 * leaseReleaseFields(dueAt, now); // { leaseOwner: null, leaseToken: null, leaseExpiresAt: EPOCH, handoff } when dueAt <= now
 * ```
 */
export function leaseReleaseFields(nextMessageAt: Date, now: Date): Pick<InstanceDoc, 'leaseOwner' | 'leaseToken' | 'leaseExpiresAt' | 'handoff'> {
  return { ...FREE_LEASE, ...(nextMessageAt <= now ? { handoff: new ObjectId() } : {}) };
}

/**
 * The indexed copies and snapshot of a planned state, as an instance update writes them over the document `row`: the
 * input only when store-kit's `writesInput` says the commit writes it (a new execution), or when the document has no
 * input field of its own to keep (`inputBytes` absent: written before the input was kept apart, its input inside the
 * `state` the update rewrites without it). Otherwise the input is neither written nor encoded: the state is encoded
 * alone, within the size limit less the stored input's bytes.
 *
 * @example
 * ```ts
 * instanceFields(step, { ...row, inputBytes: 5_000_000 }, gen, limit); // no `input`: the stored one stays
 * ```
 */
export function instanceFields(planned: PlannedState, row: StoredRow, historyGen: string, limitBytes: number): InstanceFields {
  const { state } = planned;
  const fields = {
    runtimeStatus: state.runtimeStatus, createdTime: state.createdTime, name: state.name, tagKeys: tagKeysOf(state), updatedAt: state.lastUpdatedTime,
    ...endOrderFields(state), executionId: state.executionId, version: state.version, historyLength: state.historyLength, historyGen,
  };
  if (typeof row.inputBytes === 'number' && !writesInput(planned)) {
    return { state: encodeStateBesideInput(state, limitBytes, row.inputBytes), ...fields };
  }
  const encoded = encodeInstanceState(state, limitBytes);
  return { state: encoded.state, ...fields, input: encoded.input };
}

/** A short label of each operation, for tests and error messages. */
export function describeWrites(writes: readonly MongoWrite[]): string[] {
  return writes.map((w) => {
    switch (w.op) {
      case 'deleteQueue':
        return `deleteQueue ${w.instanceKey}`;
      case 'scheduleSweep':
        return `scheduleSweep ${w.doc.instanceId}`;
      case 'insertHistory':
        return `insertHistory ${w.docs.length}`;
      case 'deleteMessages':
        return `deleteMessages ${w.instanceKey} ${w.messageIds.length}`;
      case 'deleteTasks':
        return `deleteTasks ${w.taskIds.length}`;
      case 'insertTasks':
        return `insertTasks ${w.docs.length}`;
      case 'insertMessages':
        return `insertMessages ${w.docs.length}`;
      case 'setQueue':
        return `setQueue ${w.instanceKey}`;
      case 'insertInstance':
        return `insertInstance ${w.doc._id}`;
      case 'replaceInstance':
        return `replaceInstance ${w.doc._id}`;
      case 'updateInstance':
        return `updateInstance ${w.instanceKey} (${Object.keys(w.set).length > 0 ? 'state, ' : ''}queue ${w.queue.kind}${w.release ? ', release' : ''})`;
      default:
        return assertNever(w, 'mongo write');
    }
  });
}

function queueChange(row: StoredRow, added: readonly EncodedMessage[], consumed: boolean): Extract<MongoWrite, { op: 'updateInstance' }>['queue'] {
  return consumed ? { kind: 'recompute', messageSeq: row.messageSeq + added.length } : { kind: 'set', head: lowerQueueHead(headOf(row), added) };
}

function headOf(row: StoredRow): QueueHead {
  return { messageSeq: row.messageSeq, nextMessageAt: row.nextMessageAt, readyAt: row.readyAt };
}

/** A task is scheduled at the step time of the instance that schedules it (its new `lastUpdatedTime`), else `now`. */
function scheduledAt(plan: WritePlan, instanceId: string, now: Date): Date {
  return plan.states.find((s) => s.state.instanceId === instanceId)?.state.lastUpdatedTime ?? now;
}
