import { Buffer } from 'node:buffer';
import { InvalidArgumentError, PayloadTooLargeError } from '@durable-rx/runtime';
import { MongoStoreError } from './errors/mongo-store-error.js';

/**
 * The largest JSON text MongoStore writes into one document (15 MiB), and the default of `maxPayloadBytes`.
 *
 * MongoDB refuses documents over 16 MiB, and a change-stream event carrying a document must fit in 16 MiB too (an
 * oversized event would stop the change feed). 15 MiB leaves room for the indexed copies of status fields and the
 * change event's own fields. The limit applies per document: an instance's status snapshot (input, output, custom
 * status and failure details together), each history event, each message and each activity task.
 */
export const MAX_PAYLOAD_BYTES = 15 * 1024 * 1024;

/**
 * Encodes a JSON value as JSON text for storage, checking its size.
 *
 * Why JSON text and not BSON sub-documents: user JSON may have keys that MongoDB treats specially (`$where`, `a.b`,
 * `$gt`) or that BSON decoders handle inconsistently (`__proto__`), and BSON changes some numbers' types. A string
 * field is opaque to the server: every key and value comes back exactly as `JSON.stringify` wrote it, and
 * `JSON.parse` turns a `"__proto__"` key into an ordinary own property, never a prototype. Nothing inside user
 * payloads is ever queried, so nothing is lost.
 *
 * Throws `PayloadTooLargeError` (413) when the UTF-8 text is longer than `limitBytes`, and `InvalidArgumentError`
 * when `value` has no JSON text (a top-level `undefined`, a function).
 *
 * @example
 * ```ts
 * encodePayload({ '$where': 1, 'a.b': 2 }, 'input', MAX_PAYLOAD_BYTES); // '{"$where":1,"a.b":2}'
 * ```
 */
export function encodePayload(value: unknown, what: string, limitBytes: number): string {
  const text: string | undefined = JSON.stringify(value);
  if (text === undefined) throw new InvalidArgumentError(`${what} has no JSON representation`);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > limitBytes) {
    throw new PayloadTooLargeError(
      `${what} is ${size} bytes of JSON; MongoStore stores at most ${limitBytes} bytes per document (MongoDB's 16 MiB document limit)`,
    );
  }
  return text;
}

/**
 * Decodes JSON text written by {@link encodePayload}. Throws `MongoStoreError` (with the parse error as `cause`)
 * when the stored text is not JSON, i.e. the document was not written by MongoStore.
 *
 * @example
 * ```ts
 * Object.keys(decodePayload('{"__proto__":{"x":1}}', 'input') as object); // ['__proto__']
 * ```
 */
export function decodePayload(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new MongoStoreError(`Stored ${what} is not valid JSON; the document was not written by MongoStore`, { cause: error });
  }
}
