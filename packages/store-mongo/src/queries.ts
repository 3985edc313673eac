import {
  TERMINAL_RUNTIME_STATUSES, type InstanceQuery, type OrchestrationRuntimeStatus, type PageKey, type PurgeFilter,
} from '@durable-rx/runtime';
import type { Filter, Sort } from 'mongodb';
import type { InstanceDoc, TaskDoc } from './documents.js';

/**
 * Pure builders of the MongoDB filters and sort orders MongoStore sends. Each filter has an index that serves it
 * (see `indexes.ts`).
 */

/** Page order of `queryInstances`: (createdTime, instanceId). Served by the `page` / `status_page` indexes. */
export const PAGE_SORT = { createdTime: 1, _id: 1 } as const satisfies Sort;

/**
 * Claim order of orchestration work: the earliest due message first, then the instance whose oldest pending message
 * is oldest. Served by the `claim` index, which also carries `leaseExpiresAt` so leased instances are skipped
 * inside the index.
 */
export const CLAIM_ORCHESTRATION_SORT = { nextMessageAt: 1, oldestMessageId: 1 } as const satisfies Sort;

/** Claim order of activity tasks: never-leased tasks in scheduling order first, then expired leases. `claim` index. */
export const CLAIM_ACTIVITY_SORT = { leaseExpiresAt: 1, order: 1 } as const satisfies Sort;

const REGEX_SPECIAL = /[\\^$.|?*+()[\]{}]/;

/**
 * Escapes `text` so that, inside a regular expression, it matches itself literally. Metacharacters get a backslash;
 * control characters become `\xHH`, so the pattern holds no NUL and reads the same in PCRE (MongoDB) and JavaScript.
 *
 * @example
 * ```ts
 * escapeRegexLiteral('a.*b'); // 'a\\.\\*b'
 * ```
 */
export function escapeRegexLiteral(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (REGEX_SPECIAL.test(ch)) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/**
 * The anchored, case-sensitive pattern matching ids that start with `prefix` literally. An anchored prefix regex
 * without options is turned by MongoDB into a range scan of the `_id` index.
 *
 * @example
 * ```ts
 * instanceIdPrefixPattern('job-(1)'); // '^job-\\(1\\)'
 * ```
 */
export function instanceIdPrefixPattern(prefix: string): string {
  return `^${escapeRegexLiteral(prefix)}`;
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
  if (query.instanceIdPrefix) clauses.push({ _id: { $regex: instanceIdPrefixPattern(query.instanceIdPrefix) } });
  if (after) {
    const time = new Date(after.createdTime);
    // The plain lower bound lets the index scan start at the cursor; the $or then skips what the page already had.
    clauses.push({ createdTime: { $gte: time } });
    clauses.push({ $or: [{ createdTime: { $gt: time } }, { createdTime: time, _id: { $gt: after.instanceId } }] });
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

/** Instances with a message due at `now` and no live lease (a lease is live while `leaseExpiresAt > now`). */
export function claimOrchestrationFilter(now: Date): Filter<InstanceDoc> {
  return { nextMessageAt: { $lte: now }, leaseExpiresAt: { $lte: now } };
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
