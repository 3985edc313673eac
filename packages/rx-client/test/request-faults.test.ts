import { InvalidArgumentError } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { SETTLED } from '../../../test-support/settled.js';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRemoteClient, RemoteError } from '../src/index.js';
import { isRetryableForHooks } from '../src/remote-error.js';
import { KEY, openHarness, openSilentProxy, outcome, ownedByEachTest, until, within } from './harness.js';

const { cleanups } = ownedByEachTest();

/** Commands and the client's options under faults of the network and of the caller's own code. */
describe('requests under faults', () => {
  it('fails a command over a connection that went silent without closing with retryable unreachable, within its timeout', async () => {
    const h = await openHarness();
    const proxy = await openSilentProxy(h.server.url);
    cleanups.push(() => h.close(), () => proxy.close());
    // The first command without a timeout (a loaded machine may be slow); fetch's keep-alive pool is shared, and the
    // connection goes back to it once the answer is read: the next command, of a client with a timeout, is sent over it.
    const first = createRemoteClient({ baseUrl: proxy.url, key: KEY, timeoutMs: Infinity });
    const client = createRemoteClient({ baseUrl: proxy.url, key: KEY, timeoutMs: 2000 });
    cleanups.push(() => first.close(), () => client.close());
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'ho', input: 3 });
    expect((await first.getStatus('ho'))?.instanceId).toBe('ho');
    await new Promise((resolve) => setImmediate(resolve));
    proxy.silence(); // the server still answers; nothing comes back
    const error = await within(outcome(client.getStatus('ho')), 'the command settled');
    expect(error).toBeInstanceOf(RemoteError);
    expect([(error as RemoteError).code, (error as RemoteError).status, isRetryableForHooks(error)]).toEqual(['unreachable', 503, true]);
  }, 60_000);

  it.each([300, Infinity])('gives a command a deadline of its own, 20 s by default, with reconnect.timeoutMs %s', async (watchdogMs) => {
    const h = await openHarness();
    cleanups.push(() => h.close());
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, clock, reconnect: { timeoutMs: watchdogMs } });
    cleanups.push(() => client.close());
    h.holdRequests('/instances/slow'); // a server that has not answered yet
    let settled = false;
    const read = outcome(client.getStatus('slow')).finally(() => (settled = true));
    await until(() => h.requests.some((r) => r.path.endsWith('/instances/slow')), 'the read reaching the server');
    // Before, the stream's watchdog was the command's deadline too: a read cut off after 300 ms, or never with Infinity.
    await clock.advance(19_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    await clock.advance(1);
    const error = await within(read, 'the read given up');
    expect(error).toMatchObject({ code: 'unreachable', status: 503 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('leaves no timer behind once a command settled', async () => {
    const h = await openHarness();
    cleanups.push(() => h.close());
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, clock, timeoutMs: 5000 });
    cleanups.push(() => client.close());
    const pending = client.getStatus('none');
    expect(clock.pendingTimers).toBe(1); // the command's deadline
    expect(await pending).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
    await expect(client.raiseEvent('none', 'go')).rejects.toMatchObject({ code: 'instance-not-found' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses at creation reconnect and timeout options that would never go live or never back off', () => {
    for (const options of [
      { reconnect: { timeoutMs: 0 } }, { reconnect: { timeoutMs: NaN } }, { reconnect: { timeoutMs: -1 } },
      { reconnect: { initialDelayMs: NaN } }, { reconnect: { initialDelayMs: -5 } }, { reconnect: { maxDelayMs: 0 } },
      { reconnect: { maxDelayMs: '1000' as unknown as number } }, { timeoutMs: 0 }, { timeoutMs: NaN },
    ]) {
      expect(() => createRemoteClient({ baseUrl: 'http://127.0.0.1:1', ...options }), JSON.stringify(options)).toThrow(InvalidArgumentError);
    }
    // `Infinity` (never) and an initial delay of 0 (the least) are meant.
    createRemoteClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: Infinity, reconnect: { timeoutMs: Infinity, initialDelayMs: 0, maxDelayMs: Infinity } }).close();
  });

  it('goes live with reconnect.timeoutMs 0 refused rather than reconnecting for ever', async () => {
    const h = await openHarness();
    cleanups.push(() => h.close());
    expect(() => createRemoteClient({ baseUrl: h.server.url, key: KEY, reconnect: { timeoutMs: 0 } })).toThrow(InvalidArgumentError);
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, reconnect: { timeoutMs: Infinity } });
    cleanups.push(() => client.close());
    const sub = client.status$('none').subscribe();
    cleanups.push(() => sub.unsubscribe());
    await within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'live'))), 'live');
  });

  it('closes, ending every watch, when the custom fetch throws instead of rejecting', async () => {
    const h = await openHarness();
    cleanups.push(() => h.close());
    let offline = false;
    const fetchOrThrow: typeof fetch = (input, init) => {
      if (offline) throw new TypeError('offline');
      return fetch(input, init);
    };
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, fetch: fetchOrThrow });
    let ended = false;
    client.status$('x').subscribe({ complete: () => (ended = true), error: () => (ended = true) });
    await within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'live'))), 'live');
    offline = true;
    expect(() => client.close()).not.toThrow();
    expect(ended).toBe(true);
    expect(await firstValueFrom(client.connection$)).toEqual({ state: 'idle' });
    // And a command through it rejects as one that failed on the way.
    offline = true;
    const other = createRemoteClient({ baseUrl: h.server.url, key: KEY, fetch: fetchOrThrow });
    cleanups.push(() => other.close());
    await expect(other.getStatus('x')).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('suspends, resumes, terminates and rewinds with reasons too long for a request line, as the local client does', async () => {
    const h = await openHarness();
    cleanups.push(() => h.close());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    cleanups.push(() => client.close());
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'cjk', input: 5 });
    await firstValueFrom(h.runtime.client.status$('cjk').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const long = '停止理由'.repeat(2000); // 8,000 characters, 72,000 bytes percent-encoded
    await client.suspend('cjk', long);
    await client.resume('cjk', 'short');
    await client.terminate('cjk', `${long}!`);
    const status = await h.runtime.client.waitForCompletion('cjk', SETTLED);
    expect(status.output).toBe(`${long}!`);
    const history = (await h.runtime.client.getStatus('cjk', { showHistory: true }))?.history ?? [];
    expect(history.flatMap((e) => (e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed' ? [e.reason] : []))).toEqual([long, 'short']);
    // Rewind takes one as long (a Terminated instance is 410: the reason got there and was read).
    await expect(client.rewind('cjk', long)).rejects.toMatchObject({ status: 410 });
  });
});
