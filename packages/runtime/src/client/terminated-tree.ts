import { activeChildrenOf, endedByRecursiveTerminate } from '../engine/active-children.js';
import type { HistoryEvent } from '../model/history-event.js';
import { isTerminalStatus, type OrchestrationRuntimeStatus } from '../model/instance-status.js';

/**
 * The children a recursive terminate went on to from an instance, read from its history (`history`) and the status
 * read with it: those {@link activeChildrenOf} names when a recursive terminate ended it (`Terminated`, its first
 * `ExecutionTerminated` recursive), none otherwise (a terminate queued before, not recursive, ended it: nothing went on).
 *
 * @example
 * ```ts
 * childrenTerminatedWith('order-1', status?.runtimeStatus, status?.history ?? []); // ['order-1-payment']
 * ```
 */
export function childrenTerminatedWith(instanceId: string, runtimeStatus: string | undefined, history: readonly HistoryEvent[]): string[] {
  return runtimeStatus === 'Terminated' && endedByRecursiveTerminate(history) ? activeChildrenOf(history, instanceId) : [];
}

/**
 * Whether a sub-orchestration a recursive terminate reached needs no more waiting for, from its status or state as read
 * or delivered (`undefined`: no instance): gone, no sub-orchestration of `parentId` any more (another instance took its
 * id), or terminal. The rule of every client's `settle` in {@link awaitTerminatedTree}.
 *
 * @example
 * ```ts
 * client.status$('order-1-payment').subscribe((status) => childSettled(status, 'order-1') && done());
 * ```
 */
export function childSettled(
  child: { readonly parentInstanceId?: string | undefined; readonly runtimeStatus: OrchestrationRuntimeStatus } | undefined, parentId: string,
): boolean {
  return !child || child.parentInstanceId !== parentId || isTerminalStatus(child.runtimeStatus);
}

/**
 * The wait of a recursive terminate for the tree it reached, level by level, the one loop of the local client and of
 * remote ones: the children of each instance of a level (`childrenOf`; an id met before is taken once), then `settle`
 * for each of them at once, which resolves once that child is terminal, gone or no child of `parentId` any more
 * ({@link childSettled}; or the caller's wait is over), until a level has no children or `over()` says the wait's time is up:
 * asked before each `childrenOf` and before a level's `settle`s, so a wait that is over ends where it is (no read of the
 * next parent's children, no child settled).
 *
 * @example
 * ```ts
 * await awaitTerminatedTree('order-1', childrenOf, (id, parentId) => ended(id, parentId), () => timeIsUp);
 * ```
 */
export async function awaitTerminatedTree(
  rootId: string, childrenOf: (parentId: string) => Iterable<string> | Promise<Iterable<string>>,
  settle: (id: string, parentId: string) => Promise<void>, over: () => boolean,
): Promise<void> {
  const seen = new Set([rootId]);
  for (let level = [rootId]; level.length > 0 && !over();) {
    const children: { readonly id: string; readonly parentId: string }[] = [];
    for (const parentId of level) {
      if (over()) return;
      for (const id of await childrenOf(parentId)) {
        if (seen.has(id)) continue;
        seen.add(id);
        children.push({ id, parentId });
      }
    }
    if (over()) return;
    await Promise.all(children.map(({ id, parentId }) => settle(id, parentId)));
    level = children.map(({ id }) => id);
  }
}
