import type { InstanceState } from '@durable-rx/runtime/store-kit';
import { endOrderRepair, type StoredEndOrder } from './documents.js';

/** A page of `listEnded` ({@link endedPage}): the states listed, and the repairs of the documents left out. */
export interface EndedPage {
  readonly states: InstanceState[];
  /** One conditional update per document found under a key that is not its state's (`endOrderRepair`). */
  readonly repairs: NonNullable<ReturnType<typeof endOrderRepair>>[];
}

/**
 * Builds a page of `listEnded` from the documents of its read (`docs`, in `ended` order, each with the key it was found
 * under: `ENDED_LISTING_PROJECTION`), at most `limit` states, reading no further than needed. `decode` gives a
 * document's state, or `undefined` when it does not decode (logged by the caller): left out. A document whose key is not
 * its state's (`endOrderRepair`: an earlier version beside this one ended it again without writing its end time) is
 * left out too, and its repair returned: the caller goes on after the key of the last state listed
 * (`endedKeyOf`, store-kit), so a state listed under an earlier, stale key would make the next page skip every instance
 * between the two keys. Either way the read goes on past it, so a page shorter than `limit` is still the last.
 *
 * @example
 * ```ts
 * const { states, repairs } = await endedPage(cursor, query.limit, (doc) => decodeStoredState(doc, log));
 * ```
 */
export async function endedPage<D extends StoredEndOrder>(
  docs: AsyncIterable<D>, limit: number, decode: (doc: D) => InstanceState | undefined,
): Promise<EndedPage> {
  const states: InstanceState[] = [];
  const repairs: NonNullable<ReturnType<typeof endOrderRepair>>[] = [];
  if (limit <= 0) return { states, repairs };
  for await (const doc of docs) {
    const state = decode(doc);
    if (!state) continue;
    const repair = endOrderRepair(doc, state);
    if (repair) repairs.push(repair);
    else states.push(state);
    if (states.length >= limit) break;
  }
  return { states, repairs };
}
