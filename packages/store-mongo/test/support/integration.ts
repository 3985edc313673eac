import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Document } from 'mongodb';
import { afterAll, type TestContext } from 'vitest';
import { databaseFromUri } from '../../src/deployment.js';
import { MongoStore } from '../../src/mongo-store.js';
import type { MongoStoreUriOptions } from '../../src/mongo-store-options.js';

/**
 * What the integration test files share: the server from MONGODB_URI (or a printed reason to skip), one database per
 * file with a collection prefix per store (so teardown is one dropDatabase per file, not one per test), the
 * `failCommand` fail point (or a printed reason to skip the test that needs it), and building the packages a forked
 * process runs.
 */

/** The replica set to test against, or undefined (the suites are skipped). */
export const MONGODB_URI = process.env['MONGODB_URI'];

/** Prints why the integration tests of `file` do not run; call once per file. */
export function announceSkip(file: string): void {
  if (MONGODB_URI) return;
  console.log(
    `MongoDB integration tests in ${file} SKIPPED: MONGODB_URI is not set. They need a MongoDB replica set ` +
      '(transactions and change streams), e.g. MONGODB_URI="mongodb://127.0.0.1:27017/?replicaSet=rs0"; no server is ' +
      'available on this machine.',
  );
}

/** MongoDB's limit on a database name, in bytes (63: "fewer than 64 characters"). */
const DB_NAME_MAX = 63;

/**
 * The database of one run of test file `file`: `drx<pid>-<file>-<8 random hex>`, the file part cut so that the whole
 * stays within MongoDB's 63 bytes. The process id alone does not tell runs apart: CI jobs in containers that share one
 * MONGODB_URI all run as the same low pids, and one job's teardown (`dropDatabase`) would drop another's data.
 *
 * @example
 * ```ts
 * testDatabaseName('mongo-store.test.ts'); // 'drx4242-mongo-store_test_ts-1f0c9a7e'
 * ```
 */
export function testDatabaseName(file: string, pid: number = process.pid, suffix: string = randomUUID().slice(0, 8)): string {
  const tail = `-${suffix.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return `drx${pid}-${file}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, DB_NAME_MAX - tail.length) + tail;
}

/**
 * `uri` with `dbName` as the database it names (its path), everything else kept, so that code which connects to "the
 * database named in the URI" (the README's example) works in a database of the test's own. Credentials keep
 * authenticating where they did: the driver takes the path's database as the default `authSource` of a password login,
 * so when `uri` names one and sets neither `authSource` nor a mechanism with a source of its own (`$external`), that
 * database is set as `authSource` explicitly.
 *
 * @example
 * ```ts
 * uriWithDatabase('mongodb://u:p@h1,h2/orders?replicaSet=rs0', 'drx1-docs'); // 'mongodb://u:p@h1,h2/drx1-docs?replicaSet=rs0&authSource=orders'
 * ```
 */
export function uriWithDatabase(uri: string, dbName: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/)([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(uri);
  if (!match) throw new Error('MONGODB_URI is not a mongodb:// or mongodb+srv:// connection string');
  const [, scheme, authority = '', , query = ''] = match;
  const named = databaseFromUri(uri);
  const params = new URLSearchParams(query.slice(1));
  const mechanism = params.get('authMechanism');
  const passwordLogin = mechanism === null || mechanism === 'DEFAULT' || mechanism.startsWith('SCRAM-');
  const keepSource = authority.includes('@') && named !== undefined && !params.has('authSource') && passwordLogin;
  const extra = keepSource ? `authSource=${encodeURIComponent(named)}` : '';
  const joined = [query.slice(1), extra].filter(Boolean).join('&');
  return `${scheme}${authority}/${encodeURIComponent(dbName)}${joined === '' ? '' : `?${joined}`}`;
}

/**
 * One database for the calling test file, dropped once after it. `open(label)` opens a store on it under a fresh
 * collection prefix; `open(label, { share: prefix })` opens a second handle on an existing prefix.
 */
export function testDatabase(file: string): {
  readonly name: string;
  open(label: string, options?: Omit<MongoStoreUriOptions, 'uri' | 'dbName' | 'collectionPrefix'> & { readonly prefix?: string }): Promise<MongoStore>;
  prefix(label: string): string;
} {
  const name = testDatabaseName(file);
  let counter = 0;
  afterAll(async () => {
    if (!MONGODB_URI) return;
    const admin = new MongoClient(MONGODB_URI);
    try {
      await admin.db(name).dropDatabase();
    } finally {
      await admin.close();
    }
  });
  const prefix = (label: string) => `${label.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}${++counter}_`;
  return {
    name,
    prefix,
    open: (label, options) => MongoStore.connect({
      uri: MONGODB_URI ?? '', dbName: name, ...options, collectionPrefix: options?.prefix ?? prefix(label),
    }),
  };
}

/** When the `failCommand` fail point acts: on the next `times` matching commands, on each until turned off, or not at all. */
export type FailPointMode = { readonly times: number } | 'alwaysOn' | 'off';

/**
 * Sets the server's `failCommand` fail point through `admin` (a client of the test's own on MONGODB_URI): `data` says
 * which commands it fails (`failCommands`), how, and usually for which `appName`, so that only the client under test
 * meets it. The server offers it only with test commands (mongod --setParameter enableTestCommands=1).
 */
export function failCommand(admin: MongoClient, mode: FailPointMode, data?: Document): Promise<Document> {
  return admin.db('admin').command({ configureFailPoint: 'failCommand', mode, ...(data === undefined ? {} : { data }) });
}

/** Turns the `failCommand` fail point off in a test's `finally`; a server that cannot be told (gone, no test commands) is ignored. */
export async function failCommandOff(admin: MongoClient): Promise<void> {
  await failCommand(admin, 'off').catch(() => undefined);
}

/**
 * Runs `setFailPoint` (a {@link failCommand}), or, when the server refuses it (no test commands), closes what
 * `beforeSkip` closes, prints why `test` does not run and skips it: `context.skip()` throws, so nothing after a refused
 * call runs (a `finally` around it still does).
 */
export async function failPointOrSkip(
  context: TestContext, test: string, setFailPoint: () => Promise<unknown>, beforeSkip?: () => Promise<unknown>,
): Promise<void> {
  try {
    await setFailPoint();
  } catch (error) {
    await beforeSkip?.();
    console.log(`${test} SKIPPED: the failCommand fail point is not available (${error instanceof Error ? error.message : String(error)}).`);
    context.skip();
  }
}

/**
 * Makes the next `getMore` of the client named `appName` fail with ChangeStreamHistoryLost (286): its change stream's
 * position is gone, as after an outage longer than the oplog window. Skips `test` where the fail point is not
 * available ({@link failPointOrSkip}).
 */
export async function loseStreamPositionOrSkip(context: TestContext, test: string, appName: string): Promise<void> {
  const admin = new MongoClient(MONGODB_URI ?? '');
  try {
    await failPointOrSkip(context, test, () => failCommand(admin, { times: 1 }, { failCommands: ['getMore'], errorCode: 286, appName }));
  } finally {
    await admin.close().catch(() => undefined);
  }
}

const require = createRequire(import.meta.url);

/**
 * Builds `@durable-rx/runtime` and `@durable-rx/store-mongo` when their `dist` is missing or older than `src`: a forked
 * process runs the built JavaScript of both.
 */
export function ensureBuilt(): void {
  const tsc = require.resolve('typescript/bin/tsc');
  for (const url of ['../../../runtime/', '../../']) {
    const dir = fileURLToPath(new URL(url, import.meta.url));
    const built = `${dir}dist/index.js`;
    const newestSource = Math.max(
      ...readdirSync(`${dir}src`, { recursive: true, encoding: 'utf8' }).map((file) => statSync(`${dir}src/${file}`).mtimeMs),
    );
    if (existsSync(built) && statSync(built).mtimeMs >= newestSource) continue;
    execFileSync(process.execPath, [tsc, '-p', `${dir}tsconfig.build.json`], { stdio: 'inherit' });
  }
}
