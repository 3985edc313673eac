import { describe, expect, it } from 'vitest';
import { statusChangesMissed, type StatusStamp } from '../src/model/instance-status.js';

/** A snapshot at `version`, created at `createdTime`, last changed at `lastUpdatedTime` (the version by default). */
const at = (version: number | undefined, lastUpdatedTime = version ?? 0, createdTime = 0): StatusStamp => ({ version, createdTime, lastUpdatedTime });

describe('statusChangesMissed', () => {
  it('is no miss for the same snapshot or the next commit', () => {
    expect(statusChangesMissed(at(7), at(7))).toBe(false);
    expect(statusChangesMissed(at(7), at(8))).toBe(false);
    expect(statusChangesMissed(null, at(1))).toBe(false);
  });

  it('is a miss when commits came between that changed the status', () => {
    expect(statusChangesMissed(at(7), at(9))).toBe(true);
    expect(statusChangesMissed(null, at(3))).toBe(true);
    // A lower version with the same creation: purged and started again within the same millisecond, then changed.
    expect(statusChangesMissed(at(7), at(3, 9))).toBe(true);
  });

  it('is no miss when the versions between changed nothing a status shows (late events on an ended instance)', () => {
    expect(statusChangesMissed(at(5, 40), at(8, 40))).toBe(false);
    expect(statusChangesMissed(at(5, 40), at(8, 41))).toBe(true);
  });

  it('is a miss when the instance was created again, whatever its version', () => {
    // Purged and started again: versions start again at 1, so they can land at the one held or the next.
    expect(statusChangesMissed(at(1, 10, 10), at(1, 20, 20))).toBe(true);
    expect(statusChangesMissed(at(2, 15, 10), at(3, 30, 20))).toBe(true);
    expect(statusChangesMissed(at(2, 15, 10), at(2, 30, 20))).toBe(true);
  });

  it('is no miss when the next snapshot is a start over the terminal instance held (the next commit)', () => {
    expect(statusChangesMissed(at(4, 15, 10), at(5, 20, 20))).toBe(false);
    // The start and a later commit: the start's value was missed.
    expect(statusChangesMissed(at(4, 15, 10), at(6, 25, 20))).toBe(true);
  });

  it('says nothing without a held snapshot, of no instance now, or without versions', () => {
    expect(statusChangesMissed(undefined, at(9))).toBe(false);
    expect(statusChangesMissed(at(7), null)).toBe(false);
    expect(statusChangesMissed(at(undefined), at(9))).toBe(false);
    expect(statusChangesMissed(at(7), at(undefined, 30))).toBe(false);
    expect(statusChangesMissed(null, at(undefined))).toBe(false);
  });
});
