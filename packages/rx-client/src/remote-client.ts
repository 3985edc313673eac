import {
  InstanceNotFoundError, isTerminalStatus, systemClock, type CheckStatusResponseOptions, type Clock,
  type DurableClient,
  type GetStatusOptions, type HistoryEvent, type HttpManagementPayload, type HttpManagementPayloadOptions,
  type InstanceFilter, type InstancesPage, type InstanceStatus, type ListInstancesQuery, type PurgeInstancesFilter,
  type PurgeResult, type RestartOptions, type StartNewOptions, type WaitForCompletionOrCheckStatusOptions,
} from '@durable-rx/runtime';
import {
  absoluteUrl, armTimeout, assertValidInstanceId, assertValidName, createCheckStatusResponseOf,
  createHttpManagementPayload, DEFAULT_WAIT_TIMEOUT_MS, followPages, isBoolean, isInstanceId, isString, MAX_PAGE_SIZE, readChecked, readRestartOptions,
  readTimeoutMs, sameJson, toPlainJson,
  validateInstanceFilter, validateInstanceQuery, validatePurgeFilter, waitForCompletionOrCreateCheckStatusResponseOf,
  webhookRoot,
} from '@durable-rx/runtime/client-kit';
import { Subscription, type Observable } from 'rxjs';
import { HistoryReplayFilter } from './history-replay-filter.js';
import { badResponse, isRecord, jsonOf } from './remote-error.js';
import { createStreamMux, type ConnectionState, type ReconnectOptions, type StreamMux, type WatchSpec } from './stream-mux.js';
import { fromWireStatus } from './wire-status.js';

/** Options of {@link createRemoteClient}. */
export interface RemoteClientOptions {
  /**
   * The server's origin, optionally with a path prefix, e.g. `https://api.example.com`; the webhook path
   * `/runtime/webhooks/durabletask` is appended unless it is already there.
   */
  readonly baseUrl: string;
  /** The HTTP API's access key, sent as `Authorization: Bearer <key>`. Omit for a server configured as anonymous. */
  readonly key?: string;
  /** The `fetch` to use (default: the global one), e.g. one that adds cookies or runs through a proxy. */
  readonly fetch?: typeof fetch;
  /** How event streams reconnect. */
  readonly reconnect?: ReconnectOptions;
  /**
   * Where the client's waits are timed: `waitForCompletion`'s `timeoutMs` (and so
   * `waitForCompletionOrCreateCheckStatusResponse`'s) and the reconnect delays of its event stream. Default: the
   * system clock; tests pass a `VirtualClock` from `@durable-rx/runtime/testing`.
   */
  readonly clock?: Clock;
}


/** Query parameters: `undefined` and an empty list are left out, Dates sent as ISO strings, other values as text. */
type Query = object;

/**
 * A {@link DurableClient} against the durable-rx HTTP API: commands over `fetch`, observables over Server-Sent
 * Events. Arguments are validated as the local client validates them, and error responses are rebuilt into the
 * same error classes, so code written against `DurableClient` behaves the same locally and remotely.
 *
 * Every observable of one client shares a single streaming connection (one server session, see `StreamMux`),
 * however many instances, lists and histories are watched; {@link RemoteClient.connection$} tells whether it is
 * live.
 */
export class RemoteClient implements DurableClient {
  /** The shared connection, and the path of every request. */
  readonly #mux: StreamMux;
  readonly #clock: Clock;

  constructor(options: RemoteClientOptions) {
    const parsed = absoluteUrl(options?.baseUrl, 'baseUrl');
    this.#clock = options.clock ?? systemClock;
    this.#mux = createStreamMux({
      root: webhookRoot(`${parsed.origin}${parsed.pathname}`),
      headers: options.key === undefined ? {} : { authorization: `Bearer ${options.key}` },
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      clock: this.#clock,
      reconnect: options.reconnect,
    });
    this.connection$ = this.#mux.state$;
  }

  /**
   * The state of the shared streaming connection (`idle`, `connecting`, `live`, `reconnecting`, `failed`, see
   * {@link ConnectionState}); emits the current state at once. A UI shows "reconnecting" or the error from it.
   */
  readonly connection$: Observable<ConnectionState>;

  async startNew(name: string, options: StartNewOptions = {}): Promise<string> {
    assertValidName(name, 'orchestrator name');
    // Read once through the shared rule, as the local client does: null, a non-object or a throwing getter is a 400.
    const { input, instanceId } = readChecked(options, 'startNew options', { input: toPlainJson, instanceId: isInstanceId });
    const path = `/orchestrators/${segment(name)}${instanceId === undefined ? '' : `/${segment(instanceId)}`}`;
    return member(await this.#json('POST', path, {}, input), 'id', 'string');
  }

  async getStatus(instanceId: string, options: GetStatusOptions = {}): Promise<InstanceStatus | undefined> {
    assertValidInstanceId(instanceId);
    const query = {
      format: 'native',
      ...readChecked(options, 'getStatus options', { showHistory: isBoolean, showHistoryOutput: isBoolean, showInput: isBoolean }),
    };
    const body = await this.#json('GET', `/instances/${segment(instanceId)}`, query, undefined, true);
    return body === undefined ? undefined : fromWireStatus(body);
  }

  async listInstances(query: ListInstancesQuery = {}): Promise<InstancesPage> {
    const { pageSize: top, continuationToken: token, ...filter } = validateInstanceQuery(query);
    const response = await this.#request('GET', '/instances', {
      ...filterQuery(query, 'query', filter), top, format: 'native',
    }, undefined, false, token ? { 'x-ms-continuation-token': token } : {});
    const instances = statusesOf(await jsonOf(response!));
    const continuationToken = response!.headers.get('x-ms-continuation-token');
    return { instances, ...(continuationToken ? { continuationToken } : {}) };
  }

  getStatusAll(): Promise<InstanceStatus[]> {
    return this.getStatusBy({});
  }

  async getStatusBy(instanceFilter: InstanceFilter): Promise<InstanceStatus[]> {
    // The checked snapshot is what pages: each member read once, and a bad one named as a filter's (`filter.showInput`).
    const valid = filterQuery(instanceFilter) as ListInstancesQuery;
    return followPages((continuationToken) => this.listInstances({ ...valid, pageSize: MAX_PAGE_SIZE, continuationToken }));
  }

  async raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void> {
    assertValidName(eventName, 'event name');
    const data = toPlainJson(eventData, 'event data');
    assertValidInstanceId(instanceId);
    await this.#request('POST', `/instances/${segment(instanceId)}/raiseEvent/${segment(eventName)}`, {}, data);
  }

  async terminate(instanceId: string, reason?: unknown): Promise<void> {
    const json = toPlainJson(reason, 'reason');
    assertValidInstanceId(instanceId);
    // A string reason travels as Durable Functions sends it (?reason=); any other JSON reason as the body.
    const inQuery = typeof json === 'string';
    await this.#request('POST', `/instances/${segment(instanceId)}/terminate`, { reason: inQuery ? json : undefined }, inQuery ? undefined : json);
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

  async restart(instanceId: string, options: RestartOptions = {}): Promise<string> {
    const { restartWithNewInstanceId } = readRestartOptions(options);
    assertValidInstanceId(instanceId);
    // Always sent: the route's own default is Durable Functions' (a new id), the client method's is to keep the id.
    return member(await this.#json('POST', `/instances/${segment(instanceId)}/restart`, {
      restartWithNewInstanceId: String(restartWithNewInstanceId),
    }), 'id', 'string');
  }

  async purgeInstanceHistory(instanceId: string): Promise<PurgeResult> {
    assertValidInstanceId(instanceId);
    return purgeResultOf(await this.#json('DELETE', `/instances/${segment(instanceId)}`, {}, undefined, true));
  }

  async purgeInstanceHistoryBy(purgeFilter: PurgeInstancesFilter): Promise<PurgeResult> {
    // The shared rule, checked here too, so a malformed filter never reaches the server.
    return purgeResultOf(await this.#json('DELETE', '/instances', validatePurgeFilter(purgeFilter), undefined, true));
  }

  async waitForCompletion(instanceId: string, options: { readonly timeoutMs?: number } = {}): Promise<InstanceStatus> {
    const timeoutMs = readTimeoutMs(options, 'waitForCompletion options', DEFAULT_WAIT_TIMEOUT_MS);
    assertValidInstanceId(instanceId);
    // The timeout runs from the first snapshot, so a slow network never turns an existing instance into a 404.
    return new Promise<InstanceStatus>((resolve, reject) => {
      let latest: InstanceStatus | undefined;
      // Owns the watch and the timer; unsubscribing it after the first answer releases both (also one added later).
      const done = new Subscription();
      /** Ends the wait with `status`, or with instance-not-found for none. */
      const end = (status: InstanceStatus | undefined): void => {
        if (status) resolve(status);
        else reject(new InstanceNotFoundError(`No instance with id ${JSON.stringify(instanceId)}`));
        done.unsubscribe();
      };
      done.add(this.status$(instanceId).subscribe({
        next: (status) => {
          if (!status || isTerminalStatus(status.runtimeStatus)) return end(status);
          // The first snapshot arms the timer (Infinity arms none; longer than 2^31-1 ms never fires early); a clock
          // that fires within this call ends the wait with that snapshot.
          const armed = latest;
          latest = status;
          if (!armed) done.add(armTimeout(timeoutMs, this.#clock, () => end(latest)));
        },
        // The server ended the watch (its runtime or client closed): the latest status, as the local client's wait.
        complete: () => end(latest),
        error: (error: unknown) => {
          reject(error);
          done.unsubscribe();
        },
      }));
    });
  }

  status$(instanceId: string): Observable<InstanceStatus | undefined> {
    assertValidInstanceId(instanceId);
    return this.#watch({ kind: 'status', instanceId }, statusOf);
  }

  customStatus$(instanceId: string): Observable<unknown> {
    assertValidInstanceId(instanceId);
    return this.#watch({ kind: 'status', instanceId }, (data) => statusOf(data)?.customStatus);
  }

  instances$(instanceFilter: InstanceFilter = {}): Observable<InstanceStatus[]> {
    const query = queryString(filterQuery(instanceFilter));
    return this.#watch({ kind: 'instances', query }, statusesOf);
  }

  history$(instanceId: string): Observable<HistoryEvent> {
    assertValidInstanceId(instanceId);
    return this.#mux.watch<HistoryEvent>({ kind: 'history', instanceId }, (subscriber) => {
      // One filter per subscription: it tracks what this subscriber has been given.
      const replayFilter = new HistoryReplayFilter();
      return (data, session) => {
        for (const event of replayFilter.accept(data as HistoryEvent, session)) subscriber.next(event);
      };
    });
  }

  createHttpManagementPayload(instanceId: string, baseUrl: string, options?: HttpManagementPayloadOptions): HttpManagementPayload {
    return createHttpManagementPayload(instanceId, baseUrl, options);
  }

  createCheckStatusResponse(request: Request, instanceId: string, options?: CheckStatusResponseOptions): Response {
    return createCheckStatusResponseOf(this, request, instanceId, options);
  }

  waitForCompletionOrCreateCheckStatusResponse(
    request: Request, instanceId: string, options?: WaitForCompletionOrCheckStatusOptions | number, retryIntervalInMilliseconds?: number,
  ): Promise<Response> {
    return waitForCompletionOrCreateCheckStatusResponseOf(this, request, instanceId, options, retryIntervalInMilliseconds);
  }

  // ---------------------------------------------------------------- helpers

  async #command(instanceId: string, command: 'suspend' | 'resume' | 'rewind', reason: string | undefined): Promise<void> {
    if (reason !== undefined) isString(reason, 'reason');
    assertValidInstanceId(instanceId);
    await this.#request('POST', `/instances/${segment(instanceId)}/${command}`, { reason });
  }

  /**
   * The values of a watched stream, each read from the server's data by `read` (a throw errors the observable), with
   * consecutive duplicates dropped: a stream the server could not resume starts again with the current snapshot,
   * which was seen already. (`map` + `distinctUntilChanged(sameJson)`, without rxjs's operator machinery in the page.)
   */
  #watch<T>(spec: WatchSpec, read: (data: unknown) => T): Observable<T> {
    return this.#mux.watch<T>(spec, (subscriber) => {
      let last: [T] | undefined;
      return (data) => {
        const value = read(data); // a throw errors the subscriber
        if (!last || !sameJson(last[0], value)) subscriber.next((last = [value])[0]);
      };
    });
  }

  /** The JSON body of a 2xx answer (see {@link RemoteClient.#request}); `undefined` only for a 404 when `orNone`. */
  async #json(method: string, path: string, query: Query, body?: unknown, orNone?: boolean): Promise<unknown> {
    const response = await this.#request(method, path, query, body, orNone);
    return response && jsonOf(response);
  }

  /**
   * Sends a request; resolves with the response when it is 2xx, rejects with the typed error otherwise; with `orNone`,
   * an instance-not-found answer resolves with `undefined` instead.
   */
  async #request(
    method: string, path: string, query: Query, body?: unknown, orNone?: boolean, headers?: Record<string, string>,
  ): Promise<Response | undefined> {
    const search = queryString(query);
    try {
      return await this.#mux.send(method, `${path}${search ? `?${search}` : ''}`, body, headers);
    } catch (error) {
      if (!(orNone && error instanceof InstanceNotFoundError)) throw error;
    }
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
 * const id = await client.startNew('E1_HelloSequence');
 * client.customStatus$(id).subscribe(console.log); // undefined, 'Tokyo', 'Seattle', 'London'
 * ```
 */
export function createRemoteClient(options: RemoteClientOptions): RemoteClient {
  return new RemoteClient(options);
}

function statusOf(data: unknown): InstanceStatus | undefined {
  return data === null ? undefined : fromWireStatus(data);
}

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    // An empty status list means "any status", as no list does.
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
      params.set(name, value instanceof Date ? value.toISOString() : String(value));
    }
  }
  return params.toString();
}
/** A path segment: `value` percent-encoded. */
const segment = encodeURIComponent;

/** The query parameters of a filter or query (`what`): the snapshot `valid` of the shared check, plus `showInput`. */
function filterQuery(f: unknown, what = 'filter', valid: object = validateInstanceFilter(f)): Query {
  return { ...valid, ...readChecked(f, what, { showInput: isBoolean }) };
}

/** The statuses of a list answer or an instances event. */
function statusesOf(data: unknown): InstanceStatus[] {
  if (!Array.isArray(data)) throw badResponse('The instance list is not an array');
  return data.map(fromWireStatus);
}

/** The result of a purge answer; `undefined` (instance not found) deleted nothing. */
function purgeResultOf(body: unknown): PurgeResult {
  return { instancesDeleted: body === undefined ? 0 : member(body, 'instancesDeleted', 'number') };
}

/** Member `key` of an answer's JSON `body`, which must be of `type`; a bad response otherwise. */
function member<T>(body: unknown, key: string, type: 'string' | 'number'): T {
  const value = isRecord(body) ? body[key] : undefined;
  if (typeof value !== type) throw badResponse(`The answer has no ${type} ${key}`);
  return value as T;
}
