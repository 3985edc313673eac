import { BSON, Int32, Long, MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { adminDb, STORE_BSON_OPTIONS, storeDb } from '../src/store-db.js';

/**
 * An application's client may set BSON options for its own reasons; the store's handles pin the driver's defaults.
 * Real driver objects, no server: creating a client, a Db and a Collection sends nothing.
 */
describe('the store\u2019s database handle on an application\u2019s client', () => {
  // The driver refuses useBigInt64 with promoteValues or promoteLongs false on one client: two applications, then.
  const bigints = new MongoClient('mongodb://127.0.0.1:1/', { useBigInt64: true });
  const hostile = new MongoClient('mongodb://127.0.0.1:1/', {
    promoteValues: false, promoteLongs: false, promoteBuffers: true, bsonRegExp: true, ignoreUndefined: true,
    serializeFunctions: true, enableUtf8Validation: false,
  });
  afterAll(() => Promise.all([bigints.close(), hostile.close()]));

  it('keeps the driver\u2019s default BSON options on every collection, whatever the client sets', () => {
    // The control: a handle that does not pin them inherits the client's.
    expect(bigints.db('orders').collection('instances').bsonOptions).toMatchObject({ useBigInt64: true });
    expect(hostile.db('orders').collection('instances').bsonOptions).toMatchObject({ promoteValues: false, ignoreUndefined: true, bsonRegExp: true });
    for (const client of [bigints, hostile]) {
      const db = storeDb(client, 'orders');
      for (const handle of [db, db.collection('instances'), db.collection('history', { readConcern: { level: 'local' } })]) {
        expect(handle.bsonOptions).toMatchObject(STORE_BSON_OPTIONS);
      }
      expect(adminDb(client).bsonOptions).toMatchObject(STORE_BSON_OPTIONS);
    }
    const db = storeDb(hostile, 'orders');
    // And the read and write concerns and read preference it always had.
    expect(db.readConcern?.level).toBe('majority');
    expect(db.readPreference.mode).toBe('primary');
  });

  it('so a stored counter reads back as a number and a missing field is written as null, as the store compares them', () => {
    const stored = BSON.serialize({ seq: Long.fromNumber(41), rev: new Int32(3), leaseToken: undefined });
    expect(typeof BSON.deserialize(stored, bigints.db('orders').collection('instances').bsonOptions)['seq']).toBe('bigint');
    const asTheClientWould = BSON.deserialize(stored, hostile.db('orders').collection('instances').bsonOptions);
    expect(asTheClientWould['seq']).toBeInstanceOf(Long);
    expect(asTheClientWould['rev']).toBeInstanceOf(Int32);
    expect(BSON.deserialize(stored, storeDb(bigints, 'orders').collection('instances').bsonOptions)['seq']).toBe(41);
    const asTheStoreDoes = BSON.deserialize(stored, storeDb(hostile, 'orders').collection('instances').bsonOptions);
    expect(asTheStoreDoes['seq']).toBe(41);
    expect(asTheStoreDoes['rev']).toBe(3);
    // ignoreUndefined: false writes an undefined field as null (what a free lease's `leaseToken` reads as), not nothing.
    const written = BSON.deserialize(BSON.serialize({ leaseToken: undefined }, storeDb(hostile, 'orders').bsonOptions));
    expect(written).toEqual({ leaseToken: null });
  });
});
