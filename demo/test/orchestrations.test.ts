import { createRuntime, silentLogger, type Runtime } from '@durable-rx/runtime';
import { filter, firstValueFrom } from 'rxjs';
import { SETTLED } from '../../test-support/settled.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createDemoActivities } from '../src/orchestrations/demo-activities.js';
import { demoOrchestrators } from '../src/orchestrations/demo-orchestrators.js';
import { PaymentSwitch } from '../src/orchestrations/payment-switch.js';

/** localStorage for Node. */
class MapStorage implements Storage {
  readonly #items = new Map<string, string>();
  get length(): number { return this.#items.size; }
  clear(): void { this.#items.clear(); }
  getItem(key: string): string | null { return this.#items.get(key) ?? null; }
  key(index: number): string | null { return [...this.#items.keys()][index] ?? null; }
  removeItem(key: string): void { this.#items.delete(key); }
  setItem(key: string, value: string): void { this.#items.set(key, value); }
}

describe("the demo's orchestrations (MemoryStore, no delay)", () => {
  let runtime: Runtime;
  const start = async () => {
    const paymentSwitch = new PaymentSwitch(new MapStorage(), new EventTarget());
    runtime = createRuntime({
      orchestrators: demoOrchestrators,
      activities: createDemoActivities({ delayMs: 0, paymentSwitch }),
      logger: silentLogger,
    });
    await runtime.start();
    return { client: runtime.client, paymentSwitch };
  };
  afterEach(() => runtime?.stop());

  it('says hello to Tokyo, Seattle and London in order', async () => {
    const { client } = await start();
    const id = await client.startNew('E1_HelloSequence');
    const seen: unknown[] = [];
    client.customStatus$(id).subscribe((s) => seen.push(s));
    const done = await client.waitForCompletion(id, SETTLED);
    expect(done.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    expect(seen.filter((s) => s !== undefined)).toEqual(['Tokyo', 'Seattle', 'London']);
  });

  it('offers a discount, then books when BookingConfirmed is true and not when it is false', async () => {
    const { client } = await start();
    for (const answer of [true, false]) {
      const id = await client.startNew('ReserveTicket', { input: 'user-42' });
      const offer = await firstValueFrom(client.customStatus$(id).pipe(filter((s) => s !== undefined)));
      expect(offer).toMatchObject({ discount: expect.any(Number), discountTimeout: 120 });
      await client.raiseEvent(id, 'BookingConfirmed', answer);
      const done = await client.waitForCompletion(id, SETTLED);
      expect(done.output).toBe(answer);
      expect(done.customStatus).toEqual({
        message: answer ? 'Thank you for confirming your booking.' : 'The booking was declined.',
      });
    }
  });

  it('fails while the payment service is down and completes after a rewind, reserving the seat once', async () => {
    const { client, paymentSwitch } = await start();
    const id = await client.startNew('E3_PayForTicket', { input: 'Concert' });
    const failed = await client.waitForCompletion(id, SETTLED);
    expect(failed.runtimeStatus).toBe('Failed');
    expect(failed.failureDetails?.errorMessage).toContain('The payment service is unavailable');
    paymentSwitch.isUp = true;
    await client.rewind(id);
    const done = await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Completed')));
    expect(done?.output).toMatch(/^Paid for Concert, row [A-H]$/);
    const history = (await client.getStatus(id, { showHistory: true }))?.history ?? [];
    const reserved = history.filter((e) => e.type === 'TaskScheduled' && e.name === 'ReserveSeat');
    expect(reserved).toHaveLength(1);
  });
});
