import { EventEmitter } from 'node:events';
import { MongoClient, Timestamp, type ChangeStream, type ChangeStreamOptions, type Document } from 'mongodb';
import { filter, firstValueFrom, of } from 'rxjs';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeEventLike } from '../src/change-events.js';
import { ChangeFeed, type ChangeFeedOptions } from '../src/change-feed.js';
import { mapDriverError } from '../src/map-driver-error.js';
import type { ResumePoint } from '../src/resume-policy.js';

// A real driver and a real refusal (nothing listens on 127.0.0.1:1): every stream the feed opens fails before it
// delivers a resume token, which is the case finding 3 was about. The feed's own back-off and linger run on a virtual
// clock: a reopen happens only when the test advances it.

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

  it('lingers after the last subscriber left, so a quick re-subscribe reuses the stream (finding 7)', async () => {
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
 * A change stream that emits what a test scripts, in the order the driver does (`resumeTokenChanged` with the position
 * it caches, then `change`): for what the feed does with the tokens of the events it got, which a refusing server
 * cannot show. Nothing here stands in for the database in a store test.
 */
class ScriptedStream extends EventEmitter {
  resumeToken: unknown = null;
  closed = false;

  /** Delivers `event`; the driver caches `cached` (the event's own token, or the drained batch's high-water token). */
  deliver(event: ChangeEventLike, cached: unknown = event._id): void {
    this.resumeToken = cached;
    this.emit('resumeTokenChanged', cached);
    this.emit('change', event);
  }

  /** An empty batch's high-water token (a getMore that found nothing new). */
  advance(token: unknown): void {
    this.resumeToken = token;
    this.emit('resumeTokenChanged', token);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

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
      await refreshed();
      expect(opens[1]).toEqual({ point: { resumeAfter: ofX._id }, resumeEvent: ofX });
      expect(streams[0]!.closed).toBe(true);
      expect(logged).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('resumes at the high-water token of a drained batch, which needs no event kept in the pipeline', async () => {
    const { feed, streams, opens, refreshed } = scriptedFeed();
    const subscription = feed.events$.subscribe();
    try {
      const highWater = { _data: '8202' };
      streams[0]!.deliver(ofX, highWater); // the batch's last event: the driver caches postBatchResumeToken
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
      const later = { _data: '8203' };
      streams[0]!.advance(later);
      await refreshed();
      expect(opens[1]).toEqual({ point: { resumeAfter: later }, resumeEvent: undefined });
      // The same position as a driver's copy of the token (another object, same _data) keeps the event.
      streams[1]!.deliver(ofX);
      streams[1]!.advance({ _data: ofX._id._data });
      await refreshed();
      expect(opens[2]).toEqual({ point: { resumeAfter: { _data: ofX._id._data } }, resumeEvent: ofX });
    } finally {
      subscription.unsubscribe();
      await feed.close();
    }
  });

  it('with resyncOnResume (the wake-up feed), emits the resync at every reopen after a failure, also one that resumes', async () => {
    // While the stream keeps failing it delivers nothing; an idle worker rescans at each attempt instead of never.
    const { feed, streams, opens, clock } = scriptedFeed({ resync: () => of('rescan'), resyncOnResume: true });
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    try {
      for (let attempt = 1; attempt <= 3; attempt++) {
        streams[attempt - 1]!.emit('error', Object.assign(new Error('connection reset'), { name: 'MongoNetworkError' }));
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

  it('without it (the status feeds), a failure that resumes from the token re-reads nothing', async () => {
    const { feed, streams, opens, clock } = scriptedFeed({ resync: () => of('re-read') });
    const values: unknown[] = [];
    const subscription = feed.events$.subscribe((value) => values.push(value));
    try {
      streams[0]!.emit('error', Object.assign(new Error('connection reset'), { name: 'MongoNetworkError' }));
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
