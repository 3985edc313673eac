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
 * True when no part of `value` can change: a primitive, or a frozen array or plain object whose members are all
 * data properties, deeply frozen too. A Date or any other class instance never is (a frozen Date's time can still be
 * set), nor is an object or array with a getter (each read may give another value).
 */
export function isDeepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (!Object.isFrozen(value) || !(Array.isArray(value) || isPlainObject(value))) return false;
  for (const key in value) {
    // The own member's descriptor, read instead of the member: a getter is never called (a setter-only accessor
    // always reads as undefined), and an inherited key has none.
    const member = Object.getOwnPropertyDescriptor(value, key);
    if (member && (member.get || !isDeepFrozen(member.value))) return false;
  }
  return true;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
