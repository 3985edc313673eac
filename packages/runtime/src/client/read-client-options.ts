import { toPlainJson } from '../model/json.js';
import { isBoolean, isDate, isIdempotencyKey, isInstanceId, isStartIfExists, isTags, readChecked, taken } from '../model/validation.js';

/**
 * Reads the options of `DurableClient.startNew` (`input`, `instanceId`, `ifExists`, `startAt`, `tags`), the one
 * reading of every client, each member named by its path (`startNew options.input.f`); any other member is refused.
 * Throws `InvalidArgumentError` (a too large input: `PayloadTooLargeError`), before anything is written.
 *
 * @example
 * ```ts
 * readStartNewOptions({ input: 1, instanceId: 'order-1' }); // { input: 1, instanceId: 'order-1' }
 * readStartNewOptions({ inptu: 1 }); // throws InvalidArgumentError: startNew options.inptu is not known: ...
 * ```
 */
export function readStartNewOptions(options: unknown) {
  return readChecked(options, 'startNew options', { input: toPlainJson, instanceId: isInstanceId, ifExists: isStartIfExists, startAt: isDate, tags: isTags });
}

/**
 * Reads the options of `DurableClient.getStatus` (`showHistory`, `showHistoryOutput`, `showInput`, each a boolean),
 * the one reading of every client; any other member is refused with `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * readGetStatusOptions({ showInput: false }); // { showInput: false }
 * ```
 */
export function readGetStatusOptions(options: unknown) {
  return readChecked(options, 'getStatus options', { showHistory: isBoolean, showHistoryOutput: isBoolean, showInput: isBoolean });
}

/**
 * Reads the options of `DurableClient.raiseEvent`: `idempotencyKey`, and Durable Functions' `taskHubName` and
 * `connectionName` (its `TaskHubOptions`), taken and ignored as the HTTP API takes `taskHub` and `connection`: a client
 * serves one store. Any other member is refused with `InvalidArgumentError`, before anything is written.
 *
 * @example
 * ```ts
 * readRaiseEventOptions({ idempotencyKey: 'order-42' }).idempotencyKey; // 'order-42'
 * ```
 */
export function readRaiseEventOptions(options: unknown): { readonly idempotencyKey?: string } {
  return readChecked(options, 'raiseEvent options', { idempotencyKey: isIdempotencyKey, taskHubName: taken, connectionName: taken });
}
