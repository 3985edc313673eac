import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { matchedRoutes, routePath } from 'hono/route';
import { firstValueFrom, last, merge, Observable, takeUntil, takeWhile } from 'rxjs';
import { checkStatusResponse, completionResponse, withFailureStatusLink } from '../client/check-status-response.js';
import { BULK_CONCURRENCY, BULK_STATUSES, type BulkCommand } from '../client/bulk-command.js';
import type {
  BulkCommandResult, BulkTerminateOptions, DurableClient, InstanceFilter, ListInstancesQuery, PurgeInstancesFilter,
} from '../client/durable-client.js';
import { LEGACY_WEBHOOK_PATH, managementPayloadAt, mountOf, WEBHOOK_PATH } from '../client/http-management-payload.js';
import { jsonResponse } from '../client/json-response.js';
import { terminateAccepted, terminateByAccepted } from '../client/terminate-accepted.js';
import { timeoutAfter } from '../client/timeout-after.js';
import { oneTimerDelay } from '../env/clock.js';
import { InstanceNotFoundError, instanceNotFound } from '../model/errors/instance-not-found-error.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { isTerminalStatus, type InstanceStatus } from '../model/instance-status.js';
import { toTerminateReason } from '../model/json.js';
import { decodeContinuationToken } from '../store/store-helpers.js';
import {
  assertMethods, checkDependencies, httpBaseUrl, idempotencyKeyOfHeader, invalid, isBoolean, isReason, isCount, isFiniteDelayMs, isHeaderText, isStartIfExists, readChecked, taken,
  requestBase, type MemberCheck,
} from '../model/validation.js';
import { systemClock, type Clock } from '../env/clock.js';
import { guardClock, type GuardedClock } from '../env/guarded-clock.js';
import { consoleLogger, guardedLogger, type Logger } from '../env/logger.js';
import { errorBodyOf, errorResponse, responseForError } from './error-response.js';
import { ForbiddenError } from './forbidden-error.js';
import { HostNotAllowedError } from './host-not-allowed-error.js';
import { KeyVerifier, matchedKeySource } from './key-verifier.js';
import { assertReadsInstance, presentedReadScope, ReadTokenVerifier, scopedFilter, scopeOwner, type ReadScope } from './read-token.js';
import { parseInstanceFilter, parseNames } from './instance-filter-params.js';
import {
  parseBoolean, parseCount, parseDate, parseHistoryPosition, parseInstanceIdSegment, parseNonNegativeNumber, parseRuntimeStatuses, parseStartTime, parseTags,
  parseString, parseTop, QueryParams,
} from './query-params.js';
import { assertNotCrossSitePost, readJsonBody, type JsonBody } from './read-json-body.js';
import { assertEscapesDecode, routeLiteralPath } from './route-literal-path.js';
import { registerStreamRoutes } from './stream-routes.js';
import { historySpec } from './stream-source.js';
import { sanitiseHistoryEvent, type WireSanitiser } from './wire-sanitiser.js';
import { isLegacyRoute, WEBHOOK_BASES, webhookPaths as paths } from './webhook-paths.js';
import { toNativeWireStatus, toWireStatus } from './wire-status.js';

/** Default {@link HttpHandlerOptions.maxBodyBytes}: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Default {@link HttpHandlerOptions.retryAfterSeconds} of a check-status response (a start, a restart), as Durable Functions. */
export const DEFAULT_RETRY_AFTER_SECONDS = 10;
/** Default `Retry-After` of the status route's 202 (an instance not yet terminal), as Durable Functions' status route. */
const DEFAULT_STATUS_RETRY_AFTER_SECONDS = 5;
/** Default {@link HttpHandlerOptions.maxWaitSeconds}. */
export const DEFAULT_MAX_WAIT_SECONDS = 300;
/** Default {@link HttpHandlerOptions.heartbeatMs}. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Default {@link HttpHandlerOptions.resumeWindowMs}. */
export const DEFAULT_RESUME_WINDOW_MS = 30_000;
/** Default {@link HttpHandlerOptions.resumeBufferBytes}: 4 MiB. */
export const DEFAULT_RESUME_BUFFER_BYTES = 4 * 1024 * 1024;
/** Default {@link HttpHandlerOptions.reconnectDelayMs}. */
export const DEFAULT_RECONNECT_DELAY_MS = 1000;
/** Default {@link HttpHandlerOptions.maxStreams}. */
export const DEFAULT_MAX_STREAMS = 10_000;

/** Options of {@link createHttpHandler}. */
export interface HttpHandlerOptions {
  /**
   * The access key, or several (to rotate keys). A request presents it as an `x-functions-key` header,
   * `Authorization: Bearer <key>` or a `code` query parameter; each is compared in constant time and any one matching
   * is enough (an `Authorization` header of another scheme, or a Bearer token that is not a key, is no obstacle: the
   * key may come beside it). Required unless `anonymous` is `true`. Wherever a key goes, a request may present a read
   * token made with one of the keys instead (`createReadToken`): it reads the instances of its scope until it expires,
   * and nothing else (403 `forbidden`); an expired or altered one gets the 401 of a wrong key.
   */
  readonly key?: string | readonly string[];
  /**
   * Serve every request without a key. Must be set explicitly; excludes `key`. Such a handler answers a request that
   * carries a `Host` header (every request received over HTTP/1.1, on any server; see `allowedHosts` for HTTP/2) only on the host names of
   * `allowedHosts` (by default IP addresses, `localhost`, `*.localhost` and the host of `baseUrl`); a request made in
   * process, which has none, on any host.
   */
  readonly anonymous?: boolean;
  /**
   * The host names the handler answers for, against DNS rebinding: a page on `http://evil.example:7071` whose name is
   * made to resolve to 127.0.0.1 (or an intranet address) is same-origin to a handler there in the browser's view, so
   * without a key it could read every answer and POST anything, but its requests still name `evil.example`. A request
   * whose `Host` header or URL names a host that is not allowed (the port is not compared) gets 421
   * `host-not-allowed` before any route runs, and nothing is done. Checked by default (an anonymous handler without
   * this option): every request that carries a `Host` header, as every request received over HTTP/1.1 does, whatever
   * server received it (`serve()` of `@durable-rx/runtime/node`, `Deno.serve`, `Bun.serve`, `@hono/node-server`, a
   * framework's route) and through any copy of it; a `Request` made and handed to the handler in process
   * (`handler(new Request('http://test/…'))`) has no `Host`, names no host anyone resolved, and is served on any host,
   * as Durable Functions, which checks no host, serves every request. An HTTP/2 request names its host in
   * `:authority`, not in a `Host` header: unless the server copies it into one, such a request is served on any host
   * by default, as one made in process (browsers speak HTTP/2 only over TLS, where a rebound name fails at the
   * certificate). Given explicitly (`[]` for only those always allowed), every request is checked, in process too (one
   * without `Host` by its URL only). Always allowed: IP
   * addresses (v4 and v6), `localhost` and `*.localhost` (which browsers resolve to loopback themselves) and the host
   * of `baseUrl`. Entries are host names (`api.example.com`, in any case, Unicode or punycode) or, with a leading dot,
   * a domain and all its subdomains (`.example.com`); `true` answers any host, for a deployment behind a proxy that
   * checks `Host` itself.
   * Any other shape (a string for the array, a port, a path, a scheme, `*.example.com`) makes `createHttpHandler` throw
   * `InvalidArgumentError`. Default: only those always allowed for an anonymous handler; any host for a handler with a
   * key, which a rebound page cannot present (given explicitly, the list applies there too). A handler created in a
   * browser (a page or a Service Worker) checks no host: only its own pages' requests reach it, by origin, whatever a
   * name resolves to.
   *
   * @example
   * ```ts
   * // Reached as http://durable.internal:7071 and http://<anything>.dev.example.com:7071, and on localhost.
   * createHttpHandler(runtime.client, { anonymous: true, allowedHosts: ['durable.internal', '.dev.example.com'] });
   * ```
   */
  readonly allowedHosts?: true | readonly string[];
  /**
   * Origin (optionally with a path prefix) of the URLs in check-status bodies and of the `Location` of a running
   * instance's status, e.g. behind a proxy; the base path the request came in on (`/runtime/webhooks/durabletask`, or
   * Durable Functions 1.x's `/admin/extensions/DurableTaskExtension`) follows it, and a webhook path it ends with
   * (either, in any case) is not appended again. An http(s) URL without query, fragment or credentials (otherwise
   * `createHttpHandler` throws `InvalidArgumentError`); URLs are built on its ASCII form (punycode host,
   * percent-encoded path). Default: the request's origin.
   */
  readonly baseUrl?: string;
  /**
   * Largest accepted request body; larger bodies get 413. Default 1 MiB (1,048,576 bytes). A stream subscription
   * change (the client's own request, not an input) may take the larger of this and the default.
   */
  readonly maxBodyBytes?: number;
  /**
   * `Retry-After`, in whole seconds, of the 202 responses that point to a status to poll (a start, a restart, a status
   * not yet terminal); the 202s of raiseEvent, terminate, suspend, resume and rewind carry none. Default as Durable
   * Functions: 10 on a start's and a restart's check-status response, 5 on the
   * status route's 202; given, it is sent on both. Also (default 10) that of the 503 refusing a stream past `maxStreams`,
   * which `@durable-rx/rx-client` waits out before it tries again.
   */
  readonly retryAfterSeconds?: number;
  /** Largest `timeout` a start request may wait for completion, in seconds. Default 300. */
  readonly maxWaitSeconds?: number;
  /** Interval of SSE heartbeat comments, at most 2^31-1 ms. Default 15,000 ms. */
  readonly heartbeatMs?: number;
  /**
   * How long a dropped stream stays resumable with `Last-Event-ID`, at most 2^31-1 ms. Default
   * 30,000 ms. A stream that sent no event, and a session that holds no subscription and sent nothing but its
   * `session` event, are released as their connection goes: nothing of them can be resumed.
   */
  readonly resumeWindowMs?: number;
  /**
   * Bytes of events a stream keeps for a resume (a positive integer; values counted as their JSON's UTF-8 bytes plus
   * 64 for the event around each): each stream session's latest events (also at most 1,024 per subscription it holds),
   * which a reconnect may not have received, and, while a session that stopped reading may come back, the latest
   * values of each instance (or list) it watches, once for all sessions. However many values a burst commits or many
   * subscriptions receive at once, a reconnect within `resumeWindowMs` resumes exactly while they fit. Default 4 MiB.
   */
  readonly resumeBufferBytes?: number;
  /** The SSE `retry` hint sent to clients, in whole ms. Default 1,000. */
  readonly reconnectDelayMs?: number;
  /**
   * Most streams (open or resumable) at once; more get 503. A reconnect that resumes its stream (`Last-Event-ID`) is
   * served at the limit: the stream holds its place. A stream answered while there was room that opens when there is
   * none (a web body opens when first read) ends at once, as a dropped one. Default 10,000.
   */
  readonly maxStreams?: number;
  /**
   * Cross-origin access for browser apps on other origins: the allowed origins, each as a browser sends it in `Origin`
   * (`https://app.example.com`, `http://localhost:5173`: no path, no trailing slash; otherwise `createHttpHandler`
   * throws `InvalidArgumentError`). Preflight requests are answered without a key, allowing the headers the API reads
   * (`Authorization`, `Content-Type`, `Idempotency-Key`, `Last-Event-ID`, `x-ms-continuation-token`,
   * `x-functions-key`) and the trace context ones (`traceparent`, `tracestate`); `x-ms-continuation-token`,
   * `Location` and `Retry-After` are exposed. Pages on these origins may also POST what a browser sends without a
   * preflight (a body not declared JSON, a form post, an empty body), which is 403 `cross-origin-body` from any other
   * origin (and from every origin to a handler created in a browser). Default: no CORS headers.
   */
  readonly cors?: { readonly origins: readonly string[] };
  /**
   * Where failures are reported: an unexpected error (answered 500 without details) and every 5xx answer
   * (`unavailable`, `store-closed`) to `error`; a start or restart whose wait for completion failed to `warn`.
   * Default: the console.
   */
  readonly logger?: Logger;
  /** Include stack traces of failed orchestrations and activities in status bodies. Default false. */
  readonly exposeStackTraces?: boolean;
  /**
   * Where the handler's waits are timed: the `timeout` of start and restart requests, stream resume windows
   * (`resumeWindowMs`) and heartbeats (`heartbeatMs`). Default: the system clock. Pass the runtime's clock (a
   * `VirtualClock` from `@durable-rx/runtime/testing` in tests) so that all of them move with it.
   *
   * @example
   * ```ts
   * const clock = new VirtualClock();
   * const runtime = createRuntime({ clock, orchestrators, activities });
   * const handler = createHttpHandler(runtime.client, { key, clock });
   * await clock.advance(30_000); // resumeWindowMs: a dropped stream's session is released
   * ```
   */
  readonly clock?: Clock;
}

/** A WHATWG fetch handler serving the HTTP management API, plus `close()`. */
export interface HttpHandler {
  /** Answers one request. Never rejects: failures become JSON error responses. */
  (request: Request): Promise<Response>;
  /**
   * Ends every open event stream, drops resumable ones and ends the waits of start requests with `timeout` (call
   * before closing the server). New streams are then refused with 503 and no `Retry-After`: a client tries again after
   * its own delay, which may reach the replica that replaces this one. Idempotent.
   */
  close(): void;
}

/**
 * Unread bytes past which a stream's session writes nothing more to a slow reader until it has taken them: what waits
 * for a reader is bounded by this and one event, each written whole (see `SseConnection`).
 */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;
/** Connections one committed value is written to per turn of the event loop; larger audiences get it over several turns. */
const FAN_OUT_SLICE = 256;
const EXPOSED_HEADERS = ['x-ms-continuation-token', 'Location', 'Retry-After'];

/**
 * Creates a fetch handler for the Durable Functions HTTP management API over `client`, under
 * `/runtime/webhooks/durabletask`. It uses only web-standard APIs, so it runs in Node (see
 * `@durable-rx/runtime/node`), Deno, Bun, Cloudflare Workers and Service Workers.
 *
 * Every route is also served under `/admin/extensions/DurableTaskExtension`, Durable Functions 1.x's base path, for
 * its clients: the same route on the same router, with the same checks and answers, whose URLs (a start's `Location`
 * and check-status body, a running status's `Location`) name the base path the request came in on, as 1.x named its
 * own. Always on: it reaches nothing the 2.x path does not.
 *
 * | route | success | failures |
 * |---|---|---|
 * | `POST /orchestrators/{name}/{instanceId?}` (body: input; `timeout` in s; `pollingInterval` ignored; `version` refused; `ifExists`, durable-rx's own: `overwrite`, `fail` or `useExisting`, as `StartNewOptions.ifExists`; `startAt`, durable-rx's own: an ISO 8601 date-time with a zone, as `StartNewOptions.startAt`; `tags`, durable-rx's own: a JSON object of string keys and values, as `StartNewOptions.tags`) | 202 check-status body, `Location`, `Retry-After` (the status link with `returnInternalServerErrorOnFailure=true` when given); with `timeout`, once it finishes in time: 200 output (Completed), 200 status (Terminated, Failed; 500 with `returnInternalServerErrorOnFailure=true`); with `useExisting` over an instance, the same for that instance | 400, 403, 409, 413 |
 * | `GET /instances/{id}` (`showHistory`, `showHistoryOutput`, `showInput`, `returnInternalServerErrorOnFailure`, `format`) | 200 terminal, 202 (+ `Location`, `Retry-After`) otherwise, 500 Failed with `returnInternalServerErrorOnFailure=true` | 404 |
 * | `GET /instances` (`runtimeStatus=a,b`, `createdTimeFrom`, `createdTimeTo`, `instanceIdPrefix`, `name` (exact, repeated for several), `tags` (a JSON object: instances with every pair), `order` (`asc` or `desc`), `showInput`, `top`, `format`; `x-ms-continuation-token` header) | 200 array, `x-ms-continuation-token` (empty on the last page) | 400 |
 * | `POST /orchestrators/{name}/{instanceId}/signalWithStart/{eventName}` (durable-rx's own, `DurableClient.signalWithStart`; body: a JSON object `{ input?, eventData? }`; `Idempotency-Key` header as on raiseEvent; `timeout` and `tags` as for start; the start route's `startAt`, `ifExists` and `version` refused) | 202 check-status body of the instance signalled or started | 400, 403, 409, 413 |
 * | `POST /instances/{id}/raiseEvent/{eventName}` (body: event data; `Idempotency-Key` header, durable-rx's own: a repeat with the key delivers nothing, as `RaiseEventOptions.idempotencyKey`) | 202 (a repeat too) | 400, 403, 404, 410, 413 |
 * | `POST /instances/{id}/terminate?reason=` (without `reason`, a JSON body is the reason; `recursive=true`, durable-rx's own: its running sub-orchestrations too, as `TerminateOptions.recursive`, answered once the instance's own terminate is, the tree following durably) | 202 | 400, 403, 404, 410, 413 |
 * | `POST /instances/{id}/suspend?reason=`, `/resume?reason=` (without `reason`, a JSON string body is the reason) | 202 | 400, 403, 404, 410, 413 |
 * | `POST /instances/{id}/cancel?reason=` (likewise; durable-rx's own: cooperative cancellation, see `DurableClient.cancel`) | 202 once the request is stored | 400, 403, 404, 410, 413 |
 * | `POST /instances/{id}/rewind?reason=` (likewise) | 202 once the rewind is committed | 400, 403, 404, 409 (not terminal), 410 (Completed/Terminated), 413 (also: the store refused the rewritten history, the instance stays Failed) |
 * | `POST /instances/{id}/restart` (`restartWithNewInstanceId`, default true; `timeout` as for start) | 202 check-status body of the new instance (Pending) | 400, 403, 404, 409 (not terminal), 413 |
 * | `POST /instances/{id}/fork` (durable-rx's own, `DurableClient.fork`: `newInstanceId`, `keepResults`, `reapplyEvents` (`true` or `false`, default true); `timeout` as for start) | 202 check-status body of the fork | 400 (a bad id, `keepResults` not from 0 to the results recorded, `reapplyEvents` not `true` or `false`), 403, 404, 409 (`newInstanceId` taken), 413 |
 * | `DELETE /instances/{id}` (`recursive=true`, durable-rx's own: its sub-orchestrations too, as `PurgeInstanceOptions.recursive`) | 200 `{ instancesDeleted }` | 400, 404, 409, 503 (with `recursive=true`: the tree kept changing) |
 * | `DELETE /instances` (`createdTimeFrom` required, `createdTimeTo`, `runtimeStatus`, `name`, `tags`; any other parameter but `taskHub`, `connection`, `connectionName`, `code` is 400) | 200 `{ instancesDeleted }` | 400, 404 (none) |
 * | `POST /instances/terminate`, `/suspend`, `/resume`, `/cancel` (durable-rx's own, `DurableClient.terminateBy` and its siblings: the list filters but `showInput` and `top`, `reason`, `limit`, `recursive` for terminate; `x-ms-continuation-token` header; any other parameter but `taskHub`, `connection`, `connectionName`, `code` is 400, and so is a request naming no filter, which is what a command on the id `.` or `%2e` becomes once a URL parser removes that segment; body: the reason, as on one instance) | 200 `{ instancesAffected, instancesSkipped, continuationToken? }` (a token when `limit` stopped it or the request was cut short, and more may match) | 400, 403 |
 * | `GET /instances/{id}/stream` (`untilTerminal=true` ends it after a terminal status) | SSE `status` events (data: status JSON or `null`) | 400 |
 * | `GET /instances/{id}/history/stream` (`untilTerminal=true`; `afterExecution` and `afterEvents`, a history position; `positions=true`) | SSE `history` events (one history event each); with a position or `positions=true`, each history preceded by a `position` event (`{ execution, events }`; see `streamSource`) | 400 |
 * | `GET /streams/instances` (list filters) | SSE `instances` events (data: array) | 400 |
 * | `GET /streams`, `POST /streams/{session}/subscriptions`, `DELETE /streams/{session}` | one SSE session carrying many subscriptions (see `registerSessionRoutes`) | 400, 403, 404 |
 *
 * Every request needs the key (401 otherwise), or a read token made with it (`createReadToken`: an extension beyond
 * Durable Functions), which reaches the status, history and stream routes of the instances of its scope only, and the
 * list routes only under its prefix (a wider `instanceIdPrefix` is narrowed to it); any other route, instance or
 * prefix is 403 `forbidden` before anything is read or done, and in the multiplexed stream an out-of-scope
 * subscription alone gets its `close` event with that error. An expired or altered token is answered as a wrong key.
 * An anonymous handler answers a request with a `Host` header (any
 * received over the network) only on the host names it is meant to be reached by (IP addresses, `localhost`, the host
 * of `baseUrl`, `allowedHosts`; 421 `host-not-allowed` otherwise, against DNS rebinding; an explicit `allowedHosts`
 * checks every request); unknown routes get 404, wrong methods 405 (with `Allow`), bodies
 * over `maxBodyBytes` 413, malformed JSON, a malformed id or parameter, percent-escapes that are no UTF-8 text
 * (`%FF`, `%C0%AF`; a `%` that begins no escape is a `%`, as written), or a parameter given twice (`runtimeStatus`
 * excepted) 400; a parameter given without a value (`top=`) is one left out, and a body of only whitespace none, as
 * Durable Functions reads them. A start's or a command's body is read as JSON whatever its `Content-Type`, as Durable Functions reads
 * a start's (a command given `?reason=` does not read its body at all: only its size is checked), but any POST not declared JSON from a page on another origin, with a body or without one (a browser's
 * cross-site form post), is 403 `cross-origin-body`, and so is any POST not declared JSON to a handler created in a
 * browser (a Service Worker, where such a form post arrives without `Origin`); an event's data (as in Durable
 * Functions) and a stream subscription change must be declared `application/json`. Route literals
 * (`/Instances/{id}/Terminate`) and query parameter names (the `code` key too) match in any case, as in Azure
 * Functions; ids, event and orchestrator names keep their case.
 * Error bodies are `{ code, message, ExceptionMessage }` (see `ErrorResponseBody`; plus `storeClosed: true` when the
 * store is closed or lost for good); they never contain stack traces. Routes accept slashes at both ends of the path
 * after the base (`…/durabletask//instances/x//`), as Durable Functions trims them. Status bodies take the Durable Functions shape (see `WireInstanceStatus`: `null` for absent values,
 * times to the second, `historyEvents` in the extension's shape); `format=native` asks for the lossless durable-rx form instead
 * (`NativeWireStatus`), which event streams always use. `runtimeStatus` accepts every status of the Durable
 * Functions client's enum (`Canceled` matches nothing); `top` above 1000 gives pages of 1000 with a continuation
 * token. The full table, with every remaining difference from Durable Functions, is `docs/http-api.md`.
 *
 * Streams send each committed change as an event with an id and resume after `Last-Event-ID` without loss or
 * duplicates (see `SessionHub`), send heartbeat comments, and unsubscribe when the client goes away. A reconnect after
 * the last event (`end`, `error`) of a single stream that finished gets 204 No Content, which stops an `EventSource`.
 *
 * @example
 * ```ts
 * import { createHttpHandler } from '@durable-rx/runtime/http';
 * import { serve } from '@durable-rx/runtime/node';
 *
 * const handler = createHttpHandler(runtime.client, { key: process.env.DURABLE_KEY });
 * const server = await serve(handler, { port: 7071 });
 * // curl -X POST -H "Authorization: Bearer $DURABLE_KEY" http://127.0.0.1:7071/runtime/webhooks/durabletask/orchestrators/E1_HelloSequence
 * ```
 */
export function createHttpHandler(client: DurableClient, options: HttpHandlerOptions): HttpHandler {
  // Checked here, not on the first request: a handler without a client would answer every request 500.
  assertMethods(client, 'createHttpHandler client', HANDLER_CLIENT_METHODS);
  const settings = resolveOptions(options);
  const logger = settings.logger;
  const browserHosted = inBrowserHost();
  const wireOptions = { exposeStackTraces: settings.exposeStackTraces };
  // Every status and history event leaves through the wire sanitiser: responses, single streams and sessions.
  // Streams carry the lossless form; response bodies the Durable Functions shape unless `format=native` asks.
  const sanitiser: WireSanitiser = {
    status: (status) => toNativeWireStatus(status, wireOptions),
    historyEvent: (event) => sanitiseHistoryEvent(event, wireOptions),
  };
  const body = (status: InstanceStatus, format: StatusFormat, shown: Shown = {}) =>
    format === 'native' ? sanitiser.status(status) : toWireStatus(status, { ...wireOptions, ...shown });
  /** Aborted by `close()`: ends every wait a request started, whatever its timeout. */
  const closing = new AbortController();

  // Slashes at both ends of the path after the base name the same route (`/instances/` is the list, as the Durable
  // Functions client asks; Durable Functions trims them all), and route literals match in any case, as in Azure
  // Functions (`routeLiteralPath`); parameters keep their case.
  const app: Hono = new Hono({ getPath: routeLiteralPath(() => app.routes, WEBHOOK_BASES) });

  app.onError((error) => {
    if (error instanceof HTTPException) {
      return errorResponse(error.status, error.status === 413 ? 'payload-too-large' : 'bad-request', error.message || 'Bad request');
    }
    return responseForError(error, logger);
  });
  app.notFound((c) => errorResponse(404, 'not-found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}`));

  if (settings.cors) {
    app.use('*', cors({
      origin: [...settings.cors.origins],
      allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      // `traceparent` and `tracestate` (W3C trace context, which Durable Functions' HTTP API reads): a page whose fetch
      // calls carry them (OpenTelemetry's fetch instrumentation adds them to every request) would otherwise be blocked.
      allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID', 'x-ms-continuation-token', 'x-functions-key', 'traceparent', 'tracestate'],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    }));
  }

  // Before any route acts (after CORS, so that a page on an allowed origin can read the refusal; a preflight acts on
  // nothing): a request naming a host the handler does not answer for, as a page whose DNS name was rebound to this
  // address does. Not in a browser host, which only its own pages' requests reach.
  const allowedHosts = settings.allowedHosts;
  if (allowedHosts && !browserHosted) {
    app.use('*', async (c, next) => {
      assertHostAllowed(c.req.raw, allowedHosts);
      await next();
    });
  }

  const verifier = settings.keys ? new KeyVerifier(settings.keys) : undefined;
  const tokens = settings.keys ? new ReadTokenVerifier(settings.keys) : undefined;
  /** The requests whose key came as `?code=` (and no key header matched): their check-status URLs carry it. */
  const keyFromUrl = new WeakSet<Request>();
  /** The requests made with a read token (see `createReadToken`), by what it reads. */
  const readScopes = new WeakMap<Request, ReadScope>();
  app.use('*', async (c, next) => {
    const query = queryOf(c.req.url);
    let source = verifier && (await matchedKeySource(verifier, c.req.raw, query));
    // A key is looked for first: a read token beside a key takes nothing from it. An expired or altered token is no
    // credential, answered as a wrong key.
    if (tokens && source === undefined) {
      const presented = await presentedReadScope(tokens, c.req.raw, query, settings.clock.nowMs());
      source = presented?.source;
      if (presented) readScopes.set(c.req.raw, presented.scope);
    }
    if (source === 'code') keyFromUrl.add(c.req.raw);
    if (verifier && source === undefined) {
      return errorResponse(401, 'unauthorized', 'A valid key is required (Authorization: Bearer <key> or ?code=<key>)', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    await next();
  });

  // Before any route reads a parameter (Hono decodes path parameters, `URLSearchParams` query values; both keep a `%`
  // that begins no escape as written): escapes that are no UTF-8 text name no id, event or orchestrator name, and
  // would be read as U+FFFD in a query value, so every route refuses them alike, with 400.
  app.use('*', async (c, next) => {
    if (c.req.url.includes('%')) {
      const { pathname, search } = new URL(c.req.url);
      assertEscapesDecode(pathname);
      assertEscapesDecode(search, 'query');
    }
    await next();
  });

  // Before any route acts: a POST another site's page can make a browser send without a preflight is refused whatever
  // its route and whether or not it has a body (an empty form post starts, restarts, terminates or raises an event as
  // well as one with fields). So the bodies `bodyOf` reads afterwards need no check of their own.
  app.use('*', async (c, next) => {
    if (c.req.method === 'POST') assertNotCrossSitePost(c.req.raw, (origin) => trustsOrigin(c, origin));
    await next();
  });

  app.use('*', methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      errorResponse(405, 'method-not-allowed', `${c.req.method} is not allowed here`, { Allow: methods.join(', ') }),
  }));

  // Before any route acts: a read token reaches only the routes that read (each checks its scope); every other route,
  // a command, a purge, or one added later, is refused whole. (A request that matches no route gets its 404.)
  app.use('*', async (c, next) => {
    const route = readScopes.has(c.req.raw) ? matchedRoutes(c).find((r) => r.method !== METHOD_ALL) : undefined;
    if (route && !READ_ROUTES.has(`${route.method} ${route.path}`)) {
      throw new ForbiddenError(`A read token only reads: ${c.req.method} ${new URL(c.req.url).pathname} needs the key`);
    }
    await next();
  });

  // ------------------------------------------------------------------ start

  app.on('POST', paths('/orchestrators/:name/:instanceId?'), async (c) => {
    const url = new URL(c.req.url);
    const name = c.req.param('name');
    const idSegment = c.req.param('instanceId');
    const instanceId = idSegment === undefined ? undefined : parseInstanceIdSegment(idSegment);
    const query = queryOf(url);
    const { timeoutSeconds, returnServerErrorOnFailure } = parseWait(query);
    // Durable Functions records a `version` on the instance for the orchestrator to read; durable-rx has no versions, and
    // a start that dropped one would run as if none was asked. An empty value asks for none.
    if (query.value('version') !== undefined) {
      throw new InvalidArgumentError('version is not supported: durable-rx orchestrators have no versions; leave it out');
    }
    // An extension of durable-rx's (Durable Functions has none): what the start does when the id is taken.
    const ifExistsValue = query.value('ifExists');
    const ifExists = ifExistsValue === undefined ? undefined : isStartIfExists(ifExistsValue, 'ifExists');
    // durable-rx's too: when the start may begin (`StartNewOptions.startAt`), an ISO 8601 date-time with a zone.
    const startAt = parseStartTime(query, 'startAt');
    // durable-rx's too: the instance's tags (`StartNewOptions.tags`), a JSON object.
    const tags = parseTags(query, 'tags');
    const root = rootOf(c, url); // before anything is done: a base that cannot be built on is refused first
    const input = await bodyOf(c);
    const id = await client.startNew(name, {
      ...(input.present ? { input: input.value } : {}),
      ...(instanceId === undefined ? {} : { instanceId }),
      ...(ifExists === undefined ? {} : { ifExists }),
      ...(startAt === undefined ? {} : { startAt }),
      ...(tags === undefined ? {} : { tags }),
    });
    return startedResponse(c, url, root, id, timeoutSeconds, returnServerErrorOnFailure);
  });

  // An extension of durable-rx's (Durable Functions has none): Temporal's signal-with-start, the event delivered to the
  // active instance of the id, or to a new execution started for it (`DurableClient.signalWithStart`). The body carries
  // both values, as a JSON object `{ input?, eventData? }`.
  app.on('POST', paths('/orchestrators/:name/:instanceId/signalWithStart/:eventName'), async (c) => {
    const url = new URL(c.req.url);
    const name = c.req.param('name');
    const instanceId = parseInstanceIdSegment(c.req.param('instanceId'));
    const eventName = c.req.param('eventName');
    const query = queryOf(url);
    const { timeoutSeconds, returnServerErrorOnFailure } = parseWait(query);
    // The start route's own options do not apply here (an active instance is always signalled, a terminal one always
    // replaced, the start is at once): a caller who sends one would otherwise get a start it did not ask for.
    for (const option of ['startAt', 'ifExists', 'version']) {
      if (query.value(option) !== undefined) throw new InvalidArgumentError(`${option} is not taken by signalWithStart; leave it out`);
    }
    // The started execution's tags, as on start.
    const tags = parseTags(query, 'tags');
    const root = rootOf(c, url); // before anything is done, as on start
    const body = await readJsonBody(c.req.raw, settings.maxBodyBytes);
    const { input, eventData } = signalWithStartBody(body);
    const idempotencyKey = idempotencyKeyOf(c.req.raw.headers);
    const id = await client.signalWithStart(name, {
      instanceId, eventName, ...(input === undefined ? {} : { input }), ...(eventData === undefined ? {} : { eventData }),
      ...(tags === undefined ? {} : { tags }),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
    return startedResponse(c, url, root, id, timeoutSeconds, returnServerErrorOnFailure);
  });

  app.on('POST', paths('/instances/:id/restart'), async (c) => {
    const url = new URL(c.req.url);
    const id = parseInstanceIdSegment(c.req.param('id'));
    const query = queryOf(url);
    const restartWithNewInstanceId = parseBoolean(query, 'restartWithNewInstanceId');
    const { timeoutSeconds, returnServerErrorOnFailure } = parseWait(query);
    const root = rootOf(c, url); // before anything is done, as on start
    await bodyOf(c, false); // a body is allowed but unused; still size-checked
    // Durable Functions' route restarts under a new id unless told otherwise (the client method keeps the id).
    const newId = await client.restart(id, { restartWithNewInstanceId: restartWithNewInstanceId ?? true });
    return startedResponse(c, url, root, newId, timeoutSeconds, returnServerErrorOnFailure);
  });

  app.on('POST', paths('/instances/:id/fork'), async (c) => {
    const url = new URL(c.req.url);
    const id = parseInstanceIdSegment(c.req.param('id'));
    const query = queryOf(url);
    const newInstanceId = query.value('newInstanceId');
    const keep = query.value('keepResults');
    const reapplyEvents = parseBoolean(query, 'reapplyEvents');
    const { timeoutSeconds, returnServerErrorOnFailure } = parseWait(query);
    const root = rootOf(c, url); // before anything is done, as on start
    await bodyOf(c, false); // a body is allowed but unused; still size-checked
    // Checked by the client as `fork`'s options: a count in decimal digits, anything else refused (400).
    const keepResults = keep === undefined ? undefined : /^\d{1,15}$/.test(keep) ? Number(keep) : keep;
    const forkId = await client.fork(id, {
      ...(newInstanceId === undefined ? {} : { newInstanceId }), ...(keepResults === undefined ? {} : { keepResults: keepResults as number }),
      ...(reapplyEvents === undefined ? {} : { reapplyEvents }),
    });
    return startedResponse(c, url, root, forkId, timeoutSeconds, returnServerErrorOnFailure);
  });

  // ------------------------------------------------------------------ streams

  const streams = registerStreamRoutes(app, {
    client, wire: sanitiser,
    resumeWindowMs: settings.resumeWindowMs, resumeBufferBytes: settings.resumeBufferBytes, heartbeatMs: settings.heartbeatMs,
    reconnectDelayMs: settings.reconnectDelayMs, maxStreams: settings.maxStreams, fanOutSlice: FAN_OUT_SLICE,
    maxBacklogBytes: MAX_BACKLOG_BYTES,
    // A subscription change is the client's own request, not an input: a limit lowered to bound inputs must not fail
    // the streams of a page watching many instances, so it takes at least the default.
    maxBodyBytes: Math.max(settings.maxBodyBytes, DEFAULT_MAX_BODY_BYTES), retryAfterSeconds: settings.retryAfterSeconds,
    errorBody: (error) => errorBodyOf(error, logger, 'stream error'),
    clock: settings.clock, logger,
    authorize: (c, spec) => {
      const scope = readScopes.get(c.req.raw);
      if (!scope) return spec;
      if (spec.kind === 'instances') return { ...spec, filter: scopedFilter(scope, spec.filter) };
      assertReadsInstance(scope, spec.instanceId);
      return spec;
    },
    expiryOf: (c) => readScopes.get(c.req.raw)?.expiresAt,
    ownerOf: (c) => {
      const scope = readScopes.get(c.req.raw);
      return scope && scopeOwner(scope);
    },
  });

  app.on('GET', paths('/streams/instances'), (c) => {
    const filter = scoped(c, parseInstanceFilter(queryOf(c.req.url)));
    return streams.singleStream(c, { kind: 'instances', filter });
  });

  app.on('GET', paths('/instances/:id/stream'), (c) => {
    const instanceId = reads(c, parseInstanceIdSegment(c.req.param('id')));
    const untilTerminal = parseBoolean(queryOf(c.req.url), 'untilTerminal') ?? false;
    return streams.singleStream(c, { kind: 'status', instanceId, untilTerminal });
  });

  app.on('GET', paths('/instances/:id/history/stream'), (c) => {
    const instanceId = reads(c, parseInstanceIdSegment(c.req.param('id')));
    const params = queryOf(c.req.url);
    const untilTerminal = parseBoolean(params, 'untilTerminal') ?? false;
    return streams.singleStream(c, historySpec(instanceId, untilTerminal, parseHistoryPosition(params), parseBoolean(params, 'positions')));
  });

  // ------------------------------------------------------------------ status and list

  app.on('GET', paths('/instances/:id'), async (c) => {
    const url = new URL(c.req.url);
    const params = queryOf(url);
    const id = reads(c, parseInstanceIdSegment(c.req.param('id')));
    const showHistory = parseBoolean(params, 'showHistory') ?? false;
    const showHistoryOutput = parseBoolean(params, 'showHistoryOutput') ?? false;
    const showInput = parseBoolean(params, 'showInput') ?? true;
    const returnServerErrorOnFailure = parseBoolean(params, 'returnInternalServerErrorOnFailure') ?? false;
    const format = parseFormat(params);
    // The Durable Functions history shape is built from the full native history; it applies the show flags itself.
    const status = await client.getStatus(id, format === 'native'
      ? { showHistory, showHistoryOutput, showInput }
      : { showHistory, showHistoryOutput: true, showInput: true });
    if (!status) throw instanceNotFound(id);
    const json = body(status, format, { showHistoryOutput, showInput });
    if (isTerminalStatus(status.runtimeStatus)) {
      return jsonResponse(json, { status: status.runtimeStatus === 'Failed' && returnServerErrorOnFailure ? 500 : 200 });
    }
    return jsonResponse(json, {
      status: 202,
      headers: { Location: statusUrl(c, url, id), 'Retry-After': String(settings.statusRetryAfterSeconds) },
    });
  });

  app.on('GET', paths('/instances'), async (c) => {
    const continuationToken = c.req.header('x-ms-continuation-token');
    // Checked first, by the rule every store pages with: a forged token is 400 in every case, also before a filter
    // that matches nothing answers [] without asking the store.
    if (continuationToken) decodeContinuationToken(continuationToken);
    const params = queryOf(c.req.url);
    const pageSize = parseTop(params, 'top');
    const format = parseFormat(params);
    const filter = scoped(c, parseInstanceFilter(params));
    if (matchesNothing(filter)) return listResponse([], undefined);
    const query: ListInstancesQuery = {
      ...filter,
      ...(pageSize === undefined ? {} : { pageSize }),
      ...(continuationToken ? { continuationToken } : {}),
    };
    const page = await client.listInstances(query);
    const shown = { showInput: filter.showInput !== false };
    return listResponse(page.instances.map((status) => body(status, format, shown)), page.continuationToken);
  });

  // ------------------------------------------------------------------ commands

  app.on('POST', paths('/instances/:id/raiseEvent/:eventName'), async (c) => {
    const id = parseInstanceIdSegment(c.req.param('id'));
    const eventName = c.req.param('eventName');
    // Declared JSON only (unlike the other bodies, see `bodyOf`): `application/json`, as Durable Functions requires of an
    // event's data, or an `application/…+json` type, which it refuses and durable-rx takes.
    const idempotencyKey = idempotencyKeyOf(c.req.raw.headers);
    const body = await readJsonBody(c.req.raw, settings.maxBodyBytes);
    const data = body.present ? body.value : undefined;
    await (idempotencyKey === undefined ? client.raiseEvent(id, eventName, data) : client.raiseEvent(id, eventName, data, { idempotencyKey }));
    return accepted();
  });

  app.on('POST', paths('/instances/:id/terminate'), async (c) => {
    const id = parseInstanceIdSegment(c.req.param('id'));
    const params = queryOf(c.req.url);
    const reason = parseString(params, 'reason');
    // durable-rx's own (Durable Functions' route has no such parameter): `TerminateOptions.recursive`.
    const recursive = parseBoolean(params, 'recursive');
    const why = await reasonOf(c, reason, 'any');
    // Answered once the instance's own terminate is applied (or queued for a worker), as without `recursive`: the
    // commit that applies it hands it on to the sub-orchestrations, so the tree follows durably, and a wait for every
    // level (10 s at most per the client's rule, after the instance's own) would outlast a caller's request timeout.
    // The remote client waits for the tree itself, over its event stream.
    await terminateAccepted(client, id, why, recursive ? { recursive } : undefined);
    return accepted();
  });

  for (const command of ['suspend', 'resume', 'rewind', 'cancel'] as const) {
    app.on('POST', paths(`/instances/:id/${command}`), async (c) => {
      const id = parseInstanceIdSegment(c.req.param('id'));
      const reason = parseString(queryOf(c.req.url), 'reason');
      await client[command](id, (await reasonOf(c, reason, 'string')) as string | undefined);
      return accepted();
    });
  }

  // durable-rx's own (Durable Functions has only the purge by filter below): a command applied to every instance the
  // list filters match (`DurableClient.terminateBy` and its siblings). Every parameter is read before anything is
  // done: a misspelled filter would change more instances than asked, so an unknown one is 400, as on the purge;
  // `showInput` and `top` are list parameters, not filters. Paging as the list's: `x-ms-continuation-token` in,
  // `continuationToken` in the answer.
  // A request that names no filter is 400 (`assertNamesAFilter`), though `terminateBy({})` takes every instance: the
  // command on one instance whose id is the dot segment `.` or `%2e` (`/instances/./terminate`, which the Durable
  // Functions client sends as written) reaches this route, as every URL parser (fetch, curl, the runtime serving the
  // handler) removes that segment before the handler sees the path.
  for (const command of ['terminate', 'suspend', 'resume', 'cancel'] as const) {
    app.on('POST', paths(`/instances/${command}`), async (c) => {
      const params = queryOf(c.req.url).knownOnly([
        'runtimeStatus', 'createdTimeFrom', 'createdTimeTo', 'instanceIdPrefix', 'name', 'order', 'tags', 'reason', 'limit',
        ...(command === 'terminate' ? ['recursive'] : []),
      ]);
      const filter = parseInstanceFilter(params);
      const reason = parseString(params, 'reason');
      const recursive = parseBoolean(params, 'recursive');
      const limit = parseCount(params, 'limit');
      assertNamesAFilter(filter, command);
      const continuationToken = c.req.header('x-ms-continuation-token');
      // Checked first, as on the list: a forged token is 400 also when the filter matches nothing.
      if (continuationToken) decodeContinuationToken(continuationToken);
      // As on one instance (`reasonOf`): `?reason=` wins, the body then unread.
      const why = await reasonOf(c, reason, command === 'terminate' ? 'any' : 'string');
      // A filter of only statuses durable-rx never gives (`Canceled`) matches nothing: nothing to do, once the reason
      // is checked as the command checks it (a reason it would refuse is 400 whatever the filter).
      if (matchesNothing(filter)) {
        if (command === 'terminate') toTerminateReason(why);
        else if (why !== undefined) isReason(why, 'reason');
        return jsonResponse({ instancesAffected: 0, instancesSkipped: 0 }, { status: 200 });
      }
      // A terminate's instances are answered for as on one instance: once each one's own terminate is applied, a
      // recursive one's sub-orchestrations following durably (not waited for level by level within the request).
      const run = (options: BulkTerminateOptions): Promise<BulkCommandResult> => (command === 'terminate'
        ? terminateByAccepted(client, filter, why, options)
        : client[`${command}By`](filter, why as string | undefined, options));
      // Taken up BULK_CONCURRENCY instances at a time, each group with its own `limit`, until the request's signal
      // aborts (the client went away; on some Node versions, once the body was read): no further instance is then
      // taken up, and the answer is the one a `limit` gives, the counts and the token to go on with. The signal is not
      // handed to the command, which would reject and lose the counts. One group at least: a request always moves on.
      const signal = c.req.raw.signal;
      let instancesAffected = 0;
      let instancesSkipped = 0;
      let token = continuationToken || undefined;
      let remaining = limit ?? Infinity;
      do {
        const result = await run({
          limit: Math.min(remaining, BULK_CONCURRENCY), ...(token === undefined ? {} : { continuationToken: token }), ...(recursive ? { recursive } : {}),
        });
        instancesAffected += result.instancesAffected;
        instancesSkipped += result.instancesSkipped;
        remaining -= result.instancesAffected + result.instancesSkipped;
        token = result.continuationToken;
      } while (token !== undefined && remaining > 0 && !signal.aborted);
      return jsonResponse({ instancesAffected, instancesSkipped, ...(token === undefined ? {} : { continuationToken: token }) }, { status: 200 });
    });
  }

  // ------------------------------------------------------------------ purge

  app.on('DELETE', paths('/instances/:id'), async (c) => {
    const id = parseInstanceIdSegment(c.req.param('id'));
    // durable-rx's own, as for terminate: `PurgeInstanceOptions.recursive`.
    const recursive = parseBoolean(queryOf(c.req.url), 'recursive');
    const result = await client.purgeInstanceHistory(id, recursive ? { recursive } : undefined);
    if (result.instancesDeleted === 0) throw instanceNotFound(id);
    return jsonResponse({ instancesDeleted: result.instancesDeleted }, { status: 200 });
  });

  app.on('DELETE', paths('/instances'), async (c) => {
    // An unread parameter (a misspelled filter, `runtimeStatus[]`) would purge more than asked, for good: refused first.
    // `instanceIdPrefix` passes only to be refused below by the purge rule, which says why; the message of an unknown
    // parameter does not list it among the ones the route knows.
    const params = queryOf(c.req.url).knownOnly(['createdTimeFrom', 'createdTimeTo', 'runtimeStatus', 'name', 'tags'], ['instanceIdPrefix']);
    const createdTimeFrom = parseDate(params, 'createdTimeFrom', 'up');
    if (!createdTimeFrom) throw new InvalidArgumentError('createdTimeFrom is required');
    const createdTimeTo = parseDate(params, 'createdTimeTo', 'down');
    const runtimeStatus = parseRuntimeStatuses(params, 'runtimeStatus');
    const name = parseNames(params, 'name');
    const tags = parseTags(params, 'tags');
    // Passed on for the client's purge rule to refuse: a filter a purge cannot apply is never dropped. An empty value is
    // the parameter left out, as for every typed parameter: no prefix narrows nothing, so nothing is widened.
    const instanceIdPrefix = params.value('instanceIdPrefix');
    const filter = {
      createdTimeFrom,
      ...(createdTimeTo ? { createdTimeTo } : {}),
      ...(runtimeStatus ? { runtimeStatus } : {}),
      ...(name ? { name } : {}),
      ...(tags ? { tags } : {}),
      ...(instanceIdPrefix === undefined ? {} : { instanceIdPrefix }),
    };
    if (runtimeStatus?.length === 0 && instanceIdPrefix === undefined) {
      throw new InstanceNotFoundError('No terminal instances matched the filter');
    }
    const result = await client.purgeInstanceHistoryBy(filter as PurgeInstancesFilter);
    if (result.instancesDeleted === 0) throw new InstanceNotFoundError('No terminal instances matched the filter');
    return jsonResponse({ instancesDeleted: result.instancesDeleted }, { status: 200 });
  });

  // ------------------------------------------------------------------ helpers

  /** `id`, which a request made with a read token may read only within its scope ({@link ForbiddenError} otherwise). */
  function reads(c: Context, id: string): string {
    const scope = readScopes.get(c.req.raw);
    if (scope) assertReadsInstance(scope, id);
    return id;
  }

  /** `filter`, narrowed to the scope of a request made with a read token (see `scopedFilter`). */
  function scoped<F extends InstanceFilter>(c: Context, filter: F): F {
    const scope = readScopes.get(c.req.raw);
    return scope ? scopedFilter(scope, filter) : filter;
  }

  /**
   * The status of `id` as soon as it is terminal, or the latest one when the timeout passes, the request is aborted
   * (the client went away) or the handler closes; each of these ends the store subscription and the timer.
   */
  function waitForTerminal(id: string, timeoutMs: number, signal: AbortSignal): Promise<InstanceStatus | undefined> {
    return firstValueFrom(
      client.status$(id).pipe(
        takeUntil(merge(timeoutAfter(timeoutMs, settings.clock), aborted(signal), aborted(closing.signal))),
        takeWhile((s) => s !== undefined && !isTerminalStatus(s.runtimeStatus), true),
        last(undefined, undefined),
      ),
    );
  }

  function parseWait(params: QueryParams): { timeoutSeconds: number | undefined; returnServerErrorOnFailure: boolean } {
    const timeoutSeconds = parseNonNegativeNumber(params, 'timeout');
    // `pollingInterval` is not read: waiting here is pushed by the store's change feed, nothing polls. Like Durable
    // Functions, which ignores a value it cannot parse, any value is taken, also the `{intervalInSeconds}` that its own
    // `createAndWaitOnNewInstancePostUri` template leaves when a caller fills in only the timeout.
    const returnServerErrorOnFailure = parseBoolean(params, 'returnInternalServerErrorOnFailure') ?? false;
    if (timeoutSeconds !== undefined && timeoutSeconds > settings.maxWaitSeconds) {
      throw new InvalidArgumentError(`timeout must be at most ${settings.maxWaitSeconds} seconds`);
    }
    return { timeoutSeconds, returnServerErrorOnFailure };
  }

  /**
   * After a start or restart: with `timeout`, the completion response when the instance finishes in time
   * (Completed: 200 with the output; Terminated: 200 with the status; Failed: 200 with the status, or 500 with
   * `returnInternalServerErrorOnFailure=true`); otherwise (the timeout passed, or the wait failed: logged) the 202
   * check-status response, whose `statusQueryGetUri` and `Location` carry `returnInternalServerErrorOnFailure=true`
   * when the request did.
   */
  async function startedResponse(
    c: Context, url: URL, root: string, id: string, timeoutSeconds: number | undefined, returnServerErrorOnFailure: boolean,
  ): Promise<Response> {
    if (timeoutSeconds !== undefined) {
      // The instance is started whatever the wait does: a wait that fails (a store read) answers with the check-status
      // response below, as one that times out does, never with a 5xx that a caller would answer with a second start.
      const status = await waitForTerminal(id, timeoutSeconds * 1000, c.req.raw.signal).catch((error: unknown) => {
        logger.warn(`HTTP API: the wait for ${JSON.stringify(id)} after its start failed (${String(error)}); answering with its check-status response`, error);
        return undefined;
      });
      const done = status && completionResponse(status, { ...wireOptions, failedStatus: returnServerErrorOnFailure ? 500 : 200 });
      if (done) return done;
    }
    // The status link carries `returnInternalServerErrorOnFailure=true` when the request did: polling it answers a
    // failure as the wait would have.
    const payload = withFailureStatusLink(managementPayloadAt(root, id, keyInUrls(c, url)), returnServerErrorOnFailure);
    return checkStatusResponse(payload, settings.retryAfterSeconds);
  }

  /**
   * The status URL of instance `id` as its caller sees it, with the request's query: under `baseUrl` when one is
   * configured (behind a proxy), where the check-status URLs point, so that a client polling `Location` stays on the
   * public address. It is built from the route, not from the request's path, so it is the canonical spelling
   * (`statusQueryGetUri`'s) whatever case, escapes or trailing slash the request used, on the base path it came in on.
   */
  function statusUrl(c: Context, url: URL, id: string): string {
    return `${rootOf(c, url)}/instances/${encodeURIComponent(id)}${url.search}`;
  }

  /**
   * The webhook root of the URLs a response names: `baseUrl` when configured (without a webhook path it ends with),
   * else the request's origin, then the base path the request came in on, 2.x's or 1.x's (as Durable Functions 1.x
   * named its own), spelled canonically. A request on a scheme without an http(s) origin (`app://bundle/…` of an
   * in-process handler in Electron, Tauri or Capacitor, whose origin is `"null"`) has none to build them on: 400, naming
   * the option that fixes it. The routes that act call this before acting, so such a request changes nothing.
   */
  function rootOf(c: Context, url: URL): string {
    const mount = settings.baseMount ?? requestBase(url, 'the handler\'s baseUrl option');
    // The path of the route that matched, as registered: it starts with the base path the request used.
    return mount + (isLegacyRoute(routePath(c)) ? LEGACY_WEBHOOK_PATH : WEBHOOK_PATH);
  }

  /**
   * The body of a start or a command, read as JSON whatever its declared type, as Durable Functions reads a start's
   * (`fetch` with a string body sends `text/plain`, `curl -d` a form type). Only POST routes read one, and the guard
   * before every route has already refused such a body from an origin {@link trustsOrigin} refuses (403, see
   * `assertNotCrossSitePost`). `used` as in `readJsonBody`.
   */
  function bodyOf(c: Context, used = true): Promise<JsonBody> {
    return readJsonBody(c.req.raw, settings.maxBodyBytes, { used, anyType: true });
  }

  /**
   * The reason of a command (the one rule of every terminate, suspend, resume, rewind and cancel, on one instance and by
   * filter): `reason`, its `?reason=` (even empty), when given, as Durable Functions reads only the query; the body is
   * then not read, only its size checked (413 over `maxBodyBytes`), so a tool that always sends one (`{}` from Data
   * Factory web activities and Logic Apps, free text as `text/plain`) is answered as without it. Otherwise the body
   * read as JSON whatever its type ({@link bodyOf}): a terminate's (`any`) is its reason whatever its value; another
   * command's (`string`) only when it is a JSON string (how a remote client sends a reason too long for a request
   * line), any other value unused and never refused for an integer beyond the safe range (a string has none).
   */
  async function reasonOf(c: Context, reason: string | undefined, takes: 'any' | 'string'): Promise<unknown> {
    if (reason !== undefined) {
      await readJsonBody(c.req.raw, settings.maxBodyBytes, { read: false });
      return reason;
    }
    const body = await bodyOf(c, takes === 'any');
    return !body.present ? undefined : takes === 'any' || typeof body.value === 'string' ? body.value : undefined;
  }

  /**
   * The one rule of which callers may POST what a page can send without a CORS preflight (a body not declared JSON, or
   * none), by their `Origin` (`null` when the request has none). In a browser-hosted handler ({@link inBrowserHost}):
   * none, whatever its origin. Elsewhere: a caller without `Origin` (curl, a server, a script), the handler's own origin
   * (that of `rootOf`, the base its URLs name; none for a request URL without an http(s) origin and no `baseUrl`) and
   * the origins its `cors` option allows, as they may send a declared JSON body anyway. A request the browser marks
   * `Sec-Fetch-Site: same-origin` comes from a page on the origin the browser addressed (the public one, behind a
   * proxy): a page cannot set that header, and its own form posts send `Origin: null` under
   * `Referrer-Policy: no-referrer`.
   */
  function trustsOrigin(c: Context, origin: string | null): boolean {
    if (browserHosted) return false;
    // No Origin: curl, a server, a script; but a request that carries Sec-Fetch-Site (only browsers send it, and no page
    // can set it) is a browser's, and one from another site is not trusted for lacking an Origin.
    if (origin === null) return !isCrossSiteFetch(c.req.raw.headers.get('sec-fetch-site'));
    if (settings.cors?.origins.includes(origin) === true || c.req.raw.headers.get('sec-fetch-site') === 'same-origin') return true;
    return origin === (settings.baseOrigin ?? httpOriginOf(new URL(c.req.url)));
  }

  /**
   * The key goes into check-status URLs only when the caller itself put it in the URL (`?code=`, the credential that
   * matched), as Durable Functions.
   */
  function keyInUrls(c: Context, url: URL): string | undefined {
    const code = keyFromUrl.has(c.req.raw) ? queryOf(url).get('code') : undefined;
    return code;
  }


  const handler = async (request: Request): Promise<Response> => {
    try {
      return await app.fetch(request);
    } catch (error) {
      return responseForError(error, logger);
    }
  };
  return Object.assign(handler, {
    close: () => {
      closing.abort();
      streams.close();
    },
  });
}

/** The method Hono gives middleware (`app.use`): every other matched route is a route's handler. */
const METHOD_ALL = 'ALL';

/**
 * The routes a read token reaches, as `METHOD path` as registered (HEAD is served by GET's): the status and stream
 * routes, which check the token's scope, and the multiplexed stream's session routes (opening a session reads
 * nothing; each subscription is checked; deleting one's own session ends only its streams).
 */
const READ_ROUTES: ReadonlySet<string> = new Set([
  ...['/instances/:id', '/instances/:id/stream', '/instances/:id/history/stream', '/instances', '/streams/instances', '/streams']
    .flatMap((path) => paths(path).map((route) => `GET ${route}`)),
  ...paths('/streams/:session/subscriptions').map((route) => `POST ${route}`),
  ...paths('/streams/:session').map((route) => `DELETE ${route}`),
]);

/** Which shape status bodies take. */
type StatusFormat = 'durable-functions' | 'native';
/** What a Durable Functions status body shows. */
type Shown = { readonly showHistoryOutput?: boolean; readonly showInput?: boolean };

/** `format=native` asks for lossless status bodies (what `@durable-rx/rx-client` reads); the default is Durable Functions'. */
function parseFormat(params: QueryParams): StatusFormat {
  const raw = params.value('format');
  if (raw === undefined || raw === 'durable-functions') return 'durable-functions';
  if (raw === 'native') return 'native';
  throw new InvalidArgumentError('format must be native or durable-functions');
}

/**
 * The `Idempotency-Key` header of the raise-event and signalWithStart routes (`RaiseEventOptions.idempotencyKey`,
 * `SignalWithStartOptions.idempotencyKey`), `undefined` without one: the
 * value without its surrounding double quotes, if any (`idempotencyKeyOfHeader`, the rule rx-client writes its header
 * by); the client checks the key (400 for a malformed one, nothing written).
 */
function idempotencyKeyOf(headers: Headers): string | undefined {
  return idempotencyKeyOfHeader(headers.get('idempotency-key'));
}

/** The query parameters of a request URL, by name in any case (see {@link QueryParams}). */
function queryOf(url: URL | string): QueryParams {
  return new QueryParams((typeof url === 'string' ? new URL(url) : url).searchParams);
}

/** A runtime status filter naming only statuses durable-rx never gives (`Canceled`) matches no instance. */
function matchesNothing(filter: InstanceFilter): boolean {
  return filter.runtimeStatus !== undefined && filter.runtimeStatus.length === 0;
}

/**
 * Refuses (`InvalidArgumentError`, 400) a command by filter over HTTP whose filter names no instances: no
 * `runtimeStatus`, created-time bound, `name`, non-empty `instanceIdPrefix` or `tags` pair. Such a request is what a
 * command on the id `.` or `%2e` becomes once a URL parser has removed that dot segment, and it would change every
 * instance; every instance is asked for by naming the statuses (`runtimeStatus=Pending,Running,Suspended`), as the
 * remote client's `terminateBy({})` does.
 */
function assertNamesAFilter(filter: InstanceFilter, command: BulkCommand): void {
  if (
    filter.runtimeStatus !== undefined || filter.createdTimeFrom !== undefined || filter.createdTimeTo !== undefined ||
    (filter.name !== undefined && filter.name.length > 0) || (filter.instanceIdPrefix !== undefined && filter.instanceIdPrefix !== '') ||
    (filter.tags !== undefined && Object.keys(filter.tags).length > 0)
  ) {
    return;
  }
  throw new InvalidArgumentError(
    `POST /instances/${command} changes every instance its filter matches and names none: give runtimeStatus, createdTimeFrom, ` +
    `createdTimeTo, instanceIdPrefix, name or tags (runtimeStatus=${BULK_STATUSES[command].join(',')} for every instance ` +
    `it applies to). A command on one instance whose id is . or %2e reaches this route: URL parsers remove that path segment`,
  );
}

/** Emits once when `signal` aborts (at once if it already has). */
function aborted(signal: AbortSignal): Observable<void> {
  return new Observable<void>((subscriber) => {
    const fire = () => {
      subscriber.next();
      subscriber.complete();
    };
    if (signal.aborted) return fire();
    signal.addEventListener('abort', fire, { once: true });
    return () => signal.removeEventListener('abort', fire);
  });
}

/**
 * A page of the list. `x-ms-continuation-token` is on every page, empty when none follows, as the extension sends
 * it: a client that reads it without checking it is there (.NET's `Headers.GetValues`, which throws; Python's
 * `headers['x-ms-continuation-token']`, a KeyError) must not fail on the last page. An empty token sent back asks
 * for the first page.
 */
function listResponse(statuses: readonly unknown[], continuationToken: string | undefined): Response {
  return jsonResponse(statuses, { status: 200, headers: { 'x-ms-continuation-token': continuationToken ?? '' } });
}

/**
 * The empty 202 of a raise event, terminate, suspend, resume, rewind or cancel, with `Content-Length: 0`, as the
 * extension sends it: without one, a server writes the empty body chunked (`Transfer-Encoding: chunked` and a
 * zero-length chunk).
 */
function accepted(): Response {
  return new Response(null, { status: 202, headers: { 'content-length': '0' } });
}

/** Methods every DurableClient has, checked when a handler is made: what is no client is told from one by them. */
const HANDLER_CLIENT_METHODS = ['startNew', 'getStatus', 'listInstances'];

interface ResolvedOptions {
  readonly keys: readonly string[] | undefined;
  readonly baseUrl: string | undefined;
  /** `mountOf(baseUrl)`, built once: every URL a response names starts with it, then the request's base path. */
  readonly baseMount: string | undefined;
  /** The origin of `baseUrl`, built once: the handler's own origin, which the handler's `trustsOrigin` rule trusts. */
  readonly baseOrigin: string | undefined;
  readonly maxBodyBytes: number;
  readonly retryAfterSeconds: number;
  /** `Retry-After` of the status route's 202: `retryAfterSeconds` when given, else 5 (Durable Functions' status route). */
  readonly statusRetryAfterSeconds: number;
  readonly maxWaitSeconds: number;
  readonly heartbeatMs: number;
  readonly resumeWindowMs: number;
  readonly resumeBufferBytes: number;
  readonly reconnectDelayMs: number;
  readonly maxStreams: number;
  readonly cors: { readonly origins: readonly string[] } | undefined;
  /** The hosts answered for; `undefined` for any (a handler with a key and no `allowedHosts`, or `allowedHosts: true`). */
  readonly allowedHosts: HostAllowList | undefined;
  readonly logger: Logger;
  readonly clock: GuardedClock;
  readonly exposeStackTraces: boolean;
}

/** A wait in seconds: a finite number > 0 (`maxWaitSeconds`). */
const isSeconds: MemberCheck<number> = (value, what) =>
  typeof value === 'number' && value > 0 && Number.isFinite(value) ? value : invalid(what, 'must be a finite number > 0 (s)');

/**
 * The members of {@link HttpHandlerOptions} checked by the shared rule of their kind (booleans, counts, delays).
 * `retryAfterSeconds` and `reconnectDelayMs` are counts: sent as `Retry-After` and as the SSE `retry` field, which
 * both take whole numbers only.
 */
const HANDLER_CHECKS = {
  anonymous: isBoolean, exposeStackTraces: isBoolean,
  maxBodyBytes: isCount, resumeBufferBytes: isCount, maxStreams: isCount, retryAfterSeconds: isCount, reconnectDelayMs: isCount,
  heartbeatMs: isFiniteDelayMs, resumeWindowMs: isFiniteDelayMs, maxWaitSeconds: isSeconds,
  // Checked below by rules of their own.
  key: taken, allowedHosts: taken, baseUrl: taken, cors: taken, logger: taken, clock: taken,
};

function resolveOptions(options: HttpHandlerOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options are required');
  // The option the byte bound replaced (a count of events): taken silently, it would leave the default in force.
  if ((options as { readonly resumeBufferSize?: unknown }).resumeBufferSize !== undefined) {
    throw new InvalidArgumentError(
      'resumeBufferSize is no longer an option: give resumeBufferBytes, the bytes of events a stream session keeps to send again after a reconnect (default 4 MiB)',
    );
  }
  const checked = readChecked(options, 'createHttpHandler options', HANDLER_CHECKS);
  const key: unknown = options.key;
  if (key !== undefined && typeof key !== 'string' && !Array.isArray(key)) throw new InvalidArgumentError('key must be a string or an array of strings');
  const keys = key === undefined ? undefined : typeof key === 'string' ? [key] : [...(key as unknown[])] as string[];
  if (checked.anonymous === true) {
    if (keys !== undefined) throw new InvalidArgumentError('Give either key or anonymous: true, not both');
  } else if (!keys || keys.length === 0 || keys.some((k) => typeof k !== 'string' || k.length === 0)) {
    throw new InvalidArgumentError('A non-empty key is required (or anonymous: true, explicitly)');
  } else {
    // A key no header can carry (a line break, a character above U+00FF) could never be sent by a remote client,
    // whose key is checked by the same rule.
    for (const key of keys) isHeaderText(key, 'key');
  }
  checkDependencies(options, 'createHttpHandler options');
  // Checked once here by the rule every surface applies, so no request is answered with URLs built on a malformed
  // base (nor fails after its command was done, a start's `Location` being a header that must be ASCII).
  const baseUrl = options.baseUrl === undefined ? undefined : httpBaseUrl(options.baseUrl, 'baseUrl');
  const logger = guardedLogger(options.logger ?? consoleLogger);
  const base = baseUrl === undefined ? undefined : new URL(baseUrl);
  return {
    keys: checked.anonymous === true ? undefined : keys,
    baseUrl,
    baseMount: baseUrl === undefined ? undefined : mountOf(baseUrl),
    baseOrigin: base?.origin,
    maxBodyBytes: checked.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    retryAfterSeconds: checked.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
    statusRetryAfterSeconds: checked.retryAfterSeconds ?? DEFAULT_STATUS_RETRY_AFTER_SECONDS,
    maxWaitSeconds: checked.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS,
    // One timer each: a longer delay would fire at once (Node, browsers) or early (the system clock clamps it).
    heartbeatMs: oneTimerDelay(checked.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, 'heartbeatMs'),
    resumeWindowMs: oneTimerDelay(checked.resumeWindowMs ?? DEFAULT_RESUME_WINDOW_MS, 'resumeWindowMs'),
    resumeBufferBytes: checked.resumeBufferBytes ?? DEFAULT_RESUME_BUFFER_BYTES,
    reconnectDelayMs: checked.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS,
    maxStreams: checked.maxStreams ?? DEFAULT_MAX_STREAMS,
    cors: options.cors === undefined ? undefined : { origins: corsOrigins(options.cors) },
    allowedHosts: hostAllowList(options.allowedHosts, checked.anonymous === true, base?.hostname),
    logger,
    // Guarded once: every timer of the handler is set and cleared through it (what a custom clock throws is reported).
    clock: guardClock(options.clock ?? systemClock, logger, "the HTTP handler's clock"),
    exposeStackTraces: checked.exposeStackTraces === true,
  };
}

/**
 * The `cors` option's origins, each checked to be an origin as a browser sends it in `Origin`, since they are compared
 * as they are: a string in place of the array would trust its substrings (`'https://app.example.com'` includes
 * `https://app.example.co`), and a trailing slash, a path or upper case would match no request.
 */
function corsOrigins(cors: HttpHandlerOptions['cors']): readonly string[] {
  const origins: unknown = cors !== null && typeof cors === 'object' ? cors.origins : undefined;
  if (!Array.isArray(origins)) throw new InvalidArgumentError('cors.origins must be an array of origins');
  for (const origin of origins as unknown[]) {
    if (!isOrigin(origin)) {
      throw new InvalidArgumentError(
        `cors.origins: ${JSON.stringify(String(origin)).slice(0, 200)} is not an origin as a browser sends it in Origin `
        + '(scheme://host[:port] in lower case, no path, no trailing slash; "null", which every sandboxed frame and file: '
        + 'page sends, is refused)',
      );
    }
  }
  return Object.freeze([...(origins as string[])]);
}

/** The host names a handler answers for: exact names, and domains answered with all their subdomains. */
interface HostAllowList {
  readonly names: ReadonlySet<string>;
  readonly domains: readonly string[];
  /** Given explicitly: every request is checked, not only those with a `Host` header (see {@link assertHostAllowed}). */
  readonly everyRequest: boolean;
}

/**
 * The `allowedHosts` option, checked, with what is always allowed (`localhost` and its subdomains, the host of
 * `baseUrl`; IP addresses are told by their shape): `undefined` for any host, what `true` asks for and a handler with a
 * key gets by default. Each entry goes through the URL parser as a request's host does, so it is compared as the
 * parser spells a request's (lower case, punycode).
 */
function hostAllowList(option: HttpHandlerOptions['allowedHosts'], anonymous: boolean, baseHost: string | undefined): HostAllowList | undefined {
  if (option === true || (option === undefined && !anonymous)) return undefined;
  const entries: unknown = option === undefined ? [] : option;
  if (!Array.isArray(entries)) throw new InvalidArgumentError('allowedHosts must be true or an array of host names');
  const names = new Set<string>(baseHost === undefined ? [] : [withoutTrailingDot(baseHost)]);
  const domains = ['localhost'];
  for (const entry of entries as unknown[]) {
    const domain = typeof entry === 'string' && entry.startsWith('.');
    const name = typeof entry === 'string' ? hostNameOf(domain ? entry.slice(1) : entry) : undefined;
    if (name === undefined) {
      throw new InvalidArgumentError(
        `allowedHosts: ${typeof entry === 'string' ? JSON.stringify(entry.slice(0, 200)) : `a ${entry === null ? 'null' : typeof entry}`} is not a host name (api.example.com, or `
        + '.example.com for a domain and its subdomains; no scheme, port, path or *; true allows any host)',
      );
    }
    if (domain) domains.push(name);
    else names.add(name);
  }
  return { names, domains, everyRequest: option !== undefined };
}

/**
 * `text` as the URL parser spells the host name of a URL on it (lower case, punycode; without a trailing dot), or
 * `undefined` when `text` is more than a host name (a port, a path, credentials) or none (empty labels, a `*`, which
 * the parser would keep as a literal character).
 */
function hostNameOf(text: string): string | undefined {
  if (text.includes('*')) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${text}:1/`);
  } catch {
    return undefined;
  }
  // Anything after the host (`:80`, `/x`, `?`, `#`) or before it (`user@`) leaves a URL that is not just host and port.
  if (url.href !== `http://${url.hostname}:1/`) return undefined;
  const name = withoutTrailingDot(url.hostname);
  return name === '' || name.startsWith('.') || name.includes('..') ? undefined : name;
}

/**
 * Refuses ({@link HostNotAllowedError}, 421) a request that names a host `hosts` does not allow: by default one that
 * carries a `Host` header, as every request received over HTTP/1.1 does (a browser always sends it, on a rebound page
 * too, and cannot leave it out), on any server (`serve()`, `Deno.serve`, `Bun.serve`, `@hono/node-server`, a framework's
 * route) and through any copy of the request (`new Request(r.url, r)`, `clone()`); with an explicit list, any. Both
 * the URL's host and the header's are compared: an adapter may build the URL from its own address. A `Request` made in
 * process (`new Request('http://test/…')`) has no `Host` (fetch sets it only when sending) and names no host anyone
 * resolved. No other header tells a rebound page's request from a server-side caller's: fetch metadata
 * (`Sec-Fetch-Site`) goes only to potentially trustworthy URLs (https, localhost), never to the plain http name a
 * rebinding uses, and `Origin` only with a non-GET request. A URL without an http(s) origin (`app://bundle/…` of an
 * in-process handler in Electron, Tauri or Capacitor; see {@link httpOriginOf}) names no host a DNS answer could point
 * at this handler, and is not checked. Ports are not compared: a rebound page is on the handler's port already.
 */
function assertHostAllowed(request: Request, hosts: HostAllowList): void {
  const header = request.headers.get('host');
  if (header === null && !hosts.everyRequest) return;
  const url = new URL(request.url);
  if (httpOriginOf(url) !== undefined) assertNameAllowed(withoutTrailingDot(url.hostname), hosts);
  if (header === null) return;
  const name = hostOfHeader(header);
  // A header that is no host (and port) names nothing this handler answers for: no browser sends one.
  if (name === undefined) throw notAllowed(header);
  assertNameAllowed(name, hosts);
}

/** The host name of a `Host` header (`name[:port]`) as the URL parser spells it, or `undefined` if it is none. */
function hostOfHeader(header: string): string | undefined {
  let url: URL;
  try {
    url = new URL(`http://${header}/`);
  } catch {
    return undefined;
  }
  return url.href === `http://${url.host}/` ? withoutTrailingDot(url.hostname) : undefined;
}

/** Throws {@link HostNotAllowedError} unless `name` (as the URL parser spells a host name) is one `hosts` allows. */
function assertNameAllowed(name: string, hosts: HostAllowList): void {
  // An http(s) URL's host name is as the parser spells it: an IPv6 address in brackets, an IPv4 address in four
  // decimal parts (any name whose last label is numeric is parsed as one, or is no URL), a domain in lower case ASCII.
  if (name.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(name) || hosts.names.has(name)) return;
  if (hosts.domains.some((domain) => name === domain || name.endsWith(`.${domain}`))) return;
  throw notAllowed(name);
}

function notAllowed(name: string): HostNotAllowedError {
  return new HostNotAllowedError(
    `This handler does not answer for the host ${JSON.stringify(name.slice(0, 200))} (an anonymous handler answers IP `
    + 'addresses, localhost, the host of its baseUrl and the names of its allowedHosts option); nothing was done',
  );
}

/** `name` without the one trailing dot of a fully qualified name (`example.com.` is `example.com`). */
function withoutTrailingDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * True for `scheme://host[:port]` exactly as the URL parser spells it: `new URL(s).origin` for http(s), and for a
 * scheme without a tuple origin (`tauri://localhost`, `capacitor://localhost` of in-app pages), its scheme and host in
 * lower case (the parser keeps such a host's case). Not `file:`, whose pages send `Origin: null`.
 */
function isOrigin(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.origin !== 'null') return value === url.origin;
  return url.protocol !== 'file:' && url.host !== '' && url.host === url.host.toLowerCase()
    && value === `${url.protocol}//${url.host}`;
}

/**
 * True when the handler runs inside a browser: a page (`document`) or any browser worker, a Service Worker included
 * (`WorkerGlobalScope` with `importScripts`, which every browser worker scope has; Cloudflare Workers, whose global
 * also names `WorkerGlobalScope`, Deno's module-only workers, Bun and Node have no `importScripts`). There the browser
 * leaves `Origin` out of a Service Worker's `FetchEvent` request (whatwg/fetch#1322), so another site's form posted
 * into the worker's scope arrives without one, and glue code that rebuilds the request keeps no trace of its
 * navigation; while no caller needs a body not declared JSON (there is no curl in a page; `@durable-rx/rx-client`
 * sends `application/json`). A process that names a Node version (Node, Bun) is a server even with a DOM on its
 * global (jsdom, happy-dom). Decided once, at creation.
 */
function inBrowserHost(): boolean {
  const scope = globalThis as {
    document?: unknown; WorkerGlobalScope?: unknown; importScripts?: unknown; process?: { versions?: { node?: unknown } };
  };
  // A server process that puts a DOM on its global (jsdom, happy-dom, domino: test environments, SSR) is still a
  // server: Node and Bun name their version in `process.versions.node`, which no browser global has.
  if (typeof scope.process?.versions?.node === 'string') return false;
  return scope.document !== undefined
    || (scope.WorkerGlobalScope !== undefined && typeof scope.importScripts === 'function');
}

/** A request URL's origin when it has an http(s) one; `undefined` otherwise (`app://`, whose origin is `'null'`). */
function httpOriginOf(url: URL): string | undefined {
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
}

/** True for a `Sec-Fetch-Site` value that names a request from another site or another origin of the same site. */
function isCrossSiteFetch(site: string | null): boolean {
  return site === 'cross-site' || site === 'same-site';
}

/**
 * The values of a signal-with-start request's body: absent, or a JSON object whose only members are `input` and
 * `eventData` (each optional). Anything else is refused with `InvalidArgumentError` (400), a misspelt member too,
 * which would otherwise start an execution without its input.
 */
function signalWithStartBody(body: JsonBody): { readonly input?: unknown; readonly eventData?: unknown } {
  if (!body.present) return {};
  const value = body.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid('the signalWithStart body', 'must be a JSON object { input?, eventData? }');
  const extra = Object.keys(value).find((key) => key !== 'input' && key !== 'eventData');
  if (extra !== undefined) invalid('the signalWithStart body', `has an unknown member ${JSON.stringify(extra)} (only input and eventData)`);
  const members = value as { readonly input?: unknown; readonly eventData?: unknown };
  return { ...(Object.hasOwn(members, 'input') ? { input: members.input } : {}), ...(Object.hasOwn(members, 'eventData') ? { eventData: members.eventData } : {}) };
}
