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
  /**
   * Whether the task settled and how ({@link COMPLETED} or {@link FAILED}, none while pending), and
   * {@link LAST_PARENT_ONLY}: bits of one field, where a state and a flag of their own cost a field more on every task
   * (a task waiting in a cached execution is kept).
   */
  #bits = 0;
  /** The result or the error, as `#bits` say: one field for both (a task waiting in a cached execution is kept). */
  #outcome: T | Error | undefined;
  /**
   * The composites waiting on this task (`Task.all`, `Task.any`, a retried call), told in the order they began to wait
   * when it settles: the one itself, or a Set of several (a task in two composites, e.g. `Task.any(calls)` then
   * `Task.all(calls)`: each must hear it settle). Not a Set for one: most tasks have one parent or none. A composite
   * removes itself when it settles first (a `Task.any` over one event per pass of a loop), and the task forgets them
   * all when it settles, so the list does not grow with the composites built over a task.
   */
  #parents: TaskParent | Set<TaskParent> | undefined;

  // No private methods in this class: a class with one gives each of its objects a field for it (8 B per task).

  /**
   * Without `ReplayFlag.CompositesNotifyEveryParent` (a history recorded before it): the last composite built
   * over the task replaces its parent, and only that one hears it settle, as the engine did then.
   * @internal
   */
  get lastParentOnly(): boolean {
    return (this.#bits & LAST_PARENT_ONLY) !== 0;
  }

  /** @internal */
  set lastParentOnly(value: boolean) {
    this.#bits = value ? this.#bits | LAST_PARENT_ONLY : this.#bits & ~LAST_PARENT_ONLY;
  }

  /** True once the task completed or failed. */
  get isSettled(): boolean {
    return (this.#bits & SETTLED) !== 0;
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
    return (this.#bits & SETTLED) !== 0;
  }
  /** True once the task failed. */
  get isFaulted(): boolean {
    return (this.#bits & FAILED) !== 0;
  }
  /** The result, once completed. */
  get result(): T | undefined {
    return (this.#bits & COMPLETED) !== 0 ? this.#outcome as T : undefined;
  }
  /** The error, once failed. */
  get error(): Error | undefined {
    return (this.#bits & FAILED) !== 0 ? this.#outcome as Error : undefined;
  }

  /**
   * Tells `parent` when this task settles (after every composite that began to wait before it). A composite adds itself
   * once per distinct child. See {@link lastParentOnly}.
   * @internal
   */
  addParent(parent: TaskParent): void {
    const parents = this.#parents;
    if (!parents || this.lastParentOnly) this.#parents = parent;
    else if (parents instanceof Set) parents.add(parent);
    else if (parents !== parent) this.#parents = new Set([parents, parent]);
  }

  /**
   * Stops telling `parent` (a composite that settled before this task did).
   * @internal
   */
  removeParent(parent: TaskParent): void {
    const parents = this.#parents;
    if (parents === parent) this.#parents = undefined;
    else if (parents instanceof Set) parents.delete(parent);
  }

  /**
   * True when `root` is this task or a composite that waits on it, at any depth: up through the composites still
   * waiting on it (a composite that settled no longer is one of its parents).
   * @internal
   */
  awaitedBy(root: DurableTask<unknown>): boolean {
    if (this === root) return true;
    const parents = this.#parents;
    if (parents instanceof Set) {
      for (const parent of parents) if (parent instanceof DurableTask && parent.awaitedBy(root)) return true;
      return false;
    }
    return parents instanceof DurableTask && parents.awaitedBy(root);
  }

  /** @internal */
  complete(result: T): void {
    this.settle(COMPLETED, result);
  }

  /** @internal */
  fail(error: Error): void {
    this.settle(FAILED, error);
  }

  /**
   * Settles the task once, as `how` says ({@link COMPLETED} or {@link FAILED}), and tells its parents. Settling it twice
   * throws.
   * @internal
   */
  settle(how: typeof COMPLETED | typeof FAILED, outcome: T | Error): void {
    if (this.#bits & SETTLED) throw new Error(`task already ${this.#bits & COMPLETED ? 'completed' : 'failed'}`);
    this.#bits |= how;
    this.#outcome = outcome;
    const parents = this.#parents;
    if (!parents) return;
    // Settled once: it tells them once and keeps none (one that settles meanwhile removes itself from nothing).
    this.#parents = undefined;
    if (!(parents instanceof Set)) return parents.onChildSettled(this);
    for (const parent of parents) parent.onChildSettled(this);
  }
}

/** {@link DurableTask}'s bits: completed, failed (either is settled), and its {@link DurableTask.lastParentOnly}. */
const COMPLETED = 1;
const FAILED = 2;
const SETTLED = COMPLETED | FAILED;
const LAST_PARENT_ONLY = 4;

/** True when `value` is a {@link DurableTask}. */
export function isDurableTask(value: unknown): value is DurableTask<unknown> {
  return value instanceof DurableTask;
}
