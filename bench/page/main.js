/**
 * The browser half of the bench's IndexedDB scenario (bench/src/scenarios/indexeddb.mjs drives it with
 * playwright-core in headless Chromium). Every function of `window.bench` is one measurement on a fresh database;
 * the Node side decides the order (interleaved rounds) and does the statistics.
 *
 * Contenders: durable-rx on DexieStore and on KeyvalStore, a raw IndexedDB baseline on the same page, and
 * `@coji/durably` on SQLocal (SQLite WASM on OPFS, in a Web Worker; the page is cross-origin isolated for it).
 */
import { idbCounts, idbCountsSince, lastReadwriteCompleteAt, lastSettledAt, whenQuiet } from './idb-counters.js';
import { createDurably, defineJob } from '@coji/durably';
import { createClient, createRuntime, silentLogger } from '@durable-rx/runtime';
import { helloSequence, sayHello } from '@durable-rx/runtime/samples';
import { DexieStore, KeyvalStore } from '@durable-rx/store-indexeddb';
import { filter, firstValueFrom } from 'rxjs';
import { SQLocalKysely } from 'sqlocal/kysely';
import { z } from 'zod';

const CITIES = ['Tokyo', 'Seattle', 'London'];
const HELLO = 'HelloSequence';
const STATUS_LOOP = 'StatusLoop';
let databases = 0;

/** @param {string} prefix */
const freshName = (prefix) => `${prefix}-${Date.now()}-${++databases}`;
/** The same clock in every tab of the browser (ms since the Unix epoch, sub-millisecond). */
const now = () => performance.timeOrigin + performance.now();

/** @param {'dexie' | 'keyval'} adapter @param {string} name */
const openStore = (adapter, name) => (adapter === 'dexie' ? new DexieStore({ name }) : new KeyvalStore({ name }));
/**
 * A store on a database of its own for one measurement; `dispose` closes it and deletes the database, as an app keeps
 * one database, not one per measurement (an origin holding hundreds slows each store's transactions).
 * @param {'dexie' | 'keyval'} adapter @param {string} prefix
 */
function measuredStore(adapter, prefix) {
  const name = freshName(prefix);
  const store = openStore(adapter, name);
  const handles = [store];
  return {
    store,
    /** Another handle of the same database (a client's, as a second tab's), closed by `dispose` too. */
    another: () => {
      const handle = openStore(adapter, name);
      handles.push(handle);
      return handle;
    },
    dispose: async () => { await Promise.all(handles.map((handle) => handle.close())); await deleteDatabase(name); },
  };
}

/** Waits for an external event and sets the custom status to its payload, forever (the cross-tab probe). */
const statusLoop = function* (/** @type {import('@durable-rx/runtime').OrchestrationContext} */ ctx) {
  for (;;) ctx.setCustomStatus(yield ctx.waitForExternalEvent('next'));
};

// ------------------------------------------------------------------ raw IndexedDB ceiling

/**
 * Readwrite transactions per second on a bare IndexedDB database of this page, one after another, each doing three
 * reads and one write (the shape of a store operation: read the state, write the result).
 * @param {number} transactions
 */
async function rawCeiling(transactions) {
  const raw = await openRaw();
  const started = performance.now();
  for (let i = 0; i < transactions; i++) await raw.one(i);
  const elapsedMs = performance.now() - started;
  await raw.close();
  return { transactions, elapsedMs, perSecond: transactions / (elapsedMs / 1000) };
}

/**
 * A bare IndexedDB database of this page with 16 keys, warmed up: `one(i)` runs one readwrite transaction of three
 * reads and one write.
 */
async function openRaw() {
  const name = freshName('raw');
  /** @type {IDBDatabase} */
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('kv');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const keys = 16;
  await txDone(db, (store) => { for (let k = 0; k < keys; k++) store.put({ k, payload: 'x'.repeat(200) }, k); });
  const one = (/** @type {number} */ i) => txDone(db, (store) => {
    store.get(i % keys);
    store.get((i + 5) % keys);
    store.get((i + 11) % keys);
    store.put({ k: i % keys, payload: 'y'.repeat(200), i }, i % keys);
  });
  for (let i = 0; i < 5; i++) await one(i); // warm-up
  const close = async () => {
    db.close();
    await deleteDatabase(name);
  };
  return { one, close };
}

/** @param {IDBDatabase} db @param {(store: IDBObjectStore) => void} body @returns {Promise<void>} */
function txDone(db, body) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(['kv'], 'readwrite');
    body(tx.objectStore('kv'));
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** @param {string} name @returns {Promise<void>} */
function deleteDatabase(name) {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => resolve();
    request.onblocked = () => resolve();
  });
}

// ------------------------------------------------------------------ durable-rx hello sequence

/**
 * Hello-sequence throughput on one runtime: `concurrency` 1 runs `instances` instances one after another (start,
 * wait, next); otherwise all `instances` start at once. Counts the IndexedDB transactions and requests of the run.
 * @param {'dexie' | 'keyval'} adapter
 * @param {number} concurrency
 * @param {number} instances
 */
async function hello(adapter, concurrency, instances) {
  const { store, dispose } = measuredStore(adapter, `hello-${adapter}`);
  const runtime = createRuntime({
    store, orchestrators: { [HELLO]: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger,
  });
  await store.getInstance('warm-up'); // opens the database before the clock starts
  await runtime.start();
  const ids = Array.from({ length: instances }, (_, i) => `hello-${i}`);
  const before = idbCounts();
  const started = performance.now();
  /** @type {import('@durable-rx/runtime').InstanceStatus[]} */
  let done;
  if (concurrency === 1) {
    done = [];
    for (const instanceId of ids) {
      await runtime.client.startNew(HELLO, { instanceId });
      done.push(await runtime.client.waitForCompletion(instanceId, { timeoutMs: 300_000 }));
    }
  } else {
    await Promise.all(ids.map((instanceId) => runtime.client.startNew(HELLO, { instanceId })));
    done = await Promise.all(ids.map((id) => runtime.client.waitForCompletion(id, { timeoutMs: 300_000 })));
  }
  const elapsedMs = performance.now() - started;
  const counts = idbCountsSince(before);
  // Read once the worker stopped: the last step counts itself a moment after its commit, which the client may hear of first.
  await runtime.stop();
  const steps = runtime.metrics.steps;
  await dispose();
  const failed = done.filter((s) => s.runtimeStatus !== 'Completed');
  if (failed.length > 0) throw new Error(`${failed.length} hello sequences did not complete (${failed[0]?.runtimeStatus})`);
  return { adapter, concurrency, instances, steps, elapsedMs, counts };
}

/**
 * Hello sequences on one database that keeps every instance it ran, the client on a second handle of it (as an app
 * whose UI tab starts work that a worker runs): `measured` instances `concurrency` at a time, then instances run
 * unmeasured until `held` are in the database, then `measured` again. Each measured stretch gives its time and its
 * IndexedDB requests per instance: a store whose reads slow down with the work it ran shows it in the second.
 * @param {'dexie' | 'keyval'} adapter
 * @param {number} measured
 * @param {number} held
 * @param {number} concurrency
 */
async function heldAcrossHandles(adapter, measured, held, concurrency) {
  const { store, another, dispose } = measuredStore(adapter, `held-${adapter}`);
  const clientStore = another();
  const runtime = createRuntime({ store, orchestrators: { [HELLO]: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger });
  const client = createClient({ store: clientStore });
  let next = 0;
  /** @param {number} instances */
  const run = async (instances) => {
    const before = idbCounts();
    const started = performance.now();
    for (let done = 0; done < instances; done += concurrency) {
      const ids = Array.from({ length: Math.min(concurrency, instances - done) }, () => `held-${next++}`);
      await Promise.all(ids.map((instanceId) => client.startNew(HELLO, { instanceId })));
      const ended = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 300_000 })));
      const failed = ended.find((s) => s.runtimeStatus !== 'Completed');
      if (failed) throw new Error(`a hello sequence did not complete (${failed.runtimeStatus})`);
    }
    const requests = idbCountsSince(before).requests;
    return { held: next, msPerInstance: (performance.now() - started) / instances, requestsPerInstance: requests / instances };
  };
  try {
    await store.getInstance('warm-up');
    await runtime.start();
    const first = await run(measured);
    await run(Math.max(0, held - measured - next));
    const last = await run(measured);
    return { adapter, concurrency, first, last };
  } finally {
    await runtime.stop();
    await dispose();
  }
}

/**
 * Hello-sequence throughput at 1 concurrent with the raw ceiling measured in the same stretch of time, in alternation:
 * before each instance, `rawPerInstance` raw readwrite transactions (as in `rawCeiling`, on a bare database of this
 * page). The two clocks run apart, so no raw transaction overlaps an instance's work: the raw clock from the first raw
 * transaction's start to the last one's completion; an instance's from `startNew` to the later of its completion and
 * the completion of the last IndexedDB transaction opened for it (its last commits, its worker's claim round and reads
 * are its cost). The page then waits, untimed, until it is quiet (no IndexedDB transaction running or opened across
 * several macrotasks) before the next raw burst: the idle turns that tell it so are no one's work
 * (`quietElapsedMs` is the instances' time with them). Transactions other than the raw ones opened during a
 * raw burst (none is expected) are added to the instances' counts, and the bursts they disturbed are counted
 * (`disturbedBursts`): such a slice's share is not used.
 * @param {'dexie' | 'keyval'} adapter
 * @param {number} instances
 * @param {number} rawPerInstance
 */
async function helloWithRaw(adapter, instances, rawPerInstance) {
  const raw = await openRaw();
  const { store, dispose } = measuredStore(adapter, `hello-${adapter}`);
  const runtime = createRuntime({
    store, orchestrators: { [HELLO]: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger,
  });
  await store.getInstance('warm-up'); // opens the database before the clock starts
  await runtime.start();
  await whenQuiet(10_000);
  let elapsedMs = 0;
  let quietElapsedMs = 0;
  let disturbedBursts = 0;
  let rawElapsedMs = 0;
  const counts = { readwrite: 0, readonly: 0, requests: 0 };
  const add = (/** @type {import('./idb-counters.js').IdbCounts} */ c) => {
    counts.readwrite += c.readwrite;
    counts.readonly += c.readonly;
    counts.requests += c.requests;
  };
  /** @type {import('@durable-rx/runtime').InstanceStatus[]} */
  const done = [];
  for (let i = 0; i < instances; i++) {
    let before = idbCounts();
    let started = performance.now();
    for (let j = 0; j < rawPerInstance; j++) await raw.one(i * rawPerInstance + j);
    rawElapsedMs += performance.now() - started;
    const during = idbCountsSince(before);
    if (during.readwrite > rawPerInstance || during.readonly > 0) disturbedBursts++;
    add({ readwrite: during.readwrite - rawPerInstance, readonly: during.readonly, requests: during.requests - 4 * rawPerInstance });
    const instanceId = `hello-${i}`;
    before = idbCounts();
    started = performance.now();
    await runtime.client.startNew(HELLO, { instanceId });
    done.push(await runtime.client.waitForCompletion(instanceId, { timeoutMs: 300_000 }));
    const completedAt = performance.now();
    await whenQuiet(10_000);
    quietElapsedMs += performance.now() - started;
    elapsedMs += Math.max(completedAt, lastSettledAt()) - started;
    add(idbCountsSince(before));
  }
  await runtime.stop();
  const steps = runtime.metrics.steps;
  await dispose();
  await raw.close();
  const failed = done.filter((s) => s.runtimeStatus !== 'Completed');
  if (failed.length > 0) throw new Error(`${failed.length} hello sequences did not complete (${failed[0]?.runtimeStatus})`);
  return { adapter, instances, steps, elapsedMs, quietElapsedMs, counts, rawTransactions: instances * rawPerInstance, rawElapsedMs, disturbedBursts };
}

/**
 * Same tab: from an activity's return to the `customStatus$` emission that follows it (the orchestrator sets the
 * city as custom status after each greeting). Instances run one at a time; 3 samples per instance.
 * @param {'dexie' | 'keyval'} adapter
 * @param {number} instances
 */
async function sameTabLatency(adapter, instances) {
  const { store, dispose } = measuredStore(adapter, `latency-${adapter}`);
  /** @type {Map<string, number>} */
  const returnedAt = new Map();
  let current = '';
  const runtime = createRuntime({
    store, orchestrators: { [HELLO]: helloSequence }, logger: silentLogger,
    activities: {
      E1_SayHello: (/** @type {string} */ city) => {
        const result = sayHello(city);
        returnedAt.set(`${current}/${city}`, performance.now());
        return result;
      },
    },
  });
  await store.getInstance('warm-up');
  await runtime.start();
  /** @type {number[]} */
  const samples = [];
  for (let i = 0; i < instances; i++) {
    current = `latency-${i}`;
    const id = current;
    await runtime.client.startNew(HELLO, { instanceId: id });
    await new Promise((resolve, reject) => {
      const subscription = runtime.client.customStatus$(id).subscribe({
        next: (status) => {
          const at = performance.now();
          const returned = returnedAt.get(`${id}/${String(status)}`);
          if (returned !== undefined) samples.push(at - returned);
          if (status === CITIES[CITIES.length - 1]) {
            subscription.unsubscribe();
            resolve(undefined);
          }
        },
        error: reject,
      });
    });
    await runtime.client.waitForCompletion(id, { timeoutMs: 300_000 });
  }
  await runtime.stop();
  await dispose();
  return { adapter, samples };
}

// ------------------------------------------------------------------ cross-tab

/** @type {{ runtime: import('@durable-rx/runtime').Runtime, store: import('@durable-rx/runtime/store-kit').Store, channel: BroadcastChannel, db: string } | undefined} */
let writer;
/** @type {{ store: import('@durable-rx/runtime/store-kit').Store, channel: BroadcastChannel, arrivals: Map<number, number>, subscription: import('rxjs').Subscription } | undefined} */
let reader;

/**
 * The writing tab: a runtime with a worker, one StatusLoop instance. Answers clock pings from the reading tab.
 * @param {'dexie' | 'keyval'} adapter @param {string} db @param {string} instanceId
 */
async function crossTabWriterOpen(adapter, db, instanceId) {
  const store = openStore(adapter, db);
  const runtime = createRuntime({ store, orchestrators: { [STATUS_LOOP]: statusLoop }, logger: silentLogger });
  await runtime.start();
  await runtime.client.startNew(STATUS_LOOP, { instanceId });
  const channel = new BroadcastChannel(`bench-${db}`);
  writer = { runtime, store, channel, db };
}

/**
 * The reading tab: the same database, a client only (no worker), subscribed to the instance's `customStatus$`.
 * @param {'dexie' | 'keyval'} adapter @param {string} db @param {string} instanceId
 */
async function crossTabReaderOpen(adapter, db, instanceId) {
  const store = openStore(adapter, db);
  const client = createClient({ store });
  const channel = new BroadcastChannel(`bench-${db}`);
  /** @type {Map<number, number>} */
  const arrivals = new Map();
  const subscription = client.customStatus$(instanceId).subscribe((value) => {
    if (typeof value !== 'number') return;
    arrivals.set(value, now());
    channel.postMessage({ ack: value });
  });
  channel.onmessage = (event) => {
    if (event.data?.ping !== undefined) channel.postMessage({ pong: event.data.ping, at: now() });
  };
  reader = { store, channel, arrivals, subscription };
}

/**
 * In the writing tab: the clock offset of the reading tab, NTP style over the BroadcastChannel (the sample with the
 * shortest round trip wins), then `probes` probes. A probe raises `next` with value k; t0 is the `complete` event of
 * the IndexedDB transaction that committed k in this tab (found through this tab's change feed); the reading tab stamps its `customStatus$` emission of k
 * (t1) and acknowledges, and the next probe starts. Returns t1 - t0 per probe, corrected by the offset.
 * @param {string} instanceId @param {number} probes
 */
async function crossTabRun(instanceId, probes) {
  if (!writer) throw new Error('writer not open');
  const { runtime, store, channel } = writer;
  /** @type {Map<number, (message: any) => void>} */
  const waiting = new Map();
  channel.onmessage = (event) => {
    const key = event.data?.ack ?? event.data?.pong;
    waiting.get(key)?.(event.data);
  };
  const message = (/** @type {number} */ key) => new Promise((resolve) => waiting.set(key, resolve));
  // Clock offset (reader clock - writer clock).
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 50; i++) {
    const key = -1 - i;
    const reply = message(key);
    const t0 = now();
    channel.postMessage({ ping: key });
    const { at } = /** @type {{ at: number }} */ (await reply);
    const t1 = now();
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: at - (t0 + t1) / 2 };
  }
  /** @type {Map<number, number>} */
  const committedAt = new Map();
  const feed = store.changes$.subscribe((change) => {
    const status = change.state?.customStatus;
    // The store publishes a commit's snapshots right after its transaction completes (other subscribers of this
    // page's feed may run first): the last readwrite transaction to complete is the one that committed k.
    if (typeof status === 'number' && !committedAt.has(status)) committedAt.set(status, lastReadwriteCompleteAt());
  });
  try {
    for (let k = 1; k <= probes; k++) {
      const ack = message(k);
      await runtime.client.raiseEvent(instanceId, 'next', k);
      await ack;
    }
  } finally {
    feed.unsubscribe();
    channel.onmessage = null;
  }
  return { committedAt: [...committedAt], clockOffsetMs: best.offset, clockRttMs: best.rtt };
}

/** In the reading tab: its arrival stamps, then it closes. */
async function crossTabReaderClose() {
  if (!reader) return [];
  const { store, channel, arrivals, subscription } = reader;
  subscription.unsubscribe();
  channel.close();
  await store.close();
  reader = undefined;
  return [...arrivals];
}

async function crossTabWriterClose() {
  if (!writer) return;
  writer.channel.close();
  await writer.runtime.stop();
  await writer.store.close();
  // Deleted once the reading tab has closed it too (a blocked delete completes then).
  await deleteDatabase(writer.db);
  writer = undefined;
}

// ------------------------------------------------------------------ durably

/**
 * A durably instance on SQLocal (SQLite WASM on OPFS, in a Web Worker) with the hello sequence as a 3-step job that
 * reports progress after each step, as the durable-rx orchestration sets its custom status.
 * @param {number} maxConcurrentRuns
 * @param {(runId: string, step: number) => void} [onStepReturned]
 */
async function openDurably(maxConcurrentRuns, onStepReturned) {
  const file = `${freshName('durably')}.sqlite3`;
  const sqlocal = new SQLocalKysely(file);
  const helloJob = defineJob({
    name: 'hello-sequence',
    input: z.object({}),
    output: z.object({ outputs: z.array(z.string()) }),
    run: async (step) => {
      const outputs = [];
      for (const [i, city] of CITIES.entries()) {
        outputs.push(await step.run(city, () => {
          const result = sayHello(city);
          onStepReturned?.(step.runId, i + 1);
          return result;
        }));
        step.progress(i + 1, CITIES.length, city);
      }
      return { outputs };
    },
  });
  const durably = createDurably({
    dialect: sqlocal.dialect,
    // Polling only matters when the worker is idle; 10 ms is far below the default (1 s) and the browser example
    // in durably's docs (100 ms), so a run never waits long for the worker. Leases keep durably's defaults (30 s,
    // renewed every 5 s): shorter ones expire under load and make runs start over.
    pollingIntervalMs: 10, maxConcurrentRuns,
    jobs: { hello: helloJob },
  });
  await durably.init();
  return {
    durably, job: durably.jobs.hello,
    async close() {
      await durably.stop();
      await sqlocal.destroy();
    },
  };
}

/**
 * durably jobs per second: `concurrency` 1 runs jobs one after another; otherwise all start at once (the worker
 * runs them one at a time).
 * @param {number} concurrency @param {number} jobs
 */
async function durablyThroughput(concurrency, jobs) {
  // The worker runs one run at a time (durably's default): with 4 or 16 at once, each job took longer on SQLite
  // (1.25x and 3.3x in a trial here), so one at a time is durably at its best.
  const d = await openDurably(1);
  try {
    await d.job.triggerAndWait({}, { timeout: 60_000 }); // warm-up: migrations done, worker polling
    const started = performance.now();
    if (concurrency === 1) {
      for (let i = 0; i < jobs; i++) await d.job.triggerAndWait({}, { timeout: 300_000 });
    } else {
      // One run at a time: the last of 100 waits for the 99 before it (seconds each on a loaded machine).
      await Promise.all(Array.from({ length: jobs }, () => d.job.triggerAndWait({}, { timeout: 1_800_000 })));
    }
    const elapsedMs = performance.now() - started;
    return { concurrency, jobs, elapsedMs };
  } finally {
    await d.close();
  }
}

/**
 * durably, the same notification: from a step function's return to the `run:progress` event the job reports after
 * that step (the step's result is persisted in between). Jobs run one at a time.
 * @param {number} jobs
 */
async function durablyLatency(jobs) {
  /** @type {Map<string, number>} */
  const returnedAt = new Map();
  /** @type {number[]} */
  const samples = [];
  const d = await openDurably(1, (runId, step) => returnedAt.set(`${runId}/${step}`, performance.now()));
  const off = d.durably.on('run:progress', (event) => {
    const at = performance.now();
    const returned = returnedAt.get(`${event.runId}/${event.progress.current}`);
    if (returned !== undefined) samples.push(at - returned);
  });
  try {
    for (let i = 0; i < jobs; i++) await d.job.triggerAndWait({}, { timeout: 300_000 });
  } finally {
    off?.();
    await d.close();
  }
  return { samples };
}

window.bench = {
  ready: Promise.resolve(crossOriginIsolated),
  rawCeiling, hello, helloWithRaw, heldAcrossHandles, sameTabLatency, durablyThroughput, durablyLatency,
  crossTabWriterOpen, crossTabReaderOpen, crossTabRun, crossTabReaderClose, crossTabWriterClose,
};
document.getElementById('status').textContent = `ready (crossOriginIsolated: ${crossOriginIsolated})`;
