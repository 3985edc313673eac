import { describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { E2eOpenOptions } from './app/api.js';
import { adapters, uniqueDb, useFreezableChromium } from './pages.js';

/**
 * A page that goes into the back/forward cache keeps its Web Locks while cached, and Chromium does not evict it for a
 * lock request queued before: its feed would count as present and its workers' leases would hold their work back
 * until they expire. The pages here open with a ten-minute lease: only the cached page's `away` (its store's feed,
 * at `pagehide`) and runAsLeader letting the lock go at that `pagehide` let the other tab take over before the end of
 * the test. Playwright's own browsers turn the back/forward cache off: these pages run in
 * {@link useFreezableChromium}'s.
 */
const LEASE_MS = 600_000;
/** Bounds the waits so that a failure reports instead of hanging: each takes milliseconds. */
const WAIT_MS = 120_000;

const openTab = useFreezableChromium(WAIT_MS);

/** A tab of the app with its store and runtime open. */
async function tab(label: string, options: E2eOpenOptions): Promise<Page> {
  const page = await openTab(label);
  await page.evaluate((o) => window.e2e.open(o), options);
  return page;
}

/** Navigates `page` away: Chromium keeps it in the back/forward cache (frozen, its Web Locks held). */
async function away(page: Page): Promise<void> {
  await page.goto(`${inject('e2eUrl')}?elsewhere=1`);
}

describe.each(adapters)('a worker tab that goes into the back/forward cache on a %s database', (adapter) => {
  it('another tab runs its activity at once, not when its lease expires', async () => {
    const db = uniqueDb(`bfcache-worker-${adapter}`);
    const a = await tab('A', { adapter, db, worker: true, leaseMs: LEASE_MS, holdActivities: true });
    const started = a.evaluate(() => window.e2e.nextActivityStart());
    await a.evaluate(() => window.e2e.startMany('OneActivity', ['x'], 'x'));
    await started;
    const b = await tab('B', { adapter, db, worker: true, leaseMs: LEASE_MS });
    await away(a);
    const [done] = await b.evaluate((ms) => window.e2e.waitAll(['x'], ms), WAIT_MS);
    expect(done?.runtimeStatus).toBe('Completed');
    expect(await b.evaluate(() => window.e2e.activityStarts())).toBe(1);
  });
});

describe('a leader tab that goes into the back/forward cache', () => {
  it('lets the lock go: another tab leads and finishes its work, not when its leases expire', async () => {
    const db = uniqueDb('bfcache-leader');
    const options = { adapter: 'dexie', db, leader: `${db}:worker`, leaseMs: LEASE_MS } as const;
    const a = await tab('A', { ...options, holdActivities: true });
    await a.evaluate(() => window.e2e.waitLeader());
    const b = await tab('B', options);
    await b.evaluate(() => window.e2e.watchAll(['z']));
    await a.evaluate(() => window.e2e.startMany('Counter', ['z'], 2));
    await a.evaluate(() => window.e2e.activityStartsReach(1));
    await away(a);
    await b.evaluate(() => window.e2e.waitLeader());
    const seen = await b.evaluate((ms) => window.e2e.watchedWhen('Completed', ms), WAIT_MS);
    expect(seen['z']?.statuses.at(-1)).toBe('Completed');
  });
});
