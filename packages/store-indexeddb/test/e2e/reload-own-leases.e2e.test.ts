import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { adapters, uniqueDb, useChromium } from './pages.js';

/**
 * Leases of 60 s: were the reloaded page to wait for the leases its previous life held, the interrupted instance
 * could not complete within the 40 s each test waits after the reload. The activity takes 5 s, so the reload lands
 * while it runs; the test asserts only that the instance completes (how fast is measured in the bench).
 */
const QUERY = 'worker=1&leaseStorage=1&leaseMs=60000&activityDelayMs=5000';
const WAIT_AFTER_RELOAD_MS = 40_000;

describe.each(adapters)('a single page reloaded mid-run on a %s database, with 60 s leases and sessionStorage as leaseStorage', (adapter) => {
  const chromium = useChromium();

  async function completesAfterReload(page: Page, id: string): Promise<void> {
    await page.evaluate(() => window.e2e.ready);
    const [done] = await page.evaluate(({ list, ms }) => window.e2e.waitAll(list, ms), { list: [id], ms: WAIT_AFTER_RELOAD_MS });
    expect(done).toMatchObject({ instanceId: id, runtimeStatus: 'Completed', output: 'Hello Tokyo!' });
  }

  /** Starts `id` and waits for the reload the page does itself right after its next claim of `kind` committed. */
  async function startAndReloadAfterClaim(page: Page, kind: 'orchestration' | 'activity', id: string): Promise<void> {
    await page.evaluate((k) => window.e2e.reloadAfterNextClaim(k), kind);
    const reloaded = page.waitForEvent('load');
    // The page may reload before startNew has answered: the instance is committed either way (a claim needs it). An
    // instance the runtime's own client starts is handed to its worker unclaimed, so the orchestration is started as
    // another tab would.
    const start = kind === 'orchestration'
      ? page.evaluate((i) => window.e2e.startElsewhere('OneActivity', i, 'Tokyo'), id)
      : page.evaluate((i) => window.e2e.startMany('OneActivity', [i], 'Tokyo'), id);
    await start.catch(() => undefined);
    await reloaded;
  }

  it('takes over the lease of the activity that was running when the page reloaded', async () => {
    const page = await chromium.page('reload-running', `?adapter=${adapter}&db=${uniqueDb(`reload-running-${adapter}`)}&${QUERY}`);
    const activityStarted = page.evaluate(() => window.e2e.nextActivityStart());
    await page.evaluate(() => window.e2e.startMany('OneActivity', ['running'], 'Tokyo'));
    await activityStarted;
    await page.reload();
    await completesAfterReload(page, 'running');
    // The run the reload cut short ran again in the reloaded page.
    expect(await page.evaluate(() => window.e2e.activityStarts())).toBe(2);
  });

  it('takes over an orchestration claim that committed while the page was going away, unknown to its worker', async () => {
    const page = await chromium.page('reload-claim', `?adapter=${adapter}&db=${uniqueDb(`reload-claim-${adapter}`)}&${QUERY}`);
    await startAndReloadAfterClaim(page, 'orchestration', 'claimed-step');
    await completesAfterReload(page, 'claimed-step');
  });

  it('takes over an activity claim that committed while the page was going away, unknown to its worker', async () => {
    const page = await chromium.page('reload-task', `?adapter=${adapter}&db=${uniqueDb(`reload-task-${adapter}`)}&${QUERY}`);
    await startAndReloadAfterClaim(page, 'activity', 'claimed-task');
    await completesAfterReload(page, 'claimed-task');
    // The claimed run never started in the page that went away: the reloaded page ran it once.
    expect(await page.evaluate(() => window.e2e.activityStarts())).toBe(1);
  });
});

describe('a tab duplicated from a live one (window.open copies sessionStorage), with 60 s leases', () => {
  const chromium = useChromium();

  it('runs under an id of its own and leaves the leases of the original alone while the original runs', async () => {
    const original = await chromium.page('original', `?adapter=dexie&db=${uniqueDb('duplicate')}&${QUERY}`);
    const started = original.evaluate(() => window.e2e.nextActivityStart());
    await original.evaluate(() => window.e2e.startMany('OneActivity', ['first'], 'Tokyo'));
    await started;
    // The copy opens while the original's activity runs (5 s) under its lease.
    const [copy] = await Promise.all([original.waitForEvent('popup'), original.evaluate(() => void window.open(location.href))]);
    await copy.waitForLoadState();
    await copy.evaluate(() => window.e2e.ready);
    const idsOf = (page: Page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('durable-rx:worker-ids') ?? '[]') as string[]);
    const [originalIds, copyIds] = [await idsOf(original), await idsOf(copy)];
    expect(originalIds).toHaveLength(1);
    expect(copyIds).toHaveLength(2);
    expect(copyIds[0]).toBe(originalIds[0]); // inherited with the copy of sessionStorage; the copy runs as copyIds[1]

    // The original completes its activity itself: had the copy released the original's lease, its worker would have
    // claimed the task at once and run it again (its count, copied from the original, would be 2).
    const [first] = await original.evaluate(() => window.e2e.waitAll(['first'], 40_000));
    expect(first).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello Tokyo!' });
    expect(await original.evaluate(() => window.e2e.activityStarts())).toBe(1);
    expect(await copy.evaluate(() => window.e2e.activityStarts())).toBe(1);
  });
});
