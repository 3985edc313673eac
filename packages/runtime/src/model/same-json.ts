/**
 * True when two values have the same JSON text (Dates compare by instant). Used to drop repeated snapshots. Two
 * different strings, booleans, finite numbers or `null` differ without serialising anything: custom statuses are
 * mostly such values, and this runs on every committed snapshot a `customStatus$` watcher receives.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (isScalar(a) && isScalar(b)) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A value whose JSON text differs from that of every other scalar that is not `===` to it. */
function isScalar(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * The last value a watcher emitted, as its next values are compared with it ({@link sameJson}): a primitive as it is, an
 * object as its JSON text. The watcher owns what it got and may change it in place; what it does with it changes nothing
 * here, so a later value equal to a changed one is still emitted. So an object the watcher gets as it is has its text
 * taken before the watcher gets it: one `JSON.stringify` of each object value taken (about 0.7 µs for 120 bytes). An
 * object nobody changes (`fixed`: a payload of a shared state, of which every watcher gets a copy) is kept as it is
 * instead: its text is taken only when a comparison needs it, and a value that is that same object holds without one.
 * For `status$` and `instances$`, whose plain fields decide almost every commit, a shared state's payloads are then
 * never serialised.
 */
export class JsonBaseline {
  /** The value taken. */
  #value: unknown;
  /** The JSON text of the value taken: taken with it, or when first compared (a fixed value). */
  #json: string | undefined;
  /** Whether the value taken is an object, compared by its JSON text. */
  #object = false;
  /** Whether the value taken is an object nobody changes, which holds for itself without a comparison. */
  #fixed = false;
  #taken = false;

  /** Whether `value` has the same JSON text as the value taken last (false before the first). */
  holds(value: unknown): boolean {
    if (!this.#taken) return false;
    if (!this.#object) return sameJson(this.#value, value);
    return (this.#fixed && value === this.#value) || (value !== undefined && JSON.stringify(value) === this.#text());
  }

  /**
   * Takes `value` as the baseline, unless it {@link holds}: false then, and the baseline is kept. `fixed`: nobody
   * changes `value` from here on (see above).
   */
  take(value: unknown, fixed = false): boolean {
    const object = typeof value === 'object' && value !== null;
    // An object's text once, for the comparison and the new baseline; a fixed one's not even then when it is the same.
    const json = object && !(fixed && this.#taken && this.#fixed && value === this.#value) ? JSON.stringify(value) : undefined;
    if (this.#taken && (json === undefined ? this.holds(value) : json === this.#text())) return false;
    this.#set(value, object, fixed, json);
    return true;
  }

  /** Takes `value` as the baseline whether or not it {@link holds}: what a caller that has compared already calls. */
  replace(value: unknown, fixed = false): void {
    const object = typeof value === 'object' && value !== null;
    this.#set(value, object, fixed, object && !fixed ? JSON.stringify(value) : undefined);
  }

  #set(value: unknown, object: boolean, fixed: boolean, json: string | undefined): void {
    this.#taken = true;
    this.#value = value;
    this.#object = object;
    this.#fixed = object && fixed;
    this.#json = json;
  }

  /** The JSON text of the value taken (`undefined` for `undefined`). */
  #text(): string | undefined {
    return this.#json ?? (this.#json = JSON.stringify(this.#value));
  }
}
