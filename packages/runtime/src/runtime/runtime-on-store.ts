import type { LocalDurableClient } from '../client/durable-client.js';
import { LocalClient } from '../client/local-client.js';
import type { Activity, Orchestrator } from '../engine/orchestration-context.js';
import { DEFAULT_CUSTOM_STATUS_LIMIT_BYTES } from '../engine/orchestration-execution.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import {
  assertStore, assertValidName, CLOCK_METHODS, hasMethods, isCount, isCountOrZero, isDelayMs, isFiniteDelayMs, isFunction, isLeaseMs, isName,
  isTimeoutMs, LOGGER_METHODS, readChecked, type MemberCheck,
} from '../model/validation.js';
import type { Store } from '../store/store.js';
import { systemClock, type Clock } from '../env/clock.js';
import { randomId, type NewId } from '../env/new-id.js';
import { consoleLogger, guardedLogger, type Logger } from '../env/logger.js';
import { DEFAULT_CACHE_SIZE } from '../worker/execution-cache.js';
import type { LeaseStorage } from '../worker/lease-succession.js';
import { DEFAULT_STORE_CALL_TIMEOUT_MS } from '../model/store-call-timeout.js';
import type { RetentionOptions } from '../worker/retention-sweep.js';
import { DEFAULT_STOP_GRACE_MS, NO_WORKER_METRICS, Worker, type StartHandOff, type StopOptions, type WorkerMetrics } from '../worker/worker.js';

/**
 * Options of {@link createRuntime}. Each is checked when the runtime is made, by the rule of its kind: counts
 * (`maxConcurrentActivities`, `customStatusLimitBytes`, ...) are positive integers (`cacheSize` may be 0), leases
 * numbers of ms > 0 and at most 1e15 (about 31,700 years: a longer one could end past the last valid Date, and every
 * claim asking for it would be refused), `storeCallTimeoutMs` a number > 0, registered names and `workerId` names as
 * instance names are (not `''`, `.` or `..`), `clock`, `logger` and `leaseStorage` objects with their methods, `newId`
 * a function. Anything else is an `InvalidArgumentError` naming the member, thrown before any store, worker or timer is made.
 *
 * @example
 * ```ts
 * import { createRuntime, silentLogger, type RuntimeOptions } from '@durable-rx/runtime';
 *
 * const options: RuntimeOptions = {
 *   orchestrators: { Greet: function* (ctx) { return yield ctx.callActivity('Say', ctx.getInput<string>()); } },
 *   activities: { Say: (name: string) => `Hello ${name}!` },
 *   maxConcurrentActivities: 8, // activities running at once in this runtime (default 32)
 *   logger: silentLogger,
 * };
 * const runtime = createRuntime(options); // store left out: a MemoryStore of its own
 * ```
 */
export interface RuntimeOptions {
  /**
   * Where instances live. Default (left out or `undefined`): a new `MemoryStore` of this runtime's own, which `stop()`
   * leaves open with its instances (it holds no timer or handle, only memory), so the client still reads them and a
   * later `start()` runs them on; anything else that is not an object is an `InvalidArgumentError`. Required by `createRuntime` of `@durable-rx/runtime/core`,
   * which leaves `MemoryStore` out of the bundle.
   */
  readonly store?: Store;
  /** Orchestrator generator functions by name. */
  readonly orchestrators: Readonly<Record<string, Orchestrator>>;
  /** Activity functions by name. */
  readonly activities?: Readonly<Record<string, Activity>>;
  /**
   * Default: the system clock. Tests pass a `VirtualClock`. A reading that is no valid Date is refused: the client's
   * commands reject with a `RangeError` (a server fault: over HTTP a logged 500), and each claim round of the worker
   * fails and is logged (then retried, backing off) instead of claiming nothing.
   */
  readonly clock?: Clock;
  /** Fresh ids for instances, executions, messages and the worker. Default: random UUIDs. */
  readonly newId?: NewId;
  /** Default: the console. */
  readonly logger?: Logger;
  /**
   * Worker id recorded in leases. Default: a fresh random UUID per runtime. A worker given an id releases the leases
   * of that id's earlier lives when it starts, before it claims anything, so a process restarted with the same id
   * resumes the work its last life held at once (`Store.releaseOwner`). Its leases record the id with a mark of this
   * life (`node-1#<start>.<random>`), which keeps them out of any release of the id's earlier lives, even one the
   * store applies late. Never give two live workers the same id.
   */
  readonly workerId?: string;
  /** Lease on an orchestration step. Default 30 s. */
  readonly orchestrationLeaseMs?: number;
  /**
   * Lease on an activity run; another worker retries the activity after it. Default 5 min. The worker renews it every
   * third of it while the activity runs and while its result is committed; a result the store fails to commit is
   * retried under renewals for 10 leases at most (then the lease lapses, and the activity runs again).
   */
  readonly activityLeaseMs?: number;
  /** Orchestration steps in flight at once. Default 16. */
  readonly maxConcurrentOrchestrations?: number;
  /** Activities running at once. Default 32. */
  readonly maxConcurrentActivities?: number;
  /**
   * Live executions the worker keeps, so that a step need not replay the history. Default 100,000. A cached execution
   * holds its suspended generator and what the orchestrator's code keeps in it: about 0.5 KB for one waiting for an
   * event (so the default keeps up to about 50 MB of them), more for code that holds large values. Lower it for such
   * code or a small heap; raise it when more instances than this take turns and memory allows (each step of one that
   * is not cached replays its history). Once the cache is full, the executions that hit stay and newcomers churn in
   * an eighth of it.
   */
  readonly cacheSize?: number;
  /**
   * Largest custom status, in UTF-8 bytes of its JSON text. Default 16 KiB (16,384 bytes). Not Durable Functions'
   * count, which is 16 KB of UTF-16 text: the default takes an ASCII string of up to 16,382 characters (its JSON text's
   * two quotes count; about 8,192 there) and a CJK string of up to 5,460 (3 bytes each; about 8,192 there).
   * An execution keeps the limit in force when it started (its history records it, so every replay checks its
   * statuses as its steps did): a new limit applies to executions that start afterwards (new instances, the next
   * `continueAsNew` pass, a restart), not to those already running.
   */
  readonly customStatusLimitBytes?: number;
  /**
   * Longest wait, in ms on the runtime's clock, for one store call of the worker (a wedged IndexedDB transaction, a
   * network partition without a socket timeout). Default 30 s; a number > 0, or `Infinity` to bound calls by their
   * leases only. A call made under a lease also ends when that lease expires, since what it does later can no longer
   * be trusted: a claim after the lease it asks for (`orchestrationLeaseMs`, `activityLeaseMs`), the release of a lease
   * (a stop abandoning what runs) at that lease's expiry (renewals are each bounded by the next one, a third of the
   * lease). A step's history read and commit and an
   * activity's result commit are bounded by this option alone, however little of the lease is left (with
   * `Infinity`, by what is left of the lease, and at least `orchestrationLeaseMs` or `activityLeaseMs`): the store's
   * lease check decides whether it may still commit (it refuses once another worker has claimed the work). The worker
   * then logs the call, gives back what it holds, leaves the lease to lapse so that another worker (or its own next
   * claim) takes the work over, and goes on with other work; whatever the call does later is ignored. `stop()` ends
   * every wait for a store call, so it ends even if one never settles. The runtime's `client` bounds its store calls by
   * it too (as `createClient`'s option of the same name does): a command or read the store has not answered by then
   * rejects with `UnavailableError` (`code` `'unavailable'`, HTTP 503), and so does an observable whose first snapshot,
   * or any later history read of `history$`, is not answered; the call is not undone, so a command may still take
   * effect.
   *
   * @example
   * ```ts
   * createRuntime({ store, orchestrators, storeCallTimeoutMs: 10_000 }); // a call hung for 10 s is abandoned
   * ```
   */
  readonly storeCallTimeoutMs?: number;
  /**
   * Where the worker records its id, so that the runtime's next life takes over the leases this one leaves behind
   * instead of waiting for them to expire. In a browser pass `sessionStorage`: a reloaded tab then resumes its own
   * interrupted steps and activities at once, including a claim that was still committing while the page unloaded.
   * Each life has its own worker id and holds a Web Lock named after it; the next life releases an earlier life's
   * leases (`Store.releaseOwner`) as soon as that lock is free, so a tab duplicated from a live one (its
   * `sessionStorage` is a copy) never takes over the original's work while the original runs. Without Web Locks the
   * recorded lives are taken to be over at once. One runtime per storage. Default: nothing is recorded.
   */
  readonly leaseStorage?: LeaseStorage;
  /**
   * Purges ended instances automatically once they have been ended for a period of their status (ms, counted from
   * their end, not their creation): `completed`, `failed`, `terminated`, each a number >= 0 (`Infinity`, or left out:
   * kept), and `intervalMs`, the time between two sweeps (default: the shortest period, within 10 s and 5 min). Off
   * by default: instances are kept until purged by hand (`purgeInstanceHistory`, `purgeInstanceHistoryBy`). The
   * worker sweeps while it runs: at its start, then every `intervalMs`, a bounded number of instances read per sweep
   * with a macrotask between two store calls (it never holds up steps), and `stop()` releases its timer. A Pending, Running or Suspended
   * instance is never purged, nor one that changed since the sweep read it (a restart racing the sweep wins). A
   * sub-orchestration is kept as long as the execution of its parent that started it is kept (a parent may go
   * before its children, which then go by their own periods); one whose parent is gone or continued as new goes by its own end. Safe with several
   * workers on one store (tabs, processes): each instance is purged once. A sweep that fails is logged and the next
   * one tries again.
   *
   * @example
   * ```ts
   * createRuntime({ store, orchestrators, retention: { completed: 24 * 3_600_000, failed: 7 * 24 * 3_600_000 } });
   * ```
   */
  readonly retention?: RetentionOptions;
}

/** A worker plus its client. */
export interface Runtime {
  /** The store the runtime works on. */
  readonly store: Store;
  /**
   * A client whose `startNew` knows this runtime's orchestrators. It lives as long as the runtime, whether started or
   * stopped: `stop()` and `start()` leave it alone, and only its own `close()` (or the store's) ends what it watches.
   */
  readonly client: LocalDurableClient;
  /** Counters of worker and engine work. */
  readonly metrics: WorkerMetrics;
  /**
   * Starts processing work. May be called again after `stop()` (a tab back from the background): it then runs a fresh
   * worker on the same store, which takes up what was left there (instances waiting, started or raised to while
   * stopped, work the stop abandoned). Starts and stops take effect one after another in call order: a start called
   * while a stop runs resolves once that stop has ended and the worker runs again. Idempotent: a start called before
   * the next `stop()` returns the first one's promise. On a store that was closed nothing can run: the worker stops at
   * its first store call, as when the store closes under it, and logs an error saying so (the logger's `error`) when
   * the store was closed before its first claim was made. A store closed under a started runtime stops it silently.
   * Bound to the runtime: it may be passed on (`Promise.resolve().then(runtime.start)`). Starting and stopping never
   * touch `client`: what it watches goes on through both.
   *
   * @example
   * ```ts
   * // The UI's subscriptions to runtime.client go on while the tab is hidden (another tab's worker may finish them).
   * document.addEventListener('visibilitychange', () => (document.hidden ? runtime.stop() : runtime.start()));
   * ```
   */
  readonly start: () => Promise<void>;
  /**
   * Stops claiming work, lets in-flight steps and activities commit for up to `graceMs` (default 30 s, on the
   * runtime's clock; `Infinity` waits for all), then abandons what still runs: its leases are released so another
   * worker retries it at once, and a result that arrives later is refused. The stop waits for those releases, and for
   * those of activity tasks whose results the store refused, up to `storeCallTimeoutMs` (default 30 s) and never
   * longer than the longest lease (`orchestrationLeaseMs`, `activityLeaseMs`): so it resolves at most `graceMs` plus
   * that bound after it takes effect, however the store answers; a release left unanswered leaves its lease to the
   * runtime's next life, or to lapse. Releases the worker's subscription and timers. Stops the worker only: `client` stays open and keeps following the store, as a client of `createClient`
   * does (its observables go on and show what other workers on a shared store commit, `waitForCompletion` calls keep
   * their own timeout, and commands are accepted and run once a worker runs, this runtime's after a later `start()`: a
   * command that needs a worker resolves after up to 10 s, `COMMAND_APPLIED_TIMEOUT_MS`, still queued, as on
   * `createClient({ store })`); `client.close()` ends its observables and waits. Never closes the store, not even
   * the `MemoryStore` the runtime made itself: its instances stay there for `client` and a later `start()`. A stop
   * called while a start is under way takes effect after it. Idempotent: a stop called before the next `start()`
   * returns the first one's promise.
   * Options that are not an object, or a `graceMs` that is not a number >= 0 or throws when read, reject with
   * `InvalidArgumentError` and stop nothing. Bound to the runtime: it may be passed on with no argument
   * (`promise.finally(runtime.stop)`, an effect's cleanup), not to `.then`, which would hand it the promise's value
   * as its options.
   *
   * @example
   * ```ts
   * // Within 5 s when the store answers the releases at once, even if an activity never settles; with the default
   * // storeCallTimeoutMs, within 35 s whatever the store does.
   * await runtime.stop({ graceMs: 5_000 });
   * await runtime.start(); // runs again, on the same store
   * ```
   */
  readonly stop: (options?: StopOptions) => Promise<void>;
}

/**
 * The runtime on a given store: what `createRuntime` of `@durable-rx/runtime` and of `@durable-rx/runtime/core`
 * share. It names no store class, so a bundle that brings its own store carries no `MemoryStore`.
 *
 */
export function runtimeOnStore(options: CheckedRuntimeOptions, store: Store): Runtime {
  const { clock = systemClock, newId = randomId, orchestrators, activities } = options;
  const limits = positiveLimits(options);
  const logger = guardedLogger(options.logger ?? consoleLogger);
  // One id for every life of the runtime: a life after the first releases what an earlier one left leased (a commit
  // still unanswered when its stop ended) before it claims, as a process restarted with its `workerId` does.
  const owner = options.workerId ?? newId();
  let lives = 0;
  const newWorker = (metrics: WorkerMetrics | undefined): Worker => new Worker({
    store,
    orchestrators,
    activities,
    clock,
    newId,
    logger,
    owner,
    ownerReused: options.workerId !== undefined || lives++ > 0,
    ...limits,
    cacheSize: options.cacheSize ?? DEFAULT_CACHE_SIZE,
    leaseStorage: options.leaseStorage,
    retention: options.retention,
    metrics,
  });
  const knownOrchestrators = new Set(orchestrators.keys());
  const newClient = (startHandOff: () => StartHandOff | undefined): LocalClient => new LocalClient({
    store, clock, newId, knownOrchestrators, startHandOff, logger, ...limits,
  });
  return new RuntimeOnStore(store, newClient, newWorker);
}

/**
 * What {@link runtimeOnStore} returns: a class, so `metrics` is a getter of its prototype, made once. A getter in an
 * object literal is made per runtime, and V8 allocates its accessor pair in the old generation: from there it kept the
 * getter's closure, and with it the worker, client and store, alive through every young-generation collection until
 * the next full one. A process that creates and stops runtimes one after another (tests, the end-to-end bench) copied
 * every dead runtime from collection to collection.
 *
 * Each `start` after a `stop` (or the first) runs a fresh worker: a stopped worker holds nothing (its subscription,
 * timers and cache are let go) and is dropped. Starts and stops run one after another in call order, on one chain:
 * a start called during a stop begins once that stop has ended, a stop called during a start once the worker runs.
 */
class RuntimeOnStore implements Runtime {
  /** A worker for the next life, its counters going on from the lives before (none before the first start). */
  readonly #newWorker: (metrics: WorkerMetrics | undefined) => Worker;
  /** The worker of the current life: from a start until the stop after it has ended. */
  #worker: Worker | undefined;
  /** The counters at the end of the last life (a stopped worker's), which the next life's worker goes on from. */
  #pastMetrics: WorkerMetrics | undefined;
  /** The last start or stop called, until it has settled: every later one waits for it. */
  #last: Promise<void> | undefined;
  /** What `start` returns until the next `stop` is called (so starts are idempotent), and `stop` likewise. */
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  readonly client: LocalClient;

  /** `newClient` is handed what gives a start to the current life's worker (none between lives). */
  constructor(readonly store: Store, newClient: (startHandOff: () => StartHandOff | undefined) => LocalClient, newWorker: (metrics: WorkerMetrics | undefined) => Worker) {
    this.#newWorker = newWorker;
    this.client = newClient(() => this.#worker?.startHandOff);
  }

  get metrics(): WorkerMetrics {
    // A worker's counters go on from the lives before it (see `#newWorker`); before the first start, all zero. A copy
    // each time, as the worker's own: what a caller does with one changes no later read.
    return this.#worker?.metrics ?? { ...(this.#pastMetrics ?? NO_WORKER_METRICS) };
  }

  // start and stop are bound (fields, not prototype methods), as when the runtime was an object of closures: callers
  // hand them on unbound (`.finally(runtime.stop)`, an effect's cleanup returning `runtime.stop`).
  readonly start = (): Promise<void> => {
    if (this.#starting) return this.#starting;
    this.#stopping = undefined;
    const starting = this.#after(() => {
      if (this.#worker) return;
      const worker = (this.#worker = this.#newWorker(this.#pastMetrics));
      worker.start();
    });
    return (this.#starting = starting);
  };

  readonly stop = (stopOptions?: StopOptions): Promise<void> => {
    let graceMs: number;
    try {
      // The one rule of timeouts (a number >= 0, or Infinity to wait for all), read as every options argument is:
      // a member that throws when read is an InvalidArgumentError naming it (`stop options.graceMs`).
      graceMs = readChecked(stopOptions, 'stop options', { graceMs: isTimeoutMs }).graceMs ?? DEFAULT_STOP_GRACE_MS;
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#stopping) return this.#stopping;
    this.#starting = undefined;
    const stopping = this.#after(async () => {
      const worker = this.#worker;
      if (!worker) return;
      // The worker is dropped even when its stop reports an error, so a later start runs a fresh one. The client is
      // left alone: it follows the store, not the worker.
      await worker.stop({ graceMs }).finally(() => {
        this.#pastMetrics = worker.metrics;
        this.#worker = undefined;
      });
    });
    return (this.#stopping = stopping);
  };

  /**
   * Runs `step` once every start and stop called before it has settled (whether it failed or not): at once, in this
   * call, when none is under way (so a stop arms its grace before it returns, as the worker's own stop does).
   */
  #after(step: () => void | Promise<void>): Promise<void> {
    const next = this.#last ? this.#last.then(step, step) : (async () => step())();
    const last: Promise<void> = next.then(noop, noop).then(() => {
      if (this.#last === last) this.#last = undefined;
    });
    this.#last = last;
    return next;
  }
}

function noop(): void {}

/** The runtime's positive numeric options and their defaults. */
type PositiveLimits = {
  readonly [K in 'orchestrationLeaseMs' | 'activityLeaseMs' | 'maxConcurrentOrchestrations' | 'maxConcurrentActivities' | 'customStatusLimitBytes' | 'storeCallTimeoutMs']-?: number;
};

/** Each option of {@link PositiveLimits} as checked, or its default. */
function positiveLimits(options: CheckedRuntimeOptions): PositiveLimits {
  return {
    orchestrationLeaseMs: options.orchestrationLeaseMs ?? 30_000,
    activityLeaseMs: options.activityLeaseMs ?? 300_000,
    maxConcurrentOrchestrations: options.maxConcurrentOrchestrations ?? 16,
    maxConcurrentActivities: options.maxConcurrentActivities ?? 32,
    customStatusLimitBytes: options.customStatusLimitBytes ?? DEFAULT_CUSTOM_STATUS_LIMIT_BYTES,
    storeCallTimeoutMs: options.storeCallTimeoutMs ?? DEFAULT_STORE_CALL_TIMEOUT_MS,
  };
}

/**
 * Every member of {@link RuntimeOptions} and its check: one rule per kind (delays, counts, names, injected functions and
 * objects), as every options argument of the packages is read.
 */
const RUNTIME_CHECKS = {
  store: (value: unknown, what: string): Store => {
    assertStore(value, what);
    return value as Store;
  },
  orchestrators: (value: unknown): ReadonlyMap<string, Orchestrator> => registry<Orchestrator>(value, 'orchestrator'),
  activities: (value: unknown): ReadonlyMap<string, Activity> => registry<Activity>(value, 'activity'),
  clock: hasMethods<Clock>(CLOCK_METHODS),
  newId: isFunction as MemberCheck<NewId>,
  // null is no logger given, as `??` reads it.
  logger: (value: unknown, what: string): Logger | undefined => (value === null ? undefined : hasMethods<Logger>(LOGGER_METHODS)(value, what)),
  workerId: isName,
  orchestrationLeaseMs: isLeaseMs,
  activityLeaseMs: isLeaseMs,
  maxConcurrentOrchestrations: isCount,
  maxConcurrentActivities: isCount,
  cacheSize: isCountOrZero,
  customStatusLimitBytes: isCount,
  // A delay: Infinity bounds store calls by their leases only.
  storeCallTimeoutMs: isDelayMs,
  leaseStorage: hasMethods<LeaseStorage>(['getItem', 'setItem']),
  // Periods >= 0 (Infinity: kept), the interval a finite delay, as a timer is set on it.
  retention: (value: unknown, what: string): RetentionOptions => readChecked(value, what, {
    completed: isTimeoutMs, failed: isTimeoutMs, terminated: isTimeoutMs, intervalMs: isFiniteDelayMs,
  }),
};

/** {@link RuntimeOptions} as {@link checkRuntimeOptions} reads them: each member checked, the registries as Maps. */
export type CheckedRuntimeOptions = { -readonly [K in keyof typeof RUNTIME_CHECKS]?: ReturnType<(typeof RUNTIME_CHECKS)[K]> } & {
  readonly orchestrators: ReadonlyMap<string, Orchestrator>;
  readonly activities: ReadonlyMap<string, Activity>;
};

/**
 * The options of `createRuntime`, every member checked before anything is created (no store, worker or timer): an
 * options argument that is no object, or any member that breaks its rule, is an `InvalidArgumentError` naming it
 * (`createRuntime options.maxConcurrentActivities must be a positive integer`).
 */
export function checkRuntimeOptions(options: unknown): CheckedRuntimeOptions {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('createRuntime needs an options object');
  const checked = readChecked(options, 'createRuntime options', RUNTIME_CHECKS);
  return {
    ...checked,
    orchestrators: checked.orchestrators ?? registry<Orchestrator>(undefined, 'orchestrator'),
    activities: checked.activities ?? new Map(),
  };
}

/**
 * The functions of an `orchestrators` / `activities` option as a Map of its own enumerable entries, so a name such
 * as `constructor` or `toString` resolves only when it was registered, never to an `Object.prototype` member. Each
 * name follows the shared name rule ({@link assertValidName}): a name such as `''` or `..` could never be started or
 * called over the HTTP API.
 */
function registry<T>(record: unknown, what: string): ReadonlyMap<string, T> {
  if (record === null || typeof record !== 'object') throw new InvalidArgumentError(`the ${what} registry must be an object of functions`);
  const map = new Map<string, T>();
  for (const [name, fn] of Object.entries(record)) {
    assertValidName(name, `${what} name ${JSON.stringify(name)}`);
    if (typeof fn !== 'function') throw new InvalidArgumentError(`${what} ${JSON.stringify(name)} must be a function`);
    // An `async function*` would fail every instance at its first yield (it yields promises): refused here, by its tag.
    if (what === 'orchestrator' && Object.prototype.toString.call(fn) === '[object AsyncGeneratorFunction]') {
      throw new InvalidArgumentError(`orchestrator ${JSON.stringify(name)} is an async function*: not supported, use function*`);
    }
    map.set(name, fn as T);
  }
  return map;
}
