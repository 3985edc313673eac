import { isDurableError, PayloadTooLargeError, StoreClosedError, UnavailableError, type DurableError } from '@durable-rx/runtime';
import { CommitOutcomeUnknownError } from './errors/commit-outcome-unknown-error.js';
import { MongoStoreError } from './errors/mongo-store-error.js';
import { StoreAuthenticationError } from './errors/store-authentication-error.js';
import { StoreCacheFullError } from './errors/store-cache-full-error.js';
import { StoreUnreachableError } from './errors/store-unreachable-error.js';

/** What a driver error means to a caller of the store. */
export type DriverErrorKind =
  | 'closed' | 'auth' | 'commit-unknown' | 'unreachable' | 'overloaded' | 'timed-out' | 'too-large' | 'too-large-for-cache' | 'duplicate-key'
  | 'transaction-aborted' | 'majority-reads-disabled' | 'other';

/**
 * Errors the driver throws only once the client itself is closed (`MongoClient.close()`), or before it was connected:
 * the store serves no call any more (`StoreClosedError`, after which a worker stops).
 */
const CLOSED_NAMES = new Set(['MongoTopologyClosedError', 'MongoNotConnectedError', 'MongoClientClosedError']);
const UNREACHABLE_NAMES = new Set([
  'MongoServerSelectionError', 'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoPoolClearedError',
  'PoolClearedOnNetworkError', 'MongoWaitQueueTimeoutError',
  // One server of the topology closed under an operation that had selected it: the driver closes a server and its pool
  // when the server leaves the topology (a replica-set member removed or renamed, a mongos gone from the SRV record:
  // sdam/topology.ts updateServers), not only when the client closes. The next operation selects another server; on a
  // closed client it fails with MongoNotConnectedError, which is "closed".
  'MongoPoolClosedError', 'MongoServerClosedError',
  // The reason of a deadline the store sets on a command (`AbortSignal.timeout(ms)`, a `CallDeadline`), named
  // TimeoutError: the driver throws it as is where it waits to send (server selection, a pool's queue)...
  'TimeoutError',
  // ... and, once the command is sent, MongoOperationTimeoutError instead (driver 7.8 `Connection.readMany` and
  // `writeCommand` take such a reason for a timeout of their own): no reply by the deadline. The driver raises it for
  // nothing else here, as its `timeoutMS`, which would, has no effect.
  'MongoOperationTimeoutError',
]);
/**
 * Server codes of a primary that is stepping down, shutting down or unreachable (elections, failovers): the driver's
 * retryable read and write codes (error.ts, RETRYABLE_READ_ERROR_CODES), which it retries once itself. Among them
 * ReadConcernMajorityNotAvailableYet (134: a newly elected primary whose majority snapshot is not ready, refusing
 * `majority` reads for a moment) and ExceededTimeLimit (262): transient states of the server, not faults of the request,
 * so a caller is told to try again later (503) as for the others.
 */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);
const AUTH_NAMES = new Set([
  'MongoMissingCredentialsError', 'MongoAWSError', 'MongoAzureError', 'MongoGCPError', 'MongoOIDCError', 'MongoKerberosError',
]);
/** AuthenticationFailed, Unauthorized. */
const AUTH_CODES = new Set([18, 13]);
const AUTH_CODE_NAMES = new Set(['AuthenticationFailed', 'Unauthorized']);
/** BSONObjectTooLarge, and "resulting document after update is larger than 16 MB". */
const TOO_LARGE_CODES = new Set([10334, 17419]);
const DUPLICATE_KEY_CODES = new Set([11000, 11001]);
/**
 * MaxTimeMSExpired: a command the store bounded with `maxTimeMS` (a claim's reads, `claimReadBound`) ran out of time
 * on the server, most often a `majority` read waiting for the majority commit point to reach its session's
 * operation time while no majority answers. Nothing was written. A commit that ran out of `maxCommitTimeMS` carries
 * the driver's `UnknownTransactionCommitResult` label and is classified by it first.
 */
const MAX_TIME_EXPIRED_CODE = 50;
/**
 * A transaction whose writes WiredTiger rolled back for cache pressure while they held most of the dirty cache
 * (MongoDB 6.2+, which no longer labels it transient). Its size and the cache's load of the moment decide it: the
 * same transaction may pass on a quieter cache, so it is a 507 (tried a few times, then recorded), not a 413.
 */
const TOO_LARGE_FOR_CACHE_NAME = 'TransactionTooLargeForCache';
/**
 * ReadConcernMajorityNotEnabled: the server runs with `enableMajorityReadConcern=false` (possible up to MongoDB 4.4,
 * usually on a primary–secondary–arbiter set), and refuses every read at `majority`, which is how the store reads.
 */
const MAJORITY_READS_DISABLED_CODE = 148;
/**
 * The labels of an operation MongoDB refused because it is overloaded (Atlas load shedding, the ingress rate limiters of
 * MongoDB 8.2+: IngressRequestRateLimitExceeded 462, IngressOperationRateLimitExceeded 463): `SystemOverloadedError`
 * says the server sheds load, and `RetryableError` that the operation did not run and may be sent again. Driver 7.8
 * (backpressure-aware since 7.6) retries such an operation `maxAdaptiveRetries` times (2) with a jittered back-off, and
 * throws the server's error when those ran out. `SystemOverloadedError` alone does not say the operation did not run.
 */
const OVERLOADED_LABEL = 'SystemOverloadedError';
const RETRYABLE_LABEL = 'RetryableError';
/** The label the driver puts on a commit whose outcome it could not learn (the store sends such commits again first, within `TRANSACTION_RETRY_MS`). */
const UNKNOWN_COMMIT_LABEL = 'UnknownTransactionCommitResult';
/**
 * The label of an error after which the whole transaction can be retried: it was aborted, nothing of it was written.
 * The store's transaction loop retries such transactions itself (no attempt past `TRANSACTION_RETRY_MS`, 20 s);
 * the label reaches a caller only when that ran out (write conflicts that never cleared, an election that outlasted it).
 */
const TRANSIENT_TRANSACTION_LABEL = 'TransientTransactionError';
/**
 * Write concern errors that say the write concern itself is wrong (an unknown tag, more members than the set has),
 * which no retry gets through: UnknownReplWriteConcern, UnsatisfiableWriteConcern. The driver does not call a commit
 * that fails with one of these unknown either.
 */
const MISCONFIGURED_WRITE_CONCERN_CODES = new Set([79, 100]);
const MISCONFIGURED_WRITE_CONCERN_NAMES = new Set(['UnknownReplWriteConcern', 'UnsatisfiableWriteConcern', 'CannotSatisfyWriteConcern']);

/**
 * Classifies an error thrown by the `mongodb` driver by its class name, server error code and causes (names, not
 * `instanceof`, so errors of another copy of the driver are recognised too). An authentication failure wins over
 * "unreachable", because the driver may report a refused login as a failed server selection.
 *
 * @example
 * ```ts
 * classifyDriverError(await client.connect().catch((e: unknown) => e)); // 'unreachable' when nothing listens
 * ```
 */
export function classifyDriverError(error: unknown): DriverErrorKind {
  const chain = errorChain(error);
  if (chain.some(isAuthFailure)) return 'auth';
  // A bulk write that failed for a driver reason (a network error) is classified by that error: its wrapper has
  // neither its name nor a cause (see wrappedDriverError).
  error = wrappedDriverError(error) ?? error;
  const top = shape(error);
  if (top.name !== undefined && CLOSED_NAMES.has(top.name)) return 'closed';
  // Checked before "unreachable": a network error during a commit carries the label, and then the outcome matters.
  if (chain.some((e) => hasErrorLabel(e, UNKNOWN_COMMIT_LABEL))) return 'commit-unknown';
  // A single write the primary applied but no majority confirmed: its acknowledgement timed out (wtimeoutMS), or the
  // primary stepped down or shut down while it waited (91, 189, 11602: codes that alone would read "unreachable"). It
  // may be majority-committed or rolled back.
  if (isUnconfirmedWrite(error)) return 'commit-unknown';
  if (isShedForOverload(error)) return 'overloaded';
  if (top.name !== undefined && UNREACHABLE_NAMES.has(top.name)) return 'unreachable';
  if (typeof top.code === 'number' && UNAVAILABLE_CODES.has(top.code)) return 'unreachable';
  // A mongodb+srv host that does not resolve: the driver passes on the DNS error itself.
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  if (typeof top.code === 'string' && (syscall === 'querySrv' || syscall === 'queryTxt')) return 'unreachable';
  if (typeof top.code === 'number' && TOO_LARGE_CODES.has(top.code)) return 'too-large';
  if (top.codeName === 'BSONObjectTooLarge') return 'too-large';
  if (top.codeName === TOO_LARGE_FOR_CACHE_NAME) return 'too-large-for-cache';
  if (top.code === MAX_TIME_EXPIRED_CODE || top.codeName === 'MaxTimeMSExpired') return 'timed-out';
  if (typeof top.code === 'number' && DUPLICATE_KEY_CODES.has(top.code)) return 'duplicate-key';
  if (hasErrorLabel(error, TRANSIENT_TRANSACTION_LABEL)) return 'transaction-aborted';
  if (top.code === MAJORITY_READS_DISABLED_CODE || top.codeName === 'ReadConcernMajorityNotEnabled') return 'majority-reads-disabled';
  return 'other';
}

/**
 * Whether `error` is MongoDB refusing a second document whose `_id` is `key`: a duplicate-key write error (E11000)
 * whose `keyPattern` is exactly `{ _id: 1 }` and whose `keyValue` is exactly `{ _id: key }`. MongoDB puts both fields
 * on every duplicate-key write error (4.4 and later, the servers the store supports), and the driver copies a write
 * error's fields onto the `MongoServerError` it throws for an `insertOne`. A duplicate on any other unique index
 * (`instance_seq`, `instance_gen_index`), or on another `_id`, answers false: only a proven collision on the key is a
 * conflict of the caller's request. An error without both fields (a MongoDB-compatible service that drops them) is
 * judged by the server's message instead, which names the index and the key
 * (`E11000 duplicate key error collection: db.drx_instances index: _id_ dup key: { _id: "order-1" }`): true only when it
 * ends with exactly `index: _id_ dup key: { _id: "<key>" }`; any other wording answers false (a 500, not a 409). MongoDB sends a string of
 * `keyValue` hex-encoded when the index has a non-simple collation or the string is not valid UTF-8; the store's
 * collections use the simple collation and its keys are valid UTF-8 (`instanceKey`), so the key compares as it is.
 *
 * Among the documents a create writes, only the instance document has an instance key as `_id` (history and
 * messages have ObjectIds, activity tasks the UUIDs the runtime gives them), so a match on the created key is the
 * instance insert.
 *
 * @example
 * ```ts
 * isDuplicateIdOf(error, instanceKey('order-1')); // true when another create inserted order-1 first
 * ```
 */
export function isDuplicateIdOf(error: unknown, key: string): boolean {
  if (classifyDriverError(error) !== 'duplicate-key') return false;
  const fields = error as { keyPattern?: unknown; keyValue?: unknown; errorResponse?: { keyPattern?: unknown; keyValue?: unknown } };
  const keyPattern = fields.keyPattern ?? fields.errorResponse?.keyPattern;
  const keyValue = fields.keyValue ?? fields.errorResponse?.keyValue;
  if (keyPattern === undefined && keyValue === undefined) {
    const message = (error as { message?: unknown }).message;
    return typeof message === 'string' && message.endsWith(` index: _id_ dup key: { _id: ${JSON.stringify(key)} }`);
  }
  return isOnlyId(keyPattern, (value) => value === 1) && isOnlyId(keyValue, (value) => value === key);
}

/** Whether `doc` is an object whose only field is `_id`, with a value `matches` accepts. */
function isOnlyId(doc: unknown, matches: (value: unknown) => boolean): boolean {
  if (typeof doc !== 'object' || doc === null) return false;
  const names = Object.keys(doc);
  return names.length === 1 && names[0] === '_id' && matches((doc as { _id?: unknown })._id);
}

/**
 * {@link mapDriverError} for a transaction that only reads (`getInstanceHistory`). Its commit writes nothing, so a
 * commit whose outcome is unknown (no majority acknowledged it within `maxCommitTimeMS`, or the connection dropped
 * during it) is no `CommitOutcomeUnknownError`, whose message warns that a command may have applied, but an
 * `UnavailableError` (503): MongoDB did not confirm that what was read is majority-committed, nothing was written, and
 * reading again is safe.
 *
 * @example
 * ```ts
 * try { await session.commitTransaction(); } catch (e) { throw mapReadTransactionError(e, 'reading order-1'); }
 * ```
 */
export function mapReadTransactionError(error: unknown, doing: string): DurableError {
  if (isDurableError(error) || classifyDriverError(error) !== 'commit-unknown') return mapDriverError(error, doing);
  return new UnavailableError(unconfirmedReadMessage(error, doing), { cause: error });
}

function unconfirmedReadMessage(error: unknown, doing: string): string {
  return `MongoDB did not confirm that a majority holds what was read while ${doing}: ${messageOf(error)}. Nothing was written; try again`;
}

/**
 * What a transaction whose commit failed had done: written (`'wrote'`), only read on the way to a write it found
 * nothing to do for (`'wrote-nothing'`: a commit of a write set that changes nothing, a release of a lease no longer
 * held, a purge of an instance that is gone), or only read, as its purpose (`'read'`: `getInstanceHistory`).
 */
export type CommittedWork = 'wrote' | 'wrote-nothing' | 'read';

/**
 * {@link mapDriverError} for an error of a transaction's commit, after the store's loop stopped sending it again
 * (`transactionRetryStep`). Which errors say the commit may have applied, and which say nothing was
 * written, depends on what the transaction did (`work`):
 *
 * - An error that leaves the commit's outcome open: `UnknownTransactionCommitResult`, and also an "unreachable" error
 *   without it, because driver 7.8 labels no server-selection error of `commitTransaction` (the transactions
 *   specification says it must): a commit whose first attempt lost its connection, and whose retry found no primary
 *   within `serverSelectionTimeoutMS`, is thrown as a bare `MongoServerSelectionError` (or `MongoWaitQueueTimeoutError`)
 *   although the first attempt may have committed. For a transaction that wrote, `CommitOutcomeUnknownError`; for
 *   one that wrote nothing, nothing can have applied: `StoreUnreachableError` (`'wrote-nothing'`, which says trying
 *   again is safe) or, for a read, `mapReadTransactionError`'s `UnavailableError`. (A bare unreachable error of a
 *   first attempt that never reached a server is reported as unknown too: no error tells the two apart.) So is an
 *   "overloaded" refusal of the commit (`SystemOverloadedError`): it may be that retry's, after a first attempt that
 *   lost its connection.
 * - `TransientTransactionError` (the commit was refused, nothing of the transaction applied): as `mapDriverError`
 *   (`StoreUnreachableError`, 503: it did not run, try again).
 * - Anything else: as `mapDriverError`.
 *
 * @example
 * ```ts
 * mapCommitFailure(selectionError, 'committing a step of "a"', 'wrote');        // CommitOutcomeUnknownError
 * mapCommitFailure(maxTimeExpired, 'writing', 'wrote-nothing');                   // StoreUnreachableError: try again
 * ```
 */
export function mapCommitFailure(error: unknown, doing: string, work: CommittedWork): DurableError {
  if (isDurableError(error)) return error;
  const kind = classifyDriverError(error);
  // An overloaded server's refusal of the commit says that attempt did not run, not that none did: commitTransaction
  // retries a commit that lost its connection once more, and when that retry is refused for overload it throws the
  // refusal alone, without UnknownTransactionCommitResult (it adds the label only to retryable write errors).
  const open = kind === 'commit-unknown' ||
    ((kind === 'unreachable' || kind === 'overloaded') && !errorChain(error).some((e) => hasErrorLabel(e, TRANSIENT_TRANSACTION_LABEL)));
  if (!open) return mapDriverError(error, doing);
  switch (work) {
    case 'wrote':
      return kind === 'commit-unknown' ? mapDriverError(error, doing) : commitOutcomeUnknown(error, doing);
    case 'read':
      return new UnavailableError(unconfirmedReadMessage(error, doing), { cause: error });
    case 'wrote-nothing':
      return new StoreUnreachableError(
        `MongoDB did not confirm the commit of a transaction that wrote nothing while ${doing} ` +
          `(what it read asked for no change): ${messageOf(error)}. Nothing was written, so trying again is safe.`,
        { cause: error },
      );
  }
}

/**
 * Turns any error raised while the store was `doing` something into a `DurableError` with a stable `code`, keeping
 * the original as `cause`. `DurableError`s pass through unchanged.
 *
 * | driver error | store error |
 * |---|---|
 * | authentication failed, unauthorized, missing credentials | `StoreAuthenticationError` (`store-auth-failed`) |
 * | commit outcome unknown (`UnknownTransactionCommitResult` label), a write concern error of a single write (the write applied, its majority acknowledgement timed out or ended in a step-down) | `CommitOutcomeUnknownError` (`commit-outcome-unknown`, 503) |
 * | server selection failed, network error (also one a bulk write wraps), no reply before the store's deadline, the selected server closed (it left the topology) | `StoreUnreachableError` (`store-unreachable`, 503) |
 * | client closed (or never connected) | `StoreClosedError` (`store-closed`) |
 * | document too large | `PayloadTooLargeError` (`payload-too-large`, 413) |
 * | a transaction too large for the WiredTiger cache (`TransactionTooLargeForCache`) | `StoreCacheFullError` (507): it may pass on a quieter cache; the worker tries a step three times, then records it |
 * | a read the store bounded ran out of its `maxTimeMS` (`MaxTimeMSExpired`, not a commit's) | `UnavailableError` (`unavailable`, 503): nothing written, try again |
 * | an operation an overloaded server shed (`SystemOverloadedError` and `RetryableError` labels), after the driver's own retries | `StoreUnreachableError` (`store-unreachable`, 503): it did not run, try again later (not `unavailable`, which the runtime reads as a call that may have applied: `mayHaveApplied`) |
 * | a transaction aborted (`TransientTransactionError`) after the driver's retries ran out: nothing written | `StoreUnreachableError` (`store-unreachable`, 503): it did not run, try again (write conflicts on a hot instance, an election that outlasted the retries) |
 * | a majority read refused because the server runs with `enableMajorityReadConcern=false` (ReadConcernMajorityNotEnabled, 148: a MongoDB 4.4 PSA set, say) | `MongoStoreError` (`store-error`), naming that setting; `connect` fails with it |
 * | a duplicate key on a unique index (a caller's create racing for an id is told apart first: `isDuplicateIdOf`) | `MongoStoreError` (`store-error`), naming the likely cause |
 * | anything else | `MongoStoreError` (`store-error`) |
 *
 * @example
 * ```ts
 * try { await collection.findOne({}); } catch (e) { throw mapDriverError(e, 'reading an instance'); }
 * ```
 */
export function mapDriverError(error: unknown, doing: string): DurableError {
  if (isDurableError(error)) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const options = { cause: error };
  switch (classifyDriverError(error)) {
    case 'auth':
      return new StoreAuthenticationError(
        `MongoDB refused the credentials or a required privilege while ${doing}: ${detail}. ` +
          'Check the user, password, authSource and the roles of the user (readWrite on the database; changeStream needs find).',
        options,
      );
    case 'commit-unknown':
      return commitOutcomeUnknown(error, doing);
    case 'unreachable':
      if (shape(error).name === 'MongoWaitQueueTimeoutError') {
        return new StoreUnreachableError(
          `Every connection of the MongoDB pool stayed busy for waitQueueTimeoutMS while ${doing}: ${detail}. ` +
            'The server answers slower than the process sends work: check its load, or raise maxPoolSize, or lower the ' +
            'worker\'s maxConcurrentOrchestrations / maxConcurrentActivities.',
          options,
        );
      }
      return new StoreUnreachableError(
        `Could not reach a MongoDB primary while ${doing}: ${detail}. ` +
          'Check that the server runs, that the connection string names the right hosts and replica set, and serverSelectionTimeoutMS.',
        options,
      );
    case 'closed':
      return new StoreClosedError(`The MongoDB client was closed while ${doing}`, options);
    case 'too-large':
      return new PayloadTooLargeError(`A document exceeded MongoDB's 16 MiB limit while ${doing}: ${detail}`, options);
    case 'too-large-for-cache':
      return new StoreCacheFullError(
        `MongoDB rolled back a transaction too large for its WiredTiger cache while ${doing}: ${detail}. ` +
          'Nothing of it was written; it may pass when the cache is less busy (smaller payloads or a larger cache help).',
        options,
      );
    case 'overloaded':
      return new StoreUnreachableError(
        `MongoDB is overloaded and refused an operation while ${doing}, also when the driver sent it again: ${detail}. ` +
          'That operation did not run; try again later (the worker backs off by itself). Lasting refusals mean more load ' +
          'than the deployment can serve: lower the workers\' concurrency, or scale the deployment.',
        options,
      );
    case 'timed-out':
      return new UnavailableError(
        `MongoDB did not answer within the time the store allows while ${doing}: ${detail}. ` +
          'A majority read waits for a majority of the replica set to confirm the writes before it; when no majority answers, it ' +
          'waits until this bound. Nothing was written; try again.',
        options,
      );
    case 'transaction-aborted':
      // The label says the transaction did not run: nothing of it was written, as for an operation an overloaded
      // server shed. So the same 503 "did not run, try again", not a 500 that reads as a fault of the store.
      return new StoreUnreachableError(
        `MongoDB aborted the transaction while ${doing}, and the retries did not get it through: ${detail}. ` +
          'Nothing of it was written, so trying again is safe (the worker retries steps and activity results by itself). ' +
          'Lasting write conflicts mean many writers of one instance at once (a hot instance); an election that outlasts the retries, a primary that is unhealthy.',
        options,
      );
    case 'duplicate-key':
      // A create that lost a race for its id is told apart by its caller (isDuplicateIdOf) and becomes
      // InstanceAlreadyExistsError; any other duplicate is no conflict of the caller's request.
      return new MongoStoreError(
        `MongoDB refused a duplicate key on a unique index while ${doing}: ${detail}. ` +
          'The store\'s unique indexes index a missing field as null: a document another program wrote into the store\'s ' +
          'collections without those fields (see the README, "Indexes") makes the next such key collide.',
        options,
      );
    case 'majority-reads-disabled':
      return new MongoStoreError(
        `MongoDB refused a majority read while ${doing}: ${detail}. The deployment runs with ` +
          'enableMajorityReadConcern=false (possible up to MongoDB 4.4, usually on a primary–secondary–arbiter set), so every ' +
          'read the store makes fails. Turn majority read concern back on (remove --enableMajorityReadConcern false / ' +
          'replication.enableMajorityReadConcern: false; on a PSA set replace the arbiter with a data-bearing member), or ' +
          'upgrade to MongoDB 5.0 or later, where it is always on.',
        options,
      );
    case 'other':
      return new MongoStoreError(`MongoDB failed while ${doing}: ${detail}`, options);
  }
}

// ------------------------------------------------------------------ helpers

function commitOutcomeUnknown(error: unknown, doing: string): CommitOutcomeUnknownError {
  return new CommitOutcomeUnknownError(
    `MongoDB could not confirm whether the write committed while ${doing}: ${messageOf(error)}. ` +
      'It may have been applied. A leased write (a step, an activity result) is safe to retry: if it did commit, the retry ' +
      'is refused with lease-lost. A client command (raiseEvent, for example) may apply twice if repeated: check the instance first.',
    { cause: error },
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface ErrorShape {
  readonly name?: string;
  readonly code?: unknown;
  readonly codeName?: unknown;
}

function shape(error: unknown): ErrorShape {
  if (typeof error !== 'object' || error === null) return {};
  const e = error as { name?: unknown; code?: unknown; codeName?: unknown };
  return { ...(typeof e.name === 'string' ? { name: e.name } : {}), code: e.code, codeName: e.codeName };
}

/**
 * True for an operation an overloaded server shed ({@link OVERLOADED_LABEL}, {@link RETRYABLE_LABEL}): it did not run,
 * and sending it again later is safe. A command fails with `StoreUnreachableError`; a change stream reopens
 * (resume-policy.ts).
 *
 * @example
 * ```ts
 * isShedForOverload(Object.assign(new Error('shed'), { errorLabels: ['SystemOverloadedError', 'RetryableError'] })); // true
 * ```
 */
export function isShedForOverload(error: unknown): boolean {
  return hasErrorLabel(error, OVERLOADED_LABEL) && hasErrorLabel(error, RETRYABLE_LABEL);
}

/**
 * Whether a driver error carries the error label `label` (`TransientTransactionError`, `UnknownTransactionCommitResult`,
 * ...), read from its `errorLabels` or asked through `hasErrorLabel` (names, not `instanceof`, as everywhere here).
 *
 * @example
 * ```ts
 * hasErrorLabel(Object.assign(new Error('conflict'), { errorLabels: ['TransientTransactionError'] }), 'TransientTransactionError'); // true
 * ```
 */
export function hasErrorLabel(error: unknown, label: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { errorLabels, hasErrorLabel: ask } = error as { errorLabels?: unknown; hasErrorLabel?: unknown };
  if (Array.isArray(errorLabels) && errorLabels.includes(label)) return true;
  // MongoError keeps its labels in a private set; hasErrorLabel is the public way to ask.
  return typeof ask === 'function' && (ask as (label: string) => unknown).call(error, label) === true;
}

/**
 * A write the server applied and then could not confirm to its write concern: the driver's `MongoWriteConcernError`
 * (the reply had `ok: 1` and a `writeConcernError`), or a `MongoBulkWriteError` whose result holds one (the driver
 * rewraps a batch's write concern error so), unless the write concern is one no retry satisfies
 * ({@link MISCONFIGURED_WRITE_CONCERN_CODES}). A write concern error never means that nothing was written: the server
 * reports it after the write, whatever its code (a timeout, 64, or a primary stepping down, 189, while it waited).
 */
function isUnconfirmedWrite(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; code?: unknown; codeName?: unknown; result?: { getWriteConcernError?: unknown } };
  let concern: { code?: unknown; codeName?: unknown } | undefined;
  if (e.name === 'MongoWriteConcernError') concern = e;
  else if (e.name === 'MongoBulkWriteError' && typeof e.result?.getWriteConcernError === 'function') {
    concern = (e.result.getWriteConcernError as () => { code?: unknown; codeName?: unknown } | undefined).call(e.result);
  }
  if (concern === undefined) return false;
  return !(typeof concern.code === 'number' && MISCONFIGURED_WRITE_CONCERN_CODES.has(concern.code)) &&
    !(typeof concern.codeName === 'string' && MISCONFIGURED_WRITE_CONCERN_NAMES.has(concern.codeName));
}

function isAuthFailure(error: unknown): boolean {
  const s = shape(error);
  return (
    (s.name !== undefined && AUTH_NAMES.has(s.name)) ||
    (typeof s.code === 'number' && AUTH_CODES.has(s.code)) ||
    (typeof s.codeName === 'string' && AUTH_CODE_NAMES.has(s.codeName)) ||
    // Atlas reports bad credentials as AtlasError 8000 ("bad auth : authentication failed").
    (s.code === 8000 && error instanceof Error && /auth/i.test(error.message))
  );
}

/**
 * The driver error a `MongoBulkWriteError` wraps when a batch failed for a driver reason (a network error, a closed
 * client) rather than a server reply: the driver keeps it only as `errorResponse` (no `cause`, its own name
 * `MongoBulkWriteError`). A bulk write the server refused wraps a plain reply (no name) and is classified by its own
 * code. `undefined` for any other error.
 */
function wrappedDriverError(error: unknown): object | undefined {
  if (shape(error).name !== 'MongoBulkWriteError') return undefined;
  const inner = (error as { errorResponse?: unknown }).errorResponse;
  return typeof inner === 'object' && inner !== null && inner !== error && shape(inner).name !== undefined ? inner : undefined;
}

/**
 * The error, its `cause`s, the driver error a bulk write wraps (`errorResponse`), and for a server-selection failure the last error seen from each server (the driver keeps
 * them in `reason.servers`). Bounded, so a cyclic cause cannot loop.
 */
function errorChain(error: unknown): unknown[] {
  const out: unknown[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && out.length < 32) {
    const next = queue.shift();
    if (typeof next !== 'object' || next === null || out.includes(next)) continue;
    out.push(next);
    const { cause, reason } = next as { cause?: unknown; reason?: unknown };
    if (cause !== undefined) queue.push(cause);
    const wrapped = wrappedDriverError(next);
    if (wrapped !== undefined) queue.push(wrapped);
    const servers = (reason as { servers?: unknown } | undefined)?.servers;
    if (servers instanceof Map) for (const server of servers.values()) queue.push((server as { error?: unknown }).error);
  }
  return out;
}
