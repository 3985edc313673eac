import { Observable } from 'rxjs';
import { ChangeRouter, type StatusChange } from '@durable-rx/runtime/store-kit';

/**
 * The subscribers of `IdbStore.instanceChanges$`, by instance: the runtime's {@link ChangeRouter} routes the store's
 * `changes$` to the watchers of each instance (marking a state it hands to several, subscribed with the first watcher
 * and let go with the last, ending every watcher when the feed ends). What this class adds is which ids are watched
 * ({@link WatchedInstances.ids}): the ones the store reads again when a tab went without posting its last commits.
 *
 * @example
 * ```ts
 * const watched = new WatchedInstances(feed.changes$);
 * watched.watch('order-1').subscribe((change) => console.log(change));
 * watched.ids(); // ['order-1']
 * ```
 */
export class WatchedInstances {
  readonly #router: ChangeRouter;
  /** Watchers per watched id. */
  readonly #counts = new Map<string, number>();

  constructor(source: Observable<StatusChange>) {
    this.#router = new ChangeRouter(source);
  }

  /** The ids watched now. */
  ids(): string[] {
    return [...this.#counts.keys()];
  }

  /** The changes of one instance, until unsubscribed or the source ends. */
  watch(instanceId: string): Observable<StatusChange> {
    return new Observable<StatusChange>((subscriber) => {
      this.#counts.set(instanceId, (this.#counts.get(instanceId) ?? 0) + 1);
      const stop = this.#router.watch(instanceId, subscriber);
      return () => {
        stop();
        const left = (this.#counts.get(instanceId) ?? 1) - 1;
        if (left > 0) this.#counts.set(instanceId, left);
        else this.#counts.delete(instanceId);
      };
    });
  }
}
