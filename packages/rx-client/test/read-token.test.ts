import type { InstanceStatus } from '@durable-rx/runtime';
import { createReadToken } from '@durable-rx/runtime/http';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient, RemoteError, type ConnectionState } from '../src/index.js';
import { KEY, openHarness, outcome, ownedByEachTest, within, type Harness } from './harness.js';

/**
 * A page given a read token instead of the key (the server made it with `createReadToken` for the page's own run):
 * it passes the token as its `key`, watches its instance live over the shared stream, and is refused (a typed 403)
 * everything else, while its watches carry on.
 */

let harness: Harness | undefined;
const { subscriptions, record } = ownedByEachTest();

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('a remote client with a read token', () => {
  it('watches status$ and customStatus$ of its instance, and gets RemoteError forbidden (403) on terminate', async () => {
    const h = (harness = await openHarness());
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'order-1', input: 2 });
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'order-2', input: 1 });
    const token = await createReadToken(KEY, { instanceIds: ['order-1'], ttlMs: 10 * 60_000 });
    const client = createRemoteClient({ baseUrl: h.server.url, key: token });
    const states: ConnectionState[] = [];
    subscriptions.push(client.connection$.subscribe((state) => states.push(state)));
    const status = record<InstanceStatus | undefined>(client.status$('order-1'));
    const custom = record<unknown>(client.customStatus$('order-1'));
    await within(status.seen((s) => s?.runtimeStatus === 'Running'), 'the running status');

    // The server moves the run on: the page sees each step.
    await h.runtime.client.raiseEvent('order-1', 'Item', 'a');
    await within(custom.seen((c) => (c as { received?: number } | undefined)?.received === 1), 'the first custom status');

    // A command is refused, typed, and changes nothing.
    const refused = await within(outcome(client.terminate('order-1', 'from the page')), 'the refused terminate');
    expect(refused).toBeInstanceOf(RemoteError);
    expect(refused).toMatchObject({ code: 'forbidden', status: 403 });
    for (const command of [
      () => client.startNew('Echo', { instanceId: 'order-3' }), () => client.raiseEvent('order-1', 'Item', 'b'),
      () => client.suspend('order-1'), () => client.purgeInstanceHistory('order-1'),
    ]) {
      expect(await within(outcome(command()), 'a refused command')).toMatchObject({ code: 'forbidden', status: 403 });
    }
    expect((await h.runtime.client.getStatus('order-1'))?.runtimeStatus).toBe('Running');
    expect(await h.runtime.client.getStatus('order-3')).toBeUndefined();

    // Another instance is refused on the same connection, which carries on with the page's own.
    const other = await within(outcome(client.getStatus('order-2')), 'the refused read');
    expect(other).toMatchObject({ code: 'forbidden', status: 403 });
    const watchedOther = await within(outcome(new Promise((resolve, reject) => {
      subscriptions.push(client.status$('order-2').subscribe({ next: resolve, error: reject }));
    })), 'the refused watch');
    expect(watchedOther).toBeInstanceOf(RemoteError);
    expect(watchedOther).toMatchObject({ code: 'forbidden', status: 403 });

    await h.runtime.client.raiseEvent('order-1', 'Item', 'b');
    await within(status.seen((s) => s?.runtimeStatus === 'Completed'), 'the completed status');
    expect(custom.values.at(-1)).toEqual({ received: 2 });
    expect(states).not.toContain('failed');
    await client.close();
  });
});
