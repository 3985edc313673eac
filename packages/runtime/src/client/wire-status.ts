import type { HistoryEvent } from '../model/history-event.js';
import type { FailureDetails, InstanceStatus, OrchestrationRuntimeStatus } from '../model/instance-status.js';
import { toWireHistory, type WireHistoryEvent } from './wire-history.js';
import { sanitiseFailureDetails, sanitiseStatus, type WireSanitiserOptions } from './wire-sanitise.js';

/**
 * An {@link InstanceStatus} as the Durable Functions HTTP API sends it: `name`, `instanceId`, `runtimeStatus`,
 * `input`, `customStatus`, `output`, `createdTime`, `lastUpdatedTime` and, with `showHistory=true`,
 * `historyEvents`. As in Durable Functions, `input`, `customStatus` and `output` are `null` when absent (or hidden
 * with `showInput=false`), a Failed instance's `output` is its error message, and the times are UTC to the second
 * (`2026-11-30T10:15:00Z`). `failureDetails`, `parentInstanceId`, `scheduledStartTime` and `tags` are durable-rx additions.
 */
export interface WireInstanceStatus {
  readonly name: string;
  readonly instanceId: string;
  readonly runtimeStatus: OrchestrationRuntimeStatus;
  readonly input: unknown;
  readonly customStatus: unknown;
  readonly output: unknown;
  readonly createdTime: string;
  readonly lastUpdatedTime: string;
  /** With `showHistory=true`: the history in the Durable Functions shape (see {@link toWireHistory}). */
  readonly historyEvents?: readonly WireHistoryEvent[];
  /** Why the instance failed (durable-rx addition); `stackTrace` only with `exposeStackTraces`. */
  readonly failureDetails?: FailureDetails;
  /** The parent orchestration of a sub-orchestration (durable-rx addition). */
  readonly parentInstanceId?: string;
  /**
   * When a delayed start was scheduled to begin (`InstanceStatus.scheduledStartTime`; durable-rx addition, as
   * durabletask's `scheduledStartTimestamp`), UTC to the second as the other times; absent for a start at once.
   */
  readonly scheduledStartTime?: string;
  /** The instance's tags (`InstanceStatus.tags`; durable-rx addition, as Durable Task's `Tags`); absent when none. */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * An {@link InstanceStatus} as JSON without loss: fields the instance does not have are omitted (so a custom status
 * of `null` and "no custom status" stay distinct), times keep their milliseconds, and `history` holds the native
 * history events. The HTTP API sends it with `format=native` and on its event streams; `@durable-rx/rx-client`
 * rebuilds exactly the status a local client returns from it.
 */
export interface NativeWireStatus {
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
  /** A delayed start's time, with its milliseconds (`InstanceStatus.scheduledStartTime`). */
  readonly scheduledStartTime?: string;
  /** The instance's tags (`InstanceStatus.tags`); absent when none. */
  readonly tags?: Readonly<Record<string, string>>;
  readonly history?: readonly HistoryEvent[];
}

/** Options of {@link toWireStatus} and {@link toNativeWireStatus}. */
export interface WireStatusOptions extends WireSanitiserOptions {
  /** With a `history` in the status: show activity, sub-orchestration and orchestration results (`Result`). */
  readonly showHistoryOutput?: boolean;
  /** Show inputs (`input`, and `Input` in history events). Default true. */
  readonly showInput?: boolean;
}

/**
 * Converts a status to the Durable Functions status body (see {@link WireInstanceStatus}). Its `history`, when
 * present, must be the full native history (with inputs and results); `showHistoryOutput` and `showInput` decide
 * what of it is shown.
 *
 * @example
 * ```ts
 * toWireStatus(await client.getStatus(id));
 * // { name: 'E1_HelloSequence', instanceId: '…', runtimeStatus: 'Running', input: null, customStatus: 'Tokyo',
 * //   output: null, createdTime: '2026-11-30T10:15:00Z', lastUpdatedTime: '2026-11-30T10:15:01Z' }
 * ```
 */
export function toWireStatus(status: InstanceStatus, options: WireStatusOptions = {}): WireInstanceStatus {
  const wire = toWireStatusWithoutHistory(status, options);
  // As the extension: no history for an instance that has not started yet.
  if (status.history === undefined || status.runtimeStatus === 'Pending') return wire;
  const historyOptions = {
    showHistoryOutput: options.showHistoryOutput === true,
    showInput: options.showInput !== false,
    exposeStackTraces: options.exposeStackTraces === true,
    // The start of an execution terminated before it started is made from the instance (its history holds none).
    instance: status,
  };
  return { ...wire, historyEvents: toWireHistory(status.history, historyOptions) };
}

/**
 * {@link toWireStatus} for a status that carries no `history` (what `waitForCompletion` and `status$` give): it
 * leaves the history converter out of a client's bundle. A `history` in the status is not shown.
 *
 * @example
 * ```ts
 * Response.json(toWireStatusWithoutHistory(await client.waitForCompletion(id)));
 * ```
 */
export function toWireStatusWithoutHistory(status: InstanceStatus, options: WireStatusOptions = {}): WireInstanceStatus {
  return {
    name: status.name,
    instanceId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    input: options.showInput !== false ? (status.input ?? null) : null,
    customStatus: status.customStatus ?? null,
    output: outputOf(status),
    createdTime: toWireTime(status.createdTime),
    lastUpdatedTime: toWireTime(status.lastUpdatedTime),
    ...(status.failureDetails !== undefined ? { failureDetails: sanitiseFailureDetails(status.failureDetails, options) } : {}),
    ...(status.parentInstanceId !== undefined ? { parentInstanceId: status.parentInstanceId } : {}),
    ...(status.scheduledStartTime !== undefined ? { scheduledStartTime: toWireTime(status.scheduledStartTime) } : {}),
    ...(status.tags !== undefined ? { tags: status.tags } : {}),
  };
}

/**
 * Converts a status to its lossless JSON form (see {@link NativeWireStatus}). Its `history`, if any, is sent as
 * it is (the caller already chose what `showHistoryOutput` and `showInput` keep); stack traces are removed unless
 * `exposeStackTraces`.
 *
 * @example
 * ```ts
 * toNativeWireStatus(status).createdTime; // '2026-11-30T10:15:00.123Z'
 * ```
 */
export function toNativeWireStatus(unsanitised: InstanceStatus, options: WireSanitiserOptions = {}): NativeWireStatus {
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
    ...(status.scheduledStartTime !== undefined ? { scheduledStartTime: status.scheduledStartTime.toISOString() } : {}),
    ...(status.tags !== undefined ? { tags: status.tags } : {}),
    ...(status.history !== undefined ? { history: status.history } : {}),
  };
}

/**
 * A status time as Durable Functions formats it: UTC, to the second, with a `Z` (`2026-11-30T10:15:00Z`).
 *
 * @example
 * ```ts
 * toWireTime(new Date('2026-11-30T10:15:00.987Z')); // '2026-11-30T10:15:00Z'
 * ```
 */
export function toWireTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** `output` as Durable Functions sends it: the error message of a Failed instance, `null` when there is none. */
function outputOf(status: InstanceStatus): unknown {
  if (status.runtimeStatus === 'Failed' && status.output === undefined) return status.failureDetails?.errorMessage ?? null;
  return status.output ?? null;
}
