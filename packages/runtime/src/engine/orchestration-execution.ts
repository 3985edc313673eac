import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { NonDeterminismError } from '../model/errors/non-determinism-error.js';
import { OrchestrationError } from '../model/errors/orchestration-error.js';
import { TaskFailedError } from '../model/errors/task-failed-error.js';
import { UnknownEventTypeError } from '../model/errors/unknown-event-type-error.js';
import type {
  ContinueAsNewEvent, EventRaisedEvent, ExecutionStartedEvent, HistoryEvent, SubOrchestrationInstanceCreatedEvent, TaskScheduledEvent,
  TimerCreatedEvent,
} from '../model/history-event.js';
import type { FailureDetails } from '../model/instance-status.js';
import { assertJsonSize, toPlainJson, type JsonValue } from '../model/json.js';
import { assertValidInstanceId, assertValidName } from '../model/validation.js';
import { AtomicTask } from './atomic-task.js';
import { uuidV5 } from './deterministic-guid.js';
import { isDurableTask, type DurableTask } from './durable-task.js';
import type { Orchestration, OrchestrationContext, Orchestrator } from './orchestration-context.js';
import { describeAction, recordedAction, type OrchestratorAction } from './orchestrator-action.js';
import type { RetryOptions } from './retry-options.js';
import { RetryableTask } from './retryable-task.js';
import { Task } from './task.js';
import { TimerTask } from './timer-task.js';

/** Options of an {@link OrchestrationExecution}. */
export interface ExecutionOptions {
  /** Largest accepted custom status, in bytes of JSON. */
  readonly customStatusLimitBytes: number;
}

/** Default for {@link ExecutionOptions.customStatusLimitBytes}: 16 KiB, as Durable Functions. */
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
  readonly continueAsNew?: { readonly input: JsonValue | undefined; readonly carryOverEvents: readonly EventRaisedEvent[] };
  /** True when this execution has finished (completed, failed, terminated or continued as new). */
  readonly isFinished: boolean;
}

/** Counters of engine work, used by tests and benchmarks to prove that cached steps cost O(new events). */
export interface ExecutionStats {
  /** History events applied by replay (cache misses). */
  readonly eventsReplayed: number;
  /** New events applied by steps. */
  readonly eventsApplied: number;
}

type FinishState =
  | { readonly kind: 'completed'; readonly result: JsonValue | undefined }
  | { readonly kind: 'failed'; readonly failure: FailureDetails }
  | { readonly kind: 'terminated' }
  | { readonly kind: 'continued-as-new' };

/**
 * One live execution of an orchestrator: the suspended generator plus everything needed to feed it events.
 * Pure: time comes from OrchestratorStarted events, nothing here does I/O.
 *
 * Life cycle: `replay(history)` once (rebuilds state from committed events, with `isReplaying` on), then `step(now,
 * events)` for each batch of new messages. The worker caches executions between steps so a step costs
 * O(new events); a cache miss creates a new execution and replays.
 */
export class OrchestrationExecution {
  readonly #orchestrator: Orchestrator;
  readonly #options: ExecutionOptions;

  #generator: Orchestration | undefined;
  #current: DurableTask<unknown> | undefined;
  #finished: FinishState | undefined;
  #replaying = false;
  #now = new Date(0);
  #sequence = 0;
  #guidCounter = 0;
  #instanceId = '';
  #name = '';
  #parent: ExecutionStartedEvent['parentInstance'];
  #input: JsonValue | undefined;
  #customStatus: JsonValue | undefined;
  #suspended = false;
  #continueAsNew: { input: JsonValue | undefined; preserveUnprocessedEvents: boolean } | undefined;
  /** Fatal error found while replaying (non-determinism); reported by the next step. */
  #fatal: Error | undefined;

  /** Scheduled tasks by eventId, until their result arrives. */
  readonly #openTasks = new Map<number, AtomicTask<unknown>>();
  /** Actions created while replaying, waiting for the history event that records them. */
  readonly #unmatched = new Map<number, OrchestratorAction>();
  /** Actions created by the current step (not replaying). */
  #newActions: OrchestratorAction[] = [];
  #newEvents: HistoryEvent[] = [];
  /** External events received before anyone waited, FIFO per name. */
  readonly #bufferedEvents = new Map<string, EventRaisedEvent[]>();
  /** Waiters for external events, FIFO per name. */
  readonly #eventWaiters = new Map<string, AtomicTask<unknown>[]>();
  /** Events received while suspended, delivered on resume. */
  #suspendedEvents: HistoryEvent[] = [];

  #eventsReplayed = 0;
  #eventsApplied = 0;

  constructor(orchestrator: Orchestrator, options: ExecutionOptions) {
    this.#orchestrator = orchestrator;
    this.#options = options;
  }

  /** Engine work done so far. */
  get stats(): ExecutionStats {
    return { eventsReplayed: this.#eventsReplayed, eventsApplied: this.#eventsApplied };
  }

  /** True once the execution finished. */
  get isFinished(): boolean {
    return this.#finished !== undefined;
  }

  /** The parent link from ExecutionStarted, for sub-orchestrations. */
  get parentInstance(): ExecutionStartedEvent['parentInstance'] {
    return this.#parent;
  }

  /** The custom status as of the last applied event. */
  get customStatus(): JsonValue | undefined {
    return this.#customStatus;
  }

  /**
   * Rebuilds state from committed history. Call once, before the first step. A history the orchestrator does not
   * reproduce (non-determinism) is remembered and fails the instance on the next step.
   */
  replay(history: readonly HistoryEvent[]): void {
    this.#replaying = true;
    try {
      for (const event of history) {
        this.#eventsReplayed++;
        this.#apply(event);
        if (this.#fatal) break;
      }
    } catch (error) {
      // Non-determinism, an unknown event type (a corrupt or newer history): the instance fails visibly.
      this.#fatal = error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#replaying = false;
    }
  }

  /**
   * Applies new events at time `now` and returns what to commit. The events are those of consumed messages, in
   * arrival order; the step adds OrchestratorStarted/OrchestratorCompleted and the events of scheduled work.
   */
  step(now: Date, events: readonly HistoryEvent[]): StepResult {
    this.#newEvents = [];
    this.#newActions = [];
    const wasFinished = this.#finished !== undefined && this.#fatal === undefined;
    this.#record({ type: 'OrchestratorStarted', eventId: -1, timestamp: now.toISOString() });
    this.#now = now;
    if (this.#fatal) {
      // Replay diverged from history. Whatever the replay concluded is void: the instance fails, once.
      const fatal = this.#fatal;
      this.#fatal = undefined;
      this.#unmatched.clear();
      this.#finished = undefined;
      this.#finish({ kind: 'failed', failure: toFailureDetails(fatal) });
    }
    // Actions the code created during replay that history did not record (e.g. a rewound call): issue them now.
    for (const action of this.#unmatched.values()) this.#issue(action);
    this.#unmatched.clear();
    for (const event of events) {
      this.#eventsApplied++;
      this.#record(event);
      if (this.#finished) continue; // recorded and ignored (e.g. a result that raced a terminate)
      try {
        this.#apply(event);
      } catch (error) {
        this.#finish({ kind: 'failed', failure: toFailureDetails(error) });
      }
    }
    this.#record({ type: 'OrchestratorCompleted', eventId: -1, timestamp: now.toISOString() });
    const continued = this.#finished?.kind === 'continued-as-new' && !wasFinished ? this.#continueAsNew : undefined;
    return {
      newEvents: this.#newEvents,
      actions: this.#newActions,
      customStatus: this.#customStatus,
      ...(continued
        ? {
            continueAsNew: {
              input: continued.input,
              carryOverEvents: continued.preserveUnprocessedEvents ? [...this.#bufferedEvents.values()].flat() : [],
            },
          }
        : {}),
      isFinished: this.#finished !== undefined,
    };
  }

  // ---------------------------------------------------------------- events

  #apply(event: HistoryEvent): void {
    if (this.#suspended && deferredWhileSuspended(event)) {
      this.#suspendedEvents.push(event);
      return;
    }
    switch (event.type) {
      case 'OrchestratorStarted':
        this.#now = new Date(event.timestamp);
        return;
      case 'OrchestratorCompleted':
        return;
      case 'ExecutionStarted':
        this.#instanceId = event.instanceId;
        this.#name = event.name;
        this.#parent = event.parentInstance;
        this.#input = event.input as JsonValue | undefined;
        this.#start();
        return;
      case 'TaskScheduled':
      case 'TimerCreated':
      case 'SubOrchestrationInstanceCreated':
        this.#matchScheduled(event);
        return;
      case 'TaskCompleted':
      case 'SubOrchestrationInstanceCompleted':
        this.#settle(event.taskScheduledId, (task) => task.complete(event.result));
        return;
      case 'TaskFailed':
      case 'SubOrchestrationInstanceFailed':
        this.#settle(event.taskScheduledId, (task) => {
          const what = task.kind === 'activity' ? 'Activity' : 'Sub-orchestration';
          task.fail(new TaskFailedError(
            `${what} ${JSON.stringify(task.name)} (#${task.eventId}) failed: ${event.failureDetails.errorMessage}`,
            { name: task.name, taskScheduledId: task.eventId },
            event.failureDetails,
          ));
        });
        return;
      case 'TimerFired':
        this.#settle(event.timerId, (task) => {
          if (!(task instanceof TimerTask) || !task.isCancelled) task.complete(undefined);
        });
        return;
      case 'EventRaised':
        this.#deliverEvent(event);
        return;
      case 'ExecutionSuspended':
        this.#suspended = true;
        return;
      case 'ExecutionResumed': {
        this.#suspended = false;
        const deferred = this.#suspendedEvents;
        this.#suspendedEvents = [];
        for (const e of deferred) if (!this.#finished) this.#apply(e);
        return;
      }
      case 'ExecutionTerminated':
        this.#finish({ kind: 'terminated' });
        return;
      case 'ExecutionRewound':
        return;
      case 'ExecutionCompleted':
      case 'ContinueAsNew':
        // Recorded outcome of a replayed finish; the generator reached the same point.
        return;
      default:
        throw new UnknownEventTypeError(`Unknown history event type ${JSON.stringify((event as { type?: unknown }).type)}`);
    }
  }

  #settle(eventId: number, settle: (task: AtomicTask<unknown>) => void): void {
    const task = this.#openTasks.get(eventId);
    // A result for a task that is not open (a duplicate, or one of a cancelled timer) stays in history, ignored.
    if (!task) return;
    this.#openTasks.delete(eventId);
    settle(task);
    this.#resume();
  }

  #deliverEvent(event: EventRaisedEvent): void {
    const waiters = this.#eventWaiters.get(event.name);
    const waiter = waiters?.shift();
    if (waiters?.length === 0) this.#eventWaiters.delete(event.name);
    if (!waiter) {
      const queue = this.#bufferedEvents.get(event.name) ?? [];
      queue.push(event);
      this.#bufferedEvents.set(event.name, queue);
      return;
    }
    waiter.complete(event.input);
    this.#resume();
  }

  #matchScheduled(event: TaskScheduledEvent | TimerCreatedEvent | SubOrchestrationInstanceCreatedEvent): void {
    const recorded = describeAction(recordedAction(event));
    const action = this.#unmatched.get(event.eventId);
    if (!action) {
      throw new NonDeterminismError(
        `Non-deterministic orchestrator ${JSON.stringify(this.#name)}: history recorded ${recorded} as #${event.eventId}, ` +
          'but on replay the orchestrator scheduled nothing there.',
      );
    }
    const actual = describeAction(action);
    if (actual !== recorded) {
      throw new NonDeterminismError(
        `Non-deterministic orchestrator ${JSON.stringify(this.#name)}: history recorded ${recorded} as #${event.eventId}, ` +
          `but on replay the orchestrator called ${actual}.`,
      );
    }
    this.#unmatched.delete(event.eventId);
  }

  // ---------------------------------------------------------------- generator

  #start(): void {
    const ctx = this.#createContext();
    try {
      const generator = this.#orchestrator(ctx);
      if (!isGenerator(generator)) {
        throw new OrchestrationError(`Orchestrator ${JSON.stringify(this.#name)} must be a generator function (function*)`);
      }
      this.#generator = generator;
    } catch (error) {
      this.#finish({ kind: 'failed', failure: toFailureDetails(error) });
      return;
    }
    this.#advance({ kind: 'next', value: undefined });
  }

  /** Feeds the awaited task's outcome to the generator while it is settled. */
  #resume(): void {
    while (!this.#finished && this.#current?.isSettled) {
      const task = this.#current;
      this.#current = undefined;
      this.#advance(task.isCompleted ? { kind: 'next', value: task.result } : { kind: 'throw', error: task.error });
    }
  }

  #advance(input: { kind: 'next'; value: unknown } | { kind: 'throw'; error: unknown }): void {
    const generator = this.#generator;
    if (!generator || this.#finished) return;
    let next: IteratorResult<DurableTask<unknown>, unknown>;
    try {
      next = input.kind === 'next' ? generator.next(input.value as never) : generator.throw(input.error);
    } catch (error) {
      this.#finish({ kind: 'failed', failure: toFailureDetails(error) });
      return;
    }
    if (this.#continueAsNew) {
      this.#finish({ kind: 'continued-as-new' });
      return;
    }
    if (next.done) {
      let result: JsonValue | undefined;
      try {
        result = toPlainJson(next.value, 'orchestrator output');
      } catch (error) {
        this.#finish({ kind: 'failed', failure: toFailureDetails(error) });
        return;
      }
      this.#finish({ kind: 'completed', result });
      return;
    }
    if (!isDurableTask(next.value)) {
      const shown = next.value === null ? 'null' : typeof next.value;
      this.#finish({
        kind: 'failed',
        failure: toFailureDetails(new OrchestrationError(
          `Orchestrator ${JSON.stringify(this.#name)} yielded ${shown}; only tasks (ctx.callActivity(), ctx.createTimer(), ` +
            'ctx.waitForExternalEvent(), ctx.Task.all(), ...) may be yielded',
        )),
      });
      return;
    }
    this.#current = next.value;
    this.#resume();
  }

  #finish(state: FinishState): void {
    if (this.#finished) return;
    this.#finished = state;
    this.#generator = undefined;
    this.#current = undefined;
    if (this.#replaying) return; // the outcome is already in history
    const timestamp = this.#now.toISOString();
    switch (state.kind) {
      case 'completed':
        this.#record({
          type: 'ExecutionCompleted', eventId: -1, timestamp, orchestrationStatus: 'Completed',
          ...(state.result === undefined ? {} : { result: state.result }),
        });
        return;
      case 'failed':
        this.#record({ type: 'ExecutionCompleted', eventId: -1, timestamp, orchestrationStatus: 'Failed', failureDetails: state.failure });
        return;
      case 'continued-as-new': {
        const c = this.#continueAsNew;
        const event: ContinueAsNewEvent = {
          type: 'ContinueAsNew', eventId: -1, timestamp,
          preserveUnprocessedEvents: c?.preserveUnprocessedEvents ?? false,
          ...(c?.input === undefined ? {} : { input: c.input }),
        };
        this.#record(event);
        return;
      }
      case 'terminated':
        return; // the ExecutionTerminated event itself records it
    }
  }

  // ---------------------------------------------------------------- actions

  #schedule(action: OrchestratorAction): void {
    if (this.#replaying) this.#unmatched.set(action.eventId, action);
    else this.#issue(action);
  }

  #issue(action: OrchestratorAction): void {
    this.#newActions.push(action);
    const timestamp = this.#now.toISOString();
    switch (action.type) {
      case 'ScheduleTask':
        this.#record({ type: 'TaskScheduled', eventId: action.eventId, timestamp, name: action.name, ...optionalInput(action.input) });
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
    }
  }

  #record(event: HistoryEvent): void {
    if (!this.#replaying) this.#newEvents.push(event);
  }

  #callActivity<T>(name: string, input: unknown, attempt = 1): AtomicTask<T> {
    assertValidName(name, 'activity name');
    const json = toPlainJson(input, 'activity input');
    const eventId = this.#sequence++;
    const task = new AtomicTask<T>('activity', name, eventId);
    this.#openTasks.set(eventId, task as AtomicTask<unknown>);
    this.#schedule({ type: 'ScheduleTask', eventId, name, attempt, ...optionalInput(json) });
    return task;
  }

  #callSubOrchestrator<T>(name: string, input: unknown, instanceId: string | undefined): AtomicTask<T> {
    assertValidName(name, 'orchestrator name');
    const json = toPlainJson(input, 'sub-orchestration input');
    const eventId = this.#sequence++;
    const childId = instanceId ?? `${this.#instanceId}:${eventId}`;
    assertValidInstanceId(childId);
    const task = new AtomicTask<T>('sub-orchestration', name, eventId);
    this.#openTasks.set(eventId, task as AtomicTask<unknown>);
    this.#schedule({ type: 'CreateSubOrchestration', eventId, name, instanceId: childId, ...optionalInput(json) });
    return task;
  }

  #createTimer(fireAt: Date): TimerTask {
    if (!(fireAt instanceof Date) || Number.isNaN(fireAt.getTime())) throw new InvalidArgumentError('createTimer needs a valid Date');
    const eventId = this.#sequence++;
    const task = new TimerTask(eventId, fireAt);
    this.#openTasks.set(eventId, task);
    this.#schedule({ type: 'CreateTimer', eventId, fireAt: fireAt.toISOString() });
    return task;
  }

  #withRetry<T>(retryOptions: RetryOptions, startAttempt: (attempt: number) => AtomicTask<T>): RetryableTask<T> {
    return new RetryableTask<T>(retryOptions, {
      now: () => this.#now,
      createTimer: (fireAt) => this.#createTimer(fireAt),
      startAttempt,
    });
  }

  #createContext(): OrchestrationContext {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return {
      get instanceId() { return self.#instanceId; },
      get parentInstanceId() { return self.#parent?.instanceId; },
      get name() { return self.#name; },
      get isReplaying() { return self.#replaying; },
      get currentUtcDateTime() { return new Date(self.#now.getTime()); },
      Task,
      getInput: <T>() => structuredClone(this.#input) as T,
      setCustomStatus: (value: unknown) => {
        const json = toPlainJson(value, 'custom status');
        assertJsonSize(json, this.#options.customStatusLimitBytes, 'custom status');
        this.#customStatus = json;
      },
      callActivity: <T>(name: string, input?: unknown) => this.#callActivity<T>(name, input),
      callActivityWithRetry: <T>(name: string, retryOptions: RetryOptions, input?: unknown) =>
        this.#withRetry<T>(retryOptions, (attempt) => this.#callActivity<T>(name, input, attempt)),
      callSubOrchestrator: <T>(name: string, input?: unknown, instanceId?: string) =>
        this.#callSubOrchestrator<T>(name, input, instanceId),
      callSubOrchestratorWithRetry: <T>(name: string, retryOptions: RetryOptions, input?: unknown, instanceId?: string) =>
        this.#withRetry<T>(retryOptions, () => this.#callSubOrchestrator<T>(name, input, instanceId)),
      createTimer: (fireAt: Date) => this.#createTimer(fireAt),
      waitForExternalEvent: <T>(name: string) => {
        assertValidName(name, 'event name');
        const task = new AtomicTask<T>('external-event', name, -1);
        const buffered = this.#bufferedEvents.get(name);
        const event = buffered?.shift();
        if (buffered?.length === 0) this.#bufferedEvents.delete(name);
        if (event) {
          task.complete(event.input as T);
        } else {
          const waiters = this.#eventWaiters.get(name) ?? [];
          waiters.push(task as AtomicTask<unknown>);
          this.#eventWaiters.set(name, waiters);
        }
        return task;
      },
      continueAsNew: (input: unknown, options?: { readonly preserveUnprocessedEvents?: boolean }) => {
        this.#continueAsNew = {
          input: toPlainJson(input, 'continueAsNew input'),
          preserveUnprocessedEvents: options?.preserveUnprocessedEvents ?? false,
        };
      },
      newGuid: () => uuidV5(`${this.#instanceId}_${this.#now.toISOString()}_${this.#guidCounter++}`),
    };
  }
}

// ------------------------------------------------------------------ helpers

function isGenerator(value: unknown): value is Orchestration {
  return typeof value === 'object' && value !== null && typeof (value as Generator).next === 'function' &&
    typeof (value as Generator).throw === 'function';
}

/** While suspended, everything but resume/terminate (and step markers) waits. */
function deferredWhileSuspended(event: HistoryEvent): boolean {
  return event.type !== 'ExecutionResumed' && event.type !== 'ExecutionTerminated' &&
    event.type !== 'OrchestratorStarted' && event.type !== 'OrchestratorCompleted' && event.type !== 'ExecutionSuspended';
}

function optionalInput(input: JsonValue | undefined): { input?: JsonValue } {
  return input === undefined ? {} : { input };
}

/** Describes a thrown value as {@link FailureDetails}. */
export function toFailureDetails(error: unknown): FailureDetails {
  if (error instanceof Error) {
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      ...(error.stack === undefined ? {} : { stackTrace: error.stack }),
    };
  }
  let message: string;
  try {
    message = typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { errorType: 'Error', errorMessage: message };
}
