/**
 * Keeps the promises of writes issued without awaiting, so the transaction can wait for all of them (and fail with
 * the first failure) before it commits. Adapters use one per transaction.
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
