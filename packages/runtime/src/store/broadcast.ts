import { Observable, type Subscriber } from 'rxjs';
import { markShared } from './shared-states.js';

/**
 * A hot feed a store pushes to: `changes$` and `workAvailable$` are its `observable`. It does what a store needs of an
 * rxjs `Subject` (each value to the subscribers present when it is pushed, completion or an error to every subscriber
 * present and later, `observed`) without the rest of Subject (operator lifting, AnonymousSubject, its closed-state error class,
 * rxjs's deprecated synchronous error handling), about 0.37 KB gzip that every page with a store carries.
 */
export class Broadcast<T> {
  /**
   * The current subscribers. Never changed in place: subscribing and unsubscribing replace the array, so a value is
   * delivered over the array as it was when the value was pushed, without a copy per value (values are far more
   * frequent than subscriptions).
   */
  #subscribers: readonly Subscriber<T>[] = [];
  /** How the feed ended, once it has: completed (no error), or failed with `error`. */
  #ended: { readonly error?: unknown; readonly failed: boolean } | undefined;

  /**
   * The feed: hot; it ends at once for a subscriber that arrives after {@link Broadcast.complete} (completes) or
   * {@link Broadcast.error} (errors).
   */
  readonly observable: Observable<T> = new Observable<T>((subscriber) => {
    const ended = this.#ended;
    if (ended) return ended.failed ? subscriber.error(ended.error) : subscriber.complete();
    this.#subscribers = [...this.#subscribers, subscriber];
    return () => {
      this.#subscribers = this.#subscribers.filter((s) => s !== subscriber);
    };
  });

  /** Whether anyone is subscribed (a store skips building a value nobody hears). */
  get observed(): boolean {
    return this.#subscribers.length > 0;
  }

  /**
   * Hands `value` to every current subscriber. One that unsubscribes meanwhile hears nothing more (a closed rxjs
   * subscriber ignores values); one that subscribes meanwhile hears the next value. A change handed to more than one
   * subscriber has its state marked shared first (`markShared`): each client then copies what its users may change.
   */
  next(value: T): void {
    const subscribers = this.#subscribers;
    if (subscribers.length > 1) markShared(value);
    for (let i = 0; i < subscribers.length; i++) subscribers[i]!.next(value);
  }

  /** Completes every subscriber, and every later one at once. Idempotent; nothing after the feed ended. */
  complete(): void {
    this.#end({ failed: false });
  }

  /**
   * Fails every subscriber with `error`, and every later one at once: the store can deliver nothing any more (it lost
   * its database for good). Nothing after the feed ended.
   */
  error(error: unknown): void {
    this.#end({ error, failed: true });
  }

  #end(ended: { readonly error?: unknown; readonly failed: boolean }): void {
    if (this.#ended) return;
    this.#ended = ended;
    const subscribers = this.#subscribers;
    this.#subscribers = [];
    for (const subscriber of subscribers) {
      if (ended.failed) subscriber.error(ended.error);
      else subscriber.complete();
    }
  }
}
