import type { PageFreeze } from './page-freeze.js';

/**
 * The rebuild of an index's entries after the open, in steps (KeyvalStore's layout 14, DexieStore's layout 8): opening
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
  readonly #step: () => Promise<boolean>;
  readonly #page: PageFreeze | undefined;
  /** The steps are running in the background. */
  #running = false;
  /** The store's connection closed for good: no step runs any more. */
  #ended = false;
  /** {@link IndexRebuild.resume} was called while the step under way ran: should it fail, the steps go on all the same. */
  #again = false;

  /**
   * `step`: runs one step in a transaction of its own; resolves true while steps are left, false once none is. `page`:
   * the store's, whose freeze aborts a step (it then rejects with `page`).
   */
  constructor(step: () => Promise<boolean>, page?: PageFreeze) {
    this.#step = step;
    this.#page = page;
  }

  /**
   * Runs the steps one after the other until one finds none left (the rebuild is then no longer pending), unless they
   * run already, none is pending, or the rebuild ended. A step the page's freeze aborted runs again once the page
   * resumes (or the store refuses calls: then the step fails). Any other failure (the connection closed, a step
   * aborted) ends them quietly: the next open, the store's next call, or a read that finds the rebuild still pending,
   * starts them again from the place the marker keeps; so does a call made while the failed step ran (once).
   */
  resume(): void {
    if (this.#ended || !this.pending) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void (async () => {
      try {
        while (!this.#ended) {
          let more: boolean;
          this.#again = false;
          try {
            more = await this.#step();
          } catch (error) {
            if (this.#page && error === this.#page) await this.#page.resumed();
            else if (!this.#again) throw error;
            continue;
          }
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

  /** No step runs from now on (the store closed its connection); one under way ends with its transaction. */
  end(): void {
    this.#ended = true;
  }
}
