import { describe, expect, it } from 'vitest';
import { BatchLoader } from '../src/batch-loader.js';

/** A read the test answers itself, recording which keys each call asked for. */
function recordingRead(values: Record<string, number>) {
  const calls: string[][] = [];
  const pending: (() => void)[] = [];
  const read = (keys: readonly string[]) => {
    calls.push([...keys]);
    return new Promise<ReadonlyMap<string, number>>((resolve) => {
      pending.push(() => resolve(new Map(keys.filter((k) => k in values).map((k) => [k, values[k]!]))));
    });
  };
  const answerNext = () => pending.shift()?.();
  return { read, calls, answerNext };
}

describe('batched loads of the inputs a status feed misses', () => {
  it('reads the keys asked for together in one read, each once, and gives each load its value', async () => {
    const { read, calls, answerNext } = recordingRead({ a: 1, b: 2 });
    const loader = new BatchLoader(read);
    const loads = [loader.load('a'), loader.load('b'), loader.load('a'), loader.load('missing')];
    await Promise.resolve();
    expect(calls).toEqual([['a', 'b', 'missing']]);
    answerNext();
    expect(await Promise.all(loads)).toEqual([1, 2, 1, undefined]);
  });

  it('runs one read at a time: keys asked for meanwhile go in the next read', async () => {
    const { read, calls, answerNext } = recordingRead({ a: 1, b: 2, c: 3 });
    const loader = new BatchLoader(read);
    const first = loader.load('a');
    await Promise.resolve();
    const later = [loader.load('b'), loader.load('c'), loader.load('a')];
    await Promise.resolve();
    expect(calls).toEqual([['a']]);
    answerNext();
    expect(await first).toBe(1);
    await Promise.resolve();
    expect(calls).toEqual([['a'], ['b', 'c', 'a']]);
    answerNext();
    expect(await Promise.all(later)).toEqual([2, 3, 1]);
  });

  it('reads at most maxBatch keys at a time', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `k${i}`);
    const { read, calls, answerNext } = recordingRead(Object.fromEntries(keys.map((k, i) => [k, i])));
    const loader = new BatchLoader(read, 2);
    const loads = Promise.all(keys.map((k) => loader.load(k)));
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      answerNext();
    }
    expect(await loads).toEqual([0, 1, 2, 3, 4]);
    expect(calls).toEqual([['k0', 'k1'], ['k2', 'k3'], ['k4']]);
  });

  it('rejects the loads of a read that fails, and reads the next keys anyway', async () => {
    let fail = true;
    const loader = new BatchLoader<string, number>(async (keys) => {
      if (fail) throw new Error('read failed');
      return new Map(keys.map((k) => [k, k.length]));
    });
    const failed = [loader.load('a'), loader.load('bb')];
    await expect(Promise.all(failed)).rejects.toThrow('read failed');
    await Promise.allSettled(failed);
    fail = false;
    expect(await loader.load('ccc')).toBe(3);
  });
});
