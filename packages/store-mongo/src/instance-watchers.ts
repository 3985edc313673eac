import { ChangeRouter, type StatusChange } from '@durable-rx/runtime/store-kit';
import { Observable } from 'rxjs';

/**
 * The subscribers of `MongoStore.instanceChanges$`, by instance: the runtime's {@link ChangeRouter} routes the shared
 * source (the per-instance change stream) to the watchers of each instance, opening it with the first watcher and
 * closing it with the last, and ends every watcher when the source ends (an error, or completion when the store
 * closes; a later watcher then subscribes again, and a closed store's feed completes it at once). What this class
 * adds is what the store's `$match` needs: which ids are watched ({@link InstanceWatchers.ids}), a call of
 * `onWatch` for each new watcher so the store can widen that `$match`, and a call of `onUnwatch` when a watcher leaves
 * (once it no longer counts) so the store can narrow it again.
 *
 * @example
 * ```ts
 * const watchers = new InstanceWatchers(feed.events$, (id) => widenMatch(id));
 * watchers.watch('order-1').subscribe((change) => console.log(change));
 * ```
 */
export class InstanceWatchers {
  readonly #router: ChangeRouter;
  readonly #onWatch: (instanceId: string) => void;
  readonly #onUnwatch: (instanceId: string) => void;
  /** Watchers per watched id. */
  readonly #counts = new Map<string, number>();

  constructor(source: Observable<StatusChange>, onWatch: (instanceId: string) => void, onUnwatch: (instanceId: string) => void = () => undefined) {
    this.#router = new ChangeRouter(source);
    this.#onWatch = onWatch;
    this.#onUnwatch = onUnwatch;
  }

  /** The ids watched now. */
  ids(): string[] {
    return [...this.#counts.keys()];
  }

  /** True while `instanceId` has a watcher. */
  isWatched(instanceId: string): boolean {
    return this.#counts.has(instanceId);
  }

  /** The changes of one instance, until unsubscribed or the source ends. */
  watch(instanceId: string): Observable<StatusChange> {
    return new Observable<StatusChange>((subscriber) => {
      // Counted before the router subscribes the source: a stream it opens names this id in its $match.
      this.#counts.set(instanceId, (this.#counts.get(instanceId) ?? 0) + 1);
      const stop = this.#router.watch(instanceId, subscriber);
      if (!subscriber.closed) this.#onWatch(instanceId);
      return () => {
        stop();
        const left = (this.#counts.get(instanceId) ?? 1) - 1;
        if (left > 0) this.#counts.set(instanceId, left);
        else this.#counts.delete(instanceId);
        this.#onUnwatch(instanceId);
      };
    });
  }
}
