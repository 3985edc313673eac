import { createClient, createRuntime, type Logger, type Runtime } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adapters, uniqueName, within, type AdapterName } from '../shared/fixtures.js';
import { activities, orchestrators } from './greet-app.js';

// Some embedded browsers refuse BroadcastChannel (its constructor throws), and a channel a polyfill backs with storage
// throws on a post when that storage is full. The cross-tab feed is then lost, but the store must still serve its own
// tab: it is made, its commits stand and are reported as done, and its own watchers see each of them.

const stores: Store[] = [];
const runtimes: Runtime[] = [];
const postMessage = BroadcastChannel.prototype.postMessage;
afterEach(async () => {
  BroadcastChannel.prototype.postMessage = postMessage;
  vi.unstubAllGlobals();
  for (const runtime of runtimes.splice(0)) await runtime.stop({ graceMs: 0 });
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** A runtime on `store` whose logged warnings and errors are kept. */
function runtimeOn(store: Store): { readonly runtime: Runtime; readonly logged: string[] } {
  stores.push(store);
  const logged: string[] = [];
  const logger: Logger = { warn: (message) => void logged.push(message), error: (message) => void logged.push(message) };
  const runtime = createRuntime({ store, orchestrators, activities, logger });
  runtimes.push(runtime);
  return { runtime, logged };
}

/** Starts `Greet`, lets it go and returns what `status$` of the runtime's own client showed once it completed. */
async function greetWatched(runtime: Runtime): Promise<(string | undefined)[]> {
  const seen: (string | undefined)[] = [];
  const id = await runtime.client.startNew('Greet', { instanceId: 'greet' });
  runtime.client.status$(id).subscribe((status) => seen.push(status?.runtimeStatus));
  await runtime.client.raiseEvent(id, 'go', 'A');
  expect(await runtime.client.waitForCompletion(id, { timeoutMs: 60_000 })).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello A!' });
  await vi.waitFor(() => expect(seen.at(-1)).toBe('Completed'), { timeout: 60_000 });
  return seen;
}

describe.each(Object.keys(adapters) as AdapterName[])('%s where BroadcastChannel fails', (adapter) => {
  it('is made when the BroadcastChannel constructor throws, and its runtime and watchers work in the tab', async () => {
    vi.stubGlobal('BroadcastChannel', class {
      constructor() {
        throw new DOMException('BroadcastChannel is not allowed here', 'SecurityError');
      }
    });
    const { runtime, logged } = runtimeOn(adapters[adapter](uniqueName('no-channel')));
    await runtime.start();
    const seen = await within(greetWatched(runtime), 'the instance completes, watched');
    expect(seen[0]).toBe('Pending');
    expect(logged).toEqual([]);
  });

  it('reports a commit whose post throws as done: the start resolves, the worker runs on, the tab\'s watchers see each commit', async () => {
    const name = uniqueName('post-throws');
    const other = runtimeOn(adapters[adapter](name));
    const { runtime, logged } = runtimeOn(adapters[adapter](name));
    // Both stores open and know each other, so each commit is posted.
    await createClient({ store: other.runtime.store }).getStatus('none');
    await createClient({ store: runtime.store }).getStatus('none');
    BroadcastChannel.prototype.postMessage = function () {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    await runtime.start();
    const seen = await within(greetWatched(runtime), 'the instance completes, watched');
    expect(seen[0]).toBe('Pending');
    expect(logged).toEqual([]);
  });
});
