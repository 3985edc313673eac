import type { FailureDetails } from './instance-status.js';

/** The fields every history event has (the members of {@link HistoryEvent} extend it). */
export interface EventBase {
  /**
   * For events that schedule work (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated): the sequence
   * number the orchestrator gave that work; completion events point back to it. -1 for every other event.
   */
  readonly eventId: number;
  /** When the event happened (ISO 8601). For OrchestratorStarted this is the step's `currentUtcDateTime`. */
  readonly timestamp: string;
  /**
   * Set on an event recorded without its payload, and why: a late event of an ended instance (recorded and ignored)
   * whose write the store refused for good, too large for it (a 400 or 413) or with no room for it (a 507). Its
   * payload (`result`, `input`, `reason`; a failure's message) is left out, its type and the work it answers
   * (`taskScheduledId`, `timerId`, the event's `name`) are kept. A rewind treats such a result as none: the call is
   * made again, and such a raised event is not delivered. Also set on the events of the record of fixed size that ends
   * an instance whose step and failure records the store all refused (a start without its input, a terminate, a rewind
   * not made), saying how many other claimed events were not recorded; and on the step marker of the record of fixed
   * size that stands for late events whose payload-less record the store refused too, saying how many.
   */
  readonly payloadRefused?: string;
}

/** The first event of an execution. */
export interface ExecutionStartedEvent extends EventBase {
  readonly type: 'ExecutionStarted';
  /** The orchestrator's name. */
  readonly name: string;
  readonly instanceId: string;
  /** This execution's id: a new one after `continueAsNew` and when a terminal instance is started again. */
  readonly executionId: string;
  /** The orchestration input; absent when none was given. */
  readonly input?: unknown;
  /** The calling orchestration and its call, for a sub-orchestration. */
  readonly parentInstance?: {
    readonly instanceId: string;
    readonly name: string;
    readonly taskScheduledId: number;
    /** The parent's execution, so its result is not delivered to a later execution of the parent. */
    readonly executionId?: string;
    /** The instance the parent's fork lineage began with, for a GUID-named call of a copy (`ParentCall.forkRoot`). */
    readonly forkRoot?: string;
  };
  /**
   * Only on a start message, never in history: on the one a `continueAsNew` sends, the events the last execution did
   * not process: a cancel request it did not deliver (always carried), then, with `preserveUnprocessedEvents`, the
   * raised events in the order raised (per name); on the one a fork (`DurableClient.fork`) whose kept results all
   * reached its source before its first step sends, the kept events its source's first step recorded ahead of its
   * start. The step that takes the start records them (the raised ones marked {@link EventRaisedEvent.carried}) just
   * before it, in one batch with it.
   */
  readonly carriedEvents?: readonly (EventRaisedEvent | ExecutionCancelRequestedEvent)[];
  /**
   * On the start a fork's `continueAsNew` sends, and in the history of the execution it starts: the GUIDs that steps
   * the fork copied from its source made (`ctx.newGuid()` under the source's seed, or handed on so to an earlier
   * execution of the fork) and that the `continueAsNew` input holds, each as the seed and the rest of the name it was
   * made from (the GUID is the name-based UUID of `seed + name`). A sub-orchestration call of this execution whose id
   * holds one runs under a GUID of this execution's own, made from its name under this execution's seed (`forkCallId`),
   * as a call made anew in the fork does: not under the id of the source's child, nor under a GUID the execution makes.
   * A start with the same input copies the list (`copiedStart`): a fork's (whole, with its history, or afresh
   * when it keeps no results) and a restart's, under the instance's id or a new one. Absent on every other start, and
   * in executions recorded before it existed (which replay as they ran).
   */
  readonly copiedGuids?: readonly { readonly seed: string; readonly name: string }[];
  /**
   * The instances this one was copied from, nearest first: a fork's source (then the instances that source was copied
   * from). Named on a fork's start (`forkHistory`, `copiedStart`) and carried along by `continueAsNew`; a restart names
   * none (it is no copy, as a Durable Functions restart is not: its calls replace the restarted instance's ended
   * children). Nearest first, at most `MAX_FORKED_FROM` of them: the nearest ones and, last, the instance the lineage
   * began with (its root), which the check below needs most. A sub-orchestration call whose id holds a GUID (in
   * either case) and names a child of one of them fails with `InstanceAlreadyExistsError` saying so, instead of taking
   * that child over (`CreateInstanceWrite.ifChildOf`): a GUID of theirs the engine did not rename reached the copy by
   * a way it does not follow (an activity's result, an event, the input of an execution before the one copied).
   * Absent on every other start, and in executions recorded before it existed (whose calls go as they did).
   */
  readonly forkedFrom?: readonly string[];
}
/** The orchestrator returned (Completed) or threw (Failed), which ends its execution. */
export interface ExecutionCompletedEvent extends EventBase {
  readonly type: 'ExecutionCompleted';
  readonly orchestrationStatus: 'Completed' | 'Failed';
  /** The return value, when Completed. */
  readonly result?: unknown;
  /** Why it failed, when Failed. */
  readonly failureDetails?: FailureDetails;
}
/** `terminate` ended the instance. */
export interface ExecutionTerminatedEvent extends EventBase {
  readonly type: 'ExecutionTerminated';
  /** The reason given to `terminate`, which becomes the instance's output. */
  readonly reason?: unknown;
  /**
   * `terminate(id, reason, { recursive: true })`: the step that applies it also sends this terminate (with the same
   * reason, recursive too) to every sub-orchestration the execution started whose call is still unanswered, in the
   * same commit (`activeChildrenOf`), so each level of the tree hands it on durably.
   */
  readonly recursive?: true;
  /**
   * On the terminate of an execution a `continueAsNew` began, applied before any worker took its start (whose
   * history then holds no ExecutionStarted until a worker records it, ignored): when that start was sent
   * (`InstanceState.continuedAt`), which the Durable Functions view shows as the execution's start time meanwhile.
   */
  readonly startRequestedAt?: string;
}
/**
 * `cancel` asked the orchestration to stop (cooperative cancellation). The step that applies it throws a
 * `CanceledError` into the orchestrator at the `yield` it waits at (one not started yet: at its first `yield`), and
 * `ctx.isCancellationRequested` is true from then on; a second one is recorded and ignored. While the instance is
 * suspended it waits, as every event does, for the resume. One that reaches an execution after its `continueAsNew` is
 * carried to the next execution (recorded just before its `ExecutionStarted`).
 */
export interface ExecutionCancelRequestedEvent extends EventBase {
  readonly type: 'ExecutionCancelRequested';
  /** The reason given to `cancel`. */
  readonly reason?: string;
}
/** `suspend` paused the instance: it makes no progress until resumed, and keeps the messages it receives. */
export interface ExecutionSuspendedEvent extends EventBase {
  readonly type: 'ExecutionSuspended';
  /** The reason given to `suspend`. */
  readonly reason?: string;
}
/** `resume` let a suspended instance go on. */
export interface ExecutionResumedEvent extends EventBase {
  readonly type: 'ExecutionResumed';
  /** The reason given to `resume`. */
  readonly reason?: string;
}
/** `rewind` made a Failed instance run its failed calls again; the history before it was rewritten in place. */
export interface ExecutionRewoundEvent extends EventBase {
  readonly type: 'ExecutionRewound';
  /** The reason given to `rewind`. */
  readonly reason?: string;
  /**
   * Set when a parent's rewind rewinds this sub-orchestration in place: the parent's call that now waits for its
   * result. From this event on the sub-orchestration reports to that call instead of the one in its ExecutionStarted,
   * which may be another call of another execution of the parent (one that found this instance still running).
   */
  readonly parentInstance?: ExecutionStartedEvent['parentInstance'];
}
/** The orchestrator called `continueAsNew`: this execution ends and a new one starts with `input`. */
export interface ContinueAsNewEvent extends EventBase {
  readonly type: 'ContinueAsNew';
  /** The input of the next execution. */
  readonly input?: unknown;
  /** Whether external events received but not yet consumed are delivered to the next execution. */
  readonly preserveUnprocessedEvents: boolean;
}
/** A step begins: the events after it, up to its {@link OrchestratorCompletedEvent}, were applied in that step. */
export interface OrchestratorStartedEvent extends EventBase {
  readonly type: 'OrchestratorStarted';
  /**
   * On the first step of an execution: the ids of the replay flags the engine ran it under (`engine/flags.ts`).
   * Absent on later steps, and on executions recorded before replay flags existed.
   */
  readonly replayFlags?: readonly number[];
  /**
   * On the first step of an execution: the runtime's `customStatusLimitBytes` when it started. The execution checks
   * `setCustomStatus` against this limit from its first step to its last, replayed or not, so that a runtime started
   * with another limit replays it as it ran. Absent on later steps, and on executions recorded before it was recorded.
   */
  readonly customStatusLimitBytes?: number;
  /**
   * What the `ctx.newGuid()` names this step makes begin with, written by a fork (`DurableClient.fork`) on each step
   * it copies from its source: the seed the source's step used (its own `guidSeed`, on a step a fork copied in turn,
   * else its execution's), so the fork's replay makes the GUIDs the source made and a kept call the code named with
   * one matches; a call the fork makes again, named with one, runs under the GUID the step recording it makes in its
   * place (`forkCallId`). Absent (every step an execution runs itself, and every history recorded before it existed):
   * the execution's own seed, so the steps a fork runs make GUIDs of its own, whatever their time. An execution's own
   * seed is `<instanceId>_<executionId>`, or the instance id alone in a history recorded before GUIDs named the
   * execution (its first step's {@link OrchestratorStartedEvent.replayFlags} tell).
   */
  readonly guidSeed?: string;
  /**
   * Written by a fork with {@link OrchestratorStartedEvent.guidSeed} on each step it copies from its source's own steps
   * (one the source copied in turn keeps the one it names): the instance id the step ran under, so that the fork's
   * replay, whose `ctx.instanceId` is the fork's, matches a kept call whose child id the code built from
   * `ctx.instanceId` (the history names the source's id where the replay names the fork's; the engine's `forkCallId`).
   * Absent on every step an execution runs itself, and on the steps of a fork recorded before it existed.
   */
  readonly sourceInstanceId?: string;
}
/** A step ends: what it scheduled is committed with it. */
export interface OrchestratorCompletedEvent extends EventBase {
  readonly type: 'OrchestratorCompleted';
}
/** The orchestrator called an activity (`callActivity`); its `eventId` numbers the call. */
export interface TaskScheduledEvent extends EventBase {
  readonly type: 'TaskScheduled';
  /** The activity's name. */
  readonly name: string;
  readonly input?: unknown;
}
/** An activity returned. */
export interface TaskCompletedEvent extends EventBase {
  readonly type: 'TaskCompleted';
  /** The `eventId` of the {@link TaskScheduledEvent} it answers. */
  readonly taskScheduledId: number;
  /** The activity's return value. */
  readonly result?: unknown;
}
/** An activity threw. */
export interface TaskFailedEvent extends EventBase {
  readonly type: 'TaskFailed';
  /** The `eventId` of the {@link TaskScheduledEvent} it answers. */
  readonly taskScheduledId: number;
  readonly failureDetails: FailureDetails;
}
/** The orchestrator created a durable timer (`createTimer`, or a retry's wait); its `eventId` numbers it. */
export interface TimerCreatedEvent extends EventBase {
  readonly type: 'TimerCreated';
  /** When it fires (ISO 8601). */
  readonly fireAt: string;
}
/** A durable timer fell due. */
export interface TimerFiredEvent extends EventBase {
  readonly type: 'TimerFired';
  /** The `eventId` of the {@link TimerCreatedEvent} it answers. */
  readonly timerId: number;
  /** When it was due (ISO 8601). */
  readonly fireAt: string;
}
/** An external event arrived (`raiseEvent`), for `waitForExternalEvent(name)`. */
export interface EventRaisedEvent extends EventBase {
  readonly type: 'EventRaised';
  /** The event's name. */
  readonly name: string;
  /** The event data. */
  readonly input?: unknown;
  /**
   * Set on an event carried over from the last execution by `continueAsNew` (`preserveUnprocessedEvents`): it was
   * raised before any event of its name that reached this execution unmarked, so it is buffered ahead of them.
   */
  readonly carried?: true;
}
/** The orchestrator started a sub-orchestration (`callSubOrchestrator`); its `eventId` numbers the call. */
export interface SubOrchestrationInstanceCreatedEvent extends EventBase {
  readonly type: 'SubOrchestrationInstanceCreated';
  /** The sub-orchestrator's name. */
  readonly name: string;
  /** The sub-orchestration's instance id. */
  readonly instanceId: string;
  readonly input?: unknown;
}
/** A sub-orchestration completed. */
export interface SubOrchestrationInstanceCompletedEvent extends EventBase {
  readonly type: 'SubOrchestrationInstanceCompleted';
  /** The `eventId` of the {@link SubOrchestrationInstanceCreatedEvent} it answers. */
  readonly taskScheduledId: number;
  /** The sub-orchestration's output. */
  readonly result?: unknown;
}
/** A sub-orchestration failed. */
export interface SubOrchestrationInstanceFailedEvent extends EventBase {
  readonly type: 'SubOrchestrationInstanceFailed';
  /** The `eventId` of the {@link SubOrchestrationInstanceCreatedEvent} it answers. */
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
  | ExecutionCancelRequestedEvent
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

/**
 * Whether `event` ends the execution whose history holds it: its completion (`ExecutionCompleted`, whatever the
 * status), its termination, or its `continueAsNew`. The first such event is where an execution ends; events recorded
 * after it were received and ignored.
 */
export function isExecutionEnd(event: HistoryEvent): boolean {
  return event.type === 'ExecutionCompleted' || event.type === 'ExecutionTerminated' || event.type === 'ContinueAsNew';
}

/** Exhaustiveness guard for switches over unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new TypeError(`Unexpected ${what}: ${JSON.stringify(value)}`);
}
