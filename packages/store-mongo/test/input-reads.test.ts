import { describe, expect, it } from 'vitest';
import { InputReads, type BatchedInput, type StoredInput } from '../src/input-reads.js';

/** Instances as the test stores them: `large` ones come back from the batched read without their input. */
const STORED: Record<string, StoredInput & { large?: boolean }> = {
  a: { executionId: 'ea', input: '"a"' },
  big1: { executionId: 'e1', input: '"one"', large: true },
  b: { executionId: 'eb' },
  big2: { executionId: 'e2', input: '"two"', large: true },
};

/** Reads the test answers itself, recording each read and how many large reads run at once. */
function reads() {
  const batches: string[][] = [];
  const singles: string[] = [];
  let running = 0;
  let mostRunning = 0;
  const readBatch = async (keys: readonly string[]) => {
    batches.push([...keys]);
    return new Map(keys.filter((k) => k in STORED).map((k): [string, BatchedInput] => {
      const { large, ...doc } = STORED[k]!;
      return [k, large ? { executionId: doc.executionId, large } : doc];
    }));
  };
  const readOne = async (key: string) => {
    singles.push(key);
    mostRunning = Math.max(mostRunning, ++running);
    await new Promise((resolve) => setImmediate(resolve));
    running--;
    const { large: _large, ...doc } = STORED[key] ?? {};
    return key in STORED ? doc : undefined;
  };
  return { readBatch, readOne, batches, singles, mostRunning: () => mostRunning };
}

describe('the inputs a status feed misses are read bounded by bytes', () => {
  it('reads small inputs in the batch and each large one on its own, one at a time, and gives every load its input', async () => {
    const r = reads();
    const inputs = new InputReads(r.readBatch, r.readOne);
    const loaded = await Promise.all(['a', 'big1', 'b', 'big2', 'missing', 'big1'].map((k) => inputs.load(k)));
    expect(loaded).toEqual([
      { executionId: 'ea', input: '"a"' }, { executionId: 'e1', input: '"one"' }, { executionId: 'eb' },
      { executionId: 'e2', input: '"two"' }, undefined, { executionId: 'e1', input: '"one"' },
    ]);
    expect(r.batches).toEqual([['a', 'big1', 'b', 'big2', 'missing']]);
    expect(r.singles).toEqual(['big1', 'big2']);
    expect(r.mostRunning()).toBe(1);
  });

  it('a large instance gone before its own read loads as missing', async () => {
    const r = reads();
    const inputs = new InputReads(r.readBatch, async () => undefined);
    expect(await inputs.load('big1')).toBeUndefined();
  });

  it('rejects a load whose large read fails, and reads the next ones anyway', async () => {
    const r = reads();
    let fail = true;
    const inputs = new InputReads(r.readBatch, async (key) => {
      if (fail) throw new Error('read failed');
      return { executionId: key };
    });
    await expect(inputs.load('big1')).rejects.toThrow('read failed');
    fail = false;
    expect(await inputs.load('big2')).toEqual({ executionId: 'big2' });
  });

});
