import { copyStoreValue } from './json.js';

/**
 * Plain values frozen all the way down: nobody can change them in place, so whoever holds one may keep it without a
 * copy. MemoryStore stores history events and messages so, and the client and the engine hand it values they built
 * frozen, which the store then keeps as they are instead of copying.
 */

/**
 * Freezes `value` and every object and array in it; returns it. Only for plain JSON the caller owns (a Date's time
 * can still be set after freezing it, so a value with a Date is frozen but never {@link isDeepFrozen}).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const key in value) {
    if (Object.hasOwn(value, key)) deepFreeze(value[key]);
  }
  return Object.freeze(value);
}

/**
 * {@link deepFreeze} for a value its caller built itself out of plain JSON (literals around payloads that
 * `toPlainJson` copied, strings and numbers: no class instance, no getter anywhere), which {@link isDeepFrozen} then
 * takes as it is instead of walking it again: the client freezes each message it sends so, and MemoryStore, which
 * keeps a deeply frozen message without a copy, walked every one (a member's getter check is a call into the engine:
 * about a twentieth of a raised event's cost). The mark is a private field of {@link BuiltFrozen}, put on the value
 * before it is frozen: nothing else can add it or see it (no key, no symbol; no copy, spread or clone carries it),
 * and checking for it is a property look-up. (A WeakSet of such values cost more than the walk: an entry per message
 * in a table the collector sweeps.)
 */
export function freezeBuilt<T extends object>(value: T): T {
  if (!Object.isFrozen(value)) new BuiltFrozen(value);
  return deepFreeze(value);
}

/** The constructor of a subclass whose fields go on `value` itself: its constructor returns `value`. */
class OnValue {
  constructor(value: object) {
    return value as OnValue;
  }
}

/** The mark of {@link freezeBuilt}. */
class BuiltFrozen extends OnValue {
  readonly #built = true;

  static marks(value: object): boolean {
    return #built in value;
  }
}

/**
 * True when no part of `value` can change: a primitive, or a frozen array or plain object whose members are all
 * data properties, deeply frozen too. A Date or any other class instance never is (a frozen Date's time can still be
 * set), nor is an object or array with a getter (each read may give another value).
 */
export function isDeepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (BuiltFrozen.marks(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  if (!Object.isFrozen(value) || !(Array.isArray(value) || proto === objectPrototype || proto === null)) return false;
  for (const key in value) {
    // A getter is refused without being called: `__lookupGetter__` finds the own property first and gives its getter,
    // if any, without the descriptor object `Object.getOwnPropertyDescriptor` made per member (MemoryStore walks each
    // message and event it is given). The member is then a data property (or a setter-only accessor, read as
    // undefined), so reading it calls nothing. An inherited key (a polluted prototype) is checked too: at worst a copy.
    if (lookupGetter.call(value, key) || !isDeepFrozen((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/**
 * What a store keeps of a value it is given and hands out without a copy per read: the value itself when it is
 * {@link isDeepFrozen} (the client and the engine hand over what they built frozen), else a copy
 * (`copyStoreValue`: plain JSON plus Dates) whose objects and arrays are all frozen. The rule of MemoryStore's stored
 * inputs, events and messages, and of the inputs the IndexedDB stores keep in memory.
 *
 * @example
 * ```ts
 * const given = { items: [1, 2] };
 * const kept = frozenCopy(given); // a copy: `given` is not frozen
 * frozenCopy(kept) === kept; // true: frozen all the way down already
 * ```
 */
export function frozenCopy<T>(value: T): T {
  return isDeepFrozen(value) ? value : deepFreeze(copyStoreValue(value));
}

const objectPrototype = Object.prototype as { __lookupGetter__?(this: object, key: string): unknown };
/**
 * `Object.prototype.__lookupGetter__` (not in TypeScript's lib), called with the object as `this`. It is Annex B, which
 * an engine may leave out: there every member counts as a getter, so no member is read and no object or array with a
 * member is deeply frozen (MemoryStore copies what it is given, as it would a value not frozen). A descriptor walk
 * there would keep those values without a copy, for 39 B gzip more on every page that carries MemoryStore.
 */
const lookupGetter = objectPrototype.__lookupGetter__ ?? (() => true);
