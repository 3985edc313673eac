/**
 * Delivers mapped events in the order they were pushed, even when mapping one of them is asynchronous (a lookup):
 * later events wait for it. Each event is mapped as soon as it is pushed, so the lookups of several events run
 * together (their reads can share a batch, see `BatchLoader`) instead of each starting only once the one before it
 * was delivered; only the delivery waits. Synchronous mappings with nothing pending are delivered at once. A mapping
 * that throws or rejects is reported to `fail` and skipped; the events after it are still delivered, unless `fail`
 * calls {@link SerialDelivery.discard}.
 *
 * @example
 * ```ts
 * const delivery = new SerialDelivery(map, (value) => subject.next(value), (error) => logger.error('skipped', error));
 * delivery.push(await stream.next());
 * if (stream.bufferedCount() === 0) await delivery.idle(); // the next batch only once this one is delivered
 * ```
 */
export class SerialDelivery<E, T> {
  readonly #map: (event: E) => T | undefined | Promise<T | undefined>;
  readonly #emit: (value: T) => void;
  readonly #fail: (error: unknown) => void;
  #pending: Promise<void> | undefined;
  /** Counts `discard` calls: an event pushed before the latest one is neither delivered nor reported. */
  #epoch = 0;

  constructor(
    map: (event: E) => T | undefined | Promise<T | undefined>, emit: (value: T) => void, fail: (error: unknown) => void,
  ) {
    this.#map = map;
    this.#emit = emit;
    this.#fail = fail;
  }

  /** Maps `event` now and delivers it after every event pushed before it. */
  push(event: E): void {
    let value: T | undefined | Promise<T | undefined>;
    try {
      value = this.#map(event);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (!(value instanceof Promise) && this.#pending === undefined) {
      if (value !== undefined) this.#emit(value);
      return;
    }
    // Settled into an outcome at once: a lookup that fails while earlier events are still pending is never an
    // unhandled rejection.
    const outcome: Promise<{ readonly value: T | undefined } | { readonly error: unknown }> = value instanceof Promise
      ? value.then((v) => ({ value: v }), (error: unknown) => ({ error }))
      : Promise.resolve({ value });
    const previous = this.#pending ?? Promise.resolve();
    const epoch = this.#epoch;
    const next: Promise<void> = previous
      .then(() => outcome)
      .then((settled) => {
        if (epoch !== this.#epoch) return;
        if ('error' in settled) this.#fail(settled.error);
        else if (settled.value !== undefined) this.#emit(settled.value);
      })
      .catch(this.#fail) // an emit that throws must not stop the deliveries queued behind it
      .finally(() => {
        if (this.#pending === next) this.#pending = undefined;
      });
    this.#pending = next;
  }

  /**
   * Drops every event pushed so far that is not delivered yet: none of them is delivered or reported (their lookups
   * still settle). Events pushed afterwards are delivered as usual. For a feed that stops at an event it must not
   * skip: what came after that event is not delivered either.
   */
  discard(): void {
    this.#epoch++;
  }

  /** Resolves once every event pushed so far is delivered or skipped. */
  async idle(): Promise<void> {
    while (this.#pending) await this.#pending;
  }
}
