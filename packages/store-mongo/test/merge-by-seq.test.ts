import { describe, expect, it } from 'vitest';
import { mergeBySeq } from '../src/merge-by-seq.js';

/** A source that records how far it was read and whether it was closed, as a driver cursor would be. */
function source(seqs: readonly number[], failAt?: number) {
  const state = { read: 0, started: false, closed: false };
  const iterable: AsyncIterable<{ seq: number }> = {
    async *[Symbol.asyncIterator]() {
      state.started = true;
      try {
        for (const seq of seqs) {
          if (seq === failAt) throw new Error(`read failed at ${seq}`);
          state.read++;
          yield { seq };
        }
      } finally {
        state.closed = true;
      }
    },
  };
  return { iterable, state };
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('mergeBySeq (the two reads of an instance\'s visible messages, in arrival order)', () => {
  it('interleaves the messages visible at once and the due timers in seq order', async () => {
    const atOnce = source([2, 3, 7, 9]);
    const due = source([1, 5, 8]);
    expect((await all(mergeBySeq(atOnce.iterable, due.iterable))).map((m) => m.seq)).toEqual([1, 2, 3, 5, 7, 8, 9]);
    expect(atOnce.state.closed && due.state.closed).toBe(true);
  });

  it('yields at most max, the first in seq order, and closes both sources', async () => {
    const atOnce = source([2, 3, 7, 9]);
    const due = source([1, 5, 8]);
    expect((await all(mergeBySeq(atOnce.iterable, due.iterable, 3))).map((m) => m.seq)).toEqual([1, 2, 3]);
    // One item ahead at most: what a consumer never gets is mostly never read.
    expect(atOnce.state.read).toBeLessThanOrEqual(4);
    expect(due.state.read).toBeLessThanOrEqual(2);
    expect(atOnce.state.closed && due.state.closed).toBe(true);
  });

  it('closes both sources when the consumer stops early (a byte budget, an answer)', async () => {
    const atOnce = source([1, 2, 3, 4, 5, 6]);
    const due = source([10, 11]);
    const seen: number[] = [];
    for await (const m of mergeBySeq(atOnce.iterable, due.iterable)) {
      seen.push(m.seq);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect(atOnce.state.read).toBe(2); // nothing read past what was taken
    expect(atOnce.state.closed && due.state.closed).toBe(true);
  });

  it('starts no source when it is never iterated or max is 0', async () => {
    const a = source([1]);
    const b = source([2]);
    mergeBySeq(a.iterable, b.iterable); // created, never iterated
    expect(await all(mergeBySeq(a.iterable, b.iterable, 0))).toEqual([]);
    expect(a.state.started || b.state.started).toBe(false);
  });

  it('passes a failed read on and closes the other source', async () => {
    const atOnce = source([1, 2, 3], 2);
    const due = source([5, 6]);
    await expect(all(mergeBySeq(atOnce.iterable, due.iterable))).rejects.toThrow('read failed at 2');
    expect(due.state.closed).toBe(true);
  });

  it('refuses a source out of seq order rather than hand messages out of arrival order', async () => {
    const due = source([4, 3]);
    await expect(all(mergeBySeq(source([]).iterable, due.iterable))).rejects.toThrow(/ascending seq order/);
    expect(due.state.closed).toBe(true);
  });

  it('closes the two sources one after the other, never both at once (one session runs one command at a time)', async () => {
    // Each close is a killCursors on the session the two cursors share; the driver runs no two commands of one session
    // at once (in a transaction it is undefined behaviour), so the second close starts only once the first ended, even
    // when the first fails.
    let closing = 0;
    let overlapped = false;
    const order: string[] = [];
    const slowClose = (name: string, seqs: readonly number[], fails = false): AsyncIterable<{ seq: number }> => ({
      [Symbol.asyncIterator]() {
        let i = 0;
        return {
          next: async () => (i < seqs.length ? { done: false, value: { seq: seqs[i++]! } } : { done: true, value: undefined }),
          return: async () => {
            closing++;
            overlapped ||= closing > 1;
            order.push(`${name} closing`);
            await new Promise((resolve) => setTimeout(resolve, 1));
            closing--;
            order.push(`${name} closed`);
            if (fails) throw new Error(`${name} failed to close`);
            return { done: true, value: undefined };
          },
        };
      },
    });
    expect((await all(mergeBySeq(slowClose('a', [1, 2, 3], true), slowClose('b', [4, 5]), 2))).map((m) => m.seq)).toEqual([1, 2]);
    expect(overlapped).toBe(false);
    expect(order).toEqual(['a closing', 'a closed', 'b closing', 'b closed']);
  });
});
