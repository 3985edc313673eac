import { describe, expect, it } from 'vitest';
import { MAX_REMEMBERED_EVENT_KEYS, type InstanceState } from '../src/model/instance-status.js';
import type { OrchestrationMessage } from '../src/model/message.js';
import type { CreateInstanceWrite, InstanceCondition, WriteRequest, WriteSet } from '../src/model/write-set.js';
import { decideRewind, decideStep, decideSuspend, decideTerminate, type DirectDecision } from '../src/engine/decide-step.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { OrchestrationExecution } from '../src/engine/orchestration-execution.js';
import type { ExecutionTerminatedEvent, HistoryEvent } from '../src/model/history-event.js';
import {
  activityStepHolds, changesNothing, checkWriteLease, heldUntilStart, instanceIdsOf, leaseLostError, planWriteSet, raiseKeyIdsOf, rewindsChild, signalsWork, unclaimedHolds, writesInput,
} from '../src/store/plan-write-set.js';
import { HistoryBuilder } from '../src/testing/history-builder.js';

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
  it('names the member a malformed idempotency key came in: createInstance\'s or insertMessage\'s', () => {
    const signalled = { ...create('a', 'fail'), signal: raised('a-signal', 'a'), idempotencyKey: 'two words' } as WriteRequest;
    expect(() => planWriteSet({ requests: [signalled] }, new Map([['a', undefined]])))
      .toThrow(expect.objectContaining({ code: 'invalid-argument', message: expect.stringContaining('createInstance.idempotencyKey') }));
    const keyed: WriteRequest = { type: 'insertMessage', message: raised('m', 'a'), ifMissing: 'drop', idempotencyKey: 'two words' };
    expect(() => planWriteSet({ requests: [keyed] }, new Map([['a', state('a')]])))
      .toThrow(expect.objectContaining({ code: 'invalid-argument', message: expect.stringContaining('insertMessage.idempotencyKey') }));
  });

  it('refuses a lease a request stores its work with whose expiry is an Invalid Date, or whose owner or token is malformed, naming the member', () => {
    // An Invalid Date expiry is neither live nor expired: the work it held was never claimed again.
    const good = { owner: 'w1', token: 'start', expiresAt: t0 };
    const task = { id: 't1', instanceId: 'a', executionId: 'a-e1', name: 'Work', taskScheduledId: 0, attempt: 1 };
    for (const lease of [{ ...good, expiresAt: new Date(NaN) }, { ...good, expiresAt: t0.getTime() }, { ...good, owner: '' }, { ...good, token: '' }, null]) {
      const leased = { ...create('a', 'fail'), lease } as WriteRequest;
      expect(() => planWriteSet({ requests: [leased] }, new Map([['a', undefined]])))
        .toThrow(expect.objectContaining({ code: 'invalid-argument', message: expect.stringContaining('createInstance.lease') }));
      const inserted = { type: 'insertTask', task, lease } as WriteRequest;
      expect(() => planWriteSet({ requests: [inserted] }, new Map([['a', state('a')]])))
        .toThrow(expect.objectContaining({ code: 'invalid-argument', message: expect.stringContaining('insertTask.lease') }));
    }
    expect(planWriteSet({ requests: [{ ...create('a', 'fail'), lease: good } as WriteRequest] }, new Map([['a', undefined]])).states[0]!.lease).toEqual(good);
  });

  it('lets an unclaimed write go ahead of the queued message it takes (UnclaimedLease.takes), not of another command', () => {
    const terminate = (id: string): OrchestrationMessage => ({
      id, instanceId: 'child', event: { type: 'ExecutionTerminated', eventId: -1, timestamp: t0.toISOString(), recursive: true },
    });
    const child = state('child', { parentInstanceId: 'p' });
    const lease = { kind: 'unclaimed', instanceId: 'child', executionId: 'child-e1', version: 3, now: t0, takes: 'handed-on' } as const;
    expect(unclaimedHolds(lease, { state: child, instanceLease: undefined, messages: [terminate('handed-on')] })).toBe(true);
    expect(unclaimedHolds(lease, { state: child, instanceLease: undefined, messages: [terminate('handed-on'), terminate('another')] })).toBe(false);
    expect(() => checkWriteLease({ ...lease, takes: '' })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('delivers a message meant for an active child (ifActiveChildOf) only to a non-terminal sub-orchestration of that parent', () => {
    const terminate = (id: string, to: string): WriteRequest => ({
      type: 'insertMessage', ifMissing: 'drop', ifActiveChildOf: 'p',
      message: { id, instanceId: to, event: { type: 'ExecutionTerminated', eventId: -1, timestamp: t0.toISOString(), recursive: true } },
    });
    const stored = new Map([
      ['child', state('child', { parentInstanceId: 'p' })],
      ['ended', state('ended', { parentInstanceId: 'p', runtimeStatus: 'Completed' })],
      ['others', state('others', { parentInstanceId: 'q' })],
      ['top', state('top')],
    ]);
    const plan = planWriteSet({ requests: ['child', 'ended', 'others', 'top', 'gone'].map((to) => terminate(`to-${to}`, to)) }, stored);
    expect(plan.insertMessages.map((m) => m.id)).toEqual(['to-child']);
  });

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

  it("refuses a start with ifExists 'fail' over any instance, and plans nothing for one with 'useExisting'", () => {
    const withIf = (ifExists: CreateInstanceWrite['ifExists']): WriteSet => ({ requests: [{ ...create('a', 'fail') as CreateInstanceWrite, ifExists }] });
    for (const status of ['Completed', 'Failed', 'Terminated', 'Pending', 'Running', 'Suspended'] as const) {
      const stored = new Map([['a', state('a', { runtimeStatus: status })]]);
      expect(() => planWriteSet(withIf('fail'), stored), status).toThrow(expect.objectContaining({ code: 'instance-already-exists', status: 409 }));
      const kept = planWriteSet(withIf('useExisting'), stored);
      expect(kept, status).toMatchObject({ replaced: [], history: [], insertMessages: [], states: [], changes: [], work: false });
      expect(changesNothing(kept, false), status).toBe(true);
    }
    // Over no instance both create, as without the option; 'overwrite' is the default.
    for (const ifExists of ['fail', 'useExisting', 'overwrite'] as const) {
      expect(planWriteSet(withIf(ifExists), new Map([['a', undefined]])).states[0], ifExists).toMatchObject({ isNew: true, state: { version: 1 } });
    }
    const replaced = planWriteSet(withIf('overwrite'), new Map([['a', state('a', { runtimeStatus: 'Completed', version: 7 })]]));
    expect(replaced.states[0]).toMatchObject({ isNew: true, state: { version: 8 } });
    expect(() => planWriteSet(withIf('skip' as never), new Map([['a', undefined]]))).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('rewinds a Failed sub-orchestration of the same parent in place (ifFailed), and replaces any other terminal instance', () => {
    const rewind: OrchestrationMessage = { id: 'rewind', instanceId: 'a', event: { type: 'ExecutionRewound', eventId: -1, timestamp: t0.toISOString() } };
    const base = create('a', 'notify') as CreateInstanceWrite;
    const request: CreateInstanceWrite = { ...base, state: { ...base.state, parentInstanceId: 'parent' }, ifFailed: rewind };
    const failedChild = state('a', { runtimeStatus: 'Failed', parentInstanceId: 'parent' });
    const rewound = planWriteSet({ requests: [request] }, new Map([['a', failedChild], ['parent', state('parent')]]));
    expect(rewound.replaced).toEqual([]);
    expect(rewound.states).toEqual([]);
    expect(rewound.insertMessages.map((m) => m.id)).toEqual(['rewind']);
    for (const other of [
      { ...failedChild, runtimeStatus: 'Completed' as const }, { ...failedChild, parentInstanceId: 'another' },
      { ...failedChild, name: 'Other' }, state('a', { runtimeStatus: 'Failed' }),
    ]) {
      const plan = planWriteSet({ requests: [request] }, new Map([['a', other], ['parent', state('parent')]]));
      expect(plan.replaced).toEqual(['a']);
      expect(plan.insertMessages.map((m) => m.id)).toEqual(['a-start']);
    }
  });

  it('attaches a rerun call to an active sub-orchestration that reports to that very call, once per write set; one that reports to another is told it runs', () => {
    const rewind: OrchestrationMessage = { id: 'rewind', instanceId: 'a', event: { type: 'ExecutionRewound', eventId: -1, timestamp: t0.toISOString() } };
    const base = create('a', 'notify') as CreateInstanceWrite;
    const call = { executionId: 'parent-e2', taskScheduledId: 3 };
    const request: CreateInstanceWrite = { ...base, state: { ...base.state, parentInstanceId: 'parent', parentCall: call }, ifFailed: rewind };
    // The child that failed the call, rewound on its own (or the execution it continued as: the same call).
    const runningChild = state('a', { parentInstanceId: 'parent', parentCall: call });
    expect(rewindsChild(runningChild, request.state)).toBe(true);
    const stored = new Map([['a', runningChild], ['parent', state('parent')]]);
    const attached = planWriteSet({ requests: [request] }, stored);
    expect(attached.states).toEqual([]);
    expect(attached.insertMessages.map((m) => m.id)).toEqual(['rewind']);
    // A second create of the write set: it is being rewound, the call is told it runs.
    expect(planWriteSet({ requests: [request, request] }, stored).insertMessages.map((m) => m.id)).toEqual(['rewind', 'conflict']);
    // One that reports to another call, or to the same call of another execution of the parent (it ran when the call
    // was made: the call failed for it), one stored without its call, another parent's or another orchestrator's
    // instance, and one Suspended for another call: never attached.
    for (const other of [
      { ...runningChild, parentCall: { ...call, taskScheduledId: 2 } }, { ...runningChild, parentCall: { ...call, executionId: 'parent-e1' } },
      { ...runningChild, parentCall: { taskScheduledId: 3 } }, state('a', { parentInstanceId: 'parent' }),
      { ...runningChild, parentInstanceId: 'another' }, { ...runningChild, name: 'Other' },
      { ...runningChild, runtimeStatus: 'Suspended' as const, parentCall: { ...call, executionId: 'parent-e1' } },
    ]) {
      expect(rewindsChild(other, request.state)).toBe(false);
      expect(planWriteSet({ requests: [request] }, new Map([['a', other], ['parent', state('parent')]])).insertMessages.map((m) => m.id)).toEqual(['conflict']);
    }
    // Suspended or Pending for this call, it is attached too.
    for (const status of ['Suspended', 'Pending'] as const) expect(rewindsChild({ ...runningChild, runtimeStatus: status }, request.state)).toBe(true);
    // A create earlier in the write set (the instance was gone) is not attached to by a second call either.
    const created = planWriteSet({ requests: [request, request] }, new Map([['a', undefined], ['parent', state('parent')]]));
    expect(created.insertMessages.map((m) => m.id)).toEqual(['a-start', 'conflict']);
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
    const written = { ...next, previousHistory: { execution: 'a-e1/0', events: 0 } }; // the execution it continued from
    expect(plan.states).toEqual([{ state: written, isNew: false, before: state('a') }]);
    expect(plan.changes).toEqual([{ instanceId: 'a', previousVersion: 3, state: written }]);
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
  it('refuses a client command whose instance is missing or terminal at commit time, with the typed error', () => {
    const command = (instanceId: string, status: InstanceCondition['status'] = 'running'): WriteSet => ({
      requests: [{ type: 'insertMessage', message: raised('cmd', instanceId), ifMissing: 'fail', requires: { status, operation: 'terminate' } }],
    });
    const stored = new Map([
      ['running', state('running')], ['suspended', state('suspended', { runtimeStatus: 'Suspended' })],
      ['done', state('done', { runtimeStatus: 'Completed' })], ['failed', state('failed', { runtimeStatus: 'Failed' })],
      ['terminated', state('terminated', { runtimeStatus: 'Terminated' })], ['gone', undefined],
    ]);
    expect(planWriteSet(command('running'), stored).insertMessages.map((m) => m.id)).toEqual(['cmd']);
    expect(planWriteSet(command('suspended'), stored).insertMessages.map((m) => m.id)).toEqual(['cmd']);
    for (const id of ['done', 'failed', 'terminated']) {
      expect(() => planWriteSet(command(id), stored)).toThrow(expect.objectContaining({ code: 'instance-not-running', status: 410 }));
    }
    expect(() => planWriteSet(command('gone'), stored)).toThrow(expect.objectContaining({ code: 'instance-not-found', status: 404 }));
    // A rewind needs a Failed instance: Completed/Terminated 410, active 409.
    expect(planWriteSet(command('failed', 'failed'), stored).insertMessages).toHaveLength(1);
    expect(() => planWriteSet(command('done', 'failed'), stored)).toThrow(expect.objectContaining({ code: 'instance-not-running', status: 410 }));
    expect(() => planWriteSet(command('running', 'failed'), stored)).toThrow(expect.objectContaining({ code: 'instance-not-terminal', status: 409 }));
  });

  it('checks a command against the state written earlier in the same write set', () => {
    const finished = state('a', { runtimeStatus: 'Completed', version: 4 });
    const writeSet: WriteSet = {
      requests: [
        { type: 'replaceState', state: finished },
        { type: 'insertMessage', message: raised('cmd', 'a'), ifMissing: 'fail', requires: { status: 'running', operation: 'raise an event on' } },
      ],
    };
    expect(() => planWriteSet(writeSet, new Map([['a', state('a')]]))).toThrow(expect.objectContaining({ code: 'instance-not-running' }));
  });

  it('restarts only an instance that is still terminal, under the same or a new id', () => {
    const restart = (newId: string): WriteSet => {
      const request = create(newId, 'fail') as CreateInstanceWrite;
      return { requests: [{ ...request, requires: { instanceId: 'old', status: 'terminal', operation: 'restart' } }] };
    };
    expect(instanceIdsOf(restart('fresh')).sort()).toEqual(['fresh', 'old']);
    const done = new Map([['old', state('old', { runtimeStatus: 'Failed', version: 5 })], ['fresh', undefined]]);
    expect(planWriteSet(restart('fresh'), done).states.map((s) => s.state.instanceId)).toEqual(['fresh']);
    expect(planWriteSet(restart('old'), done).states[0]).toMatchObject({ isNew: true, state: { instanceId: 'old', version: 6 } });
    const active = new Map([['old', state('old')], ['fresh', undefined]]);
    for (const id of ['fresh', 'old']) {
      expect(() => planWriteSet(restart(id), active)).toThrow(expect.objectContaining({ code: 'instance-not-terminal', status: 409 }));
    }
    expect(() => planWriteSet(restart('fresh'), new Map([['old', undefined], ['fresh', undefined]])))
      .toThrow(expect.objectContaining({ code: 'instance-not-found', status: 404 }));
  });
});

describe('previousHistory (what a reader back after a gap learns: the history the current one replaced, as it ended)', () => {
  const replace = (next: InstanceState, stored: InstanceState | undefined): InstanceState =>
    planWriteSet({ requests: [{ type: 'replaceState', state: next }] }, new Map([[next.instanceId, stored]])).states[0]!.state;

  it('names the history a continueAsNew, a rewind and a restart replace, with its length then', () => {
    const x1 = state('a', { historyLength: 4 });
    const continued = replace(state('a', { executionId: 'a-e2', runtimeStatus: 'ContinuedAsNew', version: 4 }), x1);
    expect(continued.previousHistory).toEqual({ execution: 'a-e1/0', events: 4 });
    const rewound = replace({ ...continued, historyEpoch: 1, historyLength: 2, version: 5 }, { ...continued, historyLength: 6, runtimeStatus: 'Failed' });
    expect(rewound.previousHistory).toEqual({ execution: 'a-e2/0', events: 6 });
    const restart = planWriteSet({ requests: [create('a', 'fail')] }, new Map([['a', { ...rewound, historyLength: 3, runtimeStatus: 'Completed' }]]));
    expect(restart.states[0]!.state.previousHistory).toEqual({ execution: 'a-e2/1', events: 3 });
    expect(restart.changes[0]!.state).toBe(restart.states[0]!.state);
  });

  it('keeps it while that history is the current one, also through a state built without it; the state as given when it has it', () => {
    const stored = state('a', { executionId: 'a-e2', historyLength: 1, previousHistory: { execution: 'a-e1/0', events: 4 } });
    expect(replace(state('a', { executionId: 'a-e2', historyLength: 3 }), stored).previousHistory).toEqual({ execution: 'a-e1/0', events: 4 });
    const grown = { ...stored, historyLength: 3, previousHistory: { ...stored.previousHistory! } };
    expect(replace(grown, stored)).toBe(grown);
  });

  it('has none for a new id, nor for a history that was never replaced', () => {
    const given = { ...state('a'), previousHistory: { execution: 'z/0', events: 1 } };
    expect(planWriteSet({ requests: [{ ...create('a', 'fail'), state: given } as WriteRequest] }, new Map([['a', undefined]])).states[0]!.state)
      .not.toHaveProperty('previousHistory');
    expect(replace(given, state('a'))).not.toHaveProperty('previousHistory');
  });
});

describe('an activity result committed with the step it wakes (activityStepHolds)', () => {
  const now = new Date(t0.getTime() + 1000);
  const lease = (token: string) => ({ kind: 'activityStep' as const, taskId: 't1', token, instanceId: 'a', version: 3, now });
  const reading = (taskLease: { token: string } | undefined) => ({ taskLease, state: state('a'), instanceLease: undefined, firstVisibleMs: undefined });

  it('holds only under the task\u2019s own lease; a missing token never holds a free task', () => {
    expect(activityStepHolds(lease('tok'), reading({ token: 'tok' }))).toBe(true);
    expect(activityStepHolds(lease('other'), reading({ token: 'tok' }))).toBe(false);
    for (const missing of [undefined, '']) expect(activityStepHolds(lease(missing as unknown as string), reading(undefined))).toBe(false);
  });
});

describe('an unclaimed write (a client that terminates an instance itself)', () => {
  const lease = { kind: 'unclaimed' as const, instanceId: 'a', executionId: 'a-e1', version: 3, now: new Date(t0.getTime() + 1000) };
  const writeSet: WriteSet = { lease, requests: [{ type: 'replaceState', state: state('a', { runtimeStatus: 'Terminated', version: 4 }) }] };

  const holds = (s: InstanceState | undefined, expiresMs?: number, messages: readonly OrchestrationMessage[] = []) =>
    unclaimedHolds(lease, { state: s, instanceLease: expiresMs === undefined ? undefined : { expiresAt: new Date(t0.getTime() + expiresMs) }, messages });

  it('holds only at the version read and without a live lease at the writer\u2019s time', () => {
    expect(holds(state('a'))).toBe(true);
    expect(holds(state('a'), 1000)).toBe(true); // expired at `now`
    expect(holds(state('a'), 1001)).toBe(false);
    expect(holds(state('a', { version: 4 }))).toBe(false);
    // Another execution at the same version: the id purged and started again (version 1 again), or restarted.
    expect(holds(state('a', { executionId: 'a-e2' }))).toBe(false);
    expect(holds(undefined)).toBe(false);
  });

  it('holds only while no message but the start of the execution read is visible at the writer\u2019s time', () => {
    const timestamp = t0.toISOString();
    const start = (executionId: string): OrchestrationMessage => ({
      id: `start-${executionId}`, instanceId: 'a', event: { type: 'ExecutionStarted', eventId: -1, timestamp, name: 'Echo', instanceId: 'a', executionId },
    });
    const raised = (visibleMs?: number): OrchestrationMessage => ({
      id: 'go', instanceId: 'a', event: { type: 'EventRaised', eventId: -1, timestamp, name: 'go' },
      ...(visibleMs === undefined ? {} : { visibleAt: new Date(t0.getTime() + visibleMs) }),
    });
    expect(holds(state('a', { runtimeStatus: 'Pending' }), undefined, [start('a-e1')])).toBe(true);
    expect(holds(state('a'), undefined, [raised(1001)])).toBe(true); // not visible yet: it comes after the write
    expect(holds(state('a'), undefined, [raised()])).toBe(false); // committed before, applied first by a worker
    expect(holds(state('a'), undefined, [raised(1000)])).toBe(false);
    expect(holds(state('a'), undefined, [start('a-e2')])).toBe(false); // the start of another execution
  });

  it('lets a terminate, suspend or resume go ahead of every visible message but a command or another execution\u2019s start', () => {
    const timestamp = t0.toISOString();
    const queued = (event: OrchestrationMessage['event']): OrchestrationMessage => ({ id: event.type, instanceId: 'a', event });
    const raised = queued({ type: 'EventRaised', eventId: -1, timestamp, name: 'go' });
    const result = queued({ type: 'TaskCompleted', eventId: -1, timestamp, taskScheduledId: 0, result: 1 });
    const timer = queued({ type: 'TimerFired', eventId: -1, timestamp, timerId: 1, fireAt: timestamp });
    const commands = [
      queued({ type: 'ExecutionSuspended', eventId: -1, timestamp }), queued({ type: 'ExecutionResumed', eventId: -1, timestamp }),
      queued({ type: 'ExecutionTerminated', eventId: -1, timestamp }), queued({ type: 'ExecutionRewound', eventId: -1, timestamp }),
    ];
    const otherStart = queued({ type: 'ExecutionStarted', eventId: -1, timestamp, name: 'Echo', instanceId: 'a', executionId: 'a-e2' });
    const commandHolds = (command: 'terminate' | 'suspend' | 'resume', messages: readonly OrchestrationMessage[], expiresMs?: number) =>
      unclaimedHolds({ ...lease, command }, {
        state: state('a'), instanceLease: expiresMs === undefined ? undefined : { expiresAt: new Date(t0.getTime() + expiresMs) }, messages,
      });
    // A terminate queued before a direct one is applied first, so its reason is the output (as Durable Functions keeps it).
    for (const command of ['terminate', 'suspend', 'resume'] as const) {
      expect(commandHolds(command, [raised, result, timer]), command).toBe(true);
      for (const held of [...commands, otherStart]) expect(commandHolds(command, [raised, held]), `${command} behind ${held.event.type}`).toBe(false);
    }
    // Never ahead of a worker that holds the instance, nor of a step committed since the read.
    for (const command of ['terminate', 'suspend', 'resume'] as const) expect(commandHolds(command, [], 1001), command).toBe(false);
    expect(unclaimedHolds({ ...lease, command: 'terminate' }, { state: state('a', { version: 4 }), instanceLease: undefined, messages: [] })).toBe(false);
  });

  it('names the instance, releases its lease with the commit and is refused with a message naming the version', () => {
    expect(instanceIdsOf(writeSet)).toEqual(['a']);
    expect(planWriteSet(writeSet, new Map([['a', state('a')]])).released).toBe('a');
    expect(leaseLostError(lease)).toMatchObject({ code: 'lease-lost', message: expect.stringContaining('"a" moved past version 3') });
  });

  it('changes nothing with no request on an instance without a lease (a suspend or resume that changes nothing, an HTTP retry), and something otherwise', () => {
    const stored = new Map([['a', state('a', { runtimeStatus: 'Pending' })]]);
    const retry = planWriteSet({ lease, requests: [] }, stored);
    expect(retry.released).toBe('a');
    expect(changesNothing(retry, false)).toBe(true);
    // An expired lease is cleared: a change of the row.
    expect(changesNothing(retry, true)).toBe(false);
    expect(changesNothing(planWriteSet(writeSet, stored), false)).toBe(false);
    const each: WriteRequest[] = [
      { type: 'appendHistory', instanceId: 'a', from: 0, events: [{ type: 'OrchestratorStarted', eventId: -1, timestamp: t0.toISOString() }] },
      { type: 'replaceHistory', instanceId: 'a', events: [] },
      { type: 'deleteMessages', instanceId: 'a', messageIds: ['m1'] },
      { type: 'insertMessage', message: raised('m2', 'a'), ifMissing: 'drop' },
      { type: 'insertTask', task: { id: 't1', instanceId: 'a', executionId: 'a-e1', name: 'Act', taskScheduledId: 0, attempt: 1 } },
      { type: 'deleteTask', taskId: 't1' },
    ];
    for (const request of each) expect(changesNothing(planWriteSet({ lease, requests: [request] }, stored), false), request.type).toBe(false);
    // A worker's commit releases the lease it holds, stored on the instance.
    const orchestration = { kind: 'orchestration' as const, instanceId: 'a', token: 'tok' };
    expect(changesNothing(planWriteSet({ lease: orchestration, requests: [] }, stored), true)).toBe(false);
  });
});

describe('signalsWork (what every store signals after a commit)', () => {
  const stored = new Map([['a', state('a')], ['b', state('b')]]);
  const orchestration = { kind: 'orchestration' as const, instanceId: 'a', token: 'tok' };
  const step = (...more: WriteRequest[]): WriteSet => ({
    lease: orchestration,
    requests: [{ type: 'replaceState', state: state('a', { version: 4 }) }, { type: 'deleteMessages', instanceId: 'a', messageIds: ['m1'] }, ...more],
  });

  it('signals a step that leaves its instance messages, and none for one that consumed them all and wrote no work', () => {
    expect(signalsWork(planWriteSet(step(), stored), true, false)).toBe(false);
    expect(signalsWork(planWriteSet(step(), stored), true, true)).toBe(true);
  });

  it('signals new work whatever is left: a message, a task stored without a lease', () => {
    expect(signalsWork(planWriteSet(step({ type: 'insertMessage', message: raised('m2', 'b'), ifMissing: 'drop' }), stored), true, false)).toBe(true);
    const task = { id: 't1', instanceId: 'a', executionId: 'a-e1', name: 'Act', taskScheduledId: 0, attempt: 1 };
    expect(signalsWork(planWriteSet(step({ type: 'insertTask', task }), stored), true, false)).toBe(true);
    const lease = { owner: 'w', token: 'own', expiresAt: t0 };
    expect(signalsWork(planWriteSet(step({ type: 'insertTask', task, lease }), stored), true, false)).toBe(false);
  });

  it('signals nothing for a commit that changes nothing, and nothing for pending messages without a released lease', () => {
    const unclaimed = { kind: 'unclaimed' as const, instanceId: 'a', executionId: 'a-e1', version: 3, now: t0 };
    expect(signalsWork(planWriteSet({ lease: unclaimed, requests: [] }, stored), false, true)).toBe(false);
    // The same commit clears an expired lease: the messages it held back are claimable now.
    expect(signalsWork(planWriteSet({ lease: unclaimed, requests: [] }, stored), true, true)).toBe(true);
    expect(signalsWork(planWriteSet({ requests: [{ type: 'replaceState', state: state('a', { version: 4 }) }] }, stored), false, true)).toBe(false);
  });
});

describe('writesInput (whether a store that keeps the input apart writes it with a state)', () => {
  it('writes it for a created or replaced row and for a new execution, not for another state of the same execution', () => {
    const stored = new Map([['a', state('a', { input: 'first' })], ['done', state('done', { runtimeStatus: 'Completed' })], ['new', undefined]]);
    const replace = (s: InstanceState) => planWriteSet({ requests: [{ type: 'replaceState', state: s }] }, stored).states[0]!;
    expect(writesInput(replace(state('a', { input: 'first', version: 4, customStatus: 'stepped' })))).toBe(false);
    expect(writesInput(replace(state('a', { executionId: 'a-e2', input: 'second', version: 4 })))).toBe(true);
    expect(writesInput(replace(state('a', { executionId: 'a-e2', version: 4 })))).toBe(true); // none over the last one's
    expect(writesInput(planWriteSet({ requests: [create('new', 'fail')] }, stored).states[0]!)).toBe(true);
    expect(writesInput(planWriteSet({ requests: [create('done', 'fail')] }, stored).states[0]!)).toBe(true);
    // A start over a terminal row that keeps its execution id (a caller's own id): written because the row is
    // replaced whole, not because the execution changed.
    const again = create('done', 'fail') as CreateInstanceWrite;
    const sameExecution = planWriteSet({ requests: [{ ...again, state: { ...again.state, executionId: 'done-e1' } }] }, stored).states[0]!;
    expect(sameExecution).toMatchObject({ isNew: true, before: { executionId: 'done-e1' }, state: { executionId: 'done-e1' } });
    expect(writesInput(sameExecution)).toBe(true);
    // Created, then replaced in the same write set: still a new row.
    const created = create('new', 'fail') as CreateInstanceWrite;
    const twice = planWriteSet({ requests: [created, { type: 'replaceState', state: { ...created.state, customStatus: 'x' } }] }, stored);
    expect(writesInput(twice.states[0]!)).toBe(true);
  });

  it('holds for the engine\u2019s steps: every state of an execution carries its input, a continueAsNew starts a new execution', () => {
    // Waits for 'go' on its first input, then continues as new; the next execution calls an activity with its input.
    const loop: Orchestrator = function* (ctx) {
      if (ctx.getInput() === 'first') {
        yield ctx.waitForExternalEvent('go');
        ctx.continueAsNew('second');
        return undefined;
      }
      return yield ctx.callActivity('Act', ctx.getInput());
    };
    const event = (id: string, e: OrchestrationMessage['event']): OrchestrationMessage => ({ id, instanceId: 'instance-1', event: e });
    let n = 0;
    const newId = () => `id-${n++}`;
    /** `writeSet` committed over `stored` and its `history`: the planned state, what it sent, the history it left. */
    const committed = (writeSet: WriteSet, stored: InstanceState, history: readonly HistoryEvent[]) => {
      const planned = planWriteSet(writeSet, new Map([['instance-1', stored]])).states[0]!;
      const sent = writeSet.requests.flatMap((r) => (r.type === 'insertMessage' ? [r.message] : []));
      const after = writeSet.requests.reduce<readonly HistoryEvent[]>((h, r) => (
        r.type === 'appendHistory' ? [...h, ...r.events] : r.type === 'replaceHistory' ? r.events : h), history);
      return { planned, sent, history: after };
    };
    /** One committed step of `stored` on `messages`. */
    const step = (stored: InstanceState, messages: OrchestrationMessage[], history: readonly HistoryEvent[]) => {
      const decision = decideStep({
        state: stored, messages, leaseToken: 'lease', now: t0, newId, history,
        newExecution: () => new OrchestrationExecution(loop, { customStatusLimitBytes: 16_384 }),
      });
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      return committed(decision.writeSet, stored, history);
    };
    /** A client's direct command, committed. */
    const direct = (decision: DirectDecision, stored: InstanceState, history: readonly HistoryEvent[]) => {
      if (decision.kind !== 'commit') throw new Error(`expected a commit, not ${decision.kind}`);
      return committed(decision.writeSet, stored, history);
    };
    const at = t0.toISOString();
    const history = new HistoryBuilder({ name: 'Loop' }).started('first').build();
    const first = state('instance-1', { name: 'Loop', executionId: 'execution-1', input: 'first', historyLength: history.length });
    const other = step(first, [event('other', { type: 'EventRaised', eventId: -1, timestamp: t0.toISOString(), name: 'other' })], history);
    expect(writesInput(other.planned)).toBe(false);
    expect(other.planned.state.input).toBe('first');
    const continued = step(first, [event('go', { type: 'EventRaised', eventId: -1, timestamp: t0.toISOString(), name: 'go' })], history);
    expect(writesInput(continued.planned)).toBe(true);
    expect(continued.planned.state).toMatchObject({ runtimeStatus: 'ContinuedAsNew', input: 'second' });
    // The next execution's start, claimed: its state keeps the input the continueAsNew wrote.
    const start = continued.sent.find((m) => m.event.type === 'ExecutionStarted')!;
    const started = step(continued.planned.state, [start], []);
    expect(started.planned.state.runtimeStatus).toBe('Running');
    expect(writesInput(started.planned)).toBe(false);
    expect(started.planned.state.input).toBe('second');

    // A terminate after the continueAsNew in one batch ends the instance in that execution: its input kept.
    const stop: ExecutionTerminatedEvent = { type: 'ExecutionTerminated', eventId: -1, timestamp: at, reason: 'stop' };
    const terminate = event('stop', stop);
    const ended = step(first, [event('go', { type: 'EventRaised', eventId: -1, timestamp: at, name: 'go' }), terminate], history);
    expect(ended.planned.state).toMatchObject({ runtimeStatus: 'Terminated', executionId: 'execution-1', input: 'first' });
    expect(writesInput(ended.planned)).toBe(false);

    // A client's terminate, suspend and rewind, committed directly: states of the same execution, its input kept.
    const terminated = direct(decideTerminate({ state: first, event: stop, now: t0, newId }), first, history);
    expect(terminated.planned.state).toMatchObject({ runtimeStatus: 'Terminated', executionId: 'execution-1', input: 'first' });
    expect(writesInput(terminated.planned)).toBe(false);
    const suspended = direct(decideSuspend({ state: first, event: { type: 'ExecutionSuspended', eventId: -1, timestamp: at }, now: t0, newId }), first, history);
    expect(suspended.planned.state).toMatchObject({ runtimeStatus: 'Suspended', executionId: 'execution-1', input: 'first' });
    expect(writesInput(suspended.planned)).toBe(false);
    // The next execution's activity fails, failing it; its rewind keeps the execution and its input.
    const scheduled = started.history.find((e) => e.type === 'TaskScheduled')!;
    const failure = { type: 'TaskFailed' as const, eventId: -1, timestamp: at, taskScheduledId: scheduled.eventId, failureDetails: { errorType: 'Error', errorMessage: 'no' } };
    const failed = step(started.planned.state, [event('failed', failure)], started.history);
    expect(failed.planned.state).toMatchObject({ runtimeStatus: 'Failed', input: 'second' });
    expect(writesInput(failed.planned)).toBe(false);
    const rewind = decideRewind({ state: failed.planned.state, event: { type: 'ExecutionRewound', eventId: -1, timestamp: at }, history: failed.history, now: t0, newId });
    const rewound = direct(rewind, failed.planned.state, failed.history);
    expect(rewound.planned.state).toMatchObject({ runtimeStatus: 'Running', executionId: failed.planned.state.executionId, input: 'second' });
    expect(writesInput(rewound.planned)).toBe(false);
  });
});

describe('heldUntilStart (what reaches a delayed start before its time)', () => {
  const startAt = new Date(t0.getTime() + 60_000);
  const delayed = state('d', { runtimeStatus: 'Pending', scheduledStartTime: startAt });
  const terminate: OrchestrationMessage = {
    id: 'm-t', instanceId: 'd', event: { type: 'ExecutionTerminated', eventId: -1, timestamp: t0.toISOString(), reason: 'stop' },
  };

  it('queues an event or a command sent as a message to one not started no sooner than its time, as a store without unclaimed writes gets them', () => {
    for (const sent of [raised('m-e', 'd'), terminate]) {
      const plan = planWriteSet({ requests: [{ type: 'insertMessage', message: sent, ifMissing: 'fail' }] }, new Map([['d', delayed]]));
      expect(plan.insertMessages.map((m) => m.visibleAt?.getTime())).toEqual([startAt.getTime()]);
    }
  });

  it('keeps a later time, and leaves what reaches one started, terminal or started at once as it is', () => {
    const later = { ...terminate, visibleAt: new Date(startAt.getTime() + 1) };
    expect(heldUntilStart(later, delayed)).toBe(later);
    expect(heldUntilStart(terminate, { ...delayed, historyLength: 3, runtimeStatus: 'Running' })).toBe(terminate);
    expect(heldUntilStart(terminate, { ...delayed, runtimeStatus: 'Terminated' })).toBe(terminate);
    expect(heldUntilStart(terminate, state('d', { runtimeStatus: 'Pending' }))).toBe(terminate);
  });
});

describe('planWriteSet and the keys of keyed raises', () => {
  const keyed = (key: string): WriteSet => ({ requests: [{ type: 'insertMessage', message: raised(`m-${key}`, 'a'), ifMissing: 'fail', idempotencyKey: key }] });

  it('reads and writes the raise-key record only, leaving the state alone: no state written, no change published', () => {
    const stored = new Map([['a', state('a')]]);
    expect(raiseKeyIdsOf(keyed('k1'))).toEqual(['a']);
    expect(raiseKeyIdsOf({ requests: [{ type: 'insertMessage', message: raised('m', 'a'), ifMissing: 'fail' }] })).toEqual([]);
    const plan = planWriteSet(keyed('k2'), stored, new Map([['a', ['k1']]]));
    expect(plan.raiseKeys).toEqual([{ instanceId: 'a', keys: ['k1', 'k2'] }]);
    expect(plan.states).toEqual([]);
    expect(plan.changes).toEqual([]);
    expect(plan.insertMessages).toHaveLength(1);
    expect(changesNothing(planWriteSet(keyed('k1'), stored, new Map([['a', ['k1']]])), false)).toBe(true);
  });

  it('recognises the keys a state written before the records carries and leaves them there: a keyed raise writes the record alone', () => {
    const legacy = state('a', { raisedEventKeys: ['old'] });
    const stored = new Map([['a', legacy]]);
    const repeat = planWriteSet(keyed('old'), stored, new Map());
    expect(changesNothing(repeat, false)).toBe(true);
    const plan = planWriteSet(keyed('new'), stored, new Map());
    expect(plan.raiseKeys).toEqual([{ instanceId: 'a', keys: ['new'] }]);
    expect(plan.states).toEqual([]);
    expect(plan.changes).toEqual([]);
    // A step keeps the stored keys whatever the state it was given says.
    const step = planWriteSet({ requests: [{ type: 'replaceState', state: { ...state('a'), version: 4 } }] }, stored, new Map());
    expect(step.states[0]!.state.raisedEventKeys).toEqual(['old']);
  });

  it('leaves code of an earlier version sharing the store (which reads the keys from the state only) the keys it raised there', () => {
    const stored = new Map([['a', state('a', { raisedEventKeys: ['there'] })]]);
    const records = new Map<string, readonly string[]>();
    // This version: a raise with another key, its record written.
    const here = planWriteSet(keyed('here'), stored, records);
    for (const { state: written } of here.states) stored.set('a', written);
    for (const { instanceId, keys } of here.raiseKeys) records.set(instanceId, keys);
    // The earlier version (planWriteSet given no records) still takes a raise with its own key for a repeat.
    expect(changesNothing(planWriteSet(keyed('there'), stored), false)).toBe(true);
  });

  it('counts the keys of both the record and a state that code of an earlier version sharing the store wrote, however many the record holds', () => {
    const full = Array.from({ length: MAX_REMEMBERED_EVENT_KEYS }, (_, i) => `k${i}`);
    // The earlier version's raise came after the record was full: its key is the newest of all.
    const stored = new Map([['a', state('a', { raisedEventKeys: ['old', 'there'] })]]);
    const records = new Map([['a', full]]);
    for (const key of ['old', 'there', 'k0', full.at(-1)!]) expect(changesNothing(planWriteSet(keyed(key), stored, records), false), key).toBe(true);
    const plan = planWriteSet(keyed('next'), stored, records);
    expect(plan.raiseKeys).toEqual([{ instanceId: 'a', keys: [...full.slice(1), 'next'] }]);
    expect(plan.states).toEqual([]);
    expect(changesNothing(planWriteSet(keyed('there'), stored, new Map(plan.raiseKeys.map((r) => [r.instanceId, r.keys]))), false)).toBe(true);
  });
});
