/**
 * Keeps the promises of work a transaction started without awaiting that must finish before it commits: reads whose
 * results decide further writes (the keys of an instance's messages, then their deletes), and writes whose failure is
 * only reported in their result (Dexie's DBCore). The transaction waits for all of them, failing with the first
 * failure, and then commits. A plain IndexedDB write is not tracked: its failure aborts the transaction by itself.
 * Adapters use one per transaction.
 */
export class PendingWrites {
  readonly #pending: Promise<unknown>[] = [];

  /** Tracks a write; returns it for callers that want its result. */
  track<T>(write: PromiseLike<T>): Promise<T> {
    const promise = Promise.resolve(write);
    // Handled here so that a failure while the transaction is still reading is not reported as unhandled;
    // settle() still rejects with it.
    promise.catch(() => undefined);
    this.#pending.push(promise);
    return promise;
  }

  /** Resolves when every tracked write (including ones tracked meanwhile) succeeded; rejects with the first failure. */
  async settle(): Promise<void> {
    while (this.#pending.length > 0) await Promise.all(this.#pending.splice(0));
  }
}
