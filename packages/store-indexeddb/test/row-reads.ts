// Shared by the KeyvalStore layout tests and the listEnded measurement (test/measure).

/**
 * Watches the instance rows (`['i', id]`) readonly transactions in this realm read, until `uninstall`: `rows` holds how
 * many each read (those a `getAll` answered, and one a `get`), by transaction in the order they first read one, and
 * `counts` how many `count` requests went over them.
 */
export function rowsByTransaction(): { rows(): number[]; counts(): number; uninstall(): void } {
  const { get, getAll, count } = IDBObjectStore.prototype;
  const rows = new Map<IDBTransaction, number>();
  let counts = 0;
  const ofRows = (query: unknown) => (query instanceof IDBKeyRange ? Array.isArray(query.lower) && query.lower[0] === 'i' : Array.isArray(query) && query[0] === 'i');
  const add = (tx: IDBTransaction, n: number) => rows.set(tx, (rows.get(tx) ?? 0) + n);
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    if (this.transaction.mode === 'readonly' && ofRows(key)) add(this.transaction, 1);
    return get.call(this, key);
  };
  IDBObjectStore.prototype.getAll = function (this: IDBObjectStore, query?: IDBValidKey | IDBKeyRange | null, n?: number) {
    const request = getAll.call(this, query, n);
    const tx = this.transaction;
    if (tx.mode === 'readonly' && ofRows(query)) request.addEventListener('success', () => add(tx, request.result.length));
    return request;
  };
  IDBObjectStore.prototype.count = function (this: IDBObjectStore, query?: IDBValidKey | IDBKeyRange) {
    if (ofRows(query)) counts++;
    return count.call(this, query);
  };
  return {
    rows: () => [...rows.values()],
    counts: () => counts,
    uninstall: () => Object.assign(IDBObjectStore.prototype, { get, getAll, count }),
  };
}
