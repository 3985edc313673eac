import { EventEmitter } from 'node:events';
import { MongoClient, Timestamp, type ChangeStream, type ChangeStreamOptions, type Document } from 'mongodb';
import { filter, firstValueFrom, of } from 'rxjs';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ChangeEventLike } from '../src/change-events.js';
import { ChangeFeed, FeedReadError, type ChangeFeedOptions } from '../src/change-feed.js';
import { mapDriverError } from '../src/map-driver-error.js';
import type { ResumePoint } from '../src/resume-policy.js';
import { announceSkip, MONGODB_URI, testDatabase } from './support/integration.js';

// A real driver and a real refusal (nothing listens on 127.0.0.1:1): every stream the feed opens fails before it
// delivers a resume token, so a reopen can start only at an operation time it knows, or from now with a resync. The
// feed's own back-off and linger run on a virtual clock: a reopen happens only when the test advances it.

describe('change feed against a server that refuses (real driver)', () => {
  const client = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=200');
  const collection = client.db('feed-test').collection('instances');
  afterAll(() => client.close());

  const MAX_DELAY_MS = 5_000;

  /** A feed on the refusing server; `openedAt` is the start time it is given, or a function that tells it. */
  function feedOn(
    openedAt: Timestamp | undefined | (() => Timestamp | undefined), lingerMs = 0,
    on: { readonly client?: MongoClient; readonly giveUp?: (error: unknown) => unknown } = {},
  ) {
    const watched = on.client ? on.client.db('feed-test').collection('instances') : collection;
    const clock = new VirtualClock();
    const points: (ResumePoint | undefined)[] = [];
    const failures: string[] = [];
    let notify: (() => void) | undefined;
    const failed = (message: string) => {
      failures.push(message);
      notify?.();
    };
    const feed = new ChangeFeed<ChangeEventLike, string>({
      name: 'test feed',
      watch: (point) => {
        points.push(point);
        return watched.watch<Document, ChangeEventLike>([], { ...point } as ChangeStreamOptions);
      },
      map: () => 'change',
      startTime: typeof openedAt === 'function' ? openedAt : () => openedAt,
      resync: () => of('resync'),
      logger: { warn: failed, error: failed },
      policy: { initialDelayMs: 1_000, maxDelayMs: MAX_DELAY_MS, maxPersistentFailures: 3 },
      lingerMs,
      clock,
      hold: () => undefined,
      ...(on.giveUp ? { giveUp: on.giveUp } : {}),
    });
    /** Resolves once the feed has reported `n` failures (it reports each one before reopening). */
    const failuresReached = (n: number) => new Promise<void>((resolve) => {
      notify = () => {
        if (failures.length >= n) resolve();
      };
      notify();
    });
    /** After a reported failure: the reopen is armed on the clock; fire it. */
    const reopen = async () => {
      await clock.waitForTimer();
      await clock.advance(MAX_DELAY_MS);
    };
    return { feed, points, failures, failuresReached, reopen, clock };
  }

  it('opens at the captured operation time, and reopens there after a failure before any token: nothing missed, no resync', async () => {
    const openedAt = new Timestamp({ t: 1_700_000_000, i: 7 });
    const { feed, points, failures, failuresReached, reopen } = feedOn(openedAt);
    const values: string[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    try {
      expect(points).toEqual([{ startAtOperationTime: openedAt }]);
      await failuresReached(1);
      expect(points).toHaveLength(1); // the reopen waits for its back-off on the clock
      await reopen();
      await failuresReached(2);
      expect(points).toHaveLength(2);
      for (const point of points) expect(point).toEqual({ startAtOperationTime: openedAt });
      expect(failures[0]).toContain('resuming where it stopped');
      expect(values).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
    expect(feed.isActive).toBe(false);
  });

  it('reopens from now with a resync when it never knew a position', async () => {
    const { feed, points, failures, failuresReached, reopen } = feedOn(undefined);
    const subscription = feed.events$.subscribe();
    const resynced = firstValueFrom(feed.events$.pipe(filter((value) => value === 'resync')));
    try {
      expect(points).toEqual([undefined]);
      await failuresReached(1);
      await reopen();
      // Workers rescan / status subscribers re-read: the feed emits what `resync` gives once it reopened.
      expect(await resynced).toBe('resync');
      expect(failures[0]).toContain('restarting from now and re-reading');
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('a refresh of a stream that knows no position yet reopens with a resync, never from the present alone', async () => {
    // Opened at the server's present (no operation time known) and not answered yet: no token. A new stream opened at
    // the present would skip what was committed in between, and a watcher could stay on a stale status for good.
    const { feed, points, failures, clock } = feedOn(undefined);
    const values: string[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    try {
      expect(points).toEqual([undefined]);
      feed.refresh();
      feed.refresh(); // calls in one tick reopen once
      await clock.waitForTimer();
      await clock.advance(0);
      expect(points).toEqual([undefined, undefined]);
      expect(values).toEqual(['resync']);
      expect(failures[0]).toContain('knows no position yet');
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('a refresh of a stream that knows no position yet, once an operation time is known, reopens there with a resync and no warning', async () => {
    // Opened at the server's present; by the refresh the process has learned a majority-committed time (a heartbeat,
    // its own commit). The new stream opens there and the resync re-reads what came before: nothing can fall in
    // between, so this routine reopen (one per newly watched instance) is not reported as a possible loss.
    let known: Timestamp | undefined;
    const { feed, points, failures, clock } = feedOn(() => known);
    const values: string[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    try {
      expect(points).toEqual([undefined]);
      known = new Timestamp({ t: 1_700_000_000, i: 5 });
      feed.refresh();
      await clock.waitForTimer();
      await clock.advance(0);
      expect(points).toEqual([undefined, { startAtOperationTime: known }]);
      expect(values).toEqual(['resync']);
      // The refusing server's own failures, if one came meanwhile, are not what this checks.
      expect(failures.filter((message) => message.includes('knows no position'))).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('a refresh of a stream opened at a known operation time reopens there, with no resync', async () => {
    const openedAt = new Timestamp({ t: 1_700_000_000, i: 3 });
    const { feed, points, failures } = feedOn(openedAt);
    const values: string[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    try {
      feed.refresh();
      feed.refresh();
      await Promise.resolve();
      expect(points).toEqual([{ startAtOperationTime: openedAt }, { startAtOperationTime: openedAt }]);
      expect(values).toEqual([]);
      expect(failures).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('closes its stream when the last subscriber leaves (no linger) and completes on close', async () => {
    const { feed } = feedOn(new Timestamp({ t: 1, i: 1 }));
    const subscription = feed.events$.subscribe();
    expect(feed.isActive).toBe(true);
    subscription.unsubscribe();
    expect(feed.isActive).toBe(false);
    let completed = false;
    feed.events$.subscribe({ complete: () => (completed = true) }).unsubscribe();
    await feed.close();
    feed.events$.subscribe({ complete: () => (completed = true) });
    expect(completed).toBe(true);
  });

  it('lingers after the last subscriber left, so a quick re-subscribe reuses the stream', async () => {
    const { feed } = feedOn(new Timestamp({ t: 1, i: 1 }), 60_000);
    feed.events$.subscribe().unsubscribe();
    expect(feed.isActive).toBe(true);
    const again = feed.events$.subscribe();
    expect(feed.isActive).toBe(true);
    again.unsubscribe();
    await feed.close();
    expect(feed.isActive).toBe(false);
  });

  it('closes a lingering stream once lingerMs has passed on its clock', async () => {
    const { feed, clock } = feedOn(new Timestamp({ t: 1, i: 1 }), 60_000);
    try {
      feed.events$.subscribe().unsubscribe();
      await clock.advance(59_999);
      expect(feed.isActive).toBe(true);
      await clock.advance(1);
      expect(feed.isActive).toBe(false);
    } finally {
      await feed.close();
    }
  });

  it('gives up a status feed after repeated persistent failures: subscribers get the typed error, a new one starts over', async () => {
    // A client the application closed: every stream fails with the driver's own closed-client error, which no retry heals.
    const closed = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=200');
    await closed.close();
    const { feed, points, failuresReached, reopen } = feedOn(new Timestamp({ t: 1, i: 1 }), 0, {
      client: closed, giveUp: (error) => mapDriverError(error, 'watching status changes'),
    });
    let ended: unknown;
    const subscription = feed.events$.subscribe({ error: (error: unknown) => (ended = error) });
    try {
      await failuresReached(1);
      await reopen();
      await failuresReached(2);
      await reopen();
      await failuresReached(3); // the third consecutive persistent failure: maxPersistentFailures
      expect(ended).toMatchObject({ code: 'store-closed' });
      expect(feed.isActive).toBe(false);
      expect(points).toHaveLength(3);
      // A later subscriber opens a stream again (and would get the next error after its own retries).
      const again = feed.events$.subscribe({ error: () => undefined });
      expect(points).toHaveLength(4);
      again.unsubscribe();
      expect(feed.isActive).toBe(false);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('never gives up a feed without giveUp (the wake-up feed): it keeps retrying at the longest delay', async () => {
    const closed = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=200');
    await closed.close();
    const { feed, points, failuresReached, reopen } = feedOn(new Timestamp({ t: 1, i: 1 }), 0, { client: closed });
    let ended = false;
    const subscription = feed.events$.subscribe({ error: () => (ended = true) });
    try {
      for (let n = 1; n <= 5; n++) {
        await failuresReached(n);
        await reopen();
      }
      await failuresReached(6);
      expect(ended).toBe(false);
      expect(points.length).toBeGreaterThanOrEqual(6);
      expect(feed.isActive).toBe(true);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });
});


/**
 * A change stream that hands out what a test scripts, as the driver's iterator does: `next()` returns the next event
 * of the batch it holds (caching its position first: `resumeTokenChanged`), waits while there is none, and rejects
 * once the stream is closed or the driver gave up (`fail`). For what the feed does with the tokens of the events it got
 * and how it paces its reads, which a refusing server cannot show. Nothing here stands in for the database in a store test.
 */
class ScriptedStream extends EventEmitter {
  resumeToken: unknown = null;
  closed = false;
  /** How many times the feed asked for an event; one asked for past a drained batch is a getMore. */
  nexts = 0;
  readonly #batch: { readonly event: ChangeEventLike; readonly cached: unknown }[] = [];
  #waiting: { readonly resolve: (event: ChangeEventLike) => void; readonly reject: (error: unknown) => void } | undefined;
  #failure: unknown;

  /** Delivers `event` as a batch of its own; the driver caches `cached` (the event's own token, or the batch's high-water token). */
  deliver(event: ChangeEventLike, cached: unknown = event._id): void {
    this.deliverBatch([{ event, cached }]);
  }

  /** Delivers the events of one getMore's batch, each caching its own token unless it says otherwise. */
  deliverBatch(batch: readonly (ChangeEventLike | { readonly event: ChangeEventLike; readonly cached: unknown })[]): void {
    for (const item of batch) this.#batch.push('event' in item ? item : { event: item, cached: item._id });
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    this.#waiting = undefined;
    waiting.resolve(this.#take());
  }

  /** An empty batch's high-water token (a getMore that found nothing new). */
  advance(token: unknown): void {
    this.resumeToken = token;
    this.emit('resumeTokenChanged', token);
  }

  /** The driver gives up on the stream (a non-resumable error, or a resume that failed): `next()` rejects with `error`. */
  fail(error: unknown): void {
    this.#failure = error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }

  next(): Promise<ChangeEventLike> {
    this.nexts++;
    if (this.closed) return Promise.reject(new Error('ChangeStream is closed'));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#batch.length > 0) return Promise.resolve(this.#take());
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  bufferedCount(): number {
    return this.#batch.length;
  }

  close(): Promise<void> {
    this.closed = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(new Error('ChangeStream is closed'));
    return Promise.resolve();
  }

  #take(): ChangeEventLike {
    const { event, cached } = this.#batch.shift()!;
    this.resumeToken = cached;
    this.emit('resumeTokenChanged', cached);
    return event;
  }
}

/** Lets every pending promise reaction run (the feed reads its stream in an async loop). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('change feed: where a refresh resumes (scripted stream)', () => {
  function scriptedFeed(options: Partial<ChangeFeedOptions<ChangeEventLike, unknown>> = {}) {
    const streams: ScriptedStream[] = [];
    const opens: { point: ResumePoint | undefined; resumeEvent: ChangeEventLike | undefined }[] = [];
    const logged: string[] = [];
    const clock = new VirtualClock();
    const feed = new ChangeFeed<ChangeEventLike, unknown>({
      name: 'scripted feed',
      watch: (point, resumeEvent) => {
        opens.push({ point, resumeEvent });
        const stream = new ScriptedStream();
        streams.push(stream);
        return stream as unknown as ChangeStream<Document, ChangeEventLike>;
      },
      map: (event) => event,
      startTime: () => new Timestamp({ t: 1_700_000_000, i: 1 }),
      resync: () => of(),
      logger: { warn: (message) => void logged.push(message), error: (message) => void logged.push(message) },
      policy: { initialDelayMs: 1_000, maxDelayMs: 5_000, maxPersistentFailures: 3 },
      lingerMs: 0,
      clock,
      hold: () => undefined,
      ...options,
    });
    /** Refreshes and waits for the reopen (one microtask). */
    const refreshed = async () => {
      feed.refresh();
      await Promise.resolve();
    };
    return { feed, streams, opens, logged, refreshed, clock };
  }
  const ofX = { _id: { _data: '8201' }, operationType: 'update', documentKey: { _id: 'x' }, updateDescription: { updatedFields: { state: '{}' } } };

  it('resumes after an event by its own token with that event, so the new pipeline can still let it through', async () => {
    // A refresh in the middle of a batch (or after a batch cut by size): the position is the event's own token. The
    // pipeline built for the reopen gets the event, so a $match rebuilt for other instances still finds the token.
    const { feed, streams, opens, logged, refreshed } = scriptedFeed();
    const subscription = feed.events$.subscribe();
    try {
      streams[0]!.deliver(ofX);
      await flush();
      await refreshed();
      expect(opens[1]).toEqual({ point: { resumeAfter: ofX._id }, resumeEvent: ofX });
      expect(streams[0]!.closed).toBe(true);
      expect(logged).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('hands every stream close it does not wait for to its owner (hold), so none goes on past the store\u2019s close()', async () => {
    // A close is a killCursors, which driver 7.8 sends with no signal or time limit. Before, a reopen's and a last
    // unsubscribe's went on unawaited by anyone: MongoStore.close() could neither wait for nor end them.
    const held: Promise<void>[] = [];
    const { feed, streams, refreshed } = scriptedFeed({ hold: (closing) => void held.push(closing) });
    const subscription = feed.events$.subscribe();
    streams[0]!.deliver(ofX);
    await flush();
    await refreshed();
    expect(streams[0]!.closed).toBe(true);
    expect(held).toHaveLength(1); // the replaced stream's close
    subscription.unsubscribe();
    expect(streams[1]!.closed).toBe(true);
    expect(held).toHaveLength(2); // the last subscriber left: the stream's close
    await feed.close();
    await Promise.all(held);
  });

  it('completes its subscribers when closed, without waiting for its stream\u2019s close, which a server may hold', async () => {
    // A close is a killCursors (no signal or time limit in driver 7.8). MongoStore.close() stops waiting for it after
    // CLIENT_CLOSE_WAIT_MS; before, the store's changes$ subscribers completed only once the server let it go.
    const held: Promise<void>[] = [];
    const { feed, streams } = scriptedFeed({ hold: (closing) => void held.push(closing) });
    let completed = false;
    const subscription = feed.events$.subscribe({ complete: () => void (completed = true) });
    const stream = streams[0]!;
    const closeStream = stream.close.bind(stream);
    let killEnds!: () => void;
    stream.close = () => {
      void closeStream();
      return new Promise<void>((resolve) => (killEnds = resolve));
    };
    let closed = false;
    const closing = feed.close().then(() => void (closed = true));
    await flush();
    expect(completed).toBe(true);
    expect(held).toHaveLength(1); // the killCursors, still held by the store
    expect(closed).toBe(false);
    killEnds();
    await closing;
    subscription.unsubscribe();
  });

  it('resumes at the high-water token of a drained batch, which needs no event kept in the pipeline', async () => {
    const { feed, streams, opens, refreshed } = scriptedFeed();
    const subscription = feed.events$.subscribe();
    try {
      const highWater = { _data: '8202' };
      streams[0]!.deliver(ofX, highWater); // the batch's last event: the driver caches postBatchResumeToken
      await flush();
      await refreshed();
      expect(opens[1]).toEqual({ point: { resumeAfter: highWater }, resumeEvent: undefined });
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('lets the event go once a later empty batch moved the position past it', async () => {
    const { feed, streams, opens, refreshed } = scriptedFeed();
    const subscription = feed.events$.subscribe();
    try {
      streams[0]!.deliver(ofX);
      await flush();
      const later = { _data: '8203' };
      streams[0]!.advance(later);
      await refreshed();
      expect(opens[1]).toEqual({ point: { resumeAfter: later }, resumeEvent: undefined });
      // The same position as a driver's copy of the token (another object, same _data) keeps the event.
      streams[1]!.deliver(ofX);
      await flush();
      streams[1]!.advance({ _data: ofX._id._data });
      await refreshed();
      expect(opens[2]).toEqual({ point: { resumeAfter: { _data: ofX._id._data } }, resumeEvent: ofX });
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('asks for the next batch only once every event of the last one is mapped and delivered', async () => {
    // A status event's mapping may read (an input the cache misses). While the reads of one batch are pending the feed
    // sends no getMore: the events in memory are one batch, however fast commits arrive and however slow the reads.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const mapping: string[] = [];
    const map = async (event: ChangeEventLike) => {
      mapping.push(String(event.documentKey?._id));
      await gate;
      return event.documentKey?._id;
    };
    const { feed, streams } = scriptedFeed({ map });
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    const change = (id: string, data: string) => ({ ...ofX, _id: { _data: data }, documentKey: { _id: id } });
    try {
      const stream = streams[0]!;
      await flush();
      expect(stream.nexts).toBe(1); // waiting for the first batch
      stream.deliverBatch([change('a', '8301'), change('b', '8302'), change('c', '8303')]);
      await flush();
      // The whole batch is handed over at once (its reads run together), nothing is delivered yet, and the feed does
      // not ask past the drained batch: three events taken, no fourth next() (the getMore) sent.
      expect(mapping).toEqual(['a', 'b', 'c']);
      expect(values).toEqual([]);
      expect(stream.nexts).toBe(3);
      stream.deliverBatch([change('d', '8304')]); // more is committed meanwhile: the server holds it
      await flush();
      expect(mapping).toEqual(['a', 'b', 'c']);
      expect(stream.nexts).toBe(3);
      release();
      await flush();
      expect(values).toEqual(['a', 'b', 'c', 'd']);
      expect(stream.nexts).toBe(5); // d, then waiting for the next batch
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
    expect(streams.every((stream) => stream.closed)).toBe(true);
  });

  it('ends a feed that may end when an event\u2019s lookup kept failing: neither that event nor a later one is delivered', async () => {
    const readFailed = new Error('input read failed');
    const map = (event: ChangeEventLike) => {
      const id = String(event.documentKey?._id);
      return id === 'b' ? Promise.reject(new FeedReadError('reading the input of b failed', { cause: readFailed })) : Promise.resolve(id);
    };
    const giveUp = (error: unknown) => new Error('given up', { cause: error });
    const { feed, streams, logged } = scriptedFeed({ map, giveUp });
    const values: unknown[] = [];
    let failure: unknown;
    const subscription = feed.events$.subscribe({ next: (value) => values.push(value), error: (error: unknown) => void (failure = error) });
    const change = (id: string, data: string) => ({ ...ofX, _id: { _data: data }, documentKey: { _id: id } });
    try {
      streams[0]!.deliverBatch([change('a', '8401'), change('b', '8402'), change('c', '8403')]);
      await flush();
      expect(values).toEqual(['a']);
      expect((failure as Error).message).toBe('given up');
      expect((failure as Error).cause).toBe(readFailed);
      expect(streams[0]!.closed).toBe(true);
      expect(logged.some((message) => message.includes('reading the input of b failed') && message.includes('giving up'))).toBe(true);
      // A new subscriber opens a new stream, whose events are delivered.
      const again: unknown[] = [];
      const next = feed.events$.subscribe((value) => again.push(value));
      streams[1]!.deliver(change('d', '8404'));
      await flush();
      next.unsubscribe();
      expect(again).toEqual(['d']);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('reopens a feed that never ends from now with a resync when an event\u2019s lookup kept failing', async () => {
    const map = (event: ChangeEventLike) => {
      const id = String(event.documentKey?._id);
      return id === 'b' ? Promise.reject(new FeedReadError('reading b failed', { cause: new Error('down') })) : Promise.resolve(id);
    };
    const { feed, streams, opens, clock } = scriptedFeed({ map, resync: () => of('re-read') });
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    const change = (id: string, data: string) => ({ ...ofX, _id: { _data: data }, documentKey: { _id: id } });
    try {
      streams[0]!.deliverBatch([change('a', '8501'), change('b', '8502'), change('c', '8503')]);
      await flush();
      expect(values).toEqual(['a']);
      await clock.waitForTimer();
      await clock.advance(5_000);
      expect(opens).toHaveLength(2);
      expect(opens[1]!.point).toEqual({ startAtOperationTime: new Timestamp({ t: 1_700_000_000, i: 1 }) });
      expect(values).toEqual(['a', 're-read']);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('a stream closed while the feed waits for its next event ends its reader: nothing delivered after close', async () => {
    const { feed, streams } = scriptedFeed();
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    await flush();
    subscription.unsubscribe(); // no linger: the stream is closed, its pending next() rejects and is ignored
    await feed.close();
    streams[0]!.deliver(ofX);
    await flush();
    expect(streams[0]!.closed).toBe(true);
    expect(values).toEqual([]);
    expect(feed.isActive).toBe(false);
  });

  it('with resyncOnResume (the wake-up feed), emits the resync at every reopen after a failure, also one that resumes', async () => {
    // While the stream keeps failing it delivers nothing; an idle worker rescans at each attempt instead of never.
    const { feed, streams, opens, clock } = scriptedFeed({ resync: () => of('rescan'), resyncOnResume: true });
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    try {
      for (let attempt = 1; attempt <= 3; attempt++) {
        streams[attempt - 1]!.fail(Object.assign(new Error('connection reset'), { name: 'MongoNetworkError' }));
        await clock.waitForTimer();
        await clock.advance(5_000);
        expect(opens).toHaveLength(attempt + 1);
        expect(opens[attempt]!.point).toEqual({ startAtOperationTime: new Timestamp({ t: 1_700_000_000, i: 1 }) });
        expect(values).toEqual(Array.from({ length: attempt }, () => 'rescan'));
      }
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('after ChangeStreamHistoryLost at its start time, reopens at the server\u2019s present with a resync, not at that time again', async () => {
    // The latest majority time this process knows can be older than the oplog (a process suspended past the oplog
    // window, a mongos whose majority reads keep failing): a stream opened there fails with 286 before any token, and
    // opened there again it fails the same way, at every attempt, for good.
    let known = new Timestamp({ t: 1_700_000_000, i: 1 });
    const { feed, streams, opens, logged, clock } = scriptedFeed({ startTime: () => known, resync: () => of('re-read') });
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    const historyLost = () => Object.assign(new Error('Resume of change stream was not possible, as the resume point may no longer be in the oplog'), {
      name: 'MongoServerError', code: 286, codeName: 'ChangeStreamHistoryLost',
    });
    try {
      expect(opens[0]!.point).toEqual({ startAtOperationTime: known });
      streams[0]!.emit('error', historyLost());
      await clock.waitForTimer();
      await clock.advance(5_000);
      expect(opens).toHaveLength(2);
      expect(opens[1]!.point).toBeUndefined(); // the server's present
      expect(values).toEqual(['re-read']);
      expect(logged.at(-1)).toContain('at the server\u2019s present');
      // That stream has a position once it answered; a later loss of it reopens "from now" as ever, at a newer time
      // when one is known by then.
      streams[1]!.advance({ _data: '8210' });
      known = new Timestamp({ t: 1_700_000_100, i: 1 });
      streams[1]!.emit('error', historyLost());
      await clock.waitForTimer();
      await clock.advance(5_000);
      expect(opens[2]!.point).toEqual({ startAtOperationTime: known });
      expect(values).toEqual(['re-read', 're-read']);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('a start time the server refused is not used by a later first subscriber either, until a newer one is known', async () => {
    let known = new Timestamp({ t: 1_700_000_000, i: 1 });
    const { feed, streams, opens, clock } = scriptedFeed({ startTime: () => known });
    const first = feed.events$.subscribe();
    streams[0]!.emit('error', Object.assign(new Error('history lost'), { code: 286 }));
    await clock.waitForTimer();
    first.unsubscribe(); // no linger: the stream closes, the reopen is cancelled
    const second = feed.events$.subscribe();
    try {
      expect(opens.at(-1)!.point).toBeUndefined();
      second.unsubscribe();
      known = new Timestamp({ t: 1_700_000_000, i: 2 });
      const third = feed.events$.subscribe();
      expect(opens.at(-1)!.point).toEqual({ startAtOperationTime: known });
      third.unsubscribe();
    } finally {
      await feed.close();
    }
  });

  it('without it (the status feeds), a failure that resumes from the token re-reads nothing', async () => {
    const { feed, streams, opens, clock } = scriptedFeed({ resync: () => of('re-read') });
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    try {
      streams[0]!.fail(Object.assign(new Error('connection reset'), { name: 'MongoNetworkError' }));
      await clock.waitForTimer();
      await clock.advance(5_000);
      expect(opens).toHaveLength(2);
      expect(values).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });
});

announceSkip('change-feed.test.ts');

describe.skipIf(!MONGODB_URI)('change feed on MONGODB_URI: back-pressure (integration)', () => {
  const db = testDatabase('feed');

  it('sends no getMore while the events of the last batch are still being mapped', async () => {
    // One connection: the pool hands it out in the order it was asked for (the CMAP spec's fair wait queue), so every
    // command below waits behind a getMore the feed already asked for. A reader that does not wait for its mappings
    // asks for the next batch as soon as it takes 'a'; that getMore then starts before the insert of 'b' and 'c' does,
    // and its next one before the witness stream below opens. So once the witness holds 'b' and 'c', such a reader has
    // sent a getMore, and received 'b' and 'c', however slow the machine; a reader that waits has sent none.
    const client = new MongoClient(MONGODB_URI ?? '', { monitorCommands: true, maxPoolSize: 1 });
    const name = `${db.prefix('pace')}instances`;
    let feedCursor: string | undefined; // the feed's cursor: the only one on this collection until the witness opens
    const feedRequests = new Set<number>();
    const feedBatches: unknown[][] = [];
    client.on('commandStarted', (event) => {
      if (event.commandName !== 'getMore' || event.command['collection'] !== name) return;
      const cursor = String(event.command['getMore']);
      feedCursor ??= cursor;
      if (cursor === feedCursor) feedRequests.add(event.requestId);
    });
    client.on('commandSucceeded', (event) => {
      if (!feedRequests.has(event.requestId)) return;
      const batch = (event.reply as { cursor?: { nextBatch?: ChangeEventLike[] } }).cursor?.nextBatch ?? [];
      feedBatches.push(batch.map((change) => change.documentKey?._id));
    });
    const collection = client.db(db.name).collection<{ _id: string }>(name);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const mapping: unknown[] = [];
    let tokenOfA: ChangeEventLike['_id'] | undefined;
    const feed = new ChangeFeed<ChangeEventLike, unknown>({
      name: 'paced feed',
      // A short await time: a reader that does not wait for its mappings sends a getMore at least every 50 ms.
      watch: (point) => collection.watch<Document, ChangeEventLike>([], { ...point, maxAwaitTimeMS: 50 } as ChangeStreamOptions),
      map: async (event) => {
        mapping.push(event.documentKey?._id);
        tokenOfA ??= event._id;
        await gate;
        return event.documentKey?._id;
      },
      startTime: () => undefined,
      resync: () => of(),
      logger: { warn: () => undefined, error: () => undefined },
      policy: { initialDelayMs: 100, maxDelayMs: 1_000, maxPersistentFailures: 3 },
      lingerMs: 0,
      clock: new VirtualClock(),
      hold: () => undefined,
    });
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    let witness: ChangeStream<Document, ChangeEventLike> | undefined;
    try {
      await vi.waitFor(() => expect(feedRequests.size).toBeGreaterThan(0), { timeout: 30_000, interval: 20 }); // open and waiting
      await collection.insertOne({ _id: 'a' });
      await vi.waitFor(() => expect(mapping).toEqual(['a']), { timeout: 30_000, interval: 20 });
      const getMoresWhileMapping = feedRequests.size;
      await collection.insertMany([{ _id: 'b' }, { _id: 'c' }]);
      // The witness: a second stream from just after 'a', on the same connection. Once it has 'b' and 'c', they are
      // majority-committed (a change stream returns nothing else), so a getMore of the feed would have returned them.
      witness = collection.watch<Document, ChangeEventLike>([], { resumeAfter: tokenOfA, maxAwaitTimeMS: 50 });
      const seen = [(await witness.next()).documentKey?._id, (await witness.next()).documentKey?._id];
      expect(seen).toEqual(['b', 'c']);
      expect(feedRequests.size).toBe(getMoresWhileMapping);
      expect(mapping).toEqual(['a']);
      const batchesWhileMapping = feedBatches.length;
      release();
      await vi.waitFor(() => expect(values).toEqual(['a', 'b', 'c']), { timeout: 30_000, interval: 20 });
      // Released, the feed asks once more, and that getMore brings both events committed while it waited.
      expect(feedBatches.slice(batchesWhileMapping)[0]).toEqual(['b', 'c']);
      expect(mapping).toEqual(['a', 'b', 'c']);
    } finally {
      await witness?.close();
      subscription.unsubscribe();
      await feed.close();
      await client.close();
    }
  });
});
