import type { SSEStreamingApi } from 'hono/streaming';
import type { Clock, ClockTimer } from '../env/clock.js';
import { unref, type StreamEvent, type StreamSink } from './stream-hub.js';

/** Options of {@link SseConnection}. */
export interface SseConnectionOptions {
  /** Interval of heartbeat comments, which keep proxies from closing an idle stream. */
  readonly heartbeatMs: number;
  /** Sent as the SSE `retry` field: how long a client should wait before reconnecting. */
  readonly retryMs: number;
  /** Writes queued behind a slow reader before the connection is cut (the client resumes from the session). */
  readonly maxQueuedWrites: number;
  /** The request's abort signal: the client went away. */
  readonly signal: AbortSignal;
  /** Where the heartbeats are timed (the handler's injected clock). */
  readonly clock: Clock;
}

/**
 * One Server-Sent Events response: writes events in order (one at a time, honouring back-pressure), sends
 * heartbeat comments, and resolves {@link SseConnection.done} when the response should finish — the client went away
 * (request aborted or the response body cancelled), the session ended it, or the reader fell too far behind.
 */
export class SseConnection implements StreamSink {
  readonly #stream: SSEStreamingApi;
  readonly #options: SseConnectionOptions;
  #heartbeat: ClockTimer | undefined;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #finished = false;
  #resolveDone!: () => void;
  /** Resolves when the response should finish. */
  readonly done = new Promise<void>((resolve) => {
    this.#resolveDone = resolve;
  });

  constructor(stream: SSEStreamingApi, options: SseConnectionOptions) {
    this.#stream = stream;
    this.#options = options;
    stream.onAbort(() => this.#finish());
    if (options.signal.aborted) this.#finish();
    else options.signal.addEventListener('abort', () => this.#finish(), { once: true });
    this.#enqueue(() => stream.write(`retry: ${options.retryMs}\n\n`));
    this.#armHeartbeat();
  }

  send(event: StreamEvent): void {
    this.#enqueue(() => this.#stream.writeSSE({ event: event.event, id: event.id, data: event.data }));
  }

  end(): void {
    if (this.#finished) return;
    this.#chain = this.#chain.then(() => this.#finish());
  }

  /** The next heartbeat comment, `heartbeatMs` after the previous one, until the connection finishes. */
  #armHeartbeat(): void {
    if (this.#finished) return;
    this.#heartbeat = this.#options.clock.setTimeout(() => {
      this.#heartbeat = undefined;
      this.#enqueue(() => this.#stream.write(': heartbeat\n\n'));
      this.#armHeartbeat();
    }, this.#options.heartbeatMs);
    unref(this.#heartbeat);
  }

  #enqueue(write: () => Promise<unknown>): void {
    if (this.#finished) return;
    if (this.#queued >= this.#options.maxQueuedWrites) {
      // The reader is not keeping up: cut the connection; the client resumes from its last event id.
      this.#finish();
      this.#stream.abort();
      return;
    }
    this.#queued++;
    this.#chain = this.#chain.then(async () => {
      this.#queued--;
      if (!this.#finished) await write().catch(() => this.#finish());
    });
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#heartbeat !== undefined) this.#options.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#resolveDone();
  }
}
