import type { InstanceFilter } from '../client/durable-client.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { nameList } from '../model/validation.js';
import { parseBoolean, parseDate, parseRuntimeStatuses, parseString, parseTags, type QueryParams } from './query-params.js';

/**
 * The list filters of the HTTP API (`runtimeStatus=a,b`, `createdTimeFrom`, `createdTimeTo`, `instanceIdPrefix`,
 * `name`, `order`, `tags` as a JSON object, `showInput`) from query parameters (names in any case); a malformed or repeated one throws
 * `InvalidArgumentError` (400).
 */
export function parseInstanceFilter(params: QueryParams): InstanceFilter {
  const name = parseNames(params, 'name');
  const order = parseOrder(params, 'order');
  const runtimeStatus = parseRuntimeStatuses(params, 'runtimeStatus');
  const createdTimeFrom = parseDate(params, 'createdTimeFrom', 'up');
  const createdTimeTo = parseDate(params, 'createdTimeTo', 'down');
  const instanceIdPrefix = parseString(params, 'instanceIdPrefix');
  const showInput = parseBoolean(params, 'showInput');
  const tags = parseTags(params, 'tags');
  return {
    ...(runtimeStatus ? { runtimeStatus } : {}),
    ...(createdTimeFrom ? { createdTimeFrom } : {}),
    ...(createdTimeTo ? { createdTimeTo } : {}),
    ...(instanceIdPrefix !== undefined ? { instanceIdPrefix } : {}),
    ...(name ? { name } : {}),
    ...(order ? { order } : {}),
    ...(tags ? { tags } : {}),
    ...(showInput !== undefined ? { showInput } : {}),
  };
}

/**
 * The orchestrator names of `name`, repeated for several (`name=A&name=B`; never split at commas, which a name may
 * hold), checked by the shared rule (`nameList`: each a valid name, exact case); `undefined` when absent or empty.
 */
export function parseNames(params: QueryParams, param: string): string[] | undefined {
  const values = params.getAll(param).filter((value) => value !== '');
  return values.length === 0 ? undefined : nameList(values, param);
}

/** `order`: `asc` or `desc` (any case); `undefined` when absent or empty. */
export function parseOrder(params: QueryParams, param: string): 'asc' | 'desc' | undefined {
  const raw = params.value(param)?.toLowerCase();
  if (raw === undefined || raw === 'asc' || raw === 'desc') return raw;
  throw new InvalidArgumentError(`${param} must be asc or desc`);
}

/** A canonical form of a filter, so equal filters name the same resumable stream. */
export function instanceFilterKey(filter: InstanceFilter): string {
  return JSON.stringify([
    filter.runtimeStatus ? [...filter.runtimeStatus].sort() : null,
    filter.createdTimeFrom?.toISOString() ?? null,
    filter.createdTimeTo?.toISOString() ?? null,
    filter.instanceIdPrefix ?? null,
    filter.showInput ?? null,
    // Left out when absent, so the key of a filter without them is the one earlier versions made.
    ...(filter.name === undefined && filter.order !== 'desc' ? [] : [
      filter.name === undefined ? null : [...new Set(typeof filter.name === 'string' ? [filter.name] : filter.name)].sort(),
      filter.order === 'desc' ? 'desc' : null,
    ]),
    // Likewise; pairs sorted by key, so the order they were written in does not matter.
    ...(filter.tags === undefined || Object.keys(filter.tags).length === 0 ? [] : [Object.entries(filter.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]),
  ]);
}
