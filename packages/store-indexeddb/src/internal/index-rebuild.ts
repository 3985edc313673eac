import { systemClock, type Clock } from '@durable-rx/runtime';
import type { PageFreeze } from './page-freeze.js';

/**
 * After the second failed step in a row, the steps start again only once this many ms have passed on the store's clock,
 * doubled at each further failure in a row up to {@link MAX_RETRY_MS}: a step that keeps failing (the origin's storage
 * full) does not add a failing readwrite transaction to every call of the store.
 */
const RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

/**
 * The rebuild of an index's entries after the open, in steps (KeyvalStore's layouts 14 and 16, DexieStore's layout 8): opening
 * an older layout marks the database with the rebuild's place instead of rebuilding in the open's transaction (which
 * every call of the store waited for), and the store then runs it in steps, a readwrite transaction each, every step
 * reading the place from the marker and moving it on in its own transaction. So a rebuild cut short (a reload, a freeze,
 * a close) leaves a consistent database and goes on from its place, and tabs that run steps at once share the work.
 * While the rebuild is {@link IndexRebuild.pending}, the index may miss instances: reads that would list from it read
 * another order and check each row instead (`isMemberOf`), and {@link IndexRebuild.resume} the steps if they stopped;
 * so does the store's next call of any kind.
 *
 * @example
 * ```ts
 * const rebuild = new IndexRebuild(() => backend.runStep(), page); // runStep resolves true while steps are left
 * rebuild.pending = true;
 * rebuild.resume();
 * ```
 */
export class IndexRebuild {
  /** The marker named a rebuild under way when last read: the index may miss instances. */
  pending = false;
  /**
   * Where in the paging order the rebuild had come when last known here, for a store whose steps go in that order: the
   * instances up to it (included) have their index entries. `undefined`: none is known to have them.
   */
  place: Place | undefined;
  readonly #step: (stop: AbortSignal) => Promise<boolean | undefined>;
  readonly #page: PageFreeze | undefined;
  /** The steps are running in the background. */
  #running = false;
  /** The store's connection closed for good: no step runs any more. */
  #ended = false;
  /** {@link IndexRebuild.resume} was called while the step under way ran: should it fail, the steps go on all the same. */
  #again = false;
  readonly #clock: Clock;
  /** Aborts the step under way ({@link IndexRebuild.end}). */
  #stop: AbortController | undefined;
  /** The step under way, or the last one. */
  #stepping: Promise<unknown> = Promise.resolve();
  /** Steps that failed in a row (not those a freeze aborted). */
  #failures = 0;
  /** The time on {@link IndexRebuild.#clock} (ms) before which no step starts again after failures (see {@link RETRY_MS}). */
  #retryAtMs = -Infinity;

  /**
   * `step`: runs one step in a transaction of its own; resolves true while steps are left, false once none is, and
   * `undefined` when it did not run for want of a connection (the browser closed it: the connection's failure, not the
   * step's); its transaction is aborted when `stop` is (the store closes; a new signal for each step). `page`: the store's, whose freeze aborts a
   * step (it then rejects with `page`). `clock`: the store's, which times the wait after failed steps.
   */
  constructor(step: (stop: AbortSignal) => Promise<boolean | undefined>, page?: PageFreeze, clock: Clock = systemClock) {
    this.#step = step;
    this.#page = page;
    this.#clock = clock;
  }

  /**
   * Runs the steps one after the other until one finds none left (the rebuild is then no longer pending), unless they
   * run already, none is pending, or the rebuild ended. A step the page's freeze aborted runs again once the page
   * resumes (or the store refuses calls: then the step fails). Any other failure (the connection closed, a step
   * aborted) ends them quietly: the next open, the store's next call, or a read that finds the rebuild still pending,
   * starts them again from the place the marker keeps; so does a call made while the failed step ran (once). After
   * the second failure in a row, only once a wait has passed ({@link RETRY_MS}). A step that found no connection is no
   * failure: the steps stop, and go on at the next `resume` (the new connection's open calls it) with no wait.
   */
  resume(): void {
    if (this.#ended || !this.pending) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#clock.now().getTime() < this.#retryAtMs) return;
    this.#running = true;
    void (async () => {
      try {
        while (!this.#ended) {
          let more: boolean | undefined;
          this.#again = false;
          try {
            this.#stop = new AbortController();
            const stepping = this.#step(this.#stop.signal);
            this.#stepping = stepping;
            more = await stepping;
          } catch (error) {
            if (this.#page && error === this.#page) {
              await this.#page.resumed();
              continue;
            }
            const wait = this.#failures === 0 ? 0 : Math.min(RETRY_MS * 2 ** (this.#failures - 1), MAX_RETRY_MS);
            this.#failures++;
            this.#retryAtMs = this.#clock.now().getTime() + wait;
            if (!this.#again || wait > 0) throw error;
            continue;
          }
          if (more === undefined) {
            // The connection's failure: counted for nothing. A call made meanwhile may have opened a new one.
            if (this.#again) continue;
            return;
          }
          this.#failures = 0;
          this.#retryAtMs = -Infinity;
          if (!more) {
            this.pending = false;
            return;
          }
        }
      } catch {
        // Goes on later (see above).
      } finally {
        this.#running = false;
      }
    })();
  }

  /**
   * No step runs from now on (the store closes its connection, or another connection's upgrade closes it): the step
   * under way is aborted, so its transaction,
   * which wrote nothing then, holds no lock on the database past the close, and the rebuild goes on from the place the
   * marker keeps at the next open. Resolves once that step ended.
   */
  end(): Promise<void> {
    this.#ended = true;
    this.#stop?.abort();
    return this.#stepping.then(() => undefined, () => undefined);
  }
}

/** A place in the paging order: (createdMs, id), the id `undefined` above every id of that createdMs. */
export type Place = readonly [createdMs: number, id: string | undefined];

/** Past every place: the whole paging order. */
export const EVERY_PLACE: Place = [Infinity, undefined];

/** A range of the paging order, each end included unless open. */
export interface PlaceRange {
  readonly lower: Place;
  readonly lowerOpen: boolean;
  readonly upper: Place;
  readonly upperOpen: boolean;
}

/** Orders places as the keys of the paging order sort: createdMs, then id (`undefined` last). */
function comparePlaces(a: Place, b: Place): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] === b[1]) return 0;
  return a[1] === undefined || (b[1] !== undefined && a[1] > b[1]) ? 1 : -1;
}

/**
 * `range` split at `at`: the part up to `at` (included) and the part after it, each `undefined` when empty; all of it
 * after `at` when `at` is `undefined`.
 */
export function splitRange(range: PlaceRange, at: Place | undefined): [PlaceRange | undefined, PlaceRange | undefined] {
  if (at === undefined) return [undefined, range];
  const upTo = comparePlaces(range.upper, at) <= 0 ? range : { ...range, upper: at, upperOpen: false };
  const after = comparePlaces(range.lower, at) > 0 ? range : { ...range, lower: at, lowerOpen: true };
  return [nonEmpty(upTo), nonEmpty(after)];
}

/** `range`, or `undefined` when it holds no place (IndexedDB refuses such a key range). */
function nonEmpty(range: PlaceRange): PlaceRange | undefined {
  const order = comparePlaces(range.lower, range.upper);
  return order < 0 || (order === 0 && !range.lowerOpen && !range.upperOpen) ? range : undefined;
}
