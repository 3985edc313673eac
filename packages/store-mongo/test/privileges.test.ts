import { describe, expect, it } from 'vitest';
import { StoreAuthenticationError } from '../src/errors/store-authentication-error.js';
import { collectionNames, indexesListedAtConnect } from '../src/indexes.js';
import { assertPrivileges, missingPrivileges, requiredPrivileges, type Privilege } from '../src/privileges.js';

// Shapes of real `connectionStatus: 1, showPrivileges: true` replies (abridged: built-in roles expand to these
// resources; only the actions that matter here are listed).
const READ_WRITE_ACTIONS = [
  'changeStream', 'collStats', 'convertToCapped', 'createCollection', 'createIndex', 'dbHash', 'dbStats', 'dropCollection',
  'dropIndex', 'find', 'insert', 'killCursors', 'listCollections', 'listIndexes', 'remove', 'renameCollectionSameDB', 'update',
];
const READ_ACTIONS = ['changeStream', 'collStats', 'dbHash', 'dbStats', 'find', 'killCursors', 'listCollections', 'listIndexes'];

function status(privileges: unknown[], users: unknown[] = [{ user: 'app', db: 'admin' }]) {
  return { authInfo: { authenticatedUsers: users, authenticatedUserRoles: [], authenticatedUserPrivileges: privileges }, ok: 1 };
}

const names = collectionNames('drx_');
const required = requiredPrivileges('orders', names, { createIndexes: true });
const requiredNoIndexes = requiredPrivileges('orders', names, { createIndexes: false });

describe('privilege check at connect', () => {
  it('asks for find and changeStream on the whole database (the wake-up stream) and for what it does on each collection', () => {
    expect(required[0]).toEqual({ resource: { db: 'orders', collection: '' }, actions: ['find', 'changeStream'] });
    const on = (collection: string) => required.find((p) => p.resource.collection === collection)?.actions;
    expect(on('drx_instances')).toEqual(['find', 'insert', 'update', 'remove', 'changeStream', 'createCollection', 'createIndex', 'dropIndex', 'listIndexes']);
    expect(on('drx_purges')).toEqual(['find', 'insert', 'createCollection', 'createIndex', 'listIndexes']);
    // The raise-key records: read, upserted by a keyed raise, deleted by a purge; no index of their own (only its _id_,
    // listed to refuse a default collation).
    expect(on('drx_raiseKeys')).toEqual(['find', 'insert', 'update', 'remove', 'createCollection', 'listIndexes']);
    expect(required.map((p) => p.resource.collection).sort()).toEqual(['', ...Object.values(names)].sort());
    // Without createIndexes the schema actions are not asked for.
    for (const privilege of requiredNoIndexes) {
      for (const action of ['createCollection', 'createIndex', 'dropIndex']) expect(privilege.actions).not.toContain(action);
    }
  });

  it('asks for listIndexes in both modes on exactly the collections whose indexes connect lists', () => {
    for (const createIndexes of [true, false]) {
      const privileges = requiredPrivileges('orders', names, { createIndexes });
      const listing = privileges.filter((p) => p.actions.includes('listIndexes')).map((p) => p.resource.collection);
      expect(listing.sort(), String(createIndexes)).toEqual(indexesListedAtConnect().map((kind) => names[kind]).sort());
    }
    // connect checks every collection's indexes for fitness (and without createIndexes that none is missing).
    expect(requiredNoIndexes.find((p) => p.resource.collection === 'drx_purges')?.actions).toEqual(['find', 'insert', 'listIndexes']);
    // update: a process leases the sweep it works, so that one process at a time works it.
    expect(requiredNoIndexes.find((p) => p.resource.collection === 'drx_sweeps')?.actions).toEqual(['find', 'insert', 'update', 'remove', 'listIndexes']);
  });

  it('accepts readWrite on the database, readWriteAnyDatabase, and root-like grants', () => {
    expect(missingPrivileges(status([{ resource: { db: 'orders', collection: '' }, actions: READ_WRITE_ACTIONS }]), required)).toEqual([]);
    expect(missingPrivileges(status([{ resource: { db: '', collection: '' }, actions: READ_WRITE_ACTIONS }]), required)).toEqual([]);
    expect(missingPrivileges(status([{ resource: { anyResource: true }, actions: ['anyAction'] }]), required)).toEqual([]);
    // Spread over several privilege documents (several roles): each action may come from another one.
    const split = status([
      { resource: { db: 'orders', collection: '' }, actions: ['find', 'changeStream'] },
      { resource: { db: '', collection: '' }, actions: ['insert', 'update', 'remove'] },
      { resource: { db: 'orders', collection: '' }, actions: ['createCollection', 'createIndex', 'listIndexes', 'dropIndex'] },
    ]);
    expect(missingPrivileges(split, required)).toEqual([]);
  });

  it('names what a read-only user lacks on each collection', () => {
    const missing = missingPrivileges(status([{ resource: { db: 'orders', collection: '' }, actions: READ_ACTIONS }]), requiredNoIndexes);
    expect(missing).toContainEqual({ resource: { db: 'orders', collection: 'drx_instances' }, actions: ['insert', 'update', 'remove'] });
    expect(missing).toContainEqual({ resource: { db: 'orders', collection: 'drx_purges' }, actions: ['insert'] });
    // find and changeStream on the database are granted.
    expect(missing?.some((p) => p.resource.collection === '')).toBe(false);
  });

  it('refuses collection-level grants for the database-wide wake-up stream, and grants on another database', () => {
    // A custom role that names each collection: enough for everything but the change stream on the whole database.
    const perCollection = status(required.slice(1).map((p) => ({ resource: p.resource, actions: [...p.actions] })));
    expect(missingPrivileges(perCollection, required)).toEqual([{ resource: { db: 'orders', collection: '' }, actions: ['find', 'changeStream'] }]);
    // The same collection names in every database ({ db: '' }) still do not cover a whole database.
    const anyDb = status(required.slice(1).map((p) => ({ resource: { db: '', collection: p.resource.collection }, actions: [...p.actions] })));
    expect(missingPrivileges(anyDb, required)).toEqual([{ resource: { db: 'orders', collection: '' }, actions: ['find', 'changeStream'] }]);
    // readWrite on another database, or cluster-wide actions, grant nothing here.
    const elsewhere = status([
      { resource: { db: 'billing', collection: '' }, actions: READ_WRITE_ACTIONS },
      { resource: { cluster: true }, actions: ['find', 'insert', 'changeStream'] },
    ]);
    expect(missingPrivileges(elsewhere, required)).toEqual(required);
  });

  it('cannot tell without an authenticated user (access control off, or no credentials): no verdict', () => {
    expect(missingPrivileges(status([], []), required)).toBeUndefined();
    expect(missingPrivileges({ ok: 1 }, required)).toBeUndefined();
    expect(missingPrivileges({ authInfo: { authenticatedUsers: [{ user: 'app', db: 'admin' }] }, ok: 1 }, required)).toBeUndefined();
    // A user and an empty list: not reported (a server or proxy without it), never "everything is missing".
    expect(missingPrivileges(status([]), required)).toBeUndefined();
    expect(() => assertPrivileges(status([], []), required)).not.toThrow();
  });

  it('fails with StoreAuthenticationError naming every missing action and resource, and how to grant them', () => {
    const reply = status([{ resource: { db: 'orders', collection: '' }, actions: READ_ACTIONS }], [{ user: 'app', db: 'orders' }]);
    let caught: unknown;
    try {
      assertPrivileges(reply, required);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StoreAuthenticationError);
    expect(caught).toMatchObject({ code: 'store-auth-failed', status: 500 });
    const message = (caught as Error).message;
    expect(message).toContain('app@orders');
    expect(message).toContain('insert, update, remove, createCollection, createIndex, dropIndex on orders.drx_instances');
    expect(message).not.toContain('listIndexes, dropIndex on'); // read already grants listIndexes
    expect(message).toContain('insert, createCollection, createIndex on orders.drx_purges');
    expect(message).toContain('readWrite');
    expect(message).toContain(`db.getSiblingDB("orders").grantRolesToUser("app", [{ role: 'readWrite', db: "orders" }])`);
    const wholeDb = (() => {
      try {
        assertPrivileges(status([{ resource: { db: 'orders', collection: 'x' }, actions: ['find'] }]),
          [{ resource: { db: 'orders', collection: '' }, actions: ['find', 'changeStream'] }] satisfies Privilege[]);
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(wholeDb).toContain('find, changeStream on the whole database "orders"');
  });
});
