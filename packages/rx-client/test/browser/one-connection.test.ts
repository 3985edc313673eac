import type { HistoryEvent, InstanceStatus } from '@durable-rx/runtime';
import { filter, firstValueFrom, ReplaySubject, type Observable, type Subscription } from 'rxjs';
import { commands } from 'vitest/browser';
import { afterEach, expect, it } from 'vitest';
import { createRemoteClient } from '../../src/index.js';
import type {} from './server-commands.js'; // the commands' types

/**
 * One page, one remote client: 20 status$, one instances$ and one history$ in real Chromium over HTTP/1.1, where the
 * browser would allow six connections. Everything rides one streaming connection, counted by the server.
 */

const subscriptions: Subscription[] = [];

afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await commands.stopServer();
});

function record<T>(source: Observable<T>) {
  const values: T[] = [];
  const replay = new ReplaySubject<T>();
  subscriptions.push(source.subscribe(replay));
  subscriptions.push(replay.subscribe((v) => values.push(v)));
  return { values, seen: (p: (value: T) => boolean) => firstValueFrom(replay.pipe(filter(p))) };
}

const received = (n: number) => (s: InstanceStatus | undefined) => JSON.stringify(s?.customStatus) === JSON.stringify({ received: n });

it('delivers every committed value of 20 instances, a list and a history over one connection, across a dropped connection', async () => {
  const { url, key } = await commands.startServer();
  const ids = Array.from({ length: 20 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
  await commands.recordCommitted(ids);
  const client = createRemoteClient({ baseUrl: url, key, reconnect: { initialDelayMs: 200 } });
  const statuses = ids.map((id) => record(client.status$(id)));
  const list = record(client.instances$({ instanceIdPrefix: 'page-' }));
  const history = record<HistoryEvent>(client.history$(ids[0]!));
  await Promise.all(statuses.map((s) => s.seen((v) => v === undefined)));
  await list.seen((l) => l.length === 0);

  // Started by the page (read-your-writes: each start is visible before the next command).
  for (const id of ids) await client.startNew('WaitForEvents', { instanceId: id, input: 2 });
  await commands.raise(ids, 'Item', 1);
  await Promise.all(statuses.map((s) => s.seen(received(1))));
  expect(await commands.streamConnections()).toEqual({ open: 1, opened: 1 });

  // The connection dies; the instances commit their last steps meanwhile; the page reconnects and resumes.
  await commands.dropConnections();
  await commands.raise(ids, 'Item', 2);
  await Promise.all(statuses.map((s) => s.seen((v) => v?.runtimeStatus === 'Completed')));
  await list.seen((l) => l.length === ids.length && l.every((s) => s.runtimeStatus === 'Completed'));
  await history.seen((e) => e.type === 'ExecutionCompleted');
  await history.seen((e) => e.type === 'OrchestratorCompleted' && history.values.some((x) => x.type === 'ExecutionCompleted'));

  for (const [n, id] of ids.entries()) {
    // Every snapshot the server committed, in order, none twice (compared as JSON values: dates as ISO strings).
    const remote = statuses[n]!.values.map((s) => JSON.parse(JSON.stringify(s ?? null)) as unknown);
    expect(remote).toEqual((await commands.committed(id)).map((json) => JSON.parse(json) as unknown));
  }
  const customs = statuses[0]!.values.map((s) => JSON.stringify(s?.customStatus ?? null)).filter((c, i, all) => i === 0 || c !== all[i - 1]);
  expect(customs).toEqual(['null', '{"received":1}', '{"received":2}']);
  expect(JSON.parse(JSON.stringify(history.values))).toEqual(JSON.parse(await commands.history(ids[0]!)));
  for (let i = 1; i < list.values.length; i++) expect(JSON.stringify(list.values[i])).not.toBe(JSON.stringify(list.values[i - 1]));
  expect(list.values.at(-1)!.map((s) => s.instanceId)).toEqual(ids);

  // One streaming connection at a time: the first, then the one that resumed it.
  expect(await commands.streamConnections()).toEqual({ open: 1, opened: 2 });
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'idle')));
});
