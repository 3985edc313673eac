import { DurableTask } from './durable-task.js';

/**
 * Completes with the first child task that settles (completed or failed): `yield Task.any([a, b])` evaluates to
 * the winning task itself, so the orchestrator can compare it and read its `result` or `error`.
 */
export class WhenAnyTask<T extends DurableTask<unknown>> extends DurableTask<T> {
  constructor(readonly children: readonly T[]) {
    super();
    if (children.length === 0) throw new TypeError('Task.any needs at least one task');
    const settled = children.find((c) => c.isSettled);
    if (settled) {
      this.complete(settled);
      return;
    }
    for (const child of new Set(children)) child.addParent(this);
  }

  /** @internal */
  onChildSettled(child: DurableTask<unknown>): void {
    if (!this.isSettled) this.complete(child as T);
  }
}
