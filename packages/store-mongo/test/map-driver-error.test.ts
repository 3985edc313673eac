import { InstanceNotFoundError, PayloadTooLargeError, StoreClosedError, UnavailableError } from '@durable-rx/runtime';
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import {
  MongoBulkWriteError, MongoClient, MongoNetworkError, MongoOperationTimeoutError, MongoServerClosedError, MongoServerError, MongoTopologyClosedError, MongoWriteConcernError, ObjectId,
  type BulkWriteResult, type WriteConcernError, type WriteConcernErrorData,
} from 'mongodb';
import { CommitOutcomeUnknownError } from '../src/errors/commit-outcome-unknown-error.js';
import { describe, expect, it } from 'vitest';
import { MongoStoreError } from '../src/errors/mongo-store-error.js';
import { StoreAuthenticationError } from '../src/errors/store-authentication-error.js';
import { StoreCacheFullError } from '../src/errors/store-cache-full-error.js';
import { StoreUnreachableError } from '../src/errors/store-unreachable-error.js';
import { instanceKey } from '../src/instance-key.js';
import { classifyDriverError, isDuplicateIdOf, mapCommitFailure, mapDriverError, mapReadTransactionError } from '../src/map-driver-error.js';
import {
  DEFAULT_TRANSACTION_OPTIONS, SINGLE_WRITE_CONCERN, snapshotReadOptions, TRANSACTION_MAJORITY_WAIT_MS, transactionOptionsFor,
} from '../src/write-concern.js';

/** A server error as the driver builds it from a server reply. */
const serverError = (code: number, codeName: string, errmsg = codeName) => new MongoServerError({ ok: 0, errmsg, code, codeName });

describe('driver error mapping', () => {
  it('maps refused credentials and missing privileges to StoreAuthenticationError, keeping the cause', () => {
    const auth = serverError(18, 'AuthenticationFailed', 'Authentication failed.');
    const mapped = mapDriverError(auth, 'opening the store');
    expect(mapped).toBeInstanceOf(StoreAuthenticationError);
    expect(mapped).toMatchObject({ code: 'store-auth-failed', status: 500, cause: auth });
    expect(mapped.message).toContain('opening the store');
    expect(classifyDriverError(serverError(13, 'Unauthorized', 'not authorized on db to execute command'))).toBe('auth');
  });

  it('finds an authentication failure inside a wrapping error', () => {
    const wrapped = new Error('connection failed', { cause: serverError(18, 'AuthenticationFailed') });
    expect(classifyDriverError(wrapped)).toBe('auth');
  });

  it('maps network errors to StoreUnreachableError (503)', () => {
    const network = new MongoNetworkError('connect ECONNREFUSED 10.0.0.1:27017');
    expect(mapDriverError(network, 'claiming')).toMatchObject({ code: 'store-unreachable', status: 503, cause: network });
    expect(mapDriverError(network, 'claiming')).toBeInstanceOf(StoreUnreachableError);
  });

  it('classifies a bulk write that failed on the network by the error it wraps (MongoBulkWriteError keeps it as errorResponse only)', () => {
    // As the driver throws it when a batch of a bulkWrite (releaseOwner, claimAt filling) loses its connection.
    const result = bulkResult([]);
    const network = new MongoNetworkError('connection reset');
    const bulk = new MongoBulkWriteError(network, result);
    expect(bulk.name).toBe('MongoBulkWriteError');
    expect(classifyDriverError(bulk)).toBe('unreachable');
    expect(mapDriverError(bulk, 'releasing leases')).toMatchObject({ code: 'store-unreachable', status: 503, cause: bulk });
    const closed = new MongoBulkWriteError(new MongoTopologyClosedError(), result);
    expect(classifyDriverError(closed)).toBe('closed');
    // A bulk write the server refused keeps its own code: a duplicate key is no network trouble.
    const duplicate = new MongoBulkWriteError({ message: 'E11000 duplicate key', code: 11000, writeErrors: [] }, result);
    expect(classifyDriverError(duplicate)).toBe('duplicate-key');
  });

  it('treats failover, pool-cleared and SRV lookup failures as unreachable, and Atlas bad auth as an auth failure', () => {
    expect(classifyDriverError(serverError(10107, 'NotWritablePrimary'))).toBe('unreachable');
    expect(classifyDriverError(serverError(189, 'PrimarySteppedDown'))).toBe('unreachable');
    // Every code the driver retries as a transient server state (its retryable read and write codes), still failing
    // after its one retry: a failover in progress, 503, never a 500 that an HTTP client would not retry. A majority
    // read refused by a new primary whose majority snapshot is not ready yet is one of them.
    for (const [code, codeName] of [
      [6, 'HostUnreachable'], [7, 'HostNotFound'], [89, 'NetworkTimeout'], [91, 'ShutdownInProgress'], [134, 'ReadConcernMajorityNotAvailableYet'],
      [262, 'ExceededTimeLimit'], [9001, 'SocketException'], [11600, 'InterruptedAtShutdown'], [11602, 'InterruptedDueToReplStateChange'],
      [13435, 'NotPrimaryNoSecondaryOk'], [13436, 'NotPrimaryOrSecondary'],
    ] as const) {
      expect(mapDriverError(serverError(code, codeName), 'reading'), codeName).toMatchObject({ code: 'store-unreachable', status: 503 });
    }
    // Of a commit, such an error leaves its outcome open (the driver labels no such error of commitTransaction's retry).
    expect(mapCommitFailure(serverError(134, 'ReadConcernMajorityNotAvailableYet'), 'committing', 'wrote')).toMatchObject({ code: 'commit-outcome-unknown' });
    expect(classifyDriverError(Object.assign(new Error('Connection pool was cleared'), { name: 'MongoPoolClearedError' }))).toBe('unreachable');
    const srv = Object.assign(new Error('querySrv ENOTFOUND _mongodb._tcp.nowhere.example'), { code: 'ENOTFOUND', syscall: 'querySrv' });
    expect(mapDriverError(srv, 'connecting')).toBeInstanceOf(StoreUnreachableError);
    const busy = Object.assign(new Error('Timed out while checking out a connection from connection pool'), { name: 'MongoWaitQueueTimeoutError' });
    expect(mapDriverError(busy, 'claiming')).toMatchObject({ code: 'store-unreachable', status: 503, message: expect.stringContaining('maxPoolSize') });
    expect(classifyDriverError(serverError(8000, 'AtlasError', 'bad auth : authentication failed'))).toBe('auth');
    expect(classifyDriverError(serverError(8000, 'AtlasError', 'some other Atlas failure'))).toBe('other');
  });

  it('maps an operation on a closed client to StoreClosedError (a real closed driver client)', async () => {
    const client = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 200 });
    await client.close();
    const error = await client.db('x').collection('y').findOne({}).then(() => undefined, (e: unknown) => e);
    expect(classifyDriverError(error)).toBe('closed');
    expect(mapDriverError(error, 'reading')).toBeInstanceOf(StoreClosedError);
  });

  it('maps a server that closed under an operation (it left the topology) to StoreUnreachableError, not StoreClosedError, which stops a worker for good', () => {
    // The driver closes a server and its pool when the server leaves the topology (sdam/topology.ts updateServers: a
    // member removed from the replica set or renamed, a mongos gone from the SRV record), not only when the client
    // closes. An operation that selected that server fails with MongoServerClosedError (server.ts command) or, waiting
    // for a connection of its pool, MongoPoolClosedError (cmap/connection_pool.ts). The client is open: the next call
    // selects another server. Read as "closed", the worker stopped (on `store-closed`) at a routine topology change.
    for (const error of [new MongoServerClosedError(), new driverCmap.PoolClosedError({ address: 'old-member:27017' })]) {
      expect(classifyDriverError(error), error.name).toBe('unreachable');
      const mapped = mapDriverError(error, 'claiming an orchestration work item');
      expect(mapped).toBeInstanceOf(StoreUnreachableError);
      expect(mapped).toMatchObject({ code: 'store-unreachable', status: 503, cause: error });
      expect(mapped).not.toBeInstanceOf(StoreClosedError); // code 'store-closed' is what stops a worker (isStoreClosed)
    }
    // Whereas a client that was closed is: its next operation fails with MongoNotConnectedError (next test).
    expect(mapDriverError(new MongoTopologyClosedError(), 'claiming')).toBeInstanceOf(StoreClosedError);
  });

  it('maps an operation an overloaded server shed (SystemOverloadedError, RetryableError) to StoreUnreachableError (503, nothing written), not a 500; a shed commit of a write stays unknown', () => {
    // The reply Atlas load shedding (and MongoDB 8.2's ingress rate limiter) sends, as the driver builds the error from
    // it; driver 7.8 retries it maxAdaptiveRetries times with back-off, then throws it.
    const shed = () => new MongoServerError({
      ok: 0, errmsg: 'Request rejected: ingress operation rate limit exceeded', code: 463, codeName: 'IngressOperationRateLimitExceeded',
      errorLabels: ['SystemOverloadedError', 'RetryableError', 'NoWritesPerformed'],
    });
    expect(classifyDriverError(shed())).toBe('overloaded');
    const mapped = mapDriverError(shed(), 'claiming an activity task');
    expect(mapped).toBeInstanceOf(StoreUnreachableError);
    // Not 'unavailable': the runtime reads that as a call abandoned at its bound, which may still apply (mayHaveApplied).
    expect(mapped).toMatchObject({ code: 'store-unreachable', status: 503 });
    expect(mapped.message).toContain('did not run');
    // In a transaction's callback nothing was committed; at its commit, the refusal may be that of commitTransaction's
    // own retry after a first attempt that lost its connection (the driver then adds no UnknownTransactionCommitResult).
    expect(mapCommitFailure(shed(), 'committing a step of "a"', 'wrote')).toMatchObject({ code: 'commit-outcome-unknown', status: 503 });
    expect(mapCommitFailure(shed(), 'writing', 'wrote-nothing')).toMatchObject({ code: 'store-unreachable', status: 503 });
    expect(mapCommitFailure(shed(), 'reading "a" with its history', 'read')).toMatchObject({ code: 'unavailable', status: 503 });
    // SystemOverloadedError alone does not say the operation did not run (WriteConflictRetryLimitExceeded, 512).
    const alone = new MongoServerError({ ok: 0, errmsg: 'write conflicts', code: 512, codeName: 'WriteConflictRetryLimitExceeded', errorLabels: ['SystemOverloadedError'] });
    expect(classifyDriverError(alone)).toBe('other');
  });

  it('maps a single write whose majority acknowledgement timed out to CommitOutcomeUnknownError: it was applied, maybe not durably', () => {
    const timedOut = new MongoWriteConcernError({
      ok: 1, n: 1, writeConcernError: { code: 64, codeName: 'WriteConcernTimeout', errmsg: 'waiting for replication timed out', errInfo: { wtimeout: true } },
    });
    expect(classifyDriverError(timedOut)).toBe('commit-unknown');
    expect(mapDriverError(timedOut, 'claiming')).toMatchObject({ code: 'commit-outcome-unknown', status: 503, cause: timedOut });
    // Another write concern error (an unknown replica-set tag, say) is not a timeout.
    const misconfigured = new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 79, codeName: 'UnknownReplWriteConcern', errmsg: 'no such tag' } });
    expect(classifyDriverError(misconfigured)).toBe('other');
  });

  it('maps a single write the primary applied but could not confirm because it stepped down or shut down to CommitOutcomeUnknownError, not StoreUnreachableError', () => {
    // The server reports a write concern error after the write: ok 1, the write applied on the primary, and then the
    // wait for the majority ended by a step-down (189, 11602) or a shutdown (91). The same codes as a command error
    // (ok 0) mean the command did not run, and stay "unreachable".
    for (const [code, codeName] of [[91, 'ShutdownInProgress'], [189, 'PrimarySteppedDown'], [11602, 'InterruptedDueToReplStateChange']] as const) {
      const unconfirmed = new MongoWriteConcernError({ ok: 1, n: 1, nModified: 1, writeConcernError: { code, codeName, errmsg: codeName } });
      expect(unconfirmed.code).toBe(code);
      expect(classifyDriverError(unconfirmed), codeName).toBe('commit-unknown');
      const mapped = mapDriverError(unconfirmed, 'renewing the lease on activity task "t"');
      expect(mapped).toBeInstanceOf(CommitOutcomeUnknownError);
      expect(mapped).toMatchObject({ code: 'commit-outcome-unknown', status: 503, cause: unconfirmed });
      expect(classifyDriverError(serverError(code, codeName))).toBe('unreachable');
      // A bulk write rewraps a batch's write concern error (MongoBulkWriteError with its code, the error in its result).
      const bulk = new MongoBulkWriteError({ message: codeName, code }, bulkResult([newWriteConcernError({ code, errmsg: codeName })]));
      expect(classifyDriverError(bulk), `bulk ${codeName}`).toBe('commit-unknown');
    }
    const timedOut = newWriteConcernError({ code: 64, errmsg: 'waiting for replication timed out', errInfo: { wtimeout: true } });
    expect(classifyDriverError(new MongoBulkWriteError({ message: 'timed out', code: 64 }, bulkResult([timedOut])))).toBe('commit-unknown');
  });

  it('maps a commit that failed by what its transaction did: unknown only when it wrote; nothing written and safe to retry when it only read', () => {
    const timedOut = new MongoServerError({ message: 'operation exceeded time limit', code: 50, codeName: 'MaxTimeMSExpired' });
    timedOut.addErrorLabel('UnknownTransactionCommitResult');
    expect(mapCommitFailure(timedOut, 'committing a step of "a"', 'wrote')).toMatchObject({ code: 'commit-outcome-unknown', status: 503, cause: timedOut });
    // A write set that changes nothing (a resume of an instance not suspended: an HTTP retry) wrote nothing: its
    // unconfirmed commit is no write that may have applied (commit-outcome-unknown tells the runtime it may have).
    const nothing = mapCommitFailure(timedOut, 'writing', 'wrote-nothing');
    expect(nothing).toBeInstanceOf(StoreUnreachableError);
    expect(nothing).toMatchObject({ code: 'store-unreachable', status: 503, cause: timedOut });
    expect(nothing.message).toContain('Nothing was written, so trying again is safe');
    const read = mapCommitFailure(timedOut, 'reading "a" with its history', 'read');
    expect(read).toBeInstanceOf(UnavailableError);
    expect(read.message).toContain('Nothing was written');
    // A commit the server refused as a whole (TransientTransactionError) applied nothing, whatever the transaction did.
    const aborted = serverError(251, 'NoSuchTransaction');
    aborted.addErrorLabel('TransientTransactionError');
    expect(mapCommitFailure(aborted, 'committing', 'wrote')).toMatchObject({ code: 'store-unreachable', status: 503 });
    const network = new MongoNetworkError('connection reset');
    network.addErrorLabel('TransientTransactionError');
    expect(mapCommitFailure(network, 'committing', 'wrote')).toMatchObject({ code: 'store-unreachable' });
    // Other errors and durable-rx errors: as mapDriverError.
    expect(mapCommitFailure(serverError(2, 'BadValue'), 'committing', 'wrote')).toMatchObject({ code: 'store-error' });
    const closed = new StoreClosedError('The store is closed');
    expect(mapCommitFailure(closed, 'committing', 'wrote')).toBe(closed);
  });

  it('maps a server-selection failure after the callback returned (a commit whose retry found no primary) to an unknown outcome when the transaction wrote (real driver error)', async () => {
    // Driver 7.8 retries a commit that lost its connection once, and when that retry finds no primary it throws the
    // bare MongoServerSelectionError: no UnknownTransactionCommitResult label (shouldAddUnknownTransactionCommitResultLabel
    // leaves server-selection errors out), although the first attempt may have committed. Read alone, it says
    // "unreachable": nothing written.
    const client = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 100 });
    try {
      const selection = await client.db('admin').command({ ping: 1 }).then(() => undefined, (e: unknown) => e);
      expect((selection as Error).name).toBe('MongoServerSelectionError');
      expect(classifyDriverError(selection)).toBe('unreachable');
      const mapped = mapCommitFailure(selection, 'sending a message to "a"', 'wrote');
      expect(mapped).toBeInstanceOf(CommitOutcomeUnknownError);
      expect(mapped).toMatchObject({ code: 'commit-outcome-unknown', status: 503, cause: selection });
      // A transaction that wrote nothing applied nothing, however its commit ended.
      expect(mapCommitFailure(selection, 'writing', 'wrote-nothing')).toMatchObject({ code: 'store-unreachable', cause: selection });
    } finally {
      await client.close();
    }
  });

  it('bounds the majority wait of every write outside a transaction, as maxCommitTimeMS bounds commits', () => {
    // Without wtimeoutMS a claim or a lease renewal waits for good when no majority can acknowledge (PSA set with its
    // secondary down): the worker's claim loop would hang instead of failing and retrying.
    expect(SINGLE_WRITE_CONCERN.w).toBe('majority');
    expect(SINGLE_WRITE_CONCERN.wtimeoutMS).toBeGreaterThan(0);
    expect(DEFAULT_TRANSACTION_OPTIONS.maxCommitTimeMS).toBe(SINGLE_WRITE_CONCERN.wtimeoutMS);
  });

  it('ends a commit no majority acknowledges at maxCommitTimeMS, which withTransaction never retries', () => {
    // Without a wtimeout of its own the driver sends each commit with `wtimeout: 10000`; withTransaction retries a
    // commit that hit it (UnknownTransactionCommitResult) for 120 s, so a step blocked about 2 minutes instead of 30 s.
    // The commit's time limit must run out first: it fails with MaxTimeMSExpired, which is not retried.
    const { writeConcern, maxCommitTimeMS } = DEFAULT_TRANSACTION_OPTIONS;
    expect(writeConcern?.w).toBe('majority');
    expect(maxCommitTimeMS).toBe(30_000);
    expect(writeConcern?.wtimeoutMS).toBeGreaterThan(maxCommitTimeMS!);
  });

  it('keeps that order when the application overrides the transaction options', () => {
    expect(transactionOptionsFor(undefined)).toEqual(DEFAULT_TRANSACTION_OPTIONS);
    // A journaled majority, say: the write concern's timeout is still longer than the commit's.
    const journaled = transactionOptionsFor({ writeConcern: { w: 'majority', journal: true } });
    expect(journaled.writeConcern).toEqual({ w: 'majority', journal: true, wtimeoutMS: TRANSACTION_MAJORITY_WAIT_MS });
    expect(journaled.readConcern).toEqual({ level: 'snapshot' });
    // A longer commit limit keeps the write concern's timeout beyond it: a write concern timeout first would be
    // retried by withTransaction for 120 s.
    const longer = transactionOptionsFor({ maxCommitTimeMS: 60_000 });
    expect(longer).toMatchObject({ maxCommitTimeMS: 60_000, writeConcern: { w: 'majority', wtimeoutMS: 61_000 } });
    const shorter = transactionOptionsFor({ maxCommitTimeMS: 5_000, writeConcern: { w: 'majority', journal: true } });
    expect(shorter.writeConcern).toEqual({ w: 'majority', journal: true, wtimeoutMS: 6_000 });
    // What the application sets explicitly wins.
    const own = transactionOptionsFor({ maxCommitTimeMS: 5_000, writeConcern: { w: 'majority', wtimeoutMS: 6_000 } });
    expect(own).toMatchObject({ maxCommitTimeMS: 5_000, writeConcern: { w: 'majority', wtimeoutMS: 6_000 } });
  });

  it('reads an instance with its history at one snapshot, majority-committed, whatever the application overrides', () => {
    // The store's defaults: the read-only transaction is one of the store's transactions.
    expect(snapshotReadOptions(transactionOptionsFor(undefined))).toEqual(DEFAULT_TRANSACTION_OPTIONS);
    // An application that weakens its write transactions (local reads, w: 1) does not weaken this read: `snapshot` is
    // the one level whose reads see one point in time on every shard, and only a majority commit guarantees that what
    // was read is majority-committed. Its commit limit and the rest of its write concern are kept.
    const weakened = snapshotReadOptions(transactionOptionsFor({
      readConcern: { level: 'local' }, writeConcern: { w: 1, journal: true }, maxCommitTimeMS: 60_000,
    }));
    expect(weakened).toMatchObject({
      readConcern: { level: 'snapshot' }, readPreference: 'primary', maxCommitTimeMS: 60_000,
      writeConcern: { w: 'majority', journal: true, wtimeoutMS: 61_000 },
    });
  });

  it('maps an unconfirmed commit of a read-only transaction to a retryable UnavailableError, not to a write of unknown outcome', () => {
    const timedOut = new MongoServerError({ message: 'operation exceeded time limit', code: 50, codeName: 'MaxTimeMSExpired' });
    timedOut.addErrorLabel('UnknownTransactionCommitResult');
    const mapped = mapReadTransactionError(timedOut, 'reading "a" with its history');
    expect(mapped).toBeInstanceOf(UnavailableError);
    expect(mapped).toMatchObject({ code: 'unavailable', status: 503, cause: timedOut });
    expect(mapped.message).toContain('reading "a" with its history');
    expect(mapped.message).toContain('Nothing was written');
    // Any other failure is mapped as every driver error is.
    const dropped = new MongoNetworkError('connection reset');
    expect(mapReadTransactionError(dropped, 'reading')).toBeInstanceOf(StoreUnreachableError);
    const closed = new StoreClosedError('The store is closed');
    expect(mapReadTransactionError(closed, 'reading')).toBe(closed);
  });

  it('maps a transaction too large for the WiredTiger cache to StoreCacheFullError (507: tried again, then recorded), neither a 500 retried for ever nor a 413 refused at once', () => {
    // MongoDB 6.2+ answers so, without the TransientTransactionError label, for a transaction that held most of the
    // dirty cache when WiredTiger rolled it back: the write's size and the cache's load of the moment decide it.
    const tooLarge = serverError(313, 'TransactionTooLargeForCache', 'transaction is too large and will not fit in the storage engine cache');
    expect(classifyDriverError(tooLarge)).toBe('too-large-for-cache');
    const mapped = mapDriverError(tooLarge, 'committing a step of "a"');
    expect(mapped).toBeInstanceOf(StoreCacheFullError);
    expect(mapped).toMatchObject({ code: 'store-cache-full', status: 507, cause: tooLarge });
    expect(mapped.message).toContain('WiredTiger cache');
    // Through withTransaction's commit path too.
    expect(mapCommitFailure(tooLarge, 'committing a step of "a"', 'wrote')).toMatchObject({ status: 507 });
  });

  it('names enableMajorityReadConcern=false when the server refuses majority reads (ReadConcernMajorityNotEnabled, 148: a 4.4 PSA set)', () => {
    const refused = serverError(148, 'ReadConcernMajorityNotEnabled', 'Majority read concern requested, but server was not started with --enableMajorityReadConcern.');
    expect(classifyDriverError(refused)).toBe('majority-reads-disabled');
    const mapped = mapDriverError(refused, 'opening the store on database "app"');
    expect(mapped).toMatchObject({ code: 'store-error', cause: refused });
    expect(mapped.message).toContain('enableMajorityReadConcern=false');
    expect(mapped.message).toContain('5.0');
  });

  it('maps a bounded read that ran out of its maxTimeMS to a retryable UnavailableError; a commit that did stays unknown', () => {
    const expired = serverError(50, 'MaxTimeMSExpired', 'Command timed out waiting for read concern to be satisfied');
    expect(classifyDriverError(expired)).toBe('timed-out');
    const mapped = mapDriverError(expired, 'claiming an orchestration work item');
    expect(mapped).toBeInstanceOf(UnavailableError);
    expect(mapped).toMatchObject({ code: 'unavailable', status: 503, cause: expired });
    expect(mapped.message).toContain('Nothing was written');
    const commit = serverError(50, 'MaxTimeMSExpired');
    commit.addErrorLabel('UnknownTransactionCommitResult');
    expect(classifyDriverError(commit)).toBe('commit-unknown');
  });

  it('maps oversized documents to PayloadTooLargeError and duplicate keys / the rest to MongoStoreError', () => {
    expect(mapDriverError(serverError(10334, 'BSONObjectTooLarge'), 'committing')).toMatchObject({ code: 'payload-too-large', status: 413 });
    expect(classifyDriverError(serverError(11000, 'DuplicateKey', 'E11000 duplicate key error'))).toBe('duplicate-key');
    const other = serverError(2, 'BadValue');
    const mapped = mapDriverError(other, 'querying');
    expect(mapped).toBeInstanceOf(MongoStoreError);
    expect(mapped).toMatchObject({ code: 'store-error', status: 500, cause: other });
    expect(mapDriverError('a string', 'x')).toBeInstanceOf(MongoStoreError);
  });

  describe('isDuplicateIdOf: which duplicate key is a create\u2019s conflict', () => {
    /** The error insertOne throws for a duplicate: the driver builds it from the reply's first write error. */
    const writeError = (fields: Record<string, unknown>) => new MongoServerError({
      index: 0, code: 11000, errmsg: 'E11000 duplicate key error collection: db.drx_instances index: _id_', ...fields,
    });

    it('is true for a duplicate of exactly the created key on the _id index', () => {
      expect(isDuplicateIdOf(writeError({ keyPattern: { _id: 1 }, keyValue: { _id: 'order-1' } }), instanceKey('order-1'))).toBe(true);
      const odd = 'a\uD800'; // stored escaped (instanceKey), and so reported
      expect(isDuplicateIdOf(writeError({ keyPattern: { _id: 1 }, keyValue: { _id: instanceKey(odd) } }), instanceKey(odd))).toBe(true);
      // The fields also read from the reply the driver keeps (errorResponse) when they are not copied on the error.
      const kept = Object.assign(new Error('E11000'), {
        code: 11000, errorResponse: { code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 'order-1' } },
      });
      expect(isDuplicateIdOf(kept, 'order-1')).toBe(true);
    });

    it('is false for a duplicate on another unique index, another _id, or a reply that does not say which', () => {
      const key = instanceKey('order-1');
      // A message or history document colliding on the store's other unique indexes (a null key of a foreign document).
      expect(isDuplicateIdOf(writeError({ keyPattern: { instanceId: 1, seq: 1 }, keyValue: { instanceId: 'order-1', seq: 1 } }), key)).toBe(false);
      expect(isDuplicateIdOf(writeError({ keyPattern: { instanceId: 1, gen: 1, index: 1 }, keyValue: { instanceId: 'order-1', gen: null, index: null } }), key)).toBe(false);
      // Another document's _id (a history or message ObjectId, another instance), or an _id inside a compound key.
      expect(isDuplicateIdOf(writeError({ keyPattern: { _id: 1 }, keyValue: { _id: new ObjectId() } }), key)).toBe(false);
      expect(isDuplicateIdOf(writeError({ keyPattern: { _id: 1 }, keyValue: { _id: 'order-2' } }), key)).toBe(false);
      expect(isDuplicateIdOf(writeError({ keyPattern: { _id: 1, x: 1 }, keyValue: { _id: 'order-1', x: 1 } }), key)).toBe(false);
      // A hex-encoded key (non-simple collation) does not compare as the key: not proven, so not a conflict.
      expect(isDuplicateIdOf(writeError({ keyPattern: { _id: 1 }, keyValue: { _id: '0x6f72646572' } }), key)).toBe(false);
      // No keyPattern / keyValue and a message that names no key (see the message test below), or not a duplicate at all.
      expect(isDuplicateIdOf(writeError({}), key)).toBe(false);
      expect(isDuplicateIdOf(serverError(2, 'BadValue'), key)).toBe(false);
      expect(isDuplicateIdOf(undefined, key)).toBe(false);
    });

    it('without keyPattern and keyValue, reads the server\u2019s message: true only for exactly the created key on _id_', () => {
      const key = instanceKey('order-1');
      const say = (dupKey: string, index = '_id_') => writeError({ errmsg: `E11000 duplicate key error collection: db.drx_instances index: ${index} dup key: ${dupKey}` });
      expect(isDuplicateIdOf(say('{ _id: "order-1" }'), key)).toBe(true);
      expect(isDuplicateIdOf(say('{ _id: "order-2" }'), key)).toBe(false);
      expect(isDuplicateIdOf(say('{ _id: "order-10" }'), key)).toBe(false);
      expect(isDuplicateIdOf(say('{ _id: "xorder-1" }'), key)).toBe(false);
      expect(isDuplicateIdOf(say('{ _id: ObjectId(\'65a1b2c3d4e5f60718293a4b\') }'), key)).toBe(false);
      expect(isDuplicateIdOf(say('{ instanceId: "order-1", seq: 1 }', 'instance_seq'), key)).toBe(false);
      // A key the message may print otherwise (a quote) is not proven, so not a conflict.
      expect(isDuplicateIdOf(say('{ _id: "a"b" }'), instanceKey('a"b'))).toBe(false);
      // When the fields are there, they decide, whatever the message says.
      expect(isDuplicateIdOf(writeError({
        errmsg: 'E11000 duplicate key error collection: db.drx_instances index: _id_ dup key: { _id: "order-1" }',
        keyPattern: { _id: 1 }, keyValue: { _id: 'order-2' },
      }), key)).toBe(false);
    });

    it('leaves every other duplicate to mapDriverError: a MongoStoreError (500) that names the likely cause', () => {
      const other = writeError({ keyPattern: { instanceId: 1, seq: 1 }, keyValue: { instanceId: 'order-1', seq: 1 } });
      const mapped = mapDriverError(other, 'committing a write set');
      expect(mapped).toBeInstanceOf(MongoStoreError);
      expect(mapped).toMatchObject({ code: 'store-error', status: 500, cause: other });
      expect(mapped.message).toContain('duplicate key');
      expect(mapped.message).toContain('null');
    });
  });

  it('maps a commit whose outcome is unknown to CommitOutcomeUnknownError, before network classification', () => {
    // What withTransaction rethrows: a commit that timed out waiting for a majority, or a network error during it.
    const timedOut = new MongoServerError({ message: 'operation exceeded time limit', code: 50, codeName: 'MaxTimeMSExpired' });
    timedOut.addErrorLabel('UnknownTransactionCommitResult');
    const dropped = new MongoNetworkError('connection reset during commitTransaction');
    dropped.addErrorLabel('UnknownTransactionCommitResult');
    for (const error of [timedOut, dropped]) {
      expect(classifyDriverError(error)).toBe('commit-unknown');
      const mapped = mapDriverError(error, 'committing a step');
      expect(mapped).toBeInstanceOf(CommitOutcomeUnknownError);
      expect(mapped).toMatchObject({ code: 'commit-outcome-unknown', status: 503, cause: error });
    }
    // Without the label a network error stays "unreachable".
    expect(classifyDriverError(new MongoNetworkError('reset'))).toBe('unreachable');
  });

  it('maps a transaction the driver gave up retrying (TransientTransactionError) to the 503 of an operation that did not run', () => {
    // As the driver builds it: the server's reply, its labels copied onto the MongoServerError.
    const conflict = new MongoServerError({
      ok: 0, code: 112, codeName: 'WriteConflict', errmsg: 'Write conflict during plan execution', errorLabels: ['TransientTransactionError'],
    });
    expect(conflict.hasErrorLabel('TransientTransactionError')).toBe(true);
    expect(classifyDriverError(conflict)).toBe('transaction-aborted');
    const mapped = mapDriverError(conflict, 'committing a step of "a"');
    // The same error, code and status as an operation an overloaded server shed: nothing written, try again.
    const shed = new MongoServerError({ ok: 0, code: 462, codeName: 'IngressRequestRateLimitExceeded', errmsg: 'shed', errorLabels: ['SystemOverloadedError', 'RetryableError'] });
    const overloaded = mapDriverError(shed, 'committing a step of "a"');
    expect(mapped).toBeInstanceOf(StoreUnreachableError);
    expect(mapped).toMatchObject({ code: overloaded.code, status: overloaded.status, cause: conflict });
    expect(mapped).toMatchObject({ code: 'store-unreachable', status: 503 });
    expect(mapped.message).toContain('Nothing of it was written, so trying again is safe');
    expect(mapped.message).toContain('many writers of one instance at once (a hot instance)');
    // A network error in a transaction carries the same label: it stays "unreachable" (503).
    const network = new MongoNetworkError('connection reset');
    network.addErrorLabel('TransientTransactionError');
    expect(classifyDriverError(network)).toBe('unreachable');
    // And a commit whose outcome is unknown is never reported as "nothing written".
    const unknown = serverError(50, 'MaxTimeMSExpired');
    unknown.addErrorLabel('UnknownTransactionCommitResult');
    unknown.addErrorLabel('TransientTransactionError');
    expect(classifyDriverError(unknown)).toBe('commit-unknown');
  });

  it('bounds a command with an AbortSignal, which driver 7.8 honours where timeoutMS has no effect (real driver, nothing listening)', async () => {
    // Nothing listens on port 1: server selection would go on for 60 s. The deadline ends it, and its reason (a
    // TimeoutError) maps to StoreUnreachableError. The same call with `timeoutMS` instead is not cut short.
    const client = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 60_000 });
    try {
      const bounded = await client.db('admin').command({ hello: 1 }, { signal: AbortSignal.timeout(200) }).then(() => undefined, (e: unknown) => e);
      expect(bounded).toMatchObject({ name: 'TimeoutError' });
      expect(mapDriverError(bounded, 'checking the deployment')).toMatchObject({ code: 'store-unreachable', status: 503 });
    } finally {
      await client.close();
    }
    const ignored = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 1_000 });
    try {
      // With timeoutMS 200 honoured this would be a timeout error; it is the 1 s server selection failure instead.
      const unbounded = await ignored.db('admin').command({ hello: 1 }, { timeoutMS: 200 }).then(() => undefined, (e: unknown) => e);
      expect(unbounded).toMatchObject({ name: 'MongoServerSelectionError' });
    } finally {
      await ignored.close();
    }
  });

  it('maps a reply the store\u2019s deadline gave up on to StoreUnreachableError (503): the driver throws MongoOperationTimeoutError, not the signal\u2019s reason', async () => {
    // A command sent and not answered (a server that stopped answering, a majority write held): driver 7.8 waits for
    // the reply in Connection.readMany, which takes an abort whose reason is named TimeoutError (AbortSignal.timeout's,
    // a CallDeadline's) for a timeout of its own and throws MongoOperationTimeoutError instead. That was 'other': a
    // read's deadline answered MongoStoreError (500, not retried), a feed's input read was not tried again, and an
    // unanswered connectionStatus at connect was taken for a server without the command (the check skipped).
    // Checked on the driver's own code, its socket a stream that never answers.
    const { Connection } = createRequire(import.meta.url)('mongodb/lib/cmap/connection.js') as {
      readonly Connection: { readonly prototype: { readMany(this: object, options: { signal: AbortSignal }): AsyncGenerator<unknown> } };
    };
    for (const reason of [new DOMException('The operation was aborted due to timeout', 'TimeoutError'), Object.assign(new Error('the call\u2019s deadline has passed'), { name: 'TimeoutError' })]) {
      const controller = new AbortController();
      const connection = { messageStream: new PassThrough(), dataEvents: null, onError: () => undefined };
      const reading = Connection.prototype.readMany.call(connection, { signal: controller.signal }).next().then(() => undefined, (e: unknown) => e);
      controller.abort(reason);
      const thrown = await reading;
      expect(thrown).toBeInstanceOf(MongoOperationTimeoutError);
      expect(classifyDriverError(thrown)).toBe('unreachable');
      expect(mapDriverError(thrown, 'reading instance "a"')).toMatchObject({ code: 'store-unreachable', status: 503, cause: thrown });
      // A bulk write (a listing's repairs) keeps it as its errorResponse.
      const bulk = new MongoBulkWriteError(thrown as MongoOperationTimeoutError, bulkResult([]));
      expect(classifyDriverError(bulk)).toBe('unreachable');
    }
  });

  it('passes durable-rx errors through unchanged', () => {
    const error = new InstanceNotFoundError('nope');
    expect(mapDriverError(error, 'x')).toBe(error);
  });
});

/**
 * The driver's own bulk result classes, which it exports as types only (the bulk write path builds them from a
 * batch's reply; no server here to send one).
 */
const bulk = createRequire(import.meta.url)('mongodb/lib/bulk/common.js') as {
  readonly BulkWriteResult: new (result: object, isOrdered: boolean) => BulkWriteResult;
  readonly WriteConcernError: new (error: WriteConcernErrorData) => WriteConcernError;
};
const newWriteConcernError = (error: WriteConcernErrorData) => new bulk.WriteConcernError(error);

/** The driver's connection-pool errors, which it does not export (its pools throw them; no server here to pool). */
const driverCmap = createRequire(import.meta.url)('mongodb/lib/cmap/errors.js') as {
  readonly PoolClosedError: new (pool: { readonly address: string }) => Error;
};

/** A driver BulkWriteResult with `writeConcernErrors`, as the driver builds it from a bulk write's batches. */
function bulkResult(writeConcernErrors: WriteConcernError[]): BulkWriteResult {
  return new bulk.BulkWriteResult({
    ok: 1, writeErrors: [], writeConcernErrors, insertedIds: [], nInserted: 0, nUpserted: 0, nMatched: 1, nModified: 1, nRemoved: 0, upserted: [],
  }, true);
}
