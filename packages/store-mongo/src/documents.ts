import { ALL_RUNTIME_STATUSES, isTerminalStatus, type HistoryEvent, type OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import { claimableAtMs, isValidDate, tagEntryKey, tagPairsOf, type ActivityTask, type InstanceState, type OrchestrationMessage, type PurgedSnapshot } from '@durable-rx/runtime/store-kit';
import { Buffer } from 'node:buffer';
import { ObjectId } from 'mongodb';
import { MongoStoreError } from './errors/mongo-store-error.js';
import { codeUnitOrderKey, instanceKey } from './instance-key.js';
import { decodePayload, encodePayload } from './payload-codec.js';

/**
 * The documents MongoStore keeps, and the pure functions that turn port values into them and back.
 *
 * Every user-visible value is stored as JSON text (see `encodePayload`); the other fields are indexed copies used by
 * queries and claims, or bookkeeping (leases, the message queue head) that never leaves the store.
 */

/** "No lease" and "immediately visible": the earliest BSON date anyone uses. */
export const EPOCH = new Date(0);

/** "No pending message": later than any real date, so `$min` with a real due time always wins. */
export const NEVER = new Date(8_640_000_000_000_000);

/** One orchestration instance (`_id` = the instance id's key, see `instance-key.ts`). */
export interface InstanceDoc {
  _id: string;
  /** The committed {@link InstanceState} without its input, as JSON text; the change feed carries it. */
  state: string;
  /**
   * The input as JSON text (`''`: none). Kept apart from `state` so that a step, which rewrites `state`, does not
   * rewrite the input into the oplog too; it changes only with a new execution.
   */
  input?: string;
  // Indexed copies of status fields, for queries and purges.
  runtimeStatus: OrchestrationRuntimeStatus;
  createdTime: Date;
  /**
   * The orchestrator name, for the list's name filter (`name_page`). Absent from documents written before it was kept:
   * `connect` fills it in once from their state.
   */
  name?: string;
  /**
   * One key per tag pair of the state (`tagEntryKey` of each of `tagPairsOf(state.tags)`; `['{}']` without tags), for
   * the list's tag filter (`tag_page`, multikey). Written with every state write (a new execution may change the tags).
   * Absent from documents written before it was kept: `connect` fills it in once from their state. Never empty: an
   * empty array is indexed as `undefined`, which the fill-in's probe for a missing field may visit, so every document
   * without tags would be read at every `connect`.
   */
  tagKeys?: string[];
  /**
   * When the status last changed, by MongoDB's clock (`$currentDate` in the transaction that changed it:
   * `instanceUpdate`, `STAMP_UPDATED_AT`; documents written before, the writer's `lastUpdatedTime`): what a resync
   * re-reads after the change feed lost its position.
   */
  updatedAt: Date;
  /**
   * The state's `lastUpdatedTime` (the writer's clock, which `updatedAt` is not) once it has ended, `null` while it has
   * not: with `runtimeStatus` and `idOrder`, the end order of `listEnded` (`ended`). Written with every state write
   * ({@link endOrderFields}); `null` while the instance runs, so a step, which changes the state's `lastUpdatedTime`
   * but not its status, leaves its `ended` key as it was. Absent from documents written before it was kept, and
   * stale on those an earlier version wrote since (it writes the time of every state, or none): `connect` fills it in
   * once for the ended ones, and `listEnded` sets it right where it meets it stale (`endOrderRepair`).
   */
  lastUpdatedTime?: Date | null;
  /** The id in code-unit order (`codeUnitOrderKey`): the tie-break of the end order; written and filled in with `lastUpdatedTime`. */
  idOrder?: string;
  // Copies the store reads inside transactions without decoding `state`.
  executionId: string;
  version: number;
  historyLength: number;
  /** The generation of the current history: its events carry it; an older generation is garbage to sweep. */
  historyGen: string;
  /**
   * Counts the transactions that wrote the document: each one's first operation increments it, taking the document
   * (a write set of no request, which writes at most a lease release, reads it instead; see `MongoStore.#take`).
   */
  rev: number;
  // The lease of a claimed work item; free = token null and expiry EPOCH.
  leaseOwner: string | null;
  leaseToken: string | null;
  leaseExpiresAt: Date;
  /**
   * The `messageSeq` a claim's lease write read, in that same write: the claim hands out no message queued after it
   * (`visibleMessagesQuery`'s `upToSeq`), which tells a client's own suspend or resume refused while the claim holds the
   * instance what its step took (`unclaimedWriteRefusal`). Absent on a document no claim has leased since 2026-12-07
   * (or leased only to its starter, which took no command); stale once the lease is free (then nobody reads it).
   */
  leaseSeq?: number;
  /**
   * How the claim that wrote the lease read its messages (`claimLeaseUpdate`), so that an unclaimed write's check reads
   * exactly the messages it handed out (`claimedMessagesQuery`), not all those up to `leaseSeq`. The current lease's
   * only while its `token` is `leaseToken` (a claim of an earlier version writes none: `recordedClaimRead`).
   */
  leaseRead?: ClaimRead;
  /** Sequence number of the last message queued for this instance (arrival order). */
  messageSeq: number;
  /** Earliest `due` of the pending messages, NEVER when none: the claim filter. */
  nextMessageAt: Date;
  /** Earliest `readyAt` of the pending messages, NEVER when none: the claim order among instances claimable at once. */
  readyAt: Date;
  /**
   * When the instance can be claimed ({@link claimAtOf}: the shared `claimableAtMs` of its lease and its earliest due
   * message; EPOCH for a message visible at once and no lease, NEVER without messages). Written by every write that
   * changes the lease or the queue, in that same write, so claims and `nextWakeTime` are ranges on its index and never
   * visit an instance that waits for a far-off timer.
   */
  claimAt: Date;
  /**
   * Set to a fresh value by a commit that leaves visible messages behind: the update wakes every process's worker
   * through the wake-up feed (not only the committing one's).
   */
  handoff?: ObjectId;
  /**
   * Set only by a purge, in its transaction, just before it deletes the document ({@link purgeMarkOf}): the update's
   * change event carries the snapshot the purge deletes, which the delete event after it cannot (it names the key
   * alone, and a pre-image would need `changeStreamPreAndPostImages` on the collection). A live document never has it.
   */
  purged?: PurgedSnapshot;
}

/**
 * How a claim read the messages it hands out (`InstanceDoc.leaseRead`): those visible at `at`, up to the `leaseSeq` its
 * lease write recorded, in arrival order, the first `limit` of them within `bytes` of message text.
 */
export interface ClaimRead {
  /** The claim's lease token. */
  readonly token: string;
  /** The claim's `now`: the timers due by then were visible to it. */
  readonly at: Date;
  /** The most messages it hands out (`maxMessagesPerClaim`, or fewer when the claim asks for fewer). */
  readonly limit: number;
  /** The most message text it hands out, UTF-8 bytes (`CLAIM_MESSAGE_BYTES`). */
  readonly bytes: number;
}

/** The queue bookkeeping of an instance. */
export interface QueueHead {
  readonly messageSeq: number;
  readonly nextMessageAt: Date;
  readonly readyAt: Date;
}

/** One history event. Only the generation named by the instance's `historyGen` is its history. */
export interface HistoryDoc {
  /** The instance id's key. */
  instanceId: string;
  /** The history generation (see `InstanceDoc.historyGen`). */
  gen: string;
  /** Position in the history, from 0. */
  index: number;
  /** The event as JSON text. */
  event: string;
}

/** One pending message. `_id` is made by the writer and orders messages across instances (roughly by time). */
export interface MessageDoc {
  _id: ObjectId;
  /** The instance id's key. */
  instanceId: string;
  /** The message's own id (`OrchestrationMessage.id`). */
  id: string;
  /** Arrival order within the instance. */
  seq: number;
  /** `visibleAt`, or EPOCH for "at once": the claim filter (independent of the writer's clock). */
  due: Date;
  /** When the message became visible (see {@link readyAtOf}): the claim order. */
  readyAt: Date;
  /** The message as JSON text. */
  message: string;
}

/** One activity task (`_id` = task id). */
export interface TaskDoc {
  _id: string;
  /** The instance id's key. */
  instanceId: string;
  executionId: string;
  /** When the task was scheduled: the claim order, kept when the task is leased (an expired lease keeps its place). */
  readyAt: Date;
  /** Scheduling order among tasks of the same `readyAt` (made by the writer). */
  order: ObjectId;
  leaseOwner: string | null;
  leaseToken: string | null;
  leaseExpiresAt: Date;
  /** The task as JSON text. */
  task: string;
}

/** The fields that mark a lease as free. */
export const FREE_LEASE = { leaseOwner: null, leaseToken: null, leaseExpiresAt: EPOCH } as const;

/**
 * The lease stored on an instance or task document, live or expired, or `undefined` when it is free (expiry EPOCH, as
 * {@link FREE_LEASE} writes it, and as the claims, `releaseOwner` and the wake-up feed read it): the one reading of
 * the lease fields, for the store-kit rules that take a stored lease (`unclaimedHolds`, `changesNothing`).
 *
 * @example
 * ```ts
 * storedLeaseOf({ leaseExpiresAt: EPOCH });  // undefined: free
 * storedLeaseOf({ leaseExpiresAt: expiry }); // { expiresAt: expiry }, live or expired
 * ```
 */
export function storedLeaseOf(doc: Pick<InstanceDoc, 'leaseExpiresAt'>): { readonly expiresAt: Date } | undefined {
  return doc.leaseExpiresAt.getTime() === EPOCH.getTime() ? undefined : { expiresAt: doc.leaseExpiresAt };
}

/** A history generation of a pending sweep: the events of an execution that was replaced, restarted or purged. */
export interface SweepDoc {
  _id: ObjectId;
  /** The instance id's key. */
  instanceId: string;
  gen: string;
  /** Until when the process sweeping it holds it (absent: nobody has taken it yet; see `sweep-lease.ts`). */
  leaseExpiresAt?: Date;
  /** The token of the claim that holds it. */
  leaseToken?: string;
}

/**
 * When an instance can be claimed: `claimableAtMs` (store-kit) of its lease expiry (EPOCH: free) and its earliest due
 * message (`nextMessageAt`), or NEVER when it has no pending message. EPOCH exactly when a message is visible at once
 * and nobody holds a lease, whatever any clock says.
 *
 * @example
 * ```ts
 * claimAtOf(EPOCH, EPOCH);   // EPOCH: claimable at once
 * claimAtOf(EPOCH, fireAt);  // fireAt: a durable timer
 * claimAtOf(expiry, EPOCH);  // expiry: leased, claimable when the lease runs out
 * claimAtOf(expiry, NEVER);  // NEVER: nothing to claim
 * ```
 */
export function claimAtOf(leaseExpiresAt: Date, nextMessageAt: Date): Date {
  if (nextMessageAt.getTime() >= NEVER.getTime()) return NEVER;
  return new Date(claimableAtMs(leaseExpiresAt, nextMessageAt.getTime()));
}

/** The queue bookkeeping of an instance as written: its queue head and when that makes it claimable. */
export interface QueueFields extends QueueHead {
  readonly claimAt: Date;
}

/** The queue fields an instance document gets for `head` under a lease expiring at `leaseExpiresAt` (EPOCH: free). */
export function queueFields(head: QueueHead, leaseExpiresAt: Date): QueueFields {
  return { messageSeq: head.messageSeq, nextMessageAt: head.nextMessageAt, readyAt: head.readyAt, claimAt: claimAtOf(leaseExpiresAt, head.nextMessageAt) };
}

/**
 * The raise-key record of an instance (store-kit's `RaiseKeysRecord`) in the `raiseKeys` collection: the idempotency
 * keys it remembers, oldest first. Apart from the instance document, so a keyed raise neither reads nor rewrites the
 * state, and no claim, read or change event carries the keys.
 */
export interface RaiseKeysDoc {
  /** The instance id's key (`instanceKey`). */
  _id: string;
  keys: string[];
}

/** The record of a purged instance, kept for a while so a status resync can report the purge. */
export interface PurgeDoc {
  _id: ObjectId;
  /** The instance id's key. */
  instanceId: string;
  /**
   * When it was purged, by MongoDB's clock (`STAMP_PURGED_AT` in the purge's transaction; records written before, the
   * purging store's clock); the collection's TTL index removes the record later.
   */
  purgedAt: Date;
}

/**
 * The purge records of instances purged at `purgedAt` (written in the transaction that deletes them).
 *
 * @example
 * ```ts
 * purgeDocs(['a'], now); // [{ _id: ObjectId(...), instanceId: 'a', purgedAt: now }]
 * ```
 */
export function purgeDocs(keys: readonly string[], purgedAt: Date): PurgeDoc[] {
  return keys.map((instanceId) => ({ _id: new ObjectId(), instanceId, purgedAt }));
}

/**
 * What a purge writes on an instance document just before it deletes it, in the same transaction: the execution and
 * version of the snapshot it deletes (the indexed copies, written with every snapshot), which the status feed reads
 * from the update's change event and gives the delete that follows (`StatusChange.purged`, see `PurgeMarks`).
 * `undefined` for a document whose copies are not those MongoStore writes: its purge names nothing.
 *
 * @example
 * ```ts
 * purgeMarkOf({ executionId: 'run-1', version: 4 }); // { executionId: 'run-1', version: 4 }
 * purgeMarkOf({ executionId: 'run-1' });             // undefined
 * ```
 */
export function purgeMarkOf(doc: { readonly executionId?: unknown; readonly version?: unknown }): PurgedSnapshot | undefined {
  const { executionId, version } = doc;
  return typeof executionId === 'string' && typeof version === 'number' && Number.isInteger(version) && version > 0
    ? { executionId, version }
    : undefined;
}

/** The queue head of an instance without pending messages. */
export function emptyQueueHead(messageSeq: number): QueueHead {
  return { messageSeq, nextMessageAt: NEVER, readyAt: NEVER };
}

/** A fresh history generation. */
export function newHistoryGen(): string {
  return new ObjectId().toHexString();
}

// ------------------------------------------------------------------ instances

/** An instance state as stored: the state without its input, and the input (`''` for none), both JSON text. */
export interface EncodedState {
  readonly state: string;
  readonly input: string;
}

/**
 * Encodes an instance state as JSON text (Dates as ISO strings), its input apart, checking that both together fit
 * the size limit.
 */
export function encodeInstanceState(state: InstanceState, limitBytes: number): EncodedState {
  const input = state.input === undefined ? '' : encodePayload(state.input, statusOf(state), limitBytes);
  return { state: encodeStateBesideInput(state, limitBytes, Buffer.byteLength(input, 'utf8')), input };
}

/**
 * Encodes an instance state without its input, as JSON text, for a document that keeps the input it has (`inputBytes`:
 * the UTF-8 bytes of that stored input, counted against the size limit with the state, as {@link
 * encodeInstanceState} counts them): the input is neither encoded nor checked again.
 *
 * @example
 * ```ts
 * encodeStateBesideInput(step, MAX_PAYLOAD_BYTES, storedRow.inputBytes); // the `state` field a step writes
 * ```
 */
export function encodeStateBesideInput(state: InstanceState, limitBytes: number, inputBytes: number): string {
  const { input: _input, ...rest } = state;
  return encodePayload(rest, statusOf(state), limitBytes - inputBytes);
}

/** What the size limit's refusal of a status names. */
function statusOf(state: InstanceState): string {
  return `The status of instance ${JSON.stringify(state.instanceId)} (input, output, custom status)`;
}

/**
 * Decodes the JSON text of an instance state and its input (`''` or absent: none), restoring its Dates (`createdTime`,
 * `lastUpdatedTime`, and `scheduledStartTime` when present). Throws
 * `MongoStoreError` when it is corrupt.
 */
export function decodeInstanceState(text: string, input?: string): InstanceState {
  const raw = decodePayload(text, 'instance state');
  if (
    !isRecord(raw) || typeof raw['instanceId'] !== 'string' || typeof raw['name'] !== 'string' ||
    !ALL_RUNTIME_STATUSES.includes(raw['runtimeStatus'] as OrchestrationRuntimeStatus) ||
    typeof raw['executionId'] !== 'string' || typeof raw['version'] !== 'number' || typeof raw['historyLength'] !== 'number'
  ) {
    throw new MongoStoreError('Stored instance state is malformed; the document was not written by MongoStore');
  }
  return {
    ...raw,
    ...(input ? { input: decodePayload(input, 'instance input') } : {}),
    createdTime: toDate(raw['createdTime'], 'createdTime'),
    lastUpdatedTime: toDate(raw['lastUpdatedTime'], 'lastUpdatedTime'),
    // A delayed start's time (`startNew` `startAt`), the one optional Date of a state.
    ...(raw['scheduledStartTime'] === undefined ? {} : { scheduledStartTime: toDate(raw['scheduledStartTime'], 'scheduledStartTime') }),
  } as unknown as InstanceState;
}

/**
 * The state of one stored instance a read returned, or `undefined` when it does not decode (corrupt, or written by
 * another program or a newer version): then `unreadable` is told its key and the error. Reads of many instances (a
 * query page, a re-read after a change-feed gap) leave such a document out instead of failing whole,
 * as claims skip work they cannot read (`decideClaimedWork`); a single instance's read (`getInstance`) still throws.
 *
 * @example
 * ```ts
 * const state = decodeStoredState(doc, (key, error) => logger.error(`instance ${key} cannot be read`, error));
 * if (state) page.push(state);
 * ```
 */
export function decodeStoredState(
  doc: { readonly _id: string; readonly state: string; readonly input?: string }, unreadable: (key: string, error: unknown) => void,
): InstanceState | undefined {
  try {
    return decodeInstanceState(doc.state, doc.input);
  } catch (error) {
    unreadable(doc._id, error);
    return undefined;
  }
}

/** The `tagKeys` of a state ({@link InstanceDoc.tagKeys}): one key per tag pair, `['{}']` ({@link NO_TAGS_KEY}) without tags. */
export function tagKeysOf(state: Pick<InstanceState, 'tags'>): string[] {
  const pairs = tagPairsOf(state.tags);
  return pairs.length === 0 ? [NO_TAGS_KEY] : pairs.map(tagEntryKey);
}

/** The one key of `tagKeys` without tags: no pair's key (each is a JSON array), so no tag filter lists it. */
export const NO_TAGS_KEY = '{}';

/**
 * The fields of the end order a state is listed in by `listEnded` ({@link InstanceDoc.lastUpdatedTime},
 * {@link InstanceDoc.idOrder}), which every state write writes: the state's `lastUpdatedTime` once it has ended (a
 * terminal status, `isTerminalStatus`), `null` before, so that the `ended` key of a running instance stays the same
 * from step to step (MongoDB rewrites no index entry whose key a write leaves as it was).
 *
 * @example
 * ```ts
 * endOrderFields(completed); // { lastUpdatedTime: completed.lastUpdatedTime, idOrder: codeUnitOrderKey(completed.instanceId) }
 * endOrderFields(running);   // { lastUpdatedTime: null, idOrder: codeUnitOrderKey(running.instanceId) }
 * ```
 */
export function endOrderFields(
  state: Pick<InstanceState, 'instanceId' | 'lastUpdatedTime' | 'runtimeStatus'>,
): { lastUpdatedTime: Date | null; idOrder: string } {
  return { lastUpdatedTime: isTerminalStatus(state.runtimeStatus) ? state.lastUpdatedTime : null, idOrder: codeUnitOrderKey(state.instanceId) };
}

/** The stored fields {@link endOrderRepair} compares with what the state implies. */
export type StoredEndOrder = Pick<InstanceDoc, '_id' | 'state'> & Partial<Pick<InstanceDoc, 'runtimeStatus' | 'lastUpdatedTime' | 'idOrder'>>;

/**
 * The update that sets the end-order fields of a stored instance right (`undefined` when they are): `doc`'s
 * `runtimeStatus`, `lastUpdatedTime` and `idOrder` as read, against {@link endOrderFields} of `state`, its decoded
 * `state`. They differ only on a document an earlier version wrote: one before the fields were kept writes none (an
 * instance it ended is not listed), the version before this one writes the time of every state (a running one then
 * has a key each step moves). Guarded by {@link sameStateFilter}: written only over the state it was computed from.
 *
 * @example
 * ```ts
 * endOrderRepair({ _id: 'a', state: text, runtimeStatus: 'Completed', lastUpdatedTime: null, idOrder: 'a' }, completed);
 * // { filter: { _id: 'a', state: text }, update: { $set: { lastUpdatedTime: completed.lastUpdatedTime, idOrder: 'a' } } }
 * ```
 */
export function endOrderRepair(
  doc: StoredEndOrder, state: Pick<InstanceState, 'instanceId' | 'lastUpdatedTime' | 'runtimeStatus'>,
): { filter: Pick<InstanceDoc, '_id' | 'state'>; update: { $set: Partial<InstanceDoc> } } | undefined {
  const fields = endOrderFields(state);
  const stored = doc.lastUpdatedTime instanceof Date ? doc.lastUpdatedTime.getTime() : null;
  const wanted = fields.lastUpdatedTime === null ? null : fields.lastUpdatedTime.getTime();
  if (doc.runtimeStatus === state.runtimeStatus && stored === wanted && doc.idOrder === fields.idOrder) return undefined;
  return { filter: sameStateFilter(doc), update: { $set: { runtimeStatus: state.runtimeStatus, ...fields } } };
}

/**
 * The filter of a write of fields derived from a stored state (the fill-ins at `connect`, {@link endOrderRepair}):
 * the document `doc` was read as, with the same `state` text. A commit between the read and the write (by this version
 * or an earlier one running beside it, which may not write the field) changes the state, so the derived value, now
 * stale, is not written over it: no update keyed on a field being missing, which an earlier version's commit leaves
 * missing, and no counter (`rev` restarts at 0 when an instance is replaced).
 *
 * @example
 * ```ts
 * sameStateFilter({ _id: 'a', state: '{"instanceId":"a",...}' }); // { _id: 'a', state: '{"instanceId":"a",...}' }
 * ```
 */
export function sameStateFilter(doc: Pick<InstanceDoc, '_id' | 'state'>): Pick<InstanceDoc, '_id' | 'state'> {
  return { _id: doc._id, state: doc.state };
}

/** The document of an instance: its state (already encoded), indexed copies, a free lease. */
export function instanceDoc(state: InstanceState, encoded: EncodedState, queue: QueueHead, historyGen: string): InstanceDoc {
  return {
    _id: instanceKey(state.instanceId),
    state: encoded.state,
    input: encoded.input,
    runtimeStatus: state.runtimeStatus,
    createdTime: state.createdTime,
    name: state.name,
    tagKeys: tagKeysOf(state),
    updatedAt: state.lastUpdatedTime,
    ...endOrderFields(state),
    executionId: state.executionId,
    version: state.version,
    historyLength: state.historyLength,
    historyGen,
    rev: 0,
    ...FREE_LEASE,
    ...queueFields(queue, FREE_LEASE.leaseExpiresAt),
  };
}

// ------------------------------------------------------------------ messages

/** A message ready to be queued: everything but its sequence number, which the transaction assigns. */
export interface EncodedMessage {
  readonly oid: ObjectId;
  /** The target instance id (not its key). */
  readonly instanceId: string;
  readonly id: string;
  readonly due: Date;
  readonly readyAt: Date;
  readonly text: string;
}

/**
 * Encodes a message (checking the size limit) and gives it an ObjectId. `writtenAt` is the ready time of a message
 * whose event carries no readable timestamp.
 */
export function encodeMessage(message: OrchestrationMessage, limitBytes: number, writtenAt: Date = new Date()): EncodedMessage {
  return {
    oid: new ObjectId(),
    instanceId: message.instanceId,
    id: message.id,
    due: dueOf(message),
    readyAt: readyAtOf(message, writtenAt),
    text: encodePayload(message, `A ${message.event.type} message to ${JSON.stringify(message.instanceId)}`, limitBytes),
  };
}

/** When a message may be claimed: `visibleAt`, or EPOCH ("at once", whatever the claimer's clock says). */
export function dueOf(message: OrchestrationMessage): Date {
  return message.visibleAt ?? EPOCH;
}

/**
 * When a message became visible, the key of the claim order: `visibleAt` for a delayed message (a timer, a retry
 * back-off), otherwise the time its event was raised (`event.timestamp`, the sender's clock), or `writtenAt` when
 * that is not a date. Ordering claims by it means a due timer waits only behind messages that were visible before it.
 *
 * @example
 * ```ts
 * readyAtOf({ ..., visibleAt: fireAt }, now);                       // fireAt
 * readyAtOf({ ..., event: { ..., timestamp: '2026-01-01T00:00:00Z' } }, now); // 2026-01-01
 * ```
 */
export function readyAtOf(message: OrchestrationMessage, writtenAt: Date): Date {
  if (message.visibleAt) return message.visibleAt;
  const raised = Date.parse(message.event.timestamp);
  return Number.isNaN(raised) ? writtenAt : new Date(raised);
}

/** The document of a queued message. */
export function messageDoc(message: EncodedMessage, seq: number): MessageDoc {
  return {
    _id: message.oid, instanceId: instanceKey(message.instanceId), id: message.id, seq, due: message.due, readyAt: message.readyAt,
    message: message.text,
  };
}

/**
 * The queue head of an instance after its pending messages changed: `$min` of what it had and of the new messages
 * (an append), as one pure fold so the transaction only writes it.
 */
export function lowerQueueHead(head: QueueHead, added: readonly EncodedMessage[]): QueueHead {
  let { nextMessageAt, readyAt } = head;
  for (const message of added) {
    if (message.due < nextMessageAt) nextMessageAt = message.due;
    if (message.readyAt < readyAt) readyAt = message.readyAt;
  }
  return { messageSeq: head.messageSeq + added.length, nextMessageAt, readyAt };
}

/** Decodes a queued message, restoring `visibleAt`. */
export function decodeMessage(text: string): OrchestrationMessage {
  const raw = decodePayload(text, 'message');
  if (!isRecord(raw) || typeof raw['id'] !== 'string' || typeof raw['instanceId'] !== 'string' || !isRecord(raw['event'])) {
    throw new MongoStoreError('Stored message is malformed; the document was not written by MongoStore');
  }
  const { visibleAt, ...rest } = raw;
  return (visibleAt === undefined ? rest : { ...rest, visibleAt: toDate(visibleAt, 'visibleAt') }) as unknown as OrchestrationMessage;
}

// ------------------------------------------------------------------ history

/** Encodes a history event as JSON text, checking the size limit. */
export function encodeHistoryEvent(event: HistoryEvent, limitBytes: number): string {
  return encodePayload(event, `A ${event.type} history event`, limitBytes);
}

/** Decodes a history event. */
export function decodeHistoryEvent(text: string): HistoryEvent {
  const raw = decodePayload(text, 'history event');
  if (!isRecord(raw) || typeof raw['type'] !== 'string') {
    throw new MongoStoreError('Stored history event is malformed; the document was not written by MongoStore');
  }
  return raw as unknown as HistoryEvent;
}

// ------------------------------------------------------------------ activity tasks

/** The document of a new (unleased) activity task, scheduled at `scheduledAt`. */
export function taskDoc(task: ActivityTask, limitBytes: number, scheduledAt: Date = new Date()): TaskDoc {
  return {
    _id: task.id,
    instanceId: instanceKey(task.instanceId),
    executionId: task.executionId,
    readyAt: scheduledAt,
    order: new ObjectId(),
    ...FREE_LEASE,
    task: encodePayload(task, `The input of activity ${JSON.stringify(task.name)}`, limitBytes),
  };
}

/** Decodes an activity task. */
export function decodeTask(text: string): ActivityTask {
  const raw = decodePayload(text, 'activity task');
  if (!isRecord(raw) || typeof raw['id'] !== 'string' || typeof raw['name'] !== 'string' || typeof raw['instanceId'] !== 'string') {
    throw new MongoStoreError('Stored activity task is malformed; the document was not written by MongoStore');
  }
  return raw as unknown as ActivityTask;
}

// ------------------------------------------------------------------ helpers

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toDate(value: unknown, field: string): Date {
  const date = typeof value === 'string' ? new Date(value) : undefined;
  if (!isValidDate(date)) {
    throw new MongoStoreError(`Stored ${field} is not an ISO date; the document was not written by MongoStore`);
  }
  return date;
}
