import { Observable, Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, DurableError, MemoryStore, StoreClosedError, type Activity, type OrchestrationContext, type Runtime, type Store } from '../src/index.js';
import { isRemoteStoreLost, isRetryableError } from '../src/client-kit/index.js';
import { isStoreClosed } from '../src/model/errors/store-closed-error.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { within } from './within.js';

// A store that lost what it stores on for good (IndexedDB's DatabaseUpgradingError: another tab upgraded or deleted the
// database) fails every call and its feeds with an error that says `storeClosed: true`. A worker on it must stop, not
// back off and retry for ever (holding, in a browser, the tab's leader lock and its life's lock all the while).

/** An error as such a store's: a 503 that says the store serves nothing any more. */
class LostError extends DurableError {
  override readonly name = 'LostError';
  readonly code = 'database-upgrading' as const;
  readonly status = 503 as const;
  readonly storeClosed = true as const;
}

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const running: Runtime[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((runtime) => within(runtime.stop({ graceMs: 0 }), 'the stop')));
});

/** A runtime on `store`, on a virtual clock at T0 and a recording logger, stopped after the test. */
function runtimeOn(store: Store, activities?: Record<string, Activity>): { runtime: Runtime; clock: VirtualClock; logger: RecordingLogger } {
  const clock = new VirtualClock(new Date(T0));
  const logger = new RecordingLogger();
  const runtime = createRuntime({ store, clock, logger, orchestrators, ...(activities ? { activities } : {}) });
  running.push(runtime);
  return { runtime, clock, logger };
}

const orchestrators = {
  Waits: function* (ctx: OrchestrationContext) {
    return (yield ctx.waitForExternalEvent('go')) as unknown;
  },
  CallsSlow: function* (ctx: OrchestrationContext) {
    return (yield ctx.callActivity('Slow', null)) as unknown;
  },
  Sleeps: function* (ctx: OrchestrationContext) {
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
  },
};

/** A MemoryStore whose wake-up feed can be failed for good (`lose`): every subscriber then hears the error at once. */
class LosingFeedStore extends MemoryStore {
  subscriptions = 0;
  readonly #work: Observable<void> = (this as MemoryStore).workAvailable$;
  readonly #lost = new Subject<void>();
  override readonly workAvailable$ = new Observable<void>((subscriber) => {
    this.subscriptions++;
    const inner = this.#work.subscribe(subscriber);
    const lost = this.#lost.subscribe({ error: (error: unknown) => subscriber.error(error) });
    return () => {
      inner.unsubscribe();
      lost.unsubscribe();
    };
  });

  lose(error: Error): void {
    this.#lost.error(error);
  }

  /** Calls of `commit`. */
  commits = 0;
  override commit(...args: Parameters<MemoryStore['commit']>): ReturnType<MemoryStore['commit']> {
    this.commits++;
    return super.commit(...args);
  }
}

describe('a worker whose store is lost for good', () => {
  it('stops when its claims fail with the error, instead of backing off and claiming again', async () => {
    const store = new FailingStore();
    const { runtime, clock, logger } = runtimeOn(store);
    store.failNext('claimOrchestration', 1_000_000, 'reject', () => new LostError('the database was upgraded'));
    const stopped = logger.nextError('the worker stops');
    await runtime.start();
    await clock.advance(0);
    await within(stopped, 'the worker stopping');
    await within(runtime.stop(), 'the stop it made itself');
    await clock.advance(3_600_000); // an hour: no retry comes
    expect(logger.errors.filter((m) => m.includes('retrying'))).toEqual([]);
    expect(logger.errors.filter((m) => m.includes('the worker stops'))).toHaveLength(1);
    expect(store.workSubscribers).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops when its wake-up feed fails with the error, instead of subscribing again', async () => {
    const store = new LosingFeedStore();
    const { runtime, clock, logger } = runtimeOn(store);
    await runtime.start();
    const id = await runtime.client.startNew('Waits');
    await clock.advance(0);
    expect((await store.getInstance(id))?.runtimeStatus).toBe('Running');
    const stopped = logger.nextError('the worker stops');
    store.lose(new LostError('the database was deleted'));
    await within(stopped, 'the worker stopping');
    await clock.advance(3_600_000);
    expect(logger.errors.filter((m) => m.includes('subscribing again') || m.includes('retrying'))).toEqual([]);
    expect(store.subscriptions).toBe(1);
    // The store still answers (it is a MemoryStore), but the stopped worker runs nothing more.
    await runtime.client.raiseEvent(id, 'go', 'late');
    await clock.advance(3_600_000);
    expect((await store.getInstance(id))?.runtimeStatus).toBe('Running');
  });

  it('stops at once, abandoning an activity still running, which commits nothing when it settles later', async () => {
    const store = new LosingFeedStore();
    let started!: () => void;
    const running$ = new Promise<void>((resolve) => (started = resolve));
    let settle!: (value: string) => void;
    const activities = {
      Slow: () => {
        started();
        return new Promise<string>((resolve) => (settle = resolve));
      },
    };
    const { runtime, clock, logger } = runtimeOn(store, activities);
    await runtime.start();
    await runtime.client.startNew('CallsSlow');
    await clock.advance(0);
    await within(running$, 'the activity starting');
    const stopped = logger.nextError('the worker stops');
    store.lose(new LostError('the database was deleted'));
    await within(stopped, 'the worker stopping');
    // Nothing the activity returns could be committed to a lost store: the stop waits no grace for it (the default
    // 30 s would keep it, and a tab's hand-over of its leader lock, waiting on the activity).
    await clock.advance(0);
    await within(runtime.stop(), 'the stop it made itself, with the activity still running');
    expect(clock.now().getTime()).toBe(T0);
    expect(clock.pendingTimers).toBe(0);
    const commits = store.commits;
    settle('too late');
    await clock.advance(3_600_000);
    expect(store.commits).toBe(commits);
    expect(logger.errors.filter((m) => !m.includes('the worker stops'))).toEqual([]);
    expect(logger.warnings.filter((m) => m.includes('result discarded'))).toEqual([]);
    // The stop says what became of the activity: abandoned, no lease released on a store that serves no call.
    expect(logger.warnings.filter((m) => m.startsWith('stopped with'))).toEqual([
      'stopped with 1 steps or activities running (abandoned: the store is lost) and 0 starts committing',
    ]);
  });

  it('says so when it is started on a store closed already (its start resolves, nothing can run); a store closed under a worker that claimed stops it silently', async () => {
    const closed = new MemoryStore();
    await closed.close();
    const { runtime, clock, logger } = runtimeOn(closed);
    const said = logger.nextError('closed before');
    await runtime.start();
    await clock.advance(0);
    expect(await within(said, 'the error')).toBe('the store was closed before this worker claimed anything; it stops and runs nothing');
    await within(runtime.stop(), 'the stop it made itself');
    await expect(runtime.client.startNew('Waits')).rejects.toBeInstanceOf(StoreClosedError);
    expect(logger.errors).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);

    // Whoever closes the store under a worker that claimed knows: nothing is said when its timer's claim meets the close.
    class RefusalsSeen extends MemoryStore {
      readonly refused: unknown[] = [];
      override async claimOrchestration(...args: Parameters<MemoryStore['claimOrchestration']>): ReturnType<MemoryStore['claimOrchestration']> {
        return super.claimOrchestration(...args).catch((error: unknown) => {
          this.refused.push(error);
          throw error;
        });
      }
    }
    const open = new RefusalsSeen();
    const second = runtimeOn(open);
    await second.runtime.start();
    const id = await second.runtime.client.startNew('Sleeps');
    await second.clock.advance(0);
    expect((await open.getInstance(id))?.runtimeStatus).toBe('Running');
    await open.close();
    await second.clock.advance(3_600_000);
    await within(second.runtime.stop(), 'the stop');
    // The timer's claim was made, and the close refused it: the silence below is the worker's choice, not a claim
    // that never came.
    expect(open.refused).toEqual([expect.objectContaining({ name: 'StoreClosedError', beforeCall: true })]);
    expect(second.logger.errors).toEqual([]);
    expect(second.clock.pendingTimers).toBe(0);
  });

  it('says nothing when the store is closed under a started runtime whose first claim still waits (a database opening)', async () => {
    // As an IndexedDB store's first claim waits for its database to open, and the close fails it: the claim was made
    // on an open store, so the error does not say `beforeCall`.
    class OpeningStore extends MemoryStore {
      readonly #opened: Promise<void>;
      open!: () => void;
      #closing = false;
      constructor() {
        super();
        this.#opened = new Promise<void>((resolve) => (this.open = resolve));
      }
      override async claimOrchestration(...args: Parameters<MemoryStore['claimOrchestration']>): ReturnType<MemoryStore['claimOrchestration']> {
        await this.#opened;
        if (this.#closing) throw new StoreClosedError('closed while the database opened');
        return super.claimOrchestration(...args);
      }
      override close(): Promise<void> {
        this.#closing = true;
        this.open();
        return super.close();
      }
    }
    const store = new OpeningStore();
    const { runtime, clock, logger } = runtimeOn(store);
    await runtime.start();
    await clock.advance(0);
    await store.close();
    await clock.advance(3_600_000);
    await within(runtime.stop(), 'the stop');
    expect(logger.errors).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('says nothing when the store is closed under a running activity: the closer knows what it abandons', async () => {
    const store = new MemoryStore();
    let started!: () => void;
    const running$ = new Promise<void>((resolve) => (started = resolve));
    const { runtime, clock, logger } = runtimeOn(store, { Slow: () => (started(), new Promise<string>(() => undefined)) });
    await runtime.start();
    await runtime.client.startNew('CallsSlow');
    await clock.advance(0);
    await within(running$, 'the activity starting');
    await store.close();
    await clock.advance(3_600_000);
    await within(runtime.stop(), 'the stop');
    expect(logger.errors).toEqual([]);
    expect(logger.warnings).toEqual([]);
  });

  it('is one rule: closed stores and errors that say storeClosed, never worth retrying', () => {
    expect(isStoreClosed(new StoreClosedError('The store is closed'))).toBe(true);
    expect(isStoreClosed(new LostError('lost'))).toBe(true);
    expect(isStoreClosed(Object.assign(new Error('lost elsewhere'), { code: 'database-upgrading', status: 503, storeClosed: true }))).toBe(true);
    expect(isStoreClosed(Object.assign(new Error('down'), { code: 'unavailable', status: 503 }))).toBe(false);
    expect(isStoreClosed(Object.assign(new Error('no DurableError'), { storeClosed: true }))).toBe(false);
    expect(isRetryableError(new LostError('lost'))).toBe(false);
    expect(isRetryableError(Object.assign(new Error('down'), { code: 'unavailable', status: 503 }))).toBe(true);
  });

  it('tells a server\'s store lost, as a remote client rebuilt it, from a store lost or closed in the page', () => {
    const rebuilt = Object.assign(new StoreClosedError('closed on the server'), { storeClosed: true });
    expect(isRemoteStoreLost(rebuilt, [StoreClosedError])).toBe(true);
    // Not of a class the client rebuilds answers into: a store's own error in the page.
    expect(isRemoteStoreLost(new LostError('lost'), [StoreClosedError])).toBe(false);
    // The client's own close carries no mark.
    expect(isRemoteStoreLost(new StoreClosedError('closed'), [StoreClosedError])).toBe(false);
    expect(isRemoteStoreLost(undefined, [StoreClosedError])).toBe(false);
    expect(isRemoteStoreLost(null, [StoreClosedError])).toBe(false);
    // The shared rule never retries it; the remote client's hooks compose the two.
    expect(isRetryableError(rebuilt)).toBe(false);
  });
});
