import { ReadConcern, type BSONSerializeOptions, type Db, type MongoClient } from 'mongodb';
import { SINGLE_WRITE_CONCERN } from './write-concern.js';

/**
 * The BSON options the store reads and writes with: the driver's defaults, stated. A `Db` and its collections inherit
 * every BSON option they do not set from their `MongoClient` (`DbOptions extends BSONSerializeOptions`; the driver's
 * `resolveBSONOptions` prefers the handle's own value, then the parent's), and an application that passes its own
 * client (`{ client }`) may have set any of them for its own reasons: `useBigInt64` or `promoteLongs: false` would turn
 * the store's 64-bit counters into `bigint`s or `Long`s, `promoteValues: false` its numbers into `Int32`/`Double`
 * objects, `raw` every document into a Buffer, `ignoreUndefined` would drop fields its writes set, `bsonRegExp` and
 * `promoteBuffers` change types it compares. Set on the store's `Db`, they hold for every collection made from it.
 */
export const STORE_BSON_OPTIONS = {
  raw: false, promoteValues: true, promoteLongs: true, promoteBuffers: false, useBigInt64: false, bsonRegExp: false,
  ignoreUndefined: false, serializeFunctions: false, fieldsAsRaw: {}, enableUtf8Validation: true,
} as const satisfies Required<Pick<BSONSerializeOptions,
  'raw' | 'promoteValues' | 'promoteLongs' | 'promoteBuffers' | 'useBigInt64' | 'bsonRegExp' | 'ignoreUndefined' | 'serializeFunctions' | 'fieldsAsRaw' | 'enableUtf8Validation'>>;

/**
 * The store's handle on database `dbName`: reads from the primary at `majority`, writes at the store's single-write
 * concern, with {@link STORE_BSON_OPTIONS} whatever `client` sets. Every collection the store uses is made from it.
 *
 * @example
 * ```ts
 * storeDb(appClient, 'orders').collection('instances').bsonOptions.useBigInt64; // false, even when appClient's is true
 * ```
 */
export function storeDb(client: MongoClient, dbName: string): Db {
  return client.db(dbName, { readPreference: 'primary', readConcern: new ReadConcern('majority'), writeConcern: SINGLE_WRITE_CONCERN, ...STORE_BSON_OPTIONS });
}

/**
 * The `admin` database with {@link STORE_BSON_OPTIONS}, for the commands whose replies the store reads (`hello`,
 * `connectionStatus`). In driver 7.8 the pin changes nothing: `Db.command()` inherits no option from its `Db` or client
 * ("Intentionally, we do not inherit options from parent for this operation"; it resolves its BSON options from the
 * options of the call alone), so those replies, and the majority probe's on the store's `Db`, are always read with the
 * driver's defaults, whatever the client sets (a client's `raw` cannot turn a reply into a Buffer). It is kept so that a
 * later driver which does inherit them still reads the replies as the store expects.
 */
export function adminDb(client: MongoClient): Db {
  return client.db('admin', STORE_BSON_OPTIONS);
}
