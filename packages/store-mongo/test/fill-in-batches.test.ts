import { describe, expect, it } from 'vitest';
import { FILL_IN_BATCH_BYTES, FILL_IN_BATCH_COUNT, fillInBatches, joinsBatch } from '../src/fill-in-batches.js';
import { countedIterable } from './support/counted-iterable.js';

describe('the bulk writes of a connect-time fill-in (fillInBatches)', () => {
  const run = async (docs: readonly { _id: string; state?: string }[]) => {
    const writes: { ids: string[]; bytes: number }[] = [];
    await fillInBatches(
      countedIterable(docs), (doc) => (doc._id.startsWith('skip') ? undefined : { filter: { _id: doc._id, state: doc.state } }), (doc) => doc.state,
      async (batch) => {
        writes.push({ ids: batch.map((u) => u.filter._id), bytes: batch.reduce((n, u) => n + (u.filter.state?.length ?? 0), 0) });
      },
    );
    return writes;
  };

  it('ends a batch before the states its updates are conditional on pass 16 MiB, so 500 large states are never held at once', async () => {
    // Five instances of 6 MiB states (each update carries its state back): 2 + 2 + 1, not one batch of 30 MiB.
    const large = 'x'.repeat(6 * 1024 * 1024);
    const writes = await run(['a', 'b', 'c', 'd', 'e'].map((_id) => ({ _id, state: large })));
    expect(writes.map((w) => w.ids)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    for (const write of writes) expect(write.bytes).toBeLessThanOrEqual(FILL_IN_BATCH_BYTES);
    // Counted in UTF-8 bytes, as MongoDB carries them: 3 MiB of three-byte characters is 9 MiB.
    const wide = '€'.repeat(3 * 1024 * 1024);
    expect((await run(['f', 'g'].map((_id) => ({ _id, state: wide })))).map((w) => w.ids)).toEqual([['f'], ['g']]);
  });

  it('lets every update into an empty batch, and none past the count or the bytes (joinsBatch, the rule of listEnded’s repairs too)', () => {
    const MiB = 1024 * 1024;
    expect(joinsBatch({ count: 0, bytes: 0 }, 15 * MiB)).toBe(true);
    expect(joinsBatch({ count: 1, bytes: 10 * MiB }, 6 * MiB)).toBe(true);
    expect(joinsBatch({ count: 2, bytes: 12 * MiB }, 6 * MiB)).toBe(false);
    expect(joinsBatch({ count: FILL_IN_BATCH_COUNT - 1, bytes: 0 }, 2)).toBe(true);
    expect(joinsBatch({ count: FILL_IN_BATCH_COUNT, bytes: 0 }, 2)).toBe(false);
    expect(joinsBatch({ count: 1, bytes: 2 }, 2, { count: 2, bytes: 3 })).toBe(false);
  });

  it('ends a batch at 500 updates, leaves out the documents it does not update, and writes nothing when none is', async () => {
    const docs = Array.from({ length: 1_001 }, (_, i) => ({ _id: `i${i}`, state: '{}' }));
    const writes = await run([...docs, { _id: 'skip-1', state: '{}' }]);
    expect(writes.map((w) => w.ids.length)).toEqual([FILL_IN_BATCH_COUNT, FILL_IN_BATCH_COUNT, 1]);
    expect(await run([{ _id: 'skip-2' }])).toEqual([]);
    // Documents without a state (the claimAt fill-in's) count by number alone.
    expect((await run(docs.slice(0, 3).map(({ _id }) => ({ _id })))).map((w) => w.ids)).toEqual([['i0', 'i1', 'i2']]);
  });
});
