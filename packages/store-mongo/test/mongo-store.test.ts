import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createClient, type InstanceState, type WorkerMetrics } from '@durable-rx/runtime';
import { assertNoDuplicateSteps, describeStoreConformance } from '@durable-rx/runtime/testing';
import { MongoClient, type Document } from 'mongodb';
import { firstValueFrom, filter, take } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { MongoStore } from '../src/mongo-store.js';

/**
 * Integration tests against a real MongoDB replica set. They run only when MONGODB_URI is set; otherwise the file
 * prints one line saying they were skipped and why. Nothing here fakes the driver or the server.
 */
const uri = process.env['MONGODB_URI'];

if (!uri) {
  console.log(
    'MongoDB integration tests SKIPPED: MONGODB_URI is not set. They need a MongoDB replica set (transactions and ' +
      'change streams), e.g. MONGODB_URI="mongodb://127.0.0.1:27017/?replicaSet=rs0"; no server is available on this machine.',
  );
}

const RUN = `drx${process.pid}`;
let dbCounter = 0;
const databases = new Set<string>();
/** A database name unique to this run (MongoDB allows 63 characters). */
function dbName(label: string): string {
  const name = `${RUN}-${label}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60);
  databases.add(name);
  return name;
}

describe.skipIf(!uri)('MongoStore on MONGODB_URI (integration)', () => {
  const mongoUri = uri ?? '';

  afterAll(async () => {
    const admin = new MongoClient(mongoUri);
    try {
      for (const name of databases) await admin.db(name).dropDatabase();
    } finally {
      await admin.close();
    }
  });

  describeStoreConformance('MongoStore', (name) => MongoStore.connect({ uri: mongoUri, dbName: dbName(name) }), { shared: true });

  describe('beyond the port', () => {
    const open = () => MongoStore.connect({ uri: mongoUri, dbName: dbName(`extra-${++dbCounter}`) });

    it('stores a 12 MiB input and refuses one over the 15 MiB limit without writing anything', async () => {
      const store = await open();
      try {
        const big = 'é'.repeat(6 * 1024 * 1024); // 12 MiB of UTF-8
        await store.createInstance(request('big', big));
        expect((await store.getInstance('big'))?.input).toBe(big);
        const tooBig = 'x'.repeat(16 * 1024 * 1024);
        await expect(store.createInstance(request('too-big', tooBig))).rejects.toMatchObject({ code: 'payload-too-large', status: 413 });
        expect(await store.getInstance('too-big')).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it('matches instance id prefixes with regex characters literally', async () => {
      const store = await open();
      try {
        for (const id of ['a[1', 'a(2', 'a+3', 'a\\4', 'ab5', 'a.6']) await store.createInstance(request(id));
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
      const name = dbName(`explain-${++dbCounter}`);
      const store = await MongoStore.connect({ uri: mongoUri, dbName: name });
      const client = new MongoClient(mongoUri);
      try {
        for (let i = 0; i < 20; i++) await store.createInstance(request(`job-${i}`));
        const instances = client.db(name).collection<{ _id: string }>(store.collections.instances);
        const now = new Date();
        const plans: Document[] = [
          await instances.find({ nextMessageAt: { $lte: now }, leaseExpiresAt: { $lte: now } }).sort({ nextMessageAt: 1, oldestMessageId: 1 }).limit(1).explain(),
          await instances.find({}).sort({ createdTime: 1, _id: 1 }).limit(10).explain(),
          await instances.find({ _id: { $regex: '^job-1' } }).explain(),
          await client.db(name).collection(store.collections.messages).find({ instanceId: 'job-1' }).sort({ seq: 1 }).explain(),
        ];
        for (const plan of plans) {
          const winning: unknown = plan['queryPlanner']?.['winningPlan'];
          expect(winning).toBeDefined();
          expect(JSON.stringify(winning)).not.toContain('COLLSCAN');
        }
      } finally {
        await client.close();
        await store.close();
      }
    });

    it('opens change streams for subscribers only, and releases them on unsubscribe and close', async () => {
      const client = new MongoClient(mongoUri);
      const store = await MongoStore.connect({ client, dbName: dbName(`streams-${++dbCounter}`) });
      try {
        expect(store.openChangeStreams).toBe(0);
        const changes = store.changes$.subscribe();
        const work = store.workAvailable$.subscribe();
        expect(store.openChangeStreams).toBe(2);
        const seen = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'x'), take(1)));
        await store.createInstance(request('x'));
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
      const name = dbName('two-processes');
      const children: ChildProcess[] = [];
      const store = await MongoStore.connect({ uri: mongoUri, dbName: name });
      try {
        const observer = spawn('observer', name, String(n), children);
        await nextMessage(observer, 'ready');
        const workers = [spawn('worker', name, 'worker-1', children), spawn('worker', name, 'worker-2', children)];
        await Promise.all(workers.map((w) => nextMessage(w, 'ready')));

        const client = createClient({ store });
        const ids = Array.from({ length: n }, (_, i) => `hello-${i}`);
        const observed = nextMessage(observer, 'statuses', 180_000);
        await Promise.all(ids.map((instanceId) => client.startNew('E1_HelloSequence', { instanceId })));
        const done = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 180_000 })));
        const report = (await observed) as { seen: Record<string, unknown[]>; openAfterUnsubscribe: number };

        workers.forEach((w) => w.send({ type: 'stop' }));
        const metrics = (await Promise.all(workers.map((w) => nextMessage(w, 'stopped')))).map((m) => (m as { metrics: WorkerMetrics }).metrics);

        expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
        for (const status of done) expect(status.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
        for (const id of ids) {
          const history = await store.getHistory(id);
          assertNoDuplicateSteps(history);
          expect(history.filter((e) => e.type === 'ExecutionCompleted'), id).toHaveLength(1);
        }
        // Four steps per instance (start, three results), each applied exactly once across both processes.
        expect(metrics[0]!.steps + metrics[1]!.steps).toBe(n * 4);
        expect(metrics[0]!.activitiesRun + metrics[1]!.activitiesRun).toBe(n * 3);
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

function request(instanceId: string, input?: unknown): { state: InstanceState; message: Parameters<MongoStore['sendMessage']>[0] } {
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

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/hello-process.mjs', import.meta.url));

/** The child processes run the built package: build it when dist is missing or older than src. */
function ensureBuilt(): void {
  const built = `${packageDir}dist/index.js`;
  const newestSource = Math.max(...readdirSync(`${packageDir}src`, { recursive: true, encoding: 'utf8' })
    .map((file) => statSync(`${packageDir}src/${file}`).mtimeMs));
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', `${packageDir}tsconfig.build.json`], { stdio: 'inherit' });
}

function spawn(role: 'worker' | 'observer', db: string, arg: string, children: ChildProcess[]): ChildProcess {
  const child = fork(fixture, [role, uri ?? '', db, arg], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
