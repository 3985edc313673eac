import { randomId } from '../env/new-id.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { isTerminalStatus, type InstanceState, type InstanceTags } from '../model/instance-status.js';
import type { Lease, OrchestrationMessage } from '../model/message.js';
import { assertValidName, invalid, isCount, isFiniteDelayMs, isValidDate, MAX_PAGE_SIZE, readPageSize } from '../model/validation.js';
import type { validateInstanceQuery } from '../model/validation.js';
import type { ClaimOptions, InstanceQuery, PurgeFilter, StoreCapabilities } from './store.js';

/**
 * Pure helpers every Store adapter shares, so adapters only translate decisions into their own transactions.
 */

/** Default page size of `queryInstances`. */
export const DEFAULT_PAGE_SIZE = 100;

/** Largest page: a larger page size is taken as it by `validateInstanceQuery`, which every client and store applies. */
export { MAX_PAGE_SIZE } from '../model/validation.js';

/**
 * Refuses a filter that uses a member the store does not apply (`StoreCapabilities.filters`): `name`, `tags`, or
 * `order: 'desc'`, with an `InvalidArgumentError` naming the member (`what` names the filter), before the store is
 * called. A store that predates a filter member would ignore it, and a list or purge by filter would then take
 * instances the caller excluded. The one rule of the clients' lists, purges and commands by filter.
 */
export function assertStoreFilters(
  capabilities: StoreCapabilities, filter: Pick<InstanceQuery, 'name' | 'tags' | 'order'>, what: string,
): void {
  const used = { name: filter.name?.length, tags: filter.tags && Object.keys(filter.tags).length, order: filter.order === 'desc' };
  for (const member of ['name', 'tags', 'order'] as const) {
    if (used[member] && !capabilities.filters?.includes(member)) invalid(`${what}.${member}`, `is not applied by the store ${capabilities.name}`);
  }
}

/**
 * True when `state` matches the filters of `query` (paging and order aside): the one filter rule of every store and
 * of live queries. A name filter matches the orchestrator name exactly, case included, as the runtime looks up its
 * orchestrators (`startNew('hello')` does not run `Hello`).
 */
export function matchesQuery(state: InstanceState, query: InstanceQuery): boolean {
  if (query.runtimeStatus && query.runtimeStatus.length > 0 && !query.runtimeStatus.includes(state.runtimeStatus)) return false;
  if (!matchesName(state.name, query.name)) return false;
  const created = state.createdTime.getTime();
  if (query.createdTimeFrom && created < query.createdTimeFrom.getTime()) return false;
  if (query.createdTimeTo && created > query.createdTimeTo.getTime()) return false;
  if (query.instanceIdPrefix !== undefined && !state.instanceId.startsWith(query.instanceIdPrefix)) return false;
  return matchesTags(state.tags, query.tags);
}

/**
 * True when `tags` has every pair of `wanted` (each key, own, with exactly that value); absent `wanted`: any tags. The
 * one tag rule of every store and client.
 *
 * @example
 * ```ts
 * matchesTags({ tenant: 'acme', channel: 'web' }, { tenant: 'acme' }); // true
 * matchesTags(undefined, { tenant: 'acme' });                          // false
 * ```
 */
export function matchesTags(tags: InstanceTags | undefined, wanted: InstanceTags | undefined): boolean {
  if (wanted === undefined) return true;
  for (const key in wanted) {
    if (!Object.hasOwn(wanted, key)) continue;
    if (tags === undefined || !Object.hasOwn(tags, key) || tags[key] !== wanted[key]) return false;
  }
  return true;
}

/**
 * The pairs of an instance's tags (or of a tag filter), each `[key, value]`, sorted by key then value: what a store
 * keeps one index entry per pair for ({@link tagEntryKey}). Empty for no tags.
 *
 * @example
 * ```ts
 * tagPairsOf({ tenant: 'acme', channel: 'web' }); // [['channel', 'web'], ['tenant', 'acme']]
 * ```
 */
export function tagPairsOf(tags: InstanceTags | undefined): Array<readonly [string, string]> {
  if (tags === undefined) return [];
  return Object.entries(tags).sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
}

/**
 * One tag pair as one string, the same pair always the same string and two pairs never one (`["tenant","acme"]`, JSON
 * of the pair: a key holding `=` or `:` stays apart from its value): the key of a tag index entry where a store keys
 * entries by a string (MemoryStore's map, MongoStore's multikey field).
 */
export function tagEntryKey(pair: readonly [string, string]): string {
  return JSON.stringify(pair);
}

/**
 * Whether two instances' tags are the same pairs (order aside): a store that keeps tag index entries by hand rewrites
 * them only when they are not (tags change only with a new execution, a restart or a start over an ended instance).
 */
export function sameTags(a: InstanceTags | undefined, b: InstanceTags | undefined): boolean {
  if (a === b) return true;
  const pairs = tagPairsOf(a);
  return pairs.length === tagPairsOf(b).length && matchesTags(b, a);
}

/**
 * The pair of a tag filter a store lists from: the one with the fewest index entries (`count` of each pair; on a tie,
 * the first in {@link tagPairsOf} order), the other pairs and filters then checked against each row with
 * {@link matchesQuery}. `undefined` when the filter has no tags. A filter of one pair counts nothing.
 */
export async function selectiveTagPair(
  tags: InstanceTags | undefined, count: (pair: readonly [string, string]) => number | Promise<number>,
): Promise<readonly [string, string] | undefined> {
  const pairs = tagPairsOf(tags);
  if (pairs.length <= 1) return pairs[0];
  const counts = await Promise.all(pairs.map(count));
  let best = 0;
  for (let i = 1; i < pairs.length; i++) if (counts[i]! < counts[best]!) best = i;
  return pairs[best];
}

/** True when the purge filter selects `state`. Only terminal instances are ever purged. */
export function matchesPurgeFilter(state: InstanceState, filter: PurgeFilter): boolean {
  if (!isTerminalStatus(state.runtimeStatus)) return false;
  // The filter's own members only (undefined ones match everything, as absent ones).
  return matchesQuery(state, { createdTimeFrom: filter.createdTimeFrom, createdTimeTo: filter.createdTimeTo, runtimeStatus: filter.runtimeStatus, name: filter.name, tags: filter.tags });
}

/** True when an orchestrator `name` is one of `names` (exactly, case included); absent or empty `names`: any name. */
export function matchesName(name: string, names: readonly string[] | undefined): boolean {
  return names === undefined || names.length === 0 || names.includes(name);
}

/**
 * The distinct names a name filter restricts to, or `undefined` for any name: what a store runs one index scan per
 * name for (merging them in page order).
 */
export function namesOf(names: readonly string[] | undefined): readonly string[] | undefined {
  return names && names.length > 0 ? [...new Set(names)] : undefined;
}

/** The paging key of an instance: (createdTime, instanceId). */
export interface PageKey {
  readonly createdTime: number;
  readonly instanceId: string;
}

/**
 * Orders instance ids as JavaScript strings compare, code unit by code unit: the tie-break of every listing's order
 * (paging, end order), which a store whose own string order differs maps its keys to (MongoStore's `idOrder`).
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders instances for paging: createdTime, then instanceId ({@link compareIds}). */
export function comparePageKeys(a: PageKey, b: PageKey): number {
  return a.createdTime - b.createdTime || compareIds(a.instanceId, b.instanceId);
}

/**
 * The comparison of a listing's order: {@link comparePageKeys} for `'asc'` (or none), its reverse for `'desc'`. A page
 * lists what follows its token's key in this order.
 */
export function pageOrderOf(order: 'asc' | 'desc' | undefined): (a: PageKey, b: PageKey) => number {
  return order === 'desc' ? (a, b) => comparePageKeys(b, a) : comparePageKeys;
}

/** The paging key of a state. */
export function pageKeyOf(state: InstanceState): PageKey {
  return { createdTime: state.createdTime.getTime(), instanceId: state.instanceId };
}

/**
 * Where a page of `queryInstances` starts, as a continuation token holds it: after the key of the previous page's last
 * instance, and, in a token of this version, up to the paging session's bound.
 */
export interface PageCursor extends PageKey {
  /**
   * The newest createdTime (ms) the store held when paging began (at the first page); later pages list nothing
   * created after it. Absent from a token of an earlier version, which pages without a bound until the next token.
   */
  readonly boundMs?: number;
  /** The order the token was made for: `'desc'` tokens say so; tokens of `'asc'` (and of earlier versions) do not. */
  readonly order?: 'desc';
}

/**
 * Encodes where the next page starts as an opaque continuation token: the key of the page's last instance, the
 * session's bound and, for a newest-first listing, `'desc'`, as JSON, percent-encoded (plain ASCII, safe in a header
 * and in a query string). An ascending token is the one earlier versions made. Not in store-kit: a store makes its
 * tokens with {@link nextPageToken}, which always records the bound, and reads them with {@link planInstancePage}. A
 * token without a bound (the version before) has no order: it is an ascending one, so the order needs the bound.
 */
export function encodeContinuationToken(key: PageKey): string;
export function encodeContinuationToken(key: PageKey, boundMs: number, order?: 'asc' | 'desc'): string;
export function encodeContinuationToken(key: PageKey, boundMs?: number, order?: 'asc' | 'desc'): string {
  const parts: unknown[] = [key.createdTime, key.instanceId];
  if (boundMs !== undefined) parts.push(boundMs);
  if (boundMs !== undefined && order === 'desc') parts.push('desc');
  return encodeURIComponent(JSON.stringify(parts));
}

/**
 * Decodes a continuation token, one of this version or of the one before (without a bound); throws
 * `InvalidArgumentError` for anything neither produced: its times must be instants an instance is created at, whole
 * milliseconds a Date holds (a store may turn them into Dates: MongoStore sends an invalid one to the server as the
 * epoch, which would start the listing over).
 */
export function decodeContinuationToken(token: string): PageCursor {
  try {
    const parsed: unknown = JSON.parse(decodeURIComponent(token));
    if (Array.isArray(parsed) && parsed.length >= 2 && parsed.length <= 4 && isInstant(parsed[0]) && typeof parsed[1] === 'string') {
      if (parsed.length === 2) return { createdTime: parsed[0], instanceId: parsed[1] };
      if (isInstant(parsed[2])) {
        if (parsed.length === 3) return { createdTime: parsed[0], instanceId: parsed[1], boundMs: parsed[2] };
        if (parsed[3] === 'desc') return { createdTime: parsed[0], instanceId: parsed[1], boundMs: parsed[2], order: 'desc' };
      }
    }
  } catch {
    // fall through
  }
  throw new InvalidArgumentError('invalid continuation token');
}

function isInstant(value: unknown): value is number {
  return Number.isInteger(value) && isValidDate(new Date(value as number));
}

/** A page of `queryInstances` as {@link planInstancePage} reads its query. */
export interface InstancePagePlan<Q extends InstanceQuery> {
  /** The filters to list by: the caller's, `createdTimeTo` at most the session's bound. */
  readonly query: Q;
  /** The key the page starts after, in {@link InstancePagePlan.order}; `undefined` on a first page. */
  readonly after: PageCursor | undefined;
  /** The order of the listing: `'desc'` lists the keys before `after`, newest first. */
  readonly order: 'asc' | 'desc';
}

/**
 * The one paging rule every store executes. A paging session is bounded by the point it began: its first page's
 * token records the newest createdTime the store then held ({@link PageCursor.boundMs}, see {@link nextPageToken}),
 * and every later page lists only instances created at or before it, in (createdTime, instanceId) order after the
 * token's key. Every instance that existed when paging began is at or before the bound, whichever clock stamped it
 * (the bound is read from the store, not from a clock), so none is skipped. An instance started, or started again
 * over a terminal one (`startNew`, `restart`: a new execution, a new createdTime), after paging began is a new
 * execution the session leaves out: its createdTime is after the bound whenever the clocks that stamp createdTime
 * (each client's and worker's) agree and it falls in a later millisecond than the newest instance held, so no
 * instance a page listed comes back on a later one. A clock behind the one that stamped the newest instance can
 * stamp a new execution at or before the bound; that instance is listed again, as without the bound.
 *
 * Newest first (`order: 'desc'`), a page lists the keys before the token's, in descending order, so an instance
 * created after paging began (a key after every listed one) is never listed by a later page, bound or not. A token
 * carries its order ({@link PageCursor.order}); one used with the other order is refused with
 * `InvalidArgumentError` (400): the far side of its key is another listing. Other filters may change between pages,
 * as before: the token is a position, and the next page lists what the new filters match past it.
 *
 * @example
 * ```ts
 * const plan = planInstancePage(validateInstanceQuery(request));
 * // list by plan.query (its createdTimeTo bounded) after plan.after; with a next page:
 * const token = await nextPageToken(plan, lastKey, () => newestCreatedMs());
 * ```
 */
export function planInstancePage<Q extends InstanceQuery>(query: Q): InstancePagePlan<Q> {
  const order = query.order === 'desc' ? 'desc' : 'asc';
  if (query.continuationToken === undefined) return { query, after: undefined, order };
  const after = decodeContinuationToken(query.continuationToken);
  // A token is a position in one order: read in the other, it would list the far side of it. Filters may change
  // between pages (the token is a key, not a session): the next page lists what they match after that key.
  if ((after.order ?? 'asc') !== order) {
    throw new InvalidArgumentError(`continuation token was made for order '${after.order ?? 'asc'}'; this query asks for '${order}'`);
  }
  const { boundMs } = after;
  if (boundMs === undefined || (query.createdTimeTo !== undefined && query.createdTimeTo.getTime() <= boundMs)) return { query, after, order };
  return { query: { ...query, createdTimeTo: new Date(boundMs) }, after, order };
}

/**
 * The continuation token of a page with a next one, whose last instance has the key `last`: it carries the session's
 * bound, the one of the query's token, or, on a first page (or after a token of the version before), the newest
 * createdTime the store holds, which `newestCreatedMs` reads (in the page's transaction, or after it; `undefined`
 * when the store holds none), over all instances whatever the filters. The bound is never before `last`.
 */
export async function nextPageToken(
  plan: Pick<InstancePagePlan<InstanceQuery>, 'after'> & { readonly order?: 'asc' | 'desc' }, last: PageKey,
  newestCreatedMs: () => number | undefined | Promise<number | undefined>,
): Promise<string> {
  const boundMs = plan.after?.boundMs ?? Math.max((await newestCreatedMs()) ?? last.createdTime, last.createdTime);
  return encodeContinuationToken(last, boundMs, plan.order);
}

/**
 * The page size of a query: its own, read by the one rule {@link validateInstanceQuery} applies (a positive integer;
 * one above {@link MAX_PAGE_SIZE} taken as it; anything else an `InvalidArgumentError`), or {@link DEFAULT_PAGE_SIZE}.
 * It checks again, so a store that skipped the validation still never reads an unchecked limit.
 */
export function pageSizeOf(query: { readonly pageSize?: number | undefined }): number {
  return query.pageSize === undefined ? DEFAULT_PAGE_SIZE : readPageSize(query.pageSize, 'pageSize');
}

/**
 * The one notion of "due" that claims and wake-ups share: work whose time is `atMs` (ms since the epoch) is due at
 * `now` when `atMs <= now`. A worker that claims at `now` and then asks for the next wake time with the same `now`
 * can therefore never fall between the two (the lost-timer race).
 */
export function isDue(atMs: number, now: Date): boolean {
  return atMs <= now.getTime();
}

/** When a message becomes visible, in ms: its `visibleAt`, or 0 (at once). */
export function dueAtMs(message: OrchestrationMessage): number {
  return message.visibleAt?.getTime() ?? 0;
}

/** True when a message may be handed out at `now`. */
export function isVisible(message: OrchestrationMessage, now: Date): boolean {
  return isDue(dueAtMs(message), now);
}

/**
 * When pending work (an instance's earliest message due at `dueMs`, or an activity task with `dueMs` 0) can be
 * claimed: once it is due and its lease, if any, has expired (`leaseExpiresAt` as a Date or in ms since the epoch). `nextWakeTime` reports the smallest of these over all
 * unclaimed work, so work that is due already yields a time at or before `now`, and the worker claims again at once.
 */
export function claimableAtMs(leaseExpiresAt: Date | number | undefined, dueMs: number): number {
  return Math.max(typeof leaseExpiresAt === 'number' ? leaseExpiresAt : leaseExpiresAt?.getTime() ?? 0, dueMs);
}

/** Work a claim leased: an instance or an activity task. */
export interface ClaimedWork {
  readonly kind: 'orchestration' | 'activity';
  /** The instance id, or the task id. */
  readonly id: string;
}

/**
 * What a claim does with work it leased ({@link decideClaimedWork}): hand the item out, or skip the work: keep the
 * lease (do not release it), log `message` at error level with `error` as details, and claim the next work.
 */
export type ClaimedWorkAction<T> =
  | { readonly kind: 'hand-out'; readonly item: T }
  | { readonly kind: 'skip'; readonly message: string; readonly error: unknown };

/**
 * The one rule for work a store claimed: `decode` reads it into a work item, and work whose stored state, message or
 * task does not decode (corrupt, or written by another program or a newer version) is skipped instead of thrown. It is
 * the worker's rule for a step that fails ("retried when its lease expires"), applied inside the claim: the store keeps
 * the claim's lease and lets it lapse, so the work is claimable again at `lease.expiresAt`, one lease length later;
 * logs the action's message; and goes on to the next claimable work. Released at once instead, the work would be first
 * in line again, and every claim of every worker would take it, fail and leave the rest waiting; thrown, it would make
 * every claim fail. Nothing is written to the work itself: the status cannot be rewritten without reading it, so what
 * could not be read stays as it is for an operator (the log names it, once per lease length).
 *
 * @example
 * ```ts
 * const action = decideClaimedWork({ kind: 'orchestration', id: 'order-1' }, lease, () => decode(doc, lease));
 * if (action.kind === 'hand-out') return action.item;
 * logger.error(action.message, action.error); // keep `lease`, claim the next instance
 * ```
 */
export function decideClaimedWork<T>(work: ClaimedWork, lease: Lease, decode: () => T): ClaimedWorkAction<T> {
  try {
    return { kind: 'hand-out', item: decode() };
  } catch (error) {
    const what = work.kind === 'orchestration' ? `instance ${JSON.stringify(work.id)}` : `activity task ${JSON.stringify(work.id)}`;
    return {
      kind: 'skip',
      error,
      message: `claimed ${what} but its stored data cannot be read; it is skipped until its lease expires at ` +
        `${lease.expiresAt.toISOString()} and claimed again then (nothing was written to it)`,
    };
  }
}

/**
 * Checks the arguments of `Store.releaseOwner`: a non-empty worker id (as `ClaimOptions.owner`) and, when given, the
 * asking life's lease owner (a non-empty string). Throws `InvalidArgumentError` otherwise, before the store releases
 * anything.
 */
export function validateLeaseOwner(owner: unknown, current?: unknown): string {
  assertValidName(owner, 'lease owner');
  if (current !== undefined && (typeof current !== 'string' || current === '')) invalid('current lease owner', 'must be a non-empty string');
  return owner;
}

/**
 * The owner recorded in the leases of one life of worker `workerId` (a run of a process or of a page), begun at
 * `startedAt` on the worker's clock: `<workerId>#<startedAt in ms, base 36>.<8 random hex digits>`. A worker that
 * releases leases by its id (a given `workerId`, a `leaseStorage`) records these, so `Store.releaseOwner` can tell its
 * lives apart ({@link isHeldBy}).
 *
 * @example
 * ```ts
 * lifeLeaseOwner('node-1', new Date(0)); // 'node-1#0.3f9a0c1e'
 * ```
 */
export function lifeLeaseOwner(workerId: string, startedAt: Date): string {
  return `${workerId}#${startedAt.getTime().toString(36)}.${randomId().slice(0, 8)}`;
}

/** A lease owner made by {@link lifeLeaseOwner}: the worker id and the life's start time. */
const LIFE_OWNER = /^(.*)#(-?[0-9a-z]+)\.[0-9a-f]{8}$/;

/**
 * Whether `Store.releaseOwner(owner, current)` releases `lease`, live or expired (an expired one is claimable already;
 * releasing it changes nothing but its bookkeeping): a lease recorded by worker `owner`, either with the bare id (as
 * older versions and workers without a life mark record it) or by one of its lives ({@link lifeLeaseOwner}); with
 * `current` (the asking life's lease owner), only one of the lives begun before it. So a release a life sends, however
 * late the store applies it, never takes that life's leases, nor those of a life begun after it or in the same
 * millisecond (which began first is not known: such a lease waits out its time rather than be taken from a later
 * life). A worker begins its lives in order even on a clock that stands still or goes back; across processes, the
 * order holds while a clock goes back by less than a restart takes. The one rule every store applies, whatever query
 * finds the candidates: a released lease's owner always starts with `owner`.
 *
 * @example
 * ```ts
 * const earlier = lifeLeaseOwner('node-1', new Date(1000));
 * const current = lifeLeaseOwner('node-1', new Date(2000));
 * isHeldBy({ owner: 'node-1' }, 'node-1', current);  // true: recorded by an older version
 * isHeldBy({ owner: earlier }, 'node-1', current);   // true: an earlier life
 * isHeldBy({ owner: current }, 'node-1', current);   // false: the asking life's own
 * isHeldBy({ owner: current }, 'node-1');            // true: no asking life, every life of the id
 * isHeldBy({ owner: 'node-10' }, 'node-1');          // false
 * isHeldBy(undefined, 'node-1');                     // false
 * ```
 */
export function isHeldBy(lease: { readonly owner: string } | undefined, owner: string, current?: string): boolean {
  if (lease === undefined || lease.owner === current) return false;
  const held = lifeOf(lease.owner);
  if (held.id !== owner) return false;
  const asking = current === undefined ? undefined : lifeOf(current);
  return asking?.id !== owner || held.at < asking.at;
}

/**
 * True when `token` can name a lease: a non-empty string, as every store's leases carry (`leaseTokens`). A caller's
 * missing token (`undefined`, `null`, `''`) names none, so it can never match a free lease, whose token is absent or
 * `null` (MongoStore filters on its server, where the driver sends `undefined` as `null`: it asks this first).
 *
 * @example
 * ```ts
 * isLeaseToken('k2x-7'); // true
 * isLeaseToken(undefined); // false: refused as a lost lease, never compared
 * ```
 */
export function isLeaseToken(token: unknown): token is string {
  return typeof token === 'string' && token.length > 0;
}

/**
 * True when `token`, given back by a lease holder, names the lease `held` (`undefined`: free): the check of every
 * store's renewal, release and leased commit. A token that is no lease token ({@link isLeaseToken}) holds nothing, so
 * a missing one never takes a free task or instance.
 *
 * @example
 * ```ts
 * holdsLease(task.lease, item.lease.token); // false once another worker claimed the task
 * holdsLease(undefined, undefined);         // false: free, and no token
 * ```
 */
export function holdsLease<T extends { readonly token: string }>(held: T | undefined, token: unknown): held is T {
  return isLeaseToken(token) && held?.token === token;
}

/** The worker id and start time (ms; `-Infinity` for a bare id) of a lease owner. */
function lifeOf(leaseOwner: string): { readonly id: string; readonly at: number } {
  const life = LIFE_OWNER.exec(leaseOwner);
  return life ? { id: life[1]!, at: parseInt(life[2]!, 36) } : { id: leaseOwner, at: -Infinity };
}

/**
 * Fresh lease tokens for one worker or store handle: a random prefix of its own plus a counter, as unique as a UUID
 * per lease without making one per claim.
 */
export function leaseTokens(): () => string {
  const prefix = `${randomId()}.`;
  let count = 0;
  return () => prefix + String(++count);
}

/**
 * Checks the arguments of a claim (`Store.claimOrchestration`, `Store.claimActivity`), the first thing every store's
 * claim does, before it reads or leases anything: `owner` a non-empty string, `leaseMs` a finite number > 0 (as the
 * runtime's lease options) that ends the lease at a valid Date, `now` a valid Date ({@link validateTime}), `maxMessages` absent or an integer >= 1. Throws
 * `InvalidArgumentError` otherwise. An Invalid Date or a length that is not a number made a lease whose expiry no
 * comparison sees as past or as future: the work it took was never handed out again, or handed out again at once.
 *
 * @example
 * ```ts
 * validateClaimOptions({ owner: 'w1', leaseMs: 30_000, now: new Date() }); // passes
 * validateClaimOptions({ owner: 'w1', leaseMs: NaN, now: new Date() });    // throws InvalidArgumentError
 * ```
 */
export function validateClaimOptions(options: unknown): ClaimOptions {
  if (typeof options !== 'object' || options === null) invalid('claim options', 'must be an object');
  const { owner, leaseMs, now, maxMessages } = options as Record<keyof ClaimOptions, unknown>;
  if (typeof owner !== 'string' || owner === '') invalid('claim options.owner', 'must be a non-empty string');
  isFiniteDelayMs(leaseMs, 'claim options.leaseMs');
  if (!isValidDate(new Date(validateTime(now, 'claim options.now').getTime() + (leaseMs as number)))) invalid('claim options.leaseMs', 'ends the lease past the last valid Date');
  if (maxMessages !== undefined) isCount(maxMessages, 'claim options.maxMessages');
  return options as ClaimOptions;
}

/**
 * Checks a time a store compares stored times with (`Store.nextWakeTime`'s `now`, `Store.renewActivityLease`'s
 * `expiresAt`): a valid Date. Throws `InvalidArgumentError` naming `what` otherwise, before the store reads or writes
 * anything: an Invalid Date is neither before nor after any time.
 *
 * @example
 * ```ts
 * validateTime(new Date(NaN), 'nextWakeTime now'); // throws InvalidArgumentError
 * ```
 */
export function validateTime(value: unknown, what: string): Date {
  if (!isValidDate(value)) invalid(what, 'must be a valid Date');
  return value;
}

/** The lease a claim takes: held by `options.owner` for `options.leaseMs` from `options.now`, under `token`. */
export function newLease(options: ClaimOptions, token: string): Lease {
  return { owner: options.owner, token, expiresAt: new Date(options.now.getTime() + options.leaseMs) };
}
