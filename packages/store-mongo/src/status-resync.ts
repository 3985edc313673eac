import type { InstanceState, StatusChange } from '@durable-rx/runtime/store-kit';
import { Observable } from 'rxjs';
import { purgedDuringGap } from './change-events.js';
import type { InstanceDoc } from './documents.js';
import { instanceIdOfKey, instanceKey } from './instance-key.js';
import { SCAN_BOUND } from './read-bound.js';
import { eachOf, type Closable, type CursorBound, type CursorDocuments, type UnboundedCalls } from './unbounded-calls.js';

/** Instance ids per read when a status resync re-reads named instances. */
export const RESYNC_ID_BATCH = 1000;

/** An instance as a status resync re-reads it (its projection). */
export type ResyncInstanceDoc = Pick<InstanceDoc, '_id' | 'state' | 'input'>;

/** A cursor a status resync reads: the driver's `FindCursor`, as far as the re-read takes it. */
export type ResyncCursor<D> = Closable & { next(): Promise<D | null> };

/**
 * What a status resync re-reads, and what it runs on: MongoStore's collections, held calls and logging. Each cursor is
 * opened under the bound and in the session it is given (`bound` carries the subscription's signal, and `maxTimeMS`
 * {@link SCAN_BOUND}'s 10 min).
 */
export interface StatusResyncReads<S extends object> {
  /** The store's unbounded calls, which hold what a read leaves running and end its session after it. */
  readonly calls: UnboundedCalls;
  /** Starts the explicit session one cursor's read runs in (not causally consistent, as an implicit one), and ends it. */
  readonly session: { readonly start: () => S; readonly end: (session: S) => Promise<unknown> };
  /** The purge records written since the window's start (`purgedSinceFilter`), `instanceId` an instance key. */
  readonly purges: (bound: CursorBound, session: S) => ResyncCursor<{ readonly instanceId: string }>;
  /** The instances changed since the window's start (`changedSinceFilter`). */
  readonly changed: (bound: CursorBound, session: S) => ResyncCursor<ResyncInstanceDoc>;
  /** The instances of these keys. */
  readonly named: (keys: string[], bound: CursorBound, session: S) => ResyncCursor<ResyncInstanceDoc>;
  /** The state of an instance read; `undefined` (logged) when it does not decode. */
  readonly state: (doc: ResyncInstanceDoc) => InstanceState | undefined;
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
 * Each cursor is read as the store's other reads are ({@link UnboundedCalls.readInSession}), in an explicit session of
 * its own, ended only once what the read left running has settled: driver 7.8 ends the implicit session a cursor
 * started right after its `killCursors`, while a `getMore` still runs with its `lsid`. A subscriber that leaves
 * (`close()` stops the feeds first) ends the re-read at once, mid-`getMore` too: the cursor is closed, held, and the
 * `getMore` held, and nothing a late reply brings is decoded or emitted. A `getMore` that fails fails the re-read at
 * once with its error (mapped by `reads.mapError`), where driver 7.8 awaits its own `killCursors` first (through server
 * selection, up to `serverSelectionTimeoutMS` for a server a network error marked Unknown); that cleanup is held.
 *
 * @example
 * ```ts
 * const changes = statusResync(reads, ['order-1', 'order-2']); // their states, then a purge for each one gone
 * ```
 */
export function statusResync<S extends object>(reads: StatusResyncReads<S>, instanceIds?: readonly string[]): Observable<StatusChange> {
  return new Observable<StatusChange>((subscriber) => {
    /** Aborts once the subscriber left (or the re-read ended): the read under way gives up at once. */
    const left = new AbortController();
    const bound: CursorBound = { ...SCAN_BOUND, signal: left.signal };
    /** Reads a cursor to its end, each document to `each` as taken; false once the subscriber left. */
    const read = async <D>(open: (bound: CursorBound, session: S) => ResyncCursor<D>, each: (doc: D) => void): Promise<boolean> => {
      if (left.signal.aborted) return false;
      try {
        await reads.calls.readInSession(reads.session.start, reads.session.end, bound, open, (docs) =>
          eachOf(docs as CursorDocuments<D>, (doc) => {
            if (!left.signal.aborted) each(doc);
          }));
      } catch (error) {
        if (left.signal.aborted) return false;
        throw error;
      }
      return !left.signal.aborted;
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
        if (!await read(reads.purges, (d) => void purged.push(instanceIdOfKey(d.instanceId)))) return;
        candidates = purged;
        if (!await read(reads.changed, emit)) return;
      }
      // The candidates' current state (an instance purged and started anew since is not a purge), in batches.
      const unique = [...new Set(candidates)];
      for (let i = 0; i < unique.length; i += RESYNC_ID_BATCH) {
        const keys = unique.slice(i, i + RESYNC_ID_BATCH).map(instanceKey);
        if (!await read((given, session) => reads.named(keys, given, session), emit)) return;
      }
      for (const purge of purgedDuringGap(unique, found)) {
        if (subscriber.closed) return;
        subscriber.next(purge);
      }
      subscriber.complete();
    }).catch((error: unknown) => subscriber.error(reads.mapError(error)));
    // The store's close stops the feeds first: so it ends the re-read too, what it leaves running held.
    return () => left.abort(new DOMException('the status resync\u2019s subscriber left', 'AbortError'));
  });
}
