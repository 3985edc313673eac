import type { Clock, InstanceStatus } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient, type ConnectionState, type RemoteClient } from '../src/index.js';
import { KEY, openHarness, openSilentProxy, recordInto, within, type Harness, type SilentProxy } from './harness.js';

/**
 * The connection is never left hanging: a stream that goes silent is reconnected, a subscription request that gets no
 * answer is sent again, a request the server fails every time backs off, and connection$ never tells a stale state.
 */

let harness: Harness | undefined;
let proxy: SilentProxy | undefined;
const subscriptions: Subscription[] = [];
const record = recordInto(subscriptions);

afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  await proxy?.close();
  await harness?.close();
  proxy = harness = undefined;
});

function reconnecting(client: RemoteClient): Promise<unknown> {
  return within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'reconnecting'))), 'the connection broken off');
}

/** Resolves once `condition()` holds, checked after each turn of the event loop. */
function until(condition: () => boolean, what: string): Promise<void> {
  return within(new Promise<void>((resolve) => {
    const check = (): void => (condition() ? resolve() : void setImmediate(check));
    check();
  }), what);
}

describe('liveness', () => {
  it('reconnects, resuming, a stream on which nothing arrives any more (no event, no heartbeat)', async () => {
    const h = (harness = await openHarness());
    proxy = await openSilentProxy(h.server.url);
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: proxy.url, key: KEY, clock, reconnect: { timeoutMs: 1000 } });
    const remote = record<InstanceStatus | undefined>(client.status$('quiet'));
    await within(remote.seen((s) => s === undefined), 'the first status');
    proxy.silence(); // the connection stays open, but what the server sends is lost on the way ...
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'quiet', input: 1 });
    await clock.advance(1000);
    await clock.advance(1000); // ... and a whole tick passes without anything arriving: the stream is broken off
    await reconnecting(client);
    await clock.advance(1000); // the reconnect delay
    await within(remote.seen((s) => s !== undefined), 'the status committed while the stream was silent');
    const streams = h.requests.filter((r) => r.path.endsWith('/streams'));
    expect(streams).toHaveLength(2);
    expect(streams[1]!.lastEventId).not.toBeNull(); // resumed
    client.close();
  });

  it('sends a subscription request that gets no answer again after the reconnect delay, though heartbeats arrive', async () => {
    const h = (harness = await openHarness({ heartbeatMs: 10 }));
    const clock = new VirtualClock();
    /** Told when a chunk of the event stream has reached the client (and the client has read it). */
    let onChunk: (() => void) | undefined;
    const client = createRemoteClient({
      baseUrl: h.server.url, key: KEY, clock, reconnect: { timeoutMs: 1000 },
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).endsWith('/streams') || !response.body) return response;
        return new Response(response.body.pipeThrough(new TransformStream({
          transform: (chunk, controller) => {
            controller.enqueue(chunk);
            onChunk?.();
          },
        })), response);
      },
    });
    const heartbeat = (): Promise<void> => within(new Promise<void>((resolve) => {
      onChunk = () => {
        onChunk = undefined;
        setImmediate(resolve); // after the client's read of it
      };
    }), 'a heartbeat');
    h.holdRequests('/subscriptions');
    const remote = record<InstanceStatus | undefined>(client.status$('held'));
    await until(() => h.requests.some((r) => r.path.endsWith('/subscriptions')), 'the subscription request sent');
    await heartbeat();
    await clock.advance(1000); // a tick: the stream is alive, the request on its way ...
    await heartbeat();
    await clock.advance(1000); // ... and the next: the stream is still alive, the same request still on its way
    await reconnecting(client);
    h.holdRequests(undefined);
    await clock.advance(1000); // the reconnect delay
    await within(remote.seen((s) => s === undefined), 'the first status');
    client.close();
  });

  it('backs off a subscription request the server fails with 5xx each time, though the stream connects', async () => {
    const h = (harness = await openHarness()); // its `retry` hint: 20 ms
    const virtual = new VirtualClock();
    const delays: number[] = [];
    const clock: Clock = {
      now: () => virtual.now(),
      // Every timer but the watchdog's (60 s) is a reconnect delay.
      setTimeout: (callback, ms) => (ms !== 60_000 && delays.push(ms), virtual.setTimeout(callback, ms)),
      clearTimeout: (timer) => virtual.clearTimeout(timer),
    };
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, clock, reconnect: { timeoutMs: 60_000 } });
    h.refuseStreams(3, 503, '/subscriptions');
    let lost = 0;
    subscriptions.push(client.connection$.subscribe((s) => void (s.state === 'reconnecting' && lost++)));
    const remote = record<InstanceStatus | undefined>(client.status$('failing'));
    for (let n = 1; n <= 3; n++) {
      await until(() => lost >= n, `refusal ${n}`);
      await virtual.advanceTo(virtual.nextTimerAt!); // the reconnect
    }
    await within(remote.seen((s) => s === undefined), 'the first status');
    // 20, 40, 80 ms, each spread over its upper half.
    expect(delays.map((ms, i) => ms > 10 * 2 ** i && ms <= 20 * 2 ** i)).toEqual([true, true, true]);
    client.close();
  });

  it('never tells a later connection$ watcher a stale state when an earlier one watches from its idle handler', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    let again = false;
    subscriptions.push(client.connection$.subscribe((s) => {
      if (s.state === 'idle' && again) {
        again = false;
        subscriptions.push(client.status$('second').subscribe());
      }
    }));
    const states = record<ConnectionState>(client.connection$);
    const first = client.status$('first').subscribe();
    await within(states.seen((s) => s.state === 'live'), 'live');
    again = true;
    first.unsubscribe(); // the last watch: idle, and the first watcher watches again at once
    await within(states.seen((s) => s.state === 'live' && states.values.filter((v) => v.state === 'live').length === 2), 'live again');
    expect(states.values.map((s) => s.state)).toEqual(['idle', 'connecting', 'live', 'connecting', 'live']);
    client.close();
  });
});
