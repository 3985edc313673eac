import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, within, type Harness } from './harness.js';

/**
 * A value larger than the server's backlog limit (4 MiB unread bytes) reaches the client: the server counts a reader
 * as behind only past the message it is reading, so the value is not cut off (and sent again, and cut again) forever.
 */

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
});

describe('a value larger than the server\'s backlog limit', () => {
  it('reaches status$ and waitForCompletion, and the other watches of the session go on', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const output = 'o'.repeat(6 * 1000 * 1000);
    await h.runtime.client.startNew('Echo', { instanceId: 'big', input: output });
    await h.runtime.client.waitForCompletion('big', { timeoutMs: 30_000 });
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'small', input: 1 });
    const small = firstValueFrom(client.status$('small').pipe(filter((s) => s?.runtimeStatus === 'Completed')));
    const status = await within(firstValueFrom(client.status$('big')), 'the 6 MB status');
    expect(status).toMatchObject({ runtimeStatus: 'Completed' });
    expect(status!.output).toBe(output);
    const done = await within(client.waitForCompletion('big', { timeoutMs: 30_000 }), 'the completion');
    expect(done.output).toBe(output);
    await h.runtime.client.raiseEvent('small', 'Item', 1);
    expect(await within(small, 'the other watch')).toMatchObject({ runtimeStatus: 'Completed' });
    client.close();
  });
});
