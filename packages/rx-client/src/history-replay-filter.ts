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
  /** While checking a replay: the events gathered so far and how many were delivered before. */
  #replay: { gathered: HistoryEvent[]; delivered: number; executionId: string | undefined } | undefined;
  /** Events of a recognised replay still to drop. */
  #skip = 0;

  /** Takes the next event of the stream (and the session it came in) and returns the events to deliver. */
  accept(event: HistoryEvent, session: string | undefined): HistoryEvent[] {
    if (session !== this.#session) {
      if (this.#session !== undefined && this.#count > 0) {
        this.#replay = { gathered: [], delivered: this.#count, executionId: this.#executionId };
        this.#skip = 0;
      }
      this.#session = session;
    }
    if (this.#skip > 0) {
      this.#skip--;
      return [];
    }
    const replay = this.#replay;
    if (!replay) return [this.#deliver(event)];
    replay.gathered.push(event);
    if (event.type !== 'ExecutionStarted' && replay.gathered.length < 2) return [];
    this.#replay = undefined;
    const sameExecution =
      event.type === 'ExecutionStarted' ? replay.executionId === undefined || event.executionId === replay.executionId : true;
    if (!sameExecution) return replay.gathered.map((e) => this.#deliver(e));
    this.#skip = Math.max(0, replay.delivered - replay.gathered.length);
    return replay.gathered.slice(replay.delivered).map((e) => this.#deliver(e));
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
