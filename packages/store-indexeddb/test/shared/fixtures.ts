import { expect, vi } from 'vitest';
import type { HistoryEvent } from '@durable-rx/runtime';
import { SETTLED } from '../../../../test-support/settled.js';
import {
  type ActivityTask, type InstanceState, type OrchestrationMessage, type Store, type WriteRequest, type WriteSet,
} from '@durable-rx/runtime/store-kit';
import { DexieStore } from '../../src/dexie-store.js';
import type { IdbStoreOptions } from '../../src/idb-store.js';
import { KeyvalStore } from '../../src/keyval-store.js';

/** Ids of a listing followed through every page (`pageSize` defaults to 1, so each page boundary is crossed). */
export async function allIds(store: Store, query: Parameters<Store['queryInstances']>[0]): Promise<string[]> {
  const seen: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.queryInstances({ pageSize: 1, ...query, ...(token ? { continuationToken: token } : {}) });
    seen.push(...page.instances.map((s) => s.instanceId));
    token = page.continuationToken;
  } while (token);
  return seen;
}

/** Change-feed options a test may give either adapter. */
export type FeedOptions = Pick<IdbStoreOptions, 'gapTimeoutMs' | 'joinTimeoutMs' | 'clock'>;

/**
 * The open bound the shared adapters give a store: the default (5 s) is a product setting for a blocked open, and an
 * unblocked open on a loaded CI machine has taken longer (a Chromium case at load 15 failed with DatabaseBlockedError).
 * Half the tests' own wait (SETTLED), so a real block still fails within it; the tests of the bound itself set theirs.
 */
const OPEN_TIMEOUT_MS = SETTLED.timeoutMs / 2;

/** Both adapters, by name, for tests that run against each. */
export const adapters = {
  DexieStore: (name: string, options: FeedOptions = {}) => new DexieStore({ name, indexedDB, IDBKeyRange, openTimeoutMs: OPEN_TIMEOUT_MS, ...options }),
  KeyvalStore: (name: string, options: FeedOptions = {}) => new KeyvalStore({ name, openTimeoutMs: OPEN_TIMEOUT_MS, ...options }),
} as const;

export type AdapterName = keyof typeof adapters;

export const T0 = new Date('2026-01-01T00:00:00.000Z');

let counter = 0;
/** A database name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now()}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * `promise`, or a rejection saying what did not happen after SETTLED (60 s) of real time: far above any store bound a
 * test sets, so that a hang fails the test instead of the run.
 */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${SETTLED.timeoutMs} ms`)), SETTLED.timeoutMs)));
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** An instance to create with its start message. */
export interface CreateInstanceRequest {
  readonly state: InstanceState;
  readonly message: OrchestrationMessage;
}

/** A client start of `request` (refused over a running instance). */
export async function create(store: Store, request: CreateInstanceRequest): Promise<void> {
  await store.commit({ requests: [{ type: 'createInstance', ...request, ifRunning: { kind: 'fail' } }] });
}

/** A client message to an existing instance. */
export async function send(store: Store, message: OrchestrationMessage): Promise<void> {
  await store.commit({ requests: [{ type: 'insertMessage', message, ifMissing: 'fail' }] });
}

export function newInstance(instanceId: string, input?: unknown): CreateInstanceRequest {
  return {
    state: {
      instanceId, name: 'Orch', runtimeStatus: 'Pending', createdTime: T0, lastUpdatedTime: T0, executionId: 'exec-1',
      historyLength: 0, version: 1, ...(input === undefined ? {} : { input }),
    },
    message: message(instanceId, {
      type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Orch', instanceId, executionId: 'exec-1',
      ...(input === undefined ? {} : { input }),
    }),
  };
}

export function message(instanceId: string, event: OrchestrationMessage['event']): OrchestrationMessage {
  return { id: crypto.randomUUID(), instanceId, event };
}

export function started(instanceId: string): HistoryEvent {
  return { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Orch', instanceId, executionId: 'exec-1' };
}

/** A hand-made step write set for the work item claimed at `claimed`, in the order decideStep writes one. */
export function commitOf(
  claimed: InstanceState, leaseToken: string,
  parts: {
    readonly state: InstanceState;
    readonly history?: readonly HistoryEvent[];
    readonly consumedMessageIds?: readonly string[];
    readonly activityTasks?: readonly ActivityTask[];
    readonly messages?: readonly OrchestrationMessage[];
  },
): WriteSet {
  const id = claimed.instanceId;
  return {
    lease: { kind: 'orchestration', instanceId: id, token: leaseToken },
    requests: [
      { type: 'replaceState', state: parts.state },
      { type: 'appendHistory', instanceId: id, from: claimed.historyLength, events: parts.history ?? [] },
      { type: 'deleteMessages', instanceId: id, messageIds: parts.consumedMessageIds ?? [] },
      ...(parts.activityTasks ?? []).map((task): WriteRequest => ({ type: 'insertTask', task })),
      ...(parts.messages ?? []).map((message): WriteRequest => ({ type: 'insertMessage', message, ifMissing: 'drop' })),
    ],
  };
}

/** Claims the next work item (there must be one). */
export async function claim(store: Store, now = T0) {
  const item = await store.claimOrchestration({ owner: 'test', leaseMs: 30_000, now });
  if (!item) throw new Error('expected a work item');
  return item;
}

/** Commits `count` custom-status steps of instance `id` through the normal claim/commit path, nudging it each time. */
export async function commitSteps(store: Store, id: string, values: readonly unknown[]): Promise<void> {
  for (const value of values) {
    await send(store, message(id, { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'tick' }));
    const item = await claim(store);
    await store.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', customStatus: value, version: item.state.version + 1 },
    }));
  }
}

/**
 * The connection a store uses: the database of the next transaction it reads from (Dexie binds its connection's
 * `transaction` when it opens, so the object stores a transaction hands out are what can be watched).
 */
export async function connectionOf(store: Store): Promise<IDBDatabase> {
  const objectStore = IDBTransaction.prototype.objectStore;
  let connection: IDBDatabase | undefined;
  IDBTransaction.prototype.objectStore = function (this: IDBTransaction, ...args: Parameters<typeof objectStore>) {
    connection = this.db;
    return objectStore.apply(this, args);
  };
  try {
    await store.getInstance('none');
  } finally {
    IDBTransaction.prototype.objectStore = objectStore;
  }
  return connection!;
}

/**
 * Runs `act` as `store`'s index rebuild's first step reads the layout marker (the second readwrite read of it, after
 * the open's layout check; `isMarker` tells that read by its key), with that step's transaction and a way to read the
 * marker again in it, and answers how the transaction ended (`'complete'` or `'abort'`) once `act` resolved. The
 * store's next call starts the rebuild.
 */
async function atRebuildStep(
  store: Store, isMarker: (key: IDBValidKey | IDBKeyRange) => boolean,
  act: (transaction: IDBTransaction, readAgain: () => IDBRequest) => Promise<void>,
): Promise<string> {
  const get = IDBObjectStore.prototype.get;
  let markerReads = 0;
  let stepEnded: Promise<string> | undefined;
  let acted: Promise<void> | undefined;
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    const request = get.call(this, key);
    if (this.transaction.mode === 'readwrite' && isMarker(key) && ++markerReads === 2) {
      const transaction = this.transaction;
      stepEnded = new Promise((resolve) => {
        transaction.addEventListener('complete', () => resolve('complete'));
        transaction.addEventListener('abort', () => resolve('abort'));
      });
      acted = act(transaction, () => get.call(this, key));
    }
    return request;
  };
  try {
    await store.getInstance('none').catch(() => undefined);
    await vi.waitFor(() => expect(acted).toBeDefined(), { timeout: SETTLED.timeoutMs, interval: 10 });
    await acted;
  } finally {
    IDBObjectStore.prototype.get = get;
  }
  return stepEnded!;
}

/**
 * Closes `store` as its index rebuild's first step reads the layout marker ({@link atRebuildStep}), and answers how that
 * step's transaction ended (`'complete'` or `'abort'`) once the close resolved. The store's next call starts the rebuild.
 */
export function closeAtRebuildStep(store: Store, isMarker: (key: IDBValidKey | IDBKeyRange) => boolean): Promise<string> {
  return atRebuildStep(store, isMarker, () => store.close());
}

/**
 * Another connection upgrades the database (a newer version of the app in another tab) as `store`'s index rebuild begins
 * its first step ({@link atRebuildStep}): the step's transaction is kept busy, and its request to commit held back,
 * until the store's connection got the `versionchange`, so the step is still under way then whatever the machine's load
 * (Chromium delivers the event after the step's work is done at times). Resolves with how the step's transaction ended
 * (`'abort'` or `'complete'`) once the upgrade is done.
 */
export function upgradeAtRebuildStep(store: Store, name: string, isMarker: (key: IDBValidKey | IDBKeyRange) => boolean): Promise<string> {
  return atRebuildStep(store, isMarker, (transaction, readAgain) => {
    // Added after the store's own listener, so it runs after it.
    let told = false;
    let commitAsked = false;
    transaction.commit = () => {
      commitAsked = true;
    };
    transaction.db.addEventListener('versionchange', () => {
      told = true;
      try {
        if (commitAsked) IDBTransaction.prototype.commit.call(transaction);
      } catch {
        // Aborted meanwhile.
      }
    });
    const busy = (): void => {
      if (told) return;
      try {
        readAgain().onsuccess = busy;
      } catch {
        // The transaction ended.
      }
    };
    busy();
    return new Promise((resolve, reject) => {
      const opening = indexedDB.open(name, transaction.db.version + 1);
      opening.onsuccess = () => {
        opening.result.close();
        resolve();
      };
      opening.onerror = () => reject(opening.error);
    });
  });
}
