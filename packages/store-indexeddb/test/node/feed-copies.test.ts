import { runInNewContext } from 'node:vm';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { changeChannelName } from '../../src/idb-store.js';
import { ChangeFeed } from '../../src/internal/change-feed.js';
import { newInstance, uniqueName } from '../shared/fixtures.js';

describe('the change feed\'s copy of a published snapshot', () => {
  it('keeps every value a snapshot holds: Dates (also of another realm), undefined members, nested arrays, tags with a __proto__ key, a large input', async () => {
    // A database opened through another realm's indexedDB (an iframe's) reads Dates of that realm.
    const foreignDate = runInNewContext('(ms) => new Date(ms)') as (ms: number) => Date;
    const base = newInstance('x', { nested: [[1, [2, [3, null]]], { deep: [{ a: 'b' }] }], big: 'x'.repeat(1_000_000) }).state;
    const state = {
      ...base,
      createdTime: foreignDate(base.createdTime.getTime()),
      lastUpdatedTime: new Date(base.lastUpdatedTime.getTime() + 1),
      scheduledStartTime: foreignDate(base.createdTime.getTime() + 60_000),
      customStatus: undefined,
      tags: JSON.parse('{"__proto__":"x","tenant":"acme"}') as Record<string, string>,
    };
    const feed = new ChangeFeed({ channelName: changeChannelName(uniqueName('copies')), gapTimeoutMs: 1000, joinTimeoutMs: 1000, clock: new VirtualClock() });
    try {
      const delivered = firstValueFrom(feed.changes$);
      feed.publish([{ instanceId: 'x', after: 0, state }], false);
      const copy = (await delivered).state!;
      expect(copy).not.toBe(state);
      expect(copy.createdTime).toBeInstanceOf(Date);
      expect(copy.createdTime.getTime()).toBe(base.createdTime.getTime());
      expect(copy.lastUpdatedTime).toBeInstanceOf(Date);
      expect(copy.lastUpdatedTime.getTime()).toBe(base.lastUpdatedTime.getTime() + 1);
      expect(copy.scheduledStartTime).toBeInstanceOf(Date);
      expect(copy.scheduledStartTime!.getTime()).toBe(base.createdTime.getTime() + 60_000);
      expect('customStatus' in copy).toBe(true);
      expect(Object.entries(copy.tags!)).toEqual([['__proto__', 'x'], ['tenant', 'acme']]);
      expect(copy.input).toEqual(base.input);
      expect(copy.input).not.toBe(base.input);
      expect(structuredClone(copy)).toEqual(structuredClone(state));
    } finally {
      feed.close();
    }
  });
});
