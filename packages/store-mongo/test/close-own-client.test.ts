import { VirtualClock } from '@durable-rx/runtime/testing';
import { FindCursor, Long, MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CLIENT_CLOSE_WAIT_MS, closeOwnClient, closeWhatRemains } from '../src/close-own-client.js';
import { CallDeadline, LISTING_DEADLINE_MS } from '../src/call-deadline.js';
import { mapDriverError } from '../src/map-driver-error.js';
import { READ_DEADLINE_MARGIN_MS, READ_MAX_TIME_MS } from '../src/read-bound.js';
import { purgeInBatches } from '../src/purge-in-batches.js';
import { readPageWithinBytes } from '../src/queries.js';
import { endedPage, upTo } from '../src/ended-page.js';
import { driverCursor, standInSession } from './support/driver-cursor.js';
import { allOf, documentsOf, UnboundedCalls, UNWATCHABLE_GETMORE, untilAborted, watchGetMore, type CursorBound } from '../src/unbounded-calls.js';

/** A client whose close settles when the test says (as the driver's, waiting a server selection for an abort). */
function heldClient() {
  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const closing = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  let calls = 0;
  return { client: { close: () => (calls++, closing) }, settle, calls: () => calls };
}

describe('closeOwnClient (MongoStore.close on a client of its own)', () => {
  it('returns once the client closed and the transaction ends left over settled, its timer cleared', async () => {
    const clock = new VirtualClock();
    const held = heldClient();
    let ended!: () => void;
    const unanswered = new Promise<void>((resolve) => (ended = resolve));
    let done: string | undefined;
    const closing = closeOwnClient(held.client, () => [unanswered], clock).then((outcome) => (done = outcome));
    held.settle.resolve();
    await clock.advance(1);
    expect(done).toBeUndefined(); // the abort the store stopped waiting for has not settled yet
    ended();
    await expect(closing).resolves.toBe('closed');
    expect(held.calls()).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops waiting after its bound when the driver waits a server selection to abort a transaction, without an unhandled failure', async () => {
    const clock = new VirtualClock();
    const held = heldClient();
    let done: string | undefined;
    const closing = closeOwnClient(held.client, () => [], clock).then((outcome) => (done = outcome));
    await clock.advance(CLIENT_CLOSE_WAIT_MS - 1);
    expect(done).toBeUndefined();
    await clock.advance(1);
    await expect(closing).resolves.toBe('late');
    // The driver's close fails later (its server selection timed out): caught, nothing unhandled.
    held.settle.reject(new Error('Server selection timed out after 30000 ms'));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(clock.pendingTimers).toBe(0);
  });

  it("throws the client's close failure when it fails in time", async () => {
    const clock = new VirtualClock();
    const held = heldClient();
    const closing = closeOwnClient(held.client, () => [], clock);
    held.settle.reject(new Error('close failed'));
    await expect(closing).rejects.toThrow('close failed');
  });
});

/**
 * A killCursors on a connection of `client` to a server that stopped answering: it settles only when the client's
 * close fails the command (driver 7.8 closes every connection in use first), or when `monitor()` interrupts it (the
 * pool's monitor, about 20 s later).
 */
function killCursorsOn(client: { readonly closed: Promise<void> }) {
  let interrupt!: () => void;
  const monitored = new Promise<void>((resolve) => (interrupt = resolve));
  const call = Promise.race([client.closed.then(() => Promise.reject(new Error('MongoClientClosedError'))), monitored]);
  return { call, monitor: interrupt };
}

/** A client whose close begins by failing the commands in use, as driver 7.8's does, and then settles. */
function closingClient() {
  let began!: () => void;
  const closed = new Promise<void>((resolve) => (began = resolve));
  let calls = 0;
  return { closed, close: () => (calls++, began(), Promise.resolve()), calls: () => calls };
}

/** A store's close with one killCursors held (`calls`) on `client`, which a silent server does not answer. */
function heldKillCursors() {
  const client = closingClient();
  const calls = new UnboundedCalls();
  const kill = killCursorsOn(client);
  void calls.add(kill.call);
  return { clock: new VirtualClock(), client, calls, kill };
}

describe('closeWhatRemains (the end of MongoStore.close: feeds\u2019 closes and the killCursors it holds)', () => {
  it('closes a client of its own over a killCursors a silent server holds, instead of waiting for the pool\u2019s monitor first', async () => {
    const { clock, client, calls } = heldKillCursors();
    let done: string | undefined;
    void closeWhatRemains(Promise.resolve(), calls, { client, unanswered: () => [] }, clock).then((outcome) => (done = outcome));
    await new Promise((resolve) => setTimeout(resolve, 0)); // its promise callbacks, no time on the clock
    // Before, close() waited for the killCursors (until the monitor, about 20 s) and closed the client after it.
    expect(done).toBe('closed');
    expect(client.calls()).toBe(1);
    expect(calls.held()).toEqual([]); // nothing of the store's left running
    expect(clock.pendingTimers).toBe(0);
  });

  it('ends within CLIENT_CLOSE_WAIT_MS when the client\u2019s close itself waits for a server, a feed\u2019s close too', async () => {
    const clock = new VirtualClock();
    const held = heldClient();
    const calls = new UnboundedCalls();
    void calls.add(new Promise(() => undefined)); // a killCursors still waiting for a connection
    let done: string | undefined;
    void closeWhatRemains(new Promise(() => undefined), calls, { client: held.client, unanswered: () => [] }, clock)
      .then((outcome) => (done = outcome));
    await clock.advance(CLIENT_CLOSE_WAIT_MS - 1);
    expect(done).toBeUndefined();
    await clock.advance(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(done).toBe('late');
    expect(clock.pendingTimers).toBe(0);
  });

  it('waits on an application\u2019s client, which it must not close, for the killCursors it holds', async () => {
    const { clock, client, calls, kill } = heldKillCursors();
    let done: string | undefined;
    const closing = closeWhatRemains(Promise.resolve(), calls, undefined, clock).then((outcome) => (done = outcome));
    await clock.advance(CLIENT_CLOSE_WAIT_MS - 1);
    expect(done).toBeUndefined();
    kill.monitor(); // the pool's monitor interrupts it (a server that stopped answering)
    await expect(closing).resolves.toBe('closed');
    expect(client.calls()).toBe(0);
    expect(calls.held()).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops waiting on an application\u2019s client at CLIENT_CLOSE_WAIT_MS when the server holds a killCursors and a feed\u2019s close', async () => {
    // A server that answers heartbeats but holds a killCursors (a lock, failCommand's blockConnection) is never given
    // up on by the pool's monitor: close() waited as long as the server held it (5 min under the integration test's
    // failCommand), for a call that writes nothing and ends with the application's close of its client.
    const { clock, client, calls, kill } = heldKillCursors();
    let done: string | undefined;
    void closeWhatRemains(new Promise(() => undefined), calls, undefined, clock).then((outcome) => (done = outcome));
    await clock.advance(CLIENT_CLOSE_WAIT_MS - 1);
    expect(done).toBeUndefined();
    await clock.advance(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(done).toBe('late');
    expect(client.calls()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    kill.monitor(); // ends later, caught: nothing unhandled
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(calls.held()).toEqual([]);
  });
});

describe('UnboundedCalls (the driver calls a store holds that take no bound)', () => {
  it('holds each call until it settles, drops its failure, and waits for those added while it waits', async () => {
    const calls = new UnboundedCalls();
    let first!: () => void;
    const failed = calls.add(Promise.reject(new Error('killCursors failed')));
    await expect(failed).resolves.toBeUndefined();
    void calls.add(new Promise<void>((resolve) => (first = resolve)));
    expect(calls.held()).toHaveLength(1);
    let settled = false;
    const all = calls.settled().then(() => void (settled = true));
    let second!: () => void;
    void calls.add(new Promise<void>((resolve) => (second = resolve)));
    first();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(settled).toBe(false); // the one added meanwhile is still running
    second();
    await all;
    expect(calls.held()).toEqual([]);
  });
});

/**
 * A driver cursor as far as its closes go: driver 7.8 adds an abort listener on the signal it is opened with, which
 * closes it (a killCursors nobody holds) unless a close began first (the close disposes the listener). Its closes
 * settle when the test says: a killCursors a silent server does not answer.
 */
function cursorUnder(bound: CursorBound, order: string[]) {
  let closes = 0;
  let settle!: () => void;
  const closing = new Promise<void>((resolve) => (settle = resolve));
  const driverClose = () => {
    if (closes === 0) order.push('driver killCursors');
  };
  bound.signal?.addEventListener('abort', driverClose, { once: true });
  const cursor = {
    close: () => {
      if (closes++ === 0) order.push(bound.signal?.aborted === true ? 'aborted, then closed' : 'closed');
      bound.signal?.removeEventListener('abort', driverClose);
      return closing;
    },
  };
  return { cursor, closes: () => closes, settle };
}

describe('UnboundedCalls.openCursor (every cursor close the store starts is held, and bounded by its read)', () => {
  it('closes a cursor whose read\u2019s signal aborts mid-read itself, before the driver would, and holds that killCursors', async () => {
    // Before, a read's signal (readBound's 35 s, a listing's deadline) made the driver close the cursor by itself: a
    // killCursors with no signal or time limit that nothing held, so close() neither ended nor waited for it.
    const calls = new UnboundedCalls();
    const deadline = new AbortController();
    const order: string[] = [];
    let opened!: ReturnType<typeof cursorUnder>;
    let given!: CursorBound;
    const read = calls.openCursor({ maxTimeMS: READ_MAX_TIME_MS, signal: deadline.signal }, (bound) => {
      given = bound;
      return (opened = cursorUnder(bound, order)).cursor;
    });
    expect(read.cursor).toBe(opened.cursor);
    expect(given.maxTimeMS).toBe(READ_MAX_TIME_MS);
    expect(given.signal).not.toBe(deadline.signal); // a signal of its own, aborted only once the store's close began
    const reason = new DOMException('the read\u2019s bound has passed', 'TimeoutError');
    deadline.abort(reason);
    expect(order).toEqual(['closed']); // the store's close ran first: the driver's listener sent nothing
    expect(given.signal?.reason).toBe(reason);
    expect(mapDriverError(given.signal?.reason, 'reading a history')).toMatchObject({ code: 'store-unreachable', status: 503 });
    expect(calls.held()).toHaveLength(1); // the killCursors, which close() ends or waits for
    await read.close(); // the read's bound has passed: not waited for, not sent twice
    expect(opened.closes()).toBe(1);
    opened.settle();
    await calls.settled();
    expect(calls.held()).toEqual([]);
  });

  it('waits for a read\u2019s close until its signal aborts, no longer, so a held killCursors never keeps the operation past its bound', async () => {
    // queryInstances (a page cut short by size), a listing: before, the operation awaited the killCursors, which a
    // server that stopped answering held about 20 s, until the pool's monitor.
    const clock = new VirtualClock();
    const deadline = new CallDeadline(clock);
    const calls = new UnboundedCalls();
    const order: string[] = [];
    let opened!: ReturnType<typeof cursorUnder>;
    const read = calls.openCursor(deadline.read(), (bound) => (opened = cursorUnder(bound, order)).cursor);
    let answered = false;
    const closed = read.close().then(() => void (answered = true));
    expect(calls.held()).toHaveLength(1);
    await clock.advance(LISTING_DEADLINE_MS - 1);
    expect(answered).toBe(false);
    await clock.advance(1);
    await closed;
    expect(answered).toBe(true);
    expect(order).toEqual(['closed']); // the deadline, once its read was closed, closes nothing again
    expect(opened.closes()).toBe(1);
    expect(calls.held()).toHaveLength(1); // still the store's: close() ends it or waits for it
    deadline.release();
    expect(clock.pendingTimers).toBe(0);
  });

  it('hands a scan\u2019s close (no signal: maxTimeMS alone) to the store at once, and an answered close settles the read at once', async () => {
    // The purgeInstances scan and connect's fill-ins: before, a purge that close() cut short, or a fill-in whose write
    // failed, awaited its killCursors inside the operation (about 20 s on a server that stopped answering).
    const calls = new UnboundedCalls();
    const order: string[] = [];
    let opened!: ReturnType<typeof cursorUnder>;
    let given!: CursorBound;
    const scan = { maxTimeMS: 600_000 } as const;
    const read = calls.openCursor(scan, (bound) => {
      given = bound;
      return (opened = cursorUnder(bound, order)).cursor;
    });
    expect(given).toBe(scan);
    await read.close(); // resolves with its killCursors still unanswered
    await read.close();
    expect(opened.closes()).toBe(1);
    expect(calls.held()).toHaveLength(1);
    opened.settle();
    await calls.settled();
    // With a signal, a close the server answers ends the wait at once; a failed one is dropped.
    const signal = AbortSignal.timeout(READ_MAX_TIME_MS + READ_DEADLINE_MARGIN_MS);
    const failing = calls.openCursor({ maxTimeMS: READ_MAX_TIME_MS, signal }, () => ({ close: () => Promise.reject(new Error('killCursors failed')) }));
    await failing.close();
    const throwing = calls.openCursor({ maxTimeMS: READ_MAX_TIME_MS, signal }, () => ({
      close: (): Promise<void> => {
        throw new Error('not a promise');
      },
    }));
    await throwing.close();
    expect(calls.held()).toEqual([]);
  });

  it('ends a read at its signal when the server holds its getMore, which carries no signal in driver 7.8, and holds that getMore', async () => {
    // Before, a read (a listing at its deadline, readBound's 35 s) mid-getMore waited for the reply: from a server that
    // stopped answering, until the pool's monitor interrupted it, about 20 s past its bound; and a reply that came
    // once the cursor was closed still handed out a document.
    const calls = new UnboundedCalls();
    const clock = new VirtualClock();
    const deadline = new CallDeadline(clock);
    let reply!: (docs: string[]) => void;
    const getMore = new Promise<string[]>((resolve) => (reply = resolve));
    const outcome = calls.within(deadline.signal, getMore).then((docs) => ({ docs }), (error: unknown) => ({ error }));
    await clock.advance(LISTING_DEADLINE_MS);
    const ended = await outcome;
    expect(ended).toMatchObject({ error: { name: 'TimeoutError' } });
    expect(mapDriverError((ended as { error: unknown }).error, 'listing ended instances')).toMatchObject({ code: 'store-unreachable', status: 503 });
    expect(calls.held()).toHaveLength(1); // the getMore, which close() ends or waits for
    reply(['late']); // nobody is handed it
    await calls.settled();
    deadline.release();
    // Settled first, it answers as the read did, and nothing is held; without a signal, the read itself.
    const signal = new AbortController().signal;
    await expect(calls.within(signal, Promise.resolve(['a']))).resolves.toEqual(['a']);
    await expect(calls.within(signal, Promise.reject(new Error('CursorNotFound')))).rejects.toThrow('CursorNotFound');
    const work = Promise.resolve(1);
    expect(calls.within(undefined, work)).toBe(work);
    expect(calls.held()).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ends a read\u2019s session only once the getMore and the killCursors held in it have settled, at once when none is', async () => {
    // Before, the session of a read given up on at its signal (getHistory, a query page, a listing) ended as the call
    // failed: driver 7.8 put its server session back in the pool while the getMore and the killCursors still ran with
    // its lsid, and a killCursors whose command was built after that end was never sent (MongoExpiredSessionError).
    const calls = new UnboundedCalls();
    /** A read in `session` given up on at its signal mid-getMore: its killCursors and its getMore held, unanswered. */
    const givenUp = async (session: object) => {
      const deadline = new AbortController();
      let opened!: ReturnType<typeof cursorUnder>;
      const read = calls.openCursor({ maxTimeMS: READ_MAX_TIME_MS, signal: deadline.signal }, (bound) => (opened = cursorUnder(bound, [])).cursor, session);
      let reply!: (docs: string[]) => void;
      const getMore = new Promise<string[]>((resolve) => (reply = resolve));
      const outcome = calls.within(deadline.signal, getMore, session).then(() => 'answered', () => 'gave up');
      deadline.abort(new DOMException('the read\u2019s bound has passed', 'TimeoutError'));
      expect(await outcome).toBe('gave up');
      await read.close();
      const ends: string[] = [];
      await calls.endAfter(session, async () => void ends.push('ended')); // resolves at once: the call answers
      expect(ends).toEqual([]);
      return { ends, killed: () => opened.settle(), answered: async () => void reply(['late']) };
    };
    // The getMore answers first: the session still ends after the killCursors.
    const first = await givenUp({});
    await first.answered();
    await new Promise((resolve) => setTimeout(resolve, 0)); // what it set off has run
    expect(first.ends).toEqual([]);
    first.killed();
    await calls.settled(); // close() waits for (or ends) the session's end with what it follows
    expect(first.ends).toEqual(['ended']);
    // The killCursors answers first: the session still ends after the getMore.
    const second = await givenUp({});
    second.killed();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(second.ends).toEqual([]);
    await second.answered();
    await calls.settled();
    expect(second.ends).toEqual(['ended']);
    expect(calls.held()).toEqual([]);
    // Nothing held in a session (a read that ended by itself): ended at once, and waited for; a failed end is dropped.
    const ends: string[] = [];
    await calls.endAfter({}, async () => void ends.push('ended'));
    expect(ends).toEqual(['ended']);
    await calls.endAfter({}, () => Promise.reject(new Error('endSessions failed')));
    expect(calls.held()).toEqual([]);
  });

  it('reads a claim\u2019s cursor one document at a time within its signal, and holds its close however the reading ends', async () => {
    // Before, a claim's messages (mergeBySeq over two driver cursors, claimReadBound's signal given to the driver) waited
    // at the signal for a getMore in flight, the driver's own killCursors held by nobody, and a claim stopped early by
    // its byte budget awaited its killCursors inside the claim: each about 20 s on a server that stopped answering.
    const calls = new UnboundedCalls();
    /** A cursor with `docs` in its first batch, then a getMore the test answers (`reply`; spent: none), and a close it settles. */
    const batches = (bound: CursorBound, docs: string[], order: string[], spent = false) => {
      const closes = cursorUnder(bound, order);
      const buffered = [...docs];
      let reply!: (doc: string | null) => void;
      const next = (): Promise<string | null> => buffered.length > 0 ? Promise.resolve(buffered.shift()!)
        : spent ? Promise.resolve(null) : new Promise<string | null>((resolve) => (reply = resolve));
      return { cursor: { ...closes.cursor, next }, closes, reply: (doc: string | null) => reply(doc) };
    };
    // The signal aborts mid-getMore: the read fails at once with its reason, the store's close before the driver's.
    const deadline = new AbortController();
    const session = {};
    const order: string[] = [];
    let first!: ReturnType<typeof batches>;
    const read = calls.documents({ maxTimeMS: READ_MAX_TIME_MS, signal: deadline.signal }, (bound) => (first = batches(bound, ['m1'], order)).cursor, session);
    expect(first).toBeUndefined(); // nothing opened before a document is asked for
    expect(await read.next()).toEqual({ done: false, value: 'm1' });
    let outcome: unknown = 'waiting';
    void read.next().then(() => (outcome = 'answered'), (error: unknown) => (outcome = error));
    const reason = new DOMException('the claim read\u2019s bound has passed', 'TimeoutError');
    deadline.abort(reason);
    await new Promise((resolve) => setTimeout(resolve, 0)); // what the abort set off has run; the getMore never answers
    expect(outcome).toBe(reason);
    expect(order).toEqual(['closed']);
    expect(calls.held()).toHaveLength(2); // the getMore and the killCursors, which close() ends or waits for
    const ends: string[] = [];
    await calls.endAfter(session, async () => void ends.push('ended'));
    first.reply('late');
    first.closes.settle();
    await calls.settled();
    expect(ends).toEqual(['ended']);
    // Stopped early (a byte budget): the close is waited for while the server answers it, not past the signal.
    const bound = new AbortController();
    let second!: ReturnType<typeof batches>;
    const early = calls.documents({ maxTimeMS: READ_MAX_TIME_MS, signal: bound.signal }, (given) => (second = batches(given, ['m1', 'm2'], [])).cursor);
    expect(await early.next()).toEqual({ done: false, value: 'm1' });
    let stopped = false;
    const stop = early.return(undefined).then(() => void (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 0)); // what it set off has run
    expect(stopped).toBe(false);
    expect(second.closes.closes()).toBe(1);
    bound.abort(reason);
    await stop;
    expect(calls.held()).toHaveLength(1); // still the store's
    second.closes.settle();
    // Read to its end: the cursor's close (which sends nothing for a spent cursor) settles the read.
    let third!: ReturnType<typeof batches>;
    const all = calls.documents({ maxTimeMS: READ_MAX_TIME_MS, signal: new AbortController().signal }, (given) => {
      third = batches(given, ['m1'], [], true);
      third.closes.settle();
      return third.cursor;
    });
    const docs: string[] = [];
    for await (const doc of all) docs.push(doc);
    expect(docs).toEqual(['m1']);
    expect(third.closes.closes()).toBe(1);
    await calls.settled();
    expect(calls.held()).toEqual([]);
  });

  it('leaves a cursor a page or a scan stopped reading open for its held close, where the driver\u2019s iteration awaits a killCursors', async () => {
    // Before, queryInstances (a page cut short by size), the purgeInstances scan (cut short by close()) and connect's
    // fill-ins (a failed write) read the cursor with `for await`: driver 7.8's iterator closes the cursor as its consumer
    // stops and awaits that killCursors inside it, about 20 s on a server that stopped answering, before the held close.
    /** A driver cursor as far as reading goes: `next()` over `docs`, and, as driver 7.8's, an iterator whose end awaits its close. */
    const driverCursor = <D>(docs: D[]) => {
      const closes = cursorUnder({ maxTimeMS: READ_MAX_TIME_MS }, []);
      const buffered = [...docs];
      const next = (): Promise<D | null> => Promise.resolve(buffered.shift() ?? null);
      const cursor = {
        ...closes.cursor,
        next,
        async *[Symbol.asyncIterator](): AsyncGenerator<D, void, undefined> {
          try {
            for (let doc = await next(); doc !== null; doc = await next()) yield doc;
          } finally {
            await closes.cursor.close();
          }
        },
      };
      return { cursor, closes };
    };
    const calls = new UnboundedCalls();
    const settledSoon = async (work: Promise<unknown>) => {
      let settled = false;
      void work.then(() => (settled = true), () => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 0)); // what it set off has run; the killCursors never answers
      return settled;
    };
    // A query page cut short by size: the page and the next key are answered, the cursor left to its close.
    const page = driverCursor(['a', 'b', 'c']);
    const paged = readPageWithinBytes(documentsOf(page.cursor), 2, 1_000, () => 1);
    expect(await settledSoon(paged)).toBe(true);
    expect(await paged).toEqual({ page: ['a', 'b'], next: 'c' });
    expect(page.closes.closes()).toBe(0);
    // A scan cut short by close(): StoreClosedError at once; its close, held, is not waited for (no signal).
    const scan = driverCursor(['i1', 'i2', 'i3']);
    const read = calls.openCursor({ maxTimeMS: 600_000 }, () => scan.cursor);
    const purged = (async () => {
      try {
        return await purgeInBatches(documentsOf(read.cursor), 2, async (batch) => batch.length, () => true);
      } finally {
        await read.close();
      }
    })();
    expect(await settledSoon(purged)).toBe(true);
    await expect(purged).rejects.toThrow('The store closed during the purge');
    expect(scan.closes.closes()).toBe(1);
    expect(calls.held()).toHaveLength(1); // the killCursors, which close() ends or waits for
    scan.closes.settle();
    await calls.settled();
  });

  it('waits for work until a signal aborts at most (untilAborted), at once when it has, a failure dropped', async () => {
    const controller = new AbortController();
    let answered = false;
    const held = untilAborted(controller.signal, new Promise(() => undefined)).then(() => void (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(answered).toBe(false);
    controller.abort();
    await held;
    await untilAborted(controller.signal, new Promise(() => undefined));
    await untilAborted(new AbortController().signal, Promise.reject(new Error('killCursors failed')));
  });
});

/** Whether `work` settled once what it set off has run (a macrotask later), however it settled. */
async function settledSoon(work: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void work.then(() => (settled = true), () => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return settled;
}

describe('UnboundedCalls.read (a read that fails ends at once, what it leaves running held)', () => {
  it('fails at once with a getMore\u2019s error, where driver 7.8 awaits its killCursors first, and ends the session after that kill', async () => {
    // Before, a failed getMore (a connection the pool's monitor interrupted) rejected only once the driver's cleanup had
    // sent its killCursors, through server selection (up to serverSelectionTimeoutMS for a server marked Unknown): a
    // history or input read waited for it until readBound's 35 s, a purge scan or a fill-in (no signal) for as long.
    const calls = new UnboundedCalls();
    const lost = new Error('connection 4 to db:27017 closed');
    for (const signal of [new AbortController().signal, undefined]) {
      const events: string[] = [];
      const session = standInSession(false, events);
      let opened!: ReturnType<typeof driverCursor<string>>;
      const read = calls.read({ maxTimeMS: READ_MAX_TIME_MS, ...(signal ? { signal } : {}) }, () => (opened = driverCursor(['e1'], session, events)).cursor, (docs) => allOf(docs, (doc) => doc), session);
      expect(await settledSoon(read)).toBe(false); // the getMore is under way
      opened.fail(lost);
      expect(await settledSoon(read)).toBe(true);
      await expect(read).rejects.toBe(lost);
      expect(events).toEqual(['getMore', 'killCursors']); // the driver's kill, sent once: the store closes nothing again
      expect(calls.held().length).toBeGreaterThan(0); // that kill, which close() ends or waits for
      await calls.endAfter(session, () => session.end());
      expect(events).toEqual(['getMore', 'killCursors']); // not while the kill runs in it
      opened.killed();
      await calls.settled();
      expect(events).toEqual(['getMore', 'killCursors', 'session ended']);
    }
    // A claim's messages, taken one at a time: the same.
    const claimEvents: string[] = [];
    const claimSession = standInSession(false, claimEvents);
    let messages!: ReturnType<typeof driverCursor<string>>;
    const taking = calls.documents({ maxTimeMS: READ_MAX_TIME_MS, signal: new AbortController().signal }, () => (messages = driverCursor(['m1'], claimSession, claimEvents)).cursor, claimSession);
    expect(await taking.next()).toEqual({ done: false, value: 'm1' });
    const taken = taking.next();
    expect(await settledSoon(taken)).toBe(false);
    messages.fail(lost);
    expect(await settledSoon(taken)).toBe(true);
    await expect(taken).rejects.toBe(lost);
    await calls.endAfter(claimSession, () => claimSession.end());
    expect(claimEvents).toEqual(['getMore', 'killCursors']);
    messages.killed();
    await calls.settled();
    expect(claimEvents).toEqual(['getMore', 'killCursors', 'session ended']);
    // A scan in the implicit session its cursor started: the driver ends it after its kill, the store does not before.
    const events: string[] = [];
    const implicit = standInSession(true, events);
    let scan!: ReturnType<typeof driverCursor<string>>;
    const read = calls.read({ maxTimeMS: 600_000 }, () => (scan = driverCursor<string>([], implicit, events)).cursor, (docs) => allOf(docs, (doc) => doc));
    expect(await settledSoon(read)).toBe(false);
    scan.fail(lost);
    expect(await settledSoon(read)).toBe(true);
    await expect(read).rejects.toBe(lost);
    expect(events).toEqual(['getMore', 'killCursors']);
    scan.killed();
    await calls.settled();
    expect(events).toEqual(['getMore', 'killCursors', 'session ended']);
    expect(calls.held()).toEqual([]);
  });

  it('fails at once when a document does not decode, its cursor\u2019s close held and not waited for', async () => {
    // getHistory decodes each event as it is taken. Before, the decode ran as the driver cursor's map, whose failure
    // awaited the cursor's close (a killCursors) inside the read, until readBound's 35 s on a server that stopped answering.
    const calls = new UnboundedCalls();
    const events: string[] = [];
    const session = standInSession(false, events);
    let opened!: ReturnType<typeof driverCursor<string>>;
    const undecodable = new Error('event e2 does not decode');
    const decode = (doc: string) => {
      if (doc === 'e2') throw undecodable;
      return doc.toUpperCase();
    };
    const read = calls.read({ maxTimeMS: READ_MAX_TIME_MS, signal: new AbortController().signal }, () => (opened = driverCursor(['e1', 'e2', 'e3'], session, events)).cursor, (docs) => allOf(docs, decode), session);
    expect(await settledSoon(read)).toBe(true);
    await expect(read).rejects.toBe(undecodable);
    expect(events).toEqual(['killCursors']); // the store's close, held
    expect(calls.held()).toHaveLength(1);
    await calls.endAfter(session, () => session.end());
    expect(events).toEqual(['killCursors']);
    opened.killed();
    await calls.settled();
    expect(events).toEqual(['killCursors', 'session ended']);
    // Read to its end, the decoded documents are the read's answer; each batch's rest taken at once, as the driver's
    // toArray takes it, not by a next() (and a listener on the read's signal) each.
    const whole = driverCursor(['e1', 'e3', 'e4'], standInSession(false, []), []);
    let nexts = 0;
    const next = whole.cursor.next.bind(whole.cursor);
    const counted = { ...whole.cursor, next: () => (nexts++, next()) };
    const answered = calls.read({ maxTimeMS: READ_MAX_TIME_MS, signal: new AbortController().signal }, () => counted, (docs) => allOf(docs, decode));
    expect(await settledSoon(answered)).toBe(false);
    whole.reply(['e5', 'e6']);
    await new Promise((resolve) => setTimeout(resolve, 0));
    whole.reply([]);
    expect(await answered).toEqual(['E1', 'E3', 'E4', 'E5', 'E6']);
    expect(nexts).toBe(3); // e1, e5, and the one that found the cursor spent
  });

  it('runs a read outside a caller\u2019s session in one of its own, ended after the getMore it gave up on, where driver 7.8 ends its implicit one at its kill', async () => {
    // Before, the feeds' batched input reads and the history sweep's chunks ran in the implicit session driver 7.8
    // starts for their cursor: given up on at readBound's signal mid-getMore, the cursor's close ended that session right
    // after its killCursors, its server session back in the pool while the getMore still ran with its lsid.
    const calls = new UnboundedCalls();
    const reason = new DOMException('the read\u2019s bound has passed', 'TimeoutError');
    // As those reads were: the implicit session ends at the kill, the getMore still unanswered.
    const before: string[] = [];
    const first = new AbortController();
    let implicit!: ReturnType<typeof driverCursor<string>>;
    const given = calls.read({ maxTimeMS: READ_MAX_TIME_MS, signal: first.signal }, () => (implicit = driverCursor(['d1'], standInSession(true, before), before)).cursor, (docs) => allOf(docs, (doc) => doc))
      .catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 0));
    first.abort(reason);
    expect(await given).toBe(reason);
    implicit.killed();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(before).toEqual(['getMore', 'killCursors', 'session ended']);
    implicit.reply(['late']);
    await calls.settled();
    // In a session of its own: ended once both the kill and the getMore settled, whichever answers last.
    for (const last of ['getMore', 'killCursors'] as const) {
      const events: string[] = [];
      const signal = new AbortController();
      let own!: ReturnType<typeof driverCursor<string>>;
      const sessions: ReturnType<typeof standInSession>[] = [];
      const read = calls.readInSession(
        () => (sessions.push(standInSession(false, events)), sessions.at(-1)!), (session) => session.end(),
        { maxTimeMS: READ_MAX_TIME_MS, signal: signal.signal }, (_bound, session) => (own = driverCursor(['d1'], session, events)).cursor, (docs) => allOf(docs, (doc) => doc),
      ).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 0));
      signal.abort(reason);
      expect(await read).toBe(reason); // at once: the call answers
      if (last === 'getMore') own.killed();
      else own.reply(['late']);
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(events).toEqual(['getMore', 'killCursors']);
      if (last === 'getMore') own.reply(['late']);
      else own.killed();
      await calls.settled();
      expect(events).toEqual(['getMore', 'killCursors', 'session ended']);
      expect(sessions).toHaveLength(1);
    }
    // Read to its end: its session ends with the read.
    const events: string[] = [];
    let whole!: ReturnType<typeof driverCursor<string>>;
    const read = calls.readInSession(
      () => standInSession(false, events), (session) => session.end(), { maxTimeMS: READ_MAX_TIME_MS, signal: new AbortController().signal },
      (_bound, session) => (whole = driverCursor(['d1'], session, events)).cursor, (docs) => allOf(docs, (doc) => doc),
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    whole.reply([]);
    expect(await read).toEqual(['d1']);
    expect(events).toEqual(['getMore', 'session ended']);
    expect(calls.held()).toEqual([]);
  });

  it('hands a listing that failed at its deadline no document a late getMore reply brings, so nothing is decoded or logged after it', async () => {
    // Before, the listing's reading went on, held, once its call had failed with a 503: a late getMore reply was handed
    // to it, each of its documents decoded (one that does not decode logged as left out of the listing) and its repairs
    // sent past the deadline (each batch logged as failed), for a listing nobody waited for any more.
    const calls = new UnboundedCalls();
    const clock = new VirtualClock();
    const deadline = new CallDeadline(clock);
    const events: string[] = [];
    const session = standInSession(false, events);
    let opened!: ReturnType<typeof driverCursor<string>>;
    const decoded: string[] = [];
    let given!: Parameters<Parameters<typeof calls.read<ReturnType<typeof driverCursor<string>>['cursor'], unknown>>[2]>[0];
    const query = { runtimeStatus: 'Completed', endedTo: new Date(0), limit: 10 } as const;
    type Doc = { readonly _id: string; readonly state: string };
    const listing = endedPage<Doc>(
      (_from, limit, use) => calls.read(
        deadline.read(),
        () => (opened = driverCursor(['d1'], session, events)).cursor,
        (docs) => (given = docs, use(upTo(async () => {
          const id = await docs.next();
          return id === null ? null : { _id: id, state: '' };
        }, limit))),
        session,
      ),
      query,
      (doc) => void decoded.push(doc._id), // as a document that does not decode: logged, left out
      async () => undefined,
    ).then(() => 'listed', (error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(decoded).toEqual(['d1']);
    await clock.advance(LISTING_DEADLINE_MS);
    expect(await listing).toMatchObject({ name: 'TimeoutError' });
    opened.reply(['late1', 'late2']); // the held getMore's reply, after the call failed
    opened.killed();
    await calls.settled();
    expect(decoded).toEqual(['d1']);
    expect(given.buffered?.()).toEqual([]); // the late reply's documents, buffered by the cursor, go to nobody
    await expect(given.next()).rejects.toMatchObject({ name: 'TimeoutError' });
    await calls.endAfter(session, () => session.end());
    expect(events).toEqual(['getMore', 'killCursors', 'session ended']);
    deadline.release();
    expect(clock.pendingTimers).toBe(0);
  });
});

/**
 * A cursor of the installed driver, as `collection.find` makes them, on a client that is never connected (nothing
 * below sends a command), and set as driver 7.8's `cursorInit` leaves one after a find whose first batch was empty and
 * whose server cursor stays open (`cursorId`, read in abstract_cursor.js); no server selected, so its `getMore` fails
 * at once at its own check ('Unexpected null selectedServer').
 */
function installedDriverCursor(client: MongoClient, limit?: number): FindCursor {
  const cursor = client.db('unwatched').collection('c').find({}, limit === undefined ? {} : { limit });
  Reflect.set(cursor, 'cursorId', Long.fromNumber(42));
  return cursor;
}

describe('watchGetMore (a failed getMore seen as it fails, on the installed driver\u2019s cursor)', () => {
  it('sees the installed driver\u2019s FindCursor getMore fail before the driver\u2019s cleanup starts, and passes every reply on as it is', async () => {
    // The store learns of a failed getMore from the cursor's internal getMore (driver 7.8's fetchBatch awaits its
    // killCursors before next() rejects). A driver that renames it, stops calling it from next(), or cleans up before
    // its rejection is seen fails here, not quietly in production.
    const client = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=200');
    try {
      const cursor = installedDriverCursor(client);
      const seen: { error: unknown; closed: boolean; killed: boolean }[] = [];
      expect(watchGetMore(cursor, (error) => seen.push({ error, closed: cursor.closed, killed: cursor.killed }))).toBe(true);
      const failed = cursor.next();
      await expect(failed).rejects.toThrow(/selectedServer/);
      const error = await failed.catch((reason: unknown) => reason);
      expect(seen).toEqual([{ error, closed: false, killed: false }]); // the same error, seen before cleanup closed the cursor
      expect(cursor.closed).toBe(true); // the driver's own cleanup ran after it, as before
      // A getMore that answers (driver 7.8 answers one past a find's limit itself, with an empty batch): handed to the
      // driver as it is, which ends the cursor; nothing is reported.
      const limited = installedDriverCursor(client, 1);
      Reflect.set(limited, 'numReturned', 1);
      const reported: unknown[] = [];
      expect(watchGetMore(limited, (reason) => reported.push(reason))).toBe(true);
      await expect(limited.next()).resolves.toBeNull();
      expect(limited.closed).toBe(true);
      expect(reported).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('tells the store once when a driver cursor has no getMore to watch, and reads it as before', async () => {
    // Another driver version (the peer range allows later 7.x) without the method: the reads still work, failing at a
    // failed getMore as the driver's next() does, and the store logs once that they wait for the driver's cleanup.
    const client = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=200');
    try {
      const warnings: string[] = [];
      const calls = new UnboundedCalls((warning) => warnings.push(warning));
      const withoutGetMore = () => {
        const cursor = installedDriverCursor(client);
        Object.defineProperty(cursor, 'getMore', { value: undefined });
        return cursor;
      };
      await expect(calls.read({ maxTimeMS: READ_MAX_TIME_MS }, withoutGetMore, (docs) => allOf(docs))).rejects.toThrow();
      await expect(calls.read({ maxTimeMS: READ_MAX_TIME_MS }, withoutGetMore, (docs) => allOf(docs))).rejects.toThrow();
      expect(warnings).toEqual([UNWATCHABLE_GETMORE]);
      // A driver cursor with one, and a stand-in without one, tell nothing.
      const quiet: string[] = [];
      const watched = new UnboundedCalls((warning) => quiet.push(warning));
      await expect(watched.read({ maxTimeMS: READ_MAX_TIME_MS }, () => installedDriverCursor(client), (docs) => allOf(docs))).rejects.toThrow(/selectedServer/);
      await expect(watched.read({ maxTimeMS: READ_MAX_TIME_MS }, () => ({ next: async () => null, close: async () => undefined }), (docs) => allOf(docs))).resolves.toEqual([]);
      expect(quiet).toEqual([]);
      await calls.settled();
      await watched.settled();
    } finally {
      await client.close();
    }
  });
});
