import type { TaskRow } from './rows.js';

/**
 * The first of `tasks` in claim order, (readyMs, seq), among those ready at `nowMs` (default: all of them). An
 * instance's first task is what orders its claim-order entry, so the first entry leads to the oldest task of all.
 */
export function firstTask(tasks: readonly TaskRow[], nowMs = Infinity): TaskRow | undefined {
  let first: TaskRow | undefined;
  for (const t of tasks) {
    if (t.readyMs <= nowMs && (!first || t.readyMs < first.readyMs || (t.readyMs === first.readyMs && t.seq < first.seq))) first = t;
  }
  return first;
}
