import type { Store } from '../store/store.js';
import { systemClock, type Clock } from '../env/clock.js';
import type { NewId } from '../env/new-id.js';
import type { DurableClient } from './durable-client.js';
import { LocalClient } from './local-client.js';

/** Options of {@link createClient}. */
export interface CreateClientOptions {
  /** The store the orchestrations live in, shared with the workers that run them. The client does not close it. */
  readonly store: Store;
  /**
   * The time of commands, and the timer of every wait: `waitForCompletion`'s `timeoutMs` and how long a command waits
   * for a worker to apply it. Defaults to the system clock; pass the runtime's clock (a `VirtualClock` in tests).
   */
  readonly clock?: Clock;
  /** Fresh ids for instances, executions and messages. Defaults to random UUIDs. */
  readonly newId?: NewId;
}

/**
 * A {@link DurableClient} over a store, without a worker: for processes that start and watch orchestrations that
 * other processes (or tabs) run.
 *
 * @example
 * ```ts
 * const client = createClient({ store });
 * client.customStatus$(id).subscribe(console.log);
 * ```
 */
export function createClient(options: CreateClientOptions): DurableClient {
  return new LocalClient({
    store: options.store, clock: options.clock ?? systemClock, newId: options.newId,
  });
}
