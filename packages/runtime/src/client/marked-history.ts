import type { Observable } from 'rxjs';
import type { HistoryEvent } from '../model/history-event.js';
import type { HistoryPosition } from '../model/history-position.js';
import type { DurableClient } from './durable-client.js';

/**
 * A client whose history says where each history begins (the local client, and rx-client's remote one): its
 * `historyPositions$` is `history$` with a {@link HistoryPosition} (the history's id, `<executionId>/<epoch>`, and
 * its length then) before the first event of each history a subscription gets.
 */
interface PositionedHistory {
  historyPositions$(instanceId: string): Observable<HistoryEvent | HistoryPosition>;
}

/**
 * The history of instance `instanceId` as `client` marks it: with a {@link HistoryPosition} before each history's
 * first event when the client says where histories begin (the local client, the remote one), else its `history$`,
 * which has no marks. What the HTTP API's history streams and rx-client's `currentHistory$` read.
 *
 * @example
 * ```ts
 * markedHistory$(client, id).subscribe((value) => {
 *   if (isHistoryPosition(value)) events = []; // a new history begins (continueAsNew, a restart, a rewind)
 *   else events.push(value);
 * });
 * ```
 */
export function markedHistory$(client: DurableClient, instanceId: string): Observable<HistoryEvent | HistoryPosition> {
  const marked = (client as Partial<PositionedHistory>).historyPositions$;
  return marked ? marked.call(client, instanceId) : client.history$(instanceId);
}

/**
 * Whether a value of a marked history ({@link markedHistory$}) is a position rather than an event: a history event
 * always has a `type`, a position never.
 *
 * @example
 * ```ts
 * isHistoryPosition({ execution: 'x1/0', events: 0 }); // true
 * isHistoryPosition(event); // false for every HistoryEvent
 * ```
 */
export function isHistoryPosition(value: HistoryEvent | HistoryPosition): value is HistoryPosition {
  return !('type' in value);
}
