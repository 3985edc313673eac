import { afterEach, describe, expect, it, vi } from 'vitest';
import { isoMs, isoTime } from '../src/model/iso-time.js';
import { lastUpdatedMsOf, StoredState } from '../src/store/stored-state.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('isoMs', () => {
  it('is Date.parse of any text, and reads the text isoTime made last without parsing it', () => {
    const at = new Date('2026-01-01T00:00:00.123Z');
    const text = isoTime(at);
    for (const other of ['2025-12-31T23:59:59.999Z', '+275760-09-13T00:00:00.000Z', 'not a time', '']) {
      expect(isoMs(other)).toEqual(Date.parse(other));
    }
    const parse = vi.spyOn(Date, 'parse');
    expect(isoMs(text)).toBe(at.getTime());
    expect(parse).not.toHaveBeenCalled();
  });
});

describe('StoredState', () => {
  it('gives its last update in ms as lastUpdatedTime does, without a Date', () => {
    const created = new Date('2026-01-01T00:00:00.000Z');
    const state = new StoredState({
      instanceId: 'i', name: 'O', runtimeStatus: 'Completed', createdTime: created, lastUpdatedTime: new Date(created.getTime() + 1234),
      executionId: 'e', historyLength: 4, version: 3,
    });
    expect(lastUpdatedMsOf(state)).toBe(state.lastUpdatedTime.getTime());
    expect(lastUpdatedMsOf(state)).toBe(created.getTime() + 1234);
  });
});
