import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, openSilentProxy, ownedByEachTest, until, within } from './harness.js';

/**
 * A page watches the custom status of 100 instances on its one connection. The connection goes silent (a proxy stops
 * forwarding, both sockets stay open) while each instance commits three values: the server writes those 300 events
 * into a connection that loses them. The client's watchdog breaks the stream off and reconnects, resuming the session:
 * every watch gets each of its values (a session that remembered its last 256 events in all, whatever its
 * subscriptions, could not resume: each watch started over from its current value, skipping the others).
 */

const { cleanups } = ownedByEachTest();
const M = 100;

describe('a connection lost while a page watches many instances', () => {
  it(`gives every remote customStatus$ of ${M} instances each value committed meanwhile, resuming its session`, async () => {
    const harness = await openHarness();
    cleanups.push(() => harness.close());
    const proxy = await openSilentProxy(harness.server.url);
    cleanups.push(() => proxy.close());
    const clock = new VirtualClock();
    const remote = createRemoteClient({ baseUrl: proxy.url, key: KEY, clock, reconnect: { timeoutMs: 1000 } });
    cleanups.push(() => remote.close());
    const local = harness.runtime.client;
    const values = new Map<string, unknown[]>();
    // What each instance committed, as the local client tells it.
    const committed = new Map<string, unknown[]>();
    const failures: unknown[] = [];
    for (let i = 0; i < M; i++) {
      const id = `m-${i}`;
      await local.startNew('WaitForEvents', { instanceId: id, input: 3 });
      values.set(id, []);
      committed.set(id, []);
      const watch = remote.customStatus$(id).subscribe({ next: (v) => values.get(id)!.push(v), error: (e: unknown) => failures.push(e) });
      const localWatch = local.customStatus$(id).subscribe((v) => committed.get(id)!.push(v));
      cleanups.push(() => watch.unsubscribe(), () => localWatch.unsubscribe());
    }
    await until(() => [...values.values()].every((v) => v.length > 0), 'the first values');
    proxy.silence(); // what the server writes from now on is lost on the way
    // Round by round, each round committed before the next is raised: three values per instance, 300 events in all.
    for (let n = 1; n <= 3; n++) {
      for (let i = 0; i < M; i++) await local.raiseEvent(`m-${i}`, 'Item', n);
      const round = JSON.stringify({ received: n });
      await until(() => [...committed.values()].every((v) => JSON.stringify(v.at(-1)) === round), `round ${n} committed`, 90_000);
    }
    for (let i = 0; i < M; i++) await within(local.waitForCompletion(`m-${i}`, { timeoutMs: 60_000 }), `m-${i} completing`, 90_000);
    // A whole watchdog tick without anything arriving breaks the stream off; then the reconnect delay.
    await clock.advance(1000);
    await clock.advance(1000);
    await within(firstValueFrom(remote.connection$.pipe(filter((s) => s.state === 'reconnecting'))), 'the stream broken off');
    await clock.advance(1000);
    const last = JSON.stringify({ received: 3 });
    await until(() => failures.length > 0 || [...values.values()].every((v) => JSON.stringify(v.at(-1)) === last), 'the last values', 90_000);
    expect(failures).toEqual([]);
    for (const [id, seen] of values) expect([id, seen]).toEqual([id, committed.get(id)]);
    expect(committed.get('m-0')).toEqual([undefined, { received: 1 }, { received: 2 }, { received: 3 }]);
    const streams = harness.requests.filter((r) => r.path.endsWith('/streams'));
    expect(streams).toHaveLength(2);
    expect(streams[1]!.lastEventId).not.toBeNull(); // resumed
  });
});
