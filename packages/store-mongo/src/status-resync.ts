import type { InstanceState, StatusChange } from '@durable-rx/runtime/store-kit';
import { Observable } from 'rxjs';
import { purgedDuringGap } from './change-events.js';
import type { InstanceDoc } from './documents.js';
import { instanceIdOfKey, instanceKey } from './instance-key.js';
import { SCAN_BOUND } from './read-bound.js';
import type { Closable, CursorBound } from './unbounded-calls.js';

/** Instance ids per read when a status resync re-reads named instances. */
export const RESYNC_ID_BATCH = 1000;

/** An instance as a status resync re-reads it (its projection). */
export type ResyncInstanceDoc = Pick<InstanceDoc, '_id' | 'state' | 'input'>;

/** A cursor a status resync reads: the driver's `FindCursor`, as far as the re-read takes it. */
export type ResyncCursor<D> = Closable & AsyncIterable<D>;

/**
 * What a status resync re-reads, and what it runs on: MongoStore's collections, held calls and logging.
 */
export interface StatusResyncReads {
  /** The purge records written since the window's start (`purgedSinceFilter`), `instanceId` an instance key. */
  readonly purges: (bound: CursorBound) => ResyncCursor<{ readonly instanceId: string }>;
  /** The instances changed since the window's start (`changedSinceFilter`). */
  readonly changed: (bound: CursorBound) => ResyncCursor<ResyncInstanceDoc>;
  /** The instances of these keys. */
  readonly named: (keys: string[], bound: CursorBound) => ResyncCursor<ResyncInstanceDoc>;
  /** The state of an instance read; `undefined` (logged) when it does not decode. */
  readonly state: (doc: ResyncInstanceDoc) => InstanceState | undefined;
  /** Closes a cursor, the close held among the store's unbounded calls. */
  readonly closeCursor: (cursor: Closable) => Promise<void>;
  /** Runs the re-read as work the store's `close` waits for; rejects without running it once `close` began. */
  readonly track: (work: () => Promise<void>) => Promise<void>;
  /** What a failed re-read is to its subscriber (`mapDriverError`). */
  readonly mapError: (error: unknown) => unknown;
}

/**
 * A status resync after a change feed lost its position, as status changes: the current state of every instance
 * changed since the window's start (`reads.changed`) or, for the per-instance feed (`instanceIds`), of every watched
 * instance; then a purge (`state: undefined`) for each candidate that no longer exists (`purgedDuringGap`): the watched
 * ids, or for `changes$` every id purged since then (the purge records). So a `status$` or a live list whose instance
 * was purged during the gap learns it too.
 *
 * @example
 * ```ts
 * const changes = statusResync(reads, ['order-1', 'order-2']); // their states, then a purge for each one gone
 * ```
 */
export function statusResync(reads: StatusResyncReads, instanceIds?: readonly string[]): Observable<StatusChange> {
  return new Observable<StatusChange>((subscriber) => {
    const cursors = new Set<Closable>();
    /** Reads a cursor to its end (closed on unsubscribe); false when the subscriber left meanwhile. */
    const read = async <T>(cursor: ResyncCursor<T>, each: (doc: T) => void): Promise<boolean> => {
      cursors.add(cursor);
      try {
        for await (const doc of cursor) {
          if (subscriber.closed) return false;
          each(doc);
        }
        return !subscriber.closed;
      } finally {
        cursors.delete(cursor);
      }
    };
    void reads.track(async () => {
      const found = new Set<string>();
      const emit = (doc: ResyncInstanceDoc): void => {
        const instanceId = instanceIdOfKey(doc._id);
        if (found.has(instanceId)) return;
        found.add(instanceId); // found even when it cannot be read: it exists, so it is no purge
        // One that does not decode is logged and left out: failing the re-read would retry it for good, and the
        // purges and states after it would never be delivered.
        const state = reads.state(doc);
        if (state) subscriber.next({ instanceId, state });
      };
      let candidates: readonly string[] = instanceIds ?? [];
      if (!instanceIds) {
        const purged: string[] = [];
        if (!await read(reads.purges(SCAN_BOUND), (d) => void purged.push(instanceIdOfKey(d.instanceId)))) return;
        candidates = purged;
        if (!await read(reads.changed(SCAN_BOUND), emit)) return;
      }
      // The candidates' current state (an instance purged and started anew since is not a purge), in batches.
      const unique = [...new Set(candidates)];
      for (let i = 0; i < unique.length; i += RESYNC_ID_BATCH) {
        const keys = unique.slice(i, i + RESYNC_ID_BATCH).map(instanceKey);
        if (!await read(reads.named(keys, SCAN_BOUND), emit)) return;
      }
      for (const purge of purgedDuringGap(unique, found)) {
        if (subscriber.closed) return;
        subscriber.next(purge);
      }
      subscriber.complete();
    }).catch((error: unknown) => subscriber.error(reads.mapError(error)));
    return () => {
      // Closed by the store's close too (the feeds stop first): held, so that close ends or waits for the kill.
      for (const cursor of cursors) void reads.closeCursor(cursor);
    };
  });
}
