import type { InstanceState } from '@durable-rx/runtime/store-kit';
import { endOrderRepair, type StoredEndOrder } from './documents.js';
import { joinsBatch, textBytes, UPDATE_BATCH_LIMITS, UpdateBatches, type BatchSize } from './fill-in-batches.js';

/** The conditional update that sets a stored instance's end-order key right ({@link endOrderRepair}). */
export type EndOrderRepair = NonNullable<ReturnType<typeof endOrderRepair>>;

/**
 * Builds a page of `listEnded` from the documents of its read (`docs`, in `ended` order, each with the key it was found
 * under: `ENDED_LISTING_PROJECTION`): its states, at most `limit`, reading no further than needed. `decode` gives a
 * document's state, or `undefined` when it does not decode (logged by the caller): left out. A document whose key is not
 * its state's (`endOrderRepair`: an earlier version beside this one ended it again without writing its end time) is
 * left out too: the caller goes on after the key of the last state listed (`endedKeyOf`, store-kit), so a state listed
 * under an earlier, stale key would make the next page skip every instance between the two keys. Either way the read
 * goes on past it, so a page shorter than `limit` is still the last, and the states are the same however many such
 * documents the read meets.
 *
 * Every such document the read meets is set right: its repair goes to `write` in batches as they fill during the read
 * ({@link UpdateBatches}, by {@link joinsBatch}: 500 updates and 16 MiB of the state text they are conditional on, as a
 * fill-in's), the last once the read ends. So the page holds one batch of them at most, however many it meets (each
 * carries its document's whole state), and a read that fails midway (its time bound, on a page that reads past many
 * large ones) has written what it met, the batch it held too, before its error is thrown: the next try gets further.
 * `write` is expected to settle (MongoStore's logs a failed write); on that path a rejection of it is dropped for the
 * read's own error.
 *
 * @example
 * ```ts
 * const states = await endedPage(cursor, query.limit, (doc) => decodeStoredState(doc, log), (batch) => repair(batch));
 * ```
 */
export async function endedPage<D extends StoredEndOrder>(
  docs: AsyncIterable<D>, limit: number, decode: (doc: D) => InstanceState | undefined,
  write: (repairs: EndOrderRepair[]) => Promise<unknown>, limits: BatchSize = UPDATE_BATCH_LIMITS,
): Promise<InstanceState[]> {
  const states: InstanceState[] = [];
  if (limit <= 0) return states;
  const repairs = new UpdateBatches(write, limits);
  try {
    for await (const doc of docs) {
      const state = decode(doc);
      if (!state) continue;
      const repair = endOrderRepair(doc, state);
      if (repair) await repairs.add(repair, textBytes(doc.state));
      else states.push(state);
      if (states.length >= limit) break;
    }
  } catch (error) {
    await repairs.flush().catch(() => undefined);
    throw error;
  }
  await repairs.flush();
  return states;
}
