/**
 * The bytes of one numbered event of a stream session (see `SseWriter.write`):
 *
 * ```text
 * event: <name>\nid: <session>.<seq>\ndata: <data>\n\n                        (bare)
 * event: <name>\nid: <session>.<seq>\ndata: {"sub":<sub>,"data":<data>}\n\n   (of subscription <sub>)
 * ```
 *
 * assembled from parts that exist already: `head` (`event: <name>\nid: `, encoded once per event name), the session's
 * id and the subscription's JSON-encoded id (strings the session holds anyway), the event's number, and `data` (the
 * value's bytes, encoded once for every connection). Every writer (the web stream and the Node socket writer) lays an
 * event out with these two functions, so the format lives here only.
 */

const encoder = new TextEncoder();
const DATA = encoder.encode('\ndata: ');
const SUB_OPEN = encoder.encode('{"sub":');
const SUB_DATA = encoder.encode(',"data":');
/** `\n\n`, and `}\n\n` (which closes the `{"sub", "data"}` envelope). */
const END_BARE = 2;
const END_SUB = 3;

/** `event: <name>\nid: `: the head of every event named `name`, encoded once. */
export function eventHead(name: string): Uint8Array {
  return encoder.encode(`event: ${name}\nid: `);
}

/** The length in bytes of the event {@link putEvent} writes. */
export function eventLength(head: Uint8Array, session: string, seq: number, sub: string | undefined, data: Uint8Array): number {
  return eventHeadLength(head, session, seq, sub) + data.length + (sub === undefined ? END_BARE : END_SUB);
}

/**
 * Writes the event into `target` at `at` (room for {@link eventLength} bytes); returns the position after it.
 * `session` is ASCII (a UUID); `sub` is the subscription's id as JSON (`"a"`), or `undefined` for a bare event.
 */
export function putEvent(
  target: Uint8Array, at: number, head: Uint8Array, session: string, seq: number, sub: string | undefined, data: Uint8Array,
): number {
  const end = putEventHead(target, at, head, session, seq, sub);
  target.set(data, end);
  return putEventEnd(target, end + data.length, sub);
}

/** The length of what comes before `data` in the event (see {@link putEventHead}). */
export function eventHeadLength(head: Uint8Array, session: string, seq: number, sub: string | undefined): number {
  const envelope = sub === undefined ? 0 : SUB_OPEN.length + textLength(sub) + SUB_DATA.length;
  return head.length + session.length + 1 + digitCount(seq, 10) + DATA.length + envelope;
}

/** Writes what comes before `data` in the event (for a writer that sends `data` as it is); returns the position after it. */
export function putEventHead(target: Uint8Array, at: number, head: Uint8Array, session: string, seq: number, sub: string | undefined): number {
  let end = putBytes(target, at, head);
  end = putText(target, end, session);
  target[end++] = 46; // .
  end = putDigits(target, end, seq, 10);
  end = putBytes(target, end, DATA);
  if (sub === undefined) return end;
  end = putBytes(target, end, SUB_OPEN);
  end = putText(target, end, sub);
  return putBytes(target, end, SUB_DATA);
}

/** Writes what comes after `data` in the event (`\n\n`, or `}\n\n` in an envelope); returns the position after it. */
export function putEventEnd(target: Uint8Array, at: number, sub: string | undefined): number {
  let end = at;
  if (sub !== undefined) target[end++] = 125; // }
  target[end++] = 10;
  target[end++] = 10;
  return end;
}

/** The length of what {@link putEventEnd} writes. */
export function eventEndLength(sub: string | undefined): number {
  return sub === undefined ? END_BARE : END_SUB;
}

/** Number of digits of the non-negative integer `n` in `radix`. */
export function digitCount(n: number, radix: number): number {
  let count = 1;
  for (let rest = n; rest >= radix; rest = Math.floor(rest / radix)) count++;
  return count;
}

/** Writes the digits of the non-negative integer `n` in `radix` (10 or 16, lower case) at `at`; returns the position after them. */
export function putDigits(target: Uint8Array, at: number, n: number, radix: number): number {
  const end = at + digitCount(n, radix);
  let rest = n;
  for (let i = end - 1; i >= at; i--) {
    const digit = rest % radix;
    target[i] = digit < 10 ? 48 + digit : 87 + digit;
    rest = Math.floor(rest / radix);
  }
  return end;
}

/** Copies the few bytes of `bytes` to `at` (a loop: cheaper than `set` for the short parts of an event head). */
function putBytes(target: Uint8Array, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) target[at + i] = bytes[i]!;
  return at + bytes.length;
}

/** The length of `text` in UTF-8 (a lone surrogate counts as U+FFFD, as `TextEncoder` writes it). */
function textLength(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) length += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1))) {
      length += 2; // two UTF-16 units, four bytes
      i++;
    } else length += 2;
  }
  return length;
}

/** Writes `text` in UTF-8 at `at` (ASCII byte by byte, the rest through `TextEncoder`); returns the position after it. */
function putText(target: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return at + i + encoder.encodeInto(text.slice(i), target.subarray(at + i)).written;
    target[at + i] = code;
  }
  return at + text.length;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
