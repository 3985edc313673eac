import { assertNever, isExecutionEnd, type ExecutionTerminatedEvent, type HistoryEvent } from '../model/history-event.js';
import type { FailureDetails } from '../model/instance-status.js';
import { sanitiseFailureDetails } from './wire-sanitise.js';

/**
 * One entry of `historyEvents` as the Durable Functions HTTP API sends it (Durable Task Framework field names).
 * Which fields appear depends on `EventType`; see {@link toWireHistory}.
 */
export interface WireHistoryEvent {
  /** `ExecutionStarted`, `TaskCompleted`, `TaskFailed`, `EventRaised`, `TimerCreated`, ... */
  readonly EventType: string;
  /** When the event happened (ISO 8601, UTC). */
  readonly Timestamp: string;
  /** The orchestrator (ExecutionStarted), activity or sub-orchestrator (their completions and failures). */
  readonly FunctionName?: string;
  /** The event name (EventRaised) or the name of work still pending (TaskScheduled, SubOrchestrationInstanceCreated). */
  readonly Name?: string;
  /** A sub-orchestration's instance id. */
  readonly InstanceId?: string;
  /**
   * An input as the Durable Task history stores it: JSON text (an activity's is the text of a one-element array of
   * its input, `"[\"Tokyo\"]"`), `null` when there is none; ExecutionTerminated: the reason itself. Hidden with
   * `showInput=false`.
   */
  readonly Input?: string | null;
  /** A result, parsed (only with `showHistoryOutput=true`); ContinueAsNew: the new input as JSON text, always. */
  readonly Result?: unknown;
  /** When the completed or failed work was scheduled. */
  readonly ScheduledTime?: string;
  /** Timer events: when the timer fires. */
  readonly FireAt?: string;
  /** ExecutionCompleted: `Completed`, `Failed` or `Terminated`; ContinueAsNew: `ContinuedAsNew`. */
  readonly OrchestrationStatus?: string;
  /** Failures: the error message; suspend, resume and rewind: the reason given. */
  readonly Reason?: string;
  /** Failures: what failed. */
  readonly FailureDetails?: WireFailureDetails;
}

/** Failure details in Durable Task Framework field names: the `FailureDetails` of a {@link WireHistoryEvent}. */
export interface WireFailureDetails {
  readonly ErrorType: string;
  readonly ErrorMessage: string;
  readonly StackTrace?: string;
}

/** Options of {@link toWireHistory}. */
export interface WireHistoryOptions {
  /** Show `Result` (activity, sub-orchestration and orchestration results). Default false. */
  readonly showHistoryOutput?: boolean;
  /** Show `Input` (of the orchestration, activities, sub-orchestrations and events). Default true. */
  readonly showInput?: boolean;
  /** Keep stack traces in `FailureDetails`. Default false. */
  readonly exposeStackTraces?: boolean;
  /**
   * The instance the history is of (its status): the `ExecutionStarted` of an execution terminated before it started,
   * which its stored history does not hold, is made from its `name`, `input` and `createdTime` (when the instance was
   * started; for an execution a `continueAsNew` began, the time that `continueAsNew` sent its start, which its
   * terminate records). Without it, such a history is shown without one.
   */
  readonly instance?: WireHistoryInstance;
}

/** What {@link toWireHistory} reads of an instance (`WireHistoryOptions.instance`): an `InstanceStatus` has it. */
export interface WireHistoryInstance {
  readonly name: string;
  readonly input?: unknown;
  readonly createdTime: Date;
}

/**
 * Converts a native history to `historyEvents` as the Durable Functions extension builds them:
 * - OrchestratorStarted and OrchestratorCompleted are dropped;
 * - a TaskScheduled (SubOrchestrationInstanceCreated) is folded into its TaskCompleted / TaskFailed
 *   (SubOrchestrationInstanceCompleted / Failed), which gain `FunctionName`, `ScheduledTime` and the call's `Input`;
 *   work that is still pending keeps its scheduling event;
 * - ExecutionStarted names the orchestrator in `FunctionName`; ExecutionCompleted carries `OrchestrationStatus`;
 * - an execution ends as a Durable Task history does, with the step that ended it ({@link durableTaskOrder}): its
 *   `ExecutionCompleted` after that step's other events; one ended by a terminate with its `ExecutionTerminated`
 *   (`Input`: the reason), then, at the end of that step, an `ExecutionCompleted` with `OrchestrationStatus:
 *   "Terminated"` (`Result`: the reason, with `showHistoryOutput`), which the stored history does not hold. What
 *   reached the instance after that step (recorded and ignored) is not shown: Durable Task discards it;
 * - `Input` is JSON text, as the Durable Task history holds it: the orchestration's, a sub-orchestration's and an
 *   event's input serialized (`null` when there is none); an activity's as Durable Task schedules it, a one-element
 *   array of its input (`"[\"Tokyo\"]"`, `"[null]"`); ExecutionTerminated's is the reason itself when it is a string.
 *   Shown unless `showInput` is false;
 * - `Result` (activity, sub-orchestration and orchestration results) is the value, shown only with
 *   `showHistoryOutput`; ContinueAsNew, which the extension passes through untouched, keeps its `Result` (the new
 *   input) as JSON text whatever `showHistoryOutput` says, and shows it unless `showInput` is false (it is an input);
 * - event ids and timer ids are not shown;
 * - ExecutionStarted comes first, as Durable Task puts a start first in the batch it takes it in: what the stored
 *   history holds ahead of it (the suspends and resumes the first step of an execution suspended before it started
 *   records ahead of its start, which the engine runs the execution's code on; the terminate of an execution not
 *   started yet, its start recorded after it and ignored) follows it, in its order. An execution terminated before it
 *   started whose start is not recorded at all gets one made from `options.instance`. Durable Functions clients read
 *   the orchestrator's name and input from the first event and take the events in time order, and those commands
 *   came after the start was requested.
 *
 * @example
 * ```ts
 * toWireHistory(history, { showHistoryOutput: true });
 * // [{ EventType: 'ExecutionStarted', FunctionName: 'E1_HelloSequence', Input: null, Timestamp: '…' },
 * //  { EventType: 'TaskCompleted', FunctionName: 'E1_SayHello', Input: '["Tokyo"]', Result: 'Hello Tokyo!', ScheduledTime: '…', Timestamp: '…' }, …]
 * ```
 */
export function toWireHistory(history: readonly HistoryEvent[], options: WireHistoryOptions = {}): WireHistoryEvent[] {
  const showOutput = options.showHistoryOutput === true;
  const showInput = options.showInput !== false;
  const input = (text: string | null): { Input?: string | null } => (showInput ? { Input: text } : {});
  const result = (value: unknown): { Result?: unknown } => (showOutput ? { Result: value ?? null } : {});
  const failure = (recorded: FailureDetails): Pick<WireHistoryEvent, 'Reason' | 'FailureDetails'> => {
    // The wire's one rule for stack traces (sanitiseFailureDetails), as statuses and native histories get it.
    const details = sanitiseFailureDetails(recorded, options);
    return {
      Reason: details.errorMessage,
      FailureDetails: {
        ErrorType: details.errorType, ErrorMessage: details.errorMessage,
        ...(details.stackTrace !== undefined ? { StackTrace: details.stackTrace } : {}),
      },
    };
  };

  const out: (WireHistoryEvent | undefined)[] = [];
  /** Scheduling events by kind and sequence number: where they sit in `out`, and what completions take from them. */
  const scheduled = new Map<string, { index: number; name: string; time: string; input: string | null }>();
  const fold = (kind: 'task' | 'sub', taskScheduledId: number): Pick<WireHistoryEvent, 'FunctionName' | 'ScheduledTime' | 'Input'> => {
    const origin = scheduled.get(`${kind}:${taskScheduledId}`);
    if (!origin) return {};
    out[origin.index] = undefined;
    return { FunctionName: origin.name, ScheduledTime: origin.time, ...input(origin.input) };
  };

  const { events, terminated: ending } = durableTaskOrder(history);
  const start = options.instance && startOf(events, options.instance);
  if (start) out.push({ EventType: 'ExecutionStarted', FunctionName: start.name, ...input(jsonText(start.input)), Timestamp: start.time });
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const Timestamp = toHistoryTime(event.timestamp);
    switch (event.type) {
      case 'OrchestratorStarted':
      case 'OrchestratorCompleted':
        break;
      case 'ExecutionStarted':
        out.push({ EventType: event.type, FunctionName: event.name, ...input(jsonText(event.input)), Timestamp });
        break;
      case 'ExecutionCompleted':
        out.push({
          EventType: event.type, OrchestrationStatus: event.orchestrationStatus,
          ...result(event.orchestrationStatus === 'Failed' ? event.failureDetails?.errorMessage : event.result),
          ...(event.failureDetails ? { FailureDetails: failure(event.failureDetails).FailureDetails } : {}),
          Timestamp,
        });
        break;
      case 'ExecutionTerminated':
        out.push({ EventType: event.type, ...input(typeof event.reason === 'string' ? event.reason : jsonText(event.reason)), Timestamp });
        break;
      case 'ExecutionSuspended':
      case 'ExecutionResumed':
      case 'ExecutionRewound':
      case 'ExecutionCancelRequested':
        out.push({ EventType: event.type, ...(event.reason !== undefined ? { Reason: event.reason } : {}), Timestamp });
        break;
      case 'ContinueAsNew':
        out.push({ EventType: event.type, OrchestrationStatus: 'ContinuedAsNew', ...(showInput ? { Result: jsonText(event.input) } : {}), Timestamp });
        break;
      case 'TaskScheduled': {
        // Durable Task schedules an activity with its parameters array: the input is the text of [input].
        const text = JSON.stringify([event.input ?? null]);
        scheduled.set(`task:${event.eventId}`, { index: out.length, name: event.name, time: Timestamp, input: text });
        out.push({ EventType: event.type, Name: event.name, ...input(text), Timestamp });
        break;
      }
      case 'TaskCompleted':
        out.push({ EventType: event.type, ...fold('task', event.taskScheduledId), ...result(event.result), Timestamp });
        break;
      case 'TaskFailed':
        out.push({ EventType: event.type, ...fold('task', event.taskScheduledId), ...failure(event.failureDetails), Timestamp });
        break;
      case 'SubOrchestrationInstanceCreated': {
        const text = jsonText(event.input);
        scheduled.set(`sub:${event.eventId}`, { index: out.length, name: event.name, time: Timestamp, input: text });
        out.push({ EventType: event.type, Name: event.name, InstanceId: event.instanceId, ...input(text), Timestamp });
        break;
      }
      case 'SubOrchestrationInstanceCompleted':
        out.push({ EventType: event.type, ...fold('sub', event.taskScheduledId), ...result(event.result), Timestamp });
        break;
      case 'SubOrchestrationInstanceFailed':
        out.push({ EventType: event.type, ...fold('sub', event.taskScheduledId), ...failure(event.failureDetails), Timestamp });
        break;
      case 'TimerCreated':
      case 'TimerFired':
        out.push({ EventType: event.type, FireAt: toHistoryTime(event.fireAt), Timestamp });
        break;
      case 'EventRaised':
        out.push({ EventType: event.type, Name: event.name, ...input(jsonText(event.input)), Timestamp });
        break;
      default:
        assertNever(event);
    }
    if (ending?.after === i) {
      out.push({ EventType: 'ExecutionCompleted', OrchestrationStatus: 'Terminated', ...result(ending.reason), Timestamp });
    }
  }
  return out.filter((e): e is WireHistoryEvent => e !== undefined);
}

/** The events of a history as a Durable Task history holds them ({@link durableTaskOrder}). */
interface DurableTaskOrder {
  /** The events shown, in their order. */
  readonly events: readonly HistoryEvent[];
  /**
   * For an execution a terminate ended (its first end is an `ExecutionTerminated`): the `ExecutionCompleted` with
   * status Terminated that Durable Task records, which goes after `events[after]`, with the terminate's `reason`.
   */
  readonly terminated?: { readonly after: number; readonly reason: unknown };
}

/**
 * The events of `history` (one execution's) that a Durable Task history holds, in its order: the one rule of what the
 * Durable Functions view shows. Pure; the native history is left as it is.
 *
 * - The first ExecutionStarted goes first, the events ahead of it after it in their order: the suspends and resumes
 *   (and step marker) the first step of an execution suspended before it started records ahead of its start, and the
 *   terminate of an execution not started yet, its start recorded after it (and ignored). Durable Task's dispatcher
 *   puts the start first in the batch it takes it in (`EnsureExecutionStartedIsFirst`), so its histories begin with it.
 * - The execution ends with the step that recorded its first end ({@link isExecutionEnd}): Durable Task completes an
 *   execution after the events of the batch that ended it, so an `ExecutionCompleted` or `ContinueAsNew` goes after
 *   the events of its step recorded behind it (those of its batch the orchestrator did not need), and a terminate
 *   ends with an `ExecutionCompleted` (status Terminated) made after them (`terminated`).
 * - Nothing recorded after that step is shown: a result, timer or event that reaches an ended instance is recorded
 *   and ignored in durable-rx (visibly, in the native history, for `history$` and a rewind), where Durable Task
 *   discards the message (Azure Storage's `DiscardingWorkItem`), so a Durable Task history has nothing after its end.
 *   An ExecutionStarted recorded late (of an execution terminated before it started) has gone first.
 */
function durableTaskOrder(history: readonly HistoryEvent[]): DurableTaskOrder {
  const events = startFirst(history);
  const end = events.findIndex(isExecutionEnd);
  if (end === -1) return { events };
  // The ending step's close: its OrchestratorCompleted, unless another step begins first (an end recorded without step
  // markers, by code of an earlier version), then the end itself.
  let close = end;
  for (let i = end + 1; i < events.length && events[i]!.type !== 'OrchestratorStarted'; i++) {
    if (events[i]!.type === 'OrchestratorCompleted') {
      close = i;
      break;
    }
  }
  const ending = events[end]!;
  if (ending.type === 'ExecutionTerminated') return { events: events.slice(0, close + 1), terminated: { after: close, reason: ending.reason } };
  // The completion last in its step: after the step's events behind it, ahead of the step's close (dropped on the wire).
  const last = close > end && events[close]!.type === 'OrchestratorCompleted' ? close - 1 : close;
  if (last === end) return { events: events.slice(0, close + 1) };
  return { events: [...events.slice(0, end), ...events.slice(end + 1, last + 1), ending, ...events.slice(last + 1, close + 1)] };
}

/** The history with its first ExecutionStarted first, the events ahead of it after it in their order. */
function startFirst(history: readonly HistoryEvent[]): readonly HistoryEvent[] {
  const start = history.findIndex((e) => e.type === 'ExecutionStarted');
  // At index 0 or 1 (after its step marker alone), or absent: as it is, without a copy of the whole history.
  if (start < 2 && (start < 1 || history[0]!.type === 'OrchestratorStarted')) return history;
  return [history[start]!, ...history.slice(0, start), ...history.slice(start + 1)];
}

/**
 * The start of an execution whose history holds events but no ExecutionStarted (one terminated before it started,
 * whose queued start no worker has recorded), made from its instance: the name, the input, and the time the start
 * was sent, which a worker records it with later: for an execution a `continueAsNew` began, that `continueAsNew`'s
 * (its terminate's `startRequestedAt`), else the instance's `createdTime`. `undefined` when the history has a start,
 * or nothing but step markers.
 */
function startOf(history: readonly HistoryEvent[], instance: WireHistoryInstance): { name: string; input: unknown; time: string } | undefined {
  if (history.some((e) => e.type === 'ExecutionStarted')) return undefined;
  if (history.every((e) => e.type === 'OrchestratorStarted' || e.type === 'OrchestratorCompleted')) return undefined;
  // Begun by a continueAsNew: when that sent its start, as its terminate records it.
  const terminate = history.find((e): e is ExecutionTerminatedEvent => e.type === 'ExecutionTerminated');
  const time = terminate?.startRequestedAt ?? instance.createdTime.toISOString();
  return { name: instance.name, input: instance.input, time: toHistoryTime(time) };
}

/** A value as the Durable Task history stores it: its JSON text, `null` for none (`null` or absent). */
function jsonText(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/**
 * A history time as .NET writes it: UTC ISO 8601 without trailing zeros in the fraction
 * (`2018-02-28T05:18:49.34Z`, `2018-02-28T05:18:50Z`).
 */
function toHistoryTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toISOString().replace(/\.?0+Z$/, 'Z');
}
