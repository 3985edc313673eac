import {
  ALL_RUNTIME_STATUSES, type ActivityTask, type HistoryEvent, type InstanceState, type OrchestrationMessage,
  type OrchestrationRuntimeStatus,
} from '@durable-rx/runtime';
import { ObjectId } from 'mongodb';
import { MongoStoreError } from './errors/mongo-store-error.js';
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

/** "No pending message" for the claim order tie-break: the largest ObjectId. */
export const LAST_OBJECT_ID = new ObjectId('ffffffffffffffffffffffff');

/** One orchestration instance (`_id` = instance id). */
export interface InstanceDoc {
  _id: string;
  /** The committed {@link InstanceState} as JSON text; the change feed carries it. */
  state: string;
  // Indexed copies of status fields, for queries and purges.
  runtimeStatus: OrchestrationRuntimeStatus;
  createdTime: Date;
  // Copies the store reads inside transactions without decoding `state`.
  executionId: string;
  version: number;
  historyLength: number;
  // The lease of a claimed work item; free = token null and expiry EPOCH.
  leaseOwner: string | null;
  leaseToken: string | null;
  leaseExpiresAt: Date;
  /** Sequence number of the last message queued for this instance (arrival order). */
  messageSeq: number;
  /** Earliest `due` of the pending messages, NEVER when none: the claim filter. */
  nextMessageAt: Date;
  /** `_id` of the oldest pending message, LAST_OBJECT_ID when none: the claim order among equally due instances. */
  oldestMessageId: ObjectId;
}

/** The queue bookkeeping of an instance. */
export interface QueueHead {
  readonly messageSeq: number;
  readonly nextMessageAt: Date;
  readonly oldestMessageId: ObjectId;
}

/** One history event of an instance's current execution. */
export interface HistoryDoc {
  instanceId: string;
  /** Position in the history, from 0. */
  index: number;
  /** The event as JSON text. */
  event: string;
}

/** One pending message. `_id` is made by the writer and orders messages across instances (roughly by time). */
export interface MessageDoc {
  _id: ObjectId;
  instanceId: string;
  /** The message's own id (`OrchestrationMessage.id`). */
  id: string;
  /** Arrival order within the instance. */
  seq: number;
  /** `visibleAt`, or EPOCH for "at once". */
  due: Date;
  /** The message as JSON text. */
  message: string;
}

/** One activity task (`_id` = task id). */
export interface TaskDoc {
  _id: string;
  instanceId: string;
  executionId: string;
  /** Scheduling order (made by the writer, roughly by time). */
  order: ObjectId;
  leaseOwner: string | null;
  leaseToken: string | null;
  leaseExpiresAt: Date;
  /** The task as JSON text. */
  task: string;
}

/** The fields that mark a lease as free. */
export const FREE_LEASE = { leaseOwner: null, leaseToken: null, leaseExpiresAt: EPOCH } as const;

/** The queue head of an instance without pending messages. */
export function emptyQueueHead(messageSeq: number): QueueHead {
  return { messageSeq, nextMessageAt: NEVER, oldestMessageId: LAST_OBJECT_ID };
}

// ------------------------------------------------------------------ instances

/** Encodes an instance state as JSON text (Dates as ISO strings), checking the size limit. */
export function encodeInstanceState(state: InstanceState, limitBytes: number): string {
  return encodePayload(state, `The status of instance ${JSON.stringify(state.instanceId)} (input, output, custom status)`, limitBytes);
}

/** Decodes the JSON text of an instance state, restoring its Dates. Throws `MongoStoreError` when it is corrupt. */
export function decodeInstanceState(text: string): InstanceState {
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
    createdTime: toDate(raw['createdTime'], 'createdTime'),
    lastUpdatedTime: toDate(raw['lastUpdatedTime'], 'lastUpdatedTime'),
  } as unknown as InstanceState;
}

/** The document of an instance: its state (already encoded as `stateText`), indexed copies, a free lease. */
export function instanceDoc(state: InstanceState, stateText: string, queue: QueueHead): InstanceDoc {
  return {
    _id: state.instanceId,
    state: stateText,
    runtimeStatus: state.runtimeStatus,
    createdTime: state.createdTime,
    executionId: state.executionId,
    version: state.version,
    historyLength: state.historyLength,
    ...FREE_LEASE,
    messageSeq: queue.messageSeq,
    nextMessageAt: queue.nextMessageAt,
    oldestMessageId: queue.oldestMessageId,
  };
}

// ------------------------------------------------------------------ messages

/** A message ready to be queued: everything but its sequence number, which the transaction assigns. */
export interface EncodedMessage {
  readonly oid: ObjectId;
  readonly instanceId: string;
  readonly id: string;
  readonly due: Date;
  readonly text: string;
}

/** Encodes a message (checking the size limit) and gives it an ObjectId. */
export function encodeMessage(message: OrchestrationMessage, limitBytes: number): EncodedMessage {
  return {
    oid: new ObjectId(),
    instanceId: message.instanceId,
    id: message.id,
    due: dueOf(message),
    text: encodePayload(message, `A ${message.event.type} message to ${JSON.stringify(message.instanceId)}`, limitBytes),
  };
}

/** When a message becomes visible: `visibleAt`, or EPOCH ("at once"). */
export function dueOf(message: OrchestrationMessage): Date {
  return message.visibleAt ?? EPOCH;
}

/** The document of a queued message. */
export function messageDoc(message: EncodedMessage, seq: number): MessageDoc {
  return { _id: message.oid, instanceId: message.instanceId, id: message.id, seq, due: message.due, message: message.text };
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

/** The document of a new (unleased) activity task. */
export function taskDoc(task: ActivityTask, limitBytes: number): TaskDoc {
  return {
    _id: task.id,
    instanceId: task.instanceId,
    executionId: task.executionId,
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
  if (!date || Number.isNaN(date.getTime())) {
    throw new MongoStoreError(`Stored ${field} is not an ISO date; the document was not written by MongoStore`);
  }
  return date;
}
