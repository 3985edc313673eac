import type { Clock, InstanceStatus } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import type { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient, type ConnectionState } from '../src/index.js';
import { KEY, openHarness, recordInto, within, type Harness } from './harness.js';

/** A request the server fails every time backs off, and connection$ never tells a stale state. */

let harness: Harness | undefined;
const subscriptions: Subscription[] = [];
const record = recordInto(subscriptions);

afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  await harness?.close();
  harness = undefined;
});

describe('liveness', () => {
  it('backs off a subscription request the server fails with 5xx each time, though the stream connects', async () => {
    const h = (harness = await openHarness()); // its `retry` hint: 20 ms
    const virtual = new VirtualClock();
    const delays: number[] = [];
    const clock: Clock = {
      now: () => virtual.now(),
      // Every timer is a reconnect delay.
      setTimeout: (callback, ms) => (delays.push(ms), virtual.setTimeout(callback, ms)),
      clearTimeout: (timer) => virtual.clearTimeout(timer),
    };
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, clock });
    h.refuseStreams(3, 503, '/subscriptions');
    let lost = 0;
    subscriptions.push(client.connection$.subscribe((s) => void (s.state === 'reconnecting' && lost++)));
    const remote = record<InstanceStatus | undefined>(client.status$('failing'));
    for (let n = 1; n <= 3; n++) {
      await within(new Promise<void>((resolve) => {
        const check = (): void => (lost >= n ? resolve() : void setImmediate(check));
        check();
      }), `refusal ${n}`);
      await virtual.advanceTo(virtual.nextTimerAt!); // the reconnect
    }
    await within(remote.seen((s) => s === undefined), 'the first status');
    expect(delays).toEqual([20, 40, 80]);
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
