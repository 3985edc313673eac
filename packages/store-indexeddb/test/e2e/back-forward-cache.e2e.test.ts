import { describe, expect, inject, it, vi } from 'vitest';
import type { Page } from 'playwright-core';
import type { E2eOpenOptions } from './app/api.js';
import { adapters, HELLO_OUTPUT, uniqueDb, useFreezableChromium } from './pages.js';

/**
 * A page that goes into the back/forward cache keeps its Web Locks while cached, and Chromium does not evict it for a
 * lock request queued before: its feed would count as present and its workers' leases would hold their work back
 * until they expire. The pages here open with a ten-minute lease: only the cached page's `away` (its store's feed,
 * at `pagehide`) and runAsLeader letting the lock go at that `pagehide` let the other tab take over before the end of
 * the test. Once restored, the page finds its leases gone and its store working. Playwright's own browsers turn the
 * back/forward cache off: these pages run in {@link useFreezableChromium}'s.
 *
 * Each test checks that Chromium really kept the page (`pagehide` with `persisted`) and restored it (`pageshow` with
 * `persisted`, in the page whose state went on): Chromium may decline to cache a page, or evict it while cached, and
 * a test that went on with an unloaded page would prove nothing. Such a run is made again, on a database of its own,
 * at most {@link RUNS} times.
 */
const LEASE_MS = 600_000;
/** Bounds the waits so that a failure reports instead of hanging: each takes milliseconds. */
const WAIT_MS = 120_000;
/** Runs of a test whose page Chromium did not keep in the back/forward cache, at most. */
const RUNS = 3;

const openTab = useFreezableChromium(WAIT_MS);

/** A tab of the app with its store and runtime open. */
async function tab(label: string, options: E2eOpenOptions): Promise<Page> {
  const page = await openTab(label);
  await page.evaluate((o) => window.e2e.open(o), options);
  return page;
}

/**
 * Waits until each of `stores` stores open on `db` watches the others' feed locks. A lock request made after a page went
 * into the back/forward cache for a lock the page holds makes Chromium evict it (`WebLocksContention`): a store that
 * joined late could watch the cached page's lock only then.
 */
async function watchingEachOther(page: Page, db: string, stores: number): Promise<void> {
  await vi.waitFor(async () => {
    expect(await page.evaluate((d) => window.e2e.feedLocks(d), db)).toEqual({ held: stores, watches: stores * (stores - 1) });
  }, { timeout: WAIT_MS, interval: 20 });
}

/** Chromium did not keep the page in the back/forward cache, or did not restore it from there: the run proves nothing. */
class NotCached extends Error {}

/**
 * Navigates `page` away: Chromium keeps it in the back/forward cache (frozen, its Web Locks held). Throws
 * {@link NotCached} when its `pagehide` says Chromium unloaded it instead.
 */
async function away(page: Page): Promise<void> {
  await page.goto(`${inject('e2eUrl')}?elsewhere=1`);
  const cached = await page.evaluate(() => window.e2e.cachedAtHide());
  if (cached !== true) throw new NotCached(`the page was not kept in the back/forward cache (pagehide persisted: ${cached})`);
}

/**
 * Navigates `page` back to the page {@link away} left: the back/forward cache restores it, its state as it was.
 * Throws {@link NotCached} when Chromium loaded it anew (it evicted the page meanwhile).
 */
async function back(page: Page): Promise<void> {
  // Chromium names the reasons why it did not restore the page, for the message.
  const cdp = await page.context().newCDPSession(page);
  let reasons: string[] = [];
  cdp.on('Page.backForwardCacheNotUsed', (event) => {
    reasons = event.notRestoredExplanations.map((e) => `${e.reason}${e.context ? ` (${e.context})` : ''}`);
  });
  await cdp.send('Page.enable');
  await page.goBack({ waitUntil: 'commit' });
  await page.waitForFunction(() => typeof window.e2e === 'object');
  const restores = await page.evaluate(() => window.e2e.restores());
  await cdp.detach();
  if (restores !== 1) throw new NotCached(`the page was loaded anew, not restored from the back/forward cache (restores: ${restores}; ${reasons.join(', ')})`);
}

/** Runs `attempt` (on a database of its own each time) again while Chromium did not cache its page, {@link RUNS} runs at most. */
async function cachedRun(attempt: (run: number) => Promise<void>): Promise<void> {
  for (let run = 1; ; run++) {
    try {
      return await attempt(run);
    } catch (error) {
      if (!(error instanceof NotCached) || run >= RUNS) throw error;
      console.warn(`run ${run}: ${error.message}; running again`);
    }
  }
}

describe.each(adapters)('a worker tab that goes into the back/forward cache on a %s database', (adapter) => {
  it('another tab runs its activity at once, not when its lease expires; restored, its result is refused and it goes on working', async () => {
    await cachedRun(async (run) => {
      const db = uniqueDb(`bfcache-worker-${adapter}-${run}`);
      const a = await tab('A', { adapter, db, worker: true, leaseMs: LEASE_MS, holdActivities: true });
      const started = a.evaluate(() => window.e2e.nextActivityStart());
      await a.evaluate(() => window.e2e.startMany('OneActivity', ['x'], 'x'));
      await started;
      const b = await tab('B', { adapter, db, worker: true, leaseMs: LEASE_MS });
      await watchingEachOther(b, db, 2);
      await away(a);
      const [done] = await b.evaluate((ms) => window.e2e.waitAll(['x'], ms), WAIT_MS);
      expect(done?.runtimeStatus).toBe('Completed');
      expect(await b.evaluate(() => window.e2e.activityStarts())).toBe(1);
      const completed = (await b.evaluate(() => window.e2e.histories(['x'])))['x'];

      // Restored, A's activity ends and its worker commits the result under the lease B's store released: refused.
      await back(a);
      await a.evaluate(() => window.e2e.releaseActivities());
      const refused = await a.evaluate((ms) => window.e2e.refusedCommits(1, ms), WAIT_MS);
      expect(refused.every((kind) => kind === 'activity' || kind === 'activityStep')).toBe(true);
      expect(await a.evaluate(() => window.e2e.histories(['x']))).toEqual({ x: completed });

      // A goes on working: with B gone, its worker claims and runs a new instance to the end.
      await b.evaluate(() => window.e2e.close());
      await a.evaluate(() => window.e2e.startElsewhere('HelloSequence', 'after'));
      expect(await a.evaluate((ms) => window.e2e.waitAll(['after'], ms), WAIT_MS))
        .toEqual([{ instanceId: 'after', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
      expect(await a.evaluate(() => window.e2e.activityStarts())).toBe(4);
    });
  });
});

describe.each(adapters)('a leader tab that goes into the back/forward cache on a %s database', (adapter) => {
  it('lets the lock go: another tab leads and finishes its work, not when its leases expire; restored, its next start succeeds', async () => {
    await cachedRun(async (run) => {
      const db = uniqueDb(`bfcache-leader-${adapter}-${run}`);
      const options = { adapter, db, leader: `${db}:worker`, leaseMs: LEASE_MS } as const;
      const a = await tab('A', { ...options, holdActivities: true });
      await a.evaluate(() => window.e2e.waitLeader());
      const b = await tab('B', options);
      await b.evaluate(() => window.e2e.watchAll(['z']));
      await a.evaluate(() => window.e2e.startMany('Counter', ['z'], 2));
      await a.evaluate(() => window.e2e.activityStartsReach(1));
      await watchingEachOther(b, db, 2);
      await away(a);
      await b.evaluate(() => window.e2e.waitLeader());
      const seen = await b.evaluate((ms) => window.e2e.watchedWhen('Completed', ms), WAIT_MS);
      expect(seen['z']?.statuses.at(-1)).toBe('Completed');

      // Restored, A's store works again: a start of A's succeeds, and B, leading, runs it to the end.
      await back(a);
      expect(await a.evaluate(() => window.e2e.tryStart('HelloSequence', 'after'))).toEqual({ ok: true });
      expect(await b.evaluate((ms) => window.e2e.waitAll(['after'], ms), WAIT_MS))
        .toEqual([{ instanceId: 'after', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
      expect(await a.evaluate(() => window.e2e.isLeader())).toBe(false);
    });
  });
});
