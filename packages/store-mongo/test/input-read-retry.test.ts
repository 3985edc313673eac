import { StoreClosedError } from '@durable-rx/runtime';
import { MongoNetworkError, MongoServerError, MongoTopologyClosedError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { INPUT_READ_RETRY, inputReadStep } from '../src/input-read-retry.js';

// Real driver error objects, built as the driver builds them; the decision is a pure function of error and count.
const reset = () => new MongoNetworkError('connection reset');
const electing = () => new MongoServerError({ ok: 0, code: 11602, codeName: 'InterruptedDueToReplStateChange', errmsg: 'stepping down' });
const unauthorized = () => new MongoServerError({ ok: 0, code: 13, codeName: 'Unauthorized', errmsg: 'not authorized on db to execute find' });

describe('reading an input a status change needs, again after a failure', () => {
  it('reads again after a failure that passes, with a back-off that doubles up to its bound', () => {
    const delays = [1, 2, 3, 4].map((failures) => inputReadStep(reset(), failures));
    expect(delays).toEqual([
      { kind: 'retry', delayMs: 500 }, { kind: 'retry', delayMs: 1_000 }, { kind: 'retry', delayMs: 2_000 }, { kind: 'retry', delayMs: 4_000 },
    ]);
    expect(inputReadStep(electing(), 1)).toEqual({ kind: 'retry', delayMs: 500 });
  });

  it('gives up after the last read: every wait has an end, and the change is not delivered without its input', () => {
    expect(inputReadStep(reset(), INPUT_READ_RETRY.attempts)).toEqual({ kind: 'fail' });
    expect(inputReadStep(reset(), INPUT_READ_RETRY.attempts + 10)).toEqual({ kind: 'fail' });
    expect(inputReadStep(reset(), Number.NaN)).toEqual({ kind: 'fail' });
  });

  it('gives up at once on a failure that does not pass by itself (a refused privilege)', () => {
    expect(inputReadStep(unauthorized(), 1)).toEqual({ kind: 'fail' });
    expect(inputReadStep(new Error('something else'), 1)).toEqual({ kind: 'fail' });
  });

  it('stops without a report when the store or its client is closing', () => {
    expect(inputReadStep(new StoreClosedError('The store is closed'), 1)).toEqual({ kind: 'closed' });
    expect(inputReadStep(new MongoTopologyClosedError(), 1)).toEqual({ kind: 'closed' });
  });
});
