/**
 * The status and history shapes of the HTTP API. They are defined beside the client, which also answers with them
 * (`createCheckStatusResponse`, `waitForCompletionOrCreateCheckStatusResponse`); this module names them for the HTTP
 * layer.
 */
export {
  toNativeWireStatus, toWireStatus, toWireTime, type NativeWireStatus, type WireInstanceStatus, type WireStatusOptions,
} from '../client/wire-status.js';
export {
  toWireHistory, type WireFailureDetails, type WireHistoryEvent, type WireHistoryInstance, type WireHistoryOptions,
} from '../client/wire-history.js';
