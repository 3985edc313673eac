/**
 * Scenario 8: a tab reloaded mid-run, in headless Chromium on IndexedDB (DexieStore). The figure is the time from the
 * reload to the moment the reloaded page starts the interrupted activity again: with `leaseStorage: sessionStorage`
 * (the reloaded page releases its previous life's leases by worker id) and without it (the page waits for the lease
 * to expire). Leases of 5 s and activities of 1.5 s, as in the demo. The page is the e2e test page of
 * packages/store-indexeddb (built with Vite, served by `vite preview` on 127.0.0.1), driven with playwright-core.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';
import { duration } from '../format.mjs';
import { runInterleaved } from '../harness.mjs';
import { spread } from '../stats.mjs';

const APP = fileURLToPath(new URL('../../../packages/store-indexeddb/test/e2e/app', import.meta.url));
const LEASE_MS = 5000;
const ACTIVITY_MS = 1500;
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * @typedef {object} Contender
 * @property {string} label
 * @property {boolean} leaseStorage
 * @property {'running' | 'claim'} cut  reload while an activity runs, or right after an activity claim committed
 */

/** @type {readonly Contender[]} */
const CONTENDERS = [
  { label: 'leaseStorage: reload while the activity runs', leaseStorage: true, cut: 'running' },
  { label: 'leaseStorage: reload right after the activity claim committed', leaseStorage: true, cut: 'claim' },
  { label: 'no leaseStorage: reload while the activity runs (waits for the lease)', leaseStorage: false, cut: 'running' },
];

/**
 * @typedef {object} ReloadResumeResult
 * @property {number} leaseMs
 * @property {number} rounds
 * @property {{ label: string, spread: import('../stats.mjs').Spread }[]} rows
 */

/**
 * @param {{ quick: boolean }} options
 * @returns {Promise<ReloadResumeResult>}
 */
export async function runReloadResume({ quick }) {
  const rounds = quick ? 2 : 5;
  const outDir = await mkdtemp(join(tmpdir(), 'durable-rx-reload-bench-'));
  await build({ root: APP, configFile: false, logLevel: 'warn', build: { outDir, emptyOutDir: true, target: 'es2022', minify: false } });
  const server = await preview({
    root: APP, configFile: false, logLevel: 'warn', build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
  try {
    const address = server.httpServer.address();
    if (!address || typeof address === 'string') throw new Error('vite preview did not listen on a TCP port');
    const url = `http://127.0.0.1:${address.port}/`;
    const results = await runInterleaved(CONTENDERS, rounds, (contender, round) => reloadToResumeMs(browser, url, contender, round));
    return { leaseMs: LEASE_MS, rounds, rows: CONTENDERS.map((c, i) => ({ label: c.label, spread: spread(results[i] ?? []) })) };
  } finally {
    await browser.close();
    await server.close();
    await rm(outDir, { recursive: true, force: true });
  }
}

/**
 * One reload in a fresh browser context (its own IndexedDB and sessionStorage): ms from the reload to the start of the
 * interrupted activity's next run in the reloaded page (both `Date.now()` on this machine).
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 * @param {Contender} contender
 * @param {number} round
 * @returns {Promise<number>}
 */
async function reloadToResumeMs(browser, url, contender, round) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const db = `reload-bench-${contender.cut}-${contender.leaseStorage}-${round}-${Date.now()}`;
    await page.goto(`${url}?adapter=dexie&db=${db}&worker=1&leaseMs=${LEASE_MS}&activityDelayMs=${ACTIVITY_MS}${contender.leaseStorage ? '&leaseStorage=1' : ''}`);
    await page.evaluate('window.e2e.ready');
    /** @type {number | undefined} */
    let reloadedAt;
    if (contender.cut === 'running') {
      const started = page.evaluate('window.e2e.nextActivityStart()');
      await page.evaluate("window.e2e.startMany('OneActivity', ['bench'], 'Tokyo')");
      await started;
      reloadedAt = Date.now();
      await page.reload();
    } else {
      await page.evaluate("window.e2e.reloadAfterNextClaim('activity')");
      const loaded = page.waitForEvent('load');
      await page.evaluate("window.e2e.startMany('OneActivity', ['bench'], 'Tokyo')").catch(() => undefined);
      await loaded;
    }
    await page.evaluate('window.e2e.ready');
    // The page's window.e2e API (packages/store-indexeddb/test/e2e/app/api.ts), called by expression.
    const status = await page.evaluate("window.e2e.waitAll(['bench'], 60000).then(([s]) => s.runtimeStatus)");
    if (status !== 'Completed') throw new Error(`the reloaded instance did not complete: ${String(status)}`);
    reloadedAt ??= Number(await page.evaluate('window.e2e.reloadedAtMs()'));
    return Number(await page.evaluate('window.e2e.lastActivityStartMs()')) - reloadedAt;
  } finally {
    await context.close();
  }
}

/**
 * @param {ReloadResumeResult} result
 * @returns {import('../format.mjs').Table}
 */
export function reloadResumeTable(result) {
  return {
    title: `Scenario 8: reload to resume, one Chromium tab on IndexedDB (Dexie), ${result.leaseMs / 1000} s leases`,
    headers: ['reload', 'median', 'p10', 'p90', 'rounds'],
    rows: result.rows.map((r) => [r.label, duration(r.spread.median), duration(r.spread.p10), duration(r.spread.p90), String(r.spread.n)]),
    notes: [
      'From the reload (page.reload(), or the page\'s own location.reload() right after a claim committed) to the start of ' +
        'the interrupted activity\'s next run in the reloaded page; includes loading the page and opening the database. ' +
        `Activities take ${ACTIVITY_MS} ms; contenders interleaved round by round, each round in a fresh browser context.`,
    ],
  };
}
