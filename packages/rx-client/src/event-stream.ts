import { systemClock, type Clock } from '@durable-rx/runtime';
import { armTimeout } from '@durable-rx/runtime/client-kit';
import { badResponse, errorFromBody, errorFromResponse } from './remote-error.js';
import { sseParser, type SseMessage } from './sse-parser.js';

/** One event of a stream, its data parsed as JSON. */
export interface StreamedEvent {
  /** The SSE event name (`session`, `status`, `close` …). */
  readonly event: string;
  readonly data: unknown;
}

/** How a stream reconnects. */
export interface ReconnectOptions {
  /** Delay before the first reconnect when the server sent no `retry` hint. Default 1000 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound of the delay, which doubles on each consecutive failure. Default 30 s. */
  readonly maxDelayMs?: number;
}

/** Options of {@link openEventStream}. */
export interface EventStreamOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
  readonly reconnect?: ReconnectOptions | undefined;
  /** Times the reconnect delays. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** What an event stream tells its owner. */
export interface EventStreamHandlers {
  /** Each event, in order (not `error` or `end`, which end the stream). */
  event(event: StreamedEvent): void;
  /** The connection was lost and a reconnect is scheduled; `error` is the failure when there was one. */
  retrying(error: unknown): void;
  /**
   * The stream is over, for good: with the typed error of an `error` event, of an answer that retrying cannot fix
   * (4xx other than 408/429) or of an answer that is not an event stream; without one after an `end` event.
   */
  end(error?: Error): void;
}

/**
 * Opens a Server-Sent Events stream over `fetch` (so it can send `Authorization` headers, which `EventSource`
 * cannot), parsed with {@link sseParser}, and returns the function that stops it: that aborts the request and cancels
 * any pending reconnect, and nothing is told after it.
 *
 * When the connection ends or fails, it reconnects — after the server's `retry` hint, doubling on consecutive
 * failures up to `maxDelayMs` — and sends the id of the last event it received as `Last-Event-ID`, so the server
 * resumes right after it.
 */
export function openEventStream(options: EventStreamOptions, on: EventStreamHandlers): () => void {
  const initialDelayMs = options.reconnect?.initialDelayMs ?? 1000;
  const maxDelayMs = options.reconnect?.maxDelayMs ?? 30_000;
  let lastEventId: string | undefined;
  let retryMs = initialDelayMs;
  let failures = 0;
  let stopped = false;
  let controller: AbortController | undefined;
  /** Cancels the pending reconnect, if any. */
  let cancelReconnect: (() => void) | undefined;

  const stop = () => {
    stopped = true;
    controller?.abort();
    cancelReconnect?.();
  };

  const end = (error?: Error) => {
    stop();
    on.end(error);
  };

  const onMessage = (message: SseMessage): void => {
    if (stopped) return;
    if (message.id) lastEventId = message.id;
    let data: unknown;
    try {
      data = message.data === '' ? null : JSON.parse(message.data);
    } catch {
      return end(badResponse('An event is not JSON'));
    }
    const event = message.event ?? 'message';
    if (event === 'error') return end(errorFromBody(500, data));
    if (event === 'end') return end();
    on.event({ event, data });
  };

  const connect = async (): Promise<void> => {
    controller = new AbortController();
    let failure: unknown;
    try {
      const response = await options.fetch(options.url, {
        headers: {
          ...options.headers,
          accept: 'text/event-stream',
          ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
        },
        cache: 'no-store',
        signal: controller.signal,
      });
      if (!response.ok) {
        const error = await errorFromResponse(response);
        if (isRetryable(response.status)) throw error;
        return end(error);
      }
      if (!(response.headers.get('content-type') ?? '').includes('text/event-stream') || !response.body) {
        return end(badResponse('The stream is not text/event-stream'));
      }
      failures = 0;
      const feed = sseParser(onMessage, (ms) => (retryMs = ms));
      // Bytes decoded here rather than through a TextDecoderStream: a piped stream costs several promises and objects
      // per chunk, and every chunk is an event to deliver now. `stream` keeps a character split between two chunks;
      // what is left undecoded at the end could only belong to an event never ended, which is not dispatched.
      const decoder = new TextDecoder();
      const reader = response.body.getReader();
      let ended = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if ((ended = done) || stopped) break;
          feed(decoder.decode(value, { stream: true }));
        }
      } finally {
        // Unless the server ended the body, let it go: stopped, or a read or a handler threw (we reconnect), the
        // response would otherwise stay open and locked, one HTTP connection leaked per failure. Not awaited: a cancel
        // that never settles must not hold back the reconnect; its rejection (an errored body) says nothing new.
        if (!ended) void reader.cancel().catch(() => undefined);
      }
      if (stopped) return;
    } catch (error) {
      if (stopped) return;
      failures++;
      failure = error;
    }
    on.retrying(failure);
    // The stream ended or failed: reconnect, resuming after the last event received.
    cancelReconnect = armTimeout(Math.min(maxDelayMs, retryMs * 2 ** Math.max(0, failures - 1)), options.clock ?? systemClock, connect);
  };

  void connect();
  return stop;
}

/** Statuses worth retrying: server errors, timeouts, rate limits. Other 4xx answers would not change. */
export function isRetryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
