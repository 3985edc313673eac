/**
 * A thin layer over tinybench: one measurement = one tinybench task with its own time budget and a hard cap, so a
 * slow peer cannot stretch the run. Results are latency statistics in milliseconds.
 */
import { Bench } from 'tinybench';
import { interleave } from './stats.mjs';

/**
 * @typedef {object} Measurement
 * @property {string} name
 * @property {number} samples  number of timed iterations
 * @property {number} p50      median, ms
 * @property {number} p75
 * @property {number} p99
 * @property {number} min
 * @property {number} max
 * @property {number} mean
 * @property {boolean} capped  true when the hard cap stopped the task before its budget was met
 */

/**
 * @typedef {object} MeasureOptions
 * @property {number} [time]              time budget in ms (default 400)
 * @property {number} [iterations]        minimum iterations (default 10)
 * @property {number} [warmupIterations]  default 3
 * @property {number} [warmupTime]        default 100 ms
 * @property {number} [capMs]             hard cap in ms (default 20 s): the task is aborted and keeps its samples
 * @property {boolean} [async]           whether `fn` returns a promise (default true). Given explicitly because
 *   tinybench otherwise calls `fn` once, outside the hooks, to find out
 * @property {() => unknown} [beforeEach] untimed, before each iteration
 * @property {() => unknown} [afterEach]  untimed, after each iteration
 * @property {boolean} [collect]          force a full collection before the task (default true; see `collectGarbage`)
 */

/**
 * Measures `fn` with tinybench. If `fn` returns `{ overriddenDuration }`, that duration (ms) is the sample.
 * @param {string} name
 * @param {() => unknown} fn
 * @param {MeasureOptions} [options]
 * @returns {Promise<Measurement>}
 */
export async function measure(name, fn, options = {}) {
  if (options.collect ?? true) collectGarbage();
  const controller = new AbortController();
  const cap = setTimeout(() => controller.abort(), options.capMs ?? 20_000);
  const bench = new Bench({
    name,
    time: options.time ?? 400,
    iterations: options.iterations ?? 10,
    warmupIterations: options.warmupIterations ?? 3,
    warmupTime: options.warmupTime ?? 100,
    throws: true,
    signal: controller.signal,
  });
  bench.add(name, fn, {
    async: options.async ?? true,
    ...(options.beforeEach ? { beforeEach: async () => { await options.beforeEach?.(); } } : {}),
    ...(options.afterEach ? { afterEach: async () => { await options.afterEach?.(); } } : {}),
  });
  try {
    await bench.run();
  } finally {
    clearTimeout(cap);
  }
  const result = /** @type {any} */ (bench.tasks[0]?.result);
  if (result.state === 'errored') throw result.error;
  if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') {
    throw new Error(`${name}: no samples (${result.state}); the cap of ${options.capMs ?? 20_000} ms was too small`);
  }
  const l = result.latency;
  return {
    name, samples: l.samplesCount, p50: l.p50, p75: l.p75, p99: l.p99, min: l.min, max: l.max, mean: l.mean,
    capped: result.state === 'aborted-with-statistics',
  };
}

/**
 * Runs a full collection when node was started with --expose-gc, so one measurement's garbage does not bill the next.
 * Any full collection drops the hidden classes no live object has, and the optimized code built on them; what matters
 * is when it runs. This one runs between measurements: for a contender that makes its runtime per batch and discards
 * it, that is when none of the discarded runtime's objects is alive, so each measurement starts on code being
 * optimized again (V8's own collections run when allocation calls for them, mostly while a batch's objects are
 * alive). Such a scenario opts out (`collect: false` in `measure` and `runInterleaved`); its garbage is then collected
 * in the next contender's timed batches, so its order must not put one compared contender after another more often
 * than the reverse.
 */
export function collectGarbage() {
  const gc = /** @type {undefined | (() => void)} */ (/** @type {any} */ (globalThis).gc);
  gc?.();
}

/**
 * Runs `measureOne` for every contender in every round, interleaved (A B, B A, A B ...; see `interleave` in stats.mjs),
 * and returns the results by contender, then by round: `results[contender][round]`.
 * @template C, R
 * @param {readonly C[]} contenders
 * @param {number} rounds
 * @param {(contender: C, round: number) => Promise<R>} measureOne
 * @param {{ readonly collect?: boolean }} [options]  `collect: false`: no forced collection after each measurement
 * @returns {Promise<R[][]>}
 */
export async function runInterleaved(contenders, rounds, measureOne, options = {}) {
  /** @type {R[][]} */
  const results = contenders.map(() => []);
  for (const { round, contender, index } of interleave(contenders, rounds)) {
    /** @type {R[]} */ (results[index])[round] = await measureOne(contender, round);
    if (options.collect ?? true) collectGarbage();
  }
  return results;
}
