import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { PayloadTooLargeError } from './errors/payload-too-large-error.js';
import { invalid } from './validation.js';

/** A plain JSON value. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Deepest nesting of arrays and objects that {@link toPlainJson} accepts (the top-level array or object is level 1).
 * Deeper values are refused with {@link InvalidArgumentError}, so no input can exhaust the call stack of a
 * `JSON.stringify`, a store's serializer or a status comparison further down.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Checks that `value` is plain JSON and returns a deep copy that is safe to store: Dates become ISO strings (as
 * `JSON.stringify` would), `undefined` members are dropped (in arrays they become `null`), and keys such as
 * `__proto__` stay ordinary own properties. Throws {@link InvalidArgumentError} naming the offending path for
 * functions, symbols, BigInts, cycles, NaN/Infinity, invalid Dates, class instances, nesting deeper than
 * {@link MAX_JSON_DEPTH}, and values that throw while being read (a throwing getter, a revoked proxy).
 *
 * The walk recurses at most {@link MAX_JSON_DEPTH} levels, so no input, however deep, can overflow the stack.
 *
 * `undefined` at the top level stays `undefined` ("no value").
 *
 * @example
 * ```ts
 * toPlainJson({ at: new Date(0) }, 'input'); // { at: '1970-01-01T00:00:00.000Z' }
 * toPlainJson({ f() {} }, 'input');         // throws InvalidArgumentError: input.f is a function, not JSON
 * ```
 */
export function toPlainJson(value: unknown, what: string): JsonValue | undefined {
  if (value === undefined) return undefined;
  // A string, boolean, null or finite number (an activity's usual result) is its own copy: no walk to set up.
  if (typeof value === 'string' || typeof value === 'boolean' || value === null || Number.isFinite(value)) return value as JsonValue;
  /** The keys from the top to the member being copied, for error messages. */
  const path: (string | number)[] = [];
  /** The arrays and objects being copied (the ancestors of the current member): a cycle, and the depth. */
  const open = new Set<object>();
  const fail = (problem: string, cause?: unknown): never => invalid(what + path.map(segment).join(''), problem, cause);
  const copy = (member: unknown): JsonValue => {
    switch (typeof member) {
      case 'string':
      case 'boolean':
        return member;
      case 'number':
        return Number.isFinite(member) ? member : fail(`is ${member}, not JSON`);
      case 'undefined':
        return null;
      case 'object': {
        if (member === null) return null;
        if (member instanceof Date) {
          const time = member.getTime();
          return Number.isNaN(time) ? fail('is an invalid Date, not JSON') : new Date(time).toISOString();
        }
        if (open.has(member)) fail('is a cycle, not JSON');
        // Named by its top (`what`): the path down to the level past the limit is hundreds of segments long.
        if (open.size >= MAX_JSON_DEPTH) invalid(what, `is more than ${MAX_JSON_DEPTH} levels deep, not JSON`);
        open.add(member);
        let out: JsonValue[] | Record<string, JsonValue>;
        if (Array.isArray(member)) {
          out = [];
          const { length } = member;
          for (let index = 0; index < length; index++) {
            path.push(index);
            out.push(copy(member[index]));
            path.pop();
          }
        } else {
          const proto: unknown = Object.getPrototypeOf(member);
          if (proto !== Object.prototype && proto !== null) {
            fail(`is an instance of ${className(proto)}, not JSON`);
          }
          out = {};
          for (const key of Object.keys(member)) {
            path.push(key);
            const item = (member as Record<string, unknown>)[key];
            // Dropped, as JSON.stringify drops undefined members.
            if (item !== undefined) defineMember(out, key, copy(item));
            path.pop();
          }
        }
        open.delete(member);
        return out;
      }
      default:
        return fail(`is a ${typeof member}, not JSON`);
    }
  };
  try {
    return copy(value);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    return fail('threw when read', error);
  }
}

function segment(key: string | number): string {
  if (typeof key === 'number') return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Sets a member as an own data property, so a `__proto__` key stays a key and never becomes a prototype. */
function defineMember(out: JsonValue[] | Record<string, JsonValue>, key: string | number, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else (out as Record<string | number, JsonValue>)[key] = value;
}

function className(proto: unknown): string {
  const name: unknown = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'an unknown class';
}

const encoder = /* @__PURE__ */ new TextEncoder();

/** UTF-8 size of the JSON text of `value` (0 for `undefined`). */
export function jsonByteLength(value: unknown): number {
  if (value === undefined) return 0;
  return encoder.encode(JSON.stringify(value)).byteLength;
}

/** Throws {@link PayloadTooLargeError} when the JSON of `value` is larger than `limitBytes`. */
export function assertJsonSize(value: unknown, limitBytes: number, what: string): void {
  if (value === undefined) return;
  // A number, boolean or null is at most 24 bytes of JSON: no text to make (a replay checks every status again).
  if ((typeof value === 'number' || typeof value === 'boolean' || value === null) && limitBytes >= 24) return;
  const text = JSON.stringify(value);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short texts need no encoding (most custom statuses are short, and
  // a replay checks every status the orchestrator set again).
  if (text.length * 3 <= limitBytes) return;
  const size = encoder.encode(text).byteLength;
  if (size > limitBytes) {
    throw new PayloadTooLargeError(`${what} is ${size} bytes of JSON; the limit is ${limitBytes} bytes`);
  }
}
