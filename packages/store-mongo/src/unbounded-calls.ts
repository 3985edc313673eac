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
  /** The calls held that run in a session (`add`'s `session`), by session: {@link UnboundedCalls.endAfter} ends it after them. */
  readonly #inSession = new WeakMap<object, Set<Promise<void>>>();

  /**
   * Holds `call` until it settles; returns it, its rejection dropped. `session`: the explicit session `call` runs in,
   * which {@link UnboundedCalls.endAfter} then ends only once `call` has settled.
   */
  add(call: Promise<unknown>, session?: object): Promise<void> {
    const held = call.then(() => undefined, () => undefined);
    this.#calls.add(held);
    let inSession: Set<Promise<void>> | undefined;
    if (session !== undefined) {
      inSession = this.#inSession.get(session) ?? new Set();
      this.#inSession.set(session, inSession);
      inSession.add(held);
    }
    void held.then(() => {
      this.#calls.delete(held);
      inSession?.delete(held);
    });
    return held;
  }

  /**
   * Ends `session` (`end`, its failure dropped) once every call held in it has settled: at once, and waited for, when
   * none is; else held after them, and resolves at once. Driver 7.8's `endSession` puts the server session back in the
   * pool for the next operation while a `getMore` or `killCursors` still runs with its `lsid`, and a `killCursors` whose
   * command is built once its session ended is never sent (`MongoExpiredSessionError`, dropped by the cursor's close):
   * the cursor stays open on the server until its idle timeout. The transactions' sessions are ended the same way, after
   * an abort or commit the store stopped waiting for.
   *
   * @example
   * ```ts
   * await calls.endAfter(session, () => session.endSession()); // after the killCursors held in it, if any
   * ```
   */
  endAfter(session: object, end: () => Promise<unknown>): Promise<void> {
    const held = this.#inSession.get(session);
    const ending = () => Promise.resolve().then(end).then(() => undefined, () => undefined);
    if (held === undefined || held.size === 0) return ending();
    void this.add(Promise.all(held).then(ending));
    return Promise.resolve();
  }

  /** The calls not settled yet. */
  held(): Promise<void>[] {
    return [...this.#calls];
  }

  /** Resolves once every call has settled, those added while it waits too. */
  async settled(): Promise<void> {
    while (this.#calls.size > 0) await Promise.all(this.#calls);
  }

  /**
   * Settles as `work` does, unless `signal` aborts first (at once when it has): then rejects with its reason, and holds
   * `work`, which goes on. For a cursor's read: driver 7.8 sends a `getMore` with no signal (only the `find` that opens
   * the cursor carries it), so a read whose signal aborts mid-`getMore` waited for the reply, from a server that
   * stopped answering until the pool's monitor interrupted it (about 20 s), and a reply arriving once the cursor was
   * closed still handed out a document. Without a signal, `work` itself. `session`: the explicit session `work` runs
   * in, ended after it ({@link UnboundedCalls.endAfter}).
   *
   * @example
   * ```ts
   * const docs = await calls.within(bound.signal, cursor.toArray()); // a TimeoutError once bound.signal aborts
   * ```
   */
  within<T>(signal: AbortSignal | undefined, work: Promise<T>, session?: object): Promise<T> {
    if (signal === undefined) return work;
    return new Promise<T>((resolve, reject) => {
      const abort = () => {
        void this.add(work, session);
        reject(signal.reason);
      };
      if (signal.aborted) return abort();
      signal.addEventListener('abort', abort, { once: true });
      const done = (settle: () => void) => {
        signal.removeEventListener('abort', abort);
        settle();
      };
      work.then((value) => done(() => resolve(value)), (error: unknown) => done(() => reject(error)));
    });
  }

  /**
   * Opens a cursor (`open`, given `bound` with a signal of its own) whose every close these calls hold. Driver 7.8
   * closes a cursor whose signal aborts by itself (its abort listener: a `killCursors` with no signal or time limit,
   * sent mid-`getMore`, which carries no signal) and nobody could wait for or end that one; so when `bound.signal`
   * aborts while the cursor is open, the cursor is closed here first, held, and only then is its own signal aborted
   * (the driver's listener, disposed by that close, sends nothing). {@link HeldCursor.close} closes it once read,
   * held too, and waits for that close until `bound.signal` aborts at most (at once without one: a scan whose
   * `maxTimeMS` is its only bound), so the read's operation ends within its bound however long a server holds the
   * `killCursors`, and `close()` still ends it or waits for it. `session`: the explicit session the cursor runs in,
   * ended after its close ({@link UnboundedCalls.endAfter}).
   *
   * @example
   * ```ts
   * const read = calls.openCursor(readBound(), (bound) => instances.find(filter, { session, ...bound }));
   * try { return await read.cursor.toArray(); } finally { await read.close(); }
   * ```
   */
  openCursor<C extends Closable>(bound: CursorBound, open: (bound: CursorBound) => C, session?: object): HeldCursor<C> {
    const parent = bound.signal;
    let cursor: C | undefined;
    let closing: Promise<void> | undefined;
    const closeHeld = (): Promise<void> => (closing ??= cursor === undefined ? Promise.resolve() : this.add(closeOf(cursor), session));
    if (parent === undefined) {
      cursor = open(bound);
      return {
        cursor,
        close: () => {
          void closeHeld();
          return Promise.resolve();
        },
      };
    }
    const controller = new AbortController();
    const expire = () => {
      try {
        void closeHeld();
      } finally {
        controller.abort(parent.reason);
      }
    };
    if (parent.aborted) controller.abort(parent.reason);
    else parent.addEventListener('abort', expire, { once: true });
    cursor = open({ maxTimeMS: bound.maxTimeMS, signal: controller.signal });
    return {
      cursor,
      close: () => {
        parent.removeEventListener('abort', expire);
        return untilAborted(parent, closeHeld());
      },
    };
  }

  /**
   * The documents of a cursor `open` opens under `bound` ({@link UnboundedCalls.openCursor}), for a read its consumer
   * takes one at a time and may stop early (a claim's messages, merged by `mergeBySeq`): each `next()` within
   * `bound.signal` ({@link UnboundedCalls.within}: mid-`getMore` too), and the cursor closed however the reading ends,
   * its `return()` included, that close held and waited for until the signal at most. Nothing is opened until the first
   * document is asked for. `session`: the explicit session `open` gives the cursor ({@link UnboundedCalls.endAfter}).
   *
   * @example
   * ```ts
   * for await (const doc of calls.documents(claimReadBound(leaseMs), (bound) => messages.find(filter, { session, ...bound }), session)) take(doc);
   * ```
   */
  async *documents<D>(
    bound: CursorBound, open: (bound: CursorBound) => Closable & { next(): Promise<D | null> }, session?: object,
  ): AsyncGenerator<D, void, undefined> {
    const read = this.openCursor(bound, open, session);
    try {
      for (;;) {
        const doc = await this.within(bound.signal, read.cursor.next(), session);
        if (doc === null) return;
        yield doc;
      }
    } finally {
      await read.close();
    }
  }
}

/**
 * A cursor's documents taken by `next()`, for a read of {@link UnboundedCalls.openCursor}'s cursor that may stop early
 * (a query page cut short by size, a scan cut short by `close()` or by a failed write): not the driver's own iteration.
 * Driver 7.8's async iterator (`for await` over a cursor, and a generator over it) closes the cursor when its consumer
 * stops and awaits that close inside the consumer: a `killCursors` with no signal or time limit, which nobody holds.
 * Stopped here, the generator leaves the cursor open for its held close ({@link HeldCursor.close}).
 *
 * @example
 * ```ts
 * const read = calls.openCursor(SCAN_BOUND, (bound) => instances.find(filter, bound));
 * try { for await (const doc of documentsOf(read.cursor)) if (done(doc)) break; } finally { await read.close(); }
 * ```
 */
export async function* documentsOf<D>(cursor: { next(): Promise<D | null> }): AsyncGenerator<D, void, undefined> {
  for (;;) {
    const doc = await cursor.next();
    if (doc === null) return;
    yield doc;
  }
}

/** What {@link UnboundedCalls.openCursor} closes: a driver cursor. */
export interface Closable {
  close(): Promise<void>;
}

/** The bound of a cursor's read: its server time, and the signal past which its caller gives up on it, if any. */
export interface CursorBound {
  readonly maxTimeMS: number;
  readonly signal?: AbortSignal;
}

/** A cursor opened by {@link UnboundedCalls.openCursor}, and its held close. */
export interface HeldCursor<C> {
  readonly cursor: C;
  /** Closes the cursor (once), held; resolves once that close settled or the read's signal aborted, at once without one. */
  close(): Promise<void>;
}

/** A cursor's close; one that throws instead of rejecting is a rejection too. */
function closeOf(cursor: Closable): Promise<void> {
  try {
    return cursor.close();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Waits for `work` (its rejection dropped) until `signal` aborts, no longer (at once when it has): for a driver call
 * that takes no signal or time limit (a cursor's `killCursors`), which the caller has handed to an owner that
 * outlives it ({@link UnboundedCalls}).
 *
 * @example
 * ```ts
 * await untilAborted(deadline.signal, calls.add(cursor.close()));
 * ```
 */
export function untilAborted(signal: AbortSignal, work: Promise<unknown>): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    work.then(done, done);
  });
}
