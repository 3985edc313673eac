import { filter, firstValueFrom, lastValueFrom, takeWhile, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import type { InstanceState, InstanceStatus } from '../src/model/instance-status.js';
import type { InstancePage, InstanceQuery } from '../src/store/store.js';
import type { Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';

const { start: startRuntime } = startedRuntimes();

/** Sets each value of its input as the custom status, one step each (an activity call between them). */
const statusSequence: Orchestrator = function* (ctx) {
  for (const value of ctx.getInput<unknown[]>()) {
    ctx.setCustomStatus(value);
    yield ctx.callActivity('Noop');
  }
  return 'done';
};

/** Waits for one `Go` event; events of other names stay buffered in its history. */
const waitForGo: Orchestrator = function* (ctx) {
  return yield ctx.waitForExternalEvent('Go');
};

function start(clock?: VirtualClock): Promise<Runtime> {
  return startRuntime({
    ...(clock ? { clock } : {}),
    orchestrators: { ...sampleOrchestrators, StatusSequence: statusSequence, WaitForGo: waitForGo },
    activities: { ...sampleActivities, Noop: () => null },
  });
}

/** A MemoryStore whose reads of one instance wait until the test lets them through. */
class HeldReads extends MemoryStore {
  #release: () => void = () => {};
  #held = new Promise<void>((resolve) => (this.#release = resolve));

  override async getInstance(instanceId: string): Promise<InstanceState | undefined> {
    await this.#held;
    return super.getInstance(instanceId);
  }

  release(): void {
    this.#release();
  }
}

/** A MemoryStore that keeps every query it is asked, as it was handed over. */
class RecordedQueries extends MemoryStore {
  readonly queries: InstanceQuery[] = [];

  override queryInstances(query: InstanceQuery): Promise<InstancePage> {
    this.queries.push(query);
    return super.queryInstances(query);
  }
}

describe('client watchers', () => {
  it('instances$ hands the store a first page request without a continuationToken member (no undefined one)', async () => {
    // A store may keep or send an undefined member as it is (the MongoDB driver writes it as null unless told not to):
    // objects crossing the Store port keep their conditional spreads.
    const store = new RecordedQueries();
    const client = createClient({ store });
    expect(await firstValueFrom(client.instances$({ instanceIdPrefix: 'x-' }))).toEqual([]);
    expect(store.queries.length).toBeGreaterThan(0);
    for (const query of store.queries) expect(Object.keys(query)).not.toContain('continuationToken');
  });

  it('customStatus$ drops a value committed again unchanged, and emits it again after a different one', async () => {
    const runtime = await start();
    const values = [{ x: 1 }, 'a', 'a', 'b', 'a', 2, 2, true, { x: 1 }, { x: 1 }, null];
    const seen = lastValueFrom(runtime.client.customStatus$('seq').pipe(takeWhile((v) => v !== null, true), toArray()));
    await runtime.client.startNew('StatusSequence', { instanceId: 'seq', input: values });
    expect(await seen).toEqual([undefined, { x: 1 }, 'a', 'b', 'a', 2, true, { x: 1 }, null]);
    expect((await runtime.client.waitForCompletion('seq')).output).toBe('done');
  });

  it('status$ emits no repeat for a commit that changes only the history (same time, same status)', async () => {
    const clock = new VirtualClock(); // time stands still: every commit has the same lastUpdatedTime
    const runtime = await start(clock);
    await runtime.client.startNew('WaitForGo', { instanceId: 'go' });
    await firstValueFrom(runtime.client.status$('go').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const statuses: (InstanceStatus | undefined)[] = [];
    const subscription = runtime.client.status$('go').subscribe((s) => statuses.push(s));
    const historyLength = async () => (await runtime.store.getInstance('go'))!.historyLength;
    const before = await historyLength();
    await runtime.client.raiseEvent('go', 'Other', 1); // buffered: a new history event, the same status
    await clock.advance(0);
    while ((await historyLength()) === before) await clock.advance(0);
    await runtime.client.raiseEvent('go', 'Go', 'went');
    const done = await runtime.client.waitForCompletion('go');
    subscription.unsubscribe();
    expect(done.output).toBe('went');
    expect(statuses.map((s) => s?.runtimeStatus)).toEqual(['Running', 'Completed']);
  });

  it('every watcher of one instance hears every snapshot, also when another stops while a change is delivered', async () => {
    const runtime = await start();
    const { client } = runtime;
    const early: string[] = [];
    const early$ = client.status$('many').subscribe((s) => {
      if (s) early.push(s.runtimeStatus);
      if (s?.runtimeStatus === 'Running') early$.unsubscribe();
    });
    const all = lastValueFrom(client.status$('many').pipe(takeWhile((s) => s?.runtimeStatus !== 'Completed', true), toArray()));
    const custom = lastValueFrom(client.customStatus$('many').pipe(takeWhile((v) => v !== 'London', true), toArray()));
    await client.startNew('E1_HelloSequence', { instanceId: 'many' });
    const waits = [client.waitForCompletion('many'), client.waitForCompletion('many')];
    const [first, second] = await Promise.all(waits);
    expect(first?.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    expect(second).toEqual(first);
    expect(await custom).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    const statuses = await all;
    expect(statuses.at(-1)?.runtimeStatus).toBe('Completed');
    expect(statuses.map((s) => s?.customStatus).filter((c, i, list) => i === 0 || c !== list[i - 1])).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    expect(early.at(-1)).toBe('Running');
    expect(early).not.toContain('Completed');
  });

  it('waitForCompletion resolves with the current status when its timeout passes before the status was read', async () => {
    const clock = new VirtualClock();
    const store = new HeldReads();
    const client = createClient({ store, clock });
    await client.startNew('WaitForGo', { instanceId: 'slow-read' }); // no worker: it stays Pending
    const wait = client.waitForCompletion('slow-read', { timeoutMs: 10 });
    await clock.advance(10);
    store.release();
    // A read that answers after the timeout (and within the grace for a first read) gives the status, not a 404.
    expect(await wait).toMatchObject({ instanceId: 'slow-read', runtimeStatus: 'Pending' });
    await store.close();
  });

  for (const closing of ['client', 'store'] as const) {
    it(`waitForCompletion rejects with StoreClosedError when the ${closing} closes before the instance ends, not with its latest status`, async () => {
      const clock = new VirtualClock(); // the timeout never passes by itself
      const store = new MemoryStore();
      const client = createClient({ store, clock });
      await client.startNew('WaitForGo', { instanceId: 'open' }); // no worker: it stays Pending
      const seen = firstValueFrom(client.status$('open'));
      const wait = client.waitForCompletion('open', { timeoutMs: 5000 }).then((status) => status, (error: unknown) => error);
      await seen;
      if (closing === 'client') client.close();
      else await store.close();
      expect(await wait).toMatchObject({ name: 'StoreClosedError', code: 'store-closed', status: 503 });
      // Later waits too, rather than a Pending status that would read as a timeout.
      if (closing === 'client') await expect(client.waitForCompletion('open', { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'store-closed' });
      await store.close();
    });
  }

  it('instances$ keeps page order as members change, join and leave, and skips commits that change only a history', async () => {
    const clock = new VirtualClock(); // time stands still: every commit has the same lastUpdatedTime
    const runtime = await start(clock);
    const { client } = runtime;
    const lists: string[] = [];
    const subscription = client.instances$({ instanceIdPrefix: 'list-' }).subscribe((list) => {
      lists.push(list.map((s) => `${s.instanceId}:${s.runtimeStatus}${s.output === undefined ? '' : `=${String(s.output)}`}`).join(','));
    });
    const settle = async (id: string, status: string) => {
      while ((await client.getStatus(id))?.runtimeStatus !== status) await clock.advance(0);
    };
    while (lists.length === 0) await clock.advance(0); // the first (empty) list
    await client.startNew('WaitForGo', { instanceId: 'list-b' });
    await settle('list-b', 'Running');
    await clock.advance(1);
    await client.startNew('WaitForGo', { instanceId: 'list-a' }); // created later: second, whatever its id
    await settle('list-a', 'Running');
    // list-a's last commit was at this very time: a buffered event adds to its history and changes nothing shown.
    const historyLength = async () => (await runtime.store.getInstance('list-a'))!.historyLength;
    const before = await historyLength();
    const shown = lists.length;
    await client.raiseEvent('list-a', 'Other', 1);
    while ((await historyLength()) === before) await clock.advance(0);
    expect(lists.length).toBe(shown);
    await client.raiseEvent('list-b', 'Go', 'b');
    await settle('list-b', 'Completed');
    await client.purgeInstanceHistory('list-b');
    await client.raiseEvent('list-a', 'Go', 'a');
    await settle('list-a', 'Completed');
    subscription.unsubscribe();
    const distinct = lists.filter((list, i) => i === 0 || list !== lists[i - 1]);
    expect(distinct).toEqual(lists); // no list repeated
    expect(lists.at(0)).toBe('');
    expect(lists).toContain('list-b:Running,list-a:Running');
    expect(lists).toContain('list-b:Completed=b,list-a:Running');
    expect(lists).toContain('list-a:Running');
    expect(lists.at(-1)).toBe('list-a:Completed=a');
  });
});
