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

function filterKey(filter: InstanceFilter): string {
  return JSON.stringify([
    filter.runtimeStatus ?? null, filter.createdTimeFrom?.toISOString() ?? null, filter.createdTimeTo?.toISOString() ?? null,
    filter.instanceIdPrefix ?? null, filter.showInput ?? null,
  ]);
}
