import { Subject, finalize, defer as deferred } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { SESSION, SessionHub, type SessionHubOptions } from '../src/http/session-hub.js';
import { HeartbeatQueue } from '../src/http/heartbeat-queue.js';
import { SseConnection, type SseWriter } from '../src/http/sse-connection.js';
import { eventLength, putEvent } from '../src/http/sse-event.js';
import { frameWeight, type FeedSpec } from '../src/http/stream-feed.js';
import { silentLogger } from '../src/env/logger.js';
import { systemClock } from '../src/env/clock.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { echo, sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { failPlatformTimers, HandClock, nextTurn, T0 } from './hand-clock.js';

/**
 * The stream hub's fan-out, driven directly: one source and one serialisation per watched thing, fan-out spread over
 * turns of the event loop without reordering, sessions that stop reading when their connection goes and catch up
 * from the feed when it comes back. The turns are driven by hand (no timers, no timing).
 */

const decoder = new TextDecoder();

/**
 * A writer that records each message, and the shared bytes it was given. Its reader takes everything at once, unless
 * it is `stalled`: then the events written wait until `drain()`.
 */
class RecordingWriter implements SseWriter {
  readonly messages: string[] = [];
  readonly shared: Uint8Array[] = [];
  ended = false;
  stalled = false;
  #unread = 0;
  #drained: (() => void) | undefined;
  write(head: Uint8Array, session: string, seq: number, sub: string | undefined, data: Uint8Array): void {
    this.shared.push(data);
    const bytes = new Uint8Array(eventLength(head, session, seq, sub, data));
    putEvent(bytes, 0, head, session, seq, sub, data);
    this.messages.push(decoder.decode(bytes));
    if (this.stalled) this.#unread += bytes.length;
  }
  /** The reader takes `bytes` of what waits, and stays stalled. */
  take(bytes: number): void {
    this.#unread -= bytes;
  }
  /** The reader takes what waits, and reads on without stalling. */
  drain(): void {
    this.stalled = false;
    this.#unread = 0;
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
  }
  writeText(text: string): void {
    this.messages.push(text);
  }
  get backlog(): number {
    return this.#unread;
  }
  drained(callback: () => void): void {
    this.#drained = callback;
  }
  end(): void {
    this.ended = true;
  }
  abort(): void {
    this.ended = true;
  }
  /** The `data` values of the `status` events, parsed. */
  values(): unknown[] {
    return this.messages.filter((m) => m.startsWith('event: status')).map((m) => JSON.parse(/\ndata: (.*)\n\n$/.exec(m)![1]!) as unknown);
  }
  ids(): string[] {
    return this.messages.flatMap((m) => /\nid: (\S+)\n/.exec(m)?.[1] ?? []);
  }
}

/** Turns of the event loop, run by hand. */
class Turns {
  readonly #queue: (() => void)[] = [];
  readonly defer = (callback: () => void) => void this.#queue.push(callback);
  get pending(): number {
    return this.#queue.length;
  }
  runAll(): void {
    while (this.#queue.length > 0) this.#queue.shift()!();
  }
}

function setup(options: Partial<SessionHubOptions> = {}) {
  const turns = new Turns();
  const hub = new SessionHub({
    resumeWindowMs: 60_000, bufferBytes: 1 << 20, maxSubscriptions: 10, maxSessions: 100, sliceSize: 2, clock: systemClock,
    errorBody: () => ({ code: 'internal', message: 'failed' }), logger: silentLogger, ...options,
  }, turns.defer);
  const source = new Subject<unknown>();
  const counts = { subscribed: 0, active: 0 };
  const spec: FeedSpec = {
    key: 'status\u0000x', event: 'status',
    source: () => deferred(() => {
      counts.subscribed++;
      counts.active++;
      return source.pipe(finalize(() => counts.active--));
    }),
  };
  const heartbeats = new HeartbeatQueue(systemClock, 60_000, silentLogger);
  const connect = (lastEventId?: string, writer = new RecordingWriter()) => {
    const connection = new SseConnection(writer, { heartbeats, retryMs: 1000, maxBacklogBytes: 1 << 20 });
    hub.open({ kind: 'single', key: 'x', spec, untilTerminal: false }, lastEventId, connection);
    return { writer, connection };
  };
  return { hub, turns, source, counts, connect };
}

/** A value's bytes as a feed encodes it (what `frameWeight` counts). */
function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

describe('stream fan-out', () => {
  it('subscribes a watched source once and writes the same serialised bytes to every connection', () => {
    const { hub, source, counts, connect } = setup({ sliceSize: 100 });
    const readers = [connect(), connect(), connect()];
    source.next({ n: 1 });
    source.next({ n: 2 });
    expect(counts.subscribed).toBe(1);
    for (const { writer } of readers) expect(writer.values()).toEqual([{ n: 1 }, { n: 2 }]);
    const [a, b, c] = readers.map((r) => r.writer.shared);
    expect(a![0]).toBe(b![0]);
    expect(a![1]).toBe(c![1]);
    hub.close();
    expect(counts.active).toBe(0);
  });

  it('serves a large audience over several turns, each connection in commit order, nothing lost', () => {
    const { hub, turns, source, connect } = setup({ sliceSize: 2 });
    const readers = Array.from({ length: 7 }, () => connect());
    source.next(1);
    expect(readers.filter((r) => r.writer.values().length === 1)).toHaveLength(2); // the first slice at once
    expect(turns.pending).toBe(1);
    source.next(2); // committed while the first value is still fanning out
    source.next(3);
    turns.runAll();
    for (const { writer } of readers) {
      expect(writer.values()).toEqual([1, 2, 3]);
      expect(writer.ids().map((id) => Number(id.split('.')[1]))).toEqual([1, 2, 3]);
    }
    hub.close();
  });

  it('gives a new connection the current value first, then the next ones', () => {
    const { hub, turns, source, connect } = setup();
    connect();
    source.next('a');
    source.next('b');
    const late = connect();
    source.next('c');
    turns.runAll();
    expect(late.writer.values()).toEqual(['b', 'c']);
    hub.close();
  });

  it('stops writing for a dropped connection at once and resumes it from the feed: no loss, no repeats', () => {
    const { hub, turns, source, counts, connect } = setup({ sliceSize: 1 });
    const other = connect();
    const first = connect();
    source.next(1);
    turns.runAll();
    const lastId = first.writer.ids().at(-1)!;
    first.connection.gone();
    source.next(2);
    source.next(3);
    turns.runAll();
    expect(first.writer.values()).toEqual([1]);
    expect(counts.active).toBe(1); // still held for the resume
    const resumed = connect(lastId);
    source.next(4);
    turns.runAll();
    expect(resumed.writer.values()).toEqual([2, 3, 4]);
    expect(resumed.writer.ids()).toEqual([2, 3, 4].map((n) => `${lastId.split('.')[0]}.${n}`));
    expect(other.writer.values()).toEqual([1, 2, 3, 4]);
    hub.close();
    expect(counts.active).toBe(0);
  });

  it('starts a new session when the feed no longer holds what a dropped connection missed', () => {
    const { hub, turns, source, connect } = setup({ bufferBytes: 2 * frameWeight(encode(2)) }); // two of these values
    connect(); // keeps the feed alive
    const first = connect();
    source.next(1);
    turns.runAll();
    const lastId = first.writer.ids().at(-1)!;
    first.connection.gone();
    for (const n of [2, 3, 4]) source.next(n);
    turns.runAll();
    const next = connect(lastId);
    expect(next.writer.ids()[0]!.split('.')[0]).not.toBe(lastId.split('.')[0]);
    expect(next.writer.values()).toEqual([4]);
    hub.close();
  });
});

describe('a connection whose reader is more than the backlog limit behind', () => {
  it('gets nothing more until its reader took what it has, then every value in order and, last, the end of a stream that ended meanwhile', () => {
    const { hub, source } = setup();
    const spec: FeedSpec = { key: 'status\u0000y', event: 'status', source: () => source, isTerminal: (value) => value === 'last' };
    const writer = new RecordingWriter();
    writer.stalled = true;
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(systemClock, 60_000, silentLogger), retryMs: 1000, maxBacklogBytes: 100 });
    hub.open({ kind: 'single', key: 'y', spec, untilTerminal: true }, undefined, connection);
    const large = 'a'.repeat(150);
    source.next(large); // more than the limit: written whole, and the connection is full
    source.next('b');
    source.next('last');
    expect(writer.values()).toEqual([large]);
    expect(writer.ended).toBe(false);
    writer.drain();
    expect(writer.values()).toEqual([large, 'b', 'last']);
    expect(writer.messages.at(-1)).toMatch(/^event: end\n/);
    expect(writer.ids().map((id) => Number(id.split('.')[1]))).toEqual([1, 2, 3, 4]);
    expect(writer.ended).toBe(true);
    expect(hub.size).toBe(0);
    hub.close();
  });

  it('ends the session when a feed no longer holds what it needs by the time its reader took what it had; the reconnect gets a new one', () => {
    const { hub, source, connect } = setup({ bufferBytes: 4 * frameWeight(encode(1)) }); // four of these values
    const spec: FeedSpec = { key: 'status\u0000z', event: 'status', source: () => source };
    const writer = new RecordingWriter();
    writer.stalled = true;
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(systemClock, 60_000, silentLogger), retryMs: 1000, maxBacklogBytes: 100 });
    hub.open({ kind: 'single', key: 'x', spec, untilTerminal: false }, undefined, connection);
    source.next('a'.repeat(150));
    for (let n = 1; n <= 5; n++) source.next(n); // one more than the feed keeps
    expect(writer.ended).toBe(false); // held, not cut
    writer.drain();
    expect(writer.values()).toEqual(['a'.repeat(150)]);
    expect(writer.ended).toBe(true);
    expect(hub.size).toBe(0);
    const next = connect(writer.ids()[0]);
    source.next(6);
    expect(next.writer.values()).toEqual([6]);
    expect(next.writer.ids()[0]!.split('.')[0]).not.toBe(writer.ids()[0]!.split('.')[0]);
    hub.close();
  });
});

describe("a held connection whose hub's clock fails to arm its watch again", () => {
  it('throws nothing out of the watch, cuts the reader that took nothing since, and ends the session after its window', async () => {
    /** A virtual clock that fails to arm a timer while `failing`. */
    class ClockThatFailsToArm extends VirtualClock {
      failing = false;
      override setTimeout(callback: () => void, delayMs: number) {
        if (this.failing) throw new Error('this clock cannot arm a timer');
        return super.setTimeout(callback, delayMs);
      }
    }
    const clock = new ClockThatFailsToArm(new Date());
    const errors: string[] = [];
    // A short window: the platform's timer stands in for the clock's, so it runs on real time.
    const { hub, source } = setup({ clock, resumeWindowMs: 20, logger: { warn() {}, error: (message) => void errors.push(message) } });
    const spec: FeedSpec = { key: 'status\u0000w', event: 'status', source: () => source };
    const writer = new RecordingWriter();
    writer.stalled = true;
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(systemClock, 60_000, silentLogger), retryMs: 1000, maxBacklogBytes: 100 });
    hub.open({ kind: 'single', key: 'w', spec, untilTerminal: false }, undefined, connection);
    source.next('a'.repeat(150)); // over the limit: the connection is held, and watched on the clock
    expect(clock.pendingTimers).toBe(1);
    writer.take(10); // its reader took some: the watch waits one more window, which the clock fails to arm
    clock.failing = true;
    await clock.advance(20);
    expect(errors.filter((message) => message.includes('arm'))).toHaveLength(1);
    // The platform's timer stands in: the reader took nothing since, so it is cut; then its resume window passes.
    await within((async () => {
      while (!writer.ended || hub.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    })(), 'the held connection cut and its session ended');
    hub.close();
  });
});

describe('a dropped session whose resume window neither the clock nor the platform can arm', () => {
  /** A session on a HandClock, dropped while no timer can be set; `platform` still fails until restored. */
  function droppedUnarmable() {
    const clock = new HandClock();
    const errors: string[] = [];
    const { hub, turns, source, connect } = setup({ clock, logger: { warn() {}, error: (message) => void errors.push(message) } });
    const first = connect();
    source.next(1);
    turns.runAll();
    clock.refusing = true;
    const platform = failPlatformTimers();
    try {
      first.connection.gone();
    } catch (error) {
      platform.restore();
      throw error;
    }
    return { clock, errors, hub, platform };
  }

  it('arms it at the next turn once the timers work again, and ends after it', async () => {
    const { clock, errors, hub, platform } = droppedUnarmable();
    platform.restore();
    clock.refusing = false;
    await nextTurn();
    // Before, none was armed: the session held its place of maxStreams for good.
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 60_000]);
    expect(hub.size).toBe(1);
    clock.ms = T0 + 60_000;
    clock.fireDue();
    expect(hub.size).toBe(0);
    expect(errors).toEqual([expect.stringContaining('tried again at the next turn')]);
    hub.close();
  });

  it('ends at once when the timers still fail after its tries, freeing its place', async () => {
    const { clock, errors, hub, platform } = droppedUnarmable();
    try {
      for (let turn = 0; turn < 4; turn++) await nextTurn();
    } finally {
      platform.restore();
    }
    expect(clock.refused).toBe(4);
    expect(hub.size).toBe(0);
    expect(errors).toEqual([expect.stringContaining('tried again at the next turn'), expect.stringContaining('it ends now')]);
    hub.close();
  });
});

describe('a held session whose watch neither the clock nor the platform can arm', () => {
  it('ends once its tries are over, its connection cut, and says so once', async () => {
    const clock = new HandClock();
    const errors: string[] = [];
    const { hub, source } = setup({ clock, logger: { warn() {}, error: (message) => void errors.push(message) } });
    const spec: FeedSpec = { key: 'status\u0000h', event: 'status', source: () => source };
    const writer = new RecordingWriter();
    writer.stalled = true;
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(systemClock, 60_000, silentLogger), retryMs: 1000, maxBacklogBytes: 100 });
    hub.open({ kind: 'single', key: 'h', spec, untilTerminal: false }, undefined, connection);
    clock.refusing = true;
    const platform = failPlatformTimers();
    try {
      source.next('a'.repeat(150)); // over the limit: the connection is held, and its watch fails to arm
      for (let turn = 0; turn < 4; turn++) await nextTurn();
    } finally {
      platform.restore();
    }
    expect(writer.ended).toBe(true);
    expect(hub.size).toBe(0);
    // Before, it was said twice: as the held connection was cut, and again as its resume window failed to arm.
    expect(errors.filter((message) => message.includes('it ends now'))).toHaveLength(1);
    hub.close();
  });
});

describe('a hub closed while a connection throws as it ends', () => {
  it('ends and releases every other session, reporting the one that threw', () => {
    const errors: string[] = [];
    const { hub, source, counts, connect } = setup({ logger: { warn() {}, error: (message) => void errors.push(message) } });
    const broken = new RecordingWriter();
    broken.end = () => {
      throw new Error('injected: a broken socket');
    };
    const writers = [connect().writer, connect(undefined, broken).writer, connect().writer];
    source.next(1);
    expect(() => hub.close()).not.toThrow();
    // Before, the loop stopped at the broken one: the sessions after it stayed open, holding their feeds.
    expect(writers.map((writer) => writer.ended)).toEqual([true, false, true]);
    expect(hub.size).toBe(0);
    expect(counts.active).toBe(0);
    expect(errors).toEqual([expect.stringContaining('ending a stream as the handler closed failed')]);
  });
});

describe('a held session asked for subscriptions it has no room for', () => {
  /**
   * A stream session (room for 2 subscriptions; the bytes of 3 refusals resent on resume, so 6 of them wait for its
   * reader at most) whose reader stopped reading: a value over the backlog limit holds it. Each subscribe past its room
   * is refused by a `close` event, which waits for the reader.
   */
  function heldSession() {
    const refusal = frameWeight(encode({ sub: 'refused-0', error: { code: 'internal', message: 'failed' } }));
    const { hub, source } = setup({ maxSubscriptions: 2, bufferBytes: 3 * refusal });
    const writer = new RecordingWriter();
    writer.stalled = true;
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(systemClock, 60_000, silentLogger), retryMs: 1000, maxBacklogBytes: 100 });
    hub.open(SESSION, undefined, connection);
    const id = (JSON.parse(/\ndata: (.*)\n\n$/.exec(writer.messages.find((m) => m.startsWith('event: session'))!)![1]!) as { session: string }).session;
    const session = hub.get(id)!;
    const spec: FeedSpec = { key: 'status\u0000held', event: 'status', source: () => source };
    session.subscribe('a', spec, false, 'a');
    session.subscribe('b', spec, false, 'b');
    source.next('x'.repeat(150)); // over the limit: the session is held
    const refuse = (count: number) => {
      for (let n = 0; n < count; n++) session.subscribe(`refused-${n}`, spec, false, `refused-${n}`);
    };
    const closes = () => writer.messages.filter((m) => m.startsWith('event: close')).map((m) => (JSON.parse(/\ndata: (.*)\n\n$/.exec(m)![1]!) as { sub: string }).sub);
    return { hub, writer, refuse, closes };
  }

  it('sends each refusal once its reader took what it had, in order, as long as they stay within what a session holds', () => {
    const { hub, writer, refuse, closes } = heldSession();
    refuse(6); // twice its resend buffer
    expect(closes()).toEqual([]);
    writer.drain();
    expect(closes()).toEqual([0, 1, 2, 3, 4, 5].map((n) => `refused-${n}`));
    expect(writer.ended).toBe(false);
    expect(hub.size).toBe(1);
    hub.close();
  });

  // Each refusal was queued for a reader that takes nothing: a client with the key could grow the server's memory
  // without bound, one request of 1000 refused subscribes after another.
  it('ends, as a session that fell too far behind, once more refusals wait than it holds: the server keeps no more of them', () => {
    const { hub, writer, refuse, closes } = heldSession();
    refuse(7);
    expect(writer.ended).toBe(true);
    expect(hub.size).toBe(0);
    refuse(1000); // a session that ended keeps nothing
    writer.drain();
    expect(closes()).toEqual([]);
    hub.close();
  });
});

describe('a connection found gone when its stream\'s end is written', () => {
  // The send closed the connection (its session detached), and the session was then disposed as finished anyway: a
  // reconnect after an event before the last (the last was in flight when the socket died) got a new stream, not the
  // resume (for a history stream, every event again).
  it('leaves the session resumable: a reconnect that missed the last value gets it and the end, in the same session', () => {
    const { hub, source } = setup();
    const spec: FeedSpec = { key: 'status\u0000e', event: 'status', source: () => source, isTerminal: (value) => value === 'last' };
    // A socket destroyed right after the terminal value went out (it never arrived): the end event finds it gone.
    class DyingWriter extends RecordingWriter {
      get gone(): boolean {
        return this.values().includes('last');
      }
    }
    const heartbeats = new HeartbeatQueue(systemClock, 60_000, silentLogger);
    const writer = new DyingWriter();
    const connection = new SseConnection(writer, { heartbeats, retryMs: 1000, maxBacklogBytes: 1 << 20 });
    const mode = { kind: 'single', key: 'e', spec, untilTerminal: true } as const;
    hub.open(mode, undefined, connection);
    source.next('first');
    source.next('last');
    expect(writer.values()).toEqual(['first', 'last']);
    expect(writer.messages.some((m) => m.startsWith('event: end'))).toBe(false);
    expect(connection.open).toBe(false);
    const received = writer.ids()[0]!; // the client got 'first' only

    const again = new RecordingWriter();
    hub.open(mode, received, new SseConnection(again, { heartbeats, retryMs: 1000, maxBacklogBytes: 1 << 20 }));
    expect(again.values()).toEqual(['last']);
    expect(again.messages.at(-1)).toMatch(/^event: end\n/);
    expect(again.ids().map((id) => id.split('.')[0])).toEqual([received.split('.')[0], received.split('.')[0]]);
    expect(again.ended).toBe(true);
    expect(hub.size).toBe(0);
    hub.close();
  });
});

/** A writer whose socket breaks as its `breakAt`-th event is written: that write and every one after throw. */
class BreakingWriter extends RecordingWriter {
  aborted = false;
  #events = 0;
  constructor(readonly breakAt: number) {
    super();
  }
  override write(head: Uint8Array, session: string, seq: number, sub: string | undefined, data: Uint8Array): void {
    if (++this.#events >= this.breakAt) throw new Error('broken socket');
    super.write(head, session, seq, sub, data);
  }
  override abort(): void {
    this.aborted = true;
  }
}

describe('a connection whose event write throws', () => {
  for (const sliceSize of [100, 2]) {
    it(`leaves the other connections served, every commit in order, and closes its own stream, releasing it and logging once (slices of ${sliceSize})`, () => {
      const errors: unknown[] = [];
      const logger = { warn: () => undefined, error: (_message: string, error?: unknown) => void errors.push(error) };
      const { hub, turns, source, counts, connect } = setup({ sliceSize, logger });
      const before = [connect(), connect()];
      const broken = new BreakingWriter(2);
      const failing = connect(undefined, broken);
      const after = [connect(), connect()];
      source.next(1);
      turns.runAll();
      expect(hub.size).toBe(5);
      // Before, the write's error came out of the fan-out: the readers after it got nothing, and the pass never ended,
      // so no later commit reached anyone.
      expect(() => source.next(2)).not.toThrow();
      turns.runAll();
      source.next(3);
      turns.runAll();
      for (const { writer } of [...before, ...after]) expect(writer.values()).toEqual([1, 2, 3]);
      expect(broken.values()).toEqual([1]);
      expect(broken.aborted).toBe(true);
      expect(failing.connection.open).toBe(false);
      expect(hub.size).toBe(4); // the broken stream is gone, not held for a resume window
      expect(errors).toEqual([new Error('broken socket')]);
      hub.close();
      expect(counts.active).toBe(0);
    });
  }

  it('logs the error of a connection that throws as a finished stream ends it', () => {
    const errors: unknown[] = [];
    const logger = { warn: () => undefined, error: (_message: string, error?: unknown) => void errors.push(error) };
    const hub = new SessionHub({
      resumeWindowMs: 60_000, bufferBytes: 1 << 20, maxSubscriptions: 10, maxSessions: 100, sliceSize: 100, clock: systemClock,
      errorBody: () => ({ code: 'internal', message: 'failed' }), logger,
    }, (callback) => callback());
    const source = new Subject<unknown>();
    const spec: FeedSpec = { key: 'status\u0000x', event: 'status', source: () => source, isTerminal: (value) => value === 'done' };
    class EndThrows extends RecordingWriter {
      override end(): void {
        throw new Error('broken socket at the end');
      }
    }
    const writer = new EndThrows();
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(systemClock, 60_000, silentLogger), retryMs: 1000, maxBacklogBytes: 1 << 20 });
    hub.open({ kind: 'single', key: 'x', spec, untilTerminal: true }, undefined, connection);
    source.next('done');
    expect(writer.values()).toEqual(['done']);
    // Before, the session was disposed as the error came, and the error went nowhere; nor was the stream remembered
    // as finished, so the client's reconnect got it again from the start.
    expect(errors).toEqual([new Error('broken socket at the end')]);
    expect(hub.size).toBe(0);
    expect(hub.finished({ kind: 'single', key: 'x', spec, untilTerminal: true }, writer.ids().at(-1))).toBe(true);
    hub.close();
  });

  // The events that waited (a held session's, a resumed one's) are written by the session itself, not by a feed's
  // pass: a write that threw there went up into the drain callback (a socket's 'drain' event: an uncaught exception)
  // or into the request that opened the stream, and left the session attached to the broken connection, its feeds
  // unread, so its client got nothing more.
  it('ends the session, logging once, when a write throws as a held session writes what waited for its reader', () => {
    const errors: unknown[] = [];
    const logger = { warn: () => undefined, error: (_message: string, error?: unknown) => void errors.push(error) };
    const { hub, source, counts } = setup({ maxSubscriptions: 1, logger });
    const writer = new BreakingWriter(2);
    writer.stalled = true;
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(systemClock, 60_000, silentLogger), retryMs: 1000, maxBacklogBytes: 100 });
    hub.open(SESSION, undefined, connection);
    const id = (JSON.parse(/\ndata: (.*)\n\n$/.exec(writer.messages.find((m) => m.startsWith('event: session'))!)![1]!) as { session: string }).session;
    const session = hub.get(id)!;
    const spec: FeedSpec = {
      key: 'status\u0000held', event: 'status',
      source: () => deferred(() => {
        counts.active++;
        return source.pipe(finalize(() => counts.active--));
      }),
    };
    session.subscribe('a', spec, false, 'a');
    source.next('x'.repeat(150)); // over the limit: the session is held
    session.subscribe('b', spec, false, 'b'); // refused: its close event waits for the reader
    expect(() => writer.drain()).not.toThrow();
    expect(errors).toEqual([new Error('broken socket')]);
    expect(writer.aborted).toBe(true);
    expect(connection.open).toBe(false);
    expect(hub.size).toBe(0);
    expect(counts.active).toBe(0);
    hub.close();
  });

  it('ends the session, logging once, when a write throws as a resumed session writes again what its client missed', () => {
    const errors: unknown[] = [];
    const logger = { warn: () => undefined, error: (_message: string, error?: unknown) => void errors.push(error) };
    const { hub, source, counts, connect } = setup({ logger });
    const first = connect();
    source.next(1);
    source.next(2);
    const received = first.writer.ids()[0]!; // the client got 1 only
    first.connection.gone();
    const broken = new BreakingWriter(1);
    let again: ReturnType<typeof connect> | undefined;
    expect(() => (again = connect(received, broken))).not.toThrow();
    expect(errors).toEqual([new Error('broken socket')]);
    expect(broken.aborted).toBe(true);
    expect(again!.connection.open).toBe(false);
    expect(hub.size).toBe(0);
    expect(counts.active).toBe(0);
    hub.close();
  });

  it('ends the session, logging once, when the write of a refusal throws, not the request that asked for the subscription', () => {
    const errors: unknown[] = [];
    const logger = { warn: () => undefined, error: (_message: string, error?: unknown) => void errors.push(error) };
    const { hub, source, counts } = setup({ maxSubscriptions: 1, logger });
    const writer = new BreakingWriter(1);
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(systemClock, 60_000, silentLogger), retryMs: 1000, maxBacklogBytes: 1 << 20 });
    hub.open(SESSION, undefined, connection);
    const id = (JSON.parse(/\ndata: (.*)\n\n$/.exec(writer.messages.find((m) => m.startsWith('event: session'))!)![1]!) as { session: string }).session;
    const session = hub.get(id)!;
    const spec: FeedSpec = {
      key: 'status\u0000refused', event: 'status',
      source: () => deferred(() => {
        counts.active++;
        return source.pipe(finalize(() => counts.active--));
      }),
    };
    session.subscribe('a', spec, false, 'a');
    // Before, the error went to the subscribe request (a 500), and the session stayed on the broken connection.
    expect(() => session.subscribe('b', spec, false, 'b')).not.toThrow();
    expect(errors).toEqual([new Error('broken socket')]);
    expect(writer.aborted).toBe(true);
    expect(hub.size).toBe(0);
    expect(counts.active).toBe(0);
    hub.close();
  });

  it('releases the feed when its only reader\'s write throws', () => {
    const { hub, source, counts, connect } = setup();
    const broken = new BreakingWriter(2);
    connect(undefined, broken);
    source.next(1);
    expect(counts.active).toBe(1);
    source.next(2);
    expect(counts.active).toBe(0);
    expect(hub.size).toBe(0);
    expect(hub.feedCount).toBe(0);
    hub.close();
  });
});

describe('a connection whose heartbeat throws', () => {
  it('is closed: nothing more is written to it, its writer is aborted, and its session releases its subscription when its resume window ends', async () => {
    const clock = new VirtualClock();
    const hub = new SessionHub({
      resumeWindowMs: 60_000, bufferBytes: 1 << 20, maxSubscriptions: 10, maxSessions: 100, sliceSize: 100, clock,
      errorBody: () => ({ code: 'internal', message: 'failed' }), logger: silentLogger,
    }, (callback) => callback());
    const source = new Subject<unknown>();
    let active = 0;
    const spec: FeedSpec = {
      key: 'status\u0000x', event: 'status',
      source: () => deferred(() => {
        active++;
        return source.pipe(finalize(() => active--));
      }),
    };
    // A socket that broke under the heartbeat: its comment throws (events would still go into the void).
    class BrokenWriter extends RecordingWriter {
      aborted = false;
      override writeText(text: string): void {
        if (text.startsWith(': heartbeat')) throw new Error('broken socket');
        super.writeText(text);
      }
      override abort(): void {
        this.aborted = true;
      }
    }
    const writer = new BrokenWriter();
    const connection = new SseConnection(writer, { heartbeats: new HeartbeatQueue(clock, 1000, silentLogger), retryMs: 1000, maxBacklogBytes: 1 << 20 });
    hub.open({ kind: 'single', key: 'x', spec, untilTerminal: false }, undefined, connection);
    source.next(1);
    expect(writer.values()).toEqual([1]);

    await clock.advance(1000); // the heartbeat throws
    expect(connection.open).toBe(false);
    expect(writer.aborted).toBe(true);
    source.next(2);
    expect(writer.values()).toEqual([1]);
    expect(active).toBe(1); // held for a resume, as after any lost connection
    await clock.advance(60_000);
    expect(active).toBe(0);
    hub.close();
  });
});

describe('the fetch-handler path (runtimes without the Node adapter)', () => {
  it('streams every committed status from the response body, ends it after the terminal one, and releases a cancelled one', async () => {
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators: sampleOrchestrators, activities: sampleActivities, logger: silentLogger });
    await runtime.start();
    let active = 0;
    const client = new Proxy(runtime.client, {
      get(target, property, receiver) {
        if (property === 'status$') {
          return (id: string) => deferred(() => {
            active++;
            return target.status$(id).pipe(finalize(() => active--));
          });
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const handler = createHttpHandler(client, { anonymous: true, logger: silentLogger, resumeWindowMs: 1 });
    try {
      const response = await handler(new Request(`http://localhost${WEBHOOK_PATH}/instances/web/stream?untilTerminal=true`));
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      // The body opens its feed when first read: read before the instance starts, so the feed sees every commit (a
      // start before the first read raced the worker, which may have committed a status before the feed opened).
      const body = response.body!.getReader();
      const decoder = new TextDecoder();
      const first = await body.read(); // the status of an instance that does not exist yet: null
      let text = decoder.decode(first.value, { stream: true });
      await runtime.client.startNew('E1_HelloSequence', { instanceId: 'web' });
      for (let chunk = await body.read(); !chunk.done; chunk = await body.read()) text += decoder.decode(chunk.value, { stream: true });
      // (the body ends after the terminal status)
      const events = [...text.matchAll(/event: (\w+)\nid: \S+\ndata: (.*)\n\n/g)].map((m) => ({ event: m[1], data: JSON.parse(m[2]!) as { customStatus?: unknown } | null }));
      expect(events.at(-1)).toEqual({ event: 'end', data: null });
      const custom = events.slice(0, -1).map((e) => e.data?.customStatus).filter((c, i, all) => i === 0 || c !== all[i - 1]);
      expect(custom).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);

      const open = await handler(new Request(`http://localhost${WEBHOOK_PATH}/instances/other/stream`));
      const reader = open.body!.getReader();
      await reader.read();
      expect(active).toBe(1);
      await reader.cancel();
      await expect.poll(() => active, { timeout: 5000, interval: 10 }).toBe(0);
    } finally {
      handler.close();
      await runtime.stop();
    }
  });

  it('writes a value that finds the body\'s reader more than the backlog limit behind once it has read the one before (two of 5 MB)', async () => {
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { Echo: echo }, activities: {}, logger: silentLogger });
    await runtime.start();
    const handler = createHttpHandler(runtime.client, { anonymous: true, logger: silentLogger });
    try {
      const output = 'o'.repeat(5 * 1000 * 1000);
      for (const id of ['huge-1', 'huge-2']) await runtime.client.startNew('Echo', { instanceId: id, input: output });
      for (const id of ['huge-1', 'huge-2']) await runtime.client.waitForCompletion(id, SETTLED);
      const response = await handler(new Request(`http://localhost${WEBHOOK_PATH}/streams`));
      const body = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const events = async (count: number) => {
        for (;;) {
          const found = [...text.matchAll(/event: (\w+)\nid: \S+\ndata: (.*)\n\n/g)].map((m) => ({ event: m[1], data: m[2]! }));
          if (found.length >= count) return found;
          const chunk = await body.read();
          if (chunk.done) throw new Error('the body ended');
          text += decoder.decode(chunk.value, { stream: true });
        }
      };
      const session = (JSON.parse((await events(1))[0]!.data) as { session: string }).session;
      // Both values are written as the change is applied, while the reader reads nothing.
      const changed = await handler(new Request(`http://localhost${WEBHOOK_PATH}/streams/${session}/subscriptions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subscribe: [{ sub: 'a', kind: 'status', instanceId: 'huge-1' }, { sub: 'b', kind: 'status', instanceId: 'huge-2' }] }),
      }));
      expect(changed.status).toBe(200);
      const values = (await events(3)).slice(1).map((e) => JSON.parse(e.data) as { sub: string; data: { output?: unknown } });
      expect(values.map((v) => v.sub).sort()).toEqual(['a', 'b']);
      for (const value of values) expect(value.data.output).toBe(output);
      await body.cancel();
    } finally {
      handler.close();
      await runtime.stop();
    }
  });
});
