/** Internal hook a composite task installs on its children. */
export interface TaskParent {
  onChildSettled(child: DurableTask<unknown>): void;
}

/**
 * Something an orchestrator can `yield`: an activity call, a timer, an external event, a sub-orchestration, or a
 * composite of those (`Task.all`, `Task.any`). Yielding a task suspends the orchestrator until the task settles; the
 * `yield` expression then evaluates to the task's result, or throws its error.
 *
 * A task settles exactly once: settling it twice is a bug in the engine and throws.
 */
export abstract class DurableTask<T = unknown> {
  #state: 'pending' | 'completed' | 'failed' = 'pending';
  /** The result or the error, as `#state` says: one field for both (a task waiting in a cached execution is kept). */
  #outcome: T | Error | undefined;
  /** @internal */
  parent: TaskParent | undefined;

  /** True once the task completed or failed. */
  get isSettled(): boolean {
    return this.#state !== 'pending';
  }
  /**
   * True once the task has completed, successfully or not (a failed task is completed and {@link isFaulted}), as a
   * Durable Functions `Task` is: completion is not success. The same as {@link isSettled}.
   *
   * @example
   * ```ts
   * const winner = yield ctx.Task.any([call, timeout]);
   * if (winner === call && !call.isFaulted) return call.result;
   * ```
   */
  get isCompleted(): boolean {
    return this.#state !== 'pending';
  }
  /** True once the task failed. */
  get isFaulted(): boolean {
    return this.#state === 'failed';
  }
  /** The result, once completed. */
  get result(): T | undefined {
    return this.#state === 'completed' ? this.#outcome as T : undefined;
  }
  /** The error, once failed. */
  get error(): Error | undefined {
    return this.#state === 'failed' ? this.#outcome as Error : undefined;
  }

  /** @internal */
  complete(result: T): void {
    this.#settle('completed');
    this.#outcome = result;
    this.parent?.onChildSettled(this);
  }

  /** @internal */
  fail(error: Error): void {
    this.#settle('failed');
    this.#outcome = error;
    this.parent?.onChildSettled(this);
  }

  #settle(state: 'completed' | 'failed'): void {
    if (this.#state !== 'pending') throw new Error(`task already ${this.#state}`);
    this.#state = state;
  }
}

/** True when `value` is a {@link DurableTask}. */
export function isDurableTask(value: unknown): value is DurableTask<unknown> {
  return value instanceof DurableTask;
}
