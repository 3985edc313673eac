import { systemClock, type DurableClient } from '@durable-rx/runtime';
import type { Observable } from 'rxjs';
import { useSourceState, type ObservableState } from './use-observable-state.js';

/**
 * The rule of every hook that takes an instance id: `watch(client, instanceId)` as `useObservableState`'s source,
 * subscribed again when the client or the id changes; `undefined` as the id is no source, so the hook watches nothing
 * and is not loading from its first render on (a server render too), and again each time the id becomes `undefined`.
 * `each`: every value is rendered in turn, in a commit of its own (status, custom status), not only the latest.
 *
 * @example
 * ```ts
 * const state = useInstanceState(client, id, (c, instanceId) => c.status$(instanceId), true);
 * // id undefined: { value: undefined, loading: false, error: undefined } in every render, nothing subscribed
 * ```
 */
export function useInstanceState<T>(
  client: DurableClient, instanceId: string | undefined, watch: (client: DurableClient, instanceId: string) => Observable<T>, each: boolean,
): ObservableState<T> {
  const source = instanceId === undefined ? undefined : () => watch(client, instanceId);
  return useSourceState<T>(source, [client, instanceId], undefined, systemClock, each);
}
