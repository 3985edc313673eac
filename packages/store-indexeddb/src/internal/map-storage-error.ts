import { InvalidArgumentError, isDurableError, type DurableError } from '@durable-rx/runtime';
import { StorageError } from '../errors/storage-error.js';
import { StorageQuotaExceededError } from '../errors/storage-quota-exceeded-error.js';

/**
 * Turns an IndexedDB or Dexie error into a typed durable-rx error, keeping the original as `cause`. Errors that
 * already are `DurableError`s (a lost lease, a conflict) pass through unchanged. Dexie wraps native errors in
 * `inner`, aborted transactions report the request's error, and our own errors may wrap others in `cause`: the
 * whole chain is searched for the first name that tells what happened.
 *
 * @example
 * ```ts
 * try { await db.transaction('rw', ...); } catch (e) { throw mapStorageError(e, 'commit'); }
 * ```
 */
export function mapStorageError(error: unknown, operation: string): DurableError {
  if (isDurableError(error)) return error;
  const names = errorNames(error);
  // No IndexedDB here (server-side rendering in Node, a worker or browser without it): Dexie's MissingAPIError, or
  // KeyvalStore's (missingApi). Access denied: indexedDB.open throws a SecurityError in an opaque origin (a sandboxed
  // iframe, a data: URL) or where the browser's settings forbid storage. Either holds for as long as the page lives:
  // the error says storeClosed, so a worker stops once instead of retrying for ever (its code stays storage-error).
  if (names.includes(MISSING_API)) {
    return new StorageError(`IndexedDB is not available here (server-side rendering?); ${operation} failed`, { cause: error, storeClosed: true });
  }
  if (names.includes('SecurityError')) {
    return new StorageError(`Access to IndexedDB is denied here (a sandboxed iframe, a data: URL, privacy settings); ${operation} failed`, { cause: error, storeClosed: true });
  }
  if (names.includes('QuotaExceededError')) {
    return new StorageQuotaExceededError(`The storage quota is used up; ${operation} was not written`, { cause: error });
  }
  if (names.includes('DataCloneError')) {
    return new InvalidArgumentError(`A value of ${operation} cannot be stored (not structured-cloneable)`, { cause: error });
  }
  return new StorageError(`IndexedDB failed during ${operation}: ${describe(error)}`, { cause: error });
}

/** The name of the error for a missing IndexedDB API: Dexie's, so that one rule maps both adapters' alike. */
const MISSING_API = 'MissingAPIError';

/**
 * The error KeyvalStore throws where a global it opens its database with (`indexedDB`, or `IDBKeyRange` when none was
 * given) is missing: named as Dexie's own, which {@link mapStorageError} maps.
 */
export function missingApi(global: string): Error {
  return Object.assign(new Error(`${global} is missing`), { name: MISSING_API });
}

/** Names of an error and of the errors it wraps (`inner` for Dexie, `cause` for standard errors). */
export function errorNames(error: unknown): string[] {
  const names: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const { name, inner, cause } = current as { name?: unknown; inner?: unknown; cause?: unknown };
    if (typeof name === 'string') names.push(name);
    current = inner ?? cause;
  }
  return names;
}

function describe(error: unknown): string {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    return `${String(name ?? 'Error')}: ${String(message ?? '')}`;
  }
  return String(error);
}
