import type { HistoryEvent } from '@durable-rx/runtime';

/**
 * Drops the events a history stream sends again after the server could not resume it.
 *
 * A resumed stream continues exactly after `Last-Event-ID`. When the server starts a new session instead (it
 * restarted, or the resume window passed), it replays the current execution's history from its first event. An
 * execution's history is append-only and starts with `OrchestratorStarted`, `ExecutionStarted` (whose
 * `executionId` names it), so the filter remembers which execution it is in and how many of its events it has
 * delivered; in a new session it recognises the replayed execution by its `ExecutionStarted` and skips that many
 * events. A different `executionId` means a new execution (`continueAsNew`, a restart): everything is delivered.
 *
 * @example
 * ```ts
 * const filter = new HistoryReplayFilter();
 * const deliver = filter.accept(event, session); // HistoryEvent[] to emit, often [event] or []
 * ```
 */
export class HistoryReplayFilter {
  #session: string | undefined;
  #executionId: string | undefined;
  #count = 0;
  #previous: HistoryEvent | undefined;
  /** While checking a replay: the events gathered so far. */
  #gathered: HistoryEvent[] | undefined;
  /** While checking a replay: the execution it may replay. */
  #replayOf: string | undefined;
  /**
   * While checking a replay: how many events of its execution were delivered before; after: how many events of a
   * recognised replay are still to drop.
   */
  #skip = 0;

  /** Takes the next event of the stream (and the session it came in) and returns the events to deliver. */
  accept(event: HistoryEvent, session: string | undefined): HistoryEvent[] {
    if (session !== this.#session) {
      if (this.#session !== undefined && this.#count > 0) {
        this.#gathered = [];
        this.#replayOf = this.#executionId;
        this.#skip = this.#count;
      }
      this.#session = session;
    }
    const gathered = this.#gathered;
    if (!gathered) {
      if (this.#skip === 0) return [this.#deliver(event)];
      this.#skip--;
      return [];
    }
    gathered.push(event);
    const started = event.type === 'ExecutionStarted';
    if (!started && gathered.length < 2) return [];
    this.#gathered = undefined;
    // A different execution (continueAsNew, a restart) is new: all of it is delivered.
    const delivered = started && this.#replayOf !== undefined && event.executionId !== this.#replayOf ? 0 : this.#skip;
    this.#skip = Math.max(0, delivered - gathered.length);
    return gathered.slice(delivered).map((e) => this.#deliver(e));
  }

  #deliver(event: HistoryEvent): HistoryEvent {
    if (event.type === 'ExecutionStarted' && event.executionId !== this.#executionId) {
      this.#executionId = event.executionId;
      this.#count = this.#previous?.type === 'OrchestratorStarted' ? 2 : 1;
    } else {
      this.#count++;
    }
    this.#previous = event;
    return event;
  }
}
