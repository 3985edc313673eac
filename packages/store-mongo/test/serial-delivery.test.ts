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

  it('starts the lookups of later events while an earlier one is pending, and still delivers in push order', async () => {
    const out: string[] = [];
    const lookups = new Map<string, ReturnType<typeof deferred<string>>>();
    const delivery = new SerialDelivery<string, string>((e) => {
      const lookup = deferred<string>();
      lookups.set(e, lookup);
      return lookup.promise;
    }, (v) => out.push(v), () => undefined);
    delivery.push('a');
    delivery.push('b');
    delivery.push('c');
    // All three lookups run at once (they can share one read), not one after the other's delivery.
    expect([...lookups.keys()]).toEqual(['a', 'b', 'c']);
    lookups.get('c')!.resolve('C');
    lookups.get('b')!.resolve('B');
    await Promise.resolve();
    expect(out).toEqual([]);
    lookups.get('a')!.resolve('A');
    await delivery.idle();
    expect(out).toEqual(['A', 'B', 'C']);
  });

  it('reports a lookup that fails while earlier events are pending, without an unhandled rejection', async () => {
    const out: string[] = [];
    const failures: unknown[] = [];
    const first = deferred<string>();
    const delivery = new SerialDelivery<string, string>(
      (e) => (e === 'first' ? first.promise : Promise.reject(new Error(`${e} failed`))), (v) => out.push(v), (error) => failures.push(error),
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      delivery.push('first');
      delivery.push('second');
      await new Promise((resolve) => setImmediate(resolve)); // the rejection has had every chance to be reported
      first.resolve('first');
      await delivery.idle();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(out).toEqual(['first']);
    expect(failures.map((f) => (f as Error).message)).toEqual(['second failed']);
    expect(unhandled).toEqual([]);
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

describe('serial delivery stopped at an event it must not skip', () => {
  it('discard from the failure report drops the events after the failed one: nothing delivered out of order', async () => {
    const out: string[] = [];
    const failures: unknown[] = [];
    const lookup = deferred<string>();
    const delivery: SerialDelivery<string, string> = new SerialDelivery<string, string>(
      (e) => (e === 'needs-read' ? lookup.promise : Promise.resolve(e)),
      (v) => out.push(v),
      (error) => {
        failures.push(error);
        delivery.discard();
      },
    );
    delivery.push('before');
    delivery.push('needs-read');
    delivery.push('after');
    delivery.push('last');
    lookup.reject(new Error('read failed'));
    await delivery.idle();
    expect(out).toEqual(['before']);
    expect(failures.map((f) => (f as Error).message)).toEqual(['read failed']);
    // Events pushed afterwards (a new stream's) are delivered again.
    delivery.push('new stream');
    await delivery.idle();
    expect(out).toEqual(['before', 'new stream']);
  });
});
