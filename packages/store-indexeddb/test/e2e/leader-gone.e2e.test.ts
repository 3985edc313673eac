import { describe, expect, it } from 'vitest';
import { adapters, uniqueDb, useChromium } from './pages.js';

/**
 * A tab closed while its worker runs an activity leaves that activity's lease (5 minutes by default) held by a tab
 * that is gone. The other tabs release it as soon as the gone tab's store lock frees (its feed announced the lease
 * owners of its worker), so the instance goes on at once instead of after the lease; a tab that is only frozen keeps
 * its locks, and its leases with them.
 */
describe.each(adapters)('a worker tab closed mid-activity, default leases, on a %s database', (adapter) => {
  const chromium = useChromium();

  it('under runAsLeader: the next leader runs the activity again and the instance completes, without waiting out the lease', async () => {
    const db = uniqueDb(`leader-gone-${adapter}`);
    const leader = `durable-rx-e2e:${db}`;
    const a = await chromium.page('A');
    // A's activities never end: the one it runs when it closes is still leased to it.
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, leader, holdActivities: true });
    await a.evaluate(() => window.e2e.waitLeader());
    const b = await chromium.page('B');
    await b.evaluate((o) => window.e2e.open(o), { adapter, db, leader });
    const started = a.evaluate(() => window.e2e.nextActivityStart());
    await b.evaluate(() => window.e2e.startMany('OneActivity', ['held'], 'Oslo'));
    await started;
    await a.close();
    // Bounded far below the 5-minute lease, and far above what the takeover takes (well under a second).
    expect(await b.evaluate(() => window.e2e.waitAll(['held'], 120_000))).toEqual([{ instanceId: 'held', runtimeStatus: 'Completed', output: 'Hello Oslo!' }]);
    expect(await b.evaluate(() => window.e2e.isLeader())).toBe(true);
    expect(await b.evaluate(() => window.e2e.activityStarts())).toBe(1);
  });
});
