import type { Logger } from '../env/logger.js';
import { webLocks, type LockRequests } from '../env/web-locks.js';
import { isStoreClosed } from '../model/errors/store-closed-error.js';

/**
 * A synchronous string store that outlives the worker, such as a browser tab's `sessionStorage` (whose `getItem` and
 * `setItem` fit it as they are). One runtime per storage: the worker owns the key {@link WORKER_IDS_KEY}.
 */
export interface LeaseStorage {
  /** The value last set under `key`, or `null` when there is none. A failure to read is logged, not thrown. */
  getItem(key: string): string | null;
  /** Records `value` under `key` for a later life of the worker (after a reload). A failure (quota) is logged. */
  setItem(key: string, value: string): void;
}

/** The key under which a worker records, in its {@link LeaseStorage}, the ids of the lives whose leases may be held. */
export const WORKER_IDS_KEY = 'durable-rx:worker-ids';

/** Name of the Web Lock a worker life holds while it runs, so that a later life knows when it has ended. */
export function workerLockName(owner: string): string {
  return `durable-rx:worker:${owner}`;
}

/** The part of the Web Locks API (`navigator.locks`) a succession uses: what every caller of `webLocks` uses. */
export type WorkerLocks = LockRequests;

/** Settings of a {@link LeaseSuccession}. */
export interface LeaseSuccessionOptions {
  /**
   * `Store.releaseOwner` of the earlier lives of a worker id, bounded in time by the worker (a call that never settles
   * must not keep claims waiting). It names this life's lease owner, so it never releases a lease of this life, even
   * when the store applies it after it was abandoned.
   */
  readonly releaseOwner: (owner: string) => Promise<unknown>;
  readonly logger: Logger;
  /** This life's worker id: its leases record it with this life's mark (`lifeLeaseOwner`). */
  readonly owner: string;
  /** Where the ids of this storage's lives are recorded (a tab's `sessionStorage`); absent: nothing is recorded. */
  readonly storage?: LeaseStorage;
  /**
   * True when `owner` may have been used by an earlier life (an id the application chose): its leases are released
   * before this life claims anything.
   */
  readonly ownerReused: boolean;
  /** Web Locks, used with a storage only; default `navigator.locks` when the platform has it. */
  readonly locks?: WorkerLocks;
}

/**
 * How a worker takes over the leases its earlier lives left behind (a reloaded tab, a restarted process), by their
 * worker ids rather than by the leases it remembers: the store releases every lease of a dead life with
 * `Store.releaseOwner`, including a claim that was still committing when that life ended. Each life marks its leases
 * with its own start (`lifeLeaseOwner`), so a life that reuses an id releases its earlier lives' leases but never its
 * own: a release abandoned at its bound may apply late without taking what this life claimed since.
 *
 * A life is dead when its Web Lock ({@link workerLockName}) is free: each life holds its own for as long as it runs,
 * and the browser releases it when the page goes away. A later life waits for that lock before it releases anything,
 * without a timeout: a tab duplicated from a live one (its `sessionStorage` is a copy, so it lists the original's
 * id) waits for as long as the original runs and takes its leases over only once it has closed. Each life has a
 * fresh id, so two live tabs never share one. Without Web Locks (Node), the lives recorded in the storage are taken
 * to be over at once: one runtime per storage.
 */
export class LeaseSuccession {
  readonly #o: LeaseSuccessionOptions;
  readonly #locks: WorkerLocks | undefined;
  readonly #abort = new AbortController();
  /** Lets go of this life's lock; `null` once the life has ended. */
  #endLife: (() => void) | undefined | null;
  #ended = false;

  constructor(options: LeaseSuccessionOptions) {
    this.#o = options;
    // Lives are only told apart through a storage; without one, an id the application reused is released at once.
    this.#locks = options.storage ? (options.locks ?? webLocks<WorkerLocks>()) : undefined;
  }

  /**
   * Records this life, holds its lock and starts releasing the leases of the earlier lives as each of them ends.
   * Resolves once this life may claim: at once, or, when its own id was used before, after that id's leases were
   * released. Never rejects: a failure is logged, and the leases it could not release expire in their own time.
   */
  begin(): Promise<void> {
    const { owner, storage } = this.#o;
    const recorded = storage ? this.#read(storage) : [];
    const reused = this.#o.ownerReused || recorded.includes(owner);
    this.#write([...recorded.filter((id) => id !== owner), owner]);
    for (const id of recorded) if (id !== owner) void this.#whenEnded(id, () => this.#release(id));
    const ownLife = this.#holdOwnLock(reused ? () => this.#release(owner) : undefined);
    return reused ? ownLife : Promise.resolve();
  }

  /** Stops waiting for earlier lives (and for this life's own lock, if it was not granted yet); releases nothing more. */
  stopWaiting(): void {
    this.#ended = true;
    this.#abort.abort();
  }

  /**
   * Ends this life: stops waiting and lets go of its own lock. After a clean stop (every lease of this life released
   * or committed) its id is dropped from the storage, as nothing remains to take over. Idempotent.
   */
  end(clean: boolean): void {
    this.stopWaiting();
    if (this.#endLife === null) return;
    this.#endLife?.();
    this.#endLife = null;
    if (clean) this.#write(this.#readOrEmpty().filter((id) => id !== this.#o.owner));
  }

  /** Holds this life's lock until {@link end}; `first` runs as soon as it is granted. Resolves after `first`. */
  #holdOwnLock(first: (() => Promise<void>) | undefined): Promise<void> {
    const locks = this.#locks;
    if (!locks) return first ? first() : Promise.resolve();
    return new Promise<void>((granted) => {
      const failed = (error: unknown): void => {
        granted(); // aborted by `end` before the grant, or no lock at all: nothing more to wait for
        if (!isAbort(error)) this.#o.logger.error(`holding the lock of worker ${this.#o.owner} failed`, error);
      };
      // Locks that throw instead of rejecting (a custom `locks`) fail as a rejection does: `begin` never rejects.
      try {
        locks.request(workerLockName(this.#o.owner), { signal: this.#abort.signal }, async () => {
          if (first) await first();
          granted();
          if (this.#ended) return;
          await new Promise<void>((resolve) => (this.#endLife = resolve));
        }).catch(failed);
      } catch (error) {
        failed(error);
      }
    });
  }

  /** Runs `then` once the life `id` has ended (its lock is free), holding that lock meanwhile so it runs once. */
  async #whenEnded(id: string, then: () => Promise<void>): Promise<void> {
    const locks = this.#locks;
    try {
      if (locks) await locks.request(workerLockName(id), { signal: this.#abort.signal }, then);
      else await then();
    } catch (error) {
      if (!isAbort(error)) this.#o.logger.error(`waiting for the end of worker ${id} failed`, error);
    }
  }

  /** Releases the leases of `id` and, once that worked, forgets it. */
  async #release(id: string): Promise<void> {
    if (this.#ended) return;
    try {
      await this.#o.releaseOwner(id);
      if (id !== this.#o.owner) this.#write(this.#readOrEmpty().filter((known) => known !== id));
    } catch (error) {
      if (!isStoreClosed(error)) this.#o.logger.error(`releasing the leases of worker ${id} failed; they expire in their own time`, error);
    }
  }

  #readOrEmpty(): string[] {
    return this.#o.storage ? this.#read(this.#o.storage) : [];
  }

  #read(storage: LeaseStorage): string[] {
    try {
      const raw = storage.getItem(WORKER_IDS_KEY);
      const parsed: unknown = raw === null ? [] : JSON.parse(raw);
      if (Array.isArray(parsed)) return parsed.filter((id): id is string => typeof id === 'string' && id.length > 0);
      throw new TypeError('not an array');
    } catch (error) {
      this.#o.logger.warn(`the worker ids recorded under ${WORKER_IDS_KEY} could not be read; their leases expire in their own time`, error);
      return [];
    }
  }

  /** Records the ids (best effort: a full or failing storage is logged). */
  #write(ids: readonly string[]): void {
    const storage = this.#o.storage;
    if (!storage) return;
    try {
      storage.setItem(WORKER_IDS_KEY, JSON.stringify(ids));
    } catch (error) {
      this.#o.logger.warn(`the worker ids could not be recorded under ${WORKER_IDS_KEY}`, error);
    }
  }
}

function isAbort(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}
