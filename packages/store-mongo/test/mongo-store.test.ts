import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { createClient, createRuntime } from '@durable-rx/runtime';
import {
  endedKeyOf, type ActivityTask, type EndedQuery, type InstanceState, type OrchestrationMessage, type OrchestrationWorkItem, type StatusChange, type WriteSet,
} from '@durable-rx/runtime/store-kit';
import { assertNoDuplicateSteps, describeStoreConformance, VirtualClock } from '@durable-rx/runtime/testing';
import { MongoClient, ObjectId, Timestamp, type Document } from 'mongodb';
import { firstValueFrom, filter, ReplaySubject, take, timeout, toArray, type Observable } from 'rxjs';
import { describe, expect, it, vi, type TestContext } from 'vitest';
import { statusPipeline, watchFilterFor } from '../src/change-events.js';
import { compareTimestamps, majorityProbe, majorityReadTimeOf } from '../src/cluster-time.js';
import { Buffer } from 'node:buffer';
import { emptyQueueHead, encodeInstanceState, EPOCH, instanceDoc, NEVER, taskDoc, type HistoryDoc, type InstanceDoc, type TaskDoc } from '../src/documents.js';
import { MongoStoreError } from '../src/errors/mongo-store-error.js';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';
import { TAKEN_INSTANCE_PROJECTION } from '../src/translate-write-plan.js';
import { INDEXES } from '../src/indexes.js';
import { batchedInputProjection } from '../src/input-reads.js';
import { instanceKey } from '../src/instance-key.js';
import { mapDriverError } from '../src/map-driver-error.js';
import { MongoStore } from '../src/mongo-store.js';
import { READ_MAX_TIME_MS } from '../src/read-bound.js';
import { listingDeadlineMs, serverTimeLeft } from '../src/call-deadline.js';
import { commitsWithin, TRANSACTION_RETRY_MS } from '../src/transaction-deadline.js';
import { SWEEP_RETRY } from '../src/sweep-lease.js';
import { WATCH_REOPEN_BURST } from '../src/watch-scope.js';
import {
  activityClaimTries, buildQueryFilter, CLAIM_ACTIVITY_HINT, CLAIM_ACTIVITY_SORT, CLAIM_ORCHESTRATION_HINT, CLAIM_ORCHESTRATION_SORT,
  consumedMessagesFilter, INSTANCE_WAKE_FILTER, orchestrationClaimTries, PAGE_SORT, PURGE_SCAN_PROJECTION, purgeScanFilter,
  TIMED_ACTIVITY_CLAIM_PROBE_PROJECTION,
  TIMED_CLAIM_PROBE_PROJECTION,
  timedActivityClaimProbeFilter, timedClaimProbeFilter,
  UNCLAIMED_SCAN_LIMIT,
} from '../src/queries.js';
import { announceSkip, ensureBuilt, failCommand, failCommandOff, failPointOrSkip, MONGODB_URI, testDatabase } from './support/integration.js';

/**
 * Integration tests against a real MongoDB replica set: the Store conformance suite and what lies beyond the port.
 * They run only when MONGODB_URI is set; otherwise the file prints one line saying they were skipped and why.
 * Nothing here fakes the driver or the server. (Load, end-to-end and failure cases: mongo-load.test.ts.)
 */
const uri = MONGODB_URI;
announceSkip('mongo-store.test.ts');

describe.skipIf(!uri)('MongoStore on MONGODB_URI (integration)', () => {
  const mongoUri = uri ?? '';
  const db = testDatabase('store');

  // Each conformance database is a collection prefix in one database: two handles on one name share it.
  const prefixes = new Map<string, string>();
  describeStoreConformance('MongoStore', (name) => {
    const prefix = prefixes.get(name) ?? db.prefix('c');
    prefixes.set(name, prefix);
    return db.open(name, { prefix });
  }, { shared: true });

  /** Runs `body` with a client of its own on the server (to read or alter the documents under `store`), then closes both. */
  async function alongside(store: { close(): Promise<void> }, body: (client: MongoClient) => Promise<void>): Promise<void> {
    const client = new MongoClient(mongoUri);
    try {
      await body(client);
    } finally {
      await client.close();
      await store.close();
    }
  }

  /**
   * Writes three ended instances through `store` (`<tag>-a` at 500 ms, `<tag>-s` at 5000, `<tag>-z` at 9000, counted from a
   * minute ago) and leaves `<tag>-s` under 100 in its document, as an earlier version that ended it again without
   * writing its end time would (on `client`, in the collections of `prefix`). Gives the query that lists all three.
   */
  async function endedAroundStale(store: MongoStore, client: MongoClient, prefix: string, tag: string): Promise<EndedQuery> {
    const instances = client.db(db.name).collection<{ _id: string; lastUpdatedTime?: Date | null }>(`${prefix}instances`);
    const t0 = new Date(Date.now() - 60_000);
    const at = (ms: number) => new Date(t0.getTime() + ms);
    for (const [id, ms] of [[`${tag}-a`, 500], [`${tag}-s`, 5000], [`${tag}-z`, 9000]] as const) {
      const { state, message } = request(id);
      const ended = { ...state, runtimeStatus: 'Completed' as const, lastUpdatedTime: at(ms) };
      await store.commit({ requests: [{ type: 'createInstance', state: ended, message, ifRunning: { kind: 'fail' } }] });
    }
    await instances.updateOne({ _id: `${tag}-s` }, { $set: { lastUpdatedTime: at(100) } });
    return { runtimeStatus: 'Completed', endedTo: at(10_000), limit: 100 };
  }

  /** A store on a client of its own that records the `commandName` commands it sends, in order. */
  async function recording(commandName: string, prefix: string, appName?: string) {
    const client = new MongoClient(mongoUri, { monitorCommands: true, ...(appName === undefined ? {} : { appName }) });
    const commands: Document[] = [];
    client.on('commandStarted', (event) => {
      if (event.commandName === commandName) commands.push(event.command);
    });
    const store = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: db.prefix(prefix) });
    return { client, commands, store };
  }

  /**
   * Runs `body` with a store on a client of its own (`recording` its `commitTransaction` commands, under the app name
   * `drx-<prefix>-<pid>`) whose every commit the primary refuses as one that keeps stepping down: PrimarySteppedDown
   * (189), labelled RetryableWriteError. Skips the test where the fail point is not available. Afterwards the fail
   * point is lifted, and the store and both clients are closed, however `body` ended.
   */
  async function withSteppingDownCommits(
    context: TestContext, test: string, prefix: string,
    body: (opened: Awaited<ReturnType<typeof recording>> & { readonly admin: MongoClient }) => Promise<void>,
  ): Promise<void> {
    const appName = `drx-${prefix}-${process.pid}`;
    const opened = await recording('commitTransaction', prefix, appName);
    const admin = new MongoClient(mongoUri);
    try {
      await failPointOrSkip(context, test, () => failCommand(admin, { times: 1_000_000 }, {
        failCommands: ['commitTransaction'], appName, errorCode: 189, errorLabels: ['RetryableWriteError'],
      }));
      await body({ ...opened, admin });
    } finally {
      await failCommandOff(admin);
      await admin.close().catch(() => undefined);
      await opened.store.close();
      await opened.client.close();
    }
  }

  /** A store on a client of its own that records the replies to the `findAndModify` commands it sends, in order. */
  async function recordingReplies(prefix: string) {
    const client = new MongoClient(mongoUri, { monitorCommands: true });
    const replies: Document[] = [];
    client.on('commandSucceeded', (event) => {
      if (event.commandName === 'findAndModify') replies.push(event.reply as Document);
    });
    const store = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: db.prefix(prefix) });
    return { client, replies, store };
  }

  describe('beyond the port', () => {
    it('works each history sweep in one process at a time: one another process holds is left to it until its lease lapses', async () => {
      const prefix = db.prefix('sweeplease');
      const client = new MongoClient(mongoUri);
      const stores: MongoStore[] = [];
      try {
        const first = await db.open('sweeplease', { prefix });
        stores.push(first);
        await first.flushSweeps(); // its connect's pass is over: no pass of it runs below
        const history = client.db(db.name).collection<HistoryDoc>(first.collections.history);
        const sweeps = client.db(db.name).collection(first.collections.sweeps);
        const gen = 'gen-held';
        await history.insertMany([0, 1, 2].map((index) => ({ _id: new ObjectId(), instanceId: instanceKey('swept'), gen, index, event: '{}' })));
        const _id = new ObjectId();
        // Scheduled, and held by another process for another minute.
        await sweeps.insertOne({ _id, instanceId: instanceKey('swept'), gen, leaseExpiresAt: new Date(Date.now() + 60_000), leaseToken: 'other' });
        const held = await db.open('sweeplease', { prefix }); // connect runs a sweep pass
        stores.push(held);
        await held.flushSweeps();
        expect(await history.countDocuments({ gen })).toBe(3);
        expect(await sweeps.findOne({ _id })).toMatchObject({ leaseToken: 'other' });
        // Its holder stopped: once the lease lapsed, the next pass (here a connect's) takes the sweep and finishes it.
        await sweeps.updateOne({ _id }, { $set: { leaseExpiresAt: new Date(Date.now() - 1_000) } });
        const taker = await db.open('sweeplease', { prefix });
        stores.push(taker);
        await taker.flushSweeps();
        expect(await history.countDocuments({ gen })).toBe(0);
        expect(await sweeps.countDocuments({})).toBe(0);
      } finally {
        for (const store of stores) await store.close();
        await client.close();
      }
    });

    it('runs a history sweep pass that failed again on its own timer, not only at the next restart, purge or connect', async (context) => {
      const appName = `drx-sweepretry-${process.pid}`;
      const client = new MongoClient(mongoUri, { appName });
      const admin = new MongoClient(mongoUri);
      const clock = new VirtualClock();
      const errors: string[] = [];
      const store = await MongoStore.connect({
        client, dbName: db.name, collectionPrefix: db.prefix('sweepretry'), clock,
        logger: { warn: () => undefined, error: (message) => void errors.push(message) },
      });
      try {
        await store.flushSweeps();
        const { state, message } = request('swept-later');
        await store.commit({ requests: [{ type: 'createInstance', state: { ...state, runtimeStatus: 'Completed' }, message, ifRunning: { kind: 'fail' } }] });
        const history = client.db(db.name).collection<HistoryDoc>(store.collections.history);
        const gen = 'gen-retried';
        await history.insertMany([0, 1, 2].map((index) => ({ _id: new ObjectId(), instanceId: instanceKey('other'), gen, index, event: '{}' })));
        await client.db(db.name).collection(store.collections.sweeps).insertOne({ _id: new ObjectId(), instanceId: instanceKey('other'), gen });
        // The pass the purge starts fails at its first take of a sweep (a findAndModify the server refuses).
        await failPointOrSkip(context, 'sweep retry test', () => failCommand(admin, { times: 1 }, { failCommands: ['findAndModify'], appName, errorCode: 2 }));
        expect(await store.purgeInstance('swept-later')).toBe(1);
        await store.flushSweeps();
        expect(errors.some((e) => e.includes('sweeping old history failed'))).toBe(true);
        expect(await history.countDocuments({ gen })).toBe(3);
        // No restart, purge or connect follows: the timer runs the pass again after its back-off.
        await clock.advance(SWEEP_RETRY.firstMs);
        await store.flushSweeps();
        expect(await history.countDocuments({ gen })).toBe(0);
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('finishes the sweep of a generation shorter than a chunk with one read: no lease renewal, no read that finds nothing', async () => {
      const prefix = db.prefix('sweepshort');
      const seed = await db.open('sweepshort', { prefix });
      const client = new MongoClient(mongoUri, { monitorCommands: true });
      const sent: string[] = [];
      client.on('commandStarted', (event) => {
        if (event.command['find'] === seed.collections.history) sent.push('find history');
        if (event.command['update'] === seed.collections.sweeps) sent.push('update sweeps');
        if (event.command['delete'] === seed.collections.sweeps) sent.push('delete sweeps');
      });
      let sweeper: MongoStore | undefined;
      try {
        await seed.flushSweeps();
        const history = client.db(db.name).collection<HistoryDoc>(seed.collections.history);
        const gen = 'gen-short';
        await history.insertMany([0, 1, 2].map((index) => ({ _id: new ObjectId(), instanceId: instanceKey('short'), gen, index, event: '{}' })));
        await client.db(db.name).collection(seed.collections.sweeps).insertOne({ _id: new ObjectId(), instanceId: instanceKey('short'), gen });
        sweeper = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: prefix }); // connect runs a sweep pass
        await sweeper.flushSweeps();
        expect(await history.countDocuments({ gen })).toBe(0);
        expect(await client.db(db.name).collection(seed.collections.sweeps).countDocuments({})).toBe(0);
        expect(sent.filter((command) => command === 'find history')).toHaveLength(1);
        expect(sent).not.toContain('update sweeps'); // no renewal
        expect(sent).toContain('delete sweeps');
      } finally {
        await sweeper?.close();
        await seed.close();
        await client.close();
      }
    });

    const open = () => db.open('extra');
    /** A store whose logged errors' messages are kept in `errors`. */
    const openLogging = async (name: string) => {
      const errors: string[] = [];
      const store = await db.open(name, { logger: { warn: () => undefined, error: (message) => void errors.push(message) } });
      return { store, errors };
    };

    it('stores a 12 MiB input and refuses one over the 15 MiB limit without writing anything', async () => {
      const store = await open();
      try {
        const big = 'é'.repeat(6 * 1024 * 1024); // 12 MiB of UTF-8
        await store.commit(start('big', big));
        expect((await store.getInstance('big'))?.input).toBe(big);
        const tooBig = 'x'.repeat(16 * 1024 * 1024);
        await expect(store.commit(start('too-big', tooBig))).rejects.toMatchObject({ code: 'payload-too-large', status: 413 });
        expect(await store.getInstance('too-big')).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it('reports a create that collides on another unique index as a store error, not as "already exists"', async () => {
      const store = await open();
      await alongside(store, async (client) => {
        // Another program's message for an id no instance has yet takes the (instanceId, seq) key of its start message.
        await client.db(db.name).collection(store.collections.messages).insertOne({ _id: new ObjectId(), instanceId: 'taken-seq', seq: 1 });
        const refused = await store.commit(start('taken-seq')).then(() => undefined, (error: unknown) => error);
        expect(refused).toMatchObject({ code: 'store-error', status: 500 });
        expect(String((refused as Error).message)).toContain('duplicate key');
        expect(await store.getInstance('taken-seq')).toBeUndefined();
        // A create of an id that does exist is still the caller's conflict (409).
        await store.commit(start('exists'));
        await expect(store.commit(start('exists'))).rejects.toMatchObject({ code: 'instance-already-exists', status: 409 });
      });
    });

    it('ends a query page early by bytes (QUERY_PAGE_BYTES) with a continuation token; following it lists every instance once, in order', async () => {
      const store = await open();
      try {
        const big = 'x'.repeat(6 * 1024 * 1024);
        const ids = ['pg-a', 'pg-b', 'pg-c', 'pg-d'];
        for (const id of ids) await store.commit(start(id, big));
        // With inputs, two of 6 MiB fit 16 MiB and a third would not: pages of 2, each with a token to the next.
        const first = await store.queryInstances({ instanceIdPrefix: 'pg-', showInput: true });
        expect(first.instances.map((s) => s.instanceId)).toEqual(['pg-a', 'pg-b']);
        expect(first.instances.every((s) => s.input === big)).toBe(true);
        expect(first.continuationToken).toBeDefined();
        const listed: string[] = [...first.instances.map((s) => s.instanceId)];
        for (let token = first.continuationToken, pages = 1; token !== undefined && pages < 10; pages++) {
          const page = await store.queryInstances({ instanceIdPrefix: 'pg-', showInput: true, continuationToken: token });
          expect(page.instances.length).toBeLessThanOrEqual(2);
          listed.push(...page.instances.map((s) => s.instanceId));
          token = page.continuationToken;
        }
        expect(listed).toEqual(ids);
        // Without inputs the page holds them all.
        const bare = await store.queryInstances({ instanceIdPrefix: 'pg-' });
        expect(bare.instances.map((s) => s.instanceId)).toEqual(ids);
        expect(bare.continuationToken).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it('reads that answer a caller come after this process\u2019s commits: causally consistent, afterClusterTime', async () => {
      const { client, commands, store } = await recording('find', 'causal');
      try {
        await store.commit(start('causal-1'));
        commands.length = 0;
        expect((await store.getInstance('causal-1'))?.runtimeStatus).toBe('Pending');
        await store.getHistory('causal-1');
        expect((await store.queryInstances({ instanceIdPrefix: 'causal-' })).instances.map((s) => s.instanceId)).toEqual(['causal-1']);
        await store.getInstanceHistory('causal-1');
        // (On a sharded cluster the store's periodic majority probe, filter {}, is a find on instances of its own.)
        const reads = commands.filter((command) => (command['find'] === store.collections.instances || command['find'] === store.collections.history) &&
          JSON.stringify(command['filter']) !== '{}');
        expect(reads.length).toBeGreaterThanOrEqual(5);
        for (const command of reads) {
          const concern = command['readConcern'] as { level?: string; afterClusterTime?: unknown } | undefined;
          // getInstanceHistory's first read starts its snapshot transaction; the later one carries no read concern of its own.
          if (command['startTransaction'] === true) expect(concern).toMatchObject({ level: 'snapshot' });
          else if (command['txnNumber'] !== undefined) continue;
          else expect(concern?.level).toBe('majority');
          expect(concern?.afterClusterTime, JSON.stringify(command)).toBeDefined();
        }
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('lists only its own collections at connect, by name, whatever else the database holds', async () => {
      // Listed whole, a database of very many collections could answer past the first batch's 16 MiB and need a
      // getMore, which driver 7.8 sends without the index deadline's signal.
      const other = new MongoClient(mongoUri);
      try {
        await other.db(db.name).createCollection(`${db.prefix('listing-other')}unrelated`);
      } finally {
        await other.close();
      }
      const { client, commands, store } = await recording('listCollections', 'listing');
      try {
        const names = Object.values(store.collections);
        expect(commands.length).toBeGreaterThan(0);
        for (const command of commands) expect(command).toMatchObject({ nameOnly: true, authorizedCollections: true, filter: { name: { $in: names } } });
        const listed = await client.db(db.name).listCollections({}, { nameOnly: true }).toArray();
        expect(names.filter((name) => !listed.some((c) => c.name === name))).toEqual([]); // every one created
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('matches instance id prefixes with regex characters literally', async () => {
      const store = await open();
      try {
        for (const id of ['a[1', 'a(2', 'a+3', 'a\\4', 'ab5', 'a.6']) await store.commit(start(id));
        const ids = async (instanceIdPrefix: string) =>
          (await store.queryInstances({ instanceIdPrefix })).instances.map((s) => s.instanceId).sort();
        expect(await ids('a[')).toEqual(['a[1']);
        expect(await ids('a(')).toEqual(['a(2']);
        expect(await ids('a+')).toEqual(['a+3']);
        expect(await ids('a\\')).toEqual(['a\\4']);
        expect(await ids('a.')).toEqual(['a.6']);
        expect(await ids('a')).toHaveLength(6);
      } finally {
        await store.close();
      }
    });

    it('serves claims, paging and prefix queries from indexes (no collection scan)', async () => {
      const store = await open();
      await alongside(store, async (client) => {
        for (let i = 0; i < 20; i++) await store.commit(start(`job-${i}`));
        const instances = client.db(db.name).collection<InstanceDoc>(store.collections.instances);
        const now = new Date();
        const plans: Document[] = [
          ...await Promise.all(orchestrationClaimTries(now, now).map(({ filter }) =>
            instances.find(filter).sort(CLAIM_ORCHESTRATION_SORT).hint(CLAIM_ORCHESTRATION_HINT).limit(1).explain())),
          // The prefix query as queryInstances sends it: filter, page order and page size (not a bare $regex).
          await instances.find(buildQueryFilter({ instanceIdPrefix: 'job-1' })).sort(PAGE_SORT).limit(11).explain(),
          await client.db(db.name).collection(store.collections.messages).find({ instanceId: 'job-1' }).sort({ seq: 1 }).explain(),
          await instances.find(purgeScanFilter({ createdTimeFrom: new Date(0) })).project(PURGE_SCAN_PROJECTION).explain(),
        ];
        // A page: on the page index, in its order (the string _id rule could also be served by the _id index, with a
        // sort of every instance in memory).
        const page = await instances.find(buildQueryFilter({})).sort(PAGE_SORT).limit(10).explain();
        expect(JSON.stringify(page['queryPlanner']?.['winningPlan'])).not.toMatch(/COLLSCAN|"SORT"/);
        for (const plan of plans) {
          const winning: unknown = plan['queryPlanner']?.['winningPlan'];
          expect(winning).toBeDefined();
          expect(JSON.stringify(winning)).not.toContain('COLLSCAN');
        }
      });
    });

    it('claims and nextWakeTime read only claimable instances, however many wait for far-off timers (explain executionStats)', async () => {
      const store = await open();
      await alongside(store, async (client) => {
        const far = new Date(Date.now() + 86_400_000);
        // 300 instances whose only message is visible in a day (the write path computes their claimAt), 3 claimable now.
        for (let i = 0; i < 300; i++) await store.commit(start(`far-${i}`, undefined, new Date(far.getTime() + i)));
        for (let i = 0; i < 3; i++) await store.commit(start(`now-${i}`));
        const db2 = client.db(db.name);
        const now = new Date();
        const examined = async (command: Document, docs?: number): Promise<number> => {
          const plan = await db2.command({ explain: command, verbosity: 'executionStats' });
          const stats = plan['executionStats'] as { totalKeysExamined: number; totalDocsExamined: number };
          expect(JSON.stringify(plan['queryPlanner']?.['winningPlan'])).not.toMatch(/COLLSCAN|"SORT"/);
          if (docs !== undefined) expect(stats.totalDocsExamined).toBe(docs);
          return stats.totalKeysExamined;
        };
        const update = { $set: { leaseToken: 'explain' } };
        for (const { band, filter } of orchestrationClaimTries(now, now)) {
          const keys = await examined({
            findAndModify: store.collections.instances, query: filter, sort: CLAIM_ORCHESTRATION_SORT, hint: CLAIM_ORCHESTRATION_HINT, update,
          });
          expect(keys, band).toBeLessThanOrEqual(2);
        }
        // The probe reads one key and no document (an index-only read on every server version): at a time when the
        // far timers are due, its first key is one of them.
        const later = new Date(far.getTime() + 86_400_000);
        expect(await examined({
          find: store.collections.instances, filter: timedClaimProbeFilter(later), sort: CLAIM_ORCHESTRATION_SORT, hint: CLAIM_ORCHESTRATION_HINT,
          projection: TIMED_CLAIM_PROBE_PROJECTION, limit: 1,
        }, 0)).toBeLessThanOrEqual(1);
        expect(await examined({
          find: store.collections.instances, filter: INSTANCE_WAKE_FILTER, sort: CLAIM_ORCHESTRATION_SORT, hint: CLAIM_ORCHESTRATION_HINT,
          projection: { _id: 0, claimAt: 1 }, limit: 1,
        })).toBeLessThanOrEqual(1);
        // And the store does what the plans say: the three due ones are claimed (under leases longer than the wait),
        // then nothing until a day from now.
        const claimed: string[] = [];
        const leaseMs = 2 * 86_400_000;
        for (let item; (item = await store.claimOrchestration({ owner: 'w', leaseMs, now: new Date() }));) claimed.push(item.state.instanceId);
        expect(claimed.sort()).toEqual(['now-0', 'now-1', 'now-2']);
        expect(await store.nextWakeTime(new Date())).toEqual(far);
      });
    });

    it('activity claims read only claimable tasks, however many run under live leases (explain executionStats)', async () => {
      const store = await open();
      await alongside(store, async (client) => {
        const tasks = client.db(db.name).collection<TaskDoc>(store.collections.activityTasks);
        const task = (id: string): ActivityTask => ({ id, instanceId: 'parent', executionId: 'e', name: 'Act', taskScheduledId: 0, attempt: 1 });
        // 300 tasks scheduled first and leased for a day (as claims leave them), then 3 free ones.
        const leasedUntil = new Date(Date.now() + 86_400_000);
        await tasks.insertMany(Array.from({ length: 300 }, (_, i) => ({
          ...taskDoc(task(`running-${i}`), 1 << 20, new Date(Date.now() - 60_000)), leaseOwner: 'other', leaseToken: `t-${i}`, leaseExpiresAt: leasedUntil,
        })));
        await tasks.insertMany(Array.from({ length: 3 }, (_, i) => taskDoc(task(`free-${i}`), 1 << 20)));
        const now = new Date();
        const examined = async (command: Document, docs?: number): Promise<number> => {
          const plan = await client.db(db.name).command({ explain: command, verbosity: 'executionStats' });
          const stats = plan['executionStats'] as { totalKeysExamined: number; totalDocsExamined: number };
          expect(JSON.stringify(plan['queryPlanner']?.['winningPlan'])).not.toMatch(/COLLSCAN|"SORT"/);
          if (docs !== undefined) expect(stats.totalDocsExamined).toBe(docs);
          return stats.totalKeysExamined;
        };
        for (const { band, filter } of activityClaimTries(now, now)) {
          const keys = await examined({
            findAndModify: store.collections.activityTasks, query: filter, sort: CLAIM_ACTIVITY_SORT, hint: CLAIM_ACTIVITY_HINT,
            update: { $set: { leaseToken: 'explain' } },
          });
          expect(keys, band).toBeLessThanOrEqual(2);
        }
        expect(await examined({
          // At a time the leases have expired: the probe's first key is one of them, read without its document.
          find: store.collections.activityTasks, filter: timedActivityClaimProbeFilter(new Date(leasedUntil.getTime() + 1)), sort: CLAIM_ACTIVITY_SORT, hint: CLAIM_ACTIVITY_HINT,
          projection: TIMED_ACTIVITY_CLAIM_PROBE_PROJECTION, limit: 1,
        }, 0)).toBeLessThanOrEqual(1);
        const claimed: string[] = [];
        for (let item; (item = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: new Date() }));) claimed.push(item.task.id);
        expect(claimed).toEqual(['free-0', 'free-1', 'free-2']);
      });
    });

    it('releaseOwner reads only the leases of the owner it releases, instances and tasks, however many other workers hold (explain executionStats)', async () => {
      // The finds releaseOwner sends, observed through the driver's command monitoring, are the queries explained.
      const { client, commands: finds, store } = await recording('find', 'release-owner');
      try {
        // 100 instances and 100 activity tasks leased by a busy worker, then 2 of each by one that goes away.
        const tasks = client.db(db.name).collection<TaskDoc>(store.collections.activityTasks);
        for (let i = 0; i < 102; i++) {
          await store.commit(start(`held-${i}`));
          const task: ActivityTask = { id: `held-task-${i}`, instanceId: `held-${i}`, executionId: 'e', name: 'Act', taskScheduledId: 0, attempt: 1 };
          await tasks.insertOne(taskDoc(task, 1 << 20, new Date()));
        }
        const lease = async (owner: string, count: number) => {
          const now = new Date();
          for (let i = 0; i < count; i++) {
            expect(await store.claimOrchestration({ owner, leaseMs: 3_600_000, now }), `${owner} claim ${i}`).toBeDefined();
            expect(await store.claimActivity({ owner, leaseMs: 3_600_000, now }), `${owner} task claim ${i}`).toBeDefined();
          }
        };
        await lease('busy', 100);
        await lease('gone', 2);
        finds.length = 0;
        expect(await store.releaseOwner('gone')).toBe(4);
        const sent = [store.collections.instances, store.collections.activityTasks].map((name) => finds.find((command) => command['find'] === name));
        // The released leases are claimable again: leased to 'gone' once more, the queries have them to find.
        await lease('gone', 2);
        for (const command of sent) {
          expect(command, 'a find releaseOwner sent').toBeDefined();
          const { find, filter, hint, projection, sort, limit } = command!;
          const query = Object.fromEntries(Object.entries({ find, filter, hint, projection, sort, limit }).filter(([, v]) => v !== undefined));
          const plan = await client.db(db.name).command({ explain: query, verbosity: 'executionStats' });
          const stats = plan['executionStats'] as { totalKeysExamined: number; totalDocsExamined: number; nReturned: number };
          expect(JSON.stringify(plan['queryPlanner']?.['winningPlan'])).not.toContain('COLLSCAN');
          expect(stats.nReturned, String(find)).toBe(2);
          // The owner prefix bounds the scan (the busy worker's 100 leases are never visited, nor fetched): 2 keys, and
          // at most one more where the scan finds the end of its range.
          expect(stats.totalKeysExamined, String(find)).toBeLessThanOrEqual(3);
          expect(stats.totalDocsExamined, String(find)).toBeLessThanOrEqual(2);
        }
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('skips work whose stored data cannot be read: logged, kept leased until the lease expires, the rest claimed', async () => {
      const { store, errors } = await openLogging('unreadable');
      await alongside(store, async (client) => {
        // The corrupt instance's message became visible first, so without the rule it would be first in line forever.
        await store.commit(start('corrupt'));
        await store.commit(start('fine'));
        const database = client.db(db.name);
        await database.collection<InstanceDoc>(store.collections.instances).updateOne({ _id: 'corrupt' }, { $set: { state: '{not json' } });
        const now = new Date();
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
        expect(item?.state.instanceId).toBe('fine');
        expect(errors.some((e) => e.includes('"corrupt"'))).toBe(true);
        const held = await database.collection<InstanceDoc>(store.collections.instances).findOne({ _id: 'corrupt' });
        expect(held?.claimAt).toEqual(new Date(now.getTime() + 60_000));
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now })).toBeUndefined();
        // And an activity task that does not decode does not hold up the next one.
        const tasks = database.collection<TaskDoc>(store.collections.activityTasks);
        const task = (id: string): ActivityTask => ({ id, instanceId: 'fine', executionId: 'e', name: 'Act', taskScheduledId: 0, attempt: 1 });
        await tasks.insertOne({ ...taskDoc(task('bad-task'), 1 << 20, new Date(now.getTime() - 1_000)), task: '[]' });
        await tasks.insertOne(taskDoc(task('good-task'), 1 << 20, now));
        expect((await store.claimActivity({ owner: 'w', leaseMs: 60_000, now }))?.task.id).toBe('good-task');
        expect(errors.some((e) => e.includes('"bad-task"'))).toBe(true);
        expect((await tasks.findOne({ _id: 'bad-task' }))?.leaseExpiresAt).toEqual(new Date(now.getTime() + 60_000));
      });
    });

    it('skips an instance whose messages every claim fails to read (a message that is not a string), and claims the next', async () => {
      // Before, the failed read released the lease: claimAt back to the message's time and every process woken, so
      // each claim of each worker took this instance first, failed, released it, and nothing behind it was claimed.
      const { store, errors } = await openLogging('badmessage');
      await alongside(store, async (client) => {
        await store.commit(start('bad-message'));
        await store.commit(start('behind'));
        const database = client.db(db.name);
        await database.collection(store.collections.messages).updateOne({ instanceId: instanceKey('bad-message') }, { $set: { message: 42 } });
        const now = new Date();
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
        expect(item?.state.instanceId).toBe('behind');
        expect(errors.some((e) => e.includes('"bad-message"'))).toBe(true);
        // Kept leased until the lease expires, so the next claims do not stop at it either.
        const held = await database.collection<InstanceDoc>(store.collections.instances).findOne({ _id: instanceKey('bad-message') });
        expect(held?.claimAt).toEqual(new Date(now.getTime() + 60_000));
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now })).toBeUndefined();
      });
    });

    it('a release without a commit wakes every process (handoff) only when a message is visible, as a commit\u2019s release', async () => {
      const store = await open();
      await alongside(store, async (client) => {
        const database = client.db(db.name);
        const instances = database.collection<InstanceDoc>(store.collections.instances);
        const messages = database.collection(store.collections.messages);
        for (const id of ['busy', 'quiet-1', 'quiet-2']) await store.commit(start(id));
        const claim = async (owner: string) => (await store.claimOrchestration({ owner, leaseMs: 60_000, now: new Date() }))!;
        const claimed = new Map<string, Awaited<ReturnType<typeof claim>>>();
        for (const owner of ['a', 'b', 'c']) {
          const item = await claim(owner);
          claimed.set(item.state.instanceId, item);
        }
        // The quiet ones have nothing left to claim (their messages went, as a purge or restart racing the lease leaves them).
        for (const id of ['quiet-1', 'quiet-2']) {
          await messages.deleteMany({ instanceId: id });
          await instances.updateOne({ _id: id }, { $set: { nextMessageAt: NEVER, readyAt: NEVER } });
        }
        await store.abandonOrchestration('busy', claimed.get('busy')!.lease.token);
        await store.abandonOrchestration('quiet-1', claimed.get('quiet-1')!.lease.token);
        expect(await store.releaseOwner(claimed.get('quiet-2')!.lease.owner)).toBe(1);
        expect((await instances.findOne({ _id: 'busy' }))?.handoff).toBeInstanceOf(ObjectId);
        for (const id of ['quiet-1', 'quiet-2']) {
          const doc = await instances.findOne({ _id: id });
          expect(doc?.leaseToken, id).toBeNull();
          expect(doc?.handoff, id).toBeUndefined();
          expect(doc?.claimAt, id).toEqual(NEVER);
        }
      });
    });

    it('releases an owner\u2019s instance and task leases in one transaction', async () => {
      const { client, commands: writes, store } = await recording('update', 'owner');
      try {
        await store.commit(start('owned'));
        const now = new Date();
        expect((await store.claimOrchestration({ owner: 'gone', leaseMs: 60_000, now }))?.state.instanceId).toBe('owned');
        const task: ActivityTask = { id: 'owned-task', instanceId: 'owned', executionId: 'e', name: 'Act', taskScheduledId: 0, attempt: 1 };
        await client.db(db.name).collection<TaskDoc>(store.collections.activityTasks).insertOne(taskDoc(task, 1 << 20, now));
        expect((await store.claimActivity({ owner: 'gone', leaseMs: 60_000, now }))?.task.id).toBe('owned-task');
        writes.length = 0;
        expect(await store.releaseOwner('gone')).toBe(2);
        const byCollection = new Map(writes.map((command) => [command['update'] as string, command]));
        const instanceWrite = byCollection.get(store.collections.instances);
        const taskWrite = byCollection.get(store.collections.activityTasks);
        expect(instanceWrite?.['txnNumber']).toBeDefined();
        expect(taskWrite?.['txnNumber']).toEqual(instanceWrite?.['txnNumber']);
        expect(taskWrite?.['lsid']).toEqual(instanceWrite?.['lsid']);
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('reads an instance with its history in one snapshot transaction committed with a majority (getInstanceHistory)', async () => {
      const client = new MongoClient(mongoUri, { monitorCommands: true });
      const sent: Document[] = [];
      client.on('commandStarted', (event) => {
        if (event.commandName === 'find' || event.commandName === 'commitTransaction') sent.push(event.command);
      });
      const store = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: db.prefix('at-once') });
      try {
        await store.commit(start('read-at-once'));
        sent.length = 0;
        const read = await store.getInstanceHistory('read-at-once');
        expect(read).toEqual({ state: await store.getInstance('read-at-once'), history: [] });
        // The instance document, then the events of the generation it names, both in one transaction whose first
        // read starts it at a snapshot; the commit waits for a majority (what was read is majority-committed). (The
        // store's background reads, a sweep or a mongos's majority read, are in no transaction of its session.)
        const first = sent.find((c) => c['startTransaction'] === true);
        expect(first?.['find']).toBe(store.collections.instances);
        expect(first?.['readConcern']).toMatchObject({ level: 'snapshot' });
        const transaction = sent.filter((c) => isDeepStrictEqual(c['lsid'], first?.['lsid']) && isDeepStrictEqual(c['txnNumber'], first?.['txnNumber']));
        expect(transaction.map((c) => c['find'] ?? Object.keys(c)[0])).toEqual(
          [store.collections.instances, store.collections.history, 'commitTransaction'],
        );
        expect(transaction[2]?.['writeConcern']).toMatchObject({ w: 'majority' });
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('leaves a document that does not decode out of query pages, logged, instead of failing them; purges decide by its indexed status', async () => {
      const { store, errors } = await openLogging('undecodable');
      await alongside(store, async (client) => {
        const instances = client.db(db.name).collection<InstanceDoc>(store.collections.instances);
        const from = new Date(Date.now() - 1_000);
        for (const id of ['u-1', 'u-2', 'u-3']) await store.commit(start(id));
        // u-1 and u-3 completed; u-2 completed too by its indexed status, but its state does not decode.
        for (const id of ['u-1', 'u-3']) {
          const doc = await instances.findOne({ _id: id });
          const completed = JSON.stringify({ ...(JSON.parse(doc!.state) as object), runtimeStatus: 'Completed' });
          await instances.updateOne({ _id: id }, { $set: { runtimeStatus: 'Completed', state: completed } });
        }
        await instances.updateOne({ _id: 'u-2' }, { $set: { runtimeStatus: 'Completed', state: '{not json' } });
        // Paged one at a time: the page of the unreadable one is empty but still leads on to the next.
        const ids: string[] = [];
        let continuationToken: string | undefined;
        do {
          const page = await store.queryInstances({ instanceIdPrefix: 'u-', pageSize: 1, ...(continuationToken ? { continuationToken } : {}) });
          ids.push(...page.instances.map((state) => state.instanceId));
          continuationToken = page.continuationToken;
        } while (continuationToken);
        expect(ids).toEqual(['u-1', 'u-3']);
        expect((await store.queryInstances({ instanceIdPrefix: 'u-' })).instances.map((state) => state.instanceId)).toEqual(['u-1', 'u-3']);
        expect(errors.some((e) => e.includes('"u-2"') && e.includes('query page'))).toBe(true);
        // The purge decides by the indexed status, as purgeInstance does: the unreadable one is purged too.
        expect(await store.purgeInstances({ createdTimeFrom: from })).toBe(3);
        expect(await instances.countDocuments({ _id: { $in: ['u-1', 'u-2', 'u-3'] } })).toBe(0);
      });
    });

    it('fails getHistory and getInstanceHistory on an event that does not decode in a later batch; the next read works (no session or transaction left open)', async () => {
      const { client, commands, store } = await recording('getMore', 'bad-batch');
      try {
        const database = client.db(db.name);
        const instances = database.collection<InstanceDoc>(store.collections.instances);
        const history = database.collection<HistoryDoc>(store.collections.history);
        // Each history has more events than a find's first batch (101 documents, no batchSize is set): the rest come
        // with a getMore, decoded as they arrive.
        const timestamp = new Date().toISOString();
        for (const id of ['bad-batch', 'good-batch']) {
          await store.commit(start(id));
          const key = instanceKey(id);
          const gen = (await instances.findOne({ _id: key }))!.historyGen;
          await history.insertMany(Array.from({ length: 120 }, (_, index) => ({
            instanceId: key, gen, index, event: JSON.stringify({ type: 'EventRaised', eventId: -1, timestamp, name: `e${index}` }),
          })));
        }
        const key = instanceKey('bad-batch');
        await history.updateOne({ instanceId: key, index: 110 }, { $set: { event: '{bad' } });
        commands.length = 0;
        await expect(store.getHistory('bad-batch')).rejects.toBeInstanceOf(MongoStoreError);
        // It failed in a later batch than the first: the events before it had come, and a getMore was sent for them.
        expect(commands.some((c) => c['collection'] === store.collections.history)).toBe(true);
        await expect(store.getInstanceHistory('bad-batch')).rejects.toBeInstanceOf(MongoStoreError);
        // The same generation still (no restart moved it): the error is the history's, not a read to make again.
        expect((await instances.findOne({ _id: key }))?.historyGen).toBe((await history.findOne({ instanceId: key, index: 110 }))?.gen);
        // Another instance reads whole, in both ways, on the same store.
        expect(await store.getHistory('good-batch')).toHaveLength(120);
        const read = await store.getInstanceHistory('good-batch');
        expect(read.state?.instanceId).toBe('good-batch');
        expect(read.history.map((e) => (e.type === 'EventRaised' ? e.name : e.type))).toEqual(Array.from({ length: 120 }, (_, i) => `e${i}`));
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('never claims, leases, lists, purges or logs a document whose _id is not a string, nor wakes a worker for it', async () => {
      const { store, errors } = await openLogging('foreign-key');
      await alongside(store, async (client) => {
        const database = client.db(db.name);
        // Collections as another program sees them: any _id.
        type AnyKeyed = { _id: string | ObjectId; [field: string]: unknown };
        const instances = database.collection<AnyKeyed>(store.collections.instances);
        const tasks = database.collection<AnyKeyed>(store.collections.activityTasks);
        await store.commit(start('ours'));
        // Copies of our documents under ObjectId _ids, as a tool that re-inserts them without their _id leaves them: the
        // instance completed by its indexed status, both claimable at once and first in line.
        const ours = await instances.findOne({ _id: 'ours' });
        expect(ours).not.toBeNull();
        const foreignInstance = new ObjectId();
        await instances.insertOne({ ...ours!, _id: foreignInstance, runtimeStatus: 'Completed', claimAt: EPOCH, readyAt: EPOCH });
        const foreignTask = new ObjectId();
        const task: ActivityTask = { id: 'copied-task', instanceId: 'ours', executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1 };
        await tasks.insertOne({ ...taskDoc(task, 1 << 20, EPOCH), _id: foreignTask });
        const now = new Date();
        expect((await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now }))?.state.instanceId).toBe('ours');
        expect(await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now })).toBeUndefined();
        expect(await store.claimActivity({ owner: 'w', leaseMs: 60_000, now })).toBeUndefined();
        expect((await instances.findOne({ _id: foreignInstance }))?.['leaseToken']).toBeNull();
        expect((await tasks.findOne({ _id: foreignTask }))?.['leaseToken']).toBeNull();
        // Both stay claimable at once by their fields; the next wake-up is the expiry of our lease all the same.
        expect(await store.nextWakeTime(now)).toEqual(new Date(now.getTime() + 60_000));
        expect((await store.queryInstances({})).instances.map((state) => state.instanceId)).toEqual(['ours']);
        // The purge's scan finds the completed copy on the keys of status_page alone (no document read, whatever the
        // server version); the purge leaves it out all the same.
        const statusPage = INDEXES.instances.find((i) => i.name === 'status_page')!.key;
        const scan = await instances.find(purgeScanFilter({ createdTimeFrom: EPOCH }) as Document)
          .project(PURGE_SCAN_PROJECTION).hint(statusPage).explain('executionStats');
        expect(scan['executionStats']).toMatchObject({ nReturned: 1, totalDocsExamined: 0 });
        expect(await store.purgeInstances({ createdTimeFrom: EPOCH })).toBe(0);
        expect(await instances.countDocuments({ _id: foreignInstance })).toBe(1);
        expect(errors).toEqual([]);
      });
    });

    it('nextWakeTime counts only what a claim can take: a task without a lease expiry or an instance due before 1970 neither hides nor fakes a wake-up', async () => {
      const store = await open();
      await alongside(store, async (client) => {
        const database = client.db(db.name);
        // As another program or a damaged write may leave them: keys first in the claim indexes, which no claim takes.
        await database.collection<{ _id: string; claimAt: Date }>(store.collections.instances).insertOne({ _id: 'before-1970', claimAt: new Date(-1_000) });
        await database.collection<{ _id: string; task: string }>(store.collections.activityTasks).insertOne({ _id: 'no-expiry', task: '[]' });
        const task: ActivityTask = { id: 'free-task', instanceId: 'parent', executionId: 'e', name: 'Act', taskScheduledId: 0, attempt: 1 };
        await database.collection<TaskDoc>(store.collections.activityTasks).insertOne(taskDoc(task, 1 << 20));
        const now = new Date();
        expect(await store.nextWakeTime(now)).toEqual(EPOCH); // the free task, claimable at once
        expect((await store.claimActivity({ owner: 'w', leaseMs: 60_000, now }))?.task.id).toBe('free-task');
        expect(await store.nextWakeTime(now)).toEqual(new Date(now.getTime() + 60_000)); // its lease's expiry
      });
    });

    it('a step deletes the messages it consumed visiting only those, however many are queued (explain executionStats)', async () => {
      const store = await open();
      await alongside(store, async (client) => {
        await store.commit(start('fan-in'));
        // 300 results queued for one instance (a fan-in), as raised events.
        const raised = (i: number): OrchestrationMessage => ({
          id: `r-${i}`, instanceId: 'fan-in', event: { type: 'EventRaised', eventId: -1, timestamp: new Date().toISOString(), name: `r${i}` },
        });
        for (let i = 0; i < 300; i += 50) {
          await store.commit({ requests: Array.from({ length: 50 }, (_, j) => ({ type: 'insertMessage' as const, message: raised(i + j), ifMissing: 'fail' as const })) });
        }
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date(), maxMessages: 5 });
        const consumed = item!.messages.map((m) => m.id);
        expect(consumed).toHaveLength(5);
        const plan = await client.db(db.name).command({
          explain: { delete: store.collections.messages, deletes: [{ q: consumedMessagesFilter('fan-in', consumed), limit: 0 }] },
          verbosity: 'executionStats',
        });
        expect(JSON.stringify(plan['queryPlanner']?.['winningPlan'])).toContain('"instance_id"');
        expect((plan['executionStats'] as { totalDocsExamined: number }).totalDocsExamined).toBeLessThanOrEqual(consumed.length);
        await store.commit({
          lease: { kind: 'orchestration', instanceId: 'fan-in', token: item!.lease.token },
          requests: [{ type: 'deleteMessages', instanceId: 'fan-in', messageIds: consumed }],
        });
        const messages = client.db(db.name).collection(store.collections.messages);
        expect(await messages.countDocuments({ instanceId: 'fan-in' })).toBe(301 - consumed.length);
        expect(await messages.countDocuments({ id: { $in: consumed } })).toBe(0);
      });
    });

    it('keeps the instance_due index an earlier version hints, builds instance_due_seq beside it, and warns until it is dropped', async () => {
      const prefix = db.prefix('retired');
      const client = new MongoClient(mongoUri);
      try {
        const messages = client.db(db.name).collection(`${prefix}messages`);
        await messages.createIndex({ instanceId: 1, due: 1 }, { name: 'instance_due' }); // as the earlier layout left it
        const warnings: string[] = [];
        const store = await db.open('retired', { prefix, logger: { warn: (message) => void warnings.push(message), error: () => undefined } });
        await store.close();
        const names = (await messages.listIndexes().toArray()).map((index) => String(index['name']));
        expect(names).toEqual(expect.arrayContaining(['instance_due', 'instance_due_seq', 'instance_seq']));
        expect(warnings.some((w) => w.includes('instance_due') && w.includes('dropRetiredIndexes'))).toBe(true);
        // Dropped, the next connect says nothing more about it.
        await messages.dropIndex('instance_due');
        warnings.length = 0;
        await (await db.open('retired', { prefix, logger: { warn: (message) => void warnings.push(message), error: () => undefined } })).close();
        expect(warnings.filter((w) => w.includes('instance_due'))).toEqual([]);
      } finally {
        await client.close();
      }
    });

    it('keeps every index an earlier version hints through connect (rolling upgrade), and drops them only on dropRetiredIndexes', async () => {
      const prefix = db.prefix('rolling');
      const client = new MongoClient(mongoUri);
      try {
        const instances = client.db(db.name).collection(`${prefix}instances`);
        const tasks = client.db(db.name).collection(`${prefix}activityTasks`);
        // As the earlier layouts left them (claims of those versions name them in hints).
        await instances.createIndex({ claimAt: 1 }, { name: 'claim_ready' });
        await instances.createIndex({ leaseExpiresAt: 1 }, { name: 'lease_expiry' });
        await tasks.createIndex({ leaseExpiresAt: 1, readyAt: 1 }, { name: 'claim_ready' });
        const warnings: string[] = [];
        const store = await db.open('rolling', { prefix, logger: { warn: (message) => void warnings.push(message), error: () => undefined } });
        try {
          // An earlier version's hinted reads still work after the new version connected.
          await expect(instances.find({}).hint('claim_ready').limit(1).toArray()).resolves.toEqual([]);
          await expect(tasks.find({}).hint('claim_ready').limit(1).toArray()).resolves.toEqual([]);
          expect(warnings.some((w) => w.includes(`${prefix}instances.claim_ready`) && w.includes(`${prefix}activityTasks.claim_ready`))).toBe(true);
          // Once no such process runs: one call drops them all, and a second finds nothing left.
          expect((await store.dropRetiredIndexes()).sort()).toEqual(
            [`${prefix}activityTasks.claim_ready`, `${prefix}instances.claim_ready`, `${prefix}instances.lease_expiry`],
          );
          expect(await store.dropRetiredIndexes()).toEqual([]);
          const names = (await instances.listIndexes().toArray()).map((index) => String(index['name']));
          expect(names).not.toContain('claim_ready');
          expect(names).toEqual(expect.arrayContaining(INDEXES.instances.map((index) => String(index.name))));
        } finally {
          await store.close();
        }
      } finally {
        await client.close();
      }
    });

    it('with createIndexes: false, refuses to open without an index the store hints, naming it, and opens once it exists', async () => {
      const prefix = db.prefix('noidx');
      const client = new MongoClient(mongoUri);
      try {
        await (await db.open('noidx', { prefix })).close(); // every collection and index, as a migration would leave them
        const messages = client.db(db.name).collection(`${prefix}messages`);
        await messages.dropIndex('instance_due_seq'); // the layout before it
        const error = await db.open('noidx', { prefix, createIndexes: false }).then(() => undefined, (e: unknown) => e);
        expect(error).toMatchObject({ code: 'store-error', status: 500 });
        expect((error as Error).message).toContain(`${prefix}messages.instance_due_seq`);
        expect((error as Error).message).not.toContain('instance_seq');
        await messages.createIndex({ instanceId: 1, due: 1, seq: 1 }, { name: 'instance_due_seq' });
        await (await db.open('noidx', { prefix, createIndexes: false })).close();
      } finally {
        await client.close();
      }
    });

    it('refuses to open on a hinted index made partial by hand, or a collection with a default collation, naming why', async () => {
      // A partial claim index passed the check by key alone, and a claim hinted to it never saw the instances its
      // filter leaves out (SERVER-26413).
      const prefix = db.prefix('partialidx');
      const client = new MongoClient(mongoUri);
      try {
        await (await db.open('partialidx', { prefix })).close();
        const instances = client.db(db.name).collection(`${prefix}instances`);
        await instances.dropIndex('claim_at');
        await instances.createIndex({ claimAt: 1, readyAt: 1 }, { name: 'claim_at', partialFilterExpression: { runtimeStatus: 'Running' } });
        for (const createIndexes of [false, true]) {
          const error = await db.open('partialidx', { prefix, createIndexes }).then(async (store) => store.close(), (e: unknown) => e);
          expect(error, `createIndexes: ${createIndexes}`).toMatchObject({ code: 'store-error', status: 500 });
          expect((error as Error).message).toContain(`${prefix}instances.claim_at`);
          expect((error as Error).message).toContain('partialFilterExpression');
        }
        const collated = db.prefix('collated');
        await client.db(db.name).createCollection(`${collated}history`, { collation: { locale: 'en', strength: 2 } });
        const error = await db.open('collated', { prefix: collated }).then(async (store) => store.close(), (e: unknown) => e);
        expect(error).toMatchObject({ code: 'store-error' });
        expect((error as Error).message).toContain(`${collated}history._id_`);
      } finally {
        await client.close();
      }
    });

    it('stamps a changed instance\u2019s updatedAt with the server\u2019s clock, not the writer\u2019s (a client an hour behind)', async () => {
      // updatedAt places a change for the status resync (the `updated` index); a client more than its 5 min margin
      // behind wrote changes no resync read again.
      const store = await db.open('servertime');
      const client = new MongoClient(mongoUri);
      try {
        const serverNow = async () => (await client.db('admin').command({ hello: 1 }))['localTime'] as Date;
        const hourBack = new Date(Date.now() - 3_600_000);
        const { state, message } = request('behind');
        const before = await serverNow();
        await store.commit({ requests: [{ type: 'createInstance', state: { ...state, createdTime: hourBack, lastUpdatedTime: hourBack }, message, ifRunning: { kind: 'fail' } }] });
        const after = await serverNow();
        const doc = await client.db(db.name).collection<InstanceDoc>(store.collections.instances).findOne({ _id: instanceKey('behind') });
        expect(doc!.updatedAt.getTime()).toBeGreaterThanOrEqual(before.getTime());
        expect(doc!.updatedAt.getTime()).toBeLessThanOrEqual(after.getTime());
        expect((await store.getInstance('behind'))!.lastUpdatedTime).toEqual(hourBack); // the snapshot keeps the writer's time
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('refuses to open on a raiseKeys or sweeps collection with a default collation, in both modes', async () => {
      // Read and written by _id alone, these two were never listed: a case-insensitive collation made the keys of two
      // keyed raises that differ only in case one document, so the second raise was dropped as a repeat.
      const client = new MongoClient(mongoUri);
      try {
        for (const kind of ['raiseKeys', 'sweeps']) {
          for (const createIndexes of [true, false]) {
            const prefix = db.prefix(`collated${kind}${String(createIndexes)}`);
            await client.db(db.name).createCollection(`${prefix}${kind}`, { collation: { locale: 'en', strength: 2 } });
            const error = await db.open(`collated${kind}`, { prefix, createIndexes }).then(async (store) => store.close(), (e: unknown) => e);
            expect(error, `${kind}, createIndexes: ${createIndexes}`).toMatchObject({ code: 'store-error', status: 500 });
            expect((error as Error).message).toContain(`${prefix}${kind}._id_`);
            expect((error as Error).message).toContain('default collation');
          }
        }
      } finally {
        await client.close();
      }
    });

    it('a claim reads only the visible messages of its instance, however many of its timers are pending (explain executionStats)', async () => {
      // The finds the claim sends, observed through the driver's command monitoring, are the queries explained.
      const { client, commands: finds, store } = await recording('find', 'timers');
      try {
        await store.commit(start('timers'));
        // 1,000 durable timers a day away queued for the instance (a fan-out of timeouts, say), then 3 events.
        const far = Date.now() + 86_400_000;
        const message = (id: string, visibleAt?: Date): OrchestrationMessage => ({
          id, instanceId: 'timers', ...(visibleAt ? { visibleAt } : {}),
          event: { type: 'EventRaised', eventId: -1, timestamp: new Date().toISOString(), name: id },
        });
        for (let i = 0; i < 1_000; i += 100) {
          await store.commit({
            requests: Array.from({ length: 100 }, (_, j) => ({ type: 'insertMessage' as const, message: message(`t-${i + j}`, new Date(far + i + j)), ifMissing: 'fail' as const })),
          });
        }
        for (let i = 0; i < 3; i++) await store.commit({ requests: [{ type: 'insertMessage', message: message(`e-${i}`), ifMissing: 'fail' }] });
        finds.length = 0;
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
        // The start and the 3 events, in arrival order; no timer.
        expect(item?.messages.map((m) => m.event.type === 'EventRaised' ? m.event.name : m.event.type)).toEqual(['ExecutionStarted', 'e-0', 'e-1', 'e-2']);
        const reads = finds.filter((command) => command['find'] === store.collections.messages);
        expect(reads).toHaveLength(2);
        let keys = 0;
        let docs = 0;
        for (const sent of reads) {
          const { find, filter, hint, projection, sort, limit } = sent;
          const query = Object.fromEntries(Object.entries({ find, filter, hint, projection, sort, limit }).filter(([, v]) => v !== undefined));
          const plan = await client.db(db.name).command({ explain: query, verbosity: 'executionStats' });
          const stats = plan['executionStats'] as { totalKeysExamined: number; totalDocsExamined: number };
          expect(JSON.stringify(plan['queryPlanner']?.['winningPlan'])).toContain('"instance_due_seq"');
          keys += stats.totalKeysExamined;
          docs += stats.totalDocsExamined;
        }
        // The 4 messages claimed (the due timers' seqs are read from index keys alone: none here), and a key or two more
        // per read where its scan meets the end of its ranges (the due read's are two: before and after EPOCH): not the
        // thousand timers. No third read: no timer is due, so no document is read by seq.
        expect(docs).toBeLessThanOrEqual(4);
        expect(keys).toBeLessThanOrEqual(4 + 6);
        // The shape before instance_due_seq (one read in seq order, due checked on each document) visits every timer.
        const before = await client.db(db.name).collection(store.collections.messages)
          .find({ instanceId: 'timers', due: { $lte: new Date() } }).sort({ seq: 1 }).hint({ instanceId: 1, seq: 1 }).limit(100)
          .explain('executionStats');
        expect((before['executionStats'] as { totalDocsExamined: number }).totalDocsExamined).toBeGreaterThanOrEqual(1_000);
        // A timer that came due is taken too, in arrival order with the events after it.
        await store.abandonOrchestration('timers', item!.lease.token);
        finds.length = 0;
        const late = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date(far + 1) });
        expect(late?.messages.map((m) => m.event.type === 'EventRaised' ? m.event.name : m.event.type)).toEqual(['ExecutionStarted', 't-0', 't-1', 'e-0', 'e-1', 'e-2']);
        // The due timers' seqs come from index keys alone (their sort holds numbers, not message texts), and their
        // documents are then read by seq: two of each, not the 998 timers still waiting.
        const lateReads = finds.filter((command) => command['find'] === store.collections.messages);
        expect(lateReads).toHaveLength(3);
        for (const [i, sent] of lateReads.entries()) {
          const { find, filter, hint, projection, sort, limit } = sent;
          const query = Object.fromEntries(Object.entries({ find, filter, hint, projection, sort, limit }).filter(([, v]) => v !== undefined));
          const plan = await client.db(db.name).command({ explain: query, verbosity: 'executionStats' });
          const stats = plan['executionStats'] as { totalKeysExamined: number; totalDocsExamined: number };
          if (i === 0) expect(stats.totalDocsExamined, 'the read of due seqs').toBe(0);
          expect(stats.totalDocsExamined).toBeLessThanOrEqual(4);
          expect(stats.totalKeysExamined).toBeLessThanOrEqual(4 + 3);
        }
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('reads a claim\u2019s due timers in a session of their own, after the same lease write as its messages visible at once', async () => {
      // Behind a load balancer the driver pins a session's connection for its cursors and unpins it whenever one of them
      // closes outside a transaction (driver 7.8 AbstractCursor.cleanup): with both reads in the claim's one session, a
      // due page that closed sent the at-once cursor's getMore and killCursors over another connection, maybe to another
      // mongos (CursorNotFound: the lease released, the claim failed). Each read now has its session, both causal.
      const { client, commands: finds, store } = await recording('find', 'claimsessions');
      try {
        await store.commit(start('two-reads'));
        const due = new Date(Date.now() + 60_000);
        const timer: OrchestrationMessage = {
          id: 'timer', instanceId: 'two-reads', visibleAt: due, event: { type: 'EventRaised', eventId: -1, timestamp: new Date().toISOString(), name: 'timer' },
        };
        await store.commit({ requests: [{ type: 'insertMessage', message: timer, ifMissing: 'fail' }] });
        finds.length = 0;
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date(due.getTime() + 1) });
        expect(item?.messages.map((m) => m.event.type === 'EventRaised' ? m.event.name : m.event.type)).toEqual(['ExecutionStarted', 'timer']);
        const reads = finds.filter((command) => command['find'] === store.collections.messages);
        // The read of the messages visible at once names due EPOCH; the due timers' two: a page of seqs, their documents.
        const atOnce = reads.filter((command) => (command['filter'] as { due?: unknown }).due instanceof Date);
        const timers = reads.filter((command) => !atOnce.includes(command));
        expect(atOnce).toHaveLength(1);
        expect(timers).toHaveLength(2);
        const lsid = (command: Document) => JSON.stringify(command['lsid']);
        const after = (command: Document) => (command['readConcern'] as { afterClusterTime?: Timestamp } | undefined)?.afterClusterTime;
        const leaseWrite = after(atOnce[0]!);
        expect(leaseWrite).toBeDefined();
        for (const command of timers) {
          expect(lsid(command)).not.toBe(lsid(atOnce[0]!));
          expect(lsid(command)).toBe(lsid(timers[0]!));
          expect(after(command), JSON.stringify(command)).toBeDefined();
          expect(compareTimestamps(after(command)!, leaseWrite!)).toBeGreaterThanOrEqual(0);
        }
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('an unclaimed write\'s check reads no pending timer of its instance (explain executionStats)', async () => {
      const { client, commands: finds, store } = await recording('find', 'unclaimed-timers');
      try {
        await store.commit(start('idle'));
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
        await store.commit({
          lease: { kind: 'orchestration', instanceId: 'idle', token: item!.lease.token },
          requests: [{ type: 'deleteMessages', instanceId: 'idle', messageIds: item!.messages.map((m) => m.id) }],
        });
        const far = new Date(Date.now() + 86_400_000);
        await store.commit({
          requests: Array.from({ length: 500 }, (_, i) => ({
            type: 'insertMessage' as const, ifMissing: 'fail' as const,
            message: { id: `t-${i}`, instanceId: 'idle', visibleAt: new Date(far.getTime() + i), event: { type: 'EventRaised' as const, eventId: -1, timestamp: new Date().toISOString(), name: `t-${i}` } },
          })),
        });
        const state = (await store.getInstance('idle'))!;
        finds.length = 0;
        // A client's command on an instance no worker holds, as a commit of no request: its check reads the
        // instance, then the messages visible at its time (none: every timer is a day away), so it holds.
        await store.commit({
          lease: { kind: 'unclaimed', instanceId: 'idle', executionId: state.executionId, version: state.version, now: new Date() }, requests: [],
        });
        const reads = finds.filter((command) => command['find'] === store.collections.messages);
        expect(reads).toHaveLength(2);
        for (const sent of reads) {
          const { find, filter, hint, projection, sort, limit } = sent;
          const query = Object.fromEntries(Object.entries({ find, filter, hint, projection, sort, limit }).filter(([, v]) => v !== undefined));
          const plan = await client.db(db.name).command({ explain: query, verbosity: 'executionStats' });
          const stats = plan['executionStats'] as { totalKeysExamined: number; totalDocsExamined: number };
          expect(stats.totalDocsExamined).toBe(0);
          expect(stats.totalKeysExamined).toBeLessThanOrEqual(3);
        }
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('bounds a suspend\u2019s check of a large backlog: one batch of messages, refused past UNCLAIMED_SCAN_LIMIT', async () => {
      const { client, commands: finds, store } = await recording('find', 'unclaimed-backlog');
      try {
        await store.commit(start('busy'));
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
        await store.commit({
          lease: { kind: 'orchestration', instanceId: 'busy', token: item!.lease.token },
          requests: [{ type: 'deleteMessages', instanceId: 'busy', messageIds: item!.messages.map((m) => m.id) }],
        });
        const raise = (from: number, count: number) => store.commit({
          requests: Array.from({ length: count }, (_, i) => ({
            type: 'insertMessage' as const, ifMissing: 'fail' as const,
            message: { id: `e-${from + i}`, instanceId: 'busy', event: { type: 'EventRaised' as const, eventId: -1, timestamp: new Date().toISOString(), name: 'go' } },
          })),
        });
        const suspendCheck = async () => {
          const state = (await store.getInstance('busy'))!;
          finds.length = 0;
          return store.commit({
            lease: { kind: 'unclaimed', instanceId: 'busy', executionId: state.executionId, version: state.version, now: new Date(), command: 'suspend' }, requests: [],
          }).then(() => 'holds', (error: { code?: string }) => error.code);
        };
        // Under the limit: the events do not hold a suspend back, read in one batch (no getMore).
        await raise(0, UNCLAIMED_SCAN_LIMIT - 1);
        expect(await suspendCheck()).toBe('holds');
        expect(finds.filter((command) => command['find'] === store.collections.messages).length).toBeLessThanOrEqual(2);
        // Past it: refused (the client then queues the command for a worker), having read one batch only.
        await raise(UNCLAIMED_SCAN_LIMIT, 10);
        expect(await suspendCheck()).toBe('lease-lost');
        expect(finds.filter((command) => command['find'] === store.collections.messages).length).toBeLessThanOrEqual(2);
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('pages a rare status among many others visiting about one page of keys (explain executionStats)', async () => {
      const { client, commands: finds, store } = await recording('find', 'status-page');
      try {
        const instances = client.db(db.name).collection<InstanceDoc>(store.collections.instances);
        for (let i = 0; i < 1_000; i += 100) {
          await store.commit({ requests: Array.from({ length: 100 }, (_, j) => start(`done-${i + j}`).requests[0]!) });
        }
        for (let i = 0; i < 5; i++) await store.commit(start(`run-${i}`));
        // As if the first thousand had completed: only the indexed status matters to the query's plan.
        await instances.updateMany({ _id: { $regex: '^done-' } }, { $set: { runtimeStatus: 'Completed' } });
        finds.length = 0;
        const first = await store.queryInstances({ runtimeStatus: ['Pending'], pageSize: 2 });
        expect(first.instances.map((s) => s.instanceId)).toEqual(['run-0', 'run-1']);
        const second = await store.queryInstances({ runtimeStatus: ['Pending'], pageSize: 2, continuationToken: first.continuationToken! });
        expect(second.instances.map((s) => s.instanceId)).toEqual(['run-2', 'run-3']);
        // Two statuses: one scan per status merged in page order (no sort of every match in memory).
        const both = await store.queryInstances({ runtimeStatus: ['Pending', 'Running'], pageSize: 2, continuationToken: first.continuationToken! });
        expect(both.instances.map((s) => s.instanceId)).toEqual(['run-2', 'run-3']);
        const reads = finds.filter((command) => command['find'] === store.collections.instances);
        expect(reads).toHaveLength(3);
        for (const sent of reads) {
          const { find, filter, projection, sort, limit } = sent;
          const plan = await client.db(db.name).command({ explain: { find, filter, projection, sort, limit }, verbosity: 'executionStats' });
          const stats = plan['executionStats'] as { totalKeysExamined: number; totalDocsExamined: number };
          // A page of 2 (and the one more that says there is a next page): not the thousand completed instances.
          expect(stats.totalKeysExamined).toBeLessThanOrEqual(10);
          expect(stats.totalDocsExamined).toBeLessThanOrEqual(10);
        }
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('purges by name finding its candidates on index keys alone, however many instances of that name still run (explain executionStats)', async () => {
      const { client, commands: finds, store } = await recording('find', 'name-purge');
      try {
        const instances = client.db(db.name).collection<InstanceDoc>(store.collections.instances);
        const named = (instanceId: string, name: string): WriteSet['requests'][number] => {
          const { state, message } = request(instanceId);
          return { type: 'createInstance', state: { ...state, name }, message, ifRunning: { kind: 'fail' } };
        };
        await store.commit({ requests: Array.from({ length: 100 }, (_, i) => named(`run-${i}`, 'Orders')) });
        await store.commit({ requests: Array.from({ length: 10 }, (_, i) => named(`done-${i}`, 'Orders')) });
        await store.commit({ requests: Array.from({ length: 20 }, (_, i) => named(`other-${i}`, 'Billing')) });
        // As if those had completed: the purge decides by the indexed status.
        await instances.updateMany({ _id: { $regex: '^(done|other)-' } }, { $set: { runtimeStatus: 'Completed' } });
        finds.length = 0;
        expect(await store.purgeInstances({ createdTimeFrom: EPOCH, name: ['Orders'] })).toBe(10);
        expect(await instances.countDocuments({ _id: { $regex: '^(run|other)-' } })).toBe(120);
        // The scan the purge sent (projection _id alone), explained as sent: no document read, and only the keys of
        // the completed instances of that name (the running ones and the other name's are outside its bounds).
        const scans = finds.filter((command) => command['find'] === store.collections.instances && command['hint'] !== undefined);
        expect(scans).toHaveLength(1);
        const { find, filter, projection, hint } = scans[0]!;
        // Explained after the purge, so with something left to find: the other name's twenty, renamed.
        await instances.updateMany({ _id: { $regex: '^other-' } }, { $set: { name: 'Orders' } });
        const plan = await client.db(db.name).command({ explain: { find, filter, projection, hint }, verbosity: 'executionStats' });
        const stats = plan['executionStats'] as { nReturned: number; totalKeysExamined: number; totalDocsExamined: number };
        expect(stats.nReturned).toBe(20);
        expect(stats.totalDocsExamined).toBe(0);
        expect(stats.totalKeysExamined).toBeLessThanOrEqual(22);
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('changes$ completes the step snapshots of instances whose start it never saw with their inputs, read in batches', async () => {
      const prefix = db.prefix('inputs');
      const writer = await db.open('inputs', { prefix });
      await Promise.all(Array.from({ length: 150 }, (_, i) => writer.commit(start(`in-${i}`, { n: i, $key: 'x', 'a.b': [i] }))));
      // A second handle: its input cache has seen none of the starts, so every step event misses it.
      const watcher = await db.open('inputs', { prefix });
      const seen = new Map<string, unknown>();
      const all = firstValueFrom(watcher.changes$.pipe(
        filter((change) => change.state?.customStatus === 'stepped'),
        filter((change) => {
          seen.set(change.instanceId, change.state?.input);
          return seen.size === 150;
        }),
        take(1), timeout(60_000),
      ));
      try {
        await stepAll(writer);
        await all;
        for (let i = 0; i < 150; i++) expect(seen.get(`in-${i}`), `in-${i}`).toEqual({ n: i, $key: 'x', 'a.b': [i] });
      } finally {
        await watcher.close();
        await writer.close();
      }
    });

    it('close() waits for the input reads of its status feed: none is still running on an application-owned client', async (context) => {
      const prefix = db.prefix('closing');
      const writer = await db.open('closing', { prefix });
      await Promise.all(Array.from({ length: 150 }, (_, i) => writer.commit(start(`cl-${i}`, { n: i }))));
      // The watcher's finds are held by the server (failCommand, scoped to its appName), so an input read is still in
      // flight when close() is called, however fast the machine: close() must wait for it. Needs test commands
      // (mongod --setParameter enableTestCommands=1).
      const appName = `drx-closing-${process.pid}`;
      const client = new MongoClient(mongoUri, { monitorCommands: true, appName });
      const running = new Set<number>();
      let readStarted!: () => void;
      const inputReadStarted = new Promise<void>((resolve) => (readStarted = resolve));
      client.on('commandStarted', (event) => {
        const filter = event.command['filter'] as { _id?: { $in?: unknown } } | undefined;
        if (event.commandName === 'find' && event.command['find'] === `${prefix}instances` && filter?._id?.$in !== undefined) {
          running.add(event.requestId);
          readStarted();
        }
      });
      const ended = (event: { requestId: number }) => void running.delete(event.requestId);
      client.on('commandSucceeded', ended);
      client.on('commandFailed', ended);
      // A second handle that has seen none of the starts: each step event needs an input read (batches of 100).
      const watcher = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: prefix });
      const admin = new MongoClient(mongoUri);
      await failPointOrSkip(context, 'close() input-read test', () => failCommand(admin, 'alwaysOn', {
        failCommands: ['find'], blockConnection: true, blockTimeMS: 10_000, appName,
      }), () => Promise.all([watcher.close(), client.close(), writer.close(), admin.close()]));
      const subscription = watcher.changes$.subscribe({ error: () => undefined });
      // The writer steps the instances (on its own client, not held) while the watcher reads their inputs.
      const stepping = stepAll(writer);
      try {
        await Promise.race([
          inputReadStarted,
          stepping.then(() => new Promise((_, reject) => setTimeout(() => reject(new Error('no input read started within 60 s of the last step')), 60_000).unref())),
        ]);
        // The server holds the read for 10 s from its start, so it is in flight now, whatever the machine's load.
        expect(running.size, 'an input read in flight when close() is called').toBeGreaterThan(0);
        await watcher.close();
        expect([...running], 'input reads still running after close() resolved').toEqual([]);
        await stepping;
      } finally {
        await stepping.catch(() => undefined);
        subscription.unsubscribe();
        await failCommandOff(admin);
        await admin.close();
        await watcher.close();
        await client.close();
        await writer.close();
      }
    });

    it('close() of a store on its own client ends while the server holds the killCursors of its change stream: the client\u2019s close fails it', async (context) => {
      // The server holds every killCursors of this store's client for 5 min (failCommand, scoped to its appName), as a
      // server that stopped answering holds it until the pool's monitor interrupts it. Before, close() waited for the
      // change stream's close (its killCursors) and only then closed the client: past this test's 2 min. Now the
      // client is closed over it, which fails it at once, and close() ends within CLIENT_CLOSE_WAIT_MS, no warning.
      const prefix = db.prefix('killheld');
      const appName = `drx-killheld-${process.pid}`;
      const warnings: string[] = [];
      const store = await db.open('killheld', { prefix, clientOptions: { appName }, logger: { warn: (message) => void warnings.push(message), error: () => undefined } });
      const admin = new MongoClient(mongoUri);
      const subscription = store.changes$.subscribe({ error: () => undefined }); // the stream stays open until close()
      try {
        await holdKillCursorsOfOpenStream(context, store, admin, appName, 'kh');
        await store.close();
        expect(warnings.filter((message) => message.includes('had not closed'))).toEqual([]);
        await expect(store.getInstance('kh')).rejects.toMatchObject({ code: 'store-closed' });
      } finally {
        subscription.unsubscribe();
        await failCommandOff(admin);
        await admin.close();
        await store.close();
      }
    });

    it('close() of a store on an application\u2019s client ends within CLIENT_CLOSE_WAIT_MS while the server holds the killCursors of its change stream, with a warning', async (context) => {
      // The same hold on a client the store must not close: close() waited for the killCursors as long as the server
      // held it (5 min here). Now it stops after 5 s and says so; the subscribers completed, the application's close
      // of its client ends the killCursors.
      const appName = `drx-killheldapp-${process.pid}`;
      const client = new MongoClient(mongoUri, { appName });
      const admin = new MongoClient(mongoUri);
      const warnings: string[] = [];
      const store = await MongoStore.connect({
        client, dbName: db.name, collectionPrefix: db.prefix('killheldapp'),
        logger: { warn: (message) => void warnings.push(message), error: () => undefined },
      });
      let completed = false;
      const subscription = store.changes$.subscribe({ error: () => undefined, complete: () => void (completed = true) });
      try {
        await holdKillCursorsOfOpenStream(context, store, admin, appName, 'kha');
        await store.close();
        expect(warnings.filter((message) => message.includes('had not ended after'))).toHaveLength(1);
        expect(completed).toBe(true);
        await expect(store.getInstance('kha')).rejects.toMatchObject({ code: 'store-closed' });
      } finally {
        subscription.unsubscribe();
        await failCommandOff(admin);
        await admin.close();
        await store.close();
        await client.close();
      }
    });

    it('tells every process when a timer left by another process\'s commit comes due (its wake-up feed arms a timer)', async () => {
      const prefix = db.prefix('timer');
      const writer = await db.open('timer', { prefix });
      const clock = new VirtualClock(new Date());
      // No clock check on this clock, so its only timers are the store's (on a mongos the periodic majority read adds one).
      const other = await db.open('timer', { prefix, clock, clockSkewCheckMs: 0 });
      const signals: number[] = [];
      const subscription = other.workAvailable$.subscribe(() => signals.push(clock.now().getTime()));
      try {
        await writer.commit(start('sleeper'));
        const item = await writer.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
        expect(item?.state.instanceId).toBe('sleeper');
        const fireAt = new Date(clock.now().getTime() + 3_600_000);
        const timer: OrchestrationMessage = {
          id: crypto.randomUUID(), instanceId: 'sleeper', visibleAt: fireAt,
          event: { type: 'EventRaised', eventId: -1, timestamp: new Date().toISOString(), name: 'wake' },
        };
        // The step consumes its message and leaves only the timer, releasing the lease: no handoff, claimAt = fireAt.
        await writer.commit({
          lease: { kind: 'orchestration', instanceId: 'sleeper', token: item!.lease.token },
          requests: [
            { type: 'deleteMessages', instanceId: 'sleeper', messageIds: item!.messages.map((m) => m.id) },
            { type: 'insertMessage', message: timer, ifMissing: 'drop' },
          ],
        });
        // The other process's wake-up feed delivers the release with its claimAt: a timer for fireAt on its clock.
        const deadline = Date.now() + 30_000;
        while (clock.nextTimerAt?.getTime() !== fireAt.getTime() && Date.now() < deadline) {
          await Promise.race([clock.waitForTimer(), new Promise((resolve) => setTimeout(resolve, 100))]);
        }
        expect(clock.nextTimerAt).toEqual(fireAt);
        const before = signals.length;
        await clock.advanceTo(fireAt);
        expect(signals.slice(before)).toContain(fireAt.getTime());
      } finally {
        subscription.unsubscribe();
        await other.close();
        await writer.close();
      }
    });

    it('gives instances of the layout before claimAt their claimAt at connect, and leaves foreign documents alone', async () => {
      const prefix = db.prefix('fill');
      const first = await db.open('fill', { prefix });
      const client = new MongoClient(mongoUri);
      try {
        const later = new Date(Date.now() + 86_400_000);
        await first.commit(start('fill-now'));
        await first.commit(start('fill-later', undefined, later));
        await first.close();
        // What the earlier layout left: no claimAt (and one document MongoStore never wrote).
        const instances = client.db(db.name).collection<{ _id: string; claimAt?: Date }>(`${prefix}instances`);
        await instances.updateMany({}, { $unset: { claimAt: '' } });
        await instances.insertOne({ _id: 'foreign' });
        const second = await db.open('fill', { prefix });
        try {
          expect((await instances.findOne({ _id: 'fill-now' }))?.claimAt).toEqual(new Date(0));
          expect((await instances.findOne({ _id: 'fill-later' }))?.claimAt).toEqual(later);
          // Claimed under a lease longer than the wait, so the next wake-up is the timer.
          expect((await second.claimOrchestration({ owner: 'w', leaseMs: 2 * 86_400_000, now: new Date() }))?.state.instanceId).toBe('fill-now');
          expect(await second.nextWakeTime(new Date())).toEqual(later);
        } finally {
          await second.close();
        }
      } finally {
        await client.close();
      }
    });

    it('gives instances written before tagKeys was kept their tagKeys at connect: listed and purged by tags, only those that match', async () => {
      const prefix = db.prefix('filltags');
      const first = await db.open('filltags', { prefix });
      const client = new MongoClient(mongoUri);
      try {
        for (const [id, tags] of [['t-acme', { tenant: 'acme' }], ['t-both', { tenant: 'acme', region: 'eu' }], ['t-globex', { tenant: 'globex' }], ['t-none', undefined]] as const) {
          const { state, message } = request(id);
          await first.commit({ requests: [{ type: 'createInstance', state: { ...state, ...(tags ? { tags } : {}) }, message, ifRunning: { kind: 'fail' } }] });
        }
        await first.close();
        // What the earlier version left: no tagKeys.
        const instances = client.db(db.name).collection<{ _id: string; tagKeys?: string[]; runtimeStatus: string }>(`${prefix}instances`);
        await instances.updateMany({}, { $unset: { tagKeys: '' } });
        const second = await db.open('filltags', { prefix });
        try {
          expect((await instances.findOne({ _id: 't-both' }))?.tagKeys).toEqual(['["region","eu"]', '["tenant","acme"]']);
          expect((await instances.findOne({ _id: 't-none' }))?.tagKeys).toEqual(['{}']);
          const ids = async (tags: Record<string, string>) => (await second.queryInstances({ tags })).instances.map((s) => s.instanceId).sort();
          expect(await ids({ tenant: 'acme' })).toEqual(['t-acme', 't-both']);
          expect(await ids({ region: 'eu', tenant: 'acme' })).toEqual(['t-both']);
          // Terminal, all of them: a purge by tags deletes only the ones with every pair.
          await instances.updateMany({}, { $set: { runtimeStatus: 'Completed' } });
          expect(await second.purgeInstances({ createdTimeFrom: new Date(0), tags: { tenant: 'acme', region: 'eu' } })).toBe(1);
          expect((await instances.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id).sort()).toEqual(['t-acme', 't-globex', 't-none']);
        } finally {
          await second.close();
        }
      } finally {
        await client.close();
      }
    });

    it('keeps the end order of listEnded off running instances, fills it in at connect for ended ones without it, and pages past one left under a stale end time', async () => {
      const prefix = db.prefix('endorder');
      const first = await db.open('endorder', { prefix });
      const client = new MongoClient(mongoUri);
      try {
        const instances = client.db(db.name).collection<{ _id: string; lastUpdatedTime?: Date | null; idOrder?: string }>(`${prefix}instances`);
        const t0 = new Date(Date.now() - 60_000);
        const at = (ms: number) => new Date(t0.getTime() + ms);
        const create = async (id: string, runtimeStatus: InstanceState['runtimeStatus'], ms: number) => {
          const { state, message } = request(id);
          await first.commit({ requests: [{ type: 'createInstance', state: { ...state, runtimeStatus, lastUpdatedTime: at(ms) }, message, ifRunning: { kind: 'fail' } }] });
        };
        // A running instance has no end time, so its steps leave its `ended` key alone.
        await create('o-run', 'Running', 100);
        expect((await instances.findOne({ _id: 'o-run' }))?.lastUpdatedTime).toBeNull();
        for (const [id, ms] of [['o-a', 500], ['o-b', 3000], ['o-c', 4000], ['o-old', 6000], ['o-stale', 8000], ['o-z', 9000]] as const) await create(id, 'Completed', ms);
        expect((await instances.findOne({ _id: 'o-a' }))?.lastUpdatedTime).toEqual(at(500));
        await first.close();
        // What earlier versions leave: o-old without the fields (ended before they were kept, or by such a version
        // since), o-stale under the time of an earlier end (restarted and ended again by such a version).
        await instances.updateOne({ _id: 'o-old' }, { $unset: { lastUpdatedTime: '', idOrder: '' } });
        await instances.updateOne({ _id: 'o-stale' }, { $set: { lastUpdatedTime: at(1000) } });
        const second = await db.open('endorder', { prefix });
        try {
          expect(await instances.findOne({ _id: 'o-old' })).toMatchObject({ lastUpdatedTime: at(6000), idOrder: 'o-old' });
          // Paged two at a time from the sweep's own resume keys: o-stale, listed under 1000, would have made the next
          // page start after its state's key (8000), skipping o-b, o-c and o-old; it is left out there and listed at 8000.
          const query: EndedQuery = { runtimeStatus: 'Completed', endedTo: at(10_000), limit: 2 };
          const listed: string[] = [];
          for (let page = await second.listEnded(query); ; ) {
            listed.push(...page.map((state) => state.instanceId));
            if (page.length < 2) break;
            page = await second.listEnded({ ...query, after: endedKeyOf(page.at(-1)!) });
          }
          expect(listed).toEqual(['o-a', 'o-b', 'o-c', 'o-old', 'o-stale', 'o-z']);
          expect((await instances.findOne({ _id: 'o-stale' }))?.lastUpdatedTime).toEqual(at(8000));
        } finally {
          await second.close();
        }
      } finally {
        await client.close();
      }
    });

    it('never sends two operations of one session at once: a query by several tags counts its pairs outside the read\u2019s session', async () => {
      // The counts that choose the lead tag pair ran with Promise.all in the query's causal session, which carries
      // one operation at a time (MongoDB's sessions, and the driver's documentation of ClientSession).
      const client = new MongoClient(mongoUri, { monitorCommands: true });
      const inFlight = new Map<number, string>();
      const overlaps: string[] = [];
      client.on('commandStarted', (event) => {
        const lsid = JSON.stringify(event.command['lsid'] ?? null);
        if (lsid !== 'null' && [...inFlight.values()].includes(lsid)) overlaps.push(`${event.commandName} ${lsid}`);
        inFlight.set(event.requestId, lsid);
      });
      const done = (event: { requestId: number }) => inFlight.delete(event.requestId);
      client.on('commandSucceeded', done);
      client.on('commandFailed', done);
      const store = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: db.prefix('tagsession') });
      try {
        for (const [id, tags] of [['s-1', { tenant: 'acme', region: 'eu' }], ['s-2', { tenant: 'acme', region: 'us' }], ['s-3', { tenant: 'globex', region: 'eu' }]] as const) {
          const { state, message } = request(id);
          await store.commit({ requests: [{ type: 'createInstance', state: { ...state, tags }, message, ifRunning: { kind: 'fail' } }] });
        }
        await store.flushSweeps();
        overlaps.length = 0;
        const page = await store.queryInstances({ tags: { tenant: 'acme', region: 'eu' } });
        expect(page.instances.map((s) => s.instanceId)).toEqual(['s-1']);
        expect(overlaps).toEqual([]);
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('judges this process\u2019s clock, not the claim\u2019s: a claim at a time of its own (an hour ahead) is not refused', async () => {
      const store = await db.open('skewclaim', { refuseClaimsOnClockSkew: true, clockSkewCheckMs: 0 });
      try {
        await store.commit(start('skewed'));
        expect((await store.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: new Date(Date.now() + 3_600_000) }))?.state.instanceId).toBe('skewed');
      } finally {
        await store.close();
      }
    });

    it('checks the clock against the server again on its own timer, and stops with close', async () => {
      const clock = new VirtualClock(new Date());
      const store = await db.open('skew', { clock, clockSkewCheckMs: 5_000 });
      try {
        const atConnect = store.clockSkew;
        expect(atConnect).toBeDefined();
        await clock.advance(5_000);
        await vi.waitFor(() => expect(store.clockSkew).not.toBe(atConnect), { timeout: 30_000, interval: 50 });
        expect(Math.abs(store.clockSkew!.skewMs)).toBeLessThan(60_000);
      } finally {
        await store.close();
      }
      expect(clock.pendingTimers).toBe(0);
    });

    it('status$ subscribed while another process commits shows that commit: no gap between its read and its stream', async () => {
      // The subscriber's stream opens at a majority-committed time and its first read is a majority read; opening at
      // the newer gossiped cluster time could skip a commit that the read does not see yet (replication lag).
      const prefix = db.prefix('gap');
      const writer = await db.open('gap-writer', { prefix });
      const reader = await db.open('gap-reader', { prefix, feedLingerMs: 0 });
      const client = createClient({ store: reader });
      try {
        for (let i = 0; i < 50; i++) {
          const id = `gap-${i}`;
          const committed = writer.commit(start(id));
          const seen = firstValueFrom(client.status$(id).pipe(filter((s) => s !== undefined), timeout({ first: 60_000 })));
          await committed;
          expect((await seen)?.instanceId).toBe(id);
        }
      } finally {
        await reader.close();
        await writer.close();
      }
    });

    it('status$ of instances watched one after another shows each start another process commits, while the stream reopens at most the burst and once to carry every instance', async () => {
      // Each new watch the stream's $match does not name reopens it after its last token (nothing missed, nothing
      // repeated); past WATCH_REOPEN_BURST quick reopens it names no instance and new watches need no reopen.
      const prefix = db.prefix('churn');
      const writer = await db.open('churn-writer', { prefix });
      const monitored = new MongoClient(mongoUri, { monitorCommands: true });
      let streamsOpened = 0;
      monitored.on('commandStarted', (event) => {
        const pipeline: unknown = event.command['pipeline'];
        if (event.commandName === 'aggregate' && Array.isArray(pipeline) && pipeline.some((stage: Document) => '$changeStream' in stage)) streamsOpened++;
      });
      // The reader's clock stands still: its reopen budget refills on that clock, so no token comes back mid-test
      // however slow the machine is (the assertion below counts the burst exactly).
      const reader = await MongoStore.connect({ client: monitored, dbName: db.name, collectionPrefix: prefix, feedLingerMs: 0, clock: new VirtualClock() });
      const client = createClient({ store: reader });
      const held = client.status$('churn-anchor').subscribe(); // keeps the per-instance stream open throughout
      try {
        const count = 3 * WATCH_REOPEN_BURST;
        for (let i = 0; i < count; i++) {
          const id = `churn-${i}`;
          const seen = firstValueFrom(client.status$(id).pipe(filter((s) => s !== undefined), timeout({ first: 60_000 })));
          await writer.commit(start(id));
          expect((await seen)?.instanceId).toBe(id);
        }
        // The first open, one reopen per new watch of the burst, one to carry every instance; none after.
        expect(streamsOpened).toBeLessThanOrEqual(1 + WATCH_REOPEN_BURST + 1);
      } finally {
        held.unsubscribe();
        await reader.close();
        await monitored.close();
        await writer.close();
      }
    });

    it('the majority read that moves stream starts on a mongos returns a time at or after every majority write acknowledged before it', async () => {
      // On a sharded cluster this read is the only source of majority-committed times for a process that does not
      // commit (hello carries no lastWrite there); it must reach a shard and report that shard's majority commit point.
      const store = await open();
      const client = new MongoClient(mongoUri);
      const session = client.startSession({ causalConsistency: true });
      try {
        const coll = client.db(db.name).collection(store.collections.instances);
        for (let i = 0; i < 20; i++) {
          await coll.insertOne({ _id: `probe-${i}` } as Document, { session, writeConcern: { w: 'majority' } });
          const written = session.operationTime;
          const read = majorityReadTimeOf(await client.db(db.name).command(majorityProbe(store.collections.instances), { signal: AbortSignal.timeout(30_000) }));
          if (!written || !read) throw new Error(`no operationTime: write ${String(written)}, read ${String(read)}`);
          expect(compareTimestamps(read, written)).toBeGreaterThanOrEqual(0);
        }
      } finally {
        await session.endSession();
        await client.close();
        await store.close();
      }
    });

    it('keeps the status feed across a drop of the instances collection: it starts after the invalidate event', async () => {
      const { store, errors } = await openLogging('invalidate');
      const raw = new MongoClient(mongoUri);
      try {
        const seen = (id: string) => firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === id), take(1), timeout({ first: 60_000 })));
        const before = seen('before-drop');
        await store.commit(start('before-drop'));
        await before;
        await raw.db(db.name).collection(store.collections.instances).drop();
        const after = seen('after-drop');
        await store.commit(start('after-drop'));
        expect((await after).state).toMatchObject({ instanceId: 'after-drop', version: 1 });
        expect(errors, 'no lost position, no resync').toEqual([]);
      } finally {
        await raw.close();
        await store.close();
      }
    });

    it('narrows the per-instance stream again when the watched instances fit maxWatchedInstances after a spike: no other instance\u2019s commit is sent', async () => {
      // Three watched with maxWatchedInstances 2: the $match names no instance, and every commit of the collection is
      // sent. The watch that ends brings them within the bound: the stream is reopened naming the two left.
      const prefix = db.prefix('narrow');
      const writer = await db.open('narrow-writer', { prefix });
      const monitored = new MongoClient(mongoUri, { monitorCommands: true });
      const sent = new Set<string>();
      monitored.on('commandSucceeded', (event) => {
        const cursor = (event.reply as Document)['cursor'] as { firstBatch?: Document[]; nextBatch?: Document[] } | undefined;
        for (const change of [...(cursor?.firstBatch ?? []), ...(cursor?.nextBatch ?? [])]) {
          const key: unknown = (change['documentKey'] as Document | undefined)?.['_id'];
          if (typeof key === 'string') sent.add(key);
        }
      });
      // A clock that stands still: the reopen budget (a burst of ten) is not refilled mid-test, and is enough here.
      const reader = await MongoStore.connect({
        client: monitored, dbName: db.name, collectionPrefix: prefix, feedLingerMs: 0, maxWatchedInstances: 2, clock: new VirtualClock(),
      });
      const seen = (id: string) => firstValueFrom(reader.instanceChanges$(id).pipe(filter((c) => c.state !== undefined), timeout({ first: 60_000 })));
      const watching = ['narrow-a', 'narrow-b', 'narrow-c'].map((id) => reader.instanceChanges$(id).subscribe());
      try {
        const b = seen('narrow-b');
        await writer.commit(start('narrow-other-1'));
        await writer.commit(start('narrow-b'));
        await b; // the stream delivers in commit order: the other instance's commit was sent before
        expect(sent.has(instanceKey('narrow-other-1')), 'sent while past the bound').toBe(true);
        watching[2]?.unsubscribe();
        const a = seen('narrow-a');
        await writer.commit(start('narrow-other-2'));
        await writer.commit(start('narrow-a'));
        await a;
        expect(sent.has(instanceKey('narrow-other-2')), 'not sent once the stream names a and b').toBe(false);
      } finally {
        for (const subscription of watching) subscription.unsubscribe();
        await reader.close();
        await monitored.close();
        await writer.close();
      }
    });

    it('reopens the per-instance stream for Y right after X, no longer watched, changed: Y\u2019s change arrives, no position lost', async () => {
      // The stream's last token is X's event; the reopened $match names Y. MongoDB 6.0+ filters the oplog with the
      // $match before it looks for the token: without X kept in it, ChangeStreamFatalError 280, a logged error and a
      // resync. (waitForCompletion(X) resolving and unsubscribing, then a start and watch of Y, is this sequence.)
      const { store, errors } = await openLogging('unwatched');
      const seen = (id: string) => firstValueFrom(store.instanceChanges$(id).pipe(filter((c) => c.state !== undefined), timeout({ first: 60_000 })));
      try {
        // Three rounds: five reopens, within the reopen burst (a wider $match would hide the case).
        for (let i = 0; i < 3; i++) {
          const x = seen(`unwatched-x${i}`);
          await store.commit(start(`unwatched-x${i}`));
          await x; // firstValueFrom unsubscribes: X is no longer watched
          const y = seen(`unwatched-y${i}`);
          await store.commit(start(`unwatched-y${i}`));
          expect((await y).instanceId).toBe(`unwatched-y${i}`);
        }
        expect(errors, 'no lost position, no resync').toEqual([]);
      } finally {
        await store.close();
      }
    });

    it('commits with a transaction read concern MongoDB allows (majority); the driver refuses a transaction that reads off the primary, as connect does', async () => {
      const store = await db.open('txn-options', { transactionOptions: { readConcern: { level: 'majority' } } });
      const raw = new MongoClient(mongoUri);
      const session = raw.startSession();
      try {
        await store.commit(start('txn-majority'));
        expect((await store.getInstance('txn-majority'))?.version).toBe(1);
        // The premise of transactionOptionsProblem: such a transaction fails at its first read, whatever the server.
        const refused = session.withTransaction(
          async (s) => raw.db(db.name).collection(store.collections.instances).findOne({}, { session: s }),
          { readPreference: 'secondaryPreferred' },
        );
        await expect(refused).rejects.toThrow(/primary/);
      } finally {
        await session.endSession();
        await raw.close();
        await store.close();
      }
    });

    it('opens the per-instance pipeline it builds for 30,000 watched long ids (maxWatchedInstances 100,000): naming them all would be a command MongoDB refuses', async () => {
      const store = await open();
      const raw = new MongoClient(mongoUri);
      try {
        const instances = raw.db(db.name).collection(store.collections.instances);
        // 256 characters of 3 UTF-8 bytes each: the longest keys an id makes (escaped ids aside).
        const longIds = new Set(Array.from({ length: 30_000 }, (_, i) => `${i}`.padEnd(256, '\u20ac')));
        // The premise: the $in of every key is over 16 MiB, and the server (or the driver) refuses to open that stream.
        const unbounded = instances.watch(statusPipeline([...longIds]));
        try {
          await expect(unbounded.tryNext()).rejects.toBeDefined();
        } finally {
          await unbounded.close().catch(() => undefined);
        }
        // What the store builds instead names no instance (watchFilterFor), and delivers the watched ones' changes.
        const filter = watchFilterFor(longIds, 100_000);
        expect(filter).toBeUndefined();
        const stream = instances.watch<Document, Document>(statusPipeline(filter));
        try {
          const target = [...longIds][29_999]!;
          expect(await stream.tryNext(), 'opened at the present, nothing yet').toBeNull();
          await store.commit(start(target));
          expect((await stream.next())['documentKey']).toEqual({ _id: target });
        } finally {
          await stream.close();
        }
      } finally {
        await raw.close();
        await store.close();
      }
    });

    it('names the snapshot a purge deleted on the per-instance feed and changes$ alike (the mark its transaction sets before the delete)', async () => {
      const store = await open();
      try {
        const purgeOf = (changes: Observable<StatusChange>) =>
          firstValueFrom(changes.pipe(filter((c) => c.instanceId === 'marked' && c.state === undefined), timeout({ first: 60_000 })));
        const watched = purgeOf(store.instanceChanges$('marked'));
        const listed = purgeOf(store.changes$);
        const { state, message } = request('marked');
        await store.commit({ requests: [{ type: 'createInstance', state: { ...state, runtimeStatus: 'Completed' }, message, ifRunning: { kind: 'fail' } }] });
        const stored = await store.getInstance('marked');
        expect(await store.purgeInstance('marked')).toBe(1);
        const named = { instanceId: 'marked', state: undefined, purged: { executionId: 'exec-1', version: stored?.version } };
        expect(await watched).toEqual(named);
        expect(await listed).toEqual(named);
      } finally {
        await store.close();
      }
    });

    it('purges by filter across many transactions, reading the matching ids as it goes', async () => {
      const store = await open();
      try {
        // 120 terminal instances: three transactions of 50, and more than one batch of the scan would need at 50.
        for (let i = 0; i < 120; i++) {
          const { state, message } = request(`old-${i}`);
          await store.commit({ requests: [{ type: 'createInstance', state: { ...state, runtimeStatus: 'Completed' }, message, ifRunning: { kind: 'fail' } }] });
        }
        await store.commit(start('still-running'));
        expect(await store.purgeInstances({ createdTimeFrom: new Date(0) })).toBe(120);
        expect((await store.queryInstances({})).instances.map((s) => s.instanceId)).toEqual(['still-running']);
        expect(await store.purgeInstances({ createdTimeFrom: new Date(0) })).toBe(0);
      } finally {
        await store.close();
      }
    });

    it('sends each commit with maxTimeMS 30 s and a longer wtimeout, and does not retry a commit that ran out of time', async (context) => {
      // The bound of a commit no majority acknowledges must be maxCommitTimeMS (never retried by withTransaction), not
      // the write concern's timeout (retried for 120 s); the driver would add a 10 s wtimeout of its own.
      const appName = `drx-commit-${process.pid}`;
      const { client, commands: commits, store } = await recording('commitTransaction', 'commit', appName);
      try {
        await store.commit(start('bounded'));
        expect(commits).toHaveLength(1);
        expect(commits[0]).toMatchObject({ maxTimeMS: 30_000, writeConcern: { w: 'majority', wtimeout: 31_000 } });

        // The server reports that the commit's time ran out while it waited for the majority: the store reports an
        // unknown outcome at once (one commitTransaction sent), instead of retrying the commit.
        const admin = new MongoClient(mongoUri);
        try {
          await failPointOrSkip(context, 'commit time-limit test', () => failCommand(admin, { times: 1 }, {
            failCommands: ['commitTransaction'], appName, writeConcernError: { code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' },
          }));
        } finally {
          await admin.close().catch(() => undefined);
        }
        commits.length = 0;
        await expect(store.commit(start('ran-out'))).rejects.toMatchObject({ code: 'commit-outcome-unknown', status: 503 });
        expect(commits).toHaveLength(1);
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('stops sending a commit whose outcome stays unknown within TRANSACTION_RETRY_MS, with a back-off, and fails with commit-outcome-unknown', async (context) => {
      // A primary that keeps stepping down: the driver sends each commit twice and labels the second failure
      // UnknownTransactionCommitResult. withTransaction sent such commits again at once for 120 s (here: until the
      // fail point ran out, and then the call committed, long after a client would have given up and sent it again).
      await withSteppingDownCommits(context, 'commit retry bound test', 'commitloop', async ({ admin, commands: commits, store }) => {
        commits.length = 0;
        await expect(store.commit(start('stepping-down'))).rejects.toMatchObject({ code: 'commit-outcome-unknown', status: 503 });
        expect(commits.length).toBeGreaterThan(2); // it was sent again
        expect(commits.length).toBeLessThanOrEqual(2 * commitsWithin(TRANSACTION_RETRY_MS));
        // Every repeated commit asks for a majority (the driver adds it to a commit sent again).
        expect(commits.at(-1)).toMatchObject({ writeConcern: { w: 'majority' } });
        await failCommandOff(admin);
        expect(await store.getInstance('stepping-down')).toBeUndefined(); // never committed
      });
    }, 90_000);

    it('sends no commit again once close began, also when close ends the back-off before a commit is sent again', async (context) => {
      // close() ends the back-offs it finds (#pause); the loop then sent the commit once more, and close waited for it.
      await withSteppingDownCommits(context, 'commit retry at close test', 'commitclose', async ({ client, store }) => {
        let failed = 0;
        let closing: Promise<void> | undefined;
        let sentAfterClose = 0;
        client.on('commandStarted', (event) => {
          if (event.commandName === 'commitTransaction' && closing !== undefined) sentAfterClose++;
        });
        client.on('commandFailed', (event) => {
          // The third commitTransaction call failed (each sends two commands): its back-off is 100-200 ms. Close 20 ms
          // into it. (Were the timer late, close would come during a commit: no more than that one's second command.)
          if (event.commandName === 'commitTransaction' && ++failed === 6) setTimeout(() => void (closing = store.close()), 20);
        });
        await expect(store.commit(start('closed-while-unknown'))).rejects.toMatchObject({ code: 'commit-outcome-unknown' });
        expect(closing).toBeDefined();
        await closing;
        expect(sentAfterClose).toBeLessThanOrEqual(1);
      });
    }, 90_000);

    it('stops waiting for a commit that gets no answer at the transaction\u2019s bound, and fails with commit-outcome-unknown before MongoDB replies', async (context) => {
      // A commit that waits for a server (an election: each server selection up to serverSelectionTimeoutMS, and once
      // more for the resend inside commitTransaction) held the call, and close() or a worker's stop with it. Here the
      // server holds the commit's connection for three times the bound; the store answers at the bound, from its own
      // wait (transactionEndWaitMs), while the commit has not replied yet.
      const appName = `drx-commitblock-${process.pid}`;
      const { client, commands: commits, store } = await recording('commitTransaction', 'commitblock', appName);
      let replied = false;
      client.on('commandSucceeded', (event) => void (replied ||= event.commandName === 'commitTransaction'));
      client.on('commandFailed', (event) => void (replied ||= event.commandName === 'commitTransaction'));
      const admin = new MongoClient(mongoUri);
      try {
        await failPointOrSkip(context, 'unanswered commit test', () => failCommand(admin, { times: 1 }, {
          failCommands: ['commitTransaction'], appName, blockConnection: true, blockTimeMS: 3 * TRANSACTION_RETRY_MS, errorCode: 189,
          errorLabels: ['RetryableWriteError'],
        }));
        commits.length = 0;
        await expect(store.commit(start('unanswered'))).rejects.toMatchObject({ code: 'commit-outcome-unknown', status: 503 });
        expect(replied).toBe(false);
        expect(commits).toHaveLength(1);
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close(); // fails the commit still blocked; the store's session then ends
      }
    }, 120_000);

    it('stops waiting for the abort of a refused step at the transaction\u2019s bound, and fails with its own error before the abort replies', async (context) => {
      // A step refused (its lease lost) aborts its transaction; an abort that waits for a server (an election) held the
      // call as long. Here the server holds the abort's connection for three times the bound.
      const appName = `drx-abortblock-${process.pid}`;
      const { client, commands: aborts, store } = await recording('abortTransaction', 'abortblock', appName);
      let replied = false;
      client.on('commandSucceeded', (event) => void (replied ||= event.commandName === 'abortTransaction'));
      client.on('commandFailed', (event) => void (replied ||= event.commandName === 'abortTransaction'));
      const admin = new MongoClient(mongoUri);
      try {
        await store.commit(start('held'));
        const state = (await store.getInstance('held'))!;
        await failPointOrSkip(context, 'unanswered abort test', () => failCommand(admin, { times: 1 }, {
          failCommands: ['abortTransaction'], appName, blockConnection: true, blockTimeMS: 3 * TRANSACTION_RETRY_MS, errorCode: 189,
        }));
        aborts.length = 0;
        const notMine = { kind: 'orchestration', instanceId: 'held', token: 'not-the-holder' } as const;
        await expect(store.commit({ lease: notMine, requests: [{ type: 'replaceState', state: { ...state, runtimeStatus: 'Running', version: state.version + 1 } }] }))
          .rejects.toMatchObject({ code: 'lease-lost' });
        expect(replied).toBe(false);
        expect(aborts).toHaveLength(1);
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close(); // fails the abort still blocked; the store's session then ends
      }
    }, 120_000);

    it('a commit that changes nothing and is not confirmed fails as nothing written (store-unreachable), not as an unknown outcome', async (context) => {
      // The write set of no request over an instance nobody holds (a resume of an instance not suspended: an HTTP
      // retry) writes nothing; its read-only commit can still fail to be confirmed by a majority (MaxTimeMSExpired,
      // UnknownTransactionCommitResult). It applied nothing, so the store must not say it may have applied.
      const appName = `drx-noop-${process.pid}`;
      const { client, store } = await recording('commitTransaction', 'noop', appName);
      const admin = new MongoClient(mongoUri);
      try {
        await store.commit(start('idle'));
        const before = (await store.getInstance('idle'))!;
        await failPointOrSkip(context, 'no-op commit test', () => failCommand(admin, { times: 1 }, {
          failCommands: ['commitTransaction'], appName, errorCode: 50, errorLabels: ['UnknownTransactionCommitResult'],
        }));
        const noChange: WriteSet = {
          lease: { kind: 'unclaimed', instanceId: 'idle', executionId: before.executionId, version: before.version, now: new Date() }, requests: [],
        };
        await expect(store.commit(noChange)).rejects.toMatchObject({ code: 'store-unreachable', status: 503 });
        expect(await store.getInstance('idle')).toEqual(before);
        await store.commit(noChange); // and again, now confirmed
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('a single write the primary applied but could not confirm (a write concern error of a step-down) fails with commit-outcome-unknown', async (context) => {
      // A lease release outside a transaction: the server applies it, then the wait for the majority ends with a write
      // concern error (ShutdownInProgress, twice: the driver retries it once). Code 91 alone reads "unreachable",
      // which says nothing was written.
      const appName = `drx-wce-${process.pid}`;
      const { client, store } = await recording('update', 'wce', appName);
      const admin = new MongoClient(mongoUri);
      try {
        await failPointOrSkip(context, 'write concern error test', () => failCommand(admin, { times: 2 }, {
          failCommands: ['update'], appName, writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'shutdown in progress' },
        }));
        await expect(store.abandonActivity('no-such-task', 'token')).rejects.toMatchObject({ code: 'commit-outcome-unknown', status: 503 });
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('an operation an overloaded server sheds fails with store-unreachable once the driver sent it again; a shed commit of a write with commit-outcome-unknown', async (context) => {
      // The reply of Atlas load shedding / MongoDB 8.2's ingress rate limiter (SystemOverloadedError, RetryableError),
      // three times: driver 7.8 sends the operation again maxAdaptiveRetries (2) times after a back-off, then throws it.
      // Read as "any other driver error" it was a 500 store-error; a shed commitTransaction carries no
      // UnknownTransactionCommitResult even when an attempt before it may have committed.
      const appName = `drx-shed-${process.pid}`;
      const { client, commands, store } = await recording('find', 'shed', appName);
      const admin = new MongoClient(mongoUri);
      const shed = (command: string) => failCommand(admin, { times: 3 }, {
        failCommands: [command], appName, errorCode: 463, errorLabels: ['SystemOverloadedError', 'RetryableError', 'NoWritesPerformed'],
      });
      try {
        await store.commit(start('shed'));
        await store.flushSweeps(); // the sweep connect starts reads with find too
        await failPointOrSkip(context, 'overload test', () => shed('find'));
        commands.length = 0;
        await expect(store.getInstance('shed')).rejects.toMatchObject({ code: 'store-unreachable', status: 503 });
        expect(commands).toHaveLength(3); // the first attempt and the driver's two
        await shed('commitTransaction');
        await expect(store.commit(start('shed-commit'))).rejects.toMatchObject({ code: 'commit-outcome-unknown', status: 503 });
        expect(await store.getInstance('shed-commit')).toBeUndefined(); // this one was not committed
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('a claim whose lease write the primary applied but could not confirm hands out the work it leased, not an error and a lease left idle', async (context) => {
      // The claims' findAndModify is applied, then the wait for the majority ends with a write concern error
      // (ShutdownInProgress, twice: the driver retries it once). The claim looks its lease up by its token and hands
      // the work out under it; before, it failed with commit-outcome-unknown and the lease sat idle until it lapsed
      // (30 s for an instance, 5 min for an activity task).
      const appName = `drx-claimwce-${process.pid}`;
      const { client, store } = await recording('findAndModify', 'claimwce', appName);
      const admin = new MongoClient(mongoUri);
      const failClaims = () => failCommand(admin, { times: 2 }, {
        failCommands: ['findAndModify'], appName, writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'shutdown in progress' },
      });
      try {
        await store.commit(start('claim-wce'));
        const now = new Date();
        const task: ActivityTask = { id: 'claim-wce-task', instanceId: 'claim-wce', executionId: 'e', name: 'Act', taskScheduledId: 0, attempt: 1 };
        await client.db(db.name).collection<TaskDoc>(store.collections.activityTasks).insertOne(taskDoc(task, 1 << 20, now));
        await failPointOrSkip(context, 'claim write concern error test', failClaims);
        const item = await store.claimOrchestration({ owner: 'w1', leaseMs: 60_000, now });
        expect(item?.state.instanceId).toBe('claim-wce');
        await failClaims();
        const activity = await store.claimActivity({ owner: 'w1', leaseMs: 300_000, now });
        expect(activity?.task.id).toBe('claim-wce-task');
        // The leases handed out are the ones stored.
        const stored = client.db(db.name);
        expect((await stored.collection<InstanceDoc>(store.collections.instances).findOne({ _id: instanceKey('claim-wce') }))?.leaseToken).toBe(item?.lease.token);
        expect((await stored.collection<TaskDoc>(store.collections.activityTasks).findOne({ _id: 'claim-wce-task' }))?.leaseToken).toBe(activity?.lease.token);
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('a claim\'s reads in its causal session are bounded by maxTimeMS; one that runs out fails retryably and releases the lease', async (context) => {
      // After a lease write MongoDB could not confirm, the session's operation time is past the majority commit point
      // and a majority read in it waits until a majority reaches it: in an outage, for ever without maxTimeMS (every
      // claim hung, close() with them). Here the read that runs out is simulated (failCommand MaxTimeMSExpired).
      const appName = `drx-claimbound-${process.pid}`;
      const { client, commands, store } = await recording('find', 'claimbound', appName);
      const admin = new MongoClient(mongoUri);
      try {
        await store.commit(start('claim-bound'));
        const before = commands.length;
        const first = await store.claimOrchestration({ owner: 'w1', leaseMs: 20_000, now: new Date() });
        expect(first?.state.instanceId).toBe('claim-bound');
        // The claim's probe of the instances' claim index and its read of the messages.
        const reads = commands.slice(before).filter((c) =>
          c['find'] === store.collections.messages || (c['find'] === store.collections.instances && JSON.stringify(c['hint']) === JSON.stringify(CLAIM_ORCHESTRATION_HINT)));
        expect(reads.map((c) => c['find'])).toEqual([store.collections.instances, store.collections.messages]);
        for (const read of reads) expect(read['maxTimeMS']).toBe(20_000);
        await store.abandonOrchestration('claim-bound', first!.lease.token);
        await failPointOrSkip(context, 'claim read bound test', () => failCommand(admin, { times: 1 }, {
          failCommands: ['find'], appName, errorCode: 50, errmsg: 'operation exceeded time limit',
        }));
        // The probe (a find) runs out: nothing was leased, the claim fails with 503, and the next claim takes the work.
        await expect(store.claimOrchestration({ owner: 'w1', leaseMs: 20_000, now: new Date() })).rejects.toMatchObject({ code: 'unavailable', status: 503 });
        expect((await store.claimOrchestration({ owner: 'w1', leaseMs: 20_000, now: new Date() }))?.state.instanceId).toBe('claim-bound');
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('every read of a call carries maxTimeMS (READ_MAX_TIME_MS); one that runs out fails retryably (unavailable, 503)', async (context) => {
      // Driver 7.8 bounds no read by itself (timeoutMS "has no effect", socketTimeoutMS 0): without maxTimeMS a slow
      // read held its connection, its caller and close() for as long as the server took.
      const appName = `drx-readbound-${process.pid}`;
      const { client, commands, store } = await recording('find', 'readbound', appName);
      const admin = new MongoClient(mongoUri);
      try {
        await store.commit(start('read-bound', { n: 1 }));
        await store.flushSweeps();
        const before = commands.length;
        expect((await store.getInstance('read-bound'))?.input).toEqual({ n: 1 });
        await store.getHistory('read-bound');
        expect((await store.queryInstances({})).instances.map((s) => s.instanceId)).toEqual(['read-bound']);
        await store.nextWakeTime(new Date());
        expect((await store.getInstanceHistory('read-bound')).state?.instanceId).toBe('read-bound');
        // On a mongos the store's periodic majority read (majorityProbe, bounded by its own deadline) is a find too.
        const probe = majorityProbe(store.collections.instances);
        const reads = commands.slice(before).filter((c) => !(isDeepStrictEqual(c['filter'], probe['filter']) && c['limit'] === 1 && isDeepStrictEqual(c['projection'], probe['projection'])));
        // getInstance 1, getHistory 2, queryInstances 1, nextWakeTime 2, getInstanceHistory 1 (in its transaction).
        expect(reads.length).toBeGreaterThanOrEqual(7);
        for (const read of reads) expect(read['maxTimeMS'], JSON.stringify(read)).toBe(READ_MAX_TIME_MS);
        await failPointOrSkip(context, 'read bound test', () => failCommand(admin, { times: 1 }, {
          failCommands: ['find'], appName, errorCode: 50, errmsg: 'operation exceeded time limit',
        }));
        await expect(store.getInstance('read-bound')).rejects.toMatchObject({ code: 'unavailable', status: 503 });
        expect((await store.getInstance('read-bound'))?.instanceId).toBe('read-bound');
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('a step\u2019s change carries its input, a large one too (not cached, left out of the batched read, read on its own)', async () => {
      const store = await open();
      try {
        // 300,000 ASCII characters: over the cache's 256 KiB entry limit and the batched read's 128 KiB.
        const inputs: Record<string, unknown> = { 'input-large': 'x'.repeat(300_000), 'input-small': { n: 1 } };
        const stepped = firstValueFrom(store.changes$.pipe(
          filter((c) => c.state?.customStatus === 'stepped'), take(2), toArray(), timeout(60_000),
        ));
        for (const [id, input] of Object.entries(inputs)) await store.commit(start(id, input));
        for (let i = 0; i < 2; i++) {
          const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
          expect(item).toBeDefined();
          await store.commit({
            lease: { kind: 'orchestration', instanceId: item!.state.instanceId, token: item!.lease.token },
            requests: [
              { type: 'deleteMessages', instanceId: item!.state.instanceId, messageIds: item!.messages.map((m) => m.id) },
              { type: 'replaceState', state: { ...item!.state, runtimeStatus: 'Running', customStatus: 'stepped', version: item!.state.version + 1 } },
            ],
          });
        }
        const changes = await stepped;
        expect(Object.fromEntries(changes.map((c) => [c.instanceId, c.state?.input]))).toEqual(inputs);
      } finally {
        await store.close();
      }
    });

    it('a claim reaches no status feed as a status, on MongoDB 4.4 (where its pipeline update is a replace) as on 5.0+', async () => {
      const store = await open();
      const raw = new MongoClient(mongoUri);
      try {
        const versions = (changes: Observable<StatusChange>) => firstValueFrom(changes.pipe(
          filter((c) => c.instanceId === 'claimed'), take(2), toArray(), timeout(60_000),
        ));
        const listed = versions(store.changes$);
        const watched = versions(store.instanceChanges$('claimed'));
        // The raw stream of the instances collection as the status feed opens it, and unfiltered: what the server sent.
        const instances = raw.db(db.name).collection(store.collections.instances);
        const everything = instances.watch<Document, Document>([{ $match: { 'documentKey._id': 'claimed' } }]);
        const filtered = instances.watch<Document, Document>(statusPipeline(['claimed']));
        try {
          await everything.tryNext();
          await filtered.tryNext();
          await store.commit(start('claimed', { n: 1 }));
          const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
          expect(item?.state.instanceId).toBe('claimed');
          await store.commit({
            lease: { kind: 'orchestration', instanceId: 'claimed', token: item!.lease.token },
            requests: [
              { type: 'deleteMessages', instanceId: 'claimed', messageIds: item!.messages.map((m) => m.id) },
              { type: 'replaceState', state: { ...item!.state, runtimeStatus: 'Running', customStatus: 'stepped', version: item!.state.version + 1 } },
            ],
          });
          // The claim's own event came, in the shape this server reports it: a replace holding the lease before 5.0,
          // an update of the lease fields on 5.0+ (at feature compatibility version 5.0).
          const kinds: string[] = [];
          for (let event = await everything.next(); ; event = await everything.next()) {
            const op = String(event['operationType']);
            const fields = event['updateDescription']?.['updatedFields'] as Document | undefined;
            if (op === 'update' && fields?.['state'] !== undefined) break;
            if (op === 'replace' && typeof event['fullDocument']?.['leaseToken'] === 'string') kinds.push('claim as a replace');
            if (op === 'update' && typeof fields?.['leaseToken'] === 'string') kinds.push('claim as an update');
          }
          expect(kinds).toHaveLength(1);
          // The status pipeline lets through the insert and the step, not the claim, whatever its shape.
          const passed = [await filtered.next(), await filtered.next()].map((event) => String(event['operationType']));
          expect(passed).toEqual(['insert', 'update']);
        } finally {
          await everything.close();
          await filtered.close();
        }
        for (const changes of [await listed, await watched]) {
          expect(changes.map((c) => [c.state?.version, c.state?.customStatus ?? null])).toEqual([[1, null], [2, 'stepped']]);
        }
      } finally {
        await raw.close();
        await store.close();
      }
    });

    it('repairs every stale end-order key a listEnded page meets, in batches (500, 16 MiB of state text), and lists them at their end', async () => {
      const prefix = db.prefix('repairs');
      const store = await db.open('repairs', { prefix });
      const client = new MongoClient(mongoUri);
      try {
        const instances = client.db(db.name).collection<{ _id: string; lastUpdatedTime?: Date | null }>(`${prefix}instances`);
        const t0 = new Date(Date.now() - 60_000);
        const at = (ms: number) => new Date(t0.getTime() + ms);
        const large = 'x'.repeat(6 * 1024 * 1024);
        const creation = (id: string, ms: number, output?: string) => {
          const { state, message } = request(id);
          const ended = { ...state, runtimeStatus: 'Completed' as const, lastUpdatedTime: at(ms), ...(output === undefined ? {} : { output }) };
          return { type: 'createInstance' as const, state: ended, message, ifRunning: { kind: 'fail' as const } };
        };
        const create = (id: string, ms: number, output?: string) => store.commit({ requests: [creation(id, ms, output)] });
        for (const [id, ms] of [['r-a', 500], ['r-b', 3000], ['r-z', 9000]] as const) await create(id, ms);
        // Three instances of 6 MiB states that an earlier version left under the key of an earlier end (1000 + i) ...
        const stale = ['r-s0', 'r-s1', 'r-s2'];
        for (const [i, id] of stale.entries()) {
          await create(id, 5000 + i, large);
          await instances.updateOne({ _id: id }, { $set: { lastUpdatedTime: at(1000 + i) } });
        }
        // ... and 1,001 small ones, ended at 6000 + i and left under 1100 + i: more than two batches of 500.
        const many = Array.from({ length: 1001 }, (_, i) => `r-m${String(i).padStart(4, '0')}`);
        for (let i = 0; i < many.length; i += 100) {
          await store.commit({ requests: many.slice(i, i + 100).map((id, j) => creation(id, 6000 + i + j)) });
        }
        await instances.updateMany({ _id: { $in: many } }, [{ $set: { lastUpdatedTime: { $subtract: ['$lastUpdatedTime', 4900] } } }]);
        const query: EndedQuery = { runtimeStatus: 'Completed', endedTo: at(10_000), limit: 100 };
        const repaired = async () => [
          await instances.countDocuments({ _id: { $in: stale }, lastUpdatedTime: { $gte: at(5000) } }),
          await instances.countDocuments({ _id: { $in: many }, lastUpdatedTime: { $gte: at(6000) } }),
        ];
        const order = ['r-a', 'r-b', ...stale, ...many, 'r-z'];
        // The first listing leaves all 1,004 out where it finds them stale and repairs every one (two 6 MiB states a
        // batch, 500 small ones a batch); it read past their ends, so it lists them there, from the states it read.
        expect((await store.listEnded(query)).map((state) => state.instanceId)).toEqual(order.slice(0, query.limit));
        expect(await repaired()).toEqual([3, 1001]);
        // Every one is listed at its end, in pages.
        const listed: string[] = [];
        let page = await store.listEnded(query);
        listed.push(...page.map((state) => state.instanceId));
        while (page.length === query.limit) {
          page = await store.listEnded({ ...query, after: endedKeyOf(page.at(-1)!) });
          listed.push(...page.map((state) => state.instanceId));
        }
        expect(listed).toEqual(order);
      } finally {
        await client.close();
        await store.close();
      }
    });

    it('sets a listEnded page\u2019s stale keys right in a session of its own, and lists the moved instance at its end in the one read', async () => {
      // The listing's cursor closes itself in its session when its time bound runs out (behind a load balancer, giving
      // back the connection its session pins), so no repair may run in that session while the cursor is open.
      const client = new MongoClient(mongoUri, { monitorCommands: true });
      const started: Document[] = [];
      const written: Timestamp[] = [];
      client.on('commandStarted', (event) => started.push(event.command));
      client.on('commandSucceeded', (event) => {
        const reply = event.reply as { operationTime?: Timestamp };
        if (event.commandName === 'update' && reply.operationTime !== undefined) written.push(reply.operationTime);
      });
      const prefix = db.prefix('repairsession');
      const store = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: prefix });
      try {
        const query = await endedAroundStale(store, client, prefix, 'rs');
        started.length = 0;
        written.length = 0;
        expect((await store.listEnded(query)).map((state) => state.instanceId)).toEqual(['rs-a', 'rs-s', 'rs-z']);
        const lsid = (command: Document) => JSON.stringify(command['lsid']);
        // The listing's reads: its finds (status Completed, up to endedTo) and their getMores, in its session.
        const finds = started.filter((command) => command['find'] === `${prefix}instances` && (command['filter'] as { runtimeStatus?: unknown }).runtimeStatus === 'Completed');
        const reads = started.filter((command) => finds.includes(command) || (command['getMore'] !== undefined && lsid(command) === lsid(finds[0]!)));
        const repairs = started.filter((command) => command['update'] === `${prefix}instances`);
        expect([finds.length, repairs.length, written.length]).toEqual([1, 1, 1]);
        for (const repair of repairs) for (const read of reads) expect(lsid(repair)).not.toBe(lsid(read));
        // Set right: the next listing meets rs-s under its own key and writes nothing.
        started.length = 0;
        expect((await store.listEnded(query)).map((state) => state.instanceId)).toEqual(['rs-a', 'rs-s', 'rs-z']);
        expect(started.filter((command) => command['update'] === `${prefix}instances`)).toEqual([]);
        // A full page (2 of the 3) reads its find, limited to the page, to its end, and the server closed the cursor
        // with it: no getMore and no killCursors (which driver 7.8 sends with no signal or time limit) in its session.
        started.length = 0;
        expect((await store.listEnded({ ...query, limit: 2 })).map((state) => state.instanceId)).toEqual(['rs-a', 'rs-s']);
        const fullFinds = started.filter((command) => command['find'] === `${prefix}instances` && (command['filter'] as { runtimeStatus?: unknown }).runtimeStatus === 'Completed');
        expect(fullFinds.map((command) => command['limit'])).toEqual([2]);
        expect(started.filter((command) => (command['getMore'] !== undefined || command['killCursors'] !== undefined) && lsid(command) === lsid(fullFinds[0]!))).toEqual([]);
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('bounds a listEnded call, reads and repair writes, by one deadline: a repair no majority answers ends with it, and the page is listed', async (context) => {
      // The server holds this client's repair (its update) for 60 s, as a majority that cannot acknowledge holds a
      // majority write up to its wtimeoutMS: the write's bound is what is left of the call, not 30 s more.
      const appName = `drx-listdeadline-${process.pid}`;
      const client = new MongoClient(mongoUri, { monitorCommands: true, appName });
      const updates: Document[] = [];
      const open = new Set<number>();
      client.on('commandStarted', (event) => {
        if (event.commandName !== 'update') return;
        updates.push(event.command);
        open.add(event.requestId);
      });
      client.on('commandSucceeded', (event) => open.delete(event.requestId));
      client.on('commandFailed', (event) => open.delete(event.requestId));
      const warnings: unknown[] = [];
      const prefix = db.prefix('listdeadline');
      // The runtime beside it gives up on a store call after 12 s: the call's deadline is 10 s, its server share 8 s.
      const storeCallTimeoutMs = 12_000;
      const store = await MongoStore.connect({
        client, dbName: db.name, collectionPrefix: prefix, logger: { warn: (_message, error) => void warnings.push(error), error: () => undefined },
        storeCallTimeoutMs,
      });
      const admin = new MongoClient(mongoUri);
      try {
        const query = await endedAroundStale(store, client, prefix, 'ld');
        await failPointOrSkip(context, 'listEnded deadline test', () => failCommand(admin, { times: 1 }, {
          failCommands: ['update'], blockConnection: true, blockTimeMS: 60_000, appName,
        }));
        updates.length = 0;
        warnings.length = 0;
        // The page, ld-s at its end from the state read, answered once the deadline passed; before, the call waited for
        // the held write and its majority, and then read the page again.
        expect((await store.listEnded(query)).map((state) => state.instanceId)).toEqual(['ld-a', 'ld-s', 'ld-z']);
        expect(open.size).toBe(0); // nothing of the call still running once it answered
        expect(updates).toHaveLength(1);
        const bound = updates[0]!;
        expect(bound['maxTimeMS']).toBeLessThanOrEqual(serverTimeLeft(0, listingDeadlineMs(storeCallTimeoutMs))!);
        expect(serverTimeLeft(0, listingDeadlineMs(storeCallTimeoutMs))).toBe(8_000);
        expect((bound['writeConcern'] as { wtimeout?: number }).wtimeout).toBeLessThanOrEqual(bound['maxTimeMS'] as number);
        // The repair that did not get through is logged, wrapped in the bulk write's error: the deadline's TimeoutError,
        // which the driver throws as MongoOperationTimeoutError once the update was sent (its reply awaited), 503.
        const named = (error: unknown) => (error as { errorResponse?: { name?: string } }).errorResponse?.name ?? (error as Error).name;
        expect(warnings.map(named)).toEqual([expect.stringMatching(/^(TimeoutError|MongoOperationTimeoutError)$/)]);
        expect(mapDriverError(warnings[0], 'listing ended instances')).toMatchObject({ code: 'store-unreachable', status: 503 });
        // The next listing (the fail point spent) sets ld-s right; the one after finds nothing left to write.
        expect((await store.listEnded(query)).map((state) => state.instanceId)).toEqual(['ld-a', 'ld-s', 'ld-z']);
        expect(updates).toHaveLength(2);
        expect((await store.listEnded(query)).map((state) => state.instanceId)).toEqual(['ld-a', 'ld-s', 'ld-z']);
        expect(updates).toHaveLength(2);
      } finally {
        await failCommandOff(admin);
        await admin.close();
        await store.close();
        await client.close();
      }
    });

    it('a step\u2019s commit reads the size of the input, not the input, and counts it in bytes against the limit of the state', async () => {
      const { client, replies, store } = await recordingReplies('taken');
      try {
        const big = 'é'.repeat(6 * 1024 * 1024); // 12 MiB of UTF-8 (6 Mi characters)
        await store.commit(start('kept', big));
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
        expect(item?.state.input).toBe(big);
        const lease = { kind: 'orchestration', instanceId: 'kept', token: item!.lease.token } as const;
        const step = (over: Partial<InstanceState>): WriteSet => ({
          lease, requests: [{ type: 'replaceState', state: { ...item!.state, runtimeStatus: 'Running', version: item!.state.version + 1, ...over } }],
        });
        // 12 MiB of input and 4 MiB of output: over the 15 MiB limit in bytes (in characters it would be 10 MiB).
        await expect(store.commit(step({ output: 'x'.repeat(4 * 1024 * 1024) }))).rejects.toMatchObject({ code: 'payload-too-large' });
        replies.length = 0;
        await store.commit(step({ customStatus: 'stepped' }));
        const taken = replies.map((r) => r['value'] as Document).find((v) => v?.['_id'] === instanceKey('kept'));
        expect(taken).toBeDefined();
        expect(taken).not.toHaveProperty('input');
        expect(taken!['inputBytes']).toBe(Buffer.byteLength(JSON.stringify(big)));
        const after = await store.getInstance('kept');
        expect(after).toMatchObject({ customStatus: 'stepped', input: big });
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('a Running instance\u2019s claim leaves its input out of the lease write\u2019s reply; the input stays stored, and the claims that need it carry it', async () => {
      const { client, replies, store } = await recordingReplies('claim-input');
      try {
        const big = { data: 'x'.repeat(1024 * 1024) };
        const leasedDoc = () => replies.map((r) => r['value'] as Document | null).find((v) => v?.['_id'] === instanceKey('lean'));
        const claim = async () => {
          replies.length = 0;
          const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
          expect(item?.state.instanceId).toBe('lean');
          return item!;
        };
        const nudge = () => store.commit({ requests: [{
          type: 'insertMessage', ifMissing: 'fail',
          message: { id: crypto.randomUUID(), instanceId: 'lean', event: { type: 'EventRaised', eventId: -1, timestamp: new Date().toISOString(), name: 'go' } },
        }] });
        const step = (item: OrchestrationWorkItem, over: Partial<InstanceState>) => store.commit({
          lease: { kind: 'orchestration', instanceId: 'lean', token: item.lease.token },
          requests: [
            { type: 'replaceState', state: { ...item.state, version: item.state.version + 1, ...over } },
            { type: 'deleteMessages', instanceId: 'lean', messageIds: item.messages.map((m) => m.id) },
          ],
        });
        await store.commit(start('lean', big));
        // Not started yet: the claim carries the input.
        const pending = await claim();
        expect(pending.state).toMatchObject({ runtimeStatus: 'Pending', input: big });
        expect(leasedDoc()).toHaveProperty('input');
        await step(pending, { runtimeStatus: 'Running' });
        // Running: the lease write's reply has no input, nor the work item; a step without it keeps the stored one.
        await nudge();
        const running = await claim();
        expect(running.state.runtimeStatus).toBe('Running');
        expect(running.state).not.toHaveProperty('input');
        expect(leasedDoc()).toBeDefined();
        expect(leasedDoc()).not.toHaveProperty('input');
        await step(running, { customStatus: 'stepped' });
        expect(await store.getInstance('lean')).toMatchObject({ runtimeStatus: 'Running', customStatus: 'stepped', input: big });
        await nudge();
        await step(await claim(), { runtimeStatus: 'Failed', failureDetails: { errorType: 'Error', errorMessage: 'no' } });
        expect(await store.getInstance('lean')).toMatchObject({ runtimeStatus: 'Failed', input: big });
        // Failed (a rewind gives a start recorded without its input back from the state): the claim carries it.
        await nudge();
        const failed = await claim();
        expect(failed.state).toMatchObject({ runtimeStatus: 'Failed', input: big });
        expect(leasedDoc()).toHaveProperty('input');
      } finally {
        await store.close();
        await client.close();
      }
    });

    it('runs an orchestration that reads its input at every step (cache off: each step replays) to the end, the input kept', async () => {
      const store = await db.open('claim-input-e2e');
      const input = { items: Array.from({ length: 2_000 }, (_, i) => `item-${i}`) };
      const runtime = createRuntime({
        store, cacheSize: 0,
        orchestrators: {
          Sum: function* (ctx) {
            const { items } = ctx.getInput<typeof input>();
            const counts: number[] = [];
            for (let i = 0; i < 3; i++) counts.push((yield ctx.callActivity('Count', items.slice(0, i + 1))) as number);
            ctx.setCustomStatus(counts);
            return { counts, first: ctx.getInput<typeof input>().items[0] };
          },
        },
        activities: { Count: (items: string[]) => items.length },
      });
      await runtime.start();
      try {
        const id = await runtime.client.startNew('Sum', { input });
        const done = await runtime.client.waitForCompletion(id, { timeoutMs: 60_000 });
        expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { counts: [1, 2, 3], first: 'item-0' }, input });
        expect(await store.getInstance(id)).toMatchObject({ input });
      } finally {
        await runtime.stop();
        await store.close();
      }
    });

    it('reads and steps an instance document written before the input had a field of its own, and moves its input out', async () => {
      const store = await db.open('legacy');
      await alongside(store, async (client) => {
        const instances = client.db(db.name).collection<InstanceDoc>(store.collections.instances);
        // The previous layout: the input inside `state`, no `input` field; leased to a worker of the previous version.
        const { state } = request('legacy', { order: 42 });
        const running = { ...state, runtimeStatus: 'Running' as const, version: 2 };
        const expiresAt = new Date(Date.now() + 60_000);
        const { input: _input, ...doc } = instanceDoc(running, encodeInstanceState(running, MAX_PAYLOAD_BYTES), emptyQueueHead(1), 'gen-1');
        await instances.insertOne({ ...doc, state: JSON.stringify(running), leaseOwner: 'w', leaseToken: 'old-token', leaseExpiresAt: expiresAt });
        expect(await store.getInstance('legacy')).toEqual(running);
        const stepped = { ...running, customStatus: 'stepped', version: 3 };
        await store.commit({ lease: { kind: 'orchestration', instanceId: 'legacy', token: 'old-token' }, requests: [{ type: 'replaceState', state: stepped }] });
        expect(await store.getInstance('legacy')).toEqual(stepped);
        const stored = await instances.findOne({ _id: instanceKey('legacy') });
        expect(stored?.input).toBe(JSON.stringify({ order: 42 }));
        expect(JSON.parse(stored!.state)).not.toHaveProperty('input');
      });
    });

    it('counts the raise keys a state written before the raiseKeys collection carries, and leaves them in the state while new keys go there', async () => {
      const store = await db.open('legacy-keys');
      await alongside(store, async (client) => {
        const instances = client.db(db.name).collection<InstanceDoc>(store.collections.instances);
        const raiseKeys = client.db(db.name).collection<{ _id: string; keys: string[] }>(store.collections.raiseKeys);
        const messages = client.db(db.name).collection(store.collections.messages);
        // The previous version: the keys in the state, no raiseKeys document.
        const { state } = request('legacy-keys', { order: 42 });
        const legacy = { ...state, raisedEventKeys: ['old'] };
        await instances.insertOne(instanceDoc(legacy, encodeInstanceState(legacy, MAX_PAYLOAD_BYTES), emptyQueueHead(0), 'gen-1'));
        const durable = createClient({ store });
        await durable.raiseEvent('legacy-keys', 'go', 'repeat', { idempotencyKey: 'old' });
        expect(await messages.countDocuments({ instanceId: instanceKey('legacy-keys') })).toBe(0);
        await durable.raiseEvent('legacy-keys', 'go', 'new', { idempotencyKey: 'new' });
        await durable.raiseEvent('legacy-keys', 'go', 'repeat', { idempotencyKey: 'old' });
        await durable.raiseEvent('legacy-keys', 'go', 'repeat', { idempotencyKey: 'new' });
        expect(await messages.countDocuments({ instanceId: instanceKey('legacy-keys') })).toBe(1);
        expect(await raiseKeys.findOne({ _id: instanceKey('legacy-keys') })).toEqual({ _id: instanceKey('legacy-keys'), keys: ['new'] });
        expect(await store.getInstance('legacy-keys')).toEqual(legacy);
      });
    });

    it('the commit\u2019s projection gives the UTF-8 size of a text input only, and leaves the input out', async () => {
      const client = new MongoClient(mongoUri);
      try {
        const docs = client.db(db.name).collection<{ _id: string; state: string; input?: unknown }>(`${db.prefix('taken-projection')}instances`);
        await docs.insertMany([
          { _id: 'text', state: 's', input: '"é"' }, { _id: 'empty', state: 's', input: '' }, { _id: 'absent', state: 's' },
          { _id: 'null', state: 's', input: null }, { _id: 'number', state: 's', input: 7 },
        ]);
        const read = [];
        for (const _id of ['text', 'empty', 'absent', 'null', 'number']) {
          read.push(await docs.findOneAndUpdate({ _id }, { $inc: { rev: 1 } }, { returnDocument: 'after', projection: TAKEN_INSTANCE_PROJECTION }));
        }
        expect(read).toEqual([
          { _id: 'text', state: 's', inputBytes: 4 }, { _id: 'empty', state: 's', inputBytes: 0 }, { _id: 'absent', state: 's' },
          { _id: 'null', state: 's' }, { _id: 'number', state: 's' },
        ]);
      } finally {
        await client.close();
      }
    });

    it('the batched input read measures string inputs only: a foreign non-string input is read on its own, not a failed batch', async () => {
      const client = new MongoClient(mongoUri);
      try {
        const docs = client.db(db.name).collection<{ _id: string; executionId: string; input?: unknown }>(`${db.prefix('inputs')}instances`);
        await docs.insertMany([
          { _id: 'small', executionId: 'e', input: '"a"' }, { _id: 'big', executionId: 'e', input: 'x'.repeat(40) },
          { _id: 'null', executionId: 'e', input: null }, { _id: 'absent', executionId: 'e' },
          { _id: 'number', executionId: 'e', input: 7 }, { _id: 'object', executionId: 'e', input: { n: 1 } },
        ]);
        // Before, $strLenBytes raised on the number and the object, and that failed the read of every key in it.
        const read = await docs.find({}, { projection: batchedInputProjection(10) }).sort({ _id: 1 }).toArray();
        expect(read).toEqual([
          { _id: 'absent', executionId: 'e' }, { _id: 'big', executionId: 'e', large: true },
          { _id: 'null', executionId: 'e', input: null }, { _id: 'number', executionId: 'e', large: true },
          { _id: 'object', executionId: 'e', large: true }, { _id: 'small', executionId: 'e', input: '"a"' },
        ]);
      } finally {
        await client.close();
      }
    });

    it('works the same on an application\u2019s client whose BSON options differ (useBigInt64; promoteValues, promoteLongs false, ignoreUndefined, ...)', async () => {
      // A Db inherits every BSON option it does not set from its MongoClient; the store's pins the driver's defaults.
      const clients = [
        { useBigInt64: true },
        { promoteValues: false, promoteLongs: false, promoteBuffers: true, bsonRegExp: true, ignoreUndefined: true, enableUtf8Validation: false },
      ] as const;
      for (const options of clients) {
        const client = new MongoClient(mongoUri, options);
        const store = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: db.prefix('bson') });
        try {
          const id = 'bson-a';
          const committed = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === id), take(1), timeout(30_000)));
          await store.commit(start(id, { n: 1 }));
          expect((await committed).state?.input, JSON.stringify(options)).toEqual({ n: 1 });
          const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
          expect(item?.state.instanceId).toBe(id);
          expect(item?.state.input).toEqual({ n: 1 });
          expect(item?.messages).toHaveLength(1);
          const stepped = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === id && c.state?.customStatus === 'stepped'), take(1), timeout(30_000)));
          await store.commit({
            lease: { kind: 'orchestration', instanceId: id, token: item!.lease.token },
            requests: [
              { type: 'deleteMessages', instanceId: id, messageIds: item!.messages.map((m) => m.id) },
              { type: 'replaceState', state: { ...item!.state, runtimeStatus: 'Running', customStatus: 'stepped', version: item!.state.version + 1 } },
            ],
          });
          // The step's update event carries no input: the feed completes it from the insert it saw (or a read).
          expect((await stepped).state?.input).toEqual({ n: 1 });
          expect(await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() })).toBeUndefined();
          expect((await store.getInstance(id))?.customStatus).toBe('stepped');
          expect((await store.queryInstances({ showInput: true })).instances.map((s) => [s.instanceId, s.input])).toEqual([[id, { n: 1 }]]);
          const wake = await store.nextWakeTime(new Date());
          expect(wake === undefined || wake instanceof Date).toBe(true);
        } finally {
          await store.close();
          await client.close();
        }
      }
    });

    it('a status stream refused its start time (ChangeStreamHistoryLost) reopens at the server\u2019s present, not at that time again', async (context) => {
      // A start time older than the oplog fails every stream opened there; the failure is simulated (failCommand 286
      // on the stream's aggregate), what the store sends next and that changes still arrive are real.
      const appName = `drx-historylost-${process.pid}`;
      const errors: string[] = [];
      const client = new MongoClient(mongoUri, { monitorCommands: true, appName });
      const streams: Document[] = [];
      // The requests that opened a change stream, and a signal at each such open the server accepted.
      const streamRequests = new Set<number>();
      const opened = new ReplaySubject<void>();
      client.on('commandStarted', (event) => {
        const pipeline = event.command['pipeline'] as Document[] | undefined;
        if (event.commandName === 'aggregate' && pipeline?.[0]?.['$changeStream'] !== undefined) {
          streams.push(pipeline[0]['$changeStream'] as Document);
          streamRequests.add(event.requestId);
        }
      });
      client.on('commandSucceeded', (event) => {
        if (streamRequests.has(event.requestId)) opened.next();
      });
      const store = await MongoStore.connect({
        client, dbName: db.name, collectionPrefix: db.prefix('historylost'),
        logger: { warn: () => undefined, error: (message) => void errors.push(message) },
      });
      const admin = new MongoClient(mongoUri);
      try {
        await failPointOrSkip(context, 'history-lost test', () => failCommand(admin, { times: 1 }, {
          failCommands: ['aggregate'], appName, errorCode: 286, errmsg: 'Resume of change stream was not possible, as the resume point may no longer be in the oplog',
        }));
        const later = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'after-loss'), take(1), timeout(60_000)));
        // The first open is refused; the commit waits until the reopen is open on the server. A commit made before it
        // (within the reopen delay) would move the known majority time past the refused one, and the reopen would then
        // rightly start there instead of at the present.
        await firstValueFrom(opened.pipe(take(1), timeout(60_000)));
        await store.commit(start('after-loss'));
        expect((await later).state?.runtimeStatus).toBe('Pending');
        expect(errors.some((message) => message.includes('position-lost'))).toBe(true);
        // The first stream opened at a known majority time; the one after the refusal never there again: at the present
        // (a heartbeat in the reopen delay may have brought a newer majority time, which the server can start at too).
        const refused = streams[0]?.['startAtOperationTime'] as Timestamp | undefined;
        expect(refused).toBeInstanceOf(Timestamp);
        expect(streams.length).toBeGreaterThanOrEqual(2);
        const reopenedAt = streams[1]?.['startAtOperationTime'] as Timestamp | undefined;
        if (reopenedAt !== undefined) expect(compareTimestamps(reopenedAt, refused!)).toBeGreaterThan(0);
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('a claim hands out messages up to a byte budget, not 100 of up to 15 MiB in one step\'s transaction', async () => {
      const store = await open();
      try {
        await store.commit(start('claim-bytes'));
        const big = (i: number): OrchestrationMessage => ({
          id: `big-${i}`, instanceId: 'claim-bytes',
          event: { type: 'EventRaised', eventId: -1, timestamp: new Date().toISOString(), name: `e${i}`, input: 'x'.repeat(3 * 1024 * 1024) },
        });
        for (let i = 0; i < 4; i++) await store.commit({ requests: [{ type: 'insertMessage', message: big(i), ifMissing: 'fail' }] });
        const item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
        // The start message and two of 3 MiB fit CLAIM_MESSAGE_BYTES (8 MiB); the third would pass it and stays queued.
        expect(item?.messages.map((m) => m.id)).toEqual([expect.any(String), 'big-0', 'big-1']);
      } finally {
        await store.close();
      }
    });

    it('applies a write set exactly once when its transaction meets a transient error or its commit loses the connection', async (context) => {
      // Nothing lost, nothing doubled: a WriteConflict (TransientTransactionError) inside the transaction makes the
      // driver run the whole transaction again; a connection closed on commitTransaction (UnknownTransactionCommitResult)
      // makes it send the commit again. Either way the caller's commit resolves and the write is there once.
      const appName = `drx-retry-${process.pid}`;
      const { client, commands: commits, store } = await recording('commitTransaction', 'retry', appName);
      const admin = new MongoClient(mongoUri);
      const failOnce = (data: Document) => failCommand(admin, { times: 1 }, { ...data, appName });
      try {
        await failPointOrSkip(context, 'transaction retry test', () => failOnce({ failCommands: ['insert'], errorCode: 112, errorLabels: ['TransientTransactionError'] }));
        await store.commit(start('transient'));
        await failOnce({ failCommands: ['commitTransaction'], closeConnection: true });
        commits.length = 0;
        await store.commit(start('dropped'));
        expect(commits.length).toBeGreaterThanOrEqual(2); // the commit was sent again
        const messages = client.db(db.name).collection(store.collections.messages);
        for (const id of ['transient', 'dropped']) {
          expect(await store.getInstance(id), id).toMatchObject({ instanceId: id, version: 1 });
          expect(await messages.countDocuments({ instanceId: id }), id).toBe(1);
        }
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        await store.close();
        await client.close();
      }
    });

    it('stops retrying a transaction that stays aborted (TransientTransactionError) before the caller gives up: store-unreachable, nothing written, close() resolves', { timeout: 120_000 }, async (context) => {
      // withTransaction alone would start attempts for 120 s, long after the worker abandoned the call (30 s).
      const appName = `drx-aborted-${process.pid}`;
      const { client, commands: inserts, store } = await recording('insert', 'aborted', appName);
      const admin = new MongoClient(mongoUri);
      let closed = false;
      try {
        await failPointOrSkip(context, 'transaction deadline test', () => failCommand(admin, 'alwaysOn', {
          failCommands: ['insert'], errorCode: 112, errorLabels: ['TransientTransactionError'], appName,
        }));
        const error: unknown = await store.commit(start('aborted')).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'store-unreachable', status: 503 });
        expect(inserts.length).toBeGreaterThan(1); // the transaction was attempted again before the store gave up
        await failCommandOff(admin);
        expect(await store.getInstance('aborted')).toBeUndefined();
        expect(await client.db(db.name).collection(store.collections.messages).countDocuments({ instanceId: 'aborted' })).toBe(0);
        await store.close();
        closed = true;
      } finally {
        await failCommandOff(admin);
        await admin.close().catch(() => undefined);
        if (!closed) await store.close();
        await client.close();
      }
    });

    it('opens change streams for subscribers only, and releases them on unsubscribe and close', async () => {
      const client = new MongoClient(mongoUri);
      const store = await MongoStore.connect({ client, dbName: db.name, collectionPrefix: db.prefix('streams'), feedLingerMs: 0 });
      try {
        expect(store.openChangeStreams).toBe(0);
        const changes = store.changes$.subscribe();
        const work = store.workAvailable$.subscribe();
        expect(store.openChangeStreams).toBe(2);
        const seen = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'x'), take(1)));
        await store.commit(start('x'));
        expect((await seen).state).toMatchObject({ instanceId: 'x', version: 1 });
        changes.unsubscribe();
        work.unsubscribe();
        expect(store.openChangeStreams).toBe(0);
        store.changes$.subscribe();
        expect(store.openChangeStreams).toBe(1);
        await store.close();
        expect(store.openChangeStreams).toBe(0);
        await expect(store.getInstance('x')).rejects.toMatchObject({ code: 'store-closed' });
        // A client the application passed in stays open.
        expect(await client.db('admin').command({ ping: 1 })).toMatchObject({ ok: 1 });
      } finally {
        await store.close();
        await client.close();
      }
    });
  });

  describe('two worker processes', () => {
    it('share 200 hello sequences: all complete once, and a third process\u2019s customStatus$ sees every value', { timeout: 300_000 }, async () => {
      ensureBuilt();
      const n = 200;
      const prefix = db.prefix('processes');
      const children: ChildProcess[] = [];
      const store = await db.open('processes', { prefix });
      try {
        const observer = spawn('observer', db.name, prefix, String(n), children);
        await nextMessage(observer, 'ready');
        const workers = [spawn('worker', db.name, prefix, 'worker-1', children), spawn('worker', db.name, prefix, 'worker-2', children)];
        await Promise.all(workers.map((w) => nextMessage(w, 'ready')));

        const client = createClient({ store });
        const ids = Array.from({ length: n }, (_, i) => `hello-${i}`);
        const observed = nextMessage(observer, 'statuses', 180_000);
        await Promise.all(ids.map((instanceId) => client.startNew('E1_HelloSequence', { instanceId })));
        const done = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 180_000 })));
        const report = (await observed) as { seen: Record<string, unknown[]>; openAfterUnsubscribe: number };

        workers.forEach((w) => w.send({ type: 'stop' }));
        const metrics = (await Promise.all(workers.map((w) => nextMessage(w, 'stopped')))).map((m) => (m as { metrics: { steps: number } }).metrics);

        expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
        for (const status of done) expect(status.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
        // Each step applied once, judged from each instance's history (a transient error retried by the driver may
        // make a worker count a step or an activity twice; the history never records one twice).
        for (const id of ids) {
          const history = await store.getHistory(id);
          assertNoDuplicateSteps(history);
          expect(history.filter((e) => e.type === 'OrchestratorStarted'), id).toHaveLength(4);
          expect(history.filter((e) => e.type === 'ExecutionCompleted'), id).toHaveLength(1);
        }
        expect(metrics[0]!.steps, 'worker 1 did some of the work').toBeGreaterThan(0);
        expect(metrics[1]!.steps, 'worker 2 did some of the work').toBeGreaterThan(0);
        // The observer saw every committed custom status of every instance, in order, none skipped.
        for (const id of ids) expect(report.seen[id], id).toEqual([null, 'Tokyo', 'Seattle', 'London']);
        expect(report.openAfterUnsubscribe).toBe(0);
      } finally {
        for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
        await store.close();
      }
    });
  });
});

// -------------------------------------------------------------------- helpers

/** A client start of a new instance. */
/** A create write set; with `visibleAt`, the start message is visible only then (an instance waiting for a time). */
/** Claims every instance `store` can and commits one step of each: Running, custom status 'stepped', messages consumed. */
async function stepAll(store: MongoStore): Promise<void> {
  for (let item; (item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() }));) {
    const { state } = item;
    await store.commit({
      lease: { kind: 'orchestration', instanceId: state.instanceId, token: item.lease.token },
      requests: [
        { type: 'replaceState', state: { ...state, runtimeStatus: 'Running', customStatus: 'stepped', version: state.version + 1 } },
        { type: 'deleteMessages', instanceId: state.instanceId, messageIds: item.messages.map((m) => m.id) },
      ],
    });
  }
}

/**
 * Opens `store`'s change stream (a commit of `instanceId` seen on it, its cursor on the server), then has the server
 * hold every killCursors of the client named `appName` for 5 min (failCommand), or skips the test without the fail point.
 */
async function holdKillCursorsOfOpenStream(context: TestContext, store: MongoStore, admin: MongoClient, appName: string, instanceId: string): Promise<void> {
  const seen = firstValueFrom(store.changes$.pipe(filter((change) => change.instanceId === instanceId), take(1), timeout({ first: 60_000 })));
  await store.commit(start(instanceId));
  await seen;
  await failPointOrSkip(context, 'close() killCursors test', () => failCommand(admin, 'alwaysOn', {
    failCommands: ['killCursors'], blockConnection: true, blockTimeMS: 300_000, appName,
  }));
}

function start(instanceId: string, input?: unknown, visibleAt?: Date): WriteSet {
  const { state, message } = request(instanceId, input);
  return { requests: [{ type: 'createInstance', state, message: visibleAt ? { ...message, visibleAt } : message, ifRunning: { kind: 'fail' } }] };
}

function request(instanceId: string, input?: unknown): { state: InstanceState; message: OrchestrationMessage } {
  const now = new Date();
  return {
    state: {
      instanceId, name: 'Orch', runtimeStatus: 'Pending', createdTime: now, lastUpdatedTime: now, executionId: 'exec-1', historyLength: 0,
      version: 1, ...(input === undefined ? {} : { input }),
    },
    message: {
      id: crypto.randomUUID(), instanceId,
      event: {
        type: 'ExecutionStarted', eventId: -1, timestamp: now.toISOString(), name: 'Orch', instanceId, executionId: 'exec-1',
        ...(input === undefined ? {} : { input }),
      },
    },
  };
}

const fixture = fileURLToPath(new URL('./fixtures/hello-process.mjs', import.meta.url));

function spawn(role: 'worker' | 'observer', dbName: string, prefix: string, arg: string, children: ChildProcess[]): ChildProcess {
  const child = fork(fixture, [role, uri ?? '', dbName, prefix, arg], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return child;
}

function nextMessage(child: ChildProcess, type: string, timeoutMs = 60_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no ${type} message from a ${child.spawnargs[2] ?? 'child'} process within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: unknown) => {
      if ((message as { type?: unknown } | null)?.type === type) done(undefined, message);
    };
    const onExit = (code: number | null) => done(new Error(`a ${child.spawnargs[2] ?? 'child'} process exited (code ${code}) before sending ${type}`));
    function done(error: Error | undefined, message?: unknown) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
