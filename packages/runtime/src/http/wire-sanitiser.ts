import type { HistoryEvent } from '../model/history-event.js';
import type { InstanceStatus } from '../model/instance-status.js';
import type { NativeWireStatus } from './wire-status.js';

/**
 * The one gate between the runtime's values and the wire. Every HTTP response body and every event-stream message
 * that carries a status, a history event or failure details is passed through the sanitising functions (statuses
 * through `toWireStatus` / `toNativeWireStatus`, which call {@link sanitiseStatus}), so a rule such as "no stack
 * traces" holds on every route and stream at once. The functions live beside the clients, which answer with statuses
 * too (`createCheckStatusResponse`); they are re-exported here for the HTTP layer.
 */
export {
  sanitiseFailureDetails, sanitiseHistoryEvent, sanitiseStatus, type WireSanitiserOptions,
} from '../client/wire-sanitise.js';

/**
 * The sanitiser of one HTTP handler, bound to its options: what the single streams and the stream sessions use to
 * put a status or a history event on the wire (statuses in the lossless form, see `toNativeWireStatus`).
 */
export interface WireSanitiser {
  /** A status in its lossless wire form (`toNativeWireStatus`), failure details sanitised. */
  readonly status: (status: InstanceStatus) => NativeWireStatus;
  /** A history event as streams send it, failure details sanitised. */
  readonly historyEvent: (event: HistoryEvent) => HistoryEvent;
}
