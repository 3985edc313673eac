import { InvalidArgumentError, TERMINAL_RUNTIME_STATUSES, type InstanceTags, type OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import { historyRangeOf, isValidDate, tagEntryKey, tagPairsOf, type EndedQuery, type HistoryRange, type InstanceQuery, type Lease, type PageKey, type PurgeFilter } from '@durable-rx/runtime/store-kit';
import type { Filter, Sort } from 'mongodb';
import { EPOCH, NEVER, type HistoryDoc, type InstanceDoc, type MessageDoc, type PurgeDoc, type TaskDoc } from './documents.js';
import { codeUnitOrderKey, instanceKey, instanceKeyPrefixPatterns, instanceIdOfKey } from './instance-key.js';
import { escapeRegexLiteral } from './regex-literal.js';

/**
 * Pure builders of the MongoDB filters, sort orders and index hints MongoStore sends. Each filter has an index that
 * serves it (see `indexes.ts`); the claims and wake-up queries are pinned to theirs with a hint.
 */

/** The condition of {@link storeKeyed}: an `_id` of type string. */
export const STORE_KEY = { _id: { $type: 'string' } } as const;

/**
 * The rule of every scan MongoStore sends (a read, lease, update or purge that selects instances or tasks by anything
 * but a key it built): only documents whose `_id` is a string, the only keys it writes. A document another program
 * left in its collections with any other `_id` (an ObjectId, a number) is not in the result: never claimed or leased,
 * never in a query page, a purge or a resync, so it is never written to nor logged either. A read by a key
 * (`_id: instanceKey(id)`, `_id: { $in: keys }`) matches strings only already and needs no rule.
 *
 * How the server applies it: as a filter on the document it fetches for each index key its scan visits. On `claim_at`,
 * `lease_owner` and `updated`, which do not hold `_id`, every server does so; on `page` and `status_page`, which do,
 * MongoDB 4.4 does so too (its index bounds for a `$type` are exact for numbers only), and newer servers may check it
 * on the keys instead. Claims, updates, re-reads and pages fetch their documents anyway; `nextWakeTime` reads one
 * document more than the index key it read before. Two reads leave the rule out, so that they read index keys alone
 * on every supported server, and the queries they lead to apply it: the claims' probes ({@link timedClaimProbeFilter})
 * and the purge's scan for candidates ({@link purgeScanFilter}).
 *
 * A filter that has an `_id` condition of its own keeps it: the rule joins it in an `$and` (spread into the same
 * object, the rule would replace it).
 *
 * @example
 * ```ts
 * storeKeyed({ claimAt: EPOCH });    // { claimAt: EPOCH, _id: { $type: 'string' } }
 * storeKeyed({ _id: { $gt: 'p' } }); // { $and: [{ _id: { $gt: 'p' } }, { _id: { $type: 'string' } }] }
 * ```
 */
export function storeKeyed<T extends object>(filter: T): (T & typeof STORE_KEY) | { $and: [T, typeof STORE_KEY] } {
  return '_id' in filter ? { $and: [filter, STORE_KEY] } : { ...filter, ...STORE_KEY };
}

/** Page order of `queryInstances`: (createdTime, instanceId). Served by the `page` / `status_page` / `name_page` indexes. */
export const PAGE_SORT = { createdTime: 1, _id: 1 } as const satisfies Sort;

/** Page order of `queryInstances` newest first (`order: 'desc'`): the same indexes, read backwards. */
export const PAGE_SORT_DESC = { createdTime: -1, _id: -1 } as const satisfies Sort;

/** The sort of a listing in `order`. */
export function pageSortOf(order: 'asc' | 'desc' | undefined): typeof PAGE_SORT | typeof PAGE_SORT_DESC {
  return order === 'desc' ? PAGE_SORT_DESC : PAGE_SORT;
}

/**
 * The key of the instances' claim index (`claim_at`), to which every orchestration claim and the instances' part of
 * `nextWakeTime` are pinned, and the sort they all use (the index order).
 */
export const CLAIM_ORCHESTRATION_HINT = { claimAt: 1, readyAt: 1 } as const;
export const CLAIM_ORCHESTRATION_SORT = { claimAt: 1, readyAt: 1 } as const satisfies Sort;

/**
 * One try of a claim: a `findOneAndUpdate` with this filter and the claim's sort ({@link CLAIM_ORCHESTRATION_SORT},
 * {@link CLAIM_ACTIVITY_SORT}), so the server leases the first document of the range atomically. Every filter is a
 * range on the claim index's leading field (when the document became claimable) that ends at `now` or at EPOCH, so it
 * never visits a document that is leased or waits for a later time.
 */
export interface ClaimTry<T = InstanceDoc> {
  /** `'at-once'`: claimable at once (a visible message, no lease; a free task); `'timed'`: a due timer, an expired lease. */
  readonly band: 'at-once' | 'timed';
  readonly filter: Filter<T>;
}

/**
 * Instances claimable since a time at or before `now` (`claimAtOf` after EPOCH): a durable timer that came due
 * or a lease that expired, first the earliest. The claim probes its head first ({@link timedClaimProbeFilter}).
 */
export function timedClaimFilter(now: Date): Filter<InstanceDoc> {
  return storeKeyed(timedClaimProbeFilter(now));
}

/**
 * The probe of a claim: the range of {@link timedClaimFilter} without the rule of {@link storeKeyed}, so that with the
 * projection `{ _id: 0, claimAt: 1 }` it reads one key of `claim_at` and no document. The probe only orders the tries
 * ({@link orchestrationClaimTries}), and every try applies the rule, so no other program's document is ever leased; one
 * inside the timed band at most makes its `claimAt` the head, which moves only the point where the tries switch bands.
 */
export function timedClaimProbeFilter(now: Date): Filter<InstanceDoc> {
  return { claimAt: { $gt: EPOCH, $lte: now } };
}

/**
 * What the claim's probe and `nextWakeTime` read of an instance: the `claimAt` of the index key, no `_id` (which
 * `claim_at` does not hold).
 */
export const TIMED_CLAIM_PROBE_PROJECTION = { _id: 0, claimAt: 1 } as const;

/**
 * Instances with a message visible at once and no lease (`claimAt` EPOCH, whatever the claimer's clock), in the
 * order their first message became visible (`readyAt`); with `readyBy`, only those visible by then.
 */
export function atOnceClaimFilter(readyBy?: Date): Filter<InstanceDoc> {
  return storeKeyed(readyBy === undefined ? { claimAt: EPOCH } : { claimAt: EPOCH, readyAt: { $lte: readyBy } });
}

/**
 * The tries of one orchestration claim, given `timedHead`: the `claimAt` of the first instance of the timed band at
 * `now` (a probe of the index, {@link timedClaimProbeFilter}: one key), `undefined` when it is empty. Claims are fair
 * across both bands: the instance that became claimable first goes first, so a due timer waits only behind messages
 * that were visible before it (not behind a whole backlog), and a backlog of due timers does not hold up messages
 * sent before they came due.
 *
 * - timed band empty: the at-once band;
 * - otherwise the at-once band's instances visible by `timedHead`, then the timed band, then the rest of the at-once
 *   band (the timed head may have been claimed by another worker since the probe).
 *
 * @example
 * ```ts
 * orchestrationClaimTries(undefined, now); // [{ band: 'at-once', filter: storeKeyed({ claimAt: EPOCH }) }]
 * orchestrationClaimTries(fireAt, now);    // at-once up to fireAt, timed, at-once
 * ```
 */
export function orchestrationClaimTries(timedHead: Date | undefined, now: Date): ClaimTry[] {
  return fairTries(atOnceClaimFilter, timedClaimFilter, timedHead, now);
}

/**
 * The key of the activity tasks' claim index (`claim_at`), to which the activity claim and the tasks' part of
 * `nextWakeTime` are pinned, and the sort of the claim (the index order). A task has no due
 * time of its own, so when it becomes claimable is `claimableAtMs` of its lease alone: its `leaseExpiresAt`, EPOCH when
 * free. Every write that changes a task's lease writes that field in the same operation, and every task document of
 * every earlier layout has it, so the index needs no field of its own and no fill-in at `connect`.
 */
export const CLAIM_ACTIVITY_HINT = { leaseExpiresAt: 1, readyAt: 1, order: 1 } as const;
export const CLAIM_ACTIVITY_SORT = { leaseExpiresAt: 1, readyAt: 1, order: 1 } as const satisfies Sort;

/** Free activity tasks (lease expiry EPOCH), in scheduling order; with `readyBy`, only those scheduled by then. */
export function atOnceActivityClaimFilter(readyBy?: Date): Filter<TaskDoc> {
  return storeKeyed(readyBy === undefined ? { leaseExpiresAt: EPOCH } : { leaseExpiresAt: EPOCH, readyAt: { $lte: readyBy } });
}

/** Activity tasks whose lease expired at or before `now`, the earliest expiry first. */
export function timedActivityClaimFilter(now: Date): Filter<TaskDoc> {
  return storeKeyed(timedActivityClaimProbeFilter(now));
}

/**
 * The probe of an activity claim: {@link timedActivityClaimFilter} without the rule, for the reason of
 * {@link timedClaimProbeFilter}; with the projection `{ _id: 0, leaseExpiresAt: 1 }` it reads one key and no document.
 */
export function timedActivityClaimProbeFilter(now: Date): Filter<TaskDoc> {
  return { leaseExpiresAt: { $gt: EPOCH, $lte: now } };
}

/** What the activity claim's probe and `nextWakeTime` read of a task: the lease expiry of the index key, no `_id`. */
export const TIMED_ACTIVITY_CLAIM_PROBE_PROJECTION = { _id: 0, leaseExpiresAt: 1 } as const;

/**
 * The tries of one activity claim, with the rule of {@link orchestrationClaimTries}: the task that became claimable
 * first goes first. `timedHead` is the lease expiry of the first task whose lease expired by `now` (a probe,
 * {@link timedActivityClaimProbeFilter}: one key), `undefined` when none did. Every try is a range on
 * {@link CLAIM_ACTIVITY_HINT} that ends at `now` or at EPOCH, so a claim never steps over the tasks that are leased
 * (before, it walked the scheduling order and skipped each leased task inside the index).
 *
 * @example
 * ```ts
 * activityClaimTries(undefined, now); // [{ band: 'at-once', filter: storeKeyed({ leaseExpiresAt: EPOCH }) }]
 * activityClaimTries(expiredAt, now); // free tasks scheduled by expiredAt, expired leases, free tasks
 * ```
 */
export function activityClaimTries(timedHead: Date | undefined, now: Date): ClaimTry<TaskDoc>[] {
  return fairTries(atOnceActivityClaimFilter, timedActivityClaimFilter, timedHead, now);
}

function fairTries<T>(
  atOnce: (readyBy?: Date) => Filter<T>, timed: (now: Date) => Filter<T>, timedHead: Date | undefined, now: Date,
): ClaimTry<T>[] {
  if (timedHead === undefined) return [{ band: 'at-once', filter: atOnce() }];
  return [
    { band: 'at-once', filter: atOnce(timedHead) },
    { band: 'timed', filter: timed(now) },
    { band: 'at-once', filter: atOnce() },
  ];
}

/**
 * The instances' part of `nextWakeTime`: the smallest `claimAt` from EPOCH to below NEVER (EPOCH or another time at or
 * before `now` when something is claimable already) of an instance a claim can take: the claims' ranges start at EPOCH
 * and require a string `_id` ({@link storeKeyed}), and a document they leave out would keep the wake time in the past,
 * the worker asking again every second. With {@link CLAIM_ORCHESTRATION_SORT} it reads one index key and the document
 * it points to.
 */
export const INSTANCE_WAKE_FILTER: Filter<InstanceDoc> = storeKeyed({ claimAt: { $gte: EPOCH, $lt: NEVER } });

/**
 * The instances written by the layout before `claimAt` (the field is missing: `null` in the index), which `connect`
 * fills in once.
 */
export const MISSING_CLAIM_AT_FILTER: Filter<InstanceDoc> = storeKeyed({ claimAt: null as unknown as Date });

/**
 * The instances written before `name` was kept (the field is missing: `null` in `name_page`), which `connect` fills
 * in once; pinned to `name_page`.
 */
export const MISSING_NAME_FILTER: Filter<InstanceDoc> = storeKeyed({ name: null as unknown as string });
export const MISSING_NAME_HINT = { name: 1, createdTime: 1, _id: 1 } as const;

/**
 * The key of `name_status_page`: the hint of a purge's scan by name without tags ({@link purgeScanFilter}), which it
 * answers from index keys alone (names, statuses, created times and `_id`), reading no candidate's document.
 */
export const NAME_STATUS_PAGE_HINT = { name: 1, runtimeStatus: 1, createdTime: 1, _id: 1 } as const;

/**
 * The instances written before `tagKeys` was kept (the field is missing: `null` in `tag_page`), which `connect` fills
 * in once; pinned to `tag_page`.
 */
export const MISSING_TAG_KEYS_FILTER: Filter<InstanceDoc> = storeKeyed({ tagKeys: null as unknown as string });
/** The key of `tag_page`: the hint of every query by tag (a listing, a purge's scan, a pair's count, the fill-in). */
export const TAG_PAGE_HINT = { tagKeys: 1, createdTime: 1, _id: 1 } as const;
/** A pair's count (which pair bounds a tag scan: `selectiveTagPair`) stops there: past it, a pair is as bad as any. */
export const TAG_COUNT_LIMIT = 10_000;

/** The instances with one tag pair: what {@link TAG_COUNT_LIMIT} counts, on `tag_page`. */
export function tagCountFilter(pair: readonly [string, string]): Filter<InstanceDoc> {
  return storeKeyed({ tagKeys: tagEntryKey(pair) });
}

/**
 * The condition of a tag filter on `tagKeys`, `undefined` for none: the instances with every pair, `lead` (the pair
 * whose keys bound the scan of `tag_page`, by default the first) first in `$all` (the server bounds a multikey scan
 * by one element, the first, and checks the others on each document).
 */
export function tagCondition(tags: InstanceTags | undefined, lead?: readonly [string, string]): Filter<InstanceDoc> | undefined {
  const pairs = tagPairsOf(tags);
  if (pairs.length === 0) return undefined;
  const first = lead ?? pairs[0]!;
  const keys = [tagEntryKey(first), ...pairs.filter(([k, v]) => k !== first[0] || v !== first[1]).map(tagEntryKey)];
  return keys.length === 1 ? { tagKeys: keys[0]! } : { tagKeys: { $all: keys } };
}

/** Order in which a claim takes an instance's messages: arrival order. */
export const CLAIMED_MESSAGES_SORT = { seq: 1 } as const satisfies Sort;

/**
 * The key of the index both reads of an instance's visible messages are pinned to (`instance_due_seq`): by instance,
 * then due time, then arrival order. See {@link visibleMessagesQuery}.
 */
export const VISIBLE_MESSAGES_HINT = { instanceId: 1, due: 1, seq: 1 } as const;

/**
 * The messages a step consumed (by the instance's stored key and the messages' own ids), which its commit deletes.
 * Served by the `instance_id` index ({@link CONSUMED_MESSAGES_INDEX}): one point per id, so a commit visits only the
 * messages it deletes. On `instance_seq` (or any index led by `instanceId` alone) it would visit every message queued
 * for the instance, so draining a backlog of n messages, 100 per step, cost O(n²) documents read.
 *
 * @example
 * ```ts
 * consumedMessagesFilter('order-1', ['m1', 'm2']); // { instanceId: 'order-1', id: { $in: ['m1', 'm2'] } }
 * ```
 */
export function consumedMessagesFilter(key: string, messageIds: readonly string[]): Filter<MessageDoc> {
  return { instanceId: key, id: { $in: [...messageIds] } };
}

/**
 * The key of the index that serves {@link consumedMessagesFilter} (`instance_id`). The delete names no hint: a commit
 * must not fail where the index is missing (a deployment with `createIndexes: false` that has not created it yet), and
 * the planner picks it, the only index that bounds `id`.
 */
export const CONSUMED_MESSAGES_INDEX = { instanceId: 1, id: 1 } as const;

/**
 * The activity tasks' part of `nextWakeTime`: the task with the earliest lease expiry, which is its `claimableAtMs`
 * (a free task has EPOCH: claimable already), of those a claim can take: an expiry from EPOCH on, a string `_id`
 * ({@link storeKeyed}). A task document without a `Date` expiry (missing, null, any other type) sorts before every
 * `Date` in the index: first, it would hide every task from the wake-up. The first key of the tasks' `claim_at` index
 * ({@link TASK_WAKE_HINT}) from EPOCH, and its document.
 */
export const TASK_WAKE_FILTER: Filter<TaskDoc> = storeKeyed({ leaseExpiresAt: { $gte: EPOCH } });
export const TASK_WAKE_SORT = CLAIM_ACTIVITY_SORT;
export const TASK_WAKE_HINT = CLAIM_ACTIVITY_HINT;

/**
 * The index keys of the queue-head reads after a commit: `instance_due_seq` (its `{ instanceId, due }` prefix: the
 * earliest due message is its first key for the instance) and `instance_ready`.
 */
export const QUEUE_HEAD_HINTS = { due: VISIBLE_MESSAGES_HINT, readyAt: { instanceId: 1, readyAt: 1 } } as const;

/**
 * The two queue-head reads of an instance (stored key `key`) after a commit, each the first key of its index for the
 * instance: its earliest due message (`due`) and its earliest ready one (`readyAt`), on {@link QUEUE_HEAD_HINTS}.
 *
 * @example
 * ```ts
 * const { due } = queueHeadQueries('order-1');
 * await messages.findOne(due.filter, { sort: due.sort, hint: due.hint, projection: due.projection });
 * ```
 */
export function queueHeadQueries(key: string): {
  readonly due: { readonly filter: Filter<MessageDoc>; readonly sort: { readonly due: 1 }; readonly hint: typeof QUEUE_HEAD_HINTS.due; readonly projection: { readonly due: 1 } };
  readonly readyAt: {
    readonly filter: Filter<MessageDoc>; readonly sort: { readonly readyAt: 1 }; readonly hint: typeof QUEUE_HEAD_HINTS.readyAt; readonly projection: { readonly readyAt: 1 };
  };
} {
  return {
    due: { filter: { instanceId: key }, sort: { due: 1 }, hint: QUEUE_HEAD_HINTS.due, projection: { due: 1 } },
    readyAt: { filter: { instanceId: key }, sort: { readyAt: 1 }, hint: QUEUE_HEAD_HINTS.readyAt, projection: { readyAt: 1 } },
  };
}

/**
 * The purge records a `changes$` resync reads: instances purged at or after `from` (the moment the feed was last
 * healthy, less a margin). `purged_at` index ({@link PURGES_HINT}).
 */
export function purgedSinceFilter(from: Date): Filter<PurgeDoc> {
  // A record names the key it purged (a string); one that names anything else is no purge of this store's.
  return { purgedAt: { $gte: from }, instanceId: { $type: 'string' } };
}
export const PURGES_HINT = { purgedAt: 1 } as const;

/**
 * The instances a status resync re-reads: changed at or after `from` (the moment the feed was last healthy, less a
 * margin), {@link storeKeyed}. `updated` index ({@link RESYNC_HINT}).
 */
export function changedSinceFilter(from: Date): Filter<InstanceDoc> {
  return storeKeyed({ updatedAt: { $gte: from } });
}

/** Order of a history read: the events' positions. `instance_gen_index` (after its two equalities). */
export const HISTORY_SORT = { index: 1 } as const satisfies Sort;

/** A `find` of {@link historyQuery}: its filter and options (the caller adds its session). */
export interface HistoryFind {
  readonly filter: Filter<HistoryDoc>;
  readonly options: { readonly sort: typeof HISTORY_SORT; readonly projection: { readonly _id: 0; readonly event: 1 } };
}

/**
 * The read of an instance's history (`getHistory`, `getInstanceHistory`): the events of generation `gen`, the one
 * the instance document (stored key `key`) names (any other generation is an old history the sweeper deletes), at
 * the positions of `range` (`historyRangeOf`: from `fromIndex`, before `toIndex` when given), in order, the event
 * alone. Served by `instance_gen_index`: two equalities and a range on its last field, in its order, so the read
 * visits only the events it returns and sorts nothing in memory. Without `_id`: an ObjectId per event sent and
 * decoded for nothing.
 *
 * @example
 * ```ts
 * historyQuery('order-1', 'g2', { fromIndex: 5 }).filter; // { instanceId: 'order-1', gen: 'g2', index: { $gte: 5 } }
 * historyQuery('order-1', 'g2', { toIndex: 8 }).filter;   // { instanceId: 'order-1', gen: 'g2', index: { $gte: 0, $lt: 8 } }
 * ```
 */
export function historyQuery(key: string, gen: string, range: HistoryRange | undefined): HistoryFind {
  const { from, to } = historyRangeOf(range);
  return {
    filter: { instanceId: key, gen, index: to === Infinity ? { $gte: from } : { $gte: from, $lt: to } },
    options: { sort: HISTORY_SORT, projection: { _id: 0, event: 1 } },
  };
}

/**
 * The key of `ended`, to which `listEnded` and the fill-in of its fields are pinned, and the sort of `listEnded`: a
 * status's instances in end order, (`lastUpdatedTime`, id) as `compareEndedKeys` (store-kit) orders them, the id in
 * code-unit order (`idOrder`, see `codeUnitOrderKey`: `_id` would order some ids otherwise).
 */
export const ENDED_HINT = { runtimeStatus: 1, lastUpdatedTime: 1, idOrder: 1 } as const;
export const ENDED_SORT = ENDED_HINT satisfies Sort;

/** A `find` of {@link endedListingQuery}: its filter and options (the caller adds its session and time bound). */
export interface EndedListingFind {
  readonly filter: Filter<InstanceDoc>;
  readonly options: {
    readonly sort: typeof ENDED_SORT; readonly hint: typeof ENDED_HINT; readonly projection: typeof ENDED_LISTING_PROJECTION;
    readonly limit: number; readonly batchSize: number;
  };
}

/**
 * What `listEnded` reads of each instance: the state (the port lets `listEnded` leave the input out; a sweep needs
 * none) and the key it was found under, which `endOrderRepair` checks against the state before it is listed.
 */
export const ENDED_LISTING_PROJECTION = { state: 1, runtimeStatus: 1, lastUpdatedTime: 1, idOrder: 1 } as const;

/** The key a document was found under on `ended` (its stored `lastUpdatedTime` and `idOrder`), a find of a page goes on after. */
export interface FoundEndedKey {
  readonly lastUpdatedTime?: Date | null;
  readonly idOrder?: string;
}

/**
 * One find of `listEnded` (a query `validateEndedQuery` passed): the instances of `runtimeStatus` whose
 * `lastUpdatedTime` is at or before `endedTo` and, with `after` (or `from`, the key a document of the page was found
 * under, which goes first), whose (`lastUpdatedTime`, `idOrder`) is past the key's, in that order on `ended`,
 * {@link storeKeyed}: the matches of `matchesEndedQuery`, in `compareEndedKeys` order. The state and its key
 * ({@link ENDED_LISTING_PROJECTION}), `limit` at most (what the page still needs), in one batch while they fit in
 * MongoDB's 16 MiB: the server closes the cursor itself with the last it sends (the driver asks for a batch one larger
 * than the limit), so a page that reads each of its finds to its end (`endedPage`) sends no `killCursors`, which driver
 * 7.8 sends with no signal or time limit. A `Date` bound matches
 * only `Date`s, so a document without the fields (written before them, not yet filled in) or with a `null` time (not
 * ended) is not listed.
 *
 * @example
 * ```ts
 * endedListingQuery({ runtimeStatus: 'Completed', endedTo: to, limit: 100, after: { endedMs: 2000, instanceId: 'a' } }).filter;
 * // { runtimeStatus: 'Completed', lastUpdatedTime: { $gte: new Date(2000), $lte: to },
 * //   $or: [{ lastUpdatedTime: { $gt: new Date(2000) } }, { lastUpdatedTime: new Date(2000), idOrder: { $gt: 'a' } }], _id: { $type: 'string' } }
 * ```
 */
export function endedListingQuery(query: EndedQuery, from?: FoundEndedKey, limit: number = query.limit): EndedListingFind {
  const { runtimeStatus, endedTo, after } = query;
  const options = { sort: ENDED_SORT, hint: ENDED_HINT, projection: ENDED_LISTING_PROJECTION, limit, batchSize: limit } as const;
  const key = from !== undefined ? foundKeyOf(from) : after && { time: new Date(after.endedMs), idOrder: codeUnitOrderKey(after.instanceId) };
  if (key === undefined) return { filter: storeKeyed({ runtimeStatus, lastUpdatedTime: { $lte: endedTo } }), options };
  const { time, idOrder } = key;
  // The plain lower bound lets the index scan start at the key; the $or then skips the key and those before it in its millisecond.
  return {
    filter: storeKeyed({
      runtimeStatus, lastUpdatedTime: { $gte: time, $lte: endedTo },
      $or: [{ lastUpdatedTime: { $gt: time } }, { lastUpdatedTime: time, idOrder: { $gt: idOrder } }],
    }),
    options,
  };
}

/**
 * The key of `ended` a listed document was found under. A find of the listing matches only documents with a `Date`
 * end time (anything else is a fault: thrown); one without an `idOrder` (written with the time since both were kept,
 * and `connect` fills both in) goes on as the empty id.
 */
function foundKeyOf(doc: FoundEndedKey): { time: Date; idOrder: string } {
  if (!(doc.lastUpdatedTime instanceof Date)) throw new TypeError('a document of the ended listing has no end time to go on after');
  return { time: doc.lastUpdatedTime, idOrder: doc.idOrder ?? '' };
}

/**
 * The ended instances without an end time (`null` or missing: `null` in `ended`), which `connect` fills in: those
 * written before `lastUpdatedTime` and `idOrder` were kept, and those a process of such an earlier version ended
 * since (a rolling upgrade; this version writes `null` while an instance runs). One range of `ended` per ended status,
 * a probe that finds nothing once done. Pinned to {@link ENDED_HINT}.
 */
export const MISSING_END_ORDER_FILTER: Filter<InstanceDoc> = storeKeyed({
  runtimeStatus: { $in: [...TERMINAL_RUNTIME_STATUSES] }, lastUpdatedTime: null,
});

/** The index key of the sweeper's reads (`instance_gen_index`) and of a status resync (`updated`). */
export const SWEEP_HINT = { instanceId: 1, gen: 1, index: 1 } as const;

/**
 * The sweeper's read of the next chunk of an old generation: the `_id`s of up to `chunk` events of generation `gen`
 * of the instance (stored key `instanceId`), index keys of `instance_gen_index` and their documents' `_id`.
 *
 * @example
 * ```ts
 * sweepChunkQuery({ instanceId: 'order-1', gen: 'g1' }, 1000).filter; // { instanceId: 'order-1', gen: 'g1' }
 * ```
 */
export function sweepChunkQuery(sweep: { readonly instanceId: string; readonly gen: string }, chunk: number): {
  readonly filter: Filter<HistoryDoc>;
  readonly options: { readonly projection: { readonly _id: 1 }; readonly limit: number; readonly hint: typeof SWEEP_HINT };
} {
  return { filter: { instanceId: sweep.instanceId, gen: sweep.gen }, options: { projection: { _id: 1 }, limit: chunk, hint: SWEEP_HINT } };
}
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
 * The fields `queryInstances` reads: the state, its paging key, and the input (which may be megabytes) unless the
 * caller shows none (`showInput: false`).
 *
 * @example
 * ```ts
 * queryProjection(false); // { state: 1, createdTime: 1 }
 * ```
 */
export function queryProjection(showInput: boolean | undefined): { readonly state: 1; readonly createdTime: 1; readonly input?: 1 } {
  return { ...instanceProjection(showInput), createdTime: 1 };
}

/**
 * The fields a read of one instance takes (`getInstance`; `getInstanceHistory` adds the history's generation): the
 * state, and the input (which may be megabytes) unless the caller shows none (`showInput: false`, the port's option).
 *
 * @example
 * ```ts
 * instanceProjection(false); // { state: 1 }
 * ```
 */
export function instanceProjection(showInput: boolean | undefined): { readonly state: 1; readonly input?: 1 } {
  return showInput === false ? { state: 1 } : { state: 1, input: 1 };
}

/**
 * The filter of `queryInstances`: status, orchestrator name, created-time range, literal id prefix and, when paging,
 * "after the last instance of the previous page" in (createdTime, instanceId) order, or before it newest first
 * (`order: 'desc'`: keyset paging); {@link storeKeyed}, first.
 */
export function buildQueryFilter(
  query: InstanceQuery, after?: PageKey, order: 'asc' | 'desc' = 'asc', lead?: readonly [string, string],
): Filter<InstanceDoc> {
  const clauses: Filter<InstanceDoc>[] = [STORE_KEY];
  const tags = tagCondition(query.tags, lead);
  if (tags) clauses.push(tags);
  if (query.runtimeStatus && query.runtimeStatus.length > 0) clauses.push({ runtimeStatus: { $in: [...query.runtimeStatus] } });
  if (query.name && query.name.length > 0) clauses.push({ name: { $in: [...query.name] } });
  const created = createdRange(query.createdTimeFrom, query.createdTimeTo);
  if (created) clauses.push(created);
  if (query.instanceIdPrefix) {
    const { plain, escaped } = instanceKeyPrefixPatterns(query.instanceIdPrefix);
    clauses.push(plain === undefined ? { _id: { $regex: escaped } } : { $or: [{ _id: { $regex: plain } }, { _id: { $regex: escaped } }] });
  }
  if (after && order === 'desc') {
    const time = new Date(after.createdTime);
    // Newest first: the plain upper bound lets the backward index scan start at the cursor.
    clauses.push({ createdTime: { $lte: time } });
    clauses.push({ $or: [{ createdTime: { $lt: time } }, { createdTime: time, _id: { $lt: instanceKey(after.instanceId) } }] });
  } else if (after) {
    const time = new Date(after.createdTime);
    // The plain lower bound lets the index scan start at the cursor; the $or then skips what the page already had.
    clauses.push({ createdTime: { $gte: time } });
    clauses.push({ $or: [{ createdTime: { $gt: time } }, { createdTime: time, _id: { $gt: instanceKey(after.instanceId) } }] });
  }
  return combine(clauses);
}

/**
 * The read of the newest createdTime MongoStore holds, the bound a first page's continuation token records (see
 * `planInstancePage`): the last `Date` of the `page` index, read backwards ({@link storeKeyed}; a `createdTime` that
 * is no `Date` is no page key, see {@link nextPageKey}). Pinned to `page` with a hint, as the store's other
 * single-purpose reads are: the filter on `_id`'s type would also let the planner try the built-in `_id` index with a
 * sort in memory.
 *
 * @example
 * ```ts
 * instances.findOne(NEWEST_CREATED.filter, { sort: NEWEST_CREATED.sort, hint: NEWEST_CREATED.hint, projection: NEWEST_CREATED.projection });
 * ```
 */
export const NEWEST_CREATED = {
  filter: storeKeyed({ createdTime: { $type: 'date' } }) satisfies Filter<InstanceDoc>,
  sort: { createdTime: -1, _id: -1 } as const satisfies Sort,
  hint: PAGE_SORT,
  projection: { _id: 0, createdTime: 1 } as const,
} as const;

/** The earliest time a JavaScript `Date` holds (-271821-04-20): a page key before every `Date` key. */
const FIRST_DATE_MS = -8.64e15;

/**
 * Where the page after `docs` starts (the documents a `PAGE_SORT`ed read returned, `pageSize + 1` at most), or
 * undefined when there is no next page. It is the key of the page's last document with a `Date` `createdTime`, read or
 * not, so a page of documents that do not decode still moves on. Documents without one (foreign: the store writes a
 * `Date`) sort before every `Date`, and the next page's bound (`createdTime: { $gte: <Date> }`) matches only dates, so a
 * page with no `Date` key continues from the first `Date` and skips them, and a page that ends with one continues
 * after the last `Date` key it had.
 *
 * @example
 * ```ts
 * nextPageKey(docs, 100); // undefined when docs.length <= 100
 * ```
 */
export function nextPageKey(docs: readonly { readonly _id: string; readonly createdTime?: unknown }[], pageSize: number): PageKey | undefined {
  if (docs.length <= pageSize) return undefined;
  for (let i = pageSize - 1; i >= 0; i--) {
    const { _id: key, createdTime } = docs[i]!;
    if (!isValidDate(createdTime)) continue;
    return { createdTime: createdTime.getTime(), instanceId: instanceIdOfKey(key) };
  }
  return { createdTime: FIRST_DATE_MS, instanceId: '' };
}

/**
 * The most stored text (UTF-8 bytes of each instance's state and, with `showInput`, input) one `queryInstances` page
 * holds: 16 MiB. A page is up to `MAX_PAGE_SIZE` (1,000) instances, each up to 15 MiB (`MAX_PAYLOAD_BYTES`), and
 * MongoDB bounds each document (16 MiB), not a result set: without this one HTTP list request could make the process
 * allocate gigabytes. The page ends early instead, with a continuation token (the port's `InstancePage`: "present when
 * more instances may follow"), and the next page starts after its last instance.
 */
export const QUERY_PAGE_BYTES = 16 * 1024 * 1024;

/**
 * Reads one page from `docs` (a cursor in page order, asked for `pageSize + 1` documents): at most `pageSize`, and only
 * as long as their `bytesOf` stays within `budget`, always the first one (so a page moves on whatever its size). `next`
 * is the document read after the page when one was (more follow: the page is full, or the next one would pass the
 * budget); reading stops there, so later cursor batches are never fetched. `nextPageKey([...page, next], page.length)`
 * is where the next page starts.
 *
 * @example
 * ```ts
 * await readPageWithinBytes(cursor, 100, QUERY_PAGE_BYTES, (doc) => Buffer.byteLength(doc.state)); // { page, next? }
 * ```
 */
export async function readPageWithinBytes<T>(
  docs: AsyncIterable<T>, pageSize: number, budget: number, bytesOf: (doc: T) => number,
): Promise<{ readonly page: T[]; readonly next?: T }> {
  const page: T[] = [];
  let bytes = 0;
  for await (const doc of docs) {
    if (page.length >= pageSize) return { page, next: doc };
    bytes += bytesOf(doc);
    if (page.length > 0 && bytes > budget) return { page, next: doc };
    page.push(doc);
  }
  return { page };
}

/**
 * The filter of `purgeInstances`, which decides what it purges: terminal instances (of the requested statuses) created
 * in the range. The purge scans for candidates with it, then re-reads each batch of their keys with it inside its
 * transaction. It leaves out the rule of {@link storeKeyed}, so that with the projection `{ _id: 1 }` the
 * `status_page` index alone serves the scan (no document read) on every server version, and `name_status_page` alone
 * one with a name filter ({@link NAME_STATUS_PAGE_HINT}; with tags, `tag_page` bounds it and the rest is checked on each
 * document): MongoDB 4.4 checks a `$type`
 * on `_id` on the fetched document even though the index holds `_id` (its bounds for a string type are inexact), so the
 * rule here would read every candidate document. The key of another program's document the scan returns is not a
 * string: the purge drops it, and the re-read, by the batch's string keys, matches strings only.
 *
 * @example
 * ```ts
 * purgeScanFilter({ createdTimeFrom: from });
 * // { $and: [{ runtimeStatus: { $in: ['Completed', 'Failed', 'Terminated'] } }, { createdTime: { $gte: from } }] }
 * ```
 */
export function purgeScanFilter(filter: PurgeFilter, lead?: readonly [string, string]): Filter<InstanceDoc> {
  const requested = filter.runtimeStatus && filter.runtimeStatus.length > 0 ? filter.runtimeStatus : TERMINAL_RUNTIME_STATUSES;
  const statuses: OrchestrationRuntimeStatus[] = requested.filter((s) => TERMINAL_RUNTIME_STATUSES.includes(s));
  const created = createdRange(filter.createdTimeFrom, filter.createdTimeTo);
  const clauses: Filter<InstanceDoc>[] = [{ runtimeStatus: { $in: statuses } }];
  // Every pair, in the scan and in the re-read of each batch in its transaction: a purge by tags deletes no other.
  const tags = tagCondition(filter.tags, lead);
  if (tags) clauses.push(tags);
  if (filter.name && filter.name.length > 0) clauses.push({ name: { $in: [...filter.name] } });
  if (created) clauses.push(created);
  return combine(clauses);
}

/** What the purge scan reads: the key, which `status_page` holds. */
export const PURGE_SCAN_PROJECTION = { _id: 1 } as const;

/**
 * The most visible messages an unclaimed write's check (a client's own suspend or resume, which goes ahead of queued
 * events, results and timers but not of a command) reads before it gives up: past them it refuses the write, and the
 * client sends the command as a message, as it did before it could go ahead. The check runs in the commit's
 * transaction, which has already written the instance (`$inc rev`), so a longer read would hold back every claim and
 * message of the instance meanwhile; a message is JSON text (up to 15 MiB), read whole only to see its event's type.
 */
export const UNCLAIMED_SCAN_LIMIT = 256;

/**
 * The read of an unclaimed write's check (see {@link visibleMessagesQuery}): at most one message past
 * {@link UNCLAIMED_SCAN_LIMIT} (so the check can tell a longer queue), in batches of that size, and the due timers'
 * `seq`s in one page of that size (a `limit`: a top-k sort of index keys, not a page of 8 re-scanned per page).
 */
export const UNCLAIMED_MESSAGES_READ = { limit: UNCLAIMED_SCAN_LIMIT + 1, batchSize: UNCLAIMED_SCAN_LIMIT + 1 } as const;

/**
 * The `maxTimeMS` of an unclaimed write's check of messages: past it the check refuses the write (the command goes as
 * a message), well within the transaction's lifetime and the client's `storeCallTimeoutMs` (30 s by default).
 */
export const UNCLAIMED_READ_MAX_MS = 5_000;

/** Due timers' `seq`s per page of a read without a `limit` (see {@link visibleMessagesQuery}). */
export const DUE_SEQS_PAGE = 8;

/** The key of `instance_seq`, which the read of due timers' documents by their `seq` is pinned to. */
export const MESSAGES_BY_SEQ_HINT = { instanceId: 1, seq: 1 } as const;

/** A `find` of messages (the caller adds its session and time bound). */
export interface MessagesFind<P = { readonly message: 1; readonly seq: 1 }> {
  readonly filter: Filter<MessageDoc>;
  readonly options: {
    readonly sort: typeof CLAIMED_MESSAGES_SORT;
    readonly hint: typeof VISIBLE_MESSAGES_HINT | typeof MESSAGES_BY_SEQ_HINT;
    readonly projection: P;
    readonly limit?: number;
    readonly batchSize?: number;
  };
}

/** The reads of {@link visibleMessagesQuery}. */
export interface VisibleMessagesQuery {
  /** Messages visible at once (`due` EPOCH: no `visibleAt`), in `seq` order from the index: no sort. */
  readonly atOnce: MessagesFind;
  /**
   * One page of the `seq`s of the delayed messages (timers, retry back-offs) already due: the first {@link duePage}
   * of them in `seq` order, or of those after `afterSeq` (the last `seq` of the page before). An index-only read (no
   * document, so its in-memory sort holds at most a page of numbers, not message texts of up to 15 MiB), never a
   * message due later.
   */
  dueSeqs(afterSeq?: number): MessagesFind<{ readonly _id: 0; readonly seq: 1 }>;
  /** The most `seq`s one page of {@link dueSeqs} returns: the read's `limit`, else {@link DUE_SEQS_PAGE}. */
  readonly duePage: number;
  /** The documents of those `seq`s, in `seq` order (points of `instance_seq`). */
  dueDocs(seqs: readonly number[]): MessagesFind;
}

/**
 * The reads of an instance's messages visible at `now` (by its stored key), in arrival order, which a claim hands out
 * (`limit` of them at most) and an unclaimed write's check reads as far as its answer needs (`batchSize`). With
 * `upToSeq` (the `messageSeq` the claim's lease write returned), only the messages queued up to then.
 * The due timers' `seq`s are read a page at a time (`duePage`: the `limit`, else {@link DUE_SEQS_PAGE}), the next page
 * only when the consumer asks for more, so neither read nor the `$in` of their documents grows with a backlog.
 *
 * The messages visible at once (`due` EPOCH) are points on `instanceId` and `due` of `instance_due_seq`
 * (`{ instanceId, due, seq }`), so the index returns them in `seq` order and the read stops at the limit. The delayed
 * ones already due are a range of `due` that ends at `now`: their `seq`s are read from the index alone and sorted in
 * memory, then their documents by `seq` on `instance_seq`; the two streams are merged by `seq` (`mergeBySeq`). No read
 * visits a message due later. On `instance_seq` alone (one read in `seq` order, `due` checked on each document
 * fetched) a claim read every timer still pending that was queued before the visible messages: an instance waiting on
 * a thousand timers read a thousand documents at each step to hand out one event.
 *
 * `upToSeq` makes the reads see one set of messages: every message up to the instance's `messageSeq` was committed
 * before the lease write that read it (it is written in the transaction that raises `messageSeq`), and the claim's
 * reads run in its causally consistent session, so they see them all. A message queued between two reads is left for
 * the next claim instead of overtaking one an earlier read could not see.
 *
 * @example
 * ```ts
 * const { atOnce, dueSeqs } = visibleMessagesQuery('order-1', now, { upToSeq: 42, limit: 100 });
 * atOnce.filter;       // { instanceId: 'order-1', due: EPOCH, seq: { $lte: 42 } }
 * dueSeqs().filter;    // { instanceId: 'order-1', due: { $lte: now, $ne: EPOCH }, seq: { $lte: 42 } }
 * dueSeqs(17).filter;  // { instanceId: 'order-1', due: { $lte: now, $ne: EPOCH }, seq: { $lte: 42, $gt: 17 } }
 * ```
 */
export function visibleMessagesQuery(
  key: string, now: Date, bounds: { readonly upToSeq?: number; readonly limit?: number; readonly batchSize?: number } = {},
): VisibleMessagesQuery {
  const upTo = typeof bounds.upToSeq === 'number' && Number.isFinite(bounds.upToSeq) ? { $lte: bounds.upToSeq } : undefined;
  const seq = upTo ? { seq: upTo } : {};
  const limit = bounds.limit !== undefined ? { limit: bounds.limit } : {};
  const batchSize = bounds.batchSize !== undefined ? { batchSize: bounds.batchSize } : {};
  const documents = { sort: CLAIMED_MESSAGES_SORT, projection: { message: 1, seq: 1 }, ...limit, ...batchSize } as const;
  const duePage = bounds.limit ?? DUE_SEQS_PAGE;
  return {
    atOnce: { filter: { instanceId: key, due: EPOCH, ...seq }, options: { ...documents, hint: VISIBLE_MESSAGES_HINT } },
    // `$ne` rather than `$gt: EPOCH`: a `visibleAt` before 1970 is stored as it is, and is due too.
    dueSeqs: (afterSeq) => ({
      filter: {
        instanceId: key, due: { $lte: now, $ne: EPOCH },
        ...(afterSeq === undefined ? seq : { seq: { ...upTo, $gt: afterSeq } }),
      },
      options: { sort: CLAIMED_MESSAGES_SORT, hint: VISIBLE_MESSAGES_HINT, projection: { _id: 0, seq: 1 }, limit: duePage },
    }),
    duePage,
    dueDocs: (seqs) => ({ filter: { instanceId: key, seq: { $in: [...seqs] } }, options: { ...documents, hint: MESSAGES_BY_SEQ_HINT } }),
  };
}

function createdRange(from: Date | undefined, to: Date | undefined): Filter<InstanceDoc> | undefined {
  if (!from && !to) return undefined;
  return { createdTime: { ...(from ? { $gte: from } : {}), ...(to ? { $lte: to } : {}) } };
}

function combine(clauses: Filter<InstanceDoc>[]): Filter<InstanceDoc> {
  return clauses.length === 1 ? clauses[0]! : { $and: clauses };
}

/**
 * The filter of `releaseOwner`'s candidates: instances or activity tasks under a lease (live or expired) whose owner
 * starts with `owner`, as every lease the store-kit rule `isHeldBy` releases does (the bare worker id, or one of its
 * lives); the store applies `isHeldBy` to what it finds. {@link storeKeyed}. On instances and on tasks the index it is
 * pinned to ({@link RELEASE_OWNER_HINTS}) is `lease_owner`, led by the owner: the anchored literal regex is a range of
 * that field (the owner ids that start with `owner`), so the scan visits only that worker's leases, not every leased
 * document. (On the tasks' `claim_at`, led by the expiry, it visited every task under a lease, of every worker, and
 * fetched each one, input and all, to read its owner.)
 *
 * @example
 * ```ts
 * ownerLeasesFilter('tab.1'); // { leaseExpiresAt: { $gt: EPOCH }, leaseOwner: { $regex: '^tab\\.1' }, _id: { $type: 'string' } }
 * ```
 */
export function ownerLeasesFilter(owner: string): Filter<InstanceDoc> & Filter<TaskDoc> {
  return storeKeyed({ leaseExpiresAt: { $gt: EPOCH }, leaseOwner: { $regex: `^${escapeRegexLiteral(owner)}` } });
}

/** The keys of the indexes `releaseOwner` is pinned to: `lease_owner` `{ leaseOwner, leaseExpiresAt }` on instances and tasks. */
export const RELEASE_OWNER_HINTS = { instances: { leaseOwner: 1, leaseExpiresAt: 1 }, activityTasks: { leaseOwner: 1, leaseExpiresAt: 1 } } as const;

/**
 * The look-up of a lease a claim may have written without learning it (`UnconfirmedClaims`): the document that holds
 * exactly `lease` (owner, expiry and token), on the index `releaseOwner` uses (`RELEASE_OWNER_HINTS`): `lease_owner`
 * (owner, expiry: one key) on instances and tasks. Only this store's documents (`storeKeyed`), as every claim.
 *
 * @example
 * ```ts
 * leaseLookupFilter({ owner: 'w1', token: 't', expiresAt });
 * // { leaseOwner: 'w1', leaseExpiresAt: expiresAt, leaseToken: 't', _id: { $type: 'string' } }
 * ```
 */
export function leaseLookupFilter(lease: Lease): Filter<InstanceDoc> & Filter<TaskDoc> {
  return storeKeyed({ leaseOwner: lease.owner, leaseExpiresAt: lease.expiresAt, leaseToken: lease.token });
}
