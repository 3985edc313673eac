import type { DurableClient, HistoryEvent } from '@durable-rx/runtime';
import { EMPTY } from 'rxjs';
import { useObservableState, type ObservableState } from './use-observable-state.js';

/**
 * The history of instance `instanceId`, live (`client.history$`): the committed events so far, growing as new ones
 * are appended. `loading` stays true until the first event (an unknown instance has none).
 *
 * @example
 * ```ts
 * const { value: events = [] } = useHistory(client, id);
 * events.filter((e) => e.type === 'TaskCompleted').length; // activities done
 * ```
 */
export function useHistory(client: DurableClient, instanceId: string | undefined): ObservableState<readonly HistoryEvent[]> {
  return useObservableState<HistoryEvent, readonly HistoryEvent[]>(
    () => (instanceId === undefined ? EMPTY : client.history$(instanceId)),
    [client, instanceId],
    (events, event) => [...(events ?? []), event],
  );
}
