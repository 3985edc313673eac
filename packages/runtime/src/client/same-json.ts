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
 * object as its JSON text, taken before the watcher gets the object. The watcher owns what it got and may change it in
 * place; what it does with it changes nothing here, so a later value equal to a changed one is still emitted. Keeping
 * the text costs one `JSON.stringify` of each object value taken. For `customStatus$` that is less than comparing the
 * objects did (which encoded both); for `status$` and `instances$` it is a cost they did not pay before on an emission
 * whose plain fields already differ (about 0.7 µs per object payload of 120 bytes, measured in isolation).
 */
export class JsonBaseline {
  /** The value taken; only its JSON text is compared when it is an object. */
  #value: unknown;
  /** The JSON text of the value taken, when it is an object. */
  #json: string | undefined;
  #taken = false;

  /** Whether `value` has the same JSON text as the value taken last (false before the first). */
  holds(value: unknown): boolean {
    return this.#taken && (this.#json === undefined ? sameJson(this.#value, value) : value !== undefined && JSON.stringify(value) === this.#json);
  }

  /** Takes `value` as the baseline, unless it {@link holds}: false then, and the baseline is kept. */
  take(value: unknown): boolean {
    // An object's text once, for the comparison and the new baseline.
    const json = typeof value === 'object' && value !== null ? JSON.stringify(value) : undefined;
    if (this.#taken && (json === undefined ? this.holds(value) : json === (this.#json ?? JSON.stringify(this.#value)))) return false;
    this.#taken = true;
    this.#value = value;
    this.#json = json;
    return true;
  }
}
