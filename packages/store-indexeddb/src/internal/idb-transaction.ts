/**
 * Ending an IndexedDB transaction, for both backends (DexieStore's DBCore transaction is the IndexedDB one too).
 * A readwrite transaction is asked to commit as soon as its work is issued, without a round trip to wait for its last
 * writes: a write that fails on the way aborts the transaction, and {@link completion} rejects with that error.
 */

/**
 * Resolves when the transaction commits; rejects with its error when it aborts. Made before the work starts, so no
 * event is missed; a rejection nobody awaits (after the caller's own abort) is not reported as unhandled.
 */
export function completion(transaction: IDBTransaction): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    // The error is null only after an explicit abort(), which callers make themselves and never await this after.
    transaction.onabort = () => reject(transaction.error);
  });
  done.catch(() => undefined);
  return done;
}

/** Commits or aborts the transaction, unless it already ended (a failed request aborted it: `completion` rejects). */
export function end(transaction: IDBTransaction, commit: boolean): void {
  try {
    if (commit) transaction.commit();
    else transaction.abort();
  } catch {
    // Already aborted or finished: nothing more to do.
  }
}
