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
 */
import { measure } from '../harness.mjs';
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
 * @property {number} totalMs     median engine time of the whole orchestration (estimated: see above)
 * @property {number} perStepMs   totalMs / (n + 1)
 * @property {number} minMs       fastest total (estimated: scaled like the median)
 * @property {number} p99Ms       p99 of the total (estimated: scaled like the median)
 * @property {number} samples
 * @property {number} [modelErrorPct] at N = EXACT_LIMIT: estimated vs exact total (fastest samples), in percent
 */

/**
 * @typedef {object} ReplayResult
 * @property {ReplayRow[]} rows
 * @property {{ perStep100: number, perStep10000: number, ratio: number, minRatio: number, pass: boolean }} check
 *   the check, on medians: durable-rx cached per-step time at N = 10,000 over N = 100 (must be <= 2);
 *   `minRatio` is the same ratio from the fastest samples, shown beside it as a load-insensitive cross-check
 */

/** @param {{ quick?: boolean }} [options] @returns {Promise<ReplayResult>} */
export async function runReplayEngine(options = {}) {
  const time = options.quick ? 100 : 1_000;
  const iterations = options.quick ? 3 : 20;
  const engines = [
    { driver: durableRxDriver({ cached: true }), kind: /** @type {const} */ ('cached') },
    { driver: durableRxDriver({ cached: false }), kind: /** @type {const} */ ('full replay') },
    { driver: durableFunctionsDriver(), kind: /** @type {const} */ ('full replay') },
    { driver: durableTaskDriver(), kind: /** @type {const} */ ('full replay') },
  ];
  /** @type {ReplayRow[]} */
  const rows = [];
  for (const n of SIZES) {
    const mid = Math.floor(n / 2);
    const depths = strata(n);
    for (const { driver, kind } of engines) {
      const exact = kind === 'cached' || n <= EXACT_LIMIT;
      driver.prepare(n, exact ? undefined : depths);
      if (exact) {
        // Correctness first: the run must produce the orchestration's result, and a step must schedule the next call.
        driver.checkOutput(await driver.fullRun(), n);
        await driver.checkStep(mid);
        const m = await measure(`${driver.name} N=${n} whole orchestration`, () => driver.fullRun(), { time, iterations, capMs: 40_000, async: driver.async });
        /** @type {ReplayRow} */
        const row = {
          n, engine: driver.name, kind, how: 'exact', totalMs: m.p50, perStepMs: m.p50 / (n + 1), minMs: m.min, p99Ms: m.p99,
          samples: m.samples,
        };
        if (kind === 'full replay' && n === EXACT_LIMIT) {
          const estimate = await measureStrata(driver, n, { time, iterations });
          row.modelErrorPct = (estimate.min / m.min - 1) * 100;
        }
        rows.push(row);
      } else {
        for (const d of depths) await driver.checkStep(d);
        // A sample is 10 steps deep in history (up to ~0.4 s for durabletask-js at N = 10,000): fewer of them.
        const m = await measureStrata(driver, n, { time, iterations: Math.ceil(iterations / 2) });
        rows.push({
          n, engine: driver.name, kind, how: 'estimated', totalMs: m.p50, perStepMs: m.p50 / (n + 1), minMs: m.min, p99Ms: m.p99,
          samples: m.samples,
        });
      }
      driver.prepare(0, []); // drop the histories before the next engine builds its own
    }
  }
  const cached = (/** @type {number} */ n) => /** @type {ReplayRow} */ (rows.find((r) => r.kind === 'cached' && r.n === n));
  const perStep100 = cached(100).perStepMs;
  const perStep10000 = cached(10_000).perStepMs;
  const ratio = perStep10000 / perStep100;
  const minRatio = (cached(10_000).minMs / 10_001) / (cached(100).minMs / 101);
  return { rows, check: { perStep100, perStep10000, ratio, minRatio, pass: ratio <= 2 } };
}

/**
 * Estimates a whole run from samples of STRATA steps (the histories for `strata(n)` must be prepared).
 * @param {import('../peers/engine-drivers.mjs').EngineDriver} driver
 * @param {number} n
 * @param {{ time: number, iterations: number }} budget
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
