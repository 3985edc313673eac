/**
 * Keeps the promises of work a transaction started without awaiting that must finish before it commits: reads whose
 * results decide further writes (the keys of an instance's messages, then their deletes), and writes whose failure is
 * only reported in their result (Dexie's DBCore). The transaction waits for all of them, failing with the first
 * failure, and then commits; a read that must see such writes waits for them too. A plain IndexedDB write is not
 * tracked: its failure aborts the transaction by itself, and later reads see it. Adapters use one per transaction.
 */
export class PendingWrites {
  /** The tracked writes not done yet, and the failed ones. */
  readonly #pending = new Set<Promise<unknown>>();

  /** Tracks a write; returns it for callers that want its result. */
  track<T>(write: PromiseLike<T>): Promise<T> {
    const promise = Promise.resolve(write);
    this.#pending.add(promise);
    // A failure is handled here so that it is not reported as unhandled while the transaction is still reading;
    // settle() still rejects with it.
    promise.then(() => this.#pending.delete(promise), () => undefined);
    return promise;
  }

  /**
   * Undefined when every tracked write is done (then a read needs no wait, not even a tick); else resolves when every
   * tracked write (including ones tracked meanwhile) succeeded, and rejects with the first failure. Calls may overlap
   * (reads that run in parallel): each waits for all.
   */
  settle(): Promise<unknown> | undefined {
    return this.#pending.size > 0 ? Promise.all(this.#pending).then(() => this.settle()) : undefined;
  }
}
