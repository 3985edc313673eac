import { afterEach, describe, expect, it } from 'vitest';
import { BrowserClose, finishChecked } from '../../src/internal/idb-transaction.js';
import { ReadsAhead } from '../../src/internal/read-ahead.js';
import { uniqueName } from './fixtures.js';

// How a committed readwrite transaction hands over to the next one on its connection (finishChecked, both stores):
// its caller goes on once the oldest readwrite transaction still open there has asked to commit, so that the answer to
// that one's reads is not held behind what the caller does next (the change feed, the next step and its transaction),
// while every later transaction waits for it to commit. Each case goes red (a hang or a wrong order) if the hand-over
// waited for a transaction that never asks to commit.

let db: IDBDatabase | undefined;
afterEach(() => {
  db?.close();
  db = undefined;
});

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(uniqueName('commit-order'), 1);
    request.onupgradeneeded = () => request.result.createObjectStore('kv');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function answer<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Runs `work` on a new readwrite transaction of `connection` through finishChecked; `asked` records its commit. */
function run<T>(connection: IDBDatabase, closed: BrowserClose, work: (store: IDBObjectStore) => Promise<T>, asked?: () => void) {
  const transaction = connection.transaction('kv', 'readwrite');
  if (asked) {
    const commit = transaction.commit.bind(transaction);
    transaction.commit = () => {
      asked();
      commit();
    };
  }
  return finishChecked(transaction, new ReadsAhead(undefined), () => work(transaction.objectStore('kv')), { closed });
}

describe('a committed readwrite transaction hands over to the next one on its connection', () => {
  it('its caller goes on once the oldest transaction still open has asked to commit', async () => {
    db = await open();
    const closed = new BrowserClose(db);
    const order: string[] = [];
    const first = run(db, closed, async (store) => {
      store.put('a', 1);
    }).then(() => order.push('first committed, its caller goes on'));
    // Made while the first runs: it reads, then writes what it read, and asks to commit once its read is answered.
    const second = run(db, closed, async (store) => {
      const value = await answer(store.get(1));
      store.put(`${String(value)}b`, 2);
    }, () => order.push('second asks to commit'));
    await Promise.all([first, second]);
    expect(order).toEqual(['second asks to commit', 'first committed, its caller goes on']);
    expect(await answer(db.transaction('kv').objectStore('kv').get(2))).toBe('ab');
  });

  it('a transaction that fails instead of asking to commit holds nobody up', async () => {
    db = await open();
    const closed = new BrowserClose(db);
    const first = run(db, closed, async (store) => {
      store.put('a', 1);
    });
    const second = run(db, closed, async (store) => {
      await answer(store.get(1));
      throw new Error('decided against it');
    });
    await expect(second).rejects.toThrow('decided against it');
    await first;
    expect(await answer(db.transaction('kv').objectStore('kv').get(1))).toBe('a');
  });

  it('a transaction whose work waits on something else holds nobody up: it ends without asking to commit', async () => {
    db = await open();
    const closed = new BrowserClose(db);
    let release!: () => void;
    const elsewhere = new Promise<void>((resolve) => (release = resolve));
    const first = run(db, closed, async (store) => {
      store.put('a', 1);
    });
    // It issues nothing before it waits: IndexedDB commits it on its own once it is inactive with nothing pending.
    const second = run(db, closed, async () => {
      await elsewhere;
    });
    await first; // would wait for the second for ever if only an asked commit let it go on
    release();
    await second;
    expect(await answer(db.transaction('kv').objectStore('kv').get(1))).toBe('a');
  });
});
