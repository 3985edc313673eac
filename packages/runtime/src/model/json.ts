import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { PayloadTooLargeError } from './errors/payload-too-large-error.js';

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
 * The walk is iterative: no input, however deep, can overflow the stack.
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
  const stack: Frame[] = [];
  const ancestors = new Set<object>();
  const pathOf = () => what + stack.map((frame) => segment(frame)).join('');
  try {
    const root = visit(value, () => what, what, 0, ancestors);
    if (!(root instanceof Frame)) return root;
    stack.push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.index >= top.length) {
        stack.pop();
        ancestors.delete(top.source);
        const parent = stack[stack.length - 1];
        if (parent) parent.index++; // the parent's index stayed on this member while it was copied, for error paths
        continue;
      }
      const key = top.keys === undefined ? top.index : top.keys[top.index]!;
      const member = (top.source as Record<string | number, unknown>)[key];
      if (member === undefined && top.keys !== undefined) {
        top.index++; // dropped, as JSON.stringify drops undefined members
        continue;
      }
      const result = visit(member, pathOf, what, stack.length, ancestors);
      defineMember(top.out, key, result instanceof Frame ? result.out : result);
      if (result instanceof Frame) stack.push(result);
      else top.index++;
    }
    return root.out;
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new InvalidArgumentError(`${pathOf()} could not be read as JSON: reading it threw`, { cause: error });
  }
}

/** An array or object being copied: its source, its copy, and which member is next. */
class Frame {
  index = 0;
  constructor(
    readonly source: object,
    readonly out: JsonValue[] | Record<string, JsonValue>,
    /** Own enumerable keys of an object; `undefined` for an array. */
    readonly keys: readonly string[] | undefined,
    readonly length: number,
  ) {}
}

function segment(frame: Frame): string {
  if (frame.keys === undefined) return `[${frame.index}]`;
  const key = frame.keys[frame.index] ?? '';
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Converts a leaf, or opens a {@link Frame} for an array or object. */
function visit(value: unknown, at: () => string, what: string, depth: number, ancestors: Set<object>): JsonValue | Frame {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidArgumentError(`${at()} is ${value}, which JSON cannot represent`);
      return value;
    case 'undefined':
      return null;
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new InvalidArgumentError(`${at()} is a ${typeof value}, which is not JSON`);
    case 'object': {
      if (value === null) return null;
      if (value instanceof Date) {
        const time = value.getTime();
        if (Number.isNaN(time)) throw new InvalidArgumentError(`${at()} is an invalid Date`);
        return new Date(time).toISOString();
      }
      if (ancestors.has(value)) throw new InvalidArgumentError(`${at()} refers back to itself (a cycle is not JSON)`);
      if (depth >= MAX_JSON_DEPTH) {
        throw new InvalidArgumentError(`${what} is nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`);
      }
      let frame: Frame;
      if (Array.isArray(value)) {
        frame = new Frame(value, [], undefined, value.length);
      } else {
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          throw new InvalidArgumentError(`${at()} is an instance of ${className(proto)}; only plain objects, arrays and Dates are JSON`);
        }
        const keys = Object.keys(value);
        frame = new Frame(value, {}, keys, keys.length);
      }
      ancestors.add(value);
      return frame;
    }
    default:
      throw new InvalidArgumentError(`${at()} has an unsupported type`);
  }
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

const encoder = new TextEncoder();

/** UTF-8 size of the JSON text of `value` (0 for `undefined`). */
export function jsonByteLength(value: unknown): number {
  if (value === undefined) return 0;
  return encoder.encode(JSON.stringify(value)).byteLength;
}

/** Throws {@link PayloadTooLargeError} when the JSON of `value` is larger than `limitBytes`. */
export function assertJsonSize(value: unknown, limitBytes: number, what: string): void {
  if (value === undefined) return;
  const text = JSON.stringify(value);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short texts need no encoding (most custom statuses are short, and
  // a replay checks every status the orchestrator set again).
  if (text.length * 3 <= limitBytes) return;
  const size = encoder.encode(text).byteLength;
  if (size > limitBytes) {
    throw new PayloadTooLargeError(`${what} is ${size} bytes of JSON; the limit is ${limitBytes} bytes`);
  }
}
