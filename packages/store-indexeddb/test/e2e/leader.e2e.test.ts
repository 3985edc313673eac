import { describe, expect, it } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

describe.each(adapters)('leader mode on a %s database (Web Locks)', (adapter) => {
  const chromium = useChromium();

  it('only the leader page works while the other observes; the other takes over when the leader closes', async () => {
    const db = uniqueDb(`leader-${adapter}`);
    const leader = `durable-rx-e2e:${db}`;
    const a = await chromium.page('A');
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, leader });
    await a.evaluate(() => window.e2e.waitLeader());
    const b = await chromium.page('B');
    await b.evaluate((o) => window.e2e.open(o), { adapter, db, leader });
    expect(await b.evaluate(() => window.e2e.isLeader())).toBe(false);

    await b.evaluate(() => window.e2e.startMany('HelloSequence', ['first']));
    expect(await b.evaluate(() => window.e2e.waitAll(['first'], 60_000))).toEqual([
      { instanceId: 'first', runtimeStatus: 'Completed', output: HELLO_OUTPUT },
    ]);
    expect(await a.evaluate(() => window.e2e.metrics().steps)).toBe(4);
    expect(await b.evaluate(() => window.e2e.metrics().steps)).toBe(0);

    await a.close();
    await b.evaluate(() => window.e2e.waitLeader());
    await b.evaluate(() => window.e2e.startMany('HelloSequence', ['second']));
    expect(await b.evaluate(() => window.e2e.waitAll(['second'], 60_000))).toEqual([
      { instanceId: 'second', runtimeStatus: 'Completed', output: HELLO_OUTPUT },
    ]);
    expect(await b.evaluate(() => window.e2e.metrics().steps)).toBe(4);
  });
});
