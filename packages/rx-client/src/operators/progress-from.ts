import { distinctUntilChanged, filter, map, type OperatorFunction } from 'rxjs';
import { sameJson } from '@durable-rx/runtime/client-kit';

/** Progress through a known sequence of custom status values. */
export interface Progress<T> {
  /** How many steps are done: the position of the current value in `steps`, plus one (0 before the first). */
  readonly completed: number;
  /** `steps.length`. */
  readonly total: number;
  /** `completed / total`, from 0 to 1. */
  readonly fraction: number;
  /** The step reached, `undefined` before the first. */
  readonly current: T | undefined;
}

/**
 * Turns a custom status stream into progress through the values an orchestrator is known to set in order, e.g. the
 * hello sequence's `'Tokyo'`, `'Seattle'`, `'London'`. Values are matched as JSON, so objects work too. No custom
 * status (`undefined`) is progress 0; values that are not steps are ignored.
 *
 * @example
 * ```ts
 * client.customStatus$(id).pipe(progressFrom(['Tokyo', 'Seattle', 'London']))
 *   .subscribe((p) => (bar.value = p.fraction)); // 0, 1/3, 2/3, 1
 * ```
 */
export function progressFrom<T>(steps: readonly T[]): OperatorFunction<unknown, Progress<T>> {
  const total = steps.length;
  return (source) =>
    source.pipe(
      // 0: no custom status yet; n: the n-th step; -1: not a step.
      map((value) => (value === undefined ? 0 : steps.findIndex((step) => sameJson(step, value)) + 1 || -1)),
      filter((completed) => completed >= 0),
      distinctUntilChanged(),
      map((completed): Progress<T> => ({
        completed,
        total,
        fraction: total === 0 ? 1 : completed / total,
        current: completed === 0 ? undefined : steps[completed - 1],
      })),
    );
}
