import type { Store } from '../store/store.js';
import { systemClock, type Clock } from '../env/clock.js';
import type { NewId } from '../env/new-id.js';
import { DEFAULT_STORE_CALL_TIMEOUT_MS } from '../model/store-call-timeout.js';
import {
  assertStore, CLIENT_STORE_MEMBERS, CLOCK_METHODS, hasMethods, isDelayMs, isFunction, readChecked, taken, type MemberCheck,
} from '../model/validation.js';
import type { LocalDurableClient } from './durable-client.js';
import { LocalClient } from './local-client.js';

/** Options of {@link createClient}. */
export interface CreateClientOptions {
  /**
   * The store the orchestrations live in, shared with the workers that run them. The client does not close it. It
   * uses only these members of the `Store` port (the optional `instanceChanges$`, `resync$` and `getInstanceHistory`
   * when there), so an adapter that reads and commits without claims or leases serves it.
   */
  readonly store: Pick<Store, 'capabilities' | 'changes$' | 'commit' | 'getInstance' | 'getHistory' | 'queryInstances'
    | 'purgeInstance' | 'purgeInstances' | 'purgeInstanceSet' | 'instanceChanges$' | 'resync$' | 'getInstanceHistory'>;
  /**
   * The time of commands, and the timer of every wait: `waitForCompletion`'s `timeoutMs`, how long a command waits
   * for a worker to apply it, and `storeCallTimeoutMs`. Defaults to the system clock; pass the runtime's clock (a
   * `VirtualClock` in tests). A reading that is no valid Date fails the call with a `RangeError`, nothing sent (a
   * server fault: the HTTP API answers it 500 and logs it).
   */
  readonly clock?: Clock;
  /** Fresh ids for instances, executions and messages. Defaults to random UUIDs. */
  readonly newId?: NewId;
  /**
   * Longest wait, in ms on `clock`, for one store call (a number > 0, or `Infinity`); default 30 s, as the runtime's
   * option of the same name. A command or read the store has not answered by then (a wedged IndexedDB transaction, a
   * network partition without a socket timeout) rejects with `UnavailableError` (`code` `'unavailable'`, HTTP 503), and
   * an observable errors with it when its first snapshot, or any later history read of `history$`, is not answered;
   * the call is not undone, so a command may still take effect.
   *
   * @example
   * ```ts
   * const client = createClient({ store, storeCallTimeoutMs: 5_000 }); // a call unanswered for 5 s rejects
   * ```
   */
  readonly storeCallTimeoutMs?: number;
}

/**
 * A {@link DurableClient} over a store, without a worker: for processes that start and watch orchestrations that
 * other processes (or tabs) run.
 *
 * @example
 * ```ts
 * import { createClient, MemoryStore } from '@durable-rx/runtime';
 *
 * const store = new MemoryStore(); // in practice a store the workers share: DexieStore across tabs, MongoStore
 * const client = createClient({ store });
 * const id = await client.startNew('Greet', { input: 'Tokyo' });
 * client.status$(id).subscribe((status) => console.log(status?.runtimeStatus)); // 'Pending' until a worker runs it
 * ```
 */
export function createClient(options: CreateClientOptions): LocalDurableClient {
  const { store, clock = systemClock, newId, storeCallTimeoutMs = DEFAULT_STORE_CALL_TIMEOUT_MS } = readChecked(
    options, 'createClient options', CLIENT_CHECKS,
  );
  assertStore(store, 'createClient options.store', CLIENT_STORE_MEMBERS);
  return new LocalClient({ store: store as CreateClientOptions['store'], clock, newId, storeCallTimeoutMs });
}

/** The members of {@link CreateClientOptions} and their checks (`store` checked once it is read, present or not). */
const CLIENT_CHECKS = {
  store: taken,
  clock: hasMethods<Clock>(CLOCK_METHODS),
  newId: isFunction as MemberCheck<NewId>,
  // The runtime's rule for its option of the same name: a number > 0 (Infinity included).
  storeCallTimeoutMs: isDelayMs,
};
