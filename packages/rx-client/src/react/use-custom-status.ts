import type { DurableClient } from '@durable-rx/runtime';
import { EMPTY } from 'rxjs';
import { useObservableState, type ObservableState } from './use-observable-state.js';

/**
 * The custom status of instance `instanceId`, live (`client.customStatus$`): each committed value in order. `T` is
 * what the orchestrator passes to `setCustomStatus` (not checked at run time).
 *
 * @example
 * ```ts
 * const { value: city } = useCustomStatus<string>(client, id); // undefined, 'Tokyo', 'Seattle', 'London'
 * ```
 */
export function useCustomStatus<T = unknown>(client: DurableClient, instanceId: string | undefined): ObservableState<T> {
  return useObservableState(() => (instanceId === undefined ? EMPTY : client.customStatus$(instanceId)), [client, instanceId], (_, value) => value as T);
}
