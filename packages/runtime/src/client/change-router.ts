import { fromEventPattern, type Observable, type Subscription } from 'rxjs';
import type { StatusChange } from '../store/store.js';

type Handler = (change: StatusChange) => void;

/**
 * Routes a store's change feed to per-instance listeners in O(1) per change, over one shared subscription to the
 * store that opens with the first listener and closes with the last. Without it every `status$` subscriber would
 * filter every change of every instance (O(subscribers) per commit), which a server with many open streams feels.
 */
export class ChangeRouter {
  readonly #byInstance = new Map<string, Set<Handler>>();
  readonly #everything = new Set<Handler>();
  #listeners = 0;
  #subscription: Subscription | undefined;

  constructor(private readonly source: Observable<StatusChange>) {}

  /** Committed changes of one instance. */
  instance(instanceId: string): Observable<StatusChange> {
    return fromEventPattern<StatusChange>(
      (handler: Handler) => {
        let set = this.#byInstance.get(instanceId);
        if (!set) this.#byInstance.set(instanceId, (set = new Set()));
        set.add(handler);
        this.#retain();
      },
      (handler: Handler) => {
        const set = this.#byInstance.get(instanceId);
        set?.delete(handler);
        if (set?.size === 0) this.#byInstance.delete(instanceId);
        this.#release();
      },
    );
  }

  /** Every committed change. */
  all(): Observable<StatusChange> {
    return fromEventPattern<StatusChange>(
      (handler: Handler) => {
        this.#everything.add(handler);
        this.#retain();
      },
      (handler: Handler) => {
        this.#everything.delete(handler);
        this.#release();
      },
    );
  }

  #retain(): void {
    if (this.#listeners++ > 0) return;
    this.#subscription = this.source.subscribe((change) => {
      const handlers = this.#byInstance.get(change.instanceId);
      if (handlers) for (const handler of [...handlers]) handler(change);
      for (const handler of [...this.#everything]) handler(change);
    });
  }

  #release(): void {
    if (--this.#listeners > 0) return;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }
}
