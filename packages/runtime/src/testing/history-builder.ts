import { DEFAULT_CUSTOM_STATUS_LIMIT_BYTES, firstStepMarker } from '../engine/orchestration-execution.js';
import type { FailureDetails } from '../model/instance-status.js';
import type { HistoryEvent } from '../model/history-event.js';

/** Options of {@link HistoryBuilder}. */
export interface HistoryBuilderOptions {
  readonly instanceId?: string;
  readonly name: string;
  readonly executionId?: string;
  /** Time of the first step. Default 2026-01-01T00:00:00Z. */
  readonly start?: Date;
  /**
   * The custom status limit the first step records, as a runtime started with `createRuntime`'s option of that name
   * records it; default 16 KiB, the runtime's default.
   */
  readonly customStatusLimitBytes?: number;
  /**
   * True for a history as recorded before replay flags existed: its first step records neither the flags nor the
   * custom status limit, so it replays under the oldest engine rules (exact event-name matching, for one) and with the
   * replaying runtime's limit. Default false: the first step records what a runtime records for an execution it starts
   * now, so the history replays as a live instance runs.
   */
  readonly legacy?: boolean;
}

/**
 * Builds Durable Task histories by hand, for engine tests: each step is wrapped in OrchestratorStarted /
 * OrchestratorCompleted, scheduled work is numbered in order as the engine numbers it. The first OrchestratorStarted
 * records the current replay flags and the custom status limit, as a runtime records them when it starts an execution
 * (see {@link HistoryBuilderOptions.legacy} for a history from before).
 *
 * @example
 * ```ts
 * const history = new HistoryBuilder({ name: 'E1_HelloSequence' })
 *   .started()                                   // ExecutionStarted
 *   .taskScheduled('E1_SayHello', 'Tokyo')       // #0
 *   .step(1000)                                  // next step, one second later
 *   .taskCompleted(0, 'Hello Tokyo!')
 *   .build();
 * ```
 */
export class HistoryBuilder {
  readonly #events: HistoryEvent[] = [];
  readonly #o: Required<Omit<HistoryBuilderOptions, 'customStatusLimitBytes' | 'legacy'>>;
  #time: number;
  #sequence = 0;

  constructor(options: HistoryBuilderOptions) {
    this.#o = {
      instanceId: options.instanceId ?? 'instance-1',
      name: options.name,
      executionId: options.executionId ?? 'execution-1',
      start: options.start ?? new Date('2026-01-01T00:00:00.000Z'),
    };
    this.#time = this.#o.start.getTime();
    // The engine's own first marker, so that a built history carries exactly what a live execution's does.
    this.#push(options.legacy === true
      ? { type: 'OrchestratorStarted', eventId: -1, timestamp: this.#iso() }
      : { ...firstStepMarker(this.#iso(), options.customStatusLimitBytes ?? DEFAULT_CUSTOM_STATUS_LIMIT_BYTES) });
  }

  /** The time of the current step. */
  get now(): Date {
    return new Date(this.#time);
  }

  /** ExecutionStarted with `input`. */
  started(input?: unknown): this {
    return this.#push({
      type: 'ExecutionStarted', eventId: -1, timestamp: this.#iso(), name: this.#o.name, instanceId: this.#o.instanceId,
      executionId: this.#o.executionId, ...(input === undefined ? {} : { input }),
    });
  }

  /** Ends the step and starts the next, `advanceMs` later. */
  step(advanceMs = 0): this {
    this.#push({ type: 'OrchestratorCompleted', eventId: -1, timestamp: this.#iso() });
    this.#time += advanceMs;
    return this.#push({ type: 'OrchestratorStarted', eventId: -1, timestamp: this.#iso() });
  }

  taskScheduled(name: string, input?: unknown): this {
    return this.#push({ type: 'TaskScheduled', eventId: this.#sequence++, timestamp: this.#iso(), name, ...(input === undefined ? {} : { input }) });
  }

  taskCompleted(taskScheduledId: number, result?: unknown): this {
    return this.#push(taskCompleted(taskScheduledId, result, this.now));
  }

  taskFailed(taskScheduledId: number, failureDetails: FailureDetails): this {
    return this.#push({ type: 'TaskFailed', eventId: -1, timestamp: this.#iso(), taskScheduledId, failureDetails });
  }

  timerCreated(fireAt: Date): this {
    return this.#push({ type: 'TimerCreated', eventId: this.#sequence++, timestamp: this.#iso(), fireAt: fireAt.toISOString() });
  }

  timerFired(timerId: number, fireAt: Date): this {
    return this.#push({ type: 'TimerFired', eventId: -1, timestamp: this.#iso(), timerId, fireAt: fireAt.toISOString() });
  }

  eventRaised(name: string, input?: unknown): this {
    return this.#push(eventRaised(name, input, this.now));
  }

  subOrchestrationCreated(name: string, instanceId: string, input?: unknown): this {
    return this.#push({
      type: 'SubOrchestrationInstanceCreated', eventId: this.#sequence++, timestamp: this.#iso(), name, instanceId,
      ...(input === undefined ? {} : { input }),
    });
  }

  subOrchestrationCompleted(taskScheduledId: number, result?: unknown): this {
    return this.#push({
      type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: this.#iso(), taskScheduledId,
      ...(result === undefined ? {} : { result }),
    });
  }

  /** Any event, as is. */
  event(event: HistoryEvent): this {
    return this.#push(event);
  }

  /** The history so far, ending with OrchestratorCompleted. */
  build(): HistoryEvent[] {
    return [...this.#events, { type: 'OrchestratorCompleted', eventId: -1, timestamp: this.#iso() }];
  }

  #push(event: HistoryEvent): this {
    this.#events.push(event);
    return this;
  }

  #iso(): string {
    return new Date(this.#time).toISOString();
  }
}

/** A TaskCompleted event. */
export function taskCompleted(taskScheduledId: number, result?: unknown, at = new Date(0)): HistoryEvent {
  return { type: 'TaskCompleted', eventId: -1, timestamp: at.toISOString(), taskScheduledId, ...(result === undefined ? {} : { result }) };
}

/** A TaskFailed event. */
export function taskFailed(taskScheduledId: number, errorMessage: string, at = new Date(0)): HistoryEvent {
  return { type: 'TaskFailed', eventId: -1, timestamp: at.toISOString(), taskScheduledId, failureDetails: { errorType: 'Error', errorMessage } };
}

/** An EventRaised event. */
export function eventRaised(name: string, input?: unknown, at = new Date(0)): HistoryEvent {
  return { type: 'EventRaised', eventId: -1, timestamp: at.toISOString(), name, ...(input === undefined ? {} : { input }) };
}

/** An ExecutionStarted event. */
export function executionStarted(name: string, input?: unknown, instanceId = 'instance-1', at = new Date(0)): HistoryEvent {
  return {
    type: 'ExecutionStarted', eventId: -1, timestamp: at.toISOString(), name, instanceId, executionId: 'execution-1',
    ...(input === undefined ? {} : { input }),
  };
}

/** A TimerFired event. */
export function timerFired(timerId: number, fireAt: Date): HistoryEvent {
  return { type: 'TimerFired', eventId: -1, timestamp: fireAt.toISOString(), timerId, fireAt: fireAt.toISOString() };
}
