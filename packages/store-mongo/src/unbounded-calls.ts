import { AbstractCursor } from 'mongodb';

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
  /** Told once, the first time a driver cursor has no `getMore` to watch ({@link watchGetMore}). */
  #unwatchable: ((warning: string) => void) | undefined;
  /** The calls held that run in a session (`add`'s `session`), by session: {@link UnboundedCalls.endAfter} ends it after them. */
  readonly #inSession = new WeakMap<object, Set<Promise<void>>>();

  /**
   * `unwatchable`: called once, with {@link UNWATCHABLE_GETMORE}, the first time {@link UnboundedCalls.openCursor}
   * opens a driver cursor (an `AbstractCursor`) without the internal `getMore` method driver 7.8's cursors have (another
   * driver version's), whose reads then fail at a failed `getMore` only once the driver's own `killCursors` settled
   * (MongoStore logs it as a warning).
   */
  constructor(unwatchable?: (warning: string) => void) {
    this.#unwatchable = unwatchable;
  }

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
   * `killCursors`, and `close()` still ends it or waits for it; {@link HeldCursor.release} closes it, held, for a read
   * that failed, and waits for nothing. `session`: the explicit session the cursor runs in, ended after its close
   * ({@link UnboundedCalls.endAfter}).
   *
   * {@link HeldCursor.next} takes its documents within the read: it rejects at `bound.signal`'s abort with its reason,
   * mid-`getMore` too ({@link UnboundedCalls.within}), and at a failed `getMore` with its error as it fails
   * ({@link watchGetMore}: driver 7.8 awaits its own `killCursors` first), what it waited for held; once the read
   * has ended so, it hands out nothing more, so a late `getMore` reply reaches nobody.
   *
   * @example
   * ```ts
   * const read = calls.openCursor(readBound(), (bound) => instances.find(filter, { session, ...bound }), session);
   * try { for (let doc = await read.next(); doc !== null; doc = await read.next()) take(doc); } finally { await read.close(); }
   * ```
   */
  openCursor<C extends Closable>(bound: CursorBound, open: (bound: CursorBound) => C, session?: object): HeldCursor<C> {
    const parent = bound.signal;
    let cursor: C | undefined;
    let closing: Promise<void> | undefined;
    /** Aborts once the read ends early: at `parent`'s abort (its reason), or at a failed getMore (its error). */
    const reading = new AbortController();
    /** Set once a getMore failed: the driver's cleanup, under way, is the cursor's close (held through its `next()`). */
    let driverCloses = false;
    const closeHeld = (): Promise<void> => (closing ??= cursor === undefined || driverCloses ? Promise.resolve() : this.add(closeOf(cursor), session));
    const watch = (opened: C): C => {
      const watched = watchGetMore(opened, (error) => {
        if (reading.signal.aborted) return;
        driverCloses = true;
        reading.abort(error);
      });
      if (!watched && opened instanceof AbstractCursor && this.#unwatchable !== undefined) {
        const told = this.#unwatchable;
        this.#unwatchable = undefined;
        told(UNWATCHABLE_GETMORE);
      }
      return opened;
    };
    const next = (): Promise<NextOf<C> | null> => {
      if (reading.signal.aborted) return Promise.reject(reading.signal.reason);
      // A document the cursor holds already needs no getMore (driver 7.8's next() shifts it from the batch it buffers):
      // taken as it is, without a listener on the read's signal for each one.
      if (bufferedCountOf(cursor) > 0) return nextOf(cursor) as Promise<NextOf<C> | null>;
      return this.within(reading.signal, nextOf(cursor as C), session) as Promise<NextOf<C> | null>;
    };
    const buffered = (): NextOf<C>[] => (reading.signal.aborted ? [] : bufferedOf(cursor) as NextOf<C>[]);
    const release = () => {
      parent?.removeEventListener('abort', expire);
      void closeHeld();
    };
    const expire = () => {
      try {
        void closeHeld();
      } finally {
        controller.abort(parent?.reason);
        if (!reading.signal.aborted) reading.abort(parent?.reason);
      }
    };
    const controller = new AbortController();
    if (parent === undefined) {
      cursor = watch(open(bound));
      return {
        cursor,
        next,
        buffered,
        close: () => {
          void closeHeld();
          return Promise.resolve();
        },
        release,
      };
    }
    if (parent.aborted) {
      controller.abort(parent.reason);
      reading.abort(parent.reason);
    } else parent.addEventListener('abort', expire, { once: true });
    cursor = watch(open({ maxTimeMS: bound.maxTimeMS, signal: controller.signal }));
    return {
      cursor,
      next,
      buffered,
      close: () => {
        parent.removeEventListener('abort', expire);
        return untilAborted(parent, closeHeld());
      },
      release,
    };
  }

  /**
   * Reads a cursor `open` opens under `bound` (`use`, given its documents by {@link HeldCursor.next}), and closes it,
   * all within `bound.signal`: the read rejects with its reason once it aborts, mid-`getMore` too ({@link
   * UnboundedCalls.within}: driver 7.8 gives a `getMore` no signal), and with a failed `getMore`'s error as it fails;
   * `use` is handed no document after either. Every close of the cursor, its close at that abort included (before the
   * driver's own, which nobody would hold: {@link UnboundedCalls.openCursor}), is among these calls: once read, waited
   * for until the signal aborts at most (not at all without one); once the read failed (`use` threw, a `getMore`
   * failed, the signal aborted), not waited for. So the read fails with its own error at once, and `close()` ends or
   * waits for what it left running. `session`: the explicit session `open` gives the cursor, ended after what is held
   * in it ({@link UnboundedCalls.endAfter}).
   *
   * @example
   * ```ts
   * const events = await calls.read(readBound(), (bound) => history.find(filter, { session, ...bound }), (docs) => allOf(docs, decode), session);
   * ```
   */
  async read<C extends Closable & { next(): Promise<unknown> }, T>(
    bound: CursorBound, open: (bound: CursorBound) => C, use: (docs: CursorDocuments<NextOf<C>>) => Promise<T>, session?: object,
  ): Promise<T> {
    const read = this.openCursor(bound, open, session);
    let answer: T;
    try {
      answer = await this.within(bound.signal, use({ next: read.next, buffered: read.buffered }), session);
    } catch (error) {
      read.release();
      throw error;
    }
    await read.close();
    return answer;
  }

  /**
   * {@link UnboundedCalls.read} in an explicit session of its own (`start`; `open` gives it to the cursor), ended
   * (`end`) once what is held in it has settled ({@link UnboundedCalls.endAfter}). For a read that would otherwise run
   * in the implicit session driver 7.8 starts for its cursor: the cursor's close (`AbstractCursor.cleanup`) ends that
   * session, its own, right after its `killCursors`, putting the server session back in the pool while a `getMore` the
   * read gave up on at its signal still runs with its `lsid`. Behind a load balancer a session of its own does not
   * keep the connection the cursor pinned either: driver 7.8's `cleanup` unpins it after its `killCursors` for any session
   * outside a transaction (`maybeClearPinnedConnection`), explicit or not.
   *
   * @example
   * ```ts
   * const start = () => client.startSession({ causalConsistency: false });
   * const ids = await calls.readInSession(start, (session) => session.endSession(), readBound(), (bound, session) => history.find(filter, { session, ...bound }), (docs) => allOf(docs));
   * ```
   */
  async readInSession<S extends object, C extends Closable & { next(): Promise<unknown> }, T>(
    start: () => S, end: (session: S) => Promise<unknown>, bound: CursorBound, open: (bound: CursorBound, session: S) => C,
    use: (docs: CursorDocuments<NextOf<C>>) => Promise<T>,
  ): Promise<T> {
    const session = start();
    try {
      return await this.read(bound, (given) => open(given, session), use, session);
    } finally {
      await this.endAfter(session, () => end(session));
    }
  }

  /**
   * The documents of a cursor `open` opens under `bound` ({@link UnboundedCalls.openCursor}), for a read its consumer
   * takes one at a time and may stop early (a claim's messages, merged by `mergeBySeq`): each by {@link
   * HeldCursor.next} (within `bound.signal`, mid-`getMore` too, and failing at a failed `getMore` as it fails), and the
   * cursor closed however the reading ends, that close held: waited for until the signal at most when the consumer
   * stopped or the cursor was read to its end, not at all when the reading failed. Nothing is opened until the first
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
    let failed = false;
    try {
      for (;;) {
        const doc = await read.next().catch((error: unknown) => {
          failed = true;
          throw error;
        });
        if (doc === null) return;
        yield doc;
      }
    } finally {
      if (failed) read.release();
      else await read.close();
    }
  }
}

/**
 * Every document of `docs` (taken by `next()`, not the driver's `toArray`, which iterates the cursor itself), each
 * through `map` as it is taken (so a decode holds one batch of stored text at a time, and its failure is the read's, at
 * once: {@link UnboundedCalls.read}).
 *
 * @example
 * ```ts
 * const events = await calls.read(readBound(), (bound) => history.find(filter, bound), (docs) => allOf(docs, (d) => decodeHistoryEvent(d.event)));
 * ```
 */
export async function allOf<D, T = D>(docs: CursorDocuments<D>, map: (doc: D) => T = (doc) => doc as unknown as T): Promise<T[]> {
  const all: T[] = [];
  await eachOf(docs, (doc) => void all.push(map(doc)));
  return all;
}

/**
 * Hands every document of `docs` to `each` as it is taken (by `next()`, and each batch's rest at once, as the driver's
 * `toArray` takes it: `readBufferedDocuments`), keeping none: for a read that passes its documents on (a status
 * resync's re-read) rather than answering with them ({@link allOf}).
 *
 * @example
 * ```ts
 * await calls.read(SCAN_BOUND, (bound) => instances.find(filter, bound), (docs) => eachOf(docs, (doc) => subscriber.next(doc)));
 * ```
 */
export async function eachOf<D>(docs: CursorDocuments<D>, each: (doc: D) => void): Promise<void> {
  for (let doc = await docs.next(); doc !== null; doc = await docs.next()) {
    each(doc);
    for (const more of docs.buffered?.() ?? []) each(more);
  }
}

/**
 * A cursor's documents as a read takes them: one at a time (`null`: no more), and, when the cursor offers it, the rest
 * of the batch it holds, in one call that sends nothing (`buffered`; none once the read has ended).
 */
export interface CursorDocuments<D> {
  next(): Promise<D | null>;
  buffered?(): D[];
}

/** The document type of a cursor `C`'s `next()` (`never` for a cursor without one). */
export type NextOf<C> = C extends { next(): Promise<infer D | null> } ? D : never;

/** How many documents `cursor` holds from its last batch (driver 7.8's public `bufferedCount()`; 0 without one). */
function bufferedCountOf(cursor: unknown): number {
  const count = (cursor as { bufferedCount?: unknown }).bufferedCount;
  return typeof count === 'function' ? Number(Reflect.apply(count, cursor, [])) : 0;
}

/** The documents `cursor` holds from its last batch, taken (driver 7.8's public `readBufferedDocuments()`; none without one). */
function bufferedOf(cursor: unknown): unknown[] {
  const read = (cursor as { readBufferedDocuments?: unknown }).readBufferedDocuments;
  return typeof read === 'function' ? (Reflect.apply(read, cursor, []) as unknown[]) : [];
}

/** `cursor.next()`; one that throws instead of rejecting (or has none) is a rejection too. */
function nextOf<C>(cursor: C): Promise<unknown> {
  try {
    return (cursor as unknown as { next(): Promise<unknown> }).next();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What {@link UnboundedCalls} tells its owner once a driver cursor has no `getMore` to watch ({@link watchGetMore}). */
export const UNWATCHABLE_GETMORE = 'this mongodb driver\u2019s cursors have no getMore method (driver 7.8\u2019s internal one, which the store watches), '
  + 'so a read whose getMore fails fails only once the driver\u2019s own killCursors settled (up to serverSelectionTimeoutMS on a server that stopped answering); '
  + 'use the driver version this store supports (7.8)';

/**
 * Calls `failed` with the error of each `getMore` of `cursor` as it fails; false, and nothing watched, for a cursor
 * without one. Driver 7.8's `AbstractCursor.fetchBatch` runs `this.getMore()` and, when it rejects, awaits `cleanup`
 * (a `killCursors` with no signal or time limit, sent through server selection, which waits up to
 * `serverSelectionTimeoutMS`, 30 s by default, for a server a network error marked Unknown; then the end of an implicit
 * session) before `next()` rejects: told here, the read fails at once, and that `next()` is held ({@link
 * UnboundedCalls.within}). `getMore` is the cursor's own internal method (left out of the driver's published types),
 * wrapped on this cursor alone and called as before, its reply returned to the driver as it is; a cursor without one
 * (another driver version's, or a stand-in) is left as it is, and its read fails as its `next()` does. A test holds
 * the installed driver's `FindCursor` to this (`close-own-client.test.ts`), and {@link UnboundedCalls} tells its owner
 * when a driver cursor has none.
 *
 * @example
 * ```ts
 * if (!watchGetMore(cursor, (error) => controller.abort(error))) warn('this driver\u2019s cursors have no getMore');
 * ```
 */
export function watchGetMore(cursor: object, failed: (error: unknown) => void): boolean {
  const own = cursor as { getMore?: unknown };
  const getMore = own.getMore;
  if (typeof getMore !== 'function') return false;
  own.getMore = function (this: unknown, ...args: unknown[]): unknown {
    const reply: unknown = Reflect.apply(getMore, this, args);
    if (reply instanceof Promise) reply.then(undefined, failed);
    return reply;
  };
  return true;
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

/** A cursor opened by {@link UnboundedCalls.openCursor}, its documents within its read, and its held close. */
export interface HeldCursor<C> {
  readonly cursor: C;
  /**
   * The cursor's next document (`null`: no more), within the read: rejects at the read's signal with its reason, and
   * at a failed `getMore` with its error, as either comes, and at once after either; what it waited for is held.
   */
  next(): Promise<NextOf<C> | null>;
  /** The rest of the batch the cursor holds, taken at once (sends nothing); none once the read has ended so. */
  buffered(): NextOf<C>[];
  /** Closes the cursor (once), held; resolves once that close settled or the read's signal aborted, at once without one. */
  close(): Promise<void>;
  /** Closes the cursor (once), held, and waits for nothing: the end of a read that failed. */
  release(): void;
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
