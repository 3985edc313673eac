/**
 * Counts what a page asks of IndexedDB, by wrapping the IndexedDB API itself (not the stores): readwrite and
 * readonly transactions opened, and requests issued (gets, puts, deletes, counts, cursor opens, and each cursor
 * `continue`/`advance`, which is one more request round trip), when the last readwrite transaction completed, and
 * how many transactions are still running.
 * Installed before any store opens a database, so
 * DexieStore and KeyvalStore are counted the same way, whatever their code does.
 */

/** @typedef {{ readwrite: number, readonly: number, requests: number }} IdbCounts */

/** @type {IdbCounts} */
const counts = { readwrite: 0, readonly: 0, requests: 0 };

/**
 * @param {object} proto
 * @param {readonly string[]} methods
 * @param {(name: string, args: unknown[]) => void} onCall
 */
function wrap(proto, methods, onCall) {
  const target = /** @type {Record<string, unknown>} */ (proto);
  for (const name of methods) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    target[name] = function (/** @type {unknown[]} */ ...args) {
      onCall(name, args);
      return original.apply(this, args);
    };
  }
}

/** When the last readwrite transaction completed, on the clock every tab shares (ms since the Unix epoch). */
let lastReadwriteComplete = NaN;
const markComplete = () => { lastReadwriteComplete = performance.timeOrigin + performance.now(); };

/** Transactions opened and not yet completed or aborted, and who waits for there to be none. */
let inFlight = 0;
/** When a transaction of the page last completed or aborted (`performance.now()`), or NaN. */
let lastSettled = NaN;
/** @type {Set<() => void>} */
const onNoneInFlight = new Set();
const settled = () => {
  lastSettled = performance.now();
  inFlight--;
  if (inFlight === 0) for (const resolve of onNoneInFlight) resolve();
};

const transaction = IDBDatabase.prototype.transaction;
IDBDatabase.prototype.transaction = /** @type {typeof transaction} */ (function (/** @type {any[]} */ ...args) {
  const tx = transaction.apply(this, /** @type {any} */ (args));
  inFlight++;
  tx.addEventListener('complete', settled);
  tx.addEventListener('abort', settled);
  if (args[1] === 'readwrite') {
    counts.readwrite++;
    // Registered before the store's own handlers, so it runs first: the moment the commit is durable.
    tx.addEventListener('complete', markComplete);
  } else {
    counts.readonly++;
  }
  return tx;
});
const REQUESTS = ['get', 'getAll', 'getAllKeys', 'getAllRecords', 'getKey', 'count', 'openCursor', 'openKeyCursor', 'put', 'add', 'delete', 'clear'];
wrap(IDBObjectStore.prototype, REQUESTS, () => { counts.requests++; });
wrap(IDBIndex.prototype, REQUESTS, () => { counts.requests++; });
wrap(IDBCursor.prototype, ['continue', 'advance', 'continuePrimaryKey', 'update', 'delete'], () => { counts.requests++; });

/** @returns {IdbCounts} a copy of the counts so far */
export const idbCounts = () => ({ ...counts });

/** @param {IdbCounts} before @returns {IdbCounts} what was counted since `before` */
export const idbCountsSince = (before) => ({
  readwrite: counts.readwrite - before.readwrite,
  readonly: counts.readonly - before.readonly,
  requests: counts.requests - before.requests,
});

/** @returns {number} when the last readwrite transaction of this page completed (ms since the Unix epoch), or NaN */
export const lastReadwriteCompleteAt = () => lastReadwriteComplete;

/** @returns {number} when a transaction of this page last completed or aborted (`performance.now()`), or NaN */
export const lastSettledAt = () => lastSettled;

/**
 * Resolves once no IndexedDB transaction of this page is running (at once if none is); rejects after `timeoutMs`.
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
function whenNoTransactionsInFlight(timeoutMs) {
  if (inFlight === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      onNoneInFlight.delete(done);
      resolve();
    };
    const timer = setTimeout(() => {
      onNoneInFlight.delete(done);
      reject(new Error(`${inFlight} IndexedDB transactions still running after ${timeoutMs} ms`));
    }, timeoutMs);
    onNoneInFlight.add(done);
  });
}

/** Macrotasks in a row with no IndexedDB transaction of the page running, and none opened, before it counts as quiet. */
const QUIET_TURNS = 4;

/**
 * Resolves once the page is quiet: no IndexedDB transaction running and none opened across {@link QUIET_TURNS}
 * macrotasks in a row (`setTimeout(0)` each), so work a worker queues a few turns after its last commit (a claim
 * round, a wake-time read) is waited for instead of running after the caller moved on. Rejects after `timeoutMs`.
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
export async function whenQuiet(timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) throw new Error(`the page's IndexedDB work did not settle within ${timeoutMs} ms`);
    await whenNoTransactionsInFlight(remaining);
    const opened = counts.readwrite + counts.readonly;
    let turns = 0;
    while (turns < QUIET_TURNS && inFlight === 0 && counts.readwrite + counts.readonly === opened) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      turns++;
    }
    if (turns === QUIET_TURNS && inFlight === 0 && counts.readwrite + counts.readonly === opened) return;
  }
}
