import type { Clock, ClockTimer } from '../env/clock.js';
import { eventLength, putEvent } from './sse-event.js';

/**
 * Where the bytes of one Server-Sent Events response go. The handler's default is a web `ReadableStream` (see
 * {@link sseResponse}); `@durable-rx/runtime/node` writes to the socket instead.
 */
export interface SseWriter {
  /**
   * Writes one numbered event as one unit: `framing[0, split)` (e.g. `event: status\nid: <session>.`), the decimal
   * digits of `seq`, `framing[split, end)` (e.g. `\ndata: `), the shared `data` bytes, then `after` (e.g. `\n\n`).
   * Only `seq` is new per event: the rest are bytes the caller encoded once (`framing` once per subscription,
   * `data` once per value for every connection it goes to), so a writer copies them and encodes nothing. A writer
   * must not change any of them.
   */
  write(framing: Uint8Array, split: number, seq: number, data: Uint8Array, after: Uint8Array): void;
  /** Writes `text` (the `retry` hint, a comment, a session's first event) as one unit. */
  writeText(text: string): void;
  /** Bytes written that the reader has not taken yet. */
  readonly backlog: number;
  /** Finishes the response after what was written. */
  end(): void;
  /** Drops the connection at once (the reader fell too far behind). */
  abort(): void;
}

/** An event stream waiting for a writer: what an SSE route answers with. */
export interface SseStream {
  /** Starts the stream on `writer`; returns the function to call once the connection is gone (client left). */
  open(writer: SseWriter): () => void;
}

/** Options of {@link SseConnection}. */
export interface SseConnectionOptions {
  /** Interval of heartbeat comments, which keep proxies from closing an idle stream. */
  readonly heartbeatMs: number;
  /** Sent first as the SSE `retry` field: how long a client should wait before reconnecting. */
  readonly retryMs: number;
  /** Unread bytes the reader may have before the connection is cut (it then resumes from its last event id). */
  readonly maxBacklogBytes: number;
  /** Where the heartbeats are timed (the handler's injected clock). */
  readonly clock: Clock;
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
 * the `retry` hint and heartbeat comments, and cuts a reader that falls `maxBacklogBytes` behind.
 */
export class SseConnection {
  readonly #writer: SseWriter;
  readonly #options: SseConnectionOptions;
  #heartbeat: ClockTimer | undefined;
  #open = true;
  /** Called once when the connection is gone (by the client, a cut, or `end`). */
  onGone: (() => void) | undefined;

  constructor(writer: SseWriter, options: SseConnectionOptions) {
    this.#writer = writer;
    this.#options = options;
    writer.writeText(`retry: ${options.retryMs}\n\n`);
    this.#armHeartbeat();
  }

  /** Whether the connection can still be written to. */
  get open(): boolean {
    return this.#open;
  }

  /** Writes one numbered event (see {@link SseWriter.write}). */
  send(framing: Uint8Array, split: number, seq: number, data: Uint8Array, after: Uint8Array): void {
    if (!this.#open) return;
    this.#writer.write(framing, split, seq, data, after);
    this.#checkBacklog();
  }

  /** Writes `text` as one message (see {@link SseWriter.writeText}). */
  sendText(text: string): void {
    if (!this.#open) return;
    this.#writer.writeText(text);
    this.#checkBacklog();
  }

  #checkBacklog(): void {
    if (this.#writer.backlog > this.#options.maxBacklogBytes) {
      // The reader is not keeping up: cut the connection; the client resumes from its last event id.
      this.#close();
      this.#writer.abort();
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

  /** The next heartbeat comment, `heartbeatMs` after the previous one, while the connection is open. */
  #armHeartbeat(): void {
    if (!this.#open) return;
    this.#heartbeat = this.#options.clock.setTimeout(() => {
      this.#heartbeat = undefined;
      this.sendText(': heartbeat\n\n');
      this.#armHeartbeat();
    }, this.#options.heartbeatMs);
    unref(this.#heartbeat);
  }

  #close(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#heartbeat !== undefined) this.#options.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
    const onGone = this.onGone;
    this.onGone = undefined;
    onGone?.();
  }
}

const encoder = new TextEncoder();

/**
 * The response of an SSE route. Its body is a web `ReadableStream` that opens `stream` when first read, for every
 * runtime (`request.signal` tells it when the client left); it also carries `stream` (under {@link SSE_STREAM}) for
 * adapters that write to the socket directly.
 */
export function sseResponse(stream: SseStream, request: Request, headers: Record<string, string>): Response {
  let gone: (() => void) | undefined;
  const stop = () => gone?.();
  const body: SseBody = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (gone) return;
        gone = stream.open(webWriter(controller));
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
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers },
  });
}

/** Writes to a web stream: one chunk per message (the shared bytes copied in). */
function webWriter(controller: ReadableStreamDefaultController<Uint8Array>): SseWriter {
  let done = false;
  return {
    write(framing, split, seq, data, after) {
      if (done) return;
      const chunk = new Uint8Array(eventLength(framing, seq, data, after));
      putEvent(chunk, 0, framing, split, seq, data, after);
      controller.enqueue(chunk);
    },
    writeText(text) {
      if (!done) controller.enqueue(encoder.encode(text));
    },
    get backlog() {
      return done ? 0 : -(controller.desiredSize ?? 0);
    },
    end() {
      if (done) return;
      done = true;
      controller.close();
    },
    abort() {
      if (done) return;
      done = true;
      controller.error(new Error('The reader fell too far behind'));
    },
  };
}

/**
 * Lets a process exit while a timer is pending, where the platform's timer handle supports it (Node, Deno); a no-op
 * for other handles (a browser's numbers, a `VirtualClock`'s ids).
 */
export function unref(timer: ClockTimer): void {
  const handle = timer as unknown as { unref?: () => void };
  if (typeof handle === 'object' && handle !== null && typeof handle.unref === 'function') handle.unref();
}
