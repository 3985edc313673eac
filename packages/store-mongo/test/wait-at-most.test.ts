import { VirtualClock } from '@durable-rx/runtime/testing';
import { describe, expect, it } from 'vitest';
import { waitAtMost } from '../src/wait-at-most.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('waitAtMost (a bounded wait for a driver call that takes no signal)', () => {
  it('gives the work\u2019s value when it settles in time, and clears its timer', async () => {
    const clock = new VirtualClock();
    const work = deferred<string>();
    const waiting = waitAtMost(work.promise, 2_000, clock);
    await clock.advance(1_999);
    work.resolve('committed');
    await expect(waiting).resolves.toEqual({ kind: 'settled', value: 'committed' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('throws the work\u2019s error when it fails in time', async () => {
    const clock = new VirtualClock();
    const work = deferred<void>();
    const waiting = waitAtMost(work.promise, 2_000, clock);
    work.reject(new Error('commit refused'));
    await expect(waiting).rejects.toThrow('commit refused');
    expect(clock.pendingTimers).toBe(0);
  });

  it('is late once its time ran out, and a later failure of the work is no unhandled rejection', async () => {
    const clock = new VirtualClock();
    const work = deferred<void>();
    let settled = false;
    const waiting = waitAtMost(work.promise, 2_000, clock).then((outcome) => {
      settled = true;
      return outcome;
    });
    await clock.advance(1_999);
    expect(settled).toBe(false);
    await clock.advance(1);
    await expect(waiting).resolves.toEqual({ kind: 'late' });
    // The driver call ends later (the topology closed, a server was selected at last): nothing more happens.
    work.reject(new Error('server selection timed out'));
    await work.promise.catch(() => undefined);
  });
});
