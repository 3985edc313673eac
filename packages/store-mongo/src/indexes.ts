import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '@durable-rx/runtime';
import type { Document, IndexDescription } from 'mongodb';

/** The collection names of one store. */
export interface CollectionNames {
  readonly instances: string;
  readonly history: string;
  readonly messages: string;
  readonly activityTasks: string;
  /** History generations left to delete (restarted, replaced or purged executions). */
  readonly sweeps: string;
  /** When each instance was purged, kept for {@link PURGE_RECORD_TTL_S}: what a status resync reports as purged. */
  readonly purges: string;
  /**
   * The raise-key record of each instance that was raised to with an idempotency key (store-kit's `RaiseKeysRecord`):
   * `{ _id: <instance key>, keys }`, read and written only by a keyed raise or signal-with-start, deleted by a purge.
   */
  readonly raiseKeys: string;
}

/**
 * The collection names for a prefix: `${prefix}instances`, `${prefix}history`, `${prefix}messages`,
 * `${prefix}activityTasks`, `${prefix}sweeps`, `${prefix}purges`, `${prefix}raiseKeys`.
 *
 * @example
 * ```ts
 * collectionNames('drx_').messages; // 'drx_messages'
 * ```
 */
export function collectionNames(prefix = ''): CollectionNames {
  return {
    instances: `${prefix}instances`,
    history: `${prefix}history`,
    messages: `${prefix}messages`,
    activityTasks: `${prefix}activityTasks`,
    sweeps: `${prefix}sweeps`,
    purges: `${prefix}purges`,
    raiseKeys: `${prefix}raiseKeys`,
  };
}

/** Characters MongoDB refuses in a database name on every platform, and the most bytes one may have. */
const DB_NAME_FORBIDDEN = /[/\\. "$\0]/;
const DB_NAME_MAX_BYTES = 63;
/** The most bytes of `<database>.<collection>` MongoDB accepts (4.4 and later). */
const NAMESPACE_MAX_BYTES = 255;

/**
 * Checks a database name and a collection prefix before anything is opened, so that a bad one is refused with
 * `InvalidArgumentError` (400) at `connect` instead of a server error (500) from the first operation: a database name
 * must be 1–63 bytes without `/ \ . " $` or NUL (a Windows server also refuses `* < > : | ?`); a prefix must not
 * contain `$` or NUL nor start with `system.`; and `<database>.<prefix>activityTasks` (the longest name) must fit
 * MongoDB's 255-byte namespace.
 *
 * @example
 * ```ts
 * validateNamespace('orders', 'drx_'); // passes
 * validateNamespace('orders', 'a$b');  // throws InvalidArgumentError
 * ```
 */
export function validateNamespace(dbName: unknown, prefix: unknown = ''): void {
  if (typeof dbName !== 'string' || dbName === '' || DB_NAME_FORBIDDEN.test(dbName) || Buffer.byteLength(dbName, 'utf8') > DB_NAME_MAX_BYTES) {
    throw new InvalidArgumentError(
      `Invalid MongoDB database name ${JSON.stringify(dbName)}: 1 to ${DB_NAME_MAX_BYTES} bytes, without / \\ . " $ or NUL`,
    );
  }
  if (typeof prefix !== 'string' || prefix.includes('$') || prefix.includes('\0') || prefix.startsWith('system.')) {
    throw new InvalidArgumentError(`Invalid collectionPrefix ${JSON.stringify(prefix)}: no $ or NUL, and not starting with "system."`);
  }
  const longest = `${dbName}.${collectionNames(prefix).activityTasks}`;
  if (Buffer.byteLength(longest, 'utf8') > NAMESPACE_MAX_BYTES) {
    throw new InvalidArgumentError(
      `collectionPrefix ${JSON.stringify(prefix)} is too long: ${JSON.stringify(longest)} exceeds MongoDB's ${NAMESPACE_MAX_BYTES}-byte namespace limit`,
    );
  }
}

/**
 * How long the record of a purge is kept (7 days): a `changes$` subscriber whose change stream lost its position for
 * up to this long learns of the instances purged meanwhile.
 */
export const PURGE_RECORD_TTL_S = 7 * 24 * 3600;

/**
 * Every index MongoStore uses, by collection. Each query the store sends is served by one of them; the README lists
 * which query uses which.
 */
export const INDEXES: { readonly [K in keyof CollectionNames]: readonly IndexDescription[] } = {
  instances: [
    // queryInstances without a status filter, keyset paging; purge by created time.
    { name: 'page', key: { createdTime: 1, _id: 1 } },
    // queryInstances / purgeInstances with a status filter.
    { name: 'status_page', key: { runtimeStatus: 1, createdTime: 1, _id: 1 } },
    // queryInstances / purgeInstances with a name filter (one range per name, merged in page order); the fill-in of
    // `name` at connect (documents without it: null in the index).
    { name: 'name_page', key: { name: 1, createdTime: 1, _id: 1 } },
    // purgeInstances with a name filter (and no tags): its scan for candidates, bounded by the names, the statuses and the
    // created times and answered from the keys alone (no candidate's document read; pinned by a hint).
    { name: 'name_status_page', key: { name: 1, runtimeStatus: 1, createdTime: 1, _id: 1 } },
    // queryInstances / purgeInstances with a tag filter: multikey, one key per tag pair (`tagKeys`), the scan bounded by
    // the filter's most selective pair and the others checked on each document; the counts that choose that pair; the
    // fill-in of `tagKeys` at connect (documents without it: null in the index).
    { name: 'tag_page', key: { tagKeys: 1, createdTime: 1, _id: 1 } },
    // claimOrchestration and nextWakeTime: ranges on when an instance can be claimed (claimAt EPOCH, in the order
    // messages became visible; or a due time up to now), so instances waiting for later times are never visited.
    { name: 'claim_at', key: { claimAt: 1, readyAt: 1 } },
    // releaseOwner: the leases of one worker id (the prefix of every owner it releases), leased instances only.
    { name: 'lease_owner', key: { leaseOwner: 1, leaseExpiresAt: 1 } },
    // The re-read of a status-feed resync: instances changed since the feed was last healthy.
    { name: 'updated', key: { updatedAt: 1 } },
    // listEnded: a status's instances in end order (the state's lastUpdatedTime, then the id in code-unit order), up to
    // a time and after a key, so a retention sweep reads only the instances whose period has passed; the fill-in of
    // those fields at connect for the ended instances written before them (null in the index).
    { name: 'ended', key: { runtimeStatus: 1, lastUpdatedTime: 1, idOrder: 1 } },
    // instanceIdPrefix: no index both bounds a prefix and keeps the page order; the planner runs a range of the built-in
    // _id index with an in-memory sort of the matches, or a walk of `page` (see the README).
  ],
  history: [
    // getHistory and getInstanceHistory (historyQuery: ordered, from the index), appends, the chunked sweep of an old generation.
    { name: 'instance_gen_index', key: { instanceId: 1, gen: 1, index: 1 }, unique: true },
  ],
  messages: [
    // Arrival order per instance, unique (two messages of an instance never share a seq); deletion with the instance.
    { name: 'instance_seq', key: { instanceId: 1, seq: 1 }, unique: true },
    // The claim's read of an instance's visible messages (and an unclaimed write's check): the messages visible at once
    // (due EPOCH) in seq order from the index, and the timers already due, never one due later (visibleMessagesQuery);
    // its { instanceId, due } prefix: the queue head's earliest due message after a commit.
    { name: 'instance_due_seq', key: { instanceId: 1, due: 1, seq: 1 } },
    // Consumption: a commit deletes the messages its step consumed by their ids, visiting only those (not every
    // message queued for the instance, which a fan-in of thousands of results would make quadratic).
    { name: 'instance_id', key: { instanceId: 1, id: 1 } },
    // The queue head of an instance after a commit: its earliest ready message.
    { name: 'instance_ready', key: { instanceId: 1, readyAt: 1 } },
  ],
  activityTasks: [
    // claimActivity: ranges on when a task can be claimed (its lease expiry: EPOCH when free, in scheduling order; or
    // an expiry up to now), so leased tasks are never visited; nextWakeTime (its first key).
    { name: 'claim_at', key: { leaseExpiresAt: 1, readyAt: 1, order: 1 } },
    // releaseOwner: the task leases of one worker id (the prefix of every owner it releases), as on instances; the
    // look-up of a lease a claim could not confirm (one key).
    { name: 'lease_owner', key: { leaseOwner: 1, leaseExpiresAt: 1 } },
    // Deletion with the instance (replace, purge).
    { name: 'instance', key: { instanceId: 1 } },
  ],
  sweeps: [],
  purges: [
    // The resync of changes$ (purges since the feed was last healthy); expiry of old records.
    { name: 'purged_at', key: { purgedAt: 1 }, expireAfterSeconds: PURGE_RECORD_TTL_S },
  ],
  // Read and written by _id alone.
  raiseKeys: [],
};

/**
 * Indexes of earlier layouts that the current layout cannot write beside, which `ensureIndexes` drops before it creates
 * the current ones: the old unique `{ instanceId, index }` on history (`instance_index`) refuses the events of a
 * restarted instance's new generation. It exists only on a database of the layout before write sets, which needs a new
 * database anyway (docs/mongodb.md). No other index belongs here: an index a later layout replaces goes to
 * {@link RETIRED_INDEXES}, which `connect` never drops, so that a rolling upgrade keeps the earlier version's hints
 * working.
 */
export const OBSOLETE_INDEXES: { readonly [K in keyof CollectionNames]?: readonly string[] } = {
  history: ['instance_index'],
};

/**
 * The store's collections missing from `existing` (the names `listCollections` returned), in a stable order:
 * `ensureIndexes` creates only these. Creating a collection that exists would still take a collection lock that
 * waits for the transactions in flight on it (and holds up those behind it) at every `connect` of every process.
 *
 * @example
 * ```ts
 * missingCollections(collectionNames(), new Set(['instances', 'history'])); // ['messages', 'activityTasks', 'sweeps', 'purges', 'raiseKeys']
 * ```
 */
export function missingCollections(names: CollectionNames, existing: ReadonlySet<string>): string[] {
  return Object.values(names).filter((name) => !existing.has(name));
}

/**
 * The `listCollections` filter `ensureIndexes` lists the store's collections with (for {@link missingCollections}):
 * their names, so the reply holds at most seven small documents whatever else the database holds. MongoDB's
 * `listCollections` (with no `batchSize`, as driver 7.8 sends it) puts every collection it lists in its first batch
 * up to the reply's size limit (16 MiB on current servers), and only past that answers with a cursor that needs a
 * `getMore`, which driver 7.8 sends without the index deadline's signal: so the listing is one command, bounded by
 * that signal. With `nameOnly`, a filter may name only `name` and `type`.
 *
 * @example
 * ```ts
 * collectionsListingFilter(collectionNames('drx_')); // { name: { $in: ['drx_instances', 'drx_history', …] } }
 * ```
 */
export function collectionsListingFilter(names: CollectionNames): { readonly name: { readonly $in: string[] } } {
  return { name: { $in: Object.values(names) } };
}

/**
 * Indexes of earlier layouts that the current one no longer uses and `ensureIndexes` never drops. A process of the
 * earlier version may still run (a rolling upgrade) and pins its queries to them with a `hint`, and MongoDB fails a
 * query whose hint names a missing index ("hint provided does not correspond to an existing index", cursor.hint()):
 * dropped at connect, every claim of those processes would fail until they are replaced. `connect` names the ones
 * present in a warning; once no process of an earlier version runs, `MongoStore.dropRetiredIndexes()` (or a
 * `dropIndex` by hand) drops them, saving their cost on every write.
 *
 * - instances: `claim_ready` (and the older `claim`) served claims and wake-ups before `claim_at`; `lease_expiry`
 *   served `releaseOwner` before `lease_owner` (led by the expiry, it visited every leased instance).
 * - messages: `due` served wake-ups before `claimAt`; `instance_due` `{ instanceId, due }` is a prefix of
 *   `instance_due_seq`, which serves its reads.
 * - activityTasks: `claim_ready` (and `claim`) and `lease_expiry`, which the tasks' `claim_at` replaces.
 *
 * Every later layout change adds the indexes it replaces here.
 */
export const RETIRED_INDEXES: { readonly [K in keyof CollectionNames]?: readonly string[] } = {
  instances: ['claim', 'claim_ready', 'lease_expiry'],
  messages: ['due', 'instance_due'],
  activityTasks: ['claim', 'claim_ready', 'lease_expiry'],
};

/**
 * The obsolete indexes ({@link OBSOLETE_INDEXES}) of one collection that `existing` (the index names `listIndexes`
 * returned) still has: `ensureIndexes` drops only these, so a store on the current layout sends no `dropIndexes`
 * (an exclusive lock on a busy collection) when it connects.
 *
 * @example
 * ```ts
 * obsoleteIndexesPresent('history', ['_id_', 'instance_index', 'instance_gen_index']); // ['instance_index']
 * ```
 */
export function obsoleteIndexesPresent(collection: keyof CollectionNames, existing: readonly string[]): string[] {
  return (OBSOLETE_INDEXES[collection] ?? []).filter((name) => existing.includes(name));
}

/**
 * The retired indexes ({@link RETIRED_INDEXES}) of one collection that `existing` (the index names `listIndexes`
 * returned) still has: `ensureIndexes` keeps them and names them in a warning.
 *
 * @example
 * ```ts
 * retiredIndexesPresent('messages', ['_id_', 'instance_seq', 'instance_due']); // ['instance_due']
 * ```
 */
export function retiredIndexesPresent(collection: keyof CollectionNames, existing: readonly string[]): string[] {
  return (RETIRED_INDEXES[collection] ?? []).filter((name) => existing.includes(name));
}

/**
 * What `connect` tells the operator about the retired indexes ({@link RETIRED_INDEXES}) still present (`present`: each
 * collection's name and the retired indexes {@link retiredIndexesPresent} found there), or `undefined` when there are none.
 *
 * @example
 * ```ts
 * retiredIndexesNotice([{ collection: 'drx_messages', indexes: ['instance_due'] }]);
 * // 'indexes this version no longer uses are still there: drx_messages.instance_due. ... dropRetiredIndexes() ...'
 * ```
 */
export function retiredIndexesNotice(present: readonly { readonly collection: string; readonly indexes: readonly string[] }[]): string | undefined {
  const named = present.flatMap(({ collection, indexes }) => indexes.map((name) => `${collection}.${name}`));
  if (named.length === 0) return undefined;
  return (
    `indexes this version no longer uses are still there: ${named.join(', ')}. They are kept because processes of an ` +
    'earlier version may still name them in hints (a rolling upgrade). Once no such process runs, drop them to save ' +
    'their cost on every write: store.dropRetiredIndexes(), or db.getCollection(\'<collection>\').dropIndex(\'<name>\') in mongosh.'
  );
}

/**
 * The collections whose indexes `connect` lists, once each, in both modes: all seven. With `createIndexes` (the
 * default) to find the obsolete indexes to drop ({@link OBSOLETE_INDEXES}) and the retired ones to warn about
 * ({@link RETIRED_INDEXES}); with `createIndexes: false` to check that every index of {@link INDEXES} exists
 * ({@link missingIndexes}); and in both to refuse an unfit one ({@link unfitIndexes}). Every collection is listed,
 * those with no index of the store's own too: `sweeps` and `raiseKeys` are read and written by `_id` alone, so their
 * `_id_` index shows a default collation that would make `_id`s differing only in case one document (a keyed raise
 * taken for a repeat of another, and dropped). `requiredPrivileges` asks for `listIndexes` on exactly these.
 *
 * @example
 * ```ts
 * indexesListedAtConnect(); // ['instances', 'history', 'messages', 'activityTasks', 'sweeps', 'purges', 'raiseKeys']
 * ```
 */
export function indexesListedAtConnect(): (keyof CollectionNames)[] {
  return Object.keys(INDEXES) as (keyof CollectionNames)[];
}

/**
 * The indexes of {@link INDEXES} that one collection lacks, given what `listIndexes` returned for it (`existing`; none
 * when the collection does not exist). An index counts as there when one with the same key (the same fields in the
 * same order and directions) exists, under any name: the store's queries name their index by its key in a `hint`.
 * Where the store's index is unique (`instance_seq`, `instance_gen_index`), the one there must be unique too: the store
 * relies on it to refuse a second message or history event at the same position.
 *
 * @example
 * ```ts
 * missingIndexes('messages', [{ name: '_id_', key: { _id: 1 } }, { name: 'instance_seq', key: { instanceId: 1, seq: 1 } }])
 *   .map((index) => index.name); // ['instance_due_seq', 'instance_id', 'instance_ready']
 * ```
 */
export function missingIndexes(collection: keyof CollectionNames, existing: readonly Document[]): IndexDescription[] {
  const keys = new Set(existing.map((index) => keyOf(index['key'])));
  const uniqueKeys = new Set(existing.filter((index) => index['unique'] === true).map((index) => keyOf(index['key'])));
  return INDEXES[collection].filter((index) => !(index.unique === true ? uniqueKeys : keys).has(keyOf(index.key)));
}

/** An index the store relies on that exists with an option that makes it unfit ({@link unfitIndexes}). */
export interface UnfitIndex {
  readonly name: string;
  readonly key: unknown;
  /** Why it is unfit, for the operator: each option that makes it so. */
  readonly why: readonly string[];
}

/**
 * The indexes of one collection (`existing`, what `listIndexes` returned) that have the key of an index the store
 * relies on ({@link INDEXES}, or `_id`) but an option that makes them answer differently from what the store's
 * queries expect. The store names its indexes in hints by key, and a hint makes MongoDB use the index whatever it
 * holds:
 *
 * - `partialFilterExpression`: the index holds only the documents that match it, so a hinted query that the filter
 *   does not cover returns incomplete results (SERVER-26413): work is silently never claimed;
 * - `sparse`: documents without the field are left out, the same way;
 * - a collation other than `simple`: strings compare by the collation (case-insensitive ids collide, ranges of keys
 *   and the store's escaped ids order differently). On `_id_` it is the collection's default collation
 *   (`db.createCollection(name, { collation })`), which every query and every other index of the collection
 *   inherits.
 *
 * @example
 * ```ts
 * unfitIndexes('instances', [{ name: 'claim_at', key: { claimAt: 1, readyAt: 1 }, partialFilterExpression: { claimAt: { $exists: true } } }]);
 * // [{ name: 'claim_at', key: { claimAt: 1, readyAt: 1 }, why: ['partialFilterExpression {"claimAt":{"$exists":true}}: ...'] }]
 * ```
 */
export function unfitIndexes(collection: keyof CollectionNames, existing: readonly Document[]): UnfitIndex[] {
  const needed = new Set([keyOf({ _id: 1 }), ...INDEXES[collection].map((index) => keyOf(index.key))]);
  const unfit: UnfitIndex[] = [];
  for (const index of existing) {
    if (!needed.has(keyOf(index['key']))) continue;
    const why: string[] = [];
    if (index['partialFilterExpression'] !== undefined) {
      why.push(`partialFilterExpression ${JSON.stringify(index['partialFilterExpression'])}: a query hinted to it returns only the documents the filter matches`);
    }
    if (index['sparse'] === true) why.push('sparse: documents without its fields are left out of it, and of a query hinted to it');
    const collation = index['collation'] as { locale?: unknown } | undefined;
    if (collation !== undefined && collation !== null && collation.locale !== 'simple') {
      why.push(String(index['name']) === '_id_'
        ? `the collection's default collation ${JSON.stringify(collation)}: every index and query of the collection compares strings by it, not by their bytes`
        : `collation ${JSON.stringify(collation)}: strings compare by it, not by their bytes`);
    }
    if (why.length > 0) unfit.push({ name: String(index['name']), key: index['key'], why });
  }
  return unfit;
}

/**
 * What `connect` tells the operator about the indexes {@link unfitIndexes} found (`unfit`: each collection's name and
 * its unfit indexes), or `undefined` when there are none. `connect` refuses to open with it (`MongoStoreError`).
 *
 * @example
 * ```ts
 * unfitIndexesProblem([{ collection: 'drx_instances', indexes: unfitIndexes('instances', listed) }]);
 * // 'MongoStore cannot use these indexes: drx_instances.claim_at {"claimAt":1,"readyAt":1} (partialFilterExpression ...). ...'
 * ```
 */
export function unfitIndexesProblem(unfit: readonly { readonly collection: string; readonly indexes: readonly UnfitIndex[] }[]): string | undefined {
  const named = unfit.flatMap(({ collection, indexes }) =>
    indexes.map((index) => `${collection}.${index.name} ${JSON.stringify(index.key)} (${index.why.join('; ')})`));
  if (named.length === 0) return undefined;
  return (
    `MongoStore cannot use these indexes: ${named.join(', ')}. The store pins its queries to its indexes by key, and ` +
    'expects every document in them and strings compared by their bytes: with these, claims and reads would silently ' +
    'miss documents. Drop each of these indexes (db.getCollection(\'<collection>\').dropIndex(\'<name>\') in mongosh) and ' +
    'connect again to rebuild it without the option (or create it as the README lists it); a collection with a default ' +
    'collation must be created again without one (copy its documents to a new collection).'
  );
}

/** An index key as a string that keeps the order of its fields (`{ a: 1, b: -1 }` is not `{ b: -1, a: 1 }`). */
function keyOf(key: unknown): string {
  return key !== null && typeof key === 'object' ? JSON.stringify(Object.entries(key)) : String(key);
}

/**
 * What `connect` with `createIndexes: false` tells the operator when indexes are missing (`missing`: each collection's
 * name and the indexes {@link missingIndexes} found absent), or `undefined` when none is. Without them claims,
 * wake-ups, queue heads, sweeps and resyncs, which name their index in a `hint`, would fail at every call.
 *
 * @example
 * ```ts
 * missingIndexesProblem([{ collection: 'messages', indexes: INDEXES.messages.slice(1, 2) }]);
 * // 'MongoStore was opened with createIndexes: false, but these indexes are missing: messages.instance_due_seq {...} ...'
 * ```
 */
export function missingIndexesProblem(
  missing: readonly { readonly collection: string; readonly indexes: readonly IndexDescription[] }[],
): string | undefined {
  const named = missing.flatMap(({ collection, indexes }) =>
    indexes.map((index) => `${collection}.${String(index.name)} ${JSON.stringify(index.key)}${optionsOf(index)}`));
  if (named.length === 0) return undefined;
  return (
    `MongoStore was opened with createIndexes: false, but these indexes are missing: ${named.join(', ')}. ` +
    'The store names its indexes in hints, so its claims, wake-ups and queue heads would fail at every call without them. ' +
    'Create them with your migration (in mongosh: db.getCollection(\'<collection>\').createIndex(<key>, { name: \'<name>\', ...options })), ' +
    'or connect once with createIndexes: true (or call ensureIndexes()), then connect again.'
  );
}

/** The options of an index definition besides its key and name, as ` { unique: true }`, or nothing. */
function optionsOf(index: IndexDescription): string {
  const options = Object.fromEntries(Object.entries(index).filter(([field]) => field !== 'key' && field !== 'name'));
  return Object.keys(options).length > 0 ? ` ${JSON.stringify(options)}` : '';
}

/** IndexOptionsConflict, IndexKeySpecsConflict: an index of that name (or key) exists with another definition. */
const INDEX_CONFLICT_CODES = new Set([85, 86]);

/**
 * What to tell the operator when `createIndexes` on `collection` failed because an index of the same name or key
 * already exists with a different definition (a changed TTL, an index created by hand, an older layout):
 * `createIndexes` is idempotent only for identical definitions. `undefined` for any other error.
 *
 * @example
 * ```ts
 * indexConflictProblem('purges', { code: 85, message: 'An equivalent index already exists with a different name and options' });
 * // 'MongoStore could not create its indexes on collection "purges": ... drop that index ... and connect again ...'
 * ```
 */
export function indexConflictProblem(collection: string, error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'number' || !INDEX_CONFLICT_CODES.has(code)) return undefined;
  const detail = error instanceof Error ? error.message : String((error as { message?: unknown }).message);
  const kind = (Object.keys(INDEXES) as (keyof CollectionNames)[]).find((k) => collection.endsWith(k));
  const wanted = (kind ? INDEXES[kind] : []).map((index) => `${String(index.name)} ${JSON.stringify(index.key)}`).join(', ');
  return (
    `MongoStore could not create its indexes on collection ${JSON.stringify(collection)}: an index with the same name or key ` +
    `exists with another definition (${detail}). The store needs: ${wanted}. Drop the conflicting index ` +
    `(db.getCollection(${JSON.stringify(collection)}).dropIndex('<name>') in mongosh) and connect again; connect rebuilds it.`
  );
}
