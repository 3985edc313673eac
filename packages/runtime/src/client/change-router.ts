import { Observable, type Observer, type Subscription } from 'rxjs';
import type { StatusChange } from '../store/store.js';
import { markShared } from '../store/shared-states.js';

/**
 * Routes a store's change feed to per-instance listeners in O(1) per change, over one shared subscription to the
 * store that opens with the first listener and closes with the last. Without it every `status$` subscriber would
 * filter every change of every instance (O(subscribers) per commit), which a server with many open streams feels.
 * An error or the completion of the store's feed (a closed store) reaches every listener.
 *
 * Listeners are plain observers, so an internal wait registers one object, not an Observable pipeline; each change
 * is handed to the listeners of its own instance only, in subscription order.
 */
export class ChangeRouter {
  readonly #byInstance = new Map<string, Set<Observer<StatusChange>>>();
  readonly #everything = new Set<Observer<StatusChange>>();
  #listeners = 0;
  #subscription: Subscription | undefined;
  /** {@link ChangeRouter.close} was called: every listener, present or later, is completed. */
  #closed = false;
  readonly #source: Observable<StatusChange>;
  readonly #perInstance: ((instanceId: string) => Observable<StatusChange>) | undefined;

  /**
   * @param source - every committed change (the store's `changes$`).
   * @param perInstance - the store's own per-instance feed (`instanceChanges$`), when it has one: then
   *   {@link ChangeRouter.instance} uses it, so the store can filter on its server.
   */
  constructor(source: Observable<StatusChange>, perInstance?: (instanceId: string) => Observable<StatusChange>) {
    this.#source = source;
    this.#perInstance = perInstance;
  }

  /**
   * Hands the committed changes of one instance to `observer` until the returned function is called (or the feed
   * ends, which reaches the observer as `error` or `complete`).
   */
  watch(instanceId: string, observer: Observer<StatusChange>): () => void {
    if (this.#perInstance) {
      // One subscription per listener, so the router hands each change to one: a store whose per-instance feed hands
      // one state to several subscriptions marks it where it publishes (the rule of `markShared`, stated in store.ts),
      // before any of them hears it; a mark here would come after those that heard it first.
      const subscription = this.#perInstance(instanceId).subscribe({
        next: (change) => observer.next(change),
        error: (error: unknown) => observer.error(error),
        complete: () => observer.complete(),
      });
      return () => subscription.unsubscribe();
    }
    if (this.#closed) {
      observer.complete();
      return noop;
    }
    let set = this.#byInstance.get(instanceId);
    if (!set) this.#byInstance.set(instanceId, (set = new Set()));
    if (set.has(observer)) return noop;
    set.add(observer);
    this.#retain();
    return () => {
      // Only a listener still registered gives its share back: after the feed ended, the router forgot them all.
      const current = this.#byInstance.get(instanceId);
      if (!current?.delete(observer)) return;
      if (current.size === 0) this.#byInstance.delete(instanceId);
      this.#release();
    };
  }

  /** Every committed change. */
  all(): Observable<StatusChange> {
    return new Observable<StatusChange>((subscriber) => {
      if (this.#closed) return subscriber.complete();
      this.#everything.add(subscriber);
      this.#retain();
      return () => {
        if (this.#everything.delete(subscriber)) this.#release();
      };
    });
  }

  /**
   * Ends the shared feed as if the store had closed: lets go of the store's feed and completes every listener of it,
   * present and later (a client's `close`). The per-instance feeds of {@link ChangeRouter.instance} are the caller's
   * to end. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#end((listener) => listener.complete());
  }

  #retain(): void {
    if (this.#listeners++ > 0) return;
    const subscription = this.#source.subscribe({
      next: (change) => {
        const listeners = this.#byInstance.get(change.instanceId);
        // Handed to more than one listener: shared (see `markShared`), before any of them hears it.
        if ((listeners?.size ?? 0) + this.#everything.size > 1) markShared(change);
        // A listener may stop (and others start) while a change is delivered: only the listeners present when it
        // arrived hear it. A set of several is walked as a copy; a single one is taken without copying.
        if (listeners?.size === 1) {
          for (const listener of listeners) {
            listener.next(change);
            break;
          }
        } else if (listeners) {
          for (const listener of [...listeners]) listener.next(change);
        }
        if (this.#everything.size > 0) for (const listener of [...this.#everything]) listener.next(change);
      },
      error: (error: unknown) => this.#end((listener) => listener.error(error)),
      complete: () => this.#end((listener) => listener.complete()),
    });
    // A feed that ended while it was being subscribed has been forgotten already (and a listener that started again
    // meanwhile holds a fresh one): keep only a live subscription.
    if (!subscription.closed) this.#subscription = subscription;
  }

  #release(): void {
    if (--this.#listeners > 0 || this.#closed) return;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }

  /**
   * Ends every present listener. The router forgets them and the store's feed before it tells them, so a listener
   * that starts again from its own `error` or `complete` (rxjs `retry`, `repeat`) opens a fresh feed instead of
   * joining the one that just ended.
   */
  #end(finish: (listener: Observer<StatusChange>) => void): void {
    const all = [...this.#everything, ...[...this.#byInstance.values()].flatMap((set) => [...set])];
    this.#everything.clear();
    this.#byInstance.clear();
    this.#listeners = 0;
    const subscription = this.#subscription;
    this.#subscription = undefined;
    // A store feed whose teardown throws, or a listener whose end throws, still has every listener ended: the first
    // error goes on to the caller after.
    let failed: { readonly error: unknown } | undefined;
    try {
      subscription?.unsubscribe();
    } catch (error) {
      failed = { error };
    }
    for (const listener of all) {
      try {
        finish(listener);
      } catch (error) {
        failed ??= { error };
      }
    }
    if (failed) throw failed.error;
  }
}

function noop(): void {}
