import { readFileSync } from 'node:fs';
import { TERMINAL_RUNTIME_STATUSES } from '@durable-rx/runtime';
import type { InstanceQuery, PurgeFilter } from '@durable-rx/runtime/store-kit';
import { ObjectId, type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { endOrderRepair, EPOCH, sameStateFilter } from '../src/documents.js';
import { INDEXES, type CollectionNames } from '../src/indexes.js';
import {
  activityClaimTries, buildQueryFilter, CLAIM_ACTIVITY_HINT, CLAIM_ACTIVITY_SORT, CLAIM_ORCHESTRATION_HINT, CLAIM_ORCHESTRATION_SORT,
  changedSinceFilter, consumedMessagesFilter, ENDED_HINT, endedListingQuery, historyQuery, INSTANCE_WAKE_FILTER, leaseLookupFilter, MISSING_CLAIM_AT_FILTER, MISSING_END_ORDER_FILTER, MISSING_NAME_FILTER,
  MISSING_NAME_HINT, MISSING_TAG_KEYS_FILTER, NAME_STATUS_PAGE_HINT, NEWEST_CREATED, PAGE_SORT_DESC, pageSortOf, TAG_PAGE_HINT, tagCountFilter,
  orchestrationClaimTries, ownerLeasesFilter, PAGE_SORT, PURGES_HINT, purgedSinceFilter, purgeScanFilter, queueHeadQueries, RELEASE_OWNER_HINTS,
  RESYNC_HINT, sweepChunkQuery, TASK_WAKE_FILTER, TASK_WAKE_HINT, TASK_WAKE_SORT, timedActivityClaimProbeFilter, timedClaimProbeFilter,
  visibleMessagesQuery,
} from '../src/queries.js';
import * as queries from '../src/queries.js';
import { heldSweepsQuery, sweepClaim, sweepRenewal } from '../src/sweep-lease.js';
import { indexScan, type IndexScan } from './support/index-scan.js';

/**
 * Every query MongoStore sends has an index that serves it: equalities first, then the sort, then ranges (the ESR rule:
 * "The ESR (Equality, Sort, Range) Guideline" in the MongoDB manual). The shapes are built by the store's own query
 * builders, and every call the store makes on a collection (read off `mongo-store.ts`) must be one of them, so a new
 * query fails this test until it has a shape here and an index (in `INDEXES`) that serves it.
 */

type Key = Readonly<Record<string, 1 | -1>>;

interface Shape {
  /** What sends it. */
  readonly what: string;
  readonly collection: keyof CollectionNames;
  readonly filter: Document;
  readonly sort?: Key;
  /** The index key the query names in a `hint`, when it does. */
  readonly hint?: Key;
  /** Fields outside the serving index whose conditions the server checks on each document it fetches (they bound nothing). */
  readonly fetched?: readonly string[];
  /** Why the sort is done in memory, when it is on purpose (no index order serves it at a cost worth paying). */
  readonly sortInMemory?: string;
  /** Why no index serves it, when none does on purpose. */
  readonly unindexed?: string;
  /**
   * The calls in `mongo-store.ts` this shape stands for: `<receiver>.<method>(<first argument>`, without whitespace.
   * A call that sends several shapes (the claim's tries) is named by one of them.
   */
  readonly sites: readonly string[];
}

const NOW = new Date('2026-06-01T00:00:00.000Z');
const LATER = new Date(NOW.getTime() + 60_000);
const KEY = 'order-1';
const BY_ID = { _id: 1 } as const;

function shapes(): Shape[] {
  // A write or read by key: the built-in `_id` index (or `instance` on tasks and `instance_seq` on messages for an
  // instance's key); any other condition is checked on the document found.
  const byKey = (collection: keyof CollectionNames, what: string, filter: Document, sites: string[], fetched: string[] = []): Shape =>
    ({ what, collection, filter, fetched: [...fetched, ...Object.keys(filter).filter((f) => f !== '_id' && f !== 'instanceId' && !f.startsWith('$'))], sites });
  const visible = visibleMessagesQuery(KEY, NOW, { upToSeq: 42, limit: 100 });
  const dueSeqs = [visible.dueSeqs(), visible.dueSeqs(17)];
  const held = heldSweepsQuery(NOW);
  const claim = sweepClaim(NOW, 't');
  const heads = queueHeadQueries(KEY);
  const chunk = sweepChunkQuery({ instanceId: KEY, gen: 'g1' }, 1000);
  const history = historyQuery(KEY, 'g1', { fromIndex: 5, toIndex: 9 });
  const queries = [
    {}, { runtimeStatus: ['Running' as const] }, { runtimeStatus: ['Completed' as const, 'Failed' as const] }, { createdTimeFrom: NOW },
    { createdTimeFrom: NOW, createdTimeTo: LATER, runtimeStatus: ['Pending' as const] },
  ];
  const after = { createdTime: NOW.getTime(), instanceId: 'b' };
  const purges: PurgeFilter[] = [
    { createdTimeFrom: NOW }, { createdTimeFrom: NOW, createdTimeTo: LATER }, { createdTimeFrom: NOW, createdTimeTo: LATER, runtimeStatus: [...TERMINAL_RUNTIME_STATUSES] },
  ];
  return [
    // ---- instances
    byKey('instances', 'reads and writes of one instance by its key (getInstance, history generation, purgeInstance, commits, input reads)', { _id: KEY }, [
      '#instances.findOne({_id:key}', '#instances.findOne({_id:key}', '#instances.findOne({_id:key}',
      '#instances.findOne({_id:instanceKey(instanceId)}', '#instances.findOne({_id:instanceKey(instanceId)}',
      '#instances.updateOne({_id:w.instanceKey}', '#instances.updateOne({_id:w.instanceKey}', '#instances.replaceOne({_id:w.doc._id}',
      // The server's time stamped on an instance just inserted or replaced (STAMP_UPDATED_AT).
      '#instances.updateOne({_id:w.doc._id}', '#instances.updateOne({_id:w.doc._id}',
    ]),
    byKey('instances', 'a commit takes its instances, the leased one by its lease token; the release of a lease without a commit', { _id: KEY, leaseToken: 't' }, [
      '#instances.findOneAndUpdate(filter', '#instances.findOne(filter', '#instances.findOne({_id:key,leaseToken}', '#instances.updateOne({_id:key,leaseToken}',
    ]),
    byKey('instances', 'batched input reads, the re-read of a resync by key, the delete of a purge, a tree purge\u2019s read of its members', { _id: { $in: [KEY, 'order-2'] } }, [
      '#instances.find({_id:{$in:[...keys]}}', '#instances.find({_id:{$in:keys}}', '#instances.deleteMany({_id:{$in:keys}}',
      '#instances.find({_id:{$in:memberKeys}}',
    ]),
    byKey('instances', 'releaseOwner frees each lease it found, by key and token', { _id: KEY, leaseToken: 't' }, [
      '#instances.bulkWrite(instances.map((doc)=>({updateOne:{filter:{_id:doc._id,leaseToken:doc.leaseToken},update:{$set:releasedFields(doc.nextMessageAt,now)}}}))',
    ]),
    byKey('instances', 'the claimAt fill-in writes each instance it read (#fillIn, the one call of the three fill-ins)', { _id: KEY, leaseExpiresAt: NOW, nextMessageAt: NOW }, ['#instances.bulkWrite(batch']),
    byKey('instances', 'the name, tagKeys and end-order fill-ins write each instance over the state they read (the one #fillIn call, as above)', sameStateFilter({ _id: KEY, state: '{}' }), []),
    byKey('instances', 'listEnded sets right the end order of each instance it left out, over the state it read', endOrderRepair({ _id: KEY, state: '{}' }, {
      instanceId: 'order-1', runtimeStatus: 'Completed', lastUpdatedTime: NOW,
    })!.filter, ['#instances.bulkWrite(repairs.map((updateOne)=>({updateOne}))']),
    byKey('instances', 'a purge marks each instance it deletes', { _id: KEY }, ['#instances.bulkWrite(marks']),
    byKey('instances', 'purgeInstances re-reads a batch of candidates in its transaction', { $and: [{ _id: { $in: [KEY] } }, purgeScanFilter({ createdTimeFrom: NOW })] },
      ['#instances.find({$and:[{_id:{$in:[...batch]}},mongoFilter]}'], ['runtimeStatus', 'createdTime']),
    {
      what: 'the claim\u2019s probe of the timed band', collection: 'instances', filter: timedClaimProbeFilter(NOW),
      sort: CLAIM_ORCHESTRATION_SORT, hint: CLAIM_ORCHESTRATION_HINT, sites: ['#instances.findOne(timedClaimProbeFilter(now)'],
    },
    ...orchestrationClaimTries(NOW, LATER).map((attempt, i): Shape => ({
      what: `claimOrchestration, try ${i} (${attempt.band})`, collection: 'instances', filter: attempt.filter,
      sort: CLAIM_ORCHESTRATION_SORT, hint: CLAIM_ORCHESTRATION_HINT, sites: i === 0 ? ['#instances.findOneAndUpdate(filter'] : [],
    })),
    {
      what: 'nextWakeTime on instances', collection: 'instances', filter: INSTANCE_WAKE_FILTER, sort: CLAIM_ORCHESTRATION_SORT,
      hint: CLAIM_ORCHESTRATION_HINT, sites: ['#instances.findOne(INSTANCE_WAKE_FILTER'],
    },
    {
      what: 'the claimAt fill-in at connect', collection: 'instances', filter: MISSING_CLAIM_AT_FILTER, hint: CLAIM_ORCHESTRATION_HINT,
      sites: ['#instances.find(MISSING_CLAIM_AT_FILTER'],
    },
    {
      what: 'releaseOwner on instances', collection: 'instances', filter: ownerLeasesFilter('w.1'), hint: RELEASE_OWNER_HINTS.instances,
      sites: ['#instances.find(ownerLeasesFilter(owner)'],
    },
    {
      what: 'the look-up of an unconfirmed orchestration claim', collection: 'instances', filter: leaseLookupFilter({ owner: 'w', token: 't', expiresAt: LATER }),
      hint: RELEASE_OWNER_HINTS.instances, fetched: ['leaseToken'], sites: ['#instancesLocal.findOne(leaseLookupFilter(lease)'],
    },
    ...queries.flatMap((query) => [undefined, after].map((page, i): Shape => ({
      what: `queryInstances ${JSON.stringify(query)}${page ? ' after a page' : ''}`, collection: 'instances', filter: buildQueryFilter(query, page),
      sort: PAGE_SORT, sites: query === queries[0] && i === 0 ? ['#instances.find(pageFilter'] : [],
    }))),
    // Newest first and by orchestrator name: the same indexes read backwards, `name_page` for a name (several: merged).
    ...[{}, { runtimeStatus: ['Failed' as const] }, { name: ['Orders'] }, { name: ['Orders', 'Billing'] }, { name: ['Orders'], createdTimeTo: LATER }]
      .flatMap((query) => (['asc', 'desc'] as const).flatMap((order) => [undefined, after].map((page): Shape => ({
        what: `queryInstances ${JSON.stringify(query)} ${order}${page ? ' after a page' : ''}`, collection: 'instances',
        filter: buildQueryFilter(query, page, order), sort: pageSortOf(order), sites: [],
      })))),
    {
      what: 'queryInstances by name and status', collection: 'instances', filter: buildQueryFilter({ name: ['Orders'], runtimeStatus: ['Failed'] }, after, 'desc'),
      sort: PAGE_SORT_DESC, fetched: ['runtimeStatus'], sites: [],
    },
    // By tags: pinned to `tag_page`, bounded by the lead pair's keys (the first of `$all`), the other pairs and filters
    // checked on each document; both orders, after a page or not.
    ...([{ tags: { tenant: 'acme' } }, { tags: { tenant: 'acme', region: 'eu' } }, { tags: { tenant: 'acme' }, name: ['Orders'], runtimeStatus: ['Failed'] },
      { tags: { tenant: 'acme' }, createdTimeFrom: NOW, createdTimeTo: LATER }] satisfies InstanceQuery[] as InstanceQuery[])
      .flatMap((query, q) => (['asc', 'desc'] as const).flatMap((order) => [undefined, after].map((page, i): Shape => ({
        what: `queryInstances ${JSON.stringify(query)} ${order}${page ? ' after a page' : ''}`, collection: 'instances',
        filter: buildQueryFilter(query, page, order, ['tenant', 'acme']), sort: pageSortOf(order), hint: TAG_PAGE_HINT,
        fetched: ['name', 'runtimeStatus'], sites: q === 0 && order === 'asc' && i === 0 ? ['#instances.find(pageFilter'] : [],
      })))),
    {
      what: 'the count of a tag pair (which pair bounds a tag scan)', collection: 'instances', filter: tagCountFilter(['tenant', 'acme']), hint: TAG_PAGE_HINT,
      sites: ['#instances.countDocuments(tagCountFilter(pair)'],
    },
    {
      what: 'the tagKeys fill-in at connect', collection: 'instances', filter: MISSING_TAG_KEYS_FILTER, hint: TAG_PAGE_HINT,
      sites: ['#instances.find(MISSING_TAG_KEYS_FILTER'],
    },
    ...([{ createdTimeFrom: NOW, tags: { tenant: 'acme' } }, { createdTimeFrom: NOW, createdTimeTo: LATER, name: ['Orders'], tags: { region: 'eu', tenant: 'acme' } }] satisfies PurgeFilter[] as PurgeFilter[])
      .map((request, i): Shape => ({
        what: `purgeInstances scan by tags ${JSON.stringify(request)}`, collection: 'instances', filter: purgeScanFilter(request, ['tenant', 'acme']),
        hint: TAG_PAGE_HINT, fetched: ['runtimeStatus', 'name'], sites: i === 0 ? ['#instances.find(mongoFilter'] : [],
      })),
    {
      what: 'the name fill-in at connect', collection: 'instances', filter: MISSING_NAME_FILTER, hint: MISSING_NAME_HINT,
      sites: ['#instances.find(MISSING_NAME_FILTER'],
    },
    {
      what: 'purgeInstances scan by name', collection: 'instances', filter: purgeScanFilter({ createdTimeFrom: NOW, name: ['Orders'] }),
      hint: NAME_STATUS_PAGE_HINT, sites: ['#instances.find(mongoFilter'],
    },
    {
      what: 'queryInstances with an instanceIdPrefix', collection: 'instances', filter: buildQueryFilter({ instanceIdPrefix: 'job-' }), sort: PAGE_SORT,
      sortInMemory: 'no index both bounds an id prefix and keeps the page order: a range of _id, its matches sorted in memory (README)', sites: [],
    },
    {
      what: 'the newest createdTime (bound of a first page)', collection: 'instances', filter: NEWEST_CREATED.filter, sort: NEWEST_CREATED.sort,
      hint: NEWEST_CREATED.hint, sites: ['#instances.findOne(NEWEST_CREATED.filter'],
    },
    ...purges.map((request, i): Shape => ({
      what: `purgeInstances scan ${JSON.stringify(request)}`, collection: 'instances', filter: purgeScanFilter(request), sites: i === 0 ? ['#instances.find(mongoFilter'] : [],
    })),
    ...[undefined, { endedMs: NOW.getTime(), instanceId: 'b' }, { endedMs: NOW.getTime(), instanceId: '' }].map((after, i): Shape => {
      const { filter, options } = endedListingQuery({ runtimeStatus: 'Completed', endedTo: LATER, limit: 100, ...(after ? { after } : {}) });
      return {
        what: `listEnded${after ? ` after ${JSON.stringify(after)}` : ''}`, collection: 'instances', filter, sort: options.sort, hint: options.hint,
        sites: i === 0 ? ['#instances.find(filter'] : [],
      };
    }),
    {
      what: 'the end-order fill-in at connect', collection: 'instances', filter: MISSING_END_ORDER_FILTER, hint: ENDED_HINT,
      sites: ['#instances.find(MISSING_END_ORDER_FILTER'],
    },
    {
      what: 'the re-read of a status resync', collection: 'instances', filter: changedSinceFilter(NOW), hint: RESYNC_HINT,
      sites: ['#instances.find(changedSinceFilter(from)'],
    },
    // ---- history
    {
      what: 'getHistory, getInstanceHistory', collection: 'history', filter: history.filter, sort: history.options.sort,
      sites: ['#history.find(filter', '#history.find(filter'],
    },
    { what: 'the sweeper reads a chunk of an old generation', collection: 'history', filter: chunk.filter, hint: chunk.options.hint, sites: ['#history.find(chunk.filter'] },
    byKey('history', 'the sweeper deletes the chunk by _id', { _id: { $in: [new ObjectId()] } }, ['#history.deleteMany({_id:{$in:ids}}']),
    // ---- messages
    {
      what: 'a claim\u2019s messages visible at once', collection: 'messages', filter: visible.atOnce.filter, sort: visible.atOnce.options.sort,
      hint: visible.atOnce.options.hint, sites: ['messages.find(query.atOnce.filter'],
    },
    ...dueSeqs.map((page, i): Shape => ({
      what: `a claim\u2019s due timers, page ${i}`, collection: 'messages', filter: page.filter, sort: page.options.sort, hint: page.options.hint,
      sortInMemory: 'a top-k sort of one page of seqs read from index keys alone (a range of due comes before seq in the index)',
      sites: i === 0 ? ['messages.find(page.filter'] : [],
    })),
    {
      what: 'the documents of those due timers', collection: 'messages', filter: visible.dueDocs([3, 5]).filter, sort: visible.dueDocs([3, 5]).options.sort,
      hint: visible.dueDocs([3, 5]).options.hint, sites: ['messages.find(docs.filter'],
    },
    { what: 'the queue head: earliest due', collection: 'messages', filter: heads.due.filter, sort: heads.due.sort, hint: heads.due.hint, sites: ['#messages.findOne(heads.due.filter'] },
    {
      what: 'the queue head: earliest ready', collection: 'messages', filter: heads.readyAt.filter, sort: heads.readyAt.sort, hint: heads.readyAt.hint,
      sites: ['#messages.findOne(heads.readyAt.filter'],
    },
    {
      what: 'a commit deletes the messages its step consumed', collection: 'messages', filter: consumedMessagesFilter(KEY, ['m1', 'm2']),
      sites: ['#messages.deleteMany(consumedMessagesFilter(w.instanceKey,w.messageIds)'],
    },
    byKey('messages', 'a restart or replace deletes the instance\u2019s messages', { instanceId: KEY }, ['#messages.deleteMany({instanceId:w.instanceKey}']),
    byKey('messages', 'a purge deletes its instances\u2019 messages', { instanceId: { $in: [KEY] } }, ['#messages.deleteMany({instanceId:{$in:keys}}']),
    // ---- activityTasks
    byKey('activityTasks', 'abandon, renew and the commit\u2019s check of an activity lease', { _id: 'task-1', leaseToken: 't' }, [
      '#tasks.updateOne({_id:taskId,leaseToken}', '#tasks.updateOne({_id:taskId,leaseToken}', '#tasks.findOne({_id:lease.taskId,leaseToken:lease.token}',
    ]),
    byKey('activityTasks', 'releaseOwner frees each task lease it found, by key and token', { _id: 'task-1', leaseToken: 't' }, [
      '#tasks.bulkWrite(tasks.map((doc)=>({updateOne:{filter:{_id:doc._id,leaseToken:doc.leaseToken},update:{$set:FREE_LEASE}}}))',
    ]),
    byKey('activityTasks', 'a commit deletes the tasks its step completed', { _id: { $in: ['task-1'] } }, ['#tasks.deleteMany({_id:{$in:[...w.taskIds]}}']),
    byKey('activityTasks', 'a restart or replace deletes the instance\u2019s tasks', { instanceId: KEY }, ['#tasks.deleteMany({instanceId:w.instanceKey}']),
    byKey('activityTasks', 'a purge deletes its instances\u2019 tasks', { instanceId: { $in: [KEY] } }, ['#tasks.deleteMany({instanceId:{$in:keys}}']),
    {
      what: 'the activity claim\u2019s probe of expired leases', collection: 'activityTasks', filter: timedActivityClaimProbeFilter(NOW), sort: CLAIM_ACTIVITY_SORT,
      hint: CLAIM_ACTIVITY_HINT, sites: ['#tasks.findOne(timedActivityClaimProbeFilter(now)'],
    },
    ...activityClaimTries(NOW, LATER).map((attempt, i): Shape => ({
      what: `claimActivity, try ${i} (${attempt.band})`, collection: 'activityTasks', filter: attempt.filter, sort: CLAIM_ACTIVITY_SORT,
      hint: CLAIM_ACTIVITY_HINT, sites: i === 0 ? ['#tasks.findOneAndUpdate(filter'] : [],
    })),
    { what: 'nextWakeTime on tasks', collection: 'activityTasks', filter: TASK_WAKE_FILTER, sort: TASK_WAKE_SORT, hint: TASK_WAKE_HINT, sites: ['#tasks.findOne(TASK_WAKE_FILTER'] },
    {
      what: 'releaseOwner on tasks', collection: 'activityTasks', filter: ownerLeasesFilter('w.1'), hint: RELEASE_OWNER_HINTS.activityTasks,
      sites: ['#tasks.find(ownerLeasesFilter(owner)'],
    },
    {
      what: 'the look-up of an unconfirmed activity claim', collection: 'activityTasks', filter: leaseLookupFilter({ owner: 'w', token: 't', expiresAt: LATER }),
      hint: RELEASE_OWNER_HINTS.activityTasks, fetched: ['leaseToken'], sites: ['#tasksLocal.findOne(leaseLookupFilter(lease)'],
    },
    // ---- sweeps
    {
      what: 'the sweeper takes the oldest sweep no process holds', collection: 'sweeps', filter: claim.filter, sort: claim.options.sort,
      fetched: ['leaseExpiresAt'], sites: ['#sweeps.findOneAndUpdate(claim.filter'],
    },
    byKey('sweeps', 'the sweeper renews its lease after a chunk', sweepRenewal({ _id: new ObjectId() }, NOW, 't').filter, ['#sweeps.updateOne(renewal.filter'], ['leaseToken']),
    byKey('sweeps', 'the sweeper deletes a finished sweep', { _id: new ObjectId() }, ['#sweeps.deleteOne({_id:sweep._id}']),
    {
      what: 'the sweep whose lease lapses first, once none is left to take', collection: 'sweeps', filter: held.filter, sort: held.sort,
      unindexed: 'it runs only after the claim found no sweep to take, when every sweep left is held, one per process that holds one: ' +
        'an index on the lease expiry would cost every sweep written and renewed for a scan of a handful of documents',
      sites: ['#sweeps.findOne(held.filter'],
    },
    // ---- raise-key records
    byKey('raiseKeys', 'a keyed raise reads the records of its instances, and a purge deletes those of the instances it deletes', { _id: { $in: [KEY, 'order-2'] } }, [
      '#raiseKeys.find({_id:{$in:ids.map(instanceKey)}}', '#raiseKeys.deleteMany({_id:{$in:keys}}',
    ]),
    byKey('raiseKeys', 'a keyed raise writes the record of its instance', { _id: KEY }, ['#raiseKeys.replaceOne({_id:instanceKey(instanceId)}']),
    // ---- purges
    byKey('purges', 'a purge stamps the records it just inserted with the server\u2019s time (STAMP_PURGED_AT)', { _id: { $in: [new ObjectId()] } }, [
      '#purges.updateMany({_id:{$in:records.map((record)=>record._id)}}',
    ]),
    {
      what: 'the purges a changes$ resync reports', collection: 'purges', filter: purgedSinceFilter(NOW), hint: PURGES_HINT,
      sites: ['#purges.find(purgedSinceFilter(from)'],
    },
  ];
}

/** The indexes of a collection: those the store declares, and the built-in one on `_id`. */
function indexesOf(collection: keyof CollectionNames): { readonly name: string; readonly key: Key }[] {
  return [{ name: '_id_', key: BY_ID }, ...INDEXES[collection].map((index) => ({ name: String(index.name), key: index.key as Key }))];
}

/** How `key` serves `shape`, or why it does not. */
function served(shape: Shape, key: Key): { readonly scan: IndexScan } | { readonly why: string } {
  let scan: IndexScan;
  try {
    scan = indexScan(key, shape.filter, shape.sort ?? {}, shape.fetched ?? []);
  } catch (error) {
    return { why: (error as Error).message };
  }
  if (shape.sort && Object.keys(shape.sort).length > 0 && !scan.sortByMerge && shape.sortInMemory === undefined) {
    return { why: `the sort ${JSON.stringify(shape.sort)} is not the index order after its equalities` };
  }
  return { scan };
}

/** The index that serves `shape` (its hint's, when it names one), or a description of why none does. */
function servingIndex(shape: Shape): { readonly name: string } | { readonly why: string } {
  const candidates = indexesOf(shape.collection);
  if (shape.hint) {
    const hinted = candidates.find((index) => JSON.stringify(index.key) === JSON.stringify(shape.hint));
    if (!hinted) return { why: `its hint ${JSON.stringify(shape.hint)} names no index of INDEXES.${shape.collection}` };
    const result = served(shape, hinted.key);
    return 'scan' in result ? { name: hinted.name } : { why: `${hinted.name}: ${result.why}` };
  }
  const reasons: string[] = [];
  for (const index of candidates) {
    const result = served(shape, index.key);
    if ('scan' in result) return { name: index.name };
    reasons.push(`${index.name}: ${result.why}`);
  }
  return { why: reasons.join('; ') };
}

/**
 * The calls `source` makes on the store's collections (`this.#instances.find(...)`, and `messages.find(...)` on the
 * local alias of `this.#messages`), each as `<receiver>.<method>(<first argument>` without whitespace.
 */
function collectionCalls(source: string): string[] {
  return collectionCallArguments(source).map((call) => call.site);
}

/** {@link collectionCalls}, each with the text of all its arguments (`args`, without whitespace). */
function collectionCallArguments(source: string): { readonly site: string; readonly args: string }[] {
  const receivers = 'this\\.#(?:instances|instancesLocal|history|messages|tasks|tasksLocal|sweeps|purges|raiseKeys)|\\bmessages';
  const methods = 'find|findOne|findOneAndUpdate|findOneAndDelete|findOneAndReplace|updateOne|updateMany|deleteOne|deleteMany|replaceOne|' +
    'countDocuments|estimatedDocumentCount|distinct|aggregate|bulkWrite';
  const call = new RegExp(`(${receivers})\\s*\\.\\s*(${methods})\\s*(?:<[^(]*>)?\\s*\\(`, 'g');
  const calls: { site: string; args: string }[] = [];
  for (let match = call.exec(source); match; match = call.exec(source)) {
    calls.push({
      site: `${match[1]!.replace('this.', '')}.${match[2]!}(${callArguments(source, call.lastIndex, 'first').replace(/\s+/g, '')}`,
      args: callArguments(source, call.lastIndex, 'all').replace(/\s+/g, ''),
    });
  }
  return calls;
}

/**
 * The `hint` and `sort` a call's arguments (`args`, from {@link collectionCallArguments}) name: the expression after
 * `hint:` or `sort:`, `'{'` for an object written inline.
 */
function namedOptions(args: string): { readonly hint?: string; readonly sort?: string } {
  const named = (option: string) => new RegExp(`\\b${option}:(\\{|[\\w$.]+)`).exec(args)?.[1];
  const hint = named('hint');
  const sort = named('sort');
  return { ...(hint === undefined ? {} : { hint }), ...(sort === undefined ? {} : { sort }) };
}

/** The value of a constant of `queries.ts` named by a path (`RELEASE_OWNER_HINTS.activityTasks`), or `undefined`. */
function queriesConstant(path: string): unknown {
  return path.split('.').reduce<unknown>((value, name) => (value as Record<string, unknown> | undefined)?.[name], queries);
}

/**
 * The text of the call's arguments from `from` (where its first argument starts): `'all'` of them, up to its closing
 * parenthesis, or its `'first'`, up to the comma or parenthesis that ends it at its own depth. Quoted text is skipped
 * whole; a quote left open is an error, not a scan from the start again.
 */
function callArguments(source: string, from: number, upTo: 'all' | 'first'): string {
  let depth = 0;
  for (let i = from; i < source.length; i++) {
    const ch = source[i]!;
    if (ch === '\'' || ch === '"' || ch === '`') {
      const close = source.indexOf(ch, i + 1);
      if (close < 0) break;
      i = close;
      continue;
    }
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) {
      if (depth === 0) return source.slice(from, i);
      depth--;
    } else if (upTo === 'first' && ch === ',' && depth === 0) return source.slice(from, i);
  }
  throw new Error(`unterminated call at ${from}`);
}

function counts(items: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const item of items) map.set(item, (map.get(item) ?? 0) + 1);
  return map;
}

describe('index coverage', () => {
  it('every query shape the store sends is served by an index it declares, equalities first, then the sort, then ranges', () => {
    const unserved = shapes().filter((shape) => shape.unindexed === undefined).flatMap((shape) => {
      const index = servingIndex(shape);
      return 'name' in index ? [] : [`${shape.collection}: ${shape.what} ${JSON.stringify(shape.filter)} (${index.why})`];
    });
    expect(unserved).toEqual([]);
  });

  it('a shape left without an index is one no declared index serves, and says why', () => {
    for (const shape of shapes().filter((s) => s.unindexed !== undefined)) {
      expect(shape.unindexed!.length, shape.what).toBeGreaterThan(40);
      expect(servingIndex(shape), shape.what).toHaveProperty('why');
    }
  });

  it('every call the store makes on a collection is one of those shapes (a new query needs a shape here and an index)', () => {
    const source = readFileSync(new URL('../src/mongo-store.ts', import.meta.url), 'utf8');
    const calls = collectionCalls(source);
    expect(calls.length).toBeGreaterThan(50);
    const sent = counts(calls);
    const known = counts(shapes().flatMap((shape) => shape.sites));
    const unknown = [...sent].filter(([site, n]) => (known.get(site) ?? 0) < n).map(([site, n]) => `${site} (${n} in the source, ${known.get(site) ?? 0} here)`);
    const gone = [...known].filter(([site, n]) => (sent.get(site) ?? 0) < n).map(([site, n]) => `${site} (${n} here, ${sent.get(site) ?? 0} in the source)`);
    expect({ unknown, gone }).toEqual({ unknown: [], gone: [] });
  });

  it('every hint and sort a call sends is the one its shape is checked with (a constant of queries.ts, or a builder\u2019s)', () => {
    const source = readFileSync(new URL('../src/mongo-store.ts', import.meta.url), 'utf8');
    const bySite = new Map<string, Shape[]>();
    for (const shape of shapes()) for (const site of shape.sites) bySite.set(site, [...(bySite.get(site) ?? []), shape]);
    const wrong: string[] = [];
    let checked = 0;
    for (const { site, args } of collectionCallArguments(source)) {
      for (const [option, expression] of Object.entries(namedOptions(args)) as ['hint' | 'sort', string][]) {
        if (expression === '{') {
          wrong.push(`${site}: a ${option} written inline (name it in queries.ts, so that its shape here is checked)`);
          continue;
        }
        // A builder's (`heads.due.hint`, `held.sort`): the shape takes it from the same builder.
        if (!/^[A-Z]/.test(expression)) continue;
        const value = queriesConstant(expression);
        if (value === undefined) wrong.push(`${site}: its ${option} ${expression} is no constant of queries.ts`);
        else if (!(bySite.get(site) ?? []).some((shape) => JSON.stringify(shape[option]) === JSON.stringify(value))) {
          wrong.push(`${site}: its ${option} ${expression} ${JSON.stringify(value)} is not the one its shape is checked with`);
        }
        checked++;
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(15);
  });

  it('the README\u2019s index table lists every declared index, by collection, name and key, and no other', () => {
    // Operators who connect with createIndexes: false create the indexes from that table.
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('| collection | index | used by |')).split('\n\n')[0]!.split('\n').slice(2);
    const listed = table.flatMap((row) => {
      const match = /^\| (\w+) \| `(\w+)` `\{ ([\w, ]+) \}`/.exec(row);
      return match ? [`${match[1]}.${match[2]} ${match[3]}`] : [];
    });
    const declared = (Object.keys(INDEXES) as (keyof CollectionNames)[]).flatMap((collection) =>
      INDEXES[collection].map((index) => `${collection}.${String(index.name)} ${Object.keys(index.key).join(', ')}`));
    expect(listed.sort()).toEqual(declared.sort());
  });

  it('a purge by name finds its candidates on the keys of one index alone: no document read, only the keys of its names, statuses and times', () => {
    // The purge scan projects `_id` alone: an index holding every field of its filter and `_id` answers it without
    // reading any candidate's document (its state, input and output may be megabytes).
    const requests: PurgeFilter[] = [
      { createdTimeFrom: NOW, name: ['Orders'] },
      { createdTimeFrom: NOW, createdTimeTo: LATER, name: ['Orders', 'Billing'], runtimeStatus: ['Completed', 'Failed'] },
    ];
    for (const request of requests) {
      const filter = purgeScanFilter(request);
      const keysAlone = indexesOf('instances').flatMap((index) => {
        if (!('_id' in index.key)) return [];
        try {
          const scan = indexScan(index.key, filter);
          return scan.fetchedFor.length === 0 && scan.pointPrefix >= 2 ? [index.name] : [];
        } catch {
          return [];
        }
      });
      expect(keysAlone, JSON.stringify(request)).toEqual(['name_status_page']);
    }
  });

  it('refuses a query no index serves, a sort against the index order, and a hint to an index the store does not declare', () => {
    const shape = (s: Partial<Shape>): Shape => ({ what: 'probe', collection: 'activityTasks', filter: {}, sites: [], ...s });
    expect(servingIndex(shape({ filter: { name: 'Act' } }))).toHaveProperty('why');
    expect(servingIndex(shape({ filter: { instanceId: KEY }, sort: { readyAt: 1 } }))).toHaveProperty('why');
    expect(servingIndex(shape({ filter: ownerLeasesFilter('w'), hint: { leaseOwner: 1 } }))).toMatchObject({ why: expect.stringContaining('names no index') });
    // The tasks' releaseOwner before its own index: pinned to claim_at, whose key lacks the owner.
    expect(servingIndex(shape({ filter: ownerLeasesFilter('w'), hint: CLAIM_ACTIVITY_HINT }))).toHaveProperty('why');
    expect(servingIndex(shape({ filter: { leaseExpiresAt: { $gt: EPOCH } }, sort: { leaseExpiresAt: -1, readyAt: -1, order: -1 } }))).toEqual({ name: 'claim_at' });
  });

  it('reads the calls of a source, whatever their layout', () => {
    expect(collectionCalls('await this.#instances\n  .find<{ a: 1 }>(f(a, [b, c]), { x })\nconst m = messages.findOne({ instanceId: key, s: \'a,b)\' })'))
      .toEqual(['#instances.find(f(a,[b,c])', 'messages.findOne({instanceId:key,s:\'a,b)\'}']);
    const [claim] = collectionCallArguments('await this.#tasks.findOne(TASK_WAKE_FILTER, {\n  sort: TASK_WAKE_SORT, hint: RELEASE_OWNER_HINTS.activityTasks,\n  ...readBound() })');
    expect(namedOptions(claim!.args)).toEqual({ sort: 'TASK_WAKE_SORT', hint: 'RELEASE_OWNER_HINTS.activityTasks' });
    expect(queriesConstant('RELEASE_OWNER_HINTS.activityTasks')).toEqual({ leaseOwner: 1, leaseExpiresAt: 1 });
    expect(namedOptions('f,{hint:{a:1},sort:held.sort}')).toEqual({ hint: '{', sort: 'held.sort' });
  });

  it('fails on a call whose quote is never closed, rather than scanning the source again from its start for ever', () => {
    expect(() => collectionCalls('await this.#tasks.find(\'open')).toThrow('unterminated call');
    expect(() => collectionCalls('await this.#tasks.find({ s: `a')).toThrow('unterminated call');
  });
});
