import { describe, expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { TaskFailedError } from '../src/model/errors/task-failed-error.js';
import type { FailureDetails, Mutable } from '../src/model/instance-status.js';
import { SETTLED } from '../src/testing/settled.js';
import { startedRuntimes } from './started-runtimes.js';

/**
 * MemoryStore keeps history events and pending messages frozen all the way down and hands them out without a copy.
 * Orchestrator code must still receive payloads of its own (as with every other store): an external event's data, an
 * activity's result and a sub-orchestration's result may be changed in place, first run and replay alike.
 */

type Items = { items: unknown[] };

const Order: Orchestrator = function* (ctx) {
  const order = (yield ctx.waitForExternalEvent<Items>('order')) as Items;
  order.items.push(4);
  // 'late' was raised before 'order': it waits buffered until this call takes it.
  const late = (yield ctx.waitForExternalEvent<Items>('late')) as Items;
  late.items.push('late');
  const boxed = (yield ctx.callActivity<Items>('Box', 'boxed')) as Items;
  boxed.items.push('mine');
  const child = (yield ctx.callSubOrchestrator<Items>('Child')) as Items;
  child.items.push('too');
  return { order, late, boxed, child };
};

const Child: Orchestrator = function* () {
  return { items: ['child'] };
};

const { start } = startedRuntimes();

describe('payloads handed to orchestrator code', () => {
  for (const cacheSize of [undefined, 0]) {
    it(`may be changed in place on MemoryStore (${cacheSize === 0 ? 'every step replays' : 'cached execution'})`, async () => {
      const runtime = await start({
        store: new MemoryStore(),
        ...(cacheSize === undefined ? {} : { cacheSize }),
        orchestrators: { Order, Child },
        activities: { Box: (label: string) => ({ items: [label] }) },
      });
      const id = await runtime.client.startNew('Order');
      await runtime.client.raiseEvent(id, 'late', { items: [] });
      await runtime.client.raiseEvent(id, 'order', { items: [1, 2, 3] });
      const done = await runtime.client.waitForCompletion(id, SETTLED);
      expect(done.failureDetails).toBeUndefined();
      expect(done).toMatchObject({
        runtimeStatus: 'Completed',
        output: {
          order: { items: [1, 2, 3, 4] },
          late: { items: ['late'] },
          boxed: { items: ['boxed', 'mine'] },
          child: { items: ['child', 'too'] },
        },
      });
    });
  }
});

describe('an activity result changed in place by orchestrator code', () => {
  it('leaves the recorded result as the activity returned it, so a rewind replays that value', async () => {
    let failOnce = true;
    const runtime = await start({
      store: new MemoryStore(),
      orchestrators: {
        Cart: function* (ctx) {
          const cart = (yield ctx.callActivity<{ items: number }>('GetCart')) as { items: number };
          cart.items += 1;
          yield ctx.callActivity('Flaky'); // fails the first run: the instance fails, and is rewound
          return cart.items;
        },
      },
      activities: {
        GetCart: () => ({ items: 1 }),
        Flaky: () => {
          if (failOnce) {
            failOnce = false;
            throw new Error('transient');
          }
          return 'ok';
        },
      },
    });
    const id = await runtime.client.startNew('Cart');
    expect((await runtime.client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Failed');
    const failed = await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true });
    expect(failed?.history?.find((e) => e.type === 'TaskCompleted')).toMatchObject({ result: { items: 1 } });

    await runtime.client.rewind(id, 'retry');
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 2 });
  });

  for (const cacheSize of [undefined, 0]) {
    it(`may change a caught failure's details without changing the recorded failure (${cacheSize === 0 ? 'every step replays' : 'cached execution'})`, async () => {
      const runtime = await start({
        store: new MemoryStore(),
        ...(cacheSize === undefined ? {} : { cacheSize }),
        orchestrators: {
          Catches: function* (ctx) {
            try {
              yield ctx.callActivity('Fails');
              return 'no failure';
            } catch (error) {
              // Typed read-only; plain JavaScript may change it all the same.
              const failureDetails = (error as TaskFailedError).failureDetails as Mutable<FailureDetails>;
              failureDetails.errorMessage = 'changed';
              yield ctx.createTimer(ctx.currentUtcDateTime); // one more step: the next one replays what was recorded
              return failureDetails.errorMessage;
            }
          },
        },
        activities: {
          Fails: () => {
            throw new Error('as thrown');
          },
        },
      });
      const id = await runtime.client.startNew('Catches');
      const done = await runtime.client.waitForCompletion(id, SETTLED);
      expect(done.failureDetails).toBeUndefined();
      expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'changed' });
      const status = await runtime.client.getStatus(id, { showHistory: true });
      expect(status?.history?.find((e) => e.type === 'TaskFailed')).toMatchObject({ failureDetails: { errorMessage: 'as thrown' } });
    });
  }
});
