import type { HistoryEvent, OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import { claimableAtMs, dueAtMs, type ActivityTask, type InstanceState, type Lease, type OrchestrationMessage } from '@durable-rx/runtime/store-kit';

/**
 * What both IndexedDB stores keep, as plain structured-cloneable rows. Each adapter lays the rows out in its own way
 * (Dexie tables with indexes, or idb-keyval keys with hand-kept index entries); the shared logic in `idb-store.ts`
 * only sees these types.
 */

/** One orchestration instance with its lease and the claim schedule derived from its pending messages. */
export interface InstanceRow {
  readonly id: string;
  readonly state: InstanceState;
  /** `state.createdTime` in ms, the paging key. */
  readonly createdMs: number;
  /** `state.runtimeStatus`, for the status index. */
  readonly status: OrchestrationRuntimeStatus;
  /** Present from a claim until its commit or abandon (an expired lease stays until the next claim). */
  readonly lease?: Lease;
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

/** The events of history rows (in position order, from position 0) at positions `from` and later. */
export function historyFrom(rows: readonly (readonly HistoryEvent[])[], from: number): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const batch of rows) events.push(...batch);
  return from > 0 ? events.slice(from) : events;
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

/** Replaces the claim-schedule fields of a row (dropping absent ones). */
export function withQueueFields(row: InstanceRow, lease: Lease | undefined, fields: QueueFields): InstanceRow {
  const { lease: _l, minVisibleMs: _m, headSeq: _h, readyMs: _r, pendingCount: _c, ...rest } = row;
  return { ...rest, ...(lease ? { lease } : {}), ...fields };
}

/** The row of a new pending message. */
export function messageRow(message: OrchestrationMessage): NewMessageRow {
  return { instanceId: message.instanceId, visibleMs: dueAtMs(message), message };
}
