import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createRuntime, type Activity, type OrchestrationContext, type Orchestrator, type Runtime } from '../src/index.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { within } from './within.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const running: Runtime[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((runtime) => within(runtime.stop({ graceMs: 0 }), 'the stop')));
});

const orchestrators = {
  Echo: function* (ctx: OrchestrationContext) {
    return ctx.getInput();
  },
  /** Sleeps until the time its input names (ms on the clock). */
  Sleeper: function* (ctx: OrchestrationContext) {
    yield ctx.createTimer(new Date(ctx.getInput<number>()));
    return 'woke';
  },
  /** Returns the first event 'go'. */
  Waiter: function* (ctx: OrchestrationContext) {
    const event: unknown = yield ctx.waitForExternalEvent('go');
    return event;
  },
  /** Waits for events 'n' for ever. */
  Noise: function* (ctx: OrchestrationContext) {
    for (;;) yield ctx.waitForExternalEvent('n');
  },
};

/**
 * A started runtime on a FailingStore and a VirtualClock at T0, and a client of its own on the same store (its starts
 * and events reach the worker as the store's work signals, never handed to it).
 */
async function onFailingStore() {
  const store = new FailingStore();
  const clock = new VirtualClock(new Date(T0));
  const logger = new RecordingLogger();
  const runtime = createRuntime({ store, clock, logger, orchestrators });
  running.push(runtime);
  const client = createClient({ store, clock });
  return { store, clock, logger, runtime, client };
}

/** The retry delays the worker logged for its failed claims, in order. */
function claimRetries(logger: RecordingLogger): number[] {
  return logger.errors.flatMap((message) => /could not claim work; retrying in (\d+) ms/.exec(message)?.slice(1).map(Number) ?? []);
}

/** How many `n` events `id`'s history holds. */
async function eventsRaised(store: FailingStore, id: string): Promise<number> {
  return (await store.inner.getHistory(id)).filter((e) => e.type === 'EventRaised').length;
}

describe('the worker\'s back-off after failed claims', () => {
  it('doubles per failed attempt, not per wake-up: work signalled during the back-off waits for its retry, which claims it all', async () => {
    const { store, clock, logger, runtime, client } = await onFailingStore();
    store.failNext('claimOrchestration', 1000);
    await runtime.start();
    await clock.advance(0);
    expect(claimRetries(logger)).toEqual([100]);
    // Ten starts signal work during the back-off, all within 100 ms of the failure: the retry stays at its time, no
    // attempt is made for them, and the delay does not grow.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(await client.startNew('Echo', { input: i }));
      await clock.advance(5);
    }
    expect(claimRetries(logger)).toEqual([100]);
    await clock.advanceTo(new Date(T0 + 100)); // the retry fails: one failure more
    expect(claimRetries(logger)).toEqual([100, 200]);
    store.failNext('claimOrchestration', 0); // the store recovers
    await clock.advanceTo(new Date(T0 + 300)); // the next retry claims what the ten signals announced
    const statuses = await Promise.all(ids.map((id) => client.getStatus(id)));
    expect(statuses.map((s) => [s?.runtimeStatus, s?.output])).toEqual(ids.map((_, i) => ['Completed', i]));
    expect(claimRetries(logger)).toEqual([100, 200]);
    // Recovered, it backs off from the start again after a new failure.
    store.failNext('claimOrchestration', 1);
    await client.startNew('Echo', { input: 'again' });
    await clock.advance(0);
    expect(claimRetries(logger)).toEqual([100, 200, 100]);
  });

  it('fires a durable timer at its time once the store recovers, though work was signalled all through the outage', async () => {
    const { store, clock, runtime, client } = await onFailingStore();
    await runtime.start();
    const sleeper = await client.startNew('Sleeper', { input: T0 + 1600 });
    const noise = await client.startNew('Noise');
    await clock.advance(100); // both ran their first step; the worker wakes for the sleeper's timer at T0 + 1600
    store.failNext('claimOrchestration', 1000); // claims fail from T0 + 100 ...
    for (let i = 0; i < 12; i++) {
      await client.raiseEvent(noise, 'n', i); // ... while 12 events are raised
      await clock.advance(80);
    }
    store.failNext('claimOrchestration', 0); // healthy again at T0 + 1060
    await clock.advanceTo(new Date(T0 + 1599));
    expect((await client.getStatus(sleeper))?.runtimeStatus).toBe('Running');
    await clock.advance(1);
    // On time (before, 30 s later: each event's wake-up had doubled the back-off, whose timer replaced the sleeper's).
    expect(await client.getStatus(sleeper)).toMatchObject({ runtimeStatus: 'Completed', output: 'woke' });
    expect(await eventsRaised(store, noise)).toBe(12);
  });

  it('keeps a wake-up for due work that comes before the retry: a longer back-off does not put it off', async () => {
    const { store, clock, logger, runtime, client } = await onFailingStore();
    await runtime.start();
    const sleeper = await client.startNew('Sleeper', { input: T0 + 1000 });
    await clock.advance(10); // it ran its first step; the worker wakes at T0 + 1000
    store.failNext('claimOrchestration', 1000);
    await client.startNew('Echo', { input: 'x' }); // its signal meets the failing claims: a retry in 100 ms
    await clock.advanceTo(new Date(T0 + 900)); // retries at T0 + 110, 310, 710 fail; the next is due at 1510
    store.failNext('claimOrchestration', 0);
    await clock.advanceTo(new Date(T0 + 999));
    expect((await client.getStatus(sleeper))?.runtimeStatus).toBe('Running');
    await clock.advance(1);
    expect(await client.getStatus(sleeper)).toMatchObject({ runtimeStatus: 'Completed', output: 'woke' });
    // The retry after 710 came at the sleeper's T0 + 1000, not after the whole back-off of 800 ms.
    expect(claimRetries(logger)).toEqual([100, 200, 400, 290]);
  });

  it('ends a back-off when the store commits a step for the worker: work signalled meanwhile is claimed then', async () => {
    const { store, clock, logger, runtime, client } = await onFailingStore();
    store.failNext('claimOrchestration', 3);
    await runtime.start();
    await clock.advanceTo(new Date(T0 + 300)); // attempts at T0, 100 and 300 fail: the next is due at T0 + 700
    expect(claimRetries(logger)).toEqual([100, 200, 400]);
    const signalled = await client.startNew('Echo', { input: 'signalled' });
    // A start through the runtime's own client is handed to its worker, which commits its step without a claim.
    const handed = await runtime.client.startNew('Echo', { input: 'handed' });
    await clock.advance(0);
    expect(await runtime.client.getStatus(handed)).toMatchObject({ runtimeStatus: 'Completed' });
    expect(await client.getStatus(signalled)).toMatchObject({ runtimeStatus: 'Completed', output: 'signalled' });
  });

  it('resumes at the store\'s first work signal once it is back, though its back-off had grown to 30 s', async () => {
    const { store, clock, logger, runtime } = await onFailingStore();
    await runtime.start();
    const waiter = await runtime.client.startNew('Waiter');
    await clock.advance(0);
    store.failNext('claimOrchestration', 1000);
    await runtime.client.raiseEvent(waiter, 'other', 0); // its signal meets the failing claims
    // Attempts 100, 200, 400 ms ... apart fail, until they are 30 s apart. Not at one of them: a wake-up for the lease
    // of the start's first step (taken up a macrotask after the start) may have set them at whole multiples of 30 s.
    await clock.advanceTo(new Date(T0 + 125_000));
    expect(claimRetries(logger).slice(-2)).toEqual([30_000, 30_000]);
    store.failNext('claimOrchestration', 0); // the store is back
    // The runtime's own client commits an event: the store's signal ends the wait, with no time passing.
    await runtime.client.raiseEvent(waiter, 'go', 'now');
    await clock.advance(0);
    expect(await runtime.client.getStatus(waiter)).toMatchObject({ runtimeStatus: 'Completed', output: 'now' });
    expect(clock.now().getTime()).toBe(T0 + 125_000);
  });

  it('keeps backing off while the store still fails, however often it signals: one attempt per 100 ms at most', async () => {
    const { store, clock, logger, runtime, client } = await onFailingStore();
    const attempts: number[] = [];
    const claim = store.claimOrchestration.bind(store);
    store.claimOrchestration = (...args) => {
      attempts.push(clock.now().getTime() - T0);
      return claim(...args);
    };
    await runtime.start();
    const noise = await client.startNew('Noise');
    await clock.advance(0);
    store.failNext('claimOrchestration', 100_000);
    attempts.length = 0;
    // 2 s of events, one every 10 ms, each a work signal to a worker whose claims all fail.
    for (let i = 0; i < 200; i++) {
      await client.raiseEvent(noise, 'n', i);
      await clock.advance(10);
    }
    // Signals bring the retries forward (without them: 5 attempts in 2 s, at 0, 100, 300, 700 and 1,500 ms) ...
    expect(attempts.length).toBeGreaterThan(10);
    expect(attempts.length).toBeLessThanOrEqual(21);
    // ... but never closer than 100 ms to each other.
    for (let i = 1; i < attempts.length; i++) expect(attempts[i]! - attempts[i - 1]!).toBeGreaterThanOrEqual(100);
    // The signals did not reset the back-off: with no more of them, the next retry waits as the failures so far say.
    const before = attempts.length;
    await clock.advance(25_000);
    expect(attempts.length).toBeLessThanOrEqual(before + 1);
    expect(claimRetries(logger).at(-1)).toBe(30_000);
  });
});

/**
 * A runtime on a FailingStore and a virtual clock whose orchestrator CallsGate calls the activity Gate, which returns
 * only when the test calls `finish`: its result's commit is then the one the test makes fail.
 */
function gatedRuntime(more: { orchestrators?: Record<string, Orchestrator>; activities?: Record<string, Activity> } = {}) {
  const store = new FailingStore();
  const clock = new VirtualClock(new Date(T0));
  const logger = new RecordingLogger();
  let finish!: (value: string) => void;
  const runtime = createRuntime({
    store, clock, logger, activityLeaseMs: 600_000,
    orchestrators: { CallsGate: function* (ctx: OrchestrationContext) { return yield ctx.callActivity('Gate'); }, ...orchestrators, ...more.orchestrators },
    activities: { Gate: () => new Promise<string>((resolve) => (finish = resolve)), ...more.activities },
  });
  running.push(runtime);
  return { store, clock, logger, runtime, finish: (value: string) => finish(value) };
}

describe('the worker\'s retries of an activity\'s result', () => {
  it('commits the result at the store\'s first work signal once it is back, though its retries had grown 30 s apart', async () => {
    const { store, clock, logger, runtime, finish } = gatedRuntime();
    const client = createClient({ store, clock });
    await runtime.start();
    const id = await runtime.client.startNew('CallsGate');
    await clock.advance(0); // the activity runs
    store.failNext('commit', 1000);
    finish('done');
    // Its result's commits fail 100, 200, 400 ms ... apart, until they are 30 s apart (not at one of them: see above).
    await clock.advanceTo(new Date(T0 + 125_000));
    const retries = logger.errors.flatMap((message) => /committing the result .* failed; retrying in (\d+) ms/.exec(message)?.slice(1).map(Number) ?? []);
    expect(retries.slice(-2)).toEqual([30_000, 30_000]);
    store.failNext('commit', 0); // the store is back
    await client.startNew('Echo', { input: 'other' }); // another client's write signals work
    await clock.advance(0);
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(clock.now().getTime()).toBe(T0 + 125_000);
  });

  it('brings them forward on the store\'s signals and answers only: its own timers (a due durable timer, a claim\'s back-off) do not', async () => {
    const { store, clock, logger, runtime, finish } = gatedRuntime();
    // Another process's client: its writes reach the worker only as the store's work signals.
    const other = createClient({ store: store.inner, clock });
    await runtime.start();
    const id = await runtime.client.startNew('CallsGate');
    const sleeper = await runtime.client.startNew('Sleeper', { input: T0 + 2000 });
    await clock.advance(0); // the activity runs; the worker wakes for the sleeper's timer at T0 + 2000
    // When commits were tried (ms after T0; an attempt with the step, then alone, counts once).
    const commits: number[] = [];
    const commit = store.commit.bind(store);
    store.commit = (...args) => {
      const atMs = clock.now().getTime() - T0;
      if (commits.at(-1) !== atMs) commits.push(atMs);
      return commit(...args);
    };
    // An outage: every claim and commit fails. With no claim succeeding, the only commits are the result's.
    store.failNext('commit', 1000);
    store.failNext('claimOrchestration', 1000);
    finish('done');
    // The sleeper's timer at 2000 and the failed claims' retries after it (2100, 2300, 2700, 3500) wake the worker,
    // but the result's retries keep their own back-off (before, each of those wake-ups brought the next one forward).
    await clock.advanceTo(new Date(T0 + 4000));
    expect(claimRetries(logger)).toEqual([100, 200, 400, 800, 1600]);
    expect(commits).toEqual([0, 100, 300, 700, 1500, 3100]);
    // Another process writes: the store's signal brings the result's next retry (due at 6300) forward to now, and the
    // claims' (due at 5100); both fail again, the claims' next at 7200, the result's at 10,400.
    await other.startNew('Echo', { input: 'signal' });
    await clock.advance(0);
    expect(commits).toEqual([0, 100, 300, 700, 1500, 3100, 4000]);
    expect(claimRetries(logger)).toEqual([100, 200, 400, 800, 1600, 3200]);
    // The store is back, with no more signals: the claims' retry at 7200 succeeds, and that answer brings the result's
    // retry forward to then (without it, the result waited until 10,400).
    store.failNext('commit', 0);
    store.failNext('claimOrchestration', 0);
    await clock.advanceTo(new Date(T0 + 7200));
    expect((await store.inner.getInstance(id))?.runtimeStatus).toBe('Completed');
    expect(await runtime.client.getStatus(sleeper)).toMatchObject({ runtimeStatus: 'Completed', output: 'woke' });
  });
});

describe('the worker\'s retries of a result the store refuses while it commits the rest', () => {
  it('back off as any failed commit: other commits that succeed do not bring them forward', async () => {
    const { store, clock, logger, runtime, finish } = gatedRuntime({
      orchestrators: {
        /** Commits a step every 100 ms, as many times as its input says; each step runs the activity Tick. */
        Busy: function* (ctx: OrchestrationContext) {
          for (let i = 0; i < ctx.getInput<number>(); i++) {
            yield ctx.callActivity('Tick');
            yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 100));
          }
          return 'busy';
        },
      },
      activities: { Tick: () => 'tick' },
    });
    // Another process's client: its writes reach the worker only as the store's work signals.
    const other = createClient({ store: store.inner, clock });
    await runtime.start();
    const gated = await runtime.client.startNew('CallsGate', { instanceId: 'gated' });
    await clock.advance(0); // the activity runs
    // The store refuses every commit of the gated instance (its activity's result), with an error worth a retry, and
    // takes every other: the other instance's steps and results, and another process's starts.
    const attempts: number[] = [];
    const commit = store.commit.bind(store);
    store.commit = (writeSet) => {
      if (!JSON.stringify(writeSet).includes('"gated"')) return commit(writeSet);
      const atMs = clock.now().getTime() - T0;
      if (attempts.at(-1) !== atMs) attempts.push(atMs);
      return Promise.reject(new Error('injected: this result is refused'));
    };
    const busy = await runtime.client.startNew('Busy', { input: 90 });
    finish('done');
    for (let ms = 0; ms < 10_000; ms += 250) {
      await other.startNew('Echo', { input: ms }); // another process's write: a work signal
      await clock.advance(250);
    }
    expect(await runtime.client.getStatus(busy)).toMatchObject({ runtimeStatus: 'Completed', output: 'busy' });
    // Retried 100, 200, 400 ms ... apart, as the log says (before, 100 ms after each failure, ~100 attempts in 10 s).
    expect(attempts).toEqual([0, 100, 300, 700, 1500, 3100, 6300]);
    const retries = logger.errors.flatMap((message) => /committing the result .* failed; retrying in (\d+) ms/.exec(message)?.slice(1).map(Number) ?? []);
    expect(retries).toEqual([100, 200, 400, 800, 1600, 3200, 6400]);
    expect((await store.inner.getInstance(gated))?.runtimeStatus).toBe('Running');
  });
});
