import { Observable, type Subscriber, type Subscription } from 'rxjs';
import type { StatusChange } from '../store/store.js';

/**
 * Routes a store's change feed to per-instance listeners in O(1) per change, over one shared subscription to the
 * store that opens with the first listener and closes with the last. Without it every `status$` subscriber would
 * filter every change of every instance (O(subscribers) per commit), which a server with many open streams feels.
 * An error or the completion of the store's feed (a closed store) reaches every listener.
 */
export class ChangeRouter {
  readonly #byInstance = new Map<string, Set<Subscriber<StatusChange>>>();
  readonly #everything = new Set<Subscriber<StatusChange>>();
  #listeners = 0;
  #subscription: Subscription | undefined;

  /**
   * @param source - every committed change (the store's `changes$`).
   * @param perInstance - the store's own per-instance feed (`instanceChanges$`), when it has one: then
   *   {@link ChangeRouter.instance} uses it, so the store can filter on its server.
   */
  constructor(
    private readonly source: Observable<StatusChange>,
    private readonly perInstance?: (instanceId: string) => Observable<StatusChange>,
  ) {}

  /** Committed changes of one instance. */
  instance(instanceId: string): Observable<StatusChange> {
    if (this.perInstance) return this.perInstance(instanceId);
    return new Observable<StatusChange>((subscriber) => {
      let set = this.#byInstance.get(instanceId);
      if (!set) this.#byInstance.set(instanceId, (set = new Set()));
      set.add(subscriber);
      this.#retain();
      return () => {
        const current = this.#byInstance.get(instanceId);
        current?.delete(subscriber);
        if (current?.size === 0) this.#byInstance.delete(instanceId);
        this.#release();
      };
    });
  }

  /** Every committed change. */
  all(): Observable<StatusChange> {
    return new Observable<StatusChange>((subscriber) => {
      this.#everything.add(subscriber);
      this.#retain();
      return () => {
        this.#everything.delete(subscriber);
        this.#release();
      };
    });
  }

  #retain(): void {
    if (this.#listeners++ > 0) return;
    this.#subscription = this.source.subscribe({
      next: (change) => {
        const subscribers = this.#byInstance.get(change.instanceId);
        if (subscribers) for (const subscriber of [...subscribers]) subscriber.next(change);
        for (const subscriber of [...this.#everything]) subscriber.next(change);
      },
      error: (error: unknown) => this.#end((subscriber) => subscriber.error(error)),
      complete: () => this.#end((subscriber) => subscriber.complete()),
    });
  }

  #release(): void {
    if (--this.#listeners > 0) return;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }

  #end(finish: (subscriber: Subscriber<StatusChange>) => void): void {
    const all = [...this.#everything, ...[...this.#byInstance.values()].flatMap((set) => [...set])];
    for (const subscriber of all) finish(subscriber);
  }
}
