import { assertNever, type HistoryEvent } from '../model/history-event.js';
import { ReplayFlag } from './flags.js';

/**
 * The history a Failed execution continues from after `rewind`.
 *
 * The failures that failed the orchestration are those delivered in the step that recorded the final
 * ExecutionCompleted(Failed), plus any that arrived after it; failures in earlier steps were handled by the
 * orchestrator (caught, or retried by `callActivityWithRetry`) and stay. The failures that failed it are removed
 * together with the events that scheduled them, and so is the final ExecutionCompleted. On replay the orchestrator
 * schedules those calls again (as new work, under the same sequence numbers), while completed calls keep their
 * recorded results and are not redone. A call whose last result is a completion that came after its failure (a
 * sub-orchestration rewound on its own, which then completed and answered its Failed parent) is not rerun: only its
 * failure is removed, and the replay delivers that completion.
 *
 * A terminate, suspend or resume that reached the Failed instance after its failure (sent while it still ran) was
 * recorded and ignored, and is dropped: a suspend kept would suspend the rewound replay. Every raised event is kept,
 * also one recorded after the failure (in the failing step's own batch, or claimed once it had failed): `raiseEvent`
 * refuses (410) an event to a Failed instance, so each was accepted while the instance ran, and an accepted event is
 * buffered, never dropped; the rewound execution receives it like any buffered event. Results of calls (an
 * activity's, a sub-orchestration's, a timer's) are kept too: that work is done. A late result or raised event that
 * was recorded without its payload (`payloadRefused`: the store refused to record it) is dropped: the call it answered
 * is made again, as a failed one is, and the event is not delivered (its input is gone).
 *
 * A call with no result at all in the history (an activity, sub-orchestration or timer whose result never reached it,
 * or reached the ended instance and was consumed with no record because the store refused every record of that step)
 * is made again too, in an execution recorded with `ReplayFlag.RewindRerunsUnansweredCalls`: its scheduling event is
 * dropped, so the rewound run does not wait for a result that may never come. An execution recorded before keeps it.
 *
 * A start recorded without its input (`payloadRefused`: the store refused the records of the step that took it) gets
 * back `input`, the instance's, which its state kept: the rewound execution runs with the input it was started with.
 */
export function rewindHistory(history: readonly HistoryEvent[], input?: unknown): HistoryEvent[] {
  const rewound = rewoundEvents(history);
  const at = input === undefined ? -1 : rewound.findIndex((e) => e.type === 'ExecutionStarted' && e.input === undefined && e.payloadRefused !== undefined);
  if (at >= 0) {
    const { payloadRefused: _p, ...start } = rewound[at]!;
    rewound[at] = { ...start, input } as HistoryEvent;
  }
  return rewound;
}

function rewoundEvents(history: readonly HistoryEvent[]): HistoryEvent[] {
  const answered = answeredCalls(history);
  const failedAt = history.findLastIndex((e) => e.type === 'ExecutionCompleted' && e.orchestrationStatus === 'Failed');
  if (failedAt < 0) return answered ? history.filter((event) => !unanswered(event, answered)) : [...history];
  let stepStart = failedAt;
  while (stepStart > 0 && history[stepStart]!.type !== 'OrchestratorStarted') stepStart--;
  // Whether each call's last result (the events with a `taskScheduledId`) from the failing step on is a failure: one
  // reruns the call; a completion (a sub-orchestration rewound on its own that completed after the failure) is its
  // result, and only the failures before it are dropped.
  const last = new Map<number, boolean>();
  for (let i = stepStart; i < history.length; i++) {
    const event = history[i]!;
    // A result recorded without its payload (`payloadRefused`) is none: the call is made again, as after a failure.
    if ('taskScheduledId' in event) last.set(event.taskScheduledId, 'failureDetails' in event || event.payloadRefused !== undefined);
  }
  return history.filter((event, index) => {
    switch (event.type) {
      case 'TaskFailed':
      case 'SubOrchestrationInstanceFailed':
        return index < stepStart || !last.has(event.taskScheduledId);
      case 'TaskScheduled':
      case 'SubOrchestrationInstanceCreated':
        return last.get(event.eventId) !== true && !unanswered(event, answered);
      case 'TimerCreated':
        return !unanswered(event, answered);
      case 'ExecutionCompleted':
        return index !== failedAt;
      case 'ExecutionTerminated':
      case 'ExecutionSuspended':
      case 'ExecutionResumed':
        return index < failedAt;
      case 'ExecutionStarted':
      case 'ExecutionRewound':
      case 'ContinueAsNew':
      case 'OrchestratorStarted':
      case 'OrchestratorCompleted':
      case 'TimerFired':
        return true;
      case 'TaskCompleted':
      case 'EventRaised':
      case 'SubOrchestrationInstanceCompleted':
        return event.payloadRefused === undefined;
      default:
        return assertNever(event);
    }
  });
}

/**
 * The ids of the calls (activities, sub-orchestrations, timers) that have a result in `history`, when its execution
 * was recorded with `ReplayFlag.RewindRerunsUnansweredCalls` (the flags its first step recorded); `undefined` for one
 * recorded before, whose rewind keeps a call with no result waiting for it.
 */
function answeredCalls(history: readonly HistoryEvent[]): Set<number> | undefined {
  const first = history.find((e) => e.type === 'OrchestratorStarted');
  if (!first?.replayFlags?.includes(ReplayFlag.RewindRerunsUnansweredCalls)) return undefined;
  const answered = new Set<number>();
  for (const event of history) {
    if ('taskScheduledId' in event) answered.add(event.taskScheduledId);
    else if (event.type === 'TimerFired') answered.add(event.timerId);
  }
  return answered;
}

/** Whether `event` schedules a call that has no result (`answered`, of {@link answeredCalls}): the rewind makes it again. */
function unanswered(event: HistoryEvent, answered: Set<number> | undefined): boolean {
  if (!answered) return false;
  return (event.type === 'TaskScheduled' || event.type === 'SubOrchestrationInstanceCreated' || event.type === 'TimerCreated') && !answered.has(event.eventId);
}
