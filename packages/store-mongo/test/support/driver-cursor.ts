/** A session as a cursor's reads use it: `implicit` when the cursor started it itself (driver 7.8: its `owner`). */
export function standInSession(implicit: boolean, events: string[]) {
  let ended = false;
  return {
    implicit,
    ended: () => ended,
    end: async () => {
      if (!ended) events.push('session ended');
      ended = true;
    },
  };
}

/** A session {@link standInSession} makes. */
export type StandInSession = ReturnType<typeof standInSession>;

/**
 * A cursor as driver 7.8's AbstractCursor reads and closes one (read in its source): `next()` hands out the buffered
 * documents (`bufferedCount()`, `readBufferedDocuments()`: the rest at once), then runs `this.getMore()` (answered by the test: `reply`, `fail`), a reply that comes once the cursor was
 * closed buffered all the same (`fetchBatch` assigns `documents`). A getMore that fails makes `next()` await `cleanup`
 * before it rejects. `cleanup` (`close()` too) sends one killCursors (answered by the test: `killed`) unless one was sent,
 * the cursor is spent (an empty reply stands for one whose id is 0) or the session ended, then ends the session when the
 * cursor started it (an implicit session), whatever the kill did. `spent`: the find's first batch was the whole answer
 * (cursor id 0), so no getMore or killCursors is ever sent. Its async iterator is the driver's: it reads by `next()`
 * and, when its consumer stops before the end, awaits the cursor's close.
 */
export function driverCursor<D = string>(first: D[], session: StandInSession, events: string[], spent = false) {
  const buffered = [...first];
  let closed = false;
  let killSent = spent;
  let pending: { resolve: (docs: D[]) => void; reject: (error: unknown) => void } | undefined;
  let answerKill!: () => void;
  const kill = new Promise<void>((resolve) => (answerKill = resolve));
  const cleanup = async () => {
    closed = true;
    try {
      if (!killSent && !session.ended()) {
        killSent = true;
        events.push('killCursors');
        await kill;
      }
    } finally {
      if (session.implicit) await session.end();
    }
  };
  const cursor = {
    bufferedCount: () => buffered.length,
    readBufferedDocuments: () => buffered.splice(0),
    getMore(): Promise<D[]> {
      events.push('getMore');
      return new Promise<D[]>((resolve, reject) => (pending = { resolve, reject }));
    },
    async next(): Promise<D | null> {
      for (;;) {
        if (buffered.length > 0) return buffered.shift()!;
        if (closed) return null;
        if (spent) {
          await cleanup();
          return null;
        }
        let batch: D[];
        try {
          batch = await this.getMore();
        } catch (error) {
          await cleanup();
          throw error;
        }
        buffered.push(...batch);
        if (batch.length === 0) {
          killSent = true; // an empty reply here stands for one whose cursor id is 0: spent, nothing to kill
          await cleanup();
          return null;
        }
      }
    },
    close: () => cleanup(),
    async *[Symbol.asyncIterator](): AsyncGenerator<D, void, undefined> {
      if (closed) return;
      try {
        for (;;) {
          if (closed) return;
          const doc = await cursor.next();
          if (doc === null) return;
          yield doc;
        }
      } finally {
        if (!closed) await cleanup();
      }
    },
  };
  return {
    cursor,
    reply: (docs: D[]) => pending?.resolve(docs),
    fail: (error: unknown) => pending?.reject(error),
    killed: () => answerKill(),
  };
}
