import {
  assertValidInstanceId, sameJson, type DurableClient, type GetStatusOptions, type HistoryEvent, type HttpManagementPayload,
  type HttpManagementPayloadOptions, type InstanceFilter, type InstancesPage, type InstanceStatus, type ListInstancesQuery,
  type PurgeInstancesFilter, type PurgeResult, type StartNewOptions,
} from '@durable-rx/runtime';
import { defer, distinctUntilChanged, map, shareReplay, type Observable } from 'rxjs';

/**
 * A {@link DurableClient} that watches every instance through one `instances$()` stream of `client`, for the page's
 * remote mode.
 *
 * Each observable of the remote client holds an HTTP connection (a Server-Sent Events stream), and over HTTP/1.1 a
 * browser keeps at most six connections to one server, for all its tabs together. The demo's panels watch up to
 * nine observables at once, so with one stream each, commands (`raiseEvent`, ...) would wait behind them for ever.
 * Here `status$`, `customStatus$` and `instances$` are read from one shared list stream, which carries every
 * instance's whole status on each change; only `history$` opens a stream of its own (while a history is shown).
 * Everything else goes to `client` unchanged.
 */
export class OneStreamClient implements DurableClient {
  readonly #client: DurableClient;
  readonly #all$: Observable<InstanceStatus[]>;

  constructor(client: DurableClient) {
    this.#client = client;
    this.#all$ = client.instances$({ showInput: false }).pipe(shareReplay({ bufferSize: 1, refCount: true }));
  }

  status$(instanceId: string): Observable<InstanceStatus | undefined> {
    return defer(() => {
      assertValidInstanceId(instanceId);
      return this.#all$.pipe(
        map((list) => list.find((status) => status.instanceId === instanceId)),
        distinctUntilChanged<InstanceStatus | undefined>(sameJson),
      );
    });
  }

  customStatus$(instanceId: string): Observable<unknown> {
    return this.status$(instanceId).pipe(map((status) => status?.customStatus), distinctUntilChanged(sameJson));
  }

  instances$(filter: InstanceFilter = {}): Observable<InstanceStatus[]> {
    // The shared stream leaves inputs out; a view that wants them gets a stream of its own.
    if (filter.showInput) return this.#client.instances$(filter);
    return this.#all$.pipe(map((list) => list.filter((status) => matches(status, filter))));
  }

  history$(instanceId: string): Observable<HistoryEvent> {
    return this.#client.history$(instanceId);
  }

  startNew(name: string, options?: StartNewOptions): Promise<string> {
    return this.#client.startNew(name, options);
  }

  getStatus(instanceId: string, options?: GetStatusOptions): Promise<InstanceStatus | undefined> {
    return this.#client.getStatus(instanceId, options);
  }

  listInstances(query?: ListInstancesQuery): Promise<InstancesPage> {
    return this.#client.listInstances(query);
  }

  getStatusAll(): Promise<InstanceStatus[]> {
    return this.#client.getStatusAll();
  }

  getStatusBy(filter: InstanceFilter): Promise<InstanceStatus[]> {
    return this.#client.getStatusBy(filter);
  }

  raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void> {
    return this.#client.raiseEvent(instanceId, eventName, eventData);
  }

  terminate(instanceId: string, reason?: unknown): Promise<void> {
    return this.#client.terminate(instanceId, reason);
  }

  suspend(instanceId: string, reason?: string): Promise<void> {
    return this.#client.suspend(instanceId, reason);
  }

  resume(instanceId: string, reason?: string): Promise<void> {
    return this.#client.resume(instanceId, reason);
  }

  rewind(instanceId: string, reason?: string): Promise<void> {
    return this.#client.rewind(instanceId, reason);
  }

  purgeInstanceHistory(instanceId: string): Promise<PurgeResult> {
    return this.#client.purgeInstanceHistory(instanceId);
  }

  purgeInstanceHistoryBy(filter: PurgeInstancesFilter): Promise<PurgeResult> {
    return this.#client.purgeInstanceHistoryBy(filter);
  }

  waitForCompletion(instanceId: string, options?: { readonly timeoutMs?: number }): Promise<InstanceStatus> {
    return this.#client.waitForCompletion(instanceId, options);
  }

  createHttpManagementPayload(instanceId: string, baseUrl: string, options?: HttpManagementPayloadOptions): HttpManagementPayload {
    return this.#client.createHttpManagementPayload(instanceId, baseUrl, options);
  }
}

/** The list filters, as the stores apply them. */
function matches(status: InstanceStatus, filter: InstanceFilter): boolean {
  const created = status.createdTime.getTime();
  if (filter.runtimeStatus && filter.runtimeStatus.length > 0 && !filter.runtimeStatus.includes(status.runtimeStatus)) return false;
  if (filter.createdTimeFrom && created < filter.createdTimeFrom.getTime()) return false;
  if (filter.createdTimeTo && created > filter.createdTimeTo.getTime()) return false;
  if (filter.instanceIdPrefix !== undefined && !status.instanceId.startsWith(filter.instanceIdPrefix)) return false;
  return true;
}
