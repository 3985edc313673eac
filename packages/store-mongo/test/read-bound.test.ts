import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { mapDriverError } from '../src/map-driver-error.js';
import {
  READ_DEADLINE_MARGIN_MS, READ_MAX_TIME_MS, readBound, SCAN_BOUND, SCAN_MAX_TIME_MS, TRANSACTION_READ_BOUND,
} from '../src/read-bound.js';

describe('the store\u2019s reads are bounded in time', () => {
  it('a read outside a transaction: maxTimeMS on the server, and a deadline after it for a server that never answers', () => {
    const bound = readBound();
    expect(bound.maxTimeMS).toBe(READ_MAX_TIME_MS);
    expect(READ_MAX_TIME_MS).toBeGreaterThan(0); // the server reads maxTimeMS 0 as "no limit"
    expect(bound.signal).toBeInstanceOf(AbortSignal);
    expect(bound.signal.aborted).toBe(false);
    expect(READ_DEADLINE_MARGIN_MS).toBeGreaterThan(0);
    // A fresh deadline per read: one read's signal is never another's.
    expect(readBound().signal).not.toBe(bound.signal);
  });

  it('a read inside a transaction: maxTimeMS alone (an abort would close the transaction\u2019s connection)', () => {
    expect(TRANSACTION_READ_BOUND).toEqual({ maxTimeMS: READ_MAX_TIME_MS });
  });

  it('a scan over many batches: a longer bound on the server\u2019s processing, no deadline', () => {
    expect(SCAN_BOUND).toEqual({ maxTimeMS: SCAN_MAX_TIME_MS });
    expect(SCAN_MAX_TIME_MS).toBeGreaterThan(READ_MAX_TIME_MS);
  });

  it('a read that runs out fails with the retryable UnavailableError (503), nothing written', () => {
    const expired = new MongoServerError({ message: 'operation exceeded time limit', code: 50, codeName: 'MaxTimeMSExpired' });
    expect(mapDriverError(expired, 'reading instance "a"')).toMatchObject({ code: 'unavailable', status: 503, cause: expired });
    const deadline = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(mapDriverError(deadline, 'reading instance "a"')).toMatchObject({ code: 'store-unreachable', status: 503 });
  });
});
