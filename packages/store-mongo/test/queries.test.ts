import { compareEndedKeys, endedKeyOf, matchesEndedQuery, nextPageToken, planInstancePage, type EndedKey, type EndedQuery, type InstanceState } from '@durable-rx/runtime/store-kit';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  activityClaimTries, atOnceActivityClaimFilter, atOnceClaimFilter, buildQueryFilter, instanceProjection, queryProjection, changedSinceFilter, CLAIM_ACTIVITY_HINT, CLAIM_ACTIVITY_SORT, CLAIM_ORCHESTRATION_HINT,
  CLAIM_ORCHESTRATION_SORT, CLAIMED_MESSAGES_SORT, claimBound, CONSUMED_MESSAGES_INDEX, consumedMessagesFilter, historyQuery, INSTANCE_WAKE_FILTER,
  MISSING_CLAIM_AT_FILTER, NEWEST_CREATED, nextPageKey, orchestrationClaimTries, PAGE_SORT, ownerLeasesFilter, PURGE_SCAN_PROJECTION, purgeScanFilter, QUEUE_HEAD_HINTS,
  leaseLookupFilter, RELEASE_OWNER_HINTS, RESYNC_HINT,
  PURGES_HINT, purgedSinceFilter, QUERY_PAGE_BYTES, readPageWithinBytes, STORE_KEY, storeKeyed, SWEEP_HINT, TASK_WAKE_FILTER, TASK_WAKE_HINT, TASK_WAKE_SORT, timedActivityClaimFilter,
  timedActivityClaimProbeFilter, timedClaimFilter, timedClaimProbeFilter, TIMED_ACTIVITY_CLAIM_PROBE_PROJECTION, TIMED_CLAIM_PROBE_PROJECTION, UNCLAIMED_MESSAGES_READ, UNCLAIMED_READ_MAX_MS, UNCLAIMED_SCAN_LIMIT,
  MESSAGES_BY_SEQ_HINT, VISIBLE_MESSAGES_HINT, visibleMessagesQuery, DUE_SEQS_PAGE, ENDED_HINT, ENDED_SORT, endedListingQuery, MISSING_END_ORDER_FILTER,
} from '../src/queries.js';
import { countedIterable } from './support/counted-iterable.js';
import { inScan, indexScan, isCovered } from './support/index-scan.js';
import { escapeRegexLiteral } from '../src/regex-literal.js';
import { codeUnitOrderKey, instanceKeyPrefixPatterns } from '../src/instance-key.js';
import { claimAtOf, EPOCH, FREE_LEASE, NEVER } from '../src/documents.js';

const instanceIdPrefixPattern = (prefix: string) => instanceKeyPrefixPatterns(prefix).plain ?? '(?!)';
import {
  collectionNames, collectionsListingFilter, indexConflictProblem, INDEXES, indexesListedAtConnect, missingCollections, missingIndexes, missingIndexesProblem, OBSOLETE_INDEXES,
  obsoleteIndexesPresent, PURGE_RECORD_TTL_S, RETIRED_INDEXES, retiredIndexesNotice, retiredIndexesPresent, unfitIndexes, unfitIndexesProblem,
} from '../src/indexes.js';
import { MongoServerError, ObjectId, type Document } from 'mongodb';

const T0 = new Date('2026-01-01T00:00:00.000Z');

describe('queryProjection', () => {
  it('reads the input only when the caller shows it', () => {
    expect(queryProjection(false)).toEqual({ state: 1, createdTime: 1 });
    expect(queryProjection(undefined)).toEqual({ state: 1, input: 1, createdTime: 1 });
    expect(queryProjection(true)).toEqual({ state: 1, input: 1, createdTime: 1 });
  });
});

describe('instanceProjection', () => {
  it('reads one instance\'s input only when the caller shows it (getInstance, getInstanceHistory)', () => {
    expect(instanceProjection(false)).toEqual({ state: 1 });
    expect(instanceProjection(undefined)).toEqual({ state: 1, input: 1 });
    expect(instanceProjection(true)).toEqual({ state: 1, input: 1 });
  });
});

describe('literal instance id prefixes', () => {
  const prefixes = [
    'a.*', 'job-', '^start', 'end$', 'x|y', 'q?', 'p+', '(g)', '[c]', '{1,2}', 'back\\slash', 'dot.', 'a.b.c', '$where', '东京/', 'tab\tid',
    'nul\u0000id', 'del\u007f', '🚀.', '\\Qquoted\\E', '.*',
  ];
  const candidates = [
    'a.*b', 'aXXb', 'a', 'job-1', 'jobs', '^start-1', 'start', 'end$', 'end', 'x|y', 'x', 'y', 'q?', 'q', 'p+', 'pp', '(g)', 'g',
    '[c]', 'c', '{1,2}', '1', 'back\\slash', 'backslash', 'dot.x', 'dotx', 'a.b.c.d', 'aXbXc', '$where', 'where', '东京/1', 'tab\tid',
    'nul\u0000id', 'del\u007f', '🚀.x', '🚀x', '\\Qquoted\\E', 'Qquoted', '.*', '', 'anything',
  ];

  it('match exactly the ids that start with the prefix, character for character', () => {
    for (const prefix of prefixes) {
      const pattern = new RegExp(instanceIdPrefixPattern(prefix));
      for (const id of candidates) expect(pattern.test(id), `${JSON.stringify(prefix)} vs ${JSON.stringify(id)}`).toBe(id.startsWith(prefix));
    }
  });

  it('escape every regex metacharacter and never emit a NUL', () => {
    expect(escapeRegexLiteral('a.*b')).toBe('a\\.\\*b');
    expect(escapeRegexLiteral('\\^$.|?*+()[]{}')).toBe('\\\\\\^\\$\\.\\|\\?\\*\\+\\(\\)\\[\\]\\{\\}');
    expect(escapeRegexLiteral('nul\u0000')).toBe('nul\\x00');
    expect(escapeRegexLiteral('job-1_ok')).toBe('job-1_ok');
    for (const prefix of prefixes) expect(instanceIdPrefixPattern(prefix)).not.toContain('\u0000');
  });

  it('are anchored at the start so MongoDB scans a range of the _id index', () => {
    expect(instanceIdPrefixPattern('job-')).toBe('^job-');
  });
});

describe('query filters', () => {
  it('is the store-key rule alone for an empty query and for an empty prefix or status list', () => {
    expect(buildQueryFilter({})).toEqual(STORE_KEY);
    expect(buildQueryFilter({ instanceIdPrefix: '', runtimeStatus: [] })).toEqual(STORE_KEY);
  });

  it('combines status, created-time range (inclusive) and a literal prefix', () => {
    expect(buildQueryFilter({
      runtimeStatus: ['Completed', 'Failed'], createdTimeFrom: T0, createdTimeTo: new Date(T0.getTime() + 1000), instanceIdPrefix: 'a.*',
    })).toEqual({
      $and: [
        STORE_KEY,
        { runtimeStatus: { $in: ['Completed', 'Failed'] } },
        { createdTime: { $gte: T0, $lte: new Date(T0.getTime() + 1000) } },
        { $or: [{ _id: { $regex: '^a\\.\\*' } }, { _id: { $regex: '^\uFFFF0061002e002a' } }] },
      ],
    });
    expect(buildQueryFilter({ createdTimeTo: T0 })).toEqual({ $and: [STORE_KEY, { createdTime: { $lte: T0 } }] });
  });

  it('continues strictly after the last instance of the previous page (keyset paging on createdTime, instanceId)', async () => {
    const token = await nextPageToken({ after: undefined }, { createdTime: T0.getTime(), instanceId: 'p-07' }, () => undefined);
    const { after } = planInstancePage({ pageSize: 10, continuationToken: token });
    expect(buildQueryFilter({ pageSize: 10 }, after)).toEqual({
      $and: [
        STORE_KEY,
        { createdTime: { $gte: T0 } }, // bounds the index scan at the cursor
        { $or: [{ createdTime: { $gt: T0 } }, { createdTime: T0, _id: { $gt: 'p-07' } }] },
      ],
    });
    expect(PAGE_SORT).toEqual({ createdTime: 1, _id: 1 });
  });

  it('bounds a later page by the newest createdTime held when paging began, read backwards on the page index', async () => {
    const bound = new Date(T0.getTime() + 5000);
    const token = await nextPageToken({ after: undefined }, { createdTime: T0.getTime(), instanceId: 'p-07' }, () => bound.getTime());
    const plan = planInstancePage({ pageSize: 10, continuationToken: token });
    expect(buildQueryFilter(plan.query, plan.after)).toEqual({
      $and: [
        STORE_KEY,
        { createdTime: { $lte: bound } }, // the session's bound, as a createdTimeTo
        { createdTime: { $gte: T0 } },
        { $or: [{ createdTime: { $gt: T0 } }, { createdTime: T0, _id: { $gt: 'p-07' } }] },
      ],
    });
    expect(NEWEST_CREATED.sort).toEqual({ createdTime: -1, _id: -1 });
    expect(Object.keys(INDEXES.instances.find((i) => i.name === 'page')?.key ?? {})).toEqual(Object.keys(NEWEST_CREATED.sort));
    // Hinted by the page index's key, which connect requires (`missingIndexes`).
    expect(NEWEST_CREATED.hint).toEqual(INDEXES.instances.find((i) => i.name === 'page')?.key);
    expect(NEWEST_CREATED.filter).toEqual({ createdTime: { $type: 'date' }, ...STORE_KEY });
  });

  it('rejects forged continuation tokens with InvalidArgumentError', () => {
    expect(() => planInstancePage({ continuationToken: 'not-a-token' })).toThrow(expect.objectContaining({ code: 'invalid-argument', status: 400 }));
    expect(() => planInstancePage({ continuationToken: btoa('{"$gt":""}') })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('purges terminal instances only, of the requested statuses', () => {
    expect(purgeScanFilter({ createdTimeFrom: T0 })).toEqual({
      $and: [{ runtimeStatus: { $in: ['Completed', 'Failed', 'Terminated'] } }, { createdTime: { $gte: T0 } }],
    });
    expect(purgeScanFilter({ createdTimeFrom: T0, runtimeStatus: ['Failed', 'Running'] })).toEqual({
      $and: [{ runtimeStatus: { $in: ['Failed'] } }, { createdTime: { $gte: T0 } }],
    });
    // Only non-terminal statuses requested: matches nothing.
    expect(purgeScanFilter({ createdTimeFrom: T0, runtimeStatus: ['Running'] })).toMatchObject({ $and: [{ runtimeStatus: { $in: [] } }, expect.anything()] });
  });
});

describe('claims', () => {
  it('select instances by claimAt alone: EPOCH (a message visible at once, no lease) or a due time up to now', () => {
    expect(atOnceClaimFilter()).toEqual(storeKeyed({ claimAt: EPOCH }));
    expect(atOnceClaimFilter(T0)).toEqual(storeKeyed({ claimAt: EPOCH, readyAt: { $lte: T0 } }));
    expect(timedClaimFilter(T0)).toEqual(storeKeyed({ claimAt: { $gt: EPOCH, $lte: T0 } }));
    expect(CLAIM_ORCHESTRATION_SORT).toEqual({ claimAt: 1, readyAt: 1 });
  });

  it('take whichever became claimable first: a due timer goes before messages sent after it came due', () => {
    const fireAt = new Date(T0.getTime() - 5_000);
    expect(orchestrationClaimTries(undefined, T0)).toEqual([{ band: 'at-once', filter: atOnceClaimFilter() }]);
    expect(orchestrationClaimTries(fireAt, T0)).toEqual([
      { band: 'at-once', filter: atOnceClaimFilter(fireAt) },
      { band: 'timed', filter: timedClaimFilter(T0) },
      { band: 'at-once', filter: atOnceClaimFilter() },
    ]);
  });

  it('select activity tasks by when they became claimable: free ones in scheduling order, or a lease expired by now', () => {
    expect(atOnceActivityClaimFilter()).toEqual(storeKeyed({ leaseExpiresAt: EPOCH }));
    expect(atOnceActivityClaimFilter(T0)).toEqual(storeKeyed({ leaseExpiresAt: EPOCH, readyAt: { $lte: T0 } }));
    expect(timedActivityClaimFilter(T0)).toEqual(storeKeyed({ leaseExpiresAt: { $gt: EPOCH, $lte: T0 } }));
    expect(CLAIM_ACTIVITY_SORT).toEqual({ leaseExpiresAt: 1, readyAt: 1, order: 1 });
    // A task whose lease expired goes after the free tasks scheduled before it expired, not after every free task.
    const expiredAt = new Date(T0.getTime() - 5_000);
    expect(activityClaimTries(undefined, T0)).toEqual([{ band: 'at-once', filter: atOnceActivityClaimFilter() }]);
    expect(activityClaimTries(expiredAt, T0)).toEqual([
      { band: 'at-once', filter: atOnceActivityClaimFilter(expiredAt) },
      { band: 'timed', filter: timedActivityClaimFilter(T0) },
      { band: 'at-once', filter: atOnceActivityClaimFilter() },
    ]);
  });

  it('look up a lease a claim may have written by its owner, expiry and token, on the indexes releaseOwner uses', () => {
    const expiresAt = new Date(T0.getTime() + 30_000);
    const lease = { owner: 'w.1', token: 't-1', expiresAt };
    const filter = leaseLookupFilter(lease);
    const held = { _id: 'i', leaseOwner: 'w.1', leaseToken: 't-1', leaseExpiresAt: expiresAt };
    expect(matches(filter, held)).toBe(true);
    // Taken over since (another token), released (free), another worker's, another program's document: none is it.
    for (const doc of [{ ...held, leaseToken: 't-2' }, { _id: 'i', ...FREE_LEASE }, { ...held, leaseOwner: 'w.2' }, { ...held, _id: new ObjectId() }]) {
      expect(matches(filter, doc), JSON.stringify(doc)).toBe(false);
    }
    // Instances and tasks: one key of lease_owner (owner, expiry).
    expect(indexScan(RELEASE_OWNER_HINTS.instances, filter, {}, ['leaseToken'])).toMatchObject({ pointPrefix: 2 });
    expect(indexScan(RELEASE_OWNER_HINTS.activityTasks, filter, {}, ['leaseToken'])).toMatchObject({ pointPrefix: 2 });
  });

  it('release the leases of one owner, live or expired, visiting only that owner\u2019s leases on instances and tasks', () => {
    // Candidates: leases, live or expired, whose owner starts with the worker id, taken literally (isHeldBy then picks
    // its lives); not another worker's, nor a free lease (released twice, nothing is modified the second time), nor a
    // document of another program.
    const filter = ownerLeasesFilter('tab.1');
    const lease = (leaseOwner: string | null, leaseExpiresAt: Date, _id: unknown = 'i') => ({ _id, leaseOwner, leaseExpiresAt });
    const later = new Date(T0.getTime() + 60_000);
    for (const doc of [lease('tab.1', later), lease('tab.1', new Date(EPOCH.getTime() + 1)), lease('tab.1\n2', later)]) {
      expect(matches(filter, doc), JSON.stringify(doc)).toBe(true);
    }
    for (const doc of [lease('tabX1', later), lease('busy', later), lease('a-tab.1', later), { _id: 'i', ...FREE_LEASE }, lease('tab.1', later, new ObjectId())]) {
      expect(matches(filter, doc), JSON.stringify(doc)).toBe(false);
    }
    for (const collection of ['instances', 'activityTasks'] as const) {
      expect(INDEXES[collection].map((i) => JSON.stringify(i.key))).toContain(JSON.stringify(RELEASE_OWNER_HINTS[collection]));
    }
    // An index led by the owner, so the scan visits the owner ids that start with the worker id, not every leased
    // instance or task of every worker (a fleet's releaseOwner at each start read them all; on tasks, through their
    // claim index led by the expiry, it fetched every leased task, input and all, to read its owner).
    for (const collection of ['instances', 'activityTasks'] as const) {
      expect(indexScan(RELEASE_OWNER_HINTS[collection], ownerLeasesFilter('tab.1\n')), collection).toMatchObject({ prefix: 'tab.1\n', lower: { value: 'tab.1\n', inclusive: true } });
    }
    expect(() => indexScan(CLAIM_ACTIVITY_HINT, ownerLeasesFilter('tab.1'))).toThrow(/leaseOwner is not in the index/);
    // The old instances index led by the expiry is retired: kept by connect for an earlier version's hints, named in a
    // warning, dropped by dropRetiredIndexes once no such process runs.
    expect(RETIRED_INDEXES.instances).toContain('lease_expiry');
    expect(retiredIndexesPresent('instances', ['_id_', 'lease_expiry', 'lease_owner'])).toEqual(['lease_expiry']);
  });

  it('read the visible messages of an instance in two parts, neither visiting a message due later', () => {
    const later = new Date(T0.getTime() + 1);
    const { atOnce, dueSeqs } = visibleMessagesQuery('k', T0, { upToSeq: 7, limit: 100 });
    expect(atOnce.filter).toEqual({ instanceId: 'k', due: EPOCH, seq: { $lte: 7 } });
    expect(dueSeqs().filter).toEqual({ instanceId: 'k', due: { $lte: T0, $ne: EPOCH }, seq: { $lte: 7 } });
    const message = (instanceId: string, when: Date, seq = 1) => ({ _id: 'm', instanceId, due: when, seq, message: '{}' });
    // Together they select what "due by now" selects, each message once: at once, a due timer, one due at the very
    // moment, one due before 1970 (stored as it is); not a timer due later, another instance's, or one past upToSeq.
    const cases: [ReturnType<typeof message>, boolean][] = [
      [message('k', EPOCH), true], [message('k', new Date(T0.getTime() - 5_000)), true], [message('k', T0), true],
      [message('k', new Date(-1_000)), true], [message('k', later), false], [message('k2', EPOCH), false], [message('k', EPOCH, 8), false],
    ];
    for (const [doc, visible] of cases) {
      const hits = [atOnce, dueSeqs()].filter((read) => matches(read.filter, doc)).length;
      expect(hits, JSON.stringify(doc)).toBe(visible ? 1 : 0);
    }
    // The due timers' documents: those seqs of this instance, nothing else.
    const dueDocs = visibleMessagesQuery('k', T0).dueDocs([3, 5]);
    expect(dueDocs.filter).toEqual({ instanceId: 'k', seq: { $in: [3, 5] } });
    // Without upToSeq (an unclaimed write's check, in one transaction's snapshot): no seq bound.
    expect(visibleMessagesQuery('k', T0).atOnce.filter).toEqual({ instanceId: 'k', due: EPOCH });
    expect(visibleMessagesQuery('k', T0, { upToSeq: Number.NaN }).dueSeqs().filter).toEqual({ instanceId: 'k', due: { $lte: T0, $ne: EPOCH } });
  });

  it('serve the reads from indexes: at once in seq order from instance_due_seq, due timers by their keys alone, then by seq', () => {
    const { atOnce, dueSeqs: dueSeqsPage, dueDocs } = visibleMessagesQuery('k', T0, { upToSeq: 7, limit: 100 });
    const dueSeqs = dueSeqsPage();
    const byKeys = dueDocs([3, 5]);
    for (const read of [atOnce, dueSeqs, byKeys]) {
      expect(INDEXES.messages.map((i) => JSON.stringify(i.key))).toContain(JSON.stringify(read.options.hint));
      expect(read.options.sort).toEqual(CLAIMED_MESSAGES_SORT);
      expect(read.options.limit).toBe(100);
    }
    expect(atOnce.options.hint).toEqual(VISIBLE_MESSAGES_HINT);
    expect(dueSeqs.options.hint).toEqual(VISIBLE_MESSAGES_HINT);
    expect(byKeys.options.hint).toEqual(MESSAGES_BY_SEQ_HINT);
    // At once: points on instanceId and due, so the index order is seq order (no in-memory sort, stops at the limit).
    expect(indexScan(VISIBLE_MESSAGES_HINT, atOnce.filter, atOnce.options.sort)).toMatchObject({ pointPrefix: 2, sortFromIndex: true, fetchedFor: [] });
    // Due timers: a range of due, sorted in memory, over timers already due only (the range ends at now), and read
    // from the index alone: the sort holds seq numbers, never message texts (up to 15 MiB each).
    expect(indexScan(VISIBLE_MESSAGES_HINT, dueSeqs.filter, dueSeqs.options.sort)).toMatchObject({ pointPrefix: 1, sortFromIndex: false, fetchedFor: [] });
    expect(isCovered(VISIBLE_MESSAGES_HINT, dueSeqs.filter, dueSeqs.options.projection)).toBe(true);
    // Their documents: points of instance_seq, in its order.
    expect(indexScan(MESSAGES_BY_SEQ_HINT, byKeys.filter, byKeys.options.sort)).toMatchObject({ pointPrefix: 2, sortFromIndex: true });
    // The layout before: one read on instance_seq checking due on each fetched document, so a claim walked every timer
    // still pending that was queued before the visible messages.
    expect(indexScan(MESSAGES_BY_SEQ_HINT, { instanceId: 'k', due: { $lte: T0 } }, { seq: 1 }, ['due']).fetchedFor).toEqual(['due']);
    // A read without a limit pages its due timers' seqs, never all of them in one $in.
    expect(visibleMessagesQuery('k', T0).duePage).toBe(DUE_SEQS_PAGE);
  });

  it('bound an unclaimed write\u2019s check of messages: one batch of at most one message past the scan limit, one page of due timers', () => {
    // A suspend or resume reads the visible messages up to the first command, in the commit's transaction: at most
    // UNCLAIMED_SCAN_LIMIT + 1 of them (the one more tells a longer queue, which refuses the write), each read in one
    // round trip, the due timers' seqs in one top-k page rather than pages of 8 that re-scan every due key.
    const check = visibleMessagesQuery('k', T0, UNCLAIMED_MESSAGES_READ);
    expect(UNCLAIMED_MESSAGES_READ.limit).toBe(UNCLAIMED_SCAN_LIMIT + 1);
    expect(check.atOnce.options).toMatchObject({ limit: UNCLAIMED_SCAN_LIMIT + 1, batchSize: UNCLAIMED_SCAN_LIMIT + 1 });
    expect(check.duePage).toBe(UNCLAIMED_SCAN_LIMIT + 1);
    expect(check.dueSeqs().options.limit).toBe(UNCLAIMED_SCAN_LIMIT + 1);
    expect(check.dueDocs([1, 2]).options.batchSize).toBe(UNCLAIMED_SCAN_LIMIT + 1);
    // Bounded in time well within the client's storeCallTimeoutMs (30 s) and the transaction's lifetime (60 s).
    expect(UNCLAIMED_READ_MAX_MS).toBeLessThan(30_000);
    expect(UNCLAIMED_SCAN_LIMIT).toBeGreaterThanOrEqual(16);
  });

  it('page the due timers\u2019 seqs: each page after the last seq of the one before, within upToSeq, at most a page', () => {
    const claim = visibleMessagesQuery('k', T0, { upToSeq: 7, limit: 100 });
    expect(claim.duePage).toBe(100);
    expect(claim.dueSeqs(3).filter).toEqual({ instanceId: 'k', due: { $lte: T0, $ne: EPOCH }, seq: { $lte: 7, $gt: 3 } });
    expect(claim.dueSeqs(3).options).toMatchObject({ limit: 100, sort: CLAIMED_MESSAGES_SORT, hint: VISIBLE_MESSAGES_HINT });
    const check = visibleMessagesQuery('k', T0);
    expect(check.dueSeqs(3).filter).toEqual({ instanceId: 'k', due: { $lte: T0, $ne: EPOCH }, seq: { $gt: 3 } });
    // A next page holds the due timers after the page before, nothing it already had, nothing past upToSeq.
    const timer = (seq: number) => ({ instanceId: 'k', due: new Date(T0.getTime() - 1), seq });
    expect([1, 3, 4, 7, 8].map((seq) => matches(claim.dueSeqs(3).filter, timer(seq)))).toEqual([false, false, true, true, false]);
    // Still read from the index alone, a range of due with the seq bounds checked on its keys.
    expect(isCovered(VISIBLE_MESSAGES_HINT, claim.dueSeqs(3).filter, claim.dueSeqs(3).options.projection)).toBe(true);
  });

  it('keep instance_due, which earlier versions pin queries to, and name it as retired rather than drop it under them', () => {
    expect(INDEXES.messages.map((i) => i.name)).not.toContain('instance_due');
    expect(Object.values(OBSOLETE_INDEXES).flat()).not.toContain('instance_due');
    expect(RETIRED_INDEXES.messages).toContain('instance_due');
    expect(retiredIndexesPresent('messages', ['_id_', 'instance_seq', 'instance_due', 'instance_due_seq'])).toEqual(['instance_due']);
    expect(retiredIndexesPresent('messages', ['_id_', 'instance_seq', 'instance_due_seq'])).toEqual([]);
    // Its key is a prefix of instance_due_seq, which serves the queue head's earliest-due read in its order.
    expect(indexScan(QUEUE_HEAD_HINTS.due, { instanceId: 'k' }, { due: 1 }).sortFromIndex).toBe(true);
  });

  it('find every index of INDEXES a collection lacks by its key, whatever its name (createIndexes: false)', () => {
    const listed = (kind: keyof typeof INDEXES) => [
      { name: '_id_', key: { _id: 1 } }, ...INDEXES[kind].map((i) => ({ name: i.name, key: i.key, ...(i.unique === true ? { unique: true } : {}) })),
    ];
    for (const kind of Object.keys(INDEXES) as (keyof typeof INDEXES)[]) expect(missingIndexes(kind, listed(kind)), kind).toEqual([]);
    // A layout before instance_due_seq: instance_due (its prefix) is no stand-in, since claims hint the whole key.
    const before = listed('messages').filter((i) => i.name !== 'instance_due_seq').concat({ name: 'instance_due', key: { instanceId: 1, due: 1 } });
    expect(missingIndexes('messages', before).map((i) => i.name)).toEqual(['instance_due_seq']);
    // Same key under another name: there (a hint names the key). Same fields in another order: missing.
    const renamed = listed('messages').map((i) => (i.name === 'instance_due_seq' ? { ...i, name: 'by_due' } : i));
    expect(missingIndexes('messages', renamed)).toEqual([]);
    const reordered = listed('messages').map((i) => (i.name === 'instance_due_seq' ? { ...i, key: { instanceId: 1, seq: 1, due: 1 } } : i));
    expect(missingIndexes('messages', reordered).map((i) => i.name)).toEqual(['instance_due_seq']);
    // A unique index of the store made by hand without unique: missing (it would let two messages share a seq).
    const notUnique = listed('messages').map((i) => (i.name === 'instance_seq' ? { name: i.name, key: i.key } : i));
    expect(missingIndexes('messages', notUnique).map((i) => i.name)).toEqual(['instance_seq']);
    // A collection that does not exist (listIndexes: none): all of them.
    expect(missingIndexes('purges', [])).toEqual(INDEXES.purges);
  });

  it('refuse an index the store hints that is partial, sparse or collated, and a collection with a default collation', () => {
    // As listIndexes returns them: a collection and indexes as connect creates them are fit.
    const listed = (kind: keyof typeof INDEXES): Document[] => [
      { v: 2, name: '_id_', key: { _id: 1 } }, ...INDEXES[kind].map((i) => ({ v: 2, name: i.name, key: i.key, ...(i.unique === true ? { unique: true } : {}) })),
    ];
    for (const kind of Object.keys(INDEXES) as (keyof typeof INDEXES)[]) expect(unfitIndexes(kind, listed(kind)), kind).toEqual([]);
    const replace = (kind: keyof typeof INDEXES, name: string, extra: Document) => listed(kind).map((i) => (i['name'] === name ? { ...i, ...extra } : i));
    // A partial claim index: a claim hinted to it never sees the instances its filter leaves out (SERVER-26413).
    const partial = unfitIndexes('instances', replace('instances', 'claim_at', { partialFilterExpression: { runtimeStatus: 'Running' } }));
    expect(partial).toHaveLength(1);
    expect(partial[0]).toMatchObject({ name: 'claim_at', key: { claimAt: 1, readyAt: 1 } });
    expect(partial[0]!.why[0]).toContain('partialFilterExpression {"runtimeStatus":"Running"}');
    // The same key under another name, sparse; one with a case-insensitive collation.
    const sparse = listed('messages').map((i) => (i['name'] === 'instance_due_seq' ? { ...i, name: 'by_due', sparse: true } : i));
    expect(unfitIndexes('messages', sparse).map((i) => i.name)).toEqual(['by_due']);
    const collated = replace('activityTasks', 'claim_at', { collation: { locale: 'en', strength: 2 } });
    expect(unfitIndexes('activityTasks', collated)[0]!.why[0]).toContain('collation {"locale":"en","strength":2}');
    expect(unfitIndexes('activityTasks', replace('activityTasks', 'claim_at', { collation: { locale: 'simple' } }))).toEqual([]);
    // The collection's default collation shows on its _id_ index: every query and index of it compares by it.
    const defaultCollation = unfitIndexes('history', replace('history', '_id_', { collation: { locale: 'fr' } }));
    expect(defaultCollation.map((i) => i.name)).toEqual(['_id_']);
    expect(defaultCollation[0]!.why[0]).toContain('default collation');
    // Indexes of keys the store does not use are none of its business, whatever their options.
    expect(unfitIndexes('instances', [...listed('instances'), { v: 2, name: 'mine', key: { custom: 1 }, sparse: true }])).toEqual([]);
    // Every reason is named, and the message says what to do.
    expect(unfitIndexes('instances', replace('instances', 'lease_owner', { sparse: true, partialFilterExpression: { leaseOwner: { $exists: true } } }))[0]!.why).toHaveLength(2);
    expect(unfitIndexesProblem([{ collection: 'drx_instances', indexes: [] }])).toBeUndefined();
    const message = unfitIndexesProblem([{ collection: 'drx_instances', indexes: partial }])!;
    expect(message).toContain('drx_instances.claim_at {"claimAt":1,"readyAt":1}');
    expect(message).toContain('dropIndex(');
  });

  it('name each missing index with its collection, key and options, and how to create it; nothing when none is missing', () => {
    expect(missingIndexesProblem([])).toBeUndefined();
    expect(missingIndexesProblem([{ collection: 'drx_messages', indexes: [] }])).toBeUndefined();
    const dueSeq = INDEXES.messages.filter((i) => i.name === 'instance_due_seq');
    const message = missingIndexesProblem([
      { collection: 'drx_messages', indexes: dueSeq }, { collection: 'drx_purges', indexes: INDEXES.purges },
    ])!;
    expect(message).toContain('createIndexes: false');
    expect(message).toContain('drx_messages.instance_due_seq {"instanceId":1,"due":1,"seq":1}');
    expect(message).toContain(`drx_purges.purged_at {"purgedAt":1} {"expireAfterSeconds":${PURGE_RECORD_TTL_S}}`);
    expect(message).toContain('createIndex(');
    expect(message).toContain('ensureIndexes()');
  });

  it('list each collection\u2019s indexes once per connect, every collection in both modes', () => {
    // Every collection: obsolete and retired indexes, missing ones (createIndexes: false), and unfit ones everywhere,
    // sweeps and raiseKeys (no index of the store's own, only their _id_) included.
    expect(indexesListedAtConnect()).toEqual(['instances', 'history', 'messages', 'activityTasks', 'sweeps', 'purges', 'raiseKeys']);
    expect(new Set(indexesListedAtConnect()).size).toBe(indexesListedAtConnect().length);
  });

  it('refuse a raiseKeys or sweeps collection with a default collation (ids differing only in case would be one document)', () => {
    // What connect runs on what listIndexes returns for each listed collection.
    const listed = (kind: keyof typeof INDEXES, idIndex: Document): Document[] => [idIndex, ...INDEXES[kind].map((i) => ({ v: 2, name: i.name, key: i.key }))];
    const caseInsensitive = { v: 2, name: '_id_', key: { _id: 1 }, collation: { locale: 'en', strength: 2 } };
    for (const kind of ['raiseKeys', 'sweeps'] as const) {
      expect(indexesListedAtConnect(), kind).toContain(kind);
      expect(unfitIndexes(kind, listed(kind, caseInsensitive)).map((i) => i.name), kind).toEqual(['_id_']);
      expect(unfitIndexes(kind, listed(kind, { v: 2, name: '_id_', key: { _id: 1 } })), kind).toEqual([]);
    }
    // purges too, whatever the mode: a partial purged_at index would leave purges out of a feed's resync.
    const partialPurges = [{ v: 2, name: '_id_', key: { _id: 1 } }, { v: 2, name: 'purged_at', key: { purgedAt: 1 }, partialFilterExpression: { purgedAt: { $gt: new Date(0) } } }];
    expect(indexesListedAtConnect()).toContain('purges');
    expect(unfitIndexes('purges', partialPurges).map((i) => i.name)).toEqual(['purged_at']);
  });

  it('delete the messages a step consumed visiting only those, however many more are queued for the instance', () => {
    const filter = consumedMessagesFilter('k', ['m1', 'm2']);
    expect(filter).toEqual({ instanceId: 'k', id: { $in: ['m1', 'm2'] } });
    // An index exists whose whole key the filter pins to points: one key per consumed id, nothing else.
    expect(INDEXES.messages.map((i) => JSON.stringify(i.key))).toContain(JSON.stringify(CONSUMED_MESSAGES_INDEX));
    expect(indexScan(CONSUMED_MESSAGES_INDEX, filter)).toMatchObject({ pointPrefix: 2, lower: { value: 'k' }, upper: { value: 'k' } });
    // Every other messages index is led by instanceId alone and lacks `id`: it would visit the whole queue.
    for (const index of INDEXES.messages.filter((i) => JSON.stringify(i.key) !== JSON.stringify(CONSUMED_MESSAGES_INDEX))) {
      expect(() => indexScan(index.key as Record<string, 1>, filter), String(index.name)).toThrow(/id is not in the index/);
    }
  });

  it('take a bounded number of messages: the caller may lower the store bound, never raise it', () => {
    expect(claimBound(undefined, 100)).toBe(100);
    expect(claimBound(10, 100)).toBe(10);
    expect(claimBound(1000, 100)).toBe(100);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => claimBound(bad, 100)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('have an index whose key starts with the sort, so no claim sorts in memory', () => {
    const claim = INDEXES.instances.find((i) => i.name === 'claim_at');
    expect(claim?.key).toEqual(CLAIM_ORCHESTRATION_SORT);
    const task = INDEXES.activityTasks.find((i) => i.name === 'claim_at');
    expect(task?.key).toEqual(CLAIM_ACTIVITY_SORT);
    const page = INDEXES.instances.find((i) => i.name === 'page');
    expect(Object.keys(page?.key ?? {})).toEqual(Object.keys(PAGE_SORT));
  });

  it('drop only indexes of the old layout, never one the current layout creates (ensureIndexes stays idempotent)', () => {
    for (const [collection, names] of [...Object.entries(OBSOLETE_INDEXES), ...Object.entries(RETIRED_INDEXES)]) {
      const current = INDEXES[collection as keyof typeof INDEXES].map((i) => i.name);
      for (const name of names ?? []) expect(current, `${collection}.${name}`).not.toContain(name);
    }
    expect(OBSOLETE_INDEXES.history).toContain('instance_index');
  });

  it('drop at connect only the old unique history index the current layout cannot write beside; retire every other replaced index', () => {
    // A rolling upgrade: an earlier version's processes hint the indexes the current layout replaced, and a hint to a
    // missing index fails the query. So connect drops only what makes the current version's own writes fail.
    expect(OBSOLETE_INDEXES).toEqual({ history: ['instance_index'] });
    for (const kind of ['instances', 'activityTasks'] as const) {
      expect(RETIRED_INDEXES[kind], kind).toEqual(expect.arrayContaining(['claim', 'claim_ready', 'lease_expiry']));
    }
    expect(RETIRED_INDEXES.messages).toEqual(expect.arrayContaining(['due', 'instance_due']));
    // No index is both: one list decides what connect drops.
    const obsolete = Object.entries(OBSOLETE_INDEXES).flatMap(([kind, names]) => (names ?? []).map((name) => `${kind}.${name}`));
    const retired = Object.entries(RETIRED_INDEXES).flatMap(([kind, names]) => (names ?? []).map((name) => `${kind}.${name}`));
    expect(obsolete.filter((name) => retired.includes(name))).toEqual([]);
  });

  it('name every retired index still present, with how to drop it, and say nothing when there is none', () => {
    expect(retiredIndexesNotice([])).toBeUndefined();
    expect(retiredIndexesNotice([{ collection: 'drx_messages', indexes: [] }])).toBeUndefined();
    const notice = retiredIndexesNotice([
      { collection: 'drx_instances', indexes: ['claim_ready'] }, { collection: 'drx_messages', indexes: ['due', 'instance_due'] },
    ])!;
    expect(notice).toContain('drx_instances.claim_ready, drx_messages.due, drx_messages.instance_due');
    expect(notice).toContain('dropRetiredIndexes()');
    expect(notice).toContain('dropIndex(');
  });

  it('create only missing collections and drop only obsolete indexes still there: nothing on the current layout', () => {
    const names = collectionNames('drx_');
    // A fresh database: all seven, sweeps and raiseKeys included (no index would create them, and a cross-shard
    // transaction cannot). A database of the version before the raise-key records lacks raiseKeys alone.
    expect(missingCollections(names, new Set())).toEqual(Object.values(names));
    expect(missingCollections(names, new Set(['drx_instances', 'drx_history', 'other']))).toEqual(
      ['drx_messages', 'drx_activityTasks', 'drx_sweeps', 'drx_purges', 'drx_raiseKeys'],
    );
    expect(missingCollections(names, new Set(Object.values(names).filter((name) => name !== 'drx_raiseKeys')))).toEqual(['drx_raiseKeys']);
    expect(missingCollections(names, new Set(Object.values(names)))).toEqual([]);
    // connect lists the store's own collections by name, not every collection of the database: at most seven small
    // documents, all in the listCollections reply's first batch, so no getMore (driver 7.8 gives one no signal) can
    // outlast the index deadline however many collections the database holds.
    expect(collectionsListingFilter(names)).toEqual({ name: { $in: Object.values(names) } });
    // The current layout has none of the obsolete indexes: nothing to drop.
    for (const kind of Object.keys(INDEXES) as (keyof typeof INDEXES)[]) {
      expect(obsoleteIndexesPresent(kind, ['_id_', ...INDEXES[kind].map((i) => String(i.name))]), kind).toEqual([]);
    }
    expect(obsoleteIndexesPresent('history', ['_id_', 'instance_index', 'instance_gen_index'])).toEqual(['instance_index']);
    expect(obsoleteIndexesPresent('activityTasks', ['_id_', 'claim_ready', 'lease_expiry', 'claim_at'])).toEqual([]);
    expect(retiredIndexesPresent('activityTasks', ['_id_', 'claim_ready', 'lease_expiry', 'claim_at'])).toEqual(['claim_ready', 'lease_expiry']);
    expect(obsoleteIndexesPresent('sweeps', ['_id_'])).toEqual([]);
  });

  it('explain an index that exists with another definition (createIndexes is idempotent only for identical ones)', () => {
    const conflict = new MongoServerError({
      ok: 0, code: 85, codeName: 'IndexOptionsConflict',
      errmsg: "An equivalent index already exists with the same name but different options. Requested index: { name: \"purged_at\", expireAfterSeconds: 60 }",
    });
    const problem = indexConflictProblem('drx_purges', conflict);
    expect(problem).toContain('collection "drx_purges"');
    expect(problem).toContain('An equivalent index already exists');
    expect(problem).toContain('purged_at {"purgedAt":1}');
    expect(problem).toContain(`db.getCollection("drx_purges").dropIndex('<name>')`);
    expect(indexConflictProblem('instances', new MongoServerError({ ok: 0, code: 86, codeName: 'IndexKeySpecsConflict', errmsg: 'x' })))
      .toContain('claim_at {"claimAt":1,"readyAt":1}');
    // Any other failure is passed on as it is.
    expect(indexConflictProblem('instances', new MongoServerError({ ok: 0, code: 13, codeName: 'Unauthorized', errmsg: 'no' }))).toBeUndefined();
    expect(indexConflictProblem('instances', new Error('boom'))).toBeUndefined();
  });

  it('pin every claim, wake-up, queue-head, sweep and resync query to an index that exists', () => {
    const keys = (collection: keyof typeof INDEXES) => INDEXES[collection].map((i) => JSON.stringify(i.key));
    expect(keys('instances')).toContain(JSON.stringify(CLAIM_ORCHESTRATION_HINT));
    expect(keys('activityTasks')).toContain(JSON.stringify(CLAIM_ACTIVITY_HINT));
    expect(keys('messages')).toContain(JSON.stringify(VISIBLE_MESSAGES_HINT));
    expect(keys('activityTasks')).toContain(JSON.stringify(TASK_WAKE_HINT));
    expect(keys('messages')).toContain(JSON.stringify(QUEUE_HEAD_HINTS.due));
    expect(keys('messages')).toContain(JSON.stringify(QUEUE_HEAD_HINTS.readyAt));
    expect(keys('history')).toContain(JSON.stringify(SWEEP_HINT));
    expect(keys('instances')).toContain(JSON.stringify(RESYNC_HINT));
    expect(keys('purges')).toContain(JSON.stringify(PURGES_HINT));
  });
});

describe('index use of claims and wake-ups (read off the query shapes; explain() checks them on a server)', () => {
  const at = (ms: number) => new Date(T0.getTime() + ms);
  const now = T0;
  const claimIndex = INDEXES.instances.find((i) => JSON.stringify(i.key) === JSON.stringify(CLAIM_ORCHESTRATION_HINT))!.key as Record<string, 1>;
  const claimQueries = [
    ...orchestrationClaimTries(at(-5_000), now).map((t) => ({ what: `claim (${t.band})`, filter: t.filter })),
    { what: 'probe of the timed band', filter: timedClaimProbeFilter(now) },
  ];

  it('every claim is a range on claimAt that ends at now, served in index order', () => {
    for (const { what, filter } of claimQueries) {
      const scan = indexScan(claimIndex, filter, CLAIM_ORCHESTRATION_SORT);
      expect(scan.sortFromIndex, what).toBe(true);
      expect(scan.upper, what).toBeDefined();
      expect(+(scan.upper!.value as Date), what).toBeLessThanOrEqual(+now);
    }
    // nextWakeTime reads the first key of the same index (claimAt below NEVER), and a task's earliest lease expiry.
    expect(indexScan(claimIndex, INSTANCE_WAKE_FILTER, CLAIM_ORCHESTRATION_SORT).sortFromIndex).toBe(true);
    expect(indexScan(TASK_WAKE_HINT, TASK_WAKE_FILTER, TASK_WAKE_SORT).sortFromIndex).toBe(true);
    expect(indexScan(claimIndex, MISSING_CLAIM_AT_FILTER)).toMatchObject({ lower: { value: null }, upper: { value: null } });
  });

  it('visits only claimable instances, however many wait for far-off timers or hold a live lease', () => {
    // 10,000 instances on timers a day away, 50 held by workers, and the claimable ones.
    const docs = [
      ...Array.from({ length: 10_000 }, (_, i) => ({ id: `timer-${i}`, claimAt: claimAtOf(EPOCH, at(86_400_000 + i)), claimable: false })),
      ...Array.from({ length: 50 }, (_, i) => ({ id: `leased-${i}`, claimAt: claimAtOf(at(30_000), EPOCH), claimable: false })),
      ...Array.from({ length: 200 }, (_, i) => ({ id: `idle-${i}`, claimAt: claimAtOf(EPOCH, NEVER), claimable: false })),
      { id: 'due-timer', claimAt: claimAtOf(EPOCH, at(-5_000)), claimable: true },
      { id: 'expired-lease', claimAt: claimAtOf(at(-1), EPOCH), claimable: true },
      { id: 'at-once', claimAt: claimAtOf(EPOCH, EPOCH), claimable: true },
    ];
    const visited = new Set<string>();
    for (const { filter } of claimQueries) {
      const scan = indexScan(claimIndex, filter, CLAIM_ORCHESTRATION_SORT);
      for (const doc of docs) if (inScan(scan, doc.claimAt)) visited.add(doc.id);
    }
    expect([...visited].sort()).toEqual(docs.filter((d) => d.claimable).map((d) => d.id).sort());
    // The wake-up's first key in index order is the earliest claimAt: here one claimable at once.
    const wake = indexScan(claimIndex, INSTANCE_WAKE_FILTER, CLAIM_ORCHESTRATION_SORT);
    const first = docs.filter((d) => inScan(wake, d.claimAt)).sort((a, b) => +a.claimAt - +b.claimAt)[0];
    expect(first?.claimAt).toEqual(EPOCH);
  });

  it('wake-ups start where the claims do, at EPOCH: a key before it, which no claim takes, is never the wake time', () => {
    // The index orders a missing or null key and every other type before any Date, and a Date before 1970 before EPOCH.
    const taskIndex = INDEXES.activityTasks.find((i) => JSON.stringify(i.key) === JSON.stringify(CLAIM_ACTIVITY_HINT))!.key as Record<string, 1>;
    expect(indexScan(claimIndex, INSTANCE_WAKE_FILTER, CLAIM_ORCHESTRATION_SORT)).toMatchObject({ lower: { value: EPOCH, inclusive: true }, sortFromIndex: true });
    expect(indexScan(taskIndex, TASK_WAKE_FILTER, TASK_WAKE_SORT)).toMatchObject({ lower: { value: EPOCH, inclusive: true }, sortFromIndex: true });
    for (const { filter } of [...claimQueries, ...activityClaimTries(at(-5_000), now)]) {
      const lead = Object.values(filter)[0] as Date | { $gt: Date };
      expect(lead instanceof Date ? +lead : +lead.$gt).toBeGreaterThanOrEqual(+EPOCH);
    }
  });

  it('every activity claim is a range on the lease expiry that ends at now, and visits no task whose lease is live', () => {
    const taskIndex = INDEXES.activityTasks.find((i) => JSON.stringify(i.key) === JSON.stringify(CLAIM_ACTIVITY_HINT))!.key as Record<string, 1>;
    const taskQueries = [
      ...activityClaimTries(at(-5_000), now).map((t) => ({ what: `claim (${t.band})`, filter: t.filter })),
      { what: 'probe of expired leases', filter: timedActivityClaimProbeFilter(now) },
    ];
    // 5,000 tasks running under live leases (the ones scheduled first), then the claimable ones.
    const tasks = [
      ...Array.from({ length: 5_000 }, (_, i) => ({ id: `running-${i}`, leaseExpiresAt: at(300_000 + i), claimable: false })),
      { id: 'expired', leaseExpiresAt: at(-5_000), claimable: true },
      { id: 'free', leaseExpiresAt: EPOCH, claimable: true },
    ];
    const visited = new Set<string>();
    for (const { what, filter } of taskQueries) {
      const scan = indexScan(taskIndex, filter, CLAIM_ACTIVITY_SORT);
      expect(scan.sortFromIndex, what).toBe(true);
      expect(+(scan.upper!.value as Date), what).toBeLessThanOrEqual(+now);
      for (const task of tasks) if (inScan(scan, task.leaseExpiresAt)) visited.add(task.id);
    }
    expect([...visited].sort()).toEqual(['expired', 'free']);
    // nextWakeTime's first key of the same index is the earliest lease expiry (EPOCH: a free task).
    expect(indexScan(taskIndex, TASK_WAKE_FILTER, TASK_WAKE_SORT).sortFromIndex).toBe(true);
  });

  it('would catch an activity claim that steps over leased tasks (the shape before claim_at)', () => {
    // Scheduling order first, the lease expiry last: the scan starts at the oldest task and skips every leased one.
    const old = { leaseExpiresAt: { $lte: now } };
    expect(() => indexScan({ readyAt: 1, order: 1, leaseExpiresAt: 1 }, old, { readyAt: 1, order: 1 })).toThrow(/not constrained/);
  });

  it('would catch a claim that scans the waiting instances (the shape before claimAt)', () => {
    const old = { readyAt: { $lt: NEVER }, nextMessageAt: { $lte: now }, leaseExpiresAt: { $lte: now } };
    const scan = indexScan({ readyAt: 1, nextMessageAt: 1, leaseExpiresAt: 1 }, old, { readyAt: 1 });
    // Its leading range ends at NEVER, not at now: every instance with a pending message, due or not, is in it.
    expect(+(scan.upper!.value as Date)).toBeGreaterThan(+now);
    expect(() => indexScan(claimIndex, old, CLAIM_ORCHESTRATION_SORT)).toThrow(/not in the index/);
  });
});

/**
 * A filter as MongoDB applies it, for the shapes the query builders write ($and, $or, equality, $gt/$gte/$lt/$lte, a
 * `$regex` without options, $type string): comparisons are type-bracketed (a Date bound matches only dates, a string
 * bound only strings).
 */
const matches = (filter: Document, doc: Document): boolean => Object.entries(filter).every(([key, condition]) => {
  if (key === '$and') return (condition as Document[]).every((c) => matches(c, doc));
  if (key === '$or') return (condition as Document[]).some((c) => matches(c, doc));
  const value: unknown = doc[key];
  const sameType = (bound: unknown) => (bound instanceof Date ? value instanceof Date : typeof value === typeof bound && !(value instanceof Date));
  const order = (bound: unknown) => (value instanceof Date ? +value - +(bound as Date)
    : typeof value === 'number' ? value - (bound as number) : String(value).localeCompare(String(bound)));
  if (typeof condition !== 'object' || condition instanceof Date) return sameType(condition) && order(condition) === 0;
  return Object.entries(condition as Document).every(([op, bound]) => {
    if (op === '$gte') return sameType(bound) && order(bound) >= 0;
    if (op === '$gt') return sameType(bound) && order(bound) > 0;
    if (op === '$lte') return sameType(bound) && order(bound) <= 0;
    if (op === '$lt') return sameType(bound) && order(bound) < 0;
    if (op === '$ne') return !(sameType(bound) && order(bound) === 0);
    if (op === '$regex' && typeof bound === 'string') return typeof value === 'string' && new RegExp(bound).test(value);
    if (op === '$type' && bound === 'string') return typeof value === 'string';
    throw new Error(`${op} is outside the model`);
  });
});

describe('history reads (getHistory, getInstanceHistory)', () => {
  it('read the events of the generation the instance names, from the asked position, in order, on instance_gen_index alone', () => {
    const { filter, options } = historyQuery('k', 'g2', { fromIndex: 2 });
    const event = (instanceId: string, gen: string, index: number) => ({ _id: 'e', instanceId, gen, index, event: '{}' });
    expect(matches(filter, event('k', 'g2', 2))).toBe(true);
    expect(matches(filter, event('k', 'g2', 3))).toBe(true);
    // Not before the asked position, not the old generation the sweeper is deleting, not another instance's events.
    expect(matches(filter, event('k', 'g2', 1))).toBe(false);
    expect(matches(filter, event('k', 'g1', 2))).toBe(false);
    expect(matches(filter, event('k2', 'g2', 2))).toBe(false);
    // Two points and a range on the unique history index, in its order: only the events returned are visited, none
    // sorted in memory.
    const index = INDEXES.history.find((i) => i.name === 'instance_gen_index')!.key as Record<string, 1>;
    expect(indexScan(index, filter, options.sort)).toMatchObject({
      lower: { value: 'k', inclusive: true }, upper: { value: 'k', inclusive: true }, pointPrefix: 2, sortFromIndex: true, fetchedFor: [],
    });
    // The event alone: no _id (an ObjectId per event sent and decoded for nothing).
    expect(options.projection).toEqual({ _id: 0, event: 1 });
  });

  it('read from the first event when no position, or a negative one, is asked', () => {
    expect(historyQuery('k', 'g1', undefined).filter).toEqual({ instanceId: 'k', gen: 'g1', index: { $gte: 0 } });
    expect(historyQuery('k', 'g1', { fromIndex: -3 }).filter).toEqual({ instanceId: 'k', gen: 'g1', index: { $gte: 0 } });
  });

  it('read no event at or past toIndex, on the same index range', () => {
    const { filter, options } = historyQuery('k', 'g2', { fromIndex: 2, toIndex: 4 });
    const event = (index: number) => ({ _id: 'e', instanceId: 'k', gen: 'g2', index, event: '{}' });
    expect([1, 2, 3, 4, 5, 10, 30].filter((i) => matches(filter, event(i)))).toEqual([2, 3]);
    // A range that ends before it begins reads nothing.
    const reversed = historyQuery('k', 'g2', { fromIndex: 4, toIndex: 1 }).filter;
    expect([3, 4, 5].filter((i) => matches(reversed, event(i)))).toEqual([]);
    const index = INDEXES.history.find((i) => i.name === 'instance_gen_index')!.key as Record<string, 1>;
    expect(indexScan(index, filter, options.sort)).toMatchObject({ pointPrefix: 2, sortFromIndex: true, fetchedFor: [] });
  });
});

describe('documents whose _id is not a string (left in the collections by another program)', () => {
  const at = (ms: number) => new Date(T0.getTime() + ms);
  const now = T0;
  /** True when `filter` matches only string `_id`s: the rule at its top level or in a clause of its `$and`. */
  const requiresStringKey = (filter: Document): boolean =>
    JSON.stringify(filter['_id']) === JSON.stringify(STORE_KEY._id) || (Array.isArray(filter['$and']) && filter['$and'].some(requiresStringKey));
  const claims: [string, Document][] =
    orchestrationClaimTries(at(-5_000), now).map((t): [string, Document] => [`claim (${t.band})`, t.filter]);
  const taskClaims: [string, Document][] =
    activityClaimTries(at(-5_000), now).map((t): [string, Document] => [`activity claim (${t.band})`, t.filter]);

  // A purge re-reads its candidates by their keys, all strings (the rule is not needed there: see storeKeyed).
  it('are left out by every query that decides what MongoStore leases, lists or re-reads: claims, wake-ups, releases, pages, resyncs, the claimAt fill-in', () => {
    const scans: [string, Document][] = [
      ...claims,
      ...taskClaims,
      ['nextWakeTime (instances)', INSTANCE_WAKE_FILTER],
      ['nextWakeTime (tasks)', TASK_WAKE_FILTER],
      ['releaseOwner', ownerLeasesFilter('w')],
      ['claimAt fill-in', MISSING_CLAIM_AT_FILTER],
      ['status resync', changedSinceFilter(now)],
      ['query page', buildQueryFilter({})],
      ['query page, every filter, after a page', buildQueryFilter({
        runtimeStatus: ['Running'], createdTimeFrom: now, createdTimeTo: now, instanceIdPrefix: 'p',
      }, { createdTime: now.getTime(), instanceId: 'p-1' })],
    ];
    for (const [what, filter] of scans) expect(requiresStringKey(filter), what).toBe(true);
  });

  it('are left out by claims on the document they fetch and lease anyway, within the same bounds of the claim index', () => {
    const claimIndex = CLAIM_ORCHESTRATION_HINT;
    for (const [what, filter] of claims) {
      const scan = indexScan(claimIndex, filter, CLAIM_ORCHESTRATION_SORT);
      expect(scan.fetchedFor, what).toEqual(['_id']);
      const { _id: rule, ...withoutRule } = filter;
      const { fetchedFor: _, ...bounds } = indexScan(claimIndex, withoutRule, CLAIM_ORCHESTRATION_SORT);
      expect(rule, what).toEqual(STORE_KEY._id);
      expect(scan, what).toMatchObject(bounds);
    }
    for (const [what, filter] of taskClaims) expect(indexScan(CLAIM_ACTIVITY_HINT, filter, CLAIM_ACTIVITY_SORT).fetchedFor, what).toEqual(['_id']);
  });

  it('are left out by the tries a claim\u2019s probe orders; the probe reads index keys alone, no document', () => {
    // The probe finds the timed band's head; the timed try is its range with the rule, which decides what is leased.
    expect(timedClaimFilter(now)).toEqual(storeKeyed(timedClaimProbeFilter(now)));
    expect(timedActivityClaimFilter(now)).toEqual(storeKeyed(timedActivityClaimProbeFilter(now)));
    expect(requiresStringKey(timedClaimFilter(now))).toBe(true);
    // With the rule, each probe would fetch the document of the key it reads (claim_at does not hold _id).
    expect(isCovered(CLAIM_ORCHESTRATION_HINT, timedClaimProbeFilter(now), TIMED_CLAIM_PROBE_PROJECTION)).toBe(true);
    expect(isCovered(CLAIM_ACTIVITY_HINT, timedActivityClaimProbeFilter(now), TIMED_ACTIVITY_CLAIM_PROBE_PROJECTION)).toBe(true);
    expect(isCovered(CLAIM_ORCHESTRATION_HINT, timedClaimFilter(now), TIMED_CLAIM_PROBE_PROJECTION)).toBe(false);
  });

  it('are left out of purges by the re-read by key that decides; the scan for candidates reads status_page keys alone on every server', () => {
    const statusPage = INDEXES.instances.find((i) => i.name === 'status_page')!.key as Record<string, 1>;
    const requests = [{ createdTimeFrom: now }, { createdTimeFrom: now, createdTimeTo: now, runtimeStatus: ['Failed' as const] }];
    for (const request of requests) {
      expect(requiresStringKey(purgeScanFilter(request))).toBe(false);
      // MongoDB 4.4 checks the rule on each candidate's document although status_page holds _id: no index-only scan.
      expect(isCovered(statusPage, storeKeyed(purgeScanFilter(request)), PURGE_SCAN_PROJECTION)).toBe(false);
      expect(isCovered(statusPage, purgeScanFilter(request), PURGE_SCAN_PROJECTION)).toBe(true);
    }
  });

  it('are left out by the rule joined to a filter, which keeps that filter\u2019s own _id condition', () => {
    const afterP = storeKeyed({ _id: { $gt: 'p' }, claimAt: EPOCH });
    expect(afterP).toEqual({ $and: [{ _id: { $gt: 'p' }, claimAt: EPOCH }, STORE_KEY] });
    expect(matches(afterP, { _id: 'q', claimAt: EPOCH })).toBe(true);
    expect(matches(afterP, { _id: 'a', claimAt: EPOCH })).toBe(false); // spread into one object, the rule replaced $gt
    expect(matches(afterP, { _id: new ObjectId(), claimAt: EPOCH })).toBe(false);
    expect(storeKeyed({ claimAt: EPOCH })).toEqual({ claimAt: EPOCH, ...STORE_KEY });
  });
});

describe('purge records (what a changes$ resync reports as purged)', () => {
  it('are read from the moment the feed was last healthy, on their index, and expire after a week', () => {
    expect(purgedSinceFilter(T0)).toEqual({ purgedAt: { $gte: T0 }, instanceId: { $type: 'string' } });
    expect(indexScan(PURGES_HINT, purgedSinceFilter(T0))).toMatchObject({ lower: { value: T0, inclusive: true }, upper: undefined });
    expect(INDEXES.purges).toEqual([{ name: 'purged_at', key: PURGES_HINT, expireAfterSeconds: 7 * 24 * 3600 }]);
  });
});

describe('query pages are bounded in bytes', () => {
  type Doc = { readonly _id: string; readonly createdTime: Date; readonly state: string };
  const doc = (i: number, bytes: number): Doc => ({ _id: `i${String(i).padStart(3, '0')}`, createdTime: new Date(T0.getTime() + i), state: 'x'.repeat(bytes) });
  const size = (d: Doc) => d.state.length;

  it('ends a page early, before the document that would pass the budget, and names that one as next', async () => {
    const docs = countedIterable([doc(0, 40), doc(1, 40), doc(2, 40), doc(3, 40)]);
    const read = await readPageWithinBytes(docs, 10, 100, size);
    expect(read.page.map((d) => d._id)).toEqual(['i000', 'i001']);
    expect(read.next?._id).toBe('i002');
    expect(docs.taken).toBe(3); // nothing read past it
  });

  it('always holds the first document, however large, and goes on from there', async () => {
    const read = await readPageWithinBytes(countedIterable([doc(0, 500), doc(1, 1)]), 10, 100, size);
    expect(read.page.map((d) => d._id)).toEqual(['i000']);
    expect(read.next?._id).toBe('i001');
  });

  it('is a full page with a next one, or the last page, within the budget as before', async () => {
    const full = await readPageWithinBytes(countedIterable([doc(0, 1), doc(1, 1), doc(2, 1)]), 2, 100, size);
    expect(full.page.map((d) => d._id)).toEqual(['i000', 'i001']);
    expect(full.next?._id).toBe('i002');
    const last = await readPageWithinBytes(countedIterable([doc(0, 1), doc(1, 1)]), 2, 100, size);
    expect(last).toEqual({ page: [doc(0, 1), doc(1, 1)] });
  });

  it('pages through everything once, in order, when pages end early by bytes (following the keys as queryInstances does)', async () => {
    const all = Array.from({ length: 12 }, (_, i) => doc(i, (i % 3) * 30 + 10));
    const seen: string[] = [];
    let after: ReturnType<typeof nextPageKey>;
    let pages = 0;
    do {
      const filter = buildQueryFilter({}, after);
      const matching = all.filter((d) => matches(filter, d as unknown as Document)).slice(0, 5 + 1);
      const read = await readPageWithinBytes(countedIterable(matching), 5, 100, size);
      expect(read.page.reduce((n, d) => n + size(d), 0) <= 100 || read.page.length === 1).toBe(true);
      seen.push(...read.page.map((d) => d._id));
      after = read.next === undefined ? undefined : nextPageKey([...read.page, read.next], read.page.length);
      pages++;
    } while (after && pages < 50);
    expect(seen).toEqual(all.map((d) => d._id));
    expect(pages).toBeGreaterThan(12 / 5 + 1); // some pages did end early
  });

  it('bounds a page of MongoStore at 16 MiB of stored text', () => {
    expect(QUERY_PAGE_BYTES).toBe(16 * 1024 * 1024);
  });
});

describe('query pages (where the next page starts)', () => {
  /** Every document the pages list, following the continuation keys as queryInstances does (docs in PAGE_SORT order). */
  type Doc = { readonly _id: unknown; readonly createdTime?: unknown };
  const listed = (docs: readonly Doc[], pageSize: number): unknown[] => {
    const out: unknown[] = [];
    let after: ReturnType<typeof nextPageKey>;
    for (let pages = 0; pages < 100; pages++) {
      const filter = buildQueryFilter({}, after);
      const read = docs.filter((d) => matches(filter, d as Document)).slice(0, pageSize + 1);
      out.push(...read.slice(0, pageSize).map((d) => d._id));
      // Typed as queryInstances reads them (the filter matches string _ids only; a page that held another would show it).
      after = nextPageKey(read as { readonly _id: string }[], pageSize);

      if (!after) return out;
    }
    throw new Error('paging did not end');
  };
  const at = (ms: number) => new Date(T0.getTime() + ms);

  it('has no next page when the read returned no more than a page', () => {
    expect(nextPageKey([], 2)).toBeUndefined();
    expect(nextPageKey([{ _id: 'a', createdTime: at(0) }, { _id: 'b', createdTime: at(1) }], 2)).toBeUndefined();
  });

  it('continues after the last document of the page, read or not', () => {
    expect(nextPageKey([{ _id: 'a', createdTime: at(0) }, { _id: '\uFFFF0062', createdTime: at(1) }, { _id: 'c', createdTime: at(2) }], 2))
      .toEqual({ createdTime: at(1).getTime(), instanceId: 'b' });
  });

  it('moves on past a page of foreign documents without a Date createdTime (they sort before every Date)', () => {
    // Such a page had no continuation token: the later instances were never listed.
    const foreign = [{ _id: 'f1' }, { _id: 'f2', createdTime: null }, { _id: 'f3', createdTime: 'yesterday' }];
    const ours = [{ _id: 'a', createdTime: at(0) }, { _id: 'b', createdTime: at(0) }, { _id: 'c', createdTime: at(5) }];
    const key = nextPageKey([...foreign, ours[0]!], 3);
    expect(key).toBeDefined();
    expect(key!.createdTime).toBeLessThan(at(0).getTime());
    expect(listed([...foreign, ...ours], 3)).toEqual(['f1', 'f2', 'f3', 'a', 'b', 'c']);
    expect(listed([...foreign, ...ours], 1)).toEqual(['f1', 'a', 'b', 'c']); // the bound skips the rest
  });

  it('continues after the last Date key when the page ends with a document that has none', () => {
    const docs = [{ _id: 'a', createdTime: at(0) }, { _id: 'b', createdTime: at(1) }, { _id: 'z', createdTime: 42 }, { _id: 'c', createdTime: at(2) }];
    expect(nextPageKey(docs, 3)).toEqual({ createdTime: at(1).getTime(), instanceId: 'b' });
    // An Invalid Date holds no time to continue from: passed over like a createdTime that is no Date.
    const invalid = [{ _id: 'a', createdTime: at(0) }, { _id: 'y', createdTime: new Date(Number.NaN) }, { _id: 'c', createdTime: at(2) }];
    expect(nextPageKey(invalid, 2)).toEqual({ createdTime: at(0).getTime(), instanceId: 'a' });
  });

  it('leaves out a document whose _id is not a string (another program\u2019s) and pages on past it', () => {
    const oid = new ObjectId();
    const docs = [{ _id: 'a', createdTime: at(0) }, { _id: oid, createdTime: at(0) }, { _id: 'b', createdTime: at(1) }];
    expect(listed(docs, 1)).toEqual(['a', 'b']);
    expect(listed(docs, 5)).toEqual(['a', 'b']);
  });
});

describe('listEnded (endedListingQuery)', () => {
  const to = new Date(T0.getTime() + 10_000);
  const ms = (n: number) => new Date(T0.getTime() + n);

  it('reads one status up to a time on `ended`, in its order, the state and the key it was found under, in batches of the page', () => {
    const { filter, options } = endedListingQuery({ runtimeStatus: 'Failed', endedTo: to, limit: 100 });
    expect(filter).toEqual({ runtimeStatus: 'Failed', lastUpdatedTime: { $lte: to }, ...STORE_KEY });
    // Limited to the page, in one batch: the server closes the cursor with the last it sends (no killCursors to send).
    expect(options).toEqual({ sort: ENDED_SORT, hint: ENDED_HINT, projection: { state: 1, runtimeStatus: 1, lastUpdatedTime: 1, idOrder: 1 }, limit: 100, batchSize: 100 });
    expect(Object.keys(ENDED_SORT)).toEqual(['runtimeStatus', 'lastUpdatedTime', 'idOrder']);
    expect(INDEXES.instances.find((i) => i.name === 'ended')?.key).toEqual(ENDED_HINT);
  });

  it('goes on after a key: later in its millisecond by the id in code-unit order, or in a later millisecond', () => {
    const after = { endedMs: ms(2000).getTime(), instanceId: 'b\uFF01' };
    expect(endedListingQuery({ runtimeStatus: 'Completed', endedTo: to, limit: 10, after }).filter).toEqual({
      runtimeStatus: 'Completed', lastUpdatedTime: { $gte: ms(2000), $lte: to },
      $or: [{ lastUpdatedTime: { $gt: ms(2000) } }, { lastUpdatedTime: ms(2000), idOrder: { $gt: codeUnitOrderKey('b\uFF01') } }],
      ...STORE_KEY,
    });
  });

  it('goes on after the key a document of the page was found under, for what the page still needs', () => {
    const query: EndedQuery = { runtimeStatus: 'Completed', endedTo: to, limit: 10, after: { endedMs: ms(1000).getTime(), instanceId: 'a' } };
    const state = { instanceId: 'b\uFF01', lastUpdatedTime: ms(2000) };
    const found = { lastUpdatedTime: state.lastUpdatedTime, idOrder: codeUnitOrderKey(state.instanceId) };
    const next = endedListingQuery(query, found, 3);
    expect(next.filter).toEqual(endedListingQuery({ ...query, after: { endedMs: ms(2000).getTime(), instanceId: state.instanceId } }).filter);
    expect([next.options.limit, next.options.batchSize]).toEqual([3, 3]);
    expect(() => endedListingQuery(query, { lastUpdatedTime: null, idOrder: 'x' })).toThrow(TypeError);
  });

  it('selects and orders exactly what matchesEndedQuery and compareEndedKeys do, for every resume key, ids MongoDB\u2019s _id order would misplace included', () => {
    // The filter's conditions and the sort, evaluated as the server compares their values (Dates by ms, strings by UTF-8 bytes).
    const bytes = (text: string) => Buffer.from(text, 'utf8');
    const ids = ['a', 'b', 'b\uFF01', 'b🚀', 'b\uD800', '\uFFFFx', ''];
    const states = [0, 2000, 2000, 2000, 9000, 12_000].flatMap((t, i) => ids.map((id): InstanceState => ({
      instanceId: `${id}${i}`, name: 'O', runtimeStatus: i === 4 ? 'Failed' : 'Completed', createdTime: T0, lastUpdatedTime: ms(t), executionId: 'e', historyLength: 0, version: 1,
    })));
    const docOf = (state: InstanceState) => ({ runtimeStatus: state.runtimeStatus, lastUpdatedTime: state.lastUpdatedTime, idOrder: codeUnitOrderKey(state.instanceId) });
    const server = (query: EndedQuery) => {
      const { filter } = endedListingQuery(query);
      const f = filter as unknown as {
        runtimeStatus: string; lastUpdatedTime: { $gte?: Date; $lte: Date };
        $or?: [{ lastUpdatedTime: { $gt: Date } }, { lastUpdatedTime: Date; idOrder: { $gt: string } }];
      };
      return states.map(docOf).filter((d) => d.runtimeStatus === f.runtimeStatus && d.lastUpdatedTime <= f.lastUpdatedTime.$lte &&
        (f.lastUpdatedTime.$gte === undefined || d.lastUpdatedTime >= f.lastUpdatedTime.$gte) &&
        (f.$or === undefined || d.lastUpdatedTime > f.$or[0].lastUpdatedTime.$gt ||
          (d.lastUpdatedTime.getTime() === f.$or[1].lastUpdatedTime.getTime() && Buffer.compare(bytes(d.idOrder), bytes(f.$or[1].idOrder.$gt)) > 0)))
        .sort((a, b) => a.lastUpdatedTime.getTime() - b.lastUpdatedTime.getTime() || Buffer.compare(bytes(a.idOrder), bytes(b.idOrder)))
        .map((d) => d.idOrder);
    };
    const keys: (EndedKey | undefined)[] = [undefined, { endedMs: ms(2000).getTime(), instanceId: '' }, ...states.map(endedKeyOf)];
    for (const after of keys) {
      const query: EndedQuery = { runtimeStatus: 'Completed', endedTo: to, limit: 1000, ...(after ? { after } : {}) };
      const byRule = states.filter((s) => matchesEndedQuery(s, query)).sort((a, b) => compareEndedKeys(endedKeyOf(a), endedKeyOf(b)));
      expect(server(query), JSON.stringify(after)).toEqual(byRule.map((s) => codeUnitOrderKey(s.instanceId)));
    }
  });

  it('fills in the ended instances written before the end order was kept: a probe of `ended` for each ended status', () => {
    expect(MISSING_END_ORDER_FILTER).toEqual({ runtimeStatus: { $in: ['Completed', 'Failed', 'Terminated'] }, lastUpdatedTime: null, ...STORE_KEY });
  });
});
