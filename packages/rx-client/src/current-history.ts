import type { DurableClient, HistoryEvent } from '@durable-rx/runtime';
import type { HistoryPosition } from '@durable-rx/runtime/http';
import { scan, type Observable } from 'rxjs';

/**
 * A client whose history says where each history begins (the local client and the remote one): the history's
 * position, before the first event of each history a subscription gets.
 */
interface PositionedHistory {
  historyPositions$(instanceId: string): Observable<HistoryEvent | HistoryPosition>;
}

/**
 * The current history of instance `instanceId`, live: its committed events so far (a new array on each change),
 * growing as events are appended, and empty again when a new history begins (`continueAsNew`, a new execution over a
 * terminal instance, a rewind), so it never holds events of an earlier one: what `useHistory` renders. Where a history
 * begins is the client's to say: the local client and the remote one (the server's positions) mark each history; over
 * another `DurableClient`, whose `history$` has no marks, the events of every history are collected.
 *
 * @example
 * ```ts
 * currentHistory$(client, id).subscribe((events) => {
 *   done.textContent = String(events.filter((e) => e.type === 'TaskCompleted').length); // once each, after a rewind too
 * });
 * ```
 */
export function currentHistory$(client: DurableClient, instanceId: string): Observable<readonly HistoryEvent[]> {
  const marked = (client as Partial<PositionedHistory>).historyPositions$;
  const source: Observable<HistoryEvent | HistoryPosition> = marked ? marked.call(client, instanceId) : client.history$(instanceId);
  // A history event has a `type`, a position none: a position begins a new history.
  return source.pipe(scan((events: readonly HistoryEvent[], value) => ('type' in value ? [...events, value] : []), []));
}
