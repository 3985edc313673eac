/**
 * Scenario 6: durable-rx on IndexedDB in real headless Chromium, next to a raw IndexedDB baseline on the same page
 * and to `@coji/durably` on SQLocal (SQLite WASM on OPFS, in a Web Worker). The page (bench/page/) is built by Vite
 * and served by `vite preview` on 127.0.0.1 with COOP same-origin + COEP require-corp (SQLocal needs a
 * cross-origin-isolated page; the IndexedDB contenders run on the same page, so the headers cost them nothing).
 * Chromium is Debian's (/usr/bin/chromium, or CHROMIUM_PATH), driven by playwright-core.
 *
 * Per round, interleaved: hello-sequence throughput at 1 concurrent (several slices per store, then one continuous run
 * per store) and at 100 concurrent (several batches per store) for DexieStore, KeyvalStore and durably. Each store
 * figure gets its raw ceiling from the same stretch of time: in a 1-concurrent slice the page alternates raw
 * transactions and instances; a 100-concurrent batch runs between two raw measurements (one between two batches serves
 * both), so raw and batches alternate (R A R B R B R A R). The continuous run
 * (instances back to back on one clock, as durably's loop runs) gives the 1-concurrent comparison with durably. Then
 * same-tab latency for the three; then cross-tab latency for the two stores. The page counts every IndexedDB transaction and request
 * (page/idb-counters.js), so the transactions and requests per step are measured, not inferred.
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
import { medianInterval, quantile, ratioSpread, spread } from '../stats.mjs';

const PAGE = fileURLToPath(new URL('../../page/', import.meta.url));
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/** Hello-sequence steps per instance (3 activities + the final step). */
const STEPS = 4;
/** Instances started at once by the client of the held-instances measurement (a UI that starts a few at a time). */
const HELD_CONCURRENCY = 10;

/**
 * @typedef {object} ThroughputRow
 * @property {string} system
 * @property {'dexie' | 'keyval' | 'durably'} kind
 * @property {number} concurrency
 * @property {import('../stats.mjs').Spread} perSecond   instances (durably: jobs) per second, over rounds (a round's
 *   figure: its slices' instances over their time; at 1 concurrent a store's slices alternate with raw bursts and its
 *   clock pauses for them)
 * @property {import('../stats.mjs').Spread} [stepsPerSecond]  likewise, steps
 * @property {import('../stats.mjs').Spread} [continuousPerSecond]  1 concurrent only: instances per second of the
 *   round's continuous run (no raw bursts, one clock), over rounds
 * @property {number} [readwritePerStep]   IndexedDB readwrite transactions per step (median over slices)
 * @property {number} [readonlyPerStep]
 * @property {number} [requestsPerStep]
 * @property {import('../stats.mjs').Spread} [ceilingShare]  per pair (a measurement of the store and the raw
 *   transactions run with it: a 1-concurrent slice, a 100-concurrent batch): its steps/s over its raw ceiling; slices
 *   whose raw bursts saw other transactions are left out
 * @property {{ low: number, high: number, confidence: number }} [shareInterval]  a distribution-free confidence
 *   interval (about 95%) for the median of `ceilingShare` (stats.mjs `medianInterval`)
 * @property {import('../stats.mjs').Spread} [ceiling]  per pair: the raw ceiling in steps/s, raw readwrite tx/s over
 *   the pair's readwrite tx per step; the raw rate at 1 concurrent is that of the raw transactions run in alternation
 *   with the slice's instances, at 100 the mean of the raw measurements right before and right after the batch
 * @property {import('../stats.mjs').Spread} [pairSteps]  per pair: the store's steps/s (the numerator of its share)
 * @property {number} [disturbedSlices]  1 concurrent: slices left out of `ceilingShare` because a transaction other
 *   than the raw ones was opened during one of their raw bursts
 * @property {{ before: import('../stats.mjs').Spread, after: import('../stats.mjs').Spread,
 *   afterOverBefore: import('../stats.mjs').Spread }} [rawAround]  100 concurrent: the raw rates (readwrite tx/s)
 *   right before and right after each batch, and their ratio, over rounds
 * @property {import('../stats.mjs').Spread} [vsDurably]  per round: this row's instances/s over durably's jobs/s
 *   at the same concurrency (1 concurrent: the continuous run's, like durably's loop)
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
 * @typedef {object} HeldStretch
 * @property {number} held   instances in the database at the end of the stretch
 * @property {number} msPerInstance   the stretch's time over its instances
 * @property {number} requestsPerInstance   IndexedDB requests of the page (both handles) over its instances
 */

/**
 * @typedef {object} HeldRow
 * @property {string} system
 * @property {'dexie' | 'keyval'} kind
 * @property {HeldStretch} first   the first instances on a new database
 * @property {HeldStretch} last   as many once `sizes.held` instances are in it
 */

/**
 * @typedef {object} IndexedDbResult
 * @property {string} chromium
 * @property {boolean} crossOriginIsolated
 * @property {number} rounds
 * @property {{ instances1: number, slices1: number, rawPerInstance1: number, durably1: number, instances100: number, batches100: number, rawTransactions: number, latencyInstances: number, crossTabProbes: number, heldMeasured?: number, held?: number }} sizes
 *   instances1: instances per slice at 1 concurrent, slices1: slices per store per round, rawPerInstance1: raw
 *   transactions before each of its instances; batches100: 100-concurrent batches per store per round;
 *   rawTransactions: per raw measurement around a 100-concurrent batch
 * @property {{ perSecond: import('../stats.mjs').Spread, msPerTransaction: import('../stats.mjs').Spread }} raw  over
 *   every raw measurement of the run
 * @property {ThroughputRow[]} throughput
 * @property {number} disturbedSlices  1-concurrent slices of all stores left out of the shares (see ThroughputRow)
 * @property {LatencyRow[]} sameTab
 * @property {(LatencyRow & { clockRttMs: number })[]} crossTab
 * @property {HeldRow[]} [held]  a database that keeps its instances, its client on a second handle (absent in older results)
 * @property {Record<string, string>} versions
 */

/** @param {{ quick?: boolean, noDurably?: boolean }} [options] @returns {Promise<IndexedDbResult>} */
export async function runIndexedDb(options = {}) {
  const quick = options.quick ?? false;
  const withDurably = !options.noDurably;
  // durably takes about 10x longer per job than durable-rx: 3 rounds keep the full run within minutes.
  const rounds = quick ? 1 : 3;
  const sizes = quick
    ? { instances1: 3, slices1: 1, rawPerInstance1: 4, durably1: 3, instances100: 100, batches100: 1, rawTransactions: 100, latencyInstances: 2, crossTabProbes: 20, heldMeasured: 50, held: 300 }
    // 1 concurrent: 3 slices of 15 instances per store per round, 4 raw transactions before each instance (an instance
    // takes 5 readwrite transactions): 9 shares per store. With one raw measurement of 400 transactions per round,
    // taken up to 20 s away from the store's, a round's share swung from 29% to 145% under load; with raw measurements
    // of 100 right before and after each slice, adjacent raw figures still differed 4x. 100 concurrent: 2 batches per
    // store per round (A B, B A), raw measurements of 200 transactions before and after each batch: with one batch per
    // store per round and raw measurements of 100, a share was the median of 3 and a raw figure covered a tenth of
    // the batch's time; on a loaded machine the rates right before and right after one batch differed up to 3.4x.
    // durably, 50x slower per job, keeps 10 jobs per round.
    // A share is the median of its pairs, and a pair's share swings with the load of its second (within one run of
    // 9 slices per store at 1 concurrent: 41% to 71%; the worst cell's median moved from 53% to 64% between runs of one
    // tree). A slice takes about 0.2 s and a batch with its raw measurement about a second, so 40 slices and 16 batches
    // per store per round (120 and 48 pairs) cost about 2 minutes more than 3 and 2 did; on a machine at load 8-20 the
    // median's 95% interval at 1 concurrent was 4-6 points wide (13 with 24 pairs), and the 100-concurrent cells, whose
    // raw rate right before and right after one batch differed up to 4x there, are the wider ones. durably's figures,
    // not these, still set the scenario's length.
    // Held: 200 instances measured on a new database and again once 2,000 are in it, per store (some 20-25 s each at
    // 10-12 ms an instance; DexieStore's wake-time read once took 2.2x as long at 2,000 instances held as at 1,000).
    : { instances1: 15, slices1: 40, rawPerInstance1: 4, durably1: 10, instances100: 100, batches100: 16, rawTransactions: 200, latencyInstances: 10, crossTabProbes: 100, heldMeasured: 200, held: 2000 };
  const outDir = await mkdtemp(join(tmpdir(), 'durable-rx-bench-page-'));
  /** @type {import('vite').PreviewServer | undefined} */
  let server;
  /** @type {import('playwright-core').BrowserContext | undefined} the browser under way, on its own profile */
  let context;
  /** @type {(() => Promise<void>) | undefined} */
  let closeBrowser;
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
    // A browser of its own for every stretch of measurements (each round's 1-concurrent block, its 100-concurrent
    // block, the latencies), with its profile on disk, as an app's page runs: in a normal window of a browser that has
    // not run thousands of instances before it. Chromium's off-the-record IndexedDB backend (a Playwright context's
    // default, and an incognito window's) costs more CPU per transaction the more data it was ever given, deleted
    // databases included: in one such browser the browser process's CPU per 100-instance DexieStore batch went from
    // 510 ms to 990 ms over 7,900 instances (the page's own, the renderer's, did not grow; a new tab of that browser
    // ran the batches at 0.85-1.09x the aged page's rate, a new browser at 1.5-2x), and one page for the whole run
    // measured its last round's batches at 34-60 % of the ceiling where its first round had 56-99 %. On disk the
    // browser process's CPU per batch stayed at 590-1,210 ms over 14,500 instances.
    /** @type {string | undefined} */
    let chromiumVersion;
    /** @type {string | undefined} */
    let profile;
    const closeCurrent = async () => {
      await context?.close();
      context = undefined;
      if (profile) await rm(profile, { recursive: true, force: true });
      profile = undefined;
    };
    closeBrowser = closeCurrent;
    const freshPage = async () => {
      await closeCurrent();
      profile = await mkdtemp(join(tmpdir(), 'durable-rx-bench-profile-'));
      const opened = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
      context = opened;
      chromiumVersion ??= opened.browser()?.version();
      const page = await openPage(opened, url);
      if (!(await page.evaluate(() => window.bench.ready))) throw new Error('the bench page is not cross-origin isolated: SQLocal cannot use OPFS');
      // Warm-up, untimed: JIT, first database opens, SQLite WASM download and compile.
      await page.evaluate(() => window.bench.hello('dexie', 1, 2));
      await page.evaluate(() => window.bench.hello('keyval', 1, 2));
      await page.evaluate(() => window.bench.helloWithRaw('dexie', 1, 2));
      if (withDurably) await page.evaluate(() => window.bench.durablyThroughput(1, 1));
      return { context: opened, page };
    };
    let { page } = await freshPage();

    // ---- throughput, interleaved; every store figure with a raw ceiling figure from the same stretch of time
    /** @typedef {{ id: string, kind: 'dexie' | 'keyval' | 'durably', concurrency: number, continuous?: boolean }} Contender */
    /** @type {Contender[]} */
    const contenders = [];
    for (const concurrency of [1, 100]) {
      for (const kind of /** @type {const} */ (['dexie', 'keyval', 'durably'])) {
        // --quick is a smoke check: durably's 100 jobs take tens of seconds.
        if (kind === 'durably' && !withDurably) continue;
        if (!(quick && kind === 'durably' && concurrency === 100)) contenders.push({ id: `${kind}-x${concurrency}`, kind, concurrency });
      }
    }
    /**
     * The order of one round: at 1 concurrent, `slices1` slices per store (A B, B A ...), one continuous run per store,
     * then durably; at 100, `batches100` batches per store (A B, B A ...), then durably (its 100-job batch in the first
     * round only: it takes minutes on a loaded machine).
     * Odd rounds run the whole order reversed.
     * @param {number} round
     */
    const roundOrder = (round) => {
      /** @type {Contender[]} */
      const order = [];
      for (const concurrency of [1, 100]) {
        const stores = contenders.filter((c) => c.kind !== 'durably' && c.concurrency === concurrency);
        const slices = concurrency === 1 ? sizes.slices1 : sizes.batches100;
        for (let s = 0; s < slices; s++) order.push(...(s % 2 === 0 ? stores : [...stores].reverse()));
        if (concurrency === 1) order.push(...(slices % 2 === 0 ? stores : [...stores].reverse()).map((c) => ({ ...c, continuous: true })));
        const durably = contenders.find((c) => c.kind === 'durably' && c.concurrency === concurrency);
        if (durably && !(concurrency === 100 && round > 0)) order.push(durably);
      }
      return round % 2 === 0 ? order : order.reverse();
    };
    /** @typedef {{ perSecond: number, msPerTx: number }} RawMeasurement */
    /**
     * One measurement of a contender (durably: no counts, no share).
     * @typedef {{ instances: number, steps: number, elapsedMs: number, share?: number, ceiling?: number, readwritePerStep?: number,
     *   readonlyPerStep?: number, requestsPerStep?: number, disturbed?: boolean, rawBefore?: number, rawAfter?: number }} Slice
     */
    /** @type {RawMeasurement[]} */
    const raws = [];
    /** slices[contender][round]: what was measured of that contender in that round. */
    const slices = contenders.map(() => Array.from({ length: rounds }, () => /** @type {Slice[]} */ ([])));
    /** continuous[contender][round]: the 1-concurrent continuous runs of that store in that round. */
    const continuous = contenders.map(() => Array.from({ length: rounds }, () => /** @type {Slice[]} */ ([])));
    const measureRaw = async () => {
      const r = await page.evaluate((n) => window.bench.rawCeiling(n), sizes.rawTransactions);
      /** @type {RawMeasurement} */
      const m = { perSecond: r.perSecond, msPerTx: r.elapsedMs / r.transactions };
      raws.push(m);
      return m;
    };
    /** The raw measurement that ran last, if nothing else ran after it: it is the next batch's "before". */
    /** @type {RawMeasurement | undefined} */
    let lastRaw;
    for (let round = 0; round < rounds; round++) {
      /** @type {number | undefined} the concurrency of the block under way: a new one starts in a new browser */
      let block;
      for (const c of roundOrder(round)) {
        if (c.concurrency !== block && !(round === 0 && block === undefined)) {
          ({ page } = await freshPage());
          lastRaw = undefined;
        }
        block = c.concurrency;
        const t0 = performance.now();
        const index = contenders.findIndex((x) => x.id === c.id);
        const into = /** @type {Slice[]} */ (slices[index]?.[round]);
        if (c.continuous && c.kind !== 'durably') {
          // Instances back to back on one clock, no raw bursts: like for like with durably's loop.
          lastRaw = undefined;
          const r = await page.evaluate(([kind, n]) => window.bench.hello(kind, 1, n), /** @type {const} */ ([c.kind, sizes.instances1]));
          /** @type {Slice[]} */ (continuous[index]?.[round]).push({ instances: r.instances, steps: r.steps, elapsedMs: r.elapsedMs });
          console.log(`  round ${round + 1}/${rounds} ${c.id} continuous: ${(r.instances / (r.elapsedMs / 1000)).toFixed(1)}/s ` +
            `(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
          continue;
        }
        if (c.kind === 'durably') {
          lastRaw = undefined;
          const jobs = c.concurrency === 1 ? sizes.durably1 : sizes.instances100;
          const r = await page.evaluate(([conc, n]) => window.bench.durablyThroughput(conc, n), /** @type {const} */ ([c.concurrency, jobs]));
          into.push({ instances: r.jobs, steps: NaN, elapsedMs: r.elapsedMs });
          console.log(`  round ${round + 1}/${rounds} ${c.id}: ${(r.jobs / (r.elapsedMs / 1000)).toFixed(1)}/s ` +
            `(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
          continue;
        }
        /** @type {{ instances: number, steps: number, elapsedMs: number, counts: { readwrite: number, readonly: number, requests: number } }} */
        let r;
        /** @type {number} raw readwrite transactions per second in the same stretch of time */
        let rawRate;
        let rawNote;
        let disturbed = false;
        /** @type {number | undefined} */
        let rawBefore;
        /** @type {number | undefined} */
        let rawAfter;
        if (c.concurrency === 1) {
          // Raw and store alternate instance by instance on the page: both sample the same moments of load.
          lastRaw = undefined;
          const x = await page.evaluate(([kind, n, k]) => window.bench.helloWithRaw(kind, n, k), /** @type {const} */ ([c.kind, sizes.instances1, sizes.rawPerInstance1]));
          r = x;
          rawRate = x.rawTransactions / (x.rawElapsedMs / 1000);
          raws.push({ perSecond: rawRate, msPerTx: x.rawElapsedMs / x.rawTransactions });
          disturbed = x.disturbedBursts > 0;
          // The instances' time with the idle turns that told the page it was quiet, for the log: not anyone's work.
          const withQuiet = (x.steps / (x.quietElapsedMs / 1000)) / (rawRate / (x.counts.readwrite / x.steps));
          rawNote = `raw alongside ${Math.round(rawRate)}/s; ${Math.round(withQuiet * 100)}% with the quiet turns` +
            `${disturbed ? `, ${x.disturbedBursts} raw bursts disturbed: share left out` : ''}`;
        } else {
          // A batch of 100 cannot be cut in slices: raw measurements right before and right after it.
          const before = lastRaw ?? await measureRaw();
          r = await page.evaluate(([kind, conc, n]) => window.bench.hello(kind, conc, n), /** @type {const} */ ([c.kind, c.concurrency, sizes.instances100]));
          const after = await measureRaw();
          lastRaw = after;
          // The mean of the two rates, not of their durations: the higher ceiling of the two ways to average.
          rawRate = (before.perSecond + after.perSecond) / 2;
          rawBefore = before.perSecond;
          rawAfter = after.perSecond;
          rawNote = `raw ${Math.round(before.perSecond)}/s before, ${Math.round(after.perSecond)}/s after`;
        }
        if (r.steps !== r.instances * STEPS) throw new Error(`${c.id}: ${r.steps} steps for ${r.instances} instances`);
        const readwritePerStep = r.counts.readwrite / r.steps;
        // The steps/s IndexedDB would allow at this many readwrite transactions per step, at the raw rate of the moment.
        const ceiling = rawRate / readwritePerStep;
        const share = (r.steps / (r.elapsedMs / 1000)) / ceiling;
        into.push({
          instances: r.instances, steps: r.steps, elapsedMs: r.elapsedMs, readwritePerStep, ceiling,
          readonlyPerStep: r.counts.readonly / r.steps, requestsPerStep: r.counts.requests / r.steps,
          ...(disturbed ? { disturbed } : { share }), ...(rawBefore === undefined ? {} : { rawBefore, rawAfter }),
        });
        console.log(`  round ${round + 1}/${rounds} ${c.id}: ${(r.instances / (r.elapsedMs / 1000)).toFixed(1)}/s, ` +
          `${Math.round(share * 100)}% of the ceiling (${rawNote}) (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
    }
    /** Per round, over the round's slices: total instances (steps) over total time; NaN for a round without one. */
    const pooled = (/** @type {number} */ i, /** @type {'instances' | 'steps'} */ what, from = slices) => (from[i] ?? []).map((inRound) =>
      (inRound.length === 0 ? NaN : inRound.reduce((n, x) => n + x[what], 0) / (inRound.reduce((t, x) => t + x.elapsedMs, 0) / 1000)));
    const durablyIndex = (/** @type {number} */ concurrency) => contenders.findIndex((c) => c.kind === 'durably' && c.concurrency === concurrency);
    /** @type {ThroughputRow[]} */
    const throughput = [];
    contenders.forEach((c, i) => {
      const perSecond = pooled(i, 'instances');
      if (c.kind === 'durably') {
        throughput.push({ system: `durably ${packageVersion('@coji/durably')} on SQLocal (OPFS)`, kind: c.kind, concurrency: c.concurrency, perSecond: spread(perSecond) });
        return;
      }
      const all = (slices[i] ?? []).flat();
      const d = durablyIndex(c.concurrency);
      const durablyPerSecond = d < 0 ? [] : pooled(d, 'instances');
      const continuousPerSecond = c.concurrency === 1 ? pooled(i, 'instances', continuous) : undefined;
      const arounds = all.filter((x) => x.rawBefore !== undefined && x.rawAfter !== undefined);
      const paired = all.filter((x) => !x.disturbed);
      throughput.push({
        system: `durable-rx + ${c.kind === 'dexie' ? 'DexieStore' : 'KeyvalStore'}`, kind: c.kind, concurrency: c.concurrency,
        perSecond: spread(perSecond), stepsPerSecond: spread(pooled(i, 'steps')),
        readwritePerStep: spread(all.map((x) => x.readwritePerStep ?? NaN)).median,
        readonlyPerStep: spread(all.map((x) => x.readonlyPerStep ?? NaN)).median,
        requestsPerStep: spread(all.map((x) => x.requestsPerStep ?? NaN)).median,
        // Per pair, each against the raw rate of its own stretch of time: the median of the pairs' shares, not a ratio
        // of medians taken over the whole run, nor the best pair.
        ceilingShare: spread(paired.map((x) => x.share ?? NaN)),
        shareInterval: medianInterval(paired.map((x) => x.share ?? NaN)),
        ceiling: spread(paired.map((x) => x.ceiling ?? NaN)),
        pairSteps: spread(paired.map((x) => x.steps / (x.elapsedMs / 1000))),
        ...(c.concurrency === 1 ? { disturbedSlices: all.filter((x) => x.disturbed).length } : {}),
        ...(continuousPerSecond ? { continuousPerSecond: spread(continuousPerSecond) } : {}),
        ...(arounds.length === 0 ? {} : {
          rawAround: {
            before: spread(arounds.map((x) => x.rawBefore ?? NaN)), after: spread(arounds.map((x) => x.rawAfter ?? NaN)),
            afterOverBefore: spread(arounds.map((x) => (x.rawAfter ?? NaN) / (x.rawBefore ?? NaN))),
          },
        }),
        vsDurably: ratioSpread(continuousPerSecond ?? perSecond, durablyPerSecond),
      });
    });

    // ---- same-tab latency, interleaved
    const latencyBrowser = await freshPage();
    page = latencyBrowser.page;
    const latencyContenders = /** @type {('dexie' | 'keyval' | 'durably')[]} */ (withDurably ? ['dexie', 'keyval', 'durably'] : ['dexie', 'keyval']);
    // Every figure of this scenario is timed inside the page, by Chromium's own V8: a collection forced in this Node
    // process cannot reach it, and would only make the driver's own code re-optimize between rounds. So none is forced
    // (`collect: false`), as in the end-to-end scenario.
    const latency = await runInterleaved(latencyContenders, rounds, async (kind) => {
      const r = kind === 'durably'
        ? await page.evaluate((n) => window.bench.durablyLatency(n), sizes.latencyInstances)
        : await page.evaluate(([k, n]) => window.bench.sameTabLatency(k, n), /** @type {const} */ ([kind, sizes.latencyInstances]));
      return r.samples;
    }, { collect: false });
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
      const writer = await openPage(latencyBrowser.context, url);
      const reader = await openPage(latencyBrowser.context, url);
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
    }, { collect: false });
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

    // ---- a database that keeps its instances, across two handles: the time per instance early and late
    ({ page } = await freshPage());
    /** @type {HeldRow[]} */
    const held = [];
    for (const kind of /** @type {const} */ (['dexie', 'keyval'])) {
      const t0 = performance.now();
      const r = await page.evaluate(([k, m, h, c]) => window.bench.heldAcrossHandles(k, m, h, c), /** @type {const} */ ([kind, sizes.heldMeasured, sizes.held, HELD_CONCURRENCY]));
      held.push({ system: `durable-rx + ${kind === 'dexie' ? 'DexieStore' : 'KeyvalStore'}`, kind, first: r.first, last: r.last });
      console.log(`  ${kind} held: ${r.first.msPerInstance.toFixed(1)} ms/instance at ${r.first.held} held, ` +
        `${r.last.msPerInstance.toFixed(1)} at ${r.last.held} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }

    return {
      chromium: chromiumVersion ?? '', crossOriginIsolated: true, rounds, sizes, held,
      raw: { perSecond: spread(raws.map((x) => x.perSecond)), msPerTransaction: spread(raws.map((x) => x.msPerTx)) },
      throughput, disturbedSlices: throughput.reduce((n, t) => n + (t.disturbedSlices ?? 0), 0), sameTab, crossTab,
      versions: Object.fromEntries(['@coji/durably', 'sqlocal', 'kysely', 'zod', 'dexie', 'idb-keyval', 'playwright-core'].map((p) => [p, packageVersion(p)])),
    };
  } finally {
    await closeBrowser?.();
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
