import { filter, firstValueFrom } from 'rxjs';
import { expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { CanceledError } from '../src/model/errors/canceled-error.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { startedRuntimes } from './started-runtimes.js';

const { start } = startedRuntimes();

/**
 * Pay, then wait for `go` (custom status `waiting`); a cancel met there refunds when `refund` is the input (the
 * refund's result is recorded after the cancel request), else ends the instance Failed with CanceledError.
 */
const order: Orchestrator = function* (ctx) {
  const paid: unknown = yield ctx.callActivity('Run', 'pay');
  ctx.setCustomStatus('waiting');
  try {
    const go: unknown = yield ctx.waitForExternalEvent('go');
    return [paid, go];
  } catch (error) {
    if (!(error instanceof CanceledError) || ctx.getInput() !== 'refund') throw error;
    const refunded: unknown = yield ctx.callActivity('Run', 'refund');
    return [paid, refunded];
  }
};

async function started() {
  const runs: string[] = [];
  const runtime = await start({ orchestrators: { Order: order }, activities: { Run: (what: string) => {
    runs.push(what);
    return what.toUpperCase();
  } } });
  const { client } = runtime;
  const waiting = (id: string) => within(firstValueFrom(client.customStatus$(id).pipe(filter((v) => v === 'waiting'))), `${id} waiting for go`);
  return { client, runs, waiting };
}

it('forks a canceled instance keeping every result into one that goes on from its wait: the cancel request came after the last result', async () => {
  const { client, runs, waiting } = await started();
  await client.startNew('Order', { instanceId: 'canceled' });
  await waiting('canceled');
  await client.cancel('canceled', 'by mistake');
  expect(await client.waitForCompletion('canceled', SETTLED)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'CanceledError' } });
  // Every result kept (the payment): the fork waits for `go` again, as a terminated instance's fork goes on.
  const fork = await client.fork('canceled');
  await waiting(fork);
  await client.raiseEvent(fork, 'go', 'ship');
  expect(await client.waitForCompletion(fork, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['PAY', 'ship'] });
  expect(runs).toEqual(['pay']);
  expect((await client.getStatus('canceled'))?.runtimeStatus).toBe('Failed');
});

it('keeps a cancel request that a kept result came after (the code handled it), and drops it when the cut is before that result', async () => {
  const { client, runs, waiting } = await started();
  await client.startNew('Order', { instanceId: 'refunded', input: 'refund' });
  await waiting('refunded');
  await client.cancel('refunded');
  expect(await client.waitForCompletion('refunded', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['PAY', 'REFUND'] });
  // Both results kept: the replay meets the cancel where the source did and completes as it did, running nothing.
  const all = await client.fork('refunded');
  expect(await client.waitForCompletion(all, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['PAY', 'REFUND'] });
  expect(runs).toEqual(['pay', 'refund']);
  // The payment only: the cancel came after it, and the fork waits for `go`.
  const paid = await client.fork('refunded', { keepResults: 1 });
  await waiting(paid);
  await client.raiseEvent(paid, 'go', 'ship');
  expect(await client.waitForCompletion(paid, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['PAY', 'ship'] });
  expect(runs).toEqual(['pay', 'refund']);
});
