import { filter, firstValueFrom, NEVER, Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, createRuntime, MemoryStore, type Logger, type Orchestrator, type Runtime, type RuntimeOptions, type Store } from '../src/index.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { MAX_TIMER_DELAY_MS, type Clock } from '../src/env/clock.js';
import { silentLogger } from '../src/env/logger.js';
import type { PurgeMember, StatusChange } from '../src/store/store.js';
import { ENDED_SETTLE_MS } from '../src/store/ended-listing.js';
import { guardClock } from '../src/env/guarded-clock.js';
import { onNextMacrotask } from '../src/env/next-macrotask.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { within } from '../src/testing/settled.js';
import {
  KEPT_PARENT_TRUST_MS, MAX_WATCHED_KEPT_PARENTS, RETENTION_PAGE_SIZE, RETENTION_READS_PER_SWEEP, RetentionSweep,
} from '../src/worker/retention-sweep.js';
import { HandClock, T0 } from './hand-clock.js';
import { isTerminalStatus, type InstanceState, type OrchestrationRuntimeStatus } from '../src/model/instance-status.js';
import { planRetention, type RetentionPeriods } from '../src/store/plan-retention.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** A loaded machine runs the workers slowly: waits end on the state, never on time. */
const WAIT = { timeout: 10_000 };
/** The pages of 100 a sweep lists when it reads nothing else. */
const PAGES_PER_SWEEP = RETENTION_READS_PER_SWEEP / RETENTION_PAGE_SIZE;

const orchestrators: Record<string, Orchestrator> = {
  Quick: function* () {
    return 'done';
  },
  Waiter: function* (ctx) {
    return yield ctx.waitForExternalEvent('go');
  },
  Failing: function* () {
    throw new Error('boom');
  },
  Parent: function* (ctx) {
    yield ctx.callSubOrchestrator('Quick', undefined, `${ctx.instanceId}-child`);
    return yield ctx.waitForExternalEvent('go');
  },
  FailingParent: function* (ctx) {
    return yield ctx.callSubOrchestrator('Failing', undefined, `${ctx.instanceId}-child`);
  },
  FailsAfterChild: function* (ctx) {
    yield ctx.callSubOrchestrator('Quick', undefined, `${ctx.instanceId}-child`);
    throw new Error('boom');
  },
  /** Its child fails after a completed sub-orchestration of its own; it fails itself once told to go. */
  FailsLaterThanChild: function* (ctx) {
    try {
      yield ctx.callSubOrchestrator('FailsAfterChild', undefined, `${ctx.instanceId}-child`);
    } catch {
      // The child's failure is expected: this one fails on its own later.
    }
    yield ctx.waitForExternalEvent('go');
    throw new Error('boom');
  },
  /** Calls a child on its first execution only; each waits for 'next', then continues as new. */
  ChildOnce: function* (ctx) {
    const pass = ctx.getInput<number>() ?? 0;
    if (pass === 0) yield ctx.callSubOrchestrator('Quick', undefined, `${ctx.instanceId}-child`);
    yield ctx.waitForExternalEvent('next');
    ctx.continueAsNew(pass + 1);
  },
  Eternal: function* (ctx) {
    const pass = ctx.getInput<number>();
    yield ctx.callSubOrchestrator('Quick', undefined, `${ctx.instanceId}-child-${pass}`);
    yield ctx.waitForExternalEvent('next');
    ctx.continueAsNew(pass + 1);
  },
};

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop({ graceMs: 0 })));
});

async function started(options: Partial<RuntimeOptions> & { clock: Clock }): Promise<Runtime> {
  const runtime = createRuntime({ orchestrators, logger: silentLogger, ...options });
  runtimes.push(runtime);
  await runtime.start();
  return runtime;
}

/** `n` failures `p0`..`p<n-1>` in `memory`, each with a completed sub-orchestration, run by a runtime stopped after. */
async function failuresWithChildren(clock: VirtualClock, memory: MemoryStore, n: number): Promise<void> {
  const maker = await started({ clock, store: memory });
  for (let i = 0; i < n; i++) await maker.client.startNew('FailsAfterChild', { instanceId: `p${i}` });
  for (let i = 0; i < n; i++) expect((await maker.client.waitForCompletion(`p${i}`)).runtimeStatus).toBe('Failed');
  await maker.stop();
}

/**
 * {@link failuresWithChildren} on a new MemoryStore and VirtualClock, and that store {@link countedStore counted}, its
 * per-instance feed {@link countedFeed counting} the watches of each instance in `watched`.
 */
async function watchedFailuresWithChildren(n: number) {
  const clock = new VirtualClock();
  const memory = new MemoryStore();
  await failuresWithChildren(clock, memory, n);
  const watched = new Map<string, number>();
  return { clock, memory, watched, ...countedStore(memory, { instanceChanges$: countedFeed(memory, watched) }) };
}

/**
 * `memory` with what a sweeper asks of it counted: `reads` (getInstance), `pages` (listing pages up to a cutoff, as the
 * sweeps ask) and `listed` (completed instances those pages held); `overrides` replace members as `storeWith` does.
 */
function countedStore(memory: MemoryStore, overrides: Partial<Store> = {}): { store: Store; counted: { reads: number; pages: number; listed: number } } {
  const counted = { reads: 0, pages: 0, listed: 0 };
  const store = storeWith(memory, {
    getInstance: (id) => {
      counted.reads++;
      return memory.getInstance(id);
    },
    queryInstances: async (query) => {
      const page = await memory.queryInstances(query);
      if (query.createdTimeTo !== undefined) {
        counted.pages++;
        if (query.runtimeStatus?.[0] === 'Completed') counted.listed += page.instances.length;
      }
      return page;
    },
    ...overrides,
  });
  return { store, counted };
}

/**
 * `memory` with the instances every listing of a sweep answered recorded in `listed` (by id, as often as listed), in
 * end order (`listEnded`) or by createdTime (`queryInstances` up to a cutoff), and the pages it read counted.
 */
function listingCounted(memory: MemoryStore): { store: Store; listed: string[]; pages: () => number } {
  const listed: string[] = [];
  let pages = 0;
  const store = storeWith(memory, {
    listEnded: async (query) => {
      pages++;
      const page = await memory.listEnded(query);
      listed.push(...page.map((state) => state.instanceId));
      return page;
    },
    queryInstances: async (query) => {
      const page = await memory.queryInstances(query);
      if (query.createdTimeTo !== undefined) {
        pages++;
        listed.push(...page.instances.map((state) => state.instanceId));
      }
      return page;
    },
  });
  return { store, listed, pages: () => pages };
}

async function statusOf(runtime: Runtime, id: string): Promise<string | undefined> {
  return (await runtime.client.getStatus(id))?.runtimeStatus;
}

/**
 * `clock` with the delay of every timer armed on it recorded in `delays`: a test waits for the sweep's next timer by its
 * delay (the interval), not for any timer, since the worker's own timers count among the clock's pending ones.
 */
function recordingClock(clock: VirtualClock, delays: number[]): Clock {
  return {
    now: () => clock.now(),
    setTimeout: (callback, delayMs) => {
      delays.push(delayMs);
      return clock.setTimeout(callback, delayMs);
    },
    clearTimeout: (timer) => clock.clearTimeout(timer),
  };
}

/**
 * A runtime over `store` that keeps failures 20 minutes and completions not at all (a sweep every 10 s), on `clock`;
 * `armed` counts the sweeps armed so far (timers of the interval's delay), which a test waits for.
 */
async function keptFailuresSweeper(clock: VirtualClock, store: Store): Promise<{ sweeper: Runtime; armed: () => number; delays: number[] }> {
  const delays: number[] = [];
  const sweeper = await started({ clock: recordingClock(clock, delays), store, retention: { completed: 0, failed: 20 * MINUTE } });
  return { sweeper, armed: () => delays.filter((delay) => delay === 10_000).length, delays };
}

/**
 * Moves the clock a sweep interval at a time until `check` passes: a sweep runs on promise jobs and I/O, so the next
 * one may be armed after a tick of the clock has returned. The caller moves the clock to the time the check expects
 * first; this only lets the sweeps due then run.
 */
async function sweepUntil(clock: VirtualClock, stepMs: number, check: () => Promise<void>): Promise<void> {
  await vi.waitFor(async () => {
    await clock.advance(stepMs);
    await check();
  }, WAIT);
}

describe('retention of ended instances', () => {
  it('purges an instance once its period has passed since it ended, not since it was created', async () => {
    const clock = new VirtualClock();
    const runtime = await started({ clock, retention: { completed: HOUR, intervalMs: MINUTE } });
    const { client } = runtime;
    await client.startNew('Waiter', { instanceId: 'late' });
    await clock.advance(2 * HOUR); // created 2 h ago, still running: kept
    expect(await statusOf(runtime, 'late')).toBe('Running');
    await client.raiseEvent('late', 'go', 1);
    expect((await client.waitForCompletion('late')).runtimeStatus).toBe('Completed');
    await clock.advance(HOUR - 2 * MINUTE); // ended 58 min ago: kept
    expect(await statusOf(runtime, 'late')).toBe('Completed');
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('late')).toBeUndefined());
  });

  it('never purges a Pending, Running or Suspended instance, nor a status without a period', async () => {
    const clock = new VirtualClock();
    const runtime = await started({ clock, retention: { completed: 0, intervalMs: MINUTE } });
    const { client } = runtime;
    await client.startNew('Waiter', { instanceId: 'running' });
    await client.startNew('Waiter', { instanceId: 'suspended' });
    await client.startNew('Waiter', { instanceId: 'pending', startAt: new Date(clock.now().getTime() + 100 * HOUR) });
    await client.startNew('Failing', { instanceId: 'failed' });
    await client.startNew('Waiter', { instanceId: 'terminated' });
    await client.startNew('Quick', { instanceId: 'done' });
    await client.suspend('suspended');
    await client.terminate('terminated');
    expect((await client.waitForCompletion('failed')).runtimeStatus).toBe('Failed');
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('done')).toBeUndefined());
    await clock.advance(10 * HOUR);
    expect(await Promise.all(['running', 'suspended', 'pending', 'failed', 'terminated'].map((id) => statusOf(runtime, id))))
      .toEqual(['Running', 'Suspended', 'Pending', 'Failed', 'Terminated']);
  });

  it('keeps each ended status for its own period', async () => {
    const clock = new VirtualClock();
    const runtime = await started({ clock, retention: { completed: HOUR, failed: 3 * HOUR, terminated: 2 * HOUR, intervalMs: MINUTE } });
    const { client } = runtime;
    await client.startNew('Quick', { instanceId: 'c' });
    await client.startNew('Failing', { instanceId: 'f' });
    await client.startNew('Waiter', { instanceId: 't' });
    await client.terminate('t');
    expect((await client.waitForCompletion('f')).runtimeStatus).toBe('Failed');
    expect((await client.waitForCompletion('c')).runtimeStatus).toBe('Completed');
    await clock.advance(HOUR - MINUTE);
    expect(await statusOf(runtime, 'c')).toBe('Completed');
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('c')).toBeUndefined());
    await clock.advanceTo(new Date(clock.now().getTime() + HOUR - 5 * MINUTE));
    expect(await statusOf(runtime, 't')).toBe('Terminated');
    await clock.advance(5 * MINUTE);
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('t')).toBeUndefined());
    await clock.advance(HOUR - 10 * MINUTE);
    expect(await statusOf(runtime, 'f')).toBe('Failed');
    await clock.advance(10 * MINUTE);
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('f')).toBeUndefined());
  });

  it('keeps a sub-orchestration as long as the parent execution that started it, and one whose parent continued as new by its own end', async () => {
    const clock = new VirtualClock();
    const runtime = await started({ clock, retention: { completed: HOUR, intervalMs: MINUTE } });
    const { client } = runtime;
    await client.startNew('Parent', { instanceId: 'p' });
    await client.startNew('Eternal', { instanceId: 'e', input: 0 });
    await vi.waitFor(async () => expect(await statusOf(runtime, 'p-child')).toBe('Completed'), WAIT);
    await vi.waitFor(async () => expect(await statusOf(runtime, 'e-child-0')).toBe('Completed'), WAIT);
    await clock.advance(5 * HOUR);
    // The running parent keeps its child; the eternal one keeps its current pass's child.
    expect(await statusOf(runtime, 'p-child')).toBe('Completed');
    expect(await statusOf(runtime, 'e-child-0')).toBe('Completed');
    await client.raiseEvent('e', 'next');
    await vi.waitFor(async () => expect(await statusOf(runtime, 'e-child-1')).toBe('Completed'), WAIT);
    // The eternal orchestration continued as new: its earlier pass's child goes by its own end, long past.
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('e-child-0')).toBeUndefined());
    expect(await statusOf(runtime, 'e-child-1')).toBe('Completed');
    expect(await statusOf(runtime, 'p-child')).toBe('Completed');
    await client.raiseEvent('p', 'go');
    expect((await client.waitForCompletion('p')).runtimeStatus).toBe('Completed');
    await clock.advance(HOUR - 2 * MINUTE);
    expect(await statusOf(runtime, 'p-child')).toBe('Completed');
    // The parent's period passed: the tree goes as a whole.
    await sweepUntil(clock, MINUTE, async () => {
      expect(await client.getStatus('p')).toBeUndefined();
      expect(await client.getStatus('p-child')).toBeUndefined();
    });
  });

  it('leaves an instance started again between the sweep\'s read and its purge', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const { store, sets, raceNextSet } = racingSets(memory);
    const runtime = await started({ clock, store, retention: { completed: HOUR, intervalMs: MINUTE } });
    const { client } = runtime;
    await client.startNew('Quick', { instanceId: 'a' });
    await client.startNew('Quick', { instanceId: 'b' });
    await vi.waitFor(async () => expect(await statusOf(runtime, 'b')).toBe('Completed'), WAIT);
    await vi.waitFor(async () => expect(await statusOf(runtime, 'a')).toBe('Completed'), WAIT);
    raceNextSet(() => client.startNew('Waiter', { instanceId: 'a' }));
    await clock.advance(HOUR);
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('b')).toBeUndefined());
    expect(sets).toEqual([['a', 'b'], ['b']]);
    expect(await statusOf(runtime, 'a')).toBe('Running');
  });

  it('keeps a sub-orchestration whose parent was rewound between the sweep\'s read and its purge', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const { store, sets, raceNextSet } = racingSets(memory);
    const runtime = await started({ clock, store, retention: { failed: HOUR, intervalMs: MINUTE } });
    const { client } = runtime;
    await client.startNew('FailingParent', { instanceId: 'fp' });
    expect((await client.waitForCompletion('fp')).runtimeStatus).toBe('Failed');
    expect(await statusOf(runtime, 'fp-child')).toBe('Failed');
    // The parent is rewound (by a client without a worker: committed at once, Running, its failed child not yet rerun)
    // just before the sweep's set reaches the store: the rewind reruns that child in place, so it must stay.
    let rewound = false;
    raceNextSet(async () => {
      await createClient({ store: memory, clock }).rewind('fp');
      rewound = true;
    });
    await clock.advance(HOUR);
    await vi.waitFor(() => expect(rewound).toBe(true), WAIT);
    await sweepUntil(clock, MINUTE, async () => expect(sets.length).toBeGreaterThanOrEqual(1));
    await clock.advance(MINUTE);
    expect(sets[0]).toEqual(['fp', 'fp-child']);
    expect(await memory.getInstance('fp-child')).toBeDefined();
    expect(await memory.getInstance('fp')).toBeDefined();
  });

  it('leaves a page whose set the store keeps refusing to the next sweep, a second later, which reads it again', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const calls: string[][] = [];
    let refusals = 3;
    const store = storeWith(memory, {
      // Another sweeper (or a writer) gets there first three times in a row: each time a member has changed.
      purgeInstanceSet: async (members: readonly PurgeMember[]) => {
        calls.push(members.map((m) => m.instanceId));
        return refusals-- > 0 ? { instancesDeleted: 0, changed: members[0]!.instanceId } : memory.purgeInstanceSet(members);
      },
    });
    const runtime = await started({ clock, store, retention: { completed: HOUR, intervalMs: HOUR } });
    for (const id of ['a', 'b', 'c', 'd']) await runtime.client.startNew('Quick', { instanceId: id });
    await vi.waitFor(async () => expect((await runtime.client.getStatusBy({ runtimeStatus: ['Completed'] })).length).toBe(4), WAIT);
    await clock.advance(HOUR); // the sweep due then finds all four due
    await vi.waitFor(() => expect(calls).toHaveLength(3), WAIT);
    expect(calls).toEqual([['a', 'b', 'c', 'd'], ['b', 'c', 'd'], ['c', 'd']]);
    expect(await memory.getInstance('d')).toBeDefined();
    await sweepUntil(clock, 1000, async () => expect(await memory.getInstance('a')).toBeUndefined());
    expect(calls.slice(3)).toEqual([['a', 'b', 'c', 'd']]);
  });

  it('logs a sweep that fails and tries again at the next one, with no unhandled rejection', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    let failures = 1;
    const store = storeWith(memory, {
      queryInstances: async (query) => {
        if (query.createdTimeTo !== undefined && failures-- > 0) throw new Error('disk on fire');
        return memory.queryInstances(query);
      },
    });
    const errors: unknown[][] = [];
    const logger: Logger = { warn: () => {}, error: (...args) => void errors.push(args) };
    const runtime = await started({ clock, store, logger, retention: { completed: 0, intervalMs: MINUTE } });
    await runtime.client.startNew('Quick', { instanceId: 'q' });
    await vi.waitFor(async () => expect(await statusOf(runtime, 'q')).toBe('Completed'), WAIT);
    await clock.advance(0); // the first sweep
    await vi.waitFor(async () => expect(errors.length).toBe(1), WAIT);
    expect(String(errors[0]![0])).toMatch(/retention sweep failed/);
    expect((errors[0]![1] as Error).message).toBe('disk on fire');
    await sweepUntil(clock, MINUTE, async () => expect(await runtime.client.getStatus('q')).toBeUndefined());
    expect(errors).toHaveLength(1);
  });

  it('purges each instance once with two workers sweeping one store', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore();
    const errors: unknown[] = [];
    const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
    const purged: string[] = [];
    store.changes$.subscribe((change) => void (change.state === undefined && purged.push(change.instanceId)));
    const retention = { completed: HOUR, intervalMs: MINUTE };
    const one = await started({ clock, store, logger, retention });
    await started({ clock, store, logger, retention });
    const ids = Array.from({ length: 30 }, (_, i) => `i${String(i).padStart(2, '0')}`);
    for (const id of ids) await one.client.startNew('Quick', { instanceId: id });
    await vi.waitFor(async () => expect((await one.client.getStatusBy({ runtimeStatus: ['Completed'] })).length).toBe(30), WAIT);
    await clock.advance(HOUR);
    await sweepUntil(clock, MINUTE, async () => expect(purged).toHaveLength(30));
    expect([...purged].sort()).toEqual(ids);
    expect(errors).toEqual([]);
  });

  it('lists each ended status only as far back as its own period reaches', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const listed: string[] = [];
    const store = storeWith(memory, {
      queryInstances: async (query) => {
        const page = await memory.queryInstances(query);
        if (query.createdTimeTo !== undefined) listed.push(...page.instances.map((i) => `${i.instanceId}:${i.runtimeStatus}`));
        return page;
      },
    });
    // Failures are kept for days while completions go at once: a sweep every second must not read every kept failure.
    const runtime = await started({ clock, store, retention: { completed: 0, failed: 10 * HOUR, intervalMs: MINUTE } });
    const { client } = runtime;
    for (const id of ['f1', 'f2', 'f3']) await client.startNew('Failing', { instanceId: id });
    for (const id of ['f1', 'f2', 'f3']) expect((await client.waitForCompletion(id)).runtimeStatus).toBe('Failed');
    await client.startNew('Quick', { instanceId: 'q' });
    expect((await client.waitForCompletion('q')).runtimeStatus).toBe('Completed');
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('q')).toBeUndefined());
    expect(listed).toContain('q:Completed');
    expect(listed.filter((entry) => entry.endsWith(':Failed'))).toEqual([]);
  });

  it('reads a bounded number of pages per sweep and, having purged nothing, goes on where it stopped an interval later', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const pages: number[] = [];
    const tokens: (string | undefined)[] = [];
    const store = storeWith(memory, {
      queryInstances: async (query) => {
        if (query.createdTimeTo !== undefined) {
          pages.push(clock.now().getTime());
          tokens.push(query.continuationToken);
        }
        return memory.queryInstances(query);
      },
    });
    const total = RETENTION_READS_PER_SWEEP + 50;
    // Terminated before any worker ran them (the client commits a terminate of an unclaimed instance itself).
    // Created two hours ago and terminated now: listed (created before the cutoff, an hour ago), none due.
    const client = createClient({ store: memory, clock });
    for (let i = 0; i < total; i++) await client.startNew('Waiter', { instanceId: `t${i}` });
    await clock.advance(2 * HOUR);
    for (let i = 0; i < total; i++) await client.terminate(`t${i}`);
    expect((await client.getStatusBy({ runtimeStatus: ['Terminated'] })).length).toBe(total);
    const start = clock.now().getTime();
    const delays: number[] = [];
    await started({ clock: recordingClock(clock, delays), store, retention: { terminated: HOUR, intervalMs: HOUR } });
    await clock.advance(0); // the first sweep
    await vi.waitFor(() => expect(pages.length).toBe(PAGES_PER_SWEEP), WAIT);
    await vi.waitFor(() => expect(delays).toContain(HOUR), WAIT); // it armed the next
    // It purged nothing (all kept): the same kept instances are not read again a second later.
    for (let i = 0; i < 5; i++) await clock.advance(1000);
    expect(pages.length).toBe(PAGES_PER_SWEEP);
    await clock.advanceTo(new Date(start + HOUR)); // the next sweep comes an interval later, where this one stopped
    await vi.waitFor(() => expect(pages.length).toBe(PAGES_PER_SWEEP + 1), WAIT);
    expect(pages.slice(0, PAGES_PER_SWEEP).every((at) => at === start)).toBe(true);
    expect(pages.at(-1)).toBe(start + HOUR);
    expect(tokens[0]).toBeUndefined();
    expect(tokens.slice(1).every((token) => token !== undefined)).toBe(true); // the second sweep went on from the first
    await clock.advance(1000); // that one read the last page: the next comes an interval later
    expect(pages.length).toBe(PAGES_PER_SWEEP + 1);
    expect(await memory.getInstance('t0')).toBeDefined();
  });

  it('sweeps again a second later when a sweep reached its bound of reads having purged some', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const pages: number[] = [];
    const store = storeWith(memory, {
      queryInstances: async (query) => {
        if (query.createdTimeTo !== undefined) pages.push(clock.now().getTime());
        return memory.queryInstances(query);
      },
    });
    const total = RETENTION_READS_PER_SWEEP + 50;
    const client = createClient({ store: memory, clock });
    for (let i = 0; i < total; i++) await client.startNew('Waiter', { instanceId: `t${i}` });
    for (let i = 0; i < total; i++) await client.terminate(`t${i}`);
    await clock.advance(2 * HOUR); // all due
    const start = clock.now().getTime();
    await started({ clock, store, retention: { terminated: HOUR, intervalMs: HOUR } });
    await clock.advance(0); // the first sweep
    await vi.waitFor(() => expect(pages.length).toBe(PAGES_PER_SWEEP), WAIT);
    await vi.waitFor(async () => expect((await client.getStatusBy({ runtimeStatus: ['Terminated'] })).length).toBeLessThan(total), WAIT);
    await sweepUntil(clock, 1000, async () => expect(await client.getStatusBy({ runtimeStatus: ['Terminated'] })).toEqual([]));
    expect(clock.now().getTime() - start).toBeLessThan(HOUR);
  });

  it('reads an ended parent that keeps its completed sub-orchestrations once per 5 minutes at most, not at every sweep', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const n = RETENTION_PAGE_SIZE + 50; // two pages of children
    // n failures, each with a completed sub-orchestration: failures are kept for 20 minutes, completions go at once
    // unless their parent keeps them, and the sweeps come every 10 s (the shortest period, 0, raised to the floor).
    await failuresWithChildren(clock, memory, n);
    const start = clock.now().getTime();
    const { store, counted } = countedStore(memory);
    const interval = 10_000;
    const { armed } = await keptFailuresSweeper(clock, store);
    const completed = async (): Promise<number> => (await memory.queryInstances({ runtimeStatus: ['Completed'], pageSize: 1000 })).instances.length;
    // Each sweep lists the completed children (two pages) and the failures (one page, empty: none is 20 minutes old);
    // the next is armed once it is over.
    let sweeps = 0;
    let readAgain = 0; // pages read again for a remembered parent that changed
    const sweep = async (): Promise<void> => {
      await clock.advance(sweeps === 0 ? 0 : interval);
      sweeps++;
      await vi.waitFor(() => expect(armed()).toBe(sweeps), WAIT);
      expect(counted.pages).toBe(3 * sweeps + readAgain);
    };
    await sweep();
    expect(counted.reads).toBe(n); // each child's parent, read once
    // The sweeps of the next 5 minutes list the same children, and read none of their parents again.
    while (clock.now().getTime() + interval < start + KEPT_PARENT_TRUST_MS) await sweep();
    expect(sweeps).toBe(KEPT_PARENT_TRUST_MS / interval);
    expect(counted.reads).toBe(n);
    expect(await completed()).toBe(n);
    // Then each parent is read again, and keeps its child.
    await sweep();
    expect(counted.reads).toBe(2 * n);
    expect(await completed()).toBe(n);

    // A failure started again, or purged by hand, no longer keeps its child, which goes by its own end at the next
    // sweep: the sweeper's memory forgets a parent that changes.
    const byHand = createClient({ store: memory, clock });
    await byHand.startNew('Waiter', { instanceId: 'p0' });
    expect(await byHand.purgeInstanceHistory('p1')).toEqual({ instancesDeleted: 1 });
    const readsBefore = counted.reads;
    readAgain = 1; // the page where their children were listed, read again first
    await sweep();
    expect(await memory.getInstance('p0-child')).toBeUndefined();
    expect(await memory.getInstance('p1-child')).toBeUndefined();
    expect(counted.reads - readsBefore).toBe(2); // those two parents, read again; the others are still remembered
    expect(await completed()).toBe(n - 2);

    // The failures' period over, every tree goes.
    await clock.advanceTo(new Date(start + 20 * MINUTE));
    await sweepUntil(clock, interval, async () => expect((await memory.queryInstances({ pageSize: 1000 })).instances.map((i) => i.instanceId)).toEqual(['p0']));
  });

  it('goes on past the sub-orchestrations its failures keep instead of listing them again at every sweep', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const n = RETENTION_PAGE_SIZE + 50; // two pages of children
    // n failures, each with a completed sub-orchestration. Completions are kept an hour, failures 3 hours: two hours
    // on, each child is due on its own, and its parent keeps it for another hour.
    await failuresWithChildren(clock, memory, n);
    const failedAt = clock.now().getTime();
    await clock.advance(2 * HOUR);
    const { store, counted } = countedStore(memory); // counted.listed: completed instances the sweeps listed
    const delays: number[] = [];
    await started({ clock: recordingClock(clock, delays), store, retention: { completed: HOUR, failed: 3 * HOUR, intervalMs: MINUTE } });
    const armed = (): number => delays.filter((delay) => delay === MINUTE).length;
    const sweep = async (): Promise<void> => {
      const sweeps = armed();
      await clock.advance(sweeps === 0 ? 0 : MINUTE);
      await vi.waitFor(() => expect(armed()).toBe(sweeps + 1), WAIT);
    };
    const children = async (): Promise<number> => (await memory.queryInstances({ runtimeStatus: ['Completed'], pageSize: 1000 })).instances.length;
    await sweep();
    expect(counted.listed).toBe(n);
    expect(counted.reads).toBe(n); // each child's parent, read once
    // 30 sweeps later: no child listed again (each sweep reads one page, empty, of what came since); each remembered
    // parent read again once its 5 minutes were over, 6 times.
    for (let i = 0; i < 30; i++) await sweep();
    expect(counted.listed).toBe(n);
    expect(counted.reads).toBe(7 * n);
    expect(await children()).toBe(n);
    // A remembered parent purged by hand: the next sweep reads again the page where its child was listed, where the
    // child goes by its own end, then lists the children again from the start (the net for a page that moved).
    const byHand = createClient({ store: memory, clock });
    expect(await byHand.purgeInstanceHistory('p0')).toEqual({ instancesDeleted: 1 });
    await sweep();
    expect(await memory.getInstance('p0-child')).toBeUndefined();
    expect(counted.listed).toBe(n + RETENTION_PAGE_SIZE + n - 1);
    await sweep();
    expect(counted.listed).toBe(n + RETENTION_PAGE_SIZE + n - 1);
    expect(await children()).toBe(n - 1);
    // The failures due, the sweeps list the children again and every tree goes.
    await clock.advanceTo(new Date(failedAt + 3 * HOUR));
    await sweepUntil(clock, MINUTE, async () => expect((await memory.queryInstances({ pageSize: 1000 })).instances).toEqual([]));
  });

  it('reads remembered parents again in half a sweep\'s reads at most before its listing, and the rest in the reads the listing left', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const n = 6 * RETENTION_PAGE_SIZE; // more parents than half a sweep's pages read
    // One instance due at the first sweep, so that the next, which reads the parents the first left, comes a second later.
    const maker = await started({ clock, store: memory });
    await maker.client.startNew('Quick', { instanceId: 'due' });
    expect((await maker.client.waitForCompletion('due')).runtimeStatus).toBe('Completed');
    await maker.stop();
    await failuresWithChildren(clock, memory, n);
    await clock.advance(2 * HOUR);
    /** The parents read when a sweep listed its first page. */
    let readsAtListing: number | undefined;
    const { store, counted } = countedStore(memory, {
      queryInstances: async (query) => {
        if (query.createdTimeTo !== undefined) {
          counted.pages++;
          readsAtListing ??= counted.reads;
        }
        return memory.queryInstances(query);
      },
    });
    const delays: number[] = [];
    await started({ clock: recordingClock(clock, delays), store, retention: { completed: HOUR, failed: 3 * HOUR, intervalMs: MINUTE } });
    const armed = (): number => delays.filter((delay) => delay === MINUTE).length;
    const sweep = async (): Promise<void> => {
      const sweeps = armed();
      await clock.advance(sweeps === 0 ? 0 : MINUTE);
      await vi.waitFor(() => expect(armed()).toBe(sweeps + 1), WAIT);
    };
    // The first sweep lists half its pages of children and reads their parents in the other half (purging 'due'),
    // holding its last page; the next, a second later, decides that page alone, and the one after, a second later
    // again, the rest.
    const seconds = (): number => delays.filter((delay) => delay === 1000).length;
    await clock.advance(0);
    await vi.waitFor(() => expect(seconds()).toBe(1), WAIT);
    expect(counted.reads).toBe(5 * RETENTION_PAGE_SIZE - 1);
    await clock.advance(1000);
    await vi.waitFor(() => expect(seconds()).toBe(2), WAIT);
    await clock.advance(1000);
    await vi.waitFor(() => expect(armed()).toBe(1), WAIT);
    expect(counted.reads).toBe(n);
    for (let i = 0; i < 4; i++) await sweep();
    expect(counted.reads).toBe(n);
    // 5 minutes on, every parent is due to be read again: 500 of them before this sweep's listing, which still lists
    // both statuses (a page each), and the other 100 in the pages the listing left: each one read within its 5 minutes,
    // not a sweep later.
    const before = counted.pages;
    readsAtListing = undefined;
    await sweep();
    expect(readsAtListing).toBe(n + RETENTION_READS_PER_SWEEP / 2);
    expect(counted.pages - before).toBe(2);
    expect(counted.reads).toBe(2 * n);
    await sweep();
    expect(counted.reads).toBe(2 * n);
  });

  it('purges an instance that ended behind the place its sweeps go on from, within an interval of its time', async () => {
    const clock = new VirtualClock();
    const runtime = await started({ clock, retention: { completed: HOUR, failed: 10 * HOUR, intervalMs: MINUTE } });
    const { client } = runtime;
    // 'late' is created first and runs for hours; 'f' fails after its child completes: the sweeps go on past that
    // child, which 'f' keeps for 10 hours, and so past 'late'.
    await client.startNew('Waiter', { instanceId: 'late' });
    await clock.advance(1);
    await client.startNew('FailsAfterChild', { instanceId: 'f' });
    expect((await client.waitForCompletion('f')).runtimeStatus).toBe('Failed');
    for (let i = 0; i < 150; i++) await clock.advance(MINUTE);
    await client.raiseEvent('late', 'go', 1);
    expect((await client.waitForCompletion('late')).runtimeStatus).toBe('Completed');
    const endedAt = clock.now().getTime();
    for (let i = 0; i < 58; i++) await clock.advance(MINUTE);
    expect(await statusOf(runtime, 'late')).toBe('Completed'); // ended 58 minutes ago: kept
    await sweepUntil(clock, MINUTE, async () => expect(await client.getStatus('late')).toBeUndefined());
    expect(clock.now().getTime() - endedAt).toBeLessThanOrEqual(HOUR + 2 * MINUTE);
    expect(await statusOf(runtime, 'f-child')).toBe('Completed');
  });

  it('lists a status kept 0 ms in end order: the sub-orchestrations running parents keep are read once, not at every pass', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const maker = await started({ clock, store: memory });
    const parents = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    for (const id of parents) await maker.client.startNew('Parent', { instanceId: id });
    for (const id of parents) await vi.waitFor(async () => expect(await statusOf(maker, `${id}-child`)).toBe('Completed'), WAIT);
    await maker.stop();
    const { store, listed, pages } = listingCounted(memory);
    await started({ clock, store, retention: { completed: 0, intervalMs: MINUTE } });
    /** Moves the clock a minute and waits for the sweep due then to list a page. */
    const nextSweep = async () => {
      const before = pages();
      await clock.advance(MINUTE);
      await vi.waitFor(() => expect(pages()).toBeGreaterThan(before), WAIT);
    };
    // The first pass lists each child once; the passes within ENDED_SETTLE_MS of their end list them again.
    const start = clock.now().getTime();
    await clock.advance(0);
    await vi.waitFor(() => expect(listed.length).toBe(parents.length), WAIT);
    while (clock.now().getTime() <= start + ENDED_SETTLE_MS + MINUTE) await nextSweep();
    const settled = listed.length;
    // 45 more sweeps: none reads the kept children again (listed from the start, each pass read all 30).
    for (let i = 0; i < 45; i++) await nextSweep();
    expect(listed.length - settled).toBe(0);
    expect(await memory.getInstance('p00-child')).toBeDefined();
  });

  it('reads nothing of the instances created before a status\'s cutoff that ended within its period', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const client = createClient({ store: memory, clock });
    // Created 20 hours ago, terminated now: before the cutoff by createdTime (10 hours back), none due by its end.
    for (let i = 0; i < 50; i++) await client.startNew('Waiter', { instanceId: `t${i}` });
    await clock.advance(20 * HOUR);
    for (let i = 0; i < 50; i++) await client.terminate(`t${i}`);
    const { store, listed } = listingCounted(memory);
    const delays: number[] = [];
    await started({ clock: recordingClock(clock, delays), store, retention: { terminated: 10 * HOUR, intervalMs: MINUTE } });
    await clock.advance(0); // the first sweep
    await vi.waitFor(() => expect(delays).toContain(MINUTE), WAIT);
    for (let i = 0; i < 5; i++) await clock.advance(MINUTE);
    expect(listed).toEqual([]);
    await clock.advance(10 * HOUR - 5 * MINUTE); // due now
    await sweepUntil(clock, MINUTE, async () => expect(await memory.getInstance('t49')).toBeUndefined());
    expect(new Set(listed).size).toBe(50);
  });

  it('purges a sub-orchestration its running parent kept within an interval of that parent\'s purge, not a period later', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const maker = await started({ clock, store: memory });
    await maker.client.startNew('Parent', { instanceId: 'p' });
    await vi.waitFor(async () => expect(await statusOf(maker, 'p-child')).toBe('Completed'), WAIT);
    let listed = 0; // the times a sweep listed the child
    const store = storeWith(memory, {
      queryInstances: async (query) => {
        const page = await memory.queryInstances(query);
        if (query.createdTimeTo !== undefined) listed += page.instances.filter((state) => state.instanceId === 'p-child').length;
        return page;
      },
    });
    // Completions kept 10 hours, terminations one: the child, due first, is listed while its parent runs and kept; the
    // sweeps then go on past it.
    await started({ clock, store, retention: { completed: 10 * HOUR, terminated: HOUR, intervalMs: MINUTE } });
    await clock.advance(10 * HOUR);
    await sweepUntil(clock, MINUTE, async () => expect(listed).toBe(1));
    await maker.client.terminate('p', 'enough');
    await vi.waitFor(async () => expect(await statusOf(maker, 'p')).toBe('Terminated'), WAIT);
    await clock.advance(HOUR);
    await sweepUntil(clock, MINUTE, async () => expect(await memory.getInstance('p')).toBeUndefined());
    // Its parent gone, the child goes by its own end, long past: at the next sweeps, not 9 hours later (the bound is an
    // hour of test time: on a loaded machine a step of sweepUntil may move the clock while no sweep is armed).
    const parentGoneAt = clock.now().getTime();
    await sweepUntil(clock, MINUTE, async () => expect(await memory.getInstance('p-child')).toBeUndefined());
    expect(clock.now().getTime() - parentGoneAt).toBeLessThanOrEqual(HOUR);
  });

  it('purges a sub-orchestration its running parent kept at the sweep after that parent continues as new, not a period later', async () => {
    // The parent never ends, so no listing of the sweeper ever sees it ended: its next execution is its change.
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const runtime = await started({ clock, store: memory, retention: { completed: 10 * HOUR, intervalMs: MINUTE } });
    const { client } = runtime;
    await client.startNew('Eternal', { instanceId: 'e', input: 0 });
    await vi.waitFor(async () => expect(await statusOf(runtime, 'e-child-0')).toBe('Completed'), WAIT);
    // Due on its own, kept by its running parent.
    await clock.advance(10 * HOUR);
    for (let i = 0; i < 3; i++) await clock.advance(MINUTE);
    expect(await statusOf(runtime, 'e-child-0')).toBe('Completed');
    await client.raiseEvent('e', 'next', 1);
    await vi.waitFor(async () => expect(await statusOf(runtime, 'e-child-1')).toBe('Completed'), WAIT);
    const continuedAt = clock.now().getTime();
    await sweepUntil(clock, MINUTE, async () => expect(await memory.getInstance('e-child-0')).toBeUndefined());
    expect(clock.now().getTime() - continuedAt).toBeLessThanOrEqual(30 * MINUTE);
    expect(await statusOf(runtime, 'e-child-1')).toBe('Completed');
  });

  it('watches each kept parent on a store\'s per-instance feed where it has one, and forgets one purged by hand at the next sweep', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const maker = await started({ clock, store: memory });
    for (const id of ['a', 'b']) await maker.client.startNew('FailsAfterChild', { instanceId: id });
    for (const id of ['a', 'b']) expect((await maker.client.waitForCompletion(id)).runtimeStatus).toBe('Failed');
    await maker.stop();
    // The sweeper's store, with a per-instance feed whose subscriptions are counted by instance.
    const watched = new Map<string, number>();
    const store = storeWith(memory, {
      instanceChanges$: countedFeed(memory, watched),
    });
    const interval = 10_000;
    const { sweeper, armed } = await keptFailuresSweeper(clock, store);
    await clock.advance(0);
    await vi.waitFor(() => expect(armed()).toBe(1), WAIT);
    expect(Object.fromEntries(watched)).toEqual({ a: 1, b: 1 });
    // 'a' purged by hand: its child goes at the next sweep, and its watch with it; 'b' is still watched until the
    // runtime stops.
    await createClient({ store: memory, clock }).purgeInstanceHistory('a');
    await clock.advance(interval);
    await vi.waitFor(() => expect(armed()).toBe(2), WAIT);
    expect(await memory.getInstance('a-child')).toBeUndefined();
    expect(await memory.getInstance('b-child')).toBeDefined();
    expect(Object.fromEntries(watched)).toEqual({ a: 0, b: 1 });
    await sweeper.stop();
    expect(Object.fromEntries(watched)).toEqual({ a: 0, b: 0 });
  });

  it('frees the tree of a watched parent purged by hand at the next sweep while a pass of its children\'s status is under way', async () => {
    // 1,200 failures kept 20 minutes, each with a completed child due at once that its parent keeps: a pass of the
    // children reads 500 of them a sweep (each page's 100 parents read too), so it spans 3 sweeps an interval apart.
    // The children of a watched parent purged by hand waited for that pass to end and the next one from the start to
    // reach them again: 3 intervals here, 20 at 10,000 kept children.
    const n = 1_200;
    const { clock, memory, watched, store, counted } = await watchedFailuresWithChildren(n);
    const interval = 10_000;
    const { sweeper, armed, delays } = await keptFailuresSweeper(clock, store);
    await clock.advance(0);
    await vi.waitFor(() => expect(armed()).toBe(1), WAIT);
    expect(counted.reads).toBe(500);
    const first = [...watched].find(([, count]) => count > 0)![0];
    await createClient({ store: memory, clock }).purgeInstanceHistory(first);
    const reads = counted.reads;
    const timers = delays.length;
    await clock.advance(interval);
    // The next sweep purges its child (the one after comes a second later: it purged, and held the page its reads ran
    // out on, 99 children listed with none of their parents read).
    await vi.waitFor(() => expect(delays.length).toBe(timers + 1), WAIT);
    expect(delays.at(-1)).toBe(1000);
    expect(await memory.getInstance(`${first}-child`)).toBeUndefined();
    // Within the sweep's bound of reads (the page read again, its parents read, and the pass going on where it stood
    // in the rest), and only that child: the others are kept by their parents.
    expect(counted.reads - reads).toBeLessThanOrEqual(1_000);
    const children = await Promise.all(Array.from({ length: n }, (_, i) => memory.getInstance(`p${i}-child`)));
    expect(children.filter((child) => child !== undefined)).toHaveLength(n - 1);
    await sweeper.stop();
  });

  it('trusts no remembered parent past its 5 minutes on the pages read again for a watched parent that changed', async () => {
    // 1,200 failures kept 20 minutes, each with a completed child due at once that its parent keeps, swept every 150 s:
    // a pass of the children reads 500 of them a sweep, so the third sweep, 300 s after the first, goes on with that
    // pass, and the 500 parents the first found keeping lapse at it (KEPT_PARENT_TRUST_MS).
    const n = 1_200;
    const { clock, memory, watched, store, counted } = await watchedFailuresWithChildren(n);
    const interval = KEPT_PARENT_TRUST_MS / 2;
    const delays: number[] = [];
    const sweeper = await started({ clock: recordingClock(clock, delays), store, retention: { completed: 0, failed: 20 * MINUTE, intervalMs: interval } });
    const armed = (): number => delays.filter((delay) => delay === interval).length;
    await clock.advance(0);
    await vi.waitFor(() => expect(armed()).toBe(1), WAIT);
    expect(counted.reads).toBe(500);
    // Of the children on the listing's first page, the first one's parent is watched, the last one's remembered
    // without a watch (the first 64 noted hold them): that one is purged by hand unseen.
    const firstPage = (await memory.queryInstances({ runtimeStatus: ['Completed'], pageSize: RETENTION_PAGE_SIZE })).instances;
    const [seen, unseen] = [firstPage[0]!.parentInstanceId!, firstPage.at(-1)!.parentInstanceId!];
    expect(watched.get(seen)).toBe(1);
    expect(watched.get(unseen)).toBeUndefined();
    const byHand = createClient({ store: memory, clock });
    await byHand.purgeInstanceHistory(unseen);
    await clock.advance(interval);
    await vi.waitFor(() => expect(armed()).toBe(2), WAIT);
    expect(await memory.getInstance(`${unseen}-child`)).toBeDefined(); // still trusted
    // The watched one purged by hand: the third sweep reads that first page again, once the other's trust has lapsed.
    await byHand.purgeInstanceHistory(seen);
    const reads = counted.reads;
    await clock.advance(interval);
    await vi.waitFor(() => expect(armed()).toBe(3), WAIT);
    expect(await memory.getInstance(`${seen}-child`)).toBeUndefined();
    // The unwatched parent is read there, not trusted past its 5 minutes: its child goes at that sweep, not once a
    // pass from the start reaches it again.
    expect(await memory.getInstance(`${unseen}-child`)).toBeUndefined();
    expect(counted.reads - reads).toBeLessThanOrEqual(1_000);
    await sweeper.stop();
  });

  it('watches at most MAX_WATCHED_KEPT_PARENTS kept parents on the per-instance feed, trusting the others up to KEPT_PARENT_TRUST_MS', async () => {
    // Each watch is one more instance a MongoStore's stream names (past maxWatchedInstances it carries every commit to
    // the process) and one more read by the IndexedDB stores when a tab goes without its goodbye: remembering thousands
    // of parents must not watch thousands.
    const n = MAX_WATCHED_KEPT_PARENTS + 16;
    const { clock, memory, watched, store, counted } = await watchedFailuresWithChildren(n);
    const live = (): string[] => [...watched].filter(([, count]) => count > 0).map(([id]) => id);
    const interval = 10_000;
    const { sweeper, armed } = await keptFailuresSweeper(clock, store);
    await clock.advance(0);
    await vi.waitFor(() => expect(armed()).toBe(1), WAIT);
    expect(counted.reads).toBe(n);
    expect(live()).toHaveLength(MAX_WATCHED_KEPT_PARENTS);
    expect([...watched.values()].every((count) => count <= 1)).toBe(true);
    // Every parent is remembered, watched or not: the next sweep reads none of them.
    await clock.advance(interval);
    await vi.waitFor(() => expect(armed()).toBe(2), WAIT);
    expect(counted.reads).toBe(n);
    // A watched parent purged by hand is forgotten at once: its child goes at the next sweep. An unwatched one is
    // trusted until its time: its child goes once the memory's 5 minutes are over.
    const byHand = createClient({ store: memory, clock });
    const watchedParent = live()[0]!;
    const unwatchedParent = Array.from({ length: n }, (_, i) => `p${i}`).find((id) => !live().includes(id))!;
    await byHand.purgeInstanceHistory(watchedParent);
    await byHand.purgeInstanceHistory(unwatchedParent);
    await clock.advance(interval);
    await vi.waitFor(() => expect(armed()).toBe(3), WAIT);
    expect(await memory.getInstance(`${watchedParent}-child`)).toBeUndefined();
    expect(await memory.getInstance(`${unwatchedParent}-child`)).toBeDefined();
    expect(live().length).toBeLessThanOrEqual(MAX_WATCHED_KEPT_PARENTS);
    await clock.advance(KEPT_PARENT_TRUST_MS);
    await sweepUntil(clock, interval, async () => expect(await memory.getInstance(`${unwatchedParent}-child`)).toBeUndefined());
    // The parents read again are remembered again, still within the bound of watches; stop releases them all.
    expect(live().length).toBeLessThanOrEqual(MAX_WATCHED_KEPT_PARENTS);
    expect(live().length).toBeGreaterThan(0);
    await sweeper.stop();
    expect(live()).toEqual([]);
  });

  it('purges within a sweep the child of a running parent past MAX_WATCHED_KEPT_PARENTS whose execution ended, reading each unwatched parent once an interval', async () => {
    // The running parents past the watched ones were found changed only by the listing from the start, an hour apart
    // in end order: a child whose parent continued as new stayed up to an hour past its due time.
    const makerClock = new VirtualClock();
    const memory = new MemoryStore();
    const maker = await started({ clock: makerClock, store: memory });
    const n = MAX_WATCHED_KEPT_PARENTS + 36;
    const parents = await parentsOfCompletedChildren(maker, memory, n);
    // The sweeper alone on a hand clock, an hour on: the children are due (completions kept 0 ms), their parents keep them.
    const clock = new HandClock();
    clock.ms = makerClock.now().getTime() + HOUR;
    const sweeps: { reads: number; listed: number }[] = [];
    const watched = new Map<string, number>();
    const live = (): string[] => [...watched].filter(([, count]) => count > 0).map(([id]) => id);
    const store = storeWith(memory, {
      getInstance: (id, options) => {
        sweeps.at(-1)!.reads++;
        return memory.getInstance(id, options);
      },
      listEnded: async (query) => {
        const page = await memory.listEnded(query);
        sweeps.at(-1)!.listed += page.length;
        return page;
      },
      instanceChanges$: countedFeed(memory, watched),
    });
    const sweep = new RetentionSweep({
      store, clock: guardClock(clock, silentLogger), logger: silentLogger, retention: { completed: 0, intervalMs: MINUTE },
      bounded: (call) => call(),
    });
    /** Runs the sweep due at the clock's time, to the timer of the next one an interval later. */
    const sweepNow = async (): Promise<void> => {
      sweeps.push({ reads: 0, listed: 0 });
      const next = clock.nextTimer((delayMs) => delayMs === MINUTE);
      clock.fireDue();
      await within(next, 'the next sweep armed');
    };
    sweep.start();
    await sweepNow();
    // Every child listed, every parent read: the first 64 watched, the others remembered without a watch.
    expect(sweeps.at(-1)).toEqual({ reads: n, listed: n });
    expect(live()).toHaveLength(MAX_WATCHED_KEPT_PARENTS);
    const unwatched = parents.filter((id) => !live().includes(id));
    expect(unwatched).toHaveLength(n - MAX_WATCHED_KEPT_PARENTS);
    // An interval later the sweep reads the unwatched parents once each, and lists nothing new (it goes on past the
    // children): 36 rows, where the bound is half a sweep's pages of remembered parents (500) plus the listing's.
    clock.ms += MINUTE;
    await sweepNow();
    expect(sweeps.at(-1)).toEqual({ reads: n - MAX_WATCHED_KEPT_PARENTS, listed: 0 });
    // The unwatched parents continue as new, with no child this time; no watch tells of that.
    await continueAsNew(maker, memory, unwatched, 'the unwatched parents continued as new');
    // The next sweep reads them again, finds their executions over, and lists the children from the start: theirs
    // go, the watched parents' stay. 36 parents read, then the 100 of the children listed.
    clock.ms += MINUTE;
    await sweepNow();
    expect(sweeps.at(-1)).toEqual({ reads: n - MAX_WATCHED_KEPT_PARENTS + n, listed: n });
    for (const id of unwatched) expect(await memory.getInstance(`${id}-child`)).toBeUndefined();
    for (const id of live()) expect(await memory.getInstance(`${id}-child`)).toBeDefined();
    expect(sweeps.every(({ reads }) => reads <= RETENTION_READS_PER_SWEEP / 2 + n)).toBe(true);
    await sweep.stop();
    expect(live()).toEqual([]);
  });

  it('reads the unwatched running parents past a sweep\'s reads in turn, the longest unread first, so none is left to the listing from the start', async () => {
    // A sweep reads 500 unwatched parents at most. They were taken in the order they were noted, and each one read was
    // due again at the next sweep: the same 500 were read at every sweep, and a child of any other stayed up to an hour
    // past its parent's continue-as-new (the listing from the start alone found it).
    const makerClock = new VirtualClock();
    const memory = new MemoryStore();
    const maker = await started({ clock: makerClock, store: memory });
    const most = RETENTION_READS_PER_SWEEP / 2;
    const n = MAX_WATCHED_KEPT_PARENTS + most + 36;
    const parents = await parentsOfCompletedChildren(maker, memory, n);
    const clock = new HandClock();
    clock.ms = makerClock.now().getTime() + HOUR;
    let reads = new Set<string>();
    // The listing is held empty while the waits are read, so only those reads see the parents.
    let listing = true;
    const watched = new Map<string, number>();
    const store = storeWith(memory, {
      getInstance: (id, options) => {
        reads.add(id);
        return memory.getInstance(id, options);
      },
      listEnded: async (query) => listing ? memory.listEnded(query) : [],
      instanceChanges$: countedFeed(memory, watched),
    });
    const sweep = new RetentionSweep({
      store, clock: guardClock(clock, silentLogger), logger: silentLogger, retention: { completed: 0, intervalMs: MINUTE },
      bounded: (call) => call(),
    });
    /** Runs the sweep due now; resolves with the delay of the next it armed (an interval, or a second). */
    const sweepNow = async (): Promise<number> => {
      reads = new Set();
      const next = clock.nextTimer((delayMs) => delayMs === MINUTE || delayMs === 1000);
      clock.fireDue();
      return (await within(next, 'the next sweep armed')).at - clock.ms;
    };
    sweep.start();
    // The first sweep lists 500 children and reads their parents (each round of reads a page), the next the others.
    await sweepNow();
    clock.ms += MINUTE;
    await sweepNow();
    const unwatched = parents.filter((id) => !(watched.get(id)! > 0));
    expect(unwatched).toHaveLength(most + 36);
    // An interval on, a sweep's worth of them is read; the 36 left over continue as new, which no watch tells of.
    listing = false;
    clock.ms += MINUTE;
    await sweepNow();
    expect(reads.size).toBe(most);
    const unread = unwatched.filter((id) => !reads.has(id));
    expect(unread).toHaveLength(36);
    await continueAsNew(maker, memory, unread, 'the unread parents continued as new');
    // The next sweep reads those first, and finds their waits over.
    clock.ms += MINUTE;
    await sweepNow();
    expect(reads.size).toBe(most);
    expect(unread.filter((id) => !reads.has(id))).toEqual([]);
    // Listed from the start again, their children go, the others stay: 200 children a sweep, each page of them and the
    // round of reads of their parents two of the pages the 500 waits read first leave.
    listing = true;
    for (let i = 0; i < n / 200; i++) {
      clock.ms += MINUTE;
      // A page a sweep held (its parents' reads past the sweep's) is decided a second later, alone; one that purged
      // some has the next come a second later too.
      for (let more = 0; more < 5 && await sweepNow() === 1000; more++) clock.ms += 1000;
    }
    for (const id of unread) expect(await memory.getInstance(`${id}-child`)).toBeUndefined();
    for (const id of parents.filter((p) => !unread.includes(p))) expect(await memory.getInstance(`${id}-child`)).toBeDefined();
    await sweep.stop();
  });

  it('purges the children of thousands of running parents within a bounded number of sweeps once their parents move on, none early, each sweep within its reads', async () => {
    // Past a sweep's 500 reads the unwatched running parents are read by later sweeps, the longest unread first, and
    // past its pages the listing goes on at the next sweep. With thousands waited on at once, each child must still go
    // within a number of sweeps those two budgets set, and none before its parent's execution is over.
    const makerClock = new VirtualClock();
    const memory = new MemoryStore();
    const maker = await started({ clock: makerClock, store: memory });
    const n = 3000;
    const parents = await parentsOfCompletedChildren(maker, memory, n);
    const purged = new Set<string>();
    const purges = memory.changes$.subscribe(({ instanceId, state }) => {
      if (state === undefined) purged.add(instanceId);
    });
    const clock = new HandClock();
    clock.ms = makerClock.now().getTime() + HOUR;
    /** Per sweep, as the store saw it (`SweepSeen`), and the ids it read. */
    let sweep = { ...unseen(), read: new Set<string>() };
    const sweeps: (typeof sweep)[] = [];
    const watched = new Map<string, number>();
    const store = storeWith(memory, {
      getInstance: (id, options) => {
        seeRead(sweep, id);
        sweep.read.add(id);
        return memory.getInstance(id, options);
      },
      listEnded: (query) => {
        sweep.listed = true;
        return memory.listEnded(query);
      },
      instanceChanges$: countedFeed(memory, watched),
    });
    const sweeper = new RetentionSweep({
      store, clock: guardClock(clock, silentLogger), logger: silentLogger, retention: { completed: 0, intervalMs: MINUTE }, bounded: (call) => call(),
    });
    /** Runs the sweep due now to the timer of the next (an interval on, or a second after one that purged), and moves the clock to it. */
    const sweepNow = async (): Promise<void> => {
      sweeps.push((sweep = { ...unseen(), read: new Set() }));
      const next = clock.nextTimer((delayMs) => delayMs === MINUTE || delayMs === 1000);
      clock.fireDue();
      clock.ms = (await within(next, 'the next sweep armed')).at;
    };
    const left = (ids: readonly string[]): string[] => ids.filter((id) => !purged.has(`${id}-child`));
    const most = RETENTION_READS_PER_SWEEP / 2;
    // Each unwatched parent is read again within ceil(n / most) sweeps an interval apart (the longest unread first);
    // the listing from the start that one found moved on asks for then takes ceil(n / 200) sweeps at most (in the half
    // of a sweep's pages the parents leave it, each page of children and the round of reads of their parents two).
    const bound = Math.ceil(n / most) + Math.ceil(n / (Math.floor(most / RETENTION_PAGE_SIZE / 2) * RETENTION_PAGE_SIZE)) + 1;
    /** Sweeps until every child of `moved` is purged, none of `kept` after any sweep. */
    const sweepUntilPurged = async (moved: readonly string[], kept: readonly string[]): Promise<void> => {
      for (let count = 0; count < bound && left(moved).length > 0; count++) {
        await sweepNow();
        expect(left(kept)).toHaveLength(kept.length);
      }
      expect(left(moved)).toEqual([]);
    };
    sweeper.start();
    // The first pass lists every child and reads every parent, the first 64 watched, the others read again an interval
    // after, 500 at a sweep; then the listing has gone past every child and reads nothing more.
    for (let i = 0; i < bound; i++) await sweepNow();
    expect(purged.size).toBe(0);
    expect(sweeps.at(-1)!.reads).toBe(most);
    expect(readAgain(sweeps.at(-1)!)).toBe(most);
    // A few parents the last sweep did not read continue as new (no watch tells of it): each of their children goes
    // within the bound, the others stay. Read in the order noted alone, the same 500 would be read at every sweep.
    const notRead = parents.filter((id) => !sweeps.at(-1)!.read.has(id) && !(watched.get(id)! > 0));
    expect(notRead).toHaveLength(n - MAX_WATCHED_KEPT_PARENTS - most);
    const moved = notRead.filter((_, i) => i % 50 === 49);
    const still = parents.filter((id) => !moved.includes(id));
    await continueAsNew(maker, memory, moved, 'a few parents continued as new');
    await sweepUntilPurged(moved, still);
    // Then all the others at once.
    await continueAsNew(maker, memory, still, 'the other parents continued as new');
    await sweepUntilPurged(still, []);
    for (const seen of sweeps) {
      expect(readAgain(seen)).toBeLessThanOrEqual(most);
      expect(seen.reads).toBeLessThanOrEqual(RETENTION_READS_PER_SWEEP);
    }
    await sweeper.stop();
    purges.unsubscribe();
    expect([...watched.values()].filter((count) => count > 0)).toEqual([]);
  });

  it.each([
    { failedFor: '30 minutes', failed: 30 * MINUTE },
    { failedFor: 'a week', failed: 7 * 24 * HOUR },
  ])('purges the children of thousands of ended parents, ended out of their order, each once its parent lets it go: none early, none starved, each sweep within its reads (failures kept $failedFor)', async ({ failed }) => {
    // 3,000 parents, each with a completed child (completions kept 10 minutes): most failed, a tenth still run, and as
    // the sweeps go a tenth are started again over their id, a tenth purged by hand and a tenth rewound (running the
    // execution that started their child again). The children ended in an order unlike their parents', a fifth after
    // their parent; some parents are due, and purged by the sweeps, before their child is. The first sweeps find
    // every ended parent keeping its child and trust it 5 minutes, so some 2,400 lapse within a few seconds: kept 30
    // minutes, just as most parents' own periods run out; kept a week, the reads of the lapsed parents alone (500 a
    // sweep at most, shared with the running ones) find the 64 watches' missed changes.
    const n = 3000;
    const periods = { completed: 10 * MINUTE, failed };
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    /** A time within `widthMs` after `fromMs`, in an order of the trees the prime sets. */
    const spread = (i: number, prime: number, fromMs: number, widthMs: number): number => fromMs + Math.floor(((i * prime) % n) * widthMs / n);
    type Kind = 'ended' | 'running' | 'restarted' | 'purged' | 'rewound';
    interface Tree { parent: string; child: string; kind: Kind; parentEnd: number; childEnd: number; changeAt: number; changedAt?: number }
    const trees: Tree[] = [];
    for (let i = 0; i < n; i++) {
      const kind: Kind = ({ 4: 'rewound', 6: 'running', 7: 'restarted', 8: 'purged' } as Partial<Record<number, Kind>>)[i % 10] ?? 'ended';
      // Failures kept 30 minutes: due around the first trusts' lapse (4 to 8 minutes on) or later, or before the sweeps.
      const parentEnd = i % 10 === 5 ? spread(i, 7919, start - 40 * MINUTE, 10 * MINUTE) : i % 10 === 9 ? spread(i, 7919, start - 35 * MINUTE, 5 * MINUTE)
        : i % 10 < 3 || kind === 'restarted' ? spread(i, 7919, start - 26 * MINUTE, 4 * MINUTE) : spread(i, 7919, start - 22 * MINUTE, 32 * MINUTE);
      const childEnd = i % 10 === 5 ? parentEnd + 25 * MINUTE : i % 10 === 9 ? spread(i, 4999, start - 10 * MINUTE, 10 * MINUTE)
        : spread(i, 4999, start - 60 * MINUTE, 30 * MINUTE);
      const changeAt = kind === 'restarted' || kind === 'rewound' ? spread(i, 7919, start, 8 * MINUTE) : kind === 'purged' ? spread(i, 7919, start, 20 * MINUTE) : Infinity;
      const id = String(i).padStart(4, '0');
      trees.push({ parent: `p${id}`, child: `c${id}`, kind, parentEnd, childEnd, changeAt });
    }
    for (const tree of trees) {
      await stored(memory, { id: tree.parent, status: tree.kind === 'running' ? 'Running' : 'Failed', endedMs: tree.kind === 'running' ? start - HOUR : tree.parentEnd, executionId: 'e1' });
      await stored(memory, { id: tree.child, status: 'Completed', endedMs: tree.childEnd, executionId: 'e1', parent: { id: tree.parent, executionId: 'e1' } });
    }
    /** Started again and failed at once, not running: an execution of its own, kept for its period. */
    const failsAgain = (tree: Tree): boolean => tree.kind === 'restarted' && Number(tree.parent.slice(1)) % 20 === 17;
    /** When the rule lets a child go: its own period over, and the execution that started it no longer kept. */
    const allowed = (tree: Tree): number => tree.kind === 'running' || tree.kind === 'rewound' ? Infinity
      : Math.max(tree.childEnd + periods.completed, Math.min(tree.parentEnd + periods.failed, tree.changedAt ?? Infinity));
    const clock = new HandClock();
    clock.ms = start;
    /** Per sweep: when it ran, and what the store saw of it (`SweepSeen`). */
    interface Sweep extends SweepSeen { at: number }
    const sweeps: Sweep[] = [];
    const purged = new Map<string, { ms: number; sweep: number }>();
    let byHand = false;
    const purges = memory.changes$.subscribe(({ instanceId, state }) => {
      if (state === undefined && !byHand) purged.set(instanceId, { ms: clock.ms, sweep: sweeps.length - 1 });
    });
    const watched = new Map<string, number>();
    const store = storeWith(memory, {
      getInstance: (id, options) => {
        seeRead(sweeps.at(-1)!, id);
        return memory.getInstance(id, options);
      },
      listEnded: (query) => {
        sweeps.at(-1)!.listed = true;
        return memory.listEnded(query);
      },
      instanceChanges$: countedFeed(memory, watched),
    });
    const sweeper = new RetentionSweep({
      store, clock: guardClock(clock, silentLogger), logger: silentLogger, retention: { ...periods, intervalMs: MINUTE }, bounded: (call) => call(),
    });
    /** Changes the parents due to change by now, runs the sweep due now to the timer of the next, and moves the clock to it. */
    const sweepNow = async (): Promise<void> => {
      for (const tree of trees) {
        if (tree.changedAt !== undefined || tree.changeAt > clock.ms) continue;
        tree.changedAt = clock.ms;
        byHand = true;
        if (tree.kind === 'purged') await memory.purgeInstance(tree.parent);
        else if (tree.kind === 'rewound') await stored(memory, { id: tree.parent, status: 'Running', endedMs: clock.ms, executionId: 'e1' });
        else await stored(memory, { id: tree.parent, status: failsAgain(tree) ? 'Failed' : 'Running', endedMs: clock.ms, executionId: 'e2' });
        byHand = false;
      }
      sweeps.push({ at: clock.ms, ...unseen() });
      const next = clock.nextTimer((delayMs) => delayMs === MINUTE || delayMs === 1000);
      clock.fireDue();
      clock.ms = (await within(next, 'the next sweep armed')).at;
    };
    const most = RETENTION_READS_PER_SWEEP / 2;
    // A child goes within this many sweeps of its time: the trust's lapse, each lapsed parent read again (250 a sweep at
    // least, the running ones waited on sharing the 500), and a listing from the start reaching it (twice: one under way
    // may have gone past it), at 200 a sweep at least (in the half the parents leave it, each page of children and the
    // round of reads of their parents two pages).
    const listedPerSweep = Math.floor(most / RETENTION_PAGE_SIZE / 2) * RETENTION_PAGE_SIZE;
    const bound = Math.ceil(KEPT_PARENT_TRUST_MS / MINUTE) + Math.ceil(n / (most / 2)) + 2 * Math.ceil(n / listedPerSweep) + 1;
    const lastChange = Math.max(...trees.map((tree) => tree.changeAt).filter((ms) => ms < Infinity));
    const overdue = (): Tree[] => trees.filter((tree) => allowed(tree) <= (sweeps.at(-bound)?.at ?? -Infinity) && !purged.has(tree.child));
    sweeper.start();
    do await sweepNow();
    while (sweeps.length < 300 && (clock.ms <= lastChange + KEPT_PARENT_TRUST_MS || trees.some((tree) => allowed(tree) <= clock.ms && !purged.has(tree.child))));
    await sweeper.stop();
    purges.unsubscribe();
    expect(sweeps.length).toBeLessThan(300);
    // None early: a child once the rule lets it go, a parent once due (the one that started again and failed, as its
    // new execution), none of the running or rewound parents' children.
    for (const tree of trees) {
      const child = purged.get(tree.child);
      if (child !== undefined) expect({ child: tree.child, ms: child.ms }).toEqual({ child: tree.child, ms: Math.max(child.ms, allowed(tree)) });
      const parent = purged.get(tree.parent);
      const again = tree.changedAt !== undefined && parent !== undefined && parent.ms >= tree.changedAt;
      if (parent !== undefined) expect(parent.ms).toBeGreaterThanOrEqual(again && failsAgain(tree) ? tree.changedAt! + failed : again ? Infinity : tree.parentEnd + failed);
    }
    expect(trees.filter((tree) => tree.kind === 'running' || tree.kind === 'rewound').filter((tree) => purged.has(tree.child))).toEqual([]);
    // None starved: each within the bound of its time, every one due that long before the last sweep gone.
    const firstSweepFrom = (ms: number): number => sweeps.findIndex((sweep) => sweep.at >= ms);
    const late = trees.filter((tree) => purged.has(tree.child) && purged.get(tree.child)!.sweep - firstSweepFrom(allowed(tree)) > bound);
    expect(late.map((tree) => tree.child)).toEqual([]);
    expect(overdue().map((tree) => tree.child)).toEqual([]);
    expect(trees.filter((tree) => tree.changedAt !== undefined && tree.kind !== 'rewound').every((tree) => purged.has(tree.child))).toBe(true);
    // A change no watch told is found once the parent's trust lapses: each child a change let go, within 5 minutes of
    // that change and an interval or three (the read, then the listing from the start, which the reads of the parents
    // its pages ask for may spread over two sweeps), not once the 2,400 lapsed are read 250 a sweep (9 minutes,
    // failures kept a week).
    const freed = trees.filter((tree) => tree.changedAt !== undefined && allowed(tree) === tree.changedAt && purged.has(tree.child));
    expect(freed.filter((tree) => purged.get(tree.child)!.ms - tree.changedAt! > KEPT_PARENT_TRUST_MS + 3 * MINUTE).map((tree) => tree.child)).toEqual([]);
    // Each sweep within its reads; thousands lapsed at once filled the half of a sweep its parents may take.
    for (const seen of sweeps) {
      expect(readAgain(seen)).toBeLessThanOrEqual(most);
      expect(seen.reads).toBeLessThanOrEqual(RETENTION_READS_PER_SWEEP);
    }
    expect(Math.max(...sweeps.map(readAgain))).toBe(most);
    expect([...watched.values()].filter((count) => count > 0)).toEqual([]);
  });

  it('reads no more than its 1,000 allow on trees three deep (the parents and then the grandparents a page asks for counted), and still purges each tree once its root lets it go', async () => {
    // 1,000 trees: a failed root kept 30 minutes, its completed child, and the child's completed grandchild, both past
    // their 10 minutes. The grandchildren ended first, so a listing's pages are theirs alone: each page of 100 asks for
    // its 100 children, and then for their 100 roots. The roots are due over the first 20 minutes of the sweeps.
    const n = 1000;
    const periods = { completed: 10 * MINUTE, failed: 30 * MINUTE };
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    const id = (i: number): string => String(i).padStart(4, '0');
    const rootEnd = (i: number): number => start - 28 * MINUTE + Math.floor(((i * 7919) % n) * 18 * MINUTE / n);
    for (let i = 0; i < n; i++) {
      await stored(memory, { id: `r${id(i)}`, status: 'Failed', endedMs: rootEnd(i), executionId: 'e1' });
      await stored(memory, { id: `m${id(i)}`, status: 'Completed', endedMs: start - 40 * MINUTE + i * 1000, executionId: 'e1', parent: { id: `r${id(i)}`, executionId: 'e1' } });
      await stored(memory, { id: `g${id(i)}`, status: 'Completed', endedMs: start - 60 * MINUTE + i * 1000, executionId: 'e1', parent: { id: `m${id(i)}`, executionId: 'e1' } });
    }
    const watched = new Map<string, number>();
    const { clock, sweeper, sweeps, sweepNow } = handSwept(memory, start, { ...periods, intervalMs: MINUTE }, { instanceChanges$: countedFeed(memory, watched) });
    const purged = new Map<string, { ms: number; sweep: number }>();
    const purges = memory.changes$.subscribe(({ instanceId, state }) => {
      if (state === undefined) purged.set(instanceId, { ms: clock.ms, sweep: sweeps.length - 1 });
    });
    sweeper.start();
    const lastDue = Math.max(...Array.from({ length: n }, (_, i) => rootEnd(i) + periods.failed));
    do await sweepNow();
    while (sweeps.length < 200 && purged.size < 3 * n);
    await sweeper.stop();
    purges.unsubscribe();
    // Each sweep within its reads: 1,000 instances, listed or read.
    expect(Math.max(...sweeps.map(({ listed, read }) => listed + read))).toBeLessThanOrEqual(RETENTION_READS_PER_SWEEP);
    // None early (no child nor grandchild before its root's 30 minutes), none starved.
    expect(purged.size).toBe(3 * n);
    for (let i = 0; i < n; i++) {
      const due = rootEnd(i) + periods.failed;
      for (const member of [`r${id(i)}`, `m${id(i)}`, `g${id(i)}`]) expect(purged.get(member)!.ms).toBeGreaterThanOrEqual(due);
    }
    expect(clock.ms).toBeLessThanOrEqual(lastDue + 10 * MINUTE);
    expect([...watched.values()].filter((count) => count > 0)).toEqual([]);
  });

  it('purges a chain 12 deep within its first sweeps: the 11 rounds of reads its page asks for cost one read each', async () => {
    // A chain of 12 completed instances, each the child of the next, with 100 others ended between two of them: the
    // page that lists the deepest asks for its 11 ancestors one round after the other, a read each (each round cost a
    // page of the sweep's 10 before, and the first page was decided past them).
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    const depth = 12;
    const chain = Array.from({ length: depth }, (_, k) => `d${String(k).padStart(2, '0')}`);
    for (let k = 0; k < depth; k++) {
      const endedMs = start - HOUR + (depth - k) * 1000 * RETENTION_PAGE_SIZE;
      await stored(memory, { id: chain[k]!, status: 'Completed', endedMs, executionId: 'e1', ...(k > 0 ? { parent: { id: chain[k - 1]!, executionId: 'e1' } } : {}) });
      for (let j = 1; j <= RETENTION_PAGE_SIZE; j++) await stored(memory, { id: `f${k}-${j}`, status: 'Completed', endedMs: endedMs + j * 1000, executionId: 'e1' });
    }
    const clock = new HandClock();
    clock.ms = start;
    const sweeper = new RetentionSweep({
      store: storeWith(memory, { listEnded: (query) => memory.listEnded(query) }), clock: guardClock(clock, silentLogger),
      logger: silentLogger, retention: { completed: 10 * MINUTE, intervalMs: MINUTE }, bounded: (call) => call(),
    });
    sweeper.start();
    let sweeps = 0;
    const left = async (): Promise<number> => (await memory.queryInstances({ pageSize: 2000 })).instances.length;
    while (sweeps < 10 && await left() > 0) {
      sweeps++;
      const next = clock.nextTimer((delayMs) => delayMs === MINUTE || delayMs === 1000);
      clock.fireDue();
      clock.ms = (await within(next, 'the next sweep armed')).at;
    }
    await sweeper.stop();
    expect(await left()).toBe(0);
    expect(sweeps).toBeLessThanOrEqual(3);
  });

  it('lists each instance of a pass once: a page whose reads go past the sweep\'s is held, with what was read for it, and decided first by the next sweep', async () => {
    // 1,000 trees three deep, all due: a failed root, its completed child and that child's completed grandchild, the
    // grandchildren ended first. Each page of 100 grandchildren asks for their 100 children, then for the 100 roots:
    // 300 instances, so a sweep's 1,000 reads end within its fourth page.
    const n = 1000;
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    const id = (i: number): string => String(i).padStart(4, '0');
    for (let i = 0; i < n; i++) {
      await stored(memory, { id: `r${id(i)}`, status: 'Failed', endedMs: start - 90 * MINUTE, executionId: 'e1' });
      await stored(memory, { id: `m${id(i)}`, status: 'Completed', endedMs: start - 40 * MINUTE + i * 1000, executionId: 'e1', parent: { id: `r${id(i)}`, executionId: 'e1' } });
      await stored(memory, { id: `g${id(i)}`, status: 'Completed', endedMs: start - 60 * MINUTE + i * 1000, executionId: 'e1', parent: { id: `m${id(i)}`, executionId: 'e1' } });
    }
    const { sweeper, sweeps, listings, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, failed: 30 * MINUTE, intervalMs: MINUTE });
    sweeper.start();
    do await sweepNow();
    while (sweeps.length < 20 && await storedCount(memory) > 0);
    await sweeper.stop();
    expect(await storedCount(memory)).toBe(0);
    // No instance listed twice (the page a sweep's reads stopped in was listed again by the next: 300 of them), and
    // 3,000 instances read in all, 1,000 at most a sweep.
    expect([...listings].filter(([, times]) => times > 1).map(([listed]) => listed)).toEqual([]);
    expect(sweeps.reduce((sum, { listed, read }) => sum + listed + read, 0)).toBe(3 * n);
    expect(Math.max(...sweeps.map(({ listed, read }) => listed + read))).toBe(RETENTION_READS_PER_SWEEP);
  });

  it('counts each parent a round reads, not a page per round: a page whose children share one parent costs 101 reads', async () => {
    // A failure due, with 1,500 completed sub-orchestrations due: the first page reads the failure (and purges it with
    // its children), each later page reads it again (gone) for its 100 children.
    const n = 1500;
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    await stored(memory, { id: 'p', status: 'Failed', endedMs: start - 2 * HOUR, executionId: 'e1' });
    for (let i = 0; i < n; i++) {
      await stored(memory, { id: `c${String(i).padStart(4, '0')}`, status: 'Completed', endedMs: start - HOUR + i, executionId: 'e1', parent: { id: 'p', executionId: 'e1' } });
    }
    const { sweeper, sweeps, listings, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, failed: 30 * MINUTE, intervalMs: MINUTE });
    sweeper.start();
    await sweepNow();
    // Its 1,000 reads: 9 pages of 100 and their 9 reads of the parent, then a page of the 91 left, whose read of the
    // parent the next sweep makes (a page and a round a page each: 5 pages and 500 children before).
    expect(sweeps[0]).toMatchObject({ listed: 991, read: 9 });
    expect(await storedCount(memory)).toBe(n - 900);
    do await sweepNow();
    while (sweeps.length < 10 && await storedCount(memory) > 0);
    await sweeper.stop();
    expect(await storedCount(memory)).toBe(0);
    // The held page decided alone a second later (its read of the parent), then the 509 left.
    expect(sweeps.map(({ listed, read }) => ({ listed, read }))).toEqual([{ listed: 991, read: 9 }, { listed: 0, read: 1 }, { listed: 509, read: 6 }]);
    expect([...listings].filter(([, times]) => times > 1)).toEqual([]);
  });

  it('holds a page whose rounds of reads go past the sweep\'s, however deep its trees: none read past 1,000 a sweep, and the next sweep, a second later, goes on with the rounds', async () => {
    // 100 chains of 12 completed instances, each the child of the next, the deepest ended first: the first page lists
    // the 100 deepest and asks for 11 rounds of 100 reads (1,200 instances with the page).
    const chains = RETENTION_PAGE_SIZE;
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    await chainsTwelveDeep(memory, start, chains);
    const { sweeper, sweeps, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, intervalMs: MINUTE });
    sweeper.start();
    do await sweepNow();
    while (sweeps.length < 10 && await storedCount(memory) > 0);
    await sweeper.stop();
    expect(await storedCount(memory)).toBe(0);
    // The first sweep: the page and 9 rounds, purging nothing; the second, a second later (not an interval), the 2
    // rounds left of that page alone, and every chain purged.
    expect(sweeps.map(({ listed, read }) => listed + read)).toEqual([RETENTION_READS_PER_SWEEP, 2 * chains]);
    expect(sweeps.map(({ at, listed }) => ({ after: at - start, listed }))).toEqual([{ after: 0, listed: chains }, { after: 1000, listed: 0 }]);
  });

  it('adds one sweep, of the held page\'s reads alone, to each that holds one: kept trees deeper than a sweep\'s reads are not read every second', async () => {
    // 300 chains 12 deep whose roots failed and are kept a week: every page of the deepest asks for 11 rounds of reads,
    // more than a sweep's, and is kept. Each sweep that holds one has it decided a second later by a sweep that reads
    // its rounds left alone; the sweep after comes an interval later, as the holding one's would have.
    const chains = 3 * RETENTION_PAGE_SIZE;
    const { sweeps, perMinute } = await keptChainsSwept(chains, 12);
    // The held pages were decided a second after their sweeps, by sweeps that listed nothing...
    const afterHold = sweeps.filter(({ at }, i) => i > 0 && at - sweeps[i - 1]!.at === 1000);
    expect(afterHold.length).toBeGreaterThanOrEqual(chains / RETENTION_PAGE_SIZE);
    expect(afterHold.every(({ lists }) => lists === 0)).toBe(true);
    // ...and the sweeps still came once a minute, two with those, each within its 1,000 reads.
    expect(Math.max(...[...perMinute.values()].map((minute) => minute.sweeps))).toBe(2);
    expect(sweeps.every(({ listed, read }) => listed + read <= RETENTION_READS_PER_SWEEP)).toBe(true);
    expect(Math.max(...afterHold.map(({ read }) => read))).toBeLessThan(RETENTION_READS_PER_SWEEP);
  });

  it('has a page the sweep that decides it alone holds again finished by the sweep after, as the holding one\'s next would come: no sweeps a second apart past one, 2,000 reads a minute at most', async () => {
    // 300 chains 25 deep whose roots failed and are kept a week: a page of their deepest asks for 24 rounds of reads,
    // more than two sweeps', so the sweep a second after the one that held it holds it again. Were that sweep to have
    // the next come a second later too, each page would be read by sweeps a second apart until decided.
    const { start, sweeps, perMinute } = await keptChainsSwept(3 * RETENTION_PAGE_SIZE, 25);
    // The first page: held by the first sweep (the page and 9 rounds), held again a second later (10 rounds, listing
    // nothing), and finished by the sweep an interval after the first.
    expect(sweeps.slice(0, 3).map(({ at, lists, listed, read }) => ({ after: at - start, lists, reads: listed + read }))).toEqual([
      { after: 0, lists: 1, reads: RETENTION_READS_PER_SWEEP },
      { after: 1000, lists: 0, reads: RETENTION_READS_PER_SWEEP },
      { after: 1000 + MINUTE, lists: 1, reads: RETENTION_READS_PER_SWEEP },
    ]);
    expect(Math.max(...[...perMinute.values()].map((minute) => minute.sweeps))).toBe(2);
    expect(Math.max(...[...perMinute.values()].map((minute) => minute.reads))).toBe(2 * RETENTION_READS_PER_SWEEP);
    expect(sweeps.filter(({ at }, i) => i > 1 && at - sweeps[i - 2]!.at === 2000)).toEqual([]);
  });

  it('decides a page held twice on what it read for it, each member only while it is still that snapshot: a parent rewound meanwhile keeps what is below it', async () => {
    // 100 chains 25 deep, all due: the first page is held by the first sweep and again a second later, by which time
    // the parents down to level 5 were read for it. Chain 0's level 10, read then, is rewound (running again, the same
    // execution) before the sweep that finishes the page: it and the 14 instances below it stay, as a sweeper that
    // read them after the rewind would leave them; the other 2,485 go.
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    await chainsOf(memory, start, RETENTION_PAGE_SIZE, 25, 'Completed');
    const { sweeper, sweeps, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, intervalMs: MINUTE });
    sweeper.start();
    await sweepNow();
    await sweepNow();
    expect(sweeps.map(({ lists, read }) => ({ lists, read }))).toEqual([{ lists: 1, read: 900 }, { lists: 0, read: RETENTION_READS_PER_SWEEP }]);
    expect(await storedCount(memory)).toBe(25 * RETENTION_PAGE_SIZE);
    await stored(memory, { id: 'c000-10', status: 'Running', endedMs: start, executionId: 'e1', parent: { id: 'c000-09', executionId: 'e1' } });
    for (let i = 0; i < 5; i++) await sweepNow();
    await sweeper.stop();
    const left = (await memory.queryInstances({ pageSize: 1000 })).instances.map(({ instanceId }) => instanceId).sort();
    expect(left).toEqual(Array.from({ length: 15 }, (_, i) => `c000-${String(10 + i).padStart(2, '0')}`));
  });

  it('lets the due chain a kept root kept go as soon as that root is started again, not 5 minutes a level later', async () => {
    // 'a' terminated (no period: kept), above 'b', 'c' and 'd', completed and due, each in a page of its own (the
    // deepest ended first, 150 due children of another kept root between two of them): the first sweep finds 'a'
    // keeping them and remembers 'a' (watched) and the due 'b' and 'c' as kept for as long as it is. 'a' started again
    // frees them. 'b' and 'c' were remembered as keeping what is below them on their own, each read again only once
    // its 5 minutes were over: 'd', whose page asked for neither, stayed 2 minutes after the change (5 at least).
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    const ids = await keptChainOfFour(memory, start);
    const watched = new Map<string, number>();
    const { clock, sweeper, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, intervalMs: MINUTE }, {
      instanceChanges$: countedFeed(memory, watched),
    });
    sweeper.start();
    await sweepNow();
    expect(await storedCount(memory)).toBe(605);
    expect(watched.get('a')).toBe(1);
    await stored(memory, { id: 'a', status: 'Running', endedMs: clock.ms, executionId: 'e2' });
    const changedAt = clock.ms;
    while (clock.ms < changedAt + 2 * MINUTE) await sweepNow();
    await sweeper.stop();
    const gone = await Promise.all(ids.map(async (id) => (await memory.getInstance(id)) === undefined));
    expect(ids.filter((_, i) => !gone[i])).toEqual(['a']);
  });

  it('gives the watches to the kept roots before what they keep: a root noted past 64 entries still frees its chain at the next sweep once started again', async () => {
    // 20 terminated roots (no period: kept), each above a chain of 4 due completions: the first page notes 80 entries,
    // each root and the 3 due parents it keeps below it. 'a', terminated too, above 'b' > 'c' > 'd' (due), comes in the
    // second page: noted after the 64 watches were taken. They went in the order noted, so 'a' had none, and started
    // again it kept its chain until its 5-minute read (the chain of each kept root held 4 watches, where one frees it).
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    const roots = Array.from({ length: 20 }, (_, k) => `r${String(k).padStart(2, '0')}`);
    for (const [k, root] of roots.entries()) {
      await stored(memory, { id: root, status: 'Terminated', endedMs: start - 3 * HOUR + k, executionId: 'e1' });
      for (let level = 1; level <= 4; level++) {
        await stored(memory, {
          id: `${root}-${level}`, status: 'Completed', endedMs: start - 2 * HOUR + k * 10 + level, executionId: 'e1',
          parent: { id: level === 1 ? root : `${root}-${level - 1}`, executionId: 'e1' },
        });
      }
    }
    for (let i = 0; i < 20; i++) await stored(memory, { id: `f${i}`, status: 'Completed', endedMs: start - 90 * MINUTE + i, executionId: 'e1' });
    const ids = ['a', 'b', 'c', 'd'];
    for (const [level, id] of ids.entries()) {
      await stored(memory, {
        id, status: level === 0 ? 'Terminated' : 'Completed', endedMs: start - HOUR + level, executionId: 'e1',
        ...(level > 0 ? { parent: { id: ids[level - 1]!, executionId: 'e1' } } : {}),
      });
    }
    const watched = new Map<string, number>();
    const live = (): string[] => [...watched].filter(([, count]) => count > 0).map(([id]) => id);
    const { clock, sweeper, sweeps, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, intervalMs: MINUTE }, {
      instanceChanges$: countedFeed(memory, watched),
    });
    sweeper.start();
    await sweepNow();
    // Two pages: 80 chain members and 20 due completions, purged; then 'b', 'c' and 'd'. The 21 roots are read.
    expect(sweeps[0]).toEqual({ at: start, lists: 2, listed: 103, read: 21 });
    expect(await storedCount(memory)).toBe(104);
    expect(live()).toHaveLength(MAX_WATCHED_KEPT_PARENTS);
    expect(live()).toEqual(expect.arrayContaining([...roots, 'a']));
    // Started again just before the next sweep, a minute on: that sweep frees the chain.
    expect(clock.ms).toBe(start + MINUTE);
    await stored(memory, { id: 'a', status: 'Running', endedMs: clock.ms, executionId: 'e2' });
    await sweepNow();
    const left = await Promise.all(ids.map(async (id) => (await memory.getInstance(id)) === undefined ? [] : [id]));
    expect(left.flat()).toEqual(['a']);
    expect(await storedCount(memory)).toBe(101);
    await sweeper.stop();
    expect(live()).toEqual([]);
  });

  it('lets the due chain a kept root kept go once that root, started again unseen, is read keeping a child of its new execution', async () => {
    // As above, but no feed tells 'a' started again (a store whose feed misses commits): the sweep reads it once a
    // due child of its new execution asks for it, finds it terminated again keeping that child, and notes it anew.
    // The entries of 'b' and 'c', kept by its first execution, went on under the new one: read again unchanged every
    // 5 minutes and trusted again, they kept 'd' (and 'c', 'b') for as long as 'a' is not changed again, for ever.
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    await keptChainOfFour(memory, start);
    const { clock, sweeper, sweepNow } = handSwept(memory, start, { completed: 2 * MINUTE, intervalMs: MINUTE }, {
      instanceChanges$: () => NEVER,
    });
    sweeper.start();
    await sweepNow();
    expect(await storedCount(memory)).toBe(605);
    await stored(memory, { id: 'a', status: 'Terminated', endedMs: clock.ms, executionId: 'e2' });
    await stored(memory, { id: 'a2', status: 'Completed', endedMs: clock.ms, executionId: 'e1', parent: { id: 'a', executionId: 'e2' } });
    const changedAt = clock.ms;
    while (clock.ms < changedAt + 2 * MINUTE + 3 * MINUTE) await sweepNow();
    await sweeper.stop();
    const left = await Promise.all(['a', 'a2', 'b', 'c', 'd'].map(async (id) => (await memory.getInstance(id)) === undefined ? [] : [id]));
    expect(left.flat()).toEqual(['a', 'a2']);
  });

  it.each([
    { order: 'end order', inEndOrder: true },
    { order: 'createdTime order', inEndOrder: false },
  ])('purges trees deep and wide, a page held twice, members changing between sweeps: each instance once, on time, none early, each sweep and interval within its reads ($order)', async ({ inEndOrder }) => {
    // What a demanding app leaves, 6,945 instances: 100 chains 25 deep, due 3 minutes in (a page of their deepest asks
    // for 24 rounds of reads, more than two sweeps': in createdTime order held, held again a second later, finished an
    // interval later); 60
    // chains 22 deep whose failed roots are due 5 minutes in; 40 failures, each with 4 children of 5 children of 2, due
    // over the first 20 minutes; 5 terminated roots with such trees (no period: kept); 100 running parents, each
    // keeping a due child (the 36 without a watch read again every interval, first thing in a sweep). Between sweeps,
    // members change: a chain member rewound (running: it and what is below stay), roots started again (their
    // children go by their own ends from then), members purged by hand (those below go from then).
    const periods = { completed: 10 * MINUTE, failed: 30 * MINUTE };
    const interval = MINUTE;
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    interface Node { id: string; status: OrchestrationRuntimeStatus; endedMs: number; createdMs?: number; parent?: Node; change?: { kind: 'rewound' | 'restarted' | 'purged'; at: number; doneAt?: number } }
    const nodes: Node[] = [];
    const node = (id: string, status: OrchestrationRuntimeStatus, endedMs: number, parent?: Node): Node => {
      const made: Node = { id, status, endedMs, ...(parent === undefined ? {} : { parent }) };
      nodes.push(made);
      return made;
    };
    /** A chain `depth` deep, the deepest ended at `deepestEndMs`, each level above 100 ms later (the root at `rootEndMs`). */
    const chain = (prefix: string, depth: number, rootStatus: OrchestrationRuntimeStatus, rootEndMs: number, deepestEndMs: number): Node[] => {
      const made: Node[] = [];
      for (let level = 0; level < depth; level++) {
        made.push(node(`${prefix}-${String(level).padStart(2, '0')}`, level === 0 ? rootStatus : 'Completed', level === 0 ? rootEndMs : deepestEndMs + (depth - 1 - level) * 100, made[level - 1]));
      }
      return made;
    };
    /** A root with 4 children of 5 children of 2, the deepest ended first. */
    const wide = (prefix: string, rootStatus: OrchestrationRuntimeStatus, rootEndMs: number): Node[] => {
      const root = node(prefix, rootStatus, rootEndMs);
      const tree: Node[] = [root];
      for (let a = 0; a < 4; a++) {
        const child = node(`${prefix}-${a}`, 'Completed', start - 40 * MINUTE + a, root);
        tree.push(child);
        for (let b = 0; b < 5; b++) {
          const grandchild = node(`${prefix}-${a}${b}`, 'Completed', start - 50 * MINUTE + a * 10 + b, child);
          tree.push(grandchild);
          for (let c = 0; c < 2; c++) tree.push(node(`${prefix}-${a}${b}${c}`, 'Completed', start - 70 * MINUTE + a * 100 + b * 10 + c, grandchild));
        }
      }
      return tree;
    };
    const pad = (i: number): string => String(i).padStart(3, '0');
    const deep = Array.from({ length: 100 }, (_, k) => chain(`d${pad(k)}`, 25, 'Completed', start - 7 * MINUTE + 2400 + k, start - 7 * MINUTE + k));
    // Created first, as they ended (in createdTime order too, the first page of a listing from the start is their deepest).
    for (const n of deep.flat()) n.createdMs = n.endedMs - 5 * HOUR;
    const kept = Array.from({ length: 60 }, (_, k) => chain(`k${pad(k)}`, 22, 'Failed', start - 25 * MINUTE + k, start - 2 * HOUR + k));
    const failures = Array.from({ length: 40 }, (_, i) => wide(`w${pad(i)}`, 'Failed', start - 30 * MINUTE + Math.floor(((i * 7919) % 40) * 20 * MINUTE / 40)));
    const terminated = Array.from({ length: 5 }, (_, i) => wide(`t${pad(i)}`, 'Terminated', start - 2 * HOUR + i));
    for (let i = 0; i < 100; i++) node(`x${pad(i)}`, 'Completed', start - 30 * MINUTE + i, node(`r${pad(i)}`, 'Running', start - 2 * HOUR + i));
    // The changes, each made before the sweeps could purge what it changes.
    deep[0]![10]!.change = { kind: 'rewound', at: start + 3 * MINUTE };
    deep[1]![0]!.change = { kind: 'restarted', at: start + 90_000 };
    kept[2]![5]!.change = { kind: 'purged', at: start + 2 * MINUTE };
    kept[3]![0]!.change = { kind: 'restarted', at: start + 90_000 };
    failures.forEach((tree, i) => {
      const at = Math.max(start + 30_000, tree[0]!.endedMs + periods.failed - 90_000);
      if (i % 7 === 3) tree[0]!.change = { kind: 'restarted', at };
      else if (i % 11 === 5) tree[0]!.change = { kind: 'rewound', at };
      else if (i % 5 === 1) tree[1]!.change = { kind: 'purged', at };
    });
    terminated[1]![0]!.change = { kind: 'restarted', at: start + 3 * MINUTE };
    terminated[2]![2]!.change = { kind: 'purged', at: start + 4 * MINUTE };
    for (const { id, status, endedMs, createdMs, parent } of nodes) {
      await stored(memory, { id, status, endedMs, createdMs, executionId: 'e1', ...(parent === undefined ? {} : { parent: { id: parent.id, executionId: 'e1' } }) });
    }
    expect(nodes).toHaveLength(6945);
    const period = (status: OrchestrationRuntimeStatus): number => status === 'Completed' ? periods.completed : status === 'Failed' ? periods.failed : Infinity;
    /** When the rule lets `n` go: its own period over, and the execution that started it no longer kept. */
    const allowed = (n: Node): number => {
      if (n.change !== undefined) return Infinity; // rewound or started again: running; purged by hand: not the sweeps'
      if (n.parent === undefined) return n.endedMs + period(n.status);
      const change = n.parent.change;
      const released = change?.kind === 'restarted' || change?.kind === 'purged' ? change.doneAt ?? Infinity : change?.kind === 'rewound' ? Infinity : allowed(n.parent);
      return Math.max(n.endedMs + period(n.status), released);
    };
    /** The change above `n` its time comes from, if any (a change no watch told is found once its trust lapses). */
    const freedByChange = (n: Node): boolean => n.parent !== undefined && (n.parent.change?.doneAt === allowed(n) || freedByChange(n.parent));
    const clock = new HandClock();
    clock.ms = start;
    /**
     * Per sweep, what the store saw: its listing calls and the instances they returned, its reads by id, its purges, the
     * sets it refused, and the reads that found an instance changed since the store last answered for it.
     */
    interface Sweep extends SweepSeen { at: number; lists: number; count: number; purged: number; refused: number; foundChanged: number }
    const sweeps: Sweep[] = [];
    /** The snapshot the store last answered for each instance (listed or read): `execution:version`, or gone. */
    const lastAnswered = new Map<string, string>();
    const answered = (id: string, state: InstanceState | undefined): void => {
      const snapshot = state === undefined ? 'gone' : `${state.executionId}:${state.version}`;
      const before = lastAnswered.get(id);
      if (before !== undefined && before !== snapshot) sweeps.at(-1)!.foundChanged++;
      lastAnswered.set(id, snapshot);
    };
    const purges = new Map<string, number[]>();
    let byHand = false;
    const purgeWatch = memory.changes$.subscribe(({ instanceId, state }) => {
      if (state !== undefined || byHand) return;
      purges.set(instanceId, [...purges.get(instanceId) ?? [], clock.ms]);
      sweeps.at(-1)!.purged++;
    });
    const listing = (page: readonly InstanceState[]): void => {
      const sweep = sweeps.at(-1)!;
      sweep.lists++;
      sweep.count += page.length;
      seeListing(sweep, page, periods);
      for (const state of page) lastAnswered.set(state.instanceId, `${state.executionId}:${state.version}`);
    };
    const store = storeWith(memory, {
      getInstance: async (id, options) => {
        const round = seeRead(sweeps.at(-1)!, id, clock.ms);
        const state = await memory.getInstance(id, options);
        round?.found(id, state);
        answered(id, state);
        return state;
      },
      purgeInstanceSet: async (members) => {
        const result = await memory.purgeInstanceSet(members);
        if (result.changed !== undefined) sweeps.at(-1)!.refused++;
        return result;
      },
      ...(inEndOrder
        ? { listEnded: async (query) => memory.listEnded(query).then((page) => (listing(page), page)) } satisfies Partial<Store>
        : { queryInstances: async (query) => memory.queryInstances(query).then((page) => (listing(page.instances), page)) } satisfies Partial<Store>),
    });
    const sweeper = new RetentionSweep({
      store, clock: guardClock(clock, silentLogger), logger: silentLogger, retention: { ...periods, intervalMs: interval }, bounded: (call) => call(),
    });
    /** Makes the changes due by now, runs the sweep due now to the timer of the next, and moves the clock to it. */
    const sweepNow = async (): Promise<void> => {
      for (const n of nodes) {
        const { change } = n;
        if (change === undefined || change.doneAt !== undefined || change.at > clock.ms) continue;
        change.doneAt = clock.ms;
        byHand = true;
        if (change.kind === 'purged') expect(await memory.purgeInstance(n.id)).toBe(1);
        else {
          expect(await memory.getInstance(n.id)).toBeDefined();
          await stored(memory, {
            id: n.id, status: 'Running', endedMs: clock.ms, executionId: change.kind === 'rewound' ? 'e1' : 'e2',
            ...(n.parent === undefined ? {} : { parent: { id: n.parent.id, executionId: 'e1' } }),
          });
        }
        byHand = false;
      }
      // The page the sweep before held, if it did (it still asked for parents as it ended): this one reads its rounds
      // left first, after the parents it reads again.
      sweeps.push({ at: clock.ms, lists: 0, count: 0, purged: 0, refused: 0, foundChanged: 0, ...unseen(heldAfter(sweeps.at(-1))) });
      const next = clock.nextTimer((delayMs) => delayMs === interval || delayMs === 1000);
      clock.fireDue();
      clock.ms = (await within(next, 'the next sweep armed')).at;
    };
    const overdueBy = (ms: number): Node[] => nodes.filter((n) => allowed(n) <= ms && !purges.has(n.id));
    const lastAllowed = Math.max(...nodes.map(allowed).filter((ms) => ms < Infinity));
    sweeper.start();
    do await sweepNow();
    while (sweeps.length < 400 && (clock.ms <= lastAllowed + 2 * interval || overdueBy(clock.ms).length > 0));
    await sweeper.stop();
    purgeWatch.unsubscribe();
    // Each once, none early, none missed.
    expect(sweeps.length).toBeLessThan(400);
    expect([...purges].filter(([, times]) => times.length > 1)).toEqual([]);
    expect(nodes.filter((n) => purges.has(n.id) && purges.get(n.id)![0]! < allowed(n)).map(({ id }) => id)).toEqual([]);
    expect(overdueBy(clock.ms).map(({ id }) => id)).toEqual([]);
    // On time: within a pass of the store's sweeps of its time (each instance listed once and read once as a parent at
    // most); one freed by a change, within the 5 minutes a change no watch told is trusted and three intervals.
    const lateness = (n: Node): number => purges.get(n.id)![0]! - Math.max(start, allowed(n));
    const sweepsLate = (n: Node): number => sweeps.filter(({ at }) => at >= Math.max(start, allowed(n)) && at < purges.get(n.id)![0]!).length;
    const pass = 2 * Math.ceil(nodes.length / RETENTION_READS_PER_SWEEP);
    const goneBySweeps = nodes.filter((n) => purges.has(n.id));
    expect(goneBySweeps.filter((n) => freedByChange(n) && lateness(n) > KEPT_PARENT_TRUST_MS + 3 * interval).map(({ id }) => id)).toEqual([]);
    expect(goneBySweeps.filter((n) => !freedByChange(n) && sweepsLate(n) > pass).map(({ id }) => id)).toEqual([]);
    // Pages held, decided by the sweep a second later that lists nothing; in createdTime order one held twice, its
    // rounds left read by a sweep that read parents again before them (in end order the deep chains' page is held
    // once: the sweep a second later decides it, in 940 reads).
    expect(sweeps.filter((seen) => !seen.listed && seen.heldRounds > 0).length).toBeGreaterThan(0);
    if (!inEndOrder) expect(sweeps.filter((seen) => seen.listed && seen.heldRounds > 0 && readAgain(seen) > 0).length).toBeGreaterThan(0);
    // Within its reads: 1,000 a sweep, the parents read again before the listing 500 of them (told from a held page's
    // rounds by what that page asks for, and always read before them).
    for (const seen of sweeps) {
      expect(readAgain(seen)).toBeLessThanOrEqual(RETENTION_READS_PER_SWEEP / 2);
      expect(seen.rereadAfterRound).toBe(0);
      expect(seen.reads + seen.count).toBeLessThanOrEqual(RETENTION_READS_PER_SWEEP);
    }
    // And an interval: two sweeps, 2,000 reads (a sweep, and the one a second later that decides the page it held), and
    // two sweeps more at most, 1,000 reads each, for each sweep in it or just before it that purged something, found an
    // instance changed or had a set refused (the sweep a second after it, and one a second after the page the next held).
    const changed = ({ purged, refused, foundChanged }: Sweep): boolean => purged + refused + foundChanged > 0;
    let beyondTwo = 0;
    for (const [i, { at }] of sweeps.entries()) {
      const within = sweeps.slice(i).filter((sweep) => sweep.at < at + interval);
      const changes = [...within, ...sweeps.slice(Math.max(0, i - 1), i)].filter(changed).length;
      expect(within.length).toBeLessThanOrEqual(2 + 2 * changes);
      expect(within.reduce((sum, { reads, count }) => sum + reads + count, 0)).toBeLessThanOrEqual((2 + 2 * changes) * RETENTION_READS_PER_SWEEP);
      if (within.length > 2) beyondTwo++;
    }
    // Such intervals were seen (the bound is reached by real changes, not only allowed).
    expect(beyondTwo).toBeGreaterThan(0);
  });

  it('lets go of the page it held when it stops, and a sweeper after it lists from the start: none skipped', async () => {
    // 100 chains 12 deep: the first sweep holds its page of the 100 deepest, purging nothing. A stopped sweeper held
    // those 100 states (and the parents read for them) for as long as its worker was kept.
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    await chainsTwelveDeep(memory, start, RETENTION_PAGE_SIZE);
    const listed: WeakRef<InstanceState>[] = [];
    const retention = { completed: 10 * MINUTE, intervalMs: MINUTE };
    const { clock, sweeper, sweeps, sweepNow } = handSwept(memory, start, retention, {
      listEnded: async (query) => (await memory.listEnded(query)).map((state) => {
        const copy = { ...state };
        listed.push(new WeakRef(copy));
        return copy;
      }),
    });
    sweeper.start();
    await sweepNow();
    expect(sweeps[0]!.read).toBe(RETENTION_READS_PER_SWEEP - RETENTION_PAGE_SIZE);
    expect(listed).toHaveLength(RETENTION_PAGE_SIZE);
    expect(await storedCount(memory)).toBe(12 * RETENTION_PAGE_SIZE);
    // The sweep that would decide the held page is armed, a second on; the stop releases it with the page.
    expect([...clock.timers.values()].map(({ at }) => at - start)).toEqual([1000]);
    await sweeper.stop();
    expect(clock.timers.size).toBe(0);
    expect(await reachable(listed)).toBe(0);
    // The worker of a runtime started again sweeps from the start: the page the stop let go of is listed again.
    const next = handSwept(memory, clock.ms, retention);
    next.sweeper.start();
    do await next.sweepNow();
    while (next.sweeps.length < 5 && await storedCount(memory) > 0);
    await next.sweeper.stop();
    expect(await storedCount(memory)).toBe(0);
  });

  it('lets a macrotask run between two store calls of a sweep: its rounds of parents\' reads and its purge sets too', async () => {
    // 10 chains of 12 completed instances, all due: the first page lists the 10 deepest levels, asks for two rounds of
    // reads (the level above, then the roots) and purges them in sets. Each store call notes the answers no macrotask
    // ran after before it was made: a call made in the turn an earlier one answered in keeps the steps waiting.
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    await chainsTwelveDeep(memory, start, 10);
    let answers = 0;
    let turnAfter = 0;
    const calls: { call: string; unpaced: boolean }[] = [];
    /** Notes a call and its answer, and queues a macrotask after that answer (before any the sweep queues next). */
    const noted = async <T>(call: string, answer: () => Promise<T>): Promise<T> => {
      calls.push({ call, unpaced: answers > turnAfter });
      const result = await answer();
      const at = ++answers;
      onNextMacrotask(() => void (turnAfter = Math.max(turnAfter, at)));
      return result;
    };
    const { sweeper, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, intervalMs: MINUTE }, {
      getInstance: (id, options) => noted('getInstance', () => memory.getInstance(id, options)),
      listEnded: (query) => noted('listEnded', () => memory.listEnded(query)),
      purgeInstanceSet: (set) => noted('purgeInstanceSet', () => memory.purgeInstanceSet(set)),
    });
    sweeper.start();
    await sweepNow();
    await sweeper.stop();
    expect(await storedCount(memory)).toBe(0);
    expect(new Set(calls.map(({ call }) => call))).toEqual(new Set(['listEnded', 'getInstance', 'purgeInstanceSet']));
    expect(calls.filter(({ unpaced }) => unpaced)).toEqual([]);
  });

  it('reads again, in the sweep that decides a held page, a parent it had read running: one purged meanwhile no longer keeps its child', async () => {
    // 'x', whose parent 'r' runs, in a page held by the first sweep. 'r' is terminated and purged by hand in between:
    // read running by the first sweep and trusted so, 'x' would wait on a watch that starts after the purge (an hour,
    // to the next listing from the start); read again, it goes at once.
    const { memory, clock, sweeper, sweepNow } = await heldWithParent('Running', { completed: 10 * MINUTE, intervalMs: MINUTE });
    expect(await storedCount(memory)).toBe(12 * (RETENTION_PAGE_SIZE - 1) + 2);
    await createClient({ store: memory, clock }).terminate('p');
    expect(await memory.purgeInstance('p')).toBe(1);
    for (let i = 0; i < 3; i++) await sweepNow();
    await sweeper.stop();
    expect(await storedCount(memory)).toBe(0);
  });

  it('trusts an ended parent read for a held page from that read, not from the sweep that decides the page', async () => {
    // 'x', kept by its failed parent 'p' (failures kept a week), in a page held by the first sweep, which read 'p': the
    // next finds it keeping 'x' and remembers it. 'p' started again in between (a watch from then on hears nothing of
    // it) is found by the read 5 minutes after the first sweep read it, which frees 'x': not a sweep later.
    const { memory, clock, sweeper, sweepNow, start } = await heldWithParent('Failed', { completed: 10 * MINUTE, failed: 7 * 24 * HOUR, intervalMs: MINUTE });
    await stored(memory, { id: 'p', status: 'Running', endedMs: clock.ms, executionId: 'e2' });
    while (clock.ms < start + KEPT_PARENT_TRUST_MS) await sweepNow();
    expect(await memory.getInstance('x')).toBeDefined();
    await sweepNow(); // the sweep 5 minutes after the first
    await sweeper.stop();
    expect(await memory.getInstance('x')).toBeUndefined();
  });

  it.each([
    { changed: 0 },
    { changed: 300 },
  ])('sweeps a second after one that found a remembered parent changed only as often as changes were found, else once a minute ($changed changed)', async ({ changed }) => {
    // 1,000 failures kept a week, each keeping a completed child (due): the first two sweeps note them, the 64 watched
    // and the others trusted 5 minutes. A sweep that comes 5 minutes late (a tab in the background) finds all 1,000
    // lapsed: it reads 500 before its listing and the other 500 in the reads its listing left. `changed` of those,
    // unwatched, were started again meanwhile (running, no watch told of it): a sweep that finds one there comes again
    // a second later, and lists from the start.
    const n = 1000;
    const memory = new MemoryStore();
    const start = T0 + 2 * HOUR;
    const id = (i: number): string => String(i).padStart(4, '0');
    for (let i = 0; i < n; i++) {
      await stored(memory, { id: `p${id(i)}`, status: 'Failed', endedMs: start - HOUR, executionId: 'e1' });
      await stored(memory, { id: `c${id(i)}`, status: 'Completed', endedMs: start - HOUR + i, executionId: 'e1', parent: { id: `p${id(i)}`, executionId: 'e1' } });
    }
    const watched = new Map<string, number>();
    const { clock, sweeper, sweeps, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, failed: 7 * 24 * HOUR, intervalMs: MINUTE }, {
      instanceChanges$: countedFeed(memory, watched),
    });
    sweeper.start();
    while (clock.ms < start + 3 * MINUTE) await sweepNow();
    const restarted = [...Array(n).keys()].map((i) => `p${id(i)}`).filter((parent) => !(watched.get(parent)! > 0)).slice(-changed || n);
    if (changed === 0) restarted.length = 0;
    for (const parent of restarted) await stored(memory, { id: parent, status: 'Running', endedMs: clock.ms, executionId: 'e2' });
    clock.ms += 5 * MINUTE;
    while (clock.ms < start + 30 * MINUTE) await sweepNow();
    await sweeper.stop();
    // Each changed parent's child goes, none of the others.
    expect(await storedCount(memory)).toBe(2 * n - changed);
    // A sweep comes a second after the one before only after one that found a change in the reads its listing left
    // (each parent found changed is forgotten, so found once: 500 such reads a sweep at most), or that stopped at its
    // reads having purged some (the children those changes let go, listed from the start with the others: 1,000
    // instances a sweep).
    const retries = sweeps.filter(({ at }, i) => i > 0 && at - sweeps[i - 1]!.at < MINUTE).length;
    const bound = Math.ceil(changed / (RETENTION_READS_PER_SWEEP / 2)) + Math.ceil(((n + changed) * Math.sign(changed)) / RETENTION_READS_PER_SWEEP);
    expect(retries).toBeLessThanOrEqual(bound);
    // Per minute, that many more than one at most; once the changes are found, one a minute.
    const perMinute = new Map<number, number>();
    for (const { at } of sweeps) perMinute.set(Math.floor((at - start) / MINUTE), (perMinute.get(Math.floor((at - start) / MINUTE)) ?? 0) + 1);
    expect(Math.max(...perMinute.values())).toBeLessThanOrEqual(1 + bound);
    expect([...perMinute].filter(([minute]) => minute >= 10).every(([, count]) => count === 1)).toBe(true);
    expect(sweeps.every(({ listed, read }) => listed + read <= RETENTION_READS_PER_SWEEP)).toBe(true);
  });

  it('reads a kept parent again once its 5 minutes are over, and lets go of the feed it watched it on once its time has come', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    const maker = await started({ clock, store: memory });
    await maker.client.startNew('FailsAfterChild', { instanceId: 'p' });
    expect((await maker.client.waitForCompletion('p')).runtimeStatus).toBe('Failed');
    await maker.stop();
    const failedAt = clock.now().getTime();
    // The sweeper's store, with the subscriptions to its change feed and the reads of the parent counted.
    let watching = 0;
    let reads = 0;
    const store = storeWith(memory, {
      changes$: new Observable<StatusChange>((subscriber) => {
        watching++;
        const subscription = memory.changes$.subscribe(subscriber);
        return () => {
          watching--;
          subscription.unsubscribe();
        };
      }),
      getInstance: (id) => {
        if (id === 'p') reads++;
        return memory.getInstance(id);
      },
    });
    const interval = 10_000;
    const { armed } = await keptFailuresSweeper(clock, store);
    // The first sweep finds the failure keeping its completed child, and watches it.
    await clock.advance(0);
    await vi.waitFor(() => expect(armed()).toBe(1), WAIT);
    expect(watching).toBe(1);
    expect(reads).toBe(1);
    // The child purged by hand, nothing names the failure again; the memory reads it again once its 5 minutes are
    // over, finds it unchanged, and keeps watching it.
    await createClient({ store: memory, clock }).purgeInstanceHistory('p-child');
    await clock.advance(KEPT_PARENT_TRUST_MS);
    await sweepUntil(clock, interval, async () => expect(reads).toBe(2));
    expect(watching).toBe(1);
    // Its time come (the failure is kept 20 minutes), it is forgotten, and the feed let go.
    await clock.advanceTo(new Date(failedAt + 20 * MINUTE));
    await sweepUntil(clock, interval, async () => expect(watching).toBe(0));
  });

  it('keeps a due sub-orchestration and its own child for as long as the ended grandparent above them is kept, and lets them go once it changes', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    // 'g' failed 30 minutes after its child 'g-child', whose completed child is 'g-child-child'. Failures are kept 20
    // minutes, completions not at all: 'g-child' is due on its own, but 'g' keeps it, and so its child, until 'g' is due.
    const maker = await started({ clock, store: memory });
    await maker.client.startNew('FailsLaterThanChild', { instanceId: 'g' });
    await vi.waitFor(async () => expect(await statusOf(maker, 'g-child')).toBe('Failed'), WAIT);
    expect(await statusOf(maker, 'g-child-child')).toBe('Completed');
    await clock.advance(30 * MINUTE);
    await maker.client.raiseEvent('g', 'go');
    expect((await maker.client.waitForCompletion('g')).runtimeStatus).toBe('Failed');
    await maker.stop();
    const failedAt = clock.now().getTime();
    const watched = new Map<string, number>();
    const store = storeWith(memory, { instanceChanges$: countedFeed(memory, watched) });
    const interval = 10_000;
    const { armed } = await keptFailuresSweeper(clock, store);
    const tree = async (): Promise<string[]> => (await memory.queryInstances({ pageSize: 10 })).instances.map((i) => i.instanceId).sort();
    // The completed grandchild is listed without its failed parent (each status on its own pages): the sweeps remember
    // both ended ancestors that keep it, and purge nothing of the tree while the grandparent is kept.
    await clock.advance(0);
    await vi.waitFor(() => expect(armed()).toBe(1), WAIT);
    expect(Object.fromEntries(watched)).toEqual({ g: 1, 'g-child': 1 });
    while (clock.now().getTime() + interval < failedAt + 20 * MINUTE) {
      const sweeps = armed();
      await clock.advance(interval);
      await vi.waitFor(() => expect(armed()).toBe(sweeps + 1), WAIT);
      expect(await tree()).toEqual(['g', 'g-child', 'g-child-child']);
    }
    // The grandparent started again (another execution) no longer keeps its child: the sweeps let the due child and
    // its own child go, and keep the running grandparent.
    await createClient({ store: memory, clock }).startNew('Waiter', { instanceId: 'g' });
    await sweepUntil(clock, interval, async () => expect(await tree()).toEqual(['g']));
  });

  it('logs once a clock that keeps failing to arm the next sweep, asks it again, and rejects nothing', async () => {
    const clock = new VirtualClock();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const interval = 7 * MINUTE;
      let refused = 0;
      // A custom clock that refuses the sweep's next timer (the only one of that delay).
      const failing: Clock = {
        now: () => clock.now(),
        setTimeout: (callback, delayMs) => {
          if (delayMs === interval) {
            refused++;
            throw new Error('no timers left');
          }
          return clock.setTimeout(callback, delayMs);
        },
        clearTimeout: (timer) => clock.clearTimeout(timer),
      };
      const errors: unknown[][] = [];
      const logger: Logger = { warn: () => {}, error: (...args) => void errors.push(args) };
      const runtime = createRuntime({ orchestrators, logger, clock: failing, retention: { completed: HOUR, intervalMs: interval } });
      runtimes.push(runtime);
      await runtime.start();
      await clock.advance(0); // the first sweep, which then arms the next
      // Asked again (the platform's timer set in its place fired), and refused again: reported once all the same.
      await vi.waitFor(() => expect(refused).toBeGreaterThanOrEqual(2), WAIT);
      expect(errors.map(([message]) => String(message))).toEqual([expect.stringMatching(/failed to arm the next retention sweep/)]);
      expect((errors[0]![1] as Error).message).toBe('no timers left');
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('sweeps on after the clock failed once to arm the next sweep: asked again, the next sweep purges what is due', async () => {
    const clock = new VirtualClock();
    const interval = 7 * MINUTE;
    const delays: number[] = [];
    const recording = recordingClock(clock, delays);
    let refusals = 1;
    // A custom clock that refuses the sweep's next timer (the only one of that delay) once.
    const failing: Clock = {
      ...recording,
      setTimeout: (callback, delayMs) => {
        if (delayMs === interval && refusals-- > 0) throw new Error('no timers left');
        return recording.setTimeout(callback, delayMs);
      },
    };
    const errors: string[] = [];
    const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
    const runtime = await started({ clock: failing, logger, retention: { completed: HOUR, intervalMs: interval } });
    await runtime.client.startNew('Quick', { instanceId: 'done' });
    expect((await runtime.client.waitForCompletion('done')).runtimeStatus).toBe('Completed');
    await clock.advance(0); // the first sweep, which then fails to arm the next
    // Before, the sweeps ended there for good: no timer of the interval was ever armed, and nothing was purged again.
    await vi.waitFor(() => expect(delays).toContain(interval), WAIT);
    expect(errors).toEqual([expect.stringContaining('failed to arm the next retention sweep')]);
    await clock.advance(HOUR);
    await sweepUntil(clock, interval, async () => expect(await statusOf(runtime, 'done')).toBeUndefined());
  });

  it('stops sweeping once the store is closed', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    let queries = 0;
    const store = storeWith(memory, {
      queryInstances: async (query) => {
        if (query.createdTimeTo !== undefined) queries++;
        return memory.queryInstances(query);
      },
    });
    const errors: unknown[] = [];
    const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
    const delays: number[] = [];
    await started({ clock: recordingClock(clock, delays), store, logger, retention: { completed: HOUR, intervalMs: MINUTE } });
    await clock.advance(0);
    await vi.waitFor(() => expect(queries).toBe(1), WAIT);
    await vi.waitFor(() => expect(delays).toContain(MINUTE), WAIT); // it armed the next
    await memory.close();
    await clock.advance(MINUTE); // this sweep finds the store closed
    await vi.waitFor(() => expect(queries).toBe(2), WAIT);
    for (let i = 0; i < 5; i++) await clock.advance(MINUTE);
    expect(queries).toBe(2);
    expect(errors).toEqual([]);
  });

  it('releases its timer when the runtime stops', async () => {
    const clock = new VirtualClock();
    const runtime = await started({ clock, retention: { completed: HOUR, intervalMs: MINUTE } });
    await clock.advance(0); // the first sweep ran and armed the next
    await vi.waitFor(() => expect(clock.pendingTimers).toBeGreaterThan(0), WAIT);
    await runtime.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('ends a sweep whose store call hangs when the runtime stops, logging nothing and arming nothing after', async () => {
    const clock = new VirtualClock();
    const memory = new MemoryStore();
    let listed!: () => void;
    const called = new Promise<void>((resolve) => (listed = resolve));
    const store = storeWith(memory, {
      queryInstances: (query) => {
        if (query.createdTimeTo === undefined) return memory.queryInstances(query);
        listed();
        return new Promise(() => undefined); // never answers
      },
    });
    const errors: unknown[] = [];
    const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
    const runtime = await started({ clock, store, logger, retention: { completed: HOUR, intervalMs: MINUTE } });
    await clock.advance(0);
    await called;
    await runtime.stop({ graceMs: 0 });
    expect(clock.pendingTimers).toBe(0);
    expect(errors).toEqual([]);
  });

  it('arms no timer longer than a timer can wait, for an interval beyond 24.8 days', async () => {
    const clock = new VirtualClock();
    const delays: number[] = [];
    // A clock that hands its delays to the platform's setTimeout as they are, as a custom clock may: one beyond
    // 2^31 - 1 ms would fire at once there, every time, and sweep without pause.
    const recording = recordingClock(clock, delays);
    const queried: number[] = [];
    const memory = new MemoryStore();
    const store = storeWith(memory, {
      queryInstances: async (query) => {
        if (query.createdTimeTo !== undefined) queried.push(queried.length);
        return memory.queryInstances(query);
      },
    });
    const runtime = createRuntime({ orchestrators, logger: silentLogger, store, clock: recording, retention: { completed: HOUR, intervalMs: 30 * 24 * HOUR } });
    runtimes.push(runtime);
    await runtime.start();
    await clock.advance(0); // the first sweep
    await vi.waitFor(() => expect(queried.length).toBe(1), WAIT);
    await vi.waitFor(() => expect(delays.some((delay) => delay > 0 && delay >= 24 * 24 * HOUR)).toBe(true), WAIT);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
  });

  it('refuses a malformed retention option, making nothing', () => {
    for (const retention of [{ completed: -1 }, { failed: 'day' }, { intervalMs: 0 }, { intervalMs: Infinity }, 'day', null]) {
      expect(() => createRuntime({ orchestrators, retention: retention as never })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
  });
});

/**
 * `memory` with each set of a purge recorded in `sets`, and a race to run just before the next set reaches the store
 * (`raceNextSet`): another caller changing a member between the sweep's read and its delete.
 */
function racingSets(memory: MemoryStore): { store: Store; sets: string[][]; raceNextSet: (race: () => Promise<unknown>) => void } {
  let race: (() => Promise<unknown>) | undefined;
  const sets: string[][] = [];
  const store = storeWith(memory, {
    purgeInstanceSet: async (members: readonly PurgeMember[]) => {
      const run = race;
      race = undefined;
      await run?.();
      sets.push(members.map((m) => m.instanceId));
      return memory.purgeInstanceSet(members);
    },
  });
  return { store, sets, raceNextSet: (next) => void (race = next) };
}

/**
 * A per-instance feed (`instanceChanges$`) over `store`'s changes that counts its open subscriptions by instance in
 * `watched`: what a sweeper watches, and what it lets go.
 */
/** Starts `n` `ChildOnce` parents (w000, w001, …) and waits until each one's child completed: their ids. */
async function parentsOfCompletedChildren(maker: Runtime, memory: Store, n: number): Promise<string[]> {
  const parents = Array.from({ length: n }, (_, i) => `w${String(i).padStart(3, '0')}`);
  // Told by the store's feed, not polled against a time limit: thousands of them take a while on a loaded machine.
  const completed = new Set<string>();
  const all = firstValueFrom(memory.changes$.pipe(filter((change) => {
    if (change.state?.runtimeStatus === 'Completed' && change.instanceId.endsWith('-child')) completed.add(change.instanceId);
    return completed.size === n;
  })));
  for (const id of parents) await maker.client.startNew('ChildOnce', { instanceId: id, input: 0 });
  await within(all, `the ${n} children completed`);
  return parents;
}

/** Has each `ChildOnce` parent of `ids` continue as new ('next'), and waits until each runs its next execution. */
async function continueAsNew(maker: Runtime, memory: Store, ids: readonly string[], what: string): Promise<void> {
  const continued = Promise.all(ids.map(async (id) => {
    const { executionId } = (await memory.getInstance(id))!;
    return firstValueFrom(memory.changes$.pipe(filter((change) => change.instanceId === id && change.state !== undefined &&
      change.state.executionId !== executionId && change.state.runtimeStatus === 'Running')));
  }));
  for (const id of ids) await maker.client.raiseEvent(id, 'next');
  await within(continued, what);
}

/**
 * Stores `state` of instance `id` as a worker's steps would have left it, in one write (a start over an ended
 * instance of the id replaces it, as a client's start does): the trees of a test, with the ends it chooses (created an
 * hour before its end unless `createdMs` says when).
 */
async function stored(
  store: Store,
  o: { id: string; status: OrchestrationRuntimeStatus; endedMs: number; executionId: string; parent?: { id: string; executionId: string }; createdMs?: number },
): Promise<void> {
  const createdTime = new Date(o.createdMs ?? o.endedMs - HOUR);
  const state: InstanceState = {
    instanceId: o.id, name: 'Quick', runtimeStatus: o.status, createdTime, lastUpdatedTime: new Date(o.endedMs), executionId: o.executionId,
    historyLength: 0, version: 1,
    ...(o.parent === undefined ? {} : { parentInstanceId: o.parent.id, parentCall: { taskScheduledId: 0, executionId: o.parent.executionId } }),
  };
  const message = {
    id: `${o.id}-${o.executionId}-${o.endedMs}`, instanceId: o.id,
    event: { type: 'ExecutionStarted' as const, eventId: -1, timestamp: createdTime.toISOString(), name: 'Quick', instanceId: o.id, executionId: o.executionId },
  };
  await store.commit({ requests: [{ type: 'createInstance', state, message, ifRunning: { kind: 'fail' } }] });
}

/**
 * What a store saw of one sweep: its reads by id, those made before its first listing call, and whether it listed.
 * A sweep that lists reads the remembered and waited-on parents again first, then the rounds left of the page the sweep
 * before it held, if any, then lists; one that lists nothing decides the held page alone (its rounds). Where the test
 * follows pages ({@link seeListing}, {@link heldAfter}), a held page's rounds are told apart by what that page asks for
 * ({@link PageRounds}), so the parents read again ({@link readAgain}) are counted exactly in every sweep; elsewhere a
 * sweep that lists nothing counts none.
 */
interface SweepSeen {
  reads: number;
  beforeListing: number;
  listed: boolean;
  /**
   * The page the sweep before it held, with the parents read for it (see {@link heldAfter}). After a sweep that
   * listed, only a page that still asked for parents as far as the store's answers tell: the sweeper decides with the
   * parents it remembers too, so such a page may have been decided all the same; it was held only if this sweep lists
   * nothing (deciding it alone), and it is let go of at this sweep's first listing.
   */
  held: PageRounds | undefined;
  /** `held` is the page of a sweep that listed: held only if this sweep lists nothing. */
  heldIfUnlisted: boolean;
  /** The page its last listing returned, with the parents read for it, when the test follows pages. */
  page: PageRounds | undefined;
  /** The reads before its listing of parents the held page asked for: its rounds. */
  heldRounds: number;
  /** The reads before its listing of other ids made after one of those rounds (none: the parents come first). */
  rereadAfterRound: number;
}

/**
 * A sweep not seen yet, reading first the rounds left of `held`, the page the sweep before it held, if any (`held` and
 * whether that sweep listed: {@link heldAfter}).
 */
function unseen({ held, heldIfUnlisted }: { held: PageRounds | undefined; heldIfUnlisted: boolean } = { held: undefined, heldIfUnlisted: false }): SweepSeen {
  return { reads: 0, beforeListing: 0, listed: false, held, heldIfUnlisted, page: undefined, heldRounds: 0, rereadAfterRound: 0 };
}

/**
 * Notes a read by id (`instanceId`) of `seen`'s sweep at `nowMs` (its clock's time): the page it is a round of, if the
 * test follows pages and that page asks for it, for the caller to hand the store's answer to.
 */
function seeRead(seen: SweepSeen, instanceId: string, nowMs = 0): PageRounds | undefined {
  seen.reads++;
  const page = seen.listed ? seen.page : seen.held;
  const round = page?.asks(instanceId, nowMs) === true ? page : undefined;
  if (seen.listed) return round;
  seen.beforeListing++;
  if (round !== undefined) seen.heldRounds++;
  else if (seen.heldRounds > 0) seen.rereadAfterRound++;
  return round;
}

/** Notes a listing call of `seen`'s sweep that returned `page`, followed for its rounds when `periods` are given. */
function seeListing(seen: SweepSeen, page: readonly InstanceState[], periods?: RetentionPeriods): void {
  if (!seen.listed && seen.heldIfUnlisted) {
    // The sweep before listed, and this one lists: that sweep held nothing (it would decide a held page alone), and
    // the reads before this listing were all parents read again.
    seen.held = undefined;
    seen.heldRounds = 0;
    seen.rereadAfterRound = 0;
  }
  seen.listed = true;
  if (periods !== undefined) seen.page = new PageRounds(page, periods);
}

/**
 * The page `last` (a sweep that ran at `last.at`) may have held: the one it read rounds for last, listed by it or held
 * by the one before, still asking for parents as it ended (by the store's answers alone: the parents the sweeper
 * remembers it does not ask for). One that listed held it only if the next sweep lists nothing (`heldIfUnlisted`); one
 * that decided a held page alone held it again only if its rounds took its every read (a round is cut only there).
 */
function heldAfter(last: (SweepSeen & { at: number }) | undefined): { held: PageRounds | undefined; heldIfUnlisted: boolean } {
  if (last === undefined || (!last.listed && last.reads < RETENTION_READS_PER_SWEEP)) return { held: undefined, heldIfUnlisted: false };
  return { held: (last.listed ? last.page : last.held)?.heldAt(last.at), heldIfUnlisted: last.listed };
}

/** The parents `seen`'s sweep read again before its listing (none counted in a sweep that lists nothing, unless pages are followed). */
function readAgain(seen: SweepSeen): number {
  return seen.listed || seen.held !== undefined ? seen.beforeListing - seen.heldRounds : 0;
}

/**
 * A listed page and the parents read for it, as the store answered. Which parents it still asks for is the rule's own
 * answer (`planRetention` on those states, with no parent remembered), so a read of one is a round of that page, known
 * from the store, not guessed from a count of reads. A page still asking as its sweep ends was held: the next sweep
 * goes on with it, from its instances and the ended or gone parents read for it (a parent read running is read again).
 */
class PageRounds {
  readonly #read = new Map<string, InstanceState | undefined>();
  #asks: ReadonlySet<string> = new Set();
  /** How many parents were read when `#asks` was found (-1: not yet). */
  #askedWith = -1;

  constructor(readonly instances: readonly InstanceState[], readonly periods: RetentionPeriods) {}

  /** Whether the page asks for `instanceId` at `nowMs`, given the parents read for it. */
  asks(instanceId: string, nowMs: number): boolean {
    return this.#asking(nowMs).has(instanceId);
  }

  /** The store's answer for a parent the page asked for. */
  found(instanceId: string, state: InstanceState | undefined): void {
    this.#read.set(instanceId, state);
  }

  /** The page as held by a sweep at `nowMs`, if it still asks for parents then; else undefined (decided). */
  heldAt(nowMs: number): PageRounds | undefined {
    if (this.#asking(nowMs).size === 0) return undefined;
    const held = new PageRounds(this.instances, this.periods);
    for (const [id, state] of this.#read) if (state === undefined || isTerminalStatus(state.runtimeStatus)) held.found(id, state);
    return held;
  }

  #asking(nowMs: number): ReadonlySet<string> {
    if (this.#askedWith !== this.#read.size) {
      const decision = planRetention(this.instances, this.#read, new Date(nowMs), this.periods);
      this.#asks = new Set(decision.kind === 'read' ? decision.instanceIds : []);
      this.#askedWith = this.#read.size;
    }
    return this.#asks;
  }
}

function countedFeed(store: Store, watched: Map<string, number>): (instanceId: string) => Observable<StatusChange> {
  return (id) => new Observable<StatusChange>((subscriber) => {
    watched.set(id, (watched.get(id) ?? 0) + 1);
    const subscription = store.changes$.pipe(filter((change) => change.instanceId === id)).subscribe(subscriber);
    return () => {
      watched.set(id, watched.get(id)! - 1);
      subscription.unsubscribe();
    };
  });
}

/**
 * `opened` with `overrides` in place of its members, as a store without `listEnded` unless `overrides` gives one: the
 * cases that watch or fail the sweep's `queryInstances` see the listing by createdTime, the one of a store that does
 * not list in end order.
 */
function storeWith(opened: Store, overrides: Partial<Store>): Store {
  return new Proxy(opened, {
    get: (target, key) => {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof Store];
      if (key === 'listEnded') return undefined;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}


/**
 * `count` chains of 12 completed instances in `memory`, each the child of the next (ids `c<k>-<level>`, level 0 the
 * root), the deepest ended first (an hour before `startMs`, a ms apart), each level above a minute later: a listing's
 * first page holds their deepest, which ask for 11 rounds of reads.
 */
async function chainsTwelveDeep(memory: MemoryStore, startMs: number, count: number): Promise<void> {
  await chainsOf(memory, startMs, count, 12, 'Completed');
}

/**
 * `count` chains of `depth` instances in `memory`, each the child of the next (ids `c<k>-<level>`, level 0 the root,
 * of `rootStatus`, the others completed), the deepest ended first (an hour before `startMs`, a ms apart), each level
 * above a minute later: a listing's first page holds their deepest, which ask for `depth - 1` rounds of reads.
 */
async function chainsOf(memory: MemoryStore, startMs: number, count: number, depth: number, rootStatus: OrchestrationRuntimeStatus): Promise<void> {
  const node = (k: number, level: number): string => `c${String(k).padStart(3, '0')}-${String(level).padStart(2, '0')}`;
  for (let k = 0; k < count; k++) {
    for (let level = 0; level < depth; level++) {
      await stored(memory, {
        id: node(k, level), status: level === 0 ? rootStatus : 'Completed', endedMs: startMs - HOUR + (depth - 1 - level) * MINUTE + k,
        executionId: 'e1', ...(level > 0 ? { parent: { id: node(k, level - 1), executionId: 'e1' } } : {}),
      });
    }
  }
}

/**
 * A store of 99 chains 12 deep and 'x', a completed child of 'p' (of `status`, execution 'e1'), whose first sweep is
 * over: the page of the chains' deepest and 'x' asks for 11 rounds of reads, the first of them 'p', and the sweep held
 * it in its tenth (1,000 reads), for the next sweep to decide.
 */
async function heldWithParent(status: OrchestrationRuntimeStatus, retention: RuntimeOptions['retention'] & object) {
  const memory = new MemoryStore();
  const start = T0 + 2 * HOUR;
  await chainsTwelveDeep(memory, start, RETENTION_PAGE_SIZE - 1);
  await stored(memory, { id: 'p', status, endedMs: start - 2 * HOUR, executionId: 'e1' });
  await stored(memory, { id: 'x', status: 'Completed', endedMs: start - HOUR + 50, executionId: 'e1', parent: { id: 'p', executionId: 'e1' } });
  const swept = handSwept(memory, start, retention);
  swept.sweeper.start();
  await swept.sweepNow();
  expect(swept.sweeps[0]).toMatchObject({ listed: RETENTION_PAGE_SIZE, read: RETENTION_READS_PER_SWEEP - RETENTION_PAGE_SIZE });
  return { ...swept, memory, start };
}

/**
 * `chains` chains `depth` deep whose failed roots are kept a week, swept for 30 minutes at a one-minute interval
 * (`handSwept`), none purged: the sweeps, and per minute since the first how many ran and what they read.
 */
async function keptChainsSwept(chains: number, depth: number) {
  const memory = new MemoryStore();
  const start = T0 + 2 * HOUR;
  await chainsOf(memory, start, chains, depth, 'Failed');
  const { sweeper, sweeps, sweepNow } = handSwept(memory, start, { completed: 10 * MINUTE, failed: 7 * 24 * HOUR, intervalMs: MINUTE });
  sweeper.start();
  while (sweeps.length < 100 && (sweeps.at(-1)?.at ?? start) < start + 30 * MINUTE) await sweepNow();
  await sweeper.stop();
  expect(await storedCount(memory)).toBe(depth * chains);
  const perMinute = new Map<number, { sweeps: number; reads: number }>();
  for (const { at, listed, read } of sweeps) {
    const minute = perMinute.get(Math.floor((at - start) / MINUTE)) ?? { sweeps: 0, reads: 0 };
    perMinute.set(Math.floor((at - start) / MINUTE), { sweeps: minute.sweeps + 1, reads: minute.reads + listed + read });
  }
  return { start, sweeps, perMinute };
}

/** How many of `refs` are still reachable after a full garbage collection, run once this job's hold on them is over. */
async function reachable(refs: readonly WeakRef<object>[]): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await new Promise<void>((resolve) => onNextMacrotask(resolve));
  gc();
  return refs.filter((ref) => ref.deref() !== undefined).length;
}

/** How many instances `memory` holds. */
/**
 * 'a' terminated (no period: kept) above 'b', 'c' and 'd', completed, ended an hour before `startMs` and more (the
 * deepest first, a minute a level), each followed in end order by 150 completed children of the terminated 'k': in a
 * listing by pages of 100, each of 'b', 'c' and 'd' is in a page of its own. 605 instances; returns the chain's ids.
 */
async function keptChainOfFour(memory: MemoryStore, startMs: number): Promise<string[]> {
  await stored(memory, { id: 'k', status: 'Terminated', endedMs: startMs - 2 * HOUR, executionId: 'e1' });
  const ids = ['a', 'b', 'c', 'd'];
  for (const [level, id] of ids.entries()) {
    const endedMs = startMs - HOUR - level * MINUTE;
    await stored(memory, {
      id, status: level === 0 ? 'Terminated' : 'Completed', endedMs, executionId: 'e1',
      ...(level > 0 ? { parent: { id: ids[level - 1]!, executionId: 'e1' } } : {}),
    });
    for (let i = 0; i < 150; i++) {
      await stored(memory, { id: `k${level}-${i}`, status: 'Completed', endedMs: endedMs + 1 + i, executionId: 'e1', parent: { id: 'k', executionId: 'e1' } });
    }
  }
  return ids;
}

async function storedCount(memory: MemoryStore): Promise<number> {
  let count = 0;
  let continuationToken: string | undefined;
  do {
    const page = await memory.queryInstances({ pageSize: 1000, ...(continuationToken === undefined ? {} : { continuationToken }) });
    count += page.instances.length;
    continuationToken = page.continuationToken;
  } while (continuationToken !== undefined);
  return count;
}

/**
 * A {@link RetentionSweep} over `memory` listing in end order, on a HandClock at `startMs`, with `overrides` of its
 * store. Each sweep is recorded in `sweeps`: when it ran, its listing calls (`lists`: none in a sweep that decides the
 * page the one before it held, alone), the instances they returned (`listed`) and those it read one by one (`read`);
 * `listings` counts how often each instance was listed. `sweepNow` runs the sweep due now
 * up to the timer of the next (an interval on, or a second), and moves the clock to it.
 */
function handSwept(memory: MemoryStore, startMs: number, retention: RuntimeOptions['retention'] & object, overrides: Partial<Store> = {}) {
  const clock = new HandClock();
  clock.ms = startMs;
  const sweeps: { at: number; lists: number; listed: number; read: number }[] = [];
  const listings = new Map<string, number>();
  const store = storeWith(memory, {
    getInstance: (instanceId, options) => {
      sweeps.at(-1)!.read++;
      return memory.getInstance(instanceId, options);
    },
    listEnded: async (query) => {
      sweeps.at(-1)!.lists++;
      const page = await memory.listEnded(query);
      sweeps.at(-1)!.listed += page.length;
      for (const { instanceId } of page) listings.set(instanceId, (listings.get(instanceId) ?? 0) + 1);
      return page;
    },
    ...overrides,
  });
  const sweeper = new RetentionSweep({ store, clock: guardClock(clock, silentLogger), logger: silentLogger, retention, bounded: (call) => call() });
  const sweepNow = async (): Promise<void> => {
    sweeps.push({ at: clock.ms, lists: 0, listed: 0, read: 0 });
    const next = clock.nextTimer((delayMs) => delayMs === retention.intervalMs || delayMs === 1000);
    clock.fireDue();
    clock.ms = (await within(next, 'the next sweep armed')).at;
  };
  return { clock, sweeper, sweeps, listings, sweepNow };
}
