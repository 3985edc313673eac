/**
 * Promises an activity can wait on and a test can open, plus notification when an activity reaches one: how the client
 * conformance suite controls an orchestration's progress without timing.
 */
export class Gates {
  readonly #gates = new Map<string, Latch>();
  readonly #reached = new Map<string, Latch>();
  /** Set by {@link Gates.openAll}: every gate is open from then on, those waited on later too. */
  #allOpen = false;

  /** Resolves once `key` is opened (at once once every gate is). */
  wait(key: string): Promise<void> {
    latchOf(this.#reached, key).open();
    const gate = latchOf(this.#gates, key);
    if (this.#allOpen) gate.open();
    return gate.promise;
  }

  /** Resolves once an activity waits on `key`. */
  reached(key: string): Promise<void> {
    return latchOf(this.#reached, key).promise;
  }

  open(key: string): void {
    latchOf(this.#gates, key).open();
  }

  /**
   * Opens every gate, now and later: a test's cleanup calls it, and an orchestration that runs on past it (a
   * sub-orchestration its terminated parent left running, whose next call waits on a gate nobody made yet) finds its
   * next gates open, so no activity is left waiting for the runtime's `stop()` to give up on after its grace period.
   */
  openAll(): void {
    this.#allOpen = true;
    for (const gate of this.#gates.values()) gate.open();
  }
}

/** A promise and the function that resolves it. */
interface Latch {
  readonly promise: Promise<void>;
  readonly open: () => void;
}

/** The latch of `key` in `latches`, made on first use. */
function latchOf(latches: Map<string, Latch>, key: string): Latch {
  let latch = latches.get(key);
  if (!latch) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    latch = { promise, open };
    latches.set(key, latch);
  }
  return latch;
}
