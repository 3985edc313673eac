import { StorageError } from '../errors/storage-error.js';
import { errorNames } from './map-storage-error.js';
import type { PageFreeze } from './page-freeze.js';
import type { ReadsAhead } from './read-ahead.js';

/**
 * Ending an IndexedDB transaction, for both backends (DexieStore's DBCore transaction is the IndexedDB one too).
 * A readwrite transaction is asked to commit as soon as its work is issued, without a round trip to wait for its last
 * writes: a write that fails on the way aborts the transaction, and its {@link BrowserClose.completion} rejects with
 * that error.
 */

/** Commits or aborts the transaction, unless it already ended (a failed request aborted it: its `completion` rejects). */
export function end(transaction: IDBTransaction, commit: boolean): void {
  try {
    if (commit) transaction.commit();
    else transaction.abort();
  } catch {
    // Already aborted or finished: nothing more to do.
  }
}

/**
 * The browser closing a connection itself (the site's data cleared, a storage failure): its `close` event, which a
 * connection the page closes never gets. Listened to from when the connection is handed out, so no event is missed.
 * A wait for it ({@link BrowserClose.completion}, {@link BrowserClose.race}) is let go of as soon as what it waits for
 * settles: a connection the page keeps open never fires `close`, and a wait held until then would hold every reaction
 * hung on it (a readwrite transaction's, about 0.85 KB each) for as long as the connection lives. `onClose` is called
 * at the event, after the waits were told.
 */
export class BrowserClose {
  /** The `close` event came. */
  fired = false;
  /** The waits under way: promises' resolve functions, which the close calls with `true`. */
  readonly #waiters = new Set<(closed: true) => void>();

  constructor(db: IDBDatabase, onClose?: () => void) {
    db.addEventListener('close', () => {
      this.fired = true;
      for (const waiter of this.#waiters) waiter(true);
      this.#waiters.clear();
      onClose?.();
    });
  }

  /** How many waits are under way (none once every wait settled: nothing is held between transactions). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves with false when `transaction` (on this connection) commits, with true when the `close` event comes first
   * (it never ran: see {@link finishChecked}); rejects with its error when it aborts. Made before the work starts, so
   * no event is missed; a rejection nobody awaits (after the caller's own abort) is not reported as unhandled.
   */
  completion(transaction: IDBTransaction): Promise<boolean> {
    const done = new Promise<boolean>((resolve, reject) => {
      this.#wait(resolve);
      transaction.oncomplete = () => {
        this.#waiters.delete(resolve);
        resolve(false);
      };
      // The error is null only after an explicit abort(), which callers make themselves and never await this after.
      transaction.onabort = () => {
        this.#waiters.delete(resolve);
        reject(transaction.error);
      };
    });
    done.catch(() => undefined);
    return done;
  }

  /**
   * Settles as `other` does, or resolves with `true` if the `close` event comes first (at once when it came).
   * Called after the close, it answers `true` even if `other` already settled.
   */
  race<T>(other: Promise<T>): Promise<T | true> {
    return new Promise<T | true>((resolve, reject) => {
      this.#wait(resolve);
      other.then(resolve, reject).finally(() => this.#waiters.delete(resolve));
    });
  }

  #wait(resolve: (closed: true) => void): void {
    if (this.fired) resolve(true);
    else this.#waiters.add(resolve);
  }
}

/**
 * How long a call made on a connection the browser is closing (the site's data cleared) waits for its `close` event,
 * after which the call runs on a new connection. The browser fires it once the connection's transactions ended
 * (Chromium at once, fake-indexeddb after the transactions under way); past this the call fails.
 */
export const CLOSE_WAIT_MS = 2000;

/**
 * A connection refused a transaction with `error` (making it threw). A connection the browser is closing refuses
 * transactions: rejects with `reads` (run it again, on a new connection) once its `close` event came, at most
 * {@link CLOSE_WAIT_MS} from now, else with `error`.
 */
export async function refusedWhileClosing(closed: BrowserClose, error: unknown, reads: ReadsAhead): Promise<never> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await closed.race(new Promise<never>((_, reject) => {
      timer = setTimeout(reject, CLOSE_WAIT_MS, error);
    }));
  } finally {
    clearTimeout(timer);
  }
  throw reads;
}

/**
 * The readwrite transactions of one connection that {@link finishChecked} runs and that have not asked to commit yet
 * (nor ended), oldest first: IndexedDB runs readwrite transactions whose scopes overlap one at a time in that order, so
 * the oldest of them holds the database, or is next to, while its renderer side still has to answer its reads and
 * ask to commit.
 */
class CommitLane {
  readonly #open = new Set<LaneEntry>();

  /** Enters a transaction made just now; its entry leaves once it asked to commit or ended. */
  enter(): LaneEntry {
    const entry = new LaneEntry(this.#open);
    this.#open.add(entry);
    return entry;
  }

  /**
   * Resolves once the oldest transaction still open has asked to commit or ended; `undefined` (no wait at all) when
   * none is open, as for a page that runs one transaction at a time.
   */
  turn(): Promise<void> | undefined {
    const oldest: LaneEntry | undefined = this.#open.values().next().value;
    return oldest?.left();
  }
}

/** One transaction in a {@link CommitLane}. */
class LaneEntry {
  readonly #open: Set<LaneEntry>;
  #waiters: (() => void)[] | undefined;

  constructor(open: Set<LaneEntry>) {
    this.#open = open;
  }

  /** The transaction asked to commit, or ended: it leaves, and whoever waits for it goes on. Idempotent. */
  leave(): void {
    if (!this.#open.delete(this)) return;
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters) for (const wake of waiters) wake();
  }

  /** Resolves once it left (at once if it has). */
  left(): Promise<void> {
    if (!this.#open.has(this)) return Promise.resolve();
    return new Promise<void>((resolve) => (this.#waiters ??= []).push(resolve));
  }
}

/** The lane of each connection, made at its first readwrite transaction. */
const lanes = new WeakMap<IDBDatabase, CommitLane>();

function laneOf(db: IDBDatabase): CommitLane {
  let lane = lanes.get(db);
  if (!lane) lanes.set(db, (lane = new CommitLane()));
  return lane;
}

/** How {@link finishChecked} ends a transaction besides its work and reads. */
export interface FinishOptions {
  /** The browser closing the transaction's connection. */
  readonly closed: BrowserClose;
  /** A transaction the close kept from running throws `reads` (run it again, on a new connection): no StorageError. */
  readonly rerun?: boolean;
  /** Called when the transaction is aborted, before the abort (e.g. to drop writes not issued yet). */
  readonly abandon?: () => void;
  /**
   * The page's freeze, which aborts the transaction while it does its work (see {@link PageFreeze}): it then throws
   * `page` itself, nothing of it written (the caller runs the work again once the page resumes).
   */
  readonly page?: PageFreeze;
  /**
   * Aborts the transaction when signalled (a step of an index rebuild when the store closes), unless it asked to
   * commit. One signal per transaction.
   */
  readonly stop?: AbortSignal;
}

/**
 * Runs the work of one transaction and ends it, for both backends. A readonly transaction (by its `mode`) returns
 * what `work` returned. A readwrite one commits only once every row `reads` took ahead was confirmed; any failure on
 * the way (of the work, of the check) aborts it, so nothing of it is written. Committed, it returns once the oldest
 * readwrite transaction still at work on its connection (one this function runs, made before or after it) has asked
 * to commit or ended, at once when there is none: see {@link CommitLane}. A transaction decided on a row the
 * database did not confirm throws `reads` (the caller runs the work again), but only once the abort took effect: had
 * the transaction committed instead, running again could write the commit twice, and a StorageError says so.
 *
 * `options.closed`: the browser closing the transaction's connection. It fires `close` only once every transaction of
 * the connection ended (the specification's "close a database connection" waits for them), so a transaction that got
 * neither `abort` nor `complete` by then never ran, and nothing of it was written. That rests on the browser keeping
 * that order for a transaction it was already committing, which cannot be aborted: one whose `complete` came after
 * the `close` would be taken for unrun (run again by the store, which could write it twice). Only Chromium was observed here, and it keeps that order: Chromium, closing a connection whose database was deleted (the site's data cleared), gives a transaction
 * made after it aborted the busy ones no event at all, and fails its requests with AbortError after the `close`. Every
 * wait for the transaction's end is bounded by that `close`: the transaction then throws `reads` with
 * `options.rerun` (the caller runs the work again, on a new connection), a StorageError without.
 * With `rerun`, a transaction that fails after the `close` throws `reads` at once, without waiting for its abort to
 * take effect. That is safe only because `work` makes its requests from its requests' callbacks and microtasks alone,
 * so the transaction is active whenever it fails and cannot have committed anything: a work that awaits anything else
 * would let the transaction commit under it, and its next request fails with TransactionInactiveError, which is never
 * run again (it fails as it is).
 *
 * `options.page`: a transaction the page's freeze aborted before it asked to commit throws `page` (run the work again
 * once the page resumes), whatever its requests failed with: it wrote nothing.
 */
export async function finishChecked<T>(
  transaction: IDBTransaction, reads: ReadsAhead, work: () => Promise<T>, options: FinishOptions,
): Promise<T> {
  const { closed, rerun, abandon, page, stop } = options;
  const done = closed.completion(transaction); // true: the browser closed the connection first (it never ran)
  const lane = transaction.mode === 'readwrite' ? laneOf(transaction.db) : undefined;
  const entry = lane?.enter();
  // However it ends (committed, aborted, its connection closed), it leaves the lane: a wait for it never outlives it.
  if (entry) done.then(() => entry.leave(), () => entry.leave());
  // A signal serves one transaction: its listener goes with it.
  stop?.addEventListener('abort', () => end(transaction, false));
  const dropped = (cause?: unknown): unknown => (rerun ? reads : new StorageError('The browser closed the connection before the transaction ran', { cause }));
  page?.begin(transaction);
  let result: T;
  try {
    result = await work();
    if (transaction.mode === 'readonly') {
      if (page?.settled(transaction)) throw page; // aborted under its work, which answered all the same: run again
      return result;
    }
    if (!(await reads.confirmed())) throw reads;
    // Aborted by the freeze once its last request was answered (its work then cannot tell): it asks to commit no more.
    if (page?.settled(transaction)) throw page;
  } catch (error) {
    abandon?.();
    end(transaction, false);
    entry?.leave();
    // Aborted by the freeze before it asked to commit, so it wrote nothing, whatever its requests failed with: `page`
    // (the caller runs the work again after the resume).
    if (page?.settled(transaction)) throw page;
    if (rerun && closed.fired && !errorNames(error).includes('TransactionInactiveError')) throw reads;
    // Aborted by a failed write: its error is the cause. Decided on a row read ahead that is not confirmed: `reads`.
    if (error !== reads && !reads.unconfirmed) throw transaction.error ?? error;
    let unrun;
    try {
      unrun = await done;
    } catch {
      throw reads; // aborted: nothing of it was written
    }
    throw unrun ? dropped(error) : new StorageError('A transaction committed instead of aborting', { cause: error });
  }
  // At once, with the last writes still in flight (no round trip to wait for them): a write that fails aborts the
  // transaction, and `done` rejects with its error. A readwrite transaction resolves only once committed (durable).
  end(transaction, true);
  entry?.leave();
  if (await done) throw dropped();
  // Committed. What follows the commit (the change feed, the caller's next step and its transaction) waits until the
  // oldest readwrite transaction of the connection still running has asked to commit: that one holds the database (or
  // is next to) until its reads are answered here, and its answer would otherwise wait behind all of that work, with
  // every later transaction waiting for it. One transaction at a time (the usual single instance): no wait at all.
  const turn = lane?.turn();
  if (turn) await turn;
  return result;
}
