import { describe, expect, it } from 'vitest';
import { advantageSpread, range } from '../bench/src/format.mjs';
import { interleave, medianInterval, quantile, ratioSpread, spread } from '../bench/src/stats.mjs';
import { indexedDbTables } from '../bench/src/tables.mjs';

/**
 * The bench's pure analysis: the order contenders run in and the spread every figure is reported with. Timings are
 * not tested anywhere (they go in docs/benchmarks.md); these functions decide what the timings are reported as.
 */
describe('bench statistics', () => {
  it('interleaves contenders round by round, never in blocks, alternating who goes first (A B, B A, A B)', () => {
    const order = interleave(['A', 'B'], 3).map((x) => `${x.contender}${x.round}`);
    expect(order).toEqual(['A0', 'B0', 'B1', 'A1', 'A2', 'B2']);
    expect(interleave(['A', 'B', 'C'], 2).map((x) => x.index)).toEqual([0, 1, 2, 2, 1, 0]);
    expect(interleave(['A'], 0)).toEqual([]);
  });

  it('reports median, p10, p25, p75, p90, min and max over rounds, whatever their order', () => {
    const s = spread([5, 1, 4, 2, 3, 6, 10, 8, 7, 9, 11]);
    expect(s).toEqual({ n: 11, median: 6, p10: 2, p25: 3.5, p75: 8.5, p90: 10, min: 1, max: 11 });
    // Even count: the median interpolates between the two middle values.
    expect(spread([4, 1, 3, 2]).median).toBe(2.5);
    expect(quantile([10, 20], 0.1)).toBeCloseTo(11);
  });

  it('drops values that are not finite, and gives NaN for no values at all', () => {
    expect(spread([1, Number.NaN, 3, Number.POSITIVE_INFINITY])).toMatchObject({ n: 2, median: 2, min: 1, max: 3 });
    const empty = spread([]);
    expect(empty.n).toBe(0);
    expect(empty.median).toBeNaN();
  });

  it('gives a 95% interval for a median from the order statistics, and none from too few values', () => {
    const values = (n: number): number[] => Array.from({ length: n }, (_, i) => n - i); // any order
    // The ranks of the usual tables: n = 9 -> 2nd and 8th (96.1%), n = 24 -> 7th and 18th (97.7%).
    expect(medianInterval(values(9))).toEqual({ low: 2, high: 8, n: 9, confidence: 0.9609375 });
    expect(medianInterval(values(24))).toMatchObject({ low: 7, high: 18, n: 24 });
    expect(medianInterval(values(24)).confidence).toBeCloseTo(0.977, 3);
    expect(medianInterval(values(6))).toMatchObject({ low: 1, high: 6 });
    // With 5 values even min-max covers the median with only 93.75%: no 95% interval.
    expect(medianInterval(values(5)).low).toBeNaN();
    expect(medianInterval([1, Number.NaN, 2]).n).toBe(2);
  });

  it('gives the median\'s interval from many values too, where 2^-n is below the smallest double', () => {
    // 1075 or more values: 0.5 ** n is 0, and every rank looked unlikely enough, so the interval came out as the
    // largest value to the smallest (low 2000, high 1) with a confidence of 1.
    const many = Array.from({ length: 2000 }, (_, i) => 2000 - i);
    const interval = medianInterval(many);
    expect(interval).toMatchObject({ low: 956, high: 1045, n: 2000 });
    expect(interval.confidence).toBeGreaterThanOrEqual(0.95);
    expect(interval.confidence).toBeLessThan(0.96);
  });

  it('takes ratios within each round, not of the overall medians', () => {
    // Round 2 is twice as slow for both (the machine got busy): the per-round ratio stays 2.
    const s = ratioSpread([200, 100, 200], [100, 50, 100]);
    expect(s).toMatchObject({ n: 3, median: 2, min: 2, max: 2 });
    // A round missing one contender is skipped, as is a zero denominator.
    expect(ratioSpread([1, 2, 3], [1, 0]).n).toBe(1);
  });

  it('writes a ratio with its range over the rounds, in the direction of its median', () => {
    expect(advantageSpread(spread([2, 1.5, 3]))).toBe('durable-rx 2.00x faster (1.50-3.00x, 3 rounds)');
    // 0.5 = twice as slow; the range is written as slowdowns too: 1/0.8 = 1.25 to 1/0.25 = 4.
    expect(advantageSpread(spread([0.25, 0.5, 0.8]))).toBe('durable-rx 2.00x slower (1.25-4.00x, 3 rounds)');
    expect(advantageSpread(spread([]))).toBe('');
    expect(range(spread([3, 1, 2]), String)).toBe('1-3');
  });

  describe('the IndexedDB notes describe the order that ran', () => {
    const QUICK = { instances1: 3, slices1: 1, rawPerInstance1: 4, durably1: 3, instances100: 100, batches100: 1, rawTransactions: 100, latencyInstances: 2, crossTabProbes: 20 };
    const FULL = { ...QUICK, instances1: 15, slices1: 3, durably1: 10, batches100: 2, rawTransactions: 200 };
    /** A result of `rounds` rounds with `sizes` and the throughput rows of `rows` ([kind, concurrency]). */
    const notes = (rounds: number, sizes: typeof QUICK, rows: [string, number][]): string => {
      const s = spread([1, 2, 3]);
      const [throughput] = indexedDbTables({
        chromium: '1', crossOriginIsolated: true, rounds, sizes, disturbedSlices: 0, sameTab: [], crossTab: [],
        raw: { perSecond: s, msPerTransaction: s }, versions: { '@coji/durably': '0', sqlocal: '0', kysely: '0', zod: '0' },
        throughput: rows.map(([kind, concurrency]) => ({ system: kind, kind: kind as 'dexie', concurrency, perSecond: s })),
      });
      return throughput!.notes!.join('\n');
    };
    const stores = (concurrency: number): [string, number][] => [['dexie', concurrency], ['keyval', concurrency]];

    it('gives each store cell its pairs\' median share with p25-p75 and the median\'s interval, and the pairs\' ceiling', () => {
      const s = spread([1, 2, 3]);
      const shares = [0.5, 0.55, 0.6, 0.62, 0.64, 0.66, 0.7, 0.75, 0.9];
      const [throughput] = indexedDbTables({
        chromium: '1', crossOriginIsolated: true, rounds: 3, sizes: FULL, disturbedSlices: 0, sameTab: [], crossTab: [],
        raw: { perSecond: s, msPerTransaction: s }, versions: { '@coji/durably': '0', sqlocal: '0', kysely: '0', zod: '0' },
        throughput: [{
          system: 'durable-rx + DexieStore', kind: 'dexie', concurrency: 1, perSecond: s,
          ceilingShare: spread(shares), shareInterval: medianInterval(shares), ceiling: spread([400, 500, 600, 700, 800]),
        }],
      });
      const row = throughput!.rows[1]!;
      expect(row).toContain('600/s (500/s-700/s)');
      // Median 64%, p25-p75 60%-70%, and the 2nd to 8th of 9 pairs for the median's 96% interval.
      expect(row).toContain('64% (60%-70%; 55%-75%; 9)');
      // The interval's one assumption, which the pairs of a loaded machine only approach: independent pairs.
      expect(throughput!.notes.join(' ')).toContain('It takes the pairs as independent draws');
    });

    it('a quick run: one round, one slice and one batch per store, no durably at 100', () => {
      const text = notes(1, QUICK, [...stores(1), ['durably', 1], ...stores(100)]);
      expect(text).toContain('1 round, contenders interleaved in each round (DexieStore, KeyvalStore and durably at 1, then DexieStore and KeyvalStore at 100 concurrent)');
      expect(text).toContain('1 slice per store per round (A B) of 3 instances');
      expect(text).toContain('1 batch per store per round (A B).');
      expect(text).toContain('raw and batches alternate: R A R B R)');
      expect(text).toContain('100-job batch did not run');
      expect(text).not.toMatch(/odd rounds|A B, B A|R A R B R B/);
    });

    it('a full run: alternating rounds, slices and batches, durably at both concurrencies', () => {
      const text = notes(3, FULL, [...stores(1), ['durably', 1], ...stores(100), ['durably', 100]]);
      expect(text).toContain('3 rounds, contenders interleaved in each round (DexieStore, KeyvalStore and durably at 1, then DexieStore, KeyvalStore and durably at 100 concurrent; odd rounds in reverse)');
      expect(text).toContain('3 slices per store per round (A B, B A, A B) of 15 instances');
      expect(text).toContain('2 batches per store per round (A B, B A).');
      expect(text).toContain('raw and batches alternate: R A R B R B R A R)');
      expect(text).toContain('100-job batch runs in the first round only');
    });
  });
});
