import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { PayloadTooLargeError } from './errors/payload-too-large-error.js';
import { dateTime, invalid, isReason } from './validation.js';

/** A plain JSON value. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Deepest nesting of arrays and objects that {@link toPlainJson} accepts (the top-level array or object is level 1).
 * Deeper values are refused with {@link InvalidArgumentError}, so no input can exhaust the call stack of a
 * `JSON.stringify`, a store's serializer or a status comparison further down.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Most array elements that {@link toPlainJson} copies in one value, all its arrays together (2^24, whose JSON is at
 * least 32 MiB). More is refused with {@link PayloadTooLargeError} before a single element is copied: an array's
 * `length` costs nothing to set (`new Array(2 ** 32 - 1)` holds no element), but a copy of it would hold every one, and
 * a few hundred million of them end the process (V8's fatal "invalid size error"), not just the call.
 */
export const MAX_JSON_ELEMENTS = 2 ** 24;

/**
 * Checks that `value` is plain JSON and returns a deep copy that is safe to store, read as `JSON.stringify` reads it
 * (Durable Functions serialises with it): Dates become ISO strings, `undefined` members are dropped and so are
 * symbol-keyed ones (only own enumerable string keys are read), `undefined` and holes in arrays become `null`, and
 * keys such as `__proto__` stay ordinary own properties. Throws {@link InvalidArgumentError} naming the offending path for
 * functions, symbols, BigInts, cycles, NaN/Infinity, invalid Dates, class instances, nesting deeper than
 * {@link MAX_JSON_DEPTH}, and values that throw while being read (a throwing getter, a revoked proxy); and
 * {@link PayloadTooLargeError} for arrays of more than {@link MAX_JSON_ELEMENTS} elements in all. Plain objects, arrays
 * and Dates are told by what they are, not by the realm they come from: those of a `vm` context or an iframe pass.
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
  /** The array elements met so far, all arrays together (see {@link MAX_JSON_ELEMENTS}). */
  let elements = 0;
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
        const array = Array.isArray(member);
        const proto: unknown = array ? undefined : Object.getPrototypeOf(member);
        if (!array && proto !== Object.prototype && proto !== null) {
          // Rare: a Date, another realm's plain object, a class instance.
          const time = dateTime(member);
          if (time !== undefined) return Number.isNaN(time) ? fail('is an invalid Date, not JSON') : new Date(time).toISOString();
          if (!isObjectPrototype(proto as object)) fail(`is ${kindOf(proto as object)}, not JSON`);
        }
        if (open.has(member)) fail('is a cycle, not JSON');
        // Named by its top (`what`): the path down to the level past the limit is hundreds of segments long.
        if (open.size >= MAX_JSON_DEPTH) invalid(what, `is more than ${MAX_JSON_DEPTH} levels deep, not JSON`);
        open.add(member);
        let out: JsonValue[] | Record<string, JsonValue>;
        if (array) {
          out = [];
          const { length } = member as unknown[];
          // Counted before the walk: a sparse array's length costs its caller nothing, its copy would cost every element.
          elements += length;
          if (elements > MAX_JSON_ELEMENTS) {
            throw new PayloadTooLargeError(`${what} has more than ${MAX_JSON_ELEMENTS} array elements`);
          }
          for (let index = 0; index < length; index++) {
            path.push(index);
            out.push(copy((member as unknown[])[index]));
            path.pop();
          }
        } else {
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
    if (error instanceof InvalidArgumentError || error instanceof PayloadTooLargeError) throw error;
    return fail('threw when read', error);
  }
}

function segment(key: string | number): string {
  if (typeof key === 'number') return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Sets a member as an own data property, so a `__proto__` key stays a key and never becomes a prototype. */
export function defineMember<T>(out: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/**
 * Whether `proto` is the `Object.prototype` of some realm (a `vm` context's, an iframe's): an object without a
 * prototype whose `constructor` (its own, then) is a function named `Object` that it is the prototype of.
 */
function isObjectPrototype(proto: object): boolean {
  const ctor = (proto as { constructor?: { name?: unknown; prototype?: unknown } }).constructor;
  return Object.getPrototypeOf(proto) === null && ctor?.prototype === proto && ctor.name === 'Object';
}

/**
 * What an object with the prototype `proto` is, for a message: `an instance of Map`, or `not a plain object` (an
 * object made by `Object.create({})` inherits Object's constructor, and is no instance of Object).
 */
function kindOf(proto: object): string {
  const name: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value?.name;
  return name ? `an instance of ${name}` : 'not a plain object';
}

/**
 * A terminate reason, checked: any JSON ({@link toPlainJson}); a string one is also well-formed ({@link isReason}), as
 * it travels in the URL of the HTTP API (`?reason=`). The one reading of it on every client.
 *
 * @example
 * ```ts
 * toTerminateReason('no longer needed'); // 'no longer needed'
 * toTerminateReason('\ud800');           // throws InvalidArgumentError: reason has a lone surrogate
 * ```
 */
export function toTerminateReason(reason: unknown): JsonValue | undefined {
  const json = toPlainJson(reason, 'reason');
  return typeof json === 'string' ? isReason(json, 'reason') : json;
}

const encoder = /* @__PURE__ */ new TextEncoder();

/** Throws {@link PayloadTooLargeError} when the JSON text of `value` is larger than `limitBytes` in UTF-8. */
export function assertJsonSize(value: unknown, limitBytes: number, what: string): void {
  if (value === undefined) return;
  // A number, boolean or null is at most 24 bytes of JSON: no text to make (a replay checks every status again).
  if ((typeof value === 'number' || typeof value === 'boolean' || value === null) && limitBytes >= 24) return;
  // A string's JSON text is at most 6 bytes of UTF-8 a code unit (an escape such as \u001f) and its two quotes: a
  // custom status of up to 2,730 characters fits the default limit without making its text (every step sets one).
  if (typeof value === 'string' && value.length * 6 + 2 <= limitBytes) return;
  const text = JSON.stringify(value);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short texts need no encoding (most custom statuses are short, and
  // a replay checks every status the orchestrator set again).
  if (text.length * 3 <= limitBytes) return;
  const size = encoder.encode(text).byteLength;
  if (size > limitBytes) {
    throw new PayloadTooLargeError(`${what} is ${size} bytes of JSON; the limit is ${limitBytes} bytes`);
  }
}

/**
 * Deep copy of a value that crosses the Store port (plain JSON plus Dates, per the port's rules) — several times
 * faster than `structuredClone` for such values. Own keys such as `__proto__` stay own data properties; `undefined`
 * members are kept as they are; a Date of another realm (read through an iframe's `indexedDB`, made in a `vm`
 * context) is copied as a Date of this one, as `structuredClone` copies it.
 */
export function copyStoreValue<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyStoreValue(value[i]);
    return out as T;
  }
  // Not this realm's Date: a plain object (one prototype check), else maybe another realm's Date, which has no own
  // members (copied member by member it became {}).
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const time = foreignDateTime(value);
    if (time !== undefined) return new Date(time) as T;
  }
  const out: Record<string, unknown> = {};
  // for-in over a plain object allocates no key array (Object.keys did, on every copied object)
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    defineMember(out, key, copyStoreValue(value[key]));
  }
  return out as T;
}

/** The time of a Date of any realm (its brand, not its prototype), or undefined for anything else. */
function foreignDateTime(value: object): number | undefined {
  if (Object.prototype.toString.call(value) !== '[object Date]') return undefined;
  try {
    return Date.prototype.getTime.call(value); // throws for an object that only calls itself a Date (Symbol.toStringTag)
  } catch {
    return undefined;
  }
}

/**
 * The heap a JSON value (as `toPlainJson` copies it; a Date counts as an object without members) holds, estimated from
 * above (V8, measured): 32 bytes and 2 a character for a string, 16 for a number, boolean or null, 64 for an object
 * and 64 a member besides its key's characters, 208 for an array and 16 an element (an array filled by `push` keeps
 * room for 17 elements or half again its length). Counted on the value, not on its JSON text: an array of one zero, 3
 * characters of text, holds some 200 bytes. The client bounds its queued tree walks by it, the IndexedDB stores the
 * execution inputs they keep in memory.
 *
 * @param limit Stops counting once the count passes it (a bound's check need not walk a large value to its end): the
 *   answer is then some count above `limit`, not the whole value's. Default: no limit.
 *
 * @example
 * ```ts
 * jsonHeapBytes({ a: 'xy' }); // 64 + (64 + 2) + (32 + 4) = 166
 * jsonHeapBytes(bigInput, 32 * 1024 * 1024) > 32 * 1024 * 1024; // stops walking past 32 MB
 * ```
 */
export function jsonHeapBytes(value: unknown, limit = Infinity): number {
  if (typeof value === 'string') return 32 + 2 * value.length;
  if (typeof value !== 'object' || value === null) return 16;
  let bytes: number;
  if (Array.isArray(value)) {
    bytes = 208 + 16 * value.length;
    for (let i = 0; i < value.length && bytes <= limit; i++) bytes += jsonHeapBytes(value[i], limit - bytes);
  } else {
    bytes = 64;
    for (const key in value) {
      if (bytes > limit) break;
      if (Object.hasOwn(value, key)) bytes += 64 + 2 * key.length + jsonHeapBytes((value as Record<string, unknown>)[key], limit - bytes);
    }
  }
  return bytes;
}
