import { ReadConcern, ReadPreference, WriteConcern } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoStore } from '../src/mongo-store.js';
import { DEFAULT_TRANSACTION_OPTIONS, transactionOptionsFor, transactionOptionsProblem, transactionWriteConcernWarning } from '../src/write-concern.js';

describe('transactionOptionsProblem', () => {
  it('accepts the defaults and every setting a MongoDB transaction can run with', () => {
    for (const ok of [
      undefined, {}, DEFAULT_TRANSACTION_OPTIONS,
      { readPreference: 'primary' as const }, { readPreference: ReadPreference.primary },
      { readConcern: { level: 'majority' as const } }, { readConcern: new ReadConcern('local') }, { readConcern: { level: 'snapshot' as const } },
      { writeConcern: { w: 'majority' as const, journal: true } }, { writeConcern: { w: 1 } }, { writeConcern: new WriteConcern('majority') },
      { maxCommitTimeMS: 60_000 },
    ]) {
      expect(transactionOptionsProblem(ok), JSON.stringify(ok)).toBeUndefined();
    }
  });

  it('refuses a read preference other than primary, a read concern MongoDB refuses in a transaction, and w: 0', () => {
    for (const preference of ['secondary', 'secondaryPreferred', 'primaryPreferred', 'nearest'] as const) {
      expect(transactionOptionsProblem({ readPreference: preference })).toContain(`transactionOptions.readPreference must be 'primary'`);
      expect(transactionOptionsProblem({ readPreference: new ReadPreference(preference) })).toContain(preference);
    }
    for (const level of ['available', 'linearizable'] as const) {
      expect(transactionOptionsProblem({ readConcern: { level } })).toContain(`not ${level}`);
      expect(transactionOptionsProblem({ readConcern: new ReadConcern(level) })).toContain('transactionOptions.readConcern');
    }
    // null is no absence here: merged over the default, it would let the driver fall back to the client's read preference.
    expect(transactionOptionsProblem({ readPreference: null as unknown as 'primary' })).toContain('not null');
    expect(transactionOptionsProblem({ writeConcern: { w: 0 } })).toContain('transactionOptions.writeConcern must be acknowledged');
    expect(transactionOptionsProblem({ writeConcern: new WriteConcern(0) })).toContain('w: 0');
  });

  it('is checked by connect, before connecting: such a store would pass connect and fail every commit', async () => {
    // Nothing listens on port 1: without the check these would end as store-unreachable after server selection.
    const uri = 'mongodb://127.0.0.1:1/app?replicaSet=rs0';
    const clientOptions = { serverSelectionTimeoutMS: 2000 };
    for (const transactionOptions of [{ readPreference: 'secondaryPreferred' as const }, { readConcern: { level: 'available' as const } }, { writeConcern: { w: 0 } }]) {
      await expect(MongoStore.connect({ uri, clientOptions, transactionOptions }), JSON.stringify(transactionOptions))
        .rejects.toMatchObject({ code: 'invalid-argument', status: 400, message: expect.stringContaining('transactionOptions.') });
    }
  });
});

describe('transactionWriteConcernWarning: read-your-writes needs majority commits', () => {
  it('warns when the store\u2019s transactions commit with a w other than majority, and only then', () => {
    expect(transactionWriteConcernWarning(transactionOptionsFor(undefined))).toBeUndefined();
    expect(transactionWriteConcernWarning(transactionOptionsFor({ writeConcern: { journal: true } }))).toBeUndefined();
    expect(transactionWriteConcernWarning(transactionOptionsFor({ writeConcern: { w: 'majority', wtimeoutMS: 5_000 } }))).toBeUndefined();
    for (const w of [1, 2] as const) {
      expect(transactionWriteConcernWarning(transactionOptionsFor({ writeConcern: { w } })), String(w)).toContain(`w: ${JSON.stringify(w)}, not 'majority'`);
    }
    expect(transactionWriteConcernWarning(transactionOptionsFor({ writeConcern: new WriteConcern(1) }))).toContain('read-your-writes');
  });
});
