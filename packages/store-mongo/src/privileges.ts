import type { Document } from 'mongodb';
import { StoreAuthenticationError } from './errors/store-authentication-error.js';
import { indexesListedAtConnect, type CollectionNames } from './indexes.js';

/**
 * The privilege check MongoStore runs when it connects: the `connectionStatus` command with `showPrivileges: true`
 * lists every action the authenticated user may perform on every resource, and {@link missingPrivileges} compares that
 * with what the store will do ({@link requiredPrivileges}). One command, no cursor and no session to clean up, and it
 * names everything that is missing at once, where opening a change stream to try would stop at the first refusal,
 * hours later, in a feed.
 */

/** A resource of MongoDB's access control: one collection, or every non-system collection of a database (`collection: ''`). */
export interface PrivilegeResource {
  readonly db: string;
  readonly collection: string;
}

/** Actions on one resource. */
export interface Privilege {
  readonly resource: PrivilegeResource;
  readonly actions: readonly string[];
}

/**
 * Actions the store needs only to create its collections and indexes and drop obsolete ones (`createIndexes`, default
 * true). Listing collections needs no privilege (`authorizedCollections`); listing indexes (`listIndexes`) is asked for
 * in both modes, on the collections whose indexes `connect` lists (`indexesListedAtConnect`).
 */
const SCHEMA_ACTIONS = ['createCollection', 'createIndex', 'dropIndex'] as const;

/**
 * What the store does on each of its collections, and on its database as a whole: the wake-up feed is a change stream
 * on the database, which MongoDB allows only with `find` and `changeStream` on every collection of it (a privilege
 * on `{ db, collection: '' }`). Transactions need no action of their own, only those of the reads and writes in them.
 * With `createIndexes` (the default) the store also creates its collections and indexes and drops obsolete ones; in
 * both modes `connect` lists the indexes of every collection (`listIndexes`, `indexesListedAtConnect`): to refuse unfit
 * ones, and with `createIndexes` to find obsolete and retired ones, without it to check that every index the store
 * needs exists.
 *
 * @example
 * ```ts
 * requiredPrivileges('orders', collectionNames('drx_'), { createIndexes: false })[0];
 * // { resource: { db: 'orders', collection: '' }, actions: ['find', 'changeStream'] }
 * ```
 */
export function requiredPrivileges(db: string, names: CollectionNames, options: { readonly createIndexes: boolean }): Privilege[] {
  const listed = new Set(indexesListedAtConnect());
  const on = (kind: keyof CollectionNames, actions: readonly string[], schemaActions: readonly string[]): Privilege => ({
    resource: { db, collection: names[kind] },
    actions: [...actions, ...(options.createIndexes ? schemaActions : []), ...(listed.has(kind) ? ['listIndexes'] : [])],
  });
  return [
    { resource: { db, collection: '' }, actions: ['find', 'changeStream'] },
    on('instances', ['find', 'insert', 'update', 'remove', 'changeStream'], SCHEMA_ACTIONS),
    on('history', ['find', 'insert', 'remove'], SCHEMA_ACTIONS),
    on('messages', ['find', 'insert', 'remove'], SCHEMA_ACTIONS),
    on('activityTasks', ['find', 'insert', 'update', 'remove'], SCHEMA_ACTIONS),
    // update: a process leases the sweep it works (sweep-lease.ts).
    on('sweeps', ['find', 'insert', 'update', 'remove'], ['createCollection']),
    on('purges', ['find', 'insert'], ['createCollection', 'createIndex']),
    on('raiseKeys', ['find', 'insert', 'update', 'remove'], ['createCollection']),
  ];
}

/**
 * The required privileges a `connectionStatus` reply (with `showPrivileges: true`) does not grant, each with only its
 * missing actions; `undefined` when the reply names no authenticated user (access control is off, or the client sent
 * no credentials: then the first read or write at `connect` is refused with `Unauthorized` if anything is missing) or
 * lists no privilege at all (not reported; a user who really has none is refused by that first read too).
 *
 * A granted privilege covers a required one when it is on `anyResource`, or on the same database or every database
 * (`db: ''`) and on the same collection or every collection (`collection: ''`); a privilege on the whole database
 * (`collection: ''`) is covered only by one on the whole database. `anyAction` covers every action.
 *
 * @example
 * ```ts
 * const reply = { authInfo: { authenticatedUsers: [{ user: 'app', db: 'admin' }], authenticatedUserPrivileges: [
 *   { resource: { db: 'orders', collection: '' }, actions: ['find', 'changeStream'] }] } };
 * missingPrivileges(reply, [{ resource: { db: 'orders', collection: 'instances' }, actions: ['find', 'insert'] }]);
 * // [{ resource: { db: 'orders', collection: 'instances' }, actions: ['insert'] }]
 * ```
 */
export function missingPrivileges(connectionStatus: Document, required: readonly Privilege[]): Privilege[] | undefined {
  const authInfo = connectionStatus['authInfo'] as { authenticatedUsers?: unknown; authenticatedUserPrivileges?: unknown } | undefined;
  const users = authInfo?.authenticatedUsers;
  const granted = authInfo?.authenticatedUserPrivileges;
  // No privilege at all reads as "not reported" (a server or proxy that answers the command without the list), not as
  // a refusal: a real user without any privilege is refused anyway by the first read of connect.
  if (!Array.isArray(users) || users.length === 0 || !Array.isArray(granted) || granted.length === 0) return undefined;
  const missing: Privilege[] = [];
  for (const need of required) {
    const covering = granted.filter((privilege) => covers(privilege, need.resource));
    const actions = need.actions.filter((action) => !covering.some((privilege) => grants(privilege, action)));
    if (actions.length > 0) missing.push({ resource: need.resource, actions });
  }
  return missing;
}

/**
 * Throws {@link StoreAuthenticationError} naming every missing privilege (see {@link missingPrivileges}) and how to
 * grant it; returns quietly when nothing is missing or the privileges are unknown.
 *
 * @example
 * ```ts
 * const reply = await client.db('admin').command({ connectionStatus: 1, showPrivileges: true });
 * assertPrivileges(reply, requiredPrivileges('orders', collectionNames(), { createIndexes: true }));
 * ```
 */
export function assertPrivileges(connectionStatus: Document, required: readonly Privilege[]): void {
  const missing = missingPrivileges(connectionStatus, required);
  if (missing === undefined || missing.length === 0) return;
  const db = required[0]?.resource.db ?? '';
  const users = (connectionStatus['authInfo'] as { authenticatedUsers: { user?: unknown; db?: unknown }[] }).authenticatedUsers;
  const who = users.map((u) => `${String(u.user)}@${String(u.db)}`).join(', ');
  const first = users[0];
  const lines = missing.map((p) =>
    `${p.actions.join(', ')} on ${p.resource.collection === '' ? `the whole database ${JSON.stringify(p.resource.db)}` : `${p.resource.db}.${p.resource.collection}`}`);
  throw new StoreAuthenticationError(
    `The MongoDB user ${who} lacks privileges MongoStore needs: ${lines.join('; ')}. ` +
      'The store reads and writes its seven collections in transactions and watches them through change streams, one of ' +
      'them on the whole database (MongoDB requires find and changeStream on every collection of it). ' +
      `Grant the built-in role readWrite on ${JSON.stringify(db)}, for example in mongosh: ` +
      `db.getSiblingDB(${JSON.stringify(String(first?.db ?? 'admin'))}).grantRolesToUser(${JSON.stringify(String(first?.user ?? ''))}, ` +
      `[{ role: 'readWrite', db: ${JSON.stringify(db)} }]), or add these actions to a custom role. ` +
      '(createCollection, createIndex and dropIndex are needed only while connect creates the indexes; with ' +
      'createIndexes: false they are not asked for, and listIndexes lets connect check that the indexes exist.)',
  );
}

/** Whether a granted privilege document applies to `resource`. */
function covers(privilege: unknown, resource: PrivilegeResource): boolean {
  const granted = (privilege as { resource?: unknown } | null)?.resource as
    | { anyResource?: unknown; db?: unknown; collection?: unknown }
    | undefined;
  if (granted === undefined || granted === null) return false;
  if (granted.anyResource === true) return true;
  if (typeof granted.db !== 'string' || typeof granted.collection !== 'string') return false;
  if (granted.db !== '' && granted.db !== resource.db) return false;
  return granted.collection === '' || (resource.collection !== '' && granted.collection === resource.collection);
}

/** Whether a granted privilege document allows `action`. */
function grants(privilege: unknown, action: string): boolean {
  const actions = (privilege as { actions?: unknown }).actions;
  return Array.isArray(actions) && (actions.includes(action) || actions.includes('anyAction'));
}
