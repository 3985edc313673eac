import { describe, expect, it } from 'vitest';
import { JsonBaseline } from '../src/model/same-json.js';

/** An object that counts how often it is serialised. */
function counted(value: Record<string, unknown>): { value: object; readonly serialised: () => number } {
  let calls = 0;
  return { value: { ...value, toJSON: () => (calls++, value) }, serialised: () => calls };
}

describe('JsonBaseline (the repeat check of status$, instances$ and customStatus$)', () => {
  it('compares with the text of an object as it was taken, whatever its watcher does to it afterwards', () => {
    const baseline = new JsonBaseline();
    const emitted = { received: 1 };
    expect(baseline.take(emitted)).toBe(true);
    emitted.received = 2; // the watcher owns what it got
    expect(baseline.holds({ received: 2 })).toBe(false);
    expect(baseline.holds(emitted)).toBe(false);
    expect(baseline.holds({ received: 1 })).toBe(true);
    expect(baseline.take({ received: 1 })).toBe(false);
    expect(baseline.take({ received: 2 })).toBe(true);
  });

  it('keeps a fixed object (a shared state\u2019s payload) as it is: serialised only when a comparison needs its text', () => {
    const baseline = new JsonBaseline();
    const first = counted({ city: 'Tokyo' });
    baseline.replace(first.value, true);
    expect(first.serialised()).toBe(0);
    // The same object holds without a comparison; another object is compared by its text, the baseline's taken once.
    expect(baseline.holds(first.value)).toBe(true);
    expect(baseline.take(first.value, true)).toBe(false);
    expect(first.serialised()).toBe(0);
    expect(baseline.holds({ city: 'Tokyo' })).toBe(true);
    expect(baseline.holds({ city: 'Seattle' })).toBe(false);
    expect(first.serialised()).toBe(1);
    // A value of another kind still compares by its JSON text (a Date as its instant).
    baseline.replace('2026-01-01T00:00:00.000Z', true);
    expect(baseline.holds(new Date('2026-01-01T00:00:00.000Z'))).toBe(true);
    expect(baseline.holds(undefined)).toBe(false);
  });

  it('serialises an object that is not fixed when it is taken, once', () => {
    const baseline = new JsonBaseline();
    const own = counted({ city: 'London' });
    baseline.replace(own.value);
    expect(own.serialised()).toBe(1);
    expect(baseline.holds({ city: 'London' })).toBe(true);
    expect(own.serialised()).toBe(1);
  });
});
