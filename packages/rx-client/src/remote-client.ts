import {
  InstanceNotFoundError, isTerminalStatus, UnavailableError, type BulkCommandOptions, type BulkCommandResult, type BulkTerminateOptions,
  type CheckStatusResponseOptions, type Clock, type DurableClient,
  type GetStatusOptions, type HistoryEvent, type HttpManagementPayload, type HttpManagementPayloadOptions,
  type InstanceFilter, type InstancesPage, type InstanceStatus, type ListInstancesQuery, type PurgeInstancesFilter,
  type PurgeInstanceOptions, type PurgeResult, type RaiseEventOptions, type TerminateOptions, type RestartOptions, type ForkOptions, type SignalWithStartOptions, type StartNewOptions, type WaitForCompletionOrCheckStatusOptions,
} from '@durable-rx/runtime';
import {
  BULK_REQUEST_SIZE, bulkFilter, closedWaitError, FIRST_ANSWER_GRACE_MS, assertValidInstanceId, readBulkOptions, type BulkCommand, assertValidName, awaitTerminatedTree, childSettled, childrenTerminatedWith, COMMAND_APPLIED_TIMEOUT_MS, createCheckStatusResponseOf,
  createHttpManagementPayload, DEFAULT_WAIT_TIMEOUT_MS, followPages, historyEventsMissed, idempotencyKeyHeader, isHeaderText, isReason, isRetryable, isRetryableError, MAX_PAGE_SIZE, noStatusError, readOptions, readForkOptions, readRecursive, readRestartOptions, readSignalWithStartOptions, readStartNewOptions, readGetStatusOptions, readRaiseEventOptions,
  statusChangesMissed,
  type StatusStamp,
  readTimeoutMs, toPlainJson, toTerminateReason,
  validateInstanceFilter, validateInstanceQuery, validatePurgeFilter, waitForCompletionOrCreateCheckStatusResponseOf,
  webhookRoot,
} from '@durable-rx/runtime/client-kit';
import type { HistoryPosition } from '@durable-rx/runtime/http';
import { Subscription, type Observable } from 'rxjs';
import { badResponse, isRetryableForHooks, retryDelayMs, valuesMissed } from './remote-error.js';
import {
  createStreamMux, type ConnectionState, type HistoryWatch, type ReconnectOptions, type StreamMux, type WatchSpec,
} from './stream-mux.js';
import { fromWireStatus } from './wire-status.js';

/**
 * How many times {@link RemoteClient.raiseEvent} sends one raise (and {@link RemoteClient.signalWithStart} one call), at
 * most, while each attempt fails retryably.
 */
export const RAISE_ATTEMPTS = 3;

/** The waits of {@link RemoteClient.raiseEvent} (and `signalWithStart`) before the second and third attempts, in ms of the client's clock. */
export const RAISE_RETRY_DELAYS_MS: readonly number[] = [250, 1000];

/**
 * Whether a raise that failed with `error` is sent again: a failure that may pass (`isRetryableError`) whose status is
 * one worth retrying (`isRetryable`: the network failed or timed out, `unreachable` 503; 5xx, 408, 429). Not a 4xx
 * answer that came from no durable-rx server (`bad-response` with its status: an auth gateway's 401, a proxy's 404 or
 * 413 page), which the same request gets again, though `isRetryableError` lets the watches retry it.
 */
function retriesRaise(error: unknown): boolean {
  return isRetryableError(error) && isRetryable((error as { readonly status: number }).status);
}

/**
 * A key of a raise's own: 128 random bits as 32 hex digits, from `crypto.getRandomValues` (which, unlike
 * `crypto.randomUUID`, a page served over plain HTTP has too).
 */
function newIdempotencyKey(): string {
  let key = '';
  for (const byte of crypto.getRandomValues(new Uint8Array(16))) key += (byte | 256).toString(16).slice(1);
  return key;
}

/** Options of {@link createRemoteClient}. */
export interface RemoteClientOptions {
  /**
   * The server's origin, optionally with a path prefix, e.g. `https://api.example.com`; the webhook path
   * `/runtime/webhooks/durabletask` is appended unless it is already there. An http(s) URL without query, fragment
   * or credentials (otherwise `InvalidArgumentError`).
   */
  readonly baseUrl: string;
  /**
   * The HTTP API's access key, sent as `Authorization: Bearer <key>`, or a read token the server made for this page
   * (`createReadToken` of `@durable-rx/runtime/http`: reads within its scope only; a command fails with `RemoteError`
   * `forbidden`, 403). Omit for a server configured as anonymous. A key
   * that no HTTP header can carry (a character above U+00FF, a control character) is refused at once with
   * `InvalidArgumentError` (a `fetch` would refuse every request, which looks like a network that stays down).
   */
  readonly key?: string;
  /** The `fetch` to use (default: the global one), e.g. one that adds cookies or runs through a proxy. */
  readonly fetch?: typeof fetch;
  /** How event streams reconnect. */
  readonly reconnect?: ReconnectOptions;
  /**
   * How long a command or a read (`startNew`, `raiseEvent`, `getStatus` ...) waits for its whole answer: past it, it
   * rejects with `RemoteError` `unreachable` (503, retryable), as when the network fails, rather than hang on a
   * connection that went silent without closing (a network switch, a laptop's sleep, a NAT that forgot the flow). A
   * number > 0 (otherwise `InvalidArgumentError`); `Infinity`: no limit. Default 20 s, whatever `reconnect.timeoutMs`
   * is (the event stream's watchdog times the stream and its subscription requests, not the commands). A command that
   * timed out may still have been applied by the server, as any that failed on the way. It is also the longest a
   * command waits, before it is sent, for the subscriptions of watches made before it (see {@link RemoteClient}); its
   * answer's deadline counts from when it is sent.
   */
  readonly timeoutMs?: number;
  /**
   * The longest answer body and the longest event of its event stream the client reads, in bytes as they arrive
   * (counted before they are decoded, so a character of several bytes counts them all; an event's line ends count one
   * byte each): a longer one is not held whole but refused with `RemoteError` `bad-response` (502). A command rejects
   * with it; a longer event fails only the watch it belongs to (the React hooks do not retry it), and the rest of it is
   * skipped while the stream reads on, for up to as many bytes again: an event longer than twice this (one that never
   * ends would keep the stream reading for ever) fails the whole event stream with that error (`failed`; every watch
   * errors, and the hooks subscribe the others again, on a new stream; the watch it belonged to stays failed). One longer than this that names no subscription (a broken server or
   * proxy: a line without its line end, an event without the empty line that closes it) fails the event stream at
   * once, as an event that is not JSON (`failed`; every watch errors). A positive integer (otherwise
   * `InvalidArgumentError`). Default 32 MiB: 32 times the server's default request body limit
   * (`maxBodyBytes`), 2048 times its default custom status limit. Raise it when instances carry larger inputs or
   * outputs, or for `instances$` of many instances: its every value holds every matching status, unpaged (some
   * 80,000 statuses without inputs fill 32 MiB).
   */
  readonly maxResponseBytes?: number;
  /**
   * Where the client's waits are timed: each command's and read's deadline (`timeoutMs`, and its wait for the
   * subscriptions of earlier watches), `waitForCompletion`'s `timeoutMs` and first-snapshot grace (and so
   * `waitForCompletionOrCreateCheckStatusResponse`'s), its event stream's reconnect delays, watchdog and close after
   * the last watch, and the deadline of the session's DELETE. Default: the system clock; tests pass a `VirtualClock`
   * from `@durable-rx/runtime/testing`.
   */
  readonly clock?: Clock;
}


/** The members of {@link RemoteClientOptions}: any other is refused. */
const REMOTE_CLIENT_OPTIONS = ['baseUrl', 'key', 'fetch', 'reconnect', 'timeoutMs', 'maxResponseBytes', 'clock'];

/** Query parameters: `undefined` and an empty list are left out, Dates sent as ISO strings, other values as text. */
type Query = object;

/**
 * A {@link DurableClient} against the durable-rx HTTP API: commands over `fetch`, observables over Server-Sent
 * Events. Arguments are validated as the local client validates them, and error responses are rebuilt into the
 * same error classes, so code written against `DurableClient` behaves the same locally and remotely.
 *
 * Every observable of one client shares a single streaming connection (one server session, see `StreamMux`),
 * however many instances, lists and histories are watched; {@link RemoteClient.connection$} tells whether it is
 * live. The observables of one instance (`status$`, `customStatus$`, `waitForCompletion`), or of one list filter,
 * subscribed before their subscription request leaves (made together, synchronously, or while the connection is not
 * live: connecting or reconnecting) share one subscription on it; one subscribed later takes its own. Each starts with
 * a value read after it subscribed, then gets every value its session delivers, in order.
 *
 * A command (`startNew`, `signalWithStart`, `raiseEvent`, `terminate`, `cancel`, `suspend`, `resume`, `rewind`, `restart`, the purges) is sent only
 * once the server holds the subscriptions of the watches made before it, so a watch sees what a later command commits,
 * as with the local client: subscribe, then start at once, and no value is missed. It waits at most until the watch
 * ends, an attempt of the event stream fails, or `timeoutMs` passes (then it goes anyway); with no subscription on its
 * way, or while the stream is down (from a failed attempt until the next session is live), not at all. Once live in a
 * new session (the server could not resume the last), a command waits likewise for every watch, each subscribed to it
 * again. A command whose wait was cut short so (or made while the stream was down, or sent just before a reconnect into
 * a new session, which starts each watch again from the current value) may be applied before the watch's subscription: the watch then starts from a value that already
 * reflects it, and what the command committed before that is not delivered. Reads (`getStatus`, `listInstances`, `getStatusAll`, `getStatusBy`) never wait. A watch subscribed
 * after a command (after `await startNew(...)`) starts from the value the server reads when its subscription arrives:
 * what was committed before is not delivered.
 */
export class RemoteClient implements DurableClient {
  /** The shared connection, and the path of every request. */
  readonly #mux: StreamMux;
  /**
   * The raises waiting to try again (`raiseEvent`), each by the function that ends its wait: `close()` calls them, so
   * a raise waiting then rejects at once and leaves no timer behind (not a listener each on the mux's signal: Node warns
   * of a leak past ten).
   */
  readonly #backOffs = new Set<() => void>();

  constructor(options: RemoteClientOptions) {
    // An option it does not know (a typo) is refused: each member is checked by the mux or below. The shared rule: a
    // baseUrl with a query, a fragment or credentials is refused, not cut silently (one absent is refused there too).
    const { baseUrl, key, ...muxOptions } = readOptions(options, 'options', REMOTE_CLIENT_OPTIONS) as Partial<RemoteClientOptions>;
    const root = webhookRoot(baseUrl!);
    this.#mux = createStreamMux({
      ...muxOptions, // clock, reconnect, timeoutMs, maxResponseBytes
      root,
      // The shared rule of header values: a key no header carries is refused here, not by fetch at every request (a
      // TypeError, which looks like a network failure: watches would reconnect for ever, commands fail `unreachable`).
      headers: key === undefined ? {} : { authorization: `Bearer ${isHeaderText(key, 'key')}` },
      // Checked by the mux with its other options: a `fetch` that is no function is refused there.
      fetch: muxOptions.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    });
    this.connection$ = this.#mux.state$;
  }

  /**
   * The state of the shared streaming connection (`idle`, `connecting`, `live`, `reconnecting`, `failed`, see
   * {@link ConnectionState}); emits the current state at once. A UI shows "reconnecting" or the error from it.
   */
  // Assigned in the constructor (declared only, so no field definition in the page).
  declare readonly connection$: Observable<ConnectionState>;

  async startNew(name: string, options: StartNewOptions = {}): Promise<string> {
    assertValidName(name, 'orchestrator name');
    // Read once through the shared rule, as the local client does: null, a non-object or a throwing getter is a 400.
    const { input, instanceId, ifExists, startAt, tags } = readStartNewOptions(options);
    // `startAt` as an ISO time with its milliseconds and zone (`toISOString`), which the start route requires; `tags`
    // as a JSON object.
    const query = queryString({ ifExists, startAt, tags });
    const path = `/orchestrators/${segment(name)}${instanceId === undefined ? '' : `/${segment(instanceId)}`}` + (query === '' ? '' : `?${query}`);
    return member(await this.#request('POST', path, input), 'id', 'string');
  }

  /**
   * Signal-with-start over `POST /orchestrators/{name}/{instanceId}/signalWithStart/{eventName}`, keyed and retried as
   * {@link RemoteClient.raiseEvent} is: an `Idempotency-Key` header with the key given (`options.idempotencyKey`) or
   * one of the call's own, the same request sent again under it after a retryable failure, so the event is delivered
   * and the instance started once however many attempts reached the server.
   */
  async signalWithStart(name: string, options: SignalWithStartOptions): Promise<string> {
    assertValidName(name, 'orchestrator name');
    // The shared reading (startNew's rules for the id and input, raiseEvent's for the event), as the local client's.
    const { instanceId, input, eventName, eventData, tags, idempotencyKey } = readSignalWithStartOptions(options);
    const query = queryString({ tags });
    const path = `/orchestrators/${segment(name)}/${segment(instanceId)}/signalWithStart/${segment(eventName)}` + (query === '' ? '' : `?${query}`);
    const body = { ...(input === undefined ? {} : { input }), ...(eventData === undefined ? {} : { eventData }) };
    return member(await this.#sendKeyed(path, body, idempotencyKey), 'id', 'string');
  }

  async getStatus(instanceId: string, options: GetStatusOptions = {}): Promise<InstanceStatus | undefined> {
    const path = instancePath(instanceId);
    return this.#statusRead(path, readGetStatusOptions(options));
  }

  async listInstances(query: ListInstancesQuery = {}): Promise<InstancesPage> {
    const { pageSize: top, continuationToken: token, ...filter } = validateInstanceQuery(query);
    // Never an empty query (`format`), so always a `?`.
    const [body, headers] = await this.#mux.send('GET', `/instances?${queryString({
      ...filter, top, format: 'native',
    })}`, undefined, token ? { 'x-ms-continuation-token': token } : {});
    const instances = statusesOf(body);
    const continuationToken = headers.get('x-ms-continuation-token');
    return { instances, ...(continuationToken && { continuationToken }) };
  }

  getStatusAll(): Promise<InstanceStatus[]> {
    return this.getStatusBy({});
  }

  async getStatusBy(instanceFilter: InstanceFilter): Promise<InstanceStatus[]> {
    // The checked snapshot is what pages: each member read once, and a bad one named as a filter's (`filter.showInput`).
    const valid = filterQuery(instanceFilter) as ListInstancesQuery;
    return followPages((continuationToken) => this.listInstances({ ...valid, pageSize: MAX_PAGE_SIZE, continuationToken }));
  }

  /**
   * Raises an event over `POST /instances/{id}/raiseEvent/{eventName}`, with an `Idempotency-Key` header: the key given
   * (`options.idempotencyKey`, written by `idempotencyKeyHeader`, so a key in double quotes reaches the server with
   * them, the same key as the local client's), or one of the call's own (128 random bits). So the call may try again when it cannot
   * tell whether the server applied it: after a retryable failure (`isRetryableError`: the network failed or timed
   * out, `unreachable`; the server answered 5xx, 408 or 429) it sends the same request with the same key again, up to
   * {@link RAISE_ATTEMPTS} attempts in all ({@link RAISE_RETRY_DELAYS_MS} apart), and the event is delivered once
   * however many of them reached the server. It rejects with the last error once they are spent, and at once for any
   * other (a 4xx refusal, a proxy's 4xx page included; the client closed, also while it waits to try again).
   */
  async raiseEvent(instanceId: string, eventName: string, eventData?: unknown, options?: RaiseEventOptions): Promise<void> {
    assertValidName(eventName, 'event name');
    const data = toPlainJson(eventData, 'event data');
    const given = readRaiseEventOptions(options).idempotencyKey;
    await this.#sendKeyed(`${instancePath(instanceId)}/raiseEvent/${segment(eventName)}`, data, given);
  }

  /**
   * POSTs `body` to `path` with an `Idempotency-Key` header, `key` (written by `idempotencyKeyHeader`) or one of the
   * call's own, and sends it again under the same key after a retryable failure, up to {@link RAISE_ATTEMPTS}
   * attempts ({@link RAISE_RETRY_DELAYS_MS} apart): the retries of `raiseEvent` and `signalWithStart`, whose server
   * applies a key once. Resolves with the answer's body.
   */
  async #sendKeyed(path: string, body: unknown, key: string | undefined): Promise<unknown> {
    const headers = { 'idempotency-key': key === undefined ? newIdempotencyKey() : idempotencyKeyHeader(key) };
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.#mux.send('POST', path, body, headers))[0];
      } catch (error) {
        if (attempt >= RAISE_ATTEMPTS || !retriesRaise(error)) throw error;
      }
      await this.#backOff(RAISE_RETRY_DELAYS_MS[attempt - 1]!);
    }
  }

  /**
   * The wait of a raise before it tries again: `ms` on the client's clock, or until `close()`, which ends it at once
   * with the close's `StoreClosedError` and clears its timer (see {@link RemoteClient.#backOffs}).
   */
  #backOff(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const closed = this.#mux.signal;
      if (closed.aborted) return reject(closed.reason);
      const end = (): void => {
        this.#backOffs.delete(end);
        unarm();
        if (closed.aborted) reject(closed.reason);
        else resolve();
      };
      const unarm = this.#mux.arm(ms, end);
      this.#backOffs.add(end);
    });
  }

  async terminate(instanceId: string, reason?: unknown, options?: TerminateOptions): Promise<void> {
    // `?recursive=true` only when asked: a server of an earlier version refuses no parameter it does not read, and
    // would terminate the named instance alone where the caller asked for the tree.
    const recursive = readRecursive(options, 'terminate options');
    await this.#command(instanceId, recursive ? 'terminate?recursive=true' : 'terminate', reason, true);
    // The server answers once the instance's own terminate is applied, as for one alone: the tree follows durably (each
    // level hands the terminate on in the commit that applies it), and the wait for it, as long as the local client's,
    // is this client's, on its event stream, so that no request outlasts the client's `timeoutMs`.
    if (recursive) await this.#treeTerminated(instanceId);
  }

  /**
   * The local client's read-your-writes of a recursive terminate, over HTTP: resolves once every sub-orchestration it
   * reached is terminal, gone or no longer a child of the instance that sent it on (`status$`), level by level (each
   * terminated instance's history, read with `getStatus`, names its children: `childrenTerminatedWith`), or after
   * `COMMAND_APPLIED_TIMEOUT_MS` on the client's clock, the rest still queued for a worker. A read that fails ends the
   * wait at that instance: the terminates are in the store, and the call that sent them succeeded.
   */
  async #treeTerminated(rootId: string): Promise<void> {
    // Owns every watch and the deadline: the deadline's end, or the wait's, lets go of them all (each watch resolving).
    const waits = new Subscription();
    waits.add(this.#mux.arm(COMMAND_APPLIED_TIMEOUT_MS, () => waits.unsubscribe()));
    try {
      await awaitTerminatedTree(rootId, async (parentId) => {
        const status = await this.getStatus(parentId, { showHistory: true, showHistoryOutput: false, showInput: false }).catch(() => undefined);
        return status ? childrenTerminatedWith(parentId, status.runtimeStatus, status.history ?? []) : [];
      }, (id, parentId) => new Promise<void>((resolve) => {
        const watch = new Subscription(resolve);
        waits.add(watch);
        const end = (): void => watch.unsubscribe();
        watch.add(this.status$(id).subscribe({
          next: (status) => childSettled(status, parentId) && end(),
          error: end,
          complete: end,
        }));
      }), () => waits.closed);
    } finally {
      waits.unsubscribe();
    }
  }

  suspend(instanceId: string, reason?: string): Promise<void> {
    return this.#command(instanceId, 'suspend', reason);
  }

  resume(instanceId: string, reason?: string): Promise<void> {
    return this.#command(instanceId, 'resume', reason);
  }

  rewind(instanceId: string, reason?: string): Promise<void> {
    return this.#command(instanceId, 'rewind', reason);
  }

  /**
   * `POST /instances/{id}/cancel` (the server's durable-rx extension; see `DurableClient.cancel`), the reason in a
   * JSON string body. Resolves once the request is stored.
   */
  cancel(instanceId: string, reason?: string): Promise<void> {
    return this.#command(instanceId, 'cancel', reason);
  }

  async restart(instanceId: string, options: RestartOptions = {}): Promise<string> {
    const { restartWithNewInstanceId } = readRestartOptions(options);
    // Always sent: the route's own default is Durable Functions' (a new id), the client method's is to keep the id.
    const path = `${instancePath(instanceId)}/restart?restartWithNewInstanceId=${restartWithNewInstanceId}`;
    return member(await this.#request('POST', path), 'id', 'string');
  }

  /**
   * `POST /instances/{id}/fork` (the server's durable-rx extension; see `DurableClient.fork`), its options checked here
   * first by the shared rule (a bad `newInstanceId`, `keepResults` or `reapplyEvents` never reaches the server). Resolves with the fork's id.
   */
  async fork(instanceId: string, options: ForkOptions = {}): Promise<string> {
    const path = instancePath(instanceId);
    const { newInstanceId, keepResults, reapplyEvents } = readForkOptions(options);
    const query = queryString({
      newInstanceId, keepResults: keepResults === undefined ? undefined : String(keepResults), reapplyEvents: reapplyEvents === undefined ? undefined : String(reapplyEvents),
    });
    return member(await this.#request('POST', `${path}/fork${query === '' ? '' : `?${query}`}`), 'id', 'string');
  }

  async purgeInstanceHistory(instanceId: string, options?: PurgeInstanceOptions): Promise<PurgeResult> {
    const recursive = readRecursive(options, 'purge options');
    return purgeResultOf(await this.#request('DELETE', `${instancePath(instanceId)}${recursive ? '?recursive=true' : ''}`, undefined, true));
  }

  async purgeInstanceHistoryBy(purgeFilter: PurgeInstancesFilter): Promise<PurgeResult> {
    // The shared rule, checked here too, so a malformed filter never reaches the server.
    // Never an empty query (`createdTimeFrom` is required), so always a `?`.
    return purgeResultOf(await this.#request('DELETE', `/instances?${queryString(validatePurgeFilter(purgeFilter))}`, undefined, true));
  }

  terminateBy(filter: InstanceFilter, reason?: unknown, options?: BulkTerminateOptions): Promise<BulkCommandResult> {
    return this.#commandBy('terminate', filter, reason, options, true);
  }

  suspendBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult> {
    return this.#commandBy('suspend', filter, reason, options);
  }

  resumeBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult> {
    return this.#commandBy('resume', filter, reason, options);
  }

  cancelBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult> {
    return this.#commandBy('cancel', filter, reason, options);
  }

  async waitForCompletion(
    instanceId: string, options: { readonly timeoutMs?: number | undefined } = {},
  ): Promise<InstanceStatus> {
    const timeoutMs = readTimeoutMs(options, 'waitForCompletion options', DEFAULT_WAIT_TIMEOUT_MS);
    assertValidInstanceId(instanceId);
    return new Promise<InstanceStatus>((resolve, reject) => {
      let latest: InstanceStatus | undefined;
      /** The timeout passed before the first snapshot: the first status ends the wait. */
      let late: true | undefined;
      /** Why the plain read of the status failed, when it did: the cause of the wait's UnavailableError. */
      let readFailure: unknown;
      // Owns the watch, the timers and the plain read; unsubscribing it after the first answer releases them.
      const done = new Subscription();
      /**
       * Ends the wait with `error`, else with the latest status; without one, with the close's StoreClosedError when
       * this client closed, or instance-not-found.
       */
      const end = (error?: unknown): void => {
        if (error || !latest) reject(error ?? this.#mux.signal.reason ?? new InstanceNotFoundError(`No instance with id ${JSON.stringify(instanceId)}`));
        else resolve(latest);
        done.unsubscribe();
      };
      /**
       * Past the timeout with no status while the event stream is down (an attempt failed; the server may refuse it
       * for a while, 503): the status is read with a plain GET, as `getStatus` reads it, and the answer ends the
       * wait as a late snapshot would (an unknown instance: not found). Sound: the server reads the committed status,
       * at least as recent as any snapshot the stream could have given by then. Bounded: one request at a time, only in
       * the grace, aborted when the wait ends, with the client's `timeoutMs` of its own. A read that fails (a request
       * timed out on a loaded machine, a 503) is made again at the stream's next failed attempt, which its back-off
       * spaces, not at once; till then the wait is left to the stream.
       */
      let reading = false;
      const readOnce = (): void => {
        reading = true;
        const aborter = new AbortController();
        done.add(() => aborter.abort());
        this.#statusRead(instancePath(instanceId), {}, aborter.signal).then(
          (status) => {
            if (done.closed) return;
            latest = status;
            end();
          },
          (error: unknown) => void ((readFailure = error), (reading = false)),
        );
      };
      // The timeout counts from the call, as the local client's (the shared rule): when it passes before the first
      // snapshot (a slow network, `timeoutMs: 0`), the first status that comes within the grace ends the wait, and
      // without one it rejects with the shared UnavailableError (noStatusError).
      // `timeoutMs: 0` has passed at the call: `f` runs at once, with no 0 ms timer (which a clock that does not move by
      // itself, a VirtualClock, never fires).
      const arm = (ms: number, f: () => void): unknown => (ms ? done.add(this.#mux.arm(ms, f)) : f());
      arm(timeoutMs, () => {
        if (latest) return end();
        late = true;
        arm(FIRST_ANSWER_GRACE_MS, () => end(noStatusError(instanceId, readFailure)));
        done.add(this.connection$.subscribe((s) => s.state !== 'reconnecting' || reading || readOnce()));
      });
      // Every status, but no failure when some were missed while the connection was down: the wait needs the latest.
      // The server may end the watch (its handler, client or store closed) or fail it with an error worth retrying
      // (`isRetryableForHooks`: a store read that failed, a store closed there): this client is open, so the wait goes
      // on, subscribed again after 1 s, doubling up to 10 s as a hook's watch (retryDelayMs), until a terminal status or
      // the timeout (and its grace) ends it, as while the stream is down. Only this client's close ends it with StoreClosedError (closedWaitError, the shared
      // rule); any other error at once. Not rxjs's `repeat` and `retry` with a `delay`: one count for both ends, the close
      // checked at each, and a timer on the client's clock take these few lines, where the operators (with `innerFrom`
      // and the operator subscribers they bring) added about 2.4 KB gzip to the page.
      let ends = 0;
      const watch = (): void => void done.add(this.#status$(instanceId, (status) => status, true).subscribe({
        next: (status) => {
          latest = status;
          if (late || !status || isTerminalStatus(status.runtimeStatus)) end();
        },
        complete: () => again(),
        error: (error: unknown) => (isRetryableForHooks(error) ? again(error) : end(error)),
      }));
      const again = (error?: unknown): void => {
        if (this.#mux.signal.aborted) return end(this.#mux.signal.reason ?? closedWaitError(instanceId));
        readFailure = error ?? readFailure;
        arm(retryDelayMs(ends++), watch);
      };
      watch();
    });
  }

  status$(instanceId: string): Observable<InstanceStatus | undefined> {
    return this.#status$(instanceId, (status) => status);
  }

  customStatus$(instanceId: string): Observable<unknown> {
    return this.#status$(instanceId, (status) => status?.customStatus);
  }

  /**
   * What `pick` takes from each status of `instanceId` (`undefined` for none), without consecutive duplicates. Each
   * status the server sends carries its commit version (a server before this release sends none): when the first one
   * of a new session (the server could not resume the last) is not the one last received nor the next commit, commits
   * came between that no value was received of (`statusChangesMissed`, the runtime's rule), and the watch fails with
   * `UnavailableError` rather than go on as if none was missed (the store keeps only the latest status), unless it
   * wants the `latest` only. Subscribing again starts from the current one; the hooks do so at once (see `valuesMissed`).
   */
  #status$<T>(instanceId: string, pick: (status: InstanceStatus | undefined) => T, latest?: true): Observable<T> {
    assertValidInstanceId(instanceId);
    return this.#watch({ kind: 'status', instanceId }, () => {
      /** The commit version and times of the last status received (`null`: none there), `undefined` before the first. */
      let held: StatusStamp | null | undefined;
      return (data, first) => {
        const status = data === null ? undefined : fromWireStatus(data);
        const next: StatusStamp | null = status === undefined ? null : {
          version: (data as { version?: number }).version, createdTime: +status.createdTime, lastUpdatedTime: +status.lastUpdatedTime,
        };
        if (first && !latest && statusChangesMissed(held, next)) throw valuesMissed('values committed while disconnected could not be recovered');
        held = next;
        return pick(status);
      };
    });
  }

  instances$(instanceFilter: InstanceFilter = {}): Observable<InstanceStatus[]> {
    // listInstances' query is taken whole (its paging checked, then left out: a live list holds every match).
    const { pageSize: _pageSize, continuationToken: _token, ...filter } = validateInstanceQuery(instanceFilter, 'filter');
    const query = queryString(filter);
    return this.#watch({ kind: 'instances', query }, () => statusesOf);
  }

  /**
   * The committed history events of `instanceId` (see `DurableClient.history$`), across reconnects without loss or
   * repeats. Fails with `UnavailableError` (`unavailable`) where it cannot go on exactly: a new session (the server
   * could not resume the last) whose server sends no history positions after events were delivered, or that finds the
   * instance in another history than the watch stood in, one that did not come right after every event of it (it
   * started over more than once while the stream was down or before the server read the history, or after events the
   * watch had not received; the store keeps only the current history: what was missed is gone). Subscribing again reads the current history from its start.
   */
  history$(instanceId: string): Observable<HistoryEvent> {
    return this.#history$(instanceId, false) as Observable<HistoryEvent>;
  }

  /**
   * {@link history$} with the server's position of a history (`{ execution, events }`) before the first event this
   * subscription gets of each history (the first one, and each that starts over: `continueAsNew`, a restart, a
   * rewind), as the local client's `historyPositions$`: what `useHistory` starts over on.
   *
   * @internal
   */
  historyPositions$(instanceId: string): Observable<HistoryEvent | HistoryPosition> {
    return this.#history$(instanceId, true);
  }

  /** The history of `instanceId`, live, with the position of each history it begins when `marks`. */
  #history$(instanceId: string, marks: boolean): Observable<HistoryEvent | HistoryPosition> {
    assertValidInstanceId(instanceId);
    // Each subscription asks for positions and keeps where it stands in the history: the last position the server
    // sent (before each history, the history's id and the events it skipped) and the events delivered since. Its
    // subscription, sent again to a new session (the server could not resume), carries it, and the server skips what
    // was delivered: nothing is lost or delivered twice, and the rule is the server's alone. The server sends the
    // events it keeps (taken here for `HistoryEvent`s, unchecked) and positions, which have no `type`; a position of
    // another history than the one the subscription stands in begins a new one.
    // A new session whose stream does not start with a position is a server that sends none (an older one, a handler
    // over a client of its own): it skipped nothing, and `after` means nothing to it, so it is no longer counted. Once
    // events were delivered without a position the server accounts for, the history cannot go on exactly: the watch
    // fails with UnavailableError (subscribing again reads the history from its start) rather than repeat them.
    // A position of another history than the one the subscription stands in: the instance started over (continueAsNew,
    // a restart, a rewind, a purge), while the connection was down (a new session) or before the server read the
    // rest of the history (a live one), and the store keeps the current history only. Unless the position says that
    // history came right after all of the one the watch stood in (`historyEventsMissed`, the runtime's rule: an older
    // server does not say), the rest of that one, or a history between, is gone: history$, which promises every
    // event, fails with UnavailableError rather than go on as if none was missed. With marks (what currentHistory$ and useHistory read) the position is told and the watch
    // goes on: they show the current history alone, which starts over there.
    return this.#mux.watch<HistoryEvent | HistoryPosition, HistoryWatch>(
      { kind: 'history', instanceId, positions: true },
      (subscriber, spec) => {
        let delivered: true | undefined;
        return (data, first) => {
          const { type } = data as { type?: string };
          const position = data as HistoryPosition;
          if (first) {
            if (type) spec.after = undefined;
            if (delivered && !spec.after) throw new UnavailableError('the server sent no history position');
          }
          if (!type) {
            if (!marks && historyEventsMissed(spec.after, position)) {
              throw new UnavailableError(`history events were missed (${spec.after!.execution} -> ${position.execution})`);
            }
            if (marks && position.execution !== spec.after?.execution) subscriber.next(position);
            return void (spec.after = { execution: position.execution, events: position.events }); // `previous` not sent back
          }
          if (spec.after) spec.after.events++;
          delivered = true;
          subscriber.next(data as HistoryEvent);
        };
      },
    );
  }

  createHttpManagementPayload(instanceId: string, baseUrl: string, options?: HttpManagementPayloadOptions): HttpManagementPayload {
    return createHttpManagementPayload(instanceId, baseUrl, options);
  }

  /**
   * The check-status response (see `DurableClient`), its URLs on the origin of `request`, as the local client and
   * Durable Functions build them; `{ baseUrl }` when the HTTP API is elsewhere (this client's `baseUrl` is the server's
   * address as this process sees it, which need not be the one callers can reach).
   */
  createCheckStatusResponse(request: Request, instanceId: string, options?: CheckStatusResponseOptions): Response {
    return createCheckStatusResponseOf(this, request, instanceId, options);
  }

  waitForCompletionOrCreateCheckStatusResponse(
    request: Request, instanceId: string, options?: WaitForCompletionOrCheckStatusOptions | number, retryIntervalInMilliseconds?: number,
  ): Promise<Response> {
    return waitForCompletionOrCreateCheckStatusResponseOf(this, request, instanceId, options, retryIntervalInMilliseconds);
  }

  /**
   * Releases everything this client holds, at once: the stream connection, its server session (deleted with a last
   * request, best effort: the server lets it expire anyway), every request on its way (aborted) and every timer
   * (reconnect delays, wait timeouts). Every live observable (`status$`, `customStatus$`, `instances$`, `history$`,
   * `connection$`, after `idle`) completes, as the local client's do when it closes, and a pending
   * `waitForCompletion` rejects with `StoreClosedError`, as the local client's does.
   * From then on every call that would reach the server fails with `StoreClosedError` (code `store-closed`): commands,
   * and requests that were on their way, reject with it; observables subscribed later error with it at once (a later
   * `connection$` subscription gets `idle` and completes). Idempotent.
   *
   * @example
   * ```ts
   * const client = createRemoteClient({ baseUrl: 'http://127.0.0.1:7071', key: 'dev-key' });
   * client.customStatus$('hello-1').subscribe({ next: console.log, complete: () => console.log('closed') });
   * client.close(); // prints "closed"; client.getStatus('hello-1') now rejects with StoreClosedError
   * ```
   */
  close(): void {
    this.#mux.close();
    for (const end of [...this.#backOffs]) end();
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Sends `command` with its `reason`, checked (a string, or with `json` any JSON value) before the id, as the local
   * client does. The reason goes as the JSON body, which the server reads when there is no `?reason=` (the parameter
   * Durable Functions' callers send): a long one (a stack trace) fits no request line (servers refuse one of 8-16 KB).
   */
  async #command(instanceId: string, command: string, reason: unknown, json?: true): Promise<void> {
    reason = json ? toTerminateReason(reason) : reason === undefined ? reason : isReason(reason, 'reason');
    await this.#request('POST', `${instancePath(instanceId)}/${command}`, reason);
  }

  /**
   * A command by filter (`POST /instances/{command}`): the filter, reason and options checked by the shared rules
   * first, as the local client checks them, so a malformed one never reaches the server; then requests of at most
   * {@link BULK_REQUEST_SIZE} instances each (`limit`), each going on from the last one's `continuationToken`, so that
   * no request outlasts the client's `timeoutMs` however many instances match. The counts are summed; `signal` is
   * checked before each request. The reason goes as the JSON body, as for one instance.
   */
  async #commandBy(command: BulkCommand, filter: unknown, reason: unknown, options: unknown, json?: true): Promise<BulkCommandResult> {
    const valid = bulkFilter(command, filter);
    reason = json ? toTerminateReason(reason) : reason === undefined ? reason : isReason(reason, 'reason');
    const { limit, continuationToken, signal, recursive } = readBulkOptions(command, options);
    let instancesAffected = 0;
    let instancesSkipped = 0;
    let token = continuationToken;
    let remaining = limit ?? Infinity;
    if (signal?.aborted) throw signal.reason;
    // The filter as the shared rule narrowed it (the server narrows it again, to the same statuses).
    const query = { ...valid, ...(recursive ? { recursive: 'true' } : {}) };
    while (valid && remaining > 0) {
      if (signal?.aborted) throw signal.reason;
      const batch = Math.min(remaining, BULK_REQUEST_SIZE);
      const [body] = await this.#mux.send(
        'POST', `/instances/${command}?${queryString({ ...query, limit: String(batch) })}`, reason, token ? { 'x-ms-continuation-token': token } : {},
      );
      const affected = member<number>(body, 'instancesAffected', 'number');
      const skipped = member<number>(body, 'instancesSkipped', 'number');
      instancesAffected += affected;
      instancesSkipped += skipped;
      remaining -= affected + skipped;
      token = optionalMember(body, 'continuationToken');
      if (token === undefined) break;
    }
    return { instancesAffected, instancesSkipped, ...(valid && token !== undefined ? { continuationToken: token } : {}) };
  }

  /**
   * The values of a watched stream, each read from the server's data by a `reader()` of the subscription's own (told
   * whether it is the first of a session, see `WatchedValue`; a throw errors the subscriber), with
   * consecutive duplicates dropped: a stream the server could not resume starts again with the current snapshot,
   * which was seen already. (`map` + `distinctUntilChanged(sameJson)`, without rxjs's operator machinery in the page.)
   * What is kept of the last value is its JSON text (`undefined` for `undefined`): every value is read from JSON, so
   * two have the same text exactly when `sameJson` holds, and the page needs no comparison of two values. The text is
   * taken before the subscriber gets the value, so one that changes what it got changes nothing the next is compared with.
   */
  #watch<T>(spec: WatchSpec, reader: () => (data: unknown, first: boolean) => T): Observable<T> {
    return this.#mux.watch<T>(spec, (subscriber) => {
      /** The JSON text of the last value emitted; `null` (which no JSON text is) before the first. */
      let last: string | undefined | null = null;
      const read = reader();
      return (data, first) => {
        const value = read(data, first); // a throw errors the subscriber
        const text = JSON.stringify(value);
        if (text !== last) subscriber.next((last = text, value));
      };
    });
  }

  /**
   * Sends a request; resolves with the JSON body of the answer when it is 2xx, rejects with the typed error otherwise;
   * with `orNone`, an instance-not-found answer resolves with `undefined` instead. `until` aborts it (default: the
   * close).
   */
  async #request(method: string, path: string, body?: unknown, orNone?: boolean, until?: AbortSignal): Promise<unknown> {
    try {
      return (await this.#mux.send(method, path, body, undefined, until))[0];
    } catch (error) {
      if (!(orNone && error instanceof InstanceNotFoundError)) throw error;
    }
  }

  /**
   * The status of the instance at `path` (its `instancePath`), shown as `query` asks (`getStatus`'s options),
   * `undefined` for an unknown instance; `until` aborts the read.
   */
  async #statusRead(path: string, query: Query, until?: AbortSignal): Promise<InstanceStatus | undefined> {
    const body = await this.#request('GET', `${path}?${queryString({ format: 'native', ...query })}`, undefined, true, until);
    return body === undefined ? undefined : fromWireStatus(body);
  }
}

/**
 * Creates a {@link DurableClient} that talks to a durable-rx HTTP API (`@durable-rx/runtime/http`).
 *
 * @example
 * ```ts
 * import { createRemoteClient } from '@durable-rx/rx-client';
 *
 * const client = createRemoteClient({ baseUrl: 'http://127.0.0.1:7071', key: 'dev-key' });
 * const id = crypto.randomUUID();
 * // Subscribed before the start, which waits until the server holds the watch: no value is missed.
 * client.customStatus$(id).subscribe(console.log); // undefined, 'Tokyo', 'Seattle', 'London'
 * await client.startNew('E1_HelloSequence', { instanceId: id });
 * ```
 */
export function createRemoteClient(options: RemoteClientOptions): RemoteClient {
  return new RemoteClient(options);
}

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    // An empty status list means "any status", as no list does.
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
      // Orchestrator names, which may hold commas, as the parameter repeated (`name=A&name=B`).
      if (name === 'name' && Array.isArray(value)) for (const each of value) params.append(name, each);
      // Tags as a JSON object, which carries any key and value as it is.
      else if (name === 'tags') params.set(name, JSON.stringify(value));
      // Any other value as URLSearchParams writes it (a list joined with commas).
      else params.set(name, value instanceof Date ? value.toISOString() : value);
    }
  }
  return params.toString();
}
/** A path segment: `value` percent-encoded. */
const segment = encodeURIComponent;

/** The path of instance `instanceId`, checked first by the shared rule (InvalidArgumentError). */
function instancePath(instanceId: string): string {
  assertValidInstanceId(instanceId);
  return `/instances/${segment(instanceId)}`;
}

/** The query parameters of a filter: the snapshot of the shared check, `showInput` included. */
function filterQuery(f: unknown): Query {
  return validateInstanceFilter(f);
}

/** The statuses of a list answer or an instances event. */
function statusesOf(data: unknown): InstanceStatus[] {
  if (!Array.isArray(data)) throw badResponse('Not an instance list');
  return data.map(fromWireStatus);
}

/** The result of a purge answer; `undefined` (instance not found) deleted nothing. */
function purgeResultOf(body: unknown): PurgeResult {
  return { instancesDeleted: body === undefined ? 0 : member(body, 'instancesDeleted', 'number') };
}

/** Member `key` of an answer's JSON `body`: absent, or a string (a bad response otherwise). */
function optionalMember(body: unknown, key: string): string | undefined {
  return (body as Record<string, unknown> | undefined)?.[key] === undefined ? undefined : member<string>(body, key, 'string');
}

/** Member `key` of an answer's JSON `body`, which must be of `type`; a bad response otherwise. */
function member<T>(body: unknown, key: string, type: 'string' | 'number'): T {
  // A JSON value that is no object has no such member (see `memberOf`).
  const value = (body as Record<string, unknown> | undefined)?.[key];
  if (typeof value !== type) throw badResponse(`The answer has no ${type} ${key}`);
  return value as T;
}
