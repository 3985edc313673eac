import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { DurableClient } from '../client/durable-client.js';
import type { Clock } from '../env/clock.js';
import { DurableError } from '../model/errors/durable-error.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { errorResponse, type ErrorBody } from './error-response.js';
import { parseInstanceFilter } from './instance-filter-params.js';
import { parseInstanceIdSegment } from './query-params.js';
import { readJsonBody } from './read-json-body.js';
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION, SessionHub, type StreamSession } from './session-hub.js';
import { SseConnection } from './sse-connection.js';
import type { StreamSink } from './stream-hub.js';
import { STREAM_KINDS, streamSource, type StreamSpec } from './stream-source.js';
import type { WireSanitiser } from './wire-sanitiser.js';

/** What {@link registerSessionRoutes} needs from the handler. */
export interface SessionRoutesOptions {
  readonly client: DurableClient;
  /** Puts statuses and history events on the wire (the handler's one sanitiser). */
  readonly wire: WireSanitiser;
  /** The webhook base path. */
  readonly base: string;
  readonly resumeWindowMs: number;
  readonly resumeBufferSize: number;
  readonly heartbeatMs: number;
  readonly reconnectDelayMs: number;
  readonly maxQueuedWrites: number;
  readonly maxBodyBytes: number;
  readonly retryAfterSeconds: number;
  /** Why a new stream (session or single stream) would be refused now, if it would; counts both kinds. */
  readonly refusal: () => 'closed' | 'full' | undefined;
  readonly errorBody: (error: unknown) => ErrorBody;
  /** Times resume windows and heartbeats. */
  readonly clock: Clock;
}

/** The session routes' hub, for the handler's `close()` and its stream count. */
export interface SessionRoutes {
  readonly hub: SessionHub;
  /** Opens an SSE response that writes to a new sink; `attach` returns what to call when the connection is gone. */
  readonly sseResponse: (c: Context, attach: (sink: StreamSink) => () => void) => Response;
}

/** Longest subscription id a client may choose. */
const MAX_SUB_ID_LENGTH = 64;

/**
 * Registers the multiplexed stream routes (see `SessionHub`) under `{base}/streams`:
 *
 * | route | answer |
 * |---|---|
 * | `GET /streams` (`Last-Event-ID` to resume) | SSE: `session` first (`{ session }`), then `status` / `history` / `instances` events `{ sub, data }` and `close` events `{ sub, error? }` of the session's subscriptions |
 * | `POST /streams/{session}/subscriptions` (body `{ subscribe?: [{ sub, kind, instanceId?, query?, untilTerminal? }], unsubscribe?: [sub] }`) | 200 `{ session, subscriptions }`; 400 malformed (nothing changes), 404 unknown session |
 * | `DELETE /streams/{session}` | 204: the session and its subscriptions are released at once; 404 unknown |
 *
 * `kind` is `status` or `history` (with `instanceId`) or `instances` (with `query`, the list filters as a query
 * string, e.g. `runtimeStatus=Running&instanceIdPrefix=order-`). What each sends is `streamSource`'s contract.
 */
export function registerSessionRoutes(app: Hono, options: SessionRoutesOptions): SessionRoutes {
  const hub = new SessionHub({
    resumeWindowMs: options.resumeWindowMs,
    bufferSize: options.resumeBufferSize,
    maxSubscriptions: DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION,
    errorBody: options.errorBody,
    clock: options.clock,
  });
  const base = `${options.base}/streams`;

  const sseResponse = (c: Context, attach: (sink: StreamSink) => () => void): Response => {
    if (c.req.method === 'HEAD') {
      // Hono answers HEAD with the GET handler and drops the body unread: never open a stream for it.
      return new Response(null, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }
    const refusal = options.refusal();
    if (refusal) {
      return errorResponse(503, 'unavailable', refusal === 'full' ? 'Too many open streams' : 'The server is closing', {
        'Retry-After': String(options.retryAfterSeconds),
      });
    }
    const signal = c.req.raw.signal;
    c.header('X-Accel-Buffering', 'no');
    return streamSSE(c, async (stream) => {
      const connection = new SseConnection(stream, {
        heartbeatMs: options.heartbeatMs, retryMs: options.reconnectDelayMs, signal, maxQueuedWrites: options.maxQueuedWrites,
        clock: options.clock,
      });
      const detach = attach(connection);
      try {
        await connection.done;
      } finally {
        detach();
      }
    });
  };

  app.get(base, (c) => sseResponse(c, (sink) => hub.open(c.req.header('last-event-id'), sink).detach));

  app.post(`${base}/:session/subscriptions`, async (c) => {
    const session = existing(hub, c.req.param('session'));
    const body = await readJsonBody(c.req.raw, options.maxBodyBytes);
    const change = parseSubscriptionChange(body.present ? body.value : undefined, session);
    for (const sub of change.unsubscribe) session.unsubscribe(sub);
    for (const { sub, spec } of change.subscribe) session.subscribe(sub, spec.kind, streamSource(options.client, spec, options.wire));
    return Response.json({ session: session.id, subscriptions: session.subscriptionCount }, { headers: { 'cache-control': 'no-store' } });
  });

  app.delete(`${base}/:session`, (c) => {
    const session = existing(hub, c.req.param('session'));
    hub.delete(session.id);
    return new Response(null, { status: 204 });
  });

  return { hub, sseResponse };
}

function existing(hub: SessionHub, id: string): StreamSession {
  const session = hub.get(id);
  if (!session) throw new SessionNotFound(id);
  return session;
}

/** 404 for a session that expired, was deleted or never existed (the client opens a new one). */
class SessionNotFound extends DurableError {
  override readonly name = 'SessionNotFound';
  readonly code = 'session-not-found' as const;
  readonly status = 404 as const;

  constructor(id: string) {
    super(`No stream session ${JSON.stringify(id)} (it expired or the server restarted): open a new one`);
  }
}

interface SubscriptionChange {
  readonly subscribe: readonly { readonly sub: string; readonly spec: StreamSpec }[];
  readonly unsubscribe: readonly string[];
}

/** Validates a whole change before anything is applied, so a bad request changes nothing. */
function parseSubscriptionChange(body: unknown, session: StreamSession): SubscriptionChange {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidArgumentError('The body must be an object { subscribe?: [...], unsubscribe?: [...] }');
  }
  const { subscribe = [], unsubscribe = [] } = body as { subscribe?: unknown; unsubscribe?: unknown };
  if (!Array.isArray(subscribe) || !Array.isArray(unsubscribe)) {
    throw new InvalidArgumentError('subscribe and unsubscribe must be arrays');
  }
  const removed = unsubscribe.map((sub) => subId(sub));
  const added = subscribe.map((entry) => subscription(entry));
  const ids = new Set<string>();
  for (const { sub } of added) {
    if (ids.has(sub) || (session.has(sub) && !removed.includes(sub))) {
      throw new InvalidArgumentError(`Subscription ${JSON.stringify(sub)} is already active`);
    }
    ids.add(sub);
  }
  const remaining = session.subscriptionCount - new Set(removed.filter((sub) => session.has(sub))).size;
  if (remaining + added.length > DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION) {
    throw new InvalidArgumentError(`A session holds at most ${DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions`);
  }
  return { subscribe: added, unsubscribe: removed };
}

function subId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SUB_ID_LENGTH) {
    throw new InvalidArgumentError(`A subscription id must be a string of 1 to ${MAX_SUB_ID_LENGTH} characters`);
  }
  return value;
}

function subscription(entry: unknown): { sub: string; spec: StreamSpec } {
  if (entry === null || typeof entry !== 'object') throw new InvalidArgumentError('Each subscription must be an object');
  const { sub, kind, instanceId, query, untilTerminal } = entry as Record<string, unknown>;
  const id = subId(sub);
  if (typeof kind !== 'string' || !(STREAM_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidArgumentError(`kind must be one of ${STREAM_KINDS.join(', ')}`);
  }
  if (untilTerminal !== undefined && typeof untilTerminal !== 'boolean') throw new InvalidArgumentError('untilTerminal must be a boolean');
  if (kind === 'instances') {
    if (query !== undefined && typeof query !== 'string') throw new InvalidArgumentError('query must be a query string');
    return { sub: id, spec: { kind, filter: parseInstanceFilter(new URLSearchParams(query ?? '')) } };
  }
  if (typeof instanceId !== 'string') throw new InvalidArgumentError('instanceId must be a string');
  return { sub: id, spec: { kind: kind as 'status' | 'history', instanceId: parseInstanceIdSegment(instanceId), untilTerminal: untilTerminal === true } };
}
