import { InstanceNotRunningError } from '../model/errors/instance-not-running-error.js';
import { isTerminalStatus, type InstanceState } from '../model/instance-status.js';

/** A command that a worker may apply after it was sent: one that leaves the instance in a status of its own. */
export type SentCommand = 'terminate' | 'suspend';

/**
 * Where a terminate or suspend sent when the instance was `before` stands, now that a committed state of it is `next`
 * (`undefined`: purged): `applied` once the instance shows it (Terminated; Suspended), or has left that execution (a
 * purge, a restart or a continueAsNew: the command is no longer this caller's to wait for); `waiting` while it is still
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
  if (!next || next.executionId !== before.executionId || next.runtimeStatus === (command === 'terminate' ? 'Terminated' : 'Suspended')) return 'applied';
  // The message a store's check of the command gives an instance terminal before it (planWriteSet).
  return isTerminalStatus(next.runtimeStatus)
    ? new InstanceNotRunningError(`Cannot ${command} instance ${JSON.stringify(next.instanceId)}: it is ${next.runtimeStatus}`)
    : 'waiting';
}
