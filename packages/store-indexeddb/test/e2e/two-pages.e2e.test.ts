import { describe, expect, it } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

describe.each(adapters)('two pages on one %s database', (adapter) => {
  const chromium = useChromium();

  it('a customStatus$ subscriber in page B sees every value committed in page A, in order', async () => {
    const db = uniqueDb(`two-pages-${adapter}`);
    const a = await chromium.page('A');
    const b = await chromium.page('B');
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true });
    await b.evaluate((o) => window.e2e.open(o), { adapter, db });
    // B subscribes and has its current value (the instances do not exist yet) before A starts anything.
    await b.evaluate(() => {
      window.e2e.watchCustomStatus('counter');
      window.e2e.watchCustomStatus('hello');
    });
    expect(await b.evaluate(() => window.e2e.customStatuses('counter', 1))).toEqual([undefined]);
    expect(await b.evaluate(() => window.e2e.customStatuses('hello', 1))).toEqual([undefined]);

    await a.evaluate(() => Promise.all([window.e2e.startMany('Counter', ['counter'], 25), window.e2e.startMany('HelloSequence', ['hello'])]));

    const counted = await b.evaluate(() => window.e2e.customStatuses('counter', 26));
    expect(counted).toEqual([undefined, ...Array.from({ length: 25 }, (_, i) => i + 1)]);
    const greeted = await b.evaluate(() => window.e2e.customStatuses('hello', 4));
    expect(greeted).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    // B saw completion through its own status$ (no worker there: everything came from A over the channel).
    const done = await b.evaluate(() => window.e2e.waitAll(['counter', 'hello'], 60_000));
    expect(done).toEqual([
      { instanceId: 'counter', runtimeStatus: 'Completed', output: 25 },
      { instanceId: 'hello', runtimeStatus: 'Completed', output: HELLO_OUTPUT },
    ]);
    expect(await b.evaluate(() => window.e2e.metrics().steps)).toBe(0);
  });
});
