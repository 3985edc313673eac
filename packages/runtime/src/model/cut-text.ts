/**
 * `text` when it has at most `max` UTF-16 code units, else its start followed by `marker(n)` (`n` the code units left
 * out), `max` units in all at most: the one rule by which the runtime cuts a text it records or copies. The cut never
 * splits a surrogate pair, so what is kept is well-formed wherever `text` was. `marker` is `… (n characters cut)`
 * unless given.
 *
 * @example
 * ```ts
 * cutText('a'.repeat(100), 40); // 'aaaaaaaaaaaaaaaaaa… (82 characters cut)': 39 units
 * ```
 */
export function cutText(text: string, max: number, marker: (cut: number) => string = charactersCut): string {
  if (text.length <= max) return text;
  // The marker for the most that could be cut is at least as long as the one written.
  let keep = Math.max(0, max - marker(text.length).length);
  const last = text.charCodeAt(keep - 1);
  if (last >= 0xd800 && last <= 0xdbff) keep--; // the high half of a pair whose low half would be cut
  return text.slice(0, keep) + marker(text.length - keep);
}

/** A `marker` for {@link cutText} that says only that something was cut: `…`. */
export const ellipsis = (): string => '…';

function charactersCut(cut: number): string {
  return `… (${cut} characters cut)`;
}
