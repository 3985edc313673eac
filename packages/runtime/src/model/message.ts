import type { InstanceState } from './instance-status.js';
import type {
  EventRaisedEvent, ExecutionCancelRequestedEvent, ExecutionResumedEvent, ExecutionRewoundEvent, ExecutionStartedEvent, ExecutionSuspendedEvent,
  ExecutionTerminatedEvent, SubOrchestrationInstanceCompletedEvent, SubOrchestrationInstanceFailedEvent,
  TaskCompletedEvent, TaskFailedEvent, TimerFiredEvent,
} from './history-event.js';

/** The history events that can travel as a message to an instance. */
export type MessageEvent =
  | ExecutionStartedEvent
  | EventRaisedEvent
  | ExecutionTerminatedEvent
  | ExecutionCancelRequestedEvent
  | ExecutionSuspendedEvent
  | ExecutionResumedEvent
  | ExecutionRewoundEvent
  | TaskCompletedEvent
  | TaskFailedEvent
  | TimerFiredEvent
  | SubOrchestrationInstanceCompletedEvent
  | SubOrchestrationInstanceFailedEvent;

/**
 * A message to an orchestration instance. The worker appends its event to the instance's history when it consumes it.
 * Stores keep messages of one instance in arrival order and hand out only those whose `visibleAt` has passed.
 */
export interface OrchestrationMessage {
  /** Unique id (UUID). */
  readonly id: string;
  readonly instanceId: string;
  /**
   * The execution the message is meant for. Results of activities, timers and sub-orchestrations carry it so that a
   * result from an execution that was replaced (`continueAsNew`, a restart) is discarded. Absent: any execution.
   */
  readonly executionId?: string;
  readonly event: MessageEvent;
  /** Not handed to workers before this time (durable timers, retry delays). Absent: at once. */
  readonly visibleAt?: Date;
}

/** An activity invocation waiting for (or claimed by) a worker. */
export interface ActivityTask {
  /** Unique id (UUID). */
  readonly id: string;
  readonly instanceId: string;
  readonly executionId: string;
  readonly name: string;
  readonly input?: unknown;
  /** The `eventId` of the TaskScheduled event; the result points back to it. */
  readonly taskScheduledId: number;
  /** 1 for the first attempt, then +1 for each retry (retries are new tasks). */
  readonly attempt: number;
}

/** A lease on a work item: only its holder may commit it. */
export interface Lease {
  readonly owner: string;
  /** Unique per claim; a takeover changes it, which is how a store refuses a stale commit. */
  readonly token: string;
  readonly expiresAt: Date;
}

/**
 * True when `message` is for an execution `state` no longer runs: it names one (`executionId`: a result, a timer, a
 * sub-orchestration's answer, a command of a client that read that execution) and the instance runs another, which
 * `continueAsNew`, a restart or a new start of a terminal or purged id began. Such a message is dropped, however its
 * task or timer id matches the current execution's (each execution numbers them from 0), and is no work of it, as
 * Durable Functions discards a message whose execution id is not the current one. The one rule: `planWriteSet`
 * drops such a message instead of queueing it, and a step that claims one queued before the execution changed consumes
 * it without applying it (a batch of nothing else commits no step at all). A message that names no execution (an
 * event raised to the instance) is never stale; nor is one that names the current execution, whatever its status: a
 * result that raced a terminate, or a timer falling due after the instance completed, is recorded and ignored by the
 * step that claims it (in the history, the status as it was), never silently dropped.
 *
 * @example
 * ```ts
 * isStaleResult({ id: 'm', instanceId: 'a', executionId: 'e1', event }, { ...state, executionId: 'e2' }); // true
 * isStaleResult({ id: 'm', instanceId: 'a', executionId: 'e1', event }, { ...state, executionId: 'e1', runtimeStatus: 'Terminated' }); // false
 * isStaleResult({ id: 'm', instanceId: 'a', event }, { ...state, executionId: 'e2' }); // false: for any execution
 * ```
 */
export function isStaleResult(message: OrchestrationMessage, state: Pick<InstanceState, 'executionId'>): boolean {
  return message.executionId !== undefined && message.executionId !== state.executionId;
}
