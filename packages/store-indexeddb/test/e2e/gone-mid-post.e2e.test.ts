import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { adapters, uniqueDb, useChromium } from './pages.js';

/**
 * A tab that goes (reloads, closes, crashes) between a commit and its post never posts that commit: the other tabs'
 * feeds never deliver it. The guarantee (status$'s TSDoc, the package README): the latest state still arrives — each
 * other tab reads again the instances it watches once the gone tab's feed lock frees — and what arrives is in commit
 * order; a value committed in the tab's last moment may be skipped when a later one was committed before the read.
 */
describe.each(adapters)('a tab that goes between a commit and its post, on a %s database', (adapter) => {
  const chromium = useChromium();

  /** A watcher tab that watches `ids` and a worker tab armed to drop the matching post and reload instead. */
  async function tabs(db: string, ids: readonly string[], match: { runtimeStatus: string; customStatus?: number }): Promise<{ watcher: Page; worker: Page }> {
    const watcher = await chromium.page('watcher', `?adapter=${adapter}&db=${db}`);
    const worker = await chromium.page('worker', `?adapter=${adapter}&db=${db}&worker=1&leaseMs=2000`);
    await worker.evaluate((m) => window.e2e.dieAtPostOf(m), match);
    await watcher.evaluate((list) => window.e2e.watchAll(list), ids);
    return { watcher, worker };
  }

  it('its last commit (Completed) still reaches the watcher: status$, customStatus$ and waitForCompletion do not stay at Running', async () => {
    const db = uniqueDb(`gone-last-${adapter}`);
    const { watcher, worker } = await tabs(db, ['last'], { runtimeStatus: 'Completed' });
    const reloaded = worker.waitForEvent('load');
    await watcher.evaluate(() => window.e2e.startMany('Counter', ['last'], 3));
    await reloaded;
    await worker.evaluate(() => window.e2e.ready);
    expect(await worker.evaluate(() => window.e2e.postsDropped())).toBe(1);
    // Bounded only so that a failure reports what the watcher saw instead of hanging: it takes milliseconds.
    const seen = (await watcher.evaluate(() => window.e2e.watchedWhen('Completed', 60_000)))['last']!;
    expect(seen.statuses.at(-1)).toBe('Completed');
    expect(seen.waited).toBe('Completed');
    // Only the last commit was not posted, and it was read again: nothing skipped.
    expect(seen.customStatuses).toEqual([undefined, 1, 2, 3]);
  });

  it('an intermediate commit: the watcher sees what follows in commit order, and the latest state', async () => {
    const db = uniqueDb(`gone-mid-${adapter}`);
    const { watcher, worker } = await tabs(db, ['mid'], { runtimeStatus: 'Running', customStatus: 2 });
    const reloaded = worker.waitForEvent('load');
    await watcher.evaluate(() => window.e2e.startMany('Counter', ['mid'], 4));
    await reloaded;
    await worker.evaluate(() => window.e2e.ready);
    const seen = (await watcher.evaluate(() => window.e2e.watchedWhen('Completed', 120_000)))['mid']!;
    expect(seen.statuses.at(-1)).toBe('Completed');
    expect(seen.waited).toBe('Completed');
    // In order and complete up to the gone tab's last commit, which may be skipped (value 2), then the rest.
    expect([[undefined, 1, 2, 3, 4], [undefined, 1, 3, 4]]).toContainEqual(seen.customStatuses);
    expect(await worker.evaluate(() => window.e2e.postsDropped())).toBe(1);
  });
});
