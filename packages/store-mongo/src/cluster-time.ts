import type { Document, Timestamp } from 'mongodb';

/**
 * Where this process's change streams open: an operation time such that every change a read cannot see yet is at or
 * after it. A change feed opens there, so a change committed after the moment of subscribing is never missed, without
 * making any operation wait for the stream to open.
 *
 * Why a majority-committed time and not the latest cluster time: MongoStore reads with `majority` read concern, so a
 * read right after subscribing sees every write up to the deployment's majority commit point, and no further. The
 * latest cluster time (`$clusterTime`, gossiped in every reply) is the primary's newest time, ahead of that point by
 * the replication lag. A stream opened there would skip a write committed in between: the read does not see it yet,
 * and the stream starts after it (a `status$` that never shows the completion another process just committed).
 * Opening at a time known to be majority-committed leaves no such gap; the few changes between it and the present
 * are delivered again, and subscribers keep the newest `version`.
 *
 * The majority-committed times come from `hello` replies (`lastWrite.majorityOpTime`, on every replica-set member's
 * heartbeat) and from this process's own transactions committed with `w: 'majority'` (their `operationTime`). A
 * deployment whose replies carry neither (a `mongos` before this process committed anything) falls back to the
 * latest cluster time seen.
 */
export class ClusterClock {
  #majority: Timestamp | undefined;
  #gossip: Timestamp | undefined;

  /** Where a stream opens now: the latest majority-committed time seen, else the latest cluster time, else none. */
  get streamStart(): Timestamp | undefined {
    return this.#majority ?? this.#gossip;
  }

  /** Takes the times a server reply carries (`lastWrite.majorityOpTime`, `$clusterTime`), when later than those known. */
  observe(reply: Document | undefined): void {
    this.observeMajority(majorityTimeOf(reply));
    this.#gossip = later(this.#gossip, clusterTimeOf(reply));
  }

  /** Takes a time known to be majority-committed (the `operationTime` of a commit acknowledged by a majority). */
  observeMajority(time: Timestamp | undefined): void {
    this.#majority = later(this.#majority, time);
  }
}

/**
 * The majority-committed operation time a `hello` reply of a replica-set member carries (`lastWrite.majorityOpTime.ts`).
 *
 * @example
 * ```ts
 * majorityTimeOf({ setName: 'rs0', lastWrite: { majorityOpTime: { ts: new Timestamp({ t: 1700000000, i: 1 }), t: 1 } } }); // that Timestamp
 * ```
 */
export function majorityTimeOf(reply: Document | undefined): Timestamp | undefined {
  const lastWrite = reply?.['lastWrite'] as Document | undefined;
  const opTime = lastWrite?.['majorityOpTime'] as Document | undefined;
  const ts: unknown = opTime?.['ts'];
  return isTimestamp(ts) ? ts : undefined;
}

/**
 * The cluster time a server reply carries: its `$clusterTime.clusterTime`, else its `operationTime`. (Not
 * necessarily majority-committed: see {@link ClusterClock}.)
 *
 * @example
 * ```ts
 * clusterTimeOf({ ok: 1, $clusterTime: { clusterTime: new Timestamp({ t: 1700000000, i: 1 }) } }); // that Timestamp
 * ```
 */
export function clusterTimeOf(reply: Document | undefined): Timestamp | undefined {
  const candidates: unknown[] = [(reply?.['$clusterTime'] as Document | undefined)?.['clusterTime'], reply?.['operationTime']];
  for (const candidate of candidates) if (isTimestamp(candidate)) return candidate;
  return undefined;
}

/**
 * True when a write concern makes a commit wait for a majority, so the commit's `operationTime` is majority-committed
 * once it returns.
 *
 * @example
 * ```ts
 * isMajorityWriteConcern({ w: 'majority' }); // true
 * isMajorityWriteConcern({ w: 1 });          // false
 * ```
 */
export function isMajorityWriteConcern(writeConcern: { readonly w?: unknown } | undefined): boolean {
  return writeConcern?.w === 'majority';
}

/** Orders two BSON timestamps: seconds, then the increment. */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.t - b.t || a.i - b.i;
}

function later(known: Timestamp | undefined, seen: Timestamp | undefined): Timestamp | undefined {
  return seen && (!known || compareTimestamps(seen, known) > 0) ? seen : known;
}

function isTimestamp(value: unknown): value is Timestamp {
  return typeof value === 'object' && value !== null && (value as { _bsontype?: unknown })._bsontype === 'Timestamp';
}
