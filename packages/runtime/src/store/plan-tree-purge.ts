import { subOrchestrationsOf } from '../engine/active-children.js';
import { InstanceNotTerminalError } from '../model/errors/instance-not-terminal-error.js';
import type { HistoryEvent } from '../model/history-event.js';
import { isTerminalStatus, type InstanceState } from '../model/instance-status.js';
import { invalid } from '../model/validation.js';
import type { PurgeMember } from './store.js';

/**
 * Most members one `Store.purgeInstanceSet` takes: the bound of one transaction (each member deletes its instance, its
 * messages and its tasks; MongoDB advises keeping a transaction to about a thousand documents, and MongoStore's
 * `purgeInstances` deletes 50 instances per transaction too). A recursive purge of a larger tree sends its members in
 * sets of this size, deepest first, each all or nothing.
 */
export const MAX_PURGE_SET = 50;

/** What a recursive purge has read so far, by instance id: the input of {@link planTreePurge}. */
export interface TreeReads {
  /** Each id's state as read (`undefined`: no instance). */
  readonly states: ReadonlyMap<string, InstanceState | undefined>;
  /**
   * Each member's history as read: the events of the history of its state in `states` (`eventsOfHistory`). A history
   * read after the instance moved on (restarted, rewound) names another execution's children: the caller reads the
   * tree again rather than add it.
   */
  readonly histories: ReadonlyMap<string, readonly HistoryEvent[]>;
}

/** The decision of {@link planTreePurge}: what to read next, or which instances to delete on which conditions. */
export type TreePurgeDecision =
  | { readonly kind: 'read'; readonly states: readonly string[]; readonly histories: readonly string[] }
  | { readonly kind: 'purge'; readonly members: readonly PurgeMember[] };

/**
 * The one rule of a recursive purge (`purgeInstanceHistory(id, { recursive: true })`): which instances form the tree
 * of `rootId`, and on which condition each is deleted. Pure: the caller reads what the decision asks for (`kind:
 * 'read'`: the states of `states`, then the histories of `histories`), adds it to `reads` and asks again, until the
 * decision is `kind: 'purge'`.
 *
 * - The tree is the named instance and, level by level, every sub-orchestration a member's history started (answered
 *   or not, `subOrchestrationsOf`) whose instance names that member's execution as its parent ({@link isChildOf}); an
 *   id gone, or taken by another parent's instance or by another execution's call of the member (restarted since its
 *   history was read, calling the same id again), is left out. An id joins once, under the first member (in tree order) whose call its instance
 *   answers: two members may have called one id one after the other, and the instance is the later caller's.
 * - Every member must be terminal: one that is not throws {@link InstanceNotTerminalError} (409) before anything is
 *   deleted.
 * - `members` lists the tree deepest first, the named instance last (empty for an unknown id), each with the execution
 *   and version read: the store deletes them only while each is still that snapshot (`purgeMemberHolds`), so an
 *   instance started over a member's id since it was read, or a member rewound or changed since, is never deleted on
 *   a stale decision. The caller sends them in sets of {@link MAX_PURGE_SET} from the front, so a purge cut short
 *   between sets leaves the named instance, whose history still names the rest.
 *
 * @example
 * ```ts
 * planTreePurge('order', { states: new Map(), histories: new Map() }); // { kind: 'read', states: ['order'], histories: [] }
 * ```
 */
export function planTreePurge(rootId: string, reads: TreeReads): TreePurgeDecision {
  if (!reads.states.has(rootId)) return { kind: 'read', states: [rootId], histories: [] };
  const root = reads.states.get(rootId);
  if (!root) return { kind: 'purge', members: [] };
  const tree: InstanceState[] = [root];
  const seen = new Set([rootId]);
  const states = new Set<string>();
  const histories: string[] = [];
  for (let i = 0; i < tree.length; i++) {
    const parent = tree[i]!;
    if (!isTerminalStatus(parent.runtimeStatus)) {
      const what = i === 0 ? '' : ` (a sub-orchestration of ${JSON.stringify(parent.parentInstanceId)})`;
      throw new InstanceNotTerminalError(`Cannot purge instance ${JSON.stringify(rootId)}: instance ${JSON.stringify(parent.instanceId)}${what} is ${parent.runtimeStatus}`);
    }
    const history = reads.histories.get(parent.instanceId);
    if (!history) {
      histories.push(parent.instanceId);
      continue;
    }
    for (const id of subOrchestrationsOf(history, parent.instanceId)) {
      if (seen.has(id)) continue;
      if (!reads.states.has(id)) {
        states.add(id);
        continue;
      }
      const child = reads.states.get(id);
      if (!child || !isChildOf(child, parent)) continue;
      seen.add(id);
      tree.push(child);
    }
  }
  if (states.size > 0 || histories.length > 0) return { kind: 'read', states: [...states], histories };
  return {
    kind: 'purge',
    members: tree.reverse().map(({ instanceId, executionId, version }) => ({ instanceId, executionId, version })),
  };
}

/**
 * Whether `child` is a sub-orchestration of the execution of `parent` that was read: it names `parent` as its parent,
 * and its parent call names that execution (`parentCall.executionId`). A child whose link names no execution (stored
 * before links named one) is taken by its parent's id alone.
 */
function isChildOf(child: InstanceState, parent: InstanceState): boolean {
  const execution = child.parentCall?.executionId;
  return child.parentInstanceId === parent.instanceId && (execution === undefined || execution === parent.executionId);
}

/**
 * The condition of one member of `Store.purgeInstanceSet`, the one rule every store applies in its transaction: the
 * stored instance (`undefined`: none) still runs the member's execution at its version, and is terminal.
 *
 * @example
 * ```ts
 * purgeMemberHolds({ instanceId: 'a', executionId: 'e1', version: 4 }, state); // false once a late result made it version 5
 * ```
 */
export function purgeMemberHolds(
  member: PurgeMember,
  stored: Pick<InstanceState, 'executionId' | 'version' | 'runtimeStatus'> | undefined,
): boolean {
  return stored !== undefined && stored.executionId === member.executionId && stored.version === member.version
    && isTerminalStatus(stored.runtimeStatus);
}

/**
 * Checks the argument of `Store.purgeInstanceSet` and returns it: an array of at most {@link MAX_PURGE_SET} members,
 * each a non-empty `instanceId` and `executionId` and a whole `version` of at least 1, no id twice. Anything else
 * throws `InvalidArgumentError`, before the store deletes anything.
 */
export function validatePurgeSet(members: unknown): readonly PurgeMember[] {
  if (!Array.isArray(members) || members.length > MAX_PURGE_SET) invalid('purge set', `must be an array of at most ${MAX_PURGE_SET} members`);
  const ids = new Set<string>();
  for (const m of members as Partial<Record<keyof PurgeMember, unknown>>[]) {
    if (typeof m?.instanceId !== 'string' || m.instanceId === '' || typeof m.executionId !== 'string' || m.executionId === '' || !Number.isInteger(m.version)
      || (m.version as number) < 1 || ids.has(m.instanceId)) {
      invalid('purge set', 'members must be { instanceId, executionId, version >= 1 }, each instance once');
    }
    ids.add(m.instanceId);
  }
  return members as readonly PurgeMember[];
}
