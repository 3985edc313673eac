import type { WriteSet } from '@durable-rx/runtime/store-kit';
import { describe, expect, it } from 'vitest';
import { scopeOf } from '../../src/idb-store.js';
import { message, newInstance } from '../shared/fixtures.js';

// The tables a commit's transaction locks: what its write set touches, and no more. Every step commits, so the scope is
// one of a few built once, not an array allocated per commit.
const lease = { kind: 'orchestration', instanceId: 'x', token: 't' } as const;
function step(instanceId: string): WriteSet {
  const { state } = newInstance(instanceId);
  return {
    lease: { ...lease, instanceId },
    requests: [
      { type: 'replaceState', state: { ...state, runtimeStatus: 'Running', version: 2 } },
      { type: 'appendHistory', instanceId, from: 0, events: [] },
      { type: 'deleteMessages', instanceId, messageIds: ['m'] },
    ],
  };
}

/** The tables of a scope, in name order. */
function tables(scope: readonly string[]): string[] {
  return [...scope].sort();
}

describe('a commit\'s transaction scope', () => {
  it('is the same array for every commit of one shape: none is allocated per commit', () => {
    expect(scopeOf(step('a'), false)).toBe(scopeOf(step('b'), false));
    expect(tables(scopeOf(step('a'), false))).toEqual(['history', 'inputs', 'instances', 'messages']);
  });

  it('takes the tables the write set touches', () => {
    const start = newInstance('s');
    expect(tables(scopeOf({ requests: [{ type: 'createInstance', ...start, ifRunning: { kind: 'fail' } }] }, false)))
      .toEqual(['history', 'inputs', 'instances', 'messages', 'tasks']);
    const raise = { requests: [{ type: 'insertMessage', message: message('x', { type: 'EventRaised', eventId: -1, timestamp: '', name: 'e' }), ifMissing: 'fail' }] } as WriteSet;
    expect(tables(scopeOf(raise, false))).toEqual(['instances', 'messages']);
    expect(tables(scopeOf(raise, true))).toEqual(['instances', 'messages', 'raiseKeys']);
    const activity: WriteSet = { lease: { kind: 'activity', taskId: 't', token: 't' }, requests: [{ type: 'deleteTask', taskId: 't' }] };
    expect(tables(scopeOf(activity, false))).toEqual(['instances', 'messages', 'tasks']);
  });
});
