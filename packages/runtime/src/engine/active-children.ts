import type { ExecutionTerminatedEvent, HistoryEvent } from '../model/history-event.js';

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
  foldCalls(open, history, selfId);
  return [...new Set(open.values())];
}

/**
 * The recursive terminate that ends a step (the first `ExecutionTerminated` of its `events`, when it is recursive) and
 * the sub-orchestrations it goes on to, as {@link activeChildrenOf} reads them from the history the step commits:
 * those of `before` (the execution's stored history, which holds no `ExecutionTerminated`: the execution had not
 * ended) and of the step's events ahead of the terminate whose calls are unanswered. One walk of each; `undefined`
 * when the step holds no terminate, or its first is not recursive.
 */
export function recursiveTerminateOf(
  before: readonly HistoryEvent[], events: readonly HistoryEvent[], selfId: string,
): { readonly terminate: ExecutionTerminatedEvent; readonly children: string[] } | undefined {
  const open = new Map<number, string>();
  foldCalls(open, before, selfId);
  const terminate = foldCalls(open, events, selfId);
  return terminate?.recursive ? { terminate, children: [...new Set(open.values())] } : undefined;
}

/**
 * Folds `events` into `open` (the unanswered sub-orchestration calls, by the id of the event that scheduled them) up to
 * their first `ExecutionTerminated`, which it returns (`undefined` when there is none).
 */
function foldCalls(open: Map<number, string>, events: readonly HistoryEvent[], selfId: string): ExecutionTerminatedEvent | undefined {
  for (const event of events) {
    if (event.type === 'ExecutionTerminated') return event;
    if (event.type === 'SubOrchestrationInstanceCreated') {
      if (event.instanceId !== selfId) open.set(event.eventId, event.instanceId);
    } else if (event.type === 'SubOrchestrationInstanceCompleted' || event.type === 'SubOrchestrationInstanceFailed') {
      open.delete(event.taskScheduledId);
    }
  }
  return undefined;
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
