import {
  createClient, createRuntime, MemoryStore, silentLogger, type Activity, type DurableClient, type HistoryEvent,
  type Orchestrator, type Runtime,
} from '@durable-rx/runtime';
import { createHttpHandler, type HttpHandler } from '@durable-rx/runtime/http';
import { serve, type NodeServer } from '@durable-rx/runtime/node';
import { sampleActivities } from '@durable-rx/runtime/samples';
import { describe, expect, it } from 'vitest';
import { createRemoteClient, type RemoteClient } from '../src/index.js';
import { KEY, orchestrators, ownedByEachTest, within } from './harness.js';

/**
 * history$ across stream sessions the server could not resume (its handler restarted: the new one knows none of the
 * old sessions), end to end over real HTTP: the subscription sent to the new session carries where the watch stands,
 * and the server skips what it has. Every remote history must equal the local one (the runtime's own history$, which
 * follows each history that starts over from its first event): nothing lost, nothing twice.
 *
 * The server's client has no worker (so a test can terminate or suspend an execution before it starts); runtimes on
 * the same store run the work when a test starts one.
 */

const testOrchestrators: Record<string, Orchestrator> = {
  ...orchestrators,
  /** Waits for `Go`, then continues as new (input 1), where it waits for `Done`. */
  ContinueOnce: function* (ctx) {
    if (ctx.getInput() === 1) {
      yield ctx.waitForExternalEvent('Done');
      return 'done';
    }
    yield ctx.waitForExternalEvent('Go');
    ctx.continueAsNew(1);
    return undefined;
  },
};

interface Setup {
  /** The client the server's handler serves: no worker. */
  readonly local: DurableClient;
  readonly remote: RemoteClient;
  /** Starts a worker on the store (stopped by the test's end). */
  work(): Promise<Runtime>;
  /**
   * Before the next stream event of the remote client matching `at` (its `data`, parsed) reaches it: restarts the
   * handler and cuts the stream there, so the client reconnects into a new session.
   */
  cutBefore(at: (data: { sub?: string; data?: { type?: string; executionId?: string } }) => boolean): void;
  /**
   * Restarts the handler now: open streams end, their sessions are forgotten. With `positions: false`, the new handler
   * serves a client that sends no history positions (a wrapper of the local client's, as an older server sends none).
   */
  restart(positions?: boolean): void;
  /** Resolves when the remote client has received `count` history positions in all (one per subscription and history). */
  positions(count: number): Promise<void>;
}

const { subscriptions, record, cleanups } = ownedByEachTest();

async function setUp(): Promise<Setup> {
  const store = new MemoryStore();
  const local = createClient({ store });
  const make = (positions = true): HttpHandler =>
    createHttpHandler(positions ? local : withoutPositions(local), { key: KEY, logger: silentLogger, reconnectDelayMs: 20 });
  let handler = make();
  const server: NodeServer = await serve(Object.assign((request: Request) => handler(request), { close: () => handler.close() }), { port: 0 });
  cleanups.push(() => server.close());
  const restart = (positions?: boolean): void => {
    handler.close();
    handler = make(positions);
  };
  let cut: ((data: never) => boolean) | undefined;
  let positionsSeen = 0;
  const waiting = new Set<() => void>();
  const remote = createRemoteClient({
    baseUrl: server.url, key: KEY,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith('/streams') || !response.ok) return response;
      return relayed(response, (block) => {
        const data = dataOf(block);
        if (block.startsWith('event: position')) {
          positionsSeen++;
          for (const wake of waiting) wake();
        }
        if (!cut || data === undefined || !cut(data as never)) return true;
        cut = undefined;
        restart();
        return false;
      });
    },
  });
  cleanups.push(() => remote.close());
  return {
    local,
    remote,
    async work() {
      const runtime = createRuntime({ store, orchestrators: testOrchestrators, activities: sampleActivities as Record<string, Activity>, logger: silentLogger });
      await runtime.start();
      cleanups.push(() => runtime.stop());
      return runtime;
    },
    cutBefore(at) {
      cut = at;
    },
    restart,
    positions(count) {
      return within(new Promise<void>((resolve) => {
        const wake = (): void => {
          if (positionsSeen < count) return;
          waiting.delete(wake);
          resolve();
        };
        waiting.add(wake);
        wake();
      }), `${count} history positions`);
    },
  };
}

/**
 * `client` without the history marks the server reads positions from: a server over it sends no positions and skips
 * nothing, as one of an older release.
 */
function withoutPositions(client: DurableClient): DurableClient {
  return new Proxy(client, {
    get(target, key) {
      if (key === 'historyPositions$') return undefined;
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The parsed `data` of an SSE block, if it has one. */
function dataOf(block: string): unknown {
  const line = block.split('\n').find((l) => l.startsWith('data: '));
  return line === undefined ? undefined : JSON.parse(line.slice(6));
}

/**
 * `response` with its event stream passed on one block at a time; a block `pass` refuses is not passed on, and the
 * stream fails there instead (a cut connection).
 */
function relayed(response: Response, pass: (block: string) => boolean): Response {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = '';
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 2);
          if (pass(block)) return controller.enqueue(encoder.encode(block));
          controller.error(new TypeError('the connection was cut'));
          return void reader.cancel().catch(() => undefined);
        }
        const { done, value } = await reader.read();
        if (done) return controller.close();
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel().catch(() => undefined),
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

/** Whether the last execution in `values` has completed (after its start), with the step that completed it. */
const completed = (values: HistoryEvent[]) => {
  const types = values.map((e) => e.type);
  return types.lastIndexOf('ExecutionCompleted') > types.lastIndexOf('ExecutionStarted') && types.at(-1) === 'OrchestratorCompleted';
};

/** The executions' ids, in the order their starts are in `values`. */
const startsOf = (values: HistoryEvent[]) => values.flatMap((e) => (e.type === 'ExecutionStarted' ? [e.executionId] : []));

describe('history$ after a session the server could not resume', () => {
  it('delivers once a step of the same execution cut in its middle (the ordinary resync)', async () => {
    const { local, remote, work, cutBefore, positions } = await setUp();
    await work();
    await local.startNew('WaitForEvents', { instanceId: 'mid', input: 2 });
    const reference = record<HistoryEvent>(local.history$('mid'));
    const history = record<HistoryEvent>(remote.history$('mid'));
    await within(history.seen((e) => e.type === 'ExecutionStarted'), 'the first step');
    // The stream is cut after the second step's OrchestratorStarted and EventRaised, before the rest of that step.
    cutBefore((d) => d.data?.type === 'OrchestratorCompleted' && history.values.some((e) => e.type === 'EventRaised'));
    await local.raiseEvent('mid', 'Item', 'a');
    await positions(2); // the new session's
    await local.raiseEvent('mid', 'Item', 'b');
    await within(history.seen(() => completed(history.values)), 'the end');
    await within(reference.seen(() => completed(reference.values)), 'the local end');
    expect(history.values).toEqual(reference.values);
  });

  it('delivers once the first step of a continued execution cut between its OrchestratorStarted and its start', async () => {
    const { local, remote, work, cutBefore, positions } = await setUp();
    await work();
    await local.startNew('ContinueOnce', { instanceId: 'cont', input: 0 });
    const reference = record<HistoryEvent>(local.history$('cont'));
    const history = record<HistoryEvent>(remote.history$('cont'));
    const [first] = startsOf(await within(history.seen((e) => e.type === 'ExecutionStarted').then(() => history.values), 'the first step'));
    // Cut before the next execution's start: its OrchestratorStarted has been delivered.
    cutBefore((d) => d.data?.type === 'ExecutionStarted' && d.data.executionId !== first);
    await local.raiseEvent('cont', 'Go');
    await positions(3); // the first execution's, the second's, the new session's
    await within(history.seen((e) => e.type === 'ExecutionStarted' && e.executionId !== first), 'the second start');
    await local.raiseEvent('cont', 'Done');
    await within(history.seen(() => completed(history.values) && startsOf(history.values).length > 1), 'the end');
    await within(reference.seen(() => completed(reference.values) && startsOf(reference.values).length > 1), 'the local end');
    expect(startsOf(history.values)).toHaveLength(2);
    expect(history.values).toEqual(reference.values);
  });

  it('delivers once the first step of an execution suspended before it started, cut before its start', async () => {
    const { local, remote, work, cutBefore, positions } = await setUp();
    const first = await work();
    await local.startNew('Echo', { instanceId: 'susp', input: 1 });
    await local.waitForCompletion('susp', { timeoutMs: 30_000 });
    const reference = record<HistoryEvent>(local.history$('susp'));
    const history = record<HistoryEvent>(remote.history$('susp'));
    await within(history.seen(() => completed(history.values)), 'the first execution');
    await first.stop();
    // A new execution over the completed one, suspended before a worker starts it: its first step records the
    // suspend ahead of its start.
    await local.startNew('Echo', { instanceId: 'susp', input: 2 });
    await local.suspend('susp', 'hold on');
    await positions(2);
    const [execution1] = startsOf(history.values);
    cutBefore((d) => d.data?.type === 'ExecutionStarted' && d.data.executionId !== execution1);
    await work();
    await positions(3); // the new session's
    await within(history.seen((e) => e.type === 'ExecutionStarted' && e.executionId !== execution1), 'the second start');
    await local.resume('susp');
    await within(history.seen(() => completed(history.values) && startsOf(history.values).length > 1), 'the end');
    await within(reference.seen(() => completed(reference.values) && startsOf(reference.values).length > 1), 'the local end');
    expect(history.values.filter((e) => e.type === 'ExecutionSuspended')).toHaveLength(1);
    expect(history.values).toEqual(reference.values);
  });

  it('keeps every event of an execution terminated before it started, replayed after another one, and its start recorded later', async () => {
    const { local, remote, work, restart, positions } = await setUp();
    const first = await work();
    await local.startNew('Echo', { instanceId: 'term', input: 1 });
    await local.waitForCompletion('term', { timeoutMs: 30_000 });
    const reference = record<HistoryEvent>(local.history$('term'));
    const history = record<HistoryEvent>(remote.history$('term'));
    await within(history.seen(() => completed(history.values)), 'the first execution');
    await first.stop();
    // A new execution over the completed one, terminated while its start is queued: its first step holds no start.
    await local.startNew('Echo', { instanceId: 'term', input: 2 });
    await local.terminate('term', 'never mind');
    await within(history.seen(() => history.values.at(-2)?.type === 'ExecutionTerminated' && history.values.at(-1)?.type === 'OrchestratorCompleted'), 'the terminate');
    expect(history.values.at(-3)!.type).toBe('OrchestratorStarted');
    restart(); // the stream ends; its session is forgotten
    await positions(3); // the first execution's, the second's, the new session's
    // A worker takes the queued start: recorded after the terminate, and ignored.
    await work();
    await within(reference.seen((e) => e.type === 'ExecutionStarted' && startsOf(reference.values).length > 1), 'the ignored start');
    await within(history.seen((e) => e.type === 'ExecutionStarted' && startsOf(history.values).length > 1), 'the ignored start, remotely');
    expect(history.values).toEqual(reference.values);
    // Again once the start is in that history, and on into a third execution.
    restart();
    await positions(4);
    await local.startNew('Echo', { instanceId: 'term', input: 3 });
    await within(history.seen(() => completed(history.values) && startsOf(history.values).length > 2), 'the third execution');
    await within(reference.seen(() => completed(reference.values) && startsOf(reference.values).length > 2), 'the local end');
    expect(history.values).toEqual(reference.values);
  });
});

describe('history$ across a server that sends no positions (an older one in a rolling deploy, or over a client of its own)', () => {
  /** history$ of `instanceId`, recorded, with the error it fails with (if it does). */
  function watch(remote: RemoteClient, instanceId: string) {
    const values: HistoryEvent[] = [];
    let seen = (): void => undefined;
    const failed = new Promise<unknown>((resolve) => {
      subscriptions.push(remote.history$(instanceId).subscribe({ next: (e) => (values.push(e), seen()), error: resolve }));
    });
    const until = (p: (values: HistoryEvent[]) => boolean, what: string) => within(new Promise<void>((resolve) => {
      (seen = () => p(values) && resolve())();
    }), what);
    return { values, failed, until };
  }

  it('fails with UnavailableError, repeating nothing, when the new session\'s server sends no position', async () => {
    const { local, remote, work, restart, positions } = await setUp();
    await work();
    await local.startNew('WaitForEvents', { instanceId: 'old-next', input: 2 });
    const history = watch(remote, 'old-next');
    await history.until((v) => v.some((e) => e.type === 'OrchestratorCompleted'), 'the first step');
    await positions(1);
    const had = [...history.values];
    restart(false); // the server now ignores the position the subscription carries, and replays the history
    expect(await within(history.failed, 'the failure')).toMatchObject({ code: 'unavailable' });
    expect(history.values).toEqual(had);
  });

  it('fails with UnavailableError, repeating nothing, when the events it delivered came with no position', async () => {
    const { local, remote, work, restart, positions } = await setUp();
    restart(false);
    await work();
    await local.startNew('WaitForEvents', { instanceId: 'old-first', input: 2 });
    const history = watch(remote, 'old-first');
    await history.until((v) => v.some((e) => e.type === 'OrchestratorCompleted'), 'the first step');
    const had = [...history.values];
    restart(); // a server that sends positions, but the watch has none to carry: it would replay the history
    await positions(1);
    expect(await within(history.failed, 'the failure')).toMatchObject({ code: 'unavailable' });
    expect(history.values).toEqual(had);
  });

  it('goes on across such a server while it has delivered nothing', async () => {
    const { local, remote, work, restart, positions } = await setUp();
    // Started with no worker yet: its history has no events, and its position is all the watch gets.
    await local.startNew('WaitForEvents', { instanceId: 'later', input: 1 });
    const reference = record<HistoryEvent>(local.history$('later'));
    const history = watch(remote, 'later');
    await positions(1);
    restart(false);
    await work();
    await local.raiseEvent('later', 'Item', 'x');
    await history.until(completed, 'the end');
    await within(reference.seen(() => completed(reference.values)), 'the local end');
    expect(history.values).toEqual(reference.values);
  });
});
