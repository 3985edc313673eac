import { StoreClosedError } from '@durable-rx/runtime';

/**
 * The batch loop of `purgeInstances`: takes the ids the scan yields (`ids`; a key that is not a string is another
 * program's document, never one of this store's, and is passed over), `batchSize` at a time, and purges each batch
 * (`purge`, one transaction, which answers how many it purged) before reading on, so one batch of ids is in memory at
 * a time. Before each batch it asks `isClosed()`: once the store is closing it purges no more and rejects with
 * `StoreClosedError`, whose message names how many were purged before (every batch purged is complete, its
 * transaction committed), so `close`, which waits for the operations in flight, waits for one batch at most, not a
 * retention purge of millions, and no caller takes a purge cut short for a complete one.
 *
 * @example
 * ```ts
 * const purged = await purgeInBatches(cursor.map((doc) => doc._id), 50, purgeBatch, () => closed);
 * ```
 */
export async function purgeInBatches(
  ids: AsyncIterable<unknown>, batchSize: number, purge: (batch: readonly string[]) => Promise<number>, isClosed: () => boolean,
): Promise<number> {
  let count = 0;
  let batch: string[] = [];
  for await (const id of ids) {
    if (typeof id !== 'string') continue;
    batch.push(id);
    if (batch.length < batchSize) continue;
    if (isClosed()) throw cutShort(count);
    count += await purge(batch);
    batch = [];
  }
  if (batch.length > 0) {
    if (isClosed()) throw cutShort(count);
    count += await purge(batch);
  }
  return count;
}

function cutShort(purged: number): StoreClosedError {
  return new StoreClosedError(`The store closed during the purge: ${purged} instances were purged, the others matching the filter were not`);
}
