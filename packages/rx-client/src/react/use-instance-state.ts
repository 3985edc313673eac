import type { DurableClient } from '@durable-rx/runtime';
import type { Observable } from 'rxjs';
import { useObservableState, type ObservableState } from './use-observable-state.js';

/**
 * The rule of every hook that takes an instance id: `watch(client, instanceId)` as `useObservableState`'s source,
 * subscribed again when the client or the id changes; `undefined` as the id is no source, so the hook watches nothing
 * and is not loading from its first render on (a server render too), and again each time the id becomes `undefined`.
 *
 * @example
 * ```ts
 * const state = useInstanceState(client, id, (c, instanceId) => c.status$(instanceId));
 * // id undefined: { value: undefined, loading: false, error: undefined } in every render, nothing subscribed
 * ```
 */
export function useInstanceState<T, R = T>(
  client: DurableClient, instanceId: string | undefined, watch: (client: DurableClient, instanceId: string) => Observable<T>,
  reduce?: (accumulated: R | undefined, value: T) => R,
): ObservableState<R> {
  return useObservableState(instanceId === undefined ? undefined : () => watch(client, instanceId), [client, instanceId], reduce);
}
