import { cutText, ellipsis } from '../model/cut-text.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { NonDeterminismError } from '../model/errors/non-determinism-error.js';
import { OrchestrationError } from '../model/errors/orchestration-error.js';
import { CanceledError } from '../model/errors/canceled-error.js';
import { TaskFailedError } from '../model/errors/task-failed-error.js';
import { UnknownEventTypeError } from '../model/errors/unknown-event-type-error.js';
import {
  assertNever, isExecutionEnd, type ContinueAsNewEvent, type EventRaisedEvent, type ExecutionCancelRequestedEvent, type ExecutionStartedEvent,
  type HistoryEvent,
  type OrchestratorStartedEvent,
  type SubOrchestrationInstanceCreatedEvent, type TaskScheduledEvent, type TimerCreatedEvent,
} from '../model/history-event.js';
import type { FailureDetails, Mutable } from '../model/instance-status.js';
import { isoMs, isoTime } from '../model/iso-time.js';
import { assertJsonSize, copyStoreValue, toPlainJson, type JsonValue } from '../model/json.js';
import { freezeBuilt } from '../model/frozen.js';
import { assertValidInstanceId, assertValidName, isBoolean, readChecked } from '../model/validation.js';
import { AtomicTask } from './atomic-task.js';
import { uuidV5 } from './deterministic-guid.js';
import { DurableTask, isDurableTask } from './durable-task.js';
import { eventNameKey } from './event-name-key.js';
import { forkCallId, handedOnGuids, type CopiedGuid, type RecordingStep } from './fork-call-id.js';
import { CURRENT_REPLAY_FLAGS, ReplayFlag } from './flags.js';
import type { MisuseMarks } from './misuse-marks.js';
import type { Orchestration, OrchestrationContext, Orchestrator } from './orchestration-context.js';
import { describeCall, type OrchestratorAction } from './orchestrator-action.js';
import type { RetryOptions } from './retry-options.js';
import { RetryableTask } from './retryable-task.js';
import { Task } from './task.js';
import { TimerTask } from './timer-task.js';
import { WhenAllTask } from './when-all-task.js';
import { WhenAnyTask } from './when-any-task.js';

/** Options of an {@link OrchestrationExecution}. */
export interface ExecutionOptions {
  /**
   * Largest accepted custom status, in UTF-8 bytes of its JSON text: the runtime's, for an execution that starts
   * here; one that started with another limit keeps that one (see `#statusLimit`).
   */
  readonly customStatusLimitBytes: number;
  /**
   * Where the executions mark `ctx` used outside their run, for the instance's next step (a worker's, shared by every
   * execution it runs: see {@link MisuseMarks}). Without it, each execution keeps its own mark.
   */
  readonly misuseMarks?: MisuseMarks;
}

/**
 * Default for {@link ExecutionOptions.customStatusLimitBytes}: 16 KiB (16,384 UTF-8 bytes of the custom status's JSON
 * text). Durable Functions' limit is also 16 KB but counts UTF-16 (2 bytes a character), so the two accept different
 * lengths: an ASCII string of up to 16,382 characters here (its JSON text's two quotes count), about 8,192 there; a
 * CJK string (3 bytes a character in UTF-8) of up to 5,460 characters here, about 8,192 there.
 */
export const DEFAULT_CUSTOM_STATUS_LIMIT_BYTES = 16 * 1024;

/** What a step decided. Plain data: the worker turns it into one store commit. */
export interface StepResult {
  /** Events to append to the history, in order (starts with OrchestratorStarted, ends with OrchestratorCompleted). */
  readonly newEvents: readonly HistoryEvent[];
  /** Work to schedule. */
  readonly actions: readonly OrchestratorAction[];
  /** The custom status after the step. */
  readonly customStatus: JsonValue | undefined;
  /** Set when the orchestration called `continueAsNew`: the new input and the events to carry over. */
  readonly continueAsNew?: {
    readonly input: JsonValue | undefined;
    readonly carryOverEvents: readonly (EventRaisedEvent | ExecutionCancelRequestedEvent)[];
    /** The GUIDs steps a fork copied made that `input` holds (`handedOnGuids`): the next start's `copiedGuids`. */
    readonly copiedGuids?: readonly CopiedGuid[];
  };
  /** True when this execution has finished (completed, failed, terminated or continued as new). */
  readonly isFinished: boolean;
  /** The instances this one was copied from, as its start names them (`ExecutionStartedEvent.forkedFrom`); absent: none. */
  readonly forkedFrom?: readonly string[];
}

/**
 * A task waiting for an external event, with the key its name is matched by (`#eventKey`), worked out once. An
 * {@link AtomicTask} to its readers, but its kind and event id, the same for every waiter, are read from its class
 * rather than kept on each (16 B less on every execution waiting for an event).
 */
class EventWaiter<T> extends DurableTask<T> {
  constructor(readonly name: string, readonly key: string) {
    super();
  }

  get kind(): 'external-event' {
    return 'external-event';
  }

  get eventId(): -1 {
    return -1;
  }
}

/** How an execution ended. */
type Outcome =
  | { readonly kind: 'completed'; readonly result: JsonValue | undefined }
  | { readonly kind: 'failed'; readonly failure: FailureDetails }
  | { readonly kind: 'terminated' }
  | { readonly kind: 'continued-as-new'; readonly request: ContinueAsNewRequest };

/** What `ctx.continueAsNew` asked for; it takes effect when the orchestrator next yields or returns. */
interface ContinueAsNewRequest {
  readonly input: JsonValue | undefined;
  readonly preserveUnprocessedEvents: boolean;
}

/** The parts of an execution few need, apart so that the others do without their fields (8 B each). */
interface Rare {
  /** Actions created while replaying, waiting for the history event that records them. */
  unmatched?: Map<number, OrchestratorAction> | undefined;
  /** External events received before anyone waited, FIFO per name (keyed by `#eventKey`). */
  bufferedEvents?: Map<string, EventRaisedEvent[]> | undefined;
  /** The parent link of the last ExecutionRewound that named one (see `parentLinkAfter`). */
  rewoundParent?: ExecutionStartedEvent['parentInstance'];
  /** `newGuid` calls so far. */
  guidCounter: number;
  /** The seed of the step being replayed, when its OrchestratorStarted names one (a step a fork copied). */
  stepGuidSeed?: string | undefined;
  /** The instance id the step being replayed ran under, when its OrchestratorStarted names one (a step a fork copied). */
  stepInstanceId?: string | undefined;
  /**
   * The GUIDs `newGuid` gave in the steps a fork copied (with their seed and name), by GUID: a sub-orchestration call
   * named with one that a step of another seed records runs under the fork's GUID instead (`forkCallId`).
   */
  copiedGuids?: Map<string, CopiedGuid> | undefined;
  /**
   * The code read `ctx.instanceId` in a step a fork copied: only then may a call's id hold the fork's id in place of
   * its source's (`forkCallId`).
   */
  instanceIdRead?: true;
  /** The execution's outcome is in its history (replayed, or recorded by a step); only a finished execution has one. */
  outcomeKept?: boolean;
  /** Why the next step fails the instance: `ctx` was used between steps (see `#outsideRun`), with no `misuseMarks`. */
  misuse?: OrchestrationError | undefined;
  /** The history epoch of the run (see {@link OrchestrationExecution.historyEpoch}), when not 0. */
  historyEpoch?: number;
  /** The custom status limit the execution started with, when its history records one other than the runtime's. */
  customStatusLimitBytes?: number;
  /**
   * What the code threw when it failed during the replay, the cause of a NonDeterminismError should the history go on
   * (`#matchScheduled`); dropped when the replay ends, so that a cached execution does not keep it.
   */
  replayThrown?: unknown;
  /**
   * The execution's first `ExecutionCancelRequested` (a later one is recorded and ignored): `ctx.isCancellationRequested`
   * from then on. Delivered as a `CanceledError` at the `yield` the orchestrator waits at, or at its first one when the
   * request came before the start (`#requestCancel`).
   */
  cancelRequested?: ExecutionCancelRequestedEvent;
  /**
   * The cancel request was thrown into the orchestrator (`#deliverCancel`). One that was not when the execution
   * continued as new (it came after the continueAsNew, in the same step or while suspended, or the orchestrator
   * continued before its first `yield`) is carried to the next execution, whatever `preserveUnprocessedEvents` says.
   */
  cancelDelivered?: true;
}

/** Before ExecutionStarted: nothing runs yet. The orchestrator is kept here: nothing needs it once it started. */
interface NotStarted {
  readonly kind: 'not-started';
  readonly orchestrator: Orchestrator;
}

/**
 * The generator is live (the execution's `#generator`), suspended at a `yield` of its `#awaiting`. The generator and the
 * task it awaits are fields of the execution, not of this phase: one object per running execution (56 B with its
 * header) for two fields was an eighth of a cached execution. A running phase is {@link RUNNING} until the
 * orchestrator calls `continueAsNew`.
 */
interface Running {
  readonly kind: 'running';
  readonly continueAsNew?: ContinueAsNewRequest;
}

const RUNNING: Running = { kind: 'running' };

/**
 * Where an execution stands; every transition is made in this class.
 * - `not-started` → `running` on ExecutionStarted (or straight to `finished` when the orchestrator cannot start);
 * - `running` → `finished` when the generator returns, throws, continues as new or is terminated;
 * - `not-started` / `running` → `suspended` on ExecutionSuspended, back on ExecutionResumed: events that arrive
 *   meanwhile wait in `deferred` and are applied on resume;
 * - any → `diverged` when replay finds the orchestrator does not reproduce its history; the next step turns it into
 *   `finished` (failed).
 */
export type ExecutionPhase =
  | NotStarted
  | Running
  | { readonly kind: 'suspended'; readonly resumeTo: NotStarted | Running; readonly deferred: readonly HistoryEvent[] }
  | { readonly kind: 'finished'; readonly outcome: Outcome }
  | { readonly kind: 'diverged'; readonly error: unknown };

/**
 * Who is feeding events: `replay` (rebuilding from committed history: scheduled work is matched against history,
 * nothing is recorded), `step` (new events: scheduled work and outcomes are recorded), or nobody between calls.
 */
type Mode =
  | { readonly kind: 'idle' }
  | { readonly kind: 'replaying' }
  | { readonly kind: 'stepping'; readonly newEvents: HistoryEvent[]; readonly newActions: OrchestratorAction[] };

const IDLE: Mode = { kind: 'idle' };
const REPLAYING: Mode = { kind: 'replaying' };

/**
 * An execution whose replay or step runs now, with its {@link Mode}, and the run it interrupted (`outer`: another
 * execution's, when one runs inside another's, e.g. a replay made from orchestrator code). The mode lives here, not in a
 * field of every execution: only those running have one other than {@link IDLE}, and a field cost 8 B on every cached
 * execution.
 */
interface RunFrame {
  readonly execution: OrchestrationExecution;
  readonly mode: Mode;
  readonly outer: RunFrame | undefined;
}

/** The innermost run now (see {@link RunFrame}); `undefined` between runs. */
let runs: RunFrame | undefined;

/** Whether the replay flags of {@link CURRENT_REPLAY_FLAGS} match event names with case ignored. */
const CURRENT_NAMES_IGNORE_CASE = CURRENT_REPLAY_FLAGS.includes(ReplayFlag.EventNamesIgnoreCase);

/**
 * One live execution of an orchestrator: the suspended generator plus everything needed to feed it events.
 * Pure: time comes from OrchestratorStarted events, nothing here does I/O.
 *
 * Life cycle: `replay(history)` once (rebuilds state from committed events, with `isReplaying` on), then `step(now,
 * events)` for each batch of new messages. The worker caches executions between steps so a step costs
 * O(new events); a cache miss creates a new execution and replays.
 */
export class OrchestrationExecution {
  readonly #options: ExecutionOptions;

  #phase: ExecutionPhase;
  /** The orchestrator's generator, from ExecutionStarted until the execution finishes. */
  #generator: Orchestration | undefined;
  /**
   * The task the generator is suspended at (undefined while it runs). Changed in place: a replay yields once per
   * awaited event.
   */
  #awaiting: DurableTask<unknown> | undefined;
  /**
   * The ids of the replay flags in force: those recorded when the execution started (see `flags.ts`), none for a
   * history older than flags. Ids this engine does not know (a history of a newer engine) change nothing here.
   */
  #flags: readonly number[] = [];
  /**
   * The time of the current step, as its ISO text; the Date is read from it when asked (a
   * replayed step only records its OrchestratorStarted text).
   */
  #nowIso = '1970-01-01T00:00:00.000Z';
  #sequence = 0;
  /**
   * The execution's ExecutionStarted event: its instance id, execution id, orchestrator name and input are read from
   * it (the event is kept by the store anyway; a field for each of them cost four per cached execution).
   */
  #started: ExecutionStartedEvent | undefined;
  #customStatus: JsonValue | undefined;
  /** What few executions need (see {@link Rare}), made when first needed: four fields less on every other one. */
  #rare: Rare | undefined;

  // The tables are created when first needed: a cached execution usually needs one or none of them, and each empty
  // Map costs about 200 bytes.
  /** Scheduled tasks by eventId, until their result arrives. */
  #openTasks: Map<number, AtomicTask<unknown>> | undefined;
  /**
   * Waiters for external events, in the order they began to wait (FIFO per name: an event goes to the first waiter of
   * its name, the first of those the orchestrator waits on when there are several, see `#awaitedWaiter`): the one
   * waiter itself, or an array of several. Not a Map of arrays: an orchestration waits for one or a few events at a
   * time, and a Map per replayed or cached execution cost about 200 bytes; nor an array for one waiter (56 B per
   * execution waiting for an event).
   */
  #eventWaiters: EventWaiter<unknown> | EventWaiter<unknown>[] | undefined;

  /**
   * Where the worker's execution cache left this execution: the history length it is valid for, with its
   * {@link executionId} (ExecutionCache's own field, nothing else reads it; kept here instead of in an entry object per
   * cached execution).
   * @internal
   */
  cachedHistoryLength = -1;

  /**
   * The history epoch of the run this execution belongs to (`InstanceState.historyEpoch`, which a rewind bumps), set by
   * the step decision that makes it (`decideStep`); 0 by default. Misuse marks name it (see {@link MisuseMarks}), so
   * that a late callback of an execution from before a rewind marks nothing of the rewound run. Kept in the rare part:
   * most executions never see a rewind.
   * @internal
   */
  get historyEpoch(): number {
    return this.#rare?.historyEpoch ?? 0;
  }

  set historyEpoch(epoch: number) {
    if (epoch !== this.historyEpoch) this.#more().historyEpoch = epoch;
  }

  constructor(orchestrator: Orchestrator, options: ExecutionOptions) {
    this.#phase = { kind: 'not-started', orchestrator };
    this.#options = options;
  }

  /** The instance id, from ExecutionStarted (`''` before it). */
  #instanceId(): string {
    return this.#started?.instanceId ?? '';
  }

  /** The orchestrator's name, from ExecutionStarted (`''` before it). */
  #name(): string {
    return this.#started?.name ?? '';
  }

  /** The execution's id, from ExecutionStarted (`undefined` before it). */
  get executionId(): string | undefined {
    return this.#started?.executionId;
  }

  /** True once the execution finished. */
  get isFinished(): boolean {
    return this.#phase.kind === 'finished';
  }

  /** The replay flags in force for this execution. */
  get flags(): readonly number[] {
    return this.#flags;
  }

  /**
   * True while the result of a scheduled activity is awaited: only then can the worker commit that result together with
   * the step it wakes (`decideActivityStep`).
   */
  get awaitsActivity(): boolean {
    if (this.#openTasks) for (const task of this.#openTasks.values()) if (task.kind === 'activity') return true;
    return false;
  }

  /**
   * The parent link, for sub-orchestrations: the one of the last ExecutionRewound that named one, else
   * ExecutionStarted's (`parentLinkAfter`).
   */
  get parentInstance(): ExecutionStartedEvent['parentInstance'] {
    return this.#rare?.rewoundParent ?? this.#started?.parentInstance;
  }

  /**
   * What `replayHistory` (/testing) reads of the execution, as it is (the worker reads none of it): its phase (`diverged`
   * holds the error the replay stopped at, e.g. a `NonDeterminismError`), the scheduled tasks without a result by
   * event id, and the tasks waiting for external events in the order they began to wait.
   * @internal
   */
  get inspection(): {
    readonly phase: ExecutionPhase;
    readonly openTasks: ReadonlyMap<number, AtomicTask<unknown>> | undefined;
    readonly eventWaiters: AtomicTask<unknown> | readonly AtomicTask<unknown>[] | undefined;
  } {
    return { phase: this.#phase, openTasks: this.#openTasks, eventWaiters: this.#eventWaiters };
  }

  /** Who feeds this execution events now (see {@link RunFrame}): {@link IDLE} between its runs. */
  #mode(): Mode {
    for (let run = runs; run; run = run.outer) if (run.execution === this) return run.mode;
    return IDLE;
  }

  /** The execution's {@link Rare} part, made when first needed. */
  #more(): Rare {
    return (this.#rare ??= { guidCounter: 0 });
  }

  /**
   * Rebuilds state from committed history. Call once, before the first step. A history the orchestrator does not
   * reproduce (non-determinism) is remembered and fails the instance on the next step. Returns the number of events
   * replayed (up to the one that diverged): engine work, which tests and benchmarks count to prove that cached steps
   * cost O(new events). (A step applies each of its events once.)
   */
  replay(history: readonly HistoryEvent[]): number {
    const outer = runs;
    runs = { execution: this, mode: REPLAYING, outer };
    let replayed = 0;
    try {
      for (const event of history) {
        replayed++;
        this.#apply(event);
      }
    } catch (error) {
      // Non-determinism, an unknown event type (a corrupt or newer history): the instance fails visibly. Kept as thrown
      // and described when the step fails it (toFailureDetails, which never throws): a conversion here threw out of the
      // replay for a value without a text (an object without a prototype), and the step then failed at every lease expiry.
      this.#phase = { kind: 'diverged', error };
    } finally {
      runs = outer;
      if (this.#rare) this.#rare.replayThrown = undefined;
    }
    return replayed;
  }

  /**
   * Applies new events at time `now` and returns what to commit. The events are those of consumed messages, in
   * arrival order; the step adds OrchestratorStarted/OrchestratorCompleted and the events of scheduled work.
   */
  step(now: Date, events: readonly HistoryEvent[]): StepResult {
    const mode: Mode = { kind: 'stepping', newEvents: [], newActions: [] };
    const outer = runs;
    runs = { execution: this, mode, outer };
    try {
      return this.#step(mode, now, events);
    } finally {
      runs = outer;
    }
  }

  #step(mode: Mode & { kind: 'stepping' }, now: Date, events: readonly HistoryEvent[]): StepResult {
    // An execution whose replay ended it with no outcome in its history (a rewind drops the final ExecutionCompleted
    // and the orchestrator's own code threw again, or now returns, rerunning no call; or its code changed so that it
    // now ends sooner): that outcome is this step's to record, or the instance would stay Running with nothing to wake it.
    // (Not when the step terminates it: the termination is then its outcome, recorded by its own event.)
    const late = this.#phase.kind === 'finished' && !this.#rare?.outcomeKept && !events.some((e) => e.type === 'ExecutionTerminated');
    const wasFinished = this.#phase.kind === 'finished' && !late;
    // One text for every event the step records (and for the steps of its millisecond). Never before the last step's
    // time: a clock set back, or the next step taken by a process whose clock is behind, would make currentUtcDateTime
    // go back (elapsed times below zero, a timer due before one made earlier); as in Durable Functions, it only moves on.
    // The step records that time, so a replay reads it back.
    const nowIso = now.getTime() < isoMs(this.#nowIso) ? this.#nowIso : isoTime(now);
    if (this.#phase.kind === 'not-started') {
      // The step that starts the execution records the flags and the custom status limit it runs under, for every
      // later replay.
      this.#flags = CURRENT_REPLAY_FLAGS;
      this.#record(firstStepMarker(nowIso, this.#options.customStatusLimitBytes));
    } else {
      this.#record(stepMarkers(nowIso).started);
    }
    this.#nowIso = nowIso;
    // A step run now makes the execution's own GUIDs, never those of a step a fork copied.
    if (this.#rare) this.#rare.stepGuidSeed = this.#rare.stepInstanceId = undefined;
    if (this.#phase.kind === 'diverged') {
      // Replay diverged from history. Whatever the replay concluded is void: the instance fails, once.
      const { error } = this.#phase;
      if (this.#rare) this.#rare.unmatched = undefined;
      this.#fail(error);
    }
    const started = this.#started;
    // A mark of this run only: one of a run before a rewind (a late callback of an execution from then) is dropped.
    const misuse = this.#options.misuseMarks && started
      ? this.#options.misuseMarks.take(started.instanceId, started.executionId, this.historyEpoch)
      : this.#rare?.misuse;
    if (misuse) {
      // ctx was used between steps (from a callback): what it called is in no history, so the instance cannot go on.
      if (this.#rare) this.#rare.misuse = this.#rare.unmatched = undefined;
      this.#fail(misuse);
    }
    // Actions the code created during replay that history did not record (e.g. a rewound call): issue them now.
    const unmatched = this.#rare?.unmatched;
    if (unmatched) this.#rare!.unmatched = undefined;
    if (unmatched) for (const action of unmatched.values()) this.#issue(action);
    for (const event of events) {
      this.#record(event);
      // A parent's rewind is applied even then: it names the call that the late outcome answers.
      if (this.#phase.kind === 'finished' && event.type !== 'ExecutionRewound') {
        // Recorded and ignored (a result that raced a terminate, a timer falling due after the end, an event pending
        // when the execution ended); an event that came in the same batch as a continueAsNew is one the execution did
        // not process, so it is carried over like the buffered ones. So it is when that continueAsNew is a late outcome
        // (the replay ended the execution, no step recorded it): this batch came after the end, so none of its events
        // was processed either. Each carried event reaches the next execution once, and none is lost: all travel in
        // the next execution's start message (`carriedOver` in decide-step), in the order buffered. An event the code
        // that recorded the history consumed, which the changed code's replay leaves buffered, is carried over too: nothing that code did with it is in history (anything it scheduled would have
        // made the replay diverge, not end), so for this execution it was never processed.
        if (!wasFinished) this.#carryOverIfContinued(event);
        // A start after a terminate that came first (queued ahead of the start a continueAsNew sent) still names the
        // instance and its parent, which the termination answers.
        this.#keepStart(event);
        continue;
      }
      try {
        this.#apply(event);
      } catch (error) {
        this.#fail(error);
      }
    }
    if (late) this.#recordOutcome();
    this.#record(stepMarkers(nowIso).completed);
    const phase = this.#phase;
    const continued = phase.kind === 'finished' && phase.outcome.kind === 'continued-as-new' && !wasFinished
      ? phase.outcome.request
      : undefined;
    const result: { -readonly [K in keyof StepResult]: StepResult[K] } = {
      newEvents: mode.newEvents, actions: mode.newActions, customStatus: this.#customStatus, isFinished: phase.kind === 'finished',
    };
    if (continued) {
      result.continueAsNew = {
        input: continued.input,
        carryOverEvents: [
          // A cancel this execution did not deliver goes to the next one always: it asked the instance to stop.
          ...(this.#rare?.cancelRequested && !this.#rare.cancelDelivered ? [this.#rare.cancelRequested] : []),
          ...(continued.preserveUnprocessedEvents ? [...(this.#rare?.bufferedEvents?.values() ?? [])].flat() : []),
        ],
      };
      // In a fork: the copied GUIDs the input hands on, so the next execution renames them as this one does.
      const copied = this.#rare?.copiedGuids;
      const handed = copied && handedOnGuids(continued.input, copied);
      if (handed?.length) result.continueAsNew = { ...result.continueAsNew, copiedGuids: handed };
    }
    const forkedFrom = this.#started?.forkedFrom;
    if (forkedFrom?.length) result.forkedFrom = forkedFrom;
    return result;
  }

  /**
   * The largest custom status of this execution: the runtime's limit when it started, recorded with its first step, so
   * that replays check `setCustomStatus` as its steps did though the runtime's limit changed since (a status committed
   * under a higher limit would throw, a code path taken for a status too large would change). Executions that start
   * afterwards take the runtime's current limit.
   */
  #statusLimit(): number {
    return this.#rare?.customStatusLimitBytes ?? this.#options.customStatusLimitBytes;
  }

  /** The time of the current step (read from its text when asked: a cached execution keeps the text only). */
  #now(): Date {
    return new Date(this.#nowIso);
  }

  // ---------------------------------------------------------------- events

  #apply(event: HistoryEvent): void {
    const phase = this.#phase;
    if (phase.kind === 'suspended' && deferredWhileSuspended(event)) {
      this.#phase = { ...phase, deferred: [...phase.deferred, event] };
      // A start held back (an execution suspended before it started) still names the instance and its parent: a
      // terminate before the resume answers the parent call (`parentLinkAfter` reads the history so too).
      if (phase.resumeTo.kind === 'not-started') this.#keepStart(event);
      return;
    }
    switch (event.type) {
      case 'OrchestratorStarted':
        this.#nowIso = event.timestamp;
        // A step a fork copied makes its source's GUIDs (see #guidPrefix).
        if (event.guidSeed || this.#rare) {
          const more = this.#more();
          more.stepGuidSeed = event.guidSeed;
          more.stepInstanceId = event.sourceInstanceId;
        }
        // The first step of the execution recorded the flags in force; a history older than flags has none.
        if (phase.kind === 'not-started') {
          this.#flags = sharedFlags(event.replayFlags ?? []);
          // And the custom status limit (see #statusLimit). A history recorded before the limit was recorded keeps the
          // runtime's: that is what its replays checked until now, so with the limit unchanged (how such an instance
          // started) it replays as it ran, a status the orchestrator caught as too large included. Checking nothing in
          // its replay instead would send that code down the other branch, whatever the limit.
          const limit = event.customStatusLimitBytes;
          if (limit !== undefined && limit !== this.#options.customStatusLimitBytes) this.#more().customStatusLimitBytes = limit;
        }
        return;
      case 'OrchestratorCompleted':
        return;
      case 'ExecutionStarted':
        // After the end (a terminate queued ahead of the start a continueAsNew sent): recorded and ignored, as the
        // step records and ignores it, keeping the instance and its parent the termination answered.
        if (phase.kind === 'finished') {
          this.#keepStart(event);
          return;
        }
        if (phase.kind !== 'not-started') {
          throw new OrchestrationError(`ExecutionStarted of ${JSON.stringify(event.instanceId)} appears twice in one execution`);
        }
        this.#started = event;
        if (this.#rare) this.#rare.rewoundParent = undefined; // parentLinkAfter: ExecutionStarted's link from here
        // GUIDs copied steps of a fork made, handed on by its continueAsNew: renamed in this execution's calls too.
        if (event.copiedGuids) {
          const copied = (this.#more().copiedGuids ??= new Map());
          for (const { seed, name } of event.copiedGuids) copied.set(uuidV5(`${seed}${name}`), { seed, name, handed: true });
        }
        this.#start(phase.orchestrator);
        return;
      case 'TaskScheduled':
      case 'TimerCreated':
      case 'SubOrchestrationInstanceCreated':
        this.#matchScheduled(event);
        return;
      case 'TaskCompleted':
      case 'SubOrchestrationInstanceCompleted': {
        const task = this.#takeOpen(event.taskScheduledId);
        if (!task) return;
        task.complete(owned(event.result));
        this.#resume();
        return;
      }
      case 'TaskFailed':
      case 'SubOrchestrationInstanceFailed': {
        const task = this.#takeOpen(event.taskScheduledId);
        if (!task) return;
        const what = task.kind === 'activity' ? 'Activity' : 'Sub-orchestration';
        task.fail(new TaskFailedError(
          `${what} ${JSON.stringify(task.name)} (#${task.eventId}) failed: ${event.failureDetails.errorMessage}`,
          { name: task.name, taskScheduledId: task.eventId, kind: task.kind === 'activity' ? 'activity' : 'sub-orchestration' },
          owned(event.failureDetails),
        ));
        this.#resume();
        return;
      }
      case 'TimerFired': {
        const task = this.#takeOpen(event.timerId);
        if (!task) return;
        if (!(task instanceof TimerTask) || !task.isCancelled) task.complete(undefined);
        this.#resume();
        return;
      }
      case 'EventRaised':
        this.#deliverEvent(event);
        return;
      case 'ExecutionCancelRequested':
        this.#requestCancel(event);
        return;
      case 'ExecutionSuspended':
        if (phase.kind === 'not-started' || phase.kind === 'running') this.#phase = { kind: 'suspended', resumeTo: phase, deferred: [] };
        return;
      case 'ExecutionResumed': {
        if (phase.kind !== 'suspended') return;
        this.#phase = phase.resumeTo;
        // What reached it while suspended, in order; once that ends the execution, the rest is what it did not process.
        for (const e of phase.deferred) {
          if ((this.#phase as ExecutionPhase).kind !== 'finished') this.#apply(e);
          else this.#carryOverIfContinued(e);
        }
        return;
      }
      case 'ExecutionTerminated':
        // One that came after the execution had ended (kept when a rewind drops that end) is no outcome of it.
        if (phase.kind === 'finished') return;
        this.#more().outcomeKept = true;
        this.#finish({ kind: 'terminated' });
        return;
      case 'ExecutionRewound':
        if (event.parentInstance) this.#more().rewoundParent = parentLinkAfter(this.parentInstance, event);
        return;
      case 'ExecutionCompleted':
      case 'ContinueAsNew':
        // Recorded outcome of a replayed finish; the generator reached the same point.
        this.#more().outcomeKept = true;
        return;
      default: {
        // Exhaustive (a new event type must be handled above); at run time, a corrupt or newer history lands here.
        const unknown: never = event;
        throw new UnknownEventTypeError(`Unknown history event type ${JSON.stringify((unknown as { type?: unknown }).type)}`);
      }
    }
  }

  /**
   * The rule for an event that reaches the execution after it ended: an `EventRaised` after its continueAsNew was not
   * processed by it, so it is carried over (kept with the buffered ones) when that continueAsNew preserves unprocessed
   * events; anything else is only recorded. For the events of a step's batch and for those that reached it while
   * suspended, applied at the resume after the one that made it continue.
   */
  #carryOverIfContinued(event: HistoryEvent): void {
    const phase = this.#phase;
    if (phase.kind !== 'finished' || phase.outcome.kind !== 'continued-as-new') return;
    if (event.type === 'ExecutionCancelRequested') {
      // Not delivered (it came after the continueAsNew): the next execution gets it (the step's `carryOverEvents`).
      this.#more().cancelRequested ??= event;
      return;
    }
    if (event.type !== 'EventRaised') return;
    const buffered = (this.#more().bufferedEvents ??= new Map());
    const key = this.#eventKey(event.name);
    buffered.set(key, [...(buffered.get(key) ?? []), event]);
  }

  /**
   * The one rule of a start the execution does not run (one after the end, as a step records it and as replay reads
   * it; one held back while suspended before it started): it still names the instance and its parent, which a
   * termination answers, unless a start was kept already.
   */
  #keepStart(event: HistoryEvent): void {
    if (event.type === 'ExecutionStarted') this.#started ??= event;
  }

  /**
   * Takes the open task `eventId` out of the open tasks; `undefined` when it is not open (a duplicate result, or one of a
   * cancelled timer: it stays in history, ignored). No callback per event: a closure over the event made every
   * applied event allocate a context, settled or not.
   */
  #takeOpen(eventId: number): AtomicTask<unknown> | undefined {
    const task = this.#openTasks?.get(eventId);
    if (task) this.#openTasks!.delete(eventId);
    return task;
  }

  #deliverEvent(event: EventRaisedEvent): void {
    const waiters = this.#eventWaiters;
    const key = this.#eventKey(event.name);
    let waiter: EventWaiter<unknown> | undefined;
    if (!Array.isArray(waiters)) {
      // None, or the one waiter: it takes the event if the name is its own.
      if (waiters && waiters.key === key) {
        waiter = waiters;
        this.#eventWaiters = undefined;
      }
    } else {
      let at = 0;
      while (at < waiters.length && waiters[at]!.key !== key) at++;
      if (at < waiters.length && this.#flags.includes(ReplayFlag.EventGoesToAwaitedWaiter)) at = this.#awaitedWaiter(waiters, at);
      waiter = waiters[at];
      // Taken out in place (a splice makes an array of what it removed).
      if (waiter) {
        for (let i = at + 1; i < waiters.length; i++) waiters[i - 1] = waiters[i]!;
        waiters.pop();
      }
    }
    if (!waiter) {
      const buffered = (this.#more().bufferedEvents ??= new Map());
      const queue = buffered.get(key);
      if (!queue) buffered.set(key, [event]);
      else if (!event.carried) queue.push(event);
      else {
        // Carried over by continueAsNew: raised before every unmarked event of its name this execution buffered
        // (those queued ahead of its start), so it goes ahead of them, after the carried ones before it.
        let at = 0;
        while (at < queue.length && queue[at]!.carried) at++;
        queue.splice(at, 0, event);
      }
      return;
    }
    waiter.complete(owned(event.input));
    this.#resume();
  }

  /**
   * Cooperative cancellation: the first request of a running execution throws a `CanceledError` into the generator
   * at the `yield` it waits at (whatever it awaits: an activity, a timer, an event, a `Task.all` or `Task.any`); the
   * tasks it waited for are left as they are (a result that comes later completes its task, which the orchestrator may
   * yield again). One that reaches an execution not started yet is delivered at its first `yield` (`#start`). A request
   * after the first, or after the end, is recorded and ignored. Replay applies it at the same point of the history, so
   * the orchestrator meets it at the same `yield`.
   */
  #requestCancel(event: ExecutionCancelRequestedEvent): void {
    const phase = this.#phase;
    if (phase.kind === 'finished' || phase.kind === 'diverged' || this.#rare?.cancelRequested) return;
    this.#more().cancelRequested = event;
    if (phase.kind === 'running') this.#deliverCancel();
  }

  /** Throws the requested cancellation into the generator at the `yield` it waits at (see {@link #requestCancel}). */
  #deliverCancel(): void {
    const request = this.#rare?.cancelRequested;
    if (!request || this.#phase.kind !== 'running' || !this.#awaiting) return;
    this.#awaiting = undefined;
    this.#rare!.cancelDelivered = true;
    const { reason } = request;
    this.#advance(true, new CanceledError(reason === undefined ? 'Canceled' : `Canceled: ${reason}`, reason));
  }

  /**
   * What external events are matched by: the name with case ignored (`eventNameKey`, the one rule), or the name as
   * given for a history recorded before `ReplayFlag.EventNamesIgnoreCase`.
   */
  #eventKey(name: string): string {
    const flags = this.#flags;
    const ignoreCase = flags === CURRENT_REPLAY_FLAGS ? CURRENT_NAMES_IGNORE_CASE : flags.includes(ReplayFlag.EventNamesIgnoreCase);
    return ignoreCase ? eventNameKey(name) : name;
  }



  /**
   * Where in `waiters` the event of the waiter at `first` (the first of its name) goes, under
   * `ReplayFlag.EventGoesToAwaitedWaiter`: to the first waiter of that name the orchestrator waits on now (its awaited
   * task, or a pending child of it at any depth), else to `first`. Each waiter is asked upwards, through the composites
   * waiting on it (`awaitedBy`), so a fan-in over many waiters of one name finds the first at once: a walk down the
   * awaited `Task.all` for every event was quadratic.
   */
  #awaitedWaiter(waiters: readonly EventWaiter<unknown>[], first: number): number {
    const awaiting = this.#awaiting;
    if (!awaiting) return first;
    const key = waiters[first]!.key;
    for (let i = first; i < waiters.length; i++) if (waiters[i]!.key === key && waiters[i]!.awaitedBy(awaiting)) return i;
    return first;
  }

  #matchScheduled(event: TaskScheduledEvent | TimerCreatedEvent | SubOrchestrationInstanceCreatedEvent): void {
    const recorded = describeCall(event);
    const action = this.#rare?.unmatched?.get(event.eventId);
    let actual = action && describeCall(action);
    // A sub-orchestration call as the step recording it names it (`forkCallId`): in a fork, with a GUID a copied step
    // made renamed, with the source's id where the code used ctx.instanceId (the fork's) in a step the source ran, or as
    // made (a fork recorded before such calls were renamed replays as it ran).
    if (actual !== recorded && action?.type === 'CreateSubOrchestration' && event.type === 'SubOrchestrationInstanceCreated') {
      if (describeCall(this.#forkCall(action, event.instanceId)) === recorded) actual = recorded;
    }
    if (actual !== recorded) {
      // The code ended the execution before it (threw, returned): say so, and keep what it threw, which is otherwise
      // lost: as the cause, and its stack after the error's own (the instance's failureDetails.stackTrace), which shows
      // where the code went another way, the error's own only where the engine found it.
      const outcome = this.#phase.kind === 'finished' ? this.#phase.outcome : undefined;
      const failed = outcome?.kind === 'failed' ? outcome : undefined;
      const did = actual ? `called ${actual}`
        : failed ? `threw ${failed.failure.errorType}: ${firstLine(failed.failure.errorMessage)}`
        : outcome?.kind === 'completed' ? 'returned'
        : outcome?.kind === 'continued-as-new' ? 'called continueAsNew' : 'scheduled nothing';
      const error = new NonDeterminismError(
        `Non-deterministic orchestrator ${JSON.stringify(this.#name())}: history has ${recorded} as #${event.eventId}, replay ${did}`,
        failed && { cause: this.#rare?.replayThrown },
      );
      if (failed?.failure.stackTrace !== undefined) error.stack = `${error.stack}\nCaused by: ${causeStack(failed.failure)}`;
      throw error;
    }
    this.#rare!.unmatched!.delete(event.eventId);
  }

  // ---------------------------------------------------------------- generator

  #start(orchestrator: Orchestrator): void {
    const ctx = this.#createContext();
    let generator: Orchestration;
    try {
      const created = orchestrator(ctx);
      if (!isGenerator(created)) {
        throw new OrchestrationError(`Orchestrator ${JSON.stringify(this.#name())} must be a generator function (function*, not async)`);
      }
      generator = created;
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#generator = generator;
    this.#phase = RUNNING;
    this.#advance(false, undefined);
    // A cancel that came before the start meets the orchestrator at its first yield.
    if (this.#rare?.cancelRequested) this.#deliverCancel();
  }

  /** Feeds the awaited task's outcome to the generator while it is settled. */
  #resume(): void {
    for (;;) {
      const task = this.#awaiting;
      if (this.#phase.kind !== 'running' || !task?.isSettled) return;
      this.#awaiting = undefined;
      if (!task.isFaulted) this.#advance(false, task.result);
      else this.#advance(true, task.error);
    }
  }

  /** Resumes the generator with `value`, or throws `value` into it (`thrown`). */
  #advance(thrown: boolean, value: unknown): void {
    const generator = this.#generator;
    if (this.#phase.kind !== 'running' || !generator) return;
    let next: IteratorResult<DurableTask<unknown>, unknown>;
    try {
      next = thrown ? generator.throw(value) : generator.next(value as never);
    } catch (error) {
      this.#fail(error);
      return;
    }
    // The generator ran: it may have continued as new, or been finished by what it called.
    const phase = this.#phase as ExecutionPhase;
    if (phase.kind !== 'running') return;
    if (phase.continueAsNew) {
      this.#finish({ kind: 'continued-as-new', request: phase.continueAsNew });
      return;
    }
    if (next.done) {
      let result: JsonValue | undefined;
      try {
        result = toPlainJson(next.value, 'orchestrator output');
      } catch (error) {
        this.#fail(error);
        return;
      }
      this.#finish({ kind: 'completed', result });
      return;
    }
    if (!isDurableTask(next.value)) {
      const shown = next.value === null ? 'null' : typeof next.value;
      this.#fail(new OrchestrationError(
        `Orchestrator ${JSON.stringify(this.#name())} yielded ${shown}; only tasks (ctx.callActivity(), ...) may be yielded`,
      ));
      return;
    }
    const task = next.value;
    if (!task.isSettled && (task instanceof TimerTask
      ? task.isCancelled
      : this.#flags.includes(ReplayFlag.CompositeOverCancelledTimerThrows) && waitsForCancelledTimer(task))) {
      // A cancelled timer's fire is ignored, so waiting for it (or for a composite that cannot do without it) would
      // wait for ever: the yield throws instead (as awaiting a timer whose cancellation token was cancelled throws in
      // Durable Functions for .NET), and the orchestrator may catch it. Decided from the tasks alone: replay does the same.
      const what = task instanceof TimerTask ? 'a cancelled timer' : `Task.${task instanceof WhenAllTask ? 'all' : 'any'} waiting for a cancelled timer`;
      this.#advance(true, new OrchestrationError(`yielded ${what}, which never fires`));
      return;
    }
    this.#awaiting = task;
    this.#resume();
  }

  /** Fails the execution with `error` (what the orchestrator threw, or why it cannot go on). */
  #fail(error: unknown): void {
    if (this.#mode().kind === 'replaying' && this.#phase.kind !== 'finished') this.#more().replayThrown = error;
    this.#finish({ kind: 'failed', failure: toFailureDetails(error) });
  }

  /** Ends the execution (once; a diverged execution may still fail). */
  #finish(outcome: Outcome): void {
    if (this.#phase.kind === 'finished') return;
    this.#phase = { kind: 'finished', outcome };
    if (this.#mode().kind === 'stepping') this.#recordOutcome(); // replaying: the outcome is in history, or see `late`
  }

  /** Records the outcome of the finished execution, at the current step's time. */
  #recordOutcome(): void {
    const { outcome } = this.#phase as { readonly outcome: Outcome };
    this.#more().outcomeKept = true;
    const timestamp = this.#nowIso;
    switch (outcome.kind) {
      case 'completed':
        this.#record(builtUnlessShared({
          type: 'ExecutionCompleted', eventId: -1, timestamp, orchestrationStatus: 'Completed',
          ...(outcome.result === undefined ? {} : { result: outcome.result }),
        }, outcome.result));
        return;
      case 'failed':
        this.#record({ type: 'ExecutionCompleted', eventId: -1, timestamp, orchestrationStatus: 'Failed', failureDetails: outcome.failure });
        return;
      case 'continued-as-new': {
        const { request } = outcome;
        const event: ContinueAsNewEvent = {
          type: 'ContinueAsNew', eventId: -1, timestamp,
          preserveUnprocessedEvents: request.preserveUnprocessedEvents,
          ...(request.input === undefined ? {} : { input: request.input }),
        };
        this.#record(event);
        return;
      }
      case 'terminated':
        return; // the ExecutionTerminated event itself records it
      default:
        assertNever(outcome);
    }
  }

  // ---------------------------------------------------------------- actions

  #schedule(action: OrchestratorAction): void {
    if (this.#mode().kind === 'replaying') (this.#more().unmatched ??= new Map()).set(action.eventId, action);
    else this.#issue(action);
  }

  #issue(action: OrchestratorAction): void {
    const mode = this.#mode();
    // A call named with a GUID a step a fork copied made (its source's): under the fork's GUID.
    if (action.type === 'CreateSubOrchestration') action = this.#forkCall(action);
    if (mode.kind === 'stepping') mode.newActions.push(action);
    const timestamp = this.#nowIso;
    switch (action.type) {
      case 'ScheduleTask':
        this.#record(builtUnlessShared({ type: 'TaskScheduled', eventId: action.eventId, timestamp, name: action.name, ...optionalInput(action.input) }, action.input));
        return;
      case 'CreateTimer':
        this.#record({ type: 'TimerCreated', eventId: action.eventId, timestamp, fireAt: action.fireAt });
        return;
      case 'CreateSubOrchestration':
        this.#record({
          type: 'SubOrchestrationInstanceCreated', eventId: action.eventId, timestamp, name: action.name,
          instanceId: action.instanceId, ...optionalInput(action.input),
        });
        return;
      default:
        assertNever(action);
    }
  }

  #record(event: HistoryEvent): void {
    const mode = this.#mode();
    if (mode.kind === 'stepping') mode.newEvents.push(event);
  }

  #callActivity<T>(name: string, input: unknown, attempt = 1): AtomicTask<T> {
    assertValidName(name, 'activity name');
    const json = toPlainJson(input, 'activity input');
    const eventId = this.#sequence++;
    return this.#open(new AtomicTask<T>('activity', name, eventId), { type: 'ScheduleTask', eventId, name, attempt, ...optionalInput(json) });
  }

  #callSubOrchestrator<T>(name: string, input: unknown, instanceId: string | undefined): AtomicTask<T> {
    assertValidName(name, 'orchestrator name');
    const json = toPlainJson(input, 'sub-orchestration input');
    const eventId = this.#sequence++;
    const childId = instanceId ?? this.#defaultChildId(eventId);
    assertValidInstanceId(childId);
    return this.#open(
      new AtomicTask<T>('sub-orchestration', name, eventId),
      { type: 'CreateSubOrchestration', eventId, name, instanceId: childId, ...optionalInput(json) },
    );
  }

  /**
   * Opens `task`, the one `action` schedules: kept until its result arrives (by its event id), and the action issued;
   * after `continueAsNew`, neither (see {@link #continuing}).
   */
  #open<K extends AtomicTask<unknown>>(task: K, action: OrchestratorAction): K {
    if (this.#continuing()) return this.#own(task);
    (this.#openTasks ??= new Map()).set(action.eventId, this.#own(task));
    this.#schedule(action);
    return task;
  }

  /**
   * True when the orchestrator called `continueAsNew` in this run: the execution ends at its next `yield` or `return`,
   * so what it calls until then is not scheduled and a wait takes no buffered event
   * ({@link ReplayFlag.NothingScheduledAfterContinueAsNew}; a history recorded before schedules it).
   */
  #continuing(): boolean {
    const phase = this.#phase;
    return phase.kind === 'running' && phase.continueAsNew !== undefined && this.#flags.includes(ReplayFlag.NothingScheduledAfterContinueAsNew);
  }

  /**
   * What a `newGuid` name starts with: the seed of the step being replayed when a fork copied it from its source
   * ({@link OrchestratorStartedEvent.guidSeed}), else the execution's ({@link guidSeedOf}).
   */
  #guidPrefix(): string {
    const started = this.#started;
    return this.#rare?.stepGuidSeed ?? (started ? guidSeedOf(started, this.#flags) : '');
  }

  /**
   * The sub-orchestration call `action` as the current step records it (the history's id `recorded`, on replay): under
   * the id {@link forkCallId} gives in a fork, else as it is.
   */
  #forkCall<A extends OrchestratorAction & { readonly instanceId: string }>(action: A, recorded?: string): A {
    const rare = this.#rare;
    if (!rare?.copiedGuids && rare?.stepInstanceId === undefined) return action;
    const step: RecordingStep = {
      seed: this.#guidPrefix(), copied: rare.copiedGuids, ranAs: rare.stepInstanceId,
      instanceIdRead: rare.instanceIdRead ? this.#instanceId() : undefined,
    };
    const instanceId = forkCallId(action.instanceId, step, recorded);
    return instanceId === action.instanceId ? action : { ...action, instanceId };
  }

  /** The id of a sub-orchestration called without one (see {@link ReplayFlag.SubOrchestrationIdPerExecution}). */
  #defaultChildId(eventId: number): string {
    return defaultChildId(this.#instanceId(), this.#started?.executionId ?? '', eventId, this.#flags);
  }

  #createTimer(fireAt: Date): TimerTask {
    if (!(fireAt instanceof Date) || Number.isNaN(fireAt.getTime())) throw new InvalidArgumentError('createTimer needs a valid Date');
    const eventId = this.#sequence++;
    return this.#open(new TimerTask(eventId, fireAt), { type: 'CreateTimer', eventId, fireAt: fireAt.toISOString() });
  }

  #withRetry<T>(retryOptions: RetryOptions, startAttempt: (attempt: number) => AtomicTask<T>): RetryableTask<T> {
    return this.#own(new RetryableTask<T>(retryOptions, {
      now: () => this.#now(),
      createTimer: (fireAt) => this.#createTimer(fireAt),
      startAttempt,
      asDurableFunctions: this.#flags.includes(ReplayFlag.RetriesAsDurableFunctions),
      atCall: this.#flags.includes(ReplayFlag.RetryArgumentsAtCall),
      refusesUnknownMembers: this.#flags.includes(ReplayFlag.RetryOptionsRefuseUnknownMembers),
      handleDecidesAtOnce: this.#flags.includes(ReplayFlag.RetryHandleDecidesAtOnce),
      stopsOnCancel: this.#flags.includes(ReplayFlag.NoRetryAfterCancel),
      cancelRequested: () => this.#rare?.cancelRequested !== undefined,
    }));
  }

  /**
   * The input every attempt of a call with retries is scheduled with (each attempt's call copies it again, so what an
   * attempt's activity does to its input reaches no later attempt): a plain-JSON copy taken now, at the call
   * (`ReplayFlag.RetryArgumentsAtCall`), or, for a history recorded before, the caller's object, read at each attempt.
   */
  #retryInput(input: unknown, what: string): unknown {
    return this.#flags.includes(ReplayFlag.RetryArgumentsAtCall) ? toPlainJson(input, what) : input;
  }

  /** A task the execution made, with the parent rule of its replay flags (see `ReplayFlag.CompositesNotifyEveryParent`). */
  #own<K extends DurableTask<unknown>>(task: K): K {
    if (!this.#flags.includes(ReplayFlag.CompositesNotifyEveryParent)) task.lastParentOnly = true;
    return task;
  }

  /**
   * True when the orchestrator does not run now (neither in a replay nor in a step), and then marks the execution so
   * that its next step fails the instance. Steps are synchronous, so `ctx` used from a callback or after an `await`
   * (between steps) finds the execution idle: what it called would be recorded by no step, and a call would take a
   * sequence number that the replay does not give it, so that later calls diverge from history. Such a call changes
   * nothing and does not throw: it runs in a host callback, where a throw would be uncaught and end the process.
   */
  #outsideRun(): boolean {
    if (this.#mode().kind !== 'idle') return false;
    // Marked where the next step finds it, also when that step replays a fresh execution (see MisuseMarks: a worker
    // also commits the failure to the store at once); an execution that ended has no next step.
    if (this.#phase.kind === 'finished') return true;
    const marks = this.#options.misuseMarks;
    const error = new OrchestrationError('ctx used outside the orchestrator\'s run (from a callback?): use it between yields only');
    if (marks) marks.mark(this.#instanceId(), this.#started?.executionId ?? '', this.historyEpoch, error);
    else this.#more().misuse ??= error;
    return true;
  }

  /** What a scheduling call made outside the run returns: a task that never settles (the next step fails the instance). */
  #inert<T>(kind: 'activity' | 'sub-orchestration' | 'external-event', name: unknown): AtomicTask<T> {
    return this.#own(new AtomicTask<T>(kind, String(name), -1));
  }

  /**
   * {@link #inert} for a call with retries (the caller's options are not validated: nothing may throw there). One
   * attempt of a task that never settles: it schedules no retry timer.
   */
  #inertWithRetry<T>(kind: 'activity' | 'sub-orchestration', name: unknown): RetryableTask<T> {
    return this.#withRetry<T>({ firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 1 }, () => this.#inert<T>(kind, name));
  }

  #createContext(): OrchestrationContext {
    return new OrchestrationExecution.#Context(this);
  }

  /**
   * The `ctx` of an orchestrator: one small object per execution whose members live on its prototype (a context of
   * closures cost about 2 KB per cached execution, and as much allocation on every replay).
   */
  static readonly #Context = class Context implements OrchestrationContext {
    readonly #x: OrchestrationExecution;

    constructor(execution: OrchestrationExecution) {
      this.#x = execution;
    }

    get instanceId(): string {
      const x = this.#x;
      // In a step a fork copied, an id the code makes may hold it (`forkCallId`).
      if (x.#rare?.stepGuidSeed !== undefined) x.#rare.instanceIdRead = true;
      return x.#instanceId();
    }
    get parentInstanceId(): string | undefined { return this.#x.parentInstance?.instanceId; }
    get name(): string { return this.#x.#name(); }
    get isReplaying(): boolean { return this.#x.#mode().kind === 'replaying'; }
    get isCancellationRequested(): boolean { return this.#x.#rare?.cancelRequested !== undefined; }
    get currentUtcDateTime(): Date { return this.#x.#now(); }
    get Task(): typeof Task { return Task; }

    getInput<T>(): T {
      return structuredClone(this.#x.#started?.input) as T;
    }

    setCustomStatus(value: unknown): void {
      if (this.#x.#outsideRun()) return;
      const json = toPlainJson(value, 'custom status');
      assertJsonSize(json, this.#x.#statusLimit(), 'custom status');
      this.#x.#customStatus = json;
    }

    callActivity<T>(name: string, input?: unknown): AtomicTask<T> {
      if (this.#x.#outsideRun()) return this.#x.#inert<T>('activity', name);
      return this.#x.#callActivity<T>(name, input);
    }

    callActivityWithRetry<T>(name: string, retryOptions: RetryOptions, input?: unknown): RetryableTask<T> {
      if (this.#x.#outsideRun()) return this.#x.#inertWithRetry<T>('activity', name);
      const x = this.#x;
      const taken = x.#retryInput(input, 'activity input');
      return x.#withRetry<T>(retryOptions, (attempt) => x.#callActivity<T>(name, taken, attempt));
    }

    callSubOrchestrator<T>(name: string, input?: unknown, instanceId?: string): AtomicTask<T> {
      if (this.#x.#outsideRun()) return this.#x.#inert<T>('sub-orchestration', name);
      return this.#x.#callSubOrchestrator<T>(name, input, instanceId);
    }

    callSubOrchestratorWithRetry<T>(name: string, retryOptions: RetryOptions, input?: unknown, instanceId?: string): RetryableTask<T> {
      if (this.#x.#outsideRun()) return this.#x.#inertWithRetry<T>('sub-orchestration', name);
      const x = this.#x;
      const taken = x.#retryInput(input, 'sub-orchestration input');
      return x.#withRetry<T>(retryOptions, () => x.#callSubOrchestrator<T>(name, taken, instanceId));
    }

    createTimer(fireAt: Date): TimerTask {
      if (this.#x.#outsideRun()) return this.#x.#own(new TimerTask(-1, fireAt));
      return this.#x.#createTimer(fireAt);
    }

    waitForExternalEvent<T>(name: string): AtomicTask<T> {
      if (this.#x.#outsideRun()) return this.#x.#inert<T>('external-event', name);
      assertValidName(name, 'event name');
      const x = this.#x;
      const key = x.#eventKey(name);
      const task = x.#own(new EventWaiter<T>(name, key));
      if (x.#continuing()) return task;
      const buffered = x.#rare?.bufferedEvents?.get(key);
      const event = buffered?.shift();
      if (buffered?.length === 0) x.#rare!.bufferedEvents!.delete(key);
      if (event) {
        task.complete(owned(event.input) as T);
      } else {
        const waiters = x.#eventWaiters;
        if (!waiters) x.#eventWaiters = task as EventWaiter<unknown>;
        else if (Array.isArray(waiters)) waiters.push(task as EventWaiter<unknown>);
        else x.#eventWaiters = [waiters, task as EventWaiter<unknown>];
      }
      return task;
    }

    continueAsNew(input: unknown, options?: { readonly preserveUnprocessedEvents?: boolean }): void {
      if (this.#x.#outsideRun()) return;
      const x = this.#x;
      const phase = x.#phase;
      if (phase.kind !== 'running') throw new OrchestrationError('continueAsNew may only be called while the orchestrator runs');
      const next = toPlainJson(input, 'continueAsNew input');
      // Read as every options argument is: `continueAsNew(input, true)` (durabletask-js's and .NET's signature) or a
      // misspelt member is refused here, where it once dropped the unprocessed events it meant to keep. No replay flag:
      // the step that continues as new ends its execution and is never replayed.
      const { preserveUnprocessedEvents } = readChecked(options, 'continueAsNew options', { preserveUnprocessedEvents: isBoolean });
      x.#phase = {
        ...phase,
        continueAsNew: { input: next, preserveUnprocessedEvents: preserveUnprocessedEvents ?? false },
      };
    }

    newGuid(): string {
      const x = this.#x;
      const more = x.#more();
      const seed = x.#guidPrefix();
      const name = `_${x.#now().toISOString()}_${more.guidCounter}`;
      const guid = uuidV5(`${seed}${name}`);
      // Outside the run: a guid (the next one, which a later call gives again), without taking it; the instance fails.
      if (x.#outsideRun()) return guid;
      more.guidCounter++;
      // A step a fork copied gives its source's GUID: kept, so that a call named with it that the fork makes again runs
      // under the fork's own (`forkCallId`).
      if (more.stepGuidSeed !== undefined) (more.copiedGuids ??= new Map()).set(guid, { seed, name });
      return guid;
    }
  };
}

// ------------------------------------------------------------------ helpers

/**
 * The replay flags an execution keeps for `flags`, read from its history: {@link CURRENT_REPLAY_FLAGS} when they are
 * the same flags (the usual case, which `#eventKey` then reads without a search).
 */
function sharedFlags(flags: readonly number[]): readonly number[] {
  if (flags.length !== CURRENT_REPLAY_FLAGS.length) return flags;
  for (let i = 0; i < flags.length; i++) if (flags[i] !== CURRENT_REPLAY_FLAGS[i]) return flags;
  return CURRENT_REPLAY_FLAGS;
}

/** Whether `id` is a valid instance id, by the one rule (`assertValidInstanceId`). */
function isValidInstanceId(id: string): boolean {
  try {
    assertValidInstanceId(id);
    return true;
  } catch {
    return false;
  }
}

/** The step markers of a step at some time (see {@link stepMarkers}). */
interface StepMarkers {
  readonly started: HistoryEvent;
  readonly completed: HistoryEvent;
}

/** The step markers of the last step time asked for (see {@link stepMarkers}). */
let markers: StepMarkers | undefined;
/** The first step's marker of the last step time and limit asked for (see {@link firstStepMarker}). */
let firstMarker: OrchestratorStartedEvent | undefined;

/**
 * The OrchestratorStarted and OrchestratorCompleted events of a step at `timestamp`. They are frozen as built
 * (`freezeBuilt`: nothing changes them afterwards), so a store keeps them without a copy, and MemoryStore without a
 * walk (each was walked per step, a getter look-up per member); and being equal for every step of one millisecond,
 * those steps share them instead of each recording (and a store keeping) objects of their own.
 */
export function stepMarkers(timestamp: string): StepMarkers {
  if (markers?.started.timestamp !== timestamp) {
    markers = {
      started: freezeBuilt({ type: 'OrchestratorStarted', eventId: -1, timestamp }),
      completed: freezeBuilt({ type: 'OrchestratorCompleted', eventId: -1, timestamp }),
    };
  }
  return markers;
}

/**
 * The OrchestratorStarted event of the step that starts an execution at `timestamp`, in place of
 * {@link stepMarkers}' `started`: the one record of what an execution runs under, for every later replay, the replay
 * flags ({@link CURRENT_REPLAY_FLAGS}) and the runtime's `customStatusLimitBytes` (see
 * {@link OrchestratorStartedEvent.customStatusLimitBytes}), also when the step runs no code (a later rewind runs it).
 * Frozen as built (the shared flags list too), and shared, as the step markers are, by the first steps of the executions
 * started in one millisecond under one limit (thousands when many instances start at once; one each was 56 B per
 * instance in MemoryStore).
 */
export function firstStepMarker(timestamp: string, customStatusLimitBytes: number): OrchestratorStartedEvent {
  if (firstMarker?.timestamp !== timestamp || firstMarker.customStatusLimitBytes !== customStatusLimitBytes) {
    firstMarker = freezeBuilt<OrchestratorStartedEvent>({
      type: 'OrchestratorStarted', eventId: -1, timestamp, replayFlags: CURRENT_REPLAY_FLAGS, customStatusLimitBytes,
    });
  }
  return firstMarker;
}

/**
 * The id of a sub-orchestration called without one, as call `eventId` of execution `executionId` of `instanceId` makes
 * it under the replay flags `flags` (see {@link ReplayFlag.SubOrchestrationIdPerExecution} and
 * {@link ReplayFlag.SubOrchestrationIdFits}). The one rule of the engine and of a fork, which renames the recorded
 * children of its source so that its replay names them alike (`forkHistory`).
 *
 * @example
 * ```ts
 * defaultChildId('order-1', 'e1', 3, [ReplayFlag.SubOrchestrationIdPerExecution]); // 'order-1:e1:3'
 * defaultChildId('order-1', 'e1', 3, []); // 'order-1:3'
 * ```
 */
export function defaultChildId(instanceId: string, executionId: string, eventId: number, flags: readonly number[]): string {
  if (!flags.includes(ReplayFlag.SubOrchestrationIdPerExecution)) return `${instanceId}:${eventId}`;
  const execution = `${instanceId}:${executionId}`;
  const id = `${execution}:${eventId}`;
  // One that is no valid id (see ReplayFlag.SubOrchestrationIdFits): a name-based uuid stands for the parent's part.
  return !flags.includes(ReplayFlag.SubOrchestrationIdFits) || isValidInstanceId(id) ? id : `${uuidV5(execution)}:${eventId}`;
}

/**
 * What the `newGuid` names of the execution `started` makes in its own steps, under the replay flags `flags`, begin
 * with (each GUID is a name-based UUID of `<seed>_<step time>_<counter>`): its instance id, and its execution id too
 * under {@link ReplayFlag.GuidPerExecution}. A step a fork copied from its source names the seed its source's step
 * used ({@link OrchestratorStartedEvent.guidSeed}, which `forkHistory` writes by this rule), so the fork's replay
 * makes the GUIDs its source made, and the steps the fork runs make GUIDs of its own.
 *
 * @example
 * ```ts
 * guidSeedOf({ ...started, instanceId: 'order-1', executionId: 'e1' }, [ReplayFlag.GuidPerExecution]); // 'order-1_e1'
 * guidSeedOf({ ...started, instanceId: 'order-1', executionId: 'e1' }, []); // 'order-1'
 * ```
 */
export function guidSeedOf(started: ExecutionStartedEvent, flags: readonly number[]): string {
  return flags.includes(ReplayFlag.GuidPerExecution) ? `${started.instanceId}_${started.executionId}` : started.instanceId;
}

/** Most characters of a thrown message that a NonDeterminismError copies (the whole is in its cause). */
const COPIED_MESSAGE_MAX = 300;

/**
 * The first line of a thrown `message`, with an ellipsis when anything was left out, {@link COPIED_MESSAGE_MAX}
 * characters in all at most: what a NonDeterminismError copies of it into its own message (and so the instance's
 * errorMessage).
 */
function firstLine(message: string): string {
  const line = message.split('\n', 1)[0]!;
  return cutText(line.length < message.length ? `${line}…` : line, COPIED_MESSAGE_MAX, ellipsis);
}

/**
 * The stack of a thrown error as a NonDeterminismError's stack shows it after its own: its head (`Type: message`, as
 * V8 and others begin a stack) with the message cut as {@link firstLine} cuts it, then its frames.
 */
function causeStack(failure: FailureDetails): string {
  const stack = failure.stackTrace ?? '';
  const head = `${failure.errorType}: ${failure.errorMessage}`;
  return stack.startsWith(head) ? `${failure.errorType}: ${firstLine(failure.errorMessage)}${stack.slice(head.length)}` : stack;
}

/**
 * True for what a generator function returns. Not for an async generator (an `async function*`), which has `next` and
 * `throw` too, but whose yields reach the engine as promises.
 */
function isGenerator(value: unknown): value is Orchestration {
  return typeof value === 'object' && value !== null && typeof (value as Generator).next === 'function' &&
    typeof (value as Generator).throw === 'function' && !(Symbol.asyncIterator in value);
}

/**
 * True when `task` is pending and can never complete for want of a cancelled timer (whose fire is ignored): the timer
 * itself, a `Task.all` with such a task among its children, a `Task.any` whose every child is such. A `Task.any` with
 * another child waits for that one: the cancelled timer never wins. (A `Task.all` over one may still fail, when another
 * child fails; yielded, it throws at once instead of waiting for that.) See `ReplayFlag.CompositeOverCancelledTimerThrows`.
 */
function waitsForCancelledTimer(task: DurableTask<unknown>): boolean {
  if (task.isSettled) return false;
  if (task instanceof TimerTask) return task.isCancelled;
  if (task instanceof WhenAllTask) return task.children.some(waitsForCancelledTimer);
  if (task instanceof WhenAnyTask) return task.children.every(waitsForCancelledTimer);
  return false;
}

/** While suspended, everything but resume/terminate (and step markers) waits. */
function deferredWhileSuspended(event: HistoryEvent): boolean {
  return event.type !== 'ExecutionResumed' && event.type !== 'ExecutionTerminated' &&
    event.type !== 'OrchestratorStarted' && event.type !== 'OrchestratorCompleted' && event.type !== 'ExecutionSuspended';
}

/**
 * True when an execution with this history ends suspended with no event waiting in its `deferred`: an
 * `ExecutionResumed` then only puts the phase back and runs no orchestrator code (the step a worker would commit is
 * the resume between step markers, and nothing else). False when something reached it while suspended (the resume
 * runs the orchestrator on it), when it is not suspended, or when it ended. The rule of `#apply` for suspend and
 * resume, over the history alone (its first `length` events: the execution's, when the history read runs ahead), for
 * `decideResume`.
 */
export function suspendedWithNothingDeferred(history: readonly HistoryEvent[], length = history.length): boolean {
  return nothingDeferredAfter(history, 0, Math.min(length, history.length), false, false);
}

/**
 * {@link suspendedWithNothingDeferred} of a history known only from position `from` on (`events`: the events from
 * there to the end, of a history that holds no end before them, as a Suspended instance's holds none): its answer when
 * those events give it whatever came before them, `undefined` when only earlier events can (read from further back).
 * They give it from the last of them that shows the execution not suspended: a resume, or an event only its running
 * code records (a call, a timer or a sub-orchestration scheduled: while suspended no code runs, and what reaches it is
 * kept); otherwise when every way the earlier events can have left it (not suspended; suspended with nothing kept;
 * suspended with something kept) gives the same answer (an event kept after a suspend among them: `false`). From 0
 * they always do. What lets a resume read a tail of a long history, not all of it (`decideResume`). Pure.
 *
 * @example
 * ```ts
 * suspendedWithNothingDeferredFrom([scheduled, completed, suspended], 140); // true: the code ran, then the suspend
 * suspendedWithNothingDeferredFrom([raised, suspended], 140);               // undefined: was `raised` kept?
 * ```
 */
export function suspendedWithNothingDeferredFrom(events: readonly HistoryEvent[], from: number): boolean | undefined {
  const n = events.length;
  if (from <= 0) return nothingDeferredAfter(events, 0, n, false, false);
  for (let i = n - 1; i >= 0; i--) {
    const type = events[i]!.type;
    if (type === 'ExecutionResumed' || type === 'TaskScheduled' || type === 'TimerCreated' || type === 'SubOrchestrationInstanceCreated') {
      // Not suspended there; an end before it ends the answer as it would from the start.
      return events.slice(0, i).some(isExecutionEnd) ? false : nothingDeferredAfter(events, i + 1, n, false, false);
    }
  }
  const answer = nothingDeferredAfter(events, 0, n, false, false);
  return answer === nothingDeferredAfter(events, 0, n, true, false) && answer === nothingDeferredAfter(events, 0, n, true, true) ? answer : undefined;
}

/**
 * The rule of {@link suspendedWithNothingDeferred} over `history` from `start` to `end`, the execution at `start`
 * suspended or not (`suspended`) and with an event kept or not (`deferred`).
 */
function nothingDeferredAfter(history: readonly HistoryEvent[], start: number, end: number, suspended: boolean, deferred: boolean): boolean {
  return keptWhileSuspendedAfter(history, start, end, suspended, deferred) === false;
}

/**
 * Whether an execution that was suspended or not (`suspended`), with an event kept or not (`deferred`), before the
 * events of `history` from `start` to `end` has something kept after them (`true`: a resume runs its code on it) or
 * nothing (`false`), when it ends them suspended; `undefined` when it does not (running, or ended). The one rule of
 * `#apply` for suspend and resume over recorded events: {@link suspendedWithNothingDeferred} reads it over a history,
 * and a step's write set over the step's events (`InstanceState.suspension`), from the state before it.
 *
 * @example
 * ```ts
 * keptWhileSuspendedAfter([raised, suspended], 0, 2, false, false); // false: the event came while it ran
 * keptWhileSuspendedAfter([suspended, raised], 0, 2, false, false); // true
 * ```
 */
export function keptWhileSuspendedAfter(
  history: readonly HistoryEvent[], start: number, end: number, suspended: boolean, deferred: boolean,
): boolean | undefined {
  for (let i = start; i < end; i++) {
    const event = history[i]!;
    switch (event.type) {
      case 'ExecutionTerminated':
      case 'ExecutionCompleted':
      case 'ContinueAsNew':
        return undefined;
      case 'ExecutionSuspended':
        if (!suspended) deferred = false;
        suspended = true;
        break;
      case 'ExecutionResumed':
        suspended = false;
        break;
      default:
        if (suspended && deferredWhileSuspended(event)) deferred = true;
    }
  }
  return suspended ? deferred : undefined;
}

/**
 * A payload from history or a message (an event's input, a task's result, a failure's details) as user code may
 * receive it: a value it owns. A store may hand out values frozen all the way down (MemoryStore does, and replays read
 * them without a copy), and an activity step freezes the result it records (`decideActivityStep`: the same object goes
 * into its write set); those are copied here, at the one place they reach user code. Primitives and the fresh objects
 * other stores return are handed over as they are. So a change in place never reaches what is recorded, and the code
 * sees the same whether its step ran from history or not.
 */
function owned<T>(value: T): T {
  // Plain JSON (the store port's rule): copied by copyStoreValue, several times faster than structuredClone for such
  // values (an activity step of an object result took about a fifth more CPU with structuredClone).
  return typeof value === 'object' && value !== null && Object.isFrozen(value) ? copyStoreValue(value) : value;
}

function optionalInput(input: JsonValue | undefined): { input?: JsonValue } {
  return input === undefined ? {} : { input };
}

/**
 * `event`, a literal the engine built around `payload`, frozen as built (`freezeBuilt`) when `payload` is no object:
 * a store that keeps the events it is given frozen (MemoryStore) then keeps it as it is, where it walked it and kept a
 * copy (a TaskScheduled with a string input, a completion with a number). One with an object payload is left as it
 * is: that object goes on elsewhere too (an activity's input to the task this worker may run, an output to the
 * state), which a freeze would freeze as well.
 */
function builtUnlessShared<E extends HistoryEvent>(event: E, payload: JsonValue | undefined): E {
  return typeof payload === 'object' && payload !== null ? event : freezeBuilt(event);
}

/**
 * Describes a thrown value as {@link FailureDetails}, the one rule for every failure the runtime records (an
 * orchestrator's, an activity's, a retry handle's, a refused step's). An Error, or any object that looks like one (a
 * plain `{ message, stack }`, an Error from another realm): `errorType` is its `name` when that is a non-empty
 * string (else `Error`), `errorMessage` its `message` when that is a string, and `stackTrace` its `stack` when that
 * is a string, which the wire leaves out unless `exposeStackTraces`. An object without a string `message` is
 * described as JSON, with members named `stack` left out at every depth (so a stack never reaches a message), a
 * BigInt as its digits and a cycle as `[Circular]`; a primitive as its text. Each text is cut to
 * {@link FAILURE_TEXT_MAX} characters, so a huge thrown value (a string of megabytes, a typed array) is recorded in
 * bounded size on any store.
 *
 * Total: whatever was thrown (a cyclic object without a prototype, an object whose `message` getter throws, a value
 * whose `toJSON` or `toString` throws, a revoked proxy), it returns readable strings and never throws, so a failure
 * can always be recorded.
 */
export function toFailureDetails(error: unknown): FailureDetails {
  // A primitive as its text (`String` never throws for one, and keeps what JSON would lose: `undefined`, `NaN`, a
  // BigInt's digits); a function not as its source, which `String` would give.
  if (typeof error !== 'object' || error === null) {
    return { errorType: 'Error', errorMessage: typeof error === 'function' ? '(a thrown function)' : cutText(String(error), FAILURE_TEXT_MAX) };
  }
  const e = error as { name?: unknown; message?: unknown; stack?: unknown };
  const name = attempt(() => e.name);
  const stack = attempt(() => e.stack);
  const message = attempt(() => e.message, UNREADABLE);
  const errorType = (typeof name === 'string' && name) || 'Error';
  const errorMessage = message === UNREADABLE
    ? '(the thrown value\'s message could not be read)'
    // An Error's message as it is; any other object, when its message is not text, as the whole object.
    : typeof message === 'string' || attempt(() => error instanceof Error) === true
      ? describe(message, 'message')
      : describe(error, 'a thrown object');
  const failure: Mutable<FailureDetails> = { errorType: cutText(errorType, FAILURE_TEXT_MAX), errorMessage: cutText(errorMessage, FAILURE_TEXT_MAX) };
  if (typeof stack === 'string') {
    // A stack that begins with a message too long to record (`Type: message`, as V8 begins one) keeps only the start
    // of it there, as a NonDeterminismError copies one, so that its frames still fit and the message is not kept twice.
    const head = `${errorType}: ${errorMessage}`;
    const cut = errorMessage.length > FAILURE_TEXT_MAX && stack.startsWith(head) ? `${errorType}: ${firstLine(errorMessage)}${stack.slice(head.length)}` : stack;
    failure.stackTrace = cutText(cut, FAILURE_TEXT_MAX);
  }
  return failure;
}

/**
 * Most UTF-16 code units of a recorded failure's `errorType`, `errorMessage` and `stackTrace` each (64 Ki): a longer
 * text is cut at a character's boundary and ends with `… (n characters cut)` (see {@link cutText}). A stack that
 * begins with a message cut so keeps the message's first line there, at most 300 characters, then its frames.
 */
export const FAILURE_TEXT_MAX = 65_536;

/**
 * `value` as text: a string as it is, else its JSON (see {@link withoutStacks}), else `String`, else the object tag;
 * `fallback` when all of them throw.
 */
function describe(value: unknown, fallback: string): string {
  if (typeof value === 'string') return value;
  const text = attempt(() => JSON.stringify(value, withoutStacks())) ?? attempt(() => String(value)) ?? attempt(() => Object.prototype.toString.call(value));
  return typeof text === 'string' ? text : `(${fallback} could not be described)`;
}

/**
 * A `JSON.stringify` replacer for describing a thrown value: drops members named `stack` (stack traces are only ever
 * `stackTrace`, which the wire hides by default), writes a BigInt as its digits and a cycle as `[Circular]`.
 */
function withoutStacks(): (this: unknown, key: string, value: unknown) => unknown {
  const path: unknown[] = [];
  return function (this: unknown, key, value) {
    if (key === 'stack') return undefined;
    if (typeof value === 'bigint') return String(value);
    if (typeof value !== 'object' || value === null) return value;
    // `this` is the object holding `value`: what lies beyond it on the path was a finished sibling branch.
    while (path.length > 0 && path[path.length - 1] !== this) path.pop();
    if (path.includes(value)) return '[Circular]';
    path.push(value);
    return value;
  };
}

const UNREADABLE = Symbol('unreadable');

/** The result of `read`, or `otherwise` (default `undefined`) when it throws. */
function attempt<T, U = undefined>(read: () => T, otherwise?: U): T | U {
  try {
    return read();
  } catch {
    return otherwise as U;
  }
}

/**
 * The parent call an execution reports to after `event`: the one its `ExecutionStarted` names, then the one of an
 * `ExecutionRewound` that names one (a parent's rewind: report to the call that rewound this instance, see
 * ExecutionRewoundEvent). The one rule for the execution replaying its history and for `decideTerminate`, which reads
 * the link from a history without running the orchestrator.
 */
export function parentLinkAfter(
  link: ExecutionStartedEvent['parentInstance'], event: HistoryEvent,
): ExecutionStartedEvent['parentInstance'] {
  if (event.type === 'ExecutionStarted') return event.parentInstance;
  return event.type === 'ExecutionRewound' && event.parentInstance ? event.parentInstance : link;
}
