import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import { replayHistory } from '../src/testing/replay-history.js';

/**
 * Fork histories as the runtime of 6 December 2026 recorded them (test/fixtures/forks-recorded.json), before the
 * replay named a copied step's calls by the rule of today: `fork` is 'order-fork' (a fork of 'order' keeping three
 * results), `forkOfFork` 'order-fork-2' (a fork of 'order-fork' keeping all), `relayFork` the execution a fork's
 * continueAsNew started, whose child is named with the source's GUID handed on in its input.
 */
const recorded = JSON.parse(readFileSync(new URL('./fixtures/forks-recorded.json', import.meta.url), 'utf8')) as Record<'fork' | 'forkOfFork' | 'relayFork', HistoryEvent[]>;

/** Children named from ctx.instanceId (read at the start and at the call) and by GUIDs, an activity between them. */
const shop: Orchestrator = function* (ctx) {
  const me = ctx.instanceId;
  const shipped: unknown = yield ctx.callSubOrchestrator('Child', 1, `${me}:shipping`);
  const a: unknown = yield ctx.callActivity('A');
  const jobs = [ctx.newGuid(), `job-${ctx.newGuid()}`];
  const done: unknown = yield ctx.Task.all(jobs.map((id, i) => ctx.callSubOrchestrator('Child', 10 + i, id)));
  const billed: unknown = yield ctx.callSubOrchestrator('Child', 2, `${ctx.instanceId}:billing`);
  return [shipped, a, done, billed];
};

/** The execution a continueAsNew started with a GUID as its input: a child named with it. */
const relay: Orchestrator = function* (ctx) {
  const handed = ctx.getInput<string | undefined>();
  if (handed === undefined) {
    const guid = ctx.newGuid();
    yield ctx.callActivity('A');
    yield ctx.waitForExternalEvent('go');
    ctx.continueAsNew(guid);
    return undefined;
  }
  return yield ctx.callSubOrchestrator('Child', 'x', `job-${handed}`);
};

it('replays forks recorded before: a fork and a fork of the fork with kept calls named from ctx.instanceId and by GUIDs, and a continued execution of a fork', () => {
  expect(replayHistory(shop, recorded.fork)).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'a', [10, 11], 2] });
  expect(replayHistory(shop, recorded.forkOfFork)).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'a', [10, 11], 2] });
  expect(replayHistory(relay, recorded.relayFork)).toMatchObject({ runtimeStatus: 'Completed', output: 'x' });
});
