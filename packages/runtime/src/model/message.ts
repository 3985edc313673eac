import type {
  EventRaisedEvent, ExecutionResumedEvent, ExecutionRewoundEvent, ExecutionStartedEvent, ExecutionSuspendedEvent,
  ExecutionTerminatedEvent, SubOrchestrationInstanceCompletedEvent, SubOrchestrationInstanceFailedEvent,
  TaskCompletedEvent, TaskFailedEvent, TimerFiredEvent,
} from './history-event.js';

/** The history events that can travel as a message to an instance. */
export type MessageEvent =
  | ExecutionStartedEvent
  | EventRaisedEvent
  | ExecutionTerminatedEvent
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
