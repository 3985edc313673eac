import type { OrchestrationError } from '../model/errors/orchestration-error.js';

/**
 * The runs whose `ctx` was used outside the orchestrator's run (from a callback, after an `await`), each with the
 * error its instance's next step fails it with: one mark per instance, naming the run. A run is an execution
 * (`executionId`) at one history epoch (`InstanceState.historyEpoch`, which a rewind bumps and nothing else changes
 * within an execution): every execution object of one run, cached or replayed for a later step, carries that pair,
 * and none made before a rewind carries the epoch after it. So a late callback of an execution object from before a
 * rewind marks a run that is over, and the rewound run's steps take nothing of it.
 *
 * A worker keeps one for every execution it runs (`ExecutionOptions.misuseMarks`), not each execution object for
 * itself: the worker's cache may drop an execution (evicted, or never kept with `cacheSize: 0`) before that step,
 * which then replays a fresh one; a mark kept on the dropped object went with it, and the instance went on (or
 * completed) instead of failing. `onMark` hears of each new mark (the worker records it durably: see `Worker`).
 *
 * Bounded: marks that no step takes (the instance was stepped by another worker, or ended by a client) give way to
 * newer ones beyond {@link MisuseMarks.capacity}, oldest first.
 *
 * @example
 * ```ts
 * const marks = new MisuseMarks();
 * marks.mark('order-1', 'execution-1', 0, new OrchestrationError('ctx used outside the run'));
 * marks.take('order-1', 'execution-1', 0); // the error, and the mark is gone
 * ```
 */
export class MisuseMarks {
  /** The marked run of each instance and its error, oldest mark first. */
  readonly #marks = new Map<string, MisuseMark>();

  constructor(readonly capacity = 10_000, readonly onMark?: (mark: MisuseMark) => void) {}

  /**
   * Marks run `historyEpoch` of execution `executionId` of `instanceId`; a mark of that run already there (the first
   * misuse) stays.
   */
  mark(instanceId: string, executionId: string, historyEpoch: number, error: OrchestrationError): void {
    const marked = this.#marks.get(instanceId);
    if (marked?.executionId === executionId && marked.historyEpoch === historyEpoch) return;
    this.#marks.delete(instanceId);
    const mark: MisuseMark = { instanceId, executionId, historyEpoch, error };
    this.#marks.set(instanceId, mark);
    if (this.#marks.size > this.capacity) this.#marks.delete(this.#marks.keys().next().value!);
    this.onMark?.(mark);
  }

  /**
   * The error run `historyEpoch` of execution `executionId` of `instanceId` is marked with, if it is. Takes the
   * instance's mark whichever run it names: one of a run that ended (another execution, or one before a rewind) is of
   * no use any more.
   */
  take(instanceId: string, executionId: string, historyEpoch: number): OrchestrationError | undefined {
    const marked = this.#marks.get(instanceId);
    if (!marked) return undefined;
    this.#marks.delete(instanceId);
    return marked.executionId === executionId && marked.historyEpoch === historyEpoch ? marked.error : undefined;
  }

  /** How many instances are marked. */
  get size(): number {
    return this.#marks.size;
  }
}

/** One mark of {@link MisuseMarks}: the run whose `ctx` was used outside it, and the error its next step fails it with. */
export interface MisuseMark {
  readonly instanceId: string;
  readonly executionId: string;
  /** The run's `InstanceState.historyEpoch` (0 when absent). */
  readonly historyEpoch: number;
  readonly error: OrchestrationError;
}
