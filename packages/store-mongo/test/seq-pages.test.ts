import { describe, expect, it } from 'vitest';
import { mergeBySeq } from '../src/merge-by-seq.js';
import { seqPages } from '../src/seq-pages.js';

/**
 * Due timers as an index would page them: `seqs` ascending, each page the next `pageSize` after `afterSeq`. Records
 * every page asked for and every document read, and whether the page being read was closed.
 */
function dueTimers(seqs: readonly number[], pageSize: number) {
  const log = { pages: [] as (number | undefined)[], docsRead: 0, docPagesOpened: 0, docPagesClosed: 0, largestIn: 0 };
  const pages = seqPages(
    pageSize,
    async (afterSeq) => {
      log.pages.push(afterSeq);
      return seqs.filter((seq) => afterSeq === undefined || seq > afterSeq).slice(0, pageSize);
    },
    (page) => ({
      async *[Symbol.asyncIterator]() {
        log.docPagesOpened++;
        log.largestIn = Math.max(log.largestIn, page.length);
        try {
          for (const seq of page) {
            log.docsRead++;
            yield { seq };
          }
        } finally {
          log.docPagesClosed++;
        }
      },
    }),
  );
  return { pages, log };
}

async function take<T>(items: AsyncIterable<T>, n = Number.POSITIVE_INFINITY): Promise<T[]> {
  const out: T[] = [];
  if (n <= 0) return out;
  for await (const item of items) {
    out.push(item);
    if (out.length >= n) break;
  }
  return out;
}

describe('seqPages (an instance\u2019s due timers, a page of seqs at a time)', () => {
  it('yields every document in seq order across pages, each page after the last seq of the one before', async () => {
    const seqs = Array.from({ length: 10 }, (_, i) => 3 * i + 1);
    const { pages, log } = dueTimers(seqs, 4);
    expect((await take(pages)).map((d) => d.seq)).toEqual(seqs);
    // Pages of 4, 4 and 2 (the short one is the last: no fourth read).
    expect(log.pages).toEqual([undefined, 10, 22]);
    expect(log.largestIn).toBe(4);
  });

  it('reads one more (empty) page only after a full last page, and reads no documents for it', async () => {
    const { pages, log } = dueTimers([1, 2, 3, 4], 2);
    expect((await take(pages)).map((d) => d.seq)).toEqual([1, 2, 3, 4]);
    expect(log.pages).toEqual([undefined, 2, 4]);
    expect(log.docPagesOpened).toBe(2);
    const none = dueTimers([], 2);
    expect(await take(none.pages)).toEqual([]);
    expect(none.log).toMatchObject({ pages: [undefined], docPagesOpened: 0 });
  });

  it('a backlog costs what the consumer asks for: one page, closed when it stops (an unclaimed write\u2019s check)', async () => {
    const backlog = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const { pages, log } = dueTimers(backlog, 8);
    expect((await take(pages, 2)).map((d) => d.seq)).toEqual([1, 2]);
    expect(log.pages).toEqual([undefined]);
    expect(log.largestIn).toBe(8);
    expect(log.docsRead).toBe(2);
    expect(log.docPagesClosed).toBe(log.docPagesOpened);
  });

  it('merged with the messages visible at once, reads the next page only when the merge needs it', async () => {
    const atOnce = { async *[Symbol.asyncIterator]() { for (const seq of [2, 4, 6]) yield { seq }; } };
    const { pages, log } = dueTimers([1, 3, 5, 7, 9, 11], 2);
    expect((await take(mergeBySeq(atOnce, pages, 4))).map((d) => d.seq)).toEqual([1, 2, 3, 4]);
    // 1 and 3 came from the first page; the merge looked one ahead (5) from the second and stopped.
    expect(log.pages).toEqual([undefined, 3]);
    expect(log.docPagesClosed).toBe(log.docPagesOpened);
  });

  it('passes a failed page read on, reading nothing after it', async () => {
    const pages = seqPages(2, async (afterSeq) => {
      if (afterSeq !== undefined) throw new Error('page read failed');
      return [1, 2];
    }, (page) => ({ async *[Symbol.asyncIterator]() { for (const seq of page) yield { seq }; } }));
    const seen: number[] = [];
    await expect((async () => { for await (const doc of pages) seen.push(doc.seq); })()).rejects.toThrow('page read failed');
    expect(seen).toEqual([1, 2]);
  });
});
