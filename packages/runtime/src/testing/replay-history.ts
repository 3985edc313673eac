import { DEFAULT_CUSTOM_STATUS_LIMIT_BYTES, OrchestrationExecution, type StepResult } from '../engine/orchestration-execution.js';
import type { Orchestrator } from '../engine/orchestration-context.js';
import { describeCall, type OrchestratorAction } from '../engine/orchestrator-action.js';
import { TimerTask } from '../engine/timer-task.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { NonDeterminismError } from '../model/errors/non-determinism-error.js';
import type {
  ContinueAsNewEvent, ExecutionCompletedEvent, HistoryEvent, SubOrchestrationInstanceCreatedEvent, TaskScheduledEvent, TimerCreatedEvent,
} from '../model/history-event.js';
import type { FailureDetails } from '../model/instance-status.js';
import { copyStoreValue } from '../model/json.js';
import { isCount, readChecked } from '../model/validation.js';

/** Options of {@link replayHistory}. */
export interface ReplayHistoryOptions {
  /**
   * The custom status limit (UTF-8 bytes of its JSON text) for a history that records none, as `createRuntime`'s
   * option of that name; default 16 KiB. A history whose first step recorded its limit (every one a runtime records
   * now, and a `HistoryBuilder` history unless `legacy`) replays with that one, as the runtime replays it.
   */
  readonly customStatusLimitBytes?: number | undefined;
}

/**
 * Something the orchestrator waits for at the end of the replayed history. Scheduled work carries `inHistory`: true
 * when the history records its scheduling (it waits for the result), false when the orchestrator called it after the
 * last recorded event, so that its next step would schedule it. `eventId` is the number the history's result event
 * names it by (`taskScheduledId`, `timerId`).
 */
export type PendingWork =
  | {
      readonly kind: 'activity';
      readonly eventId: number;
      readonly name: string;
      readonly input?: unknown;
      readonly inHistory: boolean;
    }
  | { readonly kind: 'timer'; readonly eventId: number; readonly fireAt: Date; readonly inHistory: boolean }
  | {
      readonly kind: 'subOrchestration';
      readonly eventId: number;
      readonly name: string;
      readonly instanceId: string;
      readonly input?: unknown;
      readonly inHistory: boolean;
    }
  | { readonly kind: 'event'; readonly name: string };

/**
 * Where {@link replayHistory} left the orchestrator: the status an instance with this history and this code has, its
 * custom status, what it waits for (nothing once it ended), and its outcome: the output of a completed run, the
 * failure of a failed one, the next execution's input after `continueAsNew`.
 */
export type ReplayResult = {
  /** The custom status after the last replayed event. */
  readonly customStatus: unknown;
  /** What it waits for, scheduled work by `eventId` then the external events, each in the order it asked for them. */
  readonly pending: readonly PendingWork[];
} & (
  | { readonly runtimeStatus: 'Running' | 'Suspended' | 'Terminated' }
  | { readonly runtimeStatus: 'Completed'; readonly output: unknown }
  | { readonly runtimeStatus: 'Failed'; readonly failureDetails: FailureDetails }
  | { readonly runtimeStatus: 'ContinuedAsNew'; readonly input: unknown }
);

/**
 * Replays a recorded history against an orchestrator with the runtime's own engine, without a store, a clock or any
 * I/O: where an instance with this history would stand if this code ran it. Two uses:
 *
 * - before deploying changed orchestrator code, replay histories of instances that are still running (read with
 *   `getStatus(id, { showHistory: true, showHistoryOutput: true })`, without which results are left out): the call
 *   throws where a worker running the new code would fail the instance;
 * - unit-test an orchestrator against a history built with {@link HistoryBuilder}: what it does with a result, a
 *   failure (`TaskFailedError` inside the orchestrator), an event or a timer, and what it asks for next.
 *
 * A history that recorded its code's ending (completed, or continued as new) is reproduced only by code that ends the
 * same way at that point, with no call the history does not record. Else the call throws, so a deploy check needs only
 * assert that it does not throw. A Failed ending is not checked: the runtime records some failures itself (a step the
 * store refused for good, a misuse of `ctx`, a replay that diverged), which unchanged code does not reproduce; the
 * calls such a history recorded are still checked. The result reports the code's own
 * outcome: an output, failure or next input that differs from the recorded one is no divergence (compare them if it
 * matters). A history with no ending is an execution still running: the calls the code makes after its last recorded
 * event are its next step (`pending`, `inHistory: false`), which is no divergence either.
 *
 * @param orchestrator - The orchestrator function, as registered with `createRuntime`.
 * @param history - One execution's history, in order, starting with its `ExecutionStarted` (a history that
 *   continued as new: from the start of its last execution). It is not changed.
 * @throws {NonDeterminismError} The code does not reproduce the history: it schedules other work than a recorded call
 *   (the message names both) or none, or it does not end where and as the history recorded it completed or
 *   continued as new.
 * @throws {UnknownEventTypeError} The history has an event type this version does not know.
 * @throws {InvalidArgumentError} No orchestrator function, an element of the history that is no object, or no
 *   `ExecutionStarted` in the history (a history in the Durable Functions shape, `EventType`, as the HTTP API answers
 *   unless asked for `format=native`, has none: the message says so).
 *
 * @example
 * ```ts
 * import { NonDeterminismError } from '@durable-rx/runtime';
 * import { sampleOrchestrators } from '@durable-rx/runtime/samples';
 * import { HistoryBuilder, replayHistory } from '@durable-rx/runtime/testing';
 *
 * const history = new HistoryBuilder({ name: 'E1_HelloSequence' })
 *   .started()
 *   .taskScheduled('E1_SayHello', 'Tokyo')
 *   .step(1000)
 *   .taskCompleted(0, 'Hello Tokyo!')
 *   .build();
 * const result = replayHistory(sampleOrchestrators.E1_HelloSequence, history);
 * result.customStatus; // 'Tokyo'
 * result.pending; // [{ kind: 'activity', eventId: 1, name: 'E1_SayHello', input: 'Seattle', inHistory: false }]
 *
 * try {
 *   replayHistory(function* (ctx) { return yield ctx.callActivity('SayGoodbye', 'Tokyo'); }, history);
 * } catch (error) {
 *   if (error instanceof NonDeterminismError) console.log(error.message); // names callActivity("E1_SayHello") and callActivity("SayGoodbye")
 * }
 * ```
 */
export function replayHistory(
  orchestrator: Orchestrator, history: readonly HistoryEvent[], options?: ReplayHistoryOptions,
): ReplayResult {
  if (typeof orchestrator !== 'function') throw new InvalidArgumentError('replayHistory needs an orchestrator function');
  if (!Array.isArray(history)) throw new InvalidArgumentError('replayHistory needs a history: an array of history events');
  const notEvent = history.findIndex((event: unknown) => event === null || typeof event !== 'object');
  if (notEvent >= 0) throw new InvalidArgumentError(`replayHistory needs a history of events: history[${notEvent}] is no object`);
  const { customStatusLimitBytes } = readChecked(options, 'replayHistory options', { customStatusLimitBytes: isCount });
  // The caller's events stay theirs (what the orchestrator receives is a copy, as from a store). The recorded ending and
  // what came after it (recorded and ignored) are left out, so that the step below records the one the code reaches,
  // to be checked against the recorded one.
  const copied = copyStoreValue(history);
  const endAt = copied.findIndex((event) => event.type === 'ExecutionCompleted' || event.type === 'ContinueAsNew');
  const events = endAt < 0 ? copied : copied.slice(0, endAt);
  if (!events.some((event) => event.type === 'ExecutionStarted')) {
    // The HTTP API answers in the Durable Functions shape by default ({ EventType, FunctionName, Timestamp }).
    const shaped = events.some((event) => typeof (event as { EventType?: unknown }).EventType === 'string');
    throw new InvalidArgumentError(shaped
      ? 'replayHistory needs the native history (events with type), not the Durable Functions shape (EventType): read it with '
        + 'client.getStatus(id, { showHistory: true, showHistoryOutput: true }), or over HTTP with showHistory=true&showHistoryOutput=true&format=native'
      : 'replayHistory needs a history with an ExecutionStarted event');
  }
  const execution = new OrchestrationExecution(orchestrator, {
    customStatusLimitBytes: customStatusLimitBytes ?? DEFAULT_CUSTOM_STATUS_LIMIT_BYTES,
  });
  execution.replay(events);
  const { phase } = execution.inspection;
  if (phase.kind === 'diverged') throw phase.error;
  // A step of no events at the history's last time (a step never goes back in time, so the epoch is that time): it
  // issues the work the replay called and the history does not record, and records an outcome the history lacks.
  const step = execution.step(new Date(0), []);
  const result = outcome(execution, events, step);
  const ending = copied[endAt];
  // Only an ending the code itself records is checked: a Failed one may be the runtime's (a step the store refused for
  // good, a misuse of ctx, a replay that diverged), which unchanged code does not reproduce.
  if (ending?.type === 'ContinueAsNew' || (ending?.type === 'ExecutionCompleted' && ending.orchestrationStatus === 'Completed')) {
    checkEnding(ending, result, step.actions);
  }
  return result;
}

/**
 * Where the step left the execution (see {@link ReplayResult}): read from its phase, whose outcome the step recorded
 * (a termination by its own ExecutionTerminated).
 */
function outcome(execution: OrchestrationExecution, events: readonly HistoryEvent[], step: StepResult): ReplayResult {
  const { customStatus } = step;
  const { phase } = execution.inspection;
  if (phase.kind !== 'finished') {
    return { runtimeStatus: phase.kind === 'suspended' ? 'Suspended' : 'Running', customStatus, pending: pendingWork(execution, events, step.actions) };
  }
  const ended = phase.outcome;
  switch (ended.kind) {
    case 'completed':
      return { runtimeStatus: 'Completed', output: ended.result, customStatus, pending: [] };
    case 'failed':
      return { runtimeStatus: 'Failed', failureDetails: ended.failure, customStatus, pending: [] };
    case 'continued-as-new':
      return { runtimeStatus: 'ContinuedAsNew', input: ended.request.input, customStatus, pending: [] };
    default:
      return { runtimeStatus: 'Terminated', customStatus, pending: [] };
  }
}

/**
 * A history that recorded its code's ending (completed, continued as new) is reproduced only by code that ends the
 * same way at that point, scheduling nothing more: else the code would not have recorded that history. The output,
 * failure or next input may differ (the result reports the code's). A termination recorded before it is the ending
 * the replay reaches, whatever the code does, as in a worker.
 */
function checkEnding(ending: ExecutionCompletedEvent | ContinueAsNewEvent, result: ReplayResult, actions: readonly OrchestratorAction[]): void {
  if (result.runtimeStatus === 'Terminated') return;
  const recorded = ending.type === 'ContinueAsNew' ? 'ContinuedAsNew' : ending.orchestrationStatus;
  const more = actions.map(describeCall);
  if (result.runtimeStatus === recorded && more.length === 0) return;
  const did = more.length > 0 ? `calls ${more.join(', ')}, which the history does not record`
    : result.runtimeStatus === 'Running' || result.runtimeStatus === 'Suspended' ? 'does not end there'
    : `ends ${result.runtimeStatus}`;
  throw new NonDeterminismError(`History ends ${recorded}, where the replayed code ${did}`);
}

/** What the execution waits for, described from the history event or the new action that scheduled each piece. */
function pendingWork(execution: OrchestrationExecution, history: readonly HistoryEvent[], actions: readonly OrchestratorAction[]): PendingWork[] {
  const recorded = new Map<number, TaskScheduledEvent | TimerCreatedEvent | SubOrchestrationInstanceCreatedEvent>();
  for (const event of history) {
    if (event.type === 'TaskScheduled' || event.type === 'TimerCreated' || event.type === 'SubOrchestrationInstanceCreated') recorded.set(event.eventId, event);
  }
  const issued = new Map(actions.map((action) => [action.eventId, action]));
  const { openTasks, eventWaiters } = execution.inspection;
  // A cancelled timer stays open, but its fire is ignored: nothing waits for it.
  const eventIds = [...openTasks ?? []].filter(([, task]) => !(task instanceof TimerTask && task.isCancelled)).map(([id]) => id);
  const pending: PendingWork[] = [];
  for (const eventId of eventIds.sort((a, b) => a - b)) {
    const action = issued.get(eventId);
    const call = action ?? recorded.get(eventId);
    if (call === undefined) continue;
    const inHistory = action === undefined;
    const input = 'input' in call && call.input !== undefined ? { input: call.input } : {};
    switch (call.type) {
      case 'ScheduleTask':
      case 'TaskScheduled':
        pending.push({ kind: 'activity', eventId, name: call.name, ...input, inHistory });
        break;
      case 'CreateTimer':
      case 'TimerCreated':
        pending.push({ kind: 'timer', eventId, fireAt: new Date(call.fireAt), inHistory });
        break;
      default:
        pending.push({ kind: 'subOrchestration', eventId, name: call.name, instanceId: call.instanceId, ...input, inHistory });
    }
  }
  const waiters = eventWaiters === undefined ? [] : Array.isArray(eventWaiters) ? eventWaiters : [eventWaiters];
  for (const { name } of waiters) pending.push({ kind: 'event', name });
  return pending;
}
