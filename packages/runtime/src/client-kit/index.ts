/**
 * `@durable-rx/runtime/client-kit`: shared pieces for other `DurableClient` implementations (a remote client over
 * HTTP, a UI's one-stream client), so that they validate, page, compare, time out and format exactly as the local
 * client does. Prove an implementation with `describeClientConformance` from `@durable-rx/runtime/testing`.
 *
 * @packageDocumentation
 */
export { COMMAND_APPLIED_TIMEOUT_MS, DEFAULT_WAIT_TIMEOUT_MS } from '../client/local-client.js';
export { awaitTerminatedTree, childSettled, childrenTerminatedWith } from '../client/terminated-tree.js';
export { createCheckStatusResponseOf, waitForCompletionOrCreateCheckStatusResponseOf } from '../client/check-status-response.js';
export { createHttpManagementPayload, WEBHOOK_PATH, webhookRoot } from '../client/http-management-payload.js';
export { followPages, type Page } from '../client/follow-pages.js';
export { BULK_REQUEST_SIZE, bulkFilter, readBulkOptions, type BulkCommand, type ValidBulkOptions } from '../client/bulk-command.js';
export { isHistoryPosition, markedHistory$ } from '../client/marked-history.js';
export { historyEventsMissed } from '../model/history-position.js';
export { statusChangesMissed, type StatusStamp } from '../model/instance-status.js';
export { sameJson } from '../model/same-json.js';
export { armTimeout, FIRST_ANSWER_GRACE_MS } from '../client/timeout-after.js';
export { guardClock, type GuardedClock } from '../env/guarded-clock.js';
export { closedWaitError, noStatusError } from '../client/no-status-error.js';
export { readSignalWithStartOptions } from '../client/read-signal-with-start-options.js';
export { readGetStatusOptions, readRaiseEventOptions, readStartNewOptions } from '../client/read-client-options.js';
export { MAX_SUBSCRIPTIONS_PER_SESSION } from '../http/session-limits.js';
export { MAX_PAGE_SIZE } from '../store/store-helpers.js';
export { toPlainJson, toTerminateReason, type JsonValue } from '../model/json.js';
export { isRemoteStoreLost, isRetryable, isRetryableError } from '../model/errors/retryable.js';
export {
  assertValidInstanceId, assertValidName, httpBaseUrl, idempotencyKeyHeader, isBoolean, isDate, isHeaderText, isIdempotencyKey, isInstanceId, isReason, isStartIfExists, isTags,
  CLOCK_METHODS, hasMethods, isCount, isDelayMs, isFunction, isTimeoutMs, readChecked, readOptions, taken, readForkOptions, readRecursive, readRestartOptions, readTimeoutMs, type MemberCheck,
  resolveTimeoutMs, runtimeStatusNamed, validateInstanceFilter, validateInstanceQuery, validatePurgeFilter,
  type ValidInstanceFilter, type ValidInstanceQuery, type ValidPurgeFilter,
} from '../model/validation.js';
