import { StoreClosedError, systemClock, type ClockTimer } from '@durable-rx/runtime';
import { DatabaseBlockedError } from '../errors/database-blocked-error.js';
import type { PageFreeze } from './page-freeze.js';
import type { StoreBackend } from './store-backend.js';

/** One attempt of an adapter to open its database, as {@link OpenGate} runs it. */
export interface OpenAttempt<T = StoreBackend> {
  /** The backend (or connection) once the database is open and its layout checked; rejects with the mapped error of a failed open. */
  readonly opened: Promise<T>;
  /**
   * Resolves once IndexedDB answered the open request: its first event but `blocked` (`upgradeneeded`, `success`,
   * `error`), before an upgrade runs and the layout check. Never rejects.
   */
  readonly answered: Promise<void>;
  /**
   * Resolves with the `blocked` event when IndexedDB reports that the open (an upgrade) waits for another connection
   * to close; the open goes on waiting. Never rejects.
   */
  readonly blocked?: Promise<unknown>;
}

/**
 * How long a store's calls wait for IndexedDB to answer its open request by default (`openTimeoutMs`), in real time:
 * it bounds the browser's work, not a time of the app. An open is answered in milliseconds unless it is queued behind
 * another connection's upgrade or deletion that a connection which does not close blocks (an old tab).
 */
export const DEFAULT_OPEN_TIMEOUT_MS = 5000;

/**
 * The one rule of opening a store's database, for both adapters: no call waits for an open for ever. IndexedDB
 * answers the open requests of a database in order, so an open queued behind another connection's upgrade or deletion
 * waits until that one is done, which a connection that does not close (an old tab that ignores `versionchange`) holds
 * back for as long as it stays open; IndexedDB tells only the first request of the queue (`blocked`), and Chromium
 * fires nothing at the others (a third tab opening the new version behind a second one's blocked upgrade).
 *
 * So the call whose open is reported blocked, or is not answered within `timeoutMs`, fails with a
 * `DatabaseBlockedError`, and the attempt is held: a new request would only queue behind it. Every call meanwhile
 * fails with the same error at once; the first call after IndexedDB answered takes the held attempt's backend (or its
 * error), so the store recovers by itself once the other connection closes. That call receives the held attempt's
 * outcome even when it failed long before (a mapped error then fails that one call, and the next opens anew).
 * {@link OpenGate.close} rejects the calls still waiting for an open with `StoreClosedError` at once, and closes what
 * their attempt or a held one opens later (with `closeOpened`). The caller makes one attempt at a time (it keeps the
 * promise of the open).
 *
 * `timeoutMs` counts time the page runs (with the store's `page`): a request still unanswered at a freeze stays queued
 * (it cannot be withdrawn), and its answer waits for the resume as the timer does. So a timer that ends while the
 * page is frozen, or after a freeze began, starts again, for `timeoutMs` from the resume: the freeze fails no call.
 */
export class OpenGate<T> {
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #closeOpened: (opened: T) => void;
  readonly #page: PageFreeze | undefined;
  /** The attempt that was blocked or timed out and has not been taken; `answered` once IndexedDB answered it. */
  #held: { readonly attempt: OpenAttempt<T>; readonly error: DatabaseBlockedError; answered: boolean } | undefined;
  /** The calls waiting for an open: each attempt, and how to fail the call (which also stops its bound). */
  readonly #waiting = new Set<{ readonly attempt: OpenAttempt<T>; readonly fail: (error: Error) => void }>();
  #closed = false;

  constructor(databaseName: string, timeoutMs: number, closeOpened: (opened: T) => void, page?: PageFreeze) {
    this.#name = databaseName;
    this.#timeoutMs = timeoutMs;
    this.#closeOpened = closeOpened;
    this.#page = page;
  }

  /** What the held attempt opened, or what a new one `start` begins opens; rejects as the class says. */
  open(start: () => OpenAttempt<T>): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const held = this.#held;
    if (held && !held.answered) return Promise.reject(held.error);
    this.#held = undefined;
    const attempt = held?.attempt ?? start();
    return new Promise<T>((resolve, reject) => {
      let timer: ClockTimer | undefined;
      const settled = (): boolean => {
        if (!this.#waiting.delete(waiting)) return false;
        if (timer !== undefined) systemClock.clearTimeout(timer);
        return true;
      };
      const waiting = {
        attempt,
        fail: (error: Error): void => {
          if (settled()) reject(error);
        },
      };
      this.#waiting.add(waiting);
      attempt.opened.then((opened) => {
        if (settled()) resolve(opened);
      }, waiting.fail);
      if (held) return; // answered already: it waits only for the layout check
      const hold = (error: DatabaseBlockedError): void => {
        if (!this.#waiting.has(waiting)) return; // opened, failed, or the gate closed
        const entry = { attempt, error, answered: false };
        this.#held = entry;
        void attempt.answered.then(() => (entry.answered = true));
        waiting.fail(error);
      };
      const timedOut = (): void => hold(new DatabaseBlockedError(
        `Opening database ${JSON.stringify(this.#name)} waited ${this.#timeoutMs} ms (openTimeoutMs): it is queued behind ` +
          'another connection\'s upgrade or deletion, which a connection that does not close (another tab?) holds back',
      ));
      let answered = false;
      const arm = (): void => {
        const freezes = this.#page?.freezes;
        timer = systemClock.setTimeout(() => {
          timer = undefined;
          const page = this.#page;
          if (!page || (!page.frozen && page.freezes === freezes)) return timedOut();
          // The page froze meanwhile: the wait starts again once it runs (at once if it already resumed). Still frozen
          // when that wait ends, the store refuses calls: the call fails as before.
          void page.resumed().then(() => {
            if (answered || !this.#waiting.has(waiting)) return;
            if (page.frozen) timedOut();
            else arm();
          });
        }, this.#timeoutMs);
      };
      arm();
      void attempt.answered.then(() => {
        answered = true;
        if (timer !== undefined) systemClock.clearTimeout(timer);
      });
      void attempt.blocked?.then((event) => hold(new DatabaseBlockedError(
        `Database ${JSON.stringify(this.#name)} needs an upgrade, but another connection (another tab?) keeps the old version open`,
        { cause: event },
      )));
    });
  }

  /**
   * The store closes: the calls waiting for an open fail with `StoreClosedError` now, and what their attempts and a
   * held one open is closed; every open asked for from now on is refused.
   */
  close(): void {
    this.#closed = true;
    const held = this.#held;
    this.#held = undefined;
    if (held) this.#closeWhenOpened(held.attempt);
    for (const waiting of [...this.#waiting]) {
      this.#closeWhenOpened(waiting.attempt);
      waiting.fail(this.#closedError());
    }
  }

  #closedError(): StoreClosedError {
    return new StoreClosedError(`The store on database ${JSON.stringify(this.#name)} is closed`);
  }

  #closeWhenOpened(attempt: OpenAttempt<T>): void {
    attempt.opened.then(this.#closeOpened, () => undefined);
  }
}
