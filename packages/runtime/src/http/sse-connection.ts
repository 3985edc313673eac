import type { Beating, HeartbeatQueue } from './heartbeat-queue.js';
import { eventLength, putEvent } from './sse-event.js';

/**
 * Where the bytes of one Server-Sent Events response go. The handler's default is a web `ReadableStream` (see
 * {@link sseResponse}); `@durable-rx/runtime/node` writes to the socket instead.
 */
export interface SseWriter {
  /**
   * Writes one numbered event as one unit (its layout: `putEvent` in `sse-event.ts`): `head` (`event: <name>\nid: `),
   * the session's id, `.`, the digits of `seq`, then `data` bare (`sub` undefined) or in the `{"sub":<sub>,"data":…}`
   * envelope of subscription `sub` (its id as JSON). Nothing of it is new per connection but the bytes that say which
   * session and which event: `head` is encoded once per event name, `data` once per value for every connection it
   * goes to, and the strings are the session's own, so a writer copies and encodes nothing else. A writer must not
   * change `head` or `data`.
   */
  write(head: Uint8Array, session: string, seq: number, sub: string | undefined, data: Uint8Array): void;
  /** Writes `text` (the `retry` hint, a comment, a session's first event) as one unit. */
  writeText(text: string): void;
  /** Bytes written that the reader has not taken yet. */
  readonly backlog: number;
  /**
   * Calls `callback` once, when the reader has taken everything written; never when the connection goes first. Asked
   * only while `backlog` is above 0.
   */
  drained(callback: () => void): void;
  /** Finishes the response after what was written. */
  end(): void;
  /** Drops the connection at once (its writer is broken). */
  abort(): void;
  /**
   * True once nothing written can reach the reader any more (its socket was destroyed or failed), possibly before the
   * adapter hears that the connection closed: the connection then closes at its next message, so that its session
   * stops writing at once (what it would write is lost, yet counted in the session's resume log, which then no longer
   * covers where the client stands when it comes back).
   */
  readonly gone?: boolean;
}

/** An event stream waiting for a writer: what an SSE route answers with. */
export interface SseStream {
  /** Starts the stream on `writer`; returns the function to call once the connection is gone (client left). */
  open(writer: SseWriter): () => void;
}

/** Options of {@link SseConnection}, shared by every connection of a handler. */
export interface SseConnectionOptions {
  /** Sends the heartbeat comments, which keep proxies from closing an idle stream (one timer for all connections). */
  readonly heartbeats: HeartbeatQueue;
  /** Sent first as the SSE `retry` field: how long a client should wait before reconnecting. */
  readonly retryMs: number;
  /**
   * Unread bytes past which the connection is {@link SseConnection.full}: its session writes no more events to it
   * until the reader has taken them all.
   */
  readonly maxBacklogBytes: number;
}

/** Who is told once when a connection is gone, and when a full one drained (the stream session it serves). */
export interface ConnectionOwner {
  connectionGone(connection: SseConnection): void;
  /** The reader took everything written to `connection`, after {@link SseConnection.awaitDrain}. */
  connectionDrained(connection: SseConnection): void;
}

/**
 * The property of an SSE response's body under which its {@link SseStream} waits. A server adapter that can write to
 * the socket itself (`@durable-rx/runtime/node`) takes the stream from there and never reads the body.
 */
export const SSE_STREAM: unique symbol = Symbol.for('durable-rx.sse-stream');

/** A body stream that also carries its {@link SseStream}. */
export type SseBody = ReadableStream<Uint8Array> & { readonly [SSE_STREAM]?: SseStream };

/**
 * One open Server-Sent Events connection of a stream session: writes messages through its {@link SseWriter}, sends
 * the `retry` hint and heartbeat comments (queued on the handler's {@link HeartbeatQueue}), and says when its reader
 * is more than `maxBacklogBytes` behind ({@link full}) and, when asked, when it caught up. Held once per open
 * connection, so it holds no callback of its own but while it waits to drain (and a read token's {@link onClose}): its
 * owner is told through {@link ConnectionOwner}, its heartbeats come from the shared queue.
 *
 * Its session writes an event only while the connection is not full, so what a connection holds is bounded by the
 * limit plus one event (and the heartbeats), and each event goes out whole, however large: a reader is never cut for
 * being slow. (It was, once more than the limit waited past the message it was reading; two values larger than the
 * limit, written before it took the first, then cut it on every resume, which sends them again.)
 */
export class SseConnection implements Beating {
  readonly #writer: SseWriter;
  readonly #options: SseConnectionOptions;
  #open = true;
  /** Told once when the connection is gone (by the client, a cut, or `end`). */
  owner: ConnectionOwner | undefined;
  /**
   * Called once when the connection closes, however it closes (the client left, a cut, `end`): what a stream opened
   * with a read token clears its expiry timer with. Unset on the others.
   */
  onClose: (() => void) | undefined;
  beatPrev: Beating | undefined;
  beatNext: Beating | undefined;
  beatDue = -1;
  /** {@link awaitDrain} was called, and the reader has not caught up yet. */
  #awaiting = false;

  constructor(writer: SseWriter, options: SseConnectionOptions) {
    this.#writer = writer;
    this.#options = options;
    writer.writeText(`retry: ${options.retryMs}\n\n`);
    options.heartbeats.add(this);
  }

  /** Whether the connection can still be written to. */
  get open(): boolean {
    return this.#open;
  }

  /** Whether the reader has more than `maxBacklogBytes` unread: its session writes no more events until it drained. */
  get full(): boolean {
    return this.#open && this.#writer.backlog > this.#options.maxBacklogBytes;
  }

  /** Bytes written that the reader has not taken yet (falls as it reads). */
  get unread(): number {
    return this.#writer.backlog;
  }

  /** Tells the owner once, by `connectionDrained`, when the reader has taken everything written (not if it goes first). */
  awaitDrain(): void {
    if (this.#awaiting || !this.#open) return;
    this.#awaiting = true;
    this.#writer.drained(() => {
      this.#awaiting = false;
      if (this.#open) this.owner?.connectionDrained(this);
    });
  }

  /** Writes one numbered event (see {@link SseWriter.write}). */
  send(head: Uint8Array, session: string, seq: number, sub: string | undefined, data: Uint8Array): void {
    if (!this.#open) return;
    // Written into a connection already gone: it closes now, as when its client goes, and the event stays in its
    // session's log for the resume.
    if (this.#writer.gone) return this.#close();
    this.#writer.write(head, session, seq, sub, data);
  }

  /** Writes `text` as one message (see {@link SseWriter.writeText}). */
  sendText(text: string): void {
    if (this.#open) this.#writer.writeText(text);
  }

  /**
   * Sends one heartbeat comment (called by the heartbeat queue while the connection is open). A writer that throws is
   * broken: the connection is closed as when its client goes (its session stops reading and, after its resume window,
   * releases its subscriptions) and its writer aborted, instead of staying open with no heartbeat.
   */
  beat(): void {
    try {
      this.sendText(': heartbeat\n\n');
    } catch {
      this.cut();
    }
  }

  /**
   * Closes the connection as when its client goes, and aborts its writer (which may be broken already, or have a
   * reader that took nothing for a resume window: see `StreamSession`).
   */
  cut(): void {
    this.#close();
    try {
      this.#writer.abort();
    } catch {
      // broken already
    }
  }

  /** Finishes the response after what was written. */
  end(): void {
    if (!this.#open) return;
    this.#close();
    this.#writer.end();
  }

  /** The client went away (the adapter saw the connection close). */
  gone(): void {
    this.#close();
  }

  #close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#options.heartbeats.remove(this);
    const owner = this.owner;
    const onClose = this.onClose;
    this.owner = undefined;
    this.onClose = undefined;
    onClose?.();
    owner?.connectionGone(this);
  }
}

const encoder = new TextEncoder();

/**
 * The headers of every event stream (and of the answer to a HEAD of one). `no-cache`: a cache keeps no copy of it.
 * `no-transform` (RFC 9111 §5.2.2.6): an intermediary must not change its body, so a proxy or middleware that compresses
 * responses (Express's `compression`, a CDN) passes it through as it comes instead of holding its events until it has a
 * block worth compressing. `x-accel-buffering: no`: nginx does not buffer it either.
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no',
};

/**
 * The response of an SSE route. Its body is a web `ReadableStream` that opens `stream` when first read, for every
 * runtime (`request.signal` tells it when the client left); it also carries `stream` (under {@link SSE_STREAM}) for
 * adapters that write to the socket directly.
 */
export function sseResponse(stream: SseStream, request: Request, headers: Record<string, string>): Response {
  let gone: (() => void) | undefined;
  let writer: WebWriter | undefined;
  const stop = () => gone?.();
  const body: SseBody = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        // Called again whenever the reader waits for more and nothing is queued: it has taken everything.
        if (gone) return void writer!.pulled();
        gone = stream.open((writer = webWriter(controller)));
        const signal = request.signal; // read only here: an adapter may build it on demand, and a socket writer never needs it
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      },
      cancel: stop,
    },
    { highWaterMark: 0, size: (chunk) => chunk.byteLength },
  );
  Object.defineProperty(body, SSE_STREAM, { value: stream });
  return new Response(body, {
    status: 200,
    headers: { ...SSE_HEADERS, ...headers },
  });
}

/** An {@link SseWriter} to a web stream, told by the stream's `pull` when its reader took everything. */
interface WebWriter extends SseWriter {
  pulled(): void;
}

/** Writes to a web stream: one chunk per message (the shared bytes copied in). */
function webWriter(controller: ReadableStreamDefaultController<Uint8Array>): WebWriter {
  let done = false;
  let drained: (() => void) | undefined;
  return {
    write(head, session, seq, sub, data) {
      if (done) return;
      const chunk = new Uint8Array(eventLength(head, session, seq, sub, data));
      putEvent(chunk, 0, head, session, seq, sub, data);
      controller.enqueue(chunk);
    },
    writeText(text) {
      if (!done) controller.enqueue(encoder.encode(text));
    },
    get backlog() {
      return done ? 0 : -(controller.desiredSize ?? 0);
    },
    drained(callback) {
      drained = callback;
    },
    pulled() {
      const callback = drained;
      drained = undefined;
      callback?.();
    },
    end() {
      if (done) return;
      done = true;
      controller.close();
    },
    abort() {
      if (done) return;
      done = true;
      controller.error(new Error('The event stream failed'));
    },
  };
}
