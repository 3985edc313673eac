import { assertNever, type HistoryEvent } from '../model/history-event.js';

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
 * recorded and ignored, and is dropped: a suspend kept would suspend the rewound replay. So are the suspends not
 * resumed before the failure (a step the store refused for good while the instance was Suspended fails it), also when
 * the failure itself is not in the history (its record refused too): the rewound instance is Running, and its replay
 * runs, the events kept while it was suspended delivered where they came. No rewound history ends suspended, which
 * lets the steps after a rewind say what a suspend kept (`InstanceState.suspension`) as any step does. Every raised event is kept,
 * also one recorded after the failure (in the failing step's own batch, or claimed once it had failed): `raiseEvent`
 * refuses (410) an event to a Failed instance, so each was accepted while the instance ran, and an accepted event is
 * buffered, never dropped; the rewound execution receives it like any buffered event. Results of calls (an
 * activity's, a sub-orchestration's, a timer's) are kept too: that work is done. A late result or raised event that
 * was recorded without its payload (`payloadRefused`: the store refused to record it) is dropped: the call it answered
 * is made again, as a failed one is, and the event is not delivered (its input is gone).
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
  const failedAt = history.findLastIndex((e) => e.type === 'ExecutionCompleted' && e.orchestrationStatus === 'Failed');
  if (failedAt < 0) {
    // A failure recorded in the state alone (the store refused even its record of fixed size, `decideRefusedStep`'s
    // `unrecorded`): nothing of it to drop but the suspends no resume followed, which it ended too. So no rewound
    // history ends suspended, and the Running status a rewind leaves is its history's.
    const lastResume = history.findLastIndex((e) => e.type === 'ExecutionResumed');
    return history.filter((e, index) => e.type !== 'ExecutionSuspended' || index < lastResume);
  }
  // The suspends from the last resume before the failure on: the failed run ended them.
  const resumedAt = history.findLastIndex((e, index) => index < failedAt && e.type === 'ExecutionResumed');
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
        return last.get(event.eventId) !== true;
      case 'ExecutionCompleted':
        return index !== failedAt;
      case 'ExecutionSuspended':
        return index < resumedAt;
      case 'ExecutionTerminated':
      case 'ExecutionResumed':
        return index < failedAt;
      // Kept: the rewound run meets it where the failed one did (the orchestrator's code after it, a compensation
      // that failed, is what reruns).
      case 'ExecutionCancelRequested':
      case 'ExecutionStarted':
      case 'ExecutionRewound':
      case 'ContinueAsNew':
      case 'OrchestratorStarted':
      case 'OrchestratorCompleted':
      case 'TimerCreated':
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
