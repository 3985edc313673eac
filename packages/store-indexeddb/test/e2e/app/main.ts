import { createClient, createRuntime, silentLogger, type Orchestrator, type Runtime } from '@durable-rx/runtime';
import { type ClaimOptions, type Store, type WriteSet } from '@durable-rx/runtime/store-kit';
import { helloSequence } from '@durable-rx/runtime/samples';
import { firstValueFrom, filter, type Subscription } from 'rxjs';
import { DexieStore, KeyvalStore, runAsLeader, type Leadership } from '../../../src/index.js';
import type { E2eAdapter, E2eFailure, E2eLayout, E2eOpenOptions } from './api.js';
import { layoutOf as readLayout, writeOldLayout as writeLayoutBefore } from '../../shared/old-layouts.js';

/** One activity and custom status per step: `n` values a watcher must see in order. */
const counter: Orchestrator<number> = function* (ctx) {
  const n = ctx.getInput<number>();
  for (let i = 1; i <= n; i++) {
    yield ctx.callActivity('Echo', i);
    ctx.setCustomStatus(i);
  }
  return n;
};

/** One slow activity: a reload while it runs interrupts it with its lease held. */
const oneActivity: Orchestrator<string> = function* (ctx) {
  return yield ctx.callActivity('SayHello', ctx.getInput<string>());
};

/** The hello sequence with a durable timer after the first greeting, so reloads also overdue a timer. */
const reloadSequence: Orchestrator<string[]> = function* (ctx) {
  const outputs: string[] = [];
  outputs.push(yield ctx.callActivity('SayHello', 'Tokyo'));
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 300));
  outputs.push(yield ctx.callActivity('SayHello', 'Seattle'));
  outputs.push(yield ctx.callActivity('SayHello', 'London'));
  return outputs;
};

let store: Store | undefined;
/** The database of the page's store. */
let openedDb: string | undefined;
let runtime: Runtime | undefined;
let leadership: Leadership | undefined;
let activityDelayMs = 0;
/** Resolves when the test releases held activities (see E2eOpenOptions.holdActivities); undefined: none is held. */
let activitiesHeld: Promise<void> | undefined;
let releaseHeld = (): void => undefined;
const activityStartWaiters: (() => void)[] = [];
interface Watch {
  readonly values: unknown[];
  readonly waiters: (() => void)[];
  subscription?: Subscription;
}
const watched = new Map<string, Watch>();
const instancesWatch: Watch = { values: [], waiters: [] };
/** What E2eApi.watchAll records of each instance. */
interface AllWatch {
  readonly statuses: (string | undefined)[];
  readonly customStatuses: unknown[];
  waited: string | undefined;
}
const allWatched = new Map<string, AllWatch>();
const allWaiters: (() => void)[] = [];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function activity<T>(value: T): Promise<T> {
  // Counted in sessionStorage, which survives reloads of this tab.
  sessionStorage.setItem('activity-starts', String(Number(sessionStorage.getItem('activity-starts') ?? 0) + 1));
  sessionStorage.setItem('last-activity-start', String(Date.now()));
  for (const wake of activityStartWaiters.splice(0)) wake();
  await activitiesHeld;
  if (activityDelayMs > 0) await sleep(activityDelayMs);
  return value;
}

/** The lease kinds of the commits the store refused with LeaseLostError, in order. */
const refused: string[] = [];
const refusedWaiters: (() => void)[] = [];

const RELOAD_AFTER_CLAIM = 'reload-after-claim';

/**
 * The store as the page's worker sees it: when the test asked for it (in sessionStorage, so it happens once), the page
 * reloads right after a claim committed and the worker never receives the work item. An activity is claimed either by
 * `claimActivity` or, on stores with fused steps, by the step's own commit, which stores its new tasks leased to the
 * committing worker: both count as the activity claim.
 */
function reloadingAfterClaim(inner: Store): Store {
  const reloadIf = <T>(kind: string, claimed: boolean, result: T): Promise<T> => {
    if (!claimed || sessionStorage.getItem(RELOAD_AFTER_CLAIM) !== kind) return Promise.resolve(result);
    sessionStorage.removeItem(RELOAD_AFTER_CLAIM);
    sessionStorage.setItem('reloaded-at', String(Date.now()));
    location.reload();
    return new Promise<never>(() => {}); // the page is going away: the worker never hears of this claim
  };
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'claimOrchestration') {
        return async (o: ClaimOptions) => { const item = await target.claimOrchestration(o); return reloadIf('orchestration', item !== undefined, item); };
      }
      if (key === 'claimActivity') {
        return async (o: ClaimOptions) => { const item = await target.claimActivity(o); return reloadIf('activity', item !== undefined, item); };
      }
      if (key === 'commit') {
        return async (writeSet: WriteSet) => {
          const result = await target.commit(writeSet).catch((error: unknown) => {
            if ((error as { name?: unknown } | null)?.name === 'LeaseLostError') {
              refused.push(writeSet.lease?.kind ?? 'none');
              for (const wake of refusedWaiters.splice(0)) wake();
            }
            throw error;
          });
          const leasedTask = writeSet.requests.some((r) => r.type === 'insertTask' && r.lease !== undefined);
          return reloadIf('activity', leasedTask, result);
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const DIE_AT_POST = 'die-at-post';
/**
 * A tab that goes between a commit and its post (see E2eApi.dieAtPostOf): the post of the matching commit is dropped
 * and the page reloads. Patched on the prototype before any store opens its channel.
 */
const post = BroadcastChannel.prototype.postMessage;
BroadcastChannel.prototype.postMessage = function (this: BroadcastChannel, message: unknown) {
  const armed = sessionStorage.getItem(DIE_AT_POST);
  const changes = (message as { type?: unknown; changes?: unknown } | null)?.type === 'durable-rx/commit@1' ? (message as { changes: { state?: { runtimeStatus?: string; customStatus?: unknown } }[] }).changes : [];
  if (armed) {
    const match = JSON.parse(armed) as { runtimeStatus: string; customStatus?: number };
    if (changes.some(({ state }) => state?.runtimeStatus === match.runtimeStatus && (match.customStatus === undefined || state.customStatus === match.customStatus))) {
      sessionStorage.removeItem(DIE_AT_POST);
      sessionStorage.setItem('posts-dropped', String(Number(sessionStorage.getItem('posts-dropped') ?? 0) + 1));
      location.reload();
      return;
    }
  }
  post.call(this, message);
};

/** The `freeze` events of the page so far. */
let freezes = 0;
/** The database whose opening the page holds at work until its next freeze (see E2eApi.readWhileOpeningHeld). */
let holdOpening: { readonly db: string; readonly upgrade: boolean; readonly held: () => void } | undefined;

/** Keeps `transaction` doing work (a request always on its way) until the page's next `freeze` event. */
function holdAtWork(transaction: IDBTransaction): void {
  holdOpening?.held();
  holdOpening = undefined;
  const objectStore = transaction.objectStore(transaction.objectStoreNames[0]!);
  const since = freezes;
  const keepBusy = (): void => {
    if (freezes === since) objectStore.count().onsuccess = keepBusy;
  };
  keepBusy();
}

/** IndexedDB transactions this page began (on every connection it opens). */
let transactionsBegun = 0;
const transaction = IDBDatabase.prototype.transaction;
IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
  transactionsBegun++;
  const begun = transaction.apply(this, args);
  // The layout check is the first readwrite transaction on the store's connection (an upgrade is held before it).
  if (holdOpening?.db === this.name && begun.mode === 'readwrite') holdAtWork(begun);
  return begun;
} as IDBDatabase['transaction'];
const openDatabase = IDBFactory.prototype.open;
IDBFactory.prototype.open = function (this: IDBFactory, ...args: Parameters<IDBFactory['open']>) {
  const request = openDatabase.apply(this, args);
  // Added before the store's listeners and Dexie's: the upgrade is at work when they run.
  if (holdOpening?.db === args[0]) request.addEventListener('upgradeneeded', () => holdOpening?.upgrade && holdAtWork(request.transaction!));
  return request;
} as IDBFactory['open'];

function writeOldLayout(adapter: E2eAdapter, db: string): Promise<void> {
  return writeLayoutBefore(adapter === 'dexie', db);
}

function layoutOf(adapter: E2eAdapter, db: string): Promise<E2eLayout> {
  return readLayout(adapter === 'dexie', db);
}

let heldRead: Promise<{ ok: true; runtimeStatus: string | undefined } | E2eFailure> | undefined;

/**
 * What the page does at its next `freeze` event (see E2eApi.startOnFreeze), from a listener added before any store's,
 * and what came of it: `transactionsBegun` when the freeze began, and once the listeners added after the store's ran.
 */
let onFreeze: (() => void) | undefined;
let freezeStart: Promise<{ ok: true } | E2eFailure> | undefined;
let begunAtFreeze = 0;
let begunInFreeze = 0;
document.addEventListener('freeze', () => {
  freezes++;
  begunAtFreeze = transactionsBegun;
  const action = onFreeze;
  onFreeze = undefined;
  action?.();
});

/**
 * The page's trips through the back/forward cache: each `pageshow` that restored it (`persisted`) is counted here (the
 * page's own state survives only such a trip), and each `pagehide` tells in sessionStorage (which the page the tab went
 * to reads) whether Chromium kept the page (`persisted`) or unloaded it.
 */
const CACHED_AT_HIDE = 'cached-at-hide';
let restores = 0;
addEventListener('pageshow', (event) => {
  if (event.persisted) restores++;
});
addEventListener('pagehide', (event) => sessionStorage.setItem(CACHED_AT_HIDE, String(event.persisted)));

async function open(options: E2eOpenOptions): Promise<void> {
  activityDelayMs = options.activityDelayMs ?? 0;
  if (options.holdActivities) activitiesHeld = new Promise<void>((resolve) => (releaseHeld = resolve));
  const feed = options.joinTimeoutMs === undefined ? {} : { joinTimeoutMs: options.joinTimeoutMs };
  openedDb = options.db;
  store = options.adapter === 'dexie' ? new DexieStore({ name: options.db, ...feed }) : new KeyvalStore({ name: options.db, ...feed });
  runtime = createRuntime({
    store: reloadingAfterClaim(store),
    orchestrators: { HelloSequence: helloSequence, Counter: counter, ReloadSequence: reloadSequence, OneActivity: oneActivity },
    activities: {
      SayHello: (name: string) => activity(`Hello ${name}!`),
      E1_SayHello: (name: string) => activity(`Hello ${name}!`),
      Echo: (value: unknown) => activity(value),
    },
    logger: silentLogger,
    ...(options.leaseMs === undefined ? {} : { orchestrationLeaseMs: options.leaseMs, activityLeaseMs: options.leaseMs }),
    ...(options.leaseStorage ? { leaseStorage: sessionStorage } : {}),
  });
  const r = runtime;
  if (options.leader) leadership = runAsLeader(options.leader, () => r.start(), () => r.stop());
  else if (options.worker) await r.start();
  // After the store's own listener (added when it was made): counts the transactions begun before the store heard of it.
  document.addEventListener('freeze', () => (begunInFreeze = transactionsBegun - begunAtFreeze));
  document.getElementById('status')!.textContent = `open: ${options.adapter} ${options.db}`;
}

/** A failure as data: its code, class name and the names along its `cause` chain. */
function failureOf(error: unknown): E2eFailure {
  const causeNames: string[] = [];
  for (let c: unknown = (error as Error).cause; typeof c === 'object' && c !== null; c = (c as { inner?: unknown; cause?: unknown }).inner ?? (c as { cause?: unknown }).cause) {
    causeNames.push(String((c as { name?: unknown }).name));
  }
  const { code, status, name, message } = error as { code?: unknown; status?: unknown; name: string; message: string };
  return { ok: false, code, status, name, message, causeNames };
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not open`);
  return value;
}

const params = new URLSearchParams(location.search);
const fromUrl = params.get('db');

window.e2e = {
  ready: fromUrl
    ? open({
        adapter: params.get('adapter') === 'keyval' ? 'keyval' : 'dexie',
        db: fromUrl,
        worker: params.has('worker'),
        leaseStorage: params.has('leaseStorage'),
        ...(params.has('leader') ? { leader: params.get('leader')! } : {}),
        ...(params.has('leaseMs') ? { leaseMs: Number(params.get('leaseMs')) } : {}),
        ...(params.has('activityDelayMs') ? { activityDelayMs: Number(params.get('activityDelayMs')) } : {}),
      })
    : Promise.resolve(),
  open,
  async startElsewhere(orchestrator, id, input) {
    await createClient({ store: need(store, 'store') }).startNew(orchestrator, { instanceId: id, input });
  },
  async startMany(orchestrator, ids, input) {
    const client = need(runtime, 'runtime').client;
    await Promise.all(ids.map((instanceId) => client.startNew(orchestrator, { instanceId, input })));
  },
  async tryStart(orchestrator, id, input) {
    try {
      await need(runtime, 'runtime').client.startNew(orchestrator, { instanceId: id, input });
      return { ok: true };
    } catch (error) {
      return failureOf(error);
    }
  },
  releaseActivities() {
    activitiesHeld = undefined;
    releaseHeld();
  },
  startOnFreeze(orchestrator, id) {
    const client = createClient({ store: need(store, 'store') });
    onFreeze = () => {
      freezeStart = client.startNew(orchestrator, { instanceId: id }).then(() => ({ ok: true as const }), failureOf);
    };
  },
  writeOldLayout,
  layoutOf,
  readWhileOpeningHeld(id, upgrade = true) {
    const db = need(openedDb, 'store');
    const held = new Promise<void>((resolve) => (holdOpening = { db, upgrade, held: resolve }));
    const read = need(runtime, 'runtime').client.getStatus(id).then((status) => ({ ok: true as const, runtimeStatus: status?.runtimeStatus }), failureOf);
    heldRead = read;
    return Promise.race([held, read.then((outcome) => {
      throw new Error(`the read ended before the opening was held: ${JSON.stringify(outcome)}`);
    })]);
  },
  heldRead() {
    return need(heldRead, 'a read while the opening is held');
  },
  async freezeStart() {
    return { outcome: await need(freezeStart, 'a start at the freeze'), begunInFreeze };
  },
  async inputOf(id) {
    const status = await need(runtime, 'runtime').client.getStatus(id);
    return status ? { exists: true, input: status.input } : { exists: false };
  },
  async waitAll(ids, timeoutMs) {
    const client = need(runtime, 'runtime').client;
    const done = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs })));
    return done.map(({ instanceId, runtimeStatus, output }) => ({ instanceId, runtimeStatus, output }));
  },
  async histories(ids) {
    const s = need(store, 'store');
    const entries = await Promise.all(ids.map(async (id) => [id, await s.getHistory(id)] as const));
    return Object.fromEntries(entries);
  },
  watchCustomStatus(id) {
    const client = need(runtime, 'runtime').client;
    const entry: Watch = { values: [], waiters: [] };
    entry.subscription = client.customStatus$(id).subscribe((value) => {
      entry.values.push(value);
      for (const wake of entry.waiters.splice(0)) wake();
    });
    watched.set(id, entry);
  },
  async customStatuses(id, count) {
    const entry = need(watched.get(id), `watcher of ${id}`);
    while (entry.values.length < count) await new Promise<void>((resolve) => entry.waiters.push(resolve));
    return [...entry.values];
  },
  watchAll(ids) {
    const client = need(runtime, 'runtime').client;
    for (const id of ids) {
      const entry: AllWatch = { statuses: [], customStatuses: [], waited: undefined };
      allWatched.set(id, entry);
      let waiting = false;
      client.status$(id).subscribe((status) => {
        entry.statuses.push(status?.runtimeStatus);
        // The wait starts once the instance exists (an unknown id ends it at once).
        if (status && !waiting) {
          waiting = true;
          const ended = (outcome: string): void => {
            entry.waited = outcome;
            for (const wake of allWaiters.splice(0)) wake();
          };
          client.waitForCompletion(id, { timeoutMs: 600_000 }).then((s) => ended(s.runtimeStatus), (e: unknown) => ended(String(e)));
        }
        for (const wake of allWaiters.splice(0)) wake();
      });
      client.customStatus$(id).subscribe((value) => entry.customStatuses.push(value));
    }
  },
  async watchedWhen(runtimeStatus, waitMs) {
    const until = Date.now() + waitMs;
    const reached = () => [...allWatched.values()].every((w) => w.statuses[w.statuses.length - 1] === runtimeStatus && w.waited !== undefined);
    while (!reached() && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(500, Math.max(0, until - Date.now())));
        allWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return Object.fromEntries([...allWatched].map(([id, w]) => [id, { ...w, statuses: [...w.statuses], customStatuses: [...w.customStatuses] }]));
  },
  dieAtPostOf(match) {
    sessionStorage.setItem(DIE_AT_POST, JSON.stringify(match));
  },
  postsDropped() {
    return Number(sessionStorage.getItem('posts-dropped') ?? 0);
  },
  watchInstances() {
    instancesWatch.subscription = need(runtime, 'runtime').client.instances$().subscribe((list) => {
      instancesWatch.values.push(list.map((s) => s.instanceId).sort());
      for (const wake of instancesWatch.waiters.splice(0)) wake();
    });
  },
  async instancesWhen(ids) {
    const want = JSON.stringify([...ids].sort());
    const last = () => JSON.stringify(instancesWatch.values[instancesWatch.values.length - 1]);
    while (last() !== want) await new Promise<void>((resolve) => instancesWatch.waiters.push(resolve));
    return instancesWatch.values as string[][];
  },
  async purge(id) {
    await need(runtime, 'runtime').client.purgeInstanceHistory(id);
  },
  nextActivityStart() {
    return new Promise<void>((resolve) => activityStartWaiters.push(resolve));
  },
  async activityStartsReach(n) {
    while (window.e2e.activityStarts() < n) await window.e2e.nextActivityStart();
  },
  activityStarts() {
    return Number(sessionStorage.getItem('activity-starts') ?? 0);
  },
  lastActivityStartMs() {
    return Number(sessionStorage.getItem('last-activity-start') ?? NaN);
  },
  reloadedAtMs() {
    return Number(sessionStorage.getItem('reloaded-at') ?? NaN);
  },
  reloadAfterNextClaim(kind) {
    sessionStorage.setItem(RELOAD_AFTER_CLAIM, kind);
  },
  async refusedCommits(count, timeoutMs) {
    const until = Date.now() + timeoutMs;
    while (refused.length < count) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`${refused.length} commits refused in ${timeoutMs} ms, not ${count}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        refusedWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return [...refused];
  },
  async feedLocks(db) {
    const { held = [], pending = [] } = await navigator.locks.query();
    const prefix = `durable-rx:${db}/feed/`;
    const feeds = (locks: LockInfo[], mode: LockMode) => locks.filter((l) => l.mode === mode && l.name?.startsWith(prefix)).length;
    return { held: feeds(held, 'exclusive'), watches: feeds(pending, 'shared') };
  },
  restores() {
    return restores;
  },
  cachedAtHide() {
    const value = sessionStorage.getItem(CACHED_AT_HIDE);
    return value === null ? undefined : value === 'true';
  },
  metrics() {
    return need(runtime, 'runtime').metrics;
  },
  isLeader() {
    return leadership?.isLeader ?? false;
  },
  async waitLeader() {
    await firstValueFrom(need(leadership, 'leadership').isLeader$.pipe(filter(Boolean)));
  },
  async close() {
    for (const entry of watched.values()) entry.subscription?.unsubscribe();
    instancesWatch.subscription?.unsubscribe();
    await leadership?.release();
    await runtime?.stop();
    await store?.close();
  },
};
