import { assertNever, type HistoryEvent } from '../model/history-event.js';

/**
 * The history a Failed execution continues from after `rewind`.
 *
 * The failures that failed the orchestration are those delivered in the step that recorded the final
 * ExecutionCompleted(Failed), plus any that arrived after it; failures in earlier steps were handled by the
 * orchestrator (caught, or retried by `callActivityWithRetry`) and stay. The failures that failed it are removed
 * together with the events that scheduled them, and so is the final ExecutionCompleted. On replay the orchestrator
 * schedules those calls again (as new work, under the same sequence numbers), while completed calls keep their
 * recorded results and are not redone.
 *
 * A terminate, suspend or resume that reached the Failed instance after its failure (sent while it still ran) was
 * recorded and ignored, and is dropped: a suspend kept would suspend the rewound replay. Every raised event is kept,
 * also one recorded after the failure (in the failing step's own batch, or claimed once it had failed): `raiseEvent`
 * refuses (410) an event to a Failed instance, so each was accepted while the instance ran, and an accepted event is
 * buffered, never dropped; the rewound execution receives it like any buffered event. Results of calls (an
 * activity's, a sub-orchestration's, a timer's) are kept too: that work is done.
 */
export function rewindHistory(history: readonly HistoryEvent[]): HistoryEvent[] {
  const failedAt = history.findLastIndex((e) => e.type === 'ExecutionCompleted' && e.orchestrationStatus === 'Failed');
  if (failedAt < 0) return [...history];
  let stepStart = failedAt;
  while (stepStart > 0 && history[stepStart]!.type !== 'OrchestratorStarted') stepStart--;
  const rerun = new Set<number>();
  for (let i = stepStart; i < history.length; i++) {
    const event = history[i]!;
    if (event.type === 'TaskFailed' || event.type === 'SubOrchestrationInstanceFailed') rerun.add(event.taskScheduledId);
  }
  return history.filter((event, index) => {
    switch (event.type) {
      case 'TaskFailed':
      case 'SubOrchestrationInstanceFailed':
        return index < stepStart || !rerun.has(event.taskScheduledId);
      case 'TaskScheduled':
      case 'SubOrchestrationInstanceCreated':
        return !rerun.has(event.eventId);
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
      case 'TaskCompleted':
      case 'TimerCreated':
      case 'TimerFired':
      case 'EventRaised':
      case 'SubOrchestrationInstanceCompleted':
        return true;
      default:
        return assertNever(event);
    }
  });
}
