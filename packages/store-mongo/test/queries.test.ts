import { decodeContinuationToken, encodeContinuationToken } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
import {
  buildPurgeFilter, buildQueryFilter, CLAIM_ACTIVITY_HINT, CLAIM_ACTIVITY_SORT, CLAIM_ORCHESTRATION_HINT, CLAIM_ORCHESTRATION_SORT,
  CLAIMED_MESSAGES_HINT, claimActivityFilter, claimBound, claimedMessagesFilter, claimOrchestrationFilter, PAGE_SORT,
  ownerLeasesFilter, QUEUE_HEAD_HINTS, RELEASE_OWNER_HINT, RESYNC_HINT, SWEEP_HINT, WAKE_HINTS,
} from '../src/queries.js';
import { escapeRegexLiteral } from '../src/regex-literal.js';
import { instanceKeyPrefixPatterns } from '../src/instance-key.js';
import { EPOCH, FREE_LEASE, NEVER } from '../src/documents.js';

const instanceIdPrefixPattern = (prefix: string) => instanceKeyPrefixPatterns(prefix)[0];
import { INDEXES, OBSOLETE_INDEXES } from '../src/indexes.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');

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
  it('is empty for an empty query and for an empty prefix or status list', () => {
    expect(buildQueryFilter({})).toEqual({});
    expect(buildQueryFilter({ instanceIdPrefix: '', runtimeStatus: [] })).toEqual({});
  });

  it('combines status, created-time range (inclusive) and a literal prefix', () => {
    expect(buildQueryFilter({
      runtimeStatus: ['Completed', 'Failed'], createdTimeFrom: T0, createdTimeTo: new Date(T0.getTime() + 1000), instanceIdPrefix: 'a.*',
    })).toEqual({
      $and: [
        { runtimeStatus: { $in: ['Completed', 'Failed'] } },
        { createdTime: { $gte: T0, $lte: new Date(T0.getTime() + 1000) } },
        { $or: [{ _id: { $regex: '^a\\.\\*' } }, { _id: { $regex: '^\uFFFF0061002e002a' } }] },
      ],
    });
    expect(buildQueryFilter({ createdTimeTo: T0 })).toEqual({ createdTime: { $lte: T0 } });
  });

  it('continues strictly after the last instance of the previous page (keyset paging on createdTime, instanceId)', () => {
    const token = encodeContinuationToken({ createdTime: T0.getTime(), instanceId: 'p-07' });
    const after = decodeContinuationToken(token);
    expect(buildQueryFilter({ pageSize: 10 }, after)).toEqual({
      $and: [
        { createdTime: { $gte: T0 } }, // bounds the index scan at the cursor
        { $or: [{ createdTime: { $gt: T0 } }, { createdTime: T0, _id: { $gt: 'p-07' } }] },
      ],
    });
    expect(PAGE_SORT).toEqual({ createdTime: 1, _id: 1 });
  });

  it('rejects forged continuation tokens with InvalidArgumentError', () => {
    expect(() => decodeContinuationToken('not-a-token')).toThrow(expect.objectContaining({ code: 'invalid-argument', status: 400 }));
    expect(() => decodeContinuationToken(btoa('{"$gt":""}'))).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('purges terminal instances only, of the requested statuses', () => {
    expect(buildPurgeFilter({ createdTimeFrom: T0 })).toEqual({
      $and: [{ runtimeStatus: { $in: ['Completed', 'Failed', 'Terminated'] } }, { createdTime: { $gte: T0 } }],
    });
    expect(buildPurgeFilter({ createdTimeFrom: T0, runtimeStatus: ['Failed', 'Running'] })).toEqual({
      $and: [{ runtimeStatus: { $in: ['Failed'] } }, { createdTime: { $gte: T0 } }],
    });
    // Only non-terminal statuses requested: matches nothing.
    expect(buildPurgeFilter({ createdTimeFrom: T0, runtimeStatus: ['Running'] })).toMatchObject({ $and: [{ runtimeStatus: { $in: [] } }, expect.anything()] });
  });
});

describe('claims', () => {
  it('select instances with a due message and no live lease, in the order their messages became visible', () => {
    expect(claimOrchestrationFilter(T0)).toEqual({ readyAt: { $lt: NEVER }, nextMessageAt: { $lte: T0 }, leaseExpiresAt: { $lte: T0 } });
    expect(CLAIM_ORCHESTRATION_SORT).toEqual({ readyAt: 1 });
  });

  it('select activity tasks without a live lease in scheduling order, expired leases keeping their place', () => {
    expect(claimActivityFilter(T0)).toEqual({ leaseExpiresAt: { $lte: T0 } });
    // The sort does not start with leaseExpiresAt: a task whose lease expired is not sorted after every free one.
    expect(CLAIM_ACTIVITY_SORT).toEqual({ readyAt: 1, order: 1 });
  });

  it('release the leases of one owner, live or expired, visiting only leased documents of the lease_expiry index', () => {
    expect(ownerLeasesFilter('tab-1')).toEqual({ leaseExpiresAt: { $gt: EPOCH }, leaseOwner: 'tab-1' });
    // A free lease sits at EPOCH, so it is outside the range: releasing twice modifies nothing the second time.
    expect(FREE_LEASE.leaseExpiresAt).toEqual(EPOCH);
    for (const collection of ['instances', 'activityTasks'] as const) {
      expect(INDEXES[collection].map((i) => JSON.stringify(i.key))).toContain(JSON.stringify(RELEASE_OWNER_HINT));
    }
  });

  it('take the visible messages of the claimed instance by its key', () => {
    expect(claimedMessagesFilter('k', T0)).toEqual({ instanceId: 'k', due: { $lte: T0 } });
  });

  it('take a bounded number of messages: the caller may lower the store bound, never raise it (finding 2)', () => {
    expect(claimBound(undefined, 100)).toBe(100);
    expect(claimBound(10, 100)).toBe(10);
    expect(claimBound(1000, 100)).toBe(100);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => claimBound(bad, 100)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('have an index whose key starts with the sort, so no claim sorts in memory', () => {
    const claim = INDEXES.instances.find((i) => i.name === 'claim_ready');
    expect(Object.keys(claim?.key ?? {}).slice(0, 1)).toEqual(Object.keys(CLAIM_ORCHESTRATION_SORT));
    const task = INDEXES.activityTasks.find((i) => i.name === 'claim_ready');
    expect(Object.keys(task?.key ?? {}).slice(0, 2)).toEqual(Object.keys(CLAIM_ACTIVITY_SORT));
    const page = INDEXES.instances.find((i) => i.name === 'page');
    expect(Object.keys(page?.key ?? {})).toEqual(Object.keys(PAGE_SORT));
  });

  it('drop only indexes of the old layout, never one the current layout creates (ensureIndexes stays idempotent)', () => {
    for (const [collection, names] of Object.entries(OBSOLETE_INDEXES)) {
      const current = INDEXES[collection as keyof typeof INDEXES].map((i) => i.name);
      for (const name of names ?? []) expect(current, `${collection}.${name}`).not.toContain(name);
    }
    expect(OBSOLETE_INDEXES.history).toContain('instance_index');
  });

  it('pin every claim, wake-up, queue-head, sweep and resync query to an index that exists (finding 8: hints)', () => {
    const keys = (collection: keyof typeof INDEXES) => INDEXES[collection].map((i) => JSON.stringify(i.key));
    expect(keys('instances')).toContain(JSON.stringify(CLAIM_ORCHESTRATION_HINT));
    expect(keys('activityTasks')).toContain(JSON.stringify(CLAIM_ACTIVITY_HINT));
    expect(keys('messages')).toContain(JSON.stringify(CLAIMED_MESSAGES_HINT));
    expect(keys('messages')).toContain(JSON.stringify(WAKE_HINTS.messages));
    expect(keys('instances')).toContain(JSON.stringify(WAKE_HINTS.instances));
    expect(keys('activityTasks')).toContain(JSON.stringify(WAKE_HINTS.activityTasks));
    expect(keys('messages')).toContain(JSON.stringify(QUEUE_HEAD_HINTS.due));
    expect(keys('messages')).toContain(JSON.stringify(QUEUE_HEAD_HINTS.readyAt));
    expect(keys('history')).toContain(JSON.stringify(SWEEP_HINT));
    expect(keys('instances')).toContain(JSON.stringify(RESYNC_HINT));
  });
});
