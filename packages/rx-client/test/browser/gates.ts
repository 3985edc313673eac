/**
 * Named gates an activity waits on until the test opens them, so that each step of an orchestration commits only once
 * the test has seen what the previous one rendered. Used in the page and in the server commands (Node).
 */
export class Gates {
  readonly #open = new Map<string, () => void>();
  readonly #waiting = new Map<string, Promise<void>>();
  #closed = false;

  /** Resolves once `name` is opened (at once if it already was, or if every gate was released). */
  passed(name: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    let waiting = this.#waiting.get(name);
    if (!waiting) {
      waiting = new Promise<void>((resolve) => this.#open.set(name, resolve));
      this.#waiting.set(name, waiting);
    }
    return waiting;
  }

  /** Lets whatever waits on `name` (now or later) pass. */
  open(name: string): void {
    if (this.#closed) return;
    void this.passed(name);
    this.#open.get(name)?.();
  }

  /** Opens every gate, now and later: nothing waits on a gate once its test is over. */
  release(): void {
    this.#closed = true;
    for (const resolve of this.#open.values()) resolve();
  }
}
