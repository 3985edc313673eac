import type { OrchestrationRuntimeStatus } from '../model/instance-status.js';
import { invalid, isBoolean, isCount, isHeaderText, readChecked, validateInstanceFilter, type ValidInstanceFilter } from '../model/validation.js';

/** The commands by filter: `terminateBy`, `suspendBy`, `resumeBy`, `cancelBy` (the HTTP API's route names). */
export type BulkCommand = 'terminate' | 'suspend' | 'resume' | 'cancel';

/**
 * The statuses each command by filter lists: those its per-instance command applies to. A filter's own
 * `runtimeStatus` narrows them.
 */
export const BULK_STATUSES: Readonly<Record<BulkCommand, readonly OrchestrationRuntimeStatus[]>> = {
  terminate: ['Pending', 'Running', 'Suspended'],
  cancel: ['Pending', 'Running', 'Suspended'],
  suspend: ['Pending', 'Running'],
  resume: ['Suspended'],
};

/** How many instances a remote client's request of a command by filter carries at most (its `limit`). */
export const BULK_REQUEST_SIZE = 16;

/** How many per-instance commands a local command by filter runs at once. */
export const BULK_CONCURRENCY = 16;

/** {@link readBulkOptions}' reading of `BulkCommandOptions` (and `recursive`, for terminate). */
export interface ValidBulkOptions {
  readonly limit?: number;
  readonly continuationToken?: string;
  readonly signal?: AbortSignal;
  readonly recursive: boolean;
}

/**
 * The filter a command by filter lists (`filter` checked by the shared rule, `validateInstanceFilter`, its
 * `runtimeStatus` narrowed to the statuses `command` applies to), or `undefined` when it can match nothing (a
 * `runtimeStatus` that lists none of them). Throws `InvalidArgumentError` for a malformed filter.
 */
export function bulkFilter(command: BulkCommand, filter: unknown): ValidInstanceFilter | undefined {
  // `showInput` (an `InstanceFilter`'s) shows nothing here: taken, and left out of the listing's filter.
  const { showInput: _shown, ...valid } = validateInstanceFilter(filter ?? undefined, `${command}By filter`);
  const allowed = BULK_STATUSES[command];
  const asked = valid.runtimeStatus;
  const runtimeStatus = asked && asked.length > 0 ? allowed.filter((s) => asked.includes(s)) : allowed;
  return runtimeStatus.length === 0 ? undefined : { ...valid, runtimeStatus };
}

/**
 * The options of a command by filter, checked (`InvalidArgumentError` naming the member): `limit` a positive integer,
 * `continuationToken` a string a header can carry (`''` none), `signal` an `AbortSignal`, and, for terminate,
 * `recursive` a boolean.
 */
export function readBulkOptions(command: BulkCommand, options: unknown): ValidBulkOptions {
  const what = `${command}By options`;
  const { limit, continuationToken, signal, recursive } = readChecked(
    options ?? undefined, what, (command === 'terminate' ? TERMINATE_BY_CHECKS : BULK_CHECKS) as typeof TERMINATE_BY_CHECKS,
  );
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(continuationToken === undefined ? {} : { continuationToken }),
    ...(signal === undefined ? {} : { signal }),
    recursive: recursive === true,
  };
}

/** The members of a command's options by filter (`BulkCommandOptions`) and their checks. */
const BULK_CHECKS = {
  limit: isCount,
  continuationToken: (value: unknown, name: string): string | undefined => (value === '' ? undefined : isHeaderText(value, name)),
  signal: isAbortSignal,
};

/** {@link BULK_CHECKS} plus terminate's `recursive` (`BulkTerminateOptions`). */
const TERMINATE_BY_CHECKS = { ...BULK_CHECKS, recursive: isBoolean };

/** An `AbortSignal` (anything with a boolean `aborted` and `addEventListener`), or `InvalidArgumentError`. */
function isAbortSignal(value: unknown, what: string): AbortSignal {
  const signal = value as AbortSignal;
  return typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function'
    ? signal
    : invalid(what, 'must be an AbortSignal');
}
