import { expect, it } from 'vitest';
import { eventsInRange, historyRangeOf } from '../src/store/history-range.js';

it('reads a range as whole positions from 0, its end at or after its start, or none', () => {
  expect(historyRangeOf(undefined)).toEqual({ from: 0, to: Infinity });
  expect(historyRangeOf({ fromIndex: 2, toIndex: 5 })).toEqual({ from: 2, to: 5 });
  expect(historyRangeOf({ fromIndex: -4, toIndex: 3 })).toEqual({ from: 0, to: 3 });
  expect(historyRangeOf({ fromIndex: 4, toIndex: 1 })).toEqual({ from: 4, to: 4 });
  expect(historyRangeOf({ fromIndex: Number.NaN, toIndex: Number.NaN })).toEqual({ from: 0, to: Infinity });
  expect(historyRangeOf({ fromIndex: 1.5, toIndex: 2.5 })).toEqual({ from: 2, to: 3 });
});

it('cuts what a store that reads to the end answered to the range asked, and leaves a read within it as it is', () => {
  const fromTwo = ['e2', 'e3', 'e4', 'e5'];
  expect(eventsInRange(fromTwo, { fromIndex: 2, toIndex: 4 })).toEqual(['e2', 'e3']);
  expect(eventsInRange(fromTwo, { fromIndex: 2 })).toBe(fromTwo);
  expect(eventsInRange(['e0', 'e1'], { toIndex: 16 })).toEqual(['e0', 'e1']);
  expect(eventsInRange(['e0', 'e1'], { fromIndex: 3, toIndex: 1 })).toEqual([]);
});
