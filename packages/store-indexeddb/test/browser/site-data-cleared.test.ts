import { createClient, createRuntime, InstanceNotFoundError, type Runtime } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { adapters, uniqueName, within, type AdapterName } from '../shared/fixtures.js';
import { activities, orchestrators, runningOf } from './greet-app.js';
import { clearSiteData } from './site-data.js';

// The user clears the site's data (or the browser evicts it) while the app runs: every connection to the database is
// closed by the browser (it gets `close`, not `versionchange`) and the data is gone. The store must not go silently
// dead under a running app: it opens the database again, new and empty, so that the worker and the app's commands go
// on, as Dexie itself does for its own tables, and a watcher of an instance that went with the data sees it go.
// DevTools' delete (CDP IndexedDB.deleteDatabase) does to one database what clearing the site's data does to all of
// them: clearing the whole origin would clear the other test files' too.

const stores: Store[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop({ graceMs: 0 });
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

describe.each(Object.keys(adapters) as AdapterName[])('the site data cleared under a running %s app', (adapter) => {
  it('opens the database again, empty: the worker and the commands go on, and a watcher of what went sees it go', async () => {
    const name = uniqueName('cleared-app');
    const store = adapters[adapter](name);
    stores.push(store);
    const runtime = createRuntime({ store, orchestrators, activities, workerId: `${name}-worker` });
    runtimes.push(runtime);
    await runtime.start();
    const old = await runtime.client.startNew('Greet', { instanceId: 'before' });
    await within(runningOf(runtime.client.status$(old)), 'the first step committed');
    // Watched since before the clear: it sees the instance go, as after a purge, instead of staying at Running.
    const seen: (string | undefined)[] = [];
    const gone = new Promise<void>((resolve) => runtime.client.status$(old).subscribe((s) => {
      seen.push(s?.runtimeStatus);
      if (!s) resolve();
    }));

    await within(clearSiteData(store, name), 'the browser closed the connection');

    // A new instance starts and the worker runs it to the end: the store opened the database again.
    const id = await runtime.client.startNew('Greet', { instanceId: 'after' });
    await runtime.client.raiseEvent(id, 'go', 'again');
    expect(await runtime.client.waitForCompletion(id, { timeoutMs: 60_000 })).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello again!' });
    // What was there before is gone with the site's data.
    await within(gone, "the watcher of the cleared instance sees it go");
    expect(seen).toEqual(['Running', undefined]);
    expect(await runtime.client.getStatus(old)).toBeUndefined();
    await expect(runtime.client.raiseEvent(old, 'go', 'old')).rejects.toMatchObject({ code: 'instance-not-found' });
  });

  it('tells the watchers in every tab of an instance that went with the data at once, with no call made after the clear', async () => {
    const name = uniqueName('cleared-idle');
    const store = adapters[adapter](name);
    const other = adapters[adapter](name); // another tab's store, with a watcher and no worker
    stores.push(store, other);
    const runtime = createRuntime({ store, orchestrators, activities, workerId: `${name}-worker` });
    runtimes.push(runtime);
    await runtime.start();
    const otherClient = createClient({ store: other });
    const id = await runtime.client.startNew('Greet', { instanceId: 'waiting' });
    await within(runningOf(otherClient.status$(id)), 'the first step committed, seen in the other tab');
    // Waits far longer than `within` allows: each must end because the instance went, not by its timeout.
    const waits = [runtime.client, otherClient].map((client) => client.waitForCompletion(id, { timeoutMs: 600_000 }).then(
      (status) => `resolved ${status.runtimeStatus}`, (error: unknown) => error,
    ));
    const watched = [runtime.client, otherClient].map((client) => new Promise<void>((resolve) => client.status$(id).subscribe((s) => {
      if (!s) resolve();
    })));

    // The instance waits for an event and the worker has nothing to do: nothing calls the store after the clear.
    await within(clearSiteData(store, name), 'the browser closed the connection');

    for (const wait of waits) expect(await within(wait, 'the wait ends')).toBeInstanceOf(InstanceNotFoundError);
    await within(Promise.all(watched), 'both status$ show the instance gone');
  });
});
