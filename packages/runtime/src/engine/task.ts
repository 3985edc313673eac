import type { DurableTask } from './durable-task.js';
import { WhenAllTask } from './when-all-task.js';
import { WhenAnyTask } from './when-any-task.js';

/**
 * Combinators over durable tasks, also available as `ctx.Task`.
 *
 * @example
 * ```ts
 * const results = yield Task.all(cities.map((c) => ctx.callActivity('SayHello', c)));
 * const winner = yield Task.any([ctx.waitForExternalEvent('Approved'), timeout]);
 * ```
 */
export const Task = {
  /** Waits for all tasks; fails fast with the first failure. */
  all<T extends readonly DurableTask<unknown>[]>(tasks: readonly [...T]): WhenAllTask<T> {
    return new WhenAllTask(tasks as unknown as T);
  },
  /** Waits for the first task to settle and yields that task. */
  any<T extends DurableTask<unknown>>(tasks: readonly T[]): WhenAnyTask<T> {
    return new WhenAnyTask(tasks);
  },
} as const;
