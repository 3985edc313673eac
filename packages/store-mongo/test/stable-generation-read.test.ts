import { describe, expect, it } from 'vitest';
import { readStableGeneration } from '../src/stable-generation-read.js';

/** Generations the instance has at each `genOf` call, and the events of each generation. */
function history(gens: readonly (string | undefined)[], events: Record<string, number[]>) {
  let calls = 0;
  const reads: string[] = [];
  return {
    genOf: () => Promise.resolve(gens[Math.min(calls++, gens.length - 1)]),
    read: (gen: string) => {
      reads.push(gen);
      return Promise.resolve(events[gen] ?? []);
    },
    reads,
  };
}

describe('reading a history at one generation', () => {
  it('returns the events of a generation that did not change while they were read', async () => {
    const h = history(['g1', 'g1'], { g1: [1, 2, 3] });
    expect(await readStableGeneration(h.genOf, h.read, 3, 'a')).toEqual([1, 2, 3]);
  });

  it('reads again after a restart moved the instance to a new generation', async () => {
    const h = history(['g1', 'g2', 'g2'], { g1: [1, 2], g2: [9] });
    expect(await readStableGeneration(h.genOf, h.read, 3, 'a')).toEqual([9]);
    expect(h.reads).toEqual(['g1', 'g2']);
  });

  it('returns no events for an instance that does not exist or is purged while it is read', async () => {
    expect(await readStableGeneration(history([undefined], {}).genOf, history([undefined], {}).read, 3, 'a')).toEqual([]);
    const purged = history(['g1', undefined], { g1: [1] });
    expect(await readStableGeneration(purged.genOf, purged.read, 3, 'a')).toEqual([]);
  });

  it('fails with a retryable 503 when the generation changed at every attempt, rather than answer an empty history', async () => {
    const h = history(['g1', 'g2', 'g3', 'g4'], { g1: [1], g2: [2], g3: [3], g4: [4] });
    await expect(readStableGeneration(h.genOf, h.read, 3, 'a')).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    expect(h.reads).toEqual(['g1', 'g2', 'g3']);
  });
});

describe('a read that fails on what it decodes', () => {
  const undecodable = new Error('undecodable');
  const decodesBad = (error: unknown) => error === undecodable;
  /** Like `history`, but reading a generation named in `bad` fails with `undecodable`. */
  function withBad(gens: readonly (string | undefined)[], events: Record<string, number[]>, bad: readonly string[]) {
    const h = history(gens, events);
    return { ...h, read: (gen: string) => (bad.includes(gen) ? (h.reads.push(gen), Promise.reject(undecodable)) : h.read(gen)) };
  }

  it('reads the new generation when a restart moved the instance off the one that failed', async () => {
    const h = withBad(['g1', 'g2', 'g2'], { g2: [9] }, ['g1']);
    expect(await readStableGeneration(h.genOf, h.read, 3, 'a', decodesBad)).toEqual([9]);
    expect(h.reads).toEqual(['g1', 'g2']);
  });

  it('returns no events when the instance was purged while the failed generation was read', async () => {
    const h = withBad(['g1', undefined], {}, ['g1']);
    expect(await readStableGeneration(h.genOf, h.read, 3, 'a', decodesBad)).toEqual([]);
  });

  it('throws the read\u2019s error when the generation did not move: the current history does not decode', async () => {
    const h = withBad(['g1', 'g1'], {}, ['g1']);
    await expect(readStableGeneration(h.genOf, h.read, 3, 'a', decodesBad)).rejects.toBe(undecodable);
    expect(h.reads).toEqual(['g1']);
  });

  it('throws any other error of the read at once, without reading the generation again', async () => {
    const other = new Error('network');
    let genReads = 0;
    const genOf = () => Promise.resolve(genReads++ === 0 ? 'g1' : 'g2');
    await expect(readStableGeneration(genOf, () => Promise.reject(other), 3, 'a', decodesBad)).rejects.toBe(other);
    expect(genReads).toBe(1);
  });

  it('counts a failed read as an attempt: moved at every one, it fails with the retryable 503', async () => {
    const h = withBad(['g1', 'g2', 'g3', 'g4'], {}, ['g1', 'g2', 'g3']);
    await expect(readStableGeneration(h.genOf, h.read, 3, 'a', decodesBad)).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    expect(h.reads).toEqual(['g1', 'g2', 'g3']);
  });
});
