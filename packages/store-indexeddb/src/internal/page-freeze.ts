/**
 * The page's `freeze` and `resume` events, and the one rule both stores follow about them: no transaction of the store
 * stays open while the page is frozen, and no call fails for the freeze.
 *
 * Chromium freezes background tabs: none of their IndexedDB callbacks runs until they resume, so a transaction that is
 * still doing its work (its requests' answers wait to be handled) cannot end, and it holds its locks: another tab's
 * transactions on the same object stores wait until this page resumes or Chromium aborts the transaction for
 * inactivity (60 s). The `freeze` event comes before the freeze, and `IDBTransaction.abort()` takes effect at once:
 * the store aborts there every transaction of its own still doing its work. An aborted transaction wrote nothing, so
 * the call it served runs its transaction again, from the start, once the page resumes ({@link PageFreeze.settled}
 * tells it). A transaction that asked to commit ends without the page, and is left alone. Code still runs in a frozen
 * page (the listeners of `freeze` after the store's, a frozen page's `BroadcastChannel` messages): the store begins no
 * transaction then, its calls wait for {@link PageFreeze.resumed}; one begun all the same (a call already past that
 * wait) is aborted as it begins, and runs again after the resume too. The transactions that open the database (an
 * upgrade, a layout check) follow the same rule ({@link PageFreeze.beginOpening}): the store opens the database again
 * after the resume, and begins no open while the page is frozen.
 *
 * Only the browser's own events count (`isTrusted`): a script's `document.dispatchEvent(new Event('freeze'))` changes
 * nothing, so no other script can make the store's calls wait for a `resume` that never comes. (A real freeze ends in
 * a `resume`, or the page is discarded.) This package's tests accept dispatched events through
 * {@link acceptDispatchedPageEvents}, which is not exported from the package.
 *
 * One per store, which owns its listeners ({@link PageFreeze.dispose}). A store opened where there is no `document`
 * (a Web Worker) is never frozen this way.
 */
export class PageFreeze {
  /** The page's document while its events are listened to. */
  #document: Document | undefined;
  /** See {@link PageFreeze.frozen}. */
  #frozen = false;
  /** See {@link PageFreeze.freezes}. */
  #freezes = 0;
  /** The store refuses calls ({@link PageFreeze.refuse}): the waits for the resume end at once. */
  #refused = false;
  /** The transactions of the store doing their work (begun, not yet asked to commit nor ended). */
  readonly #working = new Set<IDBTransaction>();
  /** The transactions the freeze aborted. */
  readonly #aborted = new WeakSet<IDBTransaction>();
  /** {@link PageFreeze.resumed} while the page is frozen, and what resolves it. */
  #resumed: { readonly promise: Promise<void>; readonly resolve: () => void } | undefined;

  constructor() {
    this.#document = typeof document === 'object' && typeof document?.addEventListener === 'function' ? document : undefined;
    this.#document?.addEventListener('freeze', this.#freeze);
    this.#document?.addEventListener('resume', this.#resume);
  }

  /** How many times the page froze: a wait that spans a freeze tells so by a change of this number. */
  get freezes(): number {
    return this.#freezes;
  }

  /** The page is frozen: between its `freeze` and `resume` events. */
  get frozen(): boolean {
    return this.#frozen;
  }

  /** Resolves when the page resumes or the store refuses calls ({@link PageFreeze.refuse}); at once unless frozen. */
  resumed(): Promise<void> {
    if (!this.#frozen || this.#refused) return Promise.resolve();
    if (!this.#resumed) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#resumed = { promise, resolve };
    }
    return this.#resumed.promise;
  }

  /**
   * A transaction of the store begins: aborted at the next freeze while it does its work, at once when the page is
   * frozen. {@link PageFreeze.settled} ends that.
   */
  begin(transaction: IDBTransaction): void {
    if (!this.#document) return;
    this.#working.add(transaction);
    if (this.#frozen) this.#abort(transaction);
  }

  /**
   * A transaction of opening the database begins: an upgrade's `versionchange` transaction, or a layout check, which
   * commit by themselves once their work is done (no call asks them to). As {@link PageFreeze.begin}, until it ends:
   * aborted at a freeze while it does its work (an upgrade aborted leaves the database at its old version, a layout
   * check aborted wrote nothing), so that a frozen page holds no other tab's transactions and opens (but an upgrade of
   * another tab: Chromium closes the aborted upgrade's connection only once the page runs again); one already
   * committing is left alone (`abort()` throws then). Once the open failed, {@link PageFreeze.aborted} tells whether
   * the freeze failed it.
   */
  beginOpening(transaction: IDBTransaction): void {
    if (!this.#document) return;
    const ended = (): boolean => this.#working.delete(transaction);
    transaction.addEventListener('complete', ended);
    transaction.addEventListener('abort', ended);
    this.begin(transaction);
  }

  /**
   * The freeze aborted `transaction` (undefined: none began). An open of the database that failed so throws this
   * `PageFreeze`, and the store opens again once the page resumes.
   */
  aborted(transaction: IDBTransaction | undefined): boolean {
    return transaction !== undefined && this.#aborted.has(transaction);
  }

  /**
   * The transaction asks to commit, or failed, or its readonly work ended: a freeze leaves it alone from now on.
   * Returns whether a freeze aborted it: then it wrote nothing, and its call runs it again after the resume.
   */
  settled(transaction: IDBTransaction): boolean {
    this.#working.delete(transaction);
    return this.#aborted.has(transaction);
  }

  /**
   * The store closes or lost its database: the waits for a resume end (`frozen` stays as it was: they find the store
   * refusing calls). The transactions still running are aborted at a freeze all the same, until
   * {@link PageFreeze.dispose}: a store closed from an earlier `freeze` listener (as apps do for the back/forward
   * cache) still lets go of its locks there. Idempotent.
   */
  refuse(): void {
    this.#refused = true;
    this.#wake();
  }

  /** The store's calls have settled after {@link PageFreeze.refuse}: stops listening. Idempotent. */
  dispose(): void {
    this.refuse();
    this.#document?.removeEventListener('freeze', this.#freeze);
    this.#document?.removeEventListener('resume', this.#resume);
    this.#document = undefined;
    this.#working.clear();
  }

  readonly #freeze = (event: Event): void => {
    if (!event.isTrusted && !dispatchedEventsAccepted) return;
    this.#frozen = true;
    this.#freezes++;
    for (const transaction of this.#working) this.#abort(transaction);
  };

  readonly #resume = (event: Event): void => {
    if (!event.isTrusted && !dispatchedEventsAccepted) return;
    this.#frozen = false;
    this.#wake();
  };

  #wake(): void {
    this.#resumed?.resolve();
    this.#resumed = undefined;
  }

  #abort(transaction: IDBTransaction): void {
    this.#working.delete(transaction);
    try {
      transaction.abort();
      this.#aborted.add(transaction);
    } catch {
      // Already ending (a failed request aborted it).
    }
  }
}

/** See {@link acceptDispatchedPageEvents}. */
let dispatchedEventsAccepted = false;

/**
 * For this package's browser tests only (not exported from the package): whether {@link PageFreeze} takes `freeze`
 * and `resume` events a script dispatched (`isTrusted` false) as the browser's. Off by default.
 */
export function acceptDispatchedPageEvents(accept: boolean): void {
  dispatchedEventsAccepted = accept;
}
