import { createClient, createRuntime, type HistoryEvent, type Orchestrator, type Runtime } from '@durable-rx/runtime';
import { assertNoDuplicateSteps, VirtualClock } from '@durable-rx/runtime/testing';
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { filter, firstValueFrom, take, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeHistoryEvent, type HistoryDoc, type InstanceDoc } from '../src/documents.js';
import type { MongoStore } from '../src/mongo-store.js';
import { MAX_PAYLOAD_BYTES } from '../src/payload-codec.js';
import { announceSkip, failCommand, failCommandOff, failPointOrSkip, loseStreamPositionOrSkip, MONGODB_URI, testDatabase } from './support/integration.js';

/**
 * End-to-end, load and failure cases on a real MongoDB replica set (MONGODB_URI). Skipped with a printed reason
 * otherwise. Assertions read each instance's history ("each step applied once"), never global counters, so a
 * transient error the driver retries cannot fail them.
 */
const uri = MONGODB_URI;
announceSkip('mongo-load.test.ts');

const quiet = { warn: () => undefined, error: (...args: unknown[]) => console.error(...args) };

/** How many times Flaky ran per instance (the test's own bookkeeping, not the store's). */
const flakyRuns = new Map<string, number>();

const orchestrators: Record<string, Orchestrator> = {
  /** A durable timer, an activity that fails twice and is retried after durable back-off timers, a sub-orchestration. */
  TimerRetrySub: function* (ctx) {
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1_000));
    const flaky = (yield ctx.callActivityWithRetry('Flaky', { firstRetryIntervalInMilliseconds: 250, maxNumberOfAttempts: 3 }, ctx.instanceId)) as string;
    const child = (yield ctx.callSubOrchestrator('Child', flaky)) as string;
    return child;
  },
  Child: function* (ctx) {
    const echoed = (yield ctx.callActivity('Echo', ctx.getInput())) as string;
    return `child:${echoed}`;
  },
  /** Fan-out of n activities, fan-in of their n results to this one instance. */
  FanIn: function* (ctx) {
    const n = ctx.getInput<number>();
    const results = (yield ctx.Task.all(Array.from({ length: n }, (_, i) => ctx.callActivity('Echo', i)))) as number[];
    return results.reduce((a, b) => a + b, 0);
  },
  /** Consumes n external events named 'e' and sums them. */
  Sink: function* (ctx) {
    const n = ctx.getInput<number>();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += (yield ctx.waitForExternalEvent<number>('e')) as number;
    return sum;
  },
  Echo: function* (ctx) {
    return ctx.getInput();
  },
  HelloSequence: function* (ctx) {
    const out: string[] = [];
    for (const city of ['Tokyo', 'Seattle', 'London']) out.push((yield ctx.callActivity('Echo', `Hello ${city}!`)) as string);
    return out;
  },
};

const activities = {
  Echo: (input: unknown) => input,
  Flaky: (instanceId: string) => {
    const run = (flakyRuns.get(instanceId) ?? 0) + 1;
    flakyRuns.set(instanceId, run);
    if (run < 3) throw new Error(`flaky run ${run}`);
    return `ok after ${run}`;
  },
};

describe.skipIf(!uri)('MongoStore under load and failures (integration)', { timeout: 600_000 }, () => {
  const mongoUri = uri ?? '';
  const db = testDatabase('load');
  const runtimes: Runtime[] = [];
  const stores: MongoStore[] = [];

  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.stop()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  const open = async (label: string, prefix?: string) => {
    const store = await db.open(label, { logger: quiet, ...(prefix ? { prefix } : {}) });
    stores.push(store);
    return store;
  };
  const run = async (store: MongoStore, workerId: string) => {
    const runtime = createRuntime({ store, orchestrators, activities, workerId, logger: quiet });
    runtimes.push(runtime);
    await runtime.start();
    return runtime;
  };
  const count = (history: readonly HistoryEvent[], type: HistoryEvent['type']) => history.filter((e) => e.type === type).length;

  it('runs durable timers, retries and sub-orchestrations end to end', async () => {
    const store = await open('e2e');
    await run(store, 'w1');
    const client = createClient({ store });
    const ids = Array.from({ length: 20 }, (_, i) => `e2e-${i}`);
    await Promise.all(ids.map((instanceId) => client.startNew('TimerRetrySub', { instanceId })));
    const done = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 120_000 })));
    for (const [i, status] of done.entries()) {
      expect(status.runtimeStatus, ids[i]).toBe('Completed');
      expect(status.output).toBe('child:ok after 3');
      const history = await store.getHistory(ids[i]!);
      assertNoDuplicateSteps(history);
      // The first timer, then two retry back-off timers, each fired once.
      expect(count(history, 'TimerFired')).toBe(3);
      expect(count(history, 'TaskFailed')).toBe(2);
      expect(count(history, 'SubOrchestrationInstanceCompleted')).toBe(1);
    }
  });

  it('fans in 500 activity results to one parent while the parent keeps committing', async () => {
    const prefix = db.prefix('fanin');
    const store = await open('fanin', prefix);
    await run(store, 'w1');
    await run(await open('fanin', prefix), 'w2');
    const client = createClient({ store });
    await client.startNew('FanIn', { instanceId: 'parent', input: 500 });
    const status = await client.waitForCompletion('parent', { timeoutMs: 300_000 });
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe((499 * 500) / 2);
    const history = await store.getHistory('parent');
    assertNoDuplicateSteps(history);
    expect(count(history, 'TaskScheduled')).toBe(500);
    expect(count(history, 'TaskCompleted')).toBe(500);
  });

  it('drains a 10,000-message backlog in bounded transactions', async () => {
    const n = 10_000;
    const store = await open('backlog');
    const client = createClient({ store });
    await client.startNew('Sink', { instanceId: 'sink', input: n });
    // Queue the whole backlog before any worker runs: the start message and 10,000 events.
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => client.raiseEvent('sink', 'e', i + j)));
    }
    await run(store, 'w1');
    const status = await client.waitForCompletion('sink', { timeoutMs: 300_000 });
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe(((n - 1) * n) / 2);
    const history = await store.getHistory('sink');
    expect(count(history, 'EventRaised')).toBe(n);
    // No step consumed more than the claim bound (100): count the events between consecutive step starts.
    let perStep = 0;
    let largest = 0;
    for (const event of history) {
      if (event.type === 'OrchestratorStarted') perStep = 0;
      if (event.type === 'EventRaised') largest = Math.max(largest, ++perStep);
    }
    expect(largest).toBeLessThanOrEqual(100);
    expect(count(history, 'OrchestratorStarted')).toBeGreaterThanOrEqual(n / 100);
  });

  it('restarts an id with a 100,000-event history at once, and sweeps the old history afterwards in chunks', async () => {
    const store = await open('restart');
    const client = createClient({ store });
    await run(store, 'w1');
    await client.startNew('Echo', { instanceId: 'big', input: 'first' });
    expect((await client.waitForCompletion('big', { timeoutMs: 60_000 })).runtimeStatus).toBe('Completed');
    // Grow the finished execution's stored history to 100,000 events (a fixture: the events a long run would leave).
    const raw = new MongoClient(mongoUri);
    try {
      const history = raw.db(db.name).collection<HistoryDoc>(store.collections.history);
      const instance = await raw.db(db.name).collection<InstanceDoc>(store.collections.instances).findOne({ _id: 'big' });
      const gen = instance!.historyGen;
      const from = await history.countDocuments({ instanceId: 'big', gen });
      const event = encodeHistoryEvent({ type: 'EventRaised', eventId: -1, timestamp: new Date().toISOString(), name: 'filler', input: 'x'.repeat(100) }, MAX_PAYLOAD_BYTES);
      for (let i = from; i < 100_000; i += 10_000) {
        const docs = Array.from({ length: Math.min(10_000, 100_000 - i) }, (_, j) => ({ instanceId: 'big', gen, index: i + j, event }));
        await history.insertMany(docs, { ordered: false });
      }
      expect(await history.countDocuments({ instanceId: 'big', gen })).toBe(100_000);

      await client.startNew('Echo', { instanceId: 'big', input: 'second' });
      const second = await client.waitForCompletion('big', { timeoutMs: 60_000 });
      expect(second).toMatchObject({ runtimeStatus: 'Completed', output: 'second' });
      const current = await store.getHistory('big');
      expect(count(current, 'ExecutionStarted')).toBe(1);
      expect(current.some((e) => e.type === 'EventRaised')).toBe(false);
      await store.flushSweeps();
      expect(await history.countDocuments({ instanceId: 'big', gen })).toBe(0);
      expect(await raw.db(db.name).collection(store.collections.sweeps).countDocuments({})).toBe(0);
    } finally {
      await raw.close();
    }
  });

  it('keeps every step applied once through a primary step-down (where the server allows one)', async (context) => {
    const store = await open('stepdown');
    await run(store, 'w1');
    const client = createClient({ store });
    const ids = Array.from({ length: 50 }, (_, i) => `sd-${i}`);
    await Promise.all(ids.map((instanceId) => client.startNew('HelloSequence', { instanceId })));
    const admin = new MongoClient(mongoUri);
    let refused: string | undefined;
    try {
      await admin.db('admin').command({ replSetStepDown: 10, secondaryCatchUpPeriodSecs: 5 });
    } catch (error) {
      refused = error instanceof Error ? error.message : String(error);
    } finally {
      await admin.close().catch(() => undefined);
    }
    const done = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 240_000 })));
    for (const [i, status] of done.entries()) {
      expect(status.runtimeStatus, ids[i]).toBe('Completed');
      const history = await store.getHistory(ids[i]!);
      assertNoDuplicateSteps(history);
      expect(count(history, 'OrchestratorStarted')).toBe(4);
    }
    if (refused !== undefined) {
      console.log(`replSetStepDown SKIPPED: the server refused it (${refused}); the run above had no failover.`);
      context.skip();
    }
  });

  it('delivers every status change with its input when reading the input fails for a moment', async (context) => {
    // An input over 256 KiB is never cached: each step's change needs a read of it, the watcher's only finds. Its own
    // client (appName) so the fail point below hits only those reads, not the worker's claims.
    const prefix = db.prefix('inputread');
    const worker = await open('inputread', prefix);
    const appName = `drx-inputread-${randomUUID().slice(0, 8)}`;
    const watcher = await db.open('inputread', { logger: quiet, prefix, clientOptions: { appName } });
    stores.push(watcher);
    await watcher.flushSweeps(); // the reads its connect started are over
    const input = 'x'.repeat(300 * 1024);
    const inputs: unknown[] = [];
    const changes = watcher.changes$.pipe(filter((c) => c.instanceId === 'big-input'));
    const subscription = changes.subscribe((c) => {
      if (c.state) inputs.push(c.state.input);
    });
    const completed = firstValueFrom(changes.pipe(filter((c) => c.state?.runtimeStatus === 'Completed'), timeout(120_000)));
    const admin = new MongoClient(mongoUri);
    try {
      // The next two finds fail as during a failover (ShutdownInProgress): the driver reads again once by itself, so
      // the store's first read fails, and the store reads again after its back-off.
      await failPointOrSkip(context, 'input read retry test', () => failCommand(admin, { times: 2 }, { failCommands: ['find'], appName, errorCode: 91 }));
      await run(worker, 'w1');
      await createClient({ store: worker }).startNew('Echo', { instanceId: 'big-input', input });
      await completed;
      // The start (its insert carries the input) and at least the completion, which needed a read.
      expect(inputs.length).toBeGreaterThan(1);
      for (const value of inputs) expect(value).toBe(input);
    } finally {
      subscription.unsubscribe();
      await failCommandOff(admin);
      await admin.close();
    }
  });

  it('resyncs after a forced change-stream gap: status subscribers get the snapshots again', async (context) => {
    // Only the status feed is open in this store (no worker, no workAvailable$ subscriber), so the fail point below
    // can only hit its stream.
    const appName = `drx-resync-${process.pid}`;
    const store = await db.open('resync', { logger: quiet, clientOptions: { appName } });
    stores.push(store);
    const client = createClient({ store });
    const seen: { version: number }[] = [];
    const subscription = store.changes$.pipe(filter((c) => c.instanceId === 'gap')).subscribe((c) => {
      if (c.state) seen.push({ version: c.state.version });
    });
    try {
      await client.startNew('Echo', { instanceId: 'gap', input: 1 });
      await firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'gap'), take(1)));
      // ChangeStreamHistoryLost on this client's next getMore: the position is gone, as after an outage longer
      // than the oplog window.
      await loseStreamPositionOrSkip(context, 'change-stream resync test', appName);
      const before = seen.length;
      // The resync re-reads every instance changed recently and emits its snapshot again (nothing else changes it).
      await firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'gap'), take(1)));
      expect(seen.length).toBeGreaterThan(before);
      expect(seen.at(-1)?.version).toBe(1);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('tells a per-instance watcher of a purge that happened while its stream had lost its position', async (context) => {
    const prefix = db.prefix('purgegap');
    const worker = await open('purgegap', prefix);
    await run(worker, 'w1');
    const workerClient = createClient({ store: worker });
    await workerClient.startNew('Echo', { instanceId: 'gone', input: 1 });
    expect((await workerClient.waitForCompletion('gone', { timeoutMs: 60_000 })).runtimeStatus).toBe('Completed');
    // The watcher's own client (appName) so the fail point below hits only its streams.
    const appName = `drx-purgegap-${process.pid}`;
    const watcher = await db.open('purgegap', { prefix, logger: quiet, clientOptions: { appName } });
    stores.push(watcher);
    const purged = firstValueFrom(watcher.instanceChanges$('gone').pipe(filter((c) => c.state === undefined), take(1)));
    await loseStreamPositionOrSkip(context, 'purge-during-gap test', appName);
    await worker.purgeInstance('gone');
    // Delivered by the stream, or (when the purge fell into the gap) by the resync, which re-reads every watched id.
    expect(await purged).toMatchObject({ instanceId: 'gone', state: undefined });
  });
  it('tells changes$ (a live list) of a purge that happened while its stream had lost its position', async (context) => {
    const prefix = db.prefix('listgap');
    const worker = await open('listgap', prefix);
    await run(worker, 'w1');
    const workerClient = createClient({ store: worker });
    await workerClient.startNew('Echo', { instanceId: 'gone', input: 1 });
    expect((await workerClient.waitForCompletion('gone', { timeoutMs: 60_000 })).runtimeStatus).toBe('Completed');
    // The watcher runs its feed's timers on a virtual clock: after the lost position its stream stays closed (the
    // reopen waits on that clock) until the test advances it, so the purge below falls into the gap for certain.
    // No other timer runs there (no clock checks, no linger); its own appName keeps the fail point off other clients.
    const appName = `drx-listgap-${process.pid}`;
    const clock = new VirtualClock(new Date());
    const watcher = await db.open('listgap', { prefix, logger: quiet, clientOptions: { appName }, clock, clockSkewCheckMs: 0, feedLingerMs: 0 });
    stores.push(watcher);
    const changes: { instanceId: string; purged: boolean }[] = [];
    const subscription = watcher.changes$.subscribe((c) => void changes.push({ instanceId: c.instanceId, purged: c.state === undefined }));
    try {
      await loseStreamPositionOrSkip(context, 'list purge-during-gap test', appName);
      await clock.waitForTimer(); // the stream failed with ChangeStreamHistoryLost; its reopen waits on the clock
      expect(await worker.purgeInstance('gone')).toBe(1);
      const purged = firstValueFrom(watcher.changes$.pipe(filter((c) => c.instanceId === 'gone' && c.state === undefined), take(1)));
      await clock.advance(60_000);
      expect(await purged).toMatchObject({ instanceId: 'gone', state: undefined });
      expect(changes.filter((c) => c.instanceId === 'gone' && c.purged)).toHaveLength(1);
    } finally {
      subscription.unsubscribe();
    }
  });
});

