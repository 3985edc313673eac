import type { Socket } from 'node:net';
import { defer, filter, finalize, firstValueFrom, throwError, type Observable, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DurableClient } from '../src/client/durable-client.js';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import {
  createHttpHandler, DEFAULT_HEARTBEAT_MS, DEFAULT_RECONNECT_DELAY_MS, DEFAULT_RESUME_WINDOW_MS, type HttpHandler,
  type HttpHandlerOptions,
} from '../src/http/create-http-handler.js';
import { MAX_SUBSCRIPTIONS_PER_SESSION } from '../src/http/session-limits.js';
import { toNativeWireStatus } from '../src/http/wire-status.js';
import { versionedStatus$ } from '../src/client/versioned-status.js';
import { StoreClosedError } from '../src/model/errors/store-closed-error.js';
import { UnavailableError } from '../src/model/errors/unavailable-error.js';
import type { InstanceStatus } from '../src/model/instance-status.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { sampleActivities, sampleOrchestrators, waitForEvents } from '../src/testing/samples.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { silentLogger } from '../src/env/logger.js';
import { SETTLED } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';

/**
 * The Server-Sent Event streams: every committed status in order, ids, `Last-Event-ID` resume after a client or
 * server drop, heartbeats and teardown. Real server on 127.0.0.1; no timing assertions: the handler's heartbeats and
 * resume windows run on a virtual clock that only the test moves.
 */

const KEY = 'stream-key';
const MIB = 1024 * 1024;
const AUTH = { authorization: `Bearer ${KEY}` };
const opened: { server: NodeServer; runtime: Runtime }[] = [];
const readers: SseReader[] = [];
const subscriptions: Subscription[] = [];

afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  for (const reader of readers.splice(0)) reader.cancel();
  for (const { server, runtime } of opened.splice(0)) {
    await server.close();
    await runtime.stop();
  }
});

const orchestrators: Record<string, Orchestrator> = {
  ...sampleOrchestrators,
  WaitForEvents: waitForEvents,
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
  Echo: function* (ctx) {
    return ctx.getInput();
  },
  /** Sets a custom status of about 1 MiB, numbered `<n>:`, on each `Next` event, up to its input. */
  BigStatuses: function* (ctx) {
    for (let n = 1; n <= (ctx.getInput() as number); n++) {
      yield ctx.waitForExternalEvent('Next');
      ctx.setCustomStatus(`${n}:${'s'.repeat(MIB)}`);
    }
    return 'done';
  },
};

interface Harness {
  runtime: Runtime;
  client: DurableClient;
  server: NodeServer;
  handler: HttpHandler;
  base: string;
  /** The handler's clock: heartbeats and resume windows fire only when the test advances it. */
  clock: VirtualClock;
}

async function open(options: Partial<HttpHandlerOptions> = {}, wrap: (client: DurableClient) => DurableClient = (c) => c): Promise<Harness> {
  // Custom statuses of 1 MiB (BigStatuses) are allowed.
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities: sampleActivities, logger: silentLogger, customStatusLimitBytes: 2 * MIB });
  await runtime.start();
  const clock = new VirtualClock();
  const handler = createHttpHandler(wrap(runtime.client), { key: KEY, logger: silentLogger, clock, ...options });
  const server = await serve(handler, { port: 0 });
  opened.push({ server, runtime });
  return { runtime, client: runtime.client, server, handler, base: `${server.url}${WEBHOOK_PATH}`, clock };
}

/**
 * Resolves once the handler has armed the resume window of a dropped connection: with the connection gone (and its
 * heartbeat cleared), the window is the one pending timer (one of `windows`, all armed at this clock time), due one
 * window from now.
 */
async function resumeWindowArmed(clock: VirtualClock, windows = 1): Promise<void> {
  await vi.waitFor(() => {
    expect(clock.pendingTimers).toBe(windows);
    expect(clock.nextTimerAt!.getTime() - clock.now().getTime()).toBe(DEFAULT_RESUME_WINDOW_MS);
  }, { timeout: 60_000, interval: 10 });
}

/**
 * Resolves once the bytes `socket` holds stopped moving: the same count after turns of the event loop in which the
 * reader's side (in this process) had its I/O handled.
 */
async function stoppedMoving(socket: Socket): Promise<void> {
  let last = -1;
  for (let same = 0; same < 5; ) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const now = socket.writableLength;
    same = now === last ? same + 1 : 0;
    last = now;
  }
}

/** One SSE block: an event (with `data`), a comment or a `retry` field. */
interface Block {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
  retry?: number;
}

/** A tiny test-side SSE reader over a fetch response (the real client lives in @durable-rx/rx-client). */
class SseReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly #controller: AbortController;
  #buffer = '';

  constructor(readonly response: Response, controller: AbortController) {
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    this.#controller = controller;
    readers.push(this);
  }

  /** The next block, or undefined when the stream ended. */
  async next(): Promise<Block | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end >= 0) {
        const text = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        return parseBlock(text);
      }
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await this.#reader.read();
      } catch {
        return undefined; // the connection was dropped
      }
      if (chunk.done) return undefined;
      this.#buffer += chunk.value;
    }
  }

  /** The next event (skipping comments and retry fields). */
  async nextEvent(): Promise<Block | undefined> {
    for (;;) {
      const block = await this.next();
      if (!block || block.event !== undefined) return block;
    }
  }

  /** Events up to and including the first that matches. */
  async eventsUntil(last: (block: Block, count: number) => boolean): Promise<Block[]> {
    const events: Block[] = [];
    for (;;) {
      const block = await this.nextEvent();
      if (!block) throw new Error(`stream ended after ${events.length} events`);
      events.push(block);
      if (last(block, events.length)) return events;
    }
  }

  cancel(): void {
    this.#controller.abort();
  }
}

function parseBlock(text: string): Block {
  const block: Block = {};
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) block.comment = line.slice(1).trim();
    else if (line.startsWith('event: ')) block.event = line.slice(7);
    else if (line.startsWith('id: ')) block.id = line.slice(4);
    else if (line.startsWith('data: ')) block.data = (block.data === undefined ? '' : `${block.data}\n`) + line.slice(6);
    else if (line.startsWith('retry: ')) block.retry = Number(line.slice(7));
  }
  return block;
}

async function stream(base: string, path: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const controller = new AbortController();
  const response = await fetch(`${base}${path}`, { headers: { ...AUTH, accept: 'text/event-stream', ...headers }, signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  return new SseReader(response, controller);
}

const statusOf = (block: Block) => JSON.parse(block.data!) as { runtimeStatus: string; customStatus?: unknown } | null;
const isCompleted = (block: Block) => statusOf(block)?.runtimeStatus === 'Completed';
const seqOf = (block: Block) => Number(block.id!.split('.')[1]);
const sessionOf = (block: Block) => block.id!.split('.')[0];

/** The reference: every snapshot the local client's status$ pushes, in the wire form. */
function localSnapshots(
  client: DurableClient, id: string, versions = true,
): { values: string[]; until: (p: (s: InstanceStatus | undefined) => boolean) => Promise<void> } {
  const values: string[] = [];
  const source = client.status$(id);
  // As the stream sends them: each status with its commit version (none from a handler over a wrapped status$).
  subscriptions.push(versionedStatus$(client, id).subscribe(({ status: s, version }) => {
    values.push(JSON.stringify(s ? { ...toNativeWireStatus(s), ...(versions && { version }) } : null));
  }));
  return {
    values,
    until: async (p) => {
      await firstValueFrom(source.pipe(filter(p)));
    },
  };
}

describe('GET /instances/{id}/stream', () => {
  it('sends the retry hint, then the current status and every committed change in order with increasing ids', async () => {
    const { base, client } = await open();
    const reader = await stream(base, '/instances/seq/stream');
    expect(await reader.next()).toEqual({ retry: 1000 });
    const first = await reader.nextEvent();
    expect(first).toMatchObject({ event: 'status', data: 'null' });
    await client.startNew('E1_HelloSequence', { instanceId: 'seq' });
    const events = [first!, ...(await reader.eventsUntil(isCompleted))];
    expect(events.every((e) => e.event === 'status' && sessionOf(e) === sessionOf(first!))).toBe(true);
    expect(events.map(seqOf)).toEqual(events.map((_, i) => i + 1));
    for (let i = 1; i < events.length; i++) expect(events[i]!.data).not.toBe(events[i - 1]!.data);
    const custom = events.map((e) => statusOf(e)?.customStatus).filter((c, i, all) => i === 0 || c !== all[i - 1]);
    expect(custom).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    expect(statusOf(events.at(-1)!)).toMatchObject({ runtimeStatus: 'Completed', output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'] });
  });

  it('delivers exactly what the local status$ pushes', async () => {
    const { base, client } = await open();
    const reference = localSnapshots(client, 'same');
    const reader = await stream(base, '/instances/same/stream');
    await reader.nextEvent();
    await client.startNew('E1_HelloSequence', { instanceId: 'same' });
    const events = await reader.eventsUntil(isCompleted);
    await reference.until((s) => s?.runtimeStatus === 'Completed');
    expect(['null', ...events.map((e) => e.data)]).toEqual(reference.values);
  });

  it('resumes after Last-Event-ID without loss or duplicates when the client drops the connection', async () => {
    const { base, client } = await open();
    const reference = localSnapshots(client, 'drop');
    const first = await stream(base, '/instances/drop/stream');
    await first.nextEvent();
    await client.startNew('WaitForEvents', { instanceId: 'drop', input: 4 });
    await client.raiseEvent('drop', 'Item', 1);
    const before = await first.eventsUntil((b) => JSON.stringify(statusOf(b)?.customStatus) === '{"received":1}');
    first.cancel();
    // Committed while nobody is connected.
    await client.raiseEvent('drop', 'Item', 2);
    await client.raiseEvent('drop', 'Item', 3);
    await reference.until((s) => JSON.stringify(s?.customStatus) === '{"received":3}');
    const lastId = before.at(-1)!.id!;
    const resumed = await stream(base, '/instances/drop/stream', { 'last-event-id': lastId });
    await client.raiseEvent('drop', 'Item', 4);
    const after = await resumed.eventsUntil(isCompleted);
    await reference.until((s) => s?.runtimeStatus === 'Completed');
    expect(after.every((e) => sessionOf(e) === sessionOf(before[0]!))).toBe(true);
    expect(seqOf(after[0]!)).toBe(seqOf(before.at(-1)!) + 1);
    expect(['null', ...before.map((e) => e.data), ...after.map((e) => e.data)]).toEqual(reference.values);
  });

  it('resumes without loss or duplicates after the server drops every connection', async () => {
    const { base, client, server } = await open();
    const reference = localSnapshots(client, 'cut');
    const first = await stream(base, '/instances/cut/stream');
    const initial = await first.nextEvent();
    await client.startNew('WaitForEvents', { instanceId: 'cut', input: 2 });
    await client.raiseEvent('cut', 'Item', 1);
    const before = [initial!, ...(await first.eventsUntil((b) => JSON.stringify(statusOf(b)?.customStatus) === '{"received":1}'))];
    server.server.closeAllConnections();
    expect(await first.next()).toBeUndefined(); // dropped
    await client.raiseEvent('cut', 'Item', 2);
    await reference.until((s) => s?.runtimeStatus === 'Completed');
    const resumed = await stream(base, '/instances/cut/stream', { 'last-event-id': before.at(-1)!.id! });
    const after = await resumed.eventsUntil(isCompleted);
    expect([...before, ...after].map((e) => e.data)).toEqual(reference.values);
    expect([...before, ...after].map(seqOf)).toEqual([...before, ...after].map((_, i) => i + 1));
  });

  it('takes a session over when a reconnect arrives while the old connection still looks open', async () => {
    const { base, client } = await open();
    const old = await stream(base, '/instances/take/stream');
    const first = await old.nextEvent();
    const replacement = await stream(base, '/instances/take/stream', { 'last-event-id': first!.id! });
    expect(await old.nextEvent()).toBeUndefined(); // the old response ends
    await client.startNew('E1_HelloSequence', { instanceId: 'take' });
    const events = await replacement.eventsUntil(isCompleted);
    expect(sessionOf(events[0]!)).toBe(sessionOf(first!));
    expect(seqOf(events[0]!)).toBe(2);
  });

  it('starts a new session with the current snapshot when the Last-Event-ID cannot be resumed', async () => {
    const { base, client, clock } = await open({ resumeBufferBytes: 1 });
    await client.startNew('WaitForEvents', { instanceId: 'gap', input: 3 });
    for (const lastEventId of ['00000000-0000-4000-8000-000000000000.5', 'garbage', `${'9'.repeat(500)}`]) {
      const reader = await stream(base, '/instances/gap/stream', { 'last-event-id': lastEventId });
      const event = await reader.nextEvent();
      expect(seqOf(event!)).toBe(1);
      expect(JSON.parse(event!.data!)).toMatchObject({ instanceId: 'gap' });
      reader.cancel();
    }
    // More events than the buffer holds happened meanwhile: a gap, so a new session.
    const reference = localSnapshots(client, 'gap');
    const first = await stream(base, '/instances/gap/stream');
    const seen = await first.nextEvent();
    first.cancel();
    // The session stops reading once it has seen the drop (the three readers above left a window each): the changes
    // after that are read from the feed, which holds only the latest (a buffer of 1 byte).
    await resumeWindowArmed(clock, 4);
    // Each Item is committed before the next is raised, so the worker cannot take them in one
    // step: three separate changes (received 1, received 2, Completed), more than the buffer holds.
    for (let i = 1; i <= 3; i++) {
      await client.raiseEvent('gap', 'Item', i);
      await reference.until((s) => s?.runtimeStatus === 'Completed' || (s?.customStatus as { received?: number } | undefined)?.received === i);
    }
    await client.waitForCompletion('gap', SETTLED);
    const reader = await stream(base, '/instances/gap/stream', { 'last-event-id': seen!.id! });
    const event = await reader.nextEvent();
    expect(sessionOf(event!)).not.toBe(sessionOf(seen!));
    expect(statusOf(event!)).toMatchObject({ runtimeStatus: 'Completed' });
  });

  it('sends a heartbeat comment every heartbeatMs while nothing changes', async () => {
    const { base, clock } = await open();
    const reader = await stream(base, '/instances/quiet/stream');
    expect(await reader.next()).toEqual({ retry: 1000 });
    expect(await reader.nextEvent()).toMatchObject({ event: 'status', data: 'null' });
    for (let beat = 0; beat < 2; beat++) {
      await clock.advance(DEFAULT_HEARTBEAT_MS);
      expect(await reader.next()).toEqual({ comment: 'heartbeat' });
    }
  });

  it('unsubscribes from the client when the client goes away and the resume window passes', async () => {
    let active = 0;
    const counting = (client: DurableClient): DurableClient => new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'status$') {
          return (id: string): Observable<InstanceStatus | undefined> => defer(() => {
            active++;
            return target.status$(id).pipe(finalize(() => active--));
          });
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const { base, clock } = await open({}, counting);
    const reader = await stream(base, '/instances/gone/stream');
    await reader.nextEvent();
    expect(active).toBe(1);
    reader.cancel();
    await resumeWindowArmed(clock);
    await clock.advance(DEFAULT_RESUME_WINDOW_MS - 1);
    expect(active).toBe(1); // still resumable
    await clock.advance(1);
    expect(active).toBe(0);
  });

  it('ends open streams and unsubscribes when the handler closes', async () => {
    let active = 0;
    const { base, handler } = await open({}, (client) => new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'status$') {
          return (id: string) => defer(() => {
            active++;
            return target.status$(id).pipe(finalize(() => active--));
          });
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    }));
    const reader = await stream(base, '/instances/x/stream');
    await reader.nextEvent();
    handler.close();
    expect(await reader.next()).toBeUndefined();
    expect(active).toBe(0);
    const refused = await fetch(`${base}/instances/x/stream`, { headers: AUTH });
    expect(await refused.json()).toMatchObject({ code: 'unavailable' });
    // No Retry-After, unlike a full server's: the replica replacing this one may serve the client's next attempt.
    expect(refused.headers.get('retry-after')).toBeNull();
  });

  it('sends a final error event when the source fails, then ends the stream', async () => {
    const { base } = await open({}, (client) => new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'status$') return () => throwError(() => new StoreClosedError('The store was closed'));
        return Reflect.get(target, property, receiver) as unknown;
      },
    }));
    const reader = await stream(base, '/instances/x/stream');
    const event = await reader.nextEvent();
    expect(event?.event).toBe('error');
    // With its status and the store's loss marked, so that a client rebuilds it as the server's (not retried as a 500).
    expect(JSON.parse(event!.data!)).toEqual({ code: 'store-closed', message: 'The store was closed', status: 503, storeClosed: true });
    expect(await reader.next()).toBeUndefined();
  });

  it('opens no stream for a HEAD request', async () => {
    const { base } = await open({ maxStreams: 1 });
    for (let i = 0; i < 3; i++) {
      const head = await fetch(`${base}/instances/h/stream`, { method: 'HEAD', headers: AUTH });
      expect(head.status).toBe(200);
    }
    const reader = await stream(base, '/instances/h/stream'); // not refused: the HEADs left no session behind
    expect(await reader.nextEvent()).toMatchObject({ event: 'status', data: 'null' });
  });

  it('answers 503 when maxStreams streams are open', async () => {
    const { base } = await open({ maxStreams: 1 });
    const reader = await stream(base, '/instances/a/stream');
    await reader.nextEvent();
    const refused = await fetch(`${base}/instances/b/stream`, { headers: AUTH });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: 'unavailable' });
  });

  it('holds maxStreams when streams answered together open later (a web body opens when first read)', async () => {
    const { base, handler } = await open({ maxStreams: 1 });
    // Both answers are made before either body is read, so both pass the check made when answering.
    const [first, second] = await Promise.all(['a', 'b'].map((id) => handler(new Request(`${base}/instances/${id}/stream`, { headers: AUTH }))));
    expect([first!.status, second!.status]).toEqual([200, 200]);
    const opened = new SseReader(first!, new AbortController());
    expect((await opened.nextEvent())?.event).toBe('status');
    // The late one ends at once, as a dropped stream (its client reconnects and gets the 503), having said why.
    const late = new SseReader(second!, new AbortController());
    expect(await late.next()).toEqual({ retry: DEFAULT_RECONNECT_DELAY_MS });
    expect(await late.next()).toEqual({ comment: 'too many open streams' });
    expect(await late.next()).toBeUndefined();
    const refused = await handler(new Request(`${base}/instances/b/stream`, { headers: AUTH }));
    expect(refused.status).toBe(503);
  });
});

// Megabytes of JSON through real sockets, dozens of steps each: 10-26 s on an idle machine, 108 s for the slowest with
// six busy loops on the test's core (near the 120 s default), so these get more.
describe('large values and slow readers', { timeout: 300_000 }, () => {
  it('delivers a single value larger than the backlog limit (6 MB) to a reader that keeps up, on the first connection', async () => {
    const { base, client } = await open();
    const output = 'o'.repeat(6 * 1000 * 1000);
    await client.startNew('Echo', { instanceId: 'huge', input: output });
    await client.waitForCompletion('huge', SETTLED);
    const reader = await stream(base, '/instances/huge/stream?untilTerminal=true');
    const events = await reader.eventsUntil((b) => b.event === 'end');
    expect(events.map((b) => b.event)).toEqual(['status', 'end']);
    expect(JSON.parse(events[0]!.data!)).toMatchObject({ runtimeStatus: 'Completed', output });
    expect(await reader.next()).toBeUndefined(); // ended by the server after `end`, not cut
  });

  it('delivers a list larger than the backlog limit on the list stream and in a session', async () => {
    const { base, client } = await open();
    const input = 'i'.repeat(1500 * 1000); // each status carries it twice (input and output): a 9 MB list
    for (const id of ['wide-1', 'wide-2', 'wide-3']) await client.startNew('Echo', { instanceId: id, input });
    for (const id of ['wide-1', 'wide-2', 'wide-3']) await client.waitForCompletion(id, SETTLED);
    const list = await stream(base, '/streams/instances?instanceIdPrefix=wide-&showInput=true');
    const first = (await list.nextEvent())!;
    expect(first.event).toBe('instances');
    expect((JSON.parse(first.data!) as unknown[]).length).toBe(3);
    const hub = await stream(base, '/streams');
    const id = (JSON.parse((await hub.nextEvent())!.data!) as { session: string }).session;
    const subscribed = await fetch(`${base}/streams/${id}/subscriptions`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ subscribe: [{ sub: 'l', kind: 'instances', query: 'instanceIdPrefix=wide-&showInput=true' }] }),
    });
    expect(subscribed.status).toBe(200);
    const value = (await hub.nextEvent())!;
    expect(value.id!.startsWith(`${id}.`)).toBe(true);
    expect((JSON.parse(value.data!) as { sub: string; data: unknown[] }).data).toHaveLength(3);
  });

  /** Two completed instances whose statuses (their 5 MB outputs) are each larger than the backlog limit. */
  async function twoHugeStatuses(client: DurableClient): Promise<string> {
    const output = 'o'.repeat(5 * 1000 * 1000);
    for (const id of ['huge-1', 'huge-2']) await client.startNew('Echo', { instanceId: id, input: output });
    for (const id of ['huge-1', 'huge-2']) await client.waitForCompletion(id, SETTLED);
    return output;
  }

  function subscribeBoth(base: string, id: string): Promise<Response> {
    return fetch(`${base}/streams/${id}/subscriptions`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ subscribe: [{ sub: 'a', kind: 'status', instanceId: 'huge-1' }, { sub: 'b', kind: 'status', instanceId: 'huge-2' }] }),
    });
  }

  /** The `{ sub, data }` of the next two events, which must be the two statuses. */
  async function bothStatuses(reader: SseReader): Promise<{ sub: string; data: { output?: unknown } }[]> {
    const events = await reader.eventsUntil((_, n) => n === 2);
    expect(events.map((b) => b.event)).toEqual(['status', 'status']);
    return events.map((b) => JSON.parse(b.data!) as { sub: string; data: { output?: unknown } }).sort((x, y) => x.sub.localeCompare(y.sub));
  }

  it('delivers two values larger than the limit, written at once by one subscription change, on the same connection', async () => {
    const { base, client } = await open();
    const output = await twoHugeStatuses(client);
    const hub = await stream(base, '/streams');
    const id = (JSON.parse((await hub.nextEvent())!.data!) as { session: string }).session;
    expect((await subscribeBoth(base, id)).status).toBe(200);
    const values = await bothStatuses(hub); // the connection is not cut (it was, and again on every resume)
    expect(values.map((v) => v.sub)).toEqual(['a', 'b']);
    for (const value of values) expect(value.data.output).toBe(output);
  });

  it('resumes a session that owes two values larger than the limit with both, and goes on', async () => {
    const { base, client, clock } = await open();
    const output = await twoHugeStatuses(client);
    const first = await stream(base, '/streams');
    const id = (JSON.parse((await first.nextEvent())!.data!) as { session: string }).session;
    // It holds a subscription whose value it sent (one that holds none and sent nothing but its `session` event is
    // released as its connection goes: nothing to resume).
    const subscribed = await fetch(`${base}/streams/${id}/subscriptions`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ subscribe: [{ sub: 'c', kind: 'status', instanceId: 'small' }] }),
    });
    expect(subscribed.status).toBe(200);
    const read = (await first.nextEvent())!;
    expect(JSON.parse(read.data!)).toEqual({ sub: 'c', data: null });
    first.cancel();
    await resumeWindowArmed(clock);
    expect((await subscribeBoth(base, id)).status).toBe(200); // while nobody reads: both wait for the resume
    const resumed = await stream(base, '/streams', { 'last-event-id': read.id! });
    expect(JSON.parse((await resumed.nextEvent())!.data!)).toEqual({ session: id });
    const values = await bothStatuses(resumed);
    expect(values.map((v) => v.sub)).toEqual(['a', 'b']);
    for (const value of values) expect(value.data.output).toBe(output);
    await client.startNew('Echo', { instanceId: 'huge-1', input: 'small' });
    const next = await resumed.eventsUntil((b) => (JSON.parse(b.data!) as { data: { output?: unknown } }).data.output === 'small');
    expect(next.every((b) => sessionOf(b) === id)).toBe(true);
  });

  for (const then of ['reads again', 'drops its connection and resumes after the last event it read'] as const) {
    it(`stops writing to a reader that stops reading once it is more than the limit behind; one that ${then} gets every value, in order, nothing lost or repeated`, async () => {
      const steps = 96; // far more than the limit and what the sockets on the way hold
      // A resume buffer that holds every value (96 MiB; the default, 4 MiB, holds 3 of them: a reader further behind
      // gets a new stream).
      const { base, client, server, clock } = await open({ resumeBufferBytes: (steps + 1) * (MIB + 1024) });
      await client.startNew('BigStatuses', { instanceId: 'slow', input: steps });
      const sockets: Socket[] = [];
      server.server.on('connection', (socket: Socket) => sockets.push(socket));
      const reader = await stream(base, '/instances/slow/stream');
      const numbers: number[] = [];
      const note = (block: Block) => {
        const custom = statusOf(block)?.customStatus;
        if (typeof custom === 'string') numbers.push(Number(custom.slice(0, custom.indexOf(':'))));
        return numbers.at(-1) === steps;
      };
      const first = (await reader.nextEvent())!; // the first snapshot; then the reader stops reading
      note(first);
      for (let sent = 1; sent <= steps; sent++) {
        await client.raiseEvent('slow', 'Next');
        await firstValueFrom(client.status$('slow').pipe(filter((s) => typeof s?.customStatus === 'string' && s.customStatus.startsWith(`${sent}:`))));
      }
      // What waits on the server for the reader: the limit and one value at most, not every value.
      expect(Math.max(...sockets.map((socket) => socket.writableLength))).toBeLessThan(5 * MIB + 64 * 1024);
      let events: Block[];
      if (then === 'reads again') {
        // Almost a resume window later: a held reader that reads again within it keeps its connection.
        await clock.advance(DEFAULT_RESUME_WINDOW_MS - 1);
        events = await reader.eventsUntil(note);
      } else {
        reader.cancel();
        const resumed = await stream(base, '/instances/slow/stream', { 'last-event-id': first.id! });
        events = await resumed.eventsUntil(note);
      }
      expect(events.every((block) => sessionOf(block) === sessionOf(first))).toBe(true); // the same stream, not started over
      expect(events.map(seqOf)).toEqual(events.map((_, i) => seqOf(first) + 1 + i));
      expect(numbers).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    });
  }

  it('cuts a held reader that takes nothing for a resume window, as a dropped one: its session ends one window later and frees its place in maxStreams', async () => {
    const { base, client, server, clock } = await open({ maxStreams: 1 });
    const steps = 96; // far more than the limit and what the sockets on the way hold
    await client.startNew('BigStatuses', { instanceId: 'stuck', input: steps });
    const sockets: Socket[] = [];
    server.server.on('connection', (socket: Socket) => sockets.push(socket));
    const reader = await stream(base, '/instances/stuck/stream');
    await reader.nextEvent(); // the first snapshot; then the reader stops reading, for good
    for (let sent = 1; sent <= steps; sent++) {
      await client.raiseEvent('stuck', 'Next');
      await firstValueFrom(client.status$('stuck').pipe(filter((s) => typeof s?.customStatus === 'string' && s.customStatus.startsWith(`${sent}:`))));
    }
    expect(sockets).toHaveLength(1);
    const [held] = sockets as [Socket]; // the stream's own connection
    // The server holds the reader back: bytes wait for it that the kernel did not take, the limit and one value at
    // most, and not every value was handed to the socket (bytesWritten counts what waits too). The limit is not a
    // floor: once held, the kernel may still take some of what waits (how much depends on the machine's load).
    expect(held.writableLength).toBeGreaterThan(0);
    expect(held.writableLength).toBeLessThan(5 * MIB + 64 * 1024);
    expect(held.bytesWritten).toBeLessThan(steps * MIB);
    expect((await fetch(`${base}/instances/other/stream`, { headers: AUTH })).status).toBe(503);
    // A window with no byte taken cuts it. Bytes may still move into the client's socket buffers (taken: it waits one
    // more window), for longer on a loaded machine: each window passes once they stopped moving, a few at most.
    for (let window = 0; window < 10 && !held.destroyed; window++) {
      await stoppedMoving(held);
      await clock.advance(DEFAULT_RESUME_WINDOW_MS);
    }
    // Closed by the server, as a dropped connection: its session is resumable for the window, holding its place.
    expect(held.destroyed).toBe(true);
    await resumeWindowArmed(clock);
    expect((await fetch(`${base}/instances/other/stream`, { headers: AUTH })).status).toBe(503);
    await clock.advance(DEFAULT_RESUME_WINDOW_MS);
    // The window passed: the session ended, and a new stream takes its place.
    await stream(base, '/instances/other/stream');
  });
});

describe('GET /streams/instances (list)', () => {
  it('re-emits the filtered list when membership or a member status changes', async () => {
    const { base, client } = await open();
    const reader = await stream(base, '/streams/instances?instanceIdPrefix=live-&showInput=false');
    const list = (block: Block | undefined) => (JSON.parse(block!.data!) as { instanceId: string; runtimeStatus: string; input?: unknown }[]);
    const initial = await reader.nextEvent();
    expect(initial?.event).toBe('instances');
    expect(list(initial)).toEqual([]);
    await client.startNew('WaitForEvents', { instanceId: 'other', input: 1 });
    await client.startNew('WaitForEvents', { instanceId: 'live-1', input: 1 });
    await client.raiseEvent('live-1', 'Item', 'x');
    const events = await reader.eventsUntil((b) => list(b).some((s) => s.runtimeStatus === 'Completed'));
    expect(events.every((e) => list(e).every((s) => s.instanceId === 'live-1' && !('input' in s)))).toBe(true);
    expect(events.map(seqOf)).toEqual(events.map((_, i) => i + 2));
  });

  it('answers 400 for a malformed filter', async () => {
    const { base } = await open();
    const response = await fetch(`${base}/streams/instances?runtimeStatus=Sleeping`, { headers: AUTH });
    expect(response.status).toBe(400);
  });
});

describe('GET /instances/{id}/history/stream', () => {
  it('replays committed history events, then appends new ones as they commit', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvents', { instanceId: 'hist', input: 1 });
    await firstValueFrom(client.status$('hist').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const reader = await stream(base, '/instances/hist/history/stream?positions=true');
    await reader.next(); // retry
    // The history's position first: its id and how many of its events come before the ones that follow (none).
    const position = await reader.nextEvent();
    expect(position?.event).toBe('position');
    expect(JSON.parse(position!.data!)).toEqual({ execution: expect.stringMatching(/\/0$/), events: 0 });
    const replayed = [await reader.nextEvent(), await reader.nextEvent(), await reader.nextEvent()];
    await client.raiseEvent('hist', 'Item', 'x');
    const appended = await reader.eventsUntil((b) => (JSON.parse(b.data!) as { type: string }).type === 'OrchestratorCompleted');
    const types = [...replayed, ...appended].map((b) => (JSON.parse(b!.data!) as { type: string }).type);
    expect(types).toEqual([
      'OrchestratorStarted', 'ExecutionStarted', 'OrchestratorCompleted',
      'OrchestratorStarted', 'EventRaised', 'ExecutionCompleted', 'OrchestratorCompleted',
    ]);
    expect([...replayed, ...appended].every((b) => b!.event === 'history')).toBe(true);
  });

  it('sends a reader that asks for no positions (an older client) history events only, every history from its start', async () => {
    const { base, client } = await open();
    await client.startNew('ContinueOnce', { instanceId: 'plain', input: 0 });
    await firstValueFrom(client.status$('plain').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const reader = await stream(base, '/instances/plain/history/stream');
    await reader.next(); // retry
    const replayed = [await reader.nextEvent(), await reader.nextEvent(), await reader.nextEvent()];
    await client.raiseEvent('plain', 'Go', 1); // continues as new: a second history
    const rest = await reader.eventsUntil((b) => (JSON.parse(b.data!) as { type: string }).type === 'ExecutionStarted');
    const all = [...replayed, ...rest];
    expect(all.map((b) => b!.event)).toEqual(all.map(() => 'history'));
    const types = all.map((b) => (JSON.parse(b!.data!) as { type: string }).type);
    expect(types.slice(0, 3)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'OrchestratorCompleted']);
    expect(types.slice(-2)).toEqual(['OrchestratorStarted', 'ExecutionStarted']); // the second history, from its start
  });

  it('skips the events a reader has by afterExecution and afterEvents, of that history only', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvents', { instanceId: 'pos', input: 1 });
    await firstValueFrom(client.status$('pos').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const first = await stream(base, '/instances/pos/history/stream?positions=true');
    await first.next(); // retry
    const { execution } = JSON.parse((await first.nextEvent())!.data!) as { execution: string };
    const all = [await first.nextEvent(), await first.nextEvent(), await first.nextEvent()].map((b) => JSON.parse(b!.data!) as { type: string });
    // A reader that has the first two events of that history gets the third and what follows.
    const resumed = await stream(base, `/instances/pos/history/stream?afterExecution=${encodeURIComponent(execution)}&afterEvents=2`);
    await resumed.next(); // retry
    const position = await resumed.nextEvent();
    expect(position?.event).toBe('position');
    expect(JSON.parse(position!.data!)).toEqual({ execution, events: 2 });
    expect(JSON.parse((await resumed.nextEvent())!.data!)).toEqual(all[2]);
    await client.raiseEvent('pos', 'Item', 'x');
    expect((JSON.parse((await resumed.nextEvent())!.data!) as { type: string }).type).toBe('OrchestratorStarted');
    // A position in another history (one that started over since) skips nothing.
    const other = await stream(base, '/instances/pos/history/stream?afterExecution=gone%2F0&afterEvents=2');
    await other.next(); // retry
    expect(JSON.parse((await other.nextEvent())!.data!)).toEqual({ execution, events: 0 });
    expect(JSON.parse((await other.nextEvent())!.data!)).toEqual(all[0]);
  });

  it('skips no more than a history has when a position counts more: the events that come later are sent', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvents', { instanceId: 'over', input: 1 });
    await firstValueFrom(client.status$('over').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const first = await stream(base, '/instances/over/history/stream?positions=true');
    await first.next(); // retry
    const { execution } = JSON.parse((await first.nextEvent())!.data!) as { execution: string };
    const had = [await first.nextEvent(), await first.nextEvent(), await first.nextEvent()];
    expect((JSON.parse(had[2]!.data!) as { type: string }).type).toBe('OrchestratorCompleted'); // the whole history: 3 events
    for (const count of [1_000_000_000, 4]) {
      const over = await stream(base, `/instances/over/history/stream?afterExecution=${encodeURIComponent(execution)}&afterEvents=${count}`);
      await over.next(); // retry
      // The position says how many it skipped: the 3 the history has.
      expect(JSON.parse((await over.nextEvent())!.data!)).toEqual({ execution, events: 3 });
      if (count === 4) {
        await client.raiseEvent('over', 'Item', 'x');
        const next = await over.eventsUntil((b) => (JSON.parse(b.data!) as { type: string }).type === 'OrchestratorCompleted');
        expect(next.map((b) => (JSON.parse(b.data!) as { type: string }).type)).toEqual([
          'OrchestratorStarted', 'EventRaised', 'ExecutionCompleted', 'OrchestratorCompleted',
        ]);
      }
    }
  });

  it('takes back the position of a history whose execution id is as long as an id may be', async () => {
    let n = 0;
    const newId = (): string => `${String(++n).padStart(6, '0')}${'x'.repeat(250)}`;
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities: sampleActivities, logger: silentLogger, newId });
    await runtime.start();
    const server = await serve(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, clock: new VirtualClock() }), { port: 0 });
    opened.push({ server, runtime });
    const base = `${server.url}${WEBHOOK_PATH}`;
    await runtime.client.startNew('WaitForEvents', { instanceId: 'long', input: 1 });
    await firstValueFrom(runtime.client.status$('long').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const first = await stream(base, '/instances/long/history/stream?positions=true');
    await first.next(); // retry
    const { execution } = JSON.parse((await first.nextEvent())!.data!) as { execution: string };
    expect(execution.length).toBeGreaterThan(256);
    const again = await stream(base, `/instances/long/history/stream?afterExecution=${encodeURIComponent(execution)}&afterEvents=1`);
    await again.next(); // retry
    expect(JSON.parse((await again.nextEvent())!.data!)).toEqual({ execution, events: 1 });
    expect((JSON.parse((await again.nextEvent())!.data!) as { type: string }).type).toBe('ExecutionStarted');
  });

  it('answers 400 for a malformed position or positions parameter', async () => {
    const { base } = await open();
    for (const query of ['afterExecution=x%2F0', 'afterEvents=1', 'afterExecution=x%2F0&afterEvents=-1', 'afterExecution=x%2F0&afterEvents=1.5',
      'afterExecution=&afterEvents=1', 'afterExecution=x%2F0&afterEvents=1&afterEvents=2', 'positions=yes', 'positions=true&positions=true',
      // A position's reader reads positions: asking for none contradicts it.
      'afterExecution=x%2F0&afterEvents=1&positions=false']) {
      const response = await fetch(`${base}/instances/x/history/stream?${query}`, { headers: AUTH });
      expect(response.status, query).toBe(400);
      expect(await response.json(), query).toMatchObject({ code: 'invalid-argument' });
    }
  });
});


describe('untilTerminal on the single streams', () => {
  it('ends a status stream after the terminal status, and a history stream after the step that made it terminal', async () => {
    const { base, client } = await open();
    const status = await stream(base, '/instances/fin/stream?untilTerminal=true');
    const history = await stream(base, '/instances/fin/history/stream?untilTerminal=true');
    await client.startNew('E1_HelloSequence', { instanceId: 'fin' });
    const statuses = await status.eventsUntil((b) => b.event === 'end');
    expect(statuses.slice(0, -1).every((b) => b.event === 'status')).toBe(true);
    expect(statusOf(statuses.at(-2)!)).toMatchObject({ runtimeStatus: 'Completed' });
    expect(await status.next()).toBeUndefined(); // the response ended
    const events = await history.eventsUntil((b) => b.event === 'end');
    const types = events.slice(0, -1).map((b) => (JSON.parse(b.data!) as { type: string }).type);
    expect(types.slice(-2)).toEqual(['ExecutionCompleted', 'OrchestratorCompleted']);
    expect(types.filter((t) => t === 'TaskCompleted')).toHaveLength(3);
    expect(await history.next()).toBeUndefined();
  });

  it('ends at once, after the snapshot, for an instance that is already terminal', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvents', { instanceId: 'gone', input: 5 });
    await client.terminate('gone', 'stop');
    await client.waitForCompletion('gone', SETTLED);
    const status = await stream(base, '/instances/gone/stream?untilTerminal=true');
    expect((await status.eventsUntil((b) => b.event === 'end')).map((b) => b.event)).toEqual(['status', 'end']);
    const history = await stream(base, '/instances/gone/history/stream?untilTerminal=true');
    const events = await history.eventsUntil((b) => b.event === 'end');
    expect(events.map((b) => b.event === 'history' && (JSON.parse(b.data!) as { type: string }).type)).toContain('ExecutionTerminated');
  });

  it('ends a history stream whose reader has the terminal step already (its position skips it) after the position', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvents', { instanceId: 'had', input: 5 });
    await client.terminate('had', 'stop');
    await client.waitForCompletion('had', SETTLED);
    const whole = await stream(base, '/instances/had/history/stream?untilTerminal=true&positions=true');
    const events = await whole.eventsUntil((b) => b.event === 'end');
    const { execution } = JSON.parse(events[0]!.data!) as { execution: string };
    const count = events.filter((b) => b.event === 'history').length;
    const rest = await stream(base, `/instances/had/history/stream?untilTerminal=true&afterExecution=${encodeURIComponent(execution)}&afterEvents=${count}`);
    const after = await rest.eventsUntil((b) => b.event === 'end');
    expect(after.map((b) => b.event)).toEqual(['position', 'end']);
    expect(JSON.parse(after[0]!.data!)).toEqual({ execution, events: count });
  });

  it('frees an ended stream\'s place in maxStreams at once, not after the resume window', async () => {
    const { base, client } = await open({ maxStreams: 1 });
    await client.startNew('WaitForEvents', { instanceId: 'over', input: 5 });
    await client.terminate('over', 'stop');
    await client.waitForCompletion('over', SETTLED);
    for (const path of ['/instances/over/stream?untilTerminal=true', '/instances/over/history/stream?untilTerminal=true']) {
      for (let i = 0; i < 2; i++) {
        // The one place is free again: the stream before ended (the resume window's clock never moves here).
        const reader = await stream(base, path);
        expect((await reader.eventsUntil((b) => b.event === 'end')).at(-1)?.event).toBe('end');
        expect(await reader.next()).toBeUndefined();
      }
    }
  });

  it('frees a dropped stream that sent no event (no id can resume it) at once, not after the resume window', async () => {
    let active = 0;
    const counting = (client: DurableClient): DurableClient => new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const method = (value as (...args: unknown[]) => unknown).bind(target);
        if (property !== 'historyPositions$') return method;
        // The history stream reads the runtime client's historyPositions$ (history$ with each history's position).
        return (id: string): Observable<unknown> => defer(() => {
          active++;
          return (method(id) as Observable<unknown>).pipe(finalize(() => active--));
        });
      },
    });
    const { base } = await open({ maxStreams: 1 }, counting);
    // An unknown instance has no history: the stream sends its retry hint and no event.
    const silent = await stream(base, '/instances/nobody/history/stream');
    expect(await silent.next()).toEqual({ retry: DEFAULT_RECONNECT_DELAY_MS });
    expect(active).toBe(1);
    silent.cancel();
    await vi.waitFor(() => expect(active).toBe(0), { timeout: 60_000, interval: 10 });
    const next = await stream(base, '/instances/nobody/stream');
    expect((await next.nextEvent())?.data).toBe('null');
  });

  it('answers 204 No Content to a reconnect after the end (what stops an EventSource), and the end alone to one that lost it', async () => {
    const { base, client } = await open();
    await client.startNew('E1_HelloSequence', { instanceId: 'over' });
    await client.waitForCompletion('over', SETTLED);
    const path = '/instances/over/stream?untilTerminal=true';
    // An EventSource: it reconnects with the last id it received whenever a response ends, and stops on a 204.
    const received: Block[] = [];
    let lastEventId: string | undefined;
    let connections = 0;
    for (;;) {
      const response = await fetch(`${base}${path}`, { headers: { ...AUTH, ...(lastEventId && { 'last-event-id': lastEventId }) } });
      if (response.status === 204) {
        expect(await response.text()).toBe('');
        break;
      }
      expect(response.status).toBe(200);
      expect(++connections).toBeLessThan(3);
      const reader = new SseReader(response, new AbortController());
      for (let block = await reader.nextEvent(); block; block = await reader.nextEvent()) {
        received.push(block);
        lastEventId = block.id;
      }
    }
    expect(connections).toBe(1);
    expect(received.map((b) => b.event)).toEqual(['status', 'end']);
    expect(statusOf(received[0]!)).toMatchObject({ runtimeStatus: 'Completed' });
    // A reconnect whose last event was the status (the end was lost on the way) gets the end, under the same id.
    const lost = await stream(base, path, { 'last-event-id': received[0]!.id! });
    expect(await lost.nextEvent()).toEqual({ event: 'end', id: received[1]!.id, data: 'null' });
    expect(await lost.next()).toBeUndefined();
    // The same id on another stream, or no id, opens that stream anew.
    const other = await stream(base, '/instances/over/stream', { 'last-event-id': received[1]!.id! });
    expect(sessionOf((await other.nextEvent())!)).not.toBe(sessionOf(received[1]!));
    const fresh = await stream(base, path);
    expect((await fresh.eventsUntil((b) => b.event === 'end')).map((b) => b.event)).toEqual(['status', 'end']);
  });

  it('serves a reconnect that lost only the end of a finished stream when maxStreams streams are open (it takes no place)', async () => {
    const { base, client } = await open({ maxStreams: 1 });
    await client.startNew('E1_HelloSequence', { instanceId: 'over' });
    await client.waitForCompletion('over', SETTLED);
    const path = '/instances/over/stream?untilTerminal=true';
    const finished = await stream(base, path);
    const received = await finished.eventsUntil((b) => b.event === 'end');
    expect(received.map((b) => b.event)).toEqual(['status', 'end']);
    const holder = await stream(base, '/instances/other/stream'); // the one place
    await holder.nextEvent();
    expect((await fetch(`${base}/instances/b/stream`, { headers: AUTH })).status).toBe(503);
    const lost = await stream(base, path, { 'last-event-id': received[0]!.id! });
    expect(await lost.nextEvent()).toEqual({ event: 'end', id: received[1]!.id, data: 'null' });
    expect(await lost.next()).toBeUndefined();
  });

  it('answers 204 to a reconnect after an error event, and forgets a finished stream when the resume window passes', async () => {
    const { base, clock } = await open({}, (client) => new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'status$') return () => throwError(() => new StoreClosedError('The store was closed'));
        return Reflect.get(target, property, receiver) as unknown;
      },
    }));
    const reader = await stream(base, '/instances/x/stream');
    const error = (await reader.nextEvent())!;
    expect(error.event).toBe('error');
    expect(await reader.next()).toBeUndefined();
    const again = await fetch(`${base}/instances/x/stream`, { headers: { ...AUTH, 'last-event-id': error.id! } });
    expect(again.status).toBe(204);
    await clock.advance(DEFAULT_RESUME_WINDOW_MS);
    // Forgotten: the reconnect opens the stream anew (which fails again here).
    const late = await stream(base, '/instances/x/stream', { 'last-event-id': error.id! });
    const next = (await late.nextEvent())!;
    expect(next.event).toBe('error');
    expect(sessionOf(next)).not.toBe(sessionOf(error));
  });

  it('lets a reconnect after an error worth retrying open the stream anew, which succeeds once the store is back', async () => {
    let failing = true;
    const { base } = await open({}, (client) => new Proxy(client, {
      get(target, property, receiver) {
        if (property !== 'status$') return Reflect.get(target, property, receiver) as unknown;
        // Fails while `failing`, then the client's own (bound: its private fields are not the proxy's).
        return failing ? () => throwError(() => new UnavailableError('The store could not be read')) : target.status$.bind(target);
      },
    }));
    const reader = await stream(base, '/instances/x/stream');
    const error = (await reader.nextEvent())!;
    expect(error.event).toBe('error');
    expect(JSON.parse(error.data!)).toMatchObject({ code: 'unavailable' });
    expect(await reader.next()).toBeUndefined();
    failing = false;
    // An EventSource's reconnect, with the error's id: not 204 (which would stop it for good), the stream anew.
    const again = await stream(base, '/instances/x/stream', { 'last-event-id': error.id! });
    expect(await again.nextEvent()).toMatchObject({ event: 'status', data: 'null' });
  });

  it('answers 400 for a malformed untilTerminal', async () => {
    const { base } = await open();
    expect((await fetch(`${base}/instances/x/stream?untilTerminal=yes`, { headers: AUTH })).status).toBe(400);
  });
});

describe('GET /streams (one session, many subscriptions)', () => {
  /** Opens a session; returns its reader and id (from the first event). */
  async function session(base: string, headers: Record<string, string> = {}): Promise<{ reader: SseReader; id: string; first: Block }> {
    const reader = await stream(base, '/streams', headers);
    const first = (await reader.nextEvent())!;
    expect(first.event).toBe('session');
    return { reader, id: (JSON.parse(first.data!) as { session: string }).session, first };
  }

  function change(base: string, id: string, body: unknown, headers: Record<string, string> = AUTH): Promise<Response> {
    return fetch(`${base}/streams/${id}/subscriptions`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
  }

  it('takes a subscription change larger than a maxBodyBytes lowered to bound inputs, which still bounds a start', async () => {
    const { base } = await open({ maxBodyBytes: 4096 });
    const { id } = await session(base);
    const ids = Array.from({ length: 20 }, (_, n) => `order-${n}-${'x'.repeat(200)}`);
    const body = { subscribe: ids.map((instanceId, n) => ({ sub: `s${n}`, kind: 'status', instanceId })) };
    expect(JSON.stringify(body).length).toBeGreaterThan(4096);
    const answer = await change(base, id, body);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ session: id, subscriptions: 20 });
    const start = await fetch(`${base}/orchestrators/WaitForEvents/big`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify('y'.repeat(5000)),
    });
    expect(start.status).toBe(413);
  });

  it('refuses a list subscription whose query has a percent-escape that is no UTF-8 text, as a request URL is refused', async () => {
    const { base } = await open();
    const { id } = await session(base);
    // Read leniently, `%FF` would be U+FFFD: a prefix no one asked for, or a parameter name no route reads, which
    // leaves the list unfiltered. The same query in a list request's URL is 400.
    for (const query of ['instanceIdPrefix=order-%FF', 'runtimeStatus%FF=Running', 'instanceIdPrefix=%C0%AF']) {
      expect((await fetch(`${base}/instances?${query}`, { headers: AUTH })).status, query).toBe(400);
      const answer = await change(base, id, { subscribe: [{ sub: 'list', kind: 'instances', query }] });
      expect(answer.status, query).toBe(400);
      const body = await answer.json() as { code: string; message: string };
      expect(body.code, query).toBe('invalid-argument');
      expect(body.message, query).toMatch(/percent-escape/);
    }
    // Nothing was subscribed: the session holds no subscription; escapes that spell text are read as sent.
    const ok = await change(base, id, { subscribe: [{ sub: 'list', kind: 'instances', query: 'instanceIdPrefix=%C3%A9%25' }] });
    expect(await ok.json()).toEqual({ session: id, subscriptions: 1 });
  });

  interface SubEvent { sub: string; data?: unknown; error?: { code: string } }
  const payload = (b: Block) => JSON.parse(b.data!) as SubEvent;

  /** A proxy client that counts active subscriptions of every observable. */
  function counting(counter: { active: number }) {
    return (client: DurableClient): DurableClient => new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof property === 'string' && property.endsWith('$') && typeof value === 'function') {
          return (...args: unknown[]) => defer(() => {
            counter.active++;
            return (value as (...a: unknown[]) => Observable<unknown>).apply(target, args).pipe(finalize(() => counter.active--));
          });
        }
        return value;
      },
    });
  }

  it('carries the status of several instances, a list and a history on one connection, each in commit order', async () => {
    const { base, client } = await open();
    const { reader, id } = await session(base);
    const ids = ['m-1', 'm-2', 'm-3'];
    const references = ids.map((i) => localSnapshots(client, i));
    const answer = await change(base, id, {
      subscribe: [
        ...ids.map((instanceId, n) => ({ sub: `s${n}`, kind: 'status', instanceId })),
        { sub: 'list', kind: 'instances', query: 'instanceIdPrefix=m-&showInput=false' },
        { sub: 'hist', kind: 'history', instanceId: 'm-1' },
      ],
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ session: id, subscriptions: 5 });
    for (const instanceId of ids) await client.startNew('E1_HelloSequence', { instanceId });
    const events: Block[] = [];
    const completed = new Set<string>();
    while (completed.size < ids.length) {
      const block = (await reader.nextEvent())!;
      events.push(block);
      const { sub, data } = payload(block);
      if (block.event === 'status' && (data as { runtimeStatus?: string } | null)?.runtimeStatus === 'Completed') completed.add(sub);
    }
    for (const reference of references) await reference.until((s) => s?.runtimeStatus === 'Completed');
    expect(events.map(seqOf)).toEqual(events.map((_, i) => i + 1));
    ids.forEach((_, n) => {
      const mine = events.filter((b) => b.event === 'status' && payload(b).sub === `s${n}`).map((b) => JSON.stringify(payload(b).data));
      expect(mine).toEqual(references[n]!.values.slice(-mine.length));
      expect(mine[0]).toBe('null');
    });
    const lists = events.filter((b) => b.event === 'instances').map((b) => payload(b).data as { instanceId: string }[]);
    expect(lists[0]).toEqual([]);
    expect(lists.at(-1)!.map((s) => s.instanceId)).toEqual(ids);
    const history = events.filter((b) => b.event === 'history').map((b) => (payload(b).data as { type: string }).type);
    expect(history.slice(0, 2)).toEqual(['OrchestratorStarted', 'ExecutionStarted']);
  });

  it('sends a history subscription without positions (an older client\'s) history events only', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvents', { instanceId: 'h-plain', input: 1 });
    await firstValueFrom(client.status$('h-plain').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const { reader, id } = await session(base);
    expect((await change(base, id, { subscribe: [{ sub: 'h', kind: 'history', instanceId: 'h-plain' }] })).status).toBe(200);
    const events = [await reader.nextEvent(), await reader.nextEvent(), await reader.nextEvent()];
    expect(events.map((b) => b!.event)).toEqual(['history', 'history', 'history']);
    expect(events.map((b) => (payload(b!).data as { type: string }).type)).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'OrchestratorCompleted']);
    // Asking for positions is another stream than asking for none.
    const other = await change(base, id, { subscribe: [{ sub: 'h', kind: 'history', instanceId: 'h-plain', positions: true }] });
    expect(other.status).toBe(400);
  });

  it('sends a position before each history, and skips what a subscription\'s after says the client has', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvents', { instanceId: 'h-pos', input: 1 });
    await firstValueFrom(client.status$('h-pos').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const first = await session(base);
    expect((await change(base, first.id, { subscribe: [{ sub: 'h', kind: 'history', instanceId: 'h-pos', positions: true }] })).status).toBe(200);
    const [position, ...events] = [await first.reader.nextEvent(), await first.reader.nextEvent(), await first.reader.nextEvent(), await first.reader.nextEvent()];
    expect(position!.event).toBe('position');
    const { execution } = payload(position!).data as { execution: string };
    expect(payload(position!)).toEqual({ sub: 'h', data: { execution, events: 0 } });
    // A new session (the client could not resume the first): it has the first two events.
    const second = await session(base);
    const after = { execution, events: 2 };
    expect((await change(base, second.id, { subscribe: [{ sub: 'h', kind: 'history', instanceId: 'h-pos', positions: true, after }] })).status).toBe(200);
    expect(payload((await second.reader.nextEvent())!)).toEqual({ sub: 'h', data: after });
    expect(payload((await second.reader.nextEvent())!)).toEqual(payload(events[2]!));
    // The same subscription sent again with another position is the same stream: answered 200, nothing sent again.
    expect((await change(base, second.id, { subscribe: [{ sub: 'h', kind: 'history', instanceId: 'h-pos', positions: true, after: { execution, events: 0 } }] })).status).toBe(200);
    // A position asks for positions by itself: the same stream.
    expect((await change(base, second.id, { subscribe: [{ sub: 'h', kind: 'history', instanceId: 'h-pos', after: { execution, events: 0 } }] })).status).toBe(200);
    await client.raiseEvent('h-pos', 'Item', 'x');
    expect((payload((await second.reader.nextEvent())!).data as { type: string }).type).toBe('OrchestratorStarted');
  });

  it('resumes every subscription after Last-Event-ID without loss or duplicates', async () => {
    const { base, client } = await open();
    const { reader, id } = await session(base);
    const references = ['r-1', 'r-2'].map((i) => localSnapshots(client, i));
    await change(base, id, { subscribe: [{ sub: 'a', kind: 'status', instanceId: 'r-1' }, { sub: 'b', kind: 'status', instanceId: 'r-2' }] });
    await client.startNew('WaitForEvents', { instanceId: 'r-1', input: 3 });
    await client.startNew('WaitForEvents', { instanceId: 'r-2', input: 3 });
    await client.raiseEvent('r-1', 'Item', 1);
    const before = await reader.eventsUntil((b) => JSON.stringify((payload(b).data as { customStatus?: unknown })?.customStatus) === '{"received":1}');
    reader.cancel();
    // Committed while the page is not connected.
    for (const i of [2, 3]) {
      await client.raiseEvent('r-1', 'Item', i);
      await client.raiseEvent('r-2', 'Item', i);
    }
    await client.raiseEvent('r-2', 'Item', 1);
    for (const reference of references) await reference.until((s) => s?.runtimeStatus === 'Completed');
    const resumed = await stream(base, '/streams', { 'last-event-id': before.at(-1)!.id! });
    const sessionEvent = (await resumed.nextEvent())!;
    expect(JSON.parse(sessionEvent.data!)).toEqual({ session: id });
    const done = new Set<string>();
    const after: Block[] = [];
    while (done.size < 2) {
      const block = (await resumed.nextEvent())!;
      after.push(block);
      if ((payload(block).data as { runtimeStatus?: string } | null)?.runtimeStatus === 'Completed') done.add(payload(block).sub);
    }
    const all = [...before, ...after];
    expect(all.map(seqOf)).toEqual(all.map((_, i) => i + 1));
    ['a', 'b'].forEach((sub, n) => {
      const mine = all.filter((b) => payload(b).sub === sub).map((b) => JSON.stringify(payload(b).data));
      expect(mine).toEqual(references[n]!.values.slice(-mine.length));
      expect(mine[0]).toBe('null');
    });
  });

  it('answers a subscribe sent again (its answer lost) as a success and changes nothing: one snapshot, every value once', async () => {
    const counter = { active: 0 };
    const { base, client } = await open({}, counting(counter));
    const { reader, id } = await session(base);
    const reference = localSnapshots(client, 'again', false); // the handler reads the counting status$: no versions
    const a = { sub: 'a', kind: 'status', instanceId: 'again' };
    const list = { sub: 'l', kind: 'instances', query: 'runtimeStatus=Running,Completed&instanceIdPrefix=again' };
    expect((await change(base, id, { subscribe: [a, list] })).status).toBe(200);
    const first = await reader.eventsUntil((b) => payload(b).sub === 'l');
    // Sent again, alone and with a new subscription; the list's filters in another order are the same query.
    const resent = await change(base, id, { subscribe: [a] });
    expect(resent.status).toBe(200);
    expect(await resent.json()).toEqual({ session: id, subscriptions: 2 });
    const reordered = { ...list, query: 'instanceIdPrefix=again&runtimeStatus=Completed,Running' };
    const withNew = await change(base, id, { subscribe: [a, reordered, { sub: 'b', kind: 'status', instanceId: 'again-b' }] });
    expect(await withNew.json()).toEqual({ session: id, subscriptions: 3 });
    expect(counter.active).toBe(3);
    await client.startNew('E1_HelloSequence', { instanceId: 'again' });
    await reference.until((s) => s?.runtimeStatus === 'Completed');
    const rest = await reader.eventsUntil((b) => payload(b).sub === 'a' && (payload(b).data as { runtimeStatus?: string } | null)?.runtimeStatus === 'Completed');
    const all = [...first, ...rest];
    expect(all.map(seqOf)).toEqual(all.map((_, i) => i + 1));
    const mine = all.filter((b) => payload(b).sub === 'a').map((b) => JSON.stringify(payload(b).data));
    expect(mine).toEqual(reference.values.slice(-mine.length));
    expect(mine.filter((v) => v === 'null')).toHaveLength(1); // the snapshot, once
    const lists = all.filter((b) => payload(b).sub === 'l').map((b) => JSON.stringify(payload(b).data));
    expect(lists[0]).toBe('[]');
    expect(lists.filter((v) => v === '[]')).toHaveLength(1);
  });

  it('stops a subscription on unsubscribe and sends close { sub } when its source completes', async () => {
    const counter = { active: 0 };
    const { base, client } = await open({}, counting(counter));
    const { reader, id } = await session(base);
    await change(base, id, { subscribe: [{ sub: 'x', kind: 'status', instanceId: 'u-1' }, { sub: 'y', kind: 'status', instanceId: 'u-2', untilTerminal: true }] });
    expect(counter.active).toBe(2);
    expect((await change(base, id, { unsubscribe: ['x'] })).status).toBe(200);
    expect(counter.active).toBe(1);
    await client.startNew('E1_HelloSequence', { instanceId: 'u-1' });
    await client.startNew('E1_HelloSequence', { instanceId: 'u-2' });
    const events = await reader.eventsUntil((b) => b.event === 'close');
    expect(payload(events.at(-1)!)).toEqual({ sub: 'y' });
    // Before the unsubscribe, 'x' may have sent its first snapshot (null); nothing after it.
    expect(events.filter((b) => payload(b).sub === 'x').every((b) => payload(b).data === null)).toBe(true);
    expect(counter.active).toBe(0);
  });

  it('refuses a malformed change as a whole, an active subscription id and an unknown session', async () => {
    const counter = { active: 0 };
    const { base } = await open({}, counting(counter));
    const { id } = await session(base);
    const ok = { sub: 'ok', kind: 'status', instanceId: 'v' };
    for (const body of [
      [ok], { subscribe: [ok, { sub: 'bad', kind: 'status', instanceId: '' }] }, { subscribe: [ok, { sub: 'k', kind: 'nope' }] },
      { subscribe: [ok, { sub: 'q', kind: 'instances', query: 'runtimeStatus=Sleeping' }] }, { subscribe: [ok, ok] },
      { subscribe: [{ sub: '', kind: 'status', instanceId: 'v' }] }, { unsubscribe: 'ok' },
      // A malformed history position, or one given to another kind.
      ...[
        'x/0', { execution: 'x/0' }, { events: 1 }, { execution: '', events: 1 }, { execution: 'x/0', events: -1 },
        { execution: 'x/0', events: 1.5 }, { execution: 7, events: 1 }, null,
      ].map((after) => ({ subscribe: [ok, { sub: 'h', kind: 'history', instanceId: 'v', after }] })),
      { subscribe: [ok, { ...ok, sub: 's', after: { execution: 'x/0', events: 1 } }] },
      // A malformed positions, positions for another kind, no positions for a position's reader.
      { subscribe: [ok, { sub: 'h', kind: 'history', instanceId: 'v', positions: 'yes' }] },
      { subscribe: [ok, { ...ok, sub: 's', positions: true }] },
      { subscribe: [ok, { sub: 'h', kind: 'history', instanceId: 'v', positions: false, after: { execution: 'x/0', events: 1 } }] },
    ]) {
      const answer = await change(base, id, body);
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ code: 'invalid-argument' });
    }
    expect(counter.active).toBe(0);
    expect((await change(base, id, { subscribe: [ok] })).status).toBe(200);
    for (const other of [{ ...ok, instanceId: 'w' }, { ...ok, untilTerminal: true }, { sub: 'ok', kind: 'history', instanceId: 'v' }]) {
      const answer = await change(base, id, { subscribe: [other] }); // the active id, asked for another stream
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ code: 'invalid-argument' });
    }
    const unknown = await change(base, '00000000-0000-4000-8000-000000000000', { subscribe: [ok] });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'session-not-found' });
    expect(counter.active).toBe(1);
  });

  it('refuses a change that lists more subscriptions than a session holds, to add or to remove, and changes nothing', async () => {
    const counter = { active: 0 };
    const { base } = await open({}, counting(counter));
    const { id } = await session(base);
    expect((await change(base, id, { subscribe: [{ sub: 'a', kind: 'status', instanceId: 'x' }] })).status).toBe(200);
    const many = Array.from({ length: MAX_SUBSCRIPTIONS_PER_SESSION }, (_, n) => `s${n}`);
    for (const body of [
      { unsubscribe: ['a', ...many] },
      { subscribe: [...many, 'extra'].map((sub) => ({ sub, kind: 'status', instanceId: 'x' })) },
    ]) {
      const answer = await change(base, id, body);
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ code: 'invalid-argument' });
    }
    expect(counter.active).toBe(1); // 'a' is still subscribed
    const answer = await change(base, id, { unsubscribe: ['a', ...many.slice(1)] });
    expect(await answer.json()).toEqual({ session: id, subscriptions: 0 });
  });

  it('applies the subscribes a session has room for, after the unsubscribes of the change, and refuses each one past it alone', async () => {
    const { base } = await open();
    const { reader, id } = await session(base);
    const status = (sub: string) => ({ sub, kind: 'status', instanceId: 'x' });
    expect((await change(base, id, { subscribe: ['a', 'b'].map(status) })).status).toBe(200);
    // 'b' leaves first, which makes room for all but the last of these beside 'a'.
    const many = Array.from({ length: MAX_SUBSCRIPTIONS_PER_SESSION }, (_, n) => `s${n}`);
    const last = many.at(-1)!;
    const answer = await change(base, id, { unsubscribe: ['b'], subscribe: many.map(status) });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ session: id, subscriptions: MAX_SUBSCRIPTIONS_PER_SESSION });
    const events = await reader.eventsUntil((b) => b.event === 'close' && payload(b).sub === last);
    expect(events.filter((b) => b.event === 'close').map(payload)).toEqual([{
      sub: last, error: { code: 'invalid-argument', message: `A session holds at most ${MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions`, status: 400 },
    }]);
    // The session carries on: with room made, the refused one is subscribed and gets its snapshot.
    const again = await change(base, id, { unsubscribe: ['a'], subscribe: [status(last)] });
    expect(await again.json()).toEqual({ session: id, subscriptions: MAX_SUBSCRIPTIONS_PER_SESSION });
    const snapshot = await reader.eventsUntil((b) => b.event === 'status' && payload(b).sub === last);
    expect(snapshot.filter((b) => b.event === 'close')).toEqual([]);
  });

  // Dropped: its connection went away while it held no subscription and had sent nothing but its `session` event, so
  // it is released at once, with no resume window (the change in flight does not hold it).
  for (const ended of ['deleted', 'dropped'] as const) it(`answers 404 to a change whose session ended (${ended}) while its body arrived, and subscribes nothing`, async () => {
    const counter = { active: 0 };
    const { base, handler } = await open({}, counting(counter));
    const { id, reader: events } = await session(base);
    let reading!: () => void;
    type Write = (controller: ReadableStreamDefaultController<Uint8Array>) => void;
    let finish!: (write: Write) => void;
    const read = new Promise<void>((resolve) => (reading = resolve));
    const rest = new Promise<Write>((resolve) => (finish = resolve));
    const text = JSON.stringify({ subscribe: [{ sub: 'late', kind: 'status', instanceId: 'late' }] });
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pulls++ === 0) {
          controller.enqueue(new TextEncoder().encode(text.slice(0, 10)));
          reading(); // the handler found the session and is reading the body
          return;
        }
        (await rest)(controller);
      },
    }, { highWaterMark: 0 });
    const answer = handler(new Request(`${base}/streams/${id}/subscriptions`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body, duplex: 'half',
    } as RequestInit));
    await read;
    if (ended === 'deleted') expect((await fetch(`${base}/streams/${id}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    else {
      events.cancel();
      await vi.waitFor(async () => expect((await change(base, id, {})).status).toBe(404), { timeout: SETTLED.timeoutMs, interval: 10 });
    }
    finish((controller) => {
      controller.enqueue(new TextEncoder().encode(text.slice(10)));
      controller.close();
    });
    const response = await answer;
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'session-not-found' });
    expect(counter.active).toBe(0);
  });

  it('checks the key on the session, its changes and its deletion', async () => {
    const { base } = await open();
    const { id } = await session(base);
    expect((await fetch(`${base}/streams`)).status).toBe(401);
    expect((await change(base, id, { subscribe: [] }, {})).status).toBe(401);
    expect((await change(base, id, { subscribe: [] }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await fetch(`${base}/streams/${id}`, { method: 'DELETE' })).status).toBe(401);
  });

  it('releases every subscription when the session is deleted, or when its connection goes away and the window passes', async () => {
    const counter = { active: 0 };
    const { base, clock } = await open({}, counting(counter));
    const first = await session(base);
    await change(base, first.id, { subscribe: [{ sub: 'a', kind: 'status', instanceId: 'd' }, { sub: 'b', kind: 'instances' }] });
    expect(counter.active).toBe(2);
    expect((await fetch(`${base}/streams/${first.id}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    expect(counter.active).toBe(0);
    while ((await first.reader.next()) !== undefined); // the connection ends after what was queued
    expect((await change(base, first.id, { subscribe: [] })).status).toBe(404);

    const second = await session(base);
    await change(base, second.id, { subscribe: [{ sub: 'a', kind: 'history', instanceId: 'd' }] });
    expect(counter.active).toBe(1);
    second.reader.cancel();
    await resumeWindowArmed(clock);
    await clock.advance(DEFAULT_RESUME_WINDOW_MS - 1);
    expect(counter.active).toBe(1); // still resumable
    await clock.advance(1);
    expect(counter.active).toBe(0);
  });

  it('counts a session, however many subscriptions it holds, as one stream against maxStreams', async () => {
    const { base } = await open({ maxStreams: 2 });
    const { id } = await session(base);
    const subscribe = Array.from({ length: 10 }, (_, n) => ({ sub: `s${n}`, kind: 'status', instanceId: `i${n}` }));
    expect((await change(base, id, { subscribe })).status).toBe(200);
    const single = await stream(base, '/instances/one/stream');
    await single.nextEvent();
    const refused = await fetch(`${base}/streams`, { headers: AUTH });
    expect(refused.status).toBe(503);
    expect((await fetch(`${base}/instances/two/stream`, { headers: AUTH })).status).toBe(503);
  });

  it('resumes a dropped session and a dropped single stream when maxStreams are open (they hold their places); a new stream still gets 503', async () => {
    const { base, client, clock } = await open({ maxStreams: 2, retryAfterSeconds: 7 });
    await client.startNew('WaitForEvents', { instanceId: 'full', input: 1 });
    const { reader, id } = await session(base);
    await change(base, id, { subscribe: [{ sub: 'a', kind: 'status', instanceId: 'full' }] });
    const before = await reader.eventsUntil((b) => payload(b).sub === 'a');
    const single = await stream(base, '/instances/full/stream');
    const singleBefore = (await single.nextEvent())!;
    reader.cancel(); // a network blip drops both
    single.cancel();
    await vi.waitFor(() => {
      expect(clock.pendingTimers).toBe(2); // both resume windows, no heartbeat
    }, { timeout: 60_000, interval: 10 });
    for (const path of ['/streams', '/instances/full/stream', '/instances/other/stream']) {
      const refused = await fetch(`${base}${path}`, { headers: AUTH });
      expect(refused.status, path).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('7');
      await refused.body?.cancel();
    }
    // Each reconnect, with the id of its last event, gets its own stream back, numbered on.
    const resumed = await session(base, { 'last-event-id': before.at(-1)!.id! });
    expect(resumed.id).toBe(id);
    const again = await stream(base, '/instances/full/stream', { 'last-event-id': singleBefore.id! });
    await client.raiseEvent('full', 'Item', 1);
    const after = await resumed.reader.eventsUntil((b) => (payload(b).data as { runtimeStatus?: string } | null)?.runtimeStatus === 'Completed');
    expect(after.map(seqOf)).toEqual(after.map((_, i) => before.length + i + 1));
    const singleAfter = await again.eventsUntil(isCompleted);
    expect(sessionOf(singleAfter[0]!)).toBe(sessionOf(singleBefore));
    expect(singleAfter.map(seqOf)).toEqual(singleAfter.map((_, i) => seqOf(singleBefore) + i + 1));
    // Still full: a new session is refused.
    expect((await fetch(`${base}/streams`, { headers: AUTH })).status).toBe(503);
  });

  it('serves, when maxStreams are open, the reconnect of a client whose dropped session can no longer resume it: that session goes at once, not a resume window later', async () => {
    const { base, client, clock } = await open({ maxStreams: 1, resumeBufferBytes: 1 });
    await client.startNew('WaitForEvents', { instanceId: 'lapsed', input: 3 });
    const { reader, id } = await session(base);
    await change(base, id, { subscribe: [{ sub: 'a', kind: 'status', instanceId: 'lapsed' }] });
    const before = await reader.eventsUntil((b) => payload(b).sub === 'a');
    reader.cancel(); // a network blip
    await resumeWindowArmed(clock);
    // More values than the session's feed keeps: it cannot serve what follows the last event its client got, so
    // nobody can resume it, yet it held the one place until its window passed: its own client got 503 meanwhile.
    for (let i = 1; i <= 3; i++) await client.raiseEvent('lapsed', 'Item', i);
    await client.waitForCompletion('lapsed', SETTLED);
    const next = await session(base, { 'last-event-id': before.at(-1)!.id! });
    expect(next.id).not.toBe(id);
    expect(seqOf(next.first)).toBe(0);
    expect((await change(base, id, {})).status).toBe(404); // the old one is gone
    // The new session holds the place: another stream is refused.
    expect((await fetch(`${base}/streams`, { headers: AUTH })).status).toBe(503);
  });

  it('ends a session its own client reconnected from, and can no longer resume, while its old connection is still read (a proxy that stopped forwarding): nothing more is written to it', async () => {
    const { base, client } = await open({ resumeBufferBytes: 1 });
    await client.startNew('WaitForEvents', { instanceId: 'behind', input: 3 });
    const { reader, id } = await session(base);
    await change(base, id, { subscribe: [{ sub: 'a', kind: 'status', instanceId: 'behind' }] });
    const before = await reader.eventsUntil((b) => payload(b).sub === 'a');
    // The client got its first value, then nothing more (it gave up the connection); the server's side of it is still
    // open and read, and more values are written to it than the session keeps.
    for (let i = 1; i <= 3; i++) await client.raiseEvent('behind', 'Item', i);
    await client.waitForCompletion('behind', SETTLED);
    await reader.eventsUntil((b) => (payload(b).data as { runtimeStatus?: string } | null)?.runtimeStatus === 'Completed');
    const next = await session(base, { 'last-event-id': before.at(-1)!.id! });
    expect(next.id).not.toBe(id);
    expect(seqOf(next.first)).toBe(0);
    // The old session is gone with its subscription, and its connection ended: it no longer holds a place, a feed
    // and a write per commit for as long as that connection stays up.
    expect((await change(base, id, {})).status).toBe(404);
    expect(await reader.nextEvent()).toBeUndefined();
  });

  it('keeps a dropped session resumable when a reconnect names it with garbage, a negative or a never-written position', async () => {
    const counter = { active: 0 };
    const { base, client, clock } = await open({}, counting(counter));
    const { reader, id } = await session(base);
    await change(base, id, { subscribe: [{ sub: 'a', kind: 'status', instanceId: 'kept' }] });
    const before = await reader.eventsUntil((b) => payload(b).sub === 'a');
    reader.cancel();
    await resumeWindowArmed(clock);
    for (const bogus of [`${id}.999999999`, `${id}.${'9'.repeat(16)}`, `${id}.-1`, `${id}.1e3`, `${id}`, 'garbage', `${id}.${'x'.repeat(10_000)}`]) {
      const other = await session(base, { 'last-event-id': bogus });
      expect(other.id, bogus).not.toBe(id);
      expect(seqOf(other.first)).toBe(0);
      other.reader.cancel();
    }
    expect(counter.active).toBe(1); // the dropped session still holds its subscription
    await client.startNew('E1_HelloSequence', { instanceId: 'kept' });
    const resumed = await session(base, { 'last-event-id': before.at(-1)!.id! });
    expect(resumed.id).toBe(id);
    const after = await resumed.reader.eventsUntil((b) => (payload(b).data as { runtimeStatus?: string } | null)?.runtimeStatus === 'Completed');
    expect(after.map(seqOf)).toEqual(after.map((_, i) => before.length + i + 1));
  });

  it('starts a new, empty session when the Last-Event-ID cannot be resumed', async () => {
    const { base } = await open();
    const { first } = await session(base);
    const next = await session(base, { 'last-event-id': '00000000-0000-4000-8000-000000000000.3' });
    expect(next.id).not.toBe(sessionOf(first));
    expect(seqOf(next.first)).toBe(0);
  });
});
