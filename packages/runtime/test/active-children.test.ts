import { describe, expect, it } from 'vitest';
import { activeChildrenOf, recursiveTerminateOf } from '../src/engine/active-children.js';
import type { HistoryEvent } from '../src/model/history-event.js';

const at = '2026-01-01T00:00:00.000Z';
const created = (eventId: number, instanceId: string): HistoryEvent =>
  ({ type: 'SubOrchestrationInstanceCreated', eventId, timestamp: at, name: 'Child', instanceId });
const completed = (taskScheduledId: number): HistoryEvent =>
  ({ type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp: at, taskScheduledId, result: 'done' });
const terminated = (recursive: boolean, reason = 'stop'): HistoryEvent =>
  ({ type: 'ExecutionTerminated', eventId: -1, timestamp: at, reason, ...(recursive ? { recursive: true } : {}) });

describe('the children a recursive terminate goes on to', () => {
  it('are the unanswered calls of the stored history and of the step ahead of its terminate, in the order started', () => {
    const before = [created(0, 'a'), created(1, 'b'), completed(0)];
    const step = [created(2, 'c'), completed(1), terminated(true), created(3, 'after the end')];
    expect(recursiveTerminateOf(before, step, 'self')).toEqual({ terminate: terminated(true), children: ['c'] });
    // What the client reads from the history the step committed.
    expect(activeChildrenOf([...before, ...step], 'self')).toEqual(['c']);
    expect(recursiveTerminateOf([created(0, 'a'), created(1, 'self')], [terminated(true)], 'self')?.children).toEqual(['a']);
  });

  it('are none when the step ends without a terminate, or its first terminate is not recursive', () => {
    const before = [created(0, 'a')];
    expect(recursiveTerminateOf(before, [completed(0)], 'self')).toBeUndefined();
    expect(recursiveTerminateOf(before, [terminated(false), terminated(true, 'later')], 'self')).toBeUndefined();
  });
});
