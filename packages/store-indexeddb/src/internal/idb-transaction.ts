import { StorageError } from '../errors/storage-error.js';
import type { ReadsAhead } from './read-ahead.js';

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

/**
 * Runs the work of one transaction and ends it, for both backends. A readonly transaction returns what `work`
 * returned. A readwrite one commits only once every row `reads` took ahead was confirmed; any failure on the way (of
 * the work, of the check) aborts it, so nothing of it is written. A transaction decided on a row the database did not
 * confirm throws `reads` (the caller runs the work again), but only once the abort took effect: had the transaction
 * committed instead, running again could write the commit twice, and a StorageError says so.
 *
 * `abandon`: called when the transaction is aborted, before the abort (e.g. to drop writes not issued yet).
 * `closedUnder`: true once the browser closed the transaction's connection (the site's data cleared). A transaction
 * that fails then did not commit (in Chromium its requests fail after the connection's `close`, and it gets no
 * `abort` to wait for): it throws `reads`, so the caller runs the work again, on a new connection.
 */
export async function finishChecked<T>(
  transaction: IDBTransaction, mode: 'readonly' | 'readwrite', reads: ReadsAhead, work: () => Promise<T>, abandon?: () => void,
  closedUnder?: () => boolean,
): Promise<T> {
  const done = completion(transaction);
  let result: T;
  try {
    result = await work();
    if (mode === 'readonly') return result;
    if (!(await reads.confirmed())) throw reads;
  } catch (error) {
    abandon?.();
    end(transaction, false);
    if (closedUnder?.()) throw reads;
    // Aborted by a failed write: its error is the cause. Decided on a row read ahead that is not confirmed: `reads`.
    if (error !== reads && !reads.unconfirmed) throw transaction.error ?? error;
    try {
      await done;
    } catch {
      throw reads; // aborted: nothing of it was written
    }
    throw new StorageError('A transaction committed instead of aborting', { cause: error });
  }
  // At once, with the last writes still in flight (no round trip to wait for them): a write that fails aborts the
  // transaction, and `done` rejects with its error. A readwrite transaction resolves only once committed (durable).
  end(transaction, true);
  await done;
  return result;
}
