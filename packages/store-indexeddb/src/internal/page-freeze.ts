import { StorageError } from '../errors/storage-error.js';

/**
 * The page's `freeze` and `resume` events, and the one rule both stores follow about them: no transaction of the store
 * stays open while the page is frozen.
 *
 * Chromium freezes background tabs: none of their IndexedDB callbacks runs until they resume, so a transaction that is
 * still doing its work (its requests' answers wait to be handled) cannot end, and it holds its locks: another tab's
 * transactions on the same object stores wait until this page resumes or Chromium aborts the transaction for
 * inactivity (60 s). The `freeze` event comes before the freeze, and `IDBTransaction.abort()` takes effect at once:
 * the store aborts there every transaction of its own still doing its work, and the call it served rejects with
 * {@link frozenError} once the page resumes (an aborted transaction wrote nothing). A transaction that asked to commit
 * ends without the page, and is left alone. Code still runs in a frozen page (the listeners of `freeze` after the
 * store's, a frozen page's `BroadcastChannel` messages): the store begins no transaction then, its calls wait for
 * {@link PageFreeze.resumed}; one begun all the same is aborted as it begins.
 *
 * One per store, which owns its listeners ({@link PageFreeze.close}). A store opened where there is no `document`
 * (a Web Worker) is never frozen this way.
 */
export class PageFreeze {
  /** The page's document while its events are listened to. */
  #document: Document | undefined;
  /** The page is frozen: between its `freeze` and `resume` events. */
  frozen = false;
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

  /** Resolves when the page resumes or the store closes ({@link PageFreeze.close}); at once unless frozen. */
  resumed(): Promise<void> {
    if (!this.frozen || !this.#document) return Promise.resolve();
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
    if (this.frozen) this.#abort(transaction);
  }

  /**
   * The transaction asks to commit, or failed, or its readonly work ended: a freeze leaves it alone from now on.
   * Returns whether a freeze aborted it (then it throws {@link frozenError}).
   */
  settled(transaction: IDBTransaction): boolean {
    this.#working.delete(transaction);
    return this.#aborted.has(transaction);
  }

  /**
   * The store closes: stops listening, and the waits for a resume end (`frozen` stays as it was: they find the store
   * closed). Idempotent.
   */
  close(): void {
    this.#document?.removeEventListener('freeze', this.#freeze);
    this.#document?.removeEventListener('resume', this.#resume);
    this.#document = undefined;
    this.#working.clear();
    this.#wake();
  }

  readonly #freeze = (): void => {
    this.frozen = true;
    for (const transaction of this.#working) this.#abort(transaction);
  };

  readonly #resume = (): void => {
    this.frozen = false;
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

/**
 * The error of a store call whose transaction the page's freeze aborted ({@link PageFreeze}): a `StorageError` (not
 * `storeClosed`), which the worker takes as any failed store call and tries again; the transaction wrote nothing.
 */
export function frozenError(cause?: unknown): StorageError {
  return new StorageError('The page was frozen during this IndexedDB transaction: aborted, nothing written', { cause });
}
