import type { PurgedSnapshot, StatusChange } from '@durable-rx/runtime/store-kit';
import type { Document, Timestamp } from 'mongodb';
import { Buffer } from 'node:buffer';
import { decodeInstanceState, EPOCH, NEVER, purgeMarkOf } from './documents.js';
import { MongoStoreError } from './errors/mongo-store-error.js';
import type { CollectionNames } from './indexes.js';
import { instanceIdOfKey, instanceKey } from './instance-key.js';
import { STORE_KEY } from './queries.js';

/**
 * Change-stream pipelines and the pure mapping from change events to what the store's observables emit.
 *
 * Why the snapshot is complete: MongoStore writes a status change only by inserting or replacing the instance
 * document, or by an update that `$set`s its `state` field, inside the commit's transaction. An insert or replace
 * event carries the document that very operation wrote (`fullDocument`, from the oplog entry), and an update event
 * carries the new value of every field it set (`updateDescription.updatedFields`); so each event carries the snapshot
 * it committed — unlike `fullDocument: 'updateLookup'`, which reads the document when the event is sent and can skip
 * intermediate states. Bookkeeping updates (leases, queue heads) leave `state` alone and the status pipeline leaves
 * them out; no pre/post-image configuration of the collection is needed.
 *
 * One bookkeeping write comes in either shape: a claim's lease write is a pipeline update (`claimLeaseUpdate`), and
 * MongoDB logs a pipeline update as a whole-document replacement, so that a change stream reports it as `replace` with
 * the whole document, not `update`, before 5.0 (4.4 writes no delta oplog entries; 5.0 writes them only at feature
 * compatibility version 5.0) and, on any version, when the delta would not be smaller than the document. Such a
 * replace holds a lease, which no replace of a new snapshot does (`instanceDoc` writes a free one): see
 * {@link replacesSnapshot}, the rule of both pipelines and both readers.
 *
 * A delete event names the key alone (its pre-image, `fullDocumentBeforeChange`, needs `changeStreamPreAndPostImages`
 * enabled on the collection, which stores a copy of the document before every step's update). So a purge first
 * `$set`s a mark on the document, the execution and version of the snapshot it deletes (`purgeMarkOf`), then deletes
 * it, in its transaction: the status feed takes the mark from that update's event and gives it to the delete that
 * follows (`PurgeMarks`), whose change then names the snapshot the purge deleted (`StatusChange.purged`).
 */

/** The part of a change event the store reads. */
export type ChangeEventLike = {
  /** The resume token. */
  readonly _id: unknown;
  readonly operationType: string;
  readonly documentKey?: { readonly _id?: unknown };
  readonly fullDocument?: { readonly state?: unknown; readonly input?: unknown; readonly due?: unknown; readonly leaseToken?: unknown };
  readonly updateDescription?: {
    readonly updatedFields?: {
      readonly state?: unknown; readonly input?: unknown; readonly claimAt?: unknown; readonly handoff?: unknown; readonly purged?: unknown;
    };
  };
  readonly ns?: { readonly coll?: string };
  /**
   * When the change was committed: every change a stream delivers is majority-committed, so it is such a time (see
   * `ClusterClock`). Kept by both pipelines' projections.
   */
  readonly clusterTime?: Timestamp;
};

/**
 * Whether a `replace` event carries a snapshot the store committed: the document it wrote holds no lease. A new
 * snapshot is written whole only by a commit's `replaceOne` of a new execution, whose document always has a free lease
 * (`instanceDoc`); a replace that holds a lease is a claim's lease write logged whole (a pipeline update: before
 * MongoDB 5.0, or when its delta would not be smaller than the document), which leaves the state as it was. Such a
 * replace is no status change, and it wakes nobody: a claim takes the instance, and on 5.0+ its update event (a token,
 * not a release) passes neither pipeline either. {@link REPLACED_SNAPSHOT} is the same rule as a `$match` clause.
 * `false` for every other event.
 *
 * @example
 * ```ts
 * replacesSnapshot({ operationType: 'replace', fullDocument: { state, leaseToken: null } }); // true: a new execution
 * replacesSnapshot({ operationType: 'replace', fullDocument: { state, leaseToken: 't1' } }); // false: a claim on MongoDB 4.4
 * ```
 */
export function replacesSnapshot(event: ChangeEventLike): boolean {
  return event.operationType === 'replace' && (event.fullDocument?.leaseToken ?? null) === null;
}

/**
 * {@link replacesSnapshot} as a change stream's `$match` clause (a `null` equality matches a missing field too), so the
 * server drops a claim's replace before it sends it: on MongoDB 4.4 every claim is one, carrying the whole document
 * (state and input).
 */
export const REPLACED_SNAPSHOT = { operationType: 'replace', 'fullDocument.leaseToken': null } as const;

/**
 * The pipeline of the status feed (on the instances collection): inserts, replaces of a new snapshot
 * ({@link replacesSnapshot}), deletes, updates that set a new snapshot and the purge marks set before a delete
 * (`purgeMarkOf`) of a document whose `_id` is a string, projected to the snapshot text, the mark and the key;
 * invalidations pass so the feed can restart after them. With `keys`, only the changes of those instances (by stored
 * key): the server filters, not every process.
 */
export function statusPipeline(keys?: readonly string[]): Document[] {
  const changes = {
    $or: [
      { operationType: { $in: ['insert', 'delete'] } },
      REPLACED_SNAPSHOT,
      { operationType: 'update', 'updateDescription.updatedFields.state': { $exists: true } },
      { operationType: 'update', 'updateDescription.updatedFields.purged': { $exists: true } },
    ],
  };
  // The watched keys, or any key this store writes (the rule of every scan, `storeKeyed`): the changes of a document
  // another program keeps under an ObjectId `_id` do not reach the process, to be logged there as unreadable.
  const mine = { $and: [{ 'documentKey._id': keys ? { $in: [...keys] } : STORE_KEY._id }, changes] };
  return [
    { $match: { $or: [mine, { operationType: 'invalidate' }] } },
    {
      $project: {
        operationType: 1, clusterTime: 1, documentKey: 1, 'fullDocument.state': 1, 'fullDocument.input': 1, 'fullDocument.leaseToken': 1,
        'updateDescription.updatedFields.state': 1, 'updateDescription.updatedFields.input': 1, 'updateDescription.updatedFields.purged': 1,
      },
    },
  ];
}

/**
 * The pipeline of the wake-up feed (on the database): new messages and activity tasks, activity leases released
 * without a completion, and instances whose lease was released with visible messages left (an abandon, or a commit
 * that leaves messages behind: both set a fresh `handoff`), so that any process's worker takes them at once; and
 * instances whose lease a commit released leaving only a message due later (a durable timer, a retry back-off: the
 * lease freed, `claimAt` between EPOCH and NEVER), so that every process learns when to claim it
 * ({@link wakeSignalOf}), not only the one that committed. A commit that leaves nothing to claim wakes nobody. Of a
 * new message, the event carries its due time (`fullDocument.due` alone, not its text).
 *
 * Every write it matches is a `$set` or an insert, which MongoDB reports in the same shape on every version. No replace
 * of an instance wakes anyone: a new execution's `replaceOne` comes with the insert of its messages, which wakes, and a
 * claim's lease write (a pipeline update, reported as a replace before MongoDB 5.0: {@link replacesSnapshot}) takes a
 * lease, as its update event on 5.0+ does, which this pipeline leaves out too.
 */
export function wakePipeline(names: CollectionNames): Document[] {
  return [
    {
      $match: {
        $or: [
          { operationType: 'insert', 'ns.coll': { $in: [names.messages, names.activityTasks] } },
          { operationType: 'update', 'ns.coll': names.activityTasks, 'updateDescription.updatedFields.leaseToken': { $type: 'null' } },
          { operationType: 'update', 'ns.coll': names.instances, 'updateDescription.updatedFields.handoff': { $exists: true } },
          {
            operationType: 'update', 'ns.coll': names.instances, 'updateDescription.updatedFields.leaseToken': { $type: 'null' },
            'updateDescription.updatedFields.claimAt': { $gt: EPOCH, $lt: NEVER },
          },
          { operationType: 'invalidate' },
        ],
      },
    },
    {
      $project: {
        operationType: 1, clusterTime: 1, 'ns.coll': 1, 'fullDocument.due': 1, 'updateDescription.updatedFields.claimAt': 1, 'updateDescription.updatedFields.handoff': 1,
      },
    },
  ];
}

/**
 * What one wake-up feed event tells a worker: `true`, work may be claimable now (claim at once); `undefined`, nothing
 * (a replace: see {@link wakePipeline}, which lets none through); or the time at which an instance becomes claimable,
 * from the `claimAt` a commit wrote when it released its lease leaving only a message due later (arm a wake-up for
 * then, no read needed). So if the committing process stops, the others still claim the
 * timer when it comes due, not up to a lease length later when something else wakes them. A new message due later (a
 * timer a step scheduled, a retry back-off, a scheduled start) is the time it is due too: it makes nothing claimable
 * before then, so a step that schedules a thousand timers arms one wake-up in each process instead of sending each of
 * their workers into a round of claims that finds nothing.
 *
 * @example
 * ```ts
 * wakeSignalOf({ operationType: 'insert', ns: { coll: 'messages' }, fullDocument: { due: EPOCH } });  // true
 * wakeSignalOf({ operationType: 'insert', ns: { coll: 'messages' }, fullDocument: { due: fireAt } }); // fireAt
 * wakeSignalOf({ operationType: 'update', updateDescription: { updatedFields: { claimAt: fireAt } } }); // fireAt
 * ```
 */
export function wakeSignalOf(event: ChangeEventLike): true | Date | undefined {
  if (event.operationType === 'replace') return undefined;
  if (event.operationType === 'insert') return laterTime(event.fullDocument?.due) ?? true;
  const fields = event.updateDescription?.updatedFields;
  if (event.operationType !== 'update' || !fields || fields.handoff !== undefined) return true;
  return laterTime(fields.claimAt) ?? true;
}

/** `value` when it is a time after EPOCH and before NEVER (a wake-up to arm), else undefined (wake at once). */
function laterTime(value: unknown): Date | undefined {
  return value instanceof Date && value > EPOCH && value < NEVER ? value : undefined;
}

/** Default largest number of instances one process's per-instance status stream names in its `$match`. */
export const DEFAULT_MAX_WATCHED_INSTANCES = 1000;

/**
 * Most bytes the keys a per-instance stream's `$match` names may take in its `aggregate` command (4 MiB, counted as
 * BSON array elements, {@link watchFilterBytes}); past it the stream names no instance, as past `maxWatchedInstances`.
 *
 * Why: MongoDB refuses a command document over 16 MiB (plus 16 KiB of its own), and the whole pipeline travels in
 * the command that opens the stream and in each that reopens it. `maxWatchedInstances` counts ids, not bytes: an id is
 * up to 256 UTF-16 code units, so its key is up to 768 bytes of UTF-8 (1,027 in the escaped form of `instanceKey`),
 * and a bound of 30,000 with such ids made a `$match` of over 16 MiB: every open of the stream failed, and each
 * failure reopened it with the same pipeline. The default bound (1,000) stays near 1 MiB whatever the ids; 4 MiB leaves room for the rest of the command, the key kept to resume (`matchKeysFor`) and the
 * server's own copies of the filter.
 */
export const MAX_WATCH_FILTER_BYTES = 4 * 1024 * 1024;

/**
 * The BSON size of `keys` as the elements of an array (a type byte, the index as a C string, the string's length,
 * its UTF-8 bytes and a NUL each): what they add to the `$in` of a per-instance stream's `$match`.
 *
 * @example
 * ```ts
 * watchFilterBytes(['a', 'b']); // 18: 2 × (1 + 2 + 4 + 1 + 1)
 * ```
 */
export function watchFilterBytes(keys: Iterable<string>): number {
  let bytes = 0;
  let index = 0;
  for (const key of keys) {
    bytes += 1 + String(index).length + 1 + 4 + Buffer.byteLength(key, 'utf8') + 1;
    index++;
  }
  return bytes;
}

/**
 * The keys the per-instance status stream should match: the watched ones, or `undefined` (every instance, filtered
 * in the process) when there are more than `max` or when they take more than `maxBytes` ({@link MAX_WATCH_FILTER_BYTES})
 * in the command that opens the stream.
 *
 * @example
 * ```ts
 * watchFilterFor(new Set(['a', 'b']), 1000); // ['a', 'b']
 * watchFilterFor(new Set(['a', 'b']), 1);    // undefined
 * watchFilterFor(twentyThousandLongIds, 100_000); // undefined: over 4 MiB of keys
 * ```
 */
export function watchFilterFor(keys: ReadonlySet<string>, max: number, maxBytes = MAX_WATCH_FILTER_BYTES): readonly string[] | undefined {
  return keys.size <= max && watchFilterBytes(keys) <= maxBytes ? [...keys].sort() : undefined;
}

/**
 * The keys a per-instance stream's `$match` names when it is (re)opened: the watched ones (`filter`; `undefined`, every
 * instance, stays so), plus the instance of `resumeEvent`, the event it resumes after by that event's own token. From
 * MongoDB 6.0 the server filters the oplog with the `$match` before it looks for the resume token, so a stream
 * reopened for other instances (the one that event was about no longer watched) would not find its token and fail
 * with ChangeStreamFatalError 280: a lost position, a resync, an error logged, for nothing. Its later changes pass the
 * `$match` too until the next reopen; they are dropped before they are decoded (`concernsWatched`).
 *
 * @example
 * ```ts
 * matchKeysFor(['b'], { operationType: 'update', documentKey: { _id: 'a' }, ... }); // ['b', 'a']
 * matchKeysFor(['b'], undefined);                                                    // ['b']
 * ```
 */
export function matchKeysFor(filter: readonly string[] | undefined, resumeEvent: ChangeEventLike | undefined): readonly string[] | undefined {
  const key = resumeEvent?.documentKey?._id;
  if (filter === undefined || typeof key !== 'string' || filter.includes(key)) return filter;
  return [...filter, key];
}

/** True when a stream opened with `filter` (`undefined`: every instance) delivers the changes of `key`. */
export function filterCovers(filter: readonly string[] | undefined, key: string): boolean {
  return filter === undefined || filter.includes(key);
}

/**
 * Whether the per-instance status stream should read `event` (decode its snapshot, read the input it lacks): only when
 * the event's instance is watched now; an event without a string key (an invalidation, say) is read as it comes. Past
 * `maxWatchedInstances` the stream carries every instance, its `$match` names the instance `matchKeysFor` kept only to
 * resume, and it names instances unwatched since it opened (a watch that ends reopens it only when it names none, see
 * `narrowsStream`): the events of
 * those are dropped here, not decoded (their input read) only for the router to drop them. A watcher that comes after
 * such an event loses nothing: its instance is counted as watched before its first read, which sees that commit.
 *
 * @example
 * ```ts
 * concernsWatched({ operationType: 'update', documentKey: { _id: 'a' }, ... }, (id) => id === 'b'); // false
 * concernsWatched({ operationType: 'update', documentKey: { _id: 'a' }, ... }, (id) => id === 'a'); // true
 * ```
 */
export function concernsWatched(event: ChangeEventLike, isWatched: (instanceId: string) => boolean): boolean {
  const key = event.documentKey?._id;
  return typeof key !== 'string' || isWatched(instanceIdOfKey(key));
}

/** True for the event after which the server closes a change stream (collection or database dropped or renamed). */
export function isInvalidation(event: ChangeEventLike): boolean {
  return event.operationType === 'invalidate';
}

/** Default heap budget of an {@link InputCache}: 32 MiB of input text (and keys) per store. */
export const DEFAULT_INPUT_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * The largest input an {@link InputCache} keeps by default: 256 KiB of heap (128 Ki UTF-16 code units). A larger one is
 * read again on every miss rather than let a few of them fill the budget; it is over 128 KiB of UTF-8 too (a code unit
 * takes at least one byte), so that read is one of its own, never part of a batch (`InputReads`).
 */
export const DEFAULT_MAX_CACHED_INPUT_BYTES = 256 * 1024;

/** What one cache entry costs besides its strings: the map entry and its record (an estimate, on the high side). */
const ENTRY_OVERHEAD_BYTES = 128;

/**
 * The inputs of recently seen instances, by key, for the execution they belong to. A step's update event carries the
 * new status snapshot but not the input (which the step does not rewrite); the input comes from here, filled by the
 * insert, replace and input-changing update events the feed sees, or by a read on a miss.
 *
 * Bounded by bytes, not entries: an input may be up to 15 MiB (`MAX_PAYLOAD_BYTES`) and every insert of the whole
 * deployment passes through a process that subscribes to `changes$`, so a bound of 10,000 entries could hold
 * gigabytes. The entries' heap cost (each string's length × 2, the most a V8 string takes per UTF-16 code unit, plus a
 * fixed overhead; counted without scanning the text) stays within `maxBytes`, the least recently used going first; an
 * input over `maxEntryBytes` is not kept at all (a later miss reads it again, in the loader's batched read).
 */
export class InputCache {
  readonly #entries = new Map<string, { readonly executionId: string; readonly input: string; readonly bytes: number }>();
  #bytes = 0;

  constructor(readonly maxBytes = DEFAULT_INPUT_CACHE_BYTES, readonly maxEntryBytes = DEFAULT_MAX_CACHED_INPUT_BYTES) {}

  /** The input of `key` for `executionId`, or `undefined` when not known. */
  get(key: string, executionId: string): string | undefined {
    const entry = this.#entries.get(key);
    if (!entry || entry.executionId !== executionId) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.input;
  }

  /**
   * Remembers `input` for `key`'s `executionId` (replacing what was kept for the key), unless its heap (2 bytes per
   * UTF-16 code unit) is over `maxEntryBytes`; then evicts the least recently used entries until within `maxBytes`.
   */
  set(key: string, executionId: string, input: string): void {
    this.delete(key);
    if (2 * input.length > this.maxEntryBytes) return;
    const bytes = inputCacheEntryBytes(key, executionId, input);
    this.#entries.set(key, { executionId, input, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The heap the entries are counted as taking (see {@link inputCacheEntryBytes}); at most `maxBytes`. */
  get bytes(): number {
    return this.#bytes;
  }
}

/**
 * What an {@link InputCache} entry is counted as taking: its three strings at 2 bytes per UTF-16 code unit (the most
 * V8 stores per unit; Latin-1 text takes half) and a fixed overhead. O(1): the text is not scanned.
 *
 * @example
 * ```ts
 * inputCacheEntryBytes('a', 'e', '{}'); // 128 + 2 × (1 + 1 + 2) = 136
 * ```
 */
export function inputCacheEntryBytes(key: string, executionId: string, input: string): number {
  return ENTRY_OVERHEAD_BYTES + 2 * (key.length + executionId.length + input.length);
}

/**
 * The purge marks (`purgeMarkOf`) one status feed has read and whose delete it has not read yet, by key. A purge's
 * transaction sets the mark, then deletes the document, and the feed delivers the two events in that order: the
 * delete takes the mark (`readStatusEvent`), so its change names the snapshot the purge deleted. One per feed (both
 * status feeds read the same events, each its own copy). Bounded: a mark whose delete never comes (the stream lost its
 * position between the two, and the resync reports the purge) goes once `capacity` newer marks came.
 */
export class PurgeMarks {
  readonly #marks = new Map<string, PurgedSnapshot>();

  constructor(readonly capacity = 1_000) {}

  set(key: string, snapshot: PurgedSnapshot): void {
    this.#marks.delete(key);
    this.#marks.set(key, snapshot);
    if (this.#marks.size > this.capacity) this.#marks.delete(this.#marks.keys().next().value as string);
  }

  /** The mark of `key`, removed; `undefined` when none was read (a purge by an earlier MongoStore, which sets none). */
  take(key: string): PurgedSnapshot | undefined {
    const mark = this.#marks.get(key);
    this.#marks.delete(key);
    return mark;
  }

  get size(): number {
    return this.#marks.size;
  }
}

/** What a status-feed event says, read with the input cache. */
export type StatusEventReading =
  | { readonly kind: 'change'; readonly change: StatusChange }
  /** A snapshot whose input is not known here: read the instance's input for `executionId`, then {@link withInput}. */
  | { readonly kind: 'needs-input'; readonly key: string; readonly executionId: string; readonly stateText: string }
  | { readonly kind: 'none' };

/**
 * Reads a status-feed event: the committed snapshot (with its input) of an insert, a replace of a new snapshot
 * ({@link replacesSnapshot}; a claim's replace is nothing) or a state update, a purge (`state: undefined`) for a
 * delete, naming the snapshot it deleted when `marks` holds the mark the purge set just before (`purged`), nothing for
 * other events (a purge mark is kept in `marks`). Keeps `inputs` up to date. Throws `MongoStoreError` for an
 * insert/replace of a new snapshot without one (a document MongoStore did not write).
 *
 * @example
 * ```ts
 * readStatusEvent({ _id: token, operationType: 'update', documentKey: { _id: 'a' }, updateDescription: { updatedFields: { purged: { executionId: 'e', version: 3 } } } }, inputs, marks);
 * // { kind: 'none' }
 * readStatusEvent({ _id: token, operationType: 'delete', documentKey: { _id: 'a' } }, inputs, marks);
 * // { kind: 'change', change: { instanceId: 'a', state: undefined, purged: { executionId: 'e', version: 3 } } }
 * ```
 */
export function readStatusEvent(event: ChangeEventLike, inputs: InputCache, marks?: PurgeMarks): StatusEventReading {
  switch (event.operationType) {
    case 'insert':
    case 'replace': {
      // A replace holding a lease is a claim's lease write logged whole (MongoDB 4.4): its state is the one delivered.
      if (event.operationType === 'replace' && !replacesSnapshot(event)) return { kind: 'none' };
      const text = event.fullDocument?.state;
      if (typeof text !== 'string') {
        throw new MongoStoreError(`A ${event.operationType} event of the instances collection carries no status snapshot`);
      }
      const input = typeof event.fullDocument?.input === 'string' ? event.fullDocument.input : '';
      const state = decodeInstanceState(text, input);
      inputs.set(instanceKey(state.instanceId), state.executionId, input);
      return { kind: 'change', change: { instanceId: state.instanceId, state } };
    }
    case 'update': {
      const fields = event.updateDescription?.updatedFields;
      const text = fields?.state;
      if (typeof text !== 'string') {
        // A purge's mark (the delete comes next), or bookkeeping only (the pipeline normally leaves these out).
        const key = event.documentKey?._id;
        const mark = isRecord(fields?.purged) ? purgeMarkOf(fields.purged) : undefined;
        if (mark && typeof key === 'string') marks?.set(key, mark);
        return { kind: 'none' };
      }
      const bare = decodeInstanceState(text);
      const key = instanceKey(bare.instanceId);
      if (typeof fields?.input === 'string') inputs.set(key, bare.executionId, fields.input);
      const input = inputs.get(key, bare.executionId);
      if (input === undefined) return { kind: 'needs-input', key, executionId: bare.executionId, stateText: text };
      return { kind: 'change', change: { instanceId: bare.instanceId, state: decodeInstanceState(text, input) } };
    }
    case 'delete': {
      const key = event.documentKey?._id;
      if (typeof key !== 'string') throw new MongoStoreError('A delete event of the instances collection has no instance id');
      inputs.delete(key);
      const purged = marks?.take(key);
      return { kind: 'change', change: { instanceId: instanceIdOfKey(key), state: undefined, ...(purged ? { purged } : {}) } };
    }
    default:
      return { kind: 'none' };
  }
}

/**
 * Completes a `needs-input` reading with what the instance's document holds now: its input when it still runs that
 * execution (remembered for the next events), otherwise none (the snapshot of an execution that was replaced
 * meanwhile; its input is gone).
 */
export function withInput(
  reading: Extract<StatusEventReading, { kind: 'needs-input' }>, stored: { readonly executionId?: string; readonly input?: string } | null,
  inputs: InputCache,
): StatusChange {
  const input = stored?.executionId === reading.executionId ? stored.input ?? '' : '';
  if (stored?.executionId === reading.executionId) inputs.set(reading.key, reading.executionId, input);
  const state = decodeInstanceState(reading.stateText, input);
  return { instanceId: state.instanceId, state };
}

/**
 * Maps a status-feed event to its change when no input lookup is needed (see {@link readStatusEvent}); for tests and
 * tools that look at single events.
 */
export function toStatusChange(event: ChangeEventLike, inputs: InputCache = new InputCache(), marks?: PurgeMarks): StatusChange | undefined {
  const reading = readStatusEvent(event, inputs, marks);
  switch (reading.kind) {
    case 'change':
      return reading.change;
    case 'needs-input':
      return withInput(reading, null, inputs);
    case 'none':
      return undefined;
  }
}

/**
 * The purges a status resync reports, the one rule of both status feeds: a `state: undefined` change, once, for each
 * candidate the re-read did not find. The candidates are the ids a subscriber may still show: for the per-instance
 * feed every watched id, for `changes$` every id purged since the feed was last healthy (the purge records). A
 * candidate that exists again (purged, then started anew) was found, and its new state says enough; for an id that
 * never existed a purge says nothing new.
 *
 * @example
 * ```ts
 * purgedDuringGap(['a', 'b', 'b'], new Set(['a'])); // [{ instanceId: 'b', state: undefined }]
 * ```
 */
export function purgedDuringGap(candidates: Iterable<string>, found: ReadonlySet<string>): StatusChange[] {
  const purged: StatusChange[] = [];
  for (const instanceId of new Set(candidates)) if (!found.has(instanceId)) purged.push({ instanceId, state: undefined });
  return purged;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
