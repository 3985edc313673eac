import { createRuntime, type Logger, type Runtime } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DatabaseUpgradingError } from '../../src/errors/database-upgrading-error.js';
import { runAsLeader, type Leadership } from '../../src/run-as-leader.js';
import { adapters, uniqueName, within, type AdapterName } from '../shared/fixtures.js';
import { activities, orchestrators, runningOf } from './greet-app.js';

// Tab A runs the worker (the leader of runAsLeader) and watches an instance; then another connection, a newer version
// of the app in tab B, upgrades A's database (opens it with a higher version) or deletes it. A's store closes its
// connection to let it and can serve nothing any more: what A watches must fail rather than stay stale, A's worker must
// stop rather than retry for ever, and A must let the leader lock go, so that B leads on the new database. One page
// plays both tabs: IndexedDB connections and Web Locks behave between the stores of a page as between tabs.

const stores: Store[] = [];
const runtimes: Runtime[] = [];
const leaderships: Leadership[] = [];
afterEach(async () => {
  await Promise.all(leaderships.splice(0).map((l) => l.release().catch(() => undefined)));
  for (const runtime of runtimes.splice(0)) await runtime.stop({ graceMs: 0 });
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** A tab's runtime on `store`; its worker records its life under `workerId` (a Web Lock held while it runs). */
function tab(store: Store, workerId: string): { readonly runtime: Runtime; readonly logged: string[] } {
  stores.push(store);
  const logged: string[] = [];
  const logger: Logger = { warn: (message) => void logged.push(message), error: (message) => void logged.push(message) };
  const values = new Map<string, string>();
  const runtime = createRuntime({
    store, orchestrators, activities, logger, workerId,
    leaseStorage: { getItem: (key) => values.get(key) ?? null, setItem: (key, value) => void values.set(key, value) },
  });
  runtimes.push(runtime);
  return { runtime, logged };
}

/** Runs `runtime`'s worker as the leader of `lock`, as an app does. */
function lead(lock: string, runtime: Runtime): Leadership {
  const leadership = runAsLeader(lock, runtime.start, runtime.stop, { store: runtime.store });
  leaderships.push(leadership);
  return leadership;
}

/** How `feed` ends for a subscriber that was there before: its error, or `'completed'`. */
function ended(feed: Observable<unknown>): Promise<unknown> {
  return new Promise((resolve) => feed.subscribe({ error: resolve, complete: () => resolve('completed') }));
}

/** Resolves once the worker whose id is `workerId` has stopped: the lock its life held is granted (free). */
function workerStopped(workerId: string): Promise<void> {
  return navigator.locks.request(`durable-rx:worker:${workerId}`, () => undefined);
}

/** What another tab of a newer version does to the database: opens it with a higher version, or deletes it. */
async function takeOver(name: string, what: 'upgrades' | 'deletes'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const request = what === 'upgrades' ? indexedDB.open(name, 1000) : indexedDB.deleteDatabase(name);
    request.onsuccess = () => {
      if (what === 'upgrades') (request.result as IDBDatabase).close();
      resolve();
    };
    request.onerror = () => reject(request.error);
    // A's store closes its connection on versionchange: nothing may keep the other tab waiting.
    request.onblocked = () => reject(new Error(`${what}: blocked by a connection that did not close`));
  });
}

describe.each(Object.keys(adapters) as AdapterName[])('a database another tab takes over, under %s', (adapter) => {
  it.each(['upgrades', 'deletes'] as const)('when another tab %s it, the watches fail, the worker stops and the lock goes to the new tab', async (what) => {
    const name = uniqueName(`lost-${what}`);
    const lock = `${name}:worker`;
    const a = tab(adapters[adapter](name), `${name}-a`);
    const leaderA = lead(lock, a.runtime);
    const leadershipA = ended(leaderA.isLeader$);
    await within(firstValueFrom(leaderA.isLeader$.pipe(filter(Boolean))), 'tab A leads');
    const id = await a.runtime.client.startNew('Greet', { instanceId: 'waiting' });
    const statusA = ended(a.runtime.client.status$(id));
    const customStatusA = ended(a.runtime.client.customStatus$(id));
    await within(runningOf(a.runtime.client.status$(id)), 'the first step committed in tab A');

    await within(takeOver(name, what), `tab B ${what} the database`);

    const error = await within(statusA, "tab A's status$ ends");
    expect(error).toBeInstanceOf(DatabaseUpgradingError);
    expect(await within(customStatusA, "tab A's customStatus$ ends")).toBeInstanceOf(DatabaseUpgradingError);
    expect(await within(leadershipA, "tab A's leadership ends")).toBeInstanceOf(DatabaseUpgradingError);
    expect(leaderA.isLeader).toBe(false);
    await within(workerStopped(`${name}-a`), "tab A's worker stops");
    // It stopped on the error, once: it never backed off to claim again.
    expect(a.logged.filter((m) => m.includes('retrying'))).toEqual([]);
    // A later watch in tab A fails at once, as its commands do.
    expect(await within(ended(a.runtime.client.status$(id)), 'a later status$ ends')).toBeInstanceOf(DatabaseUpgradingError);
    await expect(a.runtime.client.raiseEvent(id, 'go', 'A')).rejects.toBeInstanceOf(DatabaseUpgradingError);

    // Tab B, on a fresh store over the new database, gets the lock and runs the work.
    const b = tab(adapters[adapter](name), `${name}-b`);
    const leaderB = lead(lock, b.runtime);
    await within(firstValueFrom(leaderB.isLeader$.pipe(filter(Boolean))), 'tab B leads');
    const fresh = await b.runtime.client.startNew('Greet', { instanceId: 'fresh' });
    await b.runtime.client.raiseEvent(fresh, 'go', 'B');
    expect(await b.runtime.client.waitForCompletion(fresh, { timeoutMs: 60_000 })).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello B!' });
    if (what === 'upgrades') {
      // Nothing A committed was lost: its instance goes on in B.
      await b.runtime.client.raiseEvent(id, 'go', 'A');
      expect(await b.runtime.client.waitForCompletion(id, { timeoutMs: 60_000 })).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello A!' });
    } else {
      expect(await b.runtime.client.getStatus(id)).toBeUndefined();
    }
  });

  it('stops a worker that runs without leader election, instead of retrying for ever', async () => {
    const name = uniqueName('lost-alone');
    const a = tab(adapters[adapter](name), `${name}-a`);
    await a.runtime.start();
    const id = await a.runtime.client.startNew('Greet', { instanceId: 'waiting' });
    await within(runningOf(a.runtime.client.status$(id)), 'the first step committed');

    await within(takeOver(name, 'upgrades'), 'another tab upgrades the database');

    await within(workerStopped(`${name}-a`), 'the worker stops');
    expect(a.logged.filter((m) => m.includes('retrying'))).toEqual([]);
    expect(a.logged.filter((m) => m.includes('the worker stops'))).toHaveLength(1);
    await a.runtime.stop(); // returns the stop it made itself
  });
});
