import type { FailureDetails } from './instance-status.js';

interface EventBase {
  /**
   * For events that schedule work (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated): the sequence
   * number the orchestrator gave that work; completion events point back to it. -1 for every other event.
   */
  readonly eventId: number;
  /** When the event happened (ISO 8601). For OrchestratorStarted this is the step's `currentUtcDateTime`. */
  readonly timestamp: string;
}

/** The first event of an execution. */
export interface ExecutionStartedEvent extends EventBase {
  readonly type: 'ExecutionStarted';
  readonly name: string;
  readonly instanceId: string;
  readonly executionId: string;
  readonly input?: unknown;
  readonly parentInstance?: {
    readonly instanceId: string;
    readonly name: string;
    readonly taskScheduledId: number;
    /** The parent's execution, so its result is not delivered to a later execution of the parent. */
    readonly executionId?: string;
  };
}
export interface ExecutionCompletedEvent extends EventBase {
  readonly type: 'ExecutionCompleted';
  readonly orchestrationStatus: 'Completed' | 'Failed';
  readonly result?: unknown;
  readonly failureDetails?: FailureDetails;
}
export interface ExecutionTerminatedEvent extends EventBase {
  readonly type: 'ExecutionTerminated';
  readonly reason?: unknown;
}
export interface ExecutionSuspendedEvent extends EventBase {
  readonly type: 'ExecutionSuspended';
  readonly reason?: string;
}
export interface ExecutionResumedEvent extends EventBase {
  readonly type: 'ExecutionResumed';
  readonly reason?: string;
}
export interface ExecutionRewoundEvent extends EventBase {
  readonly type: 'ExecutionRewound';
  readonly reason?: string;
  /**
   * Set when a parent's rewind rewinds this sub-orchestration in place: the parent's call that now waits for its
   * result. From this event on the sub-orchestration reports to that call instead of the one in its ExecutionStarted,
   * which may be another call of another execution of the parent (one that found this instance still running).
   */
  readonly parentInstance?: ExecutionStartedEvent['parentInstance'];
}
export interface ContinueAsNewEvent extends EventBase {
  readonly type: 'ContinueAsNew';
  readonly input?: unknown;
  readonly preserveUnprocessedEvents: boolean;
}
export interface OrchestratorStartedEvent extends EventBase {
  readonly type: 'OrchestratorStarted';
  /**
   * On the first step of an execution: the ids of the replay flags the engine ran it under (`engine/flags.ts`).
   * Absent on later steps, and on executions recorded before replay flags existed.
   */
  readonly replayFlags?: readonly number[];
}
export interface OrchestratorCompletedEvent extends EventBase {
  readonly type: 'OrchestratorCompleted';
}
export interface TaskScheduledEvent extends EventBase {
  readonly type: 'TaskScheduled';
  readonly name: string;
  readonly input?: unknown;
}
export interface TaskCompletedEvent extends EventBase {
  readonly type: 'TaskCompleted';
  readonly taskScheduledId: number;
  readonly result?: unknown;
}
export interface TaskFailedEvent extends EventBase {
  readonly type: 'TaskFailed';
  readonly taskScheduledId: number;
  readonly failureDetails: FailureDetails;
}
export interface TimerCreatedEvent extends EventBase {
  readonly type: 'TimerCreated';
  /** ISO 8601. */
  readonly fireAt: string;
}
export interface TimerFiredEvent extends EventBase {
  readonly type: 'TimerFired';
  readonly timerId: number;
  readonly fireAt: string;
}
export interface EventRaisedEvent extends EventBase {
  readonly type: 'EventRaised';
  readonly name: string;
  readonly input?: unknown;
}
export interface SubOrchestrationInstanceCreatedEvent extends EventBase {
  readonly type: 'SubOrchestrationInstanceCreated';
  readonly name: string;
  readonly instanceId: string;
  readonly input?: unknown;
}
export interface SubOrchestrationInstanceCompletedEvent extends EventBase {
  readonly type: 'SubOrchestrationInstanceCompleted';
  readonly taskScheduledId: number;
  readonly result?: unknown;
}
export interface SubOrchestrationInstanceFailedEvent extends EventBase {
  readonly type: 'SubOrchestrationInstanceFailed';
  readonly taskScheduledId: number;
  readonly failureDetails: FailureDetails;
}

/**
 * The Durable Task history event union, keyed by `type`. Every switch over it ends in `assertNever`.
 */
export type HistoryEvent =
  | ExecutionStartedEvent
  | ExecutionCompletedEvent
  | ExecutionTerminatedEvent
  | ExecutionSuspendedEvent
  | ExecutionResumedEvent
  | ExecutionRewoundEvent
  | ContinueAsNewEvent
  | OrchestratorStartedEvent
  | OrchestratorCompletedEvent
  | TaskScheduledEvent
  | TaskCompletedEvent
  | TaskFailedEvent
  | TimerCreatedEvent
  | TimerFiredEvent
  | EventRaisedEvent
  | SubOrchestrationInstanceCreatedEvent
  | SubOrchestrationInstanceCompletedEvent
  | SubOrchestrationInstanceFailedEvent;

/** The `type` of a {@link HistoryEvent}. */
export type HistoryEventType = HistoryEvent['type'];

/** Every history event type this version understands. */
export const HISTORY_EVENT_TYPES: ReadonlySet<string> = new Set<HistoryEventType>([
  'ExecutionStarted', 'ExecutionCompleted', 'ExecutionTerminated', 'ExecutionSuspended', 'ExecutionResumed',
  'ExecutionRewound', 'ContinueAsNew', 'OrchestratorStarted', 'OrchestratorCompleted', 'TaskScheduled',
  'TaskCompleted', 'TaskFailed', 'TimerCreated', 'TimerFired', 'EventRaised', 'SubOrchestrationInstanceCreated',
  'SubOrchestrationInstanceCompleted', 'SubOrchestrationInstanceFailed',
]);

/** Exhaustiveness guard for switches over unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new TypeError(`Unexpected ${what}: ${JSON.stringify(value)}`);
}
