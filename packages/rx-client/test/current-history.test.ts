import {
  createRuntime, MemoryStore, silentLogger, type DurableClient, type HistoryEvent, type InstanceStatus, type Orchestrator,
} from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve } from '@durable-rx/runtime/node';
import type { HistoryPosition } from '@durable-rx/runtime/http';
import { map, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { SETTLED } from '../../../test-support/settled.js';
import { currentHistory$ } from '../src/current-history.js';
import { createRemoteClient } from '../src/index.js';
import { KEY, ownedByEachTest, within } from './harness.js';

/**
 * What `useHistory` renders (`currentHistory$`): the current history of an instance, never with events of an earlier
 * one. A rewind, `continueAsNew` and a new execution over a terminal instance each begin a new history; the value must
 * then equal that history alone (the one `getStatus(id, { showHistory: true })` reads), so that counting its
 * `TaskCompleted` events counts each activity once. Over the local client and over the remote one (real HTTP).
 */

const { record, cleanups } = ownedByEachTest();

/** Instances whose `FailFirst` activity has failed once. */
const failedOnce = new Set<string>();

const orchestrators: Record<string, Orchestrator> = {
  /** Two activities; the second fails the first time it runs for the instance, so a rewind completes it. */
  RewindMe: function* (ctx) {
    yield ctx.callActivity('Ok');
    yield ctx.callActivity('FailFirst', ctx.instanceId);
    return 'done';
  },
  /** One activity, then waits for `Go` and continues as new (input 1), where it runs the activity again and ends. */
  ContinueOnce: function* (ctx) {
    yield ctx.callActivity('Ok');
    if (ctx.getInput() === 1) return 'done';
    yield ctx.waitForExternalEvent('Go');
    ctx.continueAsNew(1);
    return undefined;
  },
  /** `ctx.getInput()` activities at once: a history of about twice as many events, from one orchestrator. */
  FanOut: function* (ctx) {
    yield ctx.Task.all(Array.from({ length: ctx.getInput() as number }, () => ctx.callActivity('Ok')));
    return 'done';
  },
};

const activities = {
  Ok: () => 'ok',
  FailFirst: (id: unknown) => {
    if (failedOnce.has(String(id))) return 'ok';
    failedOnce.add(String(id));
    throw new Error('first attempt fails');
  },
};

async function clients(): Promise<[string, DurableClient][]> {
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities, logger: silentLogger });
  await runtime.start();
  const server = await serve(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger }), { port: 0 });
  const remote = createRemoteClient({ baseUrl: server.url, key: KEY });
  cleanups.push(() => runtime.stop(), () => server.close(), () => remote.close());
  return [['local', runtime.client], ['remote', remote]];
}

const isDone = (events: readonly HistoryEvent[]): boolean =>
  events.at(-1)?.type === 'OrchestratorCompleted' && events.some((e) => e.type === 'ExecutionCompleted' && e.orchestrationStatus === 'Completed');

/** The history `client` reads for `id` now: the current one. */
async function historyOf(client: DurableClient, id: string): Promise<readonly HistoryEvent[] | undefined> {
  return (await client.getStatus(id, { showHistory: true, showHistoryOutput: true }))?.history;
}

describe('currentHistory$ (what useHistory renders)', () => {
  it('starts over when a rewind begins a new history: each activity is counted once', async () => {
    for (const [name, client] of await clients()) {
      const id = `rewind-${name}`;
      const history = record<readonly HistoryEvent[]>(currentHistory$(client, id));
      await client.startNew('RewindMe', { instanceId: id });
      expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Failed');
      await within(history.seen((events) => events.some((e) => e.type === 'ExecutionCompleted')), `${name}: the failed history`);
      await client.rewind(id);
      expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
      const last = await within(history.seen(isDone), `${name}: the rewound history`);
      expect(last, name).toEqual(await historyOf(client, id));
      expect(last.filter((e) => e.type === 'TaskCompleted'), name).toHaveLength(2);
      expect(last.filter((e) => e.type === 'ExecutionStarted'), name).toHaveLength(1);
    }
  });

  it('starts over when continueAsNew, or a new execution over a terminal instance, begins a new history', async () => {
    for (const [name, client] of await clients()) {
      const id = `continue-${name}`;
      const history = record<readonly HistoryEvent[]>(currentHistory$(client, id));
      await client.startNew('ContinueOnce', { instanceId: id });
      await within(history.seen((events) => events.some((e) => e.type === 'TaskCompleted')), `${name}: the first activity`);
      await client.raiseEvent(id, 'Go');
      expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
      const continued = await within(history.seen(isDone), `${name}: the continued history`);
      expect(continued, name).toEqual(await historyOf(client, id));
      expect(continued.filter((e) => e.type === 'TaskCompleted'), name).toHaveLength(1);
      // Started again over the terminal instance: a new execution, a new history.
      await client.startNew('ContinueOnce', { instanceId: id, input: 1 });
      expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
      const restarted = await within(
        history.seen((events) => isDone(events) && events[0] !== continued[0] && events.length > 0),
        `${name}: the new execution's history`,
      );
      const current = await historyOf(client, id);
      expect(restarted, name).toEqual(current);
      expect(restarted.filter((e) => e.type === 'ExecutionStarted'), name).toHaveLength(1);
    }
  });

  it('empties when the instance is purged, and holds the next instance of the id alone', async () => {
    for (const [name, client] of await clients()) {
      const id = `purge-${name}`;
      const history = record<readonly HistoryEvent[]>(currentHistory$(client, id));
      await client.startNew('ContinueOnce', { instanceId: id, input: 1 });
      expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
      const purged = await within(history.seen(isDone), `${name}: the history`);
      expect(await client.purgeInstanceHistory(id)).toEqual({ instancesDeleted: 1 });
      // No instance, no history: events of the deleted one are not shown as its history.
      await within(history.seen((events) => events.length === 0), `${name}: the history emptied by the purge`);
      await client.startNew('ContinueOnce', { instanceId: id, input: 1 });
      expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
      const next = await within(history.seen((events) => isDone(events) && events[0] !== purged[0]), `${name}: the new instance's history`);
      expect(next, name).toEqual(await historyOf(client, id));
    }
  });

  it('gives a history that arrives at once in a few arrays, not one per event, each left as it was given', async () => {
    for (const [name, client] of await clients()) {
      const id = `fan-out-${name}`;
      await client.startNew('FanOut', { instanceId: id, input: 100 });
      expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
      const full = (await historyOf(client, id))!;
      expect(full.length, name).toBeGreaterThan(200);
      // Each array with its length when it was given: one changed afterwards (React keeps those it rendered) shows.
      const given = record<readonly [readonly HistoryEvent[], number]>(
        currentHistory$(client, id).pipe(map((events) => [events, events.length] as const)),
      );
      const [last] = await within(given.seen(([events]) => isDone(events)), `${name}: the whole history`);
      expect(last, name).toEqual(full);
      // One store read (local), a few chunks of the event stream (remote): far fewer arrays than events.
      expect(given.values.length, name).toBeLessThan(full.length / 10);
      for (const [events, length] of given.values) {
        expect(events, name).toHaveLength(length);
        expect(events, name).toEqual(full.slice(0, length));
      }
      expect(new Set(given.values.map(([events]) => events)).size, name).toBe(given.values.length);
    }
  });
});

/**
 * A client whose marked history is `values`, as the local and remote clients give it (`historyPositions$`), or with
 * no marks (`history$` only): what currentHistory$ makes of the values that arrive together, batch by batch.
 */
function scriptedClient(marks: boolean) {
  const values = new Subject<HistoryEvent | HistoryPosition>();
  /** The instance's status, which tells a purge (`undefined` once the history has events). */
  const statuses = new Subject<InstanceStatus | undefined>();
  const client = {
    history$: () => values, status$: () => statuses, ...(marks ? { historyPositions$: () => values } : {}),
  } as unknown as DurableClient;
  const given = record<readonly HistoryEvent[]>(currentHistory$(client, 'scripted'));
  /**
   * Sends `batch` at once (one synchronous run; `'purged'`: the status says the instance is gone), then lets its
   * microtask apply it: the arrays given since.
   */
  const send = async (...batch: (HistoryEvent | HistoryPosition | 'purged')[]): Promise<(readonly HistoryEvent[])[]> => {
    const before = given.values.length;
    for (const value of batch) if (value === 'purged') statuses.next(undefined); else values.next(value);
    await new Promise((resolve) => setTimeout(resolve, 0));
    return given.values.slice(before);
  };
  return { values, given, send };
}

/** Event `n` of a scripted history (compared by identity and content). */
const e = Array.from({ length: 10 }, (_, n): HistoryEvent => ({
  type: 'EventRaised', eventId: -1, timestamp: new Date(0).toISOString(), name: `e${n}`, input: n,
}));
const at = (execution: string): HistoryPosition => ({ execution, events: 0 });

describe('currentHistory$ over the batches of a marked history', () => {
  it('gives one array per batch: the events after its last position alone, or the current history extended', async () => {
    const { send } = scriptedClient(true);
    expect(await send(at('x/0'))).toEqual([[]]); // a history begins, with no events yet: known, and empty
    const first = (await send(e[0]!, e[1]!))[0]!;
    expect(first).toEqual([e[0], e[1]]);
    expect(await send(e[2]!)).toEqual([[e[0], e[1], e[2]]]);
    expect(first).toEqual([e[0], e[1]]); // an array once given is left as it was
    // Events of the current history, then two new histories, in one batch: only the last history's events count.
    expect(await send(e[3]!, at('x/1'), e[4]!, at('x/2'), e[5]!, e[6]!)).toEqual([[e[5], e[6]]]);
    expect(await send(e[7]!)).toEqual([[e[5], e[6], e[7]]]);
    expect(await send(e[8]!, at('y/0'))).toEqual([[]]); // a new history ends the batch: it has no events yet
    expect(await send(e[9]!)).toEqual([[e[9]]]);
    // A purge empties the history, in the batch too: only the events after it count.
    expect(await send(e[0]!, 'purged', at('z/0'), e[1]!)).toEqual([[e[1]]]);
    expect(await send(e[2]!, 'purged')).toEqual([[]]);
  });

  it('gives no new array for a batch that leaves the history as it was: a new history begun while it is empty', async () => {
    const { send } = scriptedClient(true);
    const known = await send(at('x/0'));
    expect(known).toEqual([[]]); // the first value says the history is known: it ends loading
    expect(await send(at('x/1'))).toEqual([]);
    expect(await send(at('x/2'), at('x/3'))).toEqual([]);
    expect(await send(e[0]!)).toEqual([[e[0]]]);
    expect(await send(at('y/0'))).toEqual([[]]); // a new history over one with events: a change
    expect(await send(at('y/1'), 'purged')).toEqual([]);
  });

  it('collects every event of a client whose history has no marks, and applies a pending batch before the end', async () => {
    const { values, given, send } = scriptedClient(false);
    const first = (await send(e[0]!, e[1]!))[0]!;
    expect(first).toEqual([e[0], e[1]]);
    expect(await send(e[2]!)).toEqual([[e[0], e[1], e[2]]]);
    expect(first).toEqual([e[0], e[1]]);
    values.next(e[3]!);
    values.complete(); // before the batch's microtask: the end applies it first
    expect(given.values.at(-1)).toEqual([e[0], e[1], e[2], e[3]]);
    expect(given.values).toHaveLength(3);
  });
});
