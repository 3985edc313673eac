import { assertNoDuplicateSteps } from '@durable-rx/runtime/testing';
import { describe, expect, it } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

const INSTANCES = 12;
const RELOADS = 4;

describe.each(adapters)('reloading a page working on a %s database', (adapter) => {
  const chromium = useChromium();

  it(`survives ${RELOADS} reloads while activities are in flight: every instance completes with the right output`, async () => {
    const db = uniqueDb(`reload-${adapter}`);
    // Short leases so that the work a reload interrupted is taken over by the reloaded page; slow activities so that
    // there is always one in flight.
    const page = await chromium.page('reload', `?adapter=${adapter}&db=${db}&worker=1&leaseMs=2000&activityDelayMs=600`);
    const ids = Array.from({ length: INSTANCES }, (_, i) => `reload-${i}`);
    await page.evaluate((list) => window.e2e.startMany('ReloadSequence', list), ids);

    for (let i = 0; i < RELOADS; i++) {
      // An activity has just started (and takes 600 ms): reload in the middle of it.
      await page.evaluate(() => window.e2e.nextActivityStart());
      await page.reload();
      await page.evaluate(() => window.e2e.ready);
    }

    const done = await page.evaluate((list) => window.e2e.waitAll(list, 120_000), ids);
    expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
    expect(done.map((s) => s.output)).toEqual(ids.map(() => HELLO_OUTPUT));
    // Each reload cut an activity run short, so that activity ran again: at least one extra run per reload.
    expect(await page.evaluate(() => window.e2e.activityStarts())).toBeGreaterThanOrEqual(INSTANCES * 3 + RELOADS);
    const histories = await page.evaluate((list) => window.e2e.histories(list), ids);
    for (const id of ids) {
      const history = histories[id] ?? [];
      assertNoDuplicateSteps(history);
      // The durable timer was created and fired once, even when it fell due while the page was reloading.
      expect(history.filter((e) => e.type === 'TimerFired')).toHaveLength(1);
    }
  });
});
