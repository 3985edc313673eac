import type { HistoryEvent } from '../model/history-event.js';
import type { FailureDetails, InstanceStatus } from '../model/instance-status.js';

/**
 * The "no stack traces on the wire" rule, in one place. Every status, history event and failure detail that leaves
 * the process (HTTP responses, event streams, and the check-status responses of the clients) passes through these
 * functions first.
 */

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
