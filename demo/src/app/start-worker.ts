import type { Runtime } from '@durable-rx/runtime';
import { runAsLeader } from '@durable-rx/store-indexeddb';
import { BehaviorSubject, type Observable } from 'rxjs';

/** Whether this tab runs the worker. */
export interface WorkerRole {
  /** True while this tab runs the worker; false while it only watches (another tab works). */
  readonly working$: Observable<boolean>;
  /** Leaves the election (on page hide). */
  release(): Promise<void>;
}

/**
 * Runs the runtime's worker in one tab at a time: the tab holding the Web Lock `lockName` works, the others only
 * watch the shared store (its change feed reaches every tab). When the working tab is closed or reloaded, the lock
 * is released and a waiting tab takes over; so it is when another tab upgrades or deletes the database (`working$` then
 * fails with `DatabaseUpgradingError`). Without Web Locks, every tab works (runAsLeader leads at once; leases keep that
 * correct).
 */
export function startWorker(runtime: Runtime, lockName: string, shared: boolean): WorkerRole {
  if (!shared) {
    const working$ = new BehaviorSubject(true);
    void runtime.start();
    return { working$, release: () => runtime.stop() };
  }
  // With the store: when another tab upgrades or deletes the database, this tab stops leading and lets the lock go.
  const leadership = runAsLeader(lockName, () => runtime.start(), () => runtime.stop(), { store: runtime.store });
  return { working$: leadership.isLeader$, release: () => leadership.release() };
}
