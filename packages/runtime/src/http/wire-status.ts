import type { FailureDetails, InstanceStatus, OrchestrationRuntimeStatus } from '../model/instance-status.js';
import type { HistoryEvent } from '../model/history-event.js';
import { sanitiseStatus, type WireSanitiserOptions } from './wire-sanitiser.js';

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

/** Options of {@link toWireStatus}: those of the wire sanitiser (`exposeStackTraces`, default false). */
export type WireStatusOptions = WireSanitiserOptions;

/**
 * Converts a status to its wire shape (see {@link WireInstanceStatus}).
 *
 * @example
 * ```ts
 * JSON.stringify(toWireStatus(await client.getStatus(id)));
 * // {"name":"E1_HelloSequence","instanceId":"...","runtimeStatus":"Completed","output":[...],"createdTime":"2026-..."}
 * ```
 */
export function toWireStatus(unsanitised: InstanceStatus, options: WireStatusOptions = {}): WireInstanceStatus {
  const status = sanitiseStatus(unsanitised, options);
  return {
    name: status.name,
    instanceId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    ...(status.input !== undefined ? { input: status.input } : {}),
    ...(status.customStatus !== undefined ? { customStatus: status.customStatus } : {}),
    ...(status.output !== undefined ? { output: status.output } : {}),
    ...(status.failureDetails !== undefined ? { failureDetails: status.failureDetails } : {}),
    createdTime: status.createdTime.toISOString(),
    lastUpdatedTime: status.lastUpdatedTime.toISOString(),
    ...(status.parentInstanceId !== undefined ? { parentInstanceId: status.parentInstanceId } : {}),
    ...(status.history !== undefined ? { historyEvents: status.history } : {}),
  };
}
