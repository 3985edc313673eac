/**
 * Delivers mapped events in the order they were pushed, even when mapping one of them is asynchronous (a lookup):
 * later events wait for it. Synchronous mappings with nothing pending are delivered at once. A mapping that throws or
 * rejects is reported to `fail` and skipped; the events after it are still delivered.
 *
 * @example
 * ```ts
 * const delivery = new SerialDelivery(map, (value) => subject.next(value), (error) => logger.error('skipped', error));
 * stream.on('change', (event) => delivery.push(event));
 * ```
 */
export class SerialDelivery<E, T> {
  readonly #map: (event: E) => T | undefined | Promise<T | undefined>;
  readonly #emit: (value: T) => void;
  readonly #fail: (error: unknown) => void;
  #pending: Promise<void> | undefined;

  constructor(
    map: (event: E) => T | undefined | Promise<T | undefined>, emit: (value: T) => void, fail: (error: unknown) => void,
  ) {
    this.#map = map;
    this.#emit = emit;
    this.#fail = fail;
  }

  /** Maps and delivers `event` after every event pushed before it. */
  push(event: E): void {
    const previous = this.#pending;
    const work = previous ? previous.then(() => this.#deliver(event)) : this.#deliver(event);
    if (!work) return;
    const next: Promise<void> = work.finally(() => {
      if (this.#pending === next) this.#pending = undefined;
    });
    this.#pending = next;
  }

  /** Resolves once every event pushed so far is delivered or skipped. */
  async idle(): Promise<void> {
    while (this.#pending) await this.#pending;
  }

  /** Maps and emits one event; a promise when the mapping is asynchronous. Never rejects. */
  #deliver(event: E): Promise<void> | undefined {
    let value: T | undefined | Promise<T | undefined>;
    try {
      value = this.#map(event);
    } catch (error) {
      this.#fail(error);
      return undefined;
    }
    if (value instanceof Promise) {
      return value.then((v) => {
        if (v !== undefined) this.#emit(v);
      }, this.#fail);
    }
    if (value !== undefined) this.#emit(value);
    return undefined;
  }
}
