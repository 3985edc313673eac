import { describe, expect, it } from 'vitest';
import type { InstanceState } from '@durable-rx/runtime/store-kit';
import { VersionGate, type FeedChange } from '../../src/internal/version-gate.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
function state(id: string, version: number, executionId = 'e'): InstanceState {
  return { instanceId: id, name: 'Orch', runtimeStatus: 'Running', createdTime: T0, lastUpdatedTime: T0, executionId, historyLength: 0, version };
}
const change = (id: string, after: number, version?: number, executionId?: string): FeedChange =>
  ({ instanceId: id, after, state: version === undefined ? undefined : state(id, version, executionId) });
const versions = (changes: FeedChange[]) => changes.map((c) => c.state?.version ?? 'purged');

describe('VersionGate', () => {
  it('passes on the first change it sees of an instance, whatever its version', () => {
    const gate = new VersionGate();
    expect(versions(gate.offer(change('a', 4, 5), 0))).toEqual([5]);
    expect(versions(gate.offer(change('a', 5, 6), 0))).toEqual([6]);
  });

  it('holds a change until its predecessor arrives, then passes both in order', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1), 0);
    expect(gate.offer(change('a', 2, 3), 0)).toEqual([]);
    expect(gate.offer(change('a', 3, 4), 0)).toEqual([]);
    expect(gate.holding).toBe(true);
    expect(versions(gate.offer(change('a', 1, 2), 0))).toEqual([2, 3, 4]);
    expect(gate.holding).toBe(false);
  });

  it('passes the purge of an instance the database lost, naming the last snapshot passed on, and drops what it held for it', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1), 0);
    gate.offer(change('a', 1, 2), 0);
    gate.offer(change('a', 3, 4), 0); // held: 3 missing
    expect(gate.lost('a', 0)).toEqual([{ instanceId: 'a', after: 2, state: undefined, purged: { executionId: 'e', version: 2 } }]);
    expect(gate.holding).toBe(false);
    // Known as purged now, and never seen: nothing to pass.
    expect(gate.lost('a', 0)).toEqual([]);
    expect(gate.lost('b', 0)).toEqual([]);
    // A new run of the id after it is passed on as a creation.
    expect(versions(gate.offer(change('a', 0, 1, 'e2'), 0))).toEqual([1]);
  });

  it('drops changes older than or equal to the last one passed on', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1), 0);
    gate.offer(change('a', 1, 2), 0);
    expect(gate.offer(change('a', 1, 2), 0)).toEqual([]);
    expect(gate.offer(change('a', 0, 1), 0)).toEqual([]);
    expect(gate.holding).toBe(true); // a creation from nothing could follow a purge not yet seen
    expect(gate.releaseAll(0)).toEqual([]); // ... but it does not, so it is dropped
    expect(gate.holding).toBe(false);
  });

  it('orders a purge and a re-creation that overtook it', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1), 0);
    gate.offer(change('a', 1, 2), 0);
    expect(gate.offer(change('a', 0, 1), 0)).toEqual([]); // created again, but the purge is still on its way
    expect(versions(gate.offer(change('a', 2), 0))).toEqual(['purged', 1]);
    expect(versions(gate.offer(change('a', 1, 2), 0))).toEqual([2]);
  });

  it('keeps instances apart', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1), 0);
    gate.offer(change('b', 0, 1), 0);
    expect(gate.offer(change('a', 2, 3), 0)).toEqual([]);
    expect(versions(gate.offer(change('b', 1, 2), 0))).toEqual([2]);
  });

  it('gives up waiting on releaseAll: held changes come out in order', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1), 0);
    gate.offer(change('a', 5, 6), 0);
    gate.offer(change('a', 3, 4), 0);
    expect(versions(gate.releaseAll(0))).toEqual([4, 6]);
    expect(versions(gate.offer(change('a', 6, 7), 0))).toEqual([7]);
  });

  it('releases only the changes held at or before the time given, with those before and after them; the others wait on', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 0, 1), 0);
    gate.offer(change('b', 0, 1), 0);
    gate.offer(change('a', 2, 3), 0); // held at 0
    gate.offer(change('b', 2, 3), 990); // held at 990
    expect(gate.oldestHeldMs).toBe(0);
    expect(versions(gate.release(0, 1000))).toEqual([3]); // a's wait is over, b's is not
    expect(gate.oldestHeldMs).toBe(990);
    expect(versions(gate.offer(change('b', 1, 2), 1000))).toEqual([2, 3]);
    expect(gate.holding).toBe(false);
    expect(gate.oldestHeldMs).toBeUndefined();
  });

  it('passes a held creation of another execution on as a new run once released, after its lost purge, with the steps held behind it', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 4, 5, 'run 1'), 0);
    expect(gate.offer(change('a', 0, 1, 'run 2'), 0)).toEqual([]); // waits for the purge
    expect(gate.offer(change('a', 1, 2, 'run 2'), 0)).toEqual([]); // a step of that run: waits behind it
    expect(gate.offer(change('a', 1, 2, 'run 1'), 0)).toEqual([]); // a late copy of run 1: dropped
    const released = gate.releaseAll(0);
    // The purge first, naming the snapshot passed on before, so a reader that holds it takes it (isNewerChange).
    expect(released[0]).toEqual({ instanceId: 'a', after: 5, state: undefined, purged: { executionId: 'run 1', version: 5 } });
    expect(released.slice(1).map((c) => `${c.state?.executionId} ${c.state?.version}`)).toEqual(['run 2 1', 'run 2 2']);
    expect(versions(gate.offer(change('a', 2, 3, 'run 2'), 0))).toEqual([3]);
  });

  // Versions start again at 1 with a new run: sorted by version alone, a new run held with changes of the run passed
  // on came out before them, and those then passed as newer than it (and dropped its next steps as older).
  const named = (changes: FeedChange[]) => changes.map((c) => c.state ? `${c.state.executionId} ${c.state.version}` : `purged ${c.purged?.executionId} ${c.purged?.version}`);

  it('releases the held changes of the run passed on before a new run held with them, and names the last of them in the lost purge', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 4, 5, 'run 1'), 0);
    expect(gate.offer(change('a', 6, 7, 'run 1'), 0)).toEqual([]); // v6 never comes (its tab went before posting it)
    expect(gate.offer(change('a', 0, 1, 'run 2'), 0)).toEqual([]); // nor does the purge
    expect(gate.offer(change('a', 1, 2, 'run 2'), 0)).toEqual([]);
    expect(named(gate.releaseAll(0))).toEqual(['run 1 7', 'purged run 1 7', 'run 2 1', 'run 2 2']);
    expect(named(gate.offer(change('a', 2, 3, 'run 2'), 0))).toEqual(['run 2 3']);
  });

  it('releases a held purge of the run passed on before the new run held with it', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 4, 5, 'run 1'), 0);
    gate.offer(change('a', 6, 7, 'run 1'), 0);
    gate.offer({ instanceId: 'a', after: 7, state: undefined, purged: { executionId: 'run 1', version: 7 } }, 0);
    gate.offer(change('a', 0, 1, 'run 2'), 0);
    expect(named(gate.releaseAll(0))).toEqual(['run 1 7', 'purged run 1 7', 'run 2 1']);
  });

  it('releases a change of the run passed on with the new run whose wait is over, though it was held later, and before it', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 4, 5, 'run 1'), 0);
    gate.offer(change('a', 0, 1, 'run 2'), 0);
    gate.offer(change('a', 6, 7, 'run 1'), 500);
    expect(named(gate.release(0, 1000))).toEqual(['run 1 7', 'purged run 1 7', 'run 2 1']);
    expect(gate.holding).toBe(false);
  });

  it('passes two new runs held at once in the order they arrived, each after the purge of the one before', () => {
    const gate = new VersionGate();
    gate.offer(change('a', 4, 5, 'run 1'), 0);
    gate.offer(change('a', 0, 1, 'run 2'), 0);
    gate.offer(change('a', 1, 2, 'run 2'), 0);
    gate.offer(change('a', 0, 1, 'run 3'), 0);
    expect(named(gate.releaseAll(0))).toEqual(['purged run 1 5', 'run 2 1', 'run 2 2', 'purged run 2 2', 'run 3 1']);
  });

  it('forgets the least recently changed instances beyond its limit once their last change is old enough (and then accepts them as new)', () => {
    const gate = new VersionGate(2, 1000);
    gate.offer(change('a', 4, 5), 0);
    gate.offer(change('b', 0, 1), 500);
    gate.offer(change('c', 0, 1), 1001);
    expect(versions(gate.offer(change('a', 2, 3), 1001))).toEqual([3]); // a forgotten: b is not 1000 ms old yet
    expect(gate.offer(change('b', 0, 1), 1001)).toEqual([]);
  });

  it('remembers an instance whose last change is recent however many others change, so a late older copy never passes', () => {
    const gate = new VersionGate(2, 1000);
    gate.offer(change('a', 4, 5), 0);
    for (let i = 0; i < 100; i++) gate.offer(change(`other ${i}`, 0, 1), 900);
    expect(gate.offer(change('a', 2, 3), 1000)).toEqual([]); // a late copy of v3: v5 passed already
    expect(versions(gate.offer(change('a', 5, 6), 1000))).toEqual([6]);
    expect(gate.offer(change('other 0', 0, 1), 1000)).toEqual([]); // every other one is remembered too
  });
});
