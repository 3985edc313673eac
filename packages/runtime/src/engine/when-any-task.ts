import { DurableTask } from './durable-task.js';

/**
 * What `Task.any(tasks)` returns. Completes with the first child task that settles (completed or failed): `yield Task.any([a, b])` evaluates to
 * the winning task itself, so the orchestrator can compare it and read its `result` or `error`. `Task.any` checks the
 * children (at least one, every one a task).
 */
export class WhenAnyTask<T extends DurableTask<unknown>> extends DurableTask<T> {
  constructor(readonly children: readonly T[]) {
    super();
    if (children.some((c) => c.lastParentOnly)) {
      // A history recorded before ReplayFlag.CompositesNotifyEveryParent: as the engine did then, it becomes the one
      // parent of every child, settled or not (the composite built before over a child no longer hears it).
      this.lastParentOnly = true;
      for (const child of children) child.addParent(this);
    }
    const settled = children.find((c) => c.isSettled);
    if (settled) {
      this.complete(settled);
      return;
    }
    if (!this.lastParentOnly) for (const child of new Set(children)) child.addParent(this);
  }

  /** @internal */
  onChildSettled(child: DurableTask<unknown>): void {
    if (this.isSettled) return;
    // Those still pending forget it: a Task.any built once per pass of a loop over one event would pile up on it.
    if (!this.lastParentOnly) for (const c of this.children) if (!c.isSettled) c.removeParent(this);
    this.complete(child as T);
  }
}
