import { compareEndedKeys, endedKeyOf, matchesEndedQuery, type EndedKey, type EndedQuery, type InstanceState } from '@durable-rx/runtime/store-kit';
import { endOrderRepair, type StoredEndOrder } from './documents.js';
import { joinsBatch, textBytes, UPDATE_BATCH_LIMITS, UpdateBatches, type BatchSize } from './fill-in-batches.js';

/** The conditional update that sets a stored instance's end-order key right ({@link endOrderRepair}). */
export type EndOrderRepair = NonNullable<ReturnType<typeof endOrderRepair>>;

/**
 * How many times one page of `listEnded` is read at most ({@link endedPage}): once, and once more when the repairs of
 * the first read moved an instance of the listing behind the page.
 */
export const ENDED_PAGE_READS = 2;

/**
 * One read of a page of `listEnded`: runs `use` over the documents a fresh read of the query finds (a cursor, in
 * `ended` order, each with the key it was found under: `ENDED_LISTING_PROJECTION`), and releases the read once `use`
 * settles.
 */
export type EndedRead<D> = <T>(use: (docs: AsyncIterable<D>) => Promise<T>) => Promise<T>;

/**
 * Builds a page of `listEnded` (`query`, which `validateEndedQuery` passed) from a read of its documents (`read`): its
 * states, at most `query.limit`, reading no further than needed. `decode` gives a document's state, or `undefined` when
 * it does not decode (logged by the caller): left out. A document whose key is not its state's (`endOrderRepair`: an
 * earlier version beside this one ended it again without writing its end time) is left out too: the caller goes on
 * after the key of the last state listed (`endedKeyOf`, store-kit), so a state listed under an earlier, stale key would
 * make the next page skip every instance between the two keys. Either way the read goes on past it, so a page shorter
 * than the limit is still the last.
 *
 * Every such document the read meets is set right: its repair goes to `write` in batches as they fill during the read
 * ({@link UpdateBatches}, by {@link joinsBatch}: 500 updates and 16 MiB of the state text they are conditional on, as a
 * fill-in's), the last once the read ends. So the page holds one batch of them at most, however many it meets (each
 * carries its document's whole state), and a read that fails midway (its time bound, on a page that reads past many
 * large ones) has written what it met, the batch it held too, before its error is thrown: the next try gets further.
 * `write` is expected to settle (MongoStore's logs a failed write); on that path a rejection of it is dropped for the
 * read's own error.
 *
 * A repair moves its instance to its state's key. Where that key is one of the listing's and the page read past it
 * without listing it ({@link passedMoved}: the cursor did not meet it there again), the page is read once more
 * ({@link ENDED_PAGE_READS}), which finds it under that key: the caller's next page goes on after the page's last key
 * and would not meet it (the retention sweep only at its next pass from the start, a retention period later). So the
 * page is exact by store-kit's rule (`matchesEndedQuery`, `compareEndedKeys`) over the documents as its repairs left
 * them, unless the read again sets one right behind it (written meanwhile by an earlier version, or a repair that
 * failed): that one is left to a listing from the start. So is every moved one when the second read fails (the page's
 * time bound, which MongoStore gives both reads at once, ran out during it): the page is then the first read's, exact
 * but for them, and its repairs are kept; the error is not thrown, as the first read answers the call, but goes to
 * `rereadFailed` (MongoStore logs it as a warning).
 *
 * @example
 * ```ts
 * const states = await endedPage((use) => use(cursor), query, (doc) => decodeStoredState(doc, log), (batch) => repair(batch));
 * ```
 */
export async function endedPage<D extends StoredEndOrder>(
  read: EndedRead<D>, query: EndedQuery, decode: (doc: D) => InstanceState | undefined,
  write: (repairs: EndOrderRepair[]) => Promise<unknown>, limits: BatchSize = UPDATE_BATCH_LIMITS,
  rereadFailed: (error: unknown) => void = () => undefined,
): Promise<InstanceState[]> {
  let page = await read((docs) => readPage(docs, query, decode, write, limits));
  for (let reads = 1; reads < ENDED_PAGE_READS && passedMoved(page.states, page.moved, query.limit); reads++) {
    try {
      page = await read((docs) => readPage(docs, query, decode, write, limits));
    } catch (error) {
      // The page as read before: exact but for the moved instances (the repairs of the failed read kept). Reported, as
      // those wait for a listing from the start; `rereadFailed` must not throw (MongoStore's logs).
      rereadFailed(error);
      break;
    }
  }
  return page.states;
}

/** One read of {@link endedPage}: the states listed, and the keys of the listing's instances its repairs moved. */
async function readPage<D extends StoredEndOrder>(
  docs: AsyncIterable<D>, query: EndedQuery, decode: (doc: D) => InstanceState | undefined,
  write: (repairs: EndOrderRepair[]) => Promise<unknown>, limits: BatchSize,
): Promise<{ states: InstanceState[]; moved: EndedKey[] }> {
  const states: InstanceState[] = [];
  const moved: EndedKey[] = [];
  const repairs = new UpdateBatches(write, limits);
  try {
    for await (const doc of docs) {
      const state = decode(doc);
      if (!state) continue;
      const repair = endOrderRepair(doc, state);
      if (!repair) states.push(state);
      else {
        await repairs.add(repair, textBytes(doc.state));
        if (matchesEndedQuery(state, query)) moved.push(endedKeyOf(state));
      }
      if (states.length >= query.limit) break;
    }
  } catch (error) {
    await repairs.flush().catch(() => undefined);
    throw error;
  }
  await repairs.flush();
  return { states, moved };
}

/**
 * Whether a page (`states`, of at most `limit`) read past an instance of its listing that a repair of its read moved
 * (`moved`, their keys) without listing it: one not among `states` whose key is before the page's last, or any for a
 * page shorter than `limit` (it read the whole range). One past the last key of a full page is the next page's.
 *
 * @example
 * ```ts
 * passedMoved([a, z], [endedKeyOf(s)], 2); // true when s's key is before z's: the next page, after z, would skip it
 * ```
 */
export function passedMoved(states: readonly InstanceState[], moved: readonly EndedKey[], limit: number): boolean {
  if (moved.length === 0) return false;
  const listed = new Set(states.map((state) => state.instanceId));
  const last = states.length >= limit ? endedKeyOf(states.at(-1)!) : undefined;
  return moved.some((key) => !listed.has(key.instanceId) && (last === undefined || compareEndedKeys(key, last) < 0));
}
