import { filter, firstValueFrom, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, within, type Harness } from './harness.js';

/**
 * Many watches on one connection coming and going while values are on their way: the watches that stay get every
 * custom status of the hello sequence, whole and in order, and nothing is left subscribed on the server.
 */

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
});

describe('watches coming and going while values are on their way', () => {
  it('leave the watches that stay with Tokyo, Seattle, London in order, and nothing subscribed on the server after', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const ids = Array.from({ length: 20 }, (_, i) => `hello-${i}`);
    const seen = new Map<string, unknown[]>();
    const kept: Subscription[] = [];
    for (const id of ids) {
      const values: unknown[] = [];
      seen.set(id, values);
      kept.push(client.customStatus$(id).subscribe((value) => values.push(value)));
    }
    await within(Promise.all(ids.map((id) => firstValueFrom(client.customStatus$(id)))), 'the first values');
    const session = h.requests.find((r) => r.path.endsWith('/subscriptions'))!.path.split('/').at(-2)!;
    await Promise.all(ids.map((id) => h.runtime.client.startNew('E1_HelloSequence', { instanceId: id })));
    // Until every instance completed: watches of the same instances and of others made and ended, some at once, some
    // after a value, while the sequences commit.
    const churn: Subscription[] = [];
    let done = false;
    const completed = Promise.all(ids.map((id) => h.runtime.client.waitForCompletion(id, { timeoutMs: 60_000 }))).finally(() => (done = true));
    for (let round = 0; !done; round++) {
      for (const id of ids) {
        const watch = client.customStatus$(id).subscribe((value) => value !== undefined && watch.unsubscribe());
        if (round % 2) watch.unsubscribe();
        else churn.push(watch);
        client.status$(`other-${round}-${id}`).subscribe().unsubscribe();
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      for (const watch of churn.splice(0, 10)) watch.unsubscribe();
    }
    await within(completed, 'the sequences');
    await within(Promise.all(ids.map((id) => firstValueFrom(client.customStatus$(id).pipe(filter((v) => v === 'London'))))), 'London everywhere');
    for (const id of ids) expect([id, seen.get(id)]).toEqual([id, [undefined, 'Tokyo', 'Seattle', 'London']]);
    for (const watch of [...churn, ...kept]) watch.unsubscribe();
    // Every watch ended: the session holds no subscription (it may be gone already, which holds none either).
    await within(new Promise<void>((resolve) => {
      const poll = async (): Promise<void> => {
        const response = await fetch(`${h.server.url}/runtime/webhooks/durabletask/streams/${session}/subscriptions`, {
          method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{}',
        });
        const held = response.status === 404 ? 0 : ((await response.json()) as { subscriptions: number }).subscriptions;
        if (held === 0) resolve();
        else setTimeout(() => void poll(), 20);
      };
      void poll();
    }), 'no subscription left on the server');
    client.close();
  });
});
