/**
 * Scenario 6: durable-rx on IndexedDB in real headless Chromium, next to a raw IndexedDB baseline on the same page
 * and to `@coji/durably` on SQLocal (SQLite WASM on OPFS, in a Web Worker). The page (bench/page/) is built by Vite
 * and served by `vite preview` on 127.0.0.1 with COOP same-origin + COEP require-corp (SQLocal needs a
 * cross-origin-isolated page; the IndexedDB contenders run on the same page, so the headers cost them nothing).
 * Chromium is Debian's (/usr/bin/chromium, or CHROMIUM_PATH), driven by playwright-core.
 *
 * Per round, interleaved: the raw ceiling, then hello-sequence throughput at 1 and at 100 concurrent for DexieStore,
 * KeyvalStore and durably; then same-tab latency for the three; then cross-tab latency for the two stores. The page
 * counts every IndexedDB transaction and request (page/idb-counters.js), so the transactions and requests per step
 * are measured, not inferred.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import sqlocal from 'sqlocal/vite';
import { build, preview } from 'vite';
import { runInterleaved } from '../harness.mjs';
import { packageVersion } from '../machine.mjs';
import { quantile, ratioSpread, spread } from '../stats.mjs';

const PAGE = fileURLToPath(new URL('../../page/', import.meta.url));
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/** Hello-sequence steps per instance (3 activities + the final step). */
const STEPS = 4;

/**
 * @typedef {object} ThroughputRow
 * @property {string} system
 * @property {'dexie' | 'keyval' | 'durably'} kind
 * @property {number} concurrency
 * @property {import('../stats.mjs').Spread} perSecond   instances (durably: jobs) per second, over rounds
 * @property {import('../stats.mjs').Spread} [stepsPerSecond]
 * @property {number} [readwritePerStep]   IndexedDB readwrite transactions per step (median over rounds)
 * @property {number} [readonlyPerStep]
 * @property {number} [requestsPerStep]
 * @property {import('../stats.mjs').Spread} [ceilingShare]  steps/s over (raw readwrite tx/s / readwrite tx per
 *   step), per round
 * @property {import('../stats.mjs').Spread} [vsDurably]  per round: this row's instances/s over durably's jobs/s
 *   at the same concurrency
 */

/**
 * @typedef {object} LatencyRow
 * @property {string} system
 * @property {string} what
 * @property {number} p50Ms     all rounds' samples pooled
 * @property {number} p99Ms
 * @property {number} samples
 * @property {import('../stats.mjs').Spread} p50ByRound
 * @property {import('../stats.mjs').Spread} [vsDurably]  per round: durably's p50 over this row's p50
 */

/**
 * @typedef {object} IndexedDbResult
 * @property {string} chromium
 * @property {boolean} crossOriginIsolated
 * @property {number} rounds
 * @property {{ instances1: number, durably1: number, instances100: number, rawTransactions: number, latencyInstances: number, crossTabProbes: number }} sizes
 * @property {{ perSecond: import('../stats.mjs').Spread, msPerTransaction: import('../stats.mjs').Spread }} raw
 * @property {ThroughputRow[]} throughput
 * @property {LatencyRow[]} sameTab
 * @property {(LatencyRow & { clockRttMs: number })[]} crossTab
 * @property {Record<string, string>} versions
 */

/** @param {{ quick?: boolean, noDurably?: boolean }} [options] @returns {Promise<IndexedDbResult>} */
export async function runIndexedDb(options = {}) {
  const quick = options.quick ?? false;
  const withDurably = !options.noDurably;
  // durably takes about 10x longer per job than durable-rx: 3 rounds keep the full run within minutes.
  const rounds = quick ? 1 : 3;
  const sizes = quick
    ? { instances1: 3, durably1: 3, instances100: 100, rawTransactions: 100, latencyInstances: 2, crossTabProbes: 20 }
    // 1 concurrent: 40 instances (160 steps) per round; with 10 (40 steps, about 0.1 s) the share of the raw ceiling
    // swung by 10 points between rounds. durably, 50x slower per job, keeps 10 jobs per round.
    : { instances1: 40, durably1: 10, instances100: 100, rawTransactions: 400, latencyInstances: 10, crossTabProbes: 100 };
  const outDir = await mkdtemp(join(tmpdir(), 'durable-rx-bench-page-'));
  /** @type {import('vite').PreviewServer | undefined} */
  let server;
  /** @type {import('playwright-core').Browser | undefined} */
  let browser;
  try {
    await build({
      root: PAGE, configFile: false, logLevel: 'error', plugins: [sqlocal({ coi: false })],
      build: { outDir, emptyOutDir: true, target: 'es2022', minify: true },
    });
    server = await preview({
      root: PAGE, configFile: false, logLevel: 'warn', build: { outDir },
      preview: {
        host: '127.0.0.1', port: 0, strictPort: false, open: false,
        headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      },
    });
    const address = server.httpServer.address();
    if (!address || typeof address === 'string') throw new Error('vite preview did not listen on a TCP port');
    const url = `http://127.0.0.1:${address.port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    const context = await browser.newContext();
    const page = await openPage(context, url);
    const crossOriginIsolated = await page.evaluate(() => window.bench.ready);
    if (!crossOriginIsolated) throw new Error('the bench page is not cross-origin isolated: SQLocal cannot use OPFS');

    // Warm-up, untimed: JIT, first database opens, SQLite WASM download and compile.
    await page.evaluate(() => window.bench.hello('dexie', 1, 2));
    await page.evaluate(() => window.bench.hello('keyval', 1, 2));
    if (withDurably) await page.evaluate(() => window.bench.durablyThroughput(1, 1));

    // ---- throughput, interleaved
    /** @typedef {{ id: string, kind: 'raw' | 'dexie' | 'keyval' | 'durably', concurrency: number }} Contender */
    /** @type {Contender[]} */
    const contenders = [{ id: 'raw', kind: 'raw', concurrency: 1 }];
    for (const concurrency of [1, 100]) {
      for (const kind of /** @type {const} */ (['dexie', 'keyval', 'durably'])) {
        // --quick is a smoke check: durably's 100 jobs take tens of seconds.
        if (kind === 'durably' && !withDurably) continue;
        if (!(quick && kind === 'durably' && concurrency === 100)) contenders.push({ id: `${kind}-x${concurrency}`, kind, concurrency });
      }
    }
    const measured = await runInterleaved(contenders, rounds, async (c, round) => {
      const t0 = performance.now();
      const result = await measureThroughput(c, round);
      if (result) {
        console.log(`  round ${round + 1}/${rounds} ${c.id}: ${result.perSecond.toFixed(1)}/s ` +
          `(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
      return result;
    });
    /**
     * @param {Contender} c @param {number} round
     * @returns {Promise<{ perSecond: number, msPerTx?: number, stepsPerSecond?: number, readwritePerStep?: number,
     *   readonlyPerStep?: number, requestsPerStep?: number } | undefined>}
     */
    async function measureThroughput(c, round) {
      // durably's 100-job batch runs one job at a time and takes minutes on a loaded machine: first round only.
      if (c.kind === 'durably' && c.concurrency === 100 && round > 0) return undefined;
      if (c.kind === 'raw') {
        const r = await page.evaluate((n) => window.bench.rawCeiling(n), sizes.rawTransactions);
        return { perSecond: r.perSecond, msPerTx: r.elapsedMs / r.transactions };
      }
      const instances = c.concurrency === 1 ? sizes.instances1 : sizes.instances100;
      if (c.kind === 'durably') {
        const jobs = c.concurrency === 1 ? sizes.durably1 : sizes.instances100;
        const r = await page.evaluate(([conc, n]) => window.bench.durablyThroughput(conc, n), /** @type {const} */ ([c.concurrency, jobs]));
        return { perSecond: r.jobs / (r.elapsedMs / 1000) };
      }
      const r = await page.evaluate(([kind, conc, n]) => window.bench.hello(kind, conc, n), /** @type {const} */ ([c.kind, c.concurrency, instances]));
      if (r.steps !== r.instances * STEPS) throw new Error(`${c.id}: ${r.steps} steps for ${r.instances} instances`);
      return {
        perSecond: r.instances / (r.elapsedMs / 1000), stepsPerSecond: r.steps / (r.elapsedMs / 1000),
        readwritePerStep: r.counts.readwrite / r.steps, readonlyPerStep: r.counts.readonly / r.steps,
        requestsPerStep: r.counts.requests / r.steps,
      };
    }
    const byId = (/** @type {string} */ id) => /** @type {any[] | undefined} */ (measured[contenders.findIndex((c) => c.id === id)]);
    const raw = (byId('raw') ?? []).filter((x) => x !== undefined);
    const rawPerSecond = raw.map((x) => x.perSecond);
    /** @type {ThroughputRow[]} */
    const throughput = [];
    for (const c of contenders) {
      if (c.kind === 'raw') continue;
      const ms = byId(c.id) ?? [];
      // A round that skipped this contender gives NaN, which the statistics leave out.
      const perSecond = ms.map((x) => x?.perSecond ?? NaN);
      if (c.kind === 'durably') {
        throughput.push({ system: `durably ${packageVersion('@coji/durably')} on SQLocal (OPFS)`, kind: c.kind, concurrency: c.concurrency, perSecond: spread(perSecond) });
        continue;
      }
      const durably = (byId(`durably-x${c.concurrency}`) ?? []).map((x) => x?.perSecond ?? NaN);
      throughput.push({
        system: `durable-rx + ${c.kind === 'dexie' ? 'DexieStore' : 'KeyvalStore'}`, kind: c.kind, concurrency: c.concurrency,
        perSecond: spread(perSecond), stepsPerSecond: spread(ms.map((x) => x.stepsPerSecond)),
        readwritePerStep: spread(ms.map((x) => x.readwritePerStep)).median,
        readonlyPerStep: spread(ms.map((x) => x.readonlyPerStep)).median,
        requestsPerStep: spread(ms.map((x) => x.requestsPerStep)).median,
        // Per round: the steps/s IndexedDB would allow at this many readwrite transactions per step.
        ceilingShare: spread(ms.map((x, r) => x.stepsPerSecond / (rawPerSecond[r] / x.readwritePerStep))),
        vsDurably: ratioSpread(perSecond, durably),
      });
    }

    // ---- same-tab latency, interleaved
    const latencyContenders = /** @type {('dexie' | 'keyval' | 'durably')[]} */ (withDurably ? ['dexie', 'keyval', 'durably'] : ['dexie', 'keyval']);
    const latency = await runInterleaved(latencyContenders, rounds, async (kind) => {
      const r = kind === 'durably'
        ? await page.evaluate((n) => window.bench.durablyLatency(n), sizes.latencyInstances)
        : await page.evaluate(([k, n]) => window.bench.sameTabLatency(k, n), /** @type {const} */ ([kind, sizes.latencyInstances]));
      return r.samples;
    });
    const durablyP50 = (latency[2] ?? []).map((samples) => percentile(samples, 0.5));
    /** @type {LatencyRow[]} */
    const sameTab = latencyContenders.map((kind, i) => {
      const perRound = latency[i] ?? [];
      const p50s = perRound.map((samples) => percentile(samples, 0.5));
      const all = perRound.flat();
      return {
        system: kind === 'durably' ? `durably ${packageVersion('@coji/durably')} on SQLocal (OPFS)` : `durable-rx + ${kind === 'dexie' ? 'DexieStore' : 'KeyvalStore'}`,
        what: kind === 'durably' ? 'step function returns -> run:progress event after that step' : 'activity returns -> customStatus$ emission after that step',
        p50Ms: percentile(all, 0.5), p99Ms: percentile(all, 0.99), samples: all.length, p50ByRound: spread(p50s),
        ...(kind === 'durably' ? {} : { vsDurably: ratioSpread(durablyP50, p50s) }),
      };
    });

    // ---- cross-tab latency, interleaved
    const crossContenders = /** @type {const} */ (['dexie', 'keyval']);
    const cross = await runInterleaved(crossContenders, rounds, async (kind, round) => {
      const db = `cross-${kind}-${round}-${Date.now()}`;
      const instanceId = `cross-${round}`;
      const writer = await openPage(context, url);
      const reader = await openPage(context, url);
      try {
        await writer.evaluate(([k, d, id]) => window.bench.crossTabWriterOpen(k, d, id), /** @type {const} */ ([kind, db, instanceId]));
        await reader.evaluate(([k, d, id]) => window.bench.crossTabReaderOpen(k, d, id), /** @type {const} */ ([kind, db, instanceId]));
        const run = await writer.evaluate(([id, n]) => window.bench.crossTabRun(id, n), /** @type {const} */ ([instanceId, sizes.crossTabProbes + 5]));
        const arrivals = new Map(await reader.evaluate(() => window.bench.crossTabReaderClose()));
        await writer.evaluate(() => window.bench.crossTabWriterClose());
        /** @type {number[]} */
        const samples = [];
        for (const [k, committed] of run.committedAt) {
          const arrived = arrivals.get(k);
          // The first 5 probes warm up (the instance's first steps, the reader's first reads).
          if (k > 5 && arrived !== undefined) samples.push(arrived - run.clockOffsetMs - committed);
        }
        return { samples, clockRttMs: run.clockRttMs };
      } finally {
        await writer.close();
        await reader.close();
      }
    });
    const crossTab = crossContenders.map((kind, i) => {
      const perRound = cross[i] ?? [];
      const all = perRound.flatMap((x) => x.samples);
      return {
        system: `durable-rx + ${kind === 'dexie' ? 'DexieStore' : 'KeyvalStore'}`,
        what: 'commit transaction complete in the writing tab -> customStatus$ emission in another tab',
        p50Ms: percentile(all, 0.5), p99Ms: percentile(all, 0.99), samples: all.length,
        p50ByRound: spread(perRound.map((x) => percentile(x.samples, 0.5))),
        clockRttMs: Math.max(...perRound.map((x) => x.clockRttMs)),
      };
    });

    return {
      chromium: browser.version(), crossOriginIsolated, rounds, sizes,
      raw: { perSecond: spread(rawPerSecond), msPerTransaction: spread(raw.map((x) => x.msPerTx)) },
      throughput, sameTab, crossTab,
      versions: Object.fromEntries(['@coji/durably', 'sqlocal', 'kysely', 'zod', 'dexie', 'idb-keyval', 'playwright-core'].map((p) => [p, packageVersion(p)])),
    };
  } finally {
    await browser?.close();
    await server?.close();
    await rm(outDir, { recursive: true, force: true });
  }
}

/** @param {readonly number[]} samples @param {number} q */
const percentile = (samples, q) => quantile([...samples].sort((a, b) => a - b), q);

/**
 * Opens the bench page and fails loudly on its errors.
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} url
 */
async function openPage(context, url) {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('[bench page] error:', error));
  page.on('console', (message) => { if (message.type() === 'error') console.error('[bench page] console.error:', message.text()); });
  await page.goto(url);
  await page.evaluate(() => window.bench.ready);
  return page;
}
