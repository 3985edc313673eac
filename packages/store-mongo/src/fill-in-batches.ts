import { Buffer } from 'node:buffer';

/** The most updates of one bulk write of a connect-time fill-in ({@link fillInBatches}). */
export const FILL_IN_BATCH_COUNT = 500;

/**
 * The most text the updates of one bulk write of a fill-in carry ({@link fillInBatches}): UTF-8 bytes of the states
 * they are conditional on (`sameStateFilter`). Each update carries the whole state it read (up to 15 MiB), so a batch
 * bounded by its count alone held up to 500 of them in the process at once.
 */
export const FILL_IN_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Runs a connect-time fill-in over `docs` (the documents missing a field, as a cursor returns them): `update` gives a
 * document's conditional update (`undefined`: left alone), and `write` sends them in unordered bulk writes of at most
 * `limits.count` updates, a batch ending once the text its updates carry (`textOf` each document, the state its
 * update is conditional on) reaches `limits.bytes`, so the process holds at most about that much of it at once.
 *
 * @example
 * ```ts
 * await fillInBatches(cursor, (doc) => endOrderRepair(doc, decode(doc)), (doc) => doc.state, (batch) => instances.bulkWrite(batch.map((updateOne) => ({ updateOne })), { ordered: false }));
 * ```
 */
export async function fillInBatches<D, U>(
  docs: AsyncIterable<D>, update: (doc: D) => U | undefined, textOf: (doc: D) => string | undefined, write: (batch: U[]) => Promise<unknown>,
  limits: { readonly count: number; readonly bytes: number } = { count: FILL_IN_BATCH_COUNT, bytes: FILL_IN_BATCH_BYTES },
): Promise<void> {
  let batch: U[] = [];
  let bytes = 0;
  for await (const doc of docs) {
    const next = update(doc);
    if (next === undefined) continue;
    batch.push(next);
    const text = textOf(doc);
    bytes += text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
    if (batch.length >= limits.count || bytes >= limits.bytes) {
      await write(batch);
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) await write(batch);
}
