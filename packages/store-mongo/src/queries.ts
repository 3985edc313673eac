import { InvalidArgumentError, TERMINAL_RUNTIME_STATUSES, type OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import { type InstanceQuery, type PageKey, type PurgeFilter } from '@durable-rx/runtime/store-kit';
import type { Filter, Sort } from 'mongodb';
import { EPOCH, NEVER, type InstanceDoc, type MessageDoc, type TaskDoc } from './documents.js';
import { instanceKey, instanceKeyPrefixPatterns } from './instance-key.js';

/**
 * Pure builders of the MongoDB filters, sort orders and index hints MongoStore sends. Each filter has an index that
 * serves it (see `indexes.ts`); the claims and wake-up queries are pinned to theirs with a hint.
 */

/** Page order of `queryInstances`: (createdTime, instanceId). Served by the `page` / `status_page` indexes. */
export const PAGE_SORT = { createdTime: 1, _id: 1 } as const satisfies Sort;

/**
 * Claim order of orchestration work: the instance whose earliest message became visible first (`readyAt`: a timer's
 * `visibleAt`, an immediate message's timestamp). A due timer therefore waits only behind messages that were visible
 * before it, never behind the whole backlog. Served by the `claim_ready` index ({@link CLAIM_ORCHESTRATION_HINT}),
 * which also carries `nextMessageAt` and `leaseExpiresAt`, so leased and not-yet-due instances are skipped inside
 * the index.
 */
export const CLAIM_ORCHESTRATION_SORT = { readyAt: 1 } as const satisfies Sort;

/**
 * The key of the index the orchestration claim is pinned to (`claim_ready`), so the plan cache can never pick a
 * worse one under load.
 */
export const CLAIM_ORCHESTRATION_HINT = { readyAt: 1, nextMessageAt: 1, leaseExpiresAt: 1 } as const;

/**
 * Claim order of activity tasks: by the time the task was scheduled, whether it is free or its lease expired. An
 * expired task is older than every task scheduled after it, so it never waits behind them. `claim_ready` index.
 */
export const CLAIM_ACTIVITY_SORT = { readyAt: 1, order: 1 } as const satisfies Sort;

/** The key of the index the activity claim is pinned to (`claim_ready`). */
export const CLAIM_ACTIVITY_HINT = { readyAt: 1, order: 1, leaseExpiresAt: 1 } as const;

/** Order in which a claim takes an instance's messages: arrival order. `instance_seq` index. */
export const CLAIMED_MESSAGES_SORT = { seq: 1 } as const satisfies Sort;

/** The key of the index the read of a claim's messages is pinned to (`instance_seq`). */
export const CLAIMED_MESSAGES_HINT = { instanceId: 1, seq: 1 } as const;

/** The index keys of the three `nextWakeTime` queries (`due`, `lease_expiry`, `lease_expiry`). */
export const WAKE_HINTS = { messages: { due: 1 }, instances: { leaseExpiresAt: 1 }, activityTasks: { leaseExpiresAt: 1 } } as const;

/** The index keys of the queue-head reads after a commit (`instance_due`, `instance_ready`). */
export const QUEUE_HEAD_HINTS = { due: { instanceId: 1, due: 1 }, readyAt: { instanceId: 1, readyAt: 1 } } as const;

/** The index key of the sweeper's reads (`instance_gen_index`) and of a status resync (`updated`). */
export const SWEEP_HINT = { instanceId: 1, gen: 1, index: 1 } as const;
export const RESYNC_HINT = { updatedAt: 1 } as const;

/** Default and largest number of messages one orchestration claim takes (see {@link claimBound}). */
export const DEFAULT_MAX_MESSAGES_PER_CLAIM = 100;

/**
 * How many messages a claim takes: the caller's `maxMessages` when given, never more than the store's bound. The
 * rest stays queued and is claimable as soon as the step commits, so a backlog drains in bounded transactions.
 * Throws `InvalidArgumentError` for a bound that is not a positive integer.
 *
 * @example
 * ```ts
 * claimBound(undefined, 100); // 100
 * claimBound(10, 100);        // 10
 * claimBound(1000, 100);      // 100
 * ```
 */
export function claimBound(requested: number | undefined, storeBound: number): number {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1)) {
    throw new InvalidArgumentError('maxMessages must be a positive integer');
  }
  return Math.min(requested ?? storeBound, storeBound);
}

/**
 * The filter of `queryInstances`: status, created-time range, literal id prefix and, when paging, "after the last
 * instance of the previous page" in (createdTime, instanceId) order (keyset paging).
 */
export function buildQueryFilter(query: InstanceQuery, after?: PageKey): Filter<InstanceDoc> {
  const clauses: Filter<InstanceDoc>[] = [];
  if (query.runtimeStatus && query.runtimeStatus.length > 0) clauses.push({ runtimeStatus: { $in: [...query.runtimeStatus] } });
  const created = createdRange(query.createdTimeFrom, query.createdTimeTo);
  if (created) clauses.push(created);
  if (query.instanceIdPrefix) {
    const [plain, escaped] = instanceKeyPrefixPatterns(query.instanceIdPrefix);
    clauses.push({ $or: [{ _id: { $regex: plain } }, { _id: { $regex: escaped } }] });
  }
  if (after) {
    const time = new Date(after.createdTime);
    // The plain lower bound lets the index scan start at the cursor; the $or then skips what the page already had.
    clauses.push({ createdTime: { $gte: time } });
    clauses.push({ $or: [{ createdTime: { $gt: time } }, { createdTime: time, _id: { $gt: instanceKey(after.instanceId) } }] });
  }
  return combine(clauses);
}

/** The filter of `purgeInstances`: terminal instances (of the requested statuses) created in the range. */
export function buildPurgeFilter(filter: PurgeFilter): Filter<InstanceDoc> {
  const requested = filter.runtimeStatus && filter.runtimeStatus.length > 0 ? filter.runtimeStatus : TERMINAL_RUNTIME_STATUSES;
  const statuses: OrchestrationRuntimeStatus[] = requested.filter((s) => TERMINAL_RUNTIME_STATUSES.includes(s));
  const clauses: Filter<InstanceDoc>[] = [{ runtimeStatus: { $in: statuses } }];
  const created = createdRange(filter.createdTimeFrom, filter.createdTimeTo);
  if (created) clauses.push(created);
  return combine(clauses);
}

/**
 * Instances with a message due at `now` and no live lease (a lease is live while `leaseExpiresAt > now`). The
 * `readyAt` bound keeps instances without pending messages out of the index scan.
 */
export function claimOrchestrationFilter(now: Date): Filter<InstanceDoc> {
  return { readyAt: { $lt: NEVER }, nextMessageAt: { $lte: now }, leaseExpiresAt: { $lte: now } };
}

/** The visible messages of a claimed instance (by its stored key). */
export function claimedMessagesFilter(key: string, now: Date): Filter<MessageDoc> {
  return { instanceId: key, due: { $lte: now } };
}

/** Activity tasks without a live lease. */
export function claimActivityFilter(now: Date): Filter<TaskDoc> {
  return { leaseExpiresAt: { $lte: now } };
}

function createdRange(from: Date | undefined, to: Date | undefined): Filter<InstanceDoc> | undefined {
  if (!from && !to) return undefined;
  return { createdTime: { ...(from ? { $gte: from } : {}), ...(to ? { $lte: to } : {}) } };
}

function combine(clauses: Filter<InstanceDoc>[]): Filter<InstanceDoc> {
  if (clauses.length === 0) return {};
  if (clauses.length === 1) return clauses[0] as Filter<InstanceDoc>;
  return { $and: clauses };
}

/**
 * The filter of `releaseOwner`: instances or activity tasks whose lease was recorded with `owner` (the store-kit rule
 * `isHeldBy`: live or expired). A free lease has expiry EPOCH, so the range on `leaseExpiresAt` lets the
 * `lease_expiry` index ({@link RELEASE_OWNER_HINT}) visit only leased documents.
 *
 * @example
 * ```ts
 * ownerLeasesFilter('tab-1'); // { leaseExpiresAt: { $gt: EPOCH }, leaseOwner: 'tab-1' }
 * ```
 */
export function ownerLeasesFilter(owner: string): Filter<InstanceDoc> & Filter<TaskDoc> {
  return { leaseExpiresAt: { $gt: EPOCH }, leaseOwner: owner };
}

/** The key of the index `releaseOwner` is pinned to (`lease_expiry`, on instances and on activity tasks). */
export const RELEASE_OWNER_HINT = { leaseExpiresAt: 1 } as const;
