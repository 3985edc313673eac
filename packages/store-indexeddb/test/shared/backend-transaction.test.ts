import { systemClock } from '@durable-rx/runtime';
import type { ActivityTask } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors/storage-error.js';
import { startDexieOpen } from '../../src/internal/dexie-backend.js';
import { startKeyvalOpen } from '../../src/internal/keyval-backend.js';
import { DEFAULT_OPEN_TIMEOUT_MS } from '../../src/internal/open-gate.js';
import { instanceRow, type InstanceRow, type NewTaskRow } from '../../src/internal/rows.js';
import type { BackendTransaction, StoreBackend } from '../../src/internal/store-backend.js';
import { newInstance, uniqueName } from './fixtures.js';

// The port between the shared store logic and each layout (src/internal/store-backend.ts): a write issued in a
// transaction is seen by every later read of that transaction, index reads included, whatever the layout keeps where
// (DexieStore keeps an instance's first task in its row, KeyvalStore packs tasks into the instance's value).
const backends = {
  DexieStore: (name: string) => startDexieOpen(name, { indexedDB, IDBKeyRange }, () => undefined).opened,
  KeyvalStore: (name: string) => startKeyvalOpen(name, 'durable-rx', IDBKeyRange, systemClock, () => undefined, DEFAULT_OPEN_TIMEOUT_MS).opened,
} as const;

const ALL = ['instances', 'history', 'messages', 'tasks'] as const;

function taskOf(instanceId: string, id: string): NewTaskRow {
  const task: ActivityTask = { id, instanceId, executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1 };
  return { id, instanceId, readyMs: 0, task };
}

function running(instanceId: string): InstanceRow {
  return instanceRow({ ...newInstance(instanceId).state, runtimeStatus: 'Running' });
}

describe.each(Object.keys(backends) as (keyof typeof backends)[])('%s backend: one transaction sees its own writes', (name) => {
  const opened: StoreBackend[] = [];
  afterEach(() => {
    for (const backend of opened.splice(0)) backend.close();
  });
  /** A backend on a new database holding a running instance per key of `tasks`, each with the tasks given for it. */
  async function withInstances(tasks: Record<string, readonly string[]>): Promise<StoreBackend> {
    const backend = await backends[name](uniqueName('backend'));
    opened.push(backend);
    await backend.transact('readwrite', ALL, async (tx) => {
      for (const [id, taskIds] of Object.entries(tasks)) {
        tx.putInstance(running(id), await tx.getInstance(id));
        for (const taskId of taskIds) tx.addTask(taskOf(id, taskId));
      }
    });
    return backend;
  }
  const readAll = (tx: BackendTransaction) => Promise.all([
    tx.firstReadyTask(0), tx.listTasks(() => true), tx.nextTaskReadyMs(-Infinity), tx.scanInstances({ fromMs: -Infinity, fromId: '', fromOpen: false, toMs: Infinity }),
  ]);

  it('finds a task added for an instance it has not read in the task indexes at once', async () => {
    const backend = await withInstances({ a: [], b: [] });
    const [first, all, next] = await backend.transact('readwrite', ALL, async (tx) => {
      tx.addTask(taskOf('a', 'a1'));
      return readAll(tx);
    });
    expect(first?.id).toBe('a1');
    expect(all.map((t) => t.id)).toEqual(['a1']);
    expect(next).toBe(0);
    // And once committed.
    const [, committed] = await backend.transact('readonly', ALL, readAll);
    expect(committed.map((t) => t.id)).toEqual(['a1']);
  });

  it('orders the tasks it adds, read instances or not, in the order it adds them', async () => {
    const backend = await withInstances({ a: ['a0'], b: ['b0'] });
    await backend.transact('readwrite', ALL, async (tx) => {
      await tx.getInstance('b');
      for (const [instanceId, id] of [['a', 'a1'], ['b', 'b1'], ['a', 'a2']] as const) tx.addTask(taskOf(instanceId, id));
    });
    const claimed: string[] = [];
    for (;;) {
      const id = await backend.transact('readwrite', ALL, async (tx) => {
        const task = await tx.firstReadyTask(0);
        if (task) tx.deleteTask(task);
        return task?.id;
      });
      if (!id) break;
      claimed.push(id);
    }
    expect(claimed).toEqual(['a0', 'b0', 'a1', 'b1', 'a2']);
  });

  it('finds an instance it wrote in the indexes, and nothing of one it wrote and deleted (row, tasks kept with it or apart)', async () => {
    // More tasks than any layout keeps with the instance (KeyvalStore packs 8): some are rows of their own.
    const backend = await withInstances({ a: [], b: Array.from({ length: 10 }, (_, i) => `b${i + 1}`) });
    const [ready, completed, ...tasks] = await backend.transact('readwrite', ALL, async (tx) => {
      const a = (await tx.getInstance('a'))!;
      tx.putInstance({ ...a, state: { ...a.state, runtimeStatus: 'Completed' }, status: 'Completed', readyMs: 0, headSeq: 1, minVisibleMs: 0, pendingCount: 1 }, a);
      // A step that wrote 'b' and a purge of it, in one transaction: neither the row nor any task of it stays.
      const b = (await tx.getInstance('b'))!;
      tx.putInstance({ ...b, status: 'Completed', state: { ...b.state, runtimeStatus: 'Completed' } }, b);
      tx.addTask(taskOf('b', 'b11'));
      tx.deleteInstance(b);
      tx.deleteTasksOf('b');
      return Promise.all([
        tx.firstReadyInstance(0), tx.scanInstances({ status: 'Completed', fromMs: -Infinity, fromId: '', fromOpen: false, toMs: Infinity }),
        tx.listTasks(() => true), tx.getTask('b10'), tx.firstReadyTask(0),
      ]);
    });
    expect(ready?.id).toBe('a');
    expect(completed.map((row) => row.id)).toEqual(['a']);
    expect(tasks).toEqual([[], undefined, undefined]);
    const [first, all, next, instances] = await backend.transact('readonly', ALL, readAll);
    expect([first, all, next]).toEqual([undefined, [], undefined]);
    expect(instances.map((row) => row.id)).toEqual(['a']);
  });
});

describe('DexieStore backend: a write that must follow a read of its instance', () => {
  const opened: StoreBackend[] = [];
  afterEach(() => {
    for (const backend of opened.splice(0)) backend.close();
  });

  // DexieStore keeps an instance's first activity task in the instance's row: rewriting the row, or dropping the
  // instance's tasks, is only right for a row this transaction read. A store bug that skips the read must fail with a
  // DurableError that says so, not a TypeError from inside the backend, and write nothing.
  it.each([
    ['putInstance', (tx: BackendTransaction) => tx.putInstance(running('a'), undefined)],
    ['deleteTasksOf', (tx: BackendTransaction) => tx.deleteTasksOf('a')],
  ] as const)('refuses %s of an instance the transaction did not read, with a StorageError, writing nothing', async (operation, write) => {
    const backend = await backends.DexieStore(uniqueName('read-first'));
    opened.push(backend);
    const failed = backend.transact('readwrite', ALL, async (tx) => {
      tx.appendHistory('a', 0, [{ type: 'OrchestratorStarted', eventId: -1, timestamp: '2026-01-01T00:00:00.000Z' }]);
      write(tx);
    });
    await expect(failed).rejects.toBeInstanceOf(StorageError);
    await expect(failed).rejects.toMatchObject({ code: 'storage-error', message: `DexieStore: ${operation} of unread instance "a"` });
    expect(await backend.transact('readonly', ALL, (tx) => Promise.all([tx.getInstance('a'), tx.historyEnd('a')]))).toEqual([undefined, 0]);
  });
});

describe.each(Object.keys(backends) as (keyof typeof backends)[])('%s backend: a closed connection', (name) => {
  // The store awaits a backend's calls, but the port's contract is a promise: a caller that chains `.catch` or
  // `.finally` on it must get the failure there, not as an exception thrown from the call.
  it('refuses a transaction with a rejected promise, not an exception thrown from transact', async () => {
    const backend = await backends[name](uniqueName('closed-backend'));
    await backend.transact('readonly', ALL, (tx) => tx.getInstance('a'));
    backend.close();
    let refused: Promise<unknown> | undefined;
    expect(() => (refused = backend.transact('readonly', ALL, (tx) => tx.getInstance('a')))).not.toThrow();
    await expect(refused).rejects.toMatchObject({ name: 'InvalidStateError' });
  });
});
