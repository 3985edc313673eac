/**
 * The documents of a set of `seq`s read a page at a time, in ascending `seq` order: `readSeqs` returns the next page of
 * `seq`s (at most `pageSize`, ascending, after `afterSeq` when given) and `readDocs` the documents of one page. The next
 * page is read only when the consumer asks for an item past the current one, and none after a page shorter than
 * `pageSize` (the last) or an empty one; `readDocs` is never called for an empty page. Stopping early (`return()`,
 * as `mergeBySeq` does when its consumer ends) closes the page being read (a driver cursor kills itself on the server)
 * and reads no further page.
 *
 * MongoStore reads an instance's due timers so: their `seq`s from the index alone, then their documents by `seq`, so a
 * backlog of due timers costs a page of index keys per page read, not all of them at once in one `$in`. It is made
 * for reads that stop early (a claim's limit, an unclaimed write's check): the server sorts the due keys again for each
 * page, so reading a large backlog to its end costs a sort per page.
 *
 * @example
 * ```ts
 * const due = seqPages(8, (after) => seqsOfDueTimers(after), (seqs) => documentsOf(seqs));
 * for await (const doc of mergeBySeq(atOnce, due, limit)) handOut(doc);
 * ```
 */
export async function* seqPages<T>(
  pageSize: number,
  readSeqs: (afterSeq: number | undefined) => Promise<readonly number[]>,
  readDocs: (seqs: readonly number[]) => AsyncIterable<T>,
): AsyncGenerator<T, void, undefined> {
  let afterSeq: number | undefined;
  for (;;) {
    const seqs = await readSeqs(afterSeq);
    if (seqs.length === 0) return;
    yield* readDocs(seqs);
    // A page shorter than asked is the last one.
    if (!(seqs.length >= pageSize)) return;
    afterSeq = seqs[seqs.length - 1];
  }
}
