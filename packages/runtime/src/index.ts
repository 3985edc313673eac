/**
 * `@durable-rx/runtime`: durable orchestrations (generator functions replayed from an event history) with instance
 * status and custom status pushed as RxJS observables.
 *
 * This entry holds what application code calls: the runtime and client factories, `MemoryStore`, the client,
 * orchestration-context and status types, and the errors. Store adapters build on `@durable-rx/runtime/store-kit`;
 * other `DurableClient` implementations on `@durable-rx/runtime/client-kit`.
 *
 * @packageDocumentation
 */
export { createRuntime, type Runtime, type RuntimeOptions } from './runtime/create-runtime.js';
export { createClient, type CreateClientOptions } from './client/create-client.js';
export type {
  BulkCommandOptions, BulkCommandResult, BulkTerminateOptions, CheckStatusResponseOptions, DurableClient, GetStatusOptions, HttpManagementPayload, HttpManagementPayloadOptions,
  ForkOptions, InstanceFilter, InstancesPage, ListInstancesQuery, LocalDurableClient, PurgeInstanceOptions, PurgeInstancesFilter, PurgeResult, RaiseEventOptions, RestartOptions,
  SignalWithStartOptions, StartNewOptions, TerminateOptions, WaitForCompletionOrCheckStatusOptions,
} from './client/durable-client.js';
export type { StartIfExists } from './model/write-set.js';
export { MemoryStore } from './store/memory-store.js';
export type { Store } from './store/store.js';

export type { Activity, ActivityContext, Orchestration, OrchestrationContext, Orchestrator } from './engine/orchestration-context.js';
export type { DurableTask } from './engine/durable-task.js';
export type { AtomicTask, AtomicTaskKind } from './engine/atomic-task.js';
export type { TimerTask } from './engine/timer-task.js';
export type { TaskResults, WhenAllTask } from './engine/when-all-task.js';
export type { WhenAnyTask } from './engine/when-any-task.js';
export type { RetryOptions } from './engine/retry-options.js';
export { Task } from './engine/task.js';

export {
  OrchestrationRuntimeStatus, ALL_RUNTIME_STATUSES, TERMINAL_RUNTIME_STATUSES, isTerminalStatus,
  MAX_TAGS, MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH, MAX_TAGS_BYTES, type FailureDetails, type InstanceStatus, type InstanceTags,
} from './model/instance-status.js';
export type {
  ContinueAsNewEvent, EventBase, EventRaisedEvent, ExecutionCancelRequestedEvent, ExecutionCompletedEvent, ExecutionResumedEvent, ExecutionRewoundEvent,
  ExecutionStartedEvent, ExecutionSuspendedEvent, ExecutionTerminatedEvent, HistoryEvent, HistoryEventType,
  OrchestratorCompletedEvent, OrchestratorStartedEvent, SubOrchestrationInstanceCompletedEvent,
  SubOrchestrationInstanceCreatedEvent, SubOrchestrationInstanceFailedEvent, TaskCompletedEvent, TaskFailedEvent,
  TaskScheduledEvent, TimerCreatedEvent, TimerFiredEvent,
} from './model/history-event.js';

export { DurableError, isDurableError, type DurableErrorOptions } from './model/errors/durable-error.js';
export { InstanceNotFoundError } from './model/errors/instance-not-found-error.js';
export { InstanceAlreadyExistsError } from './model/errors/instance-already-exists-error.js';
export { InstanceNotRunningError } from './model/errors/instance-not-running-error.js';
export { InstanceNotTerminalError } from './model/errors/instance-not-terminal-error.js';
export { InvalidArgumentError } from './model/errors/invalid-argument-error.js';
export { PayloadTooLargeError } from './model/errors/payload-too-large-error.js';
export { NonDeterminismError } from './model/errors/non-determinism-error.js';
export { TaskFailedError } from './model/errors/task-failed-error.js';
export { CanceledError, isCancellation } from './model/errors/canceled-error.js';
export { LeaseLostError } from './model/errors/lease-lost-error.js';
export { StoreClosedError } from './model/errors/store-closed-error.js';
export { UnavailableError } from './model/errors/unavailable-error.js';
export { UnknownEventTypeError } from './model/errors/unknown-event-type-error.js';
export { OrchestrationError } from './model/errors/orchestration-error.js';

export { systemClock, type Clock, type ClockTimer } from './env/clock.js';
export { randomId, type NewId } from './env/new-id.js';
export { consoleLogger, silentLogger, type Logger } from './env/logger.js';
export type { StopOptions, WorkerMetrics } from './worker/worker.js';
export type { LeaseStorage } from './worker/lease-succession.js';
export type { RetentionOptions } from './worker/retention-sweep.js';
export { isDueForPurge, type RetentionPeriods } from './store/plan-retention.js';
