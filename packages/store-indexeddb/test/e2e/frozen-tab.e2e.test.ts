import { assertNoDuplicateSteps } from '@durable-rx/runtime/testing';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchFreezableChromium, openPage } from './harness.js';
import { adapters, HELLO_OUTPUT, uniqueDb } from './pages.js';

/** Short leases, so that a frozen tab's lease expires soon. */
const LEASE_MS = 3_000;
/**
 * Bounds on waits that end on their own within seconds; far above that, and above Chromium's 60 s abort of a frozen
 * tab's transaction for inactivity (which the tests tell apart from the store's own abort by its error), so that a
 * loaded machine passes.
 */
const WAIT_MS = 150_000;

/**
 * Freezes a page as Chromium freezes a background tab (hidden, then no task of it runs: no timer, no IndexedDB
 * callback), through the DevTools protocol; `thaw` makes it active again (still hidden). Only a page of
 * {@link launchFreezableChromium} freezes: the command changes nothing in a page Playwright launched itself.
 */
async function freeze(page: Page, when: () => Promise<void>): Promise<{ thaw(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await when();
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  return {
    async thaw() {
      await cdp.send('Page.setWebLifecycleState', { state: 'active' });
      await cdp.detach();
    },
  };
}

async function helloOf(page: Page, id: string) {
  const history = (await page.evaluate((i) => window.e2e.histories([i]), id))[id] ?? [];
  assertNoDuplicateSteps(history);
  return history;
}

let browser: Awaited<ReturnType<typeof launchFreezableChromium>> | undefined;
beforeAll(async () => {
  browser = await launchFreezableChromium();
  browser.context.setDefaultTimeout(WAIT_MS);
});
afterAll(async () => {
  await browser?.close();
});

const opened: Page[] = [];
/** A tab of the app, closed after the test (one browser context for the file: each test has a database of its own). */
async function tab(label: string): Promise<Page> {
  const page = await openPage(browser!.context, inject('e2eUrl'), label);
  opened.push(page);
  return page;
}

describe.each(adapters)('a tab frozen mid-activity on a %s database', (adapter) => {
  afterEach(async () => {
    for (const page of opened.splice(0)) await page.close().catch(() => undefined);
  });

  it('is taken over once its lease expires; thawed, its late commit is refused, each step is in the history once, and it goes on working', async () => {
    const db = uniqueDb(`frozen-${adapter}`);
    const a = await tab('A');
    // A's activities wait for the test: the first greeting is still running, its lease held (and renewed a third of
    // the way through each lease), when A is frozen, however slow the machine.
    await a.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true, leaseMs: LEASE_MS, holdActivities: true });
    const started = a.evaluate(() => window.e2e.nextActivityStart());
    await a.evaluate(() => window.e2e.startMany('HelloSequence', ['hello']));
    // Frozen as soon as A's worker runs the first greeting, wherever its store calls are: the store aborts a
    // transaction of its own still doing its work at the freeze (a lease renewal), which would otherwise hold B's
    // transactions until Chromium aborted it for inactivity (60 s), and runs it again after the resume. While frozen, A still receives B's posts: its
    // store holds their work signals until A resumes, so A's worker starts no claim meanwhile.
    const frozen = await freeze(a, () => started);

    // B opens only now, so that nothing but the expiry of A's lease hands B the running activity.
    const b = await tab('B');
    await b.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true, leaseMs: LEASE_MS });
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'hello', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'hello', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    expect(await b.evaluate(() => window.e2e.activityStarts())).toBe(3); // B ran the greeting A was running, and the rest
    const completed = await helloOf(b, 'hello');

    // Thawed, A's activity ends and its worker commits the result under the lease it held: the store refuses it.
    await frozen.thaw();
    await a.evaluate(() => window.e2e.releaseActivities());
    const refused = await a.evaluate(({ ms }) => window.e2e.refusedCommits(1, ms), { ms: WAIT_MS });
    expect(refused.every((kind) => kind === 'activity' || kind === 'activityStep')).toBe(true);
    expect(await a.evaluate(() => window.e2e.activityStarts())).toBe(1);
    // Nothing of A's changed the instance: each step once, as B completed it (read in both tabs).
    expect(await helloOf(a, 'hello')).toEqual(completed);
    expect(completed.filter((e) => e.type === 'TaskCompleted')).toHaveLength(3);
    expect(await helloOf(b, 'hello')).toEqual(completed);

    // A goes on working: with B gone, its worker runs a new instance to the end.
    await b.close();
    await a.evaluate(() => window.e2e.startMany('HelloSequence', ['after']));
    expect(await a.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'after', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'after', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    expect(await a.evaluate(() => window.e2e.activityStarts())).toBe(4);
    const after = await helloOf(a, 'after');
    expect(after.filter((e) => e.type === 'TaskCompleted')).toHaveLength(3);
  }, 2 * WAIT_MS);

  it('frozen inside its own transaction, has the store abort it: another tab commits while it is still frozen, and its call runs again after the resume, once', async () => {
    const db = uniqueDb(`frozen-tx-${adapter}`);
    const a = await tab('A');
    await a.evaluate((o) => window.e2e.open(o), { adapter, db });
    const b = await tab('B');
    await b.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true });
    // A begins a start at its freeze, before its store hears of it: the start's transaction is open (its reads on their
    // way, its writes not made) when A freezes. Left so, it would hold its locks (every table of the database) until
    // Chromium aborted it for inactivity, 60 s later; the store aborts it at the freeze.
    expect(await a.evaluate(() => window.e2e.inputOf('frozen'))).toEqual({ exists: false }); // A's store is open
    await a.evaluate(() => window.e2e.startOnFreeze('HelloSequence', 'frozen'));
    const frozen = await freeze(a, () => Promise.resolve());

    // B starts and completes an instance while A is still frozen (A resumes only when the test says so).
    await b.evaluate(() => window.e2e.startMany('HelloSequence', ['hello']));
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'hello', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'hello', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    const hello = await helloOf(b, 'hello');
    expect(hello.filter((e) => e.type === 'TaskCompleted')).toHaveLength(3);
    expect(await b.evaluate(() => window.e2e.inputOf('frozen'))).toEqual({ exists: false }); // nothing of A's start

    // Resumed, A's start runs its transaction again and succeeds: the app never sees the freeze.
    await frozen.thaw();
    const { outcome, begunInFreeze } = await a.evaluate(() => window.e2e.freezeStart());
    expect(begunInFreeze).toBeGreaterThanOrEqual(1); // the start's transaction began before the freeze took effect
    expect(outcome).toEqual({ ok: true });
    expect(await helloOf(a, 'hello')).toEqual(hello);

    // It runs to the end (on B's worker), once.
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'frozen', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'frozen', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    expect((await helloOf(a, 'frozen')).filter((e) => e.type === 'TaskCompleted')).toHaveLength(3);
    expect(await b.evaluate(() => window.e2e.activityStarts())).toBe(6);
  }, 2 * WAIT_MS);
});
