import type { HistoryEvent } from '../model/history-event.js';
import type { FailureDetails, InstanceStatus } from '../model/instance-status.js';
import type { WireInstanceStatus } from './wire-status.js';

/**
 * The one gate between the runtime's values and the wire. Every HTTP response body and every event-stream message
 * that carries a status, a history event or failure details is passed through these functions (statuses through
 * `toWireStatus`, which calls {@link sanitiseStatus}), so a rule such as "no stack traces" holds on every route and
 * stream at once.
 */

/**
 * The sanitiser of one HTTP handler, bound to its options: what the routes, the single streams and the stream
 * sessions use to put a status or a history event on the wire.
 */
export interface WireSanitiser {
  /** A status in its wire shape (`toWireStatus`), failure details sanitised. */
  readonly status: (status: InstanceStatus) => WireInstanceStatus;
  /** A history event as streams send it, failure details sanitised. */
  readonly historyEvent: (event: HistoryEvent) => HistoryEvent;
}

/** Options of the sanitiser. */
export interface WireSanitiserOptions {
  /**
   * Keep `stackTrace` in failure details (of statuses and of history events). Default false: stack traces name
   * server files and lines, which a public endpoint should not reveal.
   */
  readonly exposeStackTraces?: boolean;
}

/**
 * Failure details as the wire may carry them: without `stackTrace` unless `exposeStackTraces` is set.
 *
 * @example
 * ```ts
 * sanitiseFailureDetails({ errorType: 'Error', errorMessage: 'boom', stackTrace: 'at /srv/app.js:1' });
 * // { errorType: 'Error', errorMessage: 'boom' }
 * ```
 */
export function sanitiseFailureDetails(details: FailureDetails, options: WireSanitiserOptions = {}): FailureDetails {
  if (options.exposeStackTraces === true || details.stackTrace === undefined) return details;
  const { stackTrace: _stack, ...rest } = details;
  return rest;
}

/** A history event as the wire may carry it (its failure details sanitised). */
export function sanitiseHistoryEvent(event: HistoryEvent, options: WireSanitiserOptions = {}): HistoryEvent {
  if (!('failureDetails' in event) || event.failureDetails === undefined) return event;
  const failureDetails = sanitiseFailureDetails(event.failureDetails, options);
  return failureDetails === event.failureDetails ? event : ({ ...event, failureDetails } as HistoryEvent);
}

/** A status as the wire may carry it: its failure details and those of its history events sanitised. */
export function sanitiseStatus(status: InstanceStatus, options: WireSanitiserOptions = {}): InstanceStatus {
  return {
    ...status,
    ...(status.failureDetails === undefined ? {} : { failureDetails: sanitiseFailureDetails(status.failureDetails, options) }),
    ...(status.history === undefined ? {} : { history: status.history.map((event) => sanitiseHistoryEvent(event, options)) }),
  };
}
