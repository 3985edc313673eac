import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import {
  assertNever, isExecutionEnd, type EventRaisedEvent, type ExecutionCancelRequestedEvent, type ExecutionStartedEvent, type HistoryEvent,
} from '../model/history-event.js';
import type { InstanceState, StartLineage } from '../model/instance-status.js';
import type { MessageEvent } from '../model/message.js';
import { defaultChildId, guidSeedOf } from './orchestration-execution.js';

/** What {@link forkHistory} gives a fork. */
export interface ForkedHistory {
  /** The fork's history, in whole steps. Empty: the fork begins with a start message, {@link start} or a fresh one. */
  readonly events: HistoryEvent[];
  /**
   * When every kept result reached the source before its first step ran (events raised to it while Pending, a
   * signal-with-start's): the fork's start message (the source's start, naming the fork, with the kept events recorded
   * ahead of the source's start as its `carriedEvents`), `pending` behind it, so the fork's first step runs the code
   * after them at the fork's time, as any first step. Absent otherwise.
   */
  readonly start?: ExecutionStartedEvent;
  /**
   * The kept events from the step of the last kept result on, in their order: the fork's first step takes them as
   * messages, so the code that ran after them in the source runs again at the fork's own time (a timer it creates
   * counts from then).
   */
  readonly pending: MessageEvent[];
  /**
   * The external events among the results not kept, in the order the source received them, as raised events (the
   * source's name, data and time): what `DurableClient.fork` with `reapplyEvents` (its default) raises to the fork
   * after the kept results, stamped with the fork's time (`decideFork`). Empty when every result is kept.
   */
  readonly reapplied: EventRaisedEvent[];
}

/** The new instance a {@link forkHistory} is written for. */
export interface ForkTarget {
  /** The fork's instance id. */
  readonly instanceId: string;
  /** The fork's execution id. */
  readonly executionId: string;
  /**
   * The source's input (its state's): put back into a start recorded without it (`payloadRefused`), as a rewind does.
   */
  readonly input?: unknown;
}

/**
 * How many results of `history` (one execution's) a fork may keep ({@link forkHistory}): the activity,
 * sub-orchestration, timer and external-event results (`TaskCompleted`, `TaskFailed`, `SubOrchestrationInstanceCompleted`,
 * `SubOrchestrationInstanceFailed`, `TimerFired`, `EventRaised`) the orchestrator received, in the order it received
 * them: those recorded before the execution ended (a result recorded after its `ExecutionCompleted`,
 * `ExecutionTerminated` or `ContinueAsNew` was recorded and ignored) and before the first one recorded without its
 * payload (`payloadRefused`: there is nothing to replay).
 *
 * @example
 * ```ts
 * forkableResults(history); // 3: two activity results and a fired timer
 * ```
 */
export function forkableResults(history: readonly HistoryEvent[]): number {
  return scan(history).results.length;
}

/**
 * The history (and first messages) of a fork of an instance whose current execution recorded `history`, keeping its first `keepResults`
 * results ({@link forkableResults}; default all of them) and nothing after the last of them: the one rule of
 * `DurableClient.fork`. Pure.
 *
 * - The fork's replay gets back the kept results as the source received them, so the calls that made them are not
 *   made again (their `TaskScheduled`, `TimerCreated` and `SubOrchestrationInstanceCreated` events stay).
 * - Every call made before the cut whose result is not kept loses its scheduling event: the replay makes it anew, and
 *   the fork's first step issues it (an activity runs again, a timer is created again for the time the replay gives
 *   it, a sub-orchestration starts as a child of the fork). Calls made after the cut, the results after it and the
 *   execution's end are dropped.
 * - The start names the fork (`instanceId`, `executionId`) and no parent. A sub-orchestration the source called
 *   without an id of its own, whose id the engine derived from the source's (`defaultChildId`), is named as the fork's
 *   replay derives it. Each step kept names the GUID seed its source's step used (`OrchestratorStarted.guidSeed`):
 *   the fork's replay makes the GUIDs the source made (a kept call named with one matches), and the steps the fork
 *   runs make its own. Each step of the source's own also names the source's instance id
 *   (`OrchestratorStarted.sourceInstanceId`): the replay matches a kept call whose id the code built from
 *   `ctx.instanceId` (the fork's) with the source's id in its place. A sub-orchestration call made anew whose id holds such a GUID is issued by the fork's first step
 *   under the GUID the fork makes in its place, on every replay alike (the engine's rule, `forkCallId`): it neither
 *   collides with nor replaces the source's child.
 * - A cancel request after the last kept result is dropped (one before it is kept: the code met it before that
 *   result, and the fork's replay meets it there too).
 * - A rewind (`ExecutionRewound`) and a suspend not resumed before the cut are dropped: the fork runs. A step left
 *   with no event is dropped. The kept events from the step of the last kept result up to the cut are `pending`: the
 *   fork's first step takes them, at the fork's time, so the code after the last kept result runs again then (a timer
 *   it creates counts from the fork's time, not the source's). When that step is the first of all (every kept result
 *   reached the source before its first step ran: events raised to it while Pending, a signal-with-start's), the fork
 *   has no history: it begins with the source's start as a message (`start`), the kept events behind it, so that code
 *   too runs at the fork's time.
 * - The external events among the results not kept (`EventRaised`, up to the end of the execution) are `reapplied`,
 *   in the order received: raised events of the source's name, data and time, without the mark of an event carried
 *   over by `continueAsNew`.
 *
 * `keepResults` 0 gives an empty history: the fork then starts afresh with the source's input. More results than
 * the source has, or no integer >= 0, throws {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * // The source called A, then B (both completed), then C (still running).
 * forkHistory(history, 1, { instanceId: 'fork-1', executionId: 'e2' });
 * // { events: [the first step, A scheduled], pending: [A's result] }: B and C are called again by the fork
 * ```
 */
export function forkHistory(history: readonly HistoryEvent[], keepResults: number | undefined, target: ForkTarget): ForkedHistory {
  const { end, results } = scan(history);
  const keep = keepResults ?? results.length;
  if (!Number.isSafeInteger(keep) || keep < 0 || keep > results.length) {
    throw new InvalidArgumentError(`keepResults must be an integer from 0 to ${results.length} (the results recorded), not ${String(keepResults)}`);
  }
  const reapplied: EventRaisedEvent[] = [];
  for (let r = keep; r < results.length; r++) {
    const event = history[results[r]!]!;
    if (event.type !== 'EventRaised') continue;
    const { type, timestamp, name } = event;
    reapplied.push(event.input === undefined ? { type, eventId: -1, timestamp, name } : { type, eventId: -1, timestamp, name, input: event.input });
  }
  if (keep === 0) return { events: [], pending: [], reapplied };
  const cut = keep < results.length ? results[keep]! : end;
  // The calls whose result is kept (activities, timers and sub-orchestrations share one sequence of event ids).
  const answered = new Set<number>();
  for (let r = 0; r < keep; r++) {
    const event = history[results[r]!]!;
    if (event.type === 'TimerFired') answered.add(event.timerId);
    else if ('taskScheduledId' in event) answered.add(event.taskScheduledId);
  }
  // A cancel request after the last kept result is dropped, as the results after it are: the fork goes on from there.
  const lastKept = results[keep - 1]!;
  // The step of the last kept result: from there to the cut, the kept events are the fork's first step's (`pending`),
  // behind the source's start as a message when it is the first step of all (the start is in it).
  let stepStart = lastKept;
  while (stepStart > 0 && history[stepStart]!.type !== 'OrchestratorStarted') stepStart--;
  // The first step holds the start, also when the cut falls among the events recorded ahead of it (carried over by a
  // continueAsNew and counted as results).
  let first = false;
  for (let i = stepStart; i < history.length && !first && history[i]!.type !== 'OrchestratorCompleted'; i++) first = history[i]!.type === 'ExecutionStarted';
  if (first) return firstStepFork(history, stepStart, cut, lastKept, target, reapplied);
  const until = stepStart;
  let lastResume = -1;
  for (let i = 0; i < until; i++) if (history[i]!.type === 'ExecutionResumed') lastResume = i;
  let source: ExecutionStartedEvent | undefined;
  let flags: readonly number[] = [];
  const events: HistoryEvent[] = [];
  for (let i = 0; i < until; i++) {
    let event = history[i]!;
    switch (event.type) {
      case 'OrchestratorStarted':
        if (event.replayFlags) flags = event.replayFlags; // on the first step only
        break;
      case 'OrchestratorCompleted':
        // A step left with nothing (its calls made anew, its commands dropped) is dropped whole.
        if (events.at(-1)?.type === 'OrchestratorStarted') {
          events.pop();
          continue;
        }
        break;
      case 'ExecutionStarted':
        source = event;
        event = forkedStart(event, target);
        break;
      case 'TaskScheduled':
      case 'TimerCreated':
        if (!answered.has(event.eventId)) continue;
        break;
      case 'SubOrchestrationInstanceCreated':
        if (!answered.has(event.eventId)) continue;
        if (source && event.instanceId === defaultChildId(source.instanceId, source.executionId, event.eventId, flags)) {
          event = { ...event, instanceId: defaultChildId(target.instanceId, target.executionId, event.eventId, flags) };
        }
        break;
      case 'ExecutionSuspended':
        if (i > lastResume) continue;
        break;
      // Not before the cut (the end of the execution is where `scan` stops), or dropped (a rewind).
      case 'ExecutionRewound':
      case 'ExecutionCompleted':
      case 'ExecutionTerminated':
      case 'ContinueAsNew':
        continue;
      case 'ExecutionCancelRequested':
        if (i > lastKept) continue;
        break;
      case 'ExecutionResumed':
      case 'TaskCompleted':
      case 'TaskFailed':
      case 'TimerFired':
      case 'EventRaised':
      case 'SubOrchestrationInstanceCompleted':
      case 'SubOrchestrationInstanceFailed':
        break;
      default:
        assertNever(event);
    }
    events.push(event);
  }
  // Each step kept names the seed the source's step made its GUIDs with (a step the source copied keeps its own), so
  // the fork's replay makes the source's GUIDs (a kept call named with one matches) and the steps it runs make its own.
  // And the instance id it ran under (the source's own steps: a step the source copied names its own, or none in a fork
  // recorded before), so that a kept call whose id the code built from ctx.instanceId matches.
  const guidSeed = source && guidSeedOf(source, flags);
  for (let i = 0; guidSeed && i < events.length; i++) {
    const event = events[i]!;
    if (event.type !== 'OrchestratorStarted') continue;
    events[i] = event.guidSeed === undefined ? { ...event, guidSeed, sourceInstanceId: source!.instanceId } : event;
  }
  const pending: MessageEvent[] = [];
  for (let i = until; i < cut; i++) {
    const event = history[i]!;
    // Not step markers, suspends and resumes, nor calls made there (none answered: made anew).
    if (isResult(event) || (event.type === 'ExecutionCancelRequested' && i < lastKept)) pending.push(event);
  }
  return { events, pending, reapplied };
}

/**
 * What a new start with the input of the execution of `state` (whose history is `history`) takes from that execution's
 * start (a fork that keeps no results; a restart takes the first part only, {@link restartedStart}), as a fork that
 * keeps results copies the start whole: the GUIDs a copied step made that the input holds (`copiedGuids`), so that a
 * call whose id holds one runs under a GUID of the new execution's own, and the instances it was copied from
 * (`forkedFrom`), with `copiedFrom` first when the new start is another instance's (a fork), so that a call naming
 * their child by a GUID fails saying so. Read from the state (`InstanceState.lineage`, written when the start was
 * queued), so an execution whose start no worker recorded yet (Pending, ContinuedAsNew, or terminated so) names them
 * too; from the start recorded in the history for a state stored before that field; neither when no start is
 * recorded either: only `copiedFrom` then. Pure.
 *
 * @example
 * ```ts
 * copiedStart(state, history, 'order-9'); // { copiedGuids: [{ seed: 'src_e1', name: '_2026-12-06T02:00:00.000Z_0' }], forkedFrom: ['order-9', 'src'] }
 * ```
 */
export function copiedStart(
  state: Pick<InstanceState, 'lineage'>, history: readonly HistoryEvent[], copiedFrom?: string,
): Pick<ExecutionStartedEvent, 'copiedGuids' | 'forkedFrom'> {
  let start: StartLineage | undefined = state.lineage;
  for (let i = 0; i < history.length && !start && history[i]!.type !== 'OrchestratorCompleted'; i++) {
    const event = history[i]!;
    if (event.type === 'ExecutionStarted') start = event; // in the first step
  }
  const forkedFrom = lineageOf(start?.forkedFrom, copiedFrom);
  return { ...(start?.copiedGuids?.length ? { copiedGuids: start.copiedGuids } : {}), ...(forkedFrom?.length ? { forkedFrom } : {}) };
}

/**
 * How many first events of a history a restart reads for {@link restartedStart}: the start is among the first events
 * of the first step, so a long history is not read for it ({@link startSearched} says when more must be read).
 */
export const RESTART_HISTORY_EVENTS = 16;

/**
 * Whether {@link copiedStart} finds in `events`, the first events of the history of `state`, all it would find in the
 * whole history: the state names the lineage, or the events hold the start or the end of the first step (where the
 * search stops). Pure.
 *
 * @example
 * ```ts
 * startSearched(state, history.slice(0, 16)); // true when the first 16 events hold ExecutionStarted
 * ```
 */
export function startSearched(state: Pick<InstanceState, 'lineage'>, events: readonly HistoryEvent[]): boolean {
  return state.lineage !== undefined || events.some((event) => event.type === 'ExecutionStarted' || event.type === 'OrchestratorCompleted');
}

/**
 * What a restart's start takes from the start of the execution of `state` it restarts: only the GUIDs a copied step
 * made that the input holds (`copiedGuids`, see {@link copiedStart}). A restart, under the instance's id or a new one,
 * is no copy, as a Durable Functions restart is not: it names no instance it was copied from (`forkedFrom`), so a call
 * it makes over an ended child of the restarted instance replaces that child, as any start of an ended id does. Pure.
 *
 * @example
 * ```ts
 * restartedStart(state, history); // { copiedGuids: [{ seed: 'src_e1', name: '_2026-12-06T02:00:00.000Z_0' }] }
 * ```
 */
export function restartedStart(state: Pick<InstanceState, 'lineage'>, history: readonly HistoryEvent[]): Pick<ExecutionStartedEvent, 'copiedGuids'> {
  const { copiedGuids } = copiedStart(state, history);
  return copiedGuids ? { copiedGuids } : {};
}

/**
 * What `start` (an execution's start, or a start input) names of the copies it descends from, as its state keeps it
 * (`InstanceState.lineage`); `undefined` when it names none. Pure.
 */
export function startLineage({ copiedGuids, forkedFrom }: { readonly [K in keyof StartLineage]?: StartLineage[K] | undefined }): StartLineage | undefined {
  return copiedGuids?.length || forkedFrom?.length ? { ...(copiedGuids?.length && { copiedGuids }), ...(forkedFrom?.length && { forkedFrom }) } : undefined;
}

/**
 * The most instances a start names as those it was copied from (`ExecutionStartedEvent.forkedFrom`): the nearest
 * `MAX_FORKED_FROM - 1` and the root (the instance the lineage began with). A fork of a fork of a fork... would
 * otherwise write one more id on each start, with no end. The refusal of a GUID-named call over a child of the lineage
 * needs the root only for a child whose link names its parent's root (`ParentCall.forkRoot`, every child a copy made
 * since 2026-12-06); for one made before, the parent must be among the names kept, so such a child of an ancestor
 * dropped from the middle of a longer chain is not refused (its call goes as any start of the id).
 */
export const MAX_FORKED_FROM = 8;

/**
 * The instances a copy of `copiedFrom` was copied from: it, then those it was copied from (`forkedFrom`), at most
 * {@link MAX_FORKED_FROM}, the root kept last.
 */
function lineageOf(forkedFrom: readonly string[] | undefined, copiedFrom: string | undefined): readonly string[] | undefined {
  if (copiedFrom === undefined) return forkedFrom;
  const all = [copiedFrom, ...(forkedFrom ?? [])];
  return all.length <= MAX_FORKED_FROM ? all : [...all.slice(0, MAX_FORKED_FROM - 1), all[all.length - 1]!];
}

/**
 * The fork's start: the source's `start` naming the fork (`target`) and, among the instances it was copied from
 * (`forkedFrom`), the source first, with no parent, and the input put back into a start recorded without it.
 */
function forkedStart(start: ExecutionStartedEvent, target: ForkTarget): ExecutionStartedEvent {
  const { parentInstance: _p, payloadRefused, ...rest } = start;
  const restored = payloadRefused !== undefined && target.input !== undefined ? { input: target.input } : {};
  return { ...rest, ...restored, instanceId: target.instanceId, executionId: target.executionId, forkedFrom: lineageOf(start.forkedFrom, start.instanceId)! };
}

/**
 * The fork whose kept results all reached the source before its first step ran ({@link ForkedHistory.start}): no
 * history, the source's start as a message, the kept events of the first step (from `from`, up to `cut`) behind it.
 * Those recorded ahead of the start (carried over by a `continueAsNew`) travel in it, as a `continueAsNew` sends them;
 * a cancel request after the last kept result (`lastKept`) is dropped.
 */
function firstStepFork(
  history: readonly HistoryEvent[], from: number, cut: number, lastKept: number, target: ForkTarget, reapplied: EventRaisedEvent[],
): ForkedHistory {
  let start: ExecutionStartedEvent | undefined;
  const carried: (EventRaisedEvent | ExecutionCancelRequestedEvent)[] = [];
  const pending: MessageEvent[] = [];
  // Up to the cut, and on to the start when the cut is ahead of it.
  for (let i = from; i < history.length && (i < cut || !start); i++) {
    const event = history[i]!;
    if (event.type === 'ExecutionStarted') start = forkedStart(event, target);
    else if (i >= cut) continue;
    else if (isResult(event) || (event.type === 'ExecutionCancelRequested' && i < lastKept)) {
      if (start) pending.push(event);
      else if (event.type === 'EventRaised' || event.type === 'ExecutionCancelRequested') carried.push(event);
    }
  }
  return { events: [], start: carried.length === 0 ? start! : { ...start!, carriedEvents: carried }, pending, reapplied };
}

/** Where the execution of `history` ended (or its length) and the positions of the results it received before. */
function scan(history: readonly HistoryEvent[]): { end: number; results: number[] } {
  const results: number[] = [];
  for (let i = 0; i < history.length; i++) {
    const event = history[i]!;
    if (isExecutionEnd(event)) return { end: i, results };
    if (isResult(event)) {
      if (event.payloadRefused !== undefined) return { end: i, results };
      results.push(i);
    }
  }
  return { end: history.length, results };
}

/** The events that count as results: what `keepResults` counts. */
const RESULT_TYPES: ReadonlySet<HistoryEvent['type']> = new Set([
  'TaskCompleted', 'TaskFailed', 'TimerFired', 'EventRaised', 'SubOrchestrationInstanceCompleted', 'SubOrchestrationInstanceFailed',
]);

function isResult(event: HistoryEvent): event is Extract<MessageEvent, { type: 'TaskCompleted' | 'TaskFailed' | 'TimerFired' | 'EventRaised' | 'SubOrchestrationInstanceCompleted' | 'SubOrchestrationInstanceFailed' }> {
  return RESULT_TYPES.has(event.type);
}
