import type { Observable } from 'rxjs';
import type { HistoryEvent } from '../model/history-event.js';
import type { InstanceStatus, OrchestrationRuntimeStatus } from '../model/instance-status.js';

/** Options of {@link DurableClient.startNew}. */
export interface StartNewOptions {
  /** Plain JSON input (Dates become ISO strings). */
  readonly input?: unknown;
  /** The id to use; a random UUID when absent. A terminal instance with this id is replaced. */
  readonly instanceId?: string;
}

/** Options of {@link DurableClient.getStatus}. */
export interface GetStatusOptions {
  /** Include the history events. */
  readonly showHistory?: boolean;
  /** With `showHistory`: include activity and sub-orchestration results and inputs in the events. */
  readonly showHistoryOutput?: boolean;
  /** Include the input (default true). */
  readonly showInput?: boolean;
}

/** Filters of {@link DurableClient.getStatusBy} and {@link DurableClient.instances$}. */
export interface InstanceFilter {
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[];
  readonly createdTimeFrom?: Date;
  readonly createdTimeTo?: Date;
  /** Matched literally. */
  readonly instanceIdPrefix?: string;
  /** Include inputs (default true). */
  readonly showInput?: boolean;
}

/** Query of {@link DurableClient.listInstances}: filters plus paging. */
export interface ListInstancesQuery extends InstanceFilter {
  /** Default 100, at most 1000. */
  readonly pageSize?: number;
  readonly continuationToken?: string;
}

/** One page of {@link DurableClient.listInstances}. */
export interface InstancesPage {
  readonly instances: InstanceStatus[];
  /** Present when another page may follow. */
  readonly continuationToken?: string;
}

/** Filter of {@link DurableClient.purgeInstanceHistoryBy}. */
export interface PurgeInstancesFilter {
  readonly createdTimeFrom: Date;
  readonly createdTimeTo?: Date;
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[];
}

/** Result of a purge. */
export interface PurgeResult {
  readonly instancesDeleted: number;
}

/** The management URLs of an instance, as Durable Functions' `createCheckStatusResponse` formats them. */
export interface HttpManagementPayload {
  readonly id: string;
  readonly statusQueryGetUri: string;
  readonly sendEventPostUri: string;
  readonly terminatePostUri: string;
  readonly rewindPostUri: string;
  readonly purgeHistoryDeleteUri: string;
  readonly suspendPostUri: string;
  readonly resumePostUri: string;
}

/** Options of {@link DurableClient.createHttpManagementPayload}. */
export interface HttpManagementPayloadOptions {
  /** Appended to every URL as `code=` (the HTTP API's access key). */
  readonly key?: string;
}

/**
 * Starts, manages and watches orchestration instances. The same interface is implemented locally (over a Store,
 * `createClient` / `runtime.client`) and remotely over HTTP + Server-Sent Events (`@durable-rx/rx-client`), so a UI
 * written against it runs unchanged against either.
 *
 * Commands reject with `DurableError`s (`code`/`status`): invalid input 400, unknown instance 404, conflicting state
 * 409, terminal instance 410. Observables push every committed change; nothing polls.
 */
export interface DurableClient {
  /** Creates a Pending instance and returns its id. */
  startNew(name: string, options?: StartNewOptions): Promise<string>;
  /** The status of an instance, `undefined` if unknown. */
  getStatus(instanceId: string, options?: GetStatusOptions): Promise<InstanceStatus | undefined>;
  /** One page of instances, ordered by (createdTime, instanceId). */
  listInstances(query?: ListInstancesQuery): Promise<InstancesPage>;
  /** Every instance (all pages). */
  getStatusAll(): Promise<InstanceStatus[]>;
  /** Every instance matching the filter (all pages). */
  getStatusBy(filter: InstanceFilter): Promise<InstanceStatus[]>;
  /** Delivers an event to `waitForExternalEvent(eventName)`; buffered if the orchestrator is not waiting yet. */
  raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void>;
  /** Terminates a Pending, Running or Suspended instance; `reason` becomes its output. */
  terminate(instanceId: string, reason?: unknown): Promise<void>;
  /** Suspends an instance: it makes no progress, messages are kept for later. */
  suspend(instanceId: string, reason?: string): Promise<void>;
  /** Resumes a suspended instance. */
  resume(instanceId: string, reason?: string): Promise<void>;
  /** Makes a Failed instance run its failed calls again. */
  rewind(instanceId: string, reason?: string): Promise<void>;
  /** Deletes a terminal instance, its history and messages. */
  purgeInstanceHistory(instanceId: string): Promise<PurgeResult>;
  /** Deletes the terminal instances matching the filter. */
  purgeInstanceHistoryBy(filter: PurgeInstancesFilter): Promise<PurgeResult>;
  /** Resolves when the instance is terminal, or with its latest status after `timeoutMs` (default 10 s). */
  waitForCompletion(instanceId: string, options?: { readonly timeoutMs?: number }): Promise<InstanceStatus>;
  /** The current status, then every committed change in commit order (no consecutive duplicates). */
  status$(instanceId: string): Observable<InstanceStatus | undefined>;
  /** The current custom status, then every committed new value in order. */
  customStatus$(instanceId: string): Observable<unknown>;
  /** A live query: the matching instances, re-emitted whenever membership or a member's status changes. */
  instances$(filter?: InstanceFilter): Observable<InstanceStatus[]>;
  /**
   * The history events: those already committed, then each one as it is committed. When the history starts over
   * (`continueAsNew`, a new execution over a terminal one, a rewind), the new history follows from its first event.
   */
  history$(instanceId: string): Observable<HistoryEvent>;
  /** The management URLs of an instance under `baseUrl`. */
  createHttpManagementPayload(instanceId: string, baseUrl: string, options?: HttpManagementPayloadOptions): HttpManagementPayload;
}
