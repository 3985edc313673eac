import { describe, expect, it, vi } from 'vitest';
import { MemoryStore, type Orchestrator } from '../src/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { onNextMacrotask } from '../src/env/next-macrotask.js';
import { QUIET_MS, SLOW_BURST_MS, Turns } from '../src/worker/turns.js';
import { startedRuntimes } from './started-runtimes.js';

/**
 * A worker on a MemoryStore runs its steps, claims and commits on promise jobs alone: without turns of its own it held
 * the event loop for as long as work followed work, so no timer fired (`setTimeout`, `waitForCompletion`'s timeout, the
 * test runner's own), and an eternal loop hung the process. Each orchestration here ends by itself after LIMIT
 * generations or steps, so that a worker that starves the loop fails these tests (its timer fires only after the end)
 * instead of hanging them: the test runner's timeout cannot fire on a starved loop either. With turns, a timer fires a
 * few ms after it is due, long before LIMIT (thousands of steps a second, against the tens a timer waits here).
 */
const LIMIT = 20_000;

const { start } = startedRuntimes({ graceMs: 1_000 });

/** Resolves after `ms` on the platform's timer: it cannot resolve while the worker holds the event loop. */
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a worker lets the event loop take turns', () => {
  it('an eternal continueAsNew loop with an async activity: a timer fires, and a terminate lands on the running loop', async () => {
    const Eternal: Orchestrator = function* (ctx) {
      const n = ctx.getInput<number>() ?? 0;
      if (n >= LIMIT) return 'ran to the end';
      ctx.setCustomStatus(n);
      yield ctx.callActivity('Work', n);
      ctx.continueAsNew(n + 1);
      return undefined;
    };
    const runtime = await start({ store: new MemoryStore(), orchestrators: { Eternal }, activities: { Work: async (n: number) => n } });
    const id = await runtime.client.startNew('Eternal', { input: 0 });
    await sleep(20);
    // Starved, the sleep ended only after the loop completed: the terminate then found a terminal instance (410).
    await runtime.client.terminate(id, 'enough');
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done.runtimeStatus).toBe('Terminated');
    expect(done.output).toBe('enough');
  });

  it("a loop of bare continueAsNew: waitForCompletion's timeout ends the wait while the loop runs", async () => {
    // No task at all: each generation's step commits and the next is claimed, all on promise jobs.
    // eslint-disable-next-line require-yield
    const Loop: Orchestrator = function* (ctx) {
      const n = ctx.getInput<number>() ?? 0;
      if (n >= LIMIT) return 'ran to the end';
      ctx.continueAsNew(n + 1);
      return undefined;
    };
    const runtime = await start({ store: new MemoryStore(), orchestrators: { Loop } });
    const id = await runtime.client.startNew('Loop', { input: 0 });
    const status = await runtime.client.waitForCompletion(id, { timeoutMs: 20 });
    // Starved, the wait resolved only once the loop had completed.
    expect(status.runtimeStatus).not.toBe('Completed');
    await runtime.client.terminate(id);
    expect((await runtime.client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Terminated');
  });

  it('a long run of sync activities: a timer set as it starts fires before it ends', async () => {
    let fired = false;
    const Sequence: Orchestrator = function* (ctx) {
      for (let i = 0; i < LIMIT; i++) {
        if (yield ctx.callActivity('Fired')) return i;
      }
      return -1;
    };
    const runtime = await start({ store: new MemoryStore(), orchestrators: { Sequence }, activities: { Fired: () => fired } });
    const id = await runtime.client.startNew('Sequence');
    setTimeout(() => {
      fired = true;
    }, 1);
    const done = await runtime.client.waitForCompletion(id, { timeoutMs: 120_000 });
    expect(done.runtimeStatus).toBe('Completed');
    // -1: every one of the LIMIT activities ran before the timer could fire.
    expect(done.output).toBeGreaterThanOrEqual(0);
  });

  it('a run of slow synchronous steps: a timer fires after a few of them, not after dozens', async () => {
    // Each step holds the thread for STEP_MS (an orchestrator doing synchronous work), so the run never gives the event
    // loop a turn by itself. A timer set in the run's first step is due at once: it must fire within the first few steps,
    // however loaded the machine (a slower machine only makes each step longer). Before, the worker read the time only
    // after 32 calls of a burst, so a timer waited for 16 to 32 slow steps (a setInterval ran every 32 of them).
    const STEP_MS = 10;
    const STEPS = 60;
    let steps = 0;
    let stepsWhenFired: number | undefined;
    const busy = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // Synchronous work.
      }
    };
    const Slow: Orchestrator = function* (ctx) {
      for (let i = 0; i < STEPS; i++) {
        if (!ctx.isReplaying) {
          steps++;
          // Armed inside the run's first step, so it is due while the worker is busy (armed before, it
          // could fire before the first claim and prove nothing).
          if (steps === 1) {
            setTimeout(() => {
              stepsWhenFired = steps;
            }, 0);
          }
          busy(STEP_MS);
        }
        yield ctx.callActivity('Quick', i);
      }
      return 'done';
    };
    const runtime = await start({ store: new MemoryStore(), orchestrators: { Slow }, activities: { Quick: (n: number) => n } });
    const id = await runtime.client.startNew('Slow');
    const done = await runtime.client.waitForCompletion(id, { timeoutMs: 120_000 });
    expect(done.runtimeStatus).toBe('Completed');
    expect(stepsWhenFired).toBeDefined();
    // At most a few steps of STEP_MS each before the timer's turn (12 leaves room for steps already queued).
    expect(stepsWhenFired!).toBeLessThanOrEqual(12);
  });

  it('a callback of the shared macrotask channel that throws leaves none queued after it unrun, and its error still surfaces', async () => {
    // Taken from the test runner for this test only: the error is meant to surface as uncaught.
    const runners = process.rawListeners('uncaughtException') as ((error: Error) => void)[];
    process.removeAllListeners('uncaughtException');
    try {
      const surfaced = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
      const ran: string[] = [];
      onNextMacrotask(() => ran.push('first'));
      onNextMacrotask(() => {
        throw new Error('a bug in a callback');
      });
      onNextMacrotask(() => ran.push('after it'));
      expect(await surfaced).toEqual(new Error('a bug in a callback'));
      expect(ran).toEqual(['first', 'after it']);
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const runner of runners) process.on('uncaughtException', runner);
    }
  });
});

describe('Turns', () => {
  it('posts no marker for steps that follow a turn it saw lately, and still ends a burst that gives none', async () => {
    // The time is the test's (`pace` reads performance.now()), so nothing here depends on how fast the machine runs.
    let now = 1_000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const posts = vi.spyOn(MessagePort.prototype, 'postMessage');
    const turns = new Turns();
    // The markers `pace` posts (on the shared channel), counted over the calls of this test.
    let markers = 0;
    const pace = (): Promise<void> | undefined => {
      const before = posts.mock.calls.length;
      const turn = turns.pace();
      markers += posts.mock.calls.length - before;
      return turn;
    };
    // Queued on the same channel after a pending marker: resolves once that marker was delivered.
    const nextMacrotask = (): Promise<void> => new Promise((resolve) => onNextMacrotask(resolve));
    try {
      // The first step after idle begins a burst: one marker.
      expect(pace()).toBeUndefined();
      expect(markers).toBe(1);
      await nextMacrotask();
      // Steps that each wait for a store answering in a later macrotask (IndexedDB), each within QUIET_MS of the turn
      // the marker saw: they post none (before, each posted its own, 4 in all, and each was a macrotask).
      for (let step = 0; step < 3; step++) {
        now += QUIET_MS / 4;
        expect(pace()).toBeUndefined();
        await nextMacrotask();
      }
      expect(markers).toBe(1);
      // Past QUIET_MS since that turn, the next step posts one again...
      now += QUIET_MS;
      expect(pace()).toBeUndefined();
      expect(markers).toBe(2);
      // ...and a burst that gives the event loop no turn still waits for a timer's after SLOW_BURST_MS.
      now += SLOW_BURST_MS;
      expect(pace()).toBeInstanceOf(Promise);
    } finally {
      turns.close();
      vi.restoreAllMocks();
    }
  });

  it('a run of steps on promise jobs alone that began just after a turn still waits for a timer turn, QUIET_MS later at most', async () => {
    // The quiet time is counted from the turn the worker saw, not from its last step: steps that each follow the one
    // before within QUIET_MS, and give the event loop no turn (a MemoryStore, an eternal continueAsNew loop), would
    // otherwise never post a marker, so never begin a burst that waits, and hold every timer for as long as they run.
    let now = 1_000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const turns = new Turns();
    try {
      // A turn the worker saw: its marker delivered.
      expect(turns.pace()).toBeUndefined();
      await new Promise<void>((resolve) => onNextMacrotask(resolve));
      const turnAt = now;
      // Then steps QUIET_MS / 4 apart with no turn between them, until one waits (or far past when one should have).
      let waitedAt: number | undefined;
      while (now < turnAt + 10 * (QUIET_MS + SLOW_BURST_MS)) {
        now += QUIET_MS / 4;
        if (turns.pace()) {
          waitedAt = now;
          break;
        }
      }
      expect(waitedAt).toBeDefined();
      expect(waitedAt! - turnAt).toBeLessThanOrEqual(QUIET_MS + SLOW_BURST_MS);
    } finally {
      turns.close();
      vi.restoreAllMocks();
    }
  });
});

describe('onNextMacrotask', () => {
  it('runs a callback whose message the port refused, and every callback queued after it', async () => {
    vi.resetModules();
    const Platform = globalThis.MessageChannel;
    let refuse = 1;
    class Refusing extends Platform {
      constructor() {
        super();
        const post = this.port2.postMessage.bind(this.port2);
        this.port2.postMessage = (message: unknown) => {
          if (refuse-- > 0) throw new Error('the platform refused the message');
          post(message);
        };
      }
    }
    vi.stubGlobal('MessageChannel', Refusing);
    try {
      const fresh = (await import('../src/env/next-macrotask.js')).onNextMacrotask;
      const ran: string[] = [];
      const all = new Promise<void>((resolve) => {
        const done = (name: string) => () => {
          ran.push(name);
          if (ran.length === 3) resolve();
        };
        fresh(done('a')); // the refused post
        fresh(done('b'));
        fresh(done('c'));
      });
      // A bound for the failing case only (the three run within a few macrotasks): without it a lost callback hangs.
      let bound: ReturnType<typeof setTimeout> | undefined;
      const lost = new Promise<'lost'>((resolve) => { bound = setTimeout(() => resolve('lost'), 30_000); });
      expect(await Promise.race([all.then(() => 'ran' as const), lost])).toBe('ran');
      clearTimeout(bound);
      expect([...ran].sort()).toEqual(['a', 'b', 'c']);
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
});
