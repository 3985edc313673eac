/**
 * The key by which the engine matches a raised event to `waitForExternalEvent` and to the events buffered before it:
 * the name with case ignored, as Durable Functions matches them (.NET `StringComparer.OrdinalIgnoreCase`), and as
 * durabletask-js and durabletask-python do. Each character is replaced by its simple uppercase, one character for one,
 * so `approval`, `Approval` and `APPROVAL` share a key and `ß` (whose uppercase is the two letters `SS`) stays `ß`, as in
 * .NET. The one rule of it: nothing else compares event names.
 */
export function eventNameKey(name: string): string {
  // The key of the last name asked for is kept: a waiter keeps its key, and the waiters of one name (thousands of
  // instances waiting for the same event) share one string instead of one each.
  if (name === lastName) return lastKey;
  lastKey = keyOf(name);
  lastName = name;
  return lastKey;
}

/** The last name {@link eventNameKey} was asked for, and its key. */
let lastName: string | undefined;
let lastKey = '';

function keyOf(name: string): string {
  if (ASCII.test(name)) return name.toUpperCase();
  let key = '';
  for (const char of name) {
    const upper = char.toUpperCase();
    // One code point for one: a full mapping (ß → SS, ŉ → ʼN) is not the simple one; the character is kept then.
    key += upper.length === (upper.codePointAt(0)! > 0xffff ? 2 : 1) ? upper : char;
  }
  return key;
}

const ASCII = /^[\0-\x7f]*$/;
