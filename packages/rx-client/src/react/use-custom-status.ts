import type { DurableClient } from '@durable-rx/runtime';
import type { Observable } from 'rxjs';
import { useInstanceState } from './use-instance-state.js';
import type { ObservableState } from './use-observable-state.js';

/**
 * The custom status of instance `instanceId`, live (`client.customStatus$`): each committed value in order, each
 * rendered (in a commit of its own, so an effect on it runs once per value), however fast they arrive. `T` is
 * what the orchestrator passes to `setCustomStatus` (not checked at run time). `undefined` as the id watches nothing
 * (not loading, from the first render on).
 *
 * @example
 * ```ts
 * const { value: city } = useCustomStatus<string>(client, id); // undefined, 'Tokyo', 'Seattle', 'London'
 * ```
 */
export function useCustomStatus<T = unknown>(client: DurableClient, instanceId: string | undefined): ObservableState<T> {
  return useInstanceState(client, instanceId, (c, id) => c.customStatus$(id) as Observable<T>, true);
}
