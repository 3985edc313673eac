/**
 * `@durable-rx/runtime/store-kit`: what a Store adapter is written against: the `Store` port (its TSDoc is the
 * contract), the plain data that crosses it, and the shared pure helpers that keep every adapter's rules identical.
 * Prove an adapter with `describeStoreConformance` from `@durable-rx/runtime/testing`.
 *
 * A store claims work with its own queries and leases, and executes {@link WriteSet}s: it checks the lease, reads the
 * instances {@link instanceIdsOf} names, lets {@link planWriteSet} decide every condition, and writes the resulting
 * {@link WritePlan} in one transaction. It makes no domain decision of its own. `MemoryStore` is the reference
 * executor.
 *
 * The Store port executes write sets through one method, `commit(writeSet: WriteSet): Promise<CommitResult>`, which
 * replaces `createInstance`, `sendMessage`, `commitOrchestration` and `completeActivity`: it throws the `DurableError`
 * of `planWriteSet` or the lease check (`leaseLostError`) and then writes nothing, and resolves with
 * {@link commitResultOf} of the plan it wrote.
 *
 * @packageDocumentation
 */
export type {
  ActivityWorkItem, ClaimOptions, CommitResult, EndedKey, EndedQuery, InstancePage, InstanceQuery, OrchestrationWorkItem, PurgeFilter, PurgeMember, PurgeSetResult,
  StatusChange, Store, StoreCapabilities, StoreFilter,
} from '../store/store.js';
/**
 * What a store applies to a set of a recursive purge (`Store.purgeInstanceSet`): its size, its check, each member's
 * condition. Which members, on which conditions, the client decides.
 */
export { MAX_PURGE_SET, purgeMemberHolds, validatePurgeSet } from '../store/plan-tree-purge.js';
export type {
  AppendHistoryWrite, CreateInstanceWrite, DeleteMessagesWrite, DeleteTaskWrite, InsertMessageWrite, InsertTaskWrite,
  InstanceCondition, StartIfExists,
  ActivityStepLease, UnclaimedLease, ReplaceHistoryWrite, ReplaceStateWrite, WriteLease, WriteRequest, WriteSet,
} from '../model/write-set.js';
export {
  activityStepHolds, unclaimedHolds, unclaimedRefusal, changesNothing, signalsWork, writesInput, checkWriteLease, commitResultOf, releasedInstanceOf, instanceIdsOf, raiseKeyIdsOf, leaseLostError, planWriteSet, type ActivityStepReading, type UnclaimedReading, type PlannedChange, type PlannedHistory, type PlannedState,
  type RaiseKeysRecord, type StoredRaiseKeys, type StoredStates, type WritePlan,
} from '../store/plan-write-set.js';
export {
  claimableAtMs, comparePageKeys, dueAtMs, holdsLease, isHeldBy, isLeaseToken, isVisible, leaseTokens, lifeLeaseOwner, matchesName, matchesPurgeFilter, matchesQuery, matchesTags, namesOf, newLease, nextPageToken, pageKeyOf, pageOrderOf, sameTags, selectiveTagPair, tagEntryKey, tagPairsOf,
  pageSizeOf, planInstancePage, validateClaimOptions, validateLeaseOwner, validateTime, decideClaimedWork, type ClaimedWork, type ClaimedWorkAction, type InstancePagePlan, type PageCursor, type PageKey,
} from '../store/store-helpers.js';
/** The one rule of `Store.listEnded`: its order, its filter and its check. */
export { compareEndedKeys, endedKeyOf, matchesEndedQuery, validateEndedQuery } from '../store/ended-listing.js';
/** The one reading of a history read's range, and the cut of what a store that reads to the end answered. */
export { eventsInRange, historyRangeOf, type BoundedRange, type HistoryRange } from '../store/history-range.js';
/** The one rule of which leases a store looks up after claims whose outcome it could not learn. */
export { UnconfirmedClaims } from '../store/unconfirmed-claims.js';
export { assertNever } from '../model/history-event.js';
/** A store wraps the logger it is given once, so a report made while it handles a failure cannot throw out of the handler. */
export { guardedLogger } from '../env/logger.js';
/** The one filter rule: a store's `queryInstances` / `purgeInstances` call these first and use what they return. */
export { validateInstanceQuery, validatePurgeFilter, type ValidInstanceQuery, type ValidPurgeFilter } from '../model/validation.js';
/**
 * The one reading of an options argument and the rule of each kind of option (delays, counts, booleans, functions,
 * injected dependencies): a store checks its options with these when it is created, as the runtime does its own.
 */
export {
  checkDependencies, CLOCK_METHODS, hasMethods, isBoolean, isDelayMs, isFunction, isIdempotencyKey, isStartIfExists, isString, isTimeoutMs, readChecked, taken,
  type MemberCheck,
} from '../model/validation.js';
/**
 * The runtime's bound on one store call when not told otherwise (`storeCallTimeoutMs` of `createRuntime` and
 * `createClient`): a store that ends its own calls before its caller gives up reads the default here.
 */
export { DEFAULT_STORE_CALL_TIMEOUT_MS } from '../model/store-call-timeout.js';
/** The one check of a time: a Date that holds one (an Invalid Date sorts and compares as no time at all). */
export { isValidDate } from '../model/validation.js';
export { decideActivityResult, decideFork, decideRestart, decideSend, decideStart, type ForkInput, type ParentLink, type StartInput } from '../engine/decide-step.js';
export { forkableResults, forkHistory, type ForkedHistory, type ForkTarget } from '../engine/fork-history.js';
export { applyEvent } from '../engine/apply-event.js';

export { isStaleResult, type ActivityTask, type Lease, type MessageEvent, type OrchestrationMessage } from '../model/message.js';
export { isNewerChange, isNewerVersion, MAX_REMEMBERED_EVENT_KEYS, type PurgedSnapshot, type HeldCommand, type HeldCommands, type HeldSuspend, type InstanceState, type ParentCall, type StartLineage, type Suspension } from '../model/instance-status.js';
/** The one copy of a stored value (plain JSON plus Dates): a store hands out and publishes copies made by it. */
export { copyStoreValue, toPlainJson, type JsonValue } from '../model/json.js';
/** The one estimate of the heap a JSON value holds: a store that keeps values in memory bounds them by it. */
export { jsonHeapBytes } from '../model/json.js';
/**
 * The one rule of values frozen all the way down: a store that keeps a value and hands it out without a copy keeps
 * its {@link frozenCopy} (or, for a value it owns, freezes it with {@link deepFreeze}).
 */
export { deepFreeze, frozenCopy } from '../model/frozen.js';
/** The hot feed behind a store's `changes$` and `workAvailable$`. */
export { Broadcast } from '../store/broadcast.js';
/**
 * The one rule of who owns a published state: a feed that hands one state object to several subscribers, or keeps it
 * after handing it out, marks it shared first (`Broadcast` and `ChangeRouter` do so themselves).
 */
export { markShared, withOwnPayloads } from '../store/shared-states.js';
/**
 * Routes one change feed to per-instance listeners over one shared subscription (the client's router): a store with a
 * per-instance feed of its own (`instanceChanges$`) routes it with the same rules.
 */
export { ChangeRouter } from '../client/change-router.js';
/** A timer on an injected `Clock` as an observable (feed back-offs and lingers that tests run on a `VirtualClock`). */
export { timeoutAfter } from '../client/timeout-after.js';
/** The longest wait one timer holds: a store refuses a deadline option above it, as the runtime does its own. */
export { MAX_TIMER_DELAY_MS } from '../env/clock.js';
/** `navigator.locks` where there is one: the default of a store that uses Web Locks, read as the worker reads it. */
export { webLocks, type LockRequests } from '../env/web-locks.js';
