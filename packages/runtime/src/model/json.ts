import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { PayloadTooLargeError } from './errors/payload-too-large-error.js';

/** A plain JSON value. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Checks that `value` is plain JSON and returns a deep copy that is safe to store: Dates become ISO strings (as
 * `JSON.stringify` would), `undefined` members are dropped (in arrays they become `null`), and keys such as
 * `__proto__` stay ordinary own properties. Throws {@link InvalidArgumentError} naming the offending path for
 * functions, symbols, BigInts, cycles, NaN/Infinity, invalid Dates and class instances.
 *
 * `undefined` at the top level stays `undefined` ("no value").
 *
 * @example
 * ```ts
 * toPlainJson({ at: new Date(0) }, 'input'); // { at: '1970-01-01T00:00:00.000Z' }
 * toPlainJson({ f() {} }, 'input');         // throws InvalidArgumentError: input.f is a function
 * ```
 */
export function toPlainJson(value: unknown, what: string): JsonValue | undefined {
  if (value === undefined) return undefined;
  return copy(value, what, new Set());
}

function copy(value: unknown, path: string, seen: Set<object>): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidArgumentError(`${path} is ${value}, which JSON cannot represent`);
      return value;
    case 'undefined':
      return null;
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new InvalidArgumentError(`${path} is a ${typeof value}, which is not JSON`);
    case 'object': {
      if (value === null) return null;
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new InvalidArgumentError(`${path} is an invalid Date`);
        return value.toISOString();
      }
      if (seen.has(value)) throw new InvalidArgumentError(`${path} refers back to itself (a cycle is not JSON)`);
      seen.add(value);
      try {
        if (Array.isArray(value)) return value.map((item, i) => copy(item, `${path}[${i}]`, seen));
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown class';
          throw new InvalidArgumentError(`${path} is an instance of ${kind}; only plain objects, arrays and Dates are JSON`);
        }
        const entries: [string, JsonValue][] = [];
        for (const key of Object.keys(value)) {
          const member = (value as Record<string, unknown>)[key];
          if (member === undefined) continue;
          entries.push([key, copy(member, `${path}.${key}`, seen)]);
        }
        // Object.fromEntries defines own data properties, so a "__proto__" key stays a key, never a prototype.
        return Object.fromEntries(entries);
      } finally {
        seen.delete(value);
      }
    }
    default:
      throw new InvalidArgumentError(`${path} has an unsupported type`);
  }
}

const encoder = new TextEncoder();

/** UTF-8 size of the JSON text of `value` (0 for `undefined`). */
export function jsonByteLength(value: unknown): number {
  if (value === undefined) return 0;
  return encoder.encode(JSON.stringify(value)).byteLength;
}

/** Throws {@link PayloadTooLargeError} when the JSON of `value` is larger than `limitBytes`. */
export function assertJsonSize(value: unknown, limitBytes: number, what: string): void {
  const size = jsonByteLength(value);
  if (size > limitBytes) {
    throw new PayloadTooLargeError(`${what} is ${size} bytes of JSON; the limit is ${limitBytes} bytes`);
  }
}
