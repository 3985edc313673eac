/**
 * Merges two sequences that are each in ascending `seq` order (the two reads of `visibleMessagesQuery`) into one in
 * ascending `seq` order, yielding at most `max` items. Reads each source only as far as the merge needs: one item
 * ahead of what it yielded, so a consumer that stops early (`takeWithinBytes` past its byte budget, an unclaimed
 * write's check at its answer) leaves the rest of both unread. Both sources are closed (`return()`: a driver cursor
 * kills itself on the server) when the merge ends, however it ends, one after the other (in an unclaimed write's
 * check they are two cursors of its one transaction session, which runs one command at a time); a source it never
 * asked for an item is never started (a driver cursor sends no `find` until its first item is asked for).
 *
 * Throws when a source breaks its order (an item whose `seq` is not above the one before it from that source):
 * merging it would hand out messages out of arrival order.
 *
 * Assumes the two sources never hold the same message: their due ranges are disjoint (`due` EPOCH, at once, versus
 * `due` not EPOCH, the timers) and a message's `due` never changes after its insert (messages are only inserted and
 * deleted). A feature that re-times a message would break this silently: the order check sees only one source.
 *
 * @example
 * ```ts
 * for await (const doc of mergeBySeq(atOnceCursor, dueCursor, 100)) handOut(doc);
 * ```
 */
export async function* mergeBySeq<T extends { readonly seq: number }>(
  first: AsyncIterable<T>, second: AsyncIterable<T>, max = Number.POSITIVE_INFINITY,
): AsyncGenerator<T, void, undefined> {
  if (max <= 0) return;
  const sources = [first[Symbol.asyncIterator](), second[Symbol.asyncIterator]()] as const;
  const heads: (T | undefined)[] = [undefined, undefined];
  const done = [false, false];
  const last = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  const fill = async (i: 0 | 1): Promise<void> => {
    if (done[i] || heads[i] !== undefined) return;
    const next = await sources[i].next();
    if (next.done) {
      done[i] = true;
      return;
    }
    if (!(next.value.seq > last[i]!)) {
      throw new Error(`mergeBySeq: source ${i + 1} is not in ascending seq order (${String(next.value.seq)} after ${String(last[i])})`);
    }
    last[i] = next.value.seq;
    heads[i] = next.value;
  };
  let yielded = 0;
  try {
    while (yielded < max) {
      await fill(0);
      await fill(1);
      const [a, b] = heads;
      if (a === undefined && b === undefined) return;
      const pick: 0 | 1 = a === undefined ? 1 : b === undefined ? 0 : a.seq <= b.seq ? 0 : 1;
      const item = heads[pick]!;
      heads[pick] = undefined;
      yielded++;
      yield item;
    }
  } finally {
    // One after the other: the two may be cursors of one session (an unclaimed write's check, in its transaction), and
    // a session runs one command at a time (the driver's ClientSession is not safe for concurrent use; inside a
    // transaction, operations run in parallel are undefined behaviour, and behind a load balancer both closes would
    // share the session's one pinned connection). A close that fails does not keep the other source open.
    for (const [i, source] of sources.entries()) {
      if (!done[i]) await source.return?.().catch(() => undefined);
    }
  }
}
