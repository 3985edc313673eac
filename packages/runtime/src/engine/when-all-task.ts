import { DurableTask } from './durable-task.js';

/** Result tuple of {@link WhenAllTask}: the results of the child tasks, in order. */
export type TaskResults<T extends readonly DurableTask<unknown>[]> = {
  -readonly [K in keyof T]: T[K] extends DurableTask<infer R> ? R : never;
};

/**
 * What `Task.all(tasks)` returns: `yield` it for the results of `tasks`, in order ({@link TaskResults}).
 * Completes with every child's result (in order) once all completed; fails as soon as one child fails, with that
 * child's error (fail-fast, like `Promise.all` and Durable Functions' `Task.all`). A child listed twice counts once.
 *
 * A child's settling costs O(1): the task counts the distinct children still pending instead of looking at every
 * child each time one settles (that was O(N²) for a fan-in of N, seconds of blocked event loop at tens of thousands).
 */
export class WhenAllTask<T extends readonly DurableTask<unknown>[]> extends DurableTask<TaskResults<T>> {
  /** Distinct children not settled yet. */
  #pending = 0;

  constructor(readonly children: T) {
    super();
    if (children.some((c) => c.lastParentOnly)) {
      // A history recorded before ReplayFlag.CompositesNotifyEveryParent: as the engine did then, it becomes the one
      // parent of every child and looks at every child each time one it hears of settles (it may not hear them all).
      this.lastParentOnly = true;
      for (const child of children) child.addParent(this);
      this.#checkAll();
      return;
    }
    // Already failed: the first such child in order fails it, as when it looked at every child.
    const failed = children.find((c) => c.isFaulted);
    if (failed) {
      this.fail(failed.error!);
      return;
    }
    for (const child of new Set<DurableTask<unknown>>(children)) {
      if (child.isSettled) continue;
      this.#pending++;
      child.addParent(this);
    }
    if (this.#pending === 0) this.#completeAll();
  }

  /** @internal */
  onChildSettled(child: DurableTask<unknown>): void {
    if (this.isSettled) return; // failed already; a late child changes nothing
    if (this.lastParentOnly) return this.#checkAll();
    if (child.isFaulted) {
      // Those still pending forget it (they may be in a composite built later, e.g. once per pass of a loop).
      for (const c of this.children) if (!c.isSettled) c.removeParent(this);
      return this.fail(child.error!);
    }
    if (--this.#pending === 0) this.#completeAll();
  }

  #completeAll(): void {
    this.complete(this.children.map((c) => c.result) as TaskResults<T>);
  }

  /** The engine's check before ReplayFlag.CompositesNotifyEveryParent: the first failed child in order, else all done. */
  #checkAll(): void {
    if (this.isSettled) return;
    const failed = this.children.find((c) => c.isFaulted);
    if (failed) return this.fail(failed.error!);
    if (this.children.every((c) => c.isSettled)) this.#completeAll();
  }
}
