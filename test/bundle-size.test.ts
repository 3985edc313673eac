import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as runtime from '@durable-rx/runtime';
import { RemoteError } from '@durable-rx/rx-client';
import * as idb from '@durable-rx/store-indexeddb';
import { describe, expect, it } from 'vitest';
import { bundleEntry } from '../bench/src/scenarios/bundle-size.mjs';

/**
 * Gzipped bytes each bench bundle entry adds to the baseline page, built exactly as the bench's bundle scenario builds
 * it (Vite production build, `es2015` condition, gzip level 9): deterministic for a given tree, so a budget is a fair
 * test. Each budget is the figure measured for the tree it was set on: a change that grows a page past its budget
 * fails here, and a change that shrinks one lowers the budget with it.
 *
 * To re-measure after `npm run build`: `node bench/src/bundle-breakdown.mjs runtime.js | head -1` (or any other entry
 * of `bench/bundle-entries/`) prints the bytes over the baseline app; without `| head -1` it lists what each module
 * adds. A change that moves a budget says in its commit message which page grew or shrank, by how many bytes, and
 * why; the history of the budgets is in git.
 */
const BUDGETS: readonly { readonly entry: string; readonly maxAddedGzipBytes: number }[] = [
  { entry: 'runtime.js', maxAddedGzipBytes: 57_556 },
  { entry: 'runtime-keyval.js', maxAddedGzipBytes: 74_571 },
  { entry: 'runtime-dexie.js', maxAddedGzipBytes: 103_757 },
  { entry: 'rx-client.js', maxAddedGzipBytes: 13_474 },
];

describe('bundle size', () => {
  it.each(BUDGETS)('$entry adds at most $maxAddedGzipBytes bytes gzip to a page', async ({ entry, maxAddedGzipBytes }) => {
    const baseline = await bundleEntry('baseline.js');
    const built = await bundleEntry(entry);
    expect(built.gzipBytes - baseline.gzipBytes).toBeLessThanOrEqual(maxAddedGzipBytes);
  });

  it('saves what the READMEs say a page saves by taking createRuntime from /core (no MemoryStore)', async () => {
    const core = await bundleEntry('runtime-keyval.js');
    const main = await bundleEntry(fileURLToPath(new URL('./fixtures/runtime-keyval-main.js', import.meta.url)));
    const savedKb = (main.gzipBytes - core.gzipBytes) / 1000;
    const claims = [
      ['../packages/runtime/README.md', /`InvalidArgumentError`\), about (\d+(?:\.\d+)?) KB gzip less/g],
      ['../packages/store-indexeddb/README.md', /no MemoryStore \(about (\d+(?:\.\d+)?) kB gzip less\)/g],
    ] as const;
    for (const [readme, claim] of claims) {
      const text = readFileSync(new URL(readme, import.meta.url), 'utf8');
      const stated = [...text.matchAll(claim)].map((m) => Number(m[1]));
      expect(stated, readme).toHaveLength(1);
      // One decimal is stated: it may be off by its rounding plus a little drift, not by a kilobyte.
      expect(Math.abs(stated[0]! - savedKb), `${readme} says ${stated[0]} kB, measured ${savedKb} kB`).toBeLessThanOrEqual(0.25);
    }
  });

  it('adds to a page what the store-indexeddb README says each store adds over the runtime without MemoryStore', async () => {
    // The runtime from /core without a store (the page's own, from outside the bundle): the rest of a store's page.
    const core = await bundleEntry(fileURLToPath(new URL('./fixtures/runtime-core.js', import.meta.url)));
    const text = readFileSync(new URL('../packages/store-indexeddb/README.md', import.meta.url), 'utf8');
    const rows = [...text.matchAll(/\| gzipped size it adds to an app \(over the runtime without MemoryStore\) \| about (\d+(?:\.\d+)?) kB \(mostly Dexie\) \| about (\d+(?:\.\d+)?) kB \|/g)];
    expect(rows).toHaveLength(1);
    const [, dexie, keyval] = rows[0]!;
    for (const [entry, stated] of [['runtime-dexie.js', dexie!], ['runtime-keyval.js', keyval!]] as const) {
      const addedKb = ((await bundleEntry(entry)).gzipBytes - core.gzipBytes) / 1000;
      // Off by the rounding of what is stated (whole kB or one decimal) plus a little drift.
      const tolerance = (stated.includes('.') ? 0.05 : 0.5) + 0.2;
      expect(Math.abs(Number(stated) - addedKb), `${entry}: the README says ${stated} kB, measured ${addedKb} kB`).toBeLessThanOrEqual(tolerance);
    }
  });

  it('keeps every error name in a minified bundle, where class names are renamed', async () => {
    const built = await bundleEntry(fileURLToPath(new URL('./fixtures/bundled-error-names.js', import.meta.url)));
    expect(built.chunks).toHaveLength(1);
    const dir = mkdtempSync(join(tmpdir(), 'durable-rx-bundle-'));
    try {
      writeFileSync(join(dir, 'names.mjs'), built.chunks[0]!);
      const run = spawnSync(process.execPath, [join(dir, 'names.mjs')], { encoding: 'utf8', timeout: 60_000 });
      expect(run.stderr).toBe('');
      const byCode = (a: [string, string], b: [string, string]) => a[0].localeCompare(b[0]);
      expect((JSON.parse(run.stdout) as [string, string][]).sort(byCode)).toEqual(errorNamesUnbundled().sort(byCode));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** What test/fixtures/bundled-error-names.js prints, computed from the packages' unminified dist. */
function errorNamesUnbundled(): [string, string][] {
  const classes = [...Object.values(runtime), ...Object.values(idb)].filter(
    (value): value is new (...args: unknown[]) => runtime.DurableError =>
      typeof value === 'function' && value.prototype instanceof runtime.DurableError,
  );
  const names = classes.map((ErrorClass): [string, string] => {
    const error = new ErrorClass('m', { name: 'a', taskScheduledId: 0 }, { errorType: 'Error', errorMessage: 'm' });
    return [error.code, error.name];
  });
  expect(names.length).toBeGreaterThan(10);
  names.push(['remote', new RemoteError('unauthorized', 401, 'm').name]);
  return names;
}
