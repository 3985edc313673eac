import type { HistoryEvent } from '@durable-rx/runtime';
import type { WatchedValue } from './stream-mux.js';

/**
 * Drops the events a history stream sends again after the server could not resume it.
 *
 * A resumed stream continues exactly after `Last-Event-ID`. When the server starts a new session instead (it
 * restarted, or the resume window passed), it replays the current execution's history from its first event. An
 * execution's history is append-only and its first step (from `OrchestratorStarted` to the first
 * `OrchestratorCompleted`) holds its `ExecutionStarted`, whose `executionId` names it, after the suspends and resumes
 * of an execution suspended before it started. So the filter remembers which execution it is in and how many of its
 * events it has delivered (counted from the `OrchestratorStarted` of the step of its `ExecutionStarted`); in a new
 * session it gathers the replayed events up to that `ExecutionStarted` (or the first step's end, for a history
 * without one), recognises the replayed execution by it and skips that many events. A different `executionId` means a
 * new execution (`continueAsNew`, a restart): everything is delivered.
 *
 * A function rather than a class: its state is closure variables, which a minifier shortens, and what it returns is
 * the stream mux's `WatchedValue` as it is. The mux hands it each value as parsed JSON (`unknown`); the filter takes it
 * for the `HistoryEvent` the server sent from the instance's history, unchecked: the one place this package takes a
 * history event from the wire.
 *
 * @param next told of each event to deliver, in order
 * @returns what takes the next value of the stream (and the session it came in)
 *
 * @example
 * ```ts
 * const accept = historyReplayFilter((event) => subscriber.next(event));
 * accept(event, session); // tells `next` of the events to deliver: often `event`, or none
 * ```
 */
export function historyReplayFilter(next: (event: HistoryEvent) => void): WatchedValue {
  let current: string | undefined;
  let executionId: string | undefined;
  let count = 0;
  /** Events delivered since the last `OrchestratorStarted`, that one included. */
  let step = 0;
  /** While checking a replay: the events gathered so far. */
  let gathered: HistoryEvent[] | undefined;
  /** While checking a replay: the execution it may replay. */
  let replayOf: string | undefined;
  /**
   * While checking a replay: how many events of its execution were delivered before; after: how many events of a
   * recognised replay are still to drop.
   */
  let skip = 0;
  const deliver = (event: HistoryEvent): void => {
    step = event.type === 'OrchestratorStarted' ? 1 : step + 1;
    if (event.type === 'ExecutionStarted' && event.executionId !== executionId) {
      executionId = event.executionId;
      // A new execution: its history began at this step's OrchestratorStarted (suspends and resumes may come before
      // its start).
      count = step;
    } else {
      count++;
    }
    next(event);
  };
  return (data, session) => {
    const event = data as HistoryEvent;
    if (session !== current) {
      if (current !== undefined && count) {
        gathered = [];
        replayOf = executionId;
        skip = count;
      }
      current = session;
    }
    if (!gathered) {
      if (skip) skip--;
      else deliver(event);
      return;
    }
    gathered.push(event);
    const started = event.type === 'ExecutionStarted';
    // Up to the start, or the end of the first step (a history without a start: one terminated before it ran).
    if (!started && event.type !== 'OrchestratorCompleted') return;
    const gathering = gathered;
    gathered = undefined;
    // A different execution (continueAsNew, a restart) is new: all of it is delivered.
    const delivered = started && replayOf !== undefined && event.executionId !== replayOf ? 0 : skip;
    skip = Math.max(0, delivered - gathering.length);
    gathering.slice(delivered).forEach(deliver);
  };
}
