import type { HistoryEvent } from '../model/history-event.js';

/**
 * Which events of a history a read asks for (`Store.getHistory`, `Store.getInstanceHistory`): those at positions
 * `fromIndex` (default 0) up to, not including, `toIndex` (default: to the end).
 *
 * @example
 * ```ts
 * const range: HistoryRange = { fromIndex: 0, toIndex: 16 }; // the first 16 events at most
 * ```
 */
export interface HistoryRange {
  /** The first position read; absent, negative or not a number: 0. */
  readonly fromIndex?: number;
  /**
   * The position after the last one read (exclusive); absent or not a number: to the end. At or before `fromIndex`:
   * nothing. Added after the port's first version: a store written before it reads to the end, and readers cut
   * what it answers with {@link eventsInRange}.
   */
  readonly toIndex?: number;
}

/** A {@link HistoryRange} made whole: `from` a position >= 0, `to` a position >= `from`, or `Infinity`. */
export interface BoundedRange {
  readonly from: number;
  readonly to: number;
}

/**
 * The one reading of a {@link HistoryRange} every store applies: positions are whole numbers, `from` at least 0 and
 * `to` at least `from` (`Infinity` when absent), so a bad or reversed range reads nothing rather than fail. Pure.
 *
 * @example
 * ```ts
 * historyRangeOf({ fromIndex: 2, toIndex: 5 }); // { from: 2, to: 5 }
 * historyRangeOf({ fromIndex: 4, toIndex: 1 }); // { from: 4, to: 4 }: nothing
 * historyRangeOf(undefined);                    // { from: 0, to: Infinity }
 * ```
 */
export function historyRangeOf(range: HistoryRange | undefined): BoundedRange {
  const fromIndex = range?.fromIndex;
  const toIndex = range?.toIndex;
  const from = typeof fromIndex === 'number' && fromIndex > 0 ? Math.ceil(fromIndex) : 0;
  const to = typeof toIndex === 'number' && !Number.isNaN(toIndex) ? Math.max(from, Math.ceil(toIndex)) : Infinity;
  return { from, to };
}

/**
 * The events a store answered for `range` (read from `range.fromIndex`), cut to the range: a store written before
 * {@link HistoryRange.toIndex} existed reads to the end, and the reader keeps only what it asked for. The one
 * fallback of a bounded read; pure.
 *
 * @example
 * ```ts
 * eventsInRange(allFromTwo, { fromIndex: 2, toIndex: 5 }); // allFromTwo.slice(0, 3)
 * ```
 */
export function eventsInRange<E = HistoryEvent>(events: E[], range: HistoryRange | undefined): E[] {
  const { from, to } = historyRangeOf(range);
  return events.length > to - from ? events.slice(0, to - from) : events;
}
