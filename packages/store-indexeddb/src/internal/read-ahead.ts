/**
 * Reads that run ahead of the database. A step commits on top of what the last commit of its instance wrote, and
 * that commit was usually this store handle's: a commit may then take the rows it reads from what the handle last
 * committed ({@link CommittedRows}) and issue its writes at once, instead of waiting a round trip for its reads, which
 * it still makes, in the same transaction and before any write. The transaction commits only once every row it took
 * that way was found in the database as remembered ({@link ReadsAhead.confirmed}); if one was not (another tab or
 * handle wrote it since, or its write failed), the transaction is aborted, nothing of it is written, and the commit
 * runs again reading the database the usual way. So what commits is always decided on the rows as the database has
 * them inside the transaction, as without this.
 */

/**
 * Rows remembered per store handle, at most this many (the least recently written go first): the instances a handle
 * steps at a time, not all it ever wrote, since a row holds the instance's state with its payloads.
 */
export const MAX_ROWS = 256;

/**
 * What a store handle's committed transactions last wrote, by key (the adapter's own keys, e.g. `i:<instanceId>`).
 * A row is recorded once its transaction completed, and handed out only to be checked against the database in the
 * transaction that reads it.
 */
export type CommittedRows = Map<string, unknown>;

/** The reads of one readwrite transaction taken from {@link CommittedRows}, and the rows it writes. */
export class ReadsAhead {
  readonly #rows: CommittedRows | undefined;
  /** One per row taken ahead: true once the database's row was found equal, false if not (or if its read failed). */
  readonly #checks: Promise<boolean>[] = [];
  /** Rows taken ahead that the database has not confirmed (yet). */
  #unconfirmed = 0;
  /** What the transaction writes, by key, in order (undefined: deleted). */
  readonly writes: CommittedRows = new Map();

  /** `rows`: where reads may be taken from; undefined: none is (every read goes to the database). */
  constructor(rows: CommittedRows | undefined) {
    this.#rows = rows;
  }

  /**
   * The row under `key` as this handle last committed it, while `read` (called now, before any write of the
   * transaction) checks it in the database; undefined when no row is remembered (then read the database).
   */
  take<R>(key: string, read: () => Promise<R>): Promise<R> | undefined {
    const remembered = this.#rows?.get(key) as R | undefined;
    if (remembered === undefined || this.writes.has(key)) return undefined;
    this.#unconfirmed++;
    // A read that fails, or a comparison that throws, leaves the row unconfirmed: never a rejection.
    this.#checks.push(read().then((found) => {
      const same = sameValue(found, remembered);
      if (same) this.#unconfirmed--;
      return same;
    }).catch(() => false));
    return Promise.resolve(remembered);
  }

  /**
   * True when this transaction may run ahead of the database (its call's first run): it may take remembered rows, and
   * a backend may assume a row absent that it writes only if it is (see `BackendTransaction.expectAbsent`).
   */
  get ahead(): boolean {
    return this.#rows !== undefined;
  }

  /**
   * A row the transaction takes as absent without reading it: unconfirmed (a failure decided on it runs the
   * transaction again) until the returned function is called, once a write found it absent.
   */
  assume(): () => void {
    this.#unconfirmed++;
    let confirmed = false;
    return () => {
      if (confirmed) return;
      confirmed = true;
      this.#unconfirmed--;
    };
  }

  /** Whether the handle remembers a row under `key` (one it committed, so the database has it). */
  remembers(key: string): boolean {
    return this.#rows?.has(key) ?? false;
  }

  /** True while some row taken ahead is not confirmed: a failure now may have been decided on a stale row. */
  get unconfirmed(): boolean {
    return this.#unconfirmed > 0;
  }

  /** Resolves true when every row taken ahead was found in the database as remembered. */
  async confirmed(): Promise<boolean> {
    return !(await Promise.all(this.#checks)).includes(false);
  }

  /**
   * After the transaction committed: remembers what it wrote, except the rows `keep` refuses (e.g. of instances that
   * ended: no step follows them); those and the deleted ones are forgotten.
   */
  committed(rows: CommittedRows, keep: (value: unknown) => boolean = () => true): void {
    for (const [key, value] of this.writes) {
      rows.delete(key);
      if (value !== undefined && keep(value)) rows.set(key, value);
      if (rows.size > MAX_ROWS) rows.delete(rows.keys().next().value!);
    }
  }
}

/**
 * Whether two stored values are the same data: primitives, Dates, arrays and plain objects, compared in depth
 * (property order aside). Anything else (a Map, a class instance, a Date or array of another realm or subclass) counts
 * as different, which only costs a read. One prototype read per object decides its kind.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const proto: unknown = Object.getPrototypeOf(a);
  if (proto !== Object.getPrototypeOf(b)) return false;
  if (proto === Date.prototype) return Object.is((a as Date).getTime(), (b as Date).getTime());
  if (proto === Array.prototype) {
    if ((a as unknown[]).length !== (b as unknown[]).length) return false;
    for (let i = 0; i < (a as unknown[]).length; i++) if (!sameValue((a as unknown[])[i], (b as unknown[])[i])) return false;
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}
