import type { Document } from 'mongodb';
import { ReplicaSetRequiredError } from './errors/replica-set-required-error.js';
import { StoreUnreachableError } from './errors/store-unreachable-error.js';

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
  if (hello['isreplicaset'] === true) {
    // Started with --replSet, but rs.initiate() never ran: the member has no configuration yet.
    throw new ReplicaSetRequiredError(
      'The server was started with --replSet but its replica set is not initiated, so it has neither transactions nor ' +
        'change streams yet. Run rs.initiate() once, e.g. `mongosh --eval "rs.initiate({ _id: \'rs0\', members: ' +
        '[{ _id: 0, host: \'127.0.0.1:27017\' }] })"` (the _id must be the --replSet name), then connect with ?replicaSet=rs0.',
    );
  }
  throw new ReplicaSetRequiredError(
    'MongoStore needs a replica set or a sharded cluster (transactions make each orchestration step atomic; change ' +
      'streams push status changes and wake workers), but the server is a standalone mongod. ' + SINGLE_NODE_REPLICA_SET_HOWTO,
  );
}

/**
 * Throws `StoreUnreachableError` (503) when the `hello` reply comes from a replica-set member that is not the primary:
 * the connection string connects directly (`directConnection=true`) to a secondary or an arbiter, where every write
 * (and every transaction) would be refused later with NotWritablePrimary. Naming the set instead lets the driver find
 * the primary and follow it through elections.
 *
 * @example
 * ```ts
 * assertWritablePrimary({ setName: 'rs0', isWritablePrimary: false, secondary: true, primary: 'db1:27017' }); // throws
 * ```
 */
export function assertWritablePrimary(hello: Document): void {
  if (classifyDeployment(hello) !== 'replica-set') return;
  if (hello['isWritablePrimary'] === true || hello['ismaster'] === true) return;
  const setName = String(hello['setName']);
  const role = hello['arbiterOnly'] === true ? 'an arbiter' : hello['secondary'] === true ? 'a secondary' : 'a member that is not the primary';
  const primary = typeof hello['primary'] === 'string' ? ` (its primary is ${hello['primary']})` : '';
  throw new StoreUnreachableError(
    `MongoStore reached ${role} of replica set ${JSON.stringify(setName)}${primary}, not its primary: the connection ` +
      'string connects directly to one member (directConnection=true), and that member refuses writes and transactions. ' +
      `Remove directConnection=true and name the set instead (?replicaSet=${encodeURIComponent(setName)}), so that the ` +
      'driver finds the primary and follows it through elections.',
  );
}

/**
 * A warning when the client connects directly to one member (`directConnection=true`) of a replica set whose `hello`
 * reply lists more than one member that can become primary (`hosts`; priority-0 members are `passives`, arbiters
 * `arbiters`): after an election moves the primary to another member, every write and transaction the store sends
 * fails with NotWritablePrimary until the process restarts with another URI, since a direct connection never follows
 * the primary. `undefined` otherwise: not direct, or a set with one such member (a single-node development set, where
 * a direct connection helps when the member's name does not resolve from the host).
 *
 * @example
 * ```ts
 * directConnectionWarning(true, { setName: 'rs0', hosts: ['db1:27017', 'db2:27017', 'db3:27017'] }); // 'directConnection=true ...'
 * directConnectionWarning(true, { setName: 'rs0', hosts: ['127.0.0.1:27017'] });                     // undefined
 * ```
 */
export function directConnectionWarning(directConnection: boolean | undefined, hello: Document): string | undefined {
  if (directConnection !== true || classifyDeployment(hello) !== 'replica-set') return undefined;
  const hosts: unknown = hello['hosts'];
  if (!Array.isArray(hosts) || hosts.length <= 1) return undefined;
  const setName = String(hello['setName']);
  return (
    `directConnection=true connects to one member of replica set ${JSON.stringify(setName)}, which has ${hosts.length} ` +
    'members that can become primary: after an election every write and transaction fails (NotWritablePrimary) until ' +
    `the process restarts. Remove directConnection=true and name the set (?replicaSet=${encodeURIComponent(setName)}) ` +
    'so that the driver follows the primary; connect directly only to a single-node development set.'
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
