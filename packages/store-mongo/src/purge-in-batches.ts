/**
 * The batch loop of `purgeInstances`: takes the ids the scan yields (`ids`; a key that is not a string is another
 * program's document, never one of this store's, and is passed over), `batchSize` at a time, and purges each batch
 * (`purge`, one transaction, which answers how many it purged) before reading on, so one batch of ids is in memory at
 * a time. Before each batch it asks `isClosed()`: once the store is closing it purges no more and answers the count so
 * far (every batch purged is complete, its transaction committed), so `close`, which waits for the operations in
 * flight, waits for one batch at most, not a retention purge of millions.
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
    if (isClosed()) return count;
    count += await purge(batch);
    batch = [];
  }
  if (batch.length > 0 && !isClosed()) count += await purge(batch);
  return count;
}
