import { ALL_RUNTIME_STATUSES, type InstanceStatus } from '@durable-rx/runtime';
import { badResponse, memberOf } from './remote-error.js';

/**
 * Rebuilds an `InstanceStatus` from the HTTP API's lossless status form (`format=native` and the event streams:
 * absent fields omitted, ISO dates with milliseconds, native `history`): the inverse of `toNativeWireStatus` in
 * `@durable-rx/runtime/http`. The times (`createdTime`, `lastUpdatedTime`, a delayed start's `scheduledStartTime`) become
 * Dates; the other members are taken as sent, after checking the
 * ones every status has (`instanceId`, `name`, a known `runtimeStatus`).
 */
export function fromWireStatus(value: unknown): InstanceStatus {
  // A time that is no date (or none: `new Date(undefined)` is an Invalid Date) makes no status.
  const createdTime = new Date(memberOf(value, 'createdTime')!);
  const lastUpdatedTime = new Date(memberOf(value, 'lastUpdatedTime')!);
  if (
    memberOf(value, 'instanceId') === undefined || memberOf(value, 'name') === undefined ||
    !ALL_RUNTIME_STATUSES.includes(memberOf(value, 'runtimeStatus') as never) || isNaN(+createdTime) || isNaN(+lastUpdatedTime)
  ) {
    throw badResponse('Not an instance status');
  }
  // A delayed start's time (`scheduledStartTime`), when sent, is a Date too; one that is no date makes no status.
  const scheduled = memberOf(value, 'scheduledStartTime');
  const scheduledStartTime = scheduled === undefined ? undefined : new Date(scheduled as string);
  if (scheduledStartTime !== undefined && (typeof scheduled !== 'string' || isNaN(+scheduledStartTime))) throw badResponse('Not an instance status');
  // The commit version a status stream adds (see `statusChangesMissed`) is the wire's, not the status's.
  const { version: _, ...status } = value as Record<string, unknown>;
  return Object.assign(status, scheduledStartTime ? { createdTime, lastUpdatedTime, scheduledStartTime } : { createdTime, lastUpdatedTime }) as unknown as InstanceStatus;
}
