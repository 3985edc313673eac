import { watchFilterFor } from './change-events.js';

/** How many reopens for newly watched instances the per-instance status stream makes in a burst (see {@link WatchScope}). */
export const WATCH_REOPEN_BURST = 10;

/** How many reopens for newly watched instances per second it makes over time, past the burst. */
export const WATCH_REOPENS_PER_SECOND = 1;

/**
 * What the per-instance status stream's `$match` names, and how often it may be rebuilt for newly watched instances.
 *
 * The stream names the watched instances (so a process watching few of them is not sent every commit of every
 * instance), and must be reopened when the process starts watching one it does not name. An API server that starts
 * and watches hundreds of instances a second would reopen it about as often: each reopen is a `killCursors`, an
 * `aggregate` carrying up to `maxWatchedInstances` ids, and a new cursor on the oplog. So such reopens draw from a
 * token bucket ({@link WATCH_REOPEN_BURST} at once, {@link WATCH_REOPENS_PER_SECOND} a second after that); when it is
 * empty the stream is reopened once more, naming no instance (every commit is sent and the process drops the
 * unwatched ones by id before decoding anything, as past `maxWatchedInstances`), and it needs no reopen for the
 * watches that follow. Once the bucket is full again ({@link WatchScope.narrowAt}) it names the watched instances
 * again. So under any churn the stream is reopened at most the burst plus about once a second (and once more for
 * each change of scope), and a process whose watches come and go slowly keeps the narrow stream.
 *
 * Why not delay the reopens instead (one reopen per window for every instance watched during it): a reopen must start
 * where the old stream stood when the newly watched instance's first read was made, or a change committed after that
 * read (which the old stream's `$match` filtered out) would never reach it; but the old stream keeps delivering the
 * other instances' changes in the meantime, and a new stream started at that earlier point would deliver them again,
 * possibly after newer ones (a purge followed by a new start of the same id would then show the purge last). Telling
 * those repeats apart needs resume tokens compared in order, which MongoDB does not document. Every reopen here is
 * the feed's ordinary `refresh` (after the last token the stream delivered, in the same tick as the watch): nothing is
 * missed, repeated or reordered, whatever the scope.
 *
 * The stream also narrows again when the watched instances come back within `maxWatchedInstances` after going past
 * it: when a watch ends (or the narrowing timer fires), {@link WatchScope.narrowing} says whether to reopen it naming them, from
 * the same bucket (see {@link narrowsStream}).
 *
 * Pure (times are passed in); the store arms the timer for {@link narrowAt}.
 *
 * @example
 * ```ts
 * const scope = new WatchScope(clock.now().getTime());
 * // a watch the open stream does not cover:
 * if (scope.reopenFor(clock.now().getTime()) === 'wide') armTimerAt(scope.narrowAt(clock.now().getTime()));
 * feed.refresh(); // its watch() builds the pipeline from scope.filterFor(keys, max)
 * ```
 */
export class WatchScope {
  readonly #burst: number;
  readonly #perMs: number;
  #tokens: number;
  #at: number;
  #wide = false;

  constructor(nowMs: number, burst = WATCH_REOPEN_BURST, perSecond = WATCH_REOPENS_PER_SECOND) {
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#tokens = burst;
    this.#at = nowMs;
  }

  /** True while the stream names no instance because of churn (not because of `maxWatchedInstances`). */
  get wide(): boolean {
    return this.#wide;
  }

  /** The keys the stream's `$match` names: `undefined` (every instance) while wide or past `max`. */
  filterFor(keys: ReadonlySet<string>, max: number): readonly string[] | undefined {
    return this.#wide ? undefined : watchFilterFor(keys, max);
  }

  /**
   * A newly watched instance the open stream does not name: the stream is reopened either way. `'named'` spends a
   * token and names the watched instances; `'wide'` (the bucket is empty, or the scope is wide already) names none.
   */
  reopenFor(nowMs: number): 'named' | 'wide' {
    this.#refill(nowMs);
    if (!this.#wide && this.#tokens >= 1) {
      this.#tokens -= 1;
      return 'named';
    }
    this.#wide = true;
    return 'wide';
  }

  /** When the bucket is full again (at `nowMs` or later): the wide stream may name the watched instances again. */
  narrowAt(nowMs: number): number {
    this.#refill(nowMs);
    return nowMs + Math.ceil((this.#burst - this.#tokens) / this.#perMs);
  }

  /**
   * Ends the wide scope; the store then asks {@link narrowing} whether to reopen the stream naming the watched
   * instances (which spends a token). True when it was wide.
   */
  narrow(): boolean {
    if (!this.#wide) return false;
    this.#wide = false;
    return true;
  }

  /**
   * Whether the stream, open with `filter`, is reopened now to name the watched `keys` (see {@link narrowsStream}):
   * asked when a watch ends and when the narrowing timer fires. `'reopen'` spends a token (the same budget as the
   * reopens for newly watched instances); `'later'`: it should, but the bucket is empty (arm the timer at
   * {@link narrowAt} and ask again then); `'keep'`: it need not.
   */
  narrowing(filter: readonly string[] | undefined, keys: ReadonlySet<string>, max: number, nowMs: number): 'reopen' | 'later' | 'keep' {
    if (!narrowsStream(filter, keys, max, this.#wide)) return 'keep';
    this.#refill(nowMs);
    if (this.#tokens < 1) return 'later';
    this.#tokens -= 1;
    return 'reopen';
  }

  #refill(nowMs: number): void {
    if (nowMs > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (nowMs - this.#at) * this.#perMs);
      this.#at = nowMs;
    }
  }
}

/**
 * Whether the per-instance status stream, open with `filter` (`undefined`: it names no instance), should be reopened
 * to name the watched `keys`: it names none, yet they are some and fit in `max` (and the byte bound of
 * {@link watchFilterFor}), and the scope is not wide for churn (`wideForChurn`: that ends on the narrowing timer). A
 * stream that went wide past `maxWatchedInstances` is not reopened by a new watch (its filter covers every id), so
 * without this it would carry every instance's commits for as long as it stays open, however few are watched. A
 * stream that names instances no longer watched is left as it is: their events are dropped before they are decoded,
 * and the next new watch it does not name reopens it with the watched ones only. No keys: the stream is closing
 * (lingering), and the next one opens with the keys watched then.
 *
 * @example
 * ```ts
 * narrowsStream(undefined, new Set(['a']), 1000, false); // true: wide, one watched
 * narrowsStream(undefined, new Set(['a', 'b']), 1, false); // false: still past maxWatchedInstances
 * narrowsStream(['a', 'b'], new Set(['a']), 1000, false); // false: it names them already
 * ```
 */
export function narrowsStream(filter: readonly string[] | undefined, keys: ReadonlySet<string>, max: number, wideForChurn: boolean): boolean {
  return filter === undefined && !wideForChurn && keys.size > 0 && watchFilterFor(keys, max) !== undefined;
}
