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
 * and the stream starts after it (a `status$` that never shows the completion another process just committed). So
 * the gossiped time is never used. Opening at a time known to be majority-committed leaves no such gap; the changes
 * between it and the present are delivered again, and subscribers keep the newest `version`.
 *
 * The majority-committed times come from four places (see {@link majorityTimeSource} for which deployment uses which):
 * - `hello` replies of replica-set members (`lastWrite.majorityOpTime`), on every heartbeat of the driver's monitor;
 * - replies to majority reads (their `operationTime`), which the store issues at connect and then every heartbeat
 *   interval where `hello` carries no `lastWrite` (a `mongos`, or servers behind a load balancer, which the driver
 *   does not monitor at all);
 * - this process's own transactions committed with `w: 'majority'` (their `operationTime`);
 * - the changes its streams deliver (their `clusterTime`): a stream delivers only majority-committed changes, and a
 *   read made on hearing one must not use an older time (after a failover, the heartbeats may not have caught up).
 */
export class ClusterClock {
  #majority: Timestamp | undefined;

  /** Where a stream opens now: the latest majority-committed time seen, or none (the server's present). */
  get streamStart(): Timestamp | undefined {
    return this.#majority;
  }

  /**
   * The time a read that answers a caller waits for (`afterClusterTime` of its causally consistent session): the same
   * latest majority-committed time, which is at or after every commit this process made, so such a read reflects all
   * of them (read-your-writes), and which a healthy primary has already reached, so the read does not wait.
   */
  get readsAfter(): Timestamp | undefined {
    return this.#majority;
  }

  /** Takes the majority-committed time a `hello` reply carries (`lastWrite.majorityOpTime`), when later than the one known. */
  observe(reply: Document | undefined): void {
    this.observeMajority(majorityTimeOf(reply));
  }

  /**
   * Takes a time known to be majority-committed: the `operationTime` of a commit acknowledged by a majority, or of a
   * read with `majority` read concern ({@link majorityReadTimeOf}).
   */
  observeMajority(time: Timestamp | undefined): void {
    this.#majority = later(this.#majority, time);
  }
}

/**
 * Where a deployment tells this process its majority-committed time, judged from the `hello` reply at connect:
 * `'heartbeats'` when the reply carries `lastWrite.majorityOpTime` (a replica-set member: every heartbeat carries it);
 * `'majority-reads'` when it does not (a `mongos` answers `hello` without `lastWrite`, and behind a load balancer the
 * driver sends no heartbeats), so the store has to ask with a majority read ({@link majorityProbe}) at connect and
 * then once per heartbeat interval: without that the time would move only when this process commits, and a process
 * that mostly reads would open its streams at its last commit, however old.
 *
 * @example
 * ```ts
 * majorityTimeSource({ setName: 'rs0', lastWrite: { majorityOpTime: { ts, t: 1 } } }); // 'heartbeats'
 * majorityTimeSource({ isWritablePrimary: true, msg: 'isdbgrid' });                    // 'majority-reads'
 * ```
 */
export function majorityTimeSource(hello: Document): 'heartbeats' | 'majority-reads' {
  return majorityTimeOf(hello) ? 'heartbeats' : 'majority-reads';
}

/**
 * The cheap majority read that tells a sharded deployment's majority-committed time: at most one `_id` of
 * `collection`, with `majority` read concern, in a single batch (no cursor left open). It must reach a shard: a
 * `mongos` answers a command that touches no shard with its own newest cluster time as `operationTime`, which is not
 * majority-committed. Every reply carries an `operationTime`; for a majority read a shard sets it to its majority
 * commit point, and a `mongos` passes on the newest of those among the shards the read reached.
 *
 * @example
 * ```ts
 * const reply = await db.command(majorityProbe('drx_instances'), { signal: AbortSignal.timeout(10_000) });
 * clock.observeMajority(majorityReadTimeOf(reply));
 * ```
 */
export function majorityProbe(collection: string): Document {
  return { find: collection, filter: {}, projection: { _id: 1 }, limit: 1, singleBatch: true, readConcern: { level: 'majority' } };
}

/**
 * The `operationTime` of a reply to a read with `majority` read concern ({@link majorityProbe}): the server's
 * majority commit point when it read.
 *
 * @example
 * ```ts
 * majorityReadTimeOf({ ok: 1, cursor: { ... }, operationTime: new Timestamp({ t: 1700000000, i: 1 }) }); // that Timestamp
 * ```
 */
export function majorityReadTimeOf(reply: Document | undefined): Timestamp | undefined {
  const time: unknown = reply?.['operationTime'];
  return isTimestamp(time) ? time : undefined;
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
