import { filter, type Observable } from 'rxjs';
import { DurableError } from '../model/errors/durable-error.js';
import type {
  ActivityWorkItem, ClaimOptions, CommitResult, InstancePage, InstanceQuery, OrchestrationWorkItem, PurgeFilter, PurgeMember, PurgeSetResult, StatusChange,
  Store, StoreCapabilities,
} from '../store/store.js';
import type { HistoryRange } from '../store/history-range.js';
import type { WriteSet } from '../model/write-set.js';
import type { HistoryEvent } from '../model/history-event.js';
import type { InstanceState } from '../model/instance-status.js';

/** The faults a {@link FaultInjector} injects. */
export type FaultKind = 'errorBefore' | 'errorAfter' | 'delay' | 'leaseExpiry' | 'hang';

/** Probability (0 to 1) of each fault per store call. */
export type FaultRates = { readonly [K in FaultKind]: number };

/**
 * Rates used when none are given: frequent enough that a few hundred calls see every kind. `hang` is off unless asked
 * for: a hung call is waited for until its bound (a lease, `storeCallTimeoutMs`), which a caller must have.
 */
export const DEFAULT_FAULT_RATES: FaultRates = { errorBefore: 0.04, errorAfter: 0.03, delay: 0.1, leaseExpiry: 0.03, hang: 0 };

/** Options of a {@link FaultInjector}. */
export interface FaultInjectorOptions {
  /** The source of every decision; use {@link seededRandom} so a failing run can be replayed by its seed. */
  readonly random: () => number;
  /** Per-call probabilities; missing kinds default to {@link DEFAULT_FAULT_RATES}. */
  readonly rates?: Partial<FaultRates>;
}

/** Counts of calls and injected faults (monotonic). */
export type FaultCounts = { readonly calls: number; readonly crashes: number } & { readonly [K in FaultKind]: number };

/**
 * Thrown by a {@link FaultyStore} in place of a store error. `committed` tells a test harness whether the call took
 * effect (an ambiguous commit) — what a real caller can only learn by reading the store again.
 */
export class InjectedFaultError extends DurableError {
  override readonly name = 'InjectedFaultError';
  readonly code = 'injected-fault' as const;
  readonly status = 503 as const;
  /** True when the call took effect before the error was thrown. */
  readonly committed: boolean;

  constructor(operation: string, committed: boolean) {
    super(`injected fault: ${operation} ${committed ? 'took effect, then failed' : 'failed before taking effect'}`);
    this.committed = committed;
  }
}

/**
 * A small deterministic random source (mulberry32): the same seed gives the same sequence.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * random(); // always the same first value for seed 42
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Injects faults into every call to a store, driven by a seeded random source:
 * - `errorBefore`: the call fails without taking effect;
 * - `errorAfter`: the call takes effect, then fails (an ambiguous commit);
 * - `delay`: the call is held back for a few turns of the event loop, so concurrent calls reorder;
 * - `hang`: the call never settles, as one on a wedged IndexedDB transaction or across a network partition: it takes
 *   effect or not (half the time each), and its caller never learns which;
 * - `leaseExpiry`: a lease expires behind its holder's back — right after a claim, or just before a commit (a step
 *   or an activity result) or a heartbeat, the lease is released in the store, so another worker may take the work over and the
 *   holder's commit is refused by the store itself.
 *
 * Each process of a test (a runtime, a client) gets its own {@link FaultyStore} from {@link FaultInjector.handle};
 * {@link FaultyStore.crash} simulates that process dying. `enabled = false` turns injection off (for set-up and
 * checks).
 *
 * @example
 * ```ts
 * const faults = new FaultInjector(new MemoryStore(), { random: seededRandom(7) });
 * const runtime = createRuntime({ store: faults.handle(), orchestrators, activities, clock });
 * ```
 */
export class FaultInjector {
  /** The store faults are injected into; reading it directly sees no faults. */
  readonly store: Store;
  /** Injection on or off. */
  enabled = true;
  readonly #random: () => number;
  readonly #rates: FaultRates;
  readonly #counts = { calls: 0, crashes: 0, errorBefore: 0, errorAfter: 0, delay: 0, leaseExpiry: 0, hang: 0 };

  constructor(store: Store, options: FaultInjectorOptions) {
    this.store = store;
    this.#random = options.random;
    this.#rates = { ...DEFAULT_FAULT_RATES, ...options.rates };
  }

  /** Calls seen and faults injected so far. */
  get counts(): FaultCounts {
    return { ...this.#counts };
  }

  /** A new view of the store for one process; faults are injected into its calls, at `rates` where given. */
  handle(rates: Partial<FaultRates> = {}): FaultyStore {
    return new FaultyStore(this, { ...this.#rates, ...rates });
  }

  /** @internal Decides whether a fault of `kind` hits a call at `rates`, and counts it. */
  roll(kind: FaultKind, rates: FaultRates): boolean {
    if (!this.enabled) return false;
    const hit = this.#random() < rates[kind];
    if (hit) this.#counts[kind]++;
    return hit;
  }

  /** @internal True half the time. */
  coin(): boolean {
    return this.#random() < 0.5;
  }

  /** @internal A number of event-loop turns for a delay, 1 to 4. */
  turns(): number {
    return 1 + Math.floor(this.#random() * 4);
  }

  /** @internal */
  countCall(): void {
    this.#counts.calls++;
  }

  /** @internal */
  countCrash(): void {
    this.#counts.crashes++;
  }
}

/**
 * One process's view of a {@link FaultInjector}'s store. It has an optional Store method exactly when the store has it
 * (a client then takes the path it takes on that store), with the same faults as the other calls.
 */
export class FaultyStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly changes$: Observable<StatusChange>;
  readonly workAvailable$: Observable<void>;
  readonly instanceChanges$?: (instanceId: string) => Observable<StatusChange>;
  readonly resync$?: Observable<void>;
  // NonNullable: the indexed type of an optional method includes undefined, which a project with
  // exactOptionalPropertyTypes refuses on an optional property (TS2420 in FaultyStore's declaration).
  readonly getInstanceHistory?: NonNullable<Store['getInstanceHistory']>;
  readonly listEnded?: NonNullable<Store['listEnded']>;
  readonly #faults: FaultInjector;
  readonly #store: Store;
  readonly #rates: FaultRates;
  #crashed = false;

  /** Use {@link FaultInjector.handle}. */
  constructor(faults: FaultInjector, rates: FaultRates) {
    this.#faults = faults;
    this.#rates = rates;
    this.#store = faults.store;
    this.capabilities = this.#store.capabilities;
    this.changes$ = this.#store.changes$.pipe(filter(() => !this.#crashed));
    this.workAvailable$ = this.#store.workAvailable$.pipe(filter(() => !this.#crashed));
    const store = this.#store;
    if (store.resync$) this.resync$ = store.resync$.pipe(filter(() => !this.#crashed));
    if (store.instanceChanges$) {
      const instanceChanges$ = store.instanceChanges$.bind(store);
      this.instanceChanges$ = (instanceId) => instanceChanges$(instanceId).pipe(filter(() => !this.#crashed));
    }
    if (store.getInstanceHistory) {
      const getInstanceHistory = store.getInstanceHistory.bind(store);
      this.getInstanceHistory = (instanceId, options) => this.#call('getInstanceHistory', () => getInstanceHistory(instanceId, options));
    }
    if (store.listEnded) {
      const listEnded = store.listEnded.bind(store);
      this.listEnded = (query) => this.#call('listEnded', () => listEnded(query));
    }
  }

  /**
   * The process dies: from now on no call of this handle settles (calls in flight may or may not take effect, but
   * their results never arrive) and its feeds fall silent. Leases it held expire in their own time.
   */
  crash(): void {
    if (this.#crashed) return;
    this.#crashed = true;
    this.#faults.countCrash();
  }

  /** True after {@link FaultyStore.crash}. */
  get crashed(): boolean {
    return this.#crashed;
  }

  commit(writeSet: WriteSet): Promise<CommitResult> {
    return this.#call('commit', async () => {
      const lease = writeSet.lease;
      if (lease && this.#roll('leaseExpiry')) {
        if (lease.kind === 'orchestration') await this.#store.abandonOrchestration(lease.instanceId, lease.token);
        else if (lease.kind !== 'unclaimed') await this.#store.abandonActivity(lease.taskId, lease.token); // an unclaimed write holds none
      }
      const result = await this.#store.commit(writeSet);
      // On a store with fused steps a commit is also an activity claim: it stores the step's new tasks leased to the
      // committing worker. Their leases may expire right after it, as after claimActivity.
      for (const request of writeSet.requests) {
        if (request.type === 'insertTask' && request.lease && this.#roll('leaseExpiry')) {
          await this.#store.abandonActivity(request.task.id, request.lease.token);
        }
      }
      return result;
    });
  }

  async claimOrchestration(options: ClaimOptions): Promise<OrchestrationWorkItem | undefined> {
    const item = await this.#call('claimOrchestration', () => this.#store.claimOrchestration(options));
    if (item && this.#roll('leaseExpiry')) await this.#store.abandonOrchestration(item.state.instanceId, item.lease.token);
    return item;
  }

  abandonOrchestration(instanceId: string, leaseToken: string): Promise<void> {
    return this.#call('abandonOrchestration', () => this.#store.abandonOrchestration(instanceId, leaseToken));
  }

  async claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined> {
    const item = await this.#call('claimActivity', () => this.#store.claimActivity(options));
    if (item && this.#roll('leaseExpiry')) await this.#store.abandonActivity(item.task.id, item.lease.token);
    return item;
  }

  abandonActivity(taskId: string, leaseToken: string): Promise<void> {
    return this.#call('abandonActivity', () => this.#store.abandonActivity(taskId, leaseToken));
  }

  releaseOwner(owner: string, current?: string): Promise<number> {
    return this.#call('releaseOwner', () => this.#store.releaseOwner(owner, current));
  }

  renewActivityLease(taskId: string, leaseToken: string, expiresAt: Date): Promise<void> {
    return this.#call('renewActivityLease', async () => {
      if (this.#roll('leaseExpiry')) await this.#store.abandonActivity(taskId, leaseToken);
      return this.#store.renewActivityLease(taskId, leaseToken, expiresAt);
    });
  }

  getInstance(instanceId: string, options?: { readonly showInput?: boolean }): Promise<InstanceState | undefined> {
    return this.#call('getInstance', () => this.#store.getInstance(instanceId, options));
  }

  getHistory(instanceId: string, options?: HistoryRange): Promise<HistoryEvent[]> {
    return this.#call('getHistory', () => this.#store.getHistory(instanceId, options));
  }

  queryInstances(query: InstanceQuery): Promise<InstancePage> {
    return this.#call('queryInstances', () => this.#store.queryInstances(query));
  }

  purgeInstance(instanceId: string): Promise<number> {
    return this.#call('purgeInstance', () => this.#store.purgeInstance(instanceId));
  }

  purgeInstances(filter: PurgeFilter): Promise<number> {
    return this.#call('purgeInstances', () => this.#store.purgeInstances(filter));
  }

  purgeInstanceSet(members: readonly PurgeMember[]): Promise<PurgeSetResult> {
    return this.#call('purgeInstanceSet', () => this.#store.purgeInstanceSet(members));
  }

  nextWakeTime(now: Date): Promise<Date | undefined> {
    return this.#call('nextWakeTime', () => this.#store.nextWakeTime(now));
  }

  /** A handle does not own the store: closing it only stops its calls and feeds, like {@link FaultyStore.crash}. */
  async close(): Promise<void> {
    this.#crashed = true;
  }

  #roll(kind: FaultKind): boolean {
    return this.#faults.roll(kind, this.#rates);
  }

  async #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    if (this.#crashed) return NEVER_SETTLES as Promise<T>;
    this.#faults.countCall();
    if (this.#roll('delay')) await turns(this.#faults.turns());
    if (this.#roll('errorBefore')) throw new InjectedFaultError(operation, false);
    // Not rolled at rate 0, so that the seeds of runs without hangs draw the same faults as before the kind existed.
    if (this.#rates.hang > 0 && this.#roll('hang')) {
      if (this.#faults.coin()) run().catch(() => undefined);
      return NEVER_SETTLES as Promise<T>;
    }
    let result: T;
    try {
      result = await run();
    } catch (error) {
      if (this.#crashed) return NEVER_SETTLES as Promise<T>;
      throw error;
    }
    if (this.#crashed) return NEVER_SETTLES as Promise<T>;
    if (this.#roll('errorAfter')) throw new InjectedFaultError(operation, true);
    if (this.#roll('delay')) await turns(this.#faults.turns());
    if (this.#crashed) return NEVER_SETTLES as Promise<T>;
    return result;
  }
}

/** The promise a dead process waits on. */
const NEVER_SETTLES: Promise<never> = new Promise<never>(() => undefined);

function turns(n: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number): void => {
      if (left === 0) resolve();
      else globalThis.setTimeout(() => step(left - 1), 0);
    };
    step(n);
  });
}
