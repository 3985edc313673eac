import { assertNoDuplicateSteps } from '@durable-rx/runtime/testing';
import { describe, expect, it } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

const INSTANCES = 100;

describe.each(adapters)('three pages running workers on one %s database', (adapter) => {
  const chromium = useChromium();

  it(`completes ${INSTANCES} hello sequences, each step applied once`, async () => {
    const db = uniqueDb(`three-${adapter}`);
    const pages = [await chromium.page('1'), await chromium.page('2'), await chromium.page('3')];
    for (const page of pages) await page.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true });
    const ids = Array.from({ length: INSTANCES }, (_, i) => `hello-${i}`);
    await pages[0]!.evaluate((list) => window.e2e.startMany('HelloSequence', list), ids);

    const done = await pages[1]!.evaluate((list) => window.e2e.waitAll(list, 120_000), ids);
    expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
    expect(done.map((s) => s.output)).toEqual(ids.map(() => HELLO_OUTPUT));

    const histories = await pages[2]!.evaluate((list) => window.e2e.histories(list), ids);
    for (const id of ids) assertNoDuplicateSteps(histories[id] ?? []);
    const steps = await Promise.all(pages.map((p) => p.evaluate(() => window.e2e.metrics().steps)));
    console.log(`${adapter}: orchestration steps per page ${JSON.stringify(steps)}`);
    expect(steps.reduce((a, b) => a + b, 0)).toBe(INSTANCES * 4);
  });
});
