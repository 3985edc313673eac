/**
 * Scenario 1: the replay engine alone, on an orchestration of N sequential activities.
 *
 * For every engine the timed unit is orchestrator work only (histories are pre-built). "Total" is the engine time
 * of the whole orchestration (N + 1 steps); "per step" is total / (N + 1).
 *
 * Replaying engines do O(d) work at depth d, so a whole orchestration costs O(N^2): that is measured exactly for
 * N <= EXACT_LIMIT. Above it, one sample runs STRATA steps spread evenly over the depths (d = N/20, 3N/20, ...,
 * 19N/20) and total = median sample x N / STRATA: the midpoint rule, exact when a step's cost is linear in depth, and
 * a sample allocates like a whole run does, so garbage collection is billed in proportion. At N = EXACT_LIMIT both
 * are measured, to show the estimate's error; that check compares the fastest samples, because on a loaded machine a
 * long sample (a whole run) is preempted more often than a short one, which skews medians but not minimums.
 *
 * At each N the four engines run interleaved, a few samples each per round (A B C D, D C B A, ...). The like-for-like
 * ratio is a peer against durable-rx's forced full replay (both replay the whole history); the ratio against the
 * cached step is reported apart, as what keeping executions live buys.
 */
import { measure, runInterleaved } from '../harness.mjs';
import { ratioSpread, spread } from '../stats.mjs';
import { durableFunctionsDriver, durableRxDriver, durableTaskDriver } from '../peers/engine-drivers.mjs';

export const SIZES = [10, 100, 1_000, 10_000];
const EXACT_LIMIT = 100;
const STRATA = 10;

/** @param {number} n @returns {number[]} the depths one estimating sample steps through */
const strata = (n) => Array.from({ length: STRATA }, (_, i) => Math.floor(((i + 0.5) * n) / STRATA));

/**
 * @typedef {object} ReplayRow
 * @property {number} n
 * @property {string} engine
 * @property {'cached' | 'full replay'} kind
 * @property {'exact' | 'estimated'} how
 * @property {number} totalMs     engine time of the whole orchestration: median over rounds of each round's median
 *   (estimated: see above)
 * @property {number} perStepMs   totalMs / (n + 1)
 * @property {number} minMs       fastest total, all rounds (estimated: scaled like the median)
 * @property {number} p99Ms       median over rounds of each round's p99 (estimated: scaled like the median)
 * @property {import('../stats.mjs').Spread} totalSpread  each round's median total, over the rounds
 * @property {import('../stats.mjs').Spread} [vsFullReplay]  peers: per-round ratio peer total / durable-rx full replay
 *   total (like for like: both replay the whole history; > 1 when durable-rx is faster)
 * @property {import('../stats.mjs').Spread} [vsCached]  peers: per-round ratio peer total / durable-rx cached total
 *   (the design advantage of keeping executions live, not a like-for-like engine comparison)
 * @property {number} samples
 * @property {number} rounds
 * @property {number} [modelErrorPct] at N = EXACT_LIMIT: estimated vs exact total (fastest samples), in percent
 */

/**
 * @typedef {object} ReplayResult
 * @property {ReplayRow[]} rows
 * @property {{ perStep100: number, perStep10000: number, ratio: number, ratioSpread: import('../stats.mjs').Spread, minRatio: number, pass: boolean }} check
 *   the check: durable-rx cached per-step time at N = 10,000 over N = 100 (must be <= 2), measured like for
 *   like (see `cachedStepCheck`); `ratio` is the median of per-round ratios, `minRatio` the ratio of the fastest
 *   samples, a load-insensitive cross-check
 */

/** @param {{ quick?: boolean }} [options] @returns {Promise<ReplayResult>} */
export async function runReplayEngine(options = {}) {
  const engines = [
    { driver: durableRxDriver({ cached: true }), kind: /** @type {const} */ ('cached') },
    { driver: durableRxDriver({ cached: false }), kind: /** @type {const} */ ('full replay') },
    { driver: durableFunctionsDriver(), kind: /** @type {const} */ ('full replay') },
    { driver: durableTaskDriver(), kind: /** @type {const} */ ('full replay') },
  ];
  /** @type {ReplayRow[]} */
  const rows = [];
  for (const n of SIZES) {
    // Large N: a sample is long (up to ~0.4 s for durabletask-js at N = 10,000), so fewer rounds and samples.
    const rounds = options.quick ? 2 : n >= 1_000 ? 4 : 6;
    const budget = { time: options.quick ? 50 : 200, iterations: options.quick ? 2 : n >= 1_000 ? 3 : 5 };
    const mid = Math.floor(n / 2);
    const depths = strata(n);
    const exactFor = (/** @type {'cached' | 'full replay'} */ kind) => kind === 'cached' || n <= EXACT_LIMIT;
    for (const { driver, kind } of options.quick && n >= 10_000 ? engines.filter((e) => e.kind === 'cached') : engines) {
      const exact = exactFor(kind);
      driver.prepare(n, exact ? undefined : depths);
      // Correctness first: the run must produce the orchestration's result, and a step must schedule the next call.
      if (exact) {
        driver.checkOutput(await driver.fullRun(), n);
        await driver.checkStep(mid);
      } else {
        for (const d of depths) await driver.checkStep(d);
      }
    }
    // --quick is a smoke check: at N = 10,000 it runs only what the check needs (the cached step), not the peers'
    // seconds-long replays.
    const contenders = options.quick && n >= 10_000 ? engines.filter((e) => e.kind === 'cached') : engines;
    const measured = await runInterleaved(contenders, rounds, async ({ driver, kind }, round) => {
      const warmupIterations = round === 0 && n < 1_000 ? 3 : 1;
      if (exactFor(kind)) {
        const m = await measure(`${driver.name} N=${n} whole orchestration round ${round + 1}`, () => driver.fullRun(),
          { ...budget, warmupIterations, capMs: 40_000, async: driver.async });
        return { p50: m.p50, min: m.min, p99: m.p99, samples: m.samples };
      }
      return measureStrata(driver, n, { ...budget, warmupIterations });
    });
    const totals = measured.map((ms) => ms.map((m) => m.p50));
    const cachedTotals = /** @type {number[]} */ (totals[0]);
    const fullTotals = totals[1] ?? [];
    for (const [i, { driver, kind }] of contenders.entries()) {
      const ms = measured[i] ?? [];
      const own = /** @type {number[]} */ (totals[i]);
      const total = spread(own).median;
      const isPeer = !driver.name.startsWith('durable-rx');
      /** @type {ReplayRow} */
      const row = {
        n, engine: driver.name, kind, how: exactFor(kind) ? 'exact' : 'estimated', totalMs: total, perStepMs: total / (n + 1),
        minMs: Math.min(...ms.map((m) => m.min)), p99Ms: spread(ms.map((m) => m.p99)).median, totalSpread: spread(own),
        ...(isPeer ? { vsFullReplay: ratioSpread(own, fullTotals), vsCached: ratioSpread(own, cachedTotals) } : {}),
        samples: ms.reduce((sum, m) => sum + m.samples, 0), rounds,
      };
      if (kind === 'full replay' && n === EXACT_LIMIT) {
        // Self-check of the estimate, where both are measured (not a comparison between engines).
        driver.prepare(n, depths);
        const estimate = await measureStrata(driver, n, budget);
        row.modelErrorPct = (estimate.min / row.minMs - 1) * 100;
      }
      rows.push(row);
      driver.prepare(0, []); // drop the histories before the next size builds its own
    }
  }
  return { rows, check: await cachedStepCheck(options) };
}

/**
 * The cached step at N = 10,000 against N = 100, like for like: every sample runs the same number of steps (100
 * whole runs at N = 100, one at N = 10,000: 10,100 and 10,001 steps), interleaved round by round. A table row's
 * median at N = 100 comes from samples of 101 steps, most of which finish between two garbage collections, while a
 * sample at N = 10,000 always includes several; comparing those would bill collection to the long history.
 * @param {{ quick?: boolean }} options
 * @returns {Promise<ReplayResult['check']>}
 */
async function cachedStepCheck(options) {
  const sizes = [{ n: 100, runs: 100 }, { n: 10_000, runs: 1 }].map(({ n, runs }) => {
    const driver = durableRxDriver({ cached: true });
    driver.prepare(n, []);
    return { n, runs, steps: runs * (n + 1), driver };
  });
  const rounds = options.quick ? 2 : 6;
  const measured = await runInterleaved(sizes, rounds, async ({ n, runs, steps, driver }, round) => {
    const m = await measure(`durable-rx cached, ${runs} run(s) at N=${n}, round ${round + 1}`, () => {
      for (let i = 0; i < runs; i++) driver.fullRun();
    }, { time: options.quick ? 50 : 200, iterations: options.quick ? 2 : 5, warmupIterations: 1, capMs: 40_000, async: false });
    return { p50: m.p50 / steps, min: m.min / steps };
  });
  for (const { driver } of sizes) driver.prepare(0, []);
  const [small = [], large = []] = measured;
  const perStep = (/** @type {{ p50: number }[]} */ ms) => spread(ms.map((m) => m.p50)).median;
  const ratios = ratioSpread(large.map((m) => m.p50), small.map((m) => m.p50));
  const fastest = (/** @type {{ min: number }[]} */ ms) => Math.min(...ms.map((m) => m.min));
  return {
    perStep100: perStep(small), perStep10000: perStep(large), ratio: ratios.median, ratioSpread: ratios,
    minRatio: fastest(large) / fastest(small), pass: ratios.median <= 2,
  };
}

/**
 * Estimates a whole run from samples of STRATA steps (the histories for `strata(n)` must be prepared).
 * @param {import('../peers/engine-drivers.mjs').EngineDriver} driver
 * @param {number} n
 * @param {{ time: number, iterations: number, warmupIterations?: number }} budget
 * @returns {Promise<{ p50: number, min: number, p99: number, samples: number }>} estimated whole-run times, ms
 */
async function measureStrata(driver, n, budget) {
  const depths = strata(n);
  const sample = driver.async
    ? async () => { for (const d of depths) await driver.stepAt(d); }
    : () => { for (const d of depths) driver.stepAt(d); };
  const m = await measure(`${driver.name} N=${n} ${STRATA} strata`, sample, { ...budget, capMs: 40_000, async: driver.async });
  const scale = n / STRATA;
  return { p50: m.p50 * scale, min: m.min * scale, p99: m.p99 * scale, samples: m.samples };
}
