/**
 * `@durable-rx/runtime`: durable orchestrations (generator functions replayed from an event history) with instance
 * status and custom status pushed as RxJS observables.
 *
 * @packageDocumentation
 */
export { createRuntime, type Runtime, type RuntimeOptions } from './worker/create-runtime.js';
export { createClient, type CreateClientOptions } from './client/create-client.js';
export type {
  CheckStatusResponseOptions, DurableClient, GetStatusOptions, HttpManagementPayload, HttpManagementPayloadOptions,
  InstanceFilter, InstancesPage, ListInstancesQuery, PurgeInstancesFilter, PurgeResult, RestartOptions, StartNewOptions,
  WaitForCompletionOrCheckStatusOptions,
} from './client/durable-client.js';
export {
  CHECK_STATUS_RETRY_AFTER_SECONDS, createCheckStatusResponseOf, waitForCompletionOrCreateCheckStatusResponseOf,
} from './client/check-status-response.js';
export { LocalClient, DEFAULT_WAIT_TIMEOUT_MS, type LocalClientOptions } from './client/local-client.js';
export { createHttpManagementPayload, WEBHOOK_PATH } from './client/http-management-payload.js';
export { followPages, type Page } from './client/follow-pages.js';
export { sameJson } from './client/same-json.js';

export type { Activity, ActivityContext, Orchestration, OrchestrationContext, Orchestrator } from './engine/orchestration-context.js';
export { DurableTask, isDurableTask } from './engine/durable-task.js';
export { AtomicTask, type AtomicTaskKind } from './engine/atomic-task.js';
export { TimerTask } from './engine/timer-task.js';
export { WhenAllTask, type TaskResults } from './engine/when-all-task.js';
export { WhenAnyTask } from './engine/when-any-task.js';
export { RetryableTask } from './engine/retryable-task.js';
export type { RetryOptions } from './engine/retry-options.js';
export { Task } from './engine/task.js';
export {
  OrchestrationExecution, DEFAULT_CUSTOM_STATUS_LIMIT_BYTES, toFailureDetails, type ExecutionOptions, type ExecutionStats,
  type StepResult,
} from './engine/orchestration-execution.js';
export type { OrchestratorAction } from './engine/orchestrator-action.js';
export { applyEvent } from './engine/apply-event.js';
export { rewindHistory } from './engine/rewind-history.js';

export {
  OrchestrationRuntimeStatus, ALL_RUNTIME_STATUSES, TERMINAL_RUNTIME_STATUSES, isTerminalStatus, toInstanceStatus,
  type FailureDetails, type InstanceState, type InstanceStatus,
} from './model/instance-status.js';
export * from './model/history-event.js';
export type { ActivityTask, Lease, MessageEvent, OrchestrationMessage } from './model/message.js';
export { toPlainJson, jsonByteLength, assertJsonSize, MAX_JSON_DEPTH, type JsonValue } from './model/json.js';
export {
  assertValidInstanceId, assertValidName, assertWellFormed, MAX_INSTANCE_ID_LENGTH, readOptions, resolveTimeoutMs,
  runtimeStatusNamed, validateInstanceFilter, validateInstanceQuery, validatePurgeFilter, type ValidInstanceFilter,
  type ValidInstanceQuery, type ValidPurgeFilter,
} from './model/validation.js';
export { timeoutAfter, MAX_TIMER_DELAY_MS } from './client/timeout-after.js';
export { DurableError, isDurableError, type DurableErrorOptions } from './model/errors/durable-error.js';
export { InstanceNotFoundError } from './model/errors/instance-not-found-error.js';
export { InstanceAlreadyExistsError } from './model/errors/instance-already-exists-error.js';
export { InstanceNotRunningError } from './model/errors/instance-not-running-error.js';
export { InstanceNotTerminalError } from './model/errors/instance-not-terminal-error.js';
export { InvalidArgumentError } from './model/errors/invalid-argument-error.js';
export { PayloadTooLargeError } from './model/errors/payload-too-large-error.js';
export { NonDeterminismError } from './model/errors/non-determinism-error.js';
export { TaskFailedError } from './model/errors/task-failed-error.js';
export { LeaseLostError } from './model/errors/lease-lost-error.js';
export { StoreClosedError } from './model/errors/store-closed-error.js';
export { UnknownEventTypeError } from './model/errors/unknown-event-type-error.js';
export { OrchestrationError } from './model/errors/orchestration-error.js';

export type {
  ActivityWorkItem, ClaimOptions, InstancePage, InstanceQuery, OrchestrationWorkItem, PurgeFilter, StatusChange, Store,
  StoreCapabilities,
} from './store/store.js';
export * from './store/store-helpers.js';
export { MemoryStore } from './store/memory-store.js';

export { systemClock, type Clock, type ClockTimer } from './worker/clock.js';
export { consoleLogger, silentLogger, type Logger } from './worker/logger.js';
export type { WorkerMetrics } from './worker/worker.js';
