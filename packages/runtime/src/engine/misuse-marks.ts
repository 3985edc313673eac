import type { OrchestrationError } from '../model/errors/orchestration-error.js';

/**
 * The executions whose `ctx` was used outside the orchestrator's run (from a callback, after an `await`), each with
 * the error its instance's next step fails it with: one mark per instance, naming the execution. A worker keeps one for
 * every execution it runs (`ExecutionOptions.misuseMarks`), not each execution object for itself: the worker's cache
 * may drop an execution (evicted, or never kept with `cacheSize: 0`) before that step, which then replays a fresh one;
 * a mark kept on the dropped object went with it, and the instance went on (or completed) instead of failing.
 *
 * Bounded: marks that no step takes (the instance was stepped by another worker, or ended by a client) give way to
 * newer ones beyond {@link MisuseMarks.capacity}, oldest first.
 *
 * @example
 * ```ts
 * const marks = new MisuseMarks();
 * marks.mark('order-1', 'execution-1', new OrchestrationError('ctx used outside the run'));
 * marks.take('order-1', 'execution-1'); // the error, and the mark is gone
 * ```
 */
export class MisuseMarks {
  /** The marked execution of each instance and its error, oldest mark first. */
  readonly #marks = new Map<string, { readonly executionId: string; readonly error: OrchestrationError }>();

  constructor(readonly capacity = 10_000) {}

  /** Marks execution `executionId` of `instanceId`; a mark of that execution already there (the first misuse) stays. */
  mark(instanceId: string, executionId: string, error: OrchestrationError): void {
    if (this.#marks.get(instanceId)?.executionId === executionId) return;
    this.#marks.delete(instanceId);
    this.#marks.set(instanceId, { executionId, error });
    if (this.#marks.size > this.capacity) this.#marks.delete(this.#marks.keys().next().value!);
  }

  /**
   * The error execution `executionId` of `instanceId` is marked with, if it is. Takes the instance's mark whichever
   * execution it names: one of an execution that ended is of no use any more.
   */
  take(instanceId: string, executionId: string): OrchestrationError | undefined {
    const marked = this.#marks.get(instanceId);
    if (!marked) return undefined;
    this.#marks.delete(instanceId);
    return marked.executionId === executionId ? marked.error : undefined;
  }

  /** How many instances are marked. */
  get size(): number {
    return this.#marks.size;
  }
}
