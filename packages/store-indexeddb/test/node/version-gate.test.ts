import { describe, expect, it } from 'vitest';
import type { InstanceState } from '@durable-rx/runtime/store-kit';
import { VersionGate, type FeedChange } from '../../src/internal/version-gate.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
function state(id: string, version: number): InstanceState {
  return { instanceId: id, name: 'Orch', runtimeStatus: 'Running', createdTime: T0, lastUpdatedTime: T0, executionId: 'e', historyLength: 0, version };
}
const change = (id: string, after: number, version?: number): FeedChange =>
  ({ instanceId: id, after, state: version === undefined ? undefined : state(id, version) });
const versions = (changes: FeedChange[]) => changes.map((c) => c.state?.version ?? 'purged');

describe('VersionGate', () => {
  it('passes on the first change it sees of an instance, whatever its version', () => {
    const gate = new VersionGate();
    expect(versions(gate.offer(change('a', 4, 5)))).toEqual([5]);
    expect(versions(gate.offer(change('a', 5, 6)))).toEqual([6]);
  });

  it('holds a change until its predecessor arrives, then passes both in order', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1));
    expect(gate.offer(change('a', 2, 3))).toEqual([]);
    expect(gate.offer(change('a', 3, 4))).toEqual([]);
    expect(gate.holding).toBe(true);
    expect(versions(gate.offer(change('a', 1, 2)))).toEqual([2, 3, 4]);
    expect(gate.holding).toBe(false);
  });

  it('drops changes older than or equal to the last one passed on', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1));
    gate.offer(change('a', 1, 2));
    expect(gate.offer(change('a', 1, 2))).toEqual([]);
    expect(gate.offer(change('a', 0, 1))).toEqual([]);
    expect(gate.holding).toBe(true); // a creation from nothing could follow a purge not yet seen
    expect(gate.releaseAll()).toEqual([]); // ... but it does not, so it is dropped
    expect(gate.holding).toBe(false);
  });

  it('orders a purge and a re-creation that overtook it', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1));
    gate.offer(change('a', 1, 2));
    expect(gate.offer(change('a', 0, 1))).toEqual([]); // created again, but the purge is still on its way
    expect(versions(gate.offer(change('a', 2)))).toEqual(['purged', 1]);
    expect(versions(gate.offer(change('a', 1, 2)))).toEqual([2]);
  });

  it('keeps instances apart', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1));
    gate.offer(change('b', 0, 1));
    expect(gate.offer(change('a', 2, 3))).toEqual([]);
    expect(versions(gate.offer(change('b', 1, 2)))).toEqual([2]);
  });

  it('gives up waiting on releaseAll: held changes come out in order', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1));
    gate.offer(change('a', 5, 6));
    gate.offer(change('a', 3, 4));
    expect(versions(gate.releaseAll())).toEqual([4, 6]);
    expect(versions(gate.offer(change('a', 6, 7)))).toEqual([7]);
  });

  it('forgets the least recently changed instances beyond its limit (and then accepts them as new)', () => {
    const gate = new VersionGate(2);
    gate.offer(change('a', 0, 5));
    gate.offer(change('b', 0, 1));
    gate.offer(change('c', 0, 1));
    expect(versions(gate.offer(change('a', 0, 1)))).toEqual([1]);
  });
});
