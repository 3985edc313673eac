/**
 * Loads values by key in batches: the keys asked for while no read runs go out together in the next read, and the
 * keys asked for while one runs wait for it and go in the one after (at most `maxBatch` keys per read, one read at a
 * time). The status feeds use it for the inputs their cache misses, so a burst of changes of instances the cache does
 * not know costs one read per batch instead of one round trip per change, one after the other.
 *
 * @example
 * ```ts
 * const inputs = new BatchLoader(async (keys) => new Map((await find({ _id: { $in: keys } })).map((d) => [d._id, d])));
 * const [a, b] = await Promise.all([inputs.load('a'), inputs.load('b')]); // one read of ['a', 'b']
 * ```
 */
export class BatchLoader<K, V> {
  readonly #read: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>;
  readonly #maxBatch: number;
  /** The keys asked for and not read yet, with the loads that wait for each. */
  #waiting = new Map<K, { resolve: (value: V | undefined) => void; reject: (error: unknown) => void }[]>();
  #reading = false;

  /**
   * @param read - reads the values of `keys` (a key without a value is left out of the map).
   * @param maxBatch - most keys per read (default 1000).
   */
  constructor(read: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>, maxBatch = 1000) {
    this.#read = read;
    this.#maxBatch = maxBatch;
  }

  /** The value of `key` (`undefined` when the read found none); rejects with the error of the read it went in. */
  load(key: K): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      const waiters = this.#waiting.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.#waiting.set(key, [{ resolve, reject }]);
      if (!this.#reading) {
        this.#reading = true;
        // After the current task's other loads (a batch of change events is delivered in one go).
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#waiting.size > 0) {
      const batch = new Map<K, { resolve: (value: V | undefined) => void; reject: (error: unknown) => void }[]>();
      for (const [key, waiters] of this.#waiting) {
        if (batch.size >= this.#maxBatch) break;
        batch.set(key, waiters);
      }
      for (const key of batch.keys()) this.#waiting.delete(key);
      try {
        const found = await this.#read([...batch.keys()]);
        for (const [key, waiters] of batch) for (const waiter of waiters) waiter.resolve(found.get(key));
      } catch (error) {
        for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#reading = false;
  }
}
