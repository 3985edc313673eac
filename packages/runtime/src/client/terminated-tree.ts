import { activeChildrenOf, endedByRecursiveTerminate } from '../engine/active-children.js';
import type { HistoryEvent } from '../model/history-event.js';

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
 * The wait of a recursive terminate for the tree it reached, level by level, the one loop of the local client and of
 * remote ones: the children of each instance of a level (`childrenOf`; an id met before is taken once), then `settle`
 * for each of them at once, which resolves once that child is terminal, gone or no child of `parentId` any more (or
 * the caller's wait is over), until a level has no children or `over()` says the wait's time is up.
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
      for (const id of await childrenOf(parentId)) {
        if (seen.has(id)) continue;
        seen.add(id);
        children.push({ id, parentId });
      }
    }
    await Promise.all(children.map(({ id, parentId }) => settle(id, parentId)));
    level = children.map(({ id }) => id);
  }
}
