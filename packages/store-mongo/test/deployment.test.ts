import { describe, expect, it } from 'vitest';
import { assertReplicaSet, assertWritablePrimary, classifyDeployment, databaseFromUri, directConnectionWarning } from '../src/deployment.js';
import { ReplicaSetRequiredError } from '../src/errors/replica-set-required-error.js';

// Shapes of real `hello` replies (abridged).
const STANDALONE = { isWritablePrimary: true, topologyVersion: {}, maxBsonObjectSize: 16777216, maxWireVersion: 25, ok: 1 };
const RS_PRIMARY = { ...STANDALONE, hosts: ['127.0.0.1:27017'], setName: 'rs0', setVersion: 1, primary: '127.0.0.1:27017', me: '127.0.0.1:27017' };
const RS_SECONDARY = { ...RS_PRIMARY, isWritablePrimary: false, secondary: true };
const MONGOS = { ...STANDALONE, msg: 'isdbgrid' };
const LOAD_BALANCED = { ...STANDALONE, serviceId: { $oid: '000000000000000000000001' } };

describe('deployment detection', () => {
  it('tells replica sets, sharded clusters and load-balanced deployments from a standalone server', () => {
    expect(classifyDeployment(RS_PRIMARY)).toBe('replica-set');
    expect(classifyDeployment(RS_SECONDARY)).toBe('replica-set');
    expect(classifyDeployment(MONGOS)).toBe('sharded');
    expect(classifyDeployment(LOAD_BALANCED)).toBe('load-balanced');
    expect(classifyDeployment(STANDALONE)).toBe('standalone');
    expect(classifyDeployment({ ...STANDALONE, setName: '' })).toBe('standalone');
  });

  it('refuses a standalone server with a typed error that says how to start a single-node replica set', () => {
    expect(() => assertReplicaSet(RS_PRIMARY)).not.toThrow();
    expect(() => assertReplicaSet(MONGOS)).not.toThrow();
    let caught: unknown;
    try {
      assertReplicaSet(STANDALONE);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ReplicaSetRequiredError);
    expect(caught).toMatchObject({ code: 'replica-set-required', status: 500 });
    const message = (caught as Error).message;
    expect(message).toContain('mongod --replSet rs0');
    expect(message).toContain('rs.initiate(');
    expect(message).toContain('?replicaSet=rs0');
  });
});

describe('reaching the primary', () => {
  it('refuses a direct connection to a secondary or an arbiter, naming the set and its primary (StoreUnreachableError)', () => {
    expect(() => assertWritablePrimary(RS_PRIMARY)).not.toThrow();
    expect(() => assertWritablePrimary(MONGOS)).not.toThrow();
    expect(() => assertWritablePrimary(LOAD_BALANCED)).not.toThrow();
    expect(() => assertWritablePrimary({ ...RS_PRIMARY, isWritablePrimary: undefined, ismaster: true })).not.toThrow(); // legacy isMaster reply
    const refusal = (reply: object) => {
      try {
        assertWritablePrimary(reply);
      } catch (error) {
        return error as Error;
      }
      throw new Error('not refused');
    };
    const secondary = refusal({ ...RS_SECONDARY, primary: 'db1:27017' });
    expect(secondary).toMatchObject({ code: 'store-unreachable', status: 503 });
    expect(secondary.message).toContain('a secondary of replica set "rs0" (its primary is db1:27017)');
    expect(secondary.message).toContain('directConnection=true');
    expect(secondary.message).toContain('?replicaSet=rs0');
    expect(refusal({ ...RS_SECONDARY, secondary: false, arbiterOnly: true }).message).toContain('an arbiter');
  });

  it('tells a member started with --replSet but never initiated from a standalone server', () => {
    const uninitiated = { isWritablePrimary: false, secondary: false, info: 'Does not have a valid replica set config', isreplicaset: true, ok: 1 };
    expect(() => assertReplicaSet(uninitiated)).toThrow(expect.objectContaining({
      code: 'replica-set-required', message: expect.stringContaining('not initiated'),
    }));
    expect(() => assertReplicaSet(uninitiated)).toThrow(expect.objectContaining({ message: expect.stringContaining('rs.initiate(') }));
  });
});

describe('a direct connection to one member', () => {
  const THREE_MEMBERS = { ...RS_PRIMARY, hosts: ['db1:27017', 'db2:27017', 'db3:27017'], primary: 'db1:27017', me: 'db1:27017' };

  it('warns when the set has more than one member that can become primary: an election would fail every write until restart', () => {
    const warning = directConnectionWarning(true, THREE_MEMBERS);
    expect(warning).toContain('directConnection=true');
    expect(warning).toContain('?replicaSet=rs0');
    expect(directConnectionWarning(true, { ...RS_PRIMARY, hosts: ['db1:27017', 'db2:27017'], arbiters: ['db3:27017'] })).toBeDefined();
  });

  it('says nothing of a single-node development set, a set reached through the driver\u2019s discovery, or a mongos', () => {
    expect(directConnectionWarning(true, RS_PRIMARY)).toBeUndefined();
    // One member that can become primary: a priority-0 member or an arbiter never takes over.
    expect(directConnectionWarning(true, { ...RS_PRIMARY, passives: ['db2:27017'], arbiters: ['db3:27017'] })).toBeUndefined();
    expect(directConnectionWarning(false, THREE_MEMBERS)).toBeUndefined();
    expect(directConnectionWarning(undefined, THREE_MEMBERS)).toBeUndefined();
    expect(directConnectionWarning(true, { ...MONGOS, hosts: ['a', 'b'] })).toBeUndefined();
  });
});

describe('database name from a connection string', () => {
  it('reads the path of mongodb:// and mongodb+srv:// URIs', () => {
    expect(databaseFromUri('mongodb://127.0.0.1:27017/orders?replicaSet=rs0')).toBe('orders');
    expect(databaseFromUri('mongodb://u:p%40ss@h1:1,h2:2/app')).toBe('app');
    expect(databaseFromUri('mongodb+srv://cluster0.example.net/my%20db?retryWrites=true')).toBe('my db');
    expect(databaseFromUri('mongodb://127.0.0.1:27017/?replicaSet=rs0')).toBeUndefined();
    expect(databaseFromUri('mongodb://127.0.0.1:27017')).toBeUndefined();
    expect(databaseFromUri('not a uri')).toBeUndefined();
  });
});
