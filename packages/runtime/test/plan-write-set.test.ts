import { describe, expect, it } from 'vitest';
import type { InstanceState } from '../src/model/instance-status.js';
import type { OrchestrationMessage } from '../src/model/message.js';
import type { WriteRequest, WriteSet } from '../src/model/write-set.js';
import { instanceIdsOf, planWriteSet } from '../src/store/plan-write-set.js';

const t0 = new Date('2026-01-01T00:00:00Z');

function state(instanceId: string, overrides: Partial<InstanceState> = {}): InstanceState {
  return {
    instanceId, name: 'Echo', runtimeStatus: 'Running', createdTime: t0, lastUpdatedTime: t0, executionId: `${instanceId}-e1`,
    historyLength: 0, version: 3, ...overrides,
  };
}

function raised(id: string, instanceId: string, executionId?: string): OrchestrationMessage {
  return {
    id, instanceId, ...(executionId ? { executionId } : {}),
    event: { type: 'EventRaised', eventId: -1, timestamp: t0.toISOString(), name: 'go' },
  };
}

function create(instanceId: string, ifRunning: 'fail' | 'notify'): WriteRequest {
  return {
    type: 'createInstance', state: state(instanceId, { runtimeStatus: 'Pending', executionId: `${instanceId}-new`, version: 1 }),
    message: raised(`${instanceId}-start`, instanceId),
    ifRunning: ifRunning === 'fail' ? { kind: 'fail' } : { kind: 'notify', message: raised('conflict', 'parent', 'parent-e1') },
  };
}

describe('planWriteSet', () => {
  it('replaces a terminal instance one version higher and drops what was written for it before', () => {
    const writeSet: WriteSet = { requests: [{ type: 'insertMessage', message: raised('early', 'a'), ifMissing: 'drop' }, create('a', 'fail')] };
    expect(instanceIdsOf(writeSet)).toEqual(['a']);
    const plan = planWriteSet(writeSet, new Map([['a', state('a', { runtimeStatus: 'Completed', version: 7 })]]));
    expect(plan.replaced).toEqual(['a']);
    expect(plan.insertMessages.map((m) => m.id)).toEqual(['a-start']);
    expect(plan.states).toHaveLength(1);
    expect(plan.states[0]).toMatchObject({ isNew: true, state: { version: 8, runtimeStatus: 'Pending' } });
    expect(plan.changes).toEqual([{ instanceId: 'a', previousVersion: 7, state: plan.states[0]!.state }]);
    expect(plan.work).toBe(true);
  });

  it('creates a new id at version 1 and replaces nothing', () => {
    const plan = planWriteSet({ requests: [create('a', 'fail')] }, new Map([['a', undefined]]));
    expect(plan.replaced).toEqual([]);
    expect(plan.states[0]).toMatchObject({ isNew: true, before: undefined, state: { version: 1 } });
  });

  it('refuses a client start over a running instance, and notifies the parent of a sub-orchestration instead', () => {
    const running = new Map([['a', state('a')], ['parent', state('parent')]]);
    expect(() => planWriteSet({ requests: [create('a', 'fail')] }, running)).toThrow(expect.objectContaining({ code: 'instance-already-exists' }));
    const plan = planWriteSet({ requests: [create('a', 'notify')] }, running);
    expect(plan.states).toEqual([]);
    expect(plan.insertMessages.map((m) => m.id)).toEqual(['conflict']);
  });

  it('drops messages to missing instances or other executions, and fails a send to a missing instance', () => {
    const stored = new Map([['a', state('a')], ['gone', undefined]]);
    const plan = planWriteSet({
      requests: [
        { type: 'insertMessage', message: raised('m1', 'gone'), ifMissing: 'drop' },
        { type: 'insertMessage', message: raised('m2', 'a', 'another-execution'), ifMissing: 'drop' },
        { type: 'insertMessage', message: raised('m3', 'a', 'a-e1'), ifMissing: 'drop' },
      ],
    }, stored);
    expect(plan.insertMessages.map((m) => m.id)).toEqual(['m3']);
    expect(plan.work).toBe(true);
    expect(() => planWriteSet({ requests: [{ type: 'insertMessage', message: raised('m', 'gone'), ifMissing: 'fail' }] }, stored))
      .toThrow(expect.objectContaining({ code: 'instance-not-found' }));
  });

  it('delivers messages against the state written earlier in the same write set', () => {
    const next = state('a', { executionId: 'a-e2', version: 4 });
    const plan = planWriteSet({
      lease: { kind: 'orchestration', instanceId: 'a', token: 't' },
      requests: [
        { type: 'replaceState', state: next },
        { type: 'replaceHistory', instanceId: 'a', events: [] },
        { type: 'insertMessage', message: raised('old-timer', 'a', 'a-e1'), ifMissing: 'drop' },
        { type: 'insertMessage', message: raised('start', 'a'), ifMissing: 'drop' },
      ],
    }, new Map([['a', state('a')]]));
    expect(plan.insertMessages.map((m) => m.id)).toEqual(['start']);
    expect(plan.history).toEqual([{ instanceId: 'a', replace: true, from: 0, events: [] }]);
    expect(plan.states).toEqual([{ state: next, isNew: false, before: state('a') }]);
    expect(plan.changes).toEqual([{ instanceId: 'a', previousVersion: 3, state: next }]);
  });

  it('signals no work when an activity result is dropped', () => {
    const plan = planWriteSet({
      lease: { kind: 'activity', taskId: 'task', token: 't' },
      requests: [{ type: 'deleteTask', taskId: 'task' }, { type: 'insertMessage', message: raised('r', 'a', 'old'), ifMissing: 'drop' }],
    }, new Map([['a', state('a')]]));
    expect(plan.deleteTasks).toEqual(['task']);
    expect(plan.insertMessages).toEqual([]);
    expect(plan.work).toBe(false);
  });
});
