import { InstanceNotRunningError } from '../model/errors/instance-not-running-error.js';
import {
  isExecutionEnd, type ExecutionResumedEvent, type ExecutionSuspendedEvent, type ExecutionTerminatedEvent, type HistoryEvent,
} from '../model/history-event.js';
import { historyIdOf } from '../model/history-position.js';
import { continuedCommands, heldCommands } from './apply-event.js';
import { isTerminalStatus, type InstanceState } from '../model/instance-status.js';
import { sameJson } from '../model/same-json.js';

/** A command that a worker may apply after it was sent: one that leaves the instance in a status of its own. */
export type SentCommand = 'terminate' | 'suspend' | 'resume';

/**
 * Where a terminate, suspend or resume sent when the instance was `before` stands, now that a committed state of it is
 * `next` (`undefined`: purged): `applied` once the instance shows it (Terminated with its reason, when `sent` names the
 * terminate; Suspended; no longer Suspended), or has left that execution (a
 * purge or a restart, {@link leftExecution}: the command is no longer this caller's to wait for); `waiting` while it is still
 * queued; an {@link InstanceNotRunningError} (410) when the instance ended otherwise first (it completed or failed, a
 * suspend met a terminate, or another terminate ended it with another reason): the command then reaches a terminal instance, which records it in its history and ignores
 * it, and the caller hears that, as when the instance was terminal before the call. The one rule of every client,
 * whatever the store, so the same race gives the same answer everywhere.
 *
 * A suspend the instance does not show Suspended may still have been applied: the step that ended it took the suspend
 * first and then a terminate queued behind it (Suspended, then Terminated, in one commit), or a resume (Suspended, then
 * Running again). So may a resume the instance still shows Suspended: the step took it and then a suspend queued behind
 * it (Running, then Suspended again). Its answer is then in the events recorded since it was sent: with no events in
 * `sent`, {@link SentCommandRead} says where they start (`readFrom`, in the history `next` shows); asked again with them
 * (`sent`: the command's own event and those events, as `next` counts them), the suspend is `applied` when it was
 * recorded before the execution ended ({@link appliedBeforeEnd}), and 410 (ended) or `waiting` otherwise (a resume,
 * applied once the instance ended, only `waiting`). A terminate with a reason that the instance shows Terminated without
 * one asks for that read too: another terminate without a reason ended it first (410), or this one did, recorded
 * without its reason (a step whose record the store refused, bounded: known by its type and time, `applied`; with no
 * end recorded since, a step the store took no record of ended it, by the first terminate it took: `applied` too).
 * A suspend or resume asks for the read only for a state with events
 * recorded since it was sent: a tail of the history, once per step committed while it waits (usually one: the step it
 * was queued behind). A step that continues the instance as new records nothing of the next execution: the commands
 * it took after the continueAsNew are held in the state until that execution starts (`heldCommands`), and those it
 * applied before it (a suspend undone by a resume, then the code ran on) are kept beside them (`continuedCommands`):
 * the command's own event (`sent`, with no events) is looked for the same way in both: a resume sent to a Suspended
 * execution that has since continued as new is `applied` when that step applied it, not because the execution changed
 * (another caller's resume queued behind a suspend may still wait for the next execution).
 *
 * @example
 * ```ts
 * sentCommandOutcome('terminate', running, { ...running, runtimeStatus: 'Completed' }); // InstanceNotRunningError
 * sentCommandOutcome('suspend', running, terminated);                                   // { readFrom: running.historyLength }
 * sentCommandOutcome('suspend', running, terminated, { event, events });                // 'applied' if `event` came before the end
 * sentCommandOutcome('suspend', running, continued, { event });                        // 'applied' if the next execution holds `event`
 * ```
 */
export function sentCommandOutcome(
  command: SentCommand, before: InstanceState, next: InstanceState | undefined, sent?: SentRecord,
): 'applied' | 'waiting' | SentCommandRead | InstanceNotRunningError {
  if (next === undefined || leftExecution(before, next)) return 'applied';
  if (shows(command, next)) {
    if (sent?.event.type !== 'ExecutionTerminated' || sameJson(next.output, sent.event.reason)) return 'applied';
    // Terminated with another reason: another terminate (queued before it, a parent's recursive one) ended the
    // instance first, and this one reached it terminated, as a direct commit finds it (410). With none, that may be
    // this one's record without its reason (a step whose record the store refused, bounded): the events recorded
    // since tell, as for a suspend. With no end among them, only a step the store took no record of ended it (in its
    // state alone), by the first terminate it took: this one, as far as anything shows.
    if (next.output === undefined) {
      const readFrom = readStart(before, next);
      if (!sent.events && next.historyLength > readFrom) return { readFrom };
      if (!sent.events?.some(isExecutionEnd) || appliedBeforeEnd(sent.event, sent.events)) return 'applied';
    }
    return notRunning(command, next);
  }
  if (command !== 'terminate') {
    // Held in the state by an execution not started yet (the step that continued the instance as new took it after its
    // continueAsNew), or applied by that step before it (in the history it replaced, kept in the state beside them).
    if (sent && (appliedBeforeEnd(sent.event, heldCommands(next)) || appliedBeforeEnd(sent.event, continuedCommands(next)))) return 'applied';
    const readFrom = readStart(before, next);
    if (next.historyLength > readFrom) {
      if (sent?.events === undefined) return { readFrom };
      if (appliedBeforeEnd(sent.event, sent.events)) return 'applied';
    }
  }
  return isTerminalStatus(next.runtimeStatus) ? notRunning(command, next) : 'waiting';
}

/**
 * Whether a suspend or resume (`command`) that the instance's status reflects already still waits to be shown: the
 * store refused the client's own commit of it while a worker's claim holds the instance, and the last suspend or resume
 * that claim took (`claimed`, `LeaseLostError.claimedCommand`) is the opposite one. That step commits it first (a
 * suspend queued ahead of this resume: Suspended), so the call waits, bounded, until a committed status shows the
 * command again; one the claim did not take is still queued ahead of it, and both reach the instance in order with
 * nothing in between to show.
 *
 * @example
 * ```ts
 * waitsForClaimedStep('resume', 'suspend'); // true: the step in flight commits Suspended first
 * waitsForClaimedStep('resume', undefined); // false: the suspend is queued, not taken
 * ```
 */
export function waitsForClaimedStep(command: string, claimed: 'suspend' | 'resume' | undefined): boolean {
  return (command === 'resume' && claimed === 'suspend') || (command === 'suspend' && claimed === 'resume');
}

/**
 * Where the events recorded since the command was sent begin in `next`'s history: a later execution's (a
 * continueAsNew's, which the command reached) at its start.
 */
function readStart(before: InstanceState, next: InstanceState): number {
  return historyIdOf(next) === historyIdOf(before) ? before.historyLength : 0;
}

/** The message a store's check of the command gives an instance terminal before it (planWriteSet). */
function notRunning(command: SentCommand, next: InstanceState): InstanceNotRunningError {
  return new InstanceNotRunningError(`Cannot ${command} instance ${JSON.stringify(next.instanceId)}: it is ${next.runtimeStatus}`);
}

/** Whether `state` shows `command` applied: Terminated, Suspended, or (a resume) no longer Suspended. */
function shows(command: SentCommand, state: InstanceState): boolean {
  return command === 'terminate' ? state.runtimeStatus === 'Terminated'
    : command === 'suspend' ? state.runtimeStatus === 'Suspended'
      : state.runtimeStatus !== 'Suspended';
}

/** What {@link sentCommandOutcome} needs to answer a suspend or resume its instance does not show: the history from `readFrom` on. */
export interface SentCommandRead {
  /** The index of the first event to read, in the history of the state asked about. */
  readonly readFrom: number;
}

/** A sent command's own event and, once read, the history events recorded since it was sent ({@link SentCommandRead}). */
export interface SentRecord {
  /** A terminate's is known by its reason alone: the one the instance ended with ({@link sentCommandOutcome}). */
  readonly event: ExecutionSuspendedEvent | ExecutionResumedEvent | ExecutionTerminatedEvent;
  /** Absent: not read yet (the answer may then be a {@link SentCommandRead}). */
  readonly events?: readonly HistoryEvent[];
}

/**
 * Whether `event`, a suspend or resume a client sent, is among `events` (history events in order) before the first that ends the
 * execution ({@link isExecutionEnd}): applied there, not recorded and ignored after the end. A command is known by its
 * type, time and reason (a record without its payload, `payloadRefused`, by type and time), as a held suspend is
 * (`heldCommands`): two calls in the same millisecond with the same reason are one to it.
 *
 * @example
 * ```ts
 * appliedBeforeEnd(suspend, [suspend, terminated]); // true
 * appliedBeforeEnd(suspend, [terminated, suspend]); // false
 * ```
 */
export function appliedBeforeEnd(event: SentRecord['event'], events: readonly HistoryEvent[]): boolean {
  for (const recorded of events) {
    if (recorded.type === event.type && recorded.timestamp === event.timestamp &&
      (recorded.payloadRefused !== undefined || sameJson(recorded.reason, event.reason))) return true;
    if (isExecutionEnd(recorded)) return false;
  }
  return false;
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
