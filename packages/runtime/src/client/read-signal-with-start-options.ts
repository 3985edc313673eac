import { toPlainJson, type JsonValue } from '../model/json.js';
import type { InstanceTags } from '../model/instance-status.js';
import { invalid, isIdempotencyKey, isInstanceId, isName, isTags, readChecked } from '../model/validation.js';

/**
 * Reads the options of `DurableClient.signalWithStart` by the rules of `startNew` (`instanceId`, `input`, `tags`) and of
 * `raiseEvent` (`eventName`, `eventData`, `idempotencyKey`), the one reading of every client, each member named by its path
 * (`signalWithStart options.eventData.f`). `instanceId` and `eventName` are required. Throws
 * `InvalidArgumentError` (a too large value: `PayloadTooLargeError`).
 *
 * @example
 * ```ts
 * readSignalWithStartOptions({ instanceId: 'cart-1', eventName: 'Add', eventData: 3 }); // { instanceId: 'cart-1', input: undefined, eventName: 'Add', eventData: 3, tags: undefined, idempotencyKey: undefined }
 * readSignalWithStartOptions({ eventName: 'Add' }); // throws InvalidArgumentError: instanceId is required
 * ```
 */
export function readSignalWithStartOptions(options: unknown): {
  readonly instanceId: string; readonly input: JsonValue | undefined; readonly eventName: string; readonly eventData: JsonValue | undefined;
  readonly tags: InstanceTags | undefined; readonly idempotencyKey: string | undefined;
} {
  const what = 'signalWithStart options';
  if (options === undefined) invalid(what, 'must be an object');
  const { instanceId, input, eventName, eventData, tags, idempotencyKey } = readChecked(
    options, what, { instanceId: isInstanceId, input: toPlainJson, eventName: isName, eventData: toPlainJson, tags: isTags, idempotencyKey: isIdempotencyKey },
  );
  if (instanceId === undefined) invalid(`${what}.instanceId`, 'is required');
  if (eventName === undefined) invalid(`${what}.eventName`, 'is required');
  return { instanceId, input, eventName, eventData, tags, idempotencyKey };
}
