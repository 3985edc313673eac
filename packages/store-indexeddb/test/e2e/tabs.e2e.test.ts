import { assertNoDuplicateSteps } from '@durable-rx/runtime/testing';
import type { HistoryEvent } from '@durable-rx/runtime';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useChromium } from './pages.js';

/** What every tab's customStatus$ of a hello sequence shows when it subscribed before the start: each city, once, in order. */
const HELLO_STATUSES = [undefined, 'Tokyo', 'Seattle', 'London'];

/** Short leases so that a closed or reloaded tab's work is taken over soon; slow activities so that one is in flight. */
const LEASE_MS = 2_000;
const ACTIVITY_MS = 1_000;

/** The history of one instance read in `page`, checked: each step applied once, each greeting's result applied once. */
async function checkedHistory(page: Page, id: string): Promise<HistoryEvent[]> {
  const history = (await page.evaluate((i) => window.e2e.histories([i]), id))[id] ?? [];
  assertNoDuplicateSteps(history);
  expect(history.filter((e) => e.type === 'TaskCompleted')).toHaveLength(3);
  return history;
}

/** Waits in `page` for the hello sequence to complete and for its customStatus$ watcher to have seen every city. */
async function completedWithStatuses(page: Page, id: string): Promise<void> {
  expect(await page.evaluate((i) => window.e2e.waitAll([i], 120_000), id)).toEqual([{ instanceId: id, runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
  expect(await page.evaluate(({ i, n }) => window.e2e.customStatuses(i, n), { i: id, n: HELLO_STATUSES.length })).toEqual(HELLO_STATUSES);
}

describe.each(adapters)('tabs of one app on a %s database', (adapter) => {
  const chromium = useChromium();

  it('three tabs under runAsLeader: the leader closed mid-activity is taken over, and every tab sees each city once, in order', async () => {
    const db = uniqueDb(`tabs-leader-close-${adapter}`);
    const leader = `durable-rx-e2e:${db}`;
    const options = { adapter, db, leader, leaseMs: LEASE_MS, activityDelayMs: ACTIVITY_MS };
    const a = await chromium.page('A');
    await a.evaluate((o) => window.e2e.open(o), options);
    await a.evaluate(() => window.e2e.waitLeader());
    const b = await chromium.page('B');
    const c = await chromium.page('C');
    for (const page of [b, c]) await page.evaluate((o) => window.e2e.open(o), options);
    for (const page of [a, b, c]) await page.evaluate(() => window.e2e.watchCustomStatus('hello'));

    const started = a.evaluate(() => window.e2e.nextActivityStart());
    await b.evaluate(() => window.e2e.startMany('HelloSequence', ['hello']));
    await started;
    await a.close(); // mid-activity: its lease is held by a tab that is gone

    await completedWithStatuses(b, 'hello');
    await completedWithStatuses(c, 'hello');
    await checkedHistory(c, 'hello');
    expect([await b.evaluate(() => window.e2e.isLeader()), await c.evaluate(() => window.e2e.isLeader())]).toContain(true);
  });

  it('three tabs under runAsLeader: the leader reloaded mid-activity is taken over, and every tab sees each city once, in order', async () => {
    const db = uniqueDb(`tabs-leader-reload-${adapter}`);
    const leader = `durable-rx-e2e:${db}`;
    const query = `?adapter=${adapter}&db=${db}&leader=${encodeURIComponent(leader)}&leaseMs=${LEASE_MS}&activityDelayMs=${ACTIVITY_MS}`;
    const a = await chromium.page('A', query);
    await a.evaluate(() => window.e2e.waitLeader());
    const b = await chromium.page('B', query);
    const c = await chromium.page('C', query);
    for (const page of [b, c]) await page.evaluate(() => window.e2e.watchCustomStatus('hello'));

    const started = a.evaluate(() => window.e2e.nextActivityStart());
    await c.evaluate(() => window.e2e.startMany('HelloSequence', ['hello']));
    await started;
    await a.reload();
    await a.evaluate(() => window.e2e.ready);

    await completedWithStatuses(b, 'hello');
    await completedWithStatuses(c, 'hello');
    expect(await a.evaluate(() => window.e2e.waitAll(['hello'], 120_000))).toEqual([{ instanceId: 'hello', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    await checkedHistory(a, 'hello');
  });

  it('instances$ in a tab without a worker follows creation and purge in another tab', async () => {
    const db = uniqueDb(`tabs-instances-${adapter}`);
    const a = await chromium.page('A');
    const b = await chromium.page('B');
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true });
    await b.evaluate((o) => window.e2e.open(o), { adapter, db });
    await b.evaluate(() => window.e2e.watchInstances());
    await b.evaluate(() => window.e2e.instancesWhen([]));

    await a.evaluate(() => window.e2e.startMany('HelloSequence', ['one', 'two']));
    await b.evaluate(() => window.e2e.instancesWhen(['one', 'two']));
    await b.evaluate(() => window.e2e.waitAll(['one', 'two'], 120_000));
    await a.evaluate(() => window.e2e.purge('one'));
    await b.evaluate(() => window.e2e.instancesWhen(['two']));
    await a.evaluate(() => window.e2e.purge('two'));
    await b.evaluate(() => window.e2e.instancesWhen([]));
  });

  it('customStatus$ subscribed in another tab while commits stream in skips no value after its first', async () => {
    const db = uniqueDb(`tabs-midstream-${adapter}`);
    const a = await chromium.page('A');
    const b = await chromium.page('B');
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true, activityDelayMs: 100 });
    await b.evaluate((o) => window.e2e.open(o), { adapter, db });
    const N = 40;
    await a.evaluate((n) => window.e2e.startMany('Counter', ['counter'], n), N);
    // Subscribe while A is committing: after A's tenth activity started.
    await a.evaluate(() => window.e2e.activityStartsReach(10));
    await b.evaluate(() => window.e2e.watchCustomStatus('counter'));
    await b.evaluate(() => window.e2e.waitAll(['counter'], 120_000));
    const seen = await b.evaluate(() => window.e2e.customStatuses('counter', 1));
    const last = seen[seen.length - 1];
    expect(last).toBe(N);
    const first = seen[0] as number | undefined;
    const from = first ?? 0;
    expect(seen).toEqual([first, ...Array.from({ length: N - from }, (_, i) => from + i + 1)]);
  });
});
