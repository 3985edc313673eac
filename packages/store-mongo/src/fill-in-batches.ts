import { Buffer } from 'node:buffer';

/** The most updates of one bulk write of a connect-time fill-in ({@link fillInBatches}) or of a `listEnded` page's repairs. */
export const FILL_IN_BATCH_COUNT = 500;

/**
 * The most text the updates of one bulk write of a fill-in (or of a `listEnded` page's repairs) carry
 * ({@link joinsBatch}): UTF-8 bytes of the states they are conditional on (`sameStateFilter`). Each update carries the
 * whole state it read (up to 15 MiB), so a batch bounded by its count alone held up to 500 of them in the process at
 * once.
 */
export const FILL_IN_BATCH_BYTES = 16 * 1024 * 1024;

/** A batch of conditional updates, or its bounds: how many, and how many bytes of state text they carry. */
export interface BatchSize {
  readonly count: number;
  readonly bytes: number;
}

/** {@link FILL_IN_BATCH_COUNT} updates and {@link FILL_IN_BATCH_BYTES} of text: one bulk write. */
export const UPDATE_BATCH_LIMITS: BatchSize = { count: FILL_IN_BATCH_COUNT, bytes: FILL_IN_BATCH_BYTES };

/**
 * Whether an update that carries `bytes` of state text joins a batch that holds `held` (its updates and their text):
 * while the batch holds fewer than `limits.count` and the text stays within `limits.bytes`. The first always joins (a
 * state is at most 15 MiB, under the 16 MiB bound), so a batch never holds more than `limits.bytes` of text. The one
 * rule of the fill-ins' batches ({@link fillInBatches}) and of the repairs a `listEnded` page writes (`endedPage`), through
 * {@link UpdateBatches}.
 *
 * @example
 * ```ts
 * joinsBatch({ count: 2, bytes: 12 * MiB }, 6 * MiB); // false: 18 MiB
 * joinsBatch({ count: 0, bytes: 0 }, 15 * MiB);       // true
 * ```
 */
export function joinsBatch(held: BatchSize, bytes: number, limits: BatchSize = UPDATE_BATCH_LIMITS): boolean {
  return held.count === 0 || (held.count < limits.count && held.bytes + bytes <= limits.bytes);
}

/** The UTF-8 bytes of the state text an update carries (`undefined`: none, counted by number alone). */
export function textBytes(text: string | undefined): number {
  return text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
}

/**
 * Runs a connect-time fill-in over `docs` (the documents missing a field, as a cursor returns them): `update` gives a
 * document's conditional update (`undefined`: left alone), and `write` sends them in unordered bulk writes of the
 * updates {@link joinsBatch} lets into one batch (at most `limits.count`, carrying at most `limits.bytes` of the text
 * `textOf` gives of each document, the state its update is conditional on), so the process holds at most about that
 * much of it at once.
 *
 * @example
 * ```ts
 * await fillInBatches(cursor, (doc) => endOrderRepair(doc, decode(doc)), (doc) => doc.state, (batch) => instances.bulkWrite(batch.map((updateOne) => ({ updateOne })), { ordered: false }));
 * ```
 */
export async function fillInBatches<D, U>(
  docs: AsyncIterable<D>, update: (doc: D) => U | undefined, textOf: (doc: D) => string | undefined, write: (batch: U[]) => Promise<unknown>,
  limits: BatchSize = UPDATE_BATCH_LIMITS,
): Promise<void> {
  const batches = new UpdateBatches(write, limits);
  for await (const doc of docs) {
    const next = update(doc);
    if (next !== undefined) await batches.add(next, textBytes(textOf(doc)));
  }
  await batches.flush();
}

/**
 * Conditional updates gathered into bulk writes as they come: `add` writes the batch held (`write`) before an update
 * that {@link joinsBatch} does not let into it, and `flush` writes what is left. So at most one batch is held at once
 * (`limits`), and every update added is written once `flush` resolves. Used by {@link fillInBatches} and by a page of
 * `listEnded` (`endedPage`).
 *
 * @example
 * ```ts
 * const batches = new UpdateBatches((batch) => instances.bulkWrite(batch.map((updateOne) => ({ updateOne })), { ordered: false }));
 * await batches.add(repair, textBytes(doc.state));
 * await batches.flush();
 * ```
 */
export class UpdateBatches<U> {
  readonly #write: (batch: U[]) => Promise<unknown>;
  readonly #limits: BatchSize;
  #batch: U[] = [];
  #bytes = 0;

  constructor(write: (batch: U[]) => Promise<unknown>, limits: BatchSize = UPDATE_BATCH_LIMITS) {
    this.#write = write;
    this.#limits = limits;
  }

  /** Adds an update that carries `bytes` of state text, writing the batch held first when the update does not join it. */
  async add(update: U, bytes: number): Promise<void> {
    if (!joinsBatch({ count: this.#batch.length, bytes: this.#bytes }, bytes, this.#limits)) await this.flush();
    this.#batch.push(update);
    this.#bytes += bytes;
  }

  /** Writes the batch held, if any. */
  async flush(): Promise<void> {
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    this.#bytes = 0;
    await this.#write(batch);
  }
}
