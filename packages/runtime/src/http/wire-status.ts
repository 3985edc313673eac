import type { FailureDetails, InstanceStatus, OrchestrationRuntimeStatus } from '../model/instance-status.js';
import type { HistoryEvent } from '../model/history-event.js';

/**
 * An {@link InstanceStatus} as the HTTP API sends it: the Durable Functions status shape (`name`, `instanceId`,
 * `runtimeStatus`, `input`, `customStatus`, `output`, `createdTime`, `lastUpdatedTime`, `historyEvents`) plus
 * `failureDetails` and `parentInstanceId`. Dates are ISO 8601 strings.
 *
 * Fields an instance does not have are omitted rather than sent as `null`, so that a custom status of `null` and
 * "no custom status" stay distinguishable and a remote client rebuilds exactly the status a local client returns.
 */
export interface WireInstanceStatus {
  readonly name: string;
  readonly instanceId: string;
  readonly runtimeStatus: OrchestrationRuntimeStatus;
  readonly input?: unknown;
  readonly customStatus?: unknown;
  readonly output?: unknown;
  readonly failureDetails?: FailureDetails;
  readonly createdTime: string;
  readonly lastUpdatedTime: string;
  readonly parentInstanceId?: string;
  /** With `showHistory=true`: the history events of the current execution. */
  readonly historyEvents?: readonly HistoryEvent[];
}

/** Options of {@link toWireStatus}. */
export interface WireStatusOptions {
  /**
   * Keep `stackTrace` in failure details (of the instance and of history events). Default false: stack traces name
   * server files and lines, which a public endpoint should not reveal.
   */
  readonly exposeStackTraces?: boolean;
}

/**
 * Converts a status to its wire shape (see {@link WireInstanceStatus}).
 *
 * @example
 * ```ts
 * JSON.stringify(toWireStatus(await client.getStatus(id)));
 * // {"name":"E1_HelloSequence","instanceId":"...","runtimeStatus":"Completed","output":[...],"createdTime":"2026-..."}
 * ```
 */
export function toWireStatus(status: InstanceStatus, options: WireStatusOptions = {}): WireInstanceStatus {
  const expose = options.exposeStackTraces === true;
  return {
    name: status.name,
    instanceId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    ...(status.input !== undefined ? { input: status.input } : {}),
    ...(status.customStatus !== undefined ? { customStatus: status.customStatus } : {}),
    ...(status.output !== undefined ? { output: status.output } : {}),
    ...(status.failureDetails !== undefined ? { failureDetails: expose ? status.failureDetails : withoutStack(status.failureDetails) } : {}),
    createdTime: status.createdTime.toISOString(),
    lastUpdatedTime: status.lastUpdatedTime.toISOString(),
    ...(status.parentInstanceId !== undefined ? { parentInstanceId: status.parentInstanceId } : {}),
    ...(status.history !== undefined ? { historyEvents: expose ? status.history : status.history.map(eventWithoutStack) } : {}),
  };
}

function withoutStack(details: FailureDetails): FailureDetails {
  const { stackTrace: _stack, ...rest } = details;
  return rest;
}

function eventWithoutStack(event: HistoryEvent): HistoryEvent {
  return 'failureDetails' in event && event.failureDetails ? ({ ...event, failureDetails: withoutStack(event.failureDetails) } as HistoryEvent) : event;
}
