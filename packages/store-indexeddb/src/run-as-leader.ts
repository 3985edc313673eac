import { InvalidArgumentError } from '@durable-rx/runtime';
import { hasMethods, isFunction, readChecked, webLocks, type MemberCheck } from '@durable-rx/runtime/store-kit';
import { BehaviorSubject, distinctUntilChanged, type Observable, type Subscription } from 'rxjs';
import { isNonEmptyString } from './idb-store.js';

/** Options of {@link runAsLeader}. */
export interface RunAsLeaderOptions {
  /**
   * The Web Locks manager (default: `navigator.locks`). Where there is none (a page that is not a secure context,
   * served over plain HTTP from a LAN address, say; Node 20), there is nothing to elect by: this tab leads at once, as
   * every tab calling it does (each tab's worker then claims under leases, which keep the work correct).
   */
  readonly locks?: LockManager;
  /**
   * The store the leader works on (its `workAvailable$` is watched). When that feed fails (the store lost its database
   * for good: another tab upgraded or deleted it, a `DatabaseUpgradingError`) or completes (the store was closed), this
   * tab leaves the election as {@link Leadership.release} does (a leader runs `stop`, then lets the lock go, so another
   * tab, one with the new version say, leads), and `isLeader$` fails with that error (or completes). Without it, a
   * leader whose store is lost holds the lock until `release()`.
   */
  readonly store?: { readonly workAvailable$: Observable<unknown> };
}

/** This tab's part in a leader election started by {@link runAsLeader}. */
export interface Leadership {
  /** True while this tab is the leader (after `start` resolved, until `stop` is called). */
  readonly isLeader: boolean;
  /**
   * The current leadership at once, then every change. Errors when `start` or `stop` throws, or with the store's error
   * when the store given in the options was lost; completes after {@link Leadership.release}.
   */
  readonly isLeader$: Observable<boolean>;
  /**
   * Leaves the election: a waiting tab stops waiting; the leader runs `stop` and then releases the lock, so another
   * tab takes over. Resolves when that is done; rejects if `start` or `stop` failed. Idempotent.
   */
  release(): Promise<void>;
}

/**
 * Runs `start` only while this tab holds the Web Lock `lockName`, so that of all tabs calling it with the same name
 * exactly one leads at a time and the others wait (with no Web Locks, each leads: see {@link RunAsLeaderOptions.locks}).
 * When the leader calls `release()` (or its tab closes or crashes, which releases the lock), the next waiting tab runs
 * its `start`. Typical use: only the leader runs a worker, every tab observes the shared store, whose change feed
 * reaches all tabs. With `runtime.stop` as `stop`, a release stops that runtime's worker only: its client goes on
 * watching the store, and its next `start()` runs a fresh worker on the same store.
 *
 * Arguments that break these rules (a `lockName` that is empty or starts with `-`, which Web Locks reserves; a `start`
 * or `stop` that is no function; a `locks` or `store` option without `request` or `workAvailable$`) throw an
 * `InvalidArgumentError` before the lock is requested: such a call takes no part in the election.
 *
 * @example
 * ```ts
 * const store = new DexieStore({ name: 'my-app' });
 * const runtime = createRuntime({ store, orchestrators, activities });
 * const leadership = runAsLeader('my-app:worker', () => runtime.start(), () => runtime.stop(), { store });
 * leadership.isLeader$.subscribe((leader) => (badge.textContent = leader ? 'working' : 'observing'));
 * addEventListener('pagehide', () => void leadership.release());
 * ```
 */
export function runAsLeader(
  lockName: string,
  start: () => void | Promise<void>,
  stop: () => void | Promise<void>,
  options: RunAsLeaderOptions = {},
): Leadership {
  // Checked before the lock is requested: a call refused after it would lead with no Leadership to release it.
  if (isNonEmptyString(lockName, 'runAsLeader lockName').startsWith('-')) {
    throw new InvalidArgumentError("runAsLeader lockName must not start with '-' (Web Locks reserves those names)");
  }
  isFunction(start, 'runAsLeader start');
  isFunction(stop, 'runAsLeader stop');
  options = readChecked(options, 'runAsLeader options', LEADER_OPTION_CHECKS);
  const locks = options.locks ?? webLocks<LockManager>();
  const leader = new BehaviorSubject(false);
  let leading = false;
  const setLeading = (value: boolean) => {
    leading = value;
    leader.next(value);
  };
  let releaseLock!: () => void;
  const held = new Promise<void>((resolve) => (releaseLock = resolve));
  let released: Promise<void> | undefined;
  /** A stop begun as the page went into the back/forward cache, still running (see {@link away}). */
  let stopping: Promise<void> = Promise.resolve();

  /** One request of the lock: this tab's part in the election until it releases, or until its page is cached. */
  interface Term {
    readonly abort: AbortController;
    granted: boolean;
    readonly away: () => void;
    readonly done: Promise<void>;
  }
  const join = (): Term => {
    const abort = new AbortController();
    let goAway!: () => void;
    const gone = new Promise<boolean>((resolve) => (goAway = () => resolve(true)));
    const lead = async (): Promise<void> => {
      term.granted = true;
      if (abort.signal.aborted) return;
      await start();
      setLeading(true);
      const cached = await Promise.race([held.then(() => false), gone]);
      setLeading(false);
      if (!cached) return stop();
      // The page goes into the back/forward cache, where it is frozen: a stop begun now ends only if the page is
      // restored, and the lock would stay held until then. So it goes at once, and the stop goes on by itself; leases
      // keep the work correct while two workers run. A stop that fails ends `isLeader$` with its error.
      stopping = Promise.resolve().then(stop);
      stopping.catch((error: unknown) => leader.error(error));
    };
    const term: Term = {
      abort,
      granted: false,
      away: goAway,
      // No Web Locks: granted at once (after this call returns, as a free lock is: a release() made before runs nothing).
      done: (locks ? locks.request(lockName, { signal: abort.signal }, lead) : Promise.resolve().then(lead)).then(
        () => undefined,
        (error: unknown) => {
          if (abort.signal.aborted && !term.granted) return; // stopped waiting
          leading = false;
          leader.error(error);
          throw error;
        },
      ),
    };
    term.done.catch(() => undefined);
    return term;
  };
  let term = join();

  /**
   * A page that goes into the back/forward cache keeps its Web Locks while it is cached, and Chromium does not evict
   * it for a lock request queued before: the leader would hold every other tab back, and a waiting tab could be
   * granted the lock while frozen. So at `pagehide` (persisted) this tab leaves the election (the leader lets the lock
   * go without waiting for its stop), and at `pageshow` (persisted) it joins again, once that stop ended.
   */
  const away = (event: Event): void => {
    if (released || !(event as PageTransitionEvent).persisted) return;
    term.away();
    if (!term.granted) term.abort.abort();
  };
  const back = (event: Event): void => {
    if (released || !(event as PageTransitionEvent).persisted) return;
    const left = term;
    void Promise.allSettled([left.done, stopping]).then((ends) => {
      if (!released && term === left && ends.every((e) => e.status === 'fulfilled')) term = join();
    });
  };
  const pages = locks && typeof addEventListener === 'function' && typeof removeEventListener === 'function';
  if (pages) {
    addEventListener('pagehide', away);
    addEventListener('pageshow', back);
  }

  // The store's error once it was lost (see RunAsLeaderOptions.store): isLeader$ ends with it.
  let lost: { readonly error: unknown } | undefined;
  let watch: Subscription | undefined;
  const leadership: Leadership = {
    get isLeader() {
      return leading;
    },
    isLeader$: leader.pipe(distinctUntilChanged()),
    release() {
      released ??= (async () => {
        watch?.unsubscribe();
        if (pages) {
          removeEventListener('pagehide', away);
          removeEventListener('pageshow', back);
        }
        if (!term.granted) term.abort.abort();
        releaseLock();
        await term.done;
        await stopping;
        if (lost) leader.error(lost.error);
        else leader.complete();
      })();
      return released;
    },
  };
  // A failing start or stop rejects release() here too: isLeader$ has reported it already.
  const leave = (): void => void leadership.release().catch(() => undefined);
  watch = options.store?.workAvailable$.subscribe({
    error: (error: unknown) => {
      lost = { error };
      leave();
    },
    complete: leave,
  });
  // A store lost before it was watched ended the watch during subscribe, before `watch` was set.
  if (released) watch?.unsubscribe();
  return leadership;
}

/** The checks of {@link RunAsLeaderOptions}: a lock manager, and a store whose `workAvailable$` can be subscribed to. */
const LEADER_OPTION_CHECKS = {
  locks: hasMethods<LockManager>(['request']),
  store: ((value, what) => {
    if (value === null || typeof value !== 'object') throw new InvalidArgumentError(`${what} must be a store`);
    hasMethods(['subscribe'])((value as { workAvailable$?: unknown }).workAvailable$, `${what}.workAvailable$`);
    return value as NonNullable<RunAsLeaderOptions['store']>;
  }) satisfies MemberCheck<NonNullable<RunAsLeaderOptions['store']>>,
};
