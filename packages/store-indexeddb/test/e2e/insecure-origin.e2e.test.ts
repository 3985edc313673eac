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
});
