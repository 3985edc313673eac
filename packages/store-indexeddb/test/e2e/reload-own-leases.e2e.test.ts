import { describe, expect, it } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

const INSTANCES = 3;

describe.each(adapters)('a single page reloaded mid-run on a %s database, recording its leases in sessionStorage', (adapter) => {
  const chromium = useChromium();

  it('releases its own leases on reload and completes the interrupted instances without waiting for a 60 s lease', async () => {
    const db = uniqueDb(`reload-own-${adapter}`);
    // 60 s leases: were the reloaded page to wait for its old leases, the instances could not finish within the
    // 30 s this test waits.
    const page = await chromium.page('reload-own', `?adapter=${adapter}&db=${db}&worker=1&leaseMs=60000&activityDelayMs=600&sessionLeases=1`);
    const ids = Array.from({ length: INSTANCES }, (_, i) => `reload-own-${i}`);
    await page.evaluate((list) => window.e2e.startMany('ReloadSequence', list), ids);
    await page.evaluate(() => window.e2e.nextActivityStart());
    await page.reload();
    await page.evaluate(() => window.e2e.ready);

    const done = await page.evaluate((list) => window.e2e.waitAll(list, 30_000), ids);
    expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
    expect(done.map((s) => s.output)).toEqual(ids.map(() => HELLO_OUTPUT));
  });
});
