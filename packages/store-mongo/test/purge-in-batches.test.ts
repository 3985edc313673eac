import { describe, expect, it } from 'vitest';
import { purgeInBatches } from '../src/purge-in-batches.js';
import { countedIterable as scanOf } from './support/counted-iterable.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `i${i}`);

describe('the batch loop of purgeInstances', () => {
  it('purges every id in batches, the last one short, passing over keys that are not strings', async () => {
    const batches: string[][] = [];
    const purged = await purgeInBatches(scanOf([...ids(5), 7, { oid: 1 }]), 2, async (batch) => {
      batches.push([...batch]);
      return batch.length;
    }, () => false);
    expect(batches).toEqual([['i0', 'i1'], ['i2', 'i3'], ['i4']]);
    expect(purged).toBe(5);
  });

  it('counts what each batch purged (an instance restarted since the scan is not)', async () => {
    expect(await purgeInBatches(scanOf(ids(4)), 2, async (batch) => batch.length - 1, () => false)).toBe(2);
  });

  it('stops between batches once the store is closing, rejecting with StoreClosedError that names the count purged', async () => {
    let closed = false;
    const batches: string[][] = [];
    const scan = scanOf(ids(1_000));
    const purging = purgeInBatches(scan, 10, async (batch) => {
      batches.push([...batch]);
      if (batches.length === 2) closed = true; // close() began during the second batch
      return batch.length;
    }, () => closed);
    // Not a count that looks complete: the caller learns the purge was cut short, and how far it got.
    await expect(purging).rejects.toMatchObject({ code: 'store-closed', message: expect.stringContaining('20 instances were purged') });
    expect(batches).toHaveLength(2); // the batch in flight completes; no third begins
    expect(scan.taken).toBeLessThanOrEqual(30); // the scan is not read to its end either
  });

  it('purges no short last batch once closing', async () => {
    let closed = false;
    const batches: string[][] = [];
    const purging = purgeInBatches(scanOf(ids(3)), 2, async (batch) => {
      batches.push([...batch]);
      closed = true;
      return batch.length;
    }, () => closed);
    await expect(purging).rejects.toMatchObject({ code: 'store-closed', message: expect.stringContaining('2 instances were purged') });
    expect(batches).toEqual([['i0', 'i1']]);
  });

  it('answers the count when the scan ends before the store closes', async () => {
    expect(await purgeInBatches(scanOf(ids(3)), 2, async (batch) => batch.length, () => false)).toBe(3);
  });
});
