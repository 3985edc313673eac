import { createServer, type IncomingMessage } from 'node:http';
import { StoreClosedError } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { describe, expect, it, vi } from 'vitest';
import { SETTLED } from '../../../test-support/settled.js';
import { createRemoteClient } from '../src/index.js';
import { RAISE_ATTEMPTS, RAISE_RETRY_DELAYS_MS } from '../src/remote-client.js';
import { KEY, openHarness, outcome, ownedByEachTest, within } from './harness.js';

const { cleanups } = ownedByEachTest();

/** A request a {@link DroppingProxy} relayed, as the test wants to see it. */
interface Relayed {
  readonly path: string;
  readonly idempotencyKey: string | null;
  /** The server's answer was dropped: the connection was cut after the server had answered. */
  readonly dropped: boolean;
}

/**
 * An HTTP server in front of `target` that relays every request and its answer, except that it cuts the connection
 * instead of sending the answer of the first `drops` requests whose path ends with `suffix`, after the server behind
 * it applied them: what a client sees when the network fails on the way back.
 */
async function openDroppingProxy(target: string, suffix: string, drops: number) {
  const relayed: Relayed[] = [];
  const server = createServer((request, response) => {
    void (async () => {
      const body = await bodyOf(request);
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers.set(name, value);
      }
      const answer = await fetch(`${target}${request.url}`, { method: request.method, headers, ...(body.length > 0 ? { body: body.toString('utf8') } : {}) });
      const text = await answer.text();
      const drop = request.url!.split('?')[0]!.endsWith(suffix) && drops > 0;
      if (drop) drops--;
      relayed.push({ path: request.url!, idempotencyKey: request.headers['idempotency-key'] as string | undefined ?? null, dropped: drop });
      if (drop) {
        request.socket.destroy();
        return;
      }
      response.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([name]) => name !== 'content-length' && name !== 'transfer-encoding')));
      response.end(text);
    })().catch(() => request.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    relayed,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('raiseEvent over a network that drops an answer', () => {
  it('tries again with the same Idempotency-Key when the answer is lost after the server applied the raise: the event is delivered once', async () => {
    const h = await openHarness();
    const proxy = await openDroppingProxy(h.server.url, '/raiseEvent/Item', 1);
    cleanups.push(() => h.close(), () => proxy.close());
    const client = createRemoteClient({ baseUrl: proxy.url, key: KEY });
    cleanups.push(() => client.close());
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'lost-answer', input: 2 });
    await client.raiseEvent('lost-answer', 'Item', 'a');
    await client.raiseEvent('lost-answer', 'Item', 'b', { idempotencyKey: 'caller-key-b' });
    expect((await h.runtime.client.waitForCompletion('lost-answer', SETTLED)).output).toEqual(['a', 'b']);
    const raises = proxy.relayed.filter((r) => r.path.includes('/raiseEvent/'));
    // The first raise was sent twice under one key of its own, the second once under the caller's key.
    expect(raises.map((r) => r.dropped)).toEqual([true, false, false]);
    expect(raises[0]!.idempotencyKey).toMatch(/^[!-~]{1,128}$/);
    expect(raises[1]!.idempotencyKey).toBe(raises[0]!.idempotencyKey);
    expect(raises[2]!.idempotencyKey).toBe('caller-key-b');
  });

  it('tries a signalWithStart again with the same Idempotency-Key when its answer is lost: started once, the event delivered once', async () => {
    const h = await openHarness();
    const proxy = await openDroppingProxy(h.server.url, '/signalWithStart/Item', 2);
    cleanups.push(() => h.close(), () => proxy.close());
    const client = createRemoteClient({ baseUrl: proxy.url, key: KEY });
    cleanups.push(() => client.close());
    expect(await client.signalWithStart('WaitForEvents', { instanceId: 'lost-signal', input: 2, eventName: 'Item', eventData: 'a' })).toBe('lost-signal');
    await client.signalWithStart('WaitForEvents', { instanceId: 'lost-signal', eventName: 'Item', eventData: 'b', idempotencyKey: '"caller-key"' });
    expect(await h.runtime.client.waitForCompletion('lost-signal', SETTLED)).toMatchObject({ input: 2, output: ['a', 'b'] });
    const calls = proxy.relayed.filter((r) => r.path.includes('/signalWithStart/'));
    expect(calls.map((r) => r.dropped)).toEqual([true, true, false, false]);
    expect(calls[0]!.idempotencyKey).toMatch(/^[!-~]{1,128}$/);
    expect(calls.slice(0, 3).map((r) => r.idempotencyKey)).toEqual(Array(3).fill(calls[0]!.idempotencyKey));
    expect(calls[3]!.idempotencyKey).toBe('""caller-key""');
    // The caller's key is the local client's key too: a repeat through it delivers nothing.
    expect(await h.runtime.client.signalWithStart('WaitForEvents', { instanceId: 'lost-signal', eventName: 'Item', idempotencyKey: '"caller-key"' })).toBe('lost-signal');
    expect((await h.runtime.client.getStatus('lost-signal'))?.runtimeStatus).toBe('Completed');
  });

  it('gives each call a key of its own: two raises of the same event are two events', async () => {
    const h = await openHarness();
    cleanups.push(() => h.close());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    cleanups.push(() => client.close());
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'twice', input: 2 });
    await client.raiseEvent('twice', 'Item', 'same');
    await client.raiseEvent('twice', 'Item', 'same');
    expect((await h.runtime.client.waitForCompletion('twice', SETTLED)).output).toEqual(['same', 'same']);
  });

  it('sends a key in double quotes so that the server reads the same key as the local client: one delivery for both', async () => {
    const h = await openHarness();
    const proxy = await openDroppingProxy(h.server.url, '/raiseEvent/none', 0);
    cleanups.push(() => h.close(), () => proxy.close());
    const client = createRemoteClient({ baseUrl: proxy.url, key: KEY });
    cleanups.push(() => client.close());
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'quoted', input: 3 });
    await client.raiseEvent('quoted', 'Item', 'quoted', { idempotencyKey: '"q"' });
    await h.runtime.client.raiseEvent('quoted', 'Item', 'quoted again', { idempotencyKey: '"q"' });
    await client.raiseEvent('quoted', 'Item', 'bare', { idempotencyKey: 'q' });
    await h.runtime.client.raiseEvent('quoted', 'Item', 'bare again', { idempotencyKey: 'q' });
    await client.raiseEvent('quoted', 'Item', 'quotes only', { idempotencyKey: '""' });
    await client.raiseEvent('quoted', 'Item', 'quotes only again', { idempotencyKey: '""' });
    expect((await h.runtime.client.waitForCompletion('quoted', SETTLED)).output).toEqual(['quoted', 'bare', 'quotes only']);
    expect(proxy.relayed.map((r) => r.idempotencyKey)).toEqual(['""q""', 'q', '""""', '""""']);
  });

  it('refuses a malformed key before sending anything (400)', async () => {
    const h = await openHarness();
    cleanups.push(() => h.close());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    cleanups.push(() => client.close());
    const before = h.requests.length;
    for (const idempotencyKey of ['', 'two words', 'k'.repeat(129), 'ключ']) {
      await expect(client.raiseEvent('any', 'Item', 1, { idempotencyKey })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
    }
    expect(h.requests.length).toBe(before);
  });
});

describe('raiseEvent tries again only what may pass, and not after close()', () => {
  /** A fetch that answers every request with `answer()`, counting them. */
  function answering(answer: () => Response): { readonly calls: string[]; readonly fetch: typeof fetch } {
    const calls: string[] = [];
    return {
      calls,
      fetch: async (input) => {
        calls.push(String(input));
        return answer();
      },
    };
  }

  /** Resolves once the raise waits `delay` to try again: its only timer is due then (not a request's deadline). */
  async function waitingToTry(clock: VirtualClock, delay: number): Promise<void> {
    await vi.waitFor(() => {
      expect(clock.pendingTimers).toBe(1);
      expect(clock.nextTimerAt?.getTime()).toBe(clock.now().getTime() + delay);
    }, { timeout: 30_000, interval: 5 });
  }

  it('sends a raise once when a proxy answers it with a 4xx page (no durable-rx error body): the same request would get it again', async () => {
    const { calls, fetch } = answering(() => new Response('<html>Forbidden</html>', { status: 403, headers: { 'content-type': 'text/html' } }));
    const client = createRemoteClient({ baseUrl: 'http://127.0.0.1:9', key: KEY, fetch });
    cleanups.push(() => client.close());
    await expect(client.raiseEvent('a', 'Item', 1)).rejects.toMatchObject({ code: 'bad-response', status: 403 });
    expect(calls).toHaveLength(1);
  });

  it('sends it again after a proxy\'s 5xx page', async () => {
    const { calls, fetch } = answering(() => new Response('<html>Bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }));
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: 'http://127.0.0.1:9', key: KEY, fetch, clock });
    cleanups.push(() => client.close());
    const raising = outcome(client.raiseEvent('a', 'Item', 1));
    for (const delay of RAISE_RETRY_DELAYS_MS) {
      await waitingToTry(clock, delay);
      await clock.advance(delay);
    }
    expect(await within(raising, 'the raise')).toMatchObject({ code: 'bad-response', status: 502 });
    expect(calls).toHaveLength(RAISE_ATTEMPTS);
  });

  it('rejects a raise waiting to try again at once when the client closes, its timer cleared', async () => {
    const { calls, fetch } = answering(() => Response.json({ code: 'unavailable', message: 'busy' }, { status: 503 }));
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: 'http://127.0.0.1:9', key: KEY, fetch, clock });
    cleanups.push(() => client.close());
    const raising = outcome(client.raiseEvent('a', 'Item', 1));
    await waitingToTry(clock, RAISE_RETRY_DELAYS_MS[0]!);
    client.close();
    expect(await within(raising, 'the raise ending at the close')).toBeInstanceOf(StoreClosedError);
    expect(clock.pendingTimers).toBe(0);
    expect(calls).toHaveLength(1);
  });
});
