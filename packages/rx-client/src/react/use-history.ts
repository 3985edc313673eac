import type { DurableClient, HistoryEvent } from '@durable-rx/runtime';
import { currentHistory$ } from '../current-history.js';
import { useInstanceState } from './use-instance-state.js';
import type { ObservableState } from './use-observable-state.js';

/**
 * The current history of instance `instanceId`, live (on `client.history$`): the committed events so far, growing as
 * new ones are appended, and starting over when a new history begins (`continueAsNew`, a restart, a rewind), so it
 * holds the events of one history only; empty again when the instance is purged. `loading` stays true until the
 * history is known: its start or first event (an unknown instance has neither). `undefined` as the id watches nothing
 * (not loading, from the first render on).
 *
 * @example
 * ```ts
 * const { value: events = [] } = useHistory(client, id);
 * events.filter((e) => e.type === 'TaskCompleted').length; // activities done, each once (after a rewind too)
 * ```
 */
export function useHistory(client: DurableClient, instanceId: string | undefined): ObservableState<readonly HistoryEvent[]> {
  return useInstanceState<readonly HistoryEvent[]>(client, instanceId, currentHistory$, false);
}
