import { getRequestListener, RequestError, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { createServer, IncomingMessage, ServerResponse, STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errorResponse, errorResponseBody } from '../http/error-response.js';
import { SSE_STREAM, type SseBody } from '../http/sse-connection.js';
import { invalid, isCount, isCountOrZero, isFunction, isString, readChecked, type MemberCheck } from '../model/validation.js';
import { SocketWriter } from './socket-writer.js';
import { oneTimerDelay } from '../env/clock.js';

/** A TCP port: an integer from 0 (a free one) to 65535. */
const isPort: MemberCheck<number> = (value, what) =>
  isCountOrZero(value, what) <= 65_535 ? (value as number) : invalid(what, 'must be an integer from 0 to 65535');
/** One timer's milliseconds: Node arms a longer one after 1 ms instead (with a `TimeoutOverflowWarning`). */
const isTimerMs: MemberCheck<number> = (value, what) => oneTimerDelay(isCount(value, what), what);

/**
 * How a connection ends after an answer sent before its request body was read whole (see {@link closeAfterAnswer}):
 * it reads and drops what the client still sends for at most this long in all, this long without a byte, and this
 * many bytes read since the answer, then is destroyed (earlier when the client ends its side). The limits of a
 * "lingering close". The bytes are the socket's own count, checked every {@link LINGER_CHECK_MS}: a body Node dumps
 * (the answer was given without reading it) is dropped by its parser without any 'data' event to count. Between two
 * checks a fast client may send more (a few hundred MiB on loopback); the bound is the cap plus 250 ms of reading.
 */
const LINGER_MS = 30_000;
const LINGER_IDLE_MS = 2_000;
const LINGER_BYTES = 64 * 1024 * 1024;
const LINGER_CHECK_MS = 250;

/** A fetch handler, e.g. from `createHttpHandler`; its optional `close()` is called when the server closes. */
export type FetchHandler = ((request: Request) => Response | Promise<Response>) & { close?: () => void };

/** Options of {@link serve}. */
export interface ServeOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on. Default `127.0.0.1` (loopback only); pass `0.0.0.0` deliberately to expose it. */
  readonly hostname?: string;
  /**
   * How long a client may take to send a whole request, headers and body (`node:http`'s `requestTimeout`, checked
   * about every `min(30 s, this)`): past it, the server answers 408 and closes the connection, so a body that never
   * finishes holds neither a socket nor a handler's read forever (its read fails, and the command is not run). A
   * response's time does not count: event streams and waits are not cut by it. Milliseconds, a positive integer.
   * Default 300 000 (5 min, Node's own).
   */
  readonly requestTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open after its last response (`node:http`'s `keepAliveTimeout`).
   * Behind a load balancer or proxy that reuses connections, set it above the balancer's own idle timeout (AWS ALB
   * 60 s, for one): otherwise the server may close a connection just as the balancer sends a request on it, and the
   * client gets a 502. Event streams are not idle and are not cut by it. Milliseconds, a positive integer of at most
   * 2 147 483 647 (24.8 days, one timer's longest). Default 5 000 (Node's own).
   */
  readonly keepAliveTimeoutMs?: number;
}

/** A listening server. */
export interface NodeServer {
  /** `http://<hostname>:<port>` of the listening socket. */
  readonly url: string;
  /** The TCP port the server listens on: the one asked for, or the free one picked for port 0. */
  readonly port: number;
  /** The interface the server listens on (`ServeOptions.hostname`, default `127.0.0.1`). */
  readonly hostname: string;
  /** The underlying `node:http` server. */
  readonly server: Server;
  /**
   * Closes the server: ends the handler's event streams, stops accepting connections, closes idle and open
   * connections and resolves once the server is closed. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Serves a fetch handler with Node's `node:http` (through `@hono/node-server`), on 127.0.0.1 unless told otherwise.
 * Event streams of `createHttpHandler` are written to the socket directly, without web streams: each committed
 * value's bytes, serialised once, go to every connection that watches it. The request URL the handler gets is built
 * from the request target's host: the `Host` header for the origin-form requests browsers send (without one, as an
 * HTTP/1.0 client may send them, the listening `hostname:port` that `url` names, so that the URLs a response names
 * reach this server), and the `Host` header stays on the request: its host name is what an anonymous
 * `createHttpHandler` checks against its `allowedHosts`. A request whose path has a dot segment (`.` or `..`, also
 * written `%2e`) is answered 400 `invalid-argument` without calling the handler: resolved, as the handler's URL is, it
 * would name another route (`/instances/./terminate` is `/instances/terminate`), and no path of the HTTP API has one.
 * A request it cannot read at all is answered without the handler too, with the same error JSON
 * (`{ code, message, ExceptionMessage }`) and the connection closed: 400 `invalid-argument` for a target or `Host` no
 * URL is built on (a backslash in the path, `OPTIONS *`, `Host: a b`), an HTTP/1.1 request without `Host`, and HTTP
 * Node's parser refuses (a malformed request line or header, two body lengths); 408 `request-timeout` past
 * `requestTimeoutMs`; 431 `headers-too-large` for headers over Node's `maxHeaderSize`. A request pipelined behind one
 * of them on its connection is not served. The 400s for a target, `Host` or missing `Host` end the connection as an
 * answer sent before the body does (below); the others (the parser can read nothing more) close it at once, as Node does.
 *
 * An answer sent before the request body arrived whole (a 413 for a body over the limit, a 401, 403, 404 or 405
 * given without reading it) says `Connection: close` (RFC 9112, 9.6): the rest of that body is never read as a
 * request, so the connection cannot serve another one. After the answer the server closes its side and drops what the
 * client still sends for a while (up to 30 s, 2 s without a byte, 64 MiB counted every 250 ms), so that a client still
 * uploading reads the whole answer rather than a reset; its next request opens a new connection. A request whose body
 * was read whole keeps its connection alive.
 *
 * @example
 * ```ts
 * import { createHttpHandler } from '@durable-rx/runtime/http';
 * import { serve } from '@durable-rx/runtime/node';
 *
 * const server = await serve(createHttpHandler(runtime.client, { key }), { port: 7071 });
 * console.log(server.url); // http://127.0.0.1:7071
 * await server.close();
 * ```
 */
export async function serve(handler: FetchHandler, options: ServeOptions = {}): Promise<NodeServer> {
  // Checked before a server is made: a handler that is no function, a port that is no TCP port, a hostname no string.
  isFunction(handler, 'serve handler');
  const { port: listenPort = 0, hostname = '127.0.0.1', requestTimeoutMs = 300_000, keepAliveTimeoutMs = 5_000 } = readChecked(options, 'serve options', {
    port: isPort, hostname: isString, requestTimeoutMs: isCount, keepAliveTimeoutMs: isTimerMs,
  });
  const answer = async (request: Request, env: HttpBindings | Http2Bindings): Promise<Response> => {
    // The request URL the handler gets has its dot segments removed (WHATWG URL parsing), so it cannot tell
    // `/instances/./terminate` from `/instances/terminate`: refused here, on the target as the client sent it.
    const target = env?.incoming instanceof IncomingMessage ? env.incoming.url : undefined;
    const response = target !== undefined && hasDotSegment(target) ? dotSegmentRefusal() : await handler(request);
    const stream = (response.body as SseBody | null)?.[SSE_STREAM];
    if (!(env?.outgoing instanceof ServerResponse)) return response;
    const outgoing = env.outgoing;
    if (!stream) {
      if (env.incoming instanceof IncomingMessage && !env.incoming.complete && !outgoing.headersSent) closeAfterAnswer(env.incoming, outgoing);
      return response;
    }
    if (outgoing.destroyed) {
      // The client left while the handler ran: the response's 'close' is past and would never end this stream,
      // which would hold its subscriptions, heartbeat and maxStreams slot until the server closes. Open nothing.
      void response.body?.cancel();
      return RESPONSE_ALREADY_SENT;
    }
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.flushHeaders();
    void response.body?.cancel(); // never read: let it go with what it holds
    // `on`, not `once`: 'close' comes once, and `gone` may be called again; a once-wrapper would be held per stream.
    outgoing.on('close', stream.open(new SocketWriter(outgoing)));
    return RESPONSE_ALREADY_SENT;
  };
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;
  // Known once the port is (a free one for port 0): a request without `Host` is addressed to `host:port`, where the
  // URLs its response names (`statusQueryGetUri`, `Location`) then reach this server. Set as the server starts
  // listening, before any connection is read.
  let listening: string | undefined;
  // Every request is received within `requestTimeoutMs` (408 past it), the headers within the same or Node's 60 s if
  // shorter (Node refuses a headers timeout above the request's): a body that never finishes is let go.
  const server: Server = createServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.min(30_000, requestTimeoutMs),
    keepAliveTimeout: keepAliveTimeoutMs,
    // Checked below instead, to answer with the error JSON: Node's own check answers a bare 400.
    requireHostHeader: false,
  }, (incoming, outgoing) => {
    // A request the client sent after one answered `Connection: close` (pipelined behind its body) is not served: the
    // connection ends without another answer, as that header told the client.
    if (closingSockets.has(incoming.socket)) return void incoming.resume();
    // RFC 9112, 3.2: an HTTP/1.1 request without `Host` is 400 (an HTTP/1.0 one is addressed to `host:port`, below).
    if (incoming.httpVersion === '1.1' && incoming.headers.host === undefined) {
      closeAfterAnswer(incoming, outgoing);
      return void writeRefusal(outgoing, 400, 'invalid-argument', 'An HTTP/1.1 request needs a Host header (RFC 9112, 3.2); nothing was done');
    }
    // Made for each request: its error handler closes the connection of the request it answers (unreadableRequest).
    void getRequestListener(answer, {
      hostname: listening!, overrideGlobalObjects: false, errorHandler: (error) => unreadableRequest(error, incoming, outgoing),
    })(incoming, outgoing);
  });
  // A request Node's parser cannot read (a malformed request line or header, two lengths for one body, headers over
  // its limit) or that stops arriving (`requestTimeoutMs`): answered as Node would, with the same status, but with the
  // error JSON every other refusal has.
  server.on('clientError', answerClientError);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, hostname, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      listening = `${host}:${port}`;
      resolve(port);
    });
  });
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    hostname,
    server,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        handler.close?.();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * Whether the path of request target `target` (before `?` or `#`; of an absolute-form target, after its authority)
 * has a dot segment: `.` or `..`, in any mix with `%2e` in any case, between `/` or `\\` (which URL parsers read as `/`
 * in an http URL). Such a path names another one once a URL parser resolves it (`/instances/./terminate` is
 * `/instances/terminate`, `/a/b/../c` is `/a/c`); no path of the HTTP API has one (no instance id or name is `.` or `..`).
 */
function hasDotSegment(target: string): boolean {
  let path = target.split(/[?#]/, 1)[0]!;
  const origin = /^[a-z][a-z\d+.-]*:\/\/[^/\\]*/i.exec(path);
  if (origin) path = path.slice(origin[0].length);
  return path.split(/[/\\]/).some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));
}

/** The answer to a request whose path has a dot segment ({@link hasDotSegment}): 400 `invalid-argument`, the handler not called. */
function dotSegmentRefusal(): Response {
  return errorResponse(
    400, 'invalid-argument',
    'The request path has a dot segment (. or .., also as %2e): resolved, it would name another route (a command on the instance id . becomes one on every instance)',
  );
}

/**
 * The answer to a request @hono/node-server could build no URL for (its `RequestError`: a backslash in the path, the
 * `*` target of `OPTIONS *`, a `Host` that is no host name, an absolute target that is no URL): 400 `invalid-argument`
 * with the error JSON, the handler not called, and the connection closed ({@link closeAfterAnswer}: a request pipelined
 * behind it is not served), as Node closes it after a request it could not read. Without it the answer was a 400
 * without a body. A `serve()` answer that failed instead of giving a response (nothing known does) is a generic 500,
 * its connection closed too.
 */
function unreadableRequest(error: unknown, incoming: IncomingMessage, outgoing: ServerResponse): Response {
  // @hono/node-server calls this at once, within the request's own 'request' event, when it builds no Request for it
  // (its getRequestListener's catch): so before Node's parser hands on a request pipelined behind it.
  if (!outgoing.headersSent) closeAfterAnswer(incoming, outgoing);
  if (!(error instanceof RequestError)) return errorResponse(500, 'internal', 'Internal server error', { connection: 'close' });
  return errorResponse(
    400, 'invalid-argument', `The request's target or Host header names no URL (${error.message}); nothing was done`, { connection: 'close' },
  );
}

/** Writes the error JSON of an answer `serve()` gives itself, before the handler, and closes the connection after it. */
function writeRefusal(outgoing: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify(errorResponseBody(code, message));
  outgoing.writeHead(status, {
    'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), connection: 'close',
  });
  outgoing.end(body);
}

/** A parser error of `node:http` as it reaches `clientError`: a code (`HPE_*`, `ERR_HTTP_REQUEST_TIMEOUT`), a reason. */
type ClientError = Error & { readonly code?: unknown; readonly reason?: unknown };

/**
 * Node's own answer to a `clientError` (lib/_http_server.js, `socketOnError`), with the error JSON as its body: the
 * same status (408 past `requestTimeoutMs`, 431 for headers over `maxHeaderSize`, 413 for chunk extensions over its
 * limit, else 400), written only while the socket is writable and no answer to the request under way has begun, then
 * the socket destroyed. Without it the answer had no body.
 */
function answerClientError(error: ClientError, socket: Socket): void {
  const response = (socket as Socket & { readonly _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const [status, code, message] = clientErrorAnswer(error);
    const body = JSON.stringify(errorResponseBody(code, message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** The status, code and message of {@link answerClientError}'s answer to `error`. */
function clientErrorAnswer(error: ClientError): [number, string, string] {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request-timeout', 'The request did not arrive whole within the server\'s requestTimeoutMs; nothing was done'];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers-too-large', 'The request line and headers are larger than the server reads (Node\'s maxHeaderSize, 16 KiB by default); nothing was done'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'payload-too-large', 'The request body\'s chunk extensions are larger than the server reads; nothing was done'];
    default: {
      const reason = typeof error.reason === 'string' ? error.reason : typeof error.code === 'string' ? error.code : 'unreadable';
      return [400, 'invalid-argument', `The request is not HTTP the server can read (${reason.slice(0, 200)}); nothing was done`];
    }
  }
}

/** The sockets whose answer said `Connection: close` ({@link closeAfterAnswer}): no request after it is served. */
const closingSockets = new WeakSet<Socket>();

/**
 * Makes the answer to `incoming`, whose body has not arrived whole or which `serve()` refuses before the handler (an
 * HTTP/1.1 request without `Host`, one no URL is built on), say `Connection: close` and end its connection with a
 * lingering close; a request pipelined behind it on that connection is not served. Without it the answer said `keep-alive` and @hono/node-server destroyed the socket about
 * 500 ms later (its drain of an unread body), so the client's next request on it got no answer; and a close at once
 * (Node's own for `Connection: close`, a destroy when the answer is written) resets a connection whose client is still
 * sending, and the client may see the reset instead of the answer.
 *
 * Node ends the socket of a `Connection: close` answer with `destroySoon()` once the answer is written, and
 * @hono/node-server calls it after its drain: on this socket that call half-closes instead (`end()`, the server's
 * FIN after the answer) and drops the body the client still sends, until the client ends its side or a limit
 * passes ({@link LINGER_MS}, {@link LINGER_IDLE_MS}, {@link LINGER_BYTES} read on the socket since then); then the
 * socket is destroyed. The server's `close()` destroys it too. Nobody reads the body any more: the answer is written.
 */
function closeAfterAnswer(incoming: IncomingMessage, outgoing: ServerResponse): void {
  const socket = incoming.socket;
  closingSockets.add(socket);
  outgoing.setHeader('connection', 'close');
  let lingering = false;
  socket.destroySoon = () => {
    if (lingering) return;
    lingering = true;
    socket.end();
    if (socket.destroyed) return;
    const destroy = (): void => void socket.destroy();
    const timer = setTimeout(destroy, LINGER_MS);
    // Counted on the socket, not from the body's 'data': Node dumps a body nobody read (its 'data' never comes, the
    // parser drops the bytes), which is the usual case here (a 401 or 404 that did not read it).
    const start = socket.bytesRead;
    const check = setInterval(() => (socket.bytesRead - start > LINGER_BYTES ? destroy() : undefined), LINGER_CHECK_MS);
    check.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      clearInterval(check);
    });
    socket.once('end', destroy);
    // Activity (a byte read or written) restarts it; Node's server destroys an idle socket on 'timeout' too.
    socket.setTimeout(LINGER_IDLE_MS, destroy);
    // As Node drops an unread body: no listener of the reader that was given up keeps pausing it.
    incoming.removeAllListeners('data');
    incoming.resume();
  };
}
