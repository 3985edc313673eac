import { isTerminalStatus, type InstanceState } from '../model/instance-status.js';
import { invalid, isValidDate, MAX_PAGE_SIZE } from '../model/validation.js';
import { compareIds } from './store-helpers.js';
import type { EndedKey, EndedQuery } from './store.js';

/**
 * The end-order key of an instance (`Store.listEnded`): its `lastUpdatedTime` in ms (its end, or a later change
 * recorded on it once ended) and its id.
 */
export function endedKeyOf(state: Pick<InstanceState, 'instanceId' | 'lastUpdatedTime'>): EndedKey {
  return { endedMs: state.lastUpdatedTime.getTime(), instanceId: state.instanceId };
}

/** Orders instances by end: `endedMs`, then `instanceId` (as strings compare, code unit by code unit). */
export function compareEndedKeys(a: EndedKey, b: EndedKey): number {
  return a.endedMs - b.endedMs || compareIds(a.instanceId, b.instanceId);
}

/**
 * Whether `state` belongs to the listing `query` asks for (paging aside, the key after `query.after`): the one rule
 * of every store's `listEnded`. An instance of the status that ended (its `lastUpdatedTime`) at or before `endedTo`.
 *
 * @example
 * ```ts
 * matchesEndedQuery(completedAt1000, { runtimeStatus: 'Completed', endedTo: new Date(1000), limit: 100 }); // true
 * ```
 */
export function matchesEndedQuery(state: Pick<InstanceState, 'instanceId' | 'runtimeStatus' | 'lastUpdatedTime'>, query: EndedQuery): boolean {
  if (state.runtimeStatus !== query.runtimeStatus || state.lastUpdatedTime.getTime() > query.endedTo.getTime()) return false;
  return query.after === undefined || compareEndedKeys(endedKeyOf(state), query.after) > 0;
}

/**
 * Checks an {@link EndedQuery} before a store reads anything: an ended status (Completed, Failed or Terminated), a
 * valid `endedTo`, a `limit` from 1 to `MAX_PAGE_SIZE`, and `after`, when given, a whole millisecond a Date holds
 * with a string id. Throws `InvalidArgumentError` otherwise; returns the query.
 */
export function validateEndedQuery(query: EndedQuery): EndedQuery {
  const { runtimeStatus, endedTo, limit, after } = query ?? {};
  if (!isTerminalStatus(runtimeStatus)) invalid('ended query.runtimeStatus', 'must be Completed, Failed or Terminated');
  if (!isValidDate(endedTo)) invalid('ended query.endedTo', 'must be a valid Date');
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE_SIZE)) invalid('ended query.limit', `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  if (after !== undefined && !(Number.isInteger(after?.endedMs) && isValidDate(new Date(after.endedMs)) && typeof after.instanceId === 'string')) {
    invalid('ended query.after', 'must be an instant in ms and an id');
  }
  return query;
}

/**
 * How long after its end an instance's `lastUpdatedTime` may still reach a store (ms): the time between a writer's
 * reading of its clock and its commit, plus how far its clock may be behind the sweeper's. A retention sweep that goes
 * on in end order after the last instance it listed goes on no later than this before the time it listed up to
 * ({@link resumeKeyOf}), so an end stamped that late is still listed.
 */
export const ENDED_SETTLE_MS = 300_000;

/**
 * Where the next pass of a status's end-order listing goes on from once a pass listed up to `last` at `nowMs`: after
 * `last`, but no later than {@link ENDED_SETTLE_MS} before `nowMs` (keys before it are read again: an end committed
 * late, or stamped by a clock behind, may have joined them). Of a status kept `settleMs` or longer, the key listed
 * last (its cutoff is that far back already).
 *
 * @example
 * ```ts
 * resumeKeyOf({ endedMs: 9_000_000, instanceId: 'b' }, 9_000_000); // { endedMs: 8_700_000, instanceId: '' }
 * ```
 */
export function resumeKeyOf(last: EndedKey, nowMs: number, settleMs = ENDED_SETTLE_MS): EndedKey {
  const settled: EndedKey = { endedMs: Math.max(nowMs - settleMs, -8.64e15), instanceId: '' };
  return compareEndedKeys(last, settled) <= 0 ? last : settled;
}
