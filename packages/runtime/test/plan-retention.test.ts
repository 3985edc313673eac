import { describe, expect, it } from 'vitest';
import type { InstanceState, OrchestrationRuntimeStatus } from '../src/model/instance-status.js';
import { isDueForPurge, membersLeft, planRetention, retentionCutoff } from '../src/store/plan-retention.js';
import { retentionIntervalMs } from '../src/worker/retention-sweep.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const HOUR = 3_600_000;

function state(
  instanceId: string, runtimeStatus: OrchestrationRuntimeStatus, endedAtMs: number,
  o: { parent?: string; parentExecution?: string; executionId?: string } = {},
): InstanceState {
  return {
    instanceId, name: 'Orch', runtimeStatus, createdTime: new Date(T0), lastUpdatedTime: new Date(endedAtMs),
    executionId: o.executionId ?? `${instanceId}-e1`, historyLength: 3, version: 4,
    ...(o.parent === undefined ? {} : {
      parentInstanceId: o.parent,
      parentCall: { taskScheduledId: 0, ...(o.parentExecution === undefined ? {} : { executionId: o.parentExecution }) },
    }),
  };
}

const member = (s: InstanceState) => ({ instanceId: s.instanceId, executionId: s.executionId, version: s.version });

describe('isDueForPurge', () => {
  const now = new Date(T0 + 2 * HOUR);
  it('counts the period from the end, inclusive, for the statuses that have one', () => {
    expect(isDueForPurge(state('a', 'Completed', T0 + HOUR), now, { completed: HOUR })).toBe(true);
    expect(isDueForPurge(state('a', 'Completed', T0 + HOUR + 1), now, { completed: HOUR })).toBe(false);
    expect(isDueForPurge(state('a', 'Failed', T0), now, { completed: 0 })).toBe(false);
    expect(isDueForPurge(state('a', 'Terminated', T0), now, { terminated: Infinity })).toBe(false);
    expect(isDueForPurge(state('a', 'Terminated', T0), now, { terminated: 0 })).toBe(true);
  });

  it('is never true of an instance that has not ended', () => {
    for (const status of ['Pending', 'Running', 'Suspended', 'ContinuedAsNew'] as const) {
      expect(isDueForPurge(state('a', status, T0), now, { completed: 0, failed: 0, terminated: 0 })).toBe(false);
    }
  });
});

describe('retentionCutoff and the default interval', () => {
  it('lists each status from its own period; none without a period', () => {
    const now = new Date(T0 + 10 * HOUR);
    const periods = { completed: 2 * HOUR, failed: 5 * HOUR };
    expect(retentionCutoff(now, 'Completed', periods)).toEqual(new Date(T0 + 8 * HOUR));
    expect(retentionCutoff(now, 'Failed', periods)).toEqual(new Date(T0 + 5 * HOUR));
    expect(retentionCutoff(now, 'Terminated', periods)).toBeUndefined();
    expect(retentionCutoff(now, 'Running', { completed: 0, failed: 0, terminated: 0 })).toBeUndefined();
    expect(retentionCutoff(now, 'Failed', { failed: Infinity })).toBeUndefined();
    expect(retentionCutoff(now, 'Failed', { failed: 1e16 })).toEqual(new Date(-8.64e15)); // the earliest Date, not an Invalid one
  });

  it('sweeps every shortest period, within 10 s and 5 min, unless told', () => {
    expect(retentionIntervalMs({ completed: 30_000 })).toBe(30_000);
    expect(retentionIntervalMs({ completed: 0 })).toBe(10_000);
    expect(retentionIntervalMs({ completed: 24 * HOUR })).toBe(300_000);
    expect(retentionIntervalMs({ completed: 24 * HOUR, intervalMs: 10 })).toBe(10);
  });
});

describe('planRetention', () => {
  const now = new Date(T0 + 10 * HOUR);
  const periods = { completed: HOUR, failed: 5 * HOUR };

  it('purges due top-level instances with the snapshot read and leaves the rest', () => {
    const due = state('due', 'Completed', T0);
    const recent = state('recent', 'Completed', T0 + 9.5 * HOUR);
    const failed = state('failed', 'Failed', T0 + 6 * HOUR);
    expect(planRetention([due, recent, failed], new Map(), now, periods)).toMatchObject({ kind: 'purge', members: [member(due)] });
  });

  it('asks for the parents it needs, then keeps a child while the execution that started it is kept', () => {
    const child = state('child', 'Completed', T0, { parent: 'p', parentExecution: 'p-e1' });
    expect(planRetention([child], new Map(), now, periods)).toEqual({ kind: 'read', instanceIds: ['p'] });
    const running = state('p', 'Running', T0);
    expect(planRetention([child], new Map([['p', running]]), now, periods)).toMatchObject({ kind: 'purge', members: [] });
    const endedRecently = state('p', 'Completed', T0 + 9.5 * HOUR);
    expect(planRetention([child], new Map([['p', endedRecently]]), now, periods)).toMatchObject({ kind: 'purge', members: [] });
    // Its due parent goes with it, first: the child's purge holds only while the parent is the snapshot read.
    const endedLongAgo = state('p', 'Completed', T0);
    expect(planRetention([child], new Map([['p', endedLongAgo]]), now, periods)).toEqual({
      kind: 'purge', members: [member(endedLongAgo), member(child)], dependsOn: new Map([['p', []], ['child', ['p']]]),
    });
  });

  it('decides a child on its own when its parent is gone, runs another execution, or the link names none', () => {
    const child = state('child', 'Completed', T0, { parent: 'p', parentExecution: 'p-e1' });
    const unnamed = state('old', 'Completed', T0, { parent: 'p' });
    const continued = state('p', 'Running', T0, { executionId: 'p-e2' });
    expect(planRetention([child], new Map([['p', undefined]]), now, periods)).toMatchObject({ kind: 'purge', members: [member(child)] });
    expect(planRetention([child, unnamed], new Map([['p', continued]]), now, periods)).toMatchObject({ kind: 'purge', members: [member(child), member(unnamed)] });
    expect(planRetention([unnamed], new Map([['p', state('p', 'Running', T0)]]), now, periods)).toMatchObject({ kind: 'purge', members: [member(unnamed)] });
  });

  it('walks up the tree: a grandchild is kept by a running root through its due parent', () => {
    const leaf = state('leaf', 'Completed', T0, { parent: 'mid', parentExecution: 'mid-e1' });
    const mid = state('mid', 'Completed', T0, { parent: 'root', parentExecution: 'root-e1' });
    // `mid` is listed in the page: no read of it, only of the root.
    expect(planRetention([mid, leaf], new Map(), now, periods)).toEqual({ kind: 'read', instanceIds: ['root'] });
    expect(planRetention([mid, leaf], new Map([['root', state('root', 'Running', T0)]]), now, periods)).toMatchObject({ kind: 'purge', members: [] });
    const root = state('root', 'Failed', T0);
    expect(planRetention([mid, leaf], new Map([['root', root]]), now, periods)).toEqual({
      kind: 'purge', members: [member(root), member(mid), member(leaf)],
      dependsOn: new Map([['root', []], ['mid', ['root']], ['leaf', ['root', 'mid']]]),
    });
  });

  it('ends on a cycle of parents', () => {
    const a = state('a', 'Completed', T0, { parent: 'b', parentExecution: 'b-e1' });
    const b = state('b', 'Completed', T0, { parent: 'a', parentExecution: 'a-e1' });
    expect(planRetention([a, b], new Map(), now, periods)).toMatchObject({ kind: 'purge', members: [member(b), member(a)] });
  });

  it('leaves out a member found changed and every member decided on its snapshot', () => {
    const root = state('root', 'Failed', T0);
    const mid = state('mid', 'Completed', T0, { parent: 'root', parentExecution: 'root-e1' });
    const leaf = state('leaf', 'Completed', T0, { parent: 'mid', parentExecution: 'mid-e1' });
    const alone = state('alone', 'Completed', T0);
    const decision = planRetention([mid, leaf, alone], new Map([['root', root]]), now, periods);
    if (decision.kind !== 'purge') throw new Error('expected a purge');
    expect(membersLeft(decision.members, decision.dependsOn, new Set(['root']))).toEqual([member(alone)]);
    expect(membersLeft(decision.members, decision.dependsOn, new Set(['mid']))).toEqual([member(root), member(alone)]);
    expect(membersLeft(decision.members, decision.dependsOn, new Set(['leaf']))).toEqual([member(root), member(mid), member(alone)]);
  });

  it('notes the ended parents it finds keeping a due child, until they become due, and not a running one', () => {
    const child = state('child', 'Completed', T0, { parent: 'p', parentExecution: 'p-e1' });
    const failed = state('p', 'Failed', T0 + 6 * HOUR);
    expect(planRetention([child], new Map([['p', failed]]), now, periods)).toMatchObject({
      kind: 'purge', members: [], keeps: new Map([['p', { executionId: 'p-e1', version: 4, until: T0 + 11 * HOUR }]]), recheckAt: T0 + 11 * HOUR,
    });
    expect(planRetention([child], new Map([['p', state('p', 'Running', T0)]]), now, periods)).not.toHaveProperty('keeps');
    // Up the tree: the due parent is kept for as long as the failed root that keeps it.
    const leaf = state('leaf', 'Completed', T0, { parent: 'mid', parentExecution: 'mid-e1' });
    const mid = state('mid', 'Completed', T0, { parent: 'root', parentExecution: 'root-e1' });
    expect(planRetention([mid, leaf], new Map([['root', state('root', 'Failed', T0 + 6 * HOUR)]]), now, periods)).toMatchObject({
      members: [],
      keeps: new Map([['root', { executionId: 'root-e1', version: 4, until: T0 + 11 * HOUR }], ['mid', { executionId: 'mid-e1', version: 4, until: T0 + 11 * HOUR }]]),
    });
  });

  it('says when a candidate it left may be due: its own due time, or when the ended ancestor that keeps it becomes due', () => {
    const recent = state('recent', 'Completed', T0 + 9.5 * HOUR); // due at T0 + 10.5 h
    const child = state('child', 'Completed', T0, { parent: 'p', parentExecution: 'p-e1' });
    const failed = state('p', 'Failed', T0 + 6 * HOUR); // due at T0 + 11 h
    expect(planRetention([recent], new Map(), now, periods)).toMatchObject({ recheckAt: T0 + 10.5 * HOUR });
    expect(planRetention([recent, child], new Map([['p', failed]]), now, periods)).toMatchObject({ recheckAt: T0 + 10.5 * HOUR });
    expect(planRetention([child], new Map([['p', failed]]), now, periods)).toMatchObject({ recheckAt: T0 + 11 * HOUR });
    // Kept by a running parent, or purged: no time (a sweep lists again by its period).
    expect(planRetention([child], new Map([['p', state('p', 'Running', T0)]]), now, periods)).not.toHaveProperty('recheckAt');
    // The running parent is named instead, for a caller to list the child again once it sees that parent ended.
    expect(planRetention([child], new Map([['p', state('p', 'Running', T0)]]), now, periods)).toMatchObject({ waitsOn: new Set(['p']) });
    expect(planRetention([child], new Map([['p', failed]]), now, periods)).not.toHaveProperty('waitsOn');
    expect(planRetention([state('due', 'Completed', T0)], new Map(), now, periods)).not.toHaveProperty('recheckAt');
    // A parent whose status has no period keeps it with no time either.
    expect(planRetention([child], new Map([['p', state('p', 'Terminated', T0)]]), now, periods)).not.toHaveProperty('recheckAt');
  });

  it('keeps a child with no read while a parent it is given as keeping it keeps the execution that started it', () => {
    const child = state('child', 'Completed', T0, { parent: 'p', parentExecution: 'p-e1' });
    const keeping = (executionId: string, until: number) => new Map([['p', { executionId, until }]]);
    expect(planRetention([child], new Map(), now, periods, keeping('p-e1', T0 + 11 * HOUR)))
      .toEqual({ kind: 'purge', members: [], dependsOn: new Map(), recheckAt: T0 + 11 * HOUR });
    // Not past its time, nor for another execution: read.
    expect(planRetention([child], new Map(), now, periods, keeping('p-e1', T0 + 10 * HOUR))).toEqual({ kind: 'read', instanceIds: ['p'] });
    expect(planRetention([child], new Map(), now, periods, keeping('p-e0', T0 + 11 * HOUR))).toEqual({ kind: 'read', instanceIds: ['p'] });
    // A snapshot read or listed is decided on, whatever was noted: a parent started again (another execution) or due.
    const restarted = state('p', 'Running', T0, { executionId: 'p-e2' });
    expect(planRetention([child], new Map([['p', restarted]]), now, periods, keeping('p-e1', T0 + 11 * HOUR))).toMatchObject({ members: [member(child)] });
    const due = state('p', 'Failed', T0);
    expect(planRetention([due, child], new Map(), now, periods, keeping('p-e1', T0 + 11 * HOUR))).toMatchObject({ members: [member(due), member(child)] });
  });
});
