import { InstanceNotFoundError, UnavailableError } from '@durable-rx/runtime';
import { FIRST_ANSWER_GRACE_MS } from '@durable-rx/runtime/client-kit';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRemoteClient, type RemoteClient } from '../src/index.js';
import { KEY, openHarness, outcome, until, within, type Harness } from './harness.js';

/**
 * waitForCompletion's timeout counts from the call, as the local client's: a server that never sends the first
 * snapshot cannot keep a wait pending for good, and a first snapshot that arrives late still ends it. Past the timeout
 * with the stream refused, the status is read once with a plain GET; with no status at all by the end of the grace,
 * the wait rejects with UnavailableError.
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

/** How many plain reads of instance `running`'s status the server received. */
function statusReads(): number {
  return harness.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/instances/running')).length;
}

/** Resolves once `client`'s stream was refused and waits for its reconnect delay. */
function refused(client: RemoteClient): Promise<unknown> {
  return within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'reconnecting'))), 'the stream refused');
}

describe('waitForCompletion timeout', () => {
  it('resolves with the status a plain read gives when the stream is refused past the timeout', async () => {
    harness.refuseStreams(Number.MAX_SAFE_INTEGER, 503); // the stream never opens: no snapshot ever arrives
    const clock = new VirtualClock();
    const client = clientOn(clock, 10 * 60_000);
    const waiting = client.waitForCompletion('running', { timeoutMs: 5000 });
    await refused(client);
    expect(statusReads()).toBe(0); // no read before the timeout: the stream may still come
    await clock.advance(5000);
    // docs/design.md (a wait that hears nothing): at the timeout, the latest status; the server reads it for a plain GET, once.
    const status = await within(waiting, 'the wait ending');
    expect(status).toMatchObject({ instanceId: 'running', runtimeStatus: 'Running' });
    expect(statusReads()).toBe(1);
    client.close();
  });

  it('rejects with UnavailableError when no status can be read: the stream refused, its plain read unanswered, after the timeout and the grace', async () => {
    harness.refuseStreams(Number.MAX_SAFE_INTEGER, 503);
    harness.holdRequests('/instances/running'); // the plain read of the status gets no answer either
    const clock = new VirtualClock();
    const client = clientOn(clock, 10 * 60_000);
    let settled = false;
    const waiting = outcome(client.waitForCompletion('running', { timeoutMs: 5000 }).finally(() => (settled = true)));
    await refused(client);
    await clock.advance(5000);
    await until(() => statusReads() === 1, 'the plain read of the status');
    expect(settled).toBe(false); // a status may still come, for the grace
    await clock.advance(FIRST_ANSWER_GRACE_MS);
    const error = await within(waiting, 'the wait ending');
    // An exported error class with a stable code and HTTP status (not a DOMException TimeoutError, as before).
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({
      code: 'unavailable', status: 503,
      message: `No status of instance "running" could be read within the wait's timeout and ${FIRST_ANSWER_GRACE_MS / 1000} s more`,
    });
    // The read ended with the wait: nothing of it is left on its way.
    const read = harness.requests.find((r) => r.method === 'GET' && r.path.endsWith('/instances/running'))!;
    await until(() => read.signal.aborted, 'the plain read being aborted');
    client.close();
  });

  it('rejects with InstanceNotFoundError when the plain read finds no such instance', async () => {
    harness.refuseStreams(Number.MAX_SAFE_INTEGER, 503);
    const clock = new VirtualClock();
    const client = clientOn(clock, 10 * 60_000);
    const waiting = outcome(client.waitForCompletion('nobody', { timeoutMs: 1000 }));
    await refused(client);
    await clock.advance(1000);
    expect(await within(waiting, 'the wait ending')).toBeInstanceOf(InstanceNotFoundError);
    client.close();
  });

  it('resolves with the first snapshot that arrives within the grace after its timeout passed', async () => {
    harness.refuseStreams(1, 503); // the first stream request is refused; the reconnect, timed by the test, is served
    harness.holdRequests('/instances/running'); // only the stream can answer
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
