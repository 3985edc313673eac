import { describe, expect, it } from 'vitest';
import { INSECURE_HOST } from './harness.js';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

/**
 * A page served over plain HTTP from a host that is not localhost (a LAN address) is no secure context: Chromium gives
 * it neither `crypto.randomUUID` nor Web Locks. The app must still start its runtime and run its work there.
 */
describe.each(adapters)('a page on a %s database served from an insecure origin', (adapter) => {
  const chromium = useChromium();

  it('starts its runtime and completes an instance', async () => {
    const url = new URL(chromium.url);
    url.hostname = INSECURE_HOST;
    const page = await chromium.page('insecure', `?adapter=${adapter}&db=${uniqueDb(`insecure-${adapter}`)}&worker=1`, url.href);
    expect(await page.evaluate(() => ({ secure: isSecureContext, randomUUID: 'randomUUID' in crypto, locks: 'locks' in navigator })))
      .toEqual({ secure: false, randomUUID: false, locks: false });
    await page.evaluate(() => window.e2e.startMany('HelloSequence', ['insecure']));
    const done = await page.evaluate(() => window.e2e.waitAll(['insecure'], 120_000));
    expect(done.map((s) => [s.runtimeStatus, s.output])).toEqual([['Completed', HELLO_OUTPUT]]);
  });

  it('runs leader mode: with no Web Locks to elect by, each such page leads (leases keep the work correct)', async () => {
    const url = new URL(chromium.url);
    url.hostname = INSECURE_HOST;
    const db = uniqueDb(`insecure-leader-${adapter}`);
    const leader = `durable-rx-e2e:${db}`;
    const a = await chromium.page('insecure A', '', url.href);
    const b = await chromium.page('insecure B', '', url.href);
    // runAsLeader read navigator.locks.request: the page failed to open with a TypeError.
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, leader });
    await b.evaluate((o) => window.e2e.open(o), { adapter, db, leader });
    await a.evaluate(() => window.e2e.waitLeader());
    await b.evaluate(() => window.e2e.waitLeader());
    await b.evaluate(() => window.e2e.startMany('HelloSequence', ['led']));
    const done = await a.evaluate(() => window.e2e.waitAll(['led'], 120_000));
    expect(done.map((s) => [s.runtimeStatus, s.output])).toEqual([['Completed', HELLO_OUTPUT]]);
    // release() stops the runtime it started: the page closes cleanly.
    await a.evaluate(() => window.e2e.close());
    expect(await a.evaluate(() => window.e2e.isLeader())).toBe(false);
    await b.evaluate(() => window.e2e.close());
  });
});
