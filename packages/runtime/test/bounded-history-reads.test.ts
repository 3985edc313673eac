import { firstValueFrom, filter, skip } from 'rxjs';
import { afterEach, expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { RESTART_HISTORY_EVENTS } from '../src/engine/fork-history.js';
import { silentLogger } from '../src/env/logger.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { PayloadTooLargeError } from '../src/model/errors/payload-too-large-error.js';
import type { WriteSet } from '../src/model/write-set.js';
import type { Store } from '../src/store/store.js';
import { SETTLED } from '../src/testing/settled.js';

/** Fifty activities one after another: a history of some 150 events. */
const long: Orchestrator = function* (ctx) {
  const input = ctx.getInput<number>();
  let sum = 0;
  for (let i = 0; i < 50; i++) sum += (yield ctx.callActivity('Add', i)) as number;
  return sum + input;
};

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
});

/**
 * `inner` with the history events its reads hand out counted; `ignoresToIndex`: a store written before
 * `HistoryRange.toIndex` existed, which reads to the end whatever the range.
 */
function counted(inner: MemoryStore, ignoresToIndex = false): { store: Store; read: (id?: string) => number; reset: () => void } {
  let events = 0;
  const byId = new Map<string, number>();
  const add = (id: string, n: number): void => {
    events += n;
    byId.set(id, (byId.get(id) ?? 0) + n);
  };
  const cut = <T extends { readonly toIndex?: number }>(options: T | undefined): T | undefined => {
    if (!ignoresToIndex || options === undefined) return options;
    const { toIndex: _dropped, ...rest } = options;
    return rest as T;
  };
  const store = new Proxy(inner, {
    get(target, key) {
      if (key === 'getHistory') {
        return async (id: string, options?: { readonly fromIndex?: number; readonly toIndex?: number }) => {
          const history = await target.getHistory(id, cut(options));
          add(id, history.length);
          return history;
        };
      }
      if (key === 'getInstanceHistory') {
        return async (id: string, options?: { readonly fromIndex?: number; readonly toIndex?: number; readonly showInput?: boolean }) => {
          const read = await target.getInstanceHistory(id, cut(options));
          add(id, read.history.length);
          return read;
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as Store;
  return {
    store, read: (id) => (id === undefined ? events : byId.get(id) ?? 0),
    reset: () => {
      events = 0;
      byId.clear();
    },
  };
}

async function ended(ignoresToIndex: boolean): Promise<{ runtime: Runtime; id: string; length: number; read: (id?: string) => number; reset: () => void }> {
  const counter = counted(new MemoryStore(), ignoresToIndex);
  const runtime = createRuntime({
    store: counter.store, logger: silentLogger, orchestrators: { Long: long }, activities: { Add: (i: unknown) => i as number },
  });
  runtimes.push(runtime);
  await runtime.start();
  const id = await runtime.client.startNew('Long', { input: 1000 });
  const done = await runtime.client.waitForCompletion(id, SETTLED);
  expect(done.output).toBe(1000 + 1225);
  const length = (await runtime.client.getStatus(id, { showHistory: true }))!.history!.length;
  expect(length).toBeGreaterThan(4 * RESTART_HISTORY_EVENTS);
  counter.reset();
  return { runtime, id, length, read: counter.read, reset: counter.reset };
}

it('restarts an instance with a long history reading only its first events', async () => {
  const { runtime, id, read } = await ended(false);
  const again = await runtime.client.restart(id, { restartWithNewInstanceId: true });
  expect(read()).toBeLessThanOrEqual(RESTART_HISTORY_EVENTS);
  expect(await runtime.client.waitForCompletion(again, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 2225 });
});

it('restarts, and shows whole histories, on a store that reads to the end whatever the range', async () => {
  const { runtime, id, length, read, reset } = await ended(true);
  const again = await runtime.client.restart(id, { restartWithNewInstanceId: true });
  expect(read()).toBe(length); // what the store read, all of it: the client keeps the first events
  expect(await runtime.client.waitForCompletion(again, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 2225 });
  reset();
  expect((await runtime.client.getStatus(id, { showHistory: true }))!.history).toHaveLength(length);
});

/** Fifty activities one after another, then an event to wait for: a long history, and a step no worker holds. */
const longThenWait: Orchestrator = function* (ctx) {
  let sum = 0;
  for (let i = 0; i < 50; i++) sum += (yield ctx.callActivity('Add', i)) as number;
  ctx.setCustomStatus('waiting');
  return sum + ((yield ctx.waitForExternalEvent('Go')) as number);
};

/** A runtime over a counted MemoryStore whose instance `id` (a `LongThenWait`, or a child of one) waits for `Go`. */
async function waiting(parented: boolean, inner = new MemoryStore()): Promise<{ runtime: Runtime; id: string; read: (id?: string) => number; reset: () => void }> {
  const counter = counted(inner);
  const runtime = createRuntime({
    store: counter.store, logger: silentLogger, activities: { Add: (i: unknown) => i as number },
    orchestrators: {
      LongThenWait: longThenWait,
      Parent: function* (ctx) {
        try {
          return yield ctx.callSubOrchestrator('LongThenWait', undefined, `${ctx.instanceId}-child`);
        } catch (error) {
          return `child ended: ${(error as Error).message}`;
        }
      },
    },
  });
  runtimes.push(runtime);
  await runtime.start();
  const root = await runtime.client.startNew(parented ? 'Parent' : 'LongThenWait');
  const id = parented ? `${root}-child` : root;
  const reset = counter.reset;
  await firstValueFrom(runtime.client.customStatus$(id).pipe(filter((status) => status === 'waiting')));
  reset();
  return { runtime, id, read: counter.read, reset };
}

it('terminates a started sub-orchestration with a long history reading none of it: its state names the parent call', async () => {
  const { runtime, id, read } = await waiting(true);
  const parentId = id.slice(0, -'-child'.length);
  await runtime.client.terminate(id, 'stop');
  // Before, the whole history (some 150 events) was read for the parent link.
  expect(read(id)).toBe(0);
  expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
  const parent = await runtime.client.waitForCompletion(parentId, SETTLED);
  expect(parent).toMatchObject({ runtimeStatus: 'Completed' });
  expect(parent.output).toMatch(/^child ended: .*terminated/);
});

it('resumes an instance with a long history reading only its last events, and the resume runs what it was given', async () => {
  const { runtime, id, read, reset } = await waiting(false);
  await runtime.client.suspend(id, 'hold');
  reset();
  await runtime.client.resume(id, 'go');
  // At first the whole history (some 150 events) was read for what was kept while suspended, then its last 16 events;
  // now none: the state the suspend's step committed says nothing was kept (`suspension`).
  expect(read(id)).toBe(0);
  expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Running' });
  await runtime.client.raiseEvent(id, 'Go', 1000);
  expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 1000 + 1225 });
});

it('resumes an instance that only ever waited for events reading none of its long history, and the resume runs what was kept', async () => {
  // No call or timer in its history: a tail of it cannot tell whether the events before the suspend were kept by an
  // earlier suspend, and the resume read back, twice as far each time, to the start.
  const counter = counted(new MemoryStore());
  const runtime = createRuntime({
    store: counter.store, logger: silentLogger,
    orchestrators: {
      Sum: function* (ctx) {
        let sum = 0;
        for (let i = 0; i < 100; i++) {
          sum += (yield ctx.waitForExternalEvent('Item')) as number;
          ctx.setCustomStatus(i + 1);
        }
        return sum;
      },
    },
  });
  runtimes.push(runtime);
  await runtime.start();
  const id = await runtime.client.startNew('Sum');
  const client = runtime.client;
  const received = (n: number) => firstValueFrom(client.customStatus$(id).pipe(filter((status) => status === n)));
  // One step each: a history of some 300 events.
  for (let i = 1; i <= 98; i++) {
    await client.raiseEvent(id, 'Item', 1);
    await received(i);
  }
  expect((await client.getStatus(id, { showHistory: true }))!.history!.length).toBeGreaterThan(250);
  // Before, the first resume read 291 events: all of them.
  expect(await resumeReads(client, counter, id, 98)).toEqual({ reads: [0, 0], kept: [false, true] });
  await client.raiseEvent(id, 'Item', 1);
  expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 100 });
});

it('resumes a rewound instance reading none of its history, and the resume runs what was kept', async () => {
  // A rewound instance's states never said what a suspend kept (a rewind, it was thought, might leave its history
  // suspended under a Running status), so each of its resumes read the history's tail, back to where it could tell.
  const counter = counted(new MemoryStore());
  let fails = true;
  const runtime = createRuntime({
    store: counter.store, logger: silentLogger,
    orchestrators: {
      Rewound: function* (ctx) {
        yield ctx.callActivity('Flaky');
        let sum = 0;
        for (let i = 0; i < 100; i++) {
          sum += (yield ctx.waitForExternalEvent('Item')) as number;
          ctx.setCustomStatus(i + 1);
        }
        return sum;
      },
    },
    activities: {
      Flaky: () => {
        if (fails) throw new Error('flaky');
        return 'ok';
      },
    },
  });
  runtimes.push(runtime);
  await runtime.start();
  const client = runtime.client;
  const id = await client.startNew('Rewound');
  expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Failed' });
  fails = false;
  await client.rewind(id, 'fixed');
  const received = (n: number) => firstValueFrom(client.customStatus$(id).pipe(filter((status) => status === n)));
  // One step each after the rerun call: a tail of events that cannot tell what an earlier suspend kept.
  for (let i = 1; i <= 40; i++) {
    await client.raiseEvent(id, 'Item', 1);
    await received(i);
  }
  expect((await counter.store.getInstance(id))?.historyEpoch).toBe(1);
  // Before, the first resume read 135 events: the tail, back twice as far each time while it could not tell.
  expect(await resumeReads(client, counter, id, 40)).toEqual({ reads: [0, 0], kept: [false, true] });
  for (let i = 42; i <= 100; i++) await client.raiseEvent(id, 'Item', 1);
  expect(await client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 100 });
});

/**
 * Suspends and resumes `id` (an instance that sums 'Item' events into its custom status, `done` so far) twice: with
 * nothing kept while suspended, then with an item kept, which the resume leaves to a worker that runs the code on it.
 * Returns the history events each resume read and what each Suspended state said was kept (`suspension`), once the
 * kept item ran.
 */
async function resumeReads(
  client: Runtime['client'], counter: ReturnType<typeof counted>, id: string, done: number,
): Promise<{ reads: number[]; kept: (boolean | undefined)[] }> {
  await client.suspend(id, 'hold');
  const kept = [(await counter.store.getInstance(id))?.suspension?.kept];
  counter.reset();
  await client.resume(id, 'go');
  const reads = [counter.read(id)];
  expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Running' });
  await client.suspend(id, 'hold');
  const length = (await client.getStatus(id, { showHistory: true }))!.history!.length;
  await client.raiseEvent(id, 'Item', 1);
  await firstValueFrom(client.history$(id).pipe(skip(length), filter((e) => e.type === 'EventRaised')));
  expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Suspended', customStatus: done });
  kept.push((await counter.store.getInstance(id))?.suspension?.kept);
  counter.reset();
  await client.resume(id, 'go');
  reads.push(counter.read(id));
  await firstValueFrom(client.customStatus$(id).pipe(filter((status) => status === done + 1)));
  return { reads, kept };
}

/** Most characters of JSON one commit may write on a {@link LimitedStore}. */
const LIMIT = 20_000;

/** A MemoryStore that refuses, for good, a commit that writes more than it can store (as MongoStore does with a 413). */
class LimitedStore extends MemoryStore {
  override commit(writeSet: WriteSet) {
    if (JSON.stringify(writeSet).length > LIMIT) return Promise.reject(new PayloadTooLargeError('the write exceeds what this store stores'));
    return super.commit(writeSet);
  }
}

it('fails a started sub-orchestration whose step the store refuses for good reading none of its long history: its state names the parent call', async () => {
  const { runtime, id, read } = await waiting(true, new LimitedStore());
  const parentId = id.slice(0, -'-child'.length);
  // The step that takes it records the event and returns it in its result, sent on to the parent: too large together.
  await runtime.client.raiseEvent(id, 'Go', 'x'.repeat(LIMIT / 2 + 1000));
  const parent = await runtime.client.waitForCompletion(parentId, SETTLED);
  expect(parent.output).toMatch(/^child ended: .*the write exceeds what this store stores/);
  expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
  // Before, the whole history (some 150 events) was read for the parent link.
  expect(read(id)).toBe(0);
});
