import { createClient, type InstanceStatus } from '@durable-rx/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '@durable-rx/runtime/store-kit';
import { adapters, uniqueName, type AdapterName } from './fixtures.js';

// A purge and a start of the same id committed together: a reader's first read may already show the new run (a store
// answers a read from a commit in flight; another tab reads after the commit) while the purge is still on its way to
// it. The purge came first, so the new run stays: status$ never shows it gone, waitForCompletion waits for it.
describe.each(Object.keys(adapters) as AdapterName[])('a purge and a new start of one id: %s', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  const label = (s: InstanceStatus | undefined) => s?.runtimeStatus ?? 'none';

  async function purgeAndStartWhileWatched(writerStore: Store, readerStore: Store): Promise<void> {
    const writer = createClient({ store: writerStore });
    const reader = writerStore === readerStore ? writer : createClient({ store: readerStore });
    await writer.startNew('O', { instanceId: 'x' });
    await writer.terminate('x', 'first run');
    await reader.getStatus('x'); // the reader's store has joined the others
    const seen: string[] = [];
    const purge = writer.purgeInstanceHistory('x');
    const start = writer.startNew('O', { instanceId: 'x' });
    const subscription = reader.status$('x').subscribe((s) => seen.push(label(s)));
    const waited = reader.waitForCompletion('x').then((s) => s.runtimeStatus, (error: Error) => error.name);
    await purge;
    await start;
    await writer.terminate('x', 'second run'); // no worker runs: the client commits it
    // The first run's end, if the wait read it before the purge; never "not found".
    expect(await waited).toBe('Terminated');
    await reader.waitForCompletion('x');
    subscription.unsubscribe();
    // Whatever the first read showed, the statuses follow the commits: the purge (none) never comes after the new run.
    expect(seen.slice(seen.indexOf('Pending'))).toEqual(['Pending', 'Terminated']);
  }

  it('through one handle', async () => {
    const store = adapters[adapter](uniqueName('purge-start'));
    opened.push(store);
    await purgeAndStartWhileWatched(store, store);
  });

  it('through another handle (tab) than the reader\'s', async () => {
    const name = uniqueName('purge-start-xtab');
    const a = adapters[adapter](name);
    const b = adapters[adapter](name);
    opened.push(a, b);
    await purgeAndStartWhileWatched(a, b);
  });
});
