/**
 * The rebuild of an index's entries after the open, in steps (KeyvalStore's layout 14, DexieStore's layout 8): opening
 * an older layout marks the database with the rebuild's place instead of rebuilding in the open's transaction (which
 * every call of the store waited for), and the store then runs it in steps, a readwrite transaction each, every step
 * reading the place from the marker and moving it on in its own transaction. So a rebuild cut short (a reload, a freeze,
 * a close) leaves a consistent database and goes on from its place, and tabs that run steps at once share the work.
 * While the rebuild is {@link IndexRebuild.pending}, the index may miss instances: reads that would list from it read
 * another order and check each row instead (`isMemberOf`), and {@link IndexRebuild.resume} the steps if they stopped.
 *
 * @example
 * ```ts
 * const rebuild = new IndexRebuild(() => backend.runStep()); // resolves true while steps are left
 * rebuild.pending = true;
 * rebuild.resume();
 * ```
 */
export class IndexRebuild {
  /** The marker named a rebuild under way when last read: the index may miss instances. */
  pending = false;
  readonly #step: () => Promise<boolean>;
  /** The steps are running in the background. */
  #running = false;
  /** The store's connection closed for good: no step runs any more. */
  #ended = false;

  /** `step`: runs one step in a transaction of its own; resolves true while steps are left, false once none is. */
  constructor(step: () => Promise<boolean>) {
    this.#step = step;
  }

  /**
   * Runs the steps one after the other until one finds none left (the rebuild is then no longer pending), unless they
   * run already or the rebuild ended. A step that fails (the connection closed, the page froze) ends them quietly: the
   * next open, or a read that finds the rebuild still pending, starts them again from the place the marker keeps.
   */
  resume(): void {
    if (this.#running || this.#ended || !this.pending) return;
    this.#running = true;
    void (async () => {
      try {
        while (!this.#ended) {
          if (!(await this.#step())) {
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
