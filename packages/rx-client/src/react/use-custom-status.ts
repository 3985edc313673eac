import type { DurableClient } from '@durable-rx/runtime';
import { useInstanceState } from './use-instance-state.js';
import type { ObservableState } from './use-observable-state.js';

/**
 * The custom status of instance `instanceId`, live (`client.customStatus$`): each committed value in order. `T` is
 * what the orchestrator passes to `setCustomStatus` (not checked at run time). `undefined` as the id watches nothing
 * (not loading, from the first render on).
 *
 * @example
 * ```ts
 * const { value: city } = useCustomStatus<string>(client, id); // undefined, 'Tokyo', 'Seattle', 'London'
 * ```
 */
export function useCustomStatus<T = unknown>(client: DurableClient, instanceId: string | undefined): ObservableState<T> {
  return useInstanceState(client, instanceId, (c, id) => c.customStatus$(id), (_, value) => value as T);
}
