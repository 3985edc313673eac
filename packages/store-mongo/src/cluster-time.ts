import type { Document, Timestamp } from 'mongodb';

/**
 * The latest operation time of the deployment this process has seen, kept from every server reply it gets (the
 * `$clusterTime` of heartbeats and of its own transactions). A change feed opens there, so a change committed after
 * the moment of subscribing is never missed (every later write gets a later time), without making any operation wait
 * for the stream to open.
 */
export class ClusterClock {
  #latest: Timestamp | undefined;

  /** The latest time seen, if any. */
  get latest(): Timestamp | undefined {
    return this.#latest;
  }

  /** Takes the time a server reply carries, if it is later than the latest one. */
  observe(reply: Document | undefined): void {
    const time = clusterTimeOf(reply);
    if (time && (!this.#latest || compareTimestamps(time, this.#latest) > 0)) this.#latest = time;
  }
}

/**
 * The cluster time a server reply carries: its `$clusterTime.clusterTime`, else its `operationTime`.
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

/** Orders two BSON timestamps: seconds, then the increment. */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.t - b.t || a.i - b.i;
}

function isTimestamp(value: unknown): value is Timestamp {
  return typeof value === 'object' && value !== null && (value as { _bsontype?: unknown })._bsontype === 'Timestamp';
}
