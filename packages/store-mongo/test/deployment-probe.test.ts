import { MongoClient, type Document } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { IndexBuildTimeoutError } from '../src/errors/index-build-timeout-error.js';
import { requiredPrivileges } from '../src/privileges.js';
import { announceSkip, failCommand, failCommandOff, failPointOrSkip, MONGODB_URI, testDatabase } from './support/integration.js';

/**
 * The deployment check `MongoStore.connect` runs (`hello`, then `connectionStatus` with `showPrivileges`), against a
 * real server: users with too few privileges are refused at connect with a message naming what is missing, a user
 * with `readWrite` is not, the probe is bounded in time and leaves no cursor behind, and `connect` creates every
 * collection. Runs only when MONGODB_URI is set. The users and roles are created in the test database; a server
 * that refuses `createUser` (the URI's user lacks userAdmin) skips those tests with the reason printed.
 */
const uri = MONGODB_URI;
announceSkip('deployment-probe.test.ts');

describe.skipIf(!uri)('MongoStore.connect checks the deployment (integration)', () => {
  const mongoUri = uri ?? '';
  const db = testDatabase('probe');
  const quiet = { warn: () => undefined, error: () => undefined };
  const password = `pw-${process.pid}-${Date.now()}`;

  afterAll(async () => {
    const admin = new MongoClient(mongoUri);
    try {
      // dropDatabase (support/integration.ts) leaves users and roles defined on the database in place.
      await admin.db(db.name).command({ dropAllUsersFromDatabase: 1 }).catch(() => undefined);
      await admin.db(db.name).command({ dropAllRolesFromDatabase: 1 }).catch(() => undefined);
    } finally {
      await admin.close();
    }
  });

  /** Creates a user on the test database (and a role first, when given privileges); undefined when the server refuses. */
  async function createUser(name: string, roles: Document[], privileges?: Document[]): Promise<string | undefined> {
    const admin = new MongoClient(mongoUri);
    try {
      const target = admin.db(db.name);
      if (privileges) {
        await target.command({ createRole: `${name}Role`, privileges, roles: [] });
        roles = [...roles, { role: `${name}Role`, db: db.name }];
      }
      await target.command({ createUser: name, pwd: password, roles });
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      await admin.close();
    }
  }

  /** Connects as `user` (credentials checked against the test database). */
  function connectAs(user: string, prefix: string) {
    return db.open('probe', {
      prefix, logger: quiet, clientOptions: { auth: { username: user, password }, authSource: db.name, appName: `drx-probe-${user}` },
    });
  }

  it('refuses a read-only user at connect, naming the writes it lacks on each collection and how to grant them', async (context) => {
    const refused = await createUser('reader', [{ role: 'read', db: db.name }]);
    if (refused !== undefined) {
      console.log(`read-only user test SKIPPED: the server refused createUser (${refused}).`);
      context.skip();
    }
    const error = await connectAs('reader', db.prefix('ro')).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'store-auth-failed', status: 500, name: 'StoreAuthenticationError' });
    const message = (error as Error).message;
    expect(message).toContain(`reader@${db.name}`);
    expect(message).toMatch(/insert, update, remove, createCollection, createIndex, dropIndex on [^ ]+instances/); // read grants listIndexes
    expect(message).toContain('readWrite');
  });

  it('refuses collection-level grants that cannot open the change stream on the whole database', async (context) => {
    const prefix = db.prefix('pc');
    const names = { instances: `${prefix}instances`, history: `${prefix}history`, messages: `${prefix}messages`,
      activityTasks: `${prefix}activityTasks`, sweeps: `${prefix}sweeps`, purges: `${prefix}purges`, raiseKeys: `${prefix}raiseKeys` };
    // Everything the store does on each of its collections, named one by one, and nothing on the database as a whole.
    const perCollection = requiredPrivileges(db.name, names, { createIndexes: true }).slice(1)
      .map((p) => ({ resource: { ...p.resource }, actions: [...p.actions] }));
    const refused = await createUser('narrow', [], perCollection);
    if (refused !== undefined) {
      console.log(`collection-level grant test SKIPPED: the server refused createRole/createUser (${refused}).`);
      context.skip();
    }
    const error = await connectAs('narrow', prefix).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'store-auth-failed' });
    expect((error as Error).message).toContain(`find, changeStream on the whole database ${JSON.stringify(db.name)}`);
  });

  it('opens for a user with readWrite, creates all seven collections, and leaves no cursor of the probe open', async (context) => {
    const refused = await createUser('writer', [{ role: 'readWrite', db: db.name }]);
    if (refused !== undefined) {
      console.log(`readWrite user test SKIPPED: the server refused createUser (${refused}).`);
      context.skip();
    }
    const store = await connectAs('writer', db.prefix('rw'));
    const admin = new MongoClient(mongoUri);
    try {
      const existing = (await admin.db(db.name).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      for (const name of Object.values(store.collections)) expect(existing, name).toContain(name);
      // No idle cursor of this user's connections (the probe is single commands; connect reads no cursor to its end
      // without closing it). $currentOp needs the inprog privilege: skipped where the URI's user lacks it.
      const ops = await admin.db('admin').aggregate([
        { $currentOp: { allUsers: true, idleCursors: true, idleSessions: true } },
        { $match: { appName: 'drx-probe-writer', type: 'idleCursor' } },
      ]).toArray().catch((e: unknown) => e);
      if (Array.isArray(ops)) expect(ops).toEqual([]);
      else console.log(`idle-cursor check SKIPPED: $currentOp refused (${String(ops)}).`);
    } finally {
      await admin.close();
      await store.close();
    }
  });

  it('bounds the privilege probe: a connectionStatus that never answers fails connect with StoreUnreachableError', async (context) => {
    const appName = `drx-probe-hang-${process.pid}`;
    const admin = new MongoClient(mongoUri);
    // The server holds this client's connectionStatus for 60 s: an unbounded probe would wait and then open the store.
    await failPointOrSkip(context, 'probe deadline test', () => failCommand(admin, { times: 1 }, {
      failCommands: ['connectionStatus'], blockConnection: true, blockTimeMS: 60_000, appName,
    }), () => admin.close());
    try {
      // Server selection 2 s, so the probe's deadline is 2 s + 10 s; the 120 s test timeout would end an unbounded probe.
      const error = await db.open('hang', { logger: quiet, clientOptions: { appName, serverSelectionTimeoutMS: 2_000 } })
        .then(async (store) => {
          await store.close();
          return undefined;
        }, (e: unknown) => e);
      expect(error).toMatchObject({ code: 'store-unreachable', status: 503 });
      // The deadline's TimeoutError, which the driver throws as MongoOperationTimeoutError while it awaits a reply
      // (before, that read as a server without the command: the check skipped with a warning, the store opened).
      expect((error as Error).cause).toMatchObject({ name: expect.stringMatching(/^(TimeoutError|MongoOperationTimeoutError)$/) });
    } finally {
      await failCommandOff(admin);
      await admin.close();
    }
  });

  it('bounds the index pass: a createIndexes held past indexBuildTimeoutMs fails connect with IndexBuildTimeoutError', async (context) => {
    const appName = `drx-probe-build-${process.pid}`;
    const admin = new MongoClient(mongoUri);
    // The server holds this client's first createIndexes for 60 s, as a build waiting for a member that is down holds it.
    await failPointOrSkip(context, 'index pass deadline test', () => failCommand(admin, { times: 1 }, {
      failCommands: ['createIndexes'], blockConnection: true, blockTimeMS: 60_000, appName,
    }), () => admin.close());
    const prefix = db.prefix('build');
    try {
      const error = await db.open('build', { prefix, logger: quiet, indexBuildTimeoutMs: 2_000, clientOptions: { appName } })
        .then(async (store) => {
          await store.close();
          return undefined;
        }, (e: unknown) => e);
      expect(error).toBeInstanceOf(IndexBuildTimeoutError);
      expect(error).toMatchObject({ code: 'index-build-timeout', status: 503 });
      expect((error as Error).message).toContain(`building the indexes of ${prefix}instances did not finish within 2000 ms`);
      expect((error as Error).message).toContain('The build itself goes on on the server');
    } finally {
      await failCommandOff(admin);
      await admin.close();
    }
    // A later connect (the fail point spent) finds or finishes the indexes and opens.
    const store = await db.open('build', { prefix, logger: quiet, clientOptions: { appName } });
    await store.close();
  });

  it('opens with a warning, not a refusal, when the server does not answer connectionStatus', async (context) => {
    const appName = `drx-probe-nocmd-${process.pid}`;
    const admin = new MongoClient(mongoUri);
    // CommandNotFound (59), as from a proxy that does not implement connectionStatus.
    await failPointOrSkip(context, 'connectionStatus refusal test', () => failCommand(admin, { times: 1 }, {
      failCommands: ['connectionStatus'], errorCode: 59, appName,
    }), () => admin.close());
    const warnings: string[] = [];
    try {
      const store = await db.open('nocmd', { logger: { warn: (m) => void warnings.push(m), error: () => undefined }, clientOptions: { appName } });
      await store.close();
      expect(warnings.some((w) => w.includes('privileges were not checked'))).toBe(true);
    } finally {
      await failCommandOff(admin);
      await admin.close();
    }
  });
});
