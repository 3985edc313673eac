import { describe, expect, it } from 'vitest';
import { StoreUnreachableError } from '../src/errors/store-unreachable-error.js';
import { startsAnotherAttempt, TRANSACTION_RETRY_MS, transactionRanOut } from '../src/transaction-deadline.js';

describe('how long a transaction is attempted again', () => {
  it('starts attempts only within TRANSACTION_RETRY_MS of the first, which ends before the runtime abandons the call', () => {
    expect(startsAnotherAttempt(1_000, 1_000)).toBe(true);
    expect(startsAnotherAttempt(1_000, 1_000 + TRANSACTION_RETRY_MS - 1)).toBe(true);
    expect(startsAnotherAttempt(1_000, 1_000 + TRANSACTION_RETRY_MS)).toBe(false);
    expect(startsAnotherAttempt(0, 5_000, 5_000)).toBe(false);
    // The driver alone would retry for 120 s; the worker abandons a call after storeCallTimeoutMs (30 s by default)
    // and sends it again.
    expect(TRANSACTION_RETRY_MS).toBeLessThan(30_000);
  });

  it('fails a transaction no attempt got through as "did not run" (store-unreachable, 503), the last attempt\u2019s error kept', () => {
    const last = Object.assign(new Error('WriteConflict'), { code: 112 });
    const error = transactionRanOut('committing a step', last);
    expect(error).toBeInstanceOf(StoreUnreachableError);
    expect(error).toMatchObject({ code: 'store-unreachable', status: 503, cause: last });
    expect(error.message).toContain('committing a step');
    expect(transactionRanOut('committing a step', undefined).cause).toBeUndefined();
  });
});
