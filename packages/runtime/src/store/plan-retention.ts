import { isTerminalStatus, type InstanceState, type OrchestrationRuntimeStatus } from '../model/instance-status.js';
import type { PurgeMember } from './store.js';

/**
 * How long ended instances are kept, per status, in ms counted from the instance's end (its `lastUpdatedTime` as an
 * ended instance); a status left out (or `Infinity`) is kept until purged by hand. `0` purges an instance at the first
 * pass that sees it ended. Only the ended statuses have a period: a Pending, Running, Suspended or ContinuedAsNew
 * instance is never due.
 *
 * @example
 * ```ts
 * const periods: RetentionPeriods = { completed: 86_400_000, failed: 7 * 86_400_000 }; // Terminated ones are kept
 * ```
 */
export interface RetentionPeriods {
  /** Completed instances: kept this long after they completed. */
  readonly completed?: number;
  /** Failed instances: kept this long after they failed (longer, to debug or rewind them, is common). */
  readonly failed?: number;
  /** Terminated instances: kept this long after they were terminated. */
  readonly terminated?: number;
}

/** The period of `status` (ms), or `undefined` when instances of that status are kept (not ended, or no period). */
export function retentionPeriodOf(status: OrchestrationRuntimeStatus, periods: RetentionPeriods): number | undefined {
  const period = status === 'Completed' ? periods.completed : status === 'Failed' ? periods.failed : status === 'Terminated' ? periods.terminated : undefined;
  return period === undefined || period === Infinity ? undefined : period;
}

/** The statuses that have a period, the filter a sweep lists its candidates by. */
export function retainedStatuses(periods: RetentionPeriods): OrchestrationRuntimeStatus[] {
  return (['Completed', 'Failed', 'Terminated'] as const).filter((status) => retentionPeriodOf(status, periods) !== undefined);
}

/**
 * The latest `createdTime` an instance of `status` due at `now` can have: `now` less the period of that status (an
 * instance that ended before its period began was created before that too), and no earlier than the earliest time a
 * Date holds (a period of 10^16 ms, some 300,000 years, lists nothing rather than an Invalid Date). A sweep lists the
 * candidates of each status with its own cutoff as `createdTimeTo` (a status kept for a week is not listed back to the
 * cutoff of one kept for a minute), then decides each by {@link isDueForPurge}. `undefined` when the status has no
 * period.
 */
export function retentionCutoff(now: Date, status: OrchestrationRuntimeStatus, periods: RetentionPeriods): Date | undefined {
  const period = retentionPeriodOf(status, periods);
  return period === undefined ? undefined : new Date(Math.max(now.getTime() - period, -8.64e15));
}

/** The shortest period of `periods` (ms), or `undefined` when no status has one. */
export function shortestPeriod(periods: RetentionPeriods): number | undefined {
  const shortest = Math.min(...retainedStatuses(periods).map((status) => retentionPeriodOf(status, periods)!));
  return shortest === Infinity ? undefined : shortest;
}

/**
 * The one rule of retention, for one instance on its own: it has ended (Completed, Failed or Terminated), its status
 * has a period, and that period has passed at `now`, counted from its end (`lastUpdatedTime`: the time it ended, or of
 * a later change recorded on the ended instance, such as a late result recorded and ignored). Whether a
 * sub-orchestration is also kept for its parent's sake is {@link planRetention}'s to decide.
 *
 * @example
 * ```ts
 * isDueForPurge(completedAtNoon, new Date('2026-12-06T12:00:00Z'), { completed: 86_400_000 }); // true: a day passed
 * isDueForPurge(runningInstance, new Date(), { completed: 0 }); // false: never one that has not ended
 * ```
 */
export function isDueForPurge(
  state: Pick<InstanceState, 'runtimeStatus' | 'lastUpdatedTime'>, now: Date, periods: RetentionPeriods,
): boolean {
  return dueTimeOf(state, periods) <= now.getTime();
}

/**
 * The time (ms) at which `state` becomes due on its own ({@link isDueForPurge}): its end plus its status's period, or
 * `Infinity` for one that has not ended or whose status has no period.
 */
function dueTimeOf(state: Pick<InstanceState, 'runtimeStatus' | 'lastUpdatedTime'>, periods: RetentionPeriods): number {
  if (!isTerminalStatus(state.runtimeStatus)) return Infinity;
  const period = retentionPeriodOf(state.runtimeStatus, periods);
  return period === undefined ? Infinity : state.lastUpdatedTime.getTime() + period;
}

/**
 * Whether `parent` (the instance now under a sub-orchestration's `parentInstanceId`) is the execution that started
 * `child`, so that the child is kept as long as it is: its `parentCall` names that execution. A parent that continued
 * as new, was started again or was purged (and perhaps started again) no longer is, and a link stored before
 * executions were named in it (no `parentCall.executionId`) names none: such a child is decided on its own.
 */
export function parentKeeps(child: Pick<InstanceState, 'parentCall'>, parent: Pick<InstanceState, 'executionId'>): boolean {
  const execution = child.parentCall?.executionId;
  return execution !== undefined && execution === parent.executionId;
}

/**
 * Whether a parent that had not ended, found running `executionId` as it kept a due sub-orchestration
 * ({@link planRetention}'s `waitsOn`), keeps it no longer as it did: `state` (read, or told by a change feed) is gone,
 * ended, or runs another execution (continued as new, started again). Its sub-orchestrations are then decided afresh:
 * by its end and period, or by their own end.
 *
 * @example
 * ```ts
 * waitIsOver('e1', await store.getInstance('parent')); // true once it ended, was purged, or runs 'e2'
 * ```
 */
export function waitIsOver(executionId: string | undefined, state: Pick<InstanceState, 'runtimeStatus' | 'executionId'> | undefined): boolean {
  return state === undefined || isTerminalStatus(state.runtimeStatus) || state.executionId !== executionId;
}

/**
 * An ended parent execution found keeping its sub-orchestrations: it keeps those that name `executionId` (their
 * `parentCall.executionId`) until `until` (ms) at least, as long as it is still that execution. See
 * {@link planRetention}'s `keeping`.
 */
export interface KeptParent {
  readonly executionId: string;
  readonly until: number;
}

/**
 * An ended parent a decision found keeping ({@link planRetention}'s `keeps`): a {@link KeptParent} with the `version`
 * of the snapshot it was decided on, so that a caller who reads it again can tell whether it changed since.
 */
export interface NotedKeptParent extends KeptParent {
  readonly version: number;
  /**
   * Of a due instance in a chain: the ended ancestor whose period keeps it. It keeps only as long as that ancestor
   * does, so a caller forgets it with that ancestor (changed, gone, or due).
   */
  readonly keptBy?: string;
}

/** The decision of {@link planRetention}: which parents to read first, or which instances to purge on which conditions. */
export type RetentionDecision =
  | { readonly kind: 'read'; readonly instanceIds: readonly string[] }
  | {
    readonly kind: 'purge';
    /** Each member after the members it depends on (its ancestors that are purged with it). */
    readonly members: readonly PurgeMember[];
    /**
     * The members each member's purge was decided on besides its own snapshot: the ancestors (purged with it) whose
     * snapshots did not keep it. One of them found changed takes the members that depend on it out too
     * ({@link membersLeft}).
     */
    readonly dependsOn: ReadonlyMap<string, readonly string[]>;
    /**
     * The ended parents (by instance id) that this decision found keeping a due sub-orchestration, each until the
     * time the ended ancestor that keeps it becomes due (`Infinity` for a status without a period); absent when none.
     * A caller may give them back as `keeping` to later decisions, so as not to read those parents again, and forgets
     * one that changed. A due parent kept by the ended ancestor above it is one of them, until that ancestor's time: an
     * entry that outlives a change of the ancestor only keeps more, and never past that time.
     */
    readonly keeps?: ReadonlyMap<string, NotedKeptParent>;
    /**
     * The earliest time (ms) at which a candidate this decision left may be due: one not due on its own yet, at its own
     * due time; one an ended ancestor keeps, at the time that ancestor becomes due. Absent when none left has such a
     * time: none was left, or only ancestors that have not ended (when they will is not known) or whose status has no
     * period keep them. A caller that will not list these candidates again (a sweep that goes on past them) lists
     * them again by then, by a period (for those ancestors), or once an ancestor it remembers changes.
     */
    readonly recheckAt?: number;
    /**
     * The ancestors that had not ended (by instance id) found keeping a due candidate, which has no `recheckAt` for
     * their sake: a caller that will not list it again lists it again once it sees one of them ended or gone.
     * Absent when none.
     */
    readonly waitsOn?: ReadonlySet<string>;
  };

/**
 * Which of a page of candidates a retention sweep purges at `now`. Pure: when it needs the state of a parent it has
 * not been given (`kind: 'read'`), the caller reads those ids (`undefined` for a missing one), adds them to `parents`
 * and asks again.
 *
 * A candidate is purged when it is due on its own ({@link isDueForPurge}) and no ancestor keeps it: a sub-orchestration
 * is kept as long as the execution that started it ({@link parentKeeps}) is kept, that is, while that parent has not
 * ended, or ended less than its own period ago, or is kept by its own parent, up the tree. So an instance never loses a
 * sub-orchestration its history still names while it can be read; a parent may go before its children, which then go
 * by their own periods (a child whose status has no period stays until purged by hand). A child whose parent is gone or runs another
 * execution (an eternal orchestration that continued as new, a parent restarted or purged on its own) is decided by
 * its own end, so nothing is kept for ever.
 *
 * Each member carries the execution and version read: the store deletes it only while it still is that snapshot
 * (`purgeMemberHolds`), so an instance started again, rewound or changed since it was read is never purged on a stale
 * decision. A sub-orchestration purged because its ancestors are due depends on their snapshots too: those ancestors
 * are members as well (read by the caller, if not listed), placed before it, so sets sent in order never delete it
 * while an ancestor is still there to change, and one found changed (a parent rewound, which reruns its failed
 * sub-orchestrations in place) takes it out of the purge ({@link membersLeft}).
 *
 * A purge decision also says when the earliest candidate it left may be due (`recheckAt`), and which ancestors that
 * had not ended keep one (`waitsOn`: when they end is not known), for a caller that goes on past them instead of
 * listing them again.
 *
 * `keeping` holds what earlier decisions found (their `keeps`): an ancestor neither listed nor read that is known there
 * to keep the execution that started the one below until after `now` keeps the candidate, with no read. That only ever keeps
 * more: an ended parent that is rewound, started again or purged by hand since keeps its children (which may by then be
 * due sooner, or go by their own end) until the caller stops giving it. Only ended parents are found keeping (`keeps`),
 * and only by an ended ancestor: a running one changes execution on its own (`continueAsNew`), and is read each time.
 *
 * @example
 * ```ts
 * planRetention(page.instances, new Map(), now, { completed: 3_600_000 }); // { kind: 'read', instanceIds: [parent ids] } or { kind: 'purge', members }
 * ```
 */
export function planRetention(
  candidates: readonly InstanceState[], parents: ReadonlyMap<string, InstanceState | undefined>, now: Date, periods: RetentionPeriods,
  keeping: ReadonlyMap<string, KeptParent> = new Map(),
): RetentionDecision {
  const listed = new Map(candidates.map((state) => [state.instanceId, state]));
  const read = new Set<string>();
  const members: PurgeMember[] = [];
  const dependsOn = new Map<string, readonly string[]>();
  const keeps = new Map<string, NotedKeptParent>();
  const waitsOn = new Set<string>();
  const nowMs = now.getTime();
  let recheckAt = Infinity;
  for (const candidate of candidates) {
    if (!isDueForPurge(candidate, now, periods)) {
      recheckAt = Math.min(recheckAt, dueTimeOf(candidate, periods));
      continue;
    }
    let kept = false;
    const seen = new Set([candidate.instanceId]);
    // The due ancestors whose execution started the one below, nearest first: each is purged with the candidate.
    const chain: InstanceState[] = [];
    for (let state = candidate; state.parentInstanceId !== undefined && !seen.has(state.parentInstanceId);) {
      const parentId = state.parentInstanceId;
      seen.add(parentId);
      const parent = parents.has(parentId) ? parents.get(parentId) : listed.get(parentId);
      if (parent === undefined && !parents.has(parentId)) {
        // Not read: known to keep it (and so the due ancestors below, for as long), else undecided until it is read.
        const known = keeping.get(parentId);
        if (known !== undefined && known.until > nowMs && known.executionId === state.parentCall?.executionId) {
          for (const above of chain) keeps.set(above.instanceId, keptBy(above, known.until, parentId));
          recheckAt = Math.min(recheckAt, known.until);
        } else {
          read.add(parentId);
        }
        kept = true;
        break;
      }
      if (parent === undefined || !parentKeeps(state, parent)) break;
      if (!isDueForPurge(parent, now, periods)) {
        if (isTerminalStatus(parent.runtimeStatus)) {
          const until = dueTimeOf(parent, periods);
          keeps.set(parent.instanceId, keptBy(parent, until));
          for (const above of chain) keeps.set(above.instanceId, keptBy(above, until, parent.instanceId));
          recheckAt = Math.min(recheckAt, until);
        } else {
          waitsOn.add(parent.instanceId);
        }
        kept = true;
        break;
      }
      chain.push(parent);
      state = parent;
    }
    if (kept) continue;
    // The root first: each member after the ones it depends on.
    const line = [...chain.reverse(), candidate];
    line.forEach((state, i) => {
      if (dependsOn.has(state.instanceId)) return;
      dependsOn.set(state.instanceId, line.slice(0, i).map((above) => above.instanceId));
      members.push({ instanceId: state.instanceId, executionId: state.executionId, version: state.version });
    });
  }
  if (read.size > 0) return { kind: 'read', instanceIds: [...read] };
  return {
    kind: 'purge', members, dependsOn, ...(keeps.size > 0 ? { keeps } : {}), ...(recheckAt < Infinity ? { recheckAt } : {}),
    ...(waitsOn.size > 0 ? { waitsOn } : {}),
  };
}

/**
 * An ended ancestor, or a due one in a chain kept by the ended ancestor `by`, kept until `until` (the time of the ended
 * ancestor that keeps the chain).
 */
function keptBy(state: InstanceState, until: number, by?: string): NotedKeptParent {
  return { executionId: state.executionId, version: state.version, until, ...(by === undefined ? {} : { keptBy: by }) };
}

/**
 * The members of `set` a sweep may still purge once the store found the members `changed` changed (or gone): not
 * those, nor any member that depends on one of them (`dependsOn` of {@link planRetention}), whose purge was decided
 * on that member's snapshot.
 *
 * @example
 * ```ts
 * membersLeft(set, decision.dependsOn, new Set(['parent'])); // neither 'parent' nor the sub-orchestrations it kept due
 * ```
 */
export function membersLeft(
  set: readonly PurgeMember[], dependsOn: ReadonlyMap<string, readonly string[]>, changed: ReadonlySet<string>,
): PurgeMember[] {
  return set.filter(({ instanceId }) => !changed.has(instanceId) && !(dependsOn.get(instanceId) ?? []).some((id) => changed.has(id)));
}
