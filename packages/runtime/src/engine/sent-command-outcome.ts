import { InstanceNotRunningError } from '../model/errors/instance-not-running-error.js';
import { isTerminalStatus, type InstanceState } from '../model/instance-status.js';

/** A command that a worker may apply after it was sent: one that leaves the instance in a status of its own. */
export type SentCommand = 'terminate' | 'suspend';

/**
 * Where a terminate or suspend sent when the instance was `before` stands, now that a committed state of it is `next`
 * (`undefined`: purged): `applied` once the instance shows it (Terminated; Suspended), or has left that execution (a
 * purge or a restart, {@link leftExecution}: the command is no longer this caller's to wait for); `waiting` while it is still
 * queued; an {@link InstanceNotRunningError} (410) when the instance ended otherwise first (it completed or failed, or a
 * suspend met a terminate): the command then reaches a terminal instance, which records it in its history and ignores
 * it, and the caller hears that, as when the instance was terminal before the call. The one rule of every client,
 * whatever the store, so the same race gives the same answer everywhere.
 *
 * @example
 * ```ts
 * sentCommandOutcome('terminate', running, { ...running, runtimeStatus: 'Completed' }); // InstanceNotRunningError
 * ```
 */
export function sentCommandOutcome(
  command: SentCommand, before: InstanceState, next: InstanceState | undefined,
): 'applied' | 'waiting' | InstanceNotRunningError {
  if (next === undefined || leftExecution(before, next) || next.runtimeStatus === (command === 'terminate' ? 'Terminated' : 'Suspended')) return 'applied';
  // The message a store's check of the command gives an instance terminal before it (planWriteSet).
  return isTerminalStatus(next.runtimeStatus)
    ? new InstanceNotRunningError(`Cannot ${command} instance ${JSON.stringify(next.instanceId)}: it is ${next.runtimeStatus}`)
    : 'waiting';
}

/**
 * Whether a command sent to an instance when it was `before` is no longer the caller's to wait for now that it is
 * `next` (`undefined`: purged): purged, or started over by a start of its id (a restart), which drops the messages the
 * earlier run had queued. Not so after a `continueAsNew` (`continuedAt` set): the commands queued for the execution
 * that continued reach the next one, ahead of its start, as in Durable Functions, so a terminate or suspend is applied
 * there and its call waits for that (a status read right after it resolves shows it).
 *
 * @example
 * ```ts
 * leftExecution(running, undefined); // true: purged
 * leftExecution(running, { ...running, executionId: 'next', continuedAt: '2026-01-01T00:00:00.000Z' }); // false
 * ```
 */
export function leftExecution(before: InstanceState, next: InstanceState | undefined): boolean {
  return next === undefined || (next.executionId !== before.executionId && next.continuedAt === undefined);
}
