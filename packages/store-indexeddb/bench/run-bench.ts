/**
 * `npm run bench -w @durable-rx/store-indexeddb`: orchestration steps per second of DexieStore and KeyvalStore in
 * real headless Chromium (MemoryStore in the same page as the baseline), and the gzipped bytes each adapter adds to
 * a Vite app. Writes `bench-results.json` next to package.json. Runs under vitest only to reuse the e2e harness
 * (Vite build + preview, playwright-core); it asserts nothing about the numbers.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, platform, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { expect, it } from 'vitest';
import { buildAndServe, launchChromium } from '../test/e2e/harness.js';
import type { BenchAdapter, BenchRun } from './page/api.js';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ADAPTERS: readonly BenchAdapter[] = ['dexie', 'keyval', 'memory'];
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median. */
  readonly spread: number;
  readonly runs: readonly number[];
}

it('measures steps per second in Chromium and bundle sizes', { timeout: 900_000 }, async () => {
  const bundle = await bundleSizes();
  const app = await buildAndServe(here('./page'));
  const browser = await launchChromium();
  const stepsPerSecond: Partial<Record<BenchAdapter, Summary>> = {};
  const storeCallsPerStep: Partial<Record<BenchAdapter, Record<string, number>>> = {};
  const idbPerStep: Partial<Record<BenchAdapter, Record<string, number>>> = {};
  try {
    for (const adapter of ADAPTERS) {
      const page = await (await browser.newContext()).newPage();
      await page.goto(app.url);
      await page.evaluate(([a, n]) => window.bench.run(a, n), [adapter, 20] as const); // warm-up (JIT, first open)
      const runs: BenchRun[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await page.evaluate(([a, n]) => window.bench.run(a, n), [adapter, INSTANCES] as const));
      for (const run of runs) expect(run.steps).toBe(INSTANCES * 4);
      stepsPerSecond[adapter] = summarize(runs.map((r) => r.steps / (r.elapsedMs / 1000)));
      const last = runs[runs.length - 1]!;
      storeCallsPerStep[adapter] = Object.fromEntries(
        Object.entries(last.calls)
          .filter(([method]) => method !== 'close')
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([method, n]) => [method, Math.round((n / last.steps) * 100) / 100]),
      );
      const { byMethod: _byMethod, ...idb } = last.idb;
      idbPerStep[adapter] = Object.fromEntries(Object.entries(idb).map(([what, n]) => [what, Math.round((n / last.steps) * 100) / 100]));
      await page.context().close();
    }
    const results = {
      generatedAt: new Date().toISOString(),
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30),
        os: `${platform()} ${release()}`, node: process.version, chromium: browser.version(),
      },
      method: {
        stepsPerSecond: `${RUNS} runs (after a warm-up) of ${INSTANCES} hello-sequence instances (4 orchestration steps and ` +
          '3 activities each), started at once on one runtime with default concurrency in one headless Chromium page; ' +
          'steps/s = committed steps / wall time from the first startNew to the last completion. A fresh database per run.',
        bundle: 'vite build (minified, es2022) of a one-line app creating a runtime on MemoryStore / DexieStore / ' +
          'KeyvalStore from the built packages; sum of gzip -9 sizes of the emitted JS.',
      },
      stepsPerSecond,
      /** Store calls (IndexedDB transactions) per orchestration step in the last run, by method. */
      storeCallsPerStep,
      /** IndexedDB transactions (by mode, and readwrite ones that wrote nothing) and requests per step in the last run. */
      idbPerStep,
      bundleGzipBytes: bundle,
    };
    await writeFile(here('../bench-results.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log(report(results.stepsPerSecond, bundle));
    console.log('store calls per step:', JSON.stringify(storeCallsPerStep, null, 1));
    console.log('IndexedDB transactions and requests per step:', JSON.stringify(idbPerStep, null, 1));
  } finally {
    await browser.close();
    await app.close();
  }
});

async function bundleSizes() {
  const size = async (entry: string) => {
    const output = await build({
      configFile: false, root: here('./bundle'), logLevel: 'silent',
      build: { write: false, minify: true, target: 'es2022', rolldownOptions: { input: here(`./bundle/${entry}.ts`) } },
    });
    const outputs = Array.isArray(output) ? output : [output];
    let bytes = 0;
    for (const o of outputs) {
      if (!('output' in o)) throw new Error('unexpected watcher from vite build');
      for (const chunk of o.output) if (chunk.type === 'chunk') bytes += gzipSync(chunk.code, { level: 9 }).length;
    }
    return bytes;
  };
  const runtimeOnly = await size('runtime-only');
  const withDexie = await size('with-dexie');
  const withKeyval = await size('with-keyval');
  return { runtimeOnly, withDexie, withKeyval, dexieAdds: withDexie - runtimeOnly, keyvalAdds: withKeyval - runtimeOnly };
}

function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  const min = sorted[0] ?? NaN;
  const max = sorted[sorted.length - 1] ?? NaN;
  const round = (n: number) => Math.round(n * 10) / 10;
  return { median: round(median), min: round(min), max: round(max), spread: Math.round(((max - min) / median) * 1000) / 1000, runs: values.map(round) };
}

function report(steps: Partial<Record<BenchAdapter, Summary>>, bundle: Awaited<ReturnType<typeof bundleSizes>>): string {
  const lines = ['', 'orchestration steps/s in Chromium (median [min-max]):'];
  for (const [adapter, s] of Object.entries(steps)) lines.push(`  ${adapter.padEnd(7)} ${s.median} [${s.min}-${s.max}]`);
  lines.push('gzipped bytes added to a Vite app:');
  lines.push(`  runtime only ${bundle.runtimeOnly}; DexieStore +${bundle.dexieAdds}; KeyvalStore +${bundle.keyvalAdds}`);
  return lines.join('\n');
}
