import { describe, expect, it } from 'vitest';
import { SerialDelivery } from '../src/serial-delivery.js';

/** A promise the test settles itself. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('serial delivery of change events (a status snapshot waiting for its input keeps its place)', () => {
  it('delivers synchronous mappings at once', () => {
    const out: number[] = [];
    const delivery = new SerialDelivery<number, number>((n) => n * 10, (v) => out.push(v), () => undefined);
    delivery.push(1);
    delivery.push(2);
    expect(out).toEqual([10, 20]);
  });

  it('holds later events behind an asynchronous mapping, in push order', async () => {
    const out: string[] = [];
    const lookup = deferred<string>();
    const delivery = new SerialDelivery<string, string>((e) => (e === 'slow' ? lookup.promise : e), (v) => out.push(v), () => undefined);
    delivery.push('first');
    delivery.push('slow');
    delivery.push('after');
    delivery.push('last');
    expect(out).toEqual(['first']);
    lookup.resolve('slow, with its input');
    await delivery.idle();
    expect(out).toEqual(['first', 'slow, with its input', 'after', 'last']);
    delivery.push('later');
    expect(out.at(-1)).toBe('later');
  });

  it('skips an event whose mapping throws or rejects, reports it, and goes on', async () => {
    const out: string[] = [];
    const failures: unknown[] = [];
    const lookup = deferred<string>();
    const delivery = new SerialDelivery<string, string>((e) => {
      if (e === 'corrupt') throw new Error('corrupt');
      return e === 'lost' ? lookup.promise : e;
    }, (v) => out.push(v), (error) => failures.push(error));
    delivery.push('a');
    delivery.push('corrupt');
    delivery.push('lost');
    delivery.push('b');
    lookup.reject(new Error('lookup failed'));
    await delivery.idle();
    expect(out).toEqual(['a', 'b']);
    expect(failures.map((f) => (f as Error).message)).toEqual(['corrupt', 'lookup failed']);
  });

  it('drops what maps to undefined (events that are not changes)', async () => {
    const out: number[] = [];
    const delivery = new SerialDelivery<number, number>((n) => (n % 2 === 0 ? undefined : Promise.resolve(n)), (v) => out.push(v), () => undefined);
    for (const n of [1, 2, 3, 4]) delivery.push(n);
    await delivery.idle();
    expect(out).toEqual([1, 3]);
  });
});
