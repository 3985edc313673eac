import { ALL_RUNTIME_STATUSES, type InstanceStatus } from '@durable-rx/runtime';
import { badResponse, isRecord } from './remote-error.js';

/**
 * Rebuilds an `InstanceStatus` from the HTTP API's lossless status form (`format=native` and the event streams:
 * absent fields omitted, ISO dates with milliseconds, native `history`). The inverse of `toNativeWireStatus` in
 * `@durable-rx/runtime/http`.
 */
export function fromWireStatus(value: unknown): InstanceStatus {
  if (
    !isRecord(value) || typeof value.instanceId !== 'string' || typeof value.name !== 'string' ||
    !ALL_RUNTIME_STATUSES.includes(value.runtimeStatus as never)
  ) {
    throw badResponse('A status lacks instanceId, name or runtimeStatus');
  }
  const status: Record<string, unknown> = {
    instanceId: value.instanceId,
    name: value.name,
    runtimeStatus: value.runtimeStatus,
    createdTime: toDate(value.createdTime),
    lastUpdatedTime: toDate(value.lastUpdatedTime),
  };
  for (const key of ['input', 'output', 'customStatus', 'failureDetails', 'parentInstanceId']) {
    if (value[key] !== undefined) status[key] = value[key];
  }
  if (Array.isArray(value.history)) status.history = value.history;
  return status as unknown as InstanceStatus;
}

function toDate(value: unknown): Date {
  const date = new Date(typeof value === 'string' ? value : NaN);
  if (Number.isNaN(date.getTime())) throw badResponse('A status time is not a date');
  return date;
}
