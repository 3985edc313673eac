/**
 * Pure statistics for the bench: spread over rounds and the order contenders run in. No timing here, so
 * `test/bench-stats.test.ts` at the repository root can check it.
 */

/**
 * @typedef {object} Spread
 * @property {number} n       number of values (rounds)
 * @property {number} median
 * @property {number} p10     10th percentile (linear interpolation between the two nearest ranks)
 * @property {number} p25
 * @property {number} p75
 * @property {number} p90
 * @property {number} min
 * @property {number} max
 */

/**
 * The q-quantile of ascending `sorted`, interpolating linearly between the two nearest ranks (type 7, as in R and
 * NumPy's default). NaN for an empty list.
 * @param {readonly number[]} sorted
 * @param {number} q in [0, 1]
 * @returns {number}
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const below = Math.floor(position);
  const above = Math.ceil(position);
  const low = /** @type {number} */ (sorted[below]);
  const high = /** @type {number} */ (sorted[above]);
  return low + (high - low) * (position - below);
}

/**
 * Median, p10, p25, p75, p90, min and max of `values` (any order; non-finite values are dropped).
 * @param {readonly number[]} values
 * @returns {Spread}
 */
export function spread(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    p90: quantile(sorted, 0.9),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/**
 * The order in which `rounds` rounds of `contenders` run: round by round, every contender once per round, in the
 * given order in even rounds and reversed in odd ones (A B, B A, A B ...). Running contenders in blocks (all of A,
 * then all of B) lets a change in machine load between the blocks land on one contender only; interleaved, it lands
 * on both. Alternating the order keeps any cost of going first (or last) in a round (garbage, JIT state, a load
 * trend within the round) off any one contender; the scenarios run an even number of rounds, so each order runs
 * equally often.
 * @template T
 * @param {readonly T[]} contenders
 * @param {number} rounds
 * @returns {{ round: number, contender: T, index: number }[]} `index` is the contender's position in `contenders`
 */
export function interleave(contenders, rounds) {
  /** @type {{ round: number, contender: T, index: number }[]} */
  const order = [];
  for (let round = 0; round < rounds; round++) {
    const inRound = contenders.map((contender, index) => ({ round, contender, index }));
    order.push(...(round % 2 === 0 ? inRound : inRound.reverse()));
  }
  return order;
}

/**
 * Per-round ratios `a[i] / b[i]` of two contenders measured in the same rounds, and their spread: a ratio of values
 * measured side by side in one round is steadier than a ratio of two medians taken over the whole run. Rounds where
 * either value is missing or not finite are skipped.
 * @param {readonly number[]} a
 * @param {readonly number[]} b
 * @returns {Spread}
 */
export function ratioSpread(a, b) {
  /** @type {number[]} */
  const ratios = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = /** @type {number} */ (a[i]);
    const y = /** @type {number} */ (b[i]);
    if (Number.isFinite(x) && Number.isFinite(y) && y !== 0) ratios.push(x / y);
  }
  return spread(ratios);
}

/**
 * A distribution-free confidence interval for the median of the population `values` are drawn from: the k-th smallest
 * and the k-th largest value, with k the largest rank for which the chance that fewer than k of n values fall below
 * the median (binomial, p = 1/2) is at most (1 - confidence) / 2 on each side. It assumes nothing of the shape of the
 * distribution (a bench's samples are skewed: a preempted sample is slow, never fast). NaN bounds when there are too
 * few values for that confidence (fewer than 6 at 95%). Non-finite values are dropped.
 * @param {readonly number[]} values
 * @param {number} [confidence] in (0, 1); 0.95 unless given
 * @returns {{ low: number, high: number, n: number, confidence: number }} `confidence`: the coverage the two ranks
 *   give (at least the one asked for), NaN without an interval
 */
export function medianInterval(values, confidence = 0.95) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  const tail = (1 - confidence) / 2;
  // X ~ Binomial(n, 1/2): the interval [x(k), x(n-k+1)] misses the median with chance 2 P(X <= k-1) (`missed` each
  // side). P(X = j) is kept as its logarithm: 0.5 ** n is 0 from n = 1075 on, which made every rank look unlikely.
  let logPmf = -n * Math.LN2;
  let missed = 0;
  let k = 0;
  for (let j = 0; j < n; j++) {
    const cdf = missed + Math.exp(logPmf);
    if (cdf > tail) break;
    missed = cdf;
    k = j + 1;
    logPmf += Math.log((n - j) / (j + 1));
  }
  if (k === 0) return { low: NaN, high: NaN, n, confidence: NaN };
  return { low: /** @type {number} */ (sorted[k - 1]), high: /** @type {number} */ (sorted[n - k]), n, confidence: 1 - 2 * missed };
}
