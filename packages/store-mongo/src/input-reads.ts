import type { Document } from 'mongodb';
import { BatchLoader } from './batch-loader.js';

/**
 * The largest input (UTF-8 bytes of its JSON text) that comes back in a batched read: 128 KiB, so one batch of 100
 * instances holds at most 12.5 MiB of inputs. A larger one (inputs may be 15 MiB each: `MAX_PAYLOAD_BYTES`) is read on
 * its own, one at a time: a batch of 100 of them would otherwise hold up to 1.5 GB at once.
 */
export const INLINE_INPUT_BYTES = 128 * 1024;

/** What a read gives for an instance: its execution and its input (absent: none). */
export interface StoredInput {
  readonly executionId?: string;
  readonly input?: string;
}

/** What the batched read gives for an instance: a {@link StoredInput}, or `large` with no input when over the limit. */
export interface BatchedInput extends StoredInput {
  readonly large?: boolean;
}

/**
 * The projection of the batched read ({@link InputReads}): the execution, the input when it is at most `inlineBytes`
 * UTF-8 bytes (`$strLenBytes`), else `large: true` and no input. Aggregation expressions in a `find` projection need
 * MongoDB 4.4, the store's oldest supported server.
 *
 * Only a string is measured: `$strLenBytes` raises on anything else, and one raise fails the whole batched read (up to
 * 100 instances). An absent or null input counts as small (absent stays absent, null comes back null). An input of any
 * other type (only a document the store did not write) counts as large, so it is read on its own: its size is unknown,
 * and whatever its decode does then touches that instance only.
 *
 * @example
 * ```ts
 * instances.find({ _id: { $in: keys } }, { projection: batchedInputProjection() }); // { _id, executionId, input } or { _id, executionId, large: true }
 * ```
 */
export function batchedInputProjection(inlineBytes = INLINE_INPUT_BYTES): Document {
  const type = { $type: '$input' }; // 'missing' when absent
  const small = {
    $cond: [{ $eq: [type, 'string'] }, { $lte: [{ $strLenBytes: '$input' }, inlineBytes] }, { $in: [type, ['missing', 'null']] }],
  };
  return { executionId: 1, input: { $cond: [small, '$input', '$$REMOVE'] }, large: { $cond: [small, '$$REMOVE', true] } };
}

/**
 * Reads the inputs the status feeds miss: the keys asked for together go out in one batched read (up to `maxBatch`
 * keys, one read at a time: {@link BatchLoader}) that brings back only the inputs of at most {@link
 * INLINE_INPUT_BYTES}; each larger one is then read on its own, one such read at a time, and handed to its load as
 * soon as it is read. So a burst of misses holds at most one batch of small inputs and one large input in reads at once.
 *
 * @example
 * ```ts
 * const reads = new InputReads((keys) => batchedRead(keys), (key) => readOne(key));
 * await reads.load('a'); // { executionId, input } or undefined when there is no such instance
 * ```
 */
export class InputReads {
  readonly #batched: BatchLoader<string, BatchedInput>;
  readonly #single: BatchLoader<string, StoredInput>;

  /**
   * @param readBatch - reads `keys` with {@link batchedInputProjection} (a key without a document is left out).
   * @param readOne - reads one instance's execution and input, whatever its size (`undefined`: no such instance).
   */
  constructor(
    readBatch: (keys: readonly string[]) => Promise<ReadonlyMap<string, BatchedInput>>,
    readOne: (key: string) => Promise<StoredInput | undefined>,
    maxBatch = 100,
  ) {
    this.#batched = new BatchLoader(readBatch, maxBatch);
    this.#single = new BatchLoader(async ([key]) => {
      const stored = key === undefined ? undefined : await readOne(key);
      return new Map(stored === undefined || key === undefined ? [] : [[key, stored]]);
    }, 1);
  }

  /** The execution and input of `key` (`undefined`: no such instance); rejects with the error of a read it went in. */
  async load(key: string): Promise<StoredInput | undefined> {
    const batched = await this.#batched.load(key);
    return batched?.large === true ? this.#single.load(key) : batched;
  }
}
