import { invalid } from '../model/validation.js';
import { isDurableTask, type DurableTask } from './durable-task.js';
import { WhenAllTask } from './when-all-task.js';
import { WhenAnyTask } from './when-any-task.js';

/**
 * Combinators over durable tasks, also available as `ctx.Task`. Each takes an array of tasks (what `ctx.callActivity`,
 * `ctx.createTimer`, ... return, or another combinator's): anything else throws `InvalidArgumentError` at the call.
 *
 * @example
 * ```ts
 * const results = yield Task.all(cities.map((c) => ctx.callActivity('SayHello', c)));
 * const winner = yield Task.any([ctx.waitForExternalEvent('Approved'), timeout]);
 * ```
 */
export const Task = {
  /**
   * Waits for all tasks; fails fast with the first failure. Anything but an array of tasks throws
   * `InvalidArgumentError` at the call, even beside a task that has already settled (which once decided the result).
   */
  all<T extends readonly DurableTask<unknown>[]>(tasks: readonly [...T]): WhenAllTask<T> {
    assertTasks(tasks, 'Task.all');
    return new WhenAllTask(tasks as unknown as T);
  },
  /**
   * Waits for the first task to settle and yields that task. Needs at least one task; anything but an array of tasks
   * throws `InvalidArgumentError` at the call (an empty array once threw a `TypeError`).
   */
  any<T extends DurableTask<unknown>>(tasks: readonly T[]): WhenAnyTask<T> {
    assertTasks(tasks, 'Task.any');
    if (tasks.length === 0) invalid('Task.any', 'needs at least one task');
    return new WhenAnyTask(tasks);
  },
} as const;

/**
 * Throws `InvalidArgumentError` unless `tasks` is an array of durable tasks, before a combinator touches any of them
 * (a number in the array, or one task not in an array, failed on a member it lacks, with a `TypeError` that named
 * none of this).
 */
function assertTasks(tasks: unknown, combinator: string): void {
  if (!Array.isArray(tasks)) invalid(combinator, 'needs an array of tasks');
  for (let i = 0; i < tasks.length; i++) if (!isDurableTask(tasks[i])) invalid(`${combinator} element ${i}`, 'is no task');
}
