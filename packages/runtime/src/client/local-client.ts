// No rxjs operators: `of`, `from`, `merge`, `defer`, `takeUntil`, `mergeMap` and `concatMap` bring in rxjs's innerFrom
// (async-iterable and ReadableStream adapters plus tslib's async helpers) or its scheduler machinery, about 1.5 KB
// gzip in every page, and each operator its own subscriber plumbing. The few combinations this client needs (a
// merge, a serial read, a distinct map) are written out.
import { Observable, type Observer, type Subscription } from 'rxjs';
import {
  decideFork, decideRestart, decideResume, decideRewind, decideSend, decideSignalWithStart, decideStart, isDelayedStart, decideSuspend, decideTerminate, refusedRewindFrom, refusedRewindOf, unrecordedRewindOf,
  type DirectDecision, type DirectInput,
} from '../engine/decide-step.js';
import { RESTART_HISTORY_EVENTS, restartedStart, startSearched } from '../engine/fork-history.js';
import { leftExecution, sentCommandOutcome, waitsForClaimedStep, type SentCommand } from '../engine/sent-command-outcome.js';
import { TERMINATE_ACCEPTED, TERMINATE_BY_ACCEPTED } from './terminate-accepted.js';
import { awaitTerminatedTree, childSettled, childrenTerminatedWith } from './terminated-tree.js';
import { isDurableError } from '../model/errors/durable-error.js';
import { mayHaveApplied } from '../model/errors/may-have-applied.js';
import { instanceNotFound } from '../model/errors/instance-not-found-error.js';
import { isoTime } from '../model/iso-time.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { PayloadTooLargeError } from '../model/errors/payload-too-large-error.js';
import { UnavailableError } from '../model/errors/unavailable-error.js';
import type {
  EventRaisedEvent, ExecutionCancelRequestedEvent, ExecutionResumedEvent, ExecutionRewoundEvent, ExecutionSuspendedEvent, ExecutionTerminatedEvent, HistoryEvent,
} from '../model/history-event.js';
import { eventsOfHistory, historyEndedByPurge, historyIdOf } from '../model/history-position.js';
import {
  isNewerChange, isTerminalStatus, toInstanceStatus, type InstanceState, type InstanceStatus, type PurgedSnapshot,
} from '../model/instance-status.js';
import type { HistoryPosition } from '../model/history-position.js';
import { freezeBuilt } from '../model/frozen.js';
import { copyStoreValue, jsonHeapBytes, toPlainJson, toTerminateReason, type JsonValue } from '../model/json.js';
import type { MessageEvent } from '../model/message.js';
import type { CreateInstanceWrite, InstanceCondition, WriteSet } from '../model/write-set.js';
import {
  assertValidInstanceId, assertValidName, isReason, readClock, readForkOptions, readRecursive, readRestartOptions, readTimeoutMs,
  validateInstanceFilter, validateInstanceQuery, validatePurgeFilter, type ValidInstanceFilter,
} from '../model/validation.js';
import { assertStoreFilters, matchesQuery, MAX_PAGE_SIZE, pageKeyOf, pageOrderOf, type PageKey } from '../store/store-helpers.js';
import { MAX_PURGE_SET, planTreePurge } from '../store/plan-tree-purge.js';
import type { CommitResult, StatusChange, Store } from '../store/store.js';
import { eventsInRange, type HistoryRange } from '../store/history-range.js';
import type { CreateClientOptions } from './create-client.js';
import { isShared, withOwnPayloads } from '../store/shared-states.js';
import type { StartHandOff } from '../worker/worker.js';
import type { Clock } from '../env/clock.js';
import { guardClock } from '../env/guarded-clock.js';
import { randomId, type NewId } from '../env/new-id.js';
import type {
  CheckStatusResponseOptions, GetStatusOptions, HttpManagementPayload, HttpManagementPayloadOptions,
  BulkCommandOptions, BulkCommandResult, BulkTerminateOptions, ForkOptions, InstanceFilter, InstancesPage, ListInstancesQuery, LocalDurableClient, PurgeInstanceOptions, PurgeInstancesFilter, PurgeResult, RaiseEventOptions, RestartOptions, SignalWithStartOptions, StartNewOptions,
  TerminateOptions, WaitForCompletionOrCheckStatusOptions,
} from './durable-client.js';
import { BULK_CONCURRENCY, bulkFilter, readBulkOptions, type BulkCommand } from './bulk-command.js';
import { ChangeRouter } from './change-router.js';
import { readSignalWithStartOptions } from './read-signal-with-start-options.js';
import { readGetStatusOptions, readRaiseEventOptions, readStartNewOptions } from './read-client-options.js';
import { createCheckStatusResponseOf, waitForCompletionOrCreateCheckStatusResponseOf } from './check-status-response.js';
import { followPages } from './follow-pages.js';
import { createHttpManagementPayload } from './http-management-payload.js';
import { JsonBaseline } from '../model/same-json.js';
import type { VersionedStatus } from './versioned-status.js';
import { DeadlineList } from '../env/deadline-list.js';
import type { Logger } from '../env/logger.js';
import { closedWaitError, noStatusError } from './no-status-error.js';
import { FIRST_ANSWER_GRACE_MS } from './timeout-after.js';
import { firstReadRetryDelay } from './first-read-retry.js';

/**
 * The members of a {@link Store} a client uses (`createClient`'s option, whose check is validation's
 * `CLIENT_STORE_MEMBERS`): no claims, leases, wake times or `close`.
 */
type ClientStore = CreateClientOptions['store'];

/** Options of {@link LocalClient}. */
export interface LocalClientOptions {
  readonly store: ClientStore;
  /** The time of commands, and the timer of `waitForCompletion` and of a command's read-your-writes wait. */
  readonly clock: Clock;
  /** Fresh ids for instances, executions and messages. Default: random UUIDs. */
  readonly newId?: NewId;
  /** When given, `startNew` rejects other orchestrator names (a runtime's own client knows its orchestrators). */
  readonly knownOrchestrators?: ReadonlySet<string>;
  /**
   * The worker of the same runtime, while one runs: `startNew` commits the instance leased to it, so it runs without a
   * claim. Asked anew at each command, as a runtime runs a fresh worker after each `stop` and `start`.
   */
  readonly startHandOff?: () => StartHandOff | undefined;
  /**
   * Longest wait, in ms on `clock`, for one store call (> 0, or `Infinity`); a call the store has not answered by then
   * rejects with `UnavailableError`.
   */
  readonly storeCallTimeoutMs: number;
  /**
   * Where a failure of the client's deadline timer is reported (a clock that fails to arm or clear it): a runtime's client
   * reports to the runtime's logger. Default: the console.
   */
  readonly logger?: Logger;
}

/** Default `timeoutMs` of `waitForCompletion`. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;

/**
 * How often `getStatus` with `showHistory`, on a store without `getInstanceHistory`, reads the status and the history
 * again when the instance started another history while they were read (see `eventsOfHistory`).
 */
const HISTORY_READ_ATTEMPTS = 5;

/**
 * How many times `#send` decides a direct command on a fresh read when the store refused the previous attempt because
 * the instance changed meanwhile (concurrent commands of several clients), before it sends the command as a message.
 */
const DIRECT_ATTEMPTS = 5;

/** How many instances a command by filter lists per page (`#commandBy`): a bounded share of memory, whatever the set. */
const BULK_PAGE_SIZE = 100;

/**
 * How many times a recursive purge reads its tree and decides, when the store refused a set of it because a member
 * changed since it was read (`PurgeSetResult.changed`), before it gives up with `UnavailableError` (503).
 */
const PURGE_ATTEMPTS = 5;

/** How the client's errors name its clock (see `readClock`). */
const CLIENT_CLOCK = "the client's clock";

/**
 * How long `terminate`, `suspend`, `resume` and `rewind` wait, on the client's clock, for a worker to commit their
 * effect before they resolve anyway (the command stays queued and takes effect when a worker runs; a rewind the worker
 * recorded as refused rejects as soon as that is committed, see `DurableClient.rewind`). Each waits only
 * when the client could not commit it itself: a worker holds the instance, or this client's own worker is running
 * (a started runtime's client, whatever its load) and a message queued before the command is applied first, the command needs the orchestrator's code (a resume of
 * what was kept while suspended) or a sub-orchestration's queued start, a suspend or resume comes behind a command
 * queued before it, a rewind behind any message, or the store lacks `capabilities.unclaimedWrites`. On a store
 * with it, a client that only starts, raises, terminates, suspends and resumes with no worker anywhere meets the wait
 * only after a command of its was sent as a message: after its history read failed, after a direct commit was
 * refused `DIRECT_ATTEMPTS` times in a row by concurrent commands of other clients, or after a store refused a direct
 * suspend or resume whose check of queued messages it bounds (MongoStore: more than 256, or a read past 5 s) (then every later suspend or resume
 * of that instance waits behind it until a worker runs).
 */
export const COMMAND_APPLIED_TIMEOUT_MS = 10_000;

/**
 * Most tree walks one client runs at once for recursive terminates that resolved before their tree ended (the HTTP
 * API's, answered 202 once the named instance is terminated): each applies the terminates this client's own commits
 * handed on to the sub-orchestrations where no worker holds one, level by level (a child left to a worker, and what is
 * below it, is the workers' to end: the walk neither waits for it nor reads it), for {@link COMMAND_APPLIED_TIMEOUT_MS}
 * at most from its start, whatever its store calls do: one that never answers (`storeCallTimeoutMs: Infinity`) holds
 * the walk's place no longer, and the rest of its tree is left to the workers (its terminates are queued in the store),
 * as past the queue's bound. A recursive terminate accepted while this many run waits in the client's queue, first in
 * first out, and its walk starts as soon as one of those ends (up to {@link MAX_QUEUED_TREE_WALK_BYTES}). The client's
 * `close()` ends every walk and drops the queued ones.
 */
export const MAX_TREE_WALKS = 16;

/**
 * Most memory, in bytes as {@link queuedWalkBytes} estimates it, that the recursive terminates queued for a tree walk
 * (beyond {@link MAX_TREE_WALKS}) hold in all: each holds its instance's id, its terminate (the reason too) and, where
 * this client's own commit terminated the instance, the ids of the sub-orchestrations it handed the terminate on to
 * with the ids of those messages and the terminate they carry (so that its walk can apply them): some 1 KB for one
 * handed on to one child. A terminate whose walk would pass this bound is not queued: its
 * sub-orchestrations end as workers apply the terminates it handed on, which are in the store since its commit (with
 * no worker running anywhere, they stay queued there until one runs). A terminate this client's commit handed on to
 * no child needs no walk and takes no place, nor does one a worker applied (the worker handed it on).
 */
export const MAX_QUEUED_TREE_WALK_BYTES = 4 * 1024 * 1024;

/** A tree walk waiting for one of the {@link MAX_TREE_WALKS} to end: its start, and its {@link queuedWalkBytes}. */
interface QueuedTreeWalk {
  readonly bytes: number;
  readonly walk: () => Promise<void>;
}

/**
 * The heap a queued tree walk holds, estimated (V8, measured): 320 bytes for the entry, its terminate and its closure,
 * 160 for the record of what its commit handed on ({@link HandedOn}, the terminate sent with it), 2 per character of
 * the instance's id, the reason's ({@link jsonHeapBytes}), and 512 per child it was handed on to plus 2 per character
 * of the child's id and of the message's.
 */
function queuedWalkBytes(instanceId: string, reason: JsonValue | undefined, children: ReadonlyMap<string, string> | undefined): number {
  let bytes = 480 + 2 * instanceId.length;
  if (reason !== undefined) bytes += jsonHeapBytes(reason);
  for (const [id, messageId] of children ?? []) bytes += 512 + 2 * (id.length + messageId.length);
  return bytes;
}

/**
 * {@link DurableClient} over a {@link Store}: commands validate and write through the store; observables are
 * built on the store's change feed (`changes$`), so they push committed changes and never poll.
 */
export class LocalClient implements LocalDurableClient {
  readonly #store: ClientStore;
  readonly #clock: Clock;
  readonly #newId: NewId;
  readonly #known: ReadonlySet<string> | undefined;
  readonly #startHandOff: (() => StartHandOff | undefined) | undefined;
  readonly #changes: ChangeRouter;
  /**
   * The deadlines of pending waits and store calls, on one shared timer, which is let go as soon as none is pending (a
   * client between calls holds no timer).
   */
  readonly #deadlines: DeadlineList;
  /** `storeCallTimeoutMs`: the bound of each store call ({@link LocalClient.#bounded}). */
  readonly #callTimeoutMs: number;
  /** The end of each recursive terminate's tree walk under way ({@link LocalClient.#treeTerminated}): `close` calls them. */
  readonly #walks = new Set<() => void>();
  /** How many of those walks run after their call resolved (`[TERMINATE_ACCEPTED]`): at most {@link MAX_TREE_WALKS}. */
  #backgroundWalks = 0;
  /**
   * The background walks waiting for one of those to end, first in first out: taken from `#walksOut`, which is
   * refilled from `#walksIn` (reversed) once empty, so each takes constant time. Emptied by `close`.
   */
  #walksIn: QueuedTreeWalk[] = [];
  #walksOut: QueuedTreeWalk[] = [];
  /** The bytes the queued walks hold in all ({@link queuedWalkBytes}): at most {@link MAX_QUEUED_TREE_WALK_BYTES}. */
  #queuedWalkBytes = 0;
  /** Completes the store's per-instance feeds when {@link LocalClient.close} is called; empty once closed. */
  readonly #onClose = new Set<() => void>();
  #isClosed = false;

  constructor(options: LocalClientOptions) {
    this.#store = options.store;
    const { store } = options;
    // Closing the client ends its feeds exactly as a closed store does: every observable completes (the router ends
    // its shared feed itself, see `close`).
    const instanceChanges = store.instanceChanges$?.bind(store);
    this.#changes = new ChangeRouter(
      store.changes$,
      instanceChanges && ((instanceId: string) => this.#untilClosed(instanceChanges(instanceId))),
    );
    // Its deadlines' timer is set and cleared through the guarded clock (what a custom clock throws is reported).
    this.#deadlines = new DeadlineList((this.#clock = guardClock(options.clock, options.logger, CLIENT_CLOCK)), false, CLIENT_CLOCK, options.logger);
    this.#newId = options.newId ?? randomId;
    this.#known = options.knownOrchestrators;
    this.#startHandOff = options.startHandOff;
    this.#callTimeoutMs = options.storeCallTimeoutMs;
  }

  async startNew(name: string, options: StartNewOptions = {}): Promise<string> {
    assertValidName(name, 'orchestrator name');
    this.#assertKnown(name);
    // The remote client's reading too: one table, so both name a bad member by its path (`startNew options.input.f`).
    const { input, instanceId: given, ifExists, startAt, tags } = readStartNewOptions(options);
    const instanceId = given ?? this.#newId();
    if (given === undefined) assertValidInstanceId(instanceId); // a user-supplied newId may make a bad one
    const now = this.#now();
    // A delayed start is not handed to this runtime's worker: its start message becomes claimable at `startAt`.
    const handOff = isDelayedStart(startAt, now) ? undefined : this.#startHandOff?.();
    // Until a macrotask after the commit, the worker takes the start up neither by a claim nor by the lease: the reads
    // the caller issues right after this resolves show it Pending.
    const held = handOff?.holdWakes();
    // With a lease, the instance is committed leased to this runtime's worker, which runs its first step unclaimed.
    const lease = handOff?.lease(now);
    let writeSet: WriteSet;
    let result: Partial<CommitResult> | undefined;
    try {
      // Inside: a user-supplied newId may throw, and the slot the lease reserved must be given back then too.
      writeSet = decideStart({ instanceId, name, input, now, newId: this.#newId, lease, ifExists, startAt, tags });
      // Its start message frozen, as a raised event's (#messageTo): it is the client's own (the input a copy), so a
      // store may keep it, and the ExecutionStarted event in the history, without a copy (MemoryStore does).
      freezeBuilt((writeSet.requests[0] as CreateInstanceWrite).message);
      // A commit abandoned at its bound that lands later stores the instance under the lease after the release below
      // found nothing: the worker releases it again then (`landed`), so it does not wait for that lease to lapse.
      result = await this.#bounded(() => this.#store.commit(writeSet), now.getTime(), undefined, lease && (() => handOff!.landed({ instanceId, lease })));
    } catch (error) {
      // A commit that may have been applied all the same stored the instance under the lease: the worker releases it.
      if (lease) handOff!.cancelled(mayHaveApplied(error) ? { instanceId, lease } : undefined);
      held?.();
      throw error;
    }
    if (lease) {
      // The store says whether the instance was stored leased: planWriteSet leases only a new id (the state this
      // client wrote, version 1); a start over a terminal instance is stored unleased and claimed as usual. A store
      // (or a wrapper around one) that reports nothing gets the step anyway: if the start was not stored leased, the
      // step's commit is refused and the instance is claimed as usual, whereas not running it would leave a leased
      // start waiting for its lease to expire.
      const [created] = writeSet.requests;
      if ((result?.leasedStarts?.includes(instanceId) ?? true) && created?.type === 'createInstance') {
        handOff!.started({ state: created.state, messages: [created.message], lease });
      } else {
        handOff!.cancelled();
      }
    }
    held?.();
    return instanceId;
  }

  async signalWithStart(name: string, options: SignalWithStartOptions): Promise<string> {
    assertValidName(name, 'orchestrator name');
    this.#assertKnown(name);
    const { instanceId, input, eventName, eventData, tags, idempotencyKey } = readSignalWithStartOptions(options);
    const now = this.#now();
    // Not handed to this runtime's worker leased (as startNew's is): over an active instance nothing is created, and
    // the worker claims the new execution with both its messages as usual.
    const writeSet = decideSignalWithStart({ instanceId, name, input, now, newId: this.#newId, tags }, eventName, eventData, idempotencyKey);
    const [created] = writeSet.requests as [CreateInstanceWrite];
    // Frozen, as startNew's start message and a raised event: the client's own, so a store may keep them without a copy.
    freezeBuilt(created.message);
    freezeBuilt(created.signal!);
    // The worker claims nothing until a macrotask after the commit, as after a start or a restart: the caller's reads
    // right after show an execution it started Pending.
    const held = this.#startHandOff?.()?.holdWakes();
    try {
      await this.#commit(writeSet, now.getTime());
    } finally {
      held?.();
    }
    return instanceId;
  }

  async getStatus(instanceId: string, options: GetStatusOptions = {}): Promise<InstanceStatus | undefined> {
    assertValidInstanceId(instanceId);
    const { showHistory, showHistoryOutput, showInput } = readGetStatusOptions(options);
    const shown = (state: InstanceState, history: readonly HistoryEvent[]): InstanceStatus => (
      {
        ...toInstanceStatus(state, { showInput }),
        history: history.map(!showHistoryOutput ? withoutPayload : showInput === false ? withoutInput : ownEvent),
      }
    );
    // Without input shown, the store may leave it out, and read none.
    const wanted = showInput === false ? { showInput } : undefined;
    if (showHistory) {
      const read = await this.#snapshot(instanceId, wanted);
      return read && shown(read.state, read.history);
    }
    const state = await this.#read(instanceId, wanted);
    return state && toInstanceStatus(state, { showInput });
  }

  /**
   * The state of an instance with its current history, of one reading (`undefined`: no such instance): in one call
   * where the store reads both at once (`Store.getInstanceHistory`), otherwise the history read is the state's only
   * when the instance still shows that history once it has answered (`eventsOfHistory`); if not, both are read again,
   * at most HISTORY_READ_ATTEMPTS times (an instance that moves on faster than its history reads: UnavailableError).
   * `range`: only those events of the history (from its first, `fromIndex` is not taken).
   */
  async #snapshot(
    instanceId: string, shown?: ShownInput, range?: HistoryRange,
  ): Promise<{ state: InstanceState; history: readonly HistoryEvent[] } | undefined> {
    if (this.#store.getInstanceHistory) {
      const { events, after } = await this.#readHistory(instanceId, range, shown);
      return after && { state: after, history: events };
    }
    let state = await this.#read(instanceId, shown);
    for (let attempt = 1; state; attempt++) {
      const { events, after } = await this.#readHistory(instanceId, range, shown);
      const history = eventsOfHistory(state, 0, events, after);
      if (history) return { state, history };
      if (attempt === HISTORY_READ_ATTEMPTS) {
        throw new UnavailableError(`The history of ${JSON.stringify(instanceId)} started over at each read; try again`);
      }
      state = after; // undefined: purged in between
    }
    return undefined;
  }

  async listInstances(query: ListInstancesQuery = {}): Promise<InstancesPage> {
    const storeQuery = validateInstanceQuery(query);
    assertStoreFilters(this.#store.capabilities, storeQuery, 'query');
    const page = await this.#bounded(() => this.#store.queryInstances(storeQuery));
    return {
      instances: page.instances.map((s) => toInstanceStatus(s, storeQuery)),
      ...(page.continuationToken === undefined ? {} : { continuationToken: page.continuationToken }),
    };
  }

  getStatusAll(): Promise<InstanceStatus[]> {
    return this.getStatusBy({});
  }

  async getStatusBy(filter: InstanceFilter): Promise<InstanceStatus[]> {
    const valid = validateInstanceFilter(filter);
    return followPages((token) => this.listInstances({ ...valid, pageSize: MAX_PAGE_SIZE, continuationToken: token }));
  }

  raiseEvent(instanceId: string, eventName: string, eventData?: unknown, options?: RaiseEventOptions): Promise<void> {
    // Not an async function: the promise returned is the commit's own (an async function that returns a promise adds
    // a promise, a job and two turns to every raise). What it refuses rejects that promise all the same.
    try {
      assertValidName(eventName, 'event name');
      const idempotencyKey = options === undefined ? undefined : readRaiseEventOptions(options).idempotencyKey;
      const input = toPlainJson(eventData, 'event data');
      // One reading of the clock for the event's time and the commit's bound.
      const now = this.#now();
      // Built as it is sent, in one literal of either shape: no spread of an `{ input }` made for it, and no `input`
      // added afterwards (a property added to a four-property literal goes to a separate property array: 40 bytes
      // more per raise, kept with the event in the history).
      const timestamp = isoTime(now);
      const event: EventRaisedEvent = input === undefined
        ? { type: 'EventRaised', eventId: -1, timestamp, name: eventName }
        : { type: 'EventRaised', eventId: -1, timestamp, name: eventName, input };
      // Returned, not awaited: no suspended call holds the write set until the commit settles (raising to thousands of
      // instances at once kept every write set alive through the next collections).
      return this.#commitVoid(this.#messageTo(instanceId, RAISE_REQUIRES, event, idempotencyKey), now.getTime());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  terminate(instanceId: string, reason?: unknown, options?: TerminateOptions): Promise<void> {
    return this.#terminate(instanceId, reason, options, true);
  }

  /**
   * @internal The HTTP API's terminate (`terminateAccepted`): resolves as a terminate of the named instance
   * alone does; a recursive one goes on applying and waiting for the sub-orchestrations it reached after that.
   */
  [TERMINATE_ACCEPTED](instanceId: string, reason: unknown, options: TerminateOptions | undefined): Promise<void> {
    return this.#terminate(instanceId, reason, options, false);
  }

  /** `terminate`; with `tree`, a recursive one resolves once the sub-orchestrations it reached are terminal too. */
  async #terminate(instanceId: string, reason: unknown, options: TerminateOptions | undefined, tree: boolean): Promise<void> {
    const recursive = readRecursive(options, 'terminate options');
    const json = toTerminateReason(reason);
    const event: ExecutionTerminatedEvent = {
      type: 'ExecutionTerminated', eventId: -1, timestamp: this.#nowIso(), ...(json === undefined ? {} : { reason: json }),
      ...(recursive ? { recursive: true } : {}),
    };
    // A recursive one notes what each commit of this client that terminates an instance hands on (the instance's id ->
    // its children's ids -> their messages), which it then waits for and may apply itself (`#treeTerminated`).
    const handedOn = recursive ? new Map<string, HandedOn>() : undefined;
    const noted = handedOn && notingHandedOn(handedOn);
    // Applied once Terminated; an instance that completes or fails first rejects the call (410), see sentCommandOutcome.
    const outcome = outcomeOf('terminate', event, this.#readSince);
    await this.#send(instanceId, 'terminate', event, outcome.reflects, 'running', this.#direct(event, decideTerminate, noted), outcome.refused);
    if (!handedOn) return;
    if (tree) return this.#treeTerminated(instanceId, event, handedOn, noted!, true);
    // Not waited for: the sub-orchestrations' terminates are in the store already. The walk only applies those this
    // client's own commits handed on; an instance a worker terminated (the named one too: no commit of this client
    // handed anything on) is the workers' to go on from, so a walk there would only wait: it takes no place. At most
    // MAX_TREE_WALKS at once, the others queued behind them.
    const children = handedOn.get(instanceId)?.messages;
    if (!children?.size) return;
    this.#walkInBackground(() => queuedWalkBytes(instanceId, json, children), () => this.#treeTerminated(instanceId, event, handedOn, noted!, false));
  }

  /**
   * Starts a background tree walk (`walk`) if fewer than {@link MAX_TREE_WALKS} run, else queues it behind the others
   * if the queue stays within {@link MAX_QUEUED_TREE_WALK_BYTES} with it (`bytes`, estimated only then), else drops it:
   * its tree is left to the workers. None once closed.
   */
  #walkInBackground(bytesOf: () => number, walk: () => Promise<void>): void {
    if (this.#isClosed) return;
    if (this.#backgroundWalks < MAX_TREE_WALKS) return this.#runWalk(walk);
    const bytes = bytesOf();
    if (this.#queuedWalkBytes + bytes > MAX_QUEUED_TREE_WALK_BYTES) return;
    this.#queuedWalkBytes += bytes;
    this.#walksIn.push({ bytes, walk });
  }

  /** Runs a background walk; once it ends (a failed read ends it too), the first queued one, if any, takes its place. */
  #runWalk(walk: () => Promise<void>): void {
    this.#backgroundWalks++;
    const done = (): void => {
      this.#backgroundWalks--;
      if (this.#isClosed) return;
      if (this.#walksOut.length === 0) {
        this.#walksOut = this.#walksIn.reverse();
        this.#walksIn = [];
      }
      const next = this.#walksOut.pop();
      if (!next) return;
      this.#queuedWalkBytes -= next.bytes;
      this.#runWalk(next.walk);
    };
    walk().then(done, done);
  }

  /**
   * Read-your-writes of a recursive terminate: resolves once every sub-orchestration it reached, at any depth, is
   * terminal (or gone, or no longer a child of the instance that sent it on), level by level: the children a terminated
   * instance's history names as unanswered when it ended ({@link childrenTerminatedWith}), provided it was ended by a
   * recursive terminate (one queued before, not recursive, ended it otherwise: nothing went on), level by level
   * ({@link awaitTerminatedTree}). An instance this
   * client terminated in its own commit needs no read: the commit named the children it handed the terminate on to
   * (`handedOn`, instance id -> child id -> message id). Such a child is terminated by this client itself where the
   * store can (`unclaimedWrites`) and no worker holds it: the commit applies the queued message and deletes it
   * (`DirectInput.takes`), as a worker's step would, so a client with no worker anywhere sees the whole tree end at
   * once. Otherwise workers apply the children's terminates; after {@link COMMAND_APPLIED_TIMEOUT_MS} it resolves
   * anyway, the rest still queued, and at once when the client closes (`#walks`). Without `wait` (a walk in the
   * background, which nobody waits for) it only applies what this client handed on: it neither waits for a child left to
   * a worker nor reads the children of an instance a worker terminated (the worker handed its terminate on), and ends
   * once the level it terminated itself has no children, so it gives its place to a queued walk as soon as it can.
   */
  async #treeTerminated(
    rootId: string, event: ExecutionTerminatedEvent, handedOn: ReadonlyMap<string, HandedOn>,
    noted: (state: InstanceState, writeSet: WriteSet) => void, wait: boolean,
  ): Promise<void> {
    let expire!: () => void;
    const expired = new Promise<void>((resolve) => (expire = resolve));
    let over = false;
    const end = (): void => {
      over = true;
      expire();
    };
    const cancel = this.#deadlines.add(COMMAND_APPLIED_TIMEOUT_MS, end);
    this.#walks.add(end);
    if (this.#isClosed) end();
    try {
      // Over at its deadline whatever its store calls do: one that never answers (`storeCallTimeoutMs: Infinity`) holds
      // the walk's place no longer than that, and its late answer finds the walk over (no commit, no read, no feed).
      await Promise.race([expired, awaitTerminatedTree(rootId, (parentId) => handedOn.get(parentId)?.messages.keys() ?? (wait ? this.#childrenEndedWith(parentId) : []), async (id, parentId) => {
        // The terminate the message carries, as a worker that took it would record it: stamped when its parent was
        // terminated and handed it on, not when the root's terminate was asked for. Decided again after the read of the
        // child's history a started child's needs: a walk over by then (the client closed, its deadline passed) leaves
        // the terminate to a worker (no commit after close()).
        const handed = handedOn.get(parentId);
        const takes = handed?.messages.get(id);
        const direct = takes === undefined || !handed?.terminate ? undefined
          : this.#direct(handed.terminate, (input) => (over ? { kind: 'send' } : decideTerminate({ ...input, takes })), noted);
        if (direct) {
          try {
            const state = await this.#read(id);
            if (!over && state?.parentInstanceId === parentId && !isTerminalStatus(state.runtimeStatus)) await direct(state);
          } catch {
            // Left to a worker: the terminate is queued for it.
          }
        }
        // A walk over (its deadline passed, or the client closed during the read) ends where it is: no commit, no feed.
        if (wait && !over) await this.#untilEnded(id, parentId, expired);
      }, () => over)]);
    } finally {
      cancel();
      this.#walks.delete(end);
    }
  }

  /** The children a recursive terminate that a worker applied to `parentId` went on to, read from its history. */
  async #childrenEndedWith(parentId: string): Promise<readonly string[]> {
    const { events, after } = await this.#readHistory(parentId);
    return childrenTerminatedWith(parentId, after?.runtimeStatus, events);
  }

  /**
   * Resolves once `id` is terminal, gone or no sub-orchestration of `parentId` (another instance took the id), as
   * `#follow` delivers its states, when its feed ends, or when `expired` resolves.
   */
  #untilEnded(id: string, parentId: string, expired: Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      let stop: (() => void) | undefined;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        resolve();
        stop?.();
      };
      try {
        stop = this.#follow(id, {
          next: (state) => childSettled(state, parentId) && finish(),
          error: finish,
          complete: finish,
        });
      } catch {
        return finish(); // a closed client: nothing more to wait for
      }
      if (done) stop();
      void expired.then(finish);
    });
  }

  cancel(instanceId: string, reason?: string): Promise<void> {
    // A message, as a raised event: it runs the orchestrator's code, so only a worker applies it (no direct commit).
    try {
      const now = this.#now();
      const event: ExecutionCancelRequestedEvent = { type: 'ExecutionCancelRequested', eventId: -1, timestamp: isoTime(now), ...reasonOf(reason) };
      return this.#commitVoid(this.#messageTo(instanceId, CANCEL_REQUIRES, event), now.getTime());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async suspend(instanceId: string, reason?: string): Promise<void> {
    const event: ExecutionSuspendedEvent = { type: 'ExecutionSuspended', eventId: -1, timestamp: this.#nowIso(), ...reasonOf(reason) };
    // Applied once Suspended, or once the history shows it applied in a step that went on past it (a terminate or a
    // resume right behind it); an instance that ends first rejects the call (410), see sentCommandOutcome.
    const outcome = outcomeOf('suspend', event, this.#readSince);
    await this.#send(instanceId, 'suspend', event, outcome.reflects, 'running', this.#direct(event, decideSuspend), outcome.refused);
  }

  async resume(instanceId: string, reason?: string): Promise<void> {
    const event: ExecutionResumedEvent = { type: 'ExecutionResumed', eventId: -1, timestamp: this.#nowIso(), ...reasonOf(reason) };
    // Applied once no longer Suspended, or once the history shows it applied in a step that went on past it (a suspend
    // right behind it), see sentCommandOutcome.
    const outcome = outcomeOf('resume', event, this.#readSince);
    await this.#send(instanceId, 'resume', event, outcome.reflects, 'running', this.#direct(event, decideResume), outcome.refused);
  }

  async rewind(instanceId: string, reason?: string): Promise<void> {
    // Sent to this runtime's own worker when it claims at once: its step rewrites the history and reruns the failed
    // calls, and the call resolves once that step has committed (a sub-orchestration it calls again exists then).
    // Otherwise (no worker of this client, stopped or busy) committed by the client itself when no worker holds the
    // instance (`decideRewind`: the history rewritten, the status Running, the rerun left to the next claim), else
    // sent. The store checks, in the commit's transaction, that the instance is still Failed (410 / 409 otherwise).
    // Applied once the instance left Failed or its history was rewritten (a new epoch); see #send for a new execution
    // or a purge. Refused once a worker recorded it as refused (`#rewindRefused`): the call rejects then.
    const event: ExecutionRewoundEvent = { type: 'ExecutionRewound', eventId: -1, timestamp: this.#nowIso(), ...reasonOf(reason) };
    await this.#send(
      instanceId, 'rewind', event,
      (state, before) => state.runtimeStatus !== 'Failed' || (state.historyEpoch ?? 0) > (before.historyEpoch ?? 0),
      'failed', this.#startHandOff?.()?.claimsNow() ? undefined : this.#direct(event, decideRewind),
      (next, before) => this.#rewindRefused(next, before),
    );
  }

  /**
   * The error of a rewind sent to a worker that the worker recorded as refused (`decideRefusedStep`: the store refused
   * its rewritten history, then every smaller record of it, for good): `next`, a state of the instance after the
   * state `before` the rewind was sent, may hold the record (`refusedRewindFrom`: still `before`'s history, Failed,
   * with events appended), and the events appended hold the refused `ExecutionRewound` (`refusedRewindOf`), read from
   * the store once the state shows them. Such a state is rare (late events of a Failed instance, a refused rewind), so
   * is the read. A step the worker consumed with no record, the store refusing every record of it
   * (`unrecordedRewindOf`: the same history, Failed, nothing appended, the version moved on), is a refusal too, with
   * nothing to read. No such record: `undefined`. One record stands for every rewind its step consumed (it records only
   * the last), so one recorded after `before` answers this call (a rewind of another caller queued with this one is
   * refused for the same history). The record names no message: listing the ids of the rewinds it consumed would
   * make the record of fixed size grow with them, and a store has no read of one queued message. So a rewind sent
   * while a worker records another caller's refusal of the same history can be answered by that record, and its own
   * message, applied later, may still rewind the instance (in practice the store refuses it again). A
   * {@link PayloadTooLargeError} (413): the rewritten history is more than the store holds, and sent again it would be
   * refused again; the instance is not in a status the rewind refuses (409, 410), nor was an argument wrong (400).
   */
  #rewindRefused(next: InstanceState, before: InstanceState): Promise<PayloadTooLargeError | undefined> | undefined {
    const refusal = (why: string | undefined): PayloadTooLargeError | undefined =>
      why === undefined ? undefined : new PayloadTooLargeError(`The rewind of ${JSON.stringify(next.instanceId)} was not made, the instance stays Failed: ${why}`);
    // Consumed with no record (the store refused every record of it): nothing to read.
    const unrecorded = unrecordedRewindOf(before, next);
    if (unrecorded !== undefined) return Promise.resolve(refusal(unrecorded));
    const from = refusedRewindFrom(before, next);
    if (from === undefined) return undefined;
    return this.#readHistory(next.instanceId, { fromIndex: from, toIndex: next.historyLength }).then(({ events, after }) => refusal(refusedRewindOf(eventsOfHistory(next, from, events, after) ?? [])));
  }

  async restart(instanceId: string, options: RestartOptions = {}): Promise<string> {
    const { restartWithNewInstanceId } = readRestartOptions(options);
    assertValidInstanceId(instanceId);
    // The state and its history (one reading): the start takes the input's GUIDs a copied step made (`copiedStart`).
    // A restart is no copy, as Durable Functions' is not: it names no instance it was copied from (`forkedFrom`), so
    // its calls start the children their ids name, replacing an ended one, as the restarted instance's did.
    // Only the first events: the start is in the first step (`startSearched`); a longer first step is read whole.
    let read = await this.#snapshot(instanceId, undefined, { toIndex: RESTART_HISTORY_EVENTS });
    if (read && !startSearched(read.state, read.history) && read.history.length < read.state.historyLength) read = await this.#snapshot(instanceId);
    if (!read) throw instanceNotFound(instanceId);
    const { state, history } = read;
    this.#assertKnown(state.name);
    const newId = restartWithNewInstanceId ? this.#newId() : instanceId;
    const writeSet = decideRestart(instanceId, {
      instanceId: newId, name: state.name, input: toPlainJson(state.input, 'input'), now: this.#now(), newId: this.#newId, tags: state.tags,
      ...restartedStart(state, history),
    });
    // The worker claims nothing until a macrotask after the commit: the caller's reads right after show it Pending.
    const held = this.#startHandOff?.()?.holdWakes();
    try {
      // The store refuses it in the commit's transaction unless the instance is (still) terminal: 409.
      await this.#commit(writeSet);
    } finally {
      held?.();
    }
    return newId;
  }

  async fork(instanceId: string, options: ForkOptions = {}): Promise<string> {
    assertValidInstanceId(instanceId);
    const { newInstanceId, keepResults, reapplyEvents } = readForkOptions(options);
    // One snapshot of the source (its state and the history of that state): the source may go on meanwhile, the fork
    // copies what it had at that reading, and writes nothing of it.
    const read = await this.#snapshot(instanceId);
    if (!read) throw instanceNotFound(instanceId);
    const { state, history } = read;
    this.#assertKnown(state.name);
    const forkId = newInstanceId ?? this.#newId();
    if (newInstanceId === undefined) assertValidInstanceId(forkId); // a user-supplied newId may make a bad one
    const writeSet = decideFork({ source: state, history, keepResults, reapplyEvents, instanceId: forkId, now: this.#now(), newId: this.#newId });
    // The worker claims nothing until a macrotask after the commit, as after a restart: the caller's reads right after
    // show the fork as committed.
    const held = this.#startHandOff?.()?.holdWakes();
    try {
      // The store refuses it in the commit's transaction when any instance has the id: 409.
      await this.#commit(writeSet);
    } finally {
      held?.();
    }
    return forkId;
  }

  async purgeInstanceHistory(instanceId: string, options?: PurgeInstanceOptions): Promise<PurgeResult> {
    assertValidInstanceId(instanceId);
    const recursive = readRecursive(options, 'purge options');
    if (!recursive) return { instancesDeleted: await this.#bounded(() => this.#store.purgeInstance(instanceId)) };
    // The tree is read (planTreePurge asks for each level's states, then their histories) and deleted with each member's
    // condition (the snapshot read, still terminal) in sets of MAX_PURGE_SET, deepest first, each set all or nothing. A
    // set whose condition failed (a member changed since it was read) deleted nothing: the tree is read again and the
    // decision made again, PURGE_ATTEMPTS times in all. So is the tree when a member's history read is no longer the
    // history of the state read for it (eventsOfHistory: restarted, rewound or purged in between): the children it
    // names would be another execution's, deleted in an earlier set before the member's own condition fails.
    let instancesDeleted = 0;
    for (let attempt = 1; ; attempt++) {
      const reads = { states: new Map<string, InstanceState | undefined>(), histories: new Map<string, readonly HistoryEvent[]>() };
      let decision = planTreePurge(instanceId, reads);
      let changed: string | undefined;
      while (decision.kind === 'read' && changed === undefined) {
        const { states, histories } = decision;
        const moved = await Promise.all([
          ...states.map(async (id) => void reads.states.set(id, await this.#read(id))),
          ...histories.map(async (id) => {
            const { events, after } = await this.#readHistory(id, { toIndex: reads.states.get(id)?.historyLength });
            const own = eventsOfHistory(reads.states.get(id)!, 0, events, after);
            if (!own) return id;
            reads.histories.set(id, own);
            return undefined;
          }),
        ]);
        changed = moved.find((id) => id !== undefined);
        if (changed === undefined) decision = planTreePurge(instanceId, reads);
      }
      if (decision.kind === 'purge') {
        const { members } = decision;
        for (let from = 0; from < members.length && changed === undefined; from += MAX_PURGE_SET) {
          const result = await this.#bounded(() => this.#store.purgeInstanceSet(members.slice(from, from + MAX_PURGE_SET)));
          instancesDeleted += result.instancesDeleted;
          changed = result.changed;
        }
      }
      if (changed === undefined) return { instancesDeleted };
      if (attempt === PURGE_ATTEMPTS) {
        throw new UnavailableError(`Cannot purge instance ${JSON.stringify(instanceId)}: its tree changed while it was purged (instance ${JSON.stringify(changed)}), ${PURGE_ATTEMPTS} times; try again`);
      }
    }
  }

  async purgeInstanceHistoryBy(filter: PurgeInstancesFilter): Promise<PurgeResult> {
    const valid = validatePurgeFilter(filter);
    assertStoreFilters(this.#store.capabilities, valid, 'purge filter');
    return { instancesDeleted: await this.#bounded(() => this.#store.purgeInstances(valid)) };
  }

  terminateBy(filter: InstanceFilter, reason?: unknown, options?: BulkTerminateOptions): Promise<BulkCommandResult> {
    return this.#terminateBy(filter, reason, options, true);
  }

  /**
   * @internal The HTTP API's terminate by filter (`terminateByAccepted`): each instance's terminate resolves as
   * `[TERMINATE_ACCEPTED]` resolves one; a recursive one goes on down each tree after that.
   */
  [TERMINATE_BY_ACCEPTED](filter: InstanceFilter, reason: unknown, options: BulkTerminateOptions | undefined): Promise<BulkCommandResult> {
    return this.#terminateBy(filter, reason, options, false);
  }

  /** `terminateBy`; with `tree`, a recursive one's terminate of each instance resolves once its tree is terminal too. */
  #terminateBy(filter: InstanceFilter, reason: unknown, options: BulkTerminateOptions | undefined, tree: boolean): Promise<BulkCommandResult> {
    return this.#commandBy('terminate', filter, options, () => toTerminateReason(reason), (id, json, recursive) =>
      this.#terminate(id, json, recursive ? { recursive } : undefined, tree));
  }

  suspendBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult> {
    return this.#commandBy('suspend', filter, options, () => reasonOf(reason).reason, (id, checked) => this.suspend(id, checked as string | undefined));
  }

  resumeBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult> {
    return this.#commandBy('resume', filter, options, () => reasonOf(reason).reason, (id, checked) => this.resume(id, checked as string | undefined));
  }

  cancelBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult> {
    return this.#commandBy('cancel', filter, options, () => reasonOf(reason).reason, (id, checked) => this.cancel(id, checked as string | undefined));
  }

  /**
   * A command by filter (see `DurableClient.terminateBy`): the filter, the reason (`checkReason`, which returns it as
   * the command takes it) and the options checked before anything is read; then the instances the store lists for
   * `command`, page by page (no inputs read), each given to its per-instance command (`apply`), up to
   * {@link BULK_CONCURRENCY} at once. An instance that command refuses as unknown (404) or no longer in a status it
   * applies to (410) is skipped; any other error ends the call once the commands under way have settled.
   */
  async #commandBy(
    command: BulkCommand, filter: unknown, options: unknown, checkReason: () => unknown,
    apply: (instanceId: string, reason: unknown, recursive: boolean) => Promise<void>,
  ): Promise<BulkCommandResult> {
    const query = bulkFilter(command, filter);
    if (query) assertStoreFilters(this.#store.capabilities, query, `${command}By filter`);
    const reason = checkReason();
    const { limit, continuationToken, signal, recursive } = readBulkOptions(command, options);
    if (signal?.aborted) throw signal.reason;
    let instancesAffected = 0;
    let instancesSkipped = 0;
    let token = continuationToken;
    let remaining = limit ?? Infinity;
    while (query && remaining > 0) {
      if (signal?.aborted) throw signal.reason;
      const pageSize = Math.min(BULK_PAGE_SIZE, remaining);
      const page = await this.#bounded(() => this.#store.queryInstances({
        ...query, showInput: false, pageSize, ...(token === undefined ? {} : { continuationToken: token }),
      }));
      const ids = page.instances.map((state) => state.instanceId);
      remaining -= ids.length;
      token = page.continuationToken;
      let next = 0;
      let failure: { readonly error: unknown } | undefined;
      const run = async (): Promise<void> => {
        while (next < ids.length && !failure && !signal?.aborted) {
          const id = ids[next++]!;
          try {
            await apply(id, reason, recursive);
            instancesAffected++;
          } catch (error) {
            if (isDurableError(error) && (error.code === 'instance-not-found' || error.code === 'instance-not-running')) instancesSkipped++;
            else failure ??= { error };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(BULK_CONCURRENCY, ids.length) }, run));
      if (failure) throw failure.error;
      // Aborted with instances left to take up: rejects. Once every instance asked for is taken up (all that match, or
      // `limit` reached), the call has done its work and returns it, with the token to go on.
      if (signal?.aborted && (next < ids.length || (token !== undefined && remaining > 0))) throw signal.reason;
      if (token === undefined) break;
    }
    return { instancesAffected, instancesSkipped, ...(query && token !== undefined ? { continuationToken: token } : {}) };
  }

  async waitForCompletion(
    instanceId: string, options: { readonly timeoutMs?: number | undefined } = {},
  ): Promise<InstanceStatus> {
    const timeoutMs = readTimeoutMs(options, 'waitForCompletion options', DEFAULT_WAIT_TIMEOUT_MS);
    assertValidInstanceId(instanceId);
    // Straight on the instance's raw states, not status$: each commit costs one terminal check, only the last state
    // becomes a status, and no snapshot is compared with the one before. One listener in the client's change router
    // and one deadline on the client's shared timer per wait (no timer of its own). An unknown (or purged) instance
    // shows as `undefined` and ends the wait.
    const latest = await new Promise<InstanceState | undefined>((resolve, reject) => {
      let settled = false;
      let seen = false; // the current state has been read
      let timedOut = false;
      let latestState: InstanceState | undefined;
      /** The last failure of the first read, which is being read again (see #follow). */
      let readFailure: unknown;
      let stopFollowing: (() => void) | undefined;
      let cancelTimer: (() => void) | undefined;
      const settle = (end: () => void): void => {
        if (settled) return;
        settled = true;
        // The wait ends whatever letting go throws (a store feed whose teardown throws): the error goes on after.
        try {
          cancelTimer?.();
          stopFollowing?.();
        } finally {
          end();
        }
      };
      stopFollowing = this.#follow(instanceId, {
        next: (state) => {
          latestState = state;
          seen = true;
          if (timedOut || state === undefined || isTerminalStatus(state.runtimeStatus)) settle(() => resolve(state));
        },
        error: (error: unknown) => settle(() => reject(error)),
        failedRead: (error) => void (readFailure = error),
        // The client or the store closed before a terminal status and the timeout: StoreClosedError, as every later
        // call gets (the shared rule, closedWaitError), with the last failure of a read made again as its cause.
        complete: () => settle(() => reject(closedWaitError(instanceId, readFailure))),
      });
      if (settled) stopFollowing();
      // The timeout (from the call) ends the wait with the latest status. A store that has not answered the first read
      // by then (a slow IndexedDB read and `timeoutMs: 0`, a read that failed and is being read again) still gets
      // FIRST_ANSWER_GRACE_MS to answer, and the wait resolves with that status; one that never answers ends the wait
      // with the shared UnavailableError (noStatusError), with the last failure of the read as its cause. The remote
      // client follows the same rule for its first snapshot.
      else {
        const timeUp = (): void => (seen ? settle(() => resolve(latestState)) : noAnswer());
        // A clock that returns no valid Date gives no deadline: the wait ends with its RangeError.
        const deadline = (ms: number, passed: () => void): void => {
          try {
            cancelTimer = this.#deadlines.add(ms, passed);
          } catch (error) {
            settle(() => reject(error));
          }
        };
        const noAnswer = (): void => {
          timedOut = true;
          deadline(FIRST_ANSWER_GRACE_MS, () => settle(() => reject(noStatusError(instanceId, readFailure))));
        };
        // `timeoutMs: 0` (or less) has passed already: the first status ends the wait, with no deadline to reach on a
        // clock that may not move by itself (a VirtualClock in a test).
        if (timeoutMs <= 0) timeUp();
        else deadline(timeoutMs, timeUp);
      }
    });
    if (!latest) throw instanceNotFound(instanceId);
    return this.#statusOf(latest);
  }

  status$(instanceId: string): Observable<InstanceStatus | undefined> {
    assertValidInstanceId(instanceId);
    // Repeats are dropped on the raw states, and only the states that are emitted become statuses.
    return this.#distinct$(instanceId, () => new ShownBaseline(), (state) => (state ? this.#statusOf(state) : undefined));
  }

  /**
   * {@link status$} with each snapshot's commit version (`InstanceState.version`; 0 for no instance): what the HTTP
   * API's status streams send, so that a reader that comes back in a new stream knows whether it missed commits
   * (`statusChangesMissed`).
   *
   * @internal
   */
  versionedStatus$(instanceId: string): Observable<VersionedStatus> {
    assertValidInstanceId(instanceId);
    return this.#distinct$(instanceId, () => new ShownBaseline(), (state) => ({
      status: state ? this.#statusOf(state) : undefined, version: state?.version ?? 0,
    }));
  }

  customStatus$(instanceId: string): Observable<unknown> {
    assertValidInstanceId(instanceId);
    // The same values as status$ mapped to customStatus without repeats, without building a status per commit; a
    // shared state's value copied, as #statusOf copies it.
    return this.#distinct$(
      instanceId, () => {
        // The custom status, by its JSON text (see JsonBaseline); a shared state's, which the watcher gets a copy of,
        // kept as it is.
        const last = new JsonBaseline();
        return { take: (state) => last.take(state?.customStatus, state !== undefined && isShared(state)) };
      },
      (state) => (state && isShared(state) ? copyStoreValue(state.customStatus) : state?.customStatus),
    );
  }

  instances$(instanceFilter: InstanceFilter = {}): Observable<InstanceStatus[]> {
    // listInstances' query is taken whole (its paging checked, then left out: a live list holds every match).
    const { pageSize: _pageSize, continuationToken: _token, ...query } = validateInstanceQuery(instanceFilter, 'filter');
    assertStoreFilters(this.#store.capabilities, query, 'filter');
    return new Observable<InstanceStatus[]>((subscriber) => {
      const list: LiveList = {
        members: new Map(), baselines: new Map(), shown: [], positions: new Map(), sorted: false, stale: new Set(), pending: [], ready: false,
        order: pageOrderOf(query.order),
      };
      const statusOf = (state: InstanceState): InstanceStatus => this.#statusOf(state, query);
      /** Runs the query again when the store signalled it may have missed commits (see below). */
      let kick = (): void => undefined;
      // The initial query (an array) or a committed change; emits when what the list shows changed.
      const onNext = (next: InstanceState[] | StatusChange): void => {
        if (Array.isArray(next)) {
          for (const s of next) {
            const known = list.members.get(s.instanceId);
            if (isNewerChange({ state: s }, known)) list.members.set(s.instanceId, s);
          }
          for (const s of list.members.values()) list.baselines.set(s.instanceId, shownBaseline(s));
          for (const change of list.pending) applyChange(list, change, query);
          list.pending = [];
          list.ready = true;
          kick();
        } else if (!list.ready) {
          return void list.pending.push(next);
        } else if (!applyChange(list, next, query)) {
          return;
        }
        subscriber.next(shownStatuses(list, statusOf));
      };
      const feed = withFirst<InstanceState[], StatusChange>((next, error, failed) => this.#firstRead(() => this.#queryAll(query), next, error, failed), this.#changes.all()).subscribe({
        next: (next) => {
          try {
            onNext(next);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      // The store may have missed commits (see `Store.resync$`): the query runs again, once per signal (a signal
      // during a run, or before the first query answered, runs it once more after), and what it read joins the list
      // as changes do (`applyChange`: only what is newer than a member counts). A member it no longer finds is read on
      // its own: gone (a purge) or moved out of the filter. A failed run (the store closed) changes nothing.
      let running = false;
      let again = false;
      const resync = async (): Promise<void> => {
        running = true;
        try {
          while (again && !subscriber.closed) {
            again = false;
            const found = await this.#queryAll(query);
            const missing = new Set(list.members.keys());
            const changes: StatusChange[] = found.map((state) => (missing.delete(state.instanceId), { instanceId: state.instanceId, state }));
            for (const instanceId of missing) changes.push({ instanceId, state: await this.#read(instanceId) });
            let changed = false;
            for (const change of changes) changed = applyChange(list, change, query) || changed;
            if (changed && !subscriber.closed) subscriber.next(shownStatuses(list, statusOf));
          }
        } finally {
          running = false;
        }
      };
      kick = () => {
        if (again && list.ready && !running) resync().catch(() => undefined);
      };
      const signals = this.#store.resync$?.subscribe({
        next: () => {
          again = true;
          kick();
        },
        error: () => undefined,
      });
      return () => {
        signals?.unsubscribe();
        feed.unsubscribe();
      };
    });
  }

  history$(instanceId: string): Observable<HistoryEvent> {
    return this.#marked$(instanceId, false) as Observable<HistoryEvent>;
  }

  /**
   * {@link history$} with a {@link HistoryPosition} before each history's first event: the history's id
   * (`<executionId>/<epoch>`), its length when the mark is taken (the events of the read that follows it) and the
   * history it replaced as it ended (`previous`, when the store knows it: `InstanceState.previousHistory`; or, for the
   * first history after a purge, the purged one when this subscription saw the purge delete its last state:
   * `historyEndedByPurge`). What the
   * HTTP API's history streams read, to tell a reader where it is and to skip no more than a history has (see
   * `historyEventsHeld`), and what `useHistory` starts over on.
   *
   * @internal
   */
  historyPositions$(instanceId: string): Observable<HistoryEvent | HistoryPosition> {
    return this.#marked$(instanceId, true);
  }

  /** The history of `instanceId`, live, with its position before each history's first event when `marks`. */
  #marked$(instanceId: string, marks: boolean): Observable<HistoryEvent | HistoryPosition> {
    assertValidInstanceId(instanceId);
    return new Observable<HistoryEvent | HistoryPosition>((subscriber) => {
      let historyKey: string | undefined;
      let emitted = 0;
      /** The history of the instance started after a purge, with the purged one it follows (`historyEndedByPurge`). */
      let afterPurge: { readonly execution: string; readonly previous: HistoryPosition['previous'] } | undefined;
      const read = async (state: InstanceState | undefined): Promise<readonly (HistoryEvent | HistoryPosition)[]> => {
        if (!state) return []; // unknown or purged
        const key = historyIdOf(state);
        const from = key === historyKey ? emitted : 0; // continueAsNew, a restart or a rewind: the history starts over
        if (state.historyLength <= from && key === historyKey) return [];
        // Read even when it has no events yet, a history that starts over is confirmed by the instance read with it.
        // Events of another history (the instance moved on while they were read) are dropped: a later change reads
        // that history, which the feed delivers.
        const { events, after } = await this.#readHistory(instanceId, { fromIndex: from, toIndex: state.historyLength });
        const fresh = eventsOfHistory(state, from, events, after);
        if (!fresh) return [];
        const out: (HistoryEvent | HistoryPosition)[] = [];
        if (key !== historyKey) {
          historyKey = key;
          emitted = 0;
          // With the history it replaced as it ended, when the store knows it: a reader back after a gap tells by it
          // whether it missed anything (`historyEventsMissed`).
          if (marks) {
            const previous = state.previousHistory ?? (afterPurge?.execution === key ? afterPurge.previous : undefined);
            out.push({ execution: key, events: fresh.length, previous });
          }
        }
        emitted += fresh.length;
        for (const event of fresh) out.push(ownEvent(event));
        return out;
      };
      // One read at a time, of the latest state (`#follow`: the current one, then each commit, in order): a state
      // that a later one follows before its read starts needs no read of its own. The later one reads the same history
      // further, or another history, in which case the earlier one's is gone already (the store has moved on to the
      // later state). A read that fails is made again as a watch's first read is (`#firstRead`: `firstReadRetryDelay`),
      // of the latest state then: what was delivered is not read again, and a commit that arrives meanwhile is read
      // with it. After an error or an unsubscribe no read starts; the feed's end is passed on after the reads, or at once
      // while a failed read waits to be made again.
      let latest: InstanceState | undefined;
      let pending = false;
      /** Stops the read under way (or waiting to be made again after a failure); undefined while none is. */
      let stopRead: (() => void) | undefined;
      /** That read failed, and is made again. */
      let retrying = false;
      let ended = false;
      /** A purge seen, until the next state: the state it deleted, as this subscription had it, and what it names. */
      let purge: { readonly held: InstanceState | undefined; readonly purged: PurgedSnapshot | undefined } | undefined;
      const end = (): void => {
        stopRead?.();
        subscriber.complete();
      };
      const pump = (): void => {
        retrying = false;
        stopRead = undefined;
        if (!pending || subscriber.closed) {
          if (ended) subscriber.complete();
          return;
        }
        stopRead = this.#firstRead(
          () => {
            pending = false;
            return read(latest);
          },
          (events) => {
            for (const event of events) if (!subscriber.closed) subscriber.next(event);
            pump();
          },
          (error: unknown) => subscriber.error(error),
          () => {
            retrying = true;
            if (ended) end();
          },
        );
      };
      const unfollow = this.#follow(instanceId, {
        next: (state, purged) => {
          if (marks && state === undefined) {
            purge = { held: latest, purged };
          } else if (purge && state) {
            // The first history after a purge, which the store cannot say follows anything: this subscription can.
            const previous = historyEndedByPurge(purge.held, purge.purged, state);
            afterPurge = previous && { execution: historyIdOf(state), previous };
            purge = undefined;
          }
          latest = state;
          pending = true;
          if (!stopRead) pump();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          ended = true;
          if (!stopRead || retrying) end();
        },
      });
      return () => {
        stopRead?.();
        unfollow();
      };
    });
  }

  createHttpManagementPayload(instanceId: string, baseUrl: string, options: HttpManagementPayloadOptions = {}): HttpManagementPayload {
    return createHttpManagementPayload(instanceId, baseUrl, options);
  }

  createCheckStatusResponse(request: Request, instanceId: string, options: CheckStatusResponseOptions = {}): Response {
    return createCheckStatusResponseOf(this, request, instanceId, options);
  }

  waitForCompletionOrCreateCheckStatusResponse(
    request: Request, instanceId: string, options?: WaitForCompletionOrCheckStatusOptions | number, retryIntervalInMilliseconds?: number,
  ): Promise<Response> {
    return waitForCompletionOrCreateCheckStatusResponseOf(this, request, instanceId, options, retryIntervalInMilliseconds);
  }

  /** See {@link LocalDurableClient.close}. */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    // The queued tree walks never start; the running ones end where they are.
    this.#walksIn = [];
    this.#walksOut = [];
    this.#queuedWalkBytes = 0;
    // Every feed is ended even when letting go of one throws (a store feed whose teardown throws); the first error is
    // thrown after.
    const errors: unknown[] = [];
    for (const end of [...this.#walks, () => this.#changes.close(), ...this.#onClose]) {
      try {
        end();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  // ---------------------------------------------------------------- helpers

  /** `source` until this client closes, then completed as if the store had closed (`takeUntil` of the close). */
  #untilClosed<T>(source: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      if (this.#isClosed) return subscriber.complete();
      let subscription: Subscription | undefined;
      // The store's feed is let go of before the subscriber hears the end, so a teardown of it that throws is thrown
      // here, to `close` (which ends the other feeds first), not inside the subscriber's own handlers (where rxjs
      // would report it as unhandled); the subscriber completes either way.
      const end = (): void => {
        try {
          subscription?.unsubscribe();
        } finally {
          subscriber.complete();
        }
      };
      this.#onClose.add(end);
      subscription = source.subscribe({
        next: (value) => subscriber.next(value),
        error: (error: unknown) => subscriber.error(error),
        complete: end,
      });
      return () => {
        this.#onClose.delete(end);
        subscription?.unsubscribe();
      };
    });
  }

  /**
   * The states of one instance (see {@link LocalClient.#follow}) without consecutive repeats, each state a new
   * `baseline()` of the subscription takes emitted as `value(state)`: `distinctUntilChanged` + `map`, written out (see
   * the imports). The baseline keeps what the comparison needs of the last state emitted, taken before the subscriber
   * gets its value, not the state: the subscriber owns what it got, and changing it must not change what counts as a
   * repeat.
   */
  #distinct$<V>(
    instanceId: string, baseline: () => Baseline, value: (state: InstanceState | undefined) => V,
  ): Observable<V> {
    return new Observable<V>((subscriber) => {
      const last = baseline();
      return this.#follow(instanceId, {
        next: (state) => {
          try {
            if (last.take(state)) subscriber.next(value(state));
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
  }

  /**
   * Instance states of one instance, handed to a plain observer: the current one at once, then each committed change
   * in commit order (a purge with the snapshot it names, `StatusChange.purged`). Changes that arrive while the initial read is in flight are held and merged by `version`, so
   * none is lost or delivered twice. The hot path of every status$, customStatus$ and waitForCompletion, written
   * without operators (one router listener per watcher; a scan + mergeMap subscribed an inner observable on every
   * emission). The current state's read is made again while it fails with an error worth another read
   * ({@link LocalClient.#firstRead}: `firstReadRetryDelay`), each failure told to `observer.failedRead`; any other
   * failure ends with `error`. The feed's completion (a closed client or store) is passed on only after the current
   * state, or at once while the read is made again after a failure (or as soon as the read in flight fails). Returns the function that stops following; the
   * observer hears nothing after it, nor after an `error` or `complete`.
   */
  #follow(instanceId: string, observer: FollowObserver): () => void {
    let ready = false;
    let ended = false;
    let stopped = false;
    /** The current state's read failed, and is made again. */
    let failed = false;
    let current: InstanceState | undefined;
    const pending: StatusChange[] = [];
    let unwatch: (() => void) | undefined;
    let stopRead: (() => void) | undefined;
    const stop = (): void => {
      stopped = true;
      stopRead?.();
      unwatch?.();
    };
    const fail = (error: unknown): void => {
      if (stopped) return;
      stop();
      observer.error(error);
    };
    const complete = (): void => {
      if (stopped) return;
      stop();
      observer.complete();
    };
    unwatch = this.#changes.watch(instanceId, {
      next: (change) => {
        if (stopped) return;
        if (!ready) pending.push(change);
        else if (isNewerChange(change, current)) observer.next((current = change.state), change.purged);
      },
      error: fail,
      // The store (or this client) closed: end after the current state has been delivered (at once while a read that
      // failed is made again: the store may never answer it now).
      complete: () => (ready || failed ? complete() : (ended = true)),
    });
    if (stopped) {
      unwatch(); // the feed ended while it was being joined
      return stop;
    }
    stopRead = this.#firstRead(
      () => this.#read(instanceId),
      (state) => {
        if (stopped) return;
        stopRead = undefined; // nothing of the read is held while the watch lasts
        ready = true;
        observer.next((current = state));
        for (const next of pending.splice(0)) if (!stopped && isNewerChange(next, current)) observer.next((current = next.state), next.purged);
        if (ended) complete();
      },
      fail,
      (error) => {
        failed = true;
        observer.failedRead?.(error);
        if (ended) complete(); // the feed ended while this read was in flight: no read again
      },
    );
    return stop;
  }

  /**
   * The first read of a watch (and each read of `history$`'s events): `read()`, made again after each failure that
   * `firstReadRetryDelay` says may pass, once
   * that delay has passed on the client's clock (a deadline on the client's shared timer), for as long as the watch
   * lasts; `next` gets the value, `failed` each failure that is read again, `error` the first failure that is not (or
   * one that cannot be timed: a clock that returns no valid Date). A read that throws instead of rejecting fails as a
   * rejection does. Returns the function that stops it: no read begins after it, and the pending delay is let go.
   */
  #firstRead<T>(
    read: () => Promise<T>, next: (value: T) => void, error: (error: unknown) => void, failed: (error: unknown) => void,
  ): () => void {
    let stopped = false;
    let failures = 0;
    let cancel: (() => void) | undefined;
    const attempt = (): void => {
      cancel = undefined;
      let reading: Promise<T>;
      try {
        reading = read();
      } catch (thrown) {
        reading = Promise.reject(thrown);
      }
      reading.then((value) => {
        if (!stopped) next(value);
      }, (reason: unknown) => {
        if (stopped) return;
        const delay = firstReadRetryDelay(reason, ++failures);
        if (delay === undefined) return error(reason);
        failed(reason);
        if (stopped) return; // `failed` ended the watch
        try {
          cancel = this.#deadlines.add(delay, attempt);
        } catch {
          error(reason);
        }
      });
    };
    attempt();
    return () => {
      stopped = true;
      cancel?.();
    };
  }

  /**
   * The public status of a state, with payloads of the caller's own. A state someone else holds too (the watchers of
   * one commit in this client or in another client of the store, a feed that keeps it: `isShared`) gives a status
   * with copies of the payloads, so that one that changes its values changes nothing anyone else sees; a state nobody
   * else holds (a single watcher's of a single subscriber, a read's) gives its own, with no copy.
   */
  #statusOf(state: InstanceState, show?: { readonly showInput?: boolean }): InstanceStatus {
    const status = toInstanceStatus(state, show);
    return isShared(state) ? withOwnPayloads(status) : status;
  }

  #queryAll(query: ValidInstanceFilter): Promise<InstanceState[]> {
    return followPages((token) => this.#bounded(() => this.#store.queryInstances({ ...query, pageSize: MAX_PAGE_SIZE, ...(token ? { continuationToken: token } : {}) })));
  }

  /** Refuses (400) an orchestrator name this runtime's worker does not know, when the client has one. */
  #assertKnown(name: string): void {
    if (this.#known && !this.#known.has(name)) throw new InvalidArgumentError(`No orchestrator named ${JSON.stringify(name)} is registered`);
  }

  /** The write set that sends `event` to an instance that meets `requires`. */
  #messageTo(instanceId: string, requires: InstanceCondition, event: MessageEvent, idempotencyKey?: string): WriteSet {
    assertValidInstanceId(instanceId);
    // Frozen: the message is the client's own and nobody changes it after this, so a store may keep it without a copy
    // (MemoryStore does, without walking it: `freezeBuilt`). Its event is the client's literal around a copied payload.
    return decideSend(freezeBuilt({ id: this.#newId(), instanceId, event }), requires, idempotencyKey);
  }

  /**
   * Sends a command to an instance in `status` (default: non-terminal): the store refuses it atomically, in the
   * commit's transaction, when the instance is unknown (404) or not in that status (410 / 409). Resolves only once
   * the committed status reflects it (`reflects`) compared with the status `before` the command (see
   * `#commitAndObserve`; a purge or a restart counts too, not a continueAsNew: `leftExecution`); a status that already does needs no wait.
   * `direct` (terminate, suspend, resume, rewind: `#direct`) may commit the command's effect itself from the status read: true
   * when it did. It is asked first, whatever the status: a command the status reflects already (a repeated suspend or
   * resume) is committed as a worker's step would commit it, under the same store check, rather than left queued as a
   * message that every later direct command would have to wait behind. A direct commit the store refused (the
   * instance changed since the read: the same command of a concurrent call, an HTTP retry, committed first; a worker's
   * step) is decided again on a fresh read, as a retry of the command would be, up to `DIRECT_ATTEMPTS` times while each
   * re-read shows another version, before the message goes. `refused` (a rewind's): the error the call rejects with
   * once a committed status shows a worker recorded the command as refused (see `#commitAndObserve`). A status that
   * reflects the command already answers it at once, unless the store's last refusal named the opposite command as
   * taken by the claim holding the instance (`waitsForClaimedStep`): that step commits it first, so the command is
   * sent behind it and awaited as any command a worker applies.
   */
  async #send(
    instanceId: string, verb: string, event: MessageEvent, reflects: (state: InstanceState, before: InstanceState) => boolean,
    status: InstanceCondition['status'] = 'running', direct?: (state: InstanceState) => Promise<DirectOutcome>,
    refused?: (state: InstanceState, before: InstanceState) => Promise<Error | 'applied' | undefined> | undefined,
  ): Promise<void> {
    const writeSet = this.#messageTo(instanceId, { status, operation: verb }, event);
    let state = await this.#read(instanceId);
    let claimed: 'suspend' | 'resume' | undefined;
    if (state && direct) {
      let outcome = await direct(state);
      // Decided again while the refusal was a race: the re-read shows another version (a concurrent command of another
      // client, an HTTP retry, a worker's step committed first). The same version means something else holds it back
      // (a live lease, a message queued before it): no later attempt would differ.
      for (let attempt = 1, before = state; isRefused(outcome) && attempt < DIRECT_ATTEMPTS; attempt++) {
        const read = await this.#read(instanceId);
        state = read;
        if (!read) break;
        if (attempt > 1 && read.version === before.version && read.executionId === before.executionId) break;
        before = read;
        outcome = await direct(read);
      }
      if (outcome === 'committed') return;
      // Refused while a worker's step in flight took the opposite command (a suspend queued ahead of this resume): that
      // step commits it first, so a status that reflects this command already does not answer it; it is awaited below.
      claimed = typeof outcome === 'object' ? outcome.claimed : undefined;
    }
    if (!state || (reflects(state, state) && !waitsForClaimedStep(verb, claimed))) return this.#commitVoid(writeSet);
    await this.#commitAndObserve(
      instanceId, writeSet, (next) => next === undefined || leftExecution(state, next) || reflects(next, state),
      refused && ((next) => refused(next, state)),
    );
  }

  /**
   * Where the store can (`unclaimedWrites`), the command `event` applied in this client's own commit when no worker
   * holds the instance, as `decide` (`decideTerminate`, `decideSuspend`, `decideResume`, `decideRewind`) decides it from the state
   * read: `committed`; `send` when the decision leaves it to a worker; `refused` when the store refused it because a
   * worker holds the instance, committed since the read, or a message committed before must be applied first (the
   * command then goes to a worker as a message, once decided again on a fresh read). With no worker of this client
   * running (`StartHandOff.running`; its load does not count), a terminate, suspend or resume goes ahead of every
   * message queued before it but a command (`DirectInput.ahead`, `unclaimedHolds`): read-your-writes then
   * needs no worker, whatever events, results and timers are queued.
   */
  #direct<E extends MessageEvent>(
    event: E, decide: (input: DirectInput<E>) => DirectDecision, committed?: (state: InstanceState, writeSet: WriteSet) => void,
  ): ((state: InstanceState) => Promise<DirectOutcome>) | undefined {
    if (!this.#store.capabilities.unclaimedWrites) return undefined;
    return async (state) => {
      const now = this.#now();
      // Ahead of what was queued before it (`DirectInput.ahead`) only when this client has no worker of its own running
      // (`createClient`, or a runtime not started, stopping or stopped): a running one applies the queued messages
      // first, in order, and then the command, even while it is busy or backing off, so its load never decides the
      // outcome.
      const input = { state, event, now, newId: this.#newId, ahead: !this.#startHandOff?.()?.running() };
      let decision = decide(input);
      // A resume (what was kept while suspended: a tail of the history, read further back while it cannot tell), a
      // recursive terminate (the children it hands on to), a rewind (the history it rewrites), the terminate of a
      // sub-orchestration whose state names no parent call (stored before 2026-12-03: its link). Only the events the
      // state counts are read, each once: a tail asked for again is read back to where the last read began. Read
      // before the store check, so even while a worker holds the instance: a read that fails or outlasts
      // storeCallTimeoutMs (a long history), with UnavailableError either way, leaves the command to a worker as a
      // message, as it went before the client could commit it itself, rather than failing a command that needs no
      // read. (A store that is down fails that commit too.) Any other error is the command's.
      let history: readonly HistoryEvent[] = [];
      for (let readTo = state.historyLength; decision.kind === 'needHistory';) {
        const fromIndex = Math.min(Math.max(0, decision.fromIndex ?? 0), readTo);
        const range = { fromIndex, toIndex: readTo };
        try {
          const events = eventsInRange(await this.#bounded(() => this.#store.getHistory(state.instanceId, range)), range);
          history = history.length === 0 ? events : [...events, ...history];
        } catch (error) {
          if (isDurableError(error) && error.code === 'unavailable') return 'send';
          throw error;
        }
        decision = decide({ ...input, history, historyFrom: fromIndex });
        // Asked again from where it began (a decision that cannot use more): it is left to a worker.
        if (fromIndex === readTo) break;
        readTo = fromIndex;
      }
      if (decision.kind !== 'commit') return 'send';
      try {
        await this.#commit(decision.writeSet, now.getTime());
        committed?.(state, decision.writeSet);
        return 'committed';
      } catch (error) {
        if (isDurableError(error) && error.code === 'lease-lost') {
          const claimed = (error as { readonly claimedCommand?: unknown }).claimedCommand;
          return claimed === 'suspend' || claimed === 'resume' ? { claimed } : 'refused';
        }
        throw error;
      }
    };
  }

  /**
   * Read-your-writes for commands: commits the write set, then resolves once a worker has committed a status for
   * which `applied` holds, so a getStatus, status$ or waitForCompletion after the command sees it (after a rewind
   * the instance is no longer Failed, after a terminate it is terminal, ...). It listens before committing, or the
   * change could be missed. When no worker applies the command within {@link COMMAND_APPLIED_TIMEOUT_MS}, it
   * resolves anyway: the command is stored and takes effect when a worker runs. It rejects instead with the error
   * `refused` gives for a committed status that is not `applied` (a rewind a worker recorded as refused), as soon as
   * that status comes, and resolves when `refused` answers `applied` instead (a suspend whose history shows it applied
   * in the step that then terminated or resumed the instance, a resume in the step that then suspended it again). A `refused` that fails (a read the store failed) or misses the record (a history read behind
   * the state) is answered when the timeout comes: the instance is read once more and `refused` asked again, so a
   * refusal is not reported as applied; a failure of that read resolves, as the timeout does.
   */
  async #commitAndObserve(
    instanceId: string, writeSet: WriteSet, applied: (next: InstanceState | undefined) => boolean,
    refused?: (next: InstanceState) => Promise<Error | 'applied' | undefined> | undefined,
  ): Promise<void> {
    let settled = false;
    let stop: (() => void) | undefined;
    let end!: (error?: Error) => void;
    const done = new Promise<Error | undefined>((ended) => (end = ended));
    const settle = (error?: Error): void => {
      if (settled) return;
      settled = true;
      end(error); // first: letting go below may throw (a store feed whose teardown throws), the command is done anyway
      stop?.();
    };
    // The timeout first: a clock that returns no valid Date throws here (a RangeError), before anything is
    // watched or committed.
    const cancelTimer = this.#deadlines.add(COMMAND_APPLIED_TIMEOUT_MS, () => {
      if (!refused) return settle();
      // The last chance of a refusal whose check failed or read behind: on a fresh read, bounded as every store call.
      this.#read(instanceId)
        .then((state) => (state && !settled && !applied(state) ? refused(state) : undefined))
        .then((answer) => settle(answer === 'applied' ? undefined : answer), () => settle())
        .catch(ignore); // a settle whose letting go throws: the wait has ended anyway
    });
    // Ends on the applied status, on the feed's end (a closed client or store, an error) or on the timeout.
    let unwatch: () => void;
    try {
      unwatch = this.#changes.watch(instanceId, {
        next: ({ state }) => {
          if (applied(state)) return settle();
          // Checked only while the wait lasts; its end, a failed check or a settle that throws is nobody's error.
          const check = state && !settled && refused?.(state);
          if (check) check.then((answer) => answer && settle(answer === 'applied' ? undefined : answer)).catch(ignore);
        },
        error: () => settle(),
        complete: () => settle(),
      });
    } catch (error) {
      cancelTimer();
      throw error;
    }
    stop = () => {
      cancelTimer(); // cannot throw; the unwatch may
      unwatch();
    };
    if (settled) stop(); // the feed had already ended
    try {
      await this.#commit(writeSet);
    } catch (error) {
      stop?.();
      throw error;
    }
    const error = await done;
    if (error) throw error;
  }

  /**
   * A store call's promise with an end: it settles as `call` does, or rejects with {@link UnavailableError} when
   * `storeCallTimeoutMs` pass on the client's clock first, on the client's deadline timer (a wedged IndexedDB
   * transaction, a network partition without a socket timeout). The call is not undone: it may still take effect, and
   * what it settles with later is ignored. Its deadline is let go of before the caller hears the outcome, so a client
   * between calls holds no timer. With `Infinity` the call is only made a promise (a
   * store may return any thenable): nothing else is allocated, and no timer armed. `nowMs` is the clock's time, when
   * the caller has just read it. `drop`: the call's value is not wanted, and the promise resolves with `undefined`.
   * `late`: called with the value of a call abandoned at its bound that settles after all.
   */
  #bounded<T>(call: () => PromiseLike<T>, nowMs?: number, drop?: boolean, late?: (value: T) => void): Promise<T> {
    const ms = this.#callTimeoutMs;
    if (ms !== Infinity) return this.#deadlines.bound(call, ms, 'The store call', late, nowMs, drop);
    const result = Promise.resolve(call());
    return drop ? result.then(ignore) as Promise<unknown> as Promise<T> : result;
  }

  /** The events of the history `state` shows from `fromIndex` up to its length; `undefined` once another history is current. */
  readonly #readSince = (state: InstanceState, fromIndex: number): Promise<readonly HistoryEvent[] | undefined> =>
    this.#readHistory(state.instanceId, { fromIndex, toIndex: state.historyLength }).then(({ events, after }) => eventsOfHistory(state, fromIndex, events, after));

  /**
   * The events of an instance's history in `range` (default: all), and its state read after them (`after`), to tell
   * whose history it is (`eventsOfHistory`): in one call where the store reads both at once (`getInstanceHistory`),
   * otherwise the state is read once the history has answered. Each call with a bound ({@link LocalClient.#bounded}).
   * A reader that knows how many events the state it shows holds asks for no more (`toIndex`); what a store that
   * reads to the end answers is cut to the range (`eventsInRange`).
   */
  async #readHistory(
    instanceId: string, range: HistoryRange = {}, shown?: ShownInput,
  ): Promise<{ events: readonly HistoryEvent[]; after: InstanceState | undefined }> {
    const store = this.#store;
    const atOnce = store.getInstanceHistory;
    if (atOnce) {
      const { state, history } = await this.#bounded(() => atOnce.call(store, instanceId, { ...range, ...shown }));
      return { events: eventsInRange(history, range), after: state };
    }
    const events = await this.#bounded(() => store.getHistory(instanceId, range));
    return { events: eventsInRange(events, range), after: await this.#read(instanceId, shown) };
  }

  /**
   * The state of one instance, read with a bound ({@link LocalClient.#bounded}). A start of this client whose first
   * step this runtime's worker has not begun yet is not read: the state it was committed with is the stored one until
   * then (`StartHandOff.startedState`), and the read gets a copy of it, as a store's read is the caller's own. On
   * IndexedDB, the reads issued as `startNew` resolves (`waitForCompletion`'s first, `status$`'s) cost no transaction.
   */
  #read(instanceId: string, shown?: ShownInput): Promise<InstanceState | undefined> {
    const started = this.#startHandOff?.()?.startedState(instanceId);
    if (started) return Promise.resolve(copyStoreValue(started));
    return this.#bounded(() => (shown ? this.#store.getInstance(instanceId, shown) : this.#store.getInstance(instanceId)));
  }

  /** Commits a write set, with a bound ({@link LocalClient.#bounded}). */
  #commit(writeSet: WriteSet, nowMs?: number): Promise<CommitResult> {
    return this.#bounded(() => this.#store.commit(writeSet), nowMs);
  }

  /**
   * {@link LocalClient.#commit} for a command that resolves with nothing: the bound drops the store's answer, so no
   * `.then()` is hung on it for that (its promise and reaction were held by each of 50k raises at once).
   */
  #commitVoid(writeSet: WriteSet, nowMs?: number): Promise<void> {
    return this.#bounded(() => this.#store.commit(writeSet), nowMs, true) as Promise<unknown> as Promise<void>;
  }

  #nowIso(): string {
    return isoTime(this.#now());
  }

  /**
   * The client's clock reading, for the times it records and the store checks it asks for: a valid Date, or
   * a `RangeError` before anything is decided or sent (a custom `Clock` that returned an Invalid Date, which a
   * store would compare as no time at all).
   */
  #now(): Date {
    return readClock(this.#clock, CLIENT_CLOCK);
  }
}

/**
 * The observer of `LocalClient.#follow`: each state, and with a purge (`undefined`) the snapshot it deleted when the
 * change names it (`StatusChange.purged`), which a history's positions read (`historyEndedByPurge`).
 */
interface FollowObserver extends Observer<InstanceState | undefined> {
  next(state: InstanceState | undefined, purged?: PurgedSnapshot): void;
  /** The current state's read failed with `error`, and is made again (see `LocalClient.#firstRead`). */
  failedRead?(error: unknown): void;
}

/** What a watch of one instance keeps of the last state it emitted, to drop the next one when it is a repeat. */
interface Baseline {
  /** Takes `state` as the baseline and returns true, unless it repeats the baseline (false, and the baseline is kept). */
  take(state: InstanceState | undefined): boolean;
}

/**
 * The baseline of `status$` and of each `instances$` member: the public status (what `toInstanceStatus` keeps) of the
 * last state emitted, kept apart from the objects the watcher got (its times as numbers, its payloads as
 * {@link JsonBaseline}s). A state shows no change when its scalar fields and its payloads' JSON texts are the same, the
 * input compared only when the execution changed (an execution's input is fixed when it starts). The scalar fields
 * decide almost every commit. The payloads of a shared state (`isShared`: the watcher gets copies, and nobody changes
 * the state's own) are kept as they are, their JSON texts taken only when the scalar fields are the same and a payload
 * is another object; those of any other state (the watcher gets them as they are) as their JSON texts, taken with each
 * emitted state (objects only: a primitive is kept as it is), the input's once per execution.
 */
class ShownBaseline implements Baseline {
  /** The last state emitted, for its scalar fields only; `undefined` before the first and for an unknown instance. */
  #state: InstanceState | undefined;
  #taken = false;
  #created = 0;
  #lastUpdated = 0;
  readonly #customStatus = new JsonBaseline();
  readonly #output = new JsonBaseline();
  readonly #failureDetails = new JsonBaseline();
  readonly #input = new JsonBaseline();

  take(state: InstanceState | undefined): boolean {
    const last = this.#state;
    if (this.#taken && (state === undefined || last === undefined ? state === last : this.#holds(last, state))) return false;
    this.#taken = true;
    this.#state = state;
    if (state) {
      this.#created = state.createdTime.getTime();
      this.#lastUpdated = state.lastUpdatedTime.getTime();
      const fixed = isShared(state);
      this.#customStatus.replace(state.customStatus, fixed);
      this.#output.replace(state.output, fixed);
      this.#failureDetails.replace(state.failureDetails, fixed);
      if (state.executionId !== last?.executionId) this.#input.replace(state.input, fixed);
    }
    return true;
  }

  #holds(last: InstanceState, state: InstanceState): boolean {
    return state.runtimeStatus === last.runtimeStatus
      && state.lastUpdatedTime.getTime() === this.#lastUpdated && state.createdTime.getTime() === this.#created
      && state.instanceId === last.instanceId && state.name === last.name && state.parentInstanceId === last.parentInstanceId
      && this.#customStatus.holds(state.customStatus) && this.#output.holds(state.output) && this.#failureDetails.holds(state.failureDetails)
      && (state.executionId === last.executionId || this.#input.holds(state.input));
  }
}

/** A {@link ShownBaseline} that has taken `state`. */
function shownBaseline(state: InstanceState): ShownBaseline {
  const baseline = new ShownBaseline();
  baseline.take(state);
  return baseline;
}

/** The accumulated state of one `instances$` subscription. */
interface LiveList {
  /** The latest state of each member. */
  readonly members: Map<string, InstanceState>;
  /**
   * What each member showed when the list was last emitted with it, apart from the statuses the watcher got (it may
   * change those): what a member's next state is compared with.
   */
  readonly baselines: Map<string, ShownBaseline>;
  /** The statuses last emitted, in page order, and the position of each member in it. */
  shown: InstanceStatus[];
  positions: Map<string, number>;
  /** False when membership or a sort key changed since `shown` was sorted. */
  sorted: boolean;
  /** Members whose status in `shown` is out of date. */
  readonly stale: Set<string>;
  /** Changes that arrived before the initial query answered. */
  pending: StatusChange[];
  ready: boolean;
  /** The query's order of page keys: ascending, or newest first. */
  readonly order: (a: PageKey, b: PageKey) => number;
}

/**
 * The statuses a live list shows, as a fresh array. A change of one member re-sorts nothing and builds one status:
 * the order is kept until membership or a creation time changes, and the other members' statuses are reused.
 */
function shownStatuses(list: LiveList, statusOf: (state: InstanceState) => InstanceStatus): InstanceStatus[] {
  if (!list.sorted) {
    const ids = [...list.members.values()].sort((a, b) => list.order(pageKeyOf(a), pageKeyOf(b))).map((s) => s.instanceId);
    list.shown = ids.map((id) => {
      const at = list.positions.get(id);
      return at !== undefined && !list.stale.has(id) ? list.shown[at]! : statusOf(list.members.get(id)!);
    });
    list.positions = new Map(ids.map((id, i) => [id, i]));
    list.sorted = true;
  } else {
    for (const id of list.stale) list.shown[list.positions.get(id)!] = statusOf(list.members.get(id)!);
  }
  list.stale.clear();
  return list.shown.slice();
}

/**
 * Applies a committed change to a live list; true when what the list shows changed. A change that is no news of a
 * member ({@link isNewerChange}: a late copy of an older snapshot, of its execution or an earlier one) changes nothing, even
 * one that no longer matches the query.
 */
function applyChange(list: LiveList, change: StatusChange, query: ValidInstanceFilter): boolean {
  const id = change.instanceId;
  const known = list.members.get(id);
  const state = change.state;
  if (known && !isNewerChange(change, known)) return false;
  if (!state || !matchesQuery(state, query)) {
    if (!list.members.delete(id)) return false;
    list.baselines.delete(id);
    list.sorted = false;
    return true;
  }
  list.members.set(id, state);
  const baseline = list.baselines.get(id);
  if (baseline) {
    if (!baseline.take(state)) return false; // a commit that changed only the history
  } else {
    list.baselines.set(id, shownBaseline(state));
  }
  list.stale.add(id);
  if (!known || known.createdTime.getTime() !== state.createdTime.getTime()) list.sorted = false;
  return true;
}

/** `{ showInput: false }`: a read whose caller shows no input (the store may leave it out); absent: the input shown. */
type ShownInput = { readonly showInput: false };

/**
 * What `#direct` did: committed the command, left it to a worker (`send`), or saw the store refuse it (`refused`; with
 * `claimed`, the last suspend or resume the claim holding the instance took, `LeaseLostError.claimedCommand`).
 */
type DirectOutcome = 'committed' | 'send' | 'refused' | { readonly claimed: 'suspend' | 'resume' };

/** Whether the store refused the direct commit, naming a claimed command or not. */
function isRefused(outcome: DirectOutcome): boolean {
  return outcome === 'refused' || typeof outcome === 'object';
}

/**
 * `#send`'s `reflects` and `refused` for a terminate, suspend or resume (`event`, the one sent), both from
 * {@link sentCommandOutcome}: applied once the instance shows the command, or the events recorded since (`readSince`,
 * asked only when the rule asks for them) show it applied before the end; refused (410) once it ended otherwise first.
 */
function outcomeOf(
  command: SentCommand, event: ExecutionSuspendedEvent | ExecutionResumedEvent | ExecutionTerminatedEvent,
  readSince: (state: InstanceState, fromIndex: number) => Promise<readonly HistoryEvent[] | undefined>,
): {
  reflects: (state: InstanceState, before: InstanceState) => boolean;
  refused: (state: InstanceState, before: InstanceState) => Promise<Error | 'applied' | undefined> | undefined;
} {
  const terminate = event.type === 'ExecutionTerminated' ? { event } : undefined;
  const answer = (outcome: ReturnType<typeof sentCommandOutcome>): Error | 'applied' | undefined =>
    outcome === 'applied' || outcome instanceof Error ? outcome : undefined;
  return {
    // A terminate's own event tells its reason from another's that ended the instance first.
    reflects: (state, before) => sentCommandOutcome(command, before, state, terminate) === 'applied',
    refused: (state, before) => {
      // Its own event held in the state answers without a read; otherwise the events recorded since it was sent may
      // (a terminate's only when the instance ended without a reason where it gave one).
      const outcome = sentCommandOutcome(command, before, state, { event });
      if (typeof outcome !== 'object' || outcome instanceof Error) return outcome === 'waiting' ? undefined : Promise.resolve(outcome);
      // Another history than `state`'s by the time it is read (a restart, a purge): no answer here, a later state gives it.
      return readSince(state, outcome.readFrom).then((events) => events && answer(sentCommandOutcome(command, before, state, { event, events })));
    },
  };
}

function reasonOf(reason: string | undefined): { reason?: string } {
  return reason === undefined ? {} : { reason: isReason(reason, 'reason') };
}

/**
 * The caller's own copy of a history event. A store may hand out the events it keeps (MemoryStore's are frozen and
 * shared, so that replays read them without a copy); users get mutable objects of their own whatever the store, so the
 * same app code behaves the same on every store. The copy is made here, at the client boundary, not on the engine's
 * read path.
 */
function ownEvent(event: HistoryEvent): HistoryEvent {
  return copyStoreValue(event);
}

/** The caller's own copy of a history event without its input and result (`showHistoryOutput: false`). */
function withoutPayload(event: HistoryEvent): HistoryEvent {
  if (!('result' in event || 'input' in event)) return ownEvent(event);
  // The payload is left out before the copy: it may be the biggest part of the event.
  const { result: _r, input: _i, ...rest } = event as HistoryEvent & { result?: unknown; input?: unknown };
  return ownEvent(rest as HistoryEvent);
}

/**
 * The caller's own copy of a history event without its input, its result kept (`showHistoryOutput: true` with
 * `showInput: false`): `showInput: false` keeps every input out of the answer, the orchestration's, the calls' and the
 * events' data, as Durable Functions' `GetStatusAsync` removes every `Input` of its history then.
 */
function withoutInput(event: HistoryEvent): HistoryEvent {
  if (!('input' in event)) return ownEvent(event);
  const { input: _i, ...rest } = event as HistoryEvent & { input?: unknown };
  return ownEvent(rest as HistoryEvent);
}

/**
 * The value `first` gives (to `next`, or its error to `error`) and `rest`'s values as they come, both started at once;
 * completes when both have, or when `rest` completes while `first` is being tried again after a failure (`failed`),
 * or `first` fails after `rest` completed, and `first` is then stopped (`first` returns the function that stops it).
 * What `merge(defer(first), rest)` does, written out (see the imports), with a first value that may be read again.
 */
function withFirst<A, B>(
  first: (next: (value: A) => void, error: (error: unknown) => void, failed: (error: unknown) => void) => () => void,
  rest: Observable<B>,
): Observable<A | B> {
  return new Observable<A | B>((subscriber) => {
    let open = 2;
    let failed = false;
    const done = (): void => {
      if (--open === 0) subscriber.complete();
    };
    const stopFirst = first((value) => {
      if (subscriber.closed) return;
      subscriber.next(value);
      done();
    }, (error: unknown) => subscriber.error(error), () => {
      failed = true;
      if (open === 1) {
        // `rest` completed while this read was in flight: no read again
        stopFirst();
        subscriber.complete();
      }
    });
    const subscription = rest.subscribe({
      next: (value) => subscriber.next(value),
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        if (open === 2 && failed) {
          stopFirst();
          subscriber.complete();
        } else {
          done();
        }
      },
    });
    return () => {
      stopFirst();
      subscription.unsubscribe();
    };
  });
}

/** Ignores a value: a command's promise resolves with nothing once its commit has. */
function ignore(): void {}


/**
 * The condition of every raised event (one object for all of them): the instance is not terminal. A plain literal (a
 * module-level call would keep it in pages that use nothing of this client).
 */
const RAISE_REQUIRES: InstanceCondition = { status: 'running', operation: 'raise an event on' };

/** The condition of every cancel request: the instance is not terminal (as {@link RAISE_REQUIRES}). */
const CANCEL_REQUIRES: InstanceCondition = { status: 'running', operation: 'cancel' };

/**
 * What a commit of a client that terminated an instance handed on to its sub-orchestrations: the id of each child's
 * message (child id -> message id; none for an instance with no child), and the terminate those messages carry (one
 * for all: each is stamped with the commit's time and has the root's reason; absent with no child).
 */
interface HandedOn {
  readonly messages: ReadonlyMap<string, string>;
  readonly terminate: ExecutionTerminatedEvent | undefined;
}

/**
 * Notes in `handedOn` what a committed terminate of an instance handed on to its sub-orchestrations (instance id ->
 * {@link HandedOn}), for a recursive terminate's client to wait for and apply.
 */
function notingHandedOn(handedOn: Map<string, HandedOn>): (state: InstanceState, writeSet: WriteSet) => void {
  return (state, writeSet) => {
    const messages = new Map<string, string>();
    let terminate: ExecutionTerminatedEvent | undefined;
    for (const r of writeSet.requests) {
      if (r.type !== 'insertMessage' || r.ifActiveChildOf === undefined) continue;
      messages.set(r.message.instanceId, r.message.id);
      terminate = r.message.event as ExecutionTerminatedEvent;
    }
    handedOn.set(state.instanceId, { messages, terminate });
  };
}
