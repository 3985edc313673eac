import type { InstanceFilter } from '../client/durable-client.js';
import { parseBoolean, parseDate, parseRuntimeStatuses, parseString, type QueryParams } from './query-params.js';

/**
 * The list filters of the HTTP API (`runtimeStatus=a,b`, `createdTimeFrom`, `createdTimeTo`, `instanceIdPrefix`,
 * `showInput`) from query parameters (names in any case); a malformed or repeated one throws `InvalidArgumentError` (400).
 */
export function parseInstanceFilter(params: QueryParams): InstanceFilter {
  const runtimeStatus = parseRuntimeStatuses(params, 'runtimeStatus');
  const createdTimeFrom = parseDate(params, 'createdTimeFrom', 'up');
  const createdTimeTo = parseDate(params, 'createdTimeTo', 'down');
  const instanceIdPrefix = parseString(params, 'instanceIdPrefix');
  const showInput = parseBoolean(params, 'showInput');
  return {
    ...(runtimeStatus ? { runtimeStatus } : {}),
    ...(createdTimeFrom ? { createdTimeFrom } : {}),
    ...(createdTimeTo ? { createdTimeTo } : {}),
    ...(instanceIdPrefix !== undefined ? { instanceIdPrefix } : {}),
    ...(showInput !== undefined ? { showInput } : {}),
  };
}

/** A canonical form of a filter, so equal filters name the same resumable stream. */
export function instanceFilterKey(filter: InstanceFilter): string {
  return JSON.stringify([
    filter.runtimeStatus ? [...filter.runtimeStatus].sort() : null,
    filter.createdTimeFrom?.toISOString() ?? null,
    filter.createdTimeTo?.toISOString() ?? null,
    filter.instanceIdPrefix ?? null,
    filter.showInput ?? null,
  ]);
}
