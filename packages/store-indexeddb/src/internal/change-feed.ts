import type { Observable } from 'rxjs';
import type { Clock, ClockTimer } from '@durable-rx/runtime';
import { Broadcast, type StatusChange } from '@durable-rx/runtime/store-kit';
import { VersionGate, type FeedChange } from './version-gate.js';

/** Options of a {@link ChangeFeed}. */
export interface ChangeFeedOptions {
  /** BroadcastChannel name; every handle on one database uses the same one. */
  readonly channelName: string;
  /** How long a snapshot waits for a missing predecessor from another tab before it is delivered anyway. */
  readonly gapTimeoutMs: number;
  /** Where the gap timeout is timed. */
  readonly clock: Clock;
}

/** What travels on the BroadcastChannel: the snapshots one transaction committed, in order. */
interface FeedMessage {
  readonly type: typeof MESSAGE_TYPE;
  readonly changes: readonly FeedChange[];
  readonly work: boolean;
}

const MESSAGE_TYPE = 'durable-rx/commit@1';

/**
 * The change feed every IndexedDB store handle owns. After a transaction commits, the store calls
 * {@link ChangeFeed.publish} with the committed snapshots: they are delivered to this handle's subscribers at once
 * and posted on a BroadcastChannel, so every other handle on the database (other stores in this page, other tabs)
 * delivers them too. Snapshots are structured-cloned, so Dates survive. A {@link VersionGate} keeps each instance's
 * snapshots in version order and drops those already delivered, whichever tab they come from.
 */
export class ChangeFeed {
  readonly #changes = new Broadcast<StatusChange>();
  readonly #work = new Broadcast<void>();
  readonly #gate = new VersionGate();
  readonly #channel: BroadcastChannel | undefined;
  readonly #gapTimeoutMs: number;
  readonly #clock: Clock;
  #gapTimer: ClockTimer | undefined;
  #closed = false;

  /** Every committed change of every instance, from this handle and all others on the database. */
  readonly changes$: Observable<StatusChange> = this.#changes.observable;
  /** Fires when some handle wrote claimable work. */
  readonly workAvailable$: Observable<void> = this.#work.observable;

  constructor(options: ChangeFeedOptions) {
    this.#gapTimeoutMs = options.gapTimeoutMs;
    this.#clock = options.clock;
    this.#channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(options.channelName) : undefined;
    this.#channel?.addEventListener('message', this.#onMessage);
  }

  /**
   * Delivers what one transaction committed here and tells the other handles. Call after the commit. `work` signals
   * claimable work everywhere; `othersWork` (default `work`) signals it to the other handles only, for work this
   * handle's worker already holds but whose lease expiry the other workers must time.
   */
  publish(changes: readonly FeedChange[], work: boolean, othersWork = work): void {
    if (this.#closed || (changes.length === 0 && !work && !othersWork)) return;
    const copies = changes.map((c) => structuredClone(c));
    const message: FeedMessage = { type: MESSAGE_TYPE, changes: copies, work: work || othersWork };
    if (this.#channel && (copies.length > 0 || message.work)) this.#channel.postMessage(message);
    this.#deliver(copies, work);
  }

  /** Releases the channel and timer and completes both observables. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#gapTimer !== undefined) this.#clock.clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    this.#channel?.removeEventListener('message', this.#onMessage);
    this.#channel?.close();
    this.#changes.complete();
    this.#work.complete();
  }

  readonly #onMessage = (event: MessageEvent<unknown>): void => {
    if (this.#closed || !isFeedMessage(event.data)) return;
    this.#deliver(event.data.changes, event.data.work);
  };

  #deliver(changes: readonly FeedChange[], work: boolean): void {
    for (const change of changes) {
      for (const passed of this.#gate.offer(change)) this.#changes.next({ instanceId: passed.instanceId, state: passed.state });
    }
    if (this.#gate.holding && this.#gapTimer === undefined) {
      this.#gapTimer = this.#clock.setTimeout(this.#releaseHeld, this.#gapTimeoutMs);
    }
    if (work) this.#work.next();
  }

  readonly #releaseHeld = (): void => {
    this.#gapTimer = undefined;
    if (this.#closed) return;
    for (const passed of this.#gate.releaseAll()) this.#changes.next({ instanceId: passed.instanceId, state: passed.state });
  };
}

function isFeedMessage(data: unknown): data is FeedMessage {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Partial<FeedMessage>;
  return m.type === MESSAGE_TYPE && Array.isArray(m.changes) && typeof m.work === 'boolean';
}
