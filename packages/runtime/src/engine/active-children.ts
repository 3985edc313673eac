import type { HistoryEvent } from '../model/history-event.js';

/**
 * The instance ids of the sub-orchestrations an execution started whose calls are still unanswered, in the order
 * they were started, read from its history up to its first `ExecutionTerminated` (the events after it reached an
 * execution that had ended): what a recursive terminate hands itself on to. A call to the execution's own id (which
 * fails at once) is left out, as is an id given twice (one instance). The one rule of the step that applies a
 * recursive terminate and of the client that waits for it.
 *
 * @example
 * ```ts
 * activeChildrenOf([created(0, 'child-a'), created(1, 'child-b'), completed(0)], 'parent'); // ['child-b']
 * ```
 */
export function activeChildrenOf(history: readonly HistoryEvent[], selfId: string): string[] {
  const open = new Map<number, string>();
  for (const event of history) {
    if (event.type === 'ExecutionTerminated') break;
    if (event.type === 'SubOrchestrationInstanceCreated') {
      if (event.instanceId !== selfId) open.set(event.eventId, event.instanceId);
    } else if (event.type === 'SubOrchestrationInstanceCompleted' || event.type === 'SubOrchestrationInstanceFailed') {
      open.delete(event.taskScheduledId);
    }
  }
  return [...new Set(open.values())];
}

/**
 * True when the first `ExecutionTerminated` of a history is a recursive one (`recursive: true`): the termination that
 * ended the execution was handed on to its sub-orchestrations.
 */
export function endedByRecursiveTerminate(history: readonly HistoryEvent[]): boolean {
  const end = history.find((e) => e.type === 'ExecutionTerminated');
  return end?.type === 'ExecutionTerminated' && end.recursive === true;
}

/**
 * The instance ids of every sub-orchestration an execution started, answered or not, in the order started (each
 * once, the execution's own id left out): what a recursive purge deletes with it.
 */
export function subOrchestrationsOf(history: readonly HistoryEvent[], selfId: string): string[] {
  const ids = new Set<string>();
  for (const event of history) if (event.type === 'SubOrchestrationInstanceCreated' && event.instanceId !== selfId) ids.add(event.instanceId);
  return [...ids];
}
