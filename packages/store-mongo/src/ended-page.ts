import { compareEndedKeys, endedKeyOf, matchesEndedQuery, type EndedQuery, type InstanceState } from '@durable-rx/runtime/store-kit';
import { endOrderRepair, type StoredEndOrder } from './documents.js';
import { joinsBatch, textBytes, UPDATE_BATCH_LIMITS, UpdateBatches, type BatchSize } from './fill-in-batches.js';

/** The conditional update that sets a stored instance's end-order key right ({@link endOrderRepair}). */
export type EndOrderRepair = NonNullable<ReturnType<typeof endOrderRepair>>;

/**
 * One find of a page of `listEnded`: runs `use` over the documents a fresh read of the query's range finds after
 * `from` (a document the page read, by the key it was found under; `undefined`: after the query's `after`), `limit` at
 * most, in `ended` order, each with the key it was found under (`ENDED_LISTING_PROJECTION`), and releases the read
 * once `use` settles (`endedListingQuery` with `from` and `limit`).
 */
export type EndedRead<D> = <T>(from: D | undefined, limit: number, use: (docs: AsyncIterable<D>) => Promise<T>) => Promise<T>;

/**
 * Builds a page of `listEnded` (`query`, which `validateEndedQuery` passed) from finds of its documents (`read`): its
 * states, at most `query.limit`. Each find asks for as many documents as the page still needs states, or as the run of
 * documents it left out just before when more ({@link findLimit}), and is read to its end, so the server has closed
 * its cursor by then: a page never leaves a
 * cursor open for a `killCursors` to close (one the driver sends with no signal or time limit, which a server that
 * stops answering held past the call's deadline until the pool's monitor interrupted it, about 20 s), and a full page
 * takes one round trip less. When a find ends with the page still short (documents it left out, below) and it
 * returned all it asked for, the next goes on after the last document it returned; one that returned fewer read the
 * whole range. `decode` gives a document's state, or `undefined` when
 * it does not decode (logged by the caller): left out. A document whose key is not its state's (`endOrderRepair`: an
 * earlier version beside this one ended it again without writing its end time) is not listed where it was found: the
 * caller goes on after the key of the last state listed (`endedKeyOf`, store-kit), so a state listed under an earlier,
 * stale key would make the next page skip every instance between the two keys. Either way the read goes on past it, so
 * a page shorter than the limit is still the last. An instance met again once listed (a later change, such as a late
 * result recorded on it, moved its key past the find that listed it) is left out there too: a page lists each once.
 *
 * Every such document the read meets is set right: its repair goes to `write` in batches as they fill during the read
 * ({@link UpdateBatches}, by {@link joinsBatch}: 500 updates and 16 MiB of the state text they are conditional on, as a
 * fill-in's), the last once the read ends. So the page holds one batch of them at most, however many it meets (each
 * carries its document's whole state), and a read that fails midway (the call's deadline, on a page that reads past
 * many large ones) has written what it met, the batch it held too, before its error is thrown: the next try gets
 * further. `write` is expected to settle (MongoStore's logs a failed write); on that path a rejection of it is dropped
 * for the read's own error.
 *
 * Such an instance is listed where its state puts it ({@link withMoved}): at its state's key, when that key is one of
 * the listing's and comes before the page's last (anywhere, for a page shorter than the limit, which read the whole
 * range), the first `query.limit` of them kept (so the page holds no more of their states than it lists). A repair
 * moves it there, but the read had gone past that key, and the caller's next page, after the page's last key, would
 * not meet it (the retention sweep only at its next pass from the start, a retention period later). Listed from the state the read found (the state its repair is conditional on), it
 * needs no second read of the page, and is listed whatever became of its repair (a write that failed, or the call's
 * deadline before it was sent): the page is exact by store-kit's rule (`matchesEndedQuery`, `compareEndedKeys`) over
 * the states it read. One that ends past the last key of a full page is the next page's, which meets it there once its
 * repair held.
 *
 * @example
 * ```ts
 * const read: EndedRead<InstanceDoc> = async (from, limit, use) => use(instances.find(...endedListingQuery(query, from, limit)));
 * const states = await endedPage(read, query, (doc) => decodeStoredState(doc, log), (batch) => repair(batch));
 * ```
 */
export async function endedPage<D extends StoredEndOrder>(
  read: EndedRead<D>, query: EndedQuery, decode: (doc: D) => InstanceState | undefined,
  write: (repairs: EndOrderRepair[]) => Promise<unknown>, limits: BatchSize = UPDATE_BATCH_LIMITS,
): Promise<InstanceState[]> {
  const states: InstanceState[] = [];
  /** The states of the listing's instances the read found stale, the first `query.limit` by key: no others can be listed. */
  const moved: InstanceState[] = [];
  /** The instances listed in `states`: one a later change moved past the find that listed it is met again after it. */
  const listed = new Set<string>();
  const repairs = new UpdateBatches(write, limits);
  try {
    let from: D | undefined;
    /** How many documents the page's finds gave since the last it listed, none of them listed where it was found. */
    let leftOut = 0;
    for (;;) {
      const asked = findLimit(query.limit, query.limit - states.length, leftOut);
      let found = 0;
      await read(from, asked, async (docs) => {
        for await (const doc of docs) {
          found++;
          leftOut++;
          from = doc;
          const state = decode(doc);
          if (!state) continue;
          const repair = endOrderRepair(doc, state);
          if (repair) {
            await repairs.add(repair, textBytes(doc.state));
            if (matchesEndedQuery(state, query)) keepFirst(moved, state, query.limit);
          } else if (!listed.has(state.instanceId)) {
            listed.add(state.instanceId);
            states.push(state);
            leftOut = 0;
          }
        }
      });
      if (found < asked || states.length >= query.limit) break;
    }
  } catch (error) {
    await repairs.flush().catch(() => undefined);
    throw error;
  }
  await repairs.flush();
  return withMoved(states.slice(0, query.limit), moved, query.limit);
}

/**
 * The documents of one find of a page ({@link EndedRead}), `limit` at most, taken by `next` (a cursor's) and never
 * asked for past the limit: at the limit driver 7.8 replaces a cursor's next `getMore` by a close, and its
 * `killCursors` (no signal, no time limit) would run inside the read. Left to the caller's close instead, which
 * bounds it; the server has closed the cursor itself when the find's one batch held the last (`endedListingQuery`).
 *
 * @example
 * ```ts
 * for await (const doc of upTo(() => cursor.next(), 100)) list(doc); // 100 at most, then no further `next()`
 * ```
 */
export async function* upTo<D>(next: () => Promise<D | null>, limit: number): AsyncGenerator<D, void, undefined> {
  for (let taken = 0; taken < limit; taken++) {
    const doc = await next();
    if (doc === null) return;
    yield doc;
  }
}

/**
 * How many documents the next find of a page asks for: the states the page still needs (`wanted`), or as many as its
 * finds gave since the last state it listed (`leftOut`: undecodable, under a stale key, an instance listed already)
 * when more, up to the page's `limit`. So a run of such documents costs a few finds, their size doubling, then one
 * per `limit` of them, as one cursor's batches of `limit` did, not one find each (a round trip each: a page that
 * needed one state more past 1,000 of them sent 1,001 finds); and a find reads past the page's end no more documents
 * than the run it went on from.
 *
 * @example
 * ```ts
 * findLimit(100, 1, 0);   // 1
 * findLimit(100, 1, 16);  // 16
 * findLimit(100, 1, 500); // 100
 * ```
 */
export function findLimit(limit: number, wanted: number, leftOut: number): number {
  return Math.max(wanted, Math.min(leftOut, limit));
}

/** Adds `state` to `first` (in end order, at most `limit`), unless `limit` states with earlier keys are there already. */
function keepFirst(first: InstanceState[], state: InstanceState, limit: number): void {
  const key = endedKeyOf(state);
  const at = first.findIndex((held) => compareEndedKeys(key, endedKeyOf(held)) < 0);
  if (at === -1) {
    if (first.length < limit) first.push(state);
    return;
  }
  first.splice(at, 0, state);
  if (first.length > limit) first.pop();
}

/**
 * The page a read lists ({@link endedPage}): the states it found under their own key (`states`, in end order, at most
 * `limit`), and those of the listing's instances it found under a stale key (`moved`, their keys in the listing) that
 * belong before its last: every one for a page shorter than `limit` (it read the whole range), else those whose key
 * comes before the last state's (one after it is the next page's). In end order, the first `limit`; an instance the
 * read met under both keys (the cursor met it again once its repair moved it) is listed once.
 *
 * @example
 * ```ts
 * withMoved([a, z], [s], 2); // [a, s] when s's key is before z's: the next page, after z, would have skipped it
 * withMoved([a, z], [s], 3); // [a, s, z]
 * ```
 */
export function withMoved(states: readonly InstanceState[], moved: readonly InstanceState[], limit: number): InstanceState[] {
  const listed = new Set(states.map((state) => state.instanceId));
  const last = states.length >= limit ? endedKeyOf(states.at(-1)!) : undefined;
  const behind = moved.filter((state) => !listed.has(state.instanceId) && (last === undefined || compareEndedKeys(endedKeyOf(state), last) < 0));
  if (behind.length === 0) return [...states];
  return [...states, ...behind].sort((x, y) => compareEndedKeys(endedKeyOf(x), endedKeyOf(y))).slice(0, limit);
}
