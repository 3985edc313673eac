import { describe, expect, it } from 'vitest';
import { allSettledOrThrow } from '../src/all-settled-or-throw.js';

describe('reads run in parallel inside one operation', () => {
  it('resolves with every value in order', async () => {
    expect(await allSettledOrThrow([Promise.resolve(1), Promise.resolve('two')])).toEqual([1, 'two']);
  });

  it('rejects with the first failure only once the other read has settled, so nothing outlives the operation', async () => {
    let finishSecond!: () => void;
    let secondSettled = false;
    const second = new Promise<string>((resolve) => {
      finishSecond = () => resolve('late');
    }).finally(() => {
      secondSettled = true;
    });
    const first = Promise.reject(new Error('first failed'));
    let rejected = false;
    const both = allSettledOrThrow([first, second]).catch((error: unknown) => {
      rejected = true;
      expect(secondSettled).toBe(true);
      throw error;
    });
    // Every rejection handler that can run now has run: the first read failed, the second still runs.
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejected).toBe(false);
    finishSecond();
    await expect(both).rejects.toThrow('first failed');
  });

  it('rejects with the first rejection in order when both fail', async () => {
    await expect(allSettledOrThrow([Promise.reject(new Error('a')), Promise.reject(new Error('b'))])).rejects.toThrow('a');
  });
});
