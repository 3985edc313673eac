import type { DurableClient, InstanceFilter, InstanceStatus } from '@durable-rx/runtime';
import { useObservableState, type ObservableState } from './use-observable-state.js';

/**
 * The instances matching `filter`, live (`client.instances$`): re-rendered when membership or a member's status
 * changes. The filter is compared by value, so an inline object literal does not resubscribe on every render.
 *
 * @example
 * ```ts
 * const { value: running = [] } = useInstances(client, { runtimeStatus: ['Running'], showInput: false });
 * ```
 */
export function useInstances(client: DurableClient, filter: InstanceFilter = {}): ObservableState<InstanceStatus[]> {
  return useObservableState(() => client.instances$(filter), [client, filterKey(filter)]);
}

/**
 * The filter as a string, for comparing by value. Total: a bad filter (an Invalid Date, e.g. `new Date('')` from a date
 * input left empty, or no Date at all) is the hook's `error` when `instances$` checks it, never a throw while rendering.
 */
function filterKey(filter: InstanceFilter): string {
  return JSON.stringify([
    filter.runtimeStatus ?? null, timeKey(filter.createdTimeFrom), timeKey(filter.createdTimeTo),
    filter.instanceIdPrefix ?? null, filter.showInput ?? null, filter.name ?? null, filter.order ?? null, tagsKey(filter.tags),
  ]);
}

/** The tags of the filter as their pairs sorted by key; a value that is no readable object as it is (or a marker). */
function tagsKey(tags: unknown): unknown {
  if (tags === null || typeof tags !== 'object') return tags ?? null;
  try {
    return Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  } catch {
    return 'unreadable';
  }
}

/** A time of the filter as its milliseconds (`'NaN'` for an Invalid Date); a value that is no Date as it is. */
function timeKey(time: unknown): unknown {
  return time instanceof Date ? String(time.getTime()) : (time ?? null);
}
