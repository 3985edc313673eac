import { UnavailableError } from './errors/unavailable-error.js';
import type { InstanceState, PurgedSnapshot } from './instance-status.js';
import { assertValidName, invalid, isCountOrZero, MAX_INSTANCE_ID_LENGTH, readChecked, taken, type MemberCheck } from './validation.js';

/**
 * Where a reader of an instance's history stands: the history it reads (`execution`, the id a history stream sends
 * before that history's first event: `<executionId>/<epoch>`, a new one after `continueAsNew`, a restart and a rewind)
 * and how many of that history's events it has (`events`, counted from its first).
 */
export interface HistoryPosition {
  readonly execution: string;
  readonly events: number;
  /**
   * In a history's position as a stream sends it before the history's first event: the history this one replaced, as
   * it ended (its id and every event it had; `InstanceState.previousHistory`), when the store knows it. Absent from an
   * older server's positions, and ignored in an `after` position. What {@link historyEventsMissed} reads.
   */
  readonly previous?: Omit<HistoryPosition, 'previous'>;
}

/**
 * Longest history id (`<executionId>/<epoch>`) a position may name: an id of at most {@link MAX_INSTANCE_ID_LENGTH}
 * characters (the runtime's `newId` makes instance ids too, which are bounded so), `/` and an epoch, a safe integer
 * of at most 16 digits. Every history id the server sends fits, so every position it sends is taken back.
 */
export const MAX_HISTORY_ID_LENGTH = MAX_INSTANCE_ID_LENGTH + 17;

/**
 * How many events of a history a reader at `after` already has, where `history` is that history's id (`execution`)
 * and its length when the stream marks its start (`events`): the `events` the reader counted when it reads that
 * history, but never more than the history has (a count beyond it, which no reader of this history can have
 * counted, would otherwise swallow events yet to come); none of another history (one that started over since, or a
 * reader that has nothing: `after` absent). A history stream that starts over for that reader (a stream session the
 * server could not resume) skips that many of the history's first events, and says so in the position it sends, so
 * the reader loses nothing and gets nothing twice. The one rule of every history stream (the HTTP API's `after`
 * position); pure.
 *
 * @example
 * ```ts
 * historyEventsHeld({ execution: 'x1/0', events: 5 }, { execution: 'x1/0', events: 7 }); // 5: the history it reads
 * historyEventsHeld({ execution: 'x1/0', events: 9 }, { execution: 'x1/0', events: 7 }); // 7: all it has, no more
 * historyEventsHeld({ execution: 'x1/0', events: 5 }, { execution: 'x2/0', events: 7 }); // 0: another history
 * historyEventsHeld(undefined, { execution: 'x2/0', events: 7 }); // 0
 * ```
 */
export function historyEventsHeld(after: HistoryPosition | undefined, history: HistoryPosition): number {
  return after?.execution === history.execution ? Math.min(after.events, history.events) : 0;
}

/**
 * Whether a reader at `after` may have missed events when its history stream sends the position `history`: the first
 * of a stream that starts again for it (a new session: the server could not resume the last), or that of a new history
 * in a live one (the server reads a history only as fast as it can). Never in the history
 * it stands in: the stream skips what the reader has ({@link historyEventsHeld}). In another history (the instance
 * started over while the reader was away: `continueAsNew`, a restart, a rewind) only when that history's `previous` is
 * not where the reader stands: the reader had every event of the history it stood in, and the new one came right after
 * it; otherwise the rest of that history, or a history between, is gone (the store keeps the current history only).
 * A position without `previous` (an older server, a history after a purge the server did not see end a history:
 * {@link historyEndedByPurge}) may have missed events. The one rule of a reader that promises every event
 * (rx-client's `history$`); pure.
 *
 * @example
 * ```ts
 * historyEventsMissed({ execution: 'x1/0', events: 5 }, { execution: 'x1/0', events: 5 }); // false: the same history
 * historyEventsMissed({ execution: 'x1/0', events: 5 }, { execution: 'x2/0', events: 0, previous: { execution: 'x1/0', events: 5 } }); // false
 * historyEventsMissed({ execution: 'x1/0', events: 4 }, { execution: 'x2/0', events: 0, previous: { execution: 'x1/0', events: 5 } }); // true
 * historyEventsMissed({ execution: 'x1/0', events: 5 }, { execution: 'x3/0', events: 0, previous: { execution: 'x2/0', events: 3 } }); // true
 * historyEventsMissed({ execution: 'x1/0', events: 5 }, { execution: 'x2/0', events: 0 }); // true: no previous told
 * ```
 */
export function historyEventsMissed(after: HistoryPosition | undefined, history: HistoryPosition): boolean {
  const previous = history.previous;
  return after !== undefined && after.execution !== history.execution &&
    (previous?.execution !== after.execution || previous.events !== after.events);
}

/**
 * The history a purge ended, as the `previous` of the history of the instance started next on the id (which the store
 * cannot name: the purge deleted everything of the id). `held` is the last state a reader of the instance's committed
 * changes had before the purge, `purged` the snapshot the purge names (`StatusChange.purged`) and `next` the first
 * state the reader gets after it. Named only when the purge deleted `held` itself (a purged instance is terminal, so
 * its history was whole) and `next` is the first commit after the purge (version 1, a start: nothing was started and
 * purged between): then the reader that had every event of `held`'s history missed nothing. Otherwise `undefined` (a
 * reader that joined after the purge, a purge a change feed learned of without naming the snapshot, commits missed in
 * between). The one rule of a history's `previous` across a purge (the local client's history positions, which the
 * HTTP API's history streams send); pure.
 *
 * It takes the feed at the port's word (`Store.changes$` delivers every commit, in order): nothing told it came
 * between the purge and `next`. A feed that skips commits breaks that: MongoStore's, after its change stream lost its
 * position, re-reads the latest state of each instance (not every commit) and reports no purge for an id that exists
 * again. An instance started and purged within such a gap, then one started after it that the re-read still finds at
 * version 1, would make `held`'s history the `previous` of the last one, and a reader would go on as if it missed
 * nothing, though it missed the history in between. The port gives no sign of such a re-read, so the rule cannot tell.
 *
 * @example
 * ```ts
 * historyEndedByPurge(x1At16, { executionId: 'x1', version: 16 }, x2At1); // { execution: 'x1/0', events: 16 }
 * historyEndedByPurge(x1At12, { executionId: 'x1', version: 16 }, x2At1); // undefined: x1 had commits the reader did not see
 * historyEndedByPurge(x1At16, { executionId: 'x1', version: 16 }, x3At2); // undefined: not the first commit after the purge
 * ```
 */
export function historyEndedByPurge(
  held: InstanceState | undefined, purged: PurgedSnapshot | undefined, next: Pick<InstanceState, 'version'>,
): Omit<HistoryPosition, 'previous'> | undefined {
  return held !== undefined && purged?.executionId === held.executionId && purged.version === held.version && next.version === 1
    ? { execution: historyIdOf(held), events: held.historyLength }
    : undefined;
}

/**
 * The id of the history an instance state shows, `<executionId>/<epoch>`: a new one after `continueAsNew`, a restart
 * and a rewind, never one seen before. What a history stream sends before a history's first event.
 */
export function historyIdOf(state: Pick<InstanceState, 'executionId' | 'historyEpoch'>): string {
  return `${state.executionId}/${state.historyEpoch ?? 0}`;
}

/**
 * The events of the history `state` shows, from its `fromIndex`th, in `events`, or `undefined` when they may be
 * another history's. `events` is what the store answered when asked for the history (from `fromIndex`) after `state`
 * was read, and `after` the instance read with it (`Store.getInstanceHistory`) or once it had answered. A history
 * read finds whatever history the instance has by then, which may no longer be `state`'s (a `continueAsNew`, a
 * restart, a rewind or a purge since): the events are `state`'s only when `after` still shows its history (an id never
 * comes back, and one history only grows), and then they are cut to `state`'s length. Otherwise the reader reads again
 * on a later state. The one rule of every history read that goes with a status (`getStatus` with `showHistory`,
 * `history$` and the HTTP history streams); pure.
 *
 * @example
 * ```ts
 * eventsOfHistory(x1At4, 0, events, x1At6); // events.slice(0, 4): x1's history, which grew in between
 * eventsOfHistory(x1At4, 0, events, x2At2); // undefined: the read may have found x2's history (continueAsNew)
 * ```
 */
export function eventsOfHistory<E>(
  state: InstanceState, fromIndex: number, events: readonly E[], after: InstanceState | undefined,
): readonly E[] | undefined {
  if (after === undefined || historyIdOf(after) !== historyIdOf(state)) return undefined;
  return events.slice(0, Math.max(0, state.historyLength - fromIndex));
}

/**
 * `history`, the whole stored history a store answered for the instance `state` shows (read after `state`), when it
 * holds every event `state` counts (`historyLength`), or {@link UnavailableError} (503: nothing was done, read
 * again). A step replays the history and appends its events after `historyLength` of them, so one that is shorter (a
 * read that lagged the state it followed: a new primary whose majority snapshot is behind) would replay another past
 * and leave a gap in the history. The one rule of every history a worker reads for a step, whatever the store.
 *
 * @example
 * ```ts
 * completeHistory(stateAt4, fourEvents);  // fourEvents
 * completeHistory(stateAt4, threeEvents); // throws UnavailableError
 * ```
 */
export function completeHistory<E>(state: Pick<InstanceState, 'instanceId' | 'historyLength'>, history: readonly E[]): readonly E[] {
  if (history.length >= state.historyLength) return history;
  throw new UnavailableError(
    `The store answered ${history.length} of the ${state.historyLength} history events of ${JSON.stringify(state.instanceId)}; read again`,
  );
}

/** The {@link MemberCheck} of a history's id: a name of at most {@link MAX_HISTORY_ID_LENGTH} characters. */
const isHistoryId: MemberCheck<string> = (value, what) => {
  assertValidName(value, what, MAX_HISTORY_ID_LENGTH);
  return value;
};

/**
 * `value` read as a {@link HistoryPosition} (`undefined` when absent), or {@link InvalidArgumentError} naming `what`:
 * an object with `execution` (a history's id, 1 to {@link MAX_HISTORY_ID_LENGTH} characters, no control characters)
 * and `events` (a non-negative integer), both given; a `previous` (as a stream sends a position) is ignored, any other
 * member refused.
 *
 * @example
 * ```ts
 * readHistoryPosition({ execution: 'x1/0', events: 5 }, 'after'); // { execution: 'x1/0', events: 5 }
 * readHistoryPosition({ execution: 'x1/0', events: -1 }, 'after'); // throws InvalidArgumentError
 * ```
 */
export function readHistoryPosition(value: unknown, what: string): HistoryPosition | undefined {
  if (value === undefined) return undefined;
  // `previous` is a member of a position as a stream sends it: one sent back whole is taken, its `previous` ignored.
  const { execution, events } = readChecked(value, what, { execution: isHistoryId, events: isCountOrZero, previous: taken });
  if (execution === undefined || events === undefined) invalid(what, 'must have execution and events');
  return { execution, events };
}
