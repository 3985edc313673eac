import { DurableTask } from './durable-task.js';

/** Result tuple of {@link WhenAllTask}: the results of the child tasks, in order. */
export type TaskResults<T extends readonly DurableTask<unknown>[]> = {
  -readonly [K in keyof T]: T[K] extends DurableTask<infer R> ? R : never;
};

/**
 * Completes with every child's result (in order) once all completed; fails as soon as one child fails, with that
 * child's error (fail-fast, like `Promise.all` and Durable Functions' `Task.all`).
 */
export class WhenAllTask<T extends readonly DurableTask<unknown>[]> extends DurableTask<TaskResults<T>> {
  constructor(readonly children: T) {
    super();
    for (const child of children) child.parent = this;
    this.#check();
  }

  /** @internal */
  onChildSettled(): void {
    this.#check();
  }

  #check(): void {
    if (this.isSettled) return;
    const failed = this.children.find((c) => c.isFaulted);
    if (failed) return this.fail(failed.error ?? new Error('task failed'));
    if (this.children.every((c) => c.isSettled)) {
      this.complete(this.children.map((c) => c.result) as TaskResults<T>);
    }
  }
}
