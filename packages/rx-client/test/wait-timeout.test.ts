import { FIRST_ANSWER_GRACE_MS } from '@durable-rx/runtime/client-kit';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRemoteClient, type RemoteClient } from '../src/index.js';
import { KEY, openHarness, outcome, within, type Harness } from './harness.js';

/**
 * waitForCompletion's timeout counts from the call, as the local client's: a server that never sends the first
 * snapshot cannot keep a wait pending for good, and a first snapshot that arrives late still ends it.
 */

let harness: Harness;

beforeEach(async () => {
  harness = await openHarness();
  await harness.runtime.client.startNew('WaitForEvents', { instanceId: 'running', input: 1 });
});

afterEach(async () => {
  await harness.close();
});

/** A client timed on `clock`, whose stream reconnects only when the test advances the clock by `delayMs`. */
function clientOn(clock: VirtualClock, delayMs: number): RemoteClient {
  return createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock, reconnect: { initialDelayMs: delayMs, maxDelayMs: delayMs } });
}

/** Resolves once `client`'s stream was refused and waits for its reconnect delay. */
function refused(client: RemoteClient): Promise<unknown> {
  return within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'reconnecting'))), 'the stream refused');
}

describe('waitForCompletion timeout', () => {
  it('rejects with a TimeoutError when the server sends no first snapshot: the timeout runs from the call, then the grace', async () => {
    harness.refuseStreams(Number.MAX_SAFE_INTEGER, 503); // the stream never opens: no snapshot ever arrives
    const clock = new VirtualClock();
    const client = clientOn(clock, 10 * 60_000);
    let settled = false;
    const waiting = outcome(client.waitForCompletion('running', { timeoutMs: 5000 }).finally(() => (settled = true)));
    await refused(client);
    await clock.advance(5000);
    expect(settled).toBe(false); // the first snapshot may still come, for the grace
    await clock.advance(FIRST_ANSWER_GRACE_MS);
    const error = await within(waiting, 'the wait ending');
    expect(error).toBeInstanceOf(DOMException);
    expect(error).toMatchObject({ name: 'TimeoutError', message: 'no status arrived' });
    client.close();
  });

  it('resolves with the first snapshot that arrives within the grace after its timeout passed', async () => {
    harness.refuseStreams(1, 503); // the first stream request is refused; the reconnect, timed by the test, is served
    const clock = new VirtualClock();
    const client = clientOn(clock, 1000);
    const waiting = client.waitForCompletion('running', { timeoutMs: 0 });
    await refused(client);
    // timeoutMs: 0 has passed at the call (no timer is armed for it): the grace runs, with no status yet.
    await clock.advance(1000); // the stream reconnects and the first snapshot arrives
    const status = await within(waiting, 'the wait ending');
    expect(status).toMatchObject({ instanceId: 'running' });
    expect(['Pending', 'Running']).toContain(status.runtimeStatus);
    client.close();
  });

  it('answers timeoutMs: 0 with the current status on a clock that never moves, as the local client does', async () => {
    // A 0 ms timer on a VirtualClock fires only when the test advances it: the wait must not need one.
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock: new VirtualClock() });
    const status = await within(client.waitForCompletion('running', { timeoutMs: 0 }), 'the answer to waitForCompletion with timeoutMs: 0');
    expect(status).toMatchObject({ instanceId: 'running' });
    expect(['Pending', 'Running']).toContain(status.runtimeStatus);
    client.close();
  });
});
