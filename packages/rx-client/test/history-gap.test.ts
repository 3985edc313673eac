import { createClient, createRuntime, MemoryStore, silentLogger, type HistoryEvent, type Orchestrator, type Runtime } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve, type NodeServer } from '@durable-rx/runtime/node';
import { filter, firstValueFrom, takeWhile, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { currentHistory$ } from '../src/current-history.js';
import { createRemoteClient } from '../src/index.js';
import { KEY, ownedByEachTest, within } from './harness.js';

/**
 * history$ across a real server restart (the HTTP server closed, a new runtime and handler started on the same store
 * and port): the new server knows none of the old sessions, so the client's reconnect gets a new session. When the
 * instance continued as new twice while the server was down, the history the watch stood in and the one after it are
 * gone from the store (it keeps the current history only), and no server can send them again: history$ must not go
 * on with the third history as if nothing was missed. Nor when the history it stood in grew before it was replaced.
 * When it continued as new once, right after the last event the watch had, nothing was missed: history$ goes on.
 */

const { subscriptions, cleanups } = ownedByEachTest();

const orchestrators: Record<string, Orchestrator> = {
  /** Generation 1 waits for `Go`, generation 2 for `Next` (each then continues as new), generation 3 for `Done`. */
  Generations: function* (ctx) {
    const generation = (ctx.getInput() as number | undefined) ?? 1;
    if (generation === 3) {
      yield ctx.waitForExternalEvent('Done');
      return 'done';
    }
    yield ctx.waitForExternalEvent(generation === 1 ? 'Go' : 'Next');
    ctx.continueAsNew(generation + 1);
    return undefined;
  },
  /** Generation 1 waits for `Go`, then for `Next`, then continues as new; generation 2 waits for `Done`. */
  TwoWaits: function* (ctx) {
    if (ctx.getInput() === 2) {
      yield ctx.waitForExternalEvent('Done');
      return 'done';
    }
    yield ctx.waitForExternalEvent('Go');
    yield ctx.waitForExternalEvent('Next');
    ctx.continueAsNew(2);
    return undefined;
  },
};

interface Server {
  runtime: Runtime;
  server: NodeServer;
}

async function start(store: MemoryStore, port = 0): Promise<Server> {
  const runtime = createRuntime({ store, orchestrators, activities: {}, logger: silentLogger });
  await runtime.start();
  const server = await serve(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, reconnectDelayMs: 20 }), { port });
  cleanups.push(() => runtime.stop(), () => server.close());
  return { runtime, server };
}

/** The executions whose start is in `values`, in order. */
const startsOf = (values: readonly HistoryEvent[]) => values.flatMap((e) => (e.type === 'ExecutionStarted' ? [e.executionId] : []));

/**
 * Restarts the server while instance `id` (a `Generations` in its first execution, which the remote client watches)
 * moves on to its third execution: resolves with the new server once that one waits for `Done`.
 */
async function restartThroughTwoExecutions(store: MemoryStore, first: Server, id: string): Promise<Server> {
  return restartAfter(store, first, async (client) => {
    await client.raiseEvent(id, 'Go');
    await firstValueFrom(client.status$(id).pipe(filter((s) => s?.input === 2 && s.runtimeStatus === 'Running')));
    await client.raiseEvent(id, 'Next');
    await firstValueFrom(client.status$(id).pipe(filter((s) => s?.input === 3 && s.runtimeStatus === 'Running')));
  });
}

/**
 * Stops the server (its HTTP server, then its runtime), runs `down` with a runtime of its own on the store while no
 * server listens, and starts a new server on the same store and port.
 */
async function restartAfter(store: MemoryStore, first: Server, down: (client: Runtime['client']) => Promise<void>): Promise<Server> {
  await first.server.close(); // the client's stream ends; it reconnects (and fails) until the next server listens
  await first.runtime.stop();
  const worker = createRuntime({ store, orchestrators, activities: {}, logger: silentLogger });
  await worker.start();
  await down(worker.client);
  await worker.stop();
  return start(store, first.server.port);
}

/** Watches the history$ of `id` through `remote`: the events so far, the watch's end, and a wait for an event that satisfies `p`. */
function watchHistory(remote: ReturnType<typeof createRemoteClient>, id: string) {
  const values: HistoryEvent[] = [];
  let seen = (): void => undefined;
  const ended = new Promise<unknown>((resolve) => {
    subscriptions.push(remote.history$(id).subscribe({ next: (e) => (values.push(e), seen()), error: resolve, complete: () => resolve('completed') }));
  });
  const until = (p: (values: readonly HistoryEvent[]) => boolean, what: string) =>
    within(Promise.race([new Promise<void>((resolve) => (seen = () => p(values) && resolve())()), ended.then((end) => {
      throw new Error(`history$ ended before ${what}: ${String(end)}`);
    })]), what);
  return { values, ended, until };
}

/** The stored history of `id` now. */
async function historyOf(server: Server, id: string): Promise<readonly HistoryEvent[]> {
  return (await server.runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true }))!.history!;
}

describe('history$ across a server restart, with or without whole executions missed', () => {
  it('fails with UnavailableError rather than go on in a later execution as if none was missed', async () => {
    const store = new MemoryStore();
    const first = await start(store);
    const remote = createRemoteClient({ baseUrl: first.server.url, key: KEY, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } });
    cleanups.push(() => remote.close());
    await first.runtime.client.startNew('Generations', { instanceId: 'gen' });
    const values: HistoryEvent[] = [];
    let seen = (): void => undefined;
    const failed = new Promise<unknown>((resolve) => {
      subscriptions.push(remote.history$('gen').subscribe({ next: (e) => (values.push(e), seen()), error: resolve, complete: () => resolve('completed') }));
    });
    // The first execution's first step (it waits for Go) has arrived.
    await within(new Promise<void>((resolve) => (seen = () => values.at(-1)?.type === 'OrchestratorCompleted' && resolve())()), 'the first step');
    const had = [...values];
    expect(startsOf(had)).toHaveLength(1);

    const second = await restartThroughTwoExecutions(store, first, 'gen');
    const error = await within(failed, 'the failure');
    expect(error).toMatchObject({ name: 'UnavailableError', code: 'unavailable' });
    // Nothing of the third execution was delivered after the first one's events as if it came next.
    expect(values).toEqual(had);

    // Subscribing again reads the current history from its start.
    const again = await within(firstValueFrom(remote.history$('gen').pipe(
      takeWhile((e) => e.type !== 'OrchestratorCompleted', true), toArray(),
    )), 'the current history');
    const current = (await second.runtime.client.getStatus('gen', { showHistory: true, showHistoryOutput: true }))!.history!;
    expect(again).toEqual(current.slice(0, again.length));
    expect(startsOf(again)).toHaveLength(1);
    expect(startsOf(again)[0]).not.toBe(startsOf(had)[0]);
  });

  it('goes on with the next execution, in order, when the one it stood in continued as new right after its last event', async () => {
    const store = new MemoryStore();
    const first = await start(store);
    const remote = createRemoteClient({ baseUrl: first.server.url, key: KEY, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } });
    cleanups.push(() => remote.close());
    await first.runtime.client.startNew('Generations', { instanceId: 'next' });
    const watch = watchHistory(remote, 'next');
    await watch.until((v) => v.at(-1)?.type === 'OrchestratorCompleted', 'the first step');
    const execution1 = await historyOf(first, 'next'); // all of it: it waits for Go
    expect(watch.values).toEqual(execution1);

    const second = await restartAfter(store, first, async (client) => {
      await client.raiseEvent('next', 'Go');
      await firstValueFrom(client.status$('next').pipe(filter((s) => s?.input === 2 && s.runtimeStatus === 'Running')));
    });
    const execution2 = await historyOf(second, 'next'); // all of it: it waits for Next
    expect(startsOf(execution2)).toHaveLength(1);
    await watch.until((v) => v.length === execution1.length + execution2.length, 'the second execution');
    expect(watch.values).toEqual([...execution1, ...execution2]);

    // And on, live: the third execution after the second's last event.
    await second.runtime.client.raiseEvent('next', 'Next');
    await watch.until((v) => startsOf(v).length === 3 && v.at(-1)?.type === 'OrchestratorCompleted', 'the third execution');
    const execution3 = await historyOf(second, 'next');
    expect(watch.values).toEqual([...execution1, ...execution2, ...execution3]);
  });

  it('fails with UnavailableError when the execution it stood in had events it did not get before it continued as new', async () => {
    const store = new MemoryStore();
    const first = await start(store);
    const remote = createRemoteClient({ baseUrl: first.server.url, key: KEY, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } });
    cleanups.push(() => remote.close());
    await first.runtime.client.startNew('TwoWaits', { instanceId: 'grew' });
    const watch = watchHistory(remote, 'grew');
    await watch.until((v) => v.at(-1)?.type === 'OrchestratorCompleted', 'the first step');
    const had = [...watch.values];

    // While the server is down, the first execution takes its Go step (events the watch never gets), then continues.
    await restartAfter(store, first, async (client) => {
      await client.raiseEvent('grew', 'Go');
      await firstValueFrom(client.history$('grew').pipe(filter((e) => e.type === 'EventRaised'))); // its step committed
      await client.raiseEvent('grew', 'Next');
      await firstValueFrom(client.status$('grew').pipe(filter((s) => s?.input === 2 && s.runtimeStatus === 'Running')));
    });
    expect(await within(watch.ended, 'the failure')).toMatchObject({ name: 'UnavailableError', code: 'unavailable' });
    expect(watch.values).toEqual(had);
  });

  it('keeps the current history of a view (currentHistory$) across it: the view shows the new history only', async () => {
    const store = new MemoryStore();
    const first = await start(store);
    const remote = createRemoteClient({ baseUrl: first.server.url, key: KEY, reconnect: { initialDelayMs: 10, maxDelayMs: 100 } });
    cleanups.push(() => remote.close());
    await first.runtime.client.startNew('Generations', { instanceId: 'view' });
    const views: (readonly HistoryEvent[])[] = [];
    let errored: unknown;
    let seen = (): void => undefined;
    subscriptions.push(currentHistory$(remote, 'view').subscribe({ next: (v) => (views.push(v), seen()), error: (e) => (errored = e) }));
    const until = (p: (view: readonly HistoryEvent[]) => boolean, what: string) =>
      within(new Promise<void>((resolve) => (seen = () => views.length > 0 && p(views.at(-1)!) && resolve())()), what);
    await until((v) => v.at(-1)?.type === 'OrchestratorCompleted', 'the first step');
    const [execution1] = startsOf(views.at(-1)!);

    const second = await restartThroughTwoExecutions(store, first, 'view');
    const third = (await second.runtime.client.getStatus('view', { showHistory: true, showHistoryOutput: true }))!.history!;
    await until((v) => v.length === third.length && startsOf(v)[0] !== execution1, 'the third execution');
    expect(views.at(-1)).toEqual(third);
    expect(errored).toBeUndefined();
  });
});


/**
 * A MemoryStore whose history reads (the server's, through a client of its own over it) wait while `hold()` is on,
 * so the instance moves on, on the store itself, before the server reads what it appended: what a busy server does.
 */
function heldReads(store: MemoryStore) {
  let gate: Promise<void> | undefined;
  let open = (): void => undefined;
  const wrapped = new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      if (key !== 'getInstanceHistory' && key !== 'getHistory') return value.bind(target);
      return async (...args: unknown[]) => {
        await gate;
        return value.apply(target, args);
      };
    },
  });
  return {
    store: wrapped,
    hold: () => void (gate = new Promise<void>((resolve) => (open = resolve))),
    release: () => (gate = undefined, open()),
  };
}

/** A worker runtime on `store` and a server whose client reads it through `held`. */
async function startHeld(store: MemoryStore) {
  const held = heldReads(store);
  const runtime = createRuntime({ store, orchestrators, activities: {}, logger: silentLogger });
  await runtime.start();
  const server = await serve(createHttpHandler(createClient({ store: held.store }), { key: KEY, logger: silentLogger }), { port: 0 });
  cleanups.push(() => runtime.stop(), () => server.close());
  const remote = createRemoteClient({ baseUrl: server.url, key: KEY });
  cleanups.push(() => remote.close());
  const inputIs = (id: string, input: number) =>
    firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.input === input && s.runtimeStatus === 'Running')));
  return { runtime, remote, held, inputIs, historyOf: (id: string) => historyOf({ runtime, server }, id) };
}

describe('history$ in a live session, where the instance started over before the server read its history', () => {
  it('goes on, in order, when the new history came right after every event the watch had', async () => {
    const { runtime, remote, held, inputIs, historyOf: current } = await startHeld(new MemoryStore());
    await runtime.client.startNew('Generations', { instanceId: 'live-next' });
    const watch = watchHistory(remote, 'live-next');
    await watch.until((v) => v.at(-1)?.type === 'OrchestratorCompleted', 'the first step');
    const execution1 = await current('live-next'); // all of it: it waits for Go
    expect(watch.values).toEqual(execution1);

    held.hold(); // the server reads the second execution only once it is there
    await runtime.client.raiseEvent('live-next', 'Go');
    await inputIs('live-next', 2);
    const execution2 = await current('live-next'); // all of it: it waits for Next
    held.release();
    await watch.until((v) => v.length === execution1.length + execution2.length, 'the second execution');
    expect(watch.values).toEqual([...execution1, ...execution2]);

    await runtime.client.raiseEvent('live-next', 'Next');
    await watch.until((v) => startsOf(v).length === 3 && v.at(-1)?.type === 'OrchestratorCompleted', 'the third execution');
    expect(watch.values).toEqual([...execution1, ...execution2, ...await current('live-next')]);
  });

  it('fails with UnavailableError when an execution between was replaced before the server read it', async () => {
    const { runtime, remote, held, inputIs } = await startHeld(new MemoryStore());
    await runtime.client.startNew('Generations', { instanceId: 'live-gap' });
    const watch = watchHistory(remote, 'live-gap');
    await watch.until((v) => v.at(-1)?.type === 'OrchestratorCompleted', 'the first step');
    const had = [...watch.values];

    held.hold(); // the second execution starts and continues as new before the server reads any of it
    await runtime.client.raiseEvent('live-gap', 'Go');
    await inputIs('live-gap', 2);
    await runtime.client.raiseEvent('live-gap', 'Next');
    await inputIs('live-gap', 3);
    held.release();
    expect(await within(watch.ended, 'the failure')).toMatchObject({ name: 'UnavailableError', code: 'unavailable' });
    expect(watch.values).toEqual(had); // nothing of the third execution, as if it came next
  });

  it('fails with UnavailableError when the execution it stood in grew and was replaced before the server read it', async () => {
    const { runtime, remote, held, inputIs } = await startHeld(new MemoryStore());
    await runtime.client.startNew('TwoWaits', { instanceId: 'live-tail' });
    const watch = watchHistory(remote, 'live-tail');
    await watch.until((v) => v.at(-1)?.type === 'OrchestratorCompleted', 'the first step');
    const had = [...watch.values];

    held.hold(); // the first execution takes its Go step (events the server never reads), then continues as new
    await runtime.client.raiseEvent('live-tail', 'Go');
    await firstValueFrom(runtime.client.history$('live-tail').pipe(filter((e) => e.type === 'EventRaised'))); // its step committed
    await runtime.client.raiseEvent('live-tail', 'Next');
    await inputIs('live-tail', 2);
    held.release();
    expect(await within(watch.ended, 'the failure')).toMatchObject({ name: 'UnavailableError', code: 'unavailable' });
    expect(watch.values).toEqual(had);
  });
});
