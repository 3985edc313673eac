import { describe, expect, it } from 'vitest';
import type { NotedKeptParent } from '../src/store/plan-retention.js';
import { KeptParents } from '../src/worker/kept-parents.js';

/** An entry of execution `e` kept until `until`, by the ended ancestor `by` when given. */
const entry = (by?: string, until = Number.POSITIVE_INFINITY): NotedKeptParent => ({
  executionId: 'e', version: 1, until, ...(by === undefined ? {} : { keptBy: by }),
});

describe('KeptParents (the retention sweep\'s memory of parents that keep their children)', () => {
  it('forgets a chain of entries kept one by the other, however deep, with the entry at its top', () => {
    const depth = 50_000;
    const kept = new KeptParents(() => () => {}, depth + 1, 64, 300_000, () => {});
    const keeps = new Map<string, NotedKeptParent>([['n0', entry()]]);
    for (let i = 1; i <= depth; i++) keeps.set(`n${i}`, entry(`n${i - 1}`));
    kept.note(keeps, 0);
    expect(kept.size).toBe(depth + 1);
    // Started again, say: what it kept goes with it, down to the last (a recursion as deep threw RangeError).
    kept.forget('n0');
    expect(kept.size).toBe(0);
    expect(kept.map.size).toBe(0);
  });

  it('does not keep an entry whose keeper was forgotten as it was noted (its watch\'s feed had ended)', () => {
    const unwatched: string[] = [];
    const changed: string[] = [];
    const kept = new KeptParents((id, change) => {
      if (id === 'root') change(); // the feed ended before the watch began: told at once
      return () => unwatched.push(id);
    }, 100, 64, 300_000, (id) => changed.push(id));
    kept.note(new Map([['root', entry()], ['child', entry('root')], ['grandchild', entry('root')]]), 0);
    // The root is forgotten (and read again by the next sweep); what it kept is not trusted without it.
    expect(changed).toEqual(['root']);
    expect([...kept.map.keys()]).toEqual([]);
    expect(kept.size).toBe(0);
  });

  it('keeps what an ancestor keeps, in either order of noting, and forgets it with that ancestor', () => {
    const kept = new KeptParents(() => () => {}, 100, 64, 300_000, () => {});
    // A keeper that comes after what it keeps in the decision's map is noted first all the same.
    kept.note(new Map([['child', entry('root')], ['root', entry()]]), 0);
    expect([...kept.map.keys()].sort()).toEqual(['child', 'root']);
    kept.forget('root');
    expect(kept.size).toBe(0);
  });
});
