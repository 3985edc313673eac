/**
 * The driver calls a store started that take no signal or time limit (a cursor's or a change stream's `killCursors`,
 * which driver 7.8 sends without either): each is held until it settles, its rejection dropped, so that `close()` has them all in hand. On a
 * client of its own the store closes the client over them (the driver's close fails every command waiting on a
 * connection first: `closeWhatRemains`); on an application's client it waits for them 5 s at most, as a server that
 * holds them may do so for longer than the pool's monitor bounds (it interrupts a connection only when a heartbeat fails).
 *
 * @example
 * ```ts
 * const calls = new UnboundedCalls();
 * void calls.add(cursor.close());
 * await calls.settled(); // this close, and any added meanwhile
 * ```
 */
export class UnboundedCalls {
  readonly #calls = new Set<Promise<void>>();

  /** Holds `call` until it settles; returns it, its rejection dropped. */
  add(call: Promise<unknown>): Promise<void> {
    const held = call.then(() => undefined, () => undefined);
    this.#calls.add(held);
    void held.then(() => this.#calls.delete(held));
    return held;
  }

  /** The calls not settled yet. */
  held(): Promise<void>[] {
    return [...this.#calls];
  }

  /** Resolves once every call has settled, those added while it waits too. */
  async settled(): Promise<void> {
    while (this.#calls.size > 0) await Promise.all(this.#calls);
  }
}
