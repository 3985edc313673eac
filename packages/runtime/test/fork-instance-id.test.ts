import { expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';

const { start } = startedRuntimes();

/** Two children named from `ctx.instanceId`, an activity between them. */
const derived: Orchestrator = function* (ctx) {
  const shipped: unknown = yield ctx.callSubOrchestrator('Child', 1, `${ctx.instanceId}:shipping`);
  const a: unknown = yield ctx.callActivity('A');
  const billed: unknown = yield ctx.callSubOrchestrator('Child', 2, `${ctx.instanceId}:billing`);
  return [shipped, a, billed];
};

it('replays a kept call whose child id the code built from ctx.instanceId, in a fork and in a fork of the fork; a call made anew names the fork', async () => {
  const clock = new VirtualClock();
  let runs = 0;
  const runtime = await start({
    clock,
    orchestrators: { Derived: derived, Child: function* (ctx) { return ctx.getInput(); } },
    activities: { A: () => `a${++runs}` },
  });
  const { client } = runtime;
  const id = await client.startNew('Derived', { instanceId: 'order' });
  expect(await within(client.waitForCompletion(id, SETTLED), 'the source ending')).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'a1', 2] });
  await clock.advance(60_000);
  // The shipping child's and the activity's results kept: the billing child is called anew, as the fork's.
  const fork = await client.fork(id, { newInstanceId: 'order-fork', keepResults: 2 });
  expect(await within(client.waitForCompletion(fork, SETTLED), 'the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'a1', 2] });
  expect(await client.getStatus('order-fork:billing')).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'order-fork' });
  expect(await client.getStatus('order-fork:shipping')).toBeUndefined();
  expect(await client.getStatus('order:billing')).toMatchObject({ parentInstanceId: 'order' });
  // A fork of the fork keeps all three: the billing call, made in the fork's own step, replays too.
  await clock.advance(60_000);
  const again = await client.fork(fork, { newInstanceId: 'order-fork-2' });
  expect(await within(client.waitForCompletion(again, SETTLED), 'the fork of the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'a1', 2] });
  expect(runs).toBe(1);
});
