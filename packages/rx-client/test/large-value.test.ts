import { combineLatest, filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, within, type Harness } from './harness.js';

/**
 * Megabytes through real sockets take 10-30 s on an idle machine and 30-62 s with six busy loops on the test's core
 * (where a 30 s bound on the two 5 MB statuses failed): the waits and the tests get bounds well past that.
 */
const BIG_WAIT_MS = 240_000;
const BIG = { timeoutMs: BIG_WAIT_MS } as const;

/**
 * Values larger than the server's backlog limit (4 MiB unread bytes) reach the client: the server writes each event
 * whole and, while more than the limit waits for the reader, holds the rest back instead of cutting the connection
 * (which would send them again on the resume, and cut it again, forever).
 */

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
});

describe('a value larger than the server\'s backlog limit', { timeout: BIG_WAIT_MS + 60_000 }, () => {
  it('reaches status$ and waitForCompletion, and the other watches of the session go on', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const output = 'o'.repeat(6 * 1000 * 1000);
    await h.runtime.client.startNew('Echo', { instanceId: 'big', input: output });
    await h.runtime.client.waitForCompletion('big', BIG);
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'small', input: 1 });
    const small = firstValueFrom(client.status$('small').pipe(filter((s) => s?.runtimeStatus === 'Completed')));
    const status = await within(firstValueFrom(client.status$('big')), 'the 6 MB status', BIG_WAIT_MS);
    expect(status).toMatchObject({ runtimeStatus: 'Completed' });
    expect(status!.output).toBe(output);
    const done = await within(client.waitForCompletion('big', BIG), 'the completion', BIG_WAIT_MS);
    expect(done.output).toBe(output);
    await h.runtime.client.raiseEvent('small', 'Item', 1);
    expect(await within(small, 'the other watch', BIG_WAIT_MS)).toMatchObject({ runtimeStatus: 'Completed' });
    client.close();
  });

  it('reaches status$ for two such values watched at once (sent together, before the client read the first)', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const output = 'o'.repeat(5 * 1000 * 1000);
    for (const id of ['big-1', 'big-2']) await h.runtime.client.startNew('Echo', { instanceId: id, input: output });
    for (const id of ['big-1', 'big-2']) await h.runtime.client.waitForCompletion(id, BIG);
    // One subscription change for both: the server writes both values at once.
    const statuses = await within(firstValueFrom(combineLatest([client.status$('big-1'), client.status$('big-2')])), 'both 5 MB statuses', BIG_WAIT_MS);
    for (const status of statuses) expect(status!.output).toBe(output);
    client.close();
  });
});
