import { describe, expect, it } from 'vitest';
import type { NotedKeptParent } from '../src/store/plan-retention.js';
import { KeptParents, keptParentWatches } from '../src/worker/kept-parents.js';

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

  it('moves a watch from an entry kept by another to a root noted once every watch was taken, and back as the root goes', () => {
    const live = new Set<string>();
    const kept = new KeptParents((id) => {
      live.add(id);
      return () => live.delete(id);
    }, 100, 4, 300_000, () => {});
    // A root keeping a chain of 4 due parents: the root and 3 of them watched.
    kept.note(new Map([['r', entry()], ['r1', entry('r')], ['r2', entry('r1')], ['r3', entry('r2')], ['r4', entry('r3')]]), 0);
    expect([...live].sort()).toEqual(['r', 'r1', 'r2', 'r3']);
    // Another root, noted later: it takes the watch of the deepest ('r3'), not none.
    kept.note(new Map([['a', entry()]]), 1);
    expect([...live].sort()).toEqual(['a', 'r', 'r1', 'r2']);
    // 'a' gone (due, say): its watch goes back to the deepest entries left.
    kept.forget('a');
    kept.expire(2);
    expect([...live].sort()).toEqual(['r', 'r1', 'r2', 'r3']);
    kept.clear();
    expect(live.size).toBe(0);
  });
});

describe('keptParentWatches (which remembered parents hold the watches)', () => {
  /** Levels of entries, each entry given as [id, the number it was noted with], each level in the order noted. */
  const levels = (...of: [string, number][][]): Map<string, number>[] => of.map((level) => new Map(level));

  it('ranks the entries kept by none first, then by how many keep them, the watched first among equals, then the order noted', () => {
    // Noted c1, c2, c0, d1, d0, e1: c0 keeps c1 (which keeps c2) and e1, d0 keeps d1.
    const entries = levels([['c0', 2], ['d0', 4]], [['c1', 0], ['d1', 3], ['e1', 5]], [['c2', 1]]);
    expect([...keptParentWatches(entries, new Map(), 2)]).toEqual(['c0', 'd0']);
    expect([...keptParentWatches(entries, new Map(), 4)]).toEqual(['c0', 'd0', 'c1', 'd1']);
    // Among entries as high, one watched keeps its watch; of two watched, the earliest noted.
    expect([...keptParentWatches(entries, new Map([['e1', 1]]), 3)]).toEqual(['c0', 'd0', 'e1']);
    expect([...keptParentWatches(entries, new Map([['e1', 1], ['d1', 1]]), 3)]).toEqual(['c0', 'd0', 'd1']);
    // A watched entry no longer among them is not chosen; all of them when as many as the watches.
    expect([...keptParentWatches(entries, new Map([['gone', 0]]), 1)]).toEqual(['c0']);
    expect(keptParentWatches(entries, new Map(), 6)).toEqual(new Set(['c0', 'd0', 'c1', 'd1', 'e1', 'c2']));
  });

  it('ranks a chain 50,000 deep by its levels, its root first', () => {
    const entries = levels(...Array.from({ length: 50_001 }, (_, i): [string, number][] => [[`n${i}`, 50_000 - i]]));
    expect([...keptParentWatches(entries, new Map([['n50000', 50_000]]), 3)]).toEqual(['n0', 'n1', 'n2']);
  });

  it('reads of 10,000 roots only those it chooses, the watched first', () => {
    const roots = new Map(Array.from({ length: 10_000 }, (_, i): [string, number] => [`r${i}`, i]));
    let read = 0;
    const counted = new (class extends Map<string, number> {
      override keys(): MapIterator<string> {
        const keys = super.keys();
        return (function* () {
          for (const id of keys) {
            read++;
            yield id;
          }
        })() as MapIterator<string>;
      }
    })(roots);
    expect([...keptParentWatches([counted], new Map([['r9999', 0], ['r5000', 0]]), 4)]).toEqual(['r5000', 'r9999', 'r0', 'r1']);
    expect(read).toBe(2);
  });
});

describe('KeptParents.note (its cost, as each page\'s decision is noted on the thread the steps run on)', () => {
  /** Steps of every Map and Set iterator and Map/Set writes made while `run` runs: the work it does, not its time. */
  function countSteps(run: () => void): number {
    const mapIterator = Object.getPrototypeOf(new Map().keys()) as { next: () => unknown };
    const setIterator = Object.getPrototypeOf(new Set().keys()) as { next: () => unknown };
    const patched: [object, string, unknown][] = [
      [mapIterator, 'next', mapIterator.next], [setIterator, 'next', setIterator.next],
      [Map.prototype, 'set', Map.prototype.set], [Set.prototype, 'add', Set.prototype.add],
    ];
    let steps = 0;
    for (const [target, key, original] of patched) {
      Object.defineProperty(target, key, {
        configurable: true, writable: true,
        value: function (this: unknown, ...args: unknown[]) {
          steps++;
          return (original as (...a: unknown[]) => unknown).apply(this, args);
        },
      });
    }
    try {
      run();
    } finally {
      for (const [target, key, original] of patched) Object.defineProperty(target, key, { configurable: true, writable: true, value: original });
    }
    return steps;
  }

  it('costs what the noted entries change at 10,000 entries, not a copy or a ranking of them all', () => {
    const live = new Set<string>();
    const kept = new KeptParents((id) => {
      live.add(id);
      return () => live.delete(id);
    }, 10_000, 64, 300_000, () => {});
    const roots = new Map<string, NotedKeptParent>();
    for (let i = 0; i < 40; i++) roots.set(`r${i}`, entry());
    kept.note(roots, 0);
    const below = new Map<string, NotedKeptParent>();
    for (let i = 0; i < 9_958; i++) below.set(`c${i}`, entry(`r${i % 40}`));
    kept.note(below, 0);
    expect(kept.size).toBe(9_998);
    // One page's decision: one root and one entry it keeps (the ranking moves a watch to the new root).
    const steps = countSteps(() => kept.note(new Map([['r-new', entry()], ['c-new', entry('r-new')]]), 1));
    expect(kept.size).toBe(10_000);
    // The 40 roots and the 24 entries below noted first were watched: the new root takes the watch of the last of them.
    expect(live.has('r-new') && !live.has('c23') && live.has('c22')).toBe(true);
    expect(live.size).toBe(64);
    // A copy of every entry and a pass of the ranking over them made 50,000 steps and more.
    expect(steps).toBeLessThan(2_000);
  });
});

describe('KeptParents (an entry noted under another keeper)', () => {
  it('forgets what an entry kept below it once it is noted kept by an ancestor of its own, and keeps no loop of links', () => {
    const kept = new KeptParents(() => () => {}, 100, 64, 300_000, () => {});
    kept.note(new Map([['p', entry()], ['c', entry('p')], ['g', entry()]]), 0);
    // 'p' due now, kept by its own parent 'g': what it kept until its own time goes, it stays under 'g'.
    kept.note(new Map([['p', entry('g')]]), 1);
    expect([...kept.map.keys()].sort()).toEqual(['g', 'p']);
    // 'g' noted kept by 'p', which it keeps: a loop keeps nothing; an entry kept by itself neither.
    kept.note(new Map([['g', entry('p')]]), 2);
    expect(kept.size).toBe(0);
    kept.note(new Map([['s', entry()]]), 3);
    kept.note(new Map([['s', entry('s')]]), 4);
    expect(kept.size).toBe(0);
  });
});
