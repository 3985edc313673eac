import { describe, expect, it } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

/**
 * A tab without a worker (the other tabs of an app that runs its worker in one leader tab) starts an instance and goes
 * (reloads, closes, crashes) before posting the start: no tab hears of the new work. The worker tab, idle with no timer
 * set, must still run it: when the starter's feed lock frees, the worker's store wakes its worker.
 */
describe.each(adapters)('a tab that goes between a start and its post, on a %s database', (adapter) => {
  const chromium = useChromium();

  it('the idle worker in another tab still runs the started instance', async () => {
    const db = uniqueDb(`gone-start-${adapter}`);
    const worker = await chromium.page('worker', `?adapter=${adapter}&db=${db}&worker=1`);
    const starter = await chromium.page('starter', `?adapter=${adapter}&db=${db}`);
    await starter.evaluate(() => window.e2e.dieAtPostOf({ runtimeStatus: 'Pending' }));
    const reloaded = starter.waitForEvent('load');
    void starter.evaluate(() => window.e2e.startMany('HelloSequence', ['s1'])).catch(() => undefined); // the page goes
    await reloaded;
    await starter.evaluate(() => window.e2e.ready);
    expect(await starter.evaluate(() => window.e2e.postsDropped())).toBe(1);
    // Bounded only so that a failure reports instead of hanging: it takes milliseconds. Without the wake the instance
    // stays Pending for ever (no tab was told of it, and an idle worker has no timer).
    const done = await worker.evaluate(() => window.e2e.waitAll(['s1'], 60_000));
    expect(done[0]?.runtimeStatus).toBe('Completed');
    expect(done[0]?.output).toEqual(HELLO_OUTPUT);
  });
});
