/**
 * A measurement, not a test: `npx vitest run --config vitest.measure.config.ts` in packages/store-indexeddb (real
 * headless Chromium). KeyvalStore's `listEnded` over 20,000 instances while the end entries are still to be written
 * (after the upgrade to layout 16, the writing held at its start): a store's first page and the next, with a writer
 * putting one key a transaction beside them, and a first page while another connection starts instances 256 a
 * transaction (random ids) as fast as it can (one run on a fresh database: such a page takes minutes). Prints, per page: its time, its readonly transactions, the longest of
 * them, the most instance rows one read, the `count` requests, and the writer's waits (median and longest). It asserts
 * only that the pages are answered; read the load average beside it (`cat /proc/loadavg`).
 */
import { expect, it } from 'vitest';
import type { InstanceState } from '@durable-rx/runtime/store-kit';
import { KeyvalStore } from '../../src/keyval-store.js';
import { create, newInstance, T0, uniqueName } from '../shared/fixtures.js';
import { rowsByTransaction } from '../row-reads.js';

const STORE = 'durable-rx';
const COUNT = Number((import.meta as { env?: Record<string, string | undefined> }).env?.VITE_ENDED_COUNT ?? 20_000);
const RUNS = 3;
const ENDED_TO = new Date(T0.getTime() + 10_000 + COUNT);

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

function rawOpen(name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  const request = indexedDB.open(name, version);
  if (upgrade) request.onupgradeneeded = () => upgrade(request.result);
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Database `name` as layout 15 left it (IndexedDB version 2, no end entries): COUNT instances, most ended. */
async function layout15(name: string): Promise<void> {
  const source = uniqueName('measure-template');
  const first = new KeyvalStore({ name: source });
  await create(first, newInstance('template', { n: 1 }));
  await first.close();
  const sourceDb = await rawOpen(source);
  const readTx = sourceDb.transaction(STORE, 'readonly');
  const templateRequest = readTx.objectStore(STORE).get(['i', 'template']);
  await done(readTx);
  sourceDb.close();
  const { readyMs: _r, headSeq: _h, pendingCount: _p, minVisibleMs: _m, ...row } = templateRequest.result as Record<string, unknown> & { state: InstanceState };
  const db = await rawOpen(name, 2, (created) => created.createObjectStore(STORE));
  const tx = db.transaction(STORE, 'readwrite');
  const raw = tx.objectStore(STORE);
  raw.put({ version: 15, store: 'durable-rx/keyval' }, ['meta']);
  for (let i = 0; i < COUNT; i++) {
    const id = crypto.randomUUID();
    const status = i % 10 === 3 ? 'Running' : i % 10 === 7 ? 'Failed' : 'Completed';
    const createdMs = T0.getTime() + i;
    const createdTime = new Date(createdMs);
    const lastUpdatedTime = status === 'Running' ? createdTime : new Date(T0.getTime() + 10_000 + Math.floor(Math.random() * COUNT));
    raw.put({ ...row, id, createdMs, status, state: { ...row.state, instanceId: id, runtimeStatus: status, createdTime, lastUpdatedTime } }, ['i', id]);
    raw.put(status === 'Running' ? 0 : status, ['xc', createdMs, id]);
    raw.put(0, ['xn', 'Orch', createdMs, id]);
  }
  await done(tx);
  db.close();
}

/** Aborts every readwrite transaction that reads the layout marker but the first: the writing of the entries stays at its start. */
function holdTheWriting(): () => void {
  const get = IDBObjectStore.prototype.get;
  let reads = 0;
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    const request = get.call(this, key);
    if (this.transaction.mode === 'readwrite' && Array.isArray(key) && key.length === 1 && key[0] === 'meta' && ++reads > 1) this.transaction.abort();
    return request;
  };
  return () => (IDBObjectStore.prototype.get = get);
}

/** Watches readonly transactions: the time from their creation to their completion, and what {@link rowsByTransaction} sees. */
function watchReads(): { durations: number[]; rows: ReturnType<typeof rowsByTransaction>; uninstall(): void } {
  const { transaction } = IDBDatabase.prototype;
  const durations: number[] = [];
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
    const tx = transaction.apply(this, args);
    if (tx.mode === 'readonly') {
      const at = performance.now();
      tx.addEventListener('complete', () => durations.push(performance.now() - at));
    }
    return tx;
  } as IDBDatabase['transaction'];
  const rows = rowsByTransaction();
  return {
    durations,
    rows,
    uninstall: () => {
      rows.uninstall();
      IDBDatabase.prototype.transaction = transaction;
    },
  };
}

/** Puts one key a transaction on `db` until `stop` resolves; the time each put took to commit. */
async function writer(db: IDBDatabase, stop: Promise<unknown>): Promise<number[]> {
  let stopped = false;
  void stop.finally(() => (stopped = true));
  const waits: number[] = [];
  for (let n = 0; !stopped; n++) {
    const at = performance.now();
    const tx = db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(0, ['zz-probe', n]);
    await done(tx);
    waits.push(performance.now() - at);
  }
  return waits;
}

/** Starts instances 256 a transaction, random ids, ended half of them, until `stop` resolves; how many. */
async function starter(db: IDBDatabase, stop: Promise<unknown>, template: Record<string, unknown> & { state: InstanceState }): Promise<number> {
  let stopped = false;
  void stop.finally(() => (stopped = true));
  let started = 0;
  while (!stopped) {
    const tx = db.transaction(STORE, 'readwrite');
    const raw = tx.objectStore(STORE);
    for (let n = 0; n < 256; n++, started++) {
      const id = crypto.randomUUID();
      const createdMs = T0.getTime() + 1_000_000 + started;
      const status = n % 2 === 0 ? 'Completed' : 'Running';
      const lastUpdatedTime = new Date(status === 'Completed' ? T0.getTime() + 10_000 + n : createdMs);
      raw.put({ ...template, id, createdMs, status, state: { ...template.state, instanceId: id, runtimeStatus: status, createdTime: new Date(createdMs), lastUpdatedTime } }, ['i', id]);
      raw.put(status === 'Completed' ? status : 0, ['xc', createdMs, id]);
      raw.put(0, ['xn', 'Orch', createdMs, id]);
      if (status === 'Completed') raw.put(0, ['xe', status, lastUpdatedTime.getTime(), id]);
    }
    await done(tx);
  }
  return started;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const round = (ms: number) => Math.round(ms * 10) / 10;

async function page(store: KeyvalStore, db: IDBDatabase, label: string, after?: { endedMs: number; instanceId: string }, beside?: (stop: Promise<unknown>) => Promise<number>) {
  const watch = watchReads();
  const at = performance.now();
  const listing = store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 100, ...(after ? { after } : {}) });
  const [states, waits, started] = await Promise.all([listing, writer(db, listing), beside?.(listing)]);
  const ms = performance.now() - at;
  watch.uninstall();
  console.log(JSON.stringify({
    page: label, ms: Math.round(ms), listed: states.length, transactions: watch.durations.length, longestTransactionMs: round(Math.max(...watch.durations)),
    mostRowsInATransaction: Math.max(0, ...watch.rows.rows()), counts: watch.rows.counts(), writes: waits.length,
    writeWaitMedianMs: round(median(waits)), writeWaitMaxMs: round(Math.max(...waits)), ...(started === undefined ? {} : { startedBeside: started }),
  }));
  expect(states.length).toBe(100);
  const last = states[states.length - 1]!;
  return { endedMs: last.lastUpdatedTime.getTime(), instanceId: last.instanceId };
}

it(`measures listEnded over ${COUNT} instances while the end entries are written`, { timeout: 1_800_000 }, async () => {
  for (const beside of ['quiet', 'starts'] as const) {
    const name = uniqueName(`measure-ended-${beside}`);
    await layout15(name);
    for (let run = 0; run < (beside === 'quiet' ? RUNS : 1); run++) {
      const release = holdTheWriting(); // the store's layout check reads the marker first
      const store = new KeyvalStore({ name, openTimeoutMs: 60_000 });
      await store.getInstance('none'); // opened: layout 16, the writing held at its start
      const db = await rawOpen(name);
      try {
        if (beside === 'quiet') {
          const after = await page(store, db, `quiet run ${run + 1}: the store's first page`);
          await page(store, db, `quiet run ${run + 1}: its next page`, after);
        } else {
          const probe = db.transaction(STORE, 'readonly');
          const first = probe.objectStore(STORE).getAll(IDBKeyRange.bound(['i'], ['i', []]), 1);
          await done(probe);
          const template = first.result[0] as Record<string, unknown> & { state: InstanceState };
          await page(store, db, `starts run ${run + 1}: the store's first page, 256 starts a transaction beside`, undefined, (stop) => starter(db, stop, template));
        }
      } finally {
        db.close();
        await store.close();
        release();
      }
    }
  }
});
