import { assertNoDuplicateSteps } from '@durable-rx/runtime/testing';
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { adapters, HELLO_OUTPUT, uniqueDb, useFreezableChromium } from './pages.js';

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
 * {@link useFreezableChromium} freezes: the command changes nothing in a page Playwright launched itself.
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

/** A tab of the app, closed after the test (one browser context for the file: each test has a database of its own). */
const tab = useFreezableChromium(WAIT_MS);

describe.each(adapters)('a tab frozen mid-activity on a %s database', (adapter) => {
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
    // A first runs the id once (on B's worker), so that its next start of it reads before it writes: a start of an id a
    // KeyvalStore handle has not met writes only, and asks to commit at once, which a freeze leaves alone.
    await a.evaluate(() => window.e2e.startMany('HelloSequence', ['frozen']));
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'frozen', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'frozen', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    const firstRun = await helloOf(b, 'frozen');
    // A begins a start over it at its freeze, before its store hears of it: the start's transaction is open (its reads
    // on their way, its writes not made) when A freezes. Left so, it would hold its locks (every table of the database)
    // until Chromium aborted it for inactivity, 60 s later; the store aborts it at the freeze.
    await a.evaluate(() => window.e2e.startOnFreeze('HelloSequence', 'frozen'));
    const frozen = await freeze(a, () => Promise.resolve());

    // B starts and completes an instance while A is still frozen (A resumes only when the test says so).
    await b.evaluate(() => window.e2e.startMany('HelloSequence', ['hello']));
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'hello', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'hello', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    const hello = await helloOf(b, 'hello');
    expect(hello.filter((e) => e.type === 'TaskCompleted')).toHaveLength(3);
    expect(await helloOf(b, 'frozen')).toEqual(firstRun); // nothing of A's start: the first run's history stands

    // Resumed, A's start runs its transaction again and succeeds: the app never sees the freeze.
    await frozen.thaw();
    const { outcome, begunInFreeze } = await a.evaluate(() => window.e2e.freezeStart());
    expect(begunInFreeze).toBeGreaterThanOrEqual(1); // the start's transaction began before the freeze took effect
    expect(outcome).toEqual({ ok: true });
    expect(await helloOf(a, 'hello')).toEqual(hello);

    // Its new execution runs to the end (on B's worker), once: three activities for each of the three runs. (B's status
    // of the id may still be the first run's Completed when A's start resolves, so the wait is for the new history.)
    await vi.waitFor(async () => {
      const secondRun = await helloOf(a, 'frozen');
      expect(secondRun).not.toEqual(firstRun);
      expect(secondRun.filter((e) => e.type === 'TaskCompleted')).toHaveLength(3);
    }, { timeout: WAIT_MS, interval: 100 });
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'frozen', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'frozen', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    expect(await b.evaluate(() => window.e2e.activityStarts())).toBe(9);
  }, 2 * WAIT_MS);
});

/** The IndexedDB version and layout marker of a database at this layout (DexieStore's Dexie version 6 is 60). */
const CURRENT = { dexie: { idbVersion: 80, layout: 10 }, keyval: { idbVersion: 3, layout: 16 } } as const;

/**
 * The transactions that open the database, aborted at the freeze like the store's others. Before, a tab frozen in its
 * upgrade held the other tabs' opens of the database until it resumed (Chromium did not abort it: another tab's open
 * waited 130 s and more), and one frozen in its layout check held the other tabs' checks: their first call did not get
 * through within the client's 30 s bound. The page keeps the transaction at work until the freeze, as a large
 * database's upgrade would.
 */
describe('a tab frozen while its store opens the database', () => {
  /** A database at the layout before this one (KeyvalStore), or at this one (DexieStore, whose open then checks it). */
  async function prepare(a: Page, adapter: 'dexie' | 'keyval', db: string): Promise<void> {
    if (adapter === 'keyval') {
      await a.evaluate((o) => window.e2e.writeOldLayout(o.adapter, o.db), { adapter, db });
      return;
    }
    await a.evaluate((o) => window.e2e.open(o), { adapter, db });
    expect(await a.evaluate(() => window.e2e.inputOf('none'))).toEqual({ exists: false });
    await a.evaluate(() => window.e2e.close());
  }

  /**
   * Tab A with a DexieStore on a database at layout 2, frozen in its upgrade to layout 3 (holding a read made before),
   * and tab C. The freeze aborts the upgrade, so the database is as it was: C's raw connection, one that needs no
   * upgrade (as an older version of the app's), opens it while A is frozen and reads layout 2.
   */
  async function frozenInUpgrade(name: string) {
    const adapter = 'dexie' as const;
    const db = uniqueDb(name);
    const a = await tab('A');
    await a.evaluate((o) => window.e2e.writeOldLayout(o.adapter, o.db), { adapter, db });
    await a.evaluate((o) => window.e2e.open(o), { adapter, db });
    await a.evaluate(() => window.e2e.readWhileOpeningHeld('hello'));
    const frozen = await freeze(a, () => Promise.resolve());
    const c = await tab('C');
    expect(await c.evaluate((o) => window.e2e.layoutOf(o.adapter, o.db), { adapter, db })).toEqual({ idbVersion: 10, layout: 2 });
    return { adapter, db, a, c, frozen };
  }

  it.each([
    ['keyval', 'its layout check upgrades layout 7 to 8'],
    ['dexie', 'its schema check runs'],
  ] as const)('on a %s database as %s: another tab opens the database and works while the first is frozen; resumed, the first opens it again and its call succeeds', async (adapter, _as) => {
    const db = uniqueDb(`frozen-open-${adapter}`);
    const a = await tab('A');
    await prepare(a, adapter, db);
    await a.evaluate((o) => window.e2e.open(o), { adapter, db });
    // KeyvalStore's layout check, after its raise of the older database's IndexedDB version (a frozen upgrade holds
    // other tabs' opens until the resume: see the DexieStore upgrade below).
    await a.evaluate(() => window.e2e.readWhileOpeningHeld('hello', false));
    const frozen = await freeze(a, () => Promise.resolve());

    // B opens the database while A is frozen (checking, and upgrading, the layout itself) and runs an orchestration.
    const b = await tab('B');
    await b.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true });
    await b.evaluate(() => window.e2e.startMany('HelloSequence', ['hello']));
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'hello', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'hello', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    expect(await b.evaluate((o) => window.e2e.layoutOf(o.adapter, o.db), { adapter, db })).toEqual(CURRENT[adapter]);

    // Resumed, A opens the database again, and its read, made before the freeze, finds B's work: the app never sees
    // the freeze.
    await frozen.thaw();
    expect(await a.evaluate(() => window.e2e.heldRead())).toEqual({ ok: true, runtimeStatus: 'Completed' });
    expect(await helloOf(a, 'hello')).toEqual(await helloOf(b, 'hello'));
    // A's store goes on working: a start of A's runs to the end on B's worker.
    await a.evaluate(() => window.e2e.startElsewhere('HelloSequence', 'after'));
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'after', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'after', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
  }, 3 * WAIT_MS);

  it('on a dexie database as it upgrades layout 2 to 3: the upgrade is rolled back, an open that needs none goes through while the first is frozen, one that needs it waits for the resume; then both open, upgraded once', async () => {
    const { adapter, db, a, frozen } = await frozenInUpgrade('frozen-upgrade-dexie');
    // The upgrade rolled back, C's connection, one that needs none, opened the database while A is frozen.
    // An upgrade needs every connection closed, and Chromium closes the connection of A's aborted upgrade only when A
    // runs again (it fires no `blocked` at B's open meanwhile): B's calls fail with DatabaseBlockedError after
    // openTimeoutMs (5 s), nothing written.
    const b = await tab('B');
    await b.evaluate((o) => window.e2e.open(o), { adapter, db, worker: true });
    expect(await b.evaluate(() => window.e2e.tryStart('HelloSequence', 'hello'))).toMatchObject({ ok: false, code: 'database-blocked' });

    // Resumed, A lets go of that connection: B's open, queued before A's new one, upgrades the database, and B's store
    // works without being made again. A's read, made before the freeze, succeeds.
    await frozen.thaw();
    const started = await b.evaluate(async ({ ms }) => {
      // B's held open is answered once A lets go: until then each call fails at once with the same error.
      for (const until = Date.now() + ms; ;) {
        const outcome = await window.e2e.tryStart('HelloSequence', 'hello');
        if (outcome.ok || outcome.code !== 'database-blocked' || Date.now() > until) return outcome;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }, { ms: WAIT_MS });
    expect(started).toEqual({ ok: true });
    expect(await b.evaluate(({ i, ms }) => window.e2e.waitAll([i], ms), { i: 'hello', ms: WAIT_MS }))
      .toEqual([{ instanceId: 'hello', runtimeStatus: 'Completed', output: HELLO_OUTPUT }]);
    expect(await a.evaluate(() => window.e2e.heldRead())).toMatchObject({ ok: true });
    expect(await a.evaluate((o) => window.e2e.layoutOf(o.adapter, o.db), { adapter, db })).toEqual(CURRENT[adapter]);
    expect(await helloOf(a, 'hello')).toEqual(await helloOf(b, 'hello'));
  }, 3 * WAIT_MS);

  it('on a dexie database as it upgrades layout 2 to 3, the only store on it: resumed, the tab redoes its own upgrade and its call succeeds', async () => {
    // The aborted upgrade's connection closes only when the tab runs again, and its reopen asks for the same upgrade:
    // were that connection still open then, it would block the reopen (a DatabaseBlockedError at the app).
    const { adapter, db, a, c, frozen } = await frozenInUpgrade('frozen-upgrade-alone-dexie');
    await c.close(); // no store there
    await frozen.thaw();

    expect(await a.evaluate(() => window.e2e.heldRead())).toEqual({ ok: true, runtimeStatus: undefined });
    expect(await a.evaluate((o) => window.e2e.layoutOf(o.adapter, o.db), { adapter, db })).toEqual(CURRENT[adapter]);
    // A's store goes on working on the upgraded database.
    await a.evaluate(() => window.e2e.startElsewhere('HelloSequence', 'after'));
    expect(await a.evaluate(() => window.e2e.inputOf('after'))).toMatchObject({ exists: true });
  }, 3 * WAIT_MS);
});
