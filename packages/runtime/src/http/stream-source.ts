import { defer, filter, map, NEVER, startWith, takeWhile, type Observable } from 'rxjs';
import type { DurableClient, InstanceFilter } from '../client/durable-client.js';
import { isHistoryPosition, markedHistory$ } from '../client/marked-history.js';
import { versionedStatus$ } from '../client/versioned-status.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { assertNever } from '../model/history-event.js';
import { historyEventsHeld, type HistoryPosition } from '../model/history-position.js';
import { isTerminalStatus, type InstanceStatus } from '../model/instance-status.js';
import { instanceFilterKey } from './instance-filter-params.js';
import type { FeedSpec } from './stream-feed.js';
import type { WireSanitiser } from './wire-sanitiser.js';

/** What a stream carries: one instance's status, one instance's history, or a live list. */
export type StreamSpec =
  | { readonly kind: 'status'; readonly instanceId: string; readonly untilTerminal: boolean }
  | {
    readonly kind: 'history'; readonly instanceId: string; readonly untilTerminal: boolean;
    /** Whether the stream sends positions (see {@link historySpec}); part of the stream's key. */
    readonly positions: boolean;
    /** Where the reader stands (see `historyEventsHeld`): the events it has are not sent again. Not part of the stream's key. */
    readonly after?: HistoryPosition | undefined;
  }
  | { readonly kind: 'instances'; readonly filter: InstanceFilter };

/**
 * The spec of a history stream, as the single stream's parameters and a session's subscription give it: positions
 * are sent to a reader that asks for them (`positions`) or says where it stands (`after`: it reads them to stand
 * anywhere later), and to no other, so a reader of the stream's events alone (an older client) gets events only. A
 * position with `positions: false` contradicts itself: {@link InvalidArgumentError}.
 */
export function historySpec(
  instanceId: string, untilTerminal: boolean, after: HistoryPosition | undefined, positions: boolean | undefined,
): StreamSpec {
  if (after && positions === false) throw new InvalidArgumentError('after is a history position: its reader gets positions (not positions false)');
  return { kind: 'history', instanceId, untilTerminal, positions: positions ?? after !== undefined, after };
}

/** The SSE event name of a history stream's positions ({@link HistoryPosition}), which the feed sends besides `history`. */
export const POSITION_EVENT = 'position';

/** The kinds of {@link StreamSpec}, which are also the SSE event names of their values. */
export const STREAM_KINDS: readonly StreamSpec['kind'][] = ['status', 'history', 'instances'];

/**
 * The values a stream sends, in their wire form (through the handler's {@link WireSanitiser}); used by the single-stream routes and by session subscriptions
 * alike, so a stream means the same wherever it is opened:
 *
 * - `status`: the instance's status (or `null` while it does not exist) at once, then every committed change; with
 *   its commit `version` (see `statusChangesMissed`) from a client that tells it (`LocalClient`);
 * - `history`: the current execution's history events, then each appended one, skipping the first events of a
 *   history the reader has by `after` (`historyEventsHeld`, the one rule: never more than the history has when the
 *   stream reaches its start). With `positions`, each history (the current one, then each that starts over:
 *   `continueAsNew`, a restart, a rewind) is preceded by its position (a {@link HistoryPosition}, sent as the
 *   {@link POSITION_EVENT} event): the history's id, how many of its first events the stream skips and, when the
 *   client's mark tells it, the history it replaced as it ended (`previous`, see `historyEventsMissed`). A client
 *   without history marks (not `LocalClient`) sends no positions and skips nothing;
 * - `instances`: the matching statuses (an array) at once, then again whenever membership or a member changes.
 *
 * With `untilTerminal`, a status stream completes after sending a terminal status (Completed, Failed, Terminated),
 * and a history stream after the step that made the instance terminal (the `OrchestratorCompleted` that follows
 * `ExecutionCompleted` or `ExecutionTerminated`).
 */
export function streamSource(
  client: DurableClient, spec: StreamSpec, wire: WireSanitiser,
): Observable<unknown> {
  switch (spec.kind) {
    case 'status': {
      const status$ = versionedStatus$(client, spec.instanceId);
      return (spec.untilTerminal ? status$.pipe(takeWhile(({ status: s }) => !s || !isTerminalStatus(s.runtimeStatus), true)) : status$).pipe(
        map(({ status, version }): unknown => (status === undefined ? null : version === undefined ? wire.status(status) : { ...wire.status(status), version })),
      );
    }
    case 'history':
      return defer(() => {
        let terminal = false;
        /** Events still to skip of the current history: after its mark, the events it says. */
        let held = 0;
        return markedHistory$(client, spec.instanceId).pipe(
          takeWhile((event) => {
            if (!spec.untilTerminal || isHistoryPosition(event)) return true;
            const last = terminal && event.type === 'OrchestratorCompleted';
            terminal ||= event.type === 'ExecutionCompleted' || event.type === 'ExecutionTerminated';
            return !last;
          }, true),
          // After the end rule, which reads every event: a reader that has a history's terminal step is ended by it.
          filter((event) => {
            if (isHistoryPosition(event)) {
              held = historyEventsHeld(spec.after, event);
              return spec.positions;
            }
            if (held === 0) return true;
            held--;
            return false;
          }),
          map((event): unknown => (isHistoryPosition(event)
            ? { execution: event.execution, events: held, previous: event.previous } satisfies HistoryPosition
            : wire.historyEvent(event))),
        );
      });
    case 'instances':
      // A status filter of only statuses durable-rx never gives (`Canceled`) matches nothing, now and later.
      if (spec.filter.runtimeStatus?.length === 0) return NEVER.pipe(startWith([]));
      return client.instances$(spec.filter).pipe(map((list) => list.map(wire.status)));
    default:
      return assertNever(spec);
  }
}

/**
 * The feed a stream of `spec` reads, and whether the stream stops after a terminal value. Status streams of one
 * instance share one feed (with or without `untilTerminal`), list streams of one filter share one; a history stream
 * replays the history from its start, so each has a feed of its own (which ends itself with `untilTerminal`).
 */
export function feedOf(client: DurableClient, spec: StreamSpec, wire: WireSanitiser): { feed: FeedSpec; untilTerminal: boolean } {
  switch (spec.kind) {
    case 'status':
      return {
        feed: {
          key: `status\u0000${spec.instanceId}`,
          event: 'status',
          source: () => streamSource(client, { ...spec, untilTerminal: false }, wire),
          isTerminal: isTerminalWireStatus,
        },
        untilTerminal: spec.untilTerminal,
      };
    case 'history':
      return {
        feed: { key: undefined, event: 'history', source: () => streamSource(client, spec, wire), eventOf: historyEventName },
        untilTerminal: false,
      };
    case 'instances':
      return {
        feed: { key: `instances\u0000${instanceFilterKey(spec.filter)}`, event: 'instances', source: () => streamSource(client, spec, wire) },
        untilTerminal: false,
      };
    default:
      return assertNever(spec);
  }
}

/**
 * What a stream of `spec` sends, as a string: two specs with the same key send the same events (the list filters in
 * their canonical form, so `runtimeStatus=Failed,Completed` and `runtimeStatus=Completed,Failed` are one query).
 */
export function streamKey(spec: StreamSpec): string {
  return spec.kind === 'instances'
    ? `instances\u0000${instanceFilterKey(spec.filter)}`
    : `${spec.kind}\u0000${spec.instanceId}\u0000${String(spec.untilTerminal)}${spec.kind === 'history' && spec.positions ? '\u0000positions' : ''}`;
}

/** The SSE event name of a history stream's value: `history`, or {@link POSITION_EVENT} for a position. */
function historyEventName(value: unknown): string {
  return (value as { type?: unknown }).type === undefined ? POSITION_EVENT : 'history';
}

function isTerminalWireStatus(value: unknown): boolean {
  const status = value as { runtimeStatus?: unknown } | null;
  return typeof status?.runtimeStatus === 'string' && isTerminalStatus(status.runtimeStatus as InstanceStatus['runtimeStatus']);
}
