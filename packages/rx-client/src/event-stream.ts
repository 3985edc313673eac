import { systemClock, type Clock, type ClockTimer } from '@durable-rx/runtime';
import { Observable } from 'rxjs';
import { errorFromBody, errorFromResponse, RemoteError } from './remote-error.js';
import { sseParser, type SseMessage } from './sse-parser.js';

/** One event of a stream, its data parsed as JSON. */
export interface StreamedEvent {
  /** The SSE event name (`status`, `instances`, `history`). */
  readonly event: string;
  readonly data: unknown;
  /** The SSE id, `<session>.<seq>` from the durable-rx HTTP API. */
  readonly id: string | undefined;
  /** The session part of `id`: it changes when the server could not resume the stream and started a new one. */
  readonly session: string | undefined;
}

/** How a stream reconnects. */
export interface ReconnectOptions {
  /** Delay before the first reconnect when the server sent no `retry` hint. Default 1000 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound of the delay, which doubles on each consecutive failure. Default 30 s. */
  readonly maxDelayMs?: number;
}

/** Options of {@link eventStream}. */
export interface EventStreamOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
  readonly reconnect?: ReconnectOptions;
  /** Times the reconnect delays. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Told when the connection opens (`'open'`) and when it is lost and a reconnect is scheduled (`'retrying'`, with
   * the failure when there was one: a network error or a retryable status).
   */
  readonly onConnection?: (state: 'open' | 'retrying', error?: unknown) => void;
}

/**
 * A Server-Sent Events stream over `fetch` (so it can send `Authorization` headers, which `EventSource` cannot),
 * parsed with {@link sseParser}.
 *
 * Nothing happens until subscription. When the connection ends or fails, it reconnects — after the server's `retry`
 * hint, doubling on consecutive failures up to `maxDelayMs` — and sends the id of the last event it received as
 * `Last-Event-ID`, so the server resumes right after it. An `error` event, or an HTTP answer that retrying cannot fix
 * (4xx other than 408/429), errors the observable with the typed error; an `end` event completes it. Unsubscribing
 * aborts the request and cancels any pending reconnect.
 */
export function eventStream(options: EventStreamOptions): Observable<StreamedEvent> {
  return new Observable<StreamedEvent>((subscriber) => {
    const initialDelayMs = options.reconnect?.initialDelayMs ?? 1000;
    const maxDelayMs = options.reconnect?.maxDelayMs ?? 30_000;
    let lastEventId: string | undefined;
    let retryMs = initialDelayMs;
    let failures = 0;
    let stopped = false;
    let controller: AbortController | undefined;
    const clock = options.clock ?? systemClock;
    let timer: ClockTimer | undefined;

    const stop = () => {
      stopped = true;
      controller?.abort();
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    };

    const onMessage = (message: SseMessage): void => {
      if (stopped) return;
      if (message.id !== undefined && message.id !== '') lastEventId = message.id;
      let data: unknown;
      try {
        data = message.data === '' ? null : JSON.parse(message.data);
      } catch {
        stop();
        subscriber.error(new RemoteError('bad-response', 502, 'The server sent an event that is not JSON'));
        return;
      }
      const event = message.event ?? 'message';
      if (event === 'error') {
        stop();
        subscriber.error(errorFromBody(500, data));
        return;
      }
      if (event === 'end') {
        stop();
        subscriber.complete();
        return;
      }
      const id = message.id || undefined;
      subscriber.next({ event, data, id, session: sessionOf(id) });
    };

    const connect = async (): Promise<void> => {
      controller = new AbortController();
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
          stop();
          subscriber.error(error);
          return;
        }
        if (!(response.headers.get('content-type') ?? '').includes('text/event-stream') || !response.body) {
          stop();
          subscriber.error(new RemoteError('bad-response', 502, 'The server did not answer with an event stream'));
          return;
        }
        failures = 0;
        options.onConnection?.('open');
        const feed = sseParser(onMessage, (ms) => (retryMs = ms));
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done || stopped) break;
            feed(value);
          }
        } finally {
          if (stopped) await reader.cancel().catch(() => undefined);
        }
      } catch (error) {
        failures++;
        if (!stopped) options.onConnection?.('retrying', error);
        if (stopped) return;
        scheduleReconnect();
        return;
      }
      if (stopped) return;
      options.onConnection?.('retrying');
      scheduleReconnect();
    };

    const scheduleReconnect = (): void => {
      // The stream ended or failed: reconnect, resuming after the last event received.
      const delay = Math.min(maxDelayMs, retryMs * 2 ** Math.max(0, failures - 1));
      timer = clock.setTimeout(() => {
        timer = undefined;
        void connect();
      }, delay);
    };

    void connect();
    return stop;
  });
}

/** The session part of an event id `<session>.<seq>`. */
function sessionOf(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  const dot = id.lastIndexOf('.');
  return dot < 0 ? id : id.slice(0, dot);
}

/** Statuses worth retrying: server errors, timeouts, rate limits. Other 4xx answers would not change. */
function isRetryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
