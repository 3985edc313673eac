import { isTerminalStatus, type InstanceStatus } from '@durable-rx/runtime';
import { takeWhile, type MonoTypeOperatorFunction } from 'rxjs';

/**
 * Completes a status stream once the instance is terminal (Completed, Failed or Terminated), after emitting that
 * final status. `status$` itself never completes (a terminal instance may be started again); a progress view that
 * should stop listening when the work is done pipes it through `untilTerminal()`.
 *
 * @example
 * ```ts
 * const final = await lastValueFrom(client.status$(id).pipe(untilTerminal()));
 * final?.runtimeStatus; // 'Completed'
 * ```
 */
export function untilTerminal<T extends InstanceStatus | undefined>(): MonoTypeOperatorFunction<T> {
  return takeWhile<T>((status) => status === undefined || !isTerminalStatus(status.runtimeStatus), true);
}
