import { isTerminalStatus, type OrchestrationRuntimeStatus } from '../model/instance-status.js';
import { compareEndedKeys } from './ended-listing.js';
import type { EndedKey } from './store.js';

/** What {@link EndedIndex} reads of an instance: its status and its end (`lastUpdatedTime`, in ms). */
export interface EndedEntry {
  readonly instanceId: string;
  readonly runtimeStatus: OrchestrationRuntimeStatus;
  readonly endedMs: number;
}

/**
 * MemoryStore's index of its ended instances, per status in end order (`compareEndedKeys`): `Store.listEnded` finds
 * where its page starts by a binary search and reads only the page, whatever the number of instances. Each status's
 * keys are one sorted array (an entry moves with a splice: a copy of pointers, no allocation per instance).
 *
 * @example
 * ```ts
 * index.move(before, after); // at each state write: out of its old place (if ended), into its new one (if ended)
 * index.page('Completed', { endedMs: 0, instanceId: '' }, 1000, 100);
 * ```
 */
export class EndedIndex {
  readonly #byStatus = new Map<OrchestrationRuntimeStatus, EndedKey[]>();

  /** Moves an instance from its entry `from` to `to` (`undefined`, or a status that has not ended: none). */
  move(from: EndedEntry | undefined, to: EndedEntry | undefined): void {
    const was = from && isTerminalStatus(from.runtimeStatus) ? from : undefined;
    const is = to && isTerminalStatus(to.runtimeStatus) ? to : undefined;
    if (was && is && was.runtimeStatus === is.runtimeStatus && was.endedMs === is.endedMs && was.instanceId === is.instanceId) return;
    if (was) {
      const keys = this.#byStatus.get(was.runtimeStatus);
      if (keys) {
        const at = search(keys, was);
        if (at < keys.length && compareEndedKeys(keys[at]!, was) === 0) keys.splice(at, 1);
      }
    }
    if (is) {
      let keys = this.#byStatus.get(is.runtimeStatus);
      if (!keys) this.#byStatus.set(is.runtimeStatus, (keys = []));
      const key: EndedKey = { endedMs: is.endedMs, instanceId: is.instanceId };
      keys.splice(search(keys, key), 0, key);
    }
  }

  /** The ids of the page: instances of `status` after `after` (exclusive; absent: from the first), up to `toMs`. */
  page(status: OrchestrationRuntimeStatus, after: EndedKey | undefined, toMs: number, limit: number): string[] {
    const keys = this.#byStatus.get(status) ?? [];
    let at = after === undefined ? 0 : search(keys, after);
    if (after !== undefined && at < keys.length && compareEndedKeys(keys[at]!, after) === 0) at++;
    const ids: string[] = [];
    for (; at < keys.length && ids.length < limit && keys[at]!.endedMs <= toMs; at++) ids.push(keys[at]!.instanceId);
    return ids;
  }
}

/** The first place in `keys` whose key is not before `key`. */
function search(keys: readonly EndedKey[], key: EndedKey): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareEndedKeys(keys[mid]!, key) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
