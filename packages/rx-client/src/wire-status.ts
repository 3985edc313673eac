import { ALL_RUNTIME_STATUSES, type InstanceStatus } from '@durable-rx/runtime';
import { badResponse, memberOf } from './remote-error.js';

/**
 * Rebuilds an `InstanceStatus` from the HTTP API's lossless status form (`format=native` and the event streams:
 * absent fields omitted, ISO dates with milliseconds, native `history`): the inverse of `toNativeWireStatus` in
 * `@durable-rx/runtime/http`. The two times become Dates; the other members are taken as sent, after checking the
 * ones every status has (`instanceId`, `name`, a known `runtimeStatus`).
 */
export function fromWireStatus(value: unknown): InstanceStatus {
  if (
    memberOf(value, 'instanceId') === undefined || memberOf(value, 'name') === undefined ||
    !ALL_RUNTIME_STATUSES.includes(memberOf(value, 'runtimeStatus') as never)
  ) {
    throw badResponse('Not an instance status');
  }
  return {
    ...(value as object),
    createdTime: toDate(memberOf(value, 'createdTime')),
    lastUpdatedTime: toDate(memberOf(value, 'lastUpdatedTime')),
  } as unknown as InstanceStatus;
}

function toDate(value: string | undefined): Date {
  const date = new Date(value ?? NaN);
  // A status whose time is no date is no status (one message for both: each costs bytes in a page).
  if (isNaN(+date)) throw badResponse('Not an instance status');
  return date;
}
