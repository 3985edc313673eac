import { Observable, Subscription, type Subscriber } from 'rxjs';

/**
 * The subscribers of `MongoStore.instanceChanges$`, by instance: one subscription to a shared source (the
 * per-instance change stream) while anyone watches, each change handed to the watchers of its own instance. The
 * store reads {@link InstanceWatchers.ids} to build the stream's `$match`, and hears through `onWatch` of each new
 * watcher so it can widen that `$match`. The source's end (an error, or completion when the store closes) reaches
 * every watcher; a watcher that arrives after the source completed is completed at once.
 *
 * @example
 * ```ts
 * const watchers = new InstanceWatchers(feed.events$, (id) => widenMatch(id));
 * watchers.watch('order-1').subscribe((change) => console.log(change));
 * ```
 */
export class InstanceWatchers<T extends { readonly instanceId: string }> {
  readonly #source: Observable<T>;
  readonly #onWatch: (instanceId: string) => void;
  readonly #byId = new Map<string, Set<Subscriber<T>>>();
  #subscription: Subscription | undefined;
  /** The source completed (the store closed): later watchers complete at once. */
  #completed = false;

  constructor(source: Observable<T>, onWatch: (instanceId: string) => void) {
    this.#source = source;
    this.#onWatch = onWatch;
  }

  /** The ids watched now. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** The changes of one instance, until unsubscribed or the source ends. */
  watch(instanceId: string): Observable<T> {
    return new Observable<T>((subscriber) => {
      if (this.#completed) {
        subscriber.complete();
        return undefined;
      }
      let set = this.#byId.get(instanceId);
      if (!set) this.#byId.set(instanceId, (set = new Set()));
      set.add(subscriber);
      if (!this.#subscription) {
        // Registered before subscribing: a source that ends synchronously (already completed) finds it and clears it.
        const subscription = new Subscription();
        this.#subscription = subscription;
        subscription.add(this.#source.subscribe({
          next: (change) => {
            for (const watcher of [...(this.#byId.get(change.instanceId) ?? [])]) watcher.next(change);
          },
          error: (error: unknown) => this.#end(subscription, (watcher) => watcher.error(error)),
          complete: () => {
            this.#completed = true;
            this.#end(subscription, (watcher) => watcher.complete());
          },
        }));
      }
      if (!subscriber.closed) this.#onWatch(instanceId);
      return () => {
        const current = this.#byId.get(instanceId);
        current?.delete(subscriber);
        if (current?.size === 0) this.#byId.delete(instanceId);
        if (this.#byId.size === 0) {
          this.#subscription?.unsubscribe();
          this.#subscription = undefined;
        }
      };
    });
  }

  #end(subscription: Subscription, end: (watcher: Subscriber<T>) => void): void {
    const all = [...this.#byId.values()].flatMap((set) => [...set]);
    this.#byId.clear();
    if (this.#subscription === subscription) this.#subscription = undefined;
    for (const watcher of all) end(watcher);
  }
}
