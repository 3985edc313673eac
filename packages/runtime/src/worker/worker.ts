import type { Subscription } from 'rxjs';
import { MisuseMarks, type MisuseMark } from '../engine/misuse-marks.js';
import { OrchestrationExecution, toFailureDetails, type ExecutionOptions } from '../engine/orchestration-execution.js';
import type { Activity, Orchestrator } from '../engine/orchestration-context.js';
import {
  decideActivityResult, decideActivityStep, decideMisuse, decideRefusedStep, decideStep, leaseNewTasks, type MisuseInput, unrecordable,
  type RefusedStepInput, type StepInput,
} from '../engine/decide-step.js';
import { isDurableError } from '../model/errors/durable-error.js';
import { LeaseLostError } from '../model/errors/lease-lost-error.js';
import { mayHaveApplied } from '../model/errors/may-have-applied.js';
import { StoreClosedError, isStoreClosed } from '../model/errors/store-closed-error.js';
import { UnavailableError } from '../model/errors/unavailable-error.js';
import { completeHistory } from '../model/history-position.js';
import { isTerminalStatus, type FailureDetails, type InstanceState } from '../model/instance-status.js';
import { isoTime } from '../model/iso-time.js';
import { isValidDate, readClock } from '../model/validation.js';
import { toPlainJson, type JsonValue } from '../model/json.js';
import type { ActivityTask, Lease, MessageEvent, OrchestrationMessage } from '../model/message.js';
import type { WriteSet } from '../model/write-set.js';
import type { ActivityWorkItem, OrchestrationWorkItem, Store } from '../store/store.js';
import { MAX_TIMER_DELAY_MS, type Clock } from '../env/clock.js';
import { guardClock } from '../env/guarded-clock.js';
import { DeadlineList } from '../env/deadline-list.js';
import { FallbackTimer, type Fallback } from '../env/fallback-timer.js';
import { FirstFailure } from '../env/first-failure.js';
import type { NewId } from '../env/new-id.js';
import { isDue, leaseTokens, lifeLeaseOwner, newLease } from '../store/store-helpers.js';
import { ExecutionCache } from './execution-cache.js';
import { Turns } from './turns.js';
import { LeaseSuccession, type LeaseStorage, type WorkerLocks } from './lease-succession.js';
import type { Logger } from '../env/logger.js';
import { RetentionSweep, type RetentionOptions } from './retention-sweep.js';
import { ActivityLeaseRenewal, type Heartbeat, type RunningHeartbeat } from './activity-lease-renewal.js';

/** First and longest delay before the worker retries after its store failed to hand out work. */
const MIN_PUMP_RETRY_MS = 100;
const MAX_PUMP_RETRY_MS = 30_000;

/**
 * When a retry backing off after a failure at `failedAtMs` comes once the store signals work at `nowMs` (ms on the
 * worker's clock; NaN when it returned no valid Date): now, or MIN_PUMP_RETRY_MS after the failure, whichever is later.
 * A signal says the store has just written, so it most likely serves calls again: the worker resumes at once instead
 * of waiting out a back-off grown to MAX_PUMP_RETRY_MS in a long outage. A store that still fails is tried no more
 * than once per MIN_PUMP_RETRY_MS however often it signals, and each failure still lengthens the back-off that
 * retries when no signal comes. The one rule for every back-off the worker's signals end (`Worker.#signalled`), and
 * for those a store call that succeeds after a failure ends (`Worker.#storeAnswered`, `Worker.#heldFor`). A
 * timer of the worker's own (a due durable timer, a lease expiry, a back-off's retry) ends none: it says nothing of the
 * store.
 */
export function retryOnSignalMs(nowMs: number, failedAtMs: number): number {
  return Math.max(nowMs, failedAtMs + MIN_PUMP_RETRY_MS);
}

/** The longest the worker goes without a claim round while its wake-up feed is down and its store answers. */
const FEED_DOWN_CLAIM_MS = 1000;

/**
 * How long the wake timer waits, when the work the store named as due next comes in `dueInMs` (Infinity: none), while
 * the wake-up feed is down (`feedDown`: its re-subscription is pending) or not. With the feed up, until that work is
 * due: the feed signals whatever else is written. With it down, nothing would tell the worker of work written
 * meanwhile (by another process, or by this runtime's client) until the feed's re-subscription, up to MAX_PUMP_RETRY_MS
 * away: the worker claims at most FEED_DOWN_CLAIM_MS apart instead, so no work waits longer for the feed. Only after a
 * claim round that succeeded (`Worker.#armWakeTimer`), or as the feed fails while no claim backs off
 * (`Worker.#claimWhileFeedDown`): a store that fails its claims too is retried on the claims' back-off alone.
 */
export function wakeInMs(dueInMs: number, feedDown: boolean): number {
  return feedDown ? Math.min(dueInMs, FEED_DOWN_CLAIM_MS) : dueInMs;
}

/**
 * How long a wake-up feed must stay up before a failure starts its back-off over (from MIN_PUMP_RETRY_MS): a feed that
 * fails sooner, even after it emitted, has not proven healthy, and its back-off goes on doubling.
 */
const FEED_HEALTHY_MS = 10_000;
/** Delay of the re-check while due work waits for a free concurrency slot. */
const SATURATED_RECHECK_MS = 1000;

/**
 * How long a commit that leases activity tasks to this worker holds the activity slots reserved for them once they
 * keep a claim from taking other activity work (ms on the clock): a commit unanswered by then (a wedged IndexedDB
 * transaction, up to `storeCallTimeoutMs`) gives them back, so other activities are claimed and run meanwhile, and its
 * tasks then run in the slots free as it answers, the others released (`Worker.#startLeased`). The re-check of due work
 * waiting for a slot: a commit slower than that is not one a task should wait for.
 */
const LEASED_SLOTS_HELD_MS = SATURATED_RECHECK_MS;

/**
 * Longest wait the worker hands to one platform timer (60 s) before it reads its clock again. Browsers and some
 * operating systems pause timers while the machine sleeps, but the wall clock moves on: a durable timer or a lease
 * expiry given to one timer for its whole delay would fire late by as much as the machine slept (hours, for a 24 h
 * timer). In steps of at most this, the worker notices the clock's jump within one step of waking. A step that finds
 * nothing due only sets its next timer from `clock.now()`: it reads nothing from the store. Where the global object
 * dispatches `visibilitychange`, `pageshow` or `online` (browsers, Web Workers), the worker also looks at the clock
 * as they come.
 */
export const WAKE_CHECK_MS = 60_000;

/** The events of the global object after which the worker looks at the clock at once (see WAKE_CHECK_MS). */
const WAKE_EVENTS = ['visibilitychange', 'pageshow', 'online'] as const;

/** The global object's `addEventListener`/`removeEventListener`, where it has them (web-standard only). */
type EventHost = {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
};

function eventHost(): EventHost | undefined {
  const host = globalThis as Partial<EventHost>;
  return typeof host.addEventListener === 'function' && typeof host.removeEventListener === 'function' ? host as EventHost : undefined;
}

/**
 * How many times the worker sends a write the store had no room for (`outOfSpace`) before it records the failure: the
 * result of an activity then becomes the activity's failure, a step the instance's (see `#outOfSpaceAgain`).
 */
const SPACE_ATTEMPTS = 3;
/** The most instances whose steps' failures for want of space the worker counts at once (the oldest is forgotten). */
const MAX_SPACE_COUNTS = 1000;

/**
 * For how many activity leases (`activityLeaseMs`) the worker renews the lease of a finished activity whose result the
 * store does not take (see {@link resultRenewalEndMs}).
 */
export const RESULT_RENEWAL_LEASES = 10;

/**
 * Until when (ms on the worker's clock) the lease of an activity whose result's commit began at `commitStartMs` is
 * renewed while the commit is retried: RESULT_RENEWAL_LEASES leases later (50 min with the default `activityLeaseMs` of
 * 5 min). A store that renews the lease but fails the result's commit every time (with an error worth another attempt,
 * never a refusal for good) would otherwise hold the task, an activity slot and a `stop` that waits for all its work
 * (`graceMs: Infinity`) for ever, logging a retry every 30 s. Past it the renewals end at the next failed attempt, the
 * attempts go on while the lease lasts (one lease more at most), then the result is dropped and the lease released:
 * the activity runs again, on this worker or another (activities run at least once). The one rule of the bound of
 * `Worker.#commitResult`.
 */
export function resultRenewalEndMs(commitStartMs: number, activityLeaseMs: number): number {
  return commitStartMs + RESULT_RENEWAL_LEASES * activityLeaseMs;
}

/**
 * How long (ms from `nowMs`) an activity's lease renewals wait before their first renewal, the lease expiring at
 * `expiresAtMs`: until as much of it is left as each later renewal leaves (the lease less one beat of `beatMs`), so a
 * beat at most, and none when less is left already. The renewals of an activity that returned a value begin as its
 * result is committed, maybe late in its lease (the activity took most of it, or its lease was handed out by a commit
 * that took long): a first renewal a whole beat later would come after the lease had expired, and a result commit that
 * hangs meanwhile would let the task be claimed and run again. A clock that gives no valid time (NaN): a beat.
 */
function firstRenewalDelayMs(expiresAtMs: number, nowMs: number, leaseMs: number, beatMs: number): number {
  const delay = expiresAtMs - nowMs - (leaseMs - beatMs);
  return Number.isNaN(delay) ? beatMs : Math.max(0, Math.min(beatMs, delay));
}

/** How long `stop` waits for running work before abandoning it, unless told otherwise. */
export const DEFAULT_STOP_GRACE_MS = 30_000;

/** How the worker's errors name its clock (see `readClock`). */
const WORKER_CLOCK = "the worker's clock";

/**
 * The time of a clock reading in ms, NaN when it is no valid Date: for the worker's scheduling arithmetic only (when a
 * timer fires, whether a feed stayed up), which a NaN leaves to its fallback; nothing is written with it. Read through
 * `Worker.#clockMs` alone. Every time the worker writes or sends is read with `readClock` (`Worker.#now`).
 */
function validMs(now: Date): number {
  return isValidDate(now) ? now.getTime() : Number.NaN;
}

/** The start (ms) of the last life this module began ({@link lifeStart}). */
let lastLifeStart = -Infinity;

/**
 * The start of a new life: the clock's time, but always after the last life begun in this process. `Store.releaseOwner`
 * tells a worker id's lives apart by their starts (`isHeldBy`), so two lives begun in the same millisecond, or on a
 * clock that went back between them (a hand clock that stood still), must still differ in order: otherwise a late
 * release of the earlier life took the later life's leases. Across processes the clocks keep the order.
 */
function lifeStart(now: Date): Date {
  return new Date((lastLifeStart = Math.max(now.getTime(), lastLifeStart + 1)));
}

/** Options of {@link Worker.stop}. */
export interface StopOptions {
  /**
   * How long to wait, in ms on the worker's clock, for running steps and activities to commit before abandoning
   * them (their leases are released, so other workers retry them at once). Default 30 s; `Infinity` waits for all.
   */
  readonly graceMs?: number;
}

/** Settings of a {@link Worker}. */
export interface WorkerOptions {
  readonly store: Store;
  /** Registered orchestrators by name: a Map, so only registered names resolve (never `Object.prototype` members). */
  readonly orchestrators: ReadonlyMap<string, Orchestrator>;
  /** Registered activities by name (a Map, as `orchestrators`). */
  readonly activities: ReadonlyMap<string, Activity>;
  readonly clock: Clock;
  /** Fresh ids for messages and executions. */
  readonly newId: NewId;
  readonly logger: Logger;
  /** Worker id. Leases record it, with this life's mark when the worker releases leases by id (see `#leaseOwner`). */
  readonly owner: string;
  /** The counters to go on from (an earlier life's, for a runtime started again); all zero when absent. */
  readonly metrics?: WorkerMetrics | undefined;
  /**
   * True when `owner` was chosen by the application, so an earlier life (a restarted process) may have used it: the
   * worker releases the leases of that id's earlier lives on start, before it claims anything.
   */
  readonly ownerReused?: boolean;
  readonly orchestrationLeaseMs: number;
  readonly activityLeaseMs: number;
  readonly maxConcurrentOrchestrations: number;
  readonly maxConcurrentActivities: number;
  readonly cacheSize: number;
  readonly customStatusLimitBytes: number;
  /**
   * Longest wait, in ms on `clock`, for one store call (> 0; `Infinity`: only leases bound the calls). A call made
   * under a lease also ends when that lease expires: a claim after the lease it asks for, a lease renewal at the next
   * one. A step's history read and commit and an activity's result commit are bounded
   * by this option alone (with `Infinity`, by what is left of the lease, and at least `orchestrationLeaseMs` or
   * `activityLeaseMs`). A call that has
   * not settled by then is abandoned: the worker logs it, gives back what it holds, leaves the lease to lapse (so
   * another worker or a later claim takes the work) and serves other work meanwhile; what the call does later is
   * ignored. Calls without a lease (the next wake time, releasing leases) end after this time only.
   */
  readonly storeCallTimeoutMs: number;
  /**
   * Where the worker records its id, so that its next life (a reloaded tab) releases the leases this one leaves
   * behind as soon as this one has ended, instead of waiting for them to expire (see {@link LeaseSuccession}).
   * Absent: nothing is recorded.
   */
  readonly leaseStorage?: LeaseStorage;
  /** Web Locks for the lease succession; default `navigator.locks`. */
  readonly locks?: WorkerLocks;
  /** Purge ended instances once their period has passed ({@link RetentionSweep}); absent: never. */
  readonly retention?: RetentionOptions | undefined;
}

/**
 * How a client in the worker's runtime hands the instances it starts straight to the worker: the start is committed
 * already leased to the worker (`CreateInstanceWrite.lease`), which then runs the first step without claiming it.
 */
export interface StartHandOff {
  /**
   * A lease for an instance about to be started, with a step slot reserved for it; `undefined` when the worker is
   * not running, is stopping, has no free slot or its store cannot store leased starts (then the worker claims it).
   * Every lease given must be followed by `started` or `cancelled`; until then it counts as running work, which
   * `stop` waits for.
   */
  lease(now: Date): Lease | undefined;
  /**
   * True when the worker is running with a free step slot: it claims a message committed now without waiting for
   * one. The client then leaves it a rewind whole (the step that rewrites the history runs the code too) rather than
   * commit the rewrite itself and leave the rerun to a later claim.
   */
  claimsNow(): boolean;
  /**
   * True from `start` until `stop` begins, whatever the worker's load: busy (every step slot in use), backing off after
   * a failed claim or waiting for its lease succession, it still applies what is queued, in order. A client whose own
   * worker is running therefore never commits a command ahead of a message queued before it.
   */
  running(): boolean;
  /**
   * The start committed with `item.lease`: the worker runs its first step in the next macrotask, so the reads its
   * caller issues right after the start resolves show it Pending (read-your-writes); `stop` runs it at once (released).
   */
  started(item: OrchestrationWorkItem): void;
  /**
   * The state a start given to `started` was committed with, until its first step begins (the macrotask after
   * `started`) and while its lease lasts; `undefined` otherwise. Meanwhile nothing else changes the instance: it is
   * leased to this worker, so every other write to it is refused or queued as a message, and this worker has not
   * taken it up. So it is what a read of the store would return, and the client answers its reads with a copy of it
   * (read-your-writes without a read).
   */
  startedState(instanceId: string): InstanceState | undefined;
  /**
   * A start or restart of the client begins its commit: until one macrotask after the returned function is called (once
   * the commit has settled), a wake-up that finds the worker idle claims nothing, so the reads the caller issues right
   * after the command resolves show the new execution Pending, not Running, on every store (an IndexedDB read
   * transaction made before the claim's sees the state before it). A worker already claiming may still take it up.
   * Wake-ups held meanwhile claim then; `stop` ends every hold.
   */
  holdWakes(): () => void;
  /**
   * The start with this lease was not committed: its slot is given back. With `unconfirmed`, its commit failed with an
   * error that says it may have been applied all the same (`mayHaveApplied`): the worker releases the lease it may
   * have been stored under, so another claim runs it at once instead of once that lease has lapsed.
   */
  cancelled(unconfirmed?: UnconfirmedStart): void;
  /**
   * The commit of a start given back with `cancelled`, abandoned unsettled at the client's bound, settled after all: the
   * worker releases the lease it may have stored the instance under again (the release at `cancelled` came before the
   * commit landed and found nothing), also while it stops, so the instance is claimed at once instead of once that lease
   * has lapsed (`orchestrationLeaseMs`); not once its stop has ended.
   */
  landed(start: UnconfirmedStart): void;
}

/** A start whose commit may have stored it under the lease its {@link StartHandOff} gave. */
export interface UnconfirmedStart {
  readonly instanceId: string;
  readonly lease: Lease;
}

/** Counters of worker and engine work (monotonic). */
export interface WorkerMetrics {
  /** Orchestration steps committed. */
  readonly steps: number;
  /** Steps that found their execution in the cache. */
  readonly cacheHits: number;
  /** Steps that had to replay a non-empty history. */
  readonly cacheMisses: number;
  /** History events replayed on cache misses. */
  readonly eventsReplayed: number;
  /** New events applied by steps. */
  readonly eventsApplied: number;
  /** Activities run to completion (success or failure). */
  readonly activitiesRun: number;
  /** Commits refused because another worker took the lease over. */
  readonly leasesLost: number;
}

/** Every counter zero: a worker's counters before its first step (and a runtime's before its first start). */
export const NO_WORKER_METRICS: WorkerMetrics = { steps: 0, cacheHits: 0, cacheMisses: 0, eventsReplayed: 0, eventsApplied: 0, activitiesRun: 0, leasesLost: 0 };

/**
 * The imperative shell: claims work from the store, runs the engine, runs activities and commits. It does not poll: it
 * wakes on `store.workAvailable$` and on one timer set for `store.nextWakeTime()`; only while that feed is down does
 * the timer also claim at most a second apart (`wakeInMs`).
 */
export class Worker {
  readonly #o: WorkerOptions;
  readonly #cache: ExecutionCache;
  /** Pumps, steps and activities started and not yet settled; `stop` waits for them. */
  #inFlight = 0;
  /** Called when `#inFlight` drops to 0 (set by `stop` while it waits). */
  #drained: (() => void) | undefined;
  #orchestrationsRunning = 0;
  /** Holds of {@link StartHandOff.holdWakes} not yet over, and whether a pump was asked for during them. */
  #startsCommitting = 0;
  #pumpHeld = false;
  /** Starts given to {@link StartHandOff.started} whose first step has not begun yet, by instance id. */
  readonly #startsWaiting = new Map<string, OrchestrationWorkItem>();
  /** Leases handed to a client's start ({@link StartHandOff}) and not yet `started` or `cancelled`. */
  #handOffs = 0;
  #activitiesRunning = 0;
  /** The subscription to `store.workAvailable$`, while one is open. */
  #subscription: Subscription | undefined;
  /** `start` was called. */
  #started = false;
  /**
   * The timer that subscribes to `store.workAvailable$` again after it failed, and its failures in a row so far (each
   * within FEED_HEALTHY_MS of its subscription).
   */
  readonly #resubscribeTimer: FallbackTimer;
  #feedFailures = 0;
  /**
   * The wake-up feed failed and the clock failed to arm its re-subscription (`#resubscribeIn`): the wake timer, kept
   * within FEED_DOWN_CLAIM_MS as while any feed is down, subscribes again as it fires (`#wakeTimerFired`).
   */
  #feedUnarmed = false;
  /** When the wake-up feed last failed, and when its re-subscription comes (ms on the clock): see `#storeAnswered`. */
  #feedFailedAtMs = Number.NaN;
  #resubscribeAtMs = Infinity;
  /**
   * The store failed a call since the last one that succeeded: a claim round, or a result commit in an outage (not one
   * the store refused alone, see `#heldFor`). See `#storeAnswered`.
   */
  #storeFailed = false;
  /** Store calls that succeeded so far (claim rounds, commits): a result commit's failure reads it (`#heldFor`). */
  #answers = 0;
  /** The store was lost by its close (`#storeLost` met a `StoreClosedError`): whoever closed it knows, nothing is said. */
  #storeClosed = false;
  /** A claim round of this worker was answered: a store closed before it is reported (`#storeLost`). */
  #claimedOnce = false;
  /** The one wake timer: on the clock, or on the platform's when the clock failed to arm it (`#setWakeTimer`). */
  readonly #wakeTimer: FallbackTimer;
  /** When the wake timer fires, in ms on the worker's clock (set with `#wakeTimer`). */
  #wakeAtMs = Infinity;
  /** Whether the wake timer set is a step of a longer wait (WAKE_CHECK_MS), to be set again from the clock's time. */
  #wakeStepped = false;
  /** Whether the worker listens to the global object's WAKE_EVENTS. */
  #listening = false;
  #pumping = false;
  #pumpAgain = false;
  /** Failed pumps in a row (the back-off's exponent); progress (work claimed, a step or result committed) ends it. */
  #pumpFailures = 0;
  /**
   * A failed pump's retry is pending on the wake timer: until it fires (or the store commits for this worker), wake-ups
   * wait for it, so a burst of signals during an outage neither costs an attempt each nor lengthens the back-off; a
   * store signal brings the retry forward though (`#signalled`).
   */
  #backingOff = false;
  /** When the last failed pump failed (ms on the clock; NaN when the clock failed): see `#signalled`. */
  #failedAtMs = Number.NaN;
  /**
   * The result commits waiting to be retried (`#heldFor`), each brought forward by a store signal (`#signalled`) or a
   * store call that succeeds after a failure (`#storeAnswered`): only those that failed in an outage (`#heldFor`).
   */
  readonly #retryWaits = new Set<(nowMs: number) => void>();
  /**
   * When the work the store last named comes due (ms on the clock; see `#armWakeTimer`), or a lease this worker left to
   * lapse expires if sooner (`#leaseLeft`): a back-off never wakes the worker later than that, though a retry timer took
   * the wake timer's place meanwhile.
   */
  #dueAtMs = Infinity;
  /**
   * The delay of the next re-check when a pump claims nothing while the store says work is due at the claim's `now`
   * (see `#armWakeTimer`): 0 at first, then 10 ms doubling to 1 s; back to 0 when a claim takes work.
   */
  #recheck = 0;
  /** Wake-ups so far: the store's work signals and the worker's timers (see `#activitiesIdle`). */
  #wakeUps = 0;
  /**
   * The last activity claim found nothing and no wake-up came since it was issued: no activity task can be claimable,
   * so the claims after a step (which frees a slot and pumps) skip the activity side. A wake-up clears it.
   */
  #activitiesIdle = false;
  /** The claimed steps running now: `stop` releases their leases when they outlast its grace period. */
  readonly #heldSteps = new Set<OrchestrationWorkItem>();
  /** The activities running now, with their heartbeat while one runs (as `#heldSteps`). */
  readonly #heldActivities = new Map<ActivityWorkItem, Heartbeat | undefined>();
  /** The activity tasks given up whose leases this worker releases as they expire (`#giveUp`), with their waits' cancels. */
  readonly #givenUp = new Map<ActivityWorkItem, () => void>();
  /**
   * The releases of given-up leases under way (`#releaseGivenUp`): a stop awaits them, each bounded as any release, so
   * none is cut off by the stop's end.
   */
  readonly #givenUpReleases = new Set<Promise<void>>();
  /**
   * Until when (ms on the clock) a given-up lease of this life left to lapse may still be held: its release failed, was
   * abandoned at its bound or could not be sent (a lost store: Infinity). A late renewal may hold it up to one lease
   * past the release (`#releaseGivenUp`), so a stop before then is not clean (the next life releases it); a stop after
   * it finds that lease expired, and nothing of it left for a next life. -Infinity while no release was left so.
   */
  #lapsedUntilMs = -Infinity;
  #succession: LeaseSuccession | undefined;
  /** Claims may begin (a reused id's earlier leases were released): starts may be leased to this worker. */
  #claiming = false;
  /** A claim round skipped a kind of work because its concurrency limit was reached: a finishing one pumps again. */
  #limited = false;
  #stopping = false;
  /** The worker stopped itself because its store serves no call any more (`#storeLost`): nothing is committed after. */
  #storeGone = false;
  /**
   * The stop has ended the wait for every store call (its last act): no release starts after it, as nothing of the
   * worker outlives its stop. Until then, a stopping worker still releases what it will not run.
   */
  #ended = false;
  /**
   * The releases of activity tasks a commit leased to this worker once it was stopping, which it does not run (see
   * {@link #startLeased}), each true when released; the stop awaits them all, those added while it waits too.
   */
  readonly #unrun: Promise<boolean>[] = [];
  /**
   * The commits in flight that lease activity tasks to this worker, each by the activity slots it holds for them
   * ({@link #leasingCommit}; none left once given back, until it answers): a stop that ends before they answer is not
   * clean.
   */
  readonly #slotHolds = new Set<SlotHold>();
  /** Whether arming that deadline failed since it last armed (a failing clock is reported once: `FirstFailure`). */
  readonly #giveBackFailures = new FirstFailure();
  /** Cancels the deadline that gives those slots back ({@link #giveBackSlotsSoon}), while one is armed. */
  #slotsGiveBack: (() => void) | undefined;
  #stopped: Promise<void> | undefined;
  /**
   * The store calls in flight (see {@link #bounded}), on one timer for the earliest deadline. While the worker runs the
   * timer lingers when no call is pending (calls follow each other); the end of `stop` ends every call, and from then
   * on the timer is let go as soon as no call is pending.
   */
  readonly #calls: DeadlineList;
  /**
   * The instances whose last step commits the store had no room for (`outOfSpace`), with how many in a row, kept from
   * one claim of the instance to the next (each a lease apart); an instance leaves it when a step of it is committed.
   */
  readonly #spaceFailures = new Map<string, number>();
  /**
   * The worker's event-loop turns ({@link Turns}): a long burst of work on promise jobs alone waits for a timer turn
   * before its next claim round or step.
   */
  readonly #turns = new Turns();
  #metrics: { -readonly [K in keyof WorkerMetrics]: number };
  /** The retention sweeps, when `retention` was given: armed by `start`, released by `stop`. */
  readonly #sweep: RetentionSweep | undefined;

  constructor(options: WorkerOptions) {
    // Every timer of the worker, its deadline list's and its retention sweeps' too, is set and cleared through this one
    // guarded clock: what a custom clock throws is reported once, never thrown into a stop, a feed or a timer.
    const clock = guardClock(options.clock, options.logger, WORKER_CLOCK);
    this.#o = options = { ...options, clock };
    this.#metrics = { ...(options.metrics ?? NO_WORKER_METRICS) };
    this.#leaseOwner = options.leaseStorage || options.ownerReused ? lifeLeaseOwner(options.owner, lifeStart(readClock(options.clock, WORKER_CLOCK))) : options.owner;
    this.#cache = new ExecutionCache(options.cacheSize);
    this.#calls = new DeadlineList(clock, true, WORKER_CLOCK, options.logger);
    this.#wakeTimer = new FallbackTimer(clock, this.#wakeTimerFired, { retries: true });
    this.#resubscribeTimer = new FallbackTimer(clock, this.#resubscribe);
    this.#sweep = options.retention && new RetentionSweep({
      store: options.store, clock, logger: options.logger, retention: options.retention,
      bounded: (call, what) => this.#bounded(call, what),
    });
  }

  /**
   * The worker's clock, read as the claims read it (`readClock`): a RangeError when it returns no valid Date
   * (a custom `Clock` gone wrong), before anything is decided, bounded or written with it; each caller's failure path
   * logs it (a failed step or activity, a failed renewal, a claim round retried later).
   */
  #now(): Date {
    return readClock(this.#o.clock, WORKER_CLOCK);
  }

  /** Fresh lease tokens for the activity tasks and starts this worker leases in its own commits. */
  readonly #newToken = leaseTokens();

  /**
   * The owner recorded in this life's leases. A worker that releases leases by its id (a given id, a `leaseStorage`)
   * marks them with this life (`lifeLeaseOwner`) and names it in every `Store.releaseOwner` it sends: a release by
   * its id then takes the leases of its earlier lives only, never this life's, even when the store applies it after
   * the worker gave up waiting for it and claimed.
   */
  readonly #leaseOwner: string;

  /** A snapshot of the counters. */
  get metrics(): WorkerMetrics {
    return { ...this.#metrics };
  }

  /** Starts processing. */
  start(): void {
    if (this.#started || this.#stopping) return;
    this.#started = true;
    this.#listenForWakeEvents(true);
    this.#subscribeWork();
    this.#sweep?.start();
    const { leaseStorage, ownerReused = false } = this.#o;
    if (!leaseStorage && !ownerReused) {
      this.#claiming = true;
      this.#requestPump();
      return;
    }
    this.#succession = new LeaseSuccession({
      releaseOwner: (id) => this.#bounded(() => this.#o.store.releaseOwner(id, this.#leaseOwner), 'releaseOwner'),
      logger: this.#o.logger, owner: this.#o.owner, ownerReused,
      storage: leaseStorage, locks: this.#o.locks,
    });
    // Claims wait only when this id's own earlier leases are being released, so the work those lives held is claimable
    // when claims begin; a release abandoned at its bound holds them no longer (applied later, it takes no lease of
    // this life). The leases of earlier lives with other ids are released meanwhile, as each of those lives ends (the
    // store then signals work).
    // Not tracked: it may wait for as long as another tab runs, and `stop` ends that wait instead of draining it.
    void this.#succession.begin().then(() => {
      this.#claiming = true;
      this.#requestPump();
    });
  }

  /**
   * Subscribes to the store's wake-up feed. A feed that fails is subscribed to again after a back-off (as a failed
   * claim is retried), and the worker then claims what was written meanwhile: with no feed, nothing but its timer (due
   * timers, lease expiries) would wake it, and work another process or this runtime's client wrote (an event raised to
   * a waiting instance) would wait for ever. The back-off starts over only after a feed that stayed up for
   * FEED_HEALTHY_MS: an emission proves nothing (a feed that signals once and fails at once was subscribed to again every
   * 100 ms for ever). A feed that completes (a closed store) is left so; one that fails because the store serves no call
   * any more (`isStoreClosed`: an IndexedDB database another tab upgraded or deleted) stops the worker (`#storeLost`).
   */
  #subscribeWork(): void {
    this.#resubscribeTimer.clear();
    if (this.#stopping) return;
    // A clock that returns no valid Date (its claims log that) leaves the back-off growing: no feed is known healthy.
    const sinceMs = this.#clockMs();
    const subscription = this.#o.store.workAvailable$.subscribe({
      next: () => this.#signalled(),
      error: (error: unknown) => {
        this.#subscription = undefined;
        if (isStoreClosed(error)) return this.#storeLost(error);
        const failedAtMs = (this.#feedFailedAtMs = this.#clockMs());
        if (failedAtMs - sinceMs >= FEED_HEALTHY_MS) this.#feedFailures = 0;
        const delay = Math.min(MAX_PUMP_RETRY_MS, MIN_PUMP_RETRY_MS * 2 ** this.#feedFailures++);
        this.#o.logger.error(`store.workAvailable$ failed; subscribing again in ${delay} ms`, error);
        if (this.#stopping) return;
        this.#resubscribeIn(failedAtMs, delay);
        this.#claimWhileFeedDown(failedAtMs);
      },
    });
    // A feed that failed while it was being subscribed has a timer to subscribe again already.
    if (!subscription.closed) this.#subscription = subscription;
  }

  readonly #resubscribe = (): void => {
    this.#resubscribeAtMs = Infinity;
    this.#subscribeWork();
    this.#signalled();
  };

  /**
   * The wake-up feed failed at `nowMs`: the wake timer is brought forward to claim within FEED_DOWN_CLAIM_MS (`wakeInMs`),
   * unless claims have not begun (their first pump arms it) or back off after a failure (their retry comes first, and a
   * store that fails its claims is not tried more often for its feed); the pumps after it keep it so while the feed is
   * down (`#armWakeTimer`). A clock that returns no valid Date leaves it: the pump fails on it and backs off.
   */
  #claimWhileFeedDown(nowMs: number): void {
    if (!this.#claiming || this.#backingOff || Number.isNaN(nowMs)) return;
    const delay = wakeInMs(this.#wakeAtMs - nowMs, true);
    if (this.#wakeAtMs > nowMs + delay) this.#setWakeTimer(nowMs, delay);
  }

  /**
   * (Re)arms the re-subscription of the wake-up feed to come `delay` ms after `nowMs`. Armed before the one set before
   * is cleared: a clock whose setTimeout throws leaves that one, logged, and throws nothing into the feed's handler or
   * the answer that brought it forward; with none set before, the wake timer subscribes again (`#feedUnarmed`).
   */
  #resubscribeIn(nowMs: number, delay: number): void {
    try {
      // Only the timer armed last subscribes (`FallbackTimer`): one the clock failed to clear fires into nothing, or a
      // second subscription would replace the first, which then had no owner to release it at stop.
      this.#resubscribeTimer.arm(delay);
    } catch (error) {
      this.#o.logger.error("the worker's clock failed to arm the re-subscription of store.workAvailable$; the wake timer subscribes again", error);
      if (!this.#resubscribeTimer.armed) this.#feedUnarmed = true;
      return;
    }
    this.#resubscribeAtMs = nowMs + delay;
  }

  /**
   * The store failed with an error after which it serves no call any more (`isStoreClosed`: it was closed, or it lost
   * its database for good, as an IndexedDB store does when another tab upgrades or deletes the database): nothing the
   * worker tried again could succeed, and a worker that backed off for ever would hold what it holds (the leader lock of
   * a tab, its life's lock) for ever too. So it stops, with no grace: nothing that runs could be committed to such a
   * store, and a grace would only keep the stop (and, in a tab, `runAsLeader`'s hand-over of the lock) waiting on an
   * activity for up to 30 s. What runs is abandoned at once, and an activity that settles later commits nothing
   * (`#storeGone`). A later `stop()` returns this stop's promise. Logged once, unless the store was closed
   * (`StoreClosedError`): whoever closed it knows. A worker that never claimed anything on it, refused a call as it was
   * made (`beforeCall`: a runtime started on a store closed already), says so, or its `start()` would have resolved
   * with nothing ever to run and nothing said; a close that overtakes its first claim under way (a store still opening
   * its database) is the closer's doing, and is not reported. Called from any path that meets the error.
   */
  #storeLost(error: unknown): void {
    if (this.#stopping) return;
    this.#storeGone = true;
    this.#storeClosed = error instanceof StoreClosedError;
    if (!(error instanceof StoreClosedError)) this.#o.logger.error('the store can serve no call any more; the worker stops', error);
    else if (error.beforeCall && !this.#claimedOnce) this.#o.logger.error('the store was closed before this worker claimed anything; it stops and runs nothing', error);
    this.stop({ graceMs: 0 }).catch((failed: unknown) => this.#o.logger.error('stopping the worker failed', failed));
  }

  /**
   * Stops claiming, waits up to `graceMs` (on the worker's clock) for in-flight steps and activities to commit, then
   * abandons what is still running: its leases are released so another worker takes the work over at once, and a
   * result that arrives later is refused by the store. The leases of activity tasks whose results were given up are
   * released too, and waited for within their bounds whatever the grace. Every release after the grace is waited for
   * within one bound (`#releasesBound`): the stop ends at most `graceMs` plus `min(storeCallTimeoutMs, longest lease)`
   * after it began. Releases the subscription and timers.
   * Idempotent: later calls return the first call's promise.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true;
      // The leases of given-up activity tasks are released now (tracked: the stop waits for them below).
      for (const item of [...this.#givenUp.keys()]) this.#releaseGivenUp(item);
      this.#listenForWakeEvents(false);
      this.#succession?.stopWaiting();
      // The sweep's timer is released now; a sweep under way stops at its next page (its store call ends below).
      const sweepEnded = this.#sweep?.stop();
      // What waits for a turn goes on now (a step sees the stop and is not run); no turn is asked for after.
      this.#turns.close();
      try {
        // The misuse records still waiting for a change: their marks are left (see #recordMisuse). A feed whose
        // teardown throws keeps neither the others nor the wake-up feed subscribed: its error rejects the stop after.
        let failed: { readonly error: unknown } | undefined;
        for (const feed of this.#misuseFeeds) {
          try {
            feed.unsubscribe();
          } catch (error) {
            failed ??= { error };
          }
        }
        this.#misuseFeeds.clear();
        this.#subscription?.unsubscribe();
        if (failed) throw failed.error;
      } finally {
        // A feed whose teardown throws (rxjs's UnsubscriptionError) still has every step of the stop run: the wait,
        // the release of what outlasts the grace, the succession's end. The error rejects the stop after.
        this.#subscription = undefined;
        this.#resubscribeTimer.clear();
        this.#resubscribeAtMs = Infinity;
        this.#clearWakeTimer();
        const graceMs = options.graceMs ?? DEFAULT_STOP_GRACE_MS;
        let clean = true;
        const drained = this.#inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
        let abandon = false;
        if (graceMs === 0) {
          // No grace: what runs is abandoned now, with no grace timer (on a clock nobody advances it would never fire).
          abandon = this.#inFlight > 0;
        } else if (graceMs === Infinity) {
          await drained;
        } else {
          // On the timer of the store calls, which waits in steps of at most MAX_TIMER_DELAY_MS: a longer delay given
          // to one timer fires early (Node and browsers fire it at once; the system clock clamps it to 24.8 days),
          // which would abandon work the grace still covers.
          let cancelGrace: (() => void) | undefined;
          const graceOver = new Promise<true>((resolve) => {
            try {
              cancelGrace = this.#calls.add(graceMs, () => resolve(true));
            } catch (error) {
              // A clock that returns no valid Date cannot time the grace: logged, and what runs is abandoned now.
              this.#o.logger.error('stop could not time its grace', error);
              resolve(true);
            }
          });
          abandon = await Promise.race([drained.then(() => false), graceOver]);
          cancelGrace?.();
        }
        // From here on the stop waits for releases only, each within its own bound, and all of them within one bound
        // from the grace's end (`#releasesBound`): a release that a late commit's answer starts after another release
        // has waited its whole bound does not add its own to it.
        const bound = this.#releasesBound();
        try {
          if (abandon && !(await bound.within(this.#abandonHeld()))) clean = false;
          // The tasks commits leased as the stop began, released instead of run: all of them, those a commit that landed
          // during these waits added too (the last check and what follows it run without a pause, so none comes after).
          for (let i = 0; i < this.#unrun.length; i++) if (!(await bound.within(this.#unrun[i]!))) clean = false;
          // The releases of given-up leases, sent as the stop began or before it, each within its bound: with no grace
          // (or a grace over) they were still under way, and the end of the stop below would have cut them off.
          while (this.#givenUpReleases.size > 0) {
            if (!(await bound.within(Promise.all(this.#givenUpReleases).then(() => true)))) {
              clean = false;
              break;
            }
          }
        } finally {
          bound.cancel();
        }
        // A lease left to lapse makes the stop unclean only while it may still be held (a clock that gives no valid time
        // cannot tell: not clean).
        if (this.#lapsedUntilMs > -Infinity && !(this.#clockMs() >= this.#lapsedUntilMs)) clean = false;
        // A commit still unanswered (the grace over) may have leased tasks this life will never run or release: its
        // id is kept, so that its next life releases them (`Store.releaseOwner`) instead of waiting for them to lapse.
        if (this.#slotHolds.size > 0) clean = false;
        this.#clearWakeTimer();
        this.#cache.clear();
        // A store call the stop no longer waits for (one of abandoned work, a renewal, a release of an earlier life's
        // leases) ends its wait here, with its timer: nothing of the worker outlives its stop.
        this.#ended = true;
        this.#calls.lingers = false;
        this.#calls.endAll(() => new StoreClosedError('the worker stopped'));
        await sweepEnded;
        // When every lease of this life was committed or released, nothing is left for a next life to take over.
        this.#succession?.end(clean);
      }
    })();
    return this.#stopped;
  }

  /**
   * The one bound of the releases a stop waits for after its grace: `storeCallTimeoutMs`, and no more than the longest
   * lease (`orchestrationLeaseMs`, `activityLeaseMs`), from now. Each release is bounded by both already (`#bounded`,
   * by the lease it releases); this bound ends a chain of them (a commit answered at the end of its bound, whose tasks'
   * releases wait theirs), so the stop ends within `graceMs` plus it. `within` resolves with the promise's value, or
   * false once the bound has passed. A clock that cannot time it leaves each release to its own bound.
   */
  #releasesBound(): { within(waited: Promise<boolean>): Promise<boolean>; cancel(): void } {
    const { storeCallTimeoutMs, orchestrationLeaseMs, activityLeaseMs } = this.#o;
    let cancel: () => void = () => undefined;
    const over = new Promise<false>((resolve) => {
      try {
        cancel = this.#calls.add(Math.min(storeCallTimeoutMs, Math.max(orchestrationLeaseMs, activityLeaseMs)), () => resolve(false));
      } catch (error) {
        this.#o.logger.error('stop could not time its releases', error);
      }
    });
    return { within: (waited) => Promise.race([waited, over]), cancel: () => cancel() };
  }

  /**
   * Releases the lease of every step and activity still running (best effort: a failure is logged; none is tried on a
   * lost store). True when all were released.
   */
  async #abandonHeld(): Promise<boolean> {
    const { logger } = this.#o;
    // What to release, each named by the instance it belongs to for the log, with the expiry of its lease (renewed by
    // a heartbeat, for an activity): the release is not waited for past it.
    const held: [string, () => Promise<void>, number][] = [];
    for (const item of this.#heldSteps) held.push([item.state.instanceId, () => this.#release(item), item.lease.expiresAt.getTime()]);
    for (const [item, heartbeat] of this.#heldActivities) {
      heartbeat?.stop();
      // The latest expiry a renewal sent may give it: one abandoned unanswered may still apply.
      held.push([item.task.instanceId, () => this.#release(item), Math.max(item.lease.expiresAt.getTime(), heartbeat?.latest ?? 0)]);
    }
    this.#heldSteps.clear();
    this.#heldActivities.clear();
    // A start still committing under a handed-out lease cannot be released yet: `started` releases it if it can, and
    // the stop is not clean, so the next life releases it otherwise.
    const starting = this.#handOffs;
    // A lost store (#storeLost) can release nothing: what runs is abandoned, its leases left to lapse or to the next
    // life's release of this worker's id (the stop is not clean), without a failed release logged per item.
    const gone = this.#storeGone;
    // A close abandons them silently, as it stops the worker (`#storeLost`).
    // Those whose leases have expired (a step whose commit runs past its lease) are not released (`#releaseLogged`).
    const nowMs = this.#clockMs();
    const lapsed = held.filter(([, , untilMs]) => hasLapsed(untilMs, nowMs)).length;
    const how = gone ? 'abandoned: the store is lost' : lapsed === 0 ? 'leases released' : `${held.length - lapsed} leases released, ${lapsed} lapsed`;
    if (held.length + starting > 0 && !this.#storeClosed) logger.warn(`stopped with ${held.length} steps or activities running (${how}) and ${starting} starts committing`);
    if (gone) return false;
    const released = await Promise.all(held.map(([instanceId, release, untilMs]) => this.#releaseLogged(instanceId, release, untilMs)));
    return starting === 0 && released.every(Boolean);
  }

  /**
   * `commit`, with the activity slots reserved for the tasks it leases to this worker (`slots`) in {@link #slotHolds}
   * while it is unanswered, for a claim they block to give back (`#giveBackSlotsSoon`) and for a stop to know; handed
   * back as it is otherwise (most steps: no frame or promise more on the commit's path).
   */
  #leasingCommit(slots: SlotHold, commit: Promise<unknown>): Promise<unknown> {
    if (slots.held === 0) return commit;
    this.#slotHolds.add(slots);
    return commit.finally(() => void this.#slotHolds.delete(slots));
  }

  /**
   * A claim round found no free activity slot while commits under way hold slots for the tasks they lease
   * (`#slotHolds`): unless one is armed already, a deadline gives those commits' slots back once they have been held
   * LEASED_SLOTS_HELD_MS more, so a slow commit starves no other activity; its tasks then take the slots free as it
   * answers (`#startLeased`). Armed only then: a worker whose claims no reservation blocks sets no timer for them. A
   * hold given back already (none left, its commit still unanswered) counts for nothing: armed for it, the deadline
   * gave back nothing and pumped, a claim round and a wake-time read each second until the commit answered. A clock
   * that cannot time it (its reading no valid Date, its setTimeout throwing) leaves them held until the answers,
   * logged once until a deadline is armed again (each blocked claim round tries).
   */
  #giveBackSlotsSoon(): void {
    if (this.#slotsGiveBack) return;
    const holds = [...this.#slotHolds].filter((slots) => slots.held > 0);
    if (holds.length === 0) return;
    try {
      this.#slotsGiveBack = this.#calls.add(LEASED_SLOTS_HELD_MS, () => {
        this.#slotsGiveBack = undefined;
        for (const slots of holds) {
          this.#activitiesRunning -= slots.held;
          slots.held = 0;
        }
        this.#slotFreed();
      });
      this.#giveBackFailures.ok();
    } catch (error) {
      // Held until the answers, which give them back (`#leasingCommit`).
      if (this.#giveBackFailures.failed()) this.#o.logger.error("the worker's clock failed to arm the deadline that gives back the activity slots a slow commit holds; they come back as it answers", error);
    }
  }

  /**
   * Releases a lease, within its bound and not past `untilMs` (the lease's expiry, ms on the clock: a release still
   * unanswered then is abandoned, which bounds it even with a `storeCallTimeoutMs` of `Infinity`, so a stop waiting for
   * it ends): true when released, or when the lease has lapsed (`hasLapsed`), already (nothing is sent) or by the time
   * the release failed or was abandoned (at that bound, most often): nothing of it is held then, whatever the release
   * does later. A failure is logged (unless the store closed).
   */
  async #releaseLogged(instanceId: string, release: () => Promise<void>, untilMs: number): Promise<boolean> {
    if (hasLapsed(untilMs, this.#clockMs())) return true;
    try {
      await this.#bounded(release, 'release', untilMs);
      return true;
    } catch (error) {
      if (!isStoreClosed(error)) this.#o.logger.error(`releasing a lease of ${instanceId} failed`, error);
      return hasLapsed(untilMs, this.#clockMs());
    }
  }

  // ---------------------------------------------------------------- scheduling

  /**
   * The store signalled work: its feed emitted, or was subscribed again (in place of what it missed while down). A
   * wake-up (`#wake`) that also brings forward the retries backing off after a failure (`retryOnSignalMs`): the failed
   * pump's (`#backingOff`) and those of the result commits that failed in an outage (`#bringCommitsForward`,
   * `#heldFor`). A timer of the worker's own (a due durable timer, a lease expiry, the pump's back-off)
   * says nothing of the store, so it wakes the worker without.
   */
  #signalled(): void {
    if (this.#backingOff || this.#retryWaits.size > 0) {
      const nowMs = this.#clockMs();
      // NaN (a clock that returns no valid Date) leaves every retry where it is.
      const retryMs = retryOnSignalMs(nowMs, this.#failedAtMs);
      if (this.#backingOff && this.#wakeAtMs > retryMs) this.#setWakeTimer(nowMs, retryMs - nowMs);
      this.#bringCommitsForward(nowMs);
    }
    this.#wake();
  }

  /**
   * Brings the result commits' retries (`#retryWaits`) forward as `retryOnSignalMs` says, at `nowMs` (NaN: not at
   * all): those that failed in an outage, not those the store refused while it served other calls.
   */
  #bringCommitsForward(nowMs: number): void {
    for (const bringForward of this.#retryWaits) bringForward(nowMs);
  }

  /** A wake-up: the store signalled work (`#signalled`), or a timer of the worker fired. It asks for a pump. */
  #wake(): void {
    this.#wakeUps++;
    this.#activitiesIdle = false;
    this.#requestPump();
  }

  #requestPump(): void {
    // Before claims may begin (a reused id's earlier leases are being released) a signal claims nothing: the release
    // would take the lease of what it claimed from under it. Claims begin with a pump of their own.
    // During a back-off the retry claims what a wake-up asks for (see `#backingOff`).
    if (this.#stopping || !this.#claiming || this.#backingOff) return;
    if (this.#startsCommitting > 0 && !this.#pumping) {
      // An idle worker claims nothing while a start of the client commits, until a macrotask after (`holdWakes`).
      this.#pumpHeld = true;
      return;
    }
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    this.#track(this.#pump());
  }

  async #pump(): Promise<void> {
    try {
      // A request that arrives during any await below sets #pumpAgain; the loop condition is the last thing checked
      // before #pumping is cleared (synchronously), so no wake-up is ever lost.
      do {
        this.#pumpAgain = false;
        const claimedAt = await this.#claimAll();
        if (!this.#pumpAgain && !this.#stopping) await this.#armWakeTimer(claimedAt ?? this.#now());
      } while (this.#pumpAgain && !this.#stopping);
      this.#pumpFailures = 0;
      if (this.#storeFailed) this.#storeAnswered();
      else this.#answers++;
    } catch (error) {
      if (isStoreClosed(error)) return this.#storeLost(error);
      // A claim or wake-time read failed (the store is unreachable?): try again later, backing off, so the worker
      // neither stalls until the next write nor hammers a failing store. The delay doubles per failed attempt, not
      // per wake-up: wake-ups wait for the retry meanwhile (`#requestPump`).
      let delay = Math.min(MAX_PUMP_RETRY_MS, MIN_PUMP_RETRY_MS * 2 ** this.#pumpFailures++);
      this.#storeFailed = true;
      if (this.#stopping) this.#clearWakeTimer();
      else delay = this.#backOff((this.#failedAtMs = this.#clockMs()), delay);
      this.#o.logger.error(`worker could not claim work; retrying in ${delay} ms`, error);
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Claims until nothing more is claimable; returns the `now` of the last claim round, `undefined` when that round
   * found no free slot (or none ran).
   */
  async #claimAll(): Promise<Date | undefined> {
    const { clock } = this.#o;
    // Read at the start of each round that claims (a Date per read).
    let now: Date | undefined;
    // A kind that came back empty stays empty until a write signals new work (which pumps again) or the wake timer
    // fires: later rounds only claim the kinds the previous round found.
    let orchestrations = true;
    let activities = !this.#activitiesIdle;
    while ((orchestrations || activities) && !this.#stopping) {
      // A long burst of work lets the event loop take a turn first (see Turns).
      const turn = this.#turns.pace();
      if (turn) {
        await turn;
        if (this.#stopping) break;
      }
      // Both kinds of work are claimed at once: with a store whose claims are transactions (IndexedDB, MongoDB),
      // claiming one after the other doubled the wait per round.
      const wantOrchestration: boolean = orchestrations && this.#orchestrationsRunning < this.#o.maxConcurrentOrchestrations;
      const wantActivity: boolean = activities && this.#activitiesRunning < this.#o.maxConcurrentActivities;
      if ((orchestrations && !wantOrchestration) || (activities && !wantActivity)) this.#limited = true;
      if (activities && !wantActivity && this.#slotHolds.size > 0) this.#giveBackSlotsSoon();
      // A round that finds no free slot for what is left to claim ends the claims without reading the clock (most
      // rounds end so under load): the caller reads it when it needs the time.
      if (!wantOrchestration && !wantActivity) return undefined;
      now = readClock(clock, WORKER_CLOCK); // an Invalid Date would claim nothing, silently: a failed round instead
      const wakeUps = this.#wakeUps;
      const orchestrationClaim: Promise<OrchestrationWorkItem | undefined> | undefined = wantOrchestration ? this.#claim(true, now) : undefined;
      const activityClaim: Promise<ActivityWorkItem | undefined> | undefined = wantActivity ? this.#claim(false, now) : undefined;
      // Promise.all only for two claims (it costs a promise per element and a few hops): most rounds claim one kind,
      // and take its item without an array around it.
      let orchestration: OrchestrationWorkItem | undefined;
      let activity: ActivityWorkItem | undefined;
      // When one of two claims fails, what the other took is still run (then the failure is thrown): dropped, it would
      // wait for its lease to expire (30 s for a step, 5 min for an activity).
      let failed: { readonly error: unknown } | undefined;
      if (orchestrationClaim && activityClaim) {
        // Made only for two claims (a function per round before).
        const claimFailed = (error: unknown): undefined => {
          failed ??= { error };
          return undefined;
        };
        [orchestration, activity] = await Promise.all([orchestrationClaim.catch(claimFailed), activityClaim.catch(claimFailed)]);
      } else if (orchestrationClaim) orchestration = await orchestrationClaim;
      else if (activityClaim) activity = await activityClaim;
      if (!failed) this.#claimedOnce = true;
      orchestrations = orchestration !== undefined;
      activities = activity !== undefined;
      if (wantActivity) this.#activitiesIdle = !activities && wakeUps === this.#wakeUps;
      if (orchestration || activity) this.#recheck = this.#pumpFailures = 0;
      if (orchestration) {
        this.#orchestrationsRunning++;
        this.#startStep(orchestration);
      }
      if (activity) {
        this.#activitiesRunning++;
        this.#startActivity(activity);
      }
      if (failed) throw failed.error;
    }
    return now;
  }

  /**
   * One claim of a round, a step's or an activity's. A store that throws instead of rejecting gives a rejection: the
   * other claim of the round, started already, is still awaited and what it took still runs.
   */
  #claim(orchestration: true, now: Date): Promise<OrchestrationWorkItem | undefined>;
  #claim(orchestration: false, now: Date): Promise<ActivityWorkItem | undefined>;
  #claim(orchestration: boolean, now: Date): Promise<OrchestrationWorkItem | ActivityWorkItem | undefined> {
    const { store } = this.#o;
    const owner = this.#leaseOwner;
    const leaseMs = orchestration ? this.#o.orchestrationLeaseMs : this.#o.activityLeaseMs;
    try {
      // A claim that settles after the lease it asks for has expired hands out nothing this worker could use.
      return this.#bounded<OrchestrationWorkItem | ActivityWorkItem | undefined>(
        () => orchestration ? store.claimOrchestration({ owner, leaseMs, now }) : store.claimActivity({ owner, leaseMs, now }),
        'claim', now.getTime() + leaseMs, this.#lateClaimReleaser, now.getTime(),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The `late` callback of every claim (one function for all of them): what a claim abandoned by {@link #bounded} took
   * after all, if anything, released through {@link #releaseUnlessStopped}.
   */
  readonly #lateClaimReleaser = (item: OrchestrationWorkItem | ActivityWorkItem | undefined): void => {
    if (item) this.#releaseUnlessStopped([item]);
  };

  /** The client side of starts handed to this worker ({@link StartHandOff}). */
  readonly startHandOff: StartHandOff = {
    lease: (now) => {
      const { store, orchestrationLeaseMs, maxConcurrentOrchestrations } = this.#o;
      if (!store.capabilities.fusedSteps || !this.#claiming || this.#stopping || this.#orchestrationsRunning >= maxConcurrentOrchestrations) {
        return undefined;
      }
      this.#orchestrationsRunning++;
      // In flight until `started` or `cancelled`: the start may still be committing under this lease, so `stop` waits
      // for it (and then releases the lease) rather than end the store's life with a lease it never heard of.
      this.#inFlight++;
      this.#handOffs++;
      return newLease({ owner: this.#leaseOwner, leaseMs: orchestrationLeaseMs, now }, this.#newToken());
    },
    claimsNow: () => this.#claiming && !this.#stopping && !this.#backingOff && this.#orchestrationsRunning < this.#o.maxConcurrentOrchestrations,
    running: () => this.#started && !this.#stopping,
    started: (item) => {
      const id = item.state.instanceId;
      this.#startsWaiting.set(id, item);
      this.#turns.defer(() => {
        // The step begins (or, stopped meanwhile, the lease is released): from now on reads go to the store.
        if (this.#startsWaiting.get(id) === item) this.#startsWaiting.delete(id);
        if (this.#stopping) {
          // Stopped meanwhile: the lease is released, so another worker (or this one's next life) starts it at once.
          // Tracked before the hand-off settles, so a waiting `stop` also waits for the release; a store that throws
          // instead of rejecting skips neither the settling below nor fails the caller's start, which has committed.
          this.#releaseUnrun([item]);
          this.#orchestrationsRunning--;
        } else {
          this.#track(this.#runStep(item).then(() => this.#startStepped(item)));
        }
        this.#handOffSettled();
      });
    },
    startedState: (instanceId) => {
      const item = this.#startsWaiting.get(instanceId);
      // A lease that lapsed (a clock moved on before the macrotask) may have let another worker take the instance.
      return item && this.#clockMs() < item.lease.expiresAt.getTime() ? item.state : undefined;
    },
    holdWakes: () => {
      this.#startsCommitting++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.#turns.defer(this.#holdEnded);
      };
    },
    cancelled: (unconfirmed) => {
      // Tracked before the hand-off settles, as a release in `started`: a waiting `stop` waits for it too.
      if (unconfirmed) this.#releaseUnrun([unconfirmed]);
      this.#orchestrationsRunning--;
      this.#slotFreed();
      this.#handOffSettled();
    },
    landed: (start) => this.#releaseUnlessStopped([start]),
  };

  /**
   * The first step of a start handed to the worker has ended. A claim round that ran while it waited for its macrotask
   * may have armed the wake timer for its lease's expiry (the store's next wake time then): once the step has
   * committed, that wake-up is for nothing, and, on a virtual clock, it would be the timer a test waits for and fires
   * (`waitForTimer`) instead of the step's own. So the timer is armed again from the store's next wake time.
   */
  #startStepped(item: OrchestrationWorkItem): void {
    if (!this.#wakeTimer.armed || this.#wakeAtMs !== item.lease.expiresAt.getTime() || this.#backingOff || this.#stopping) return;
    this.#clearWakeTimer();
    this.#requestPump();
  }

  /** One hold of {@link StartHandOff.holdWakes} is over: the wake-up held meanwhile, if any, pumps now. */
  readonly #holdEnded = (): void => {
    if (--this.#startsCommitting > 0 || !this.#pumpHeld) return;
    this.#pumpHeld = false;
    this.#requestPump();
  };

  #handOffSettled(): void {
    this.#handOffs--;
    this.#settled();
  }

  /** Runs a step whose slot is already counted in `#orchestrationsRunning`. */
  #startStep(item: OrchestrationWorkItem): void {
    this.#track(this.#runStep(item));
  }

  /** Runs an activity whose slot is already counted in `#activitiesRunning`. */
  #startActivity(item: ActivityWorkItem): void {
    this.#track(this.#runActivity(item).finally(() => {
      this.#activitiesRunning--;
      this.#slotFreed();
    }));
  }

  /**
   * A step or activity finished. Work left unclaimed for want of a slot is claimed now; otherwise there is nothing to
   * claim that the store has not signalled (new work signals `workAvailable$`), so no claim round runs.
   */
  #slotFreed(): void {
    if (!this.#limited) return;
    this.#limited = false;
    this.#requestPump();
  }

  /**
   * With a store that supports it (`capabilities.fusedSteps`), leases the activity tasks a write set schedules to
   * this worker, as many as it has free activity slots (counting `freed` slots about to be released), and reserves
   * the slots (`slots`, until {@link #leasingCommit} gives them back). The caller runs the leased tasks after the commit
   * ({@link Worker.#startLeased}) or gives the slots still held back if the commit fails.
   */
  #leaseNewTasks(writeSet: WriteSet, freed: number, now: Date): { writeSet: WriteSet; leased: { task: ActivityTask; lease: Lease }[]; slots: SlotHold } {
    const { store, activityLeaseMs, maxConcurrentActivities } = this.#o;
    if (!store.capabilities.fusedSteps || this.#stopping) return { writeSet, leased: [], slots: NO_SLOTS };
    const { writeSet: leasing, leased } = leaseNewTasks(writeSet, {
      owner: this.#leaseOwner, leaseMs: activityLeaseMs, now, newId: this.#newToken, max: maxConcurrentActivities - this.#activitiesRunning + freed,
    });
    this.#activitiesRunning += leased.length;
    return { writeSet: leasing, leased, slots: leased.length === 0 ? NO_SLOTS : { held: leased.length } };
  }

  /**
   * Runs the activity tasks a commit leased to this worker, each in a slot `slots` still holds for it or, once the
   * commit gave them back ({@link #leasingCommit}), in a free one: a task for which none is free is released, so a
   * claim runs it once a slot frees (this worker's, as the slot's end pumps, or another's). None runs whose lease has
   * expired by the time the commit answered (`hasLapsed`: it is claimed again instead). Once the worker is stopping
   * (the commit leased them before the stop began), they are not run but released at once, so that another worker
   * takes them now and no activity starts in a worker that stops, nor renews a lease after it; the stop awaits the
   * releases (`#unrun`). Once the stop has ended, nothing is sent: the leases lapse.
   */
  #startLeased(leased: readonly ActivityWorkItem[], slots: SlotHold): void {
    let held = slots.held;
    slots.held = 0;
    if (!this.#stopping) {
      const nowMs = leased.length === 0 ? Number.NaN : this.#clockMs();
      for (const item of leased) {
        const expiresAtMs = item.lease.expiresAt.getTime();
        const slotted = held > 0 ? held-- > 0 : this.#activitiesRunning < this.#o.maxConcurrentActivities && ++this.#activitiesRunning > 0;
        if (hasLapsed(expiresAtMs, nowMs)) {
          // The commit answered after the task's lease expired (it may take up to `storeCallTimeoutMs`, longer than
          // `activityLeaseMs`): another worker may hold the task by now, and running it here would run it twice. Its
          // slot is given back, and the wake-up at its expiry (now) claims it again, on a lease of its own.
          if (slotted) this.#activitiesRunning--;
          this.#o.logger.warn(`activity task ${item.task.id} of ${item.task.instanceId}: its lease expired before the commit leasing it answered; claimed again`);
          this.#leaseLeft(expiresAtMs);
        } else if (slotted) {
          this.#startActivity(item);
        } else {
          this.#limited = true;
          this.#releaseUnrun([item]);
        }
      }
      return;
    }
    this.#activitiesRunning -= held;
    if (this.#ended) return;
    for (const item of leased) this.#unrun.push(this.#releaseLogged(item.task.instanceId, () => this.#release(item), item.lease.expiresAt.getTime()));
  }

  /**
   * Arms the one wake timer for the next unclaimed work, asking the store with the `now` the last claim round used:
   * whatever was not due for that claim is due later, so a wake-up that fires a moment early re-arms instead of
   * losing the timer. Work already due but left unclaimed means the worker is at a concurrency limit (a finishing
   * step or activity pumps again) or it arrived meanwhile (its write signals `workAvailable$`); a slow re-check
   * still covers a limit held by work that never finishes.
   */
  async #armWakeTimer(claimedAt: Date): Promise<void> {
    const at = await this.#bounded(() => this.#o.store.nextWakeTime(claimedAt), 'nextWakeTime');
    // While the wake-up feed is down, the timer also claims what may have been written meanwhile (`wakeInMs`).
    const feedDown = this.#resubscribeTimer.armed || this.#feedUnarmed;
    if (!at || this.#stopping) {
      this.#dueAtMs = Infinity;
      this.#clearWakeTimer();
      if (feedDown && !this.#stopping) this.#claimWhileFeedDown(this.#clockMs());
      return;
    }
    const saturated = this.#orchestrationsRunning >= this.#o.maxConcurrentOrchestrations ||
      this.#activitiesRunning >= this.#o.maxConcurrentActivities;
    const nowMs = this.#now().getTime();
    const due = isDue(at.getTime(), claimedAt);
    const delay = !due ? Math.max(0, at.getTime() - nowMs) : saturated ? SATURATED_RECHECK_MS : this.#recheck;
    // Due work that the claims did not find: at once the first time (it may have come due between the claim and the
    // question, or be of a kind the last round did not claim), then backing off. A store whose wake-time read lags
    // its claims (MongoDB's majority reads under replication lag, or a majority that cannot advance) would otherwise
    // be asked again in a tight loop for as long as the lag lasts.
    this.#recheck = due && !saturated ? Math.min(SATURATED_RECHECK_MS, this.#recheck * 2 || 10) : 0;
    this.#dueAtMs = nowMs + delay;
    const wait = wakeInMs(delay, feedDown);
    // A timer that fires no later is kept: a wake-up that finds nothing only arms the timer again, so an early one
    // loses nothing. This saves a clear and a set per pump while the next wake time is a lease expiry that every
    // claim pushes further out.
    if (this.#wakeTimer.armed && this.#wakeAtMs <= nowMs + wait) return;
    this.#setWakeTimer(nowMs, wait);
  }

  /**
   * Arms the retry of a failed pump `delay` ms after `nowMs` (NaN when the failure was the clock's: the timer is set
   * all the same, and the next arming replaces it), unless due work (`#dueAtMs`) or a wake timer set already comes
   * first: the back-off spaces the attempts, it never makes due work wait longer. Whichever fires is the next attempt.
   * Returns the wait until it, in ms.
   */
  #backOff(nowMs: number, delay: number): number {
    this.#backingOff = true;
    const dueIn = this.#dueAtMs - nowMs;
    if (dueIn > 0 && dueIn < delay) delay = dueIn;
    if (this.#wakeTimer.armed && this.#wakeAtMs <= nowMs + delay) return Math.max(0, this.#wakeAtMs - nowMs);
    this.#setWakeTimer(nowMs, delay);
    return delay;
  }

  /**
   * The store committed for this worker, or a claim succeeded after one failed: it is reachable, so a failure after this
   * backs off from the start and a back-off under way ends with a claim now instead of at its timer. When the store had
   * failed since its last answer (`#storeFailed`), this answer shows it recovered: the result commits backing off after
   * failing in that outage are retried as `retryOnSignalMs` says, and so is the wake-up feed's re-subscription, if one
   * is pending: a store that answers again after failing has most likely got its feed back too. An answer with no
   * failure before it moves neither: a feed that fails for ever beside claims that succeed keeps its back-off, instead
   * of a loop of re-subscription, wake-up, claim, re-subscription (while it is down, the worker claims on its own timer,
   * `wakeInMs`).
   */
  #storeAnswered(): void {
    this.#pumpFailures = 0;
    this.#answers++;
    if (this.#storeFailed && (this.#resubscribeTimer.armed || this.#retryWaits.size > 0)) {
      // NaN (a clock that returns no valid Date) leaves the retries and the re-subscription where they are.
      const nowMs = this.#clockMs();
      this.#bringCommitsForward(nowMs);
      if (this.#resubscribeTimer.armed) {
        const atMs = retryOnSignalMs(nowMs, this.#feedFailedAtMs);
        if (this.#resubscribeAtMs > atMs) this.#resubscribeIn(nowMs, atMs - nowMs);
      }
    }
    this.#storeFailed = false;
    if (!this.#backingOff) return;
    this.#backingOff = false;
    this.#requestPump();
  }

  /**
   * (Re)arms the one wake timer to fire `delay` ms after `nowMs`. A delay longer than WAKE_CHECK_MS is waited out in
   * steps of at most that (unless the clock's timers fire on time, `Clock.timersFireOnTime`), each set from the clock's time as the last one fires ({@link Worker.#wakeTimerFired}): the
   * wake-up is due at a time of the clock, and a machine that slept (its timers paused) must not push it later.
   */
  #setWakeTimer(nowMs: number, wanted: number): void {
    // Also below the platform's limit (2^31-1 ms, 24.8 days): given a longer delay, Node and browsers fire at once.
    // A clock whose timers run on its own time (a virtual clock) needs no steps: one timer for the whole wait.
    // A clock whose setTimeout throws leaves the timer set before (the worker wakes at its time), logged, and throws
    // nothing into the signal, timer or failure path that armed it. With none set, nothing but a store signal would
    // wake the worker: a due timer, a failed claim's retry or a lease left to lapse would wait for ever. The same
    // wake-up is set on the platform's timer instead (in steps of at most WAKE_CHECK_MS: its timers pause in a sleep),
    // and the next one is asked of the clock again (`#wakeTimerFired` pumps, and the pump arms it), so a clock that
    // recovers is used again at once (`FallbackTimer`). With the platform's failing too, none is armed: it is tried
    // again at the next turns, a few times (`FallbackTimer`'s `retries`, see `#wakeUnarmed`), for this wake-up.
    const delay = this.#wakeTimer.arm(
      Math.min(wanted, this.#o.clock.timersFireOnTime === true ? MAX_TIMER_DELAY_MS : WAKE_CHECK_MS, MAX_TIMER_DELAY_MS), this.#wakeUnarmed, WAKE_CHECK_MS,
    );
    // None armed: the one set before stays, or none is (`#wakeUnarmed` sets `#wakeAtMs` to Infinity then).
    if (delay === undefined) return;
    this.#wakeAtMs = nowMs + wanted;
    this.#wakeStepped = wanted > delay;
  }

  /**
   * The clock failed to arm the wake timer; `fallback` says what became of it. Reported once until the clock arms it
   * again (`first`), and as its tries end. With none armed (the platform's timer failed too), nothing but a store signal
   * would wake the worker: a due durable timer, a failed claim's retry or a lease left to lapse could wait for good,
   * though the timers work again a moment later. So the same wake-up is armed again at the next turn, a few times in a
   * row at most (`FallbackTimer`'s `retries`); past those, the worker waits for a store signal or a wake event
   * (`#lookAtClock`).
   */
  readonly #wakeUnarmed = (error: unknown, fallback: Fallback, first: boolean): void => {
    if (fallback === 'none') this.#wakeAtMs = Infinity;
    else if (!first) return;
    this.#o.logger.error(`the worker's clock failed to arm its wake timer${
      fallback === 'kept' ? '; the timer it had stays' : fallback === 'platform' ? "; it is set on the platform's timer"
      : `, and so did the platform's timer: none is armed; ${fallback === 'retry' ? 'it tries again at its next turn' : 'it waits for a store signal or a wake event'}`}`, error);
  };

  /** Wakes the worker to arm a wake timer none could (`#wakeUnarmed`, its tries over: `#lookAtClock`), unless it stops. */
  readonly #wakeUnarmedTimer = (): void => {
    if (this.#stopping) return;
    if (this.#feedUnarmed) {
      this.#feedUnarmed = false;
      this.#subscribeWork();
    }
    this.#backingOff = false;
    this.#wake();
  };

  readonly #wakeTimerFired = (): void => {
    // No wake timer is armed now: `#wakeAtMs` says so as well.
    const atMs = this.#wakeAtMs;
    this.#wakeAtMs = Infinity;
    if (this.#feedUnarmed) {
      this.#feedUnarmed = false;
      this.#subscribeWork();
    }
    // A step of a long wait: the clock says how much is left. What is not due yet arms the next step (no store read);
    // a clock that gives no valid time wakes the worker, whose pump reports it.
    if (this.#wakeStepped && !this.#stopping) {
      const nowMs = this.#clockMs();
      if (nowMs < atMs) {
        this.#setWakeTimer(nowMs, atMs - nowMs);
        return;
      }
    }
    this.#backingOff = false;
    this.#wake();
  };

  /**
   * The clock's time in ms, NaN when it gives no valid Date or throws (scheduling only: nothing is written with it).
   * Every reading of the worker's scheduling goes through it (its wake timer, back-offs, the feed's health, renewals'
   * schedule, a given-up lease's release), so a custom `Clock` that throws breaks none of its loops: a NaN leaves each to
   * its fallback (a retry on a timer, a wake-up now). A reading thrown out of a failure path instead ended it there:
   * a claim round that failed on such a clock armed no retry, and the worker claimed nothing until the store signalled.
   */
  #clockMs(): number {
    try {
      return validMs(this.#o.clock.now());
    } catch {
      return Number.NaN;
    }
  }

  /**
   * The page became visible or was shown again, or the network came back: the machine may have slept, its timers
   * paused. A wake timer whose time has come by the clock fires now; one that has not is set again for what is left
   * (its step may have been paused for longer than the rest). No timer, no store read. A try to arm it pending at the
   * next turn (`FallbackTimer`'s `retries`) is looked at as the timer it arms: left to the try, a wake-up due by now
   * came the whole delay after it. With none armed because neither the clock nor the platform's timer could arm it
   * (`#wakeUnarmed`, its retries over), the worker wakes to arm it again: the store may never signal.
   */
  readonly #lookAtClock = (): void => {
    if (!this.#wakeTimer.armed) {
      if (this.#wakeTimer.unarmed) this.#wakeUnarmedTimer();
      return;
    }
    if (this.#stopping) return;
    const nowMs = this.#clockMs();
    if (Number.isNaN(nowMs)) return;
    if (nowMs >= this.#wakeAtMs) {
      this.#clearWakeTimer();
      this.#backingOff = false;
      this.#wake();
    } else if (this.#wakeStepped) {
      this.#setWakeTimer(nowMs, this.#wakeAtMs - nowMs);
    }
  };

  /** Listens to (`on`) or stops listening to the global object's WAKE_EVENTS, where it dispatches events. */
  #listenForWakeEvents(on: boolean): void {
    const host = eventHost();
    if (!host || this.#listening === on) return;
    this.#listening = on;
    for (const type of WAKE_EVENTS) {
      try {
        if (on) host.addEventListener(type, this.#lookAtClock);
        else host.removeEventListener(type, this.#lookAtClock);
      } catch {
        // A host that refuses a listener leaves the worker to its timer steps.
      }
    }
  }

  #clearWakeTimer(): void {
    this.#wakeTimer.clear();
    this.#wakeAtMs = Infinity;
  }

  /**
   * A store call's promise with an end: it settles as `call` does, or rejects when `storeCallTimeoutMs` pass on the
   * worker's clock first, or `untilMs` comes first (ms on the clock: the expiry of the lease the call is made under),
   * with an {@link UnavailableError} naming `what`, as the client's bounded calls do (the call is abandoned), or when
   * `stop` ends (a StoreClosedError). An abandoned call that settles later does no harm: its value goes to `late`, a
   * rejection is handled. The calls share the worker's deadline timer ({@link DeadlineList}), so a call costs no timer
   * of its own (a timer set and cleared per call cost about 1 µs, against 0.06 µs for the await itself); a bound beyond
   * one timer's reach (24.8 days) is waited out in steps. `nowMs` is the clock's time, when the caller has just read it
   * (one read less per call).
   */
  #bounded<T>(call: () => Promise<T>, what: string, untilMs = Infinity, late?: (value: T) => void, nowMs = this.#now().getTime()): Promise<T> {
    return this.#calls.bound(call, Math.max(0, Math.min(this.#o.storeCallTimeoutMs, untilMs - nowMs)), what, late, nowMs);
  }

  /** The store call that releases the lease of a step, an activity or a handed start. */
  #release(item: Leased): Promise<void> {
    const { store } = this.#o;
    if ('task' in item) return store.abandonActivity(item.task.id, item.lease.token);
    return store.abandonOrchestration(('state' in item ? item.state : item).instanceId, item.lease.token);
  }

  /**
   * Releases the leases of work this worker will not run, at once and whether or not it is stopping (a start handed
   * over while it stops, or one cancelled whose commit may have stored its lease), each release bounded and tracked
   * (a `stop` waits for it). Called in an async function, so a store that throws instead of rejecting is handled too;
   * a failed release is logged and leaves the lease to lapse.
   */
  #releaseUnrun(items: readonly Leased[]): void {
    for (const item of items) this.#track((async () => void (await this.#bounded(() => this.#release(item), 'release', item.lease.expiresAt.getTime())))());
  }

  /**
   * {@link #releaseUnrun}, unless the worker has stopped: for what a store call abandoned by {@link #bounded} leased
   * after all (a wedged transaction that went through once the wedge cleared), released now instead of sitting idle
   * until its lease lapses. While the worker stops, the release is tracked as any (the stop waits for it while it waits
   * for its work, and ends its wait with the rest); once the stop has ended, nothing is sent and the lease lapses.
   */
  #releaseUnlessStopped(items: readonly Leased[]): void {
    if (!this.#ended) this.#releaseUnrun(items);
  }

  /**
   * After a commit that leased activity tasks to this worker failed with `error`: when the commit may have been applied
   * all the same (`mayHaveApplied`: an outcome the store could not confirm, a call abandoned at its bound), the tasks'
   * leases are released ({@link #releaseUnlessStopped}), so they run at once instead of sitting leased to a worker that
   * does not run them until their lease lapses (`activityLeaseMs`). Releasing a lease the store never stored changes
   * nothing. (A call abandoned at its bound that applies later is released again by its `late` callback.)
   */
  #releaseIfUnconfirmed(leased: readonly ActivityWorkItem[], error: unknown): void {
    if (leased.length > 0 && mayHaveApplied(error)) this.#releaseUnlessStopped(leased);
  }

  /**
   * The `late` callback of a step's commit: if the commit, abandoned by {@link #bounded}, applies after all, it
   * releases the activity tasks the commit leased to this worker ({@link #releaseUnlessStopped}). Undefined when the
   * commit leases none (no closure then, as for most steps).
   */
  #lateCommitReleaser(leased: readonly ActivityWorkItem[]): (() => void) | undefined {
    return leased.length === 0 ? undefined : () => this.#releaseUnlessStopped(leased);
  }

  #track(promise: Promise<void>): void {
    this.#inFlight++;
    promise.then(this.#settled, this.#failed);
  }

  readonly #settled = (): void => {
    if (--this.#inFlight === 0 && this.#drained) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
    }
  };

  readonly #failed = (error: unknown): void => {
    try {
      if (isStoreClosed(error)) this.#storeLost(error);
      else this.#o.logger.error('worker task failed', error);
    } finally {
      this.#settled();
    }
  };

  // ---------------------------------------------------------------- orchestrations

  /**
   * The options of every execution: one object, not one per replay and per cached execution. Their misuse marks are the
   * worker's: a mark outlives the cached execution it was made on (see MisuseMarks), and each new one is recorded in
   * the store too ({@link #recordMisuse}).
   */
  #executionOptions: ExecutionOptions | undefined;

  /** A fresh execution of the orchestrator `name` (one function for every step, not a closure per step). */
  readonly #newExecution = (name: string): OrchestrationExecution => new OrchestrationExecution(
    this.#o.orchestrators.get(name) ?? unknownOrchestrator(name),
    (this.#executionOptions ??= {
      customStatusLimitBytes: this.#o.customStatusLimitBytes, misuseMarks: new MisuseMarks(undefined, (mark) => this.#recordMisuse(mark)),
    }),
  );

  // ---------------------------------------------------------------- ctx misuse

  /** The instance change feeds that {@link #recordMisuse} listens to, each until its failure is recorded; ended by `stop`. */
  readonly #misuseFeeds = new Set<Subscription>();

  /**
   * Records a misused run's failure in the store at once ({@link decideMisuse}), not only in this worker's marks: a
   * mark lives in this worker's memory, so another worker taking the instance's next step, or this one's next life
   * after a restart, ran the instance on (to completion) as if nothing went wrong. The commit is refused while a step
   * of the instance runs or is due (a step in flight is not raced: it commits first, and this worker's own step fails
   * the run by its mark); it is decided again at each change of the instance (listened to before the first read, so
   * none is missed) until it commits or the run is over. Best effort beyond that: a store without `unclaimedWrites`,
   * a store call that fails (logged), a stop: the mark alone is left, for this worker's next step of the instance.
   * Called from the user's callback that misused `ctx`: it never throws there.
   */
  #recordMisuse(mark: MisuseMark): void {
    const { store } = this.#o;
    if (this.#stopping || !store.capabilities.unclaimedWrites) return;
    const id = mark.instanceId;
    let attempt: Promise<boolean> | undefined;
    let changed = false;
    let feed: Subscription | undefined;
    let over = false;
    const end = (): void => {
      over = true;
      if (feed) this.#misuseFeeds.delete(feed);
      feed?.unsubscribe();
    };
    const run = (): void => {
      changed = false;
      const current = (attempt = this.#misuseAttempt(mark));
      this.#track(current.then((done) => {
        attempt = undefined;
        if (done || this.#stopping) end();
        else if (changed) run();
      }, (error: unknown) => {
        end();
        throw error;
      }));
    };
    try {
      feed = (store.instanceChanges$?.(id) ?? store.changes$).subscribe({
        next: (change) => {
          if (over || change.instanceId !== id) return;
          if (this.#stopping) end();
          else if (attempt) changed = true;
          else run();
        },
        error: (error: unknown) => {
          end();
          this.#o.logger.error(`the change feed of ${id} failed while its misuse was being recorded`, error);
        },
      });
      if (over) feed.unsubscribe();
      else this.#misuseFeeds.add(feed);
      run();
    } catch (error) {
      end();
      this.#o.logger.error(`recording the misuse of ${id} failed`, error);
    }
  }

  /**
   * One attempt of {@link #recordMisuse}: true when it is done (the failure committed, or the run is over), false when
   * it is to be decided again at the instance's next change.
   */
  async #misuseAttempt(mark: MisuseMark): Promise<boolean> {
    const { store } = this.#o;
    const id = mark.instanceId;
    const state = await this.#bounded(() => store.getInstance(id), 'getInstance');
    if (!state) return true;
    const input: MisuseInput = {
      state, executionId: mark.executionId, historyEpoch: mark.historyEpoch, failure: toFailureDetails(mark.error), now: this.#now(),
      newId: this.#o.newId,
    };
    let decision = decideMisuse(input);
    if (decision.kind === 'needHistory') {
      const history = await this.#bounded(() => store.getHistory(id), 'getHistory');
      decision = decideMisuse({ ...input, history });
    }
    if (decision.kind !== 'commit') return decision.kind === 'over';
    const { writeSet } = decision;
    try {
      await this.#bounded(() => store.commit(writeSet), 'commit');
      return true;
    } catch (error) {
      if (error instanceof LeaseLostError) return false;
      throw error;
    }
  }

  /**
   * Runs one claimed step and gives its slot back; the activity tasks its commit leased to this worker (their slots
   * are reserved) start then. One async function per step: a second one for the slot's `finally` cost a promise and
   * a suspended frame per step.
   */
  async #runStep(item: OrchestrationWorkItem): Promise<void> {
    const { store } = this.#o;
    const state = item.state;
    this.#heldSteps.add(item);
    let started: readonly ActivityWorkItem[] = NO_WORK_ITEMS;
    let startedSlots: SlotHold = NO_SLOTS;
    // The step failed and its lease is left to lapse (see `#leaseLeft`).
    let left = false;
    try {
      // After a long burst of work, the event loop takes a turn before the step (see Turns).
      const turn = this.#turns.pace();
      if (turn) {
        await turn;
        if (this.#stopping) {
          // Stopped meanwhile: not run. Its lease is released (unless the stop's abandoning released it already), so
          // another worker, or this one's next life, takes the step at once.
          if (this.#heldSteps.has(item)) this.#releaseUnlessStopped([item]);
          return;
        }
      }
      // Every rule of the step is in decideStep; the worker only fetches the history when asked and commits.
      // Taken out of the cache, hit or miss (`get` removes the entry): it is set again after the commit.
      const cached = this.#cache.get(state.instanceId, state.executionId, state.historyLength, state.historyEpoch);
      // One input for both calls: a miss asks for the history, which is then set on it.
      const input: { -readonly [K in keyof StepInput]: StepInput[K] } = {
        state, messages: item.messages, leaseToken: item.lease.token, now: this.#now(), newId: this.#o.newId, cached, history: undefined,
        newExecution: this.#newExecution,
      };
      let decision = decideStep(input);
      if (decision.kind === 'needHistory') {
        // At the step's reading of the clock, taken just before (deciding that the history is needed runs no code).
        // Bounded as the step's commit (`#stepCallUntilMs`), not by what is left of the lease: a long history on a slow
        // store failed a step that would have committed.
        const nowMs = input.now.getTime();
        input.history = completeHistory(state, await this.#bounded(() => store.getHistory(state.instanceId), 'getHistory', this.#stepCallUntilMs(item, nowMs), undefined, nowMs));
        decision = decideStep(input);
      }
      if (decision.kind === 'needHistory') throw new Error('decideStep asked for the history twice');
      if (decision.cacheHit) this.#metrics.cacheHits++;
      else if (decision.eventsReplayed > 0) this.#metrics.cacheMisses++;
      this.#metrics.eventsReplayed += decision.eventsReplayed;
      this.#metrics.eventsApplied += decision.eventsApplied;
      const { writeSet, leased, slots } = this.#leaseNewTasks(decision.writeSet, 0, input.now);
      try {
        // Bounded by `storeCallTimeoutMs` (with `Infinity`, by the lease and at least one lease from now), not by what is
        // left of the lease: the store checks the lease inside the commit, so one still under way at its expiry (a
        // start's large input took most of the lease it handed over) applies, or fails with LeaseLostError if another
        // worker took the instance meanwhile. Given up at the expiry, it was reported failed while it could still apply.
        await this.#leasingCommit(slots, this.#bounded(() => store.commit(writeSet), 'commit', this.#stepCallUntilMs(item, input.now.getTime()), this.#lateCommitReleaser(leased)));
      } catch (error) {
        this.#activitiesRunning -= slots.held;
        slots.held = 0;
        this.#releaseIfUnconfirmed(leased, error);
        if (!refusedForGood(error) && !this.#outOfSpaceAgain(state.instanceId, error)) throw error;
        // The same write set would be refused at every lease expiry, the instance Running for ever: it fails instead.
        this.#cache.delete(state.instanceId);
        await this.#commitRefusedStep(item, input.now, error);
        return;
      }
      started = leased;
      startedSlots = slots;
      if (decision.execution) {
        this.#cache.set(state.instanceId, decision.state.executionId, decision.state.historyLength, decision.execution, decision.state, decision.cacheHit);
      }
      this.#stepCommitted(state.instanceId);
    } catch (error) {
      this.#cache.delete(state.instanceId);
      if (error instanceof LeaseLostError) {
        this.#metrics.leasesLost++;
        this.#o.logger.warn(`lease on ${state.instanceId} lost; step discarded`);
      } else if (isStoreClosed(error)) {
        this.#storeLost(error);
      } else {
        // The lease is left to lapse rather than abandoned: abandoning signals work at once, and a failure that
        // persists (a store outage) would then be retried in a tight loop.
        this.#o.logger.error(`step of ${state.instanceId} failed; retried when its lease expires`, error);
        left = this.#heldSteps.has(item);
      }
    } finally {
      this.#heldSteps.delete(item);
      this.#startLeased(started, startedSlots);
      this.#orchestrationsRunning--;
      if (left) this.#leaseLeft(item.lease.expiresAt.getTime());
      this.#slotFreed();
    }
  }

  /**
   * Where a store call of a step under its lease `item` ends (its history read, its commit, the commit of its refusal's
   * record), for {@link #bounded} (ms on the clock, `nowMs` its time): with a finite `storeCallTimeoutMs`, at that bound
   * alone; with `Infinity`, at the lease's expiry, and no sooner than one lease from now. Not at what is left of the
   * lease: the store checks the lease inside the commit, so one still under way at its expiry applies, or fails with
   * LeaseLostError if another worker took the instance meanwhile; a read that answers after the expiry is only used by
   * that commit, so nothing is applied twice either way.
   */
  #stepCallUntilMs(item: OrchestrationWorkItem, nowMs: number): number {
    return this.#o.storeCallTimeoutMs < Infinity ? Infinity : Math.max(item.lease.expiresAt.getTime(), nowMs + this.#o.orchestrationLeaseMs);
  }

  /**
   * Commits, for a step whose write set the store refused for good (`refusedForGood`), the instance's failure with the
   * store's reason (`decideRefusedStep`), under the step's lease, bounded as the step's commit. A failure of this commit is the step's
   * (logged by the caller; the step is retried when its lease expires), unless the store refused it for good too: then
   * the record is written bounded (`bare`: the events without their payloads, the failure cut), so that no claimed
   * message vanishes. A bare record the store refuses for good (400 or 413: it grows with the events) gives way to one
   * of fixed size (`summary`), so that the instance ends; one it has no room for (or any other failure) is the step's
   * failure, its messages kept for the next claim, when room may have come back. A summary refused for good gives way
   * to no record in history (`unrecorded`: the messages consumed; the state written again as it was, or, for a step
   * that does not leave the instance as it was, `unrecordable`, with the end the summary records), logged, so that the
   * step is not retried at every lease expiry for ever.
   */
  async #commitRefusedStep(item: OrchestrationWorkItem, now: Date, error: unknown, record?: 'bare' | 'summary' | 'unrecorded'): Promise<void> {
    const { store, logger, newId } = this.#o;
    const { state, lease } = item;
    // An ended instance's late events are recorded without their payloads, or, refused again, only counted; a failure
    // record refused is written without payloads, then only counted (`decideRefusedStep`).
    const ended = isTerminalStatus(state.runtimeStatus);
    const refused = record === 'unrecorded' ? ' and every record of it' : ended ? (record ? ' and its record without payloads' : '')
      : record === 'summary' ? ' and its failure records' : record ? ' and its failure record' : '';
    const without = record === 'summary' ? ', its events counted' : record ? ', without payloads' : '';
    const recorded = record === 'unrecorded'
      ? `its messages consumed, not recorded${unrecordable(state, item.messages) ? '' : ', the instance ended in its status alone'}`
      : ended ? (record ? 'its events counted' : 'recorded without payloads') : `recorded as the instance's failure${without}`;
    const input: { -readonly [K in keyof RefusedStepInput]: RefusedStepInput[K] } = {
      state, messages: item.messages, leaseToken: lease.token, now, newId, failure: toFailureDetails(error), history: undefined,
      customStatusLimitBytes: this.#o.customStatusLimitBytes,
      bare: record !== undefined, summary: record === 'summary' || record === 'unrecorded', unrecorded: record === 'unrecorded',
    };
    let decision = decideRefusedStep(input);
    if (decision.kind === 'needHistory') {
      const nowMs = this.#now().getTime();
      input.history = completeHistory(state, await this.#bounded(() => store.getHistory(state.instanceId), 'getHistory', this.#stepCallUntilMs(item, nowMs), undefined, nowMs));
      decision = decideRefusedStep(input);
    }
    if (decision.kind === 'needHistory') throw new Error('decideRefusedStep asked for the history twice');
    logger.error(`the store refused the step of ${state.instanceId}${refused}; ${recorded}`, error);
    try {
      // Bounded as the step's commit (`#stepCallUntilMs`): a refusal answered after the lease expired left it 0 ms.
      const nowMs = this.#now().getTime();
      await this.#bounded(() => store.commit(decision.writeSet), 'commit', this.#stepCallUntilMs(item, nowMs), undefined, nowMs);
    } catch (again) {
      if (record === undefined ? refusedForGood(again) || outOfSpace(again) : record === 'bare' && refusedForGood(again)) {
        return this.#commitRefusedStep(item, now, again, record === undefined ? 'bare' : 'summary');
      }
      // No record of it at all (`decideRefusedStep`'s `unrecorded`, by the rule of `unrecordable`).
      if (record === 'summary' && refusedForGood(again)) {
        return this.#commitRefusedStep(item, now, again, 'unrecorded');
      }
      throw again;
    }
    this.#stepCommitted(state.instanceId);
  }

  /**
   * A step of `instanceId` was committed (its decision, or the record of its failure): counted, its failures for want
   * of space forgotten, and the store known reachable (`#storeAnswered`).
   */
  #stepCommitted(instanceId: string): void {
    this.#metrics.steps++;
    if (this.#spaceFailures.size > 0) this.#spaceFailures.delete(instanceId);
    this.#storeAnswered();
  }

  /**
   * True when `error` says the store had no room for a step of `instanceId` (`outOfSpace`) for the SPACE_ATTEMPTS-th
   * time in a row: the step is then recorded as the instance's failure (`#commitRefusedStep`). Before that the step is
   * retried as any failed one, when its lease expires: a full origin may free space meanwhile (another tab deletes,
   * the browser evicts another origin), a value larger than the quota never fits. The count stays at its end until a
   * commit of the instance succeeds: a failure record with no room either is tried again at the next claim, once.
   */
  #outOfSpaceAgain(instanceId: string, error: unknown): boolean {
    if (!outOfSpace(error)) return false;
    const count = (this.#spaceFailures.get(instanceId) ?? 0) + 1;
    this.#spaceFailures.delete(instanceId);
    if (this.#spaceFailures.size >= MAX_SPACE_COUNTS) this.#spaceFailures.delete(this.#spaceFailures.keys().next().value!);
    this.#spaceFailures.set(instanceId, Math.min(count, SPACE_ATTEMPTS));
    return count >= SPACE_ATTEMPTS;
  }

  // ---------------------------------------------------------------- activities

  async #runActivity(item: ActivityWorkItem): Promise<void> {
    const { task } = item;
    this.#heldActivities.set(item, undefined);
    // The result was not committed and the task's lease is left to lapse (see `#leaseLeft`).
    let left = true;
    let result: OrchestrationMessage;
    // The task's lease renewals: while the activity runs (one that returns a promise), and while its result is
    // committed, from the first attempt on (see `#commitResult`).
    const renewal = this.#renewal(item);
    try {
      let output: unknown;
      let failure: FailureDetails | undefined;
      try {
        const activity = this.#o.activities.get(task.name);
        if (!activity) throw Object.assign(new Error(`No activity named ${JSON.stringify(task.name)} is registered`), { name: 'ActivityNotFoundError' });
        output = activity(task.input as never, { instanceId: task.instanceId, name: task.name, attempt: task.attempt });
        if (isPromiseLike(output)) {
          // Only an activity that returns a promise can outlive its lease while it runs: its renewals begin now.
          this.#heldActivities.set(item, renewal.keep());
          output = await output;
        }
        output = toPlainJson(output, 'activity output');
      } catch (error) {
        failure = toFailureDetails(error);
      }
      // The worker stopped on a store that serves no call any more: the result has nowhere to go.
      if (this.#storeGone) return;
      // Stamped outside the activity's try: a clock that returns no valid Date fails this run with its
      // RangeError (logged; the task runs again when its lease expires), not the activity.
      result = failure ? this.#activityResult(task, 'TaskFailed', failure) : this.#activityResult(task, 'TaskCompleted', output as JsonValue | undefined);
      // The renewals go on (or begin, for an activity that returned a value) while the result is committed, from its
      // first attempt: one that hangs for longer than what is left of the lease (up to `storeCallTimeoutMs`) keeps it
      // too, so the task is not claimed and run again meanwhile. Not for a task a stop abandoned (its lease released).
      if (this.#heldActivities.has(item)) this.#heldActivities.set(item, renewal.keep());
      left = !(await this.#commitResult(item, result, renewal));
    } finally {
      renewal.stop();
      // A task a stop abandoned (its lease released) or a closed store's is nobody's to take up here.
      if (left && this.#heldActivities.has(item)) this.#giveUp(item, renewal.until());
      this.#heldActivities.delete(item);
    }
  }

  /**
   * An activity task this worker gives up without committing its result (`#runActivity`), whose lease ends at
   * `untilMs` by the renewals it heard of: its wake timer is set for then (`#leaseLeft`), and the lease is released
   * then (at once when that time has passed, or when the worker stops). Until then it is left to lapse, as any given-up
   * lease (a release at once would run the activity again at once, in a tight loop for a result the store keeps
   * refusing). The release is what ends it in the store: a renewal the worker abandoned at its bound may still be
   * applied, and would hold the task up to one lease past `untilMs`, from this worker's claims and every other's.
   * Applied after the release, such a renewal is refused (the lease's token is no longer held).
   */
  #giveUp(item: ActivityWorkItem, untilMs: number): void {
    this.#leaseLeft(untilMs);
    if (this.#stopping) return this.#releaseGivenUp(item);
    const nowMs = this.#clockMs();
    // A clock that gives no valid time cannot time it: released now.
    if (!(untilMs > nowMs)) return this.#releaseGivenUp(item);
    try {
      this.#givenUp.set(item, this.#calls.add(untilMs - nowMs, () => this.#releaseGivenUp(item)));
    } catch {
      this.#releaseGivenUp(item);
    }
  }

  /**
   * Releases the lease of an activity task given up by `#giveUp`, bounded by `storeCallTimeoutMs` and by one lease
   * (all a late renewal could add), tracked (a stop waits for it, with no grace too: `#givenUpReleases`); nothing once
   * the stop has ended, or on a lost store. A release that fails (logged), or one not sent on a lost store, leaves the
   * lease to lapse: a stop before it has surely expired is then not clean (`#lapsedUntilMs`). Its renewals have ended
   * (`#runActivity`), so none sent later than now sets its expiry past one lease from now.
   */
  #releaseGivenUp(item: ActivityWorkItem): void {
    this.#givenUp.get(item)?.();
    this.#givenUp.delete(item);
    if (this.#ended) return;
    if (this.#storeGone) {
      this.#lapsedUntilMs = Infinity;
      return;
    }
    // NaN (a clock that gives no valid time) leaves the lapse unbounded: a stop is then not clean.
    const untilMs = this.#clockMs() + this.#o.activityLeaseMs;
    const release = this.#releaseLogged(item.task.instanceId, () => this.#release(item), untilMs).then((released) => {
      this.#givenUpReleases.delete(release);
      if (!released) this.#lapsedUntilMs = Number.isNaN(untilMs) ? Infinity : Math.max(this.#lapsedUntilMs, untilMs);
    });
    this.#givenUpReleases.add(release);
    this.#track(release);
  }

  /**
   * The lease renewals of an activity task ({@link ActivityLeaseRenewal}): a lease found gone while the activity runs
   * is logged; once its result is being committed, the commit's attempts end on it and report it.
   */
  #renewal(item: ActivityWorkItem): ActivityLeaseRenewal {
    const { task, lease } = item;
    return new ActivityLeaseRenewal(
      lease.expiresAt.getTime(),
      (lost) => this.#heartbeat(task.id, lease.token, lease.expiresAt.getTime(), lost),
      () => this.#o.logger.warn(`lease on activity task ${task.id} lost`),
    );
  }

  #activityResult(task: ActivityTask, type: 'TaskCompleted', output: JsonValue | undefined): OrchestrationMessage;
  #activityResult(task: ActivityTask, type: 'TaskFailed', failure: FailureDetails): OrchestrationMessage;
  #activityResult(task: ActivityTask, type: 'TaskCompleted' | 'TaskFailed', value: JsonValue | FailureDetails | undefined): OrchestrationMessage {
    // Built as it is sent, its payload set in place, its time through isoTime (the step the result wakes, usually in the
    // same millisecond, shares the text): a spread of a one-member object and a toISOString cost about 1 us per result.
    const event: { type: typeof type; eventId: number; timestamp: string; taskScheduledId: number; result?: JsonValue; failureDetails?: FailureDetails } = {
      type, eventId: -1, timestamp: isoTime(this.#now()), taskScheduledId: task.taskScheduledId,
    };
    if (value !== undefined) {
      if (type === 'TaskCompleted') event.result = value as JsonValue;
      else event.failureDetails = value as FailureDetails;
    }
    return { id: this.#o.newId(), instanceId: task.instanceId, executionId: task.executionId, event: event as MessageEvent };
  }

  /**
   * Commits a finished activity's result. A commit that fails (the store is unreachable for a while) is tried again,
   * backing off as claims do, for as long as this worker holds the task: dropping the result would run the activity
   * again once its lease expired. While the attempts go on, the first included, the task's lease is renewed (`renewal`,
   * as while the activity ran): an activity whose result's first commit hangs past its lease's expiry (for
   * up to `storeCallTimeoutMs`), or whose result the store keeps refusing (an origin with no room left, a store that
   * fails only these writes) is not run again at each lease expiry while its result is still being committed. A lost
   * lease (another worker took the task over, or a renewal found it gone), the lease's expiry (renewals that fail
   * too let it lapse, and so does the end of the renewals at `resultRenewalEndMs`), a closed or lost store
   * (`isStoreClosed`: the worker stops) or a stop that abandons the task ends the attempts; a result the store refuses for good (a DurableError with status 400 or 413) is
   * committed as the failure. Each attempt (the fused commit and its result-alone fallback, on one deadline) waits up to
   * `storeCallTimeoutMs`, however little of the lease is left: the store's lease check decides whether the result may
   * still be committed (it refuses it once another worker took the task over), so a result that arrives as its lease
   * ends, or after renewals failed, is not given up before the store could answer. With `Infinity`, an attempt waits
   * for what is left of the lease, and at least `activityLeaseMs`, so it still ends. Returns false when the result was
   * given up with the task's lease left to lapse (the task runs again), true when nothing is left of it to this worker
   * (committed, its lease lost, or released by a stop).
   */
  async #commitResult(item: ActivityWorkItem, result: OrchestrationMessage, renewal: ActivityLeaseRenewal): Promise<boolean> {
    const { task, lease } = item;
    const { logger, storeCallTimeoutMs } = this.#o;
    let refused = false;
    // Attempts the store had no room for (`outOfSpace`): at SPACE_ATTEMPTS, the result is refused for good.
    let noRoom = 0;
    // Set when a commit abandoned at its bound answers after all: the result is committed (with its step, if fused).
    let applied = false;
    // Said when the result is given up after an attempt whose outcome is unknown (see mayHaveApplied): that attempt may
    // have gone through. Not after one that failed before it ran (an IndexedDB database blocked by another tab).
    let unless = '';
    const committed = (): void => {
      applied = true;
      this.#metrics.activitiesRun++;
    };
    // The store calls that had succeeded when the previous attempt failed (at first, when the first attempt began): one
    // more by the next failure means the store serves other calls while it fails this one (`#heldFor`).
    let answers = this.#answers;
    // Until when the lease is renewed, however the attempts fail (`resultRenewalEndMs`): set as the first one begins.
    let renewedUntilMs = Number.NaN;
    renewal.committing();
    for (let failures = 0; ; failures++) {
      if (failures > 0 && renewal.lostOrWait(undefined)) {
        // A renewal found the lease gone since the last attempt: another worker took the task over (its result would be
        // refused), or an abandoned attempt went through (the task is gone). Nothing is sent again.
        if (!applied) {
          this.#metrics.leasesLost++;
          logger.warn(`lease on activity ${task.name} of ${task.instanceId} lost; result discarded${unless}`);
        }
        return true;
      }
      // Read before the attempt: a clock that returns no valid Date ends the attempts with its RangeError
      // (logged as the activity's failure to commit; the task runs again when its lease expires), not the result.
      const now = this.#now();
      const nowMs = now.getTime();
      if (failures === 0) renewedUntilMs = resultRenewalEndMs(nowMs, this.#o.activityLeaseMs);
      const untilMs = nowMs + (storeCallTimeoutMs < Infinity ? storeCallTimeoutMs : Math.max(renewal.until() - nowMs, this.#o.activityLeaseMs));
      try {
        if (!(await this.#commitWithStep(item, result, now, untilMs, committed))) {
          await this.#bounded(() => this.#o.store.commit(decideActivityResult(task.id, lease.token, result)), 'commit', untilMs, committed);
        }
        this.#metrics.activitiesRun++;
        this.#storeAnswered();
        return true;
      } catch (error) {
        if (error instanceof LeaseLostError) {
          // Refused as an abandoned commit went through meanwhile: nothing was lost, and nothing is reported.
          if (!applied) {
            this.#metrics.leasesLost++;
            logger.warn(`lease on activity ${task.name} of ${task.instanceId} lost; result discarded${unless}`);
          }
          return true;
        }
        if (mayHaveApplied(error)) unless = ' unless an earlier commit applied';
        if (isStoreClosed(error) || !this.#heldActivities.has(item)) throw error;
        const what = `the result of activity ${task.name} of ${task.instanceId}`;
        if (refusedForGood(error) || (!refused && outOfSpace(error) && ++noRoom >= SPACE_ATTEMPTS)) {
          // The store refused the result itself (too large, invalid: a 400 or 413; a 5xx such as an unavailable store
          // or an unknown commit outcome is worth another attempt), or had no room for it SPACE_ATTEMPTS times (a
          // result larger than the origin's quota never fits): trying it again would never succeed. The
          // activity fails with the store's reason instead, so the orchestration sees it (once: a refused failure
          // is dropped, and the task runs again when its lease expires; a failure with no room is retried as any
          // failed commit, until the lease expires).
          logger.error(`the store refused ${what}${refused ? ' and its failure; dropped' : '; recorded as the activity\'s failure'}`, error);
          if (refused) return false;
          refused = true;
          result = this.#activityResult(task, 'TaskFailed', toFailureDetails(error));
          continue;
        }
        const answeredMeanwhile = this.#answers !== answers;
        answers = this.#answers;
        if (!answeredMeanwhile) this.#storeFailed = true;
        const failedAtMs = this.#now().getTime();
        const left = renewal.until() - failedAtMs;
        if (left <= 0) {
          // Past its lease the task is another worker's to take (it runs again): the attempts end here.
          logger.error(`committing ${what} failed and its lease has expired; dropped${unless}`, error);
          return false;
        }
        if (failedAtMs >= renewedUntilMs && renewal.stop()) {
          // Renewed for RESULT_RENEWAL_LEASES leases and never taken: renewed no more. The attempts go on while the lease
          // lasts, then the result is dropped and the task released (`#giveUp`): the activity runs again.
          logger.error(`committing ${what} has failed for ${RESULT_RENEWAL_LEASES} activity leases; its lease is renewed no more, and the activity runs again once it expires`, error);
        }
        const delay = Math.min(left, MAX_PUMP_RETRY_MS, MIN_PUMP_RETRY_MS * 2 ** failures);
        logger.error(`committing ${what} failed; retrying in ${delay} ms`, error);
        // Abandoned by a stop: its lease was released.
        if (!(await this.#heldFor(item, renewal, failedAtMs, delay, answeredMeanwhile))) return true;
      }
    }
  }

  /**
   * A step or activity this worker ran gave up its lease, which ends at `expiresAtMs` (on the worker's clock), without
   * releasing it (a failed commit is not retried at once: the lease is left to lapse, and the work runs again once it
   * has): the wake timer fires by then, and its wake-up claims again, activities too (they are no longer skipped as
   * idle). Nothing else would wake the worker: the store signals no work when a lease expires, and the lease may have
   * come with no claim of this worker, whose pump arms the timer for it (a start handed over, a task its own commit
   * leased to it). Not at once: a commit abandoned at its bound may still land, and a claim before then would run the
   * work twice. (An activity's lease is released then too: `#giveUp`.)
   */
  #leaseLeft(expiresAtMs: number): void {
    if (this.#stopping) return;
    // Due work as the store's next wake time is: a back-off that takes the timer meanwhile wakes no later (`#backOff`).
    if (expiresAtMs < this.#dueAtMs) this.#dueAtMs = expiresAtMs;
    const nowMs = this.#clockMs();
    // A clock that returns no valid Date cannot time it: a pump now fails on it and retries on a timer.
    if (Number.isNaN(nowMs)) return this.#wake();
    if (!this.#wakeTimer.armed || this.#wakeAtMs > expiresAtMs) this.#setWakeTimer(nowMs, Math.max(0, expiresAtMs - nowMs));
  }

  /**
   * Waits, while holding `item`, `delay` ms on the worker's clock from `failedAtMs` (the failure it backs off from), or
   * less when a store signal or answer brings it forward (`#bringCommitsForward`, as `retryOnSignalMs` says): true then, or false as soon as a stop abandons it (its lease released; `#abandonHeld`
   * calls the `stop` registered here, which clears the timer and ends the renewals). `renewal.until()` is when the task's
   * lease expires (its last renewal's end), which bounds that release: the task's original expiry may be long past for an activity that ran
   * for several leases.
   */
  #heldFor(item: ActivityWorkItem, renewal: ActivityLeaseRenewal, failedAtMs: number, delay: number, answeredMeanwhile: boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const { clock } = this.#o;
      let atMs = failedAtMs + delay;
      let over = false;
      const done = (held: boolean): void => {
        // Once: a timer the clock failed to clear may still fire, during a later wait of the same renewal.
        if (over) return;
        over = true;
        clock.clearTimeout(timer);
        this.#retryWaits.delete(bringForward);
        renewal.lostOrWait(undefined);
        resolve(held);
      };
      const bringForward = (nowMs: number): void => {
        const retryMs = retryOnSignalMs(nowMs, failedAtMs);
        if (!(atMs > retryMs)) return;
        // The sooner timer is set before the later one is cleared: a clock whose setTimeout throws leaves the retry at
        // its time (logged), and throws nothing into the store signal or answer that brought it forward.
        let sooner: ReturnType<Clock['setTimeout']>;
        try {
          sooner = clock.setTimeout(() => done(true), retryMs - nowMs);
        } catch (error) {
          this.#o.logger.error(`the retry of the result of activity task ${item.task.id} stays at its time: the clock failed to arm a sooner one`, error);
          return;
        }
        clock.clearTimeout(timer);
        atMs = retryMs;
        timer = sooner;
      };
      let timer = clock.setTimeout(() => done(true), delay);
      // Only a result that failed in an outage: one that failed while another store call of this worker succeeded since
      // its previous attempt (`answeredMeanwhile`) is one the store refuses alone (a write it cannot take, a document it
      // keeps conflicting on), and a signal or answer says nothing of when it will take it. It backs off as any failed
      // commit (100 ms doubling to MAX_PUMP_RETRY_MS) instead of being sent again MIN_PUMP_RETRY_MS after each failure
      // for as long as other commits succeed.
      if (!answeredMeanwhile) this.#retryWaits.add(bringForward);
      // A renewal that finds the lease gone ends the wait at once (the next attempt is not sent: see `#commitResult`).
      if (renewal.lostOrWait(() => done(true))) return done(true);
      // A stop ends the renewals too, and releases the lease within its current expiry.
      this.#heldActivities.set(item, {
        stop: () => {
          renewal.stop();
          done(false);
        },
        get until() {
          return renewal.until();
        },
        get latest() {
          return renewal.latest();
        },
      });
    });
  }

  /**
   * Commits an activity's result together with the step it wakes, in one transaction, when the store supports it and
   * this worker has the instance's execution cached (`decideActivityStep`); the step's new activities are leased to
   * this worker in the same commit. Returns false when that was not possible (not cached, or the store refused
   * because the instance moved on, is leased or has other visible messages): the caller then commits the result
   * alone, and the instance's next claim takes it from there. A closed store, a commit abandoned unsettled at `untilMs`
   * and any other 503 end the attempt with an error rather than falling back to committing the result alone at once: a
   * 503 may be a commit whose outcome the store could not confirm (`commit-outcome-unknown`, which may still take
   * effect), and one known to have written nothing says the store is unavailable now (MongoDB unreachable) or for good
   * (IndexedDB's `DatabaseUpgradingError`, which `isStoreClosed` reads: `#commitResult` gives the result up then and
   * the worker stops), so a second call at once would meet the same. (IndexedDB's `DatabaseBlockedError` cannot
   * come here: only opening the database can be blocked, and the store that leased this task had opened it; it keeps
   * that connection until another one upgrades the database.) Whether the attempt may have applied is the caller's to
   * say (`mayHaveApplied`); the result is sent again, alone, when the attempt is retried. `applied` is called if an
   * abandoned commit answers after all.
   */
  async #commitWithStep(item: ActivityWorkItem, result: OrchestrationMessage, now: Date, untilMs: number, applied: () => void): Promise<boolean> {
    const { store, newId } = this.#o;
    const { task, lease } = item;
    if (!store.capabilities.fusedSteps || this.#stopping) return false;
    // A long burst of work lets the event loop take a turn before the step (see Turns).
    const turn = this.#turns.pace();
    if (turn) {
      await turn;
      if (this.#stopping) return false;
    }
    const cached = this.#cache.take(task.instanceId);
    if (!cached) return false;
    const { state, execution } = cached;
    if (state.executionId !== task.executionId) {
      this.#cache.set(state.instanceId, state.executionId, state.historyLength, execution, state, true);
      return false;
    }
    let leased: { task: ActivityTask; lease: Lease }[] = [];
    let slots: SlotHold = NO_SLOTS;
    try {
      const decision = decideActivityStep({
        state, cached: execution, taskId: task.id, taskLeaseToken: lease.token, result, now, newId, newExecution: this.#newExecution,
      });
      if (decision.kind !== 'commit') return false;
      const fused = this.#leaseNewTasks(decision.writeSet, 1, now);
      leased = fused.leased;
      slots = fused.slots;
      // Bounded from a fresh reading, not the attempt's (`now`): the step's code ran since, and a turn may have been
      // waited for. The deadline is `untilMs` either way, but the timer is armed for `untilMs` less the reading, so a
      // stale one would fire that much late (a step whose code ran 3 s kept its commit 3 s past storeCallTimeoutMs).
      await this.#leasingCommit(slots, this.#bounded(() => store.commit(fused.writeSet), 'commit', untilMs, () => {
        applied();
        this.#releaseUnlessStopped(fused.leased);
      }));
      this.#metrics.steps++;
      this.#metrics.cacheHits++;
      this.#metrics.eventsApplied += decision.eventsApplied;
      if (decision.execution) {
        this.#cache.set(state.instanceId, decision.state.executionId, decision.state.historyLength, decision.execution, decision.state, true);
      }
      this.#startLeased(leased, slots);
      return true;
    } catch (error) {
      this.#activitiesRunning -= slots.held;
      slots.held = 0;
      this.#releaseIfUnconfirmed(leased, error);
      // A closed store, or any 503 (abandoned at the bound, an outcome the store could not confirm): not sent again at once.
      if (isDurableError(error) && error.status === 503) throw error;
      // The execution advanced in memory without a commit: it is dropped (taken above), so the next step replays.
      if (!(error instanceof LeaseLostError)) this.#o.logger.warn(`fused step of ${task.name} failed; committing its result alone`, error);
      return false;
    }
  }

  /**
   * Renews an activity's lease every third of its length while the activity runs and while its result is committed
   * (its first attempt included), so a long activity, or one whose result's commit hangs or is refused, is not claimed
   * and run again. A lost lease is only logged (the completion that follows is refused by the store anyway) and ends
   * the renewals; any other failure is logged and the next renewal tries again. A renewal still unsettled when the
   * next one is due is abandoned, and the next one goes out then. The first one goes out by `expiresAtMs`, the lease's
   * expiry as the renewals begin (`firstRenewalDelayMs`).
   *
   * Each beat waits on the worker's deadline timer ({@link DeadlineList}, as its store calls' bounds do), not on a
   * timer of its own: most activities return and commit long before their first renewal is due, and a timer set and
   * cleared for each of them was a platform timer per activity. The worker's stop ends the wait (`endAll`), and a beat
   * ended so renews nothing: no renewal outlives the stop. A clock that gives no valid time (the list cannot place a
   * deadline on it) waits on a timer of the clock's own.
   */
  #heartbeat(taskId: string, leaseToken: string, expiresAtMs: number, lost: () => void): RunningHeartbeat {
    const { clock, store, activityLeaseMs } = this.#o;
    const beatMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(1, Math.floor(activityLeaseMs / 3)));
    let stopped = false;
    let cancel: (() => void) | undefined;
    const heartbeat = {
      until: 0,
      latest: 0,
      stop: () => {
        stopped = true;
        cancel?.();
        cancel = undefined;
      },
    };
    // An async function, so a store that throws instead of rejecting is handled here too (not thrown out of a timer).
    const renew = async (): Promise<void> => {
      // Stopped, or ended by the worker's stop (`endAll` calls every wait): nothing is renewed after it.
      if (stopped || this.#ended) return;
      cancel = undefined;
      // A clock that returns no valid Date renews nothing (no lease written with that date): logged, and the next beat
      // is a whole beat later.
      let startMs = Number.NaN;
      try {
        startMs = this.#now().getTime();
        const until = startMs + activityLeaseMs;
        // Bounded by the next beat: one still unsettled then is abandoned, and the next goes out at once.
        heartbeat.latest = until;
        await this.#bounded(() => store.renewActivityLease(taskId, leaseToken, new Date(until)), 'renewActivityLease', startMs + beatMs);
        heartbeat.until = until;
      } catch (error) {
        // A renewal that fails after the renewals ended (the result committed, the task released) no longer matters.
        if (stopped || this.#ended) return;
        if (error instanceof LeaseLostError) return lost();
        if (isStoreClosed(error)) return this.#storeLost(error);
        // A failed renewal leaves two thirds of the lease: the next beat tries again.
        this.#o.logger.error(`renewing the lease on activity task ${taskId} failed`, error);
      }
      // Beats keep their schedule, one every third of the lease from the last one's start.
      if (stopped || this.#ended) return;
      const next = startMs + beatMs - this.#clockMs(); // NaN after a reading that was no valid Date, or threw
      try {
        beat(Number.isNaN(next) ? beatMs : Math.max(0, next));
      } catch (error) {
        // A clock whose setTimeout throws ends the renewals, logged (not an unhandled rejection of this timer's
        // callback): the lease then runs out, and the activity may run again elsewhere.
        this.#o.logger.error(`renewals of the lease on activity task ${taskId} stopped: the clock failed to arm the next one`, error);
      }
    };
    const fire = (): void => void renew();
    const beat = (delay: number): void => {
      try {
        cancel = this.#calls.add(delay, fire);
      } catch {
        // The list places no deadline on a clock reading that is no valid Date: the clock's own timer, as before (one
        // whose setTimeout throws throws here again, for the caller to handle). One the clock fails to clear at the
        // stop fires into a renewal that is stopped.
        const timer = clock.setTimeout(fire, delay);
        cancel = () => clock.clearTimeout(timer);
      }
    };
    beat(firstRenewalDelayMs(expiresAtMs, this.#clockMs(), activityLeaseMs, beatMs));
    return heartbeat;
  }
}

/**
 * True when a lease that may be held until `untilMs` (ms on the worker's clock: its expiry, or the latest a renewal
 * sent may give it) has lapsed by `nowMs` (NaN, a clock that gives no valid time: not known to have). A lapsed lease
 * needs no release: another worker may claim the work already, and a commit still under way under it (a step's commit
 * runs up to `storeCallTimeoutMs`, past its lease) applies or is refused by the store's check of the lease's token,
 * never twice. A release sent then would only race that commit, and with no time left to wait for its answer (a 0 ms
 * bound) it was reported failed and made a stop not clean.
 */
function hasLapsed(untilMs: number, nowMs: number): boolean {
  return nowMs >= untilMs;
}

/** The activity slots a commit reserved for the tasks it leases to its worker, and still holds. */
interface SlotHold {
  held: number;
}

/** No slots held (a step that leased no activity task): never changed, as `held` is 0. */
const NO_SLOTS: SlotHold = { held: 0 };

/** No work items (a step that leased no activity task). */
const NO_WORK_ITEMS: readonly ActivityWorkItem[] = Object.freeze([]);

/** What holds a lease this worker may release: a claimed step or activity, or a handed start it may be stored under. */
type Leased = OrchestrationWorkItem | ActivityWorkItem | UnconfirmedStart;

/**
 * True when the store refused a commit for good: a DurableError with status 400 or 413 (a value too large or invalid
 * for it). Sending the same write set again would never succeed; a 5xx (an unavailable store, an outcome it could not
 * confirm) is worth another attempt.
 */
function refusedForGood(error: unknown): boolean {
  return isDurableError(error) && (error.status === 400 || error.status === 413);
}

/**
 * True when the store had no room for a commit: a DurableError with status 507 (IndexedDB's
 * `StorageQuotaExceededError`, the origin's quota used up). Unlike a 400 or 413 it may pass later, once space is freed.
 */
function outOfSpace(error: unknown): boolean {
  return isDurableError(error) && error.status === 507;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function unknownOrchestrator(name: string): Orchestrator {
  // eslint-disable-next-line require-yield
  return function* () {
    const error = new Error(`No orchestrator named ${JSON.stringify(name)} is registered with this worker`);
    error.name = 'OrchestratorNotFoundError';
    throw error;
  };
}
