import { systemClock, type ClockTimer } from '@durable-rx/runtime';
import { DatabaseBlockedError } from '../errors/database-blocked-error.js';
import type { StoreBackend } from './store-backend.js';

/** One attempt of an adapter to open its database, as {@link OpenGate} runs it. */
export interface OpenAttempt<T = StoreBackend> {
  /** The backend (or connection) once the database is open and its layout checked; rejects with the mapped error of a failed open. */
  readonly opened: Promise<T>;
  /** Resolves once IndexedDB answered the open request (opened or failed), before the layout check. Never rejects. */
  readonly answered: Promise<void>;
  /**
   * Resolves with the `blocked` event when IndexedDB reports that the open (an upgrade) waits for another connection
   * to close; the open goes on waiting. Absent where the adapter never upgrades. Never rejects.
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
 * error), so the store recovers by itself once the other connection closes. {@link OpenGate.close} closes what a held
 * attempt opens (with `closeOpened`). The caller makes one attempt at a time (it keeps the promise of the open).
 */
export class OpenGate<T> {
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #closeOpened: (opened: T) => void;
  /** The attempt that was blocked or timed out and has not been taken; `answered` once IndexedDB answered it. */
  #held: { readonly attempt: OpenAttempt<T>; readonly error: DatabaseBlockedError; answered: boolean } | undefined;
  #closed = false;

  constructor(databaseName: string, timeoutMs: number, closeOpened: (opened: T) => void) {
    this.#name = databaseName;
    this.#timeoutMs = timeoutMs;
    this.#closeOpened = closeOpened;
  }

  /** What the held attempt opened, or what a new one `start` begins opens; rejects as the class says. */
  open(start: () => OpenAttempt<T>): Promise<T> {
    const held = this.#held;
    if (held) {
      if (!held.answered) return Promise.reject(held.error);
      this.#held = undefined;
      return held.attempt.opened;
    }
    const attempt = start();
    return new Promise<T>((resolve, reject) => {
      let holding = false;
      const hold = (error: DatabaseBlockedError): void => {
        if (holding) return;
        holding = true;
        systemClock.clearTimeout(timer);
        const entry = { attempt, error, answered: false };
        if (this.#closed) this.#closeWhenOpened(attempt);
        else this.#held = entry;
        void attempt.answered.then(() => (entry.answered = true));
        reject(error);
      };
      const timer: ClockTimer = systemClock.setTimeout(() => hold(new DatabaseBlockedError(
        `Opening database ${JSON.stringify(this.#name)} waited ${this.#timeoutMs} ms (openTimeoutMs): it is queued behind ` +
          'another connection\'s upgrade or deletion, which a connection that does not close (another tab?) holds back',
      )), this.#timeoutMs);
      void attempt.answered.then(() => systemClock.clearTimeout(timer));
      void attempt.blocked?.then((event) => hold(new DatabaseBlockedError(
        `Database ${JSON.stringify(this.#name)} needs an upgrade, but another connection (another tab?) keeps the old version open`,
        { cause: event },
      )));
      attempt.opened.then(resolve, reject);
    });
  }

  /** The store closes: closes what a held attempt opens, and any attempt held from now on. */
  close(): void {
    this.#closed = true;
    const held = this.#held;
    this.#held = undefined;
    if (held) this.#closeWhenOpened(held.attempt);
  }

  #closeWhenOpened(attempt: OpenAttempt<T>): void {
    attempt.opened.then(this.#closeOpened, () => undefined);
  }
}
