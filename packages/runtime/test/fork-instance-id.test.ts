import { expect, it } from 'vitest';
import { forkCallId } from '../src/engine/fork-call-id.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { NonDeterminismError } from '../src/model/errors/non-determinism-error.js';
import { replayHistory } from '../src/testing/replay-history.js';
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

it("replays a kept call built from ctx.instanceId in a fork whose id the rest of the call's id holds too ('e' in ':delivery')", async () => {
  const clock = new VirtualClock();
  const runtime = await start({
    clock,
    orchestrators: {
      Deliver: function* (ctx) {
        const delivered: unknown = yield ctx.callSubOrchestrator('Child', 1, `${ctx.instanceId}:delivery`);
        const billed: unknown = yield ctx.callSubOrchestrator('Child', 2, `${ctx.instanceId}:billing`);
        return [delivered, billed];
      },
      Child: function* (ctx) { return ctx.getInput(); },
    },
  });
  const { client } = runtime;
  await client.startNew('Deliver', { instanceId: 'order' });
  expect(await within(client.waitForCompletion('order', SETTLED), 'the source ending')).toMatchObject({ runtimeStatus: 'Completed', output: [1, 2] });
  await clock.advance(60_000);
  // The delivery child's result kept: the fork's replay names it 'e:delivery', recorded as 'order:delivery'.
  const fork = await client.fork('order', { newInstanceId: 'e', keepResults: 1 });
  expect(await within(client.waitForCompletion(fork, SETTLED), 'the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: [1, 2] });
  expect(await client.getStatus('e:billing')).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'e' });
  expect(await client.getStatus('e:delivery')).toBeUndefined();
});

it('is no replay of a kept call whose id holds the fork\u2019s id when the code never read ctx.instanceId: the code changed', async () => {
  const clock = new VirtualClock();
  const runtime = await start({ clock, orchestrators: { Derived: derived, Child: function* (ctx) { return ctx.getInput(); } }, activities: { A: () => 'a' } });
  const { client } = runtime;
  await client.startNew('Derived', { instanceId: 'order' });
  expect((await within(client.waitForCompletion('order', SETTLED), 'the source ending')).runtimeStatus).toBe('Completed');
  await clock.advance(60_000);
  const fork = await client.fork('order', { newInstanceId: 'order-fork' });
  expect((await within(client.waitForCompletion(fork, SETTLED), 'the fork ending')).runtimeStatus).toBe('Completed');
  const history = (await client.getStatus(fork, { showHistory: true, showHistoryOutput: true }))!.history!;
  expect(replayHistory(derived, history)).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'a', 2] });
  // The same ids written out by code that never reads ctx.instanceId: 'order-fork' in them is no place of the fork's id.
  const written: Orchestrator = function* (ctx) {
    const shipped: unknown = yield ctx.callSubOrchestrator('Child', 1, 'order-fork:shipping');
    const a: unknown = yield ctx.callActivity('A');
    const billed: unknown = yield ctx.callSubOrchestrator('Child', 2, 'order-fork:billing');
    return [shipped, a, billed];
  };
  expect(() => replayHistory(written, history)).toThrow(NonDeterminismError);
});

it('forkCallId: a copied step records the code\u2019s id with the source\u2019s id at places of the fork\u2019s, when the code read ctx.instanceId', () => {
  const step = { seed: 'order_e1', ranAs: 'order', instanceIdRead: 'e' };
  expect(forkCallId('e:delivery', step, 'order:delivery')).toBe('order:delivery');
  expect(forkCallId('e:e', step, 'order:e')).toBe('order:e');
  expect(forkCallId('e:e', step, 'order:order')).toBe('order:order');
  expect(forkCallId('e:delivery', step, 'e:delivery')).toBe('e:delivery');
  // No place of the fork's id there, another id, or the code never read ctx.instanceId: the code's id.
  expect(forkCallId('e:delivery', step, 'order:delivery:x')).toBe('e:delivery');
  expect(forkCallId('e:delivery', step, 'order:billing')).toBe('e:delivery');
  expect(forkCallId('e:delivery', { seed: 'order_e1', ranAs: 'order' }, 'order:delivery')).toBe('e:delivery');
  // A step the fork runs itself (no ranAs) issues the code's id.
  expect(forkCallId('e:delivery', { seed: 'e_e2', instanceIdRead: 'e' })).toBe('e:delivery');
});
