import type { DurableClient, HistoryEvent } from '@durable-rx/runtime';
import { isHistoryPosition, markedHistory$ } from '@durable-rx/runtime/client-kit';
import type { HistoryPosition } from '@durable-rx/runtime/http';
import { Observable, type Subscription } from 'rxjs';
import { startsOver } from './remote-error.js';

/**
 * The current history of instance `instanceId`, live: its committed events so far (a new array on each change, one
 * for the events that arrive together, e.g. a whole history read at once, and none when they change nothing), growing as events are appended, and empty
 * again when a new history begins (`continueAsNew`, a new execution over a terminal instance, a rewind) or the
 * instance is purged (watched on `status$`), so it never holds events of an earlier one or of a deleted instance: what
 * `useHistory` renders. Where a history begins is the client's to say: the local
 * client and the remote one (the server's positions) mark each history; over another `DurableClient`, whose
 * `history$` has no marks, the events of every history are collected.
 *
 * @example
 * ```ts
 * currentHistory$(client, id).subscribe((events) => {
 *   done.textContent = String(events.filter((e) => e.type === 'TaskCompleted').length); // once each, after a rewind too
 * });
 * ```
 */
export function currentHistory$(client: DurableClient, instanceId: string): Observable<readonly HistoryEvent[]> {
  const source = markedHistory$(client, instanceId);
  // One new array per batch, not per event: the values that arrive together (one store read, one chunk of the event
  // stream: a run of synchronous emissions) are applied at once in a microtask, so a history of n events loaded at
  // once is one array (one render) rather than n growing copies (O(n²) copying). An end, or an error, applies what
  // is pending first. (rxjs has no operator for "arrived together" short of a scheduler: debounceTime on asapScheduler
  // with buffer and share, more code than this.)
  return new Observable((subscriber) => {
    let events: readonly HistoryEvent[] = [];
    /** Whether a value was given: the first one is given even when empty, as it says the history is known. */
    let given = false;
    /** The values that arrived together; `null` (no `type`, as a position) empties the history: a purge. */
    let batch: (HistoryEvent | HistoryPosition | null)[] | undefined;
    const flush = (): void => {
      if (!batch || subscriber.closed) return;
      const values = batch;
      batch = undefined;
      // A position begins a new history and a purge (`null`) empties it: the events after a batch's last such value
      // are the current history on their own (the one it replaces is not copied); without one the batch's events
      // extend it, in a new array (the batch itself when there is nothing to extend: it is not touched again).
      const start = values.findLastIndex((value) => !value || isHistoryPosition(value)) + 1;
      const fresh = (start ? values.slice(start) : values) as HistoryEvent[];
      // Nothing new: a history that begins, or a purge, while the one given is empty leaves it as it was. A new empty
      // array would be one more render of the same thing.
      if (given && !fresh.length && !events.length) return;
      given = true;
      subscriber.next(events = start || !events.length ? fresh : events.concat(fresh));
    };
    const add = (value: HistoryEvent | HistoryPosition | null): void => {
      if (!batch) {
        batch = [];
        queueMicrotask(flush);
      }
      batch.push(value);
    };
    const error = (reason: unknown): void => {
      flush();
      subscriber.error(reason);
    };
    const subscription = source.subscribe({
      next: add,
      error,
      complete: () => {
        flush();
        subscriber.complete();
      },
    });
    // A purge deletes the history, which no history stream tells (it has no event for it, and the next instance of
    // the id begins with its own position): the instance's status does. An unknown instance has no history to empty.
    // A remote status$ that missed values while its connection was down (`startsOver`) is watched again: only the
    // current status matters here.
    let statusWatch: Subscription | undefined;
    const watchStatus = (): void => {
      if (statusWatch) subscription.remove(statusWatch); // the watch that ended, let go rather than kept per restart
      statusWatch = client.status$(instanceId).subscribe({
        next: (status) => {
          if (!status && (events.length || batch)) add(null);
        },
        error: (reason: unknown) => (startsOver(reason) ? watchStatus() : error(reason)),
      });
      subscription.add(statusWatch);
    };
    watchStatus();
    return subscription;
  });
}
