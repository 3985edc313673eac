/**
 * Scenario: MemoryStore at scale. N instances of `StatusLoop` (wait for an external event, set it as the custom
 * status, wait again) are started and left waiting; then
 * - heap per waiting instance: (heap with N waiting - heap before the runtime) / N, after full collections, with the
 *   runtime's default execution cache; and the part of it that is the runtime's: the heap the runtime's stop releases
 *   after the rounds (its execution cache above all, and whatever else the runtime frees; the store is kept), divided by N;
 * - raise throughput: one round raises one event to each of the N instances at once (client.raiseEvent) and ends
 *   when every instance has committed the step that consumed it; events/s = N / round time. A few rounds per N, the
 *   same population (each round adds 3 events to every history).
 * durable-rx only: the peers have no comparable in-process backend for tens of thousands of waiting instances.
 *
 * Runs in a child process of its own (`node --expose-gc` this file; the rows come back over the IPC channel), as a
 * server runs the runtime: in the bench's process, the IndexedDB scenario run before leaves playwright-core loaded
 * and its AsyncLocalStorage enabled, so from then on every promise of the process goes through an async hook; nothing
 * of that scenario still runs (no timer, handle or Chromium process), yet the raises measured after it in the same
 * process were 20-35 % fewer per second, at both sizes, with more CPU time per round: a cost of the bench's process.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { collectGarbage } from '../harness.mjs';
import { durableRx, STATUS_LOOP } from '../orchestrations.mjs';
import { spread } from '../stats.mjs';
import { duration, integer, range } from '../format.mjs';

/**
 * @typedef {object} MemoryScaleRow
 * @property {number} waiting           instances waiting for an event
 * @property {number} heapPerInstance   bytes of heap per waiting instance (default cache)
 * @property {number} cachePerInstance  of which the runtime (its execution cache above all): bytes per waiting
 *   instance that stopping the runtime released after the rounds
 * @property {import('../stats.mjs').Spread} eventsPerSecond  raised events consumed per second, over the rounds
 * @property {number} roundMedianMs
 * @property {{ cacheHits: number, cacheMisses: number, eventsReplayed: number, steps: number }} counters  worker
 *   counters of the raise rounds
 * @property {number} load              1-minute load average when the row finished
 */

/**
 * The scenario: measures in a child process (see the top of this file) and returns its rows.
 * @param {{ quick?: boolean }} [options]
 * @returns {Promise<MemoryScaleRow[]>}
 */
export async function runMemoryScale({ quick = false } = {}) {
  const args = ['--expose-gc', fileURLToPath(import.meta.url), ...(quick ? ['--quick'] : [])];
  /** @type {MemoryScaleRow[] | undefined} */
  let rows;
  const code = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (message) => { rows = /** @type {MemoryScaleRow[]} */ (message); });
    child.once('error', reject);
    child.once('close', (exitCode, signal) => resolve(exitCode ?? signal)); // after the IPC channel closed: rows read
  });
  if (code !== 0 || !rows) throw new Error(`bench/src/scenarios/memory-scale.mjs exited with ${code}${rows ? '' : ' without its rows'}`);
  return rows;
}

/**
 * The measurement itself, in the process that calls it (the child's).
 * @param {{ quick?: boolean, sizes?: number[], rounds?: number, runtimeOptions?: { cacheSize?: number } }} [options]
 * @returns {Promise<MemoryScaleRow[]>}
 */
export async function measureMemoryScale(options = {}) {
  const sizes = options.sizes ?? (options.quick ? [2_000, 10_000] : [10_000, 50_000]);
  const rounds = options.rounds ?? (options.quick ? 2 : 5);
  await measureScale(1_000, 1, options.runtimeOptions ?? {}); // warm-up (JIT), not reported
  /** @type {MemoryScaleRow[]} */
  const rows = [];
  for (const waiting of sizes) rows.push(await measureScale(waiting, rounds, options.runtimeOptions ?? {}));
  return rows;
}

/** @param {number} waiting @param {number} rounds @param {{ cacheSize?: number }} runtimeOptions @returns {Promise<MemoryScaleRow>} */
async function measureScale(waiting, rounds, runtimeOptions) {
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const runtime = createRuntime({
    store: new MemoryStore(), orchestrators: { [STATUS_LOOP]: durableRx[STATUS_LOOP] }, activities: {}, logger: silentLogger,
    ...runtimeOptions,
  });
  await runtime.start();
  try {
    const ids = Array.from({ length: waiting }, (_, i) => `waiter-${i}`);
    // Waiting = the first step committed (Running, nothing pending).
    await untilEach(runtime, ids, (state) => state.runtimeStatus === 'Running', async () => {
      for (let i = 0; i < ids.length; i += 1_000) {
        await Promise.all(ids.slice(i, i + 1_000).map((instanceId) => runtime.client.startNew(STATUS_LOOP, { instanceId })));
      }
    });
    collectGarbage();
    const heapPerInstance = (process.memoryUsage().heapUsed - heapBefore) / waiting;

    const before = runtime.metrics;
    /** @type {number[]} */
    const times = [];
    for (let round = 1; round <= rounds; round++) {
      const started = performance.now();
      await untilEach(runtime, ids, (state) => state.customStatus === round, () =>
        Promise.all(ids.map((id) => runtime.client.raiseEvent(id, 'next', round))));
      times.push(performance.now() - started);
    }
    const after = runtime.metrics;
    collectGarbage();
    const heapRunning = process.memoryUsage().heapUsed;
    await runtime.stop(); // clears the execution cache; the store keeps every instance
    collectGarbage();
    const cachePerInstance = (heapRunning - process.memoryUsage().heapUsed) / waiting;
    const perSecond = times.map((ms) => (waiting / ms) * 1000);
    return {
      waiting, heapPerInstance, cachePerInstance, eventsPerSecond: spread(perSecond), roundMedianMs: spread(times).median,
      counters: {
        steps: after.steps - before.steps, cacheHits: after.cacheHits - before.cacheHits,
        cacheMisses: after.cacheMisses - before.cacheMisses, eventsReplayed: after.eventsReplayed - before.eventsReplayed,
      },
      load: os.loadavg()[0] ?? NaN,
    };
  } finally {
    await runtime.stop();
  }
}

/**
 * Runs `act` and resolves once every instance of `ids` has committed a state for which `reached` holds (one
 * subscription to the store's change feed, opened before `act`).
 * @param {import('@durable-rx/runtime').Runtime} runtime
 * @param {readonly string[]} ids
 * @param {(state: import('@durable-rx/runtime/store-kit').InstanceState) => boolean} reached
 * @param {() => Promise<unknown>} act
 */
async function untilEach(runtime, ids, reached, act) {
  const left = new Set(ids);
  /** @type {import('rxjs').Subscription | undefined} */
  let subscription;
  const done = new Promise((resolve, reject) => {
    subscription = runtime.store.changes$.subscribe((change) => {
      const state = change.state;
      if (state?.runtimeStatus === 'Failed') reject(new Error(`${change.instanceId} failed: ${JSON.stringify(state.failureDetails)}`));
      if (state && reached(state) && left.delete(change.instanceId) && left.size === 0) resolve(undefined);
    });
  });
  try {
    await act();
    await done;
  } finally {
    subscription?.unsubscribe();
  }
}

/** @param {MemoryScaleRow[]} rows @returns {import('../format.mjs').Table} */
export function memoryScaleTable(rows) {
  return {
    title: 'MemoryStore at scale: StatusLoop instances waiting for an event; one event raised to each',
    headers: ['waiting', 'raised events/s (median)', 'rounds min-max', 'round p50', 'heap per waiting instance', 'of which the runtime (cache)', 'cache hits / misses', 'events replayed', 'load'],
    rows: rows.map((r) => [
      integer(r.waiting), `${integer(r.eventsPerSecond.median)}/s`, range(r.eventsPerSecond, (v) => `${integer(v)}/s`),
      duration(r.roundMedianMs), `${integer(r.heapPerInstance)} B`, `${integer(r.cachePerInstance)} B`,
      `${integer(r.counters.cacheHits)} / ${integer(r.counters.cacheMisses)}`, integer(r.counters.eventsReplayed), r.load.toFixed(1),
    ]),
    notes: [
      'durable-rx + MemoryStore alone, runtime defaults (execution cache included). A round raises one event to every ' +
        'waiting instance at once through client.raiseEvent and ends when each has committed the step that consumed it.',
      'Measured in a child process of its own (node --expose-gc), as a server runs the runtime: in the bench\'s process, ' +
        'the IndexedDB scenario run before leaves playwright-core loaded and its AsyncLocalStorage enabled, an async hook ' +
        'on every promise from then on, and the raises measured there were 20-35 % fewer per second. A server that ' +
        'enables AsyncLocalStorage itself (tracing, request context) pays such a hook too.',
      'Heap per waiting instance: heap used with all N waiting minus heap used before the runtime was created, after ' +
        'full collections (node --expose-gc), divided by N: store records, histories, claim index and cached executions.',
      'Of which the runtime (cache): the heap that stopping the runtime released after the rounds, divided by N: its ' +
        'execution cache (up to cacheSize = 100,000 executions by default) above all, and everything else runtime.stop() ' +
        'frees; the store keeps every instance. The rest is what stays after the stop (the store\'s records, histories ' +
        'and claim index above all).',
    ],
  };
}

// `node --expose-gc memory-scale.mjs [--quick]`: the child process of runMemoryScale.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await measureMemoryScale({ quick: process.argv.includes('--quick') });
  if (process.send) process.send(rows, () => process.disconnect?.());
  else console.log(JSON.stringify(rows));
}
