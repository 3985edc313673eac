import type { ActivityTask, InstanceState, OrchestrationMessage, WriteSet } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
import { assertSupportedWriteSet } from '../src/supported-write-set.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const lease = { owner: 'w1', token: 'tok-1', expiresAt: new Date(T0.getTime() + 30_000) };
const state: InstanceState = {
  instanceId: 'a', name: 'Orch', runtimeStatus: 'Pending', createdTime: T0, lastUpdatedTime: T0, executionId: 'e1', historyLength: 0, version: 1,
};
const message: OrchestrationMessage = {
  id: 'm1', instanceId: 'a',
  event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Orch', instanceId: 'a', executionId: 'e1' },
};
const task: ActivityTask = { id: 't1', instanceId: 'a', executionId: 'e1', name: 'Act', taskScheduledId: 0, attempt: 1 };

describe('write sets MongoStore executes', () => {
  it('passes the client\u2019s writes (its own terminate, suspend or resume too), orchestration steps and activity results', () => {
    const plain: WriteSet[] = [
      { requests: [{ type: 'createInstance', state, message, ifRunning: { kind: 'fail' } }] },
      {
        lease: { kind: 'unclaimed', instanceId: 'a', executionId: 'e1', version: 1, now: T0 },
        requests: [{ type: 'replaceState', state: { ...state, runtimeStatus: 'Terminated', version: 2 } }],
      },
      { lease: { kind: 'orchestration', instanceId: 'a', token: 'tok' }, requests: [{ type: 'insertTask', task }] },
      { lease: { kind: 'activity', taskId: 't1', token: 'tok' }, requests: [{ type: 'deleteTask', taskId: 't1' }] },
    ];
    for (const writeSet of plain) expect(() => assertSupportedWriteSet(writeSet)).not.toThrow();
  });

  it('refuses an activityStep lease instead of committing it with no lease check (fused steps are not supported)', () => {
    const writeSet: WriteSet = {
      lease: { kind: 'activityStep', taskId: 't1', token: 'tok', instanceId: 'a', version: 3, now: T0 },
      requests: [{ type: 'deleteTask', taskId: 't1' }],
    };
    expect(() => assertSupportedWriteSet(writeSet)).toThrow(expect.objectContaining({ code: 'invalid-argument', status: 400 }));
  });

  it('refuses a start or a task stored already leased, which it would store unleased', () => {
    const leasedStart: WriteSet = { requests: [{ type: 'createInstance', state, message, ifRunning: { kind: 'fail' }, lease }] };
    const leasedTask: WriteSet = { lease: { kind: 'orchestration', instanceId: 'a', token: 'tok' }, requests: [{ type: 'insertTask', task, lease }] };
    for (const writeSet of [leasedStart, leasedTask]) {
      expect(() => assertSupportedWriteSet(writeSet)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
  });
});
