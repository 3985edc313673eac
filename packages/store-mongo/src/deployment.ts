import type { Document } from 'mongodb';
import { ReplicaSetRequiredError } from './errors/replica-set-required-error.js';

/** What kind of MongoDB deployment a `hello` reply describes. */
export type DeploymentKind = 'replica-set' | 'sharded' | 'load-balanced' | 'standalone';

/**
 * Classifies the reply of the `hello` command: a replica-set member names its set (`setName`), a `mongos` router
 * answers `msg: 'isdbgrid'`, a server behind a load balancer sends a `serviceId`; anything else is a standalone
 * `mongod`, which has neither transactions nor change streams.
 *
 * @example
 * ```ts
 * classifyDeployment({ isWritablePrimary: true, setName: 'rs0' }); // 'replica-set'
 * classifyDeployment({ isWritablePrimary: true });                 // 'standalone'
 * ```
 */
export function classifyDeployment(hello: Document): DeploymentKind {
  if (typeof hello['setName'] === 'string' && hello['setName'] !== '') return 'replica-set';
  if (hello['msg'] === 'isdbgrid') return 'sharded';
  if (hello['serviceId'] !== undefined) return 'load-balanced';
  return 'standalone';
}

/** How to turn a standalone server into a single-node replica set; part of {@link ReplicaSetRequiredError}'s message. */
export const SINGLE_NODE_REPLICA_SET_HOWTO =
  'Start mongod as a single-node replica set instead: `mongod --replSet rs0 --dbpath <dir>`, then once ' +
  '`mongosh --eval "rs.initiate({ _id: \'rs0\', members: [{ _id: 0, host: \'127.0.0.1:27017\' }] })"`, and connect ' +
  'with `mongodb://127.0.0.1:27017/?replicaSet=rs0`. In a container: `docker run -d --name mongo -p 27017:27017 ' +
  'mongo:8 --replSet rs0`, then the same rs.initiate through `docker exec mongo mongosh --eval ...`.';

/**
 * Throws {@link ReplicaSetRequiredError} unless the deployment supports transactions and change streams.
 *
 * @example
 * ```ts
 * assertReplicaSet(await client.db('admin').command({ hello: 1 }));
 * ```
 */
export function assertReplicaSet(hello: Document): void {
  if (classifyDeployment(hello) !== 'standalone') return;
  throw new ReplicaSetRequiredError(
    'MongoStore needs a replica set or a sharded cluster (transactions make each orchestration step atomic; change ' +
      'streams push status changes and wake workers), but the server is a standalone mongod. ' + SINGLE_NODE_REPLICA_SET_HOWTO,
  );
}

/**
 * The database named in the path of a `mongodb://` or `mongodb+srv://` connection string, or `undefined`.
 *
 * @example
 * ```ts
 * databaseFromUri('mongodb://h1,h2/orders?replicaSet=rs0'); // 'orders'
 * databaseFromUri('mongodb://h1/?replicaSet=rs0');          // undefined
 * ```
 */
export function databaseFromUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?#]*\/([^?#]*)/.exec(uri);
  const raw = match?.[1];
  if (!raw) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
