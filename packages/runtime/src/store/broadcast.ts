import { Observable, type Subscriber } from 'rxjs';

/**
 * A hot feed a store pushes to: `changes$` and `workAvailable$` are its `observable`. It does what a store needs of an
 * rxjs `Subject` (each value to the subscribers present when it is pushed, completion to every subscriber present and
 * later, `observed`) without the rest of Subject (operator lifting, AnonymousSubject, its closed-state error class,
 * rxjs's deprecated synchronous error handling), about 0.37 KB gzip that every page with a store carries.
 */
export class Broadcast<T> {
  readonly #subscribers = new Set<Subscriber<T>>();
  #completed = false;

  /** The feed: hot, never errors; completes at once for a subscriber that arrives after {@link Broadcast.complete}. */
  readonly observable: Observable<T> = new Observable<T>((subscriber) => {
    if (this.#completed) return subscriber.complete();
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  });

  /** Whether anyone is subscribed (a store skips building a value nobody hears). */
  get observed(): boolean {
    return this.#subscribers.size > 0;
  }

  /** Hands `value` to every current subscriber (one that unsubscribes meanwhile hears nothing more). */
  next(value: T): void {
    for (const subscriber of [...this.#subscribers]) subscriber.next(value);
  }

  /** Completes every subscriber, and every later one at once. Idempotent. */
  complete(): void {
    this.#completed = true;
    for (const subscriber of [...this.#subscribers]) subscriber.complete();
  }
}
