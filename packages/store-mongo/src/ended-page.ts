import type { InstanceState } from '@durable-rx/runtime/store-kit';
import { endOrderRepair, type StoredEndOrder } from './documents.js';
import { joinsBatch, textBytes, UPDATE_BATCH_LIMITS, type BatchSize } from './fill-in-batches.js';

/** A page of `listEnded` ({@link endedPage}): the states listed, and the repairs of the documents left out. */
export interface EndedPage {
  readonly states: InstanceState[];
  /**
   * One conditional update per document found under a key that is not its state's (`endOrderRepair`), as many as one
   * bulk write takes (`joinsBatch`): the others found are left out all the same, and set right by a later listing.
   */
  readonly repairs: NonNullable<ReturnType<typeof endOrderRepair>>[];
}

/**
 * Builds a page of `listEnded` from the documents of its read (`docs`, in `ended` order, each with the key it was found
 * under: `ENDED_LISTING_PROJECTION`), at most `limit` states, reading no further than needed. `decode` gives a
 * document's state, or `undefined` when it does not decode (logged by the caller): left out. A document whose key is not
 * its state's (`endOrderRepair`: an earlier version beside this one ended it again without writing its end time) is
 * left out too: the caller goes on after the key of the last state listed (`endedKeyOf`, store-kit), so a state listed
 * under an earlier, stale key would make the next page skip every instance between the two keys. Either way the read
 * goes on past it, so a page shorter than `limit` is still the last, and the states are the same however many such
 * documents the read meets.
 *
 * The repairs of those documents are bounded as one batch of the fill-in is (`limits`, {@link joinsBatch}: 500 updates
 * and 16 MiB of the state text they are conditional on): each carries its document's whole state, and a page of a
 * database left with thousands of them by a rolling upgrade held every one. Past the bound a stale document is still
 * left out, not repaired: a later listing that meets it repairs it, up to a batch a page. The retention sweep's passes
 * go on after the last instance listed, so it meets it again at its next pass from the start (a retention period of
 * the status later at most, an hour for a shorter one): purged that much late, never early.
 *
 * @example
 * ```ts
 * const { states, repairs } = await endedPage(cursor, query.limit, (doc) => decodeStoredState(doc, log));
 * ```
 */
export async function endedPage<D extends StoredEndOrder>(
  docs: AsyncIterable<D>, limit: number, decode: (doc: D) => InstanceState | undefined, limits: BatchSize = UPDATE_BATCH_LIMITS,
): Promise<EndedPage> {
  const states: InstanceState[] = [];
  const repairs: NonNullable<ReturnType<typeof endOrderRepair>>[] = [];
  let repairBytes = 0;
  if (limit <= 0) return { states, repairs };
  for await (const doc of docs) {
    const state = decode(doc);
    if (!state) continue;
    const repair = endOrderRepair(doc, state);
    if (!repair) states.push(state);
    else {
      const bytes = textBytes(doc.state);
      if (joinsBatch({ count: repairs.length, bytes: repairBytes }, bytes, limits)) {
        repairs.push(repair);
        repairBytes += bytes;
      }
    }
    if (states.length >= limit) break;
  }
  return { states, repairs };
}
