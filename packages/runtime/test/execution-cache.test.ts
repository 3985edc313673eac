import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { OrchestrationExecution } from '../src/engine/orchestration-execution.js';
import { silentLogger } from '../src/env/logger.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { InstanceState } from '../src/model/instance-status.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { executionStarted } from '../src/testing/history-builder.js';
import { DEFAULT_CACHE_SIZE, ExecutionCache } from '../src/worker/execution-cache.js';

/** The ExecutionStarted of execution `e`, the one every cached execution here is of. */
const startedE = (): HistoryEvent => Object.assign(executionStarted('O'), { executionId: 'e' });

/** An execution of `e`, started and waiting for an event. */
const execution = (): OrchestrationExecution => {
  const live = new OrchestrationExecution(function* (ctx) { yield ctx.waitForExternalEvent('go'); }, { customStatusLimitBytes: 1024 });
  live.replay([startedE()]);
  return live;
};

/** One step of instance `id` as the worker runs it: a lookup, then the execution set again after the commit. */
function step(cache: ExecutionCache, id: string, length: number): boolean {
  const cached = cache.get(id, 'e', length);
  cache.set(id, 'e', length + 1, cached ?? execution(), undefined, cached !== undefined);
  return cached !== undefined;
}

describe('ExecutionCache', () => {
  it('keeps every execution while it has room, and evicts the least recently used once it has none', () => {
    const cache = new ExecutionCache(3);
    for (const id of ['a', 'b', 'c']) step(cache, id, 0);
    expect(step(cache, 'a', 1)).toBe(true); // a is now the most recently used
    step(cache, 'd', 0); // a newcomer while full
    step(cache, 'e', 0); // another: the first newcomer goes first
    expect(cache.size).toBe(3);
    expect(cache.get('d', 'e', 1)).toBeUndefined();
    expect(cache.get('a', 'e', 2)).toBeDefined();
  });

  it('misses when the instance moved on (another execution or history length)', () => {
    const cache = new ExecutionCache(2);
    step(cache, 'a', 0);
    expect(cache.get('a', 'e', 5)).toBeUndefined();
    step(cache, 'b', 0);
    expect(cache.get('b', 'other', 1)).toBeUndefined();
  });

  // A rewind keeps the execution id and rewrites its history, which another worker may then grow back to the length
  // this one's execution was left at: that execution, of the history before the rewind, was stepped on the new one.
  it('misses when the history was rewritten by a rewind since (another history epoch), whatever its length', () => {
    const cache = new ExecutionCache(2);
    step(cache, 'a', 0); // left at length 1 of epoch 0
    expect(cache.get('a', 'e', 1, 1)).toBeUndefined();
    const rewound = execution();
    rewound.historyEpoch = 1;
    cache.set('a', 'e', 4, rewound, undefined, false);
    expect(cache.get('a', 'e', 4, 1)).toBe(rewound);
  });

  it('keeps hitting for the instances it holds when more instances take turns than it holds (a plain LRU hits none)', () => {
    const capacity = 100;
    const cache = new ExecutionCache(capacity);
    const ids = Array.from({ length: 1_000 }, (_, i) => `i${i}`);
    let hits = 0;
    for (let round = 0; round < 5; round++) {
      for (const id of ids) if (step(cache, id, round)) hits++;
    }
    // The first round fills the cache; in each of the four others the instances of the main part hit.
    expect(hits).toBeGreaterThanOrEqual(4 * (capacity - capacity / 8));
    expect(cache.size).toBeLessThanOrEqual(capacity);
  });

  it('lets a newcomer whose next step comes soon into the main part, pushing out an execution left unused', () => {
    const cache = new ExecutionCache(8);
    for (let i = 0; i < 8; i++) step(cache, `cold${i}`, 0);
    step(cache, 'hot', 0); // full: into probation
    expect(step(cache, 'hot', 1)).toBe(true); // found there: into the main part
    for (let i = 0; i < 8; i++) step(cache, `new${i}`, 0); // newcomers push each other out of probation
    expect(step(cache, 'hot', 2)).toBe(true);
    expect(cache.size).toBe(8);
  });

  it('sends a newcomer to probation while the executions in flight are out of a full cache', () => {
    const cache = new ExecutionCache(16); // probation holds 2
    const hot = Array.from({ length: 14 }, (_, i) => `hot${i}`);
    for (const id of hot) step(cache, id, 0);
    step(cache, 'new0', 0);
    step(cache, 'new1', 0);
    expect(cache.size).toBe(16);
    // Two steps in flight have taken their executions out when another step sets a replayed newcomer.
    const out = [cache.get('hot0', 'e', 1)!, cache.get('hot1', 'e', 1)!];
    cache.set('newcomer', 'e', 1, execution(), undefined, false);
    cache.set('hot0', 'e', 2, out[0]!, undefined, true);
    cache.set('hot1', 'e', 2, out[1]!, undefined, true);
    expect(cache.size).toBe(16);
    for (const id of hot) expect(step(cache, id, id === 'hot0' || id === 'hot1' ? 2 : 1)).toBe(true);
  });

  it('drops nothing while it has room, even when probation holds more than its share', () => {
    const cache = new ExecutionCache(16); // probation holds 2
    for (let i = 0; i < 16; i++) step(cache, `a${i}`, 0); // a14 and a15 in probation
    cache.delete('a0');
    cache.delete('a1');
    step(cache, 'newcomer', 0); // short of full by less than probation holds: into probation
    expect(cache.size).toBe(15);
    for (let i = 2; i < 16; i++) expect(step(cache, `a${i}`, 1)).toBe(true);
    expect(step(cache, 'newcomer', 1)).toBe(true);
  });

  it('refills the main part once it lost more executions than probation holds', () => {
    const cache = new ExecutionCache(16);
    for (let i = 0; i < 18; i++) step(cache, `a${i}`, 0); // full, probation holds a16 and a17
    for (let i = 2; i < 10; i++) cache.delete(`a${i}`); // eight instances finished
    for (let i = 0; i < 8; i++) step(cache, `b${i}`, 0);
    for (let i = 0; i < 8; i++) expect(step(cache, `b${i}`, 1)).toBe(true);
  });

  it('by default keeps every execution of 50,000 instances taking turns, so that none of their steps replays', () => {
    const cache = new ExecutionCache(DEFAULT_CACHE_SIZE);
    const ids = Array.from({ length: 50_000 }, (_, i) => `i${i}`);
    for (const id of ids) step(cache, id, 0);
    let hits = 0;
    for (const id of ids) if (step(cache, id, 1)) hits++;
    expect(hits).toBe(ids.length);
  });

  it('keeps an execution only for its own execution id', () => {
    const cache = new ExecutionCache(2);
    cache.set('a', 'other', 1, execution(), undefined, false);
    expect(cache.size).toBe(0);
    expect(cache.get('a', 'other', 1)).toBeUndefined();
    cache.set('a', 'e', 1, execution(), undefined, false);
    expect(cache.get('a', 'e', 1)).toBeDefined();
  });

  it('keeps nothing with a capacity of 0', () => {
    const cache = new ExecutionCache(0);
    step(cache, 'a', 0);
    expect(cache.size).toBe(0);
  });

  it('keeps the committed state only with an execution that awaits an activity, the one a fused step can use', () => {
    const started = (orchestrator: Orchestrator): OrchestrationExecution => {
      const execution = new OrchestrationExecution(orchestrator, { customStatusLimitBytes: 1024 });
      execution.replay([]);
      execution.step(new Date(0), [startedE()]);
      return execution;
    };
    const state = { instanceId: 'i' } as unknown as InstanceState;
    const cache = new ExecutionCache(4);
    cache.set('activity', 'e', 4, started(function* (ctx) { yield ctx.callActivity('A'); }), state, false);
    cache.set('event', 'e', 4, started(function* (ctx) { yield ctx.waitForExternalEvent('go'); }), state, false);
    cache.set('timer', 'e', 4, started(function* (ctx) { yield ctx.createTimer(new Date(1_000)); }), state, false);
    expect(cache.take('activity')?.state).toBe(state);
    expect(cache.take('event')).toBeUndefined();
    expect(cache.take('timer')).toBeUndefined();
    // Such an execution is still there for the step that its event or timer wakes.
    expect(cache.get('event', 'e', 4)).toBeDefined();
  });
});

describe('the runtime\'s execution cache', () => {
  it('by default keeps every execution of a few thousand waiting instances, so that raising an event to each replays none', async () => {
    const runtime = createRuntime({
      store: new MemoryStore(), logger: silentLogger, activities: {},
      orchestrators: { Loop: function* (ctx) { for (;;) ctx.setCustomStatus(yield ctx.waitForExternalEvent('next')); } },
    });
    await runtime.start();
    try {
      const ids = Array.from({ length: 2_500 }, (_, i) => `waiter-${i}`);
      /** Settles once every instance has committed a state for which `done` holds (subscribed before the commands). */
      const untilEach = (done: (state: InstanceState) => boolean): Promise<unknown> => {
        const left = new Set(ids);
        return firstValueFrom(runtime.store.changes$.pipe(
          filter(({ instanceId, state }) => state !== undefined && done(state) && left.delete(instanceId) && left.size === 0),
        ));
      };
      const waiting = untilEach((state) => state.runtimeStatus === 'Running');
      await Promise.all(ids.map((instanceId) => runtime.client.startNew('Loop', { instanceId })));
      await waiting;
      const before = runtime.metrics;
      const raised = untilEach((state) => state.customStatus === 1);
      await Promise.all(ids.map((id) => runtime.client.raiseEvent(id, 'next', 1)));
      await raised;
      const after = runtime.metrics;
      expect(after.steps - before.steps).toBe(ids.length);
      expect(after.cacheMisses - before.cacheMisses).toBe(0);
      expect(after.eventsReplayed - before.eventsReplayed).toBe(0);
    } finally {
      await runtime.stop();
    }
  });
});
