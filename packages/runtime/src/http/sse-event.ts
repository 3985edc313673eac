/**
 * The bytes of one numbered event of a stream session, assembled from parts encoded once (see `SseWriter.write`):
 * `framing[0, split)`, the decimal digits of `seq`, `framing[split, end)`, `data`, `after`. Every writer (the web
 * stream and the Node socket writer) lays an event out with these two functions, so the format lives here only.
 */

/** The length in bytes of the event {@link putEvent} writes. */
export function eventLength(framing: Uint8Array, seq: number, data: Uint8Array, after: Uint8Array): number {
  return framing.length + digitCount(seq, 10) + data.length + after.length;
}

/** Writes the event into `target` at `at` (room for {@link eventLength} bytes); returns the position after it. */
export function putEvent(
  target: Uint8Array, at: number, framing: Uint8Array, split: number, seq: number, data: Uint8Array, after: Uint8Array,
): number {
  target.set(framing.subarray(0, split), at);
  let end = putDigits(target, at + split, seq, 10);
  target.set(framing.subarray(split), end);
  end += framing.length - split;
  target.set(data, end);
  end += data.length;
  target.set(after, end);
  return end + after.length;
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
