/** The last time {@link isoTime} formatted, and its text. */
let lastMs = Number.NaN;
let lastIso = '';

/**
 * `date.toISOString()`, the same string for the same millisecond: the text of the last time asked for is kept, so the
 * steps and raises of one busy millisecond (dozens under load) share one string instead of formatting and keeping one
 * each. Throws the `RangeError` of `toISOString` for an invalid Date.
 */
export function isoTime(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastMs) {
    lastIso = date.toISOString();
    lastMs = ms;
  }
  return lastIso;
}

/**
 * `Date.parse(iso)`, without parsing the text {@link isoTime} made last: a step compares its time with the last step's
 * text, which is most often that one (the steps of one instance follow each other within a millisecond), and a parse
 * per step was the costliest line of the step.
 */
export function isoMs(iso: string): number {
  return iso === lastIso ? lastMs : Date.parse(iso);
}
