import { assertValidName, invalid, readChecked, type MemberCheck } from './validation.js';

/**
 * Where a reader of an instance's history stands: the history it reads (`execution`, the id a history stream sends
 * before that history's first event: `<executionId>/<epoch>`, a new one after `continueAsNew`, a restart and a rewind)
 * and how many of that history's events it has (`events`, counted from its first).
 */
export interface HistoryPosition {
  readonly execution: string;
  readonly events: number;
}

/**
 * How many events of history `execution` a reader at `after` already has: the `events` it counted when it reads that
 * history, none of another one (a history that started over since, or a reader that has nothing: `after` absent). A
 * history stream that starts over for that reader (a stream session the server could not resume) skips that many of
 * the history's first events, so the reader loses nothing and gets nothing twice. The one rule of every history
 * stream (the HTTP API's `after` position); pure.
 *
 * @example
 * ```ts
 * historyEventsHeld({ execution: 'x1/0', events: 5 }, 'x1/0'); // 5: the history it reads
 * historyEventsHeld({ execution: 'x1/0', events: 5 }, 'x2/0'); // 0: another history (continueAsNew, a restart)
 * historyEventsHeld(undefined, 'x2/0'); // 0
 * ```
 */
export function historyEventsHeld(after: HistoryPosition | undefined, execution: string): number {
  return after !== undefined && after.execution === execution ? after.events : 0;
}

/** The {@link MemberCheck} of a count of events: a non-negative safe integer. */
const isEventCount: MemberCheck<number> = (value, what) =>
  Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : invalid(what, 'must be a non-negative integer');

/** The {@link MemberCheck} of a history's id: a name (non-empty, at most 256 characters, no control characters). */
const isHistoryId: MemberCheck<string> = (value, what) => {
  assertValidName(value, what);
  return value;
};

/**
 * `value` read as a {@link HistoryPosition} (`undefined` when absent), or {@link InvalidArgumentError} naming `what`:
 * an object with `execution` (a history's id, 1 to 256 characters) and `events` (a non-negative integer), both given.
 *
 * @example
 * ```ts
 * readHistoryPosition({ execution: 'x1/0', events: 5 }, 'after'); // { execution: 'x1/0', events: 5 }
 * readHistoryPosition({ execution: 'x1/0', events: -1 }, 'after'); // throws InvalidArgumentError
 * ```
 */
export function readHistoryPosition(value: unknown, what: string): HistoryPosition | undefined {
  if (value === undefined) return undefined;
  const { execution, events } = readChecked(value, what, { execution: isHistoryId, events: isEventCount });
  if (execution === undefined || events === undefined) invalid(what, 'must have execution and events');
  return { execution, events };
}
