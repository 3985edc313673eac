import { describe, expect, it } from 'vitest';
import { databaseFromUri } from '../src/deployment.js';
import { validateNamespace } from '../src/indexes.js';
import { testDatabaseName, uriWithDatabase } from './support/integration.js';

describe('the database of one run of an integration test file', () => {
  it('differs between runs of the same file under the same pid (CI containers sharing one server)', () => {
    const names = new Set(Array.from({ length: 50 }, () => testDatabaseName('store', 1)));
    expect(names.size).toBe(50);
    for (const name of names) expect(name).toMatch(/^drx1-store-[0-9a-f]{8}$/);
  });

  it('stays a name MongoDB accepts, within its 63 bytes, however long the file name, and keeps the whole suffix', () => {
    const long = testDatabaseName('a-very-long-integration-test-file-name-that-goes-on.test.ts', 4_194_304, 'abcdef12');
    expect(Buffer.byteLength(long, 'utf8')).toBeLessThanOrEqual(63);
    expect(long.endsWith('-abcdef12')).toBe(true);
    expect(() => validateNamespace(long, 'collectionprefix24chars_1_')).not.toThrow();
    expect(() => validateNamespace(testDatabaseName('üñí.code/$x'), 'p1_')).not.toThrow();
  });
});

describe('a connection string pointed at a test database', () => {
  it('names the test database and keeps hosts, options and where credentials authenticate', () => {
    const uri = uriWithDatabase('mongodb://u:p%2Fw@h1:27017,h2:27018/orders?replicaSet=rs0&w=majority', 'drx1-docs-0a1b2c3d');
    expect(databaseFromUri(uri)).toBe('drx1-docs-0a1b2c3d');
    expect(uri).toBe('mongodb://u:p%2Fw@h1:27017,h2:27018/drx1-docs-0a1b2c3d?replicaSet=rs0&w=majority&authSource=orders');
  });

  it('adds no authSource where the test database would not change it', () => {
    // No credentials; no database named (admin, or the SRV record's, stays the source); an explicit source; $external.
    expect(uriWithDatabase('mongodb://127.0.0.1:27017/?replicaSet=rs0', 'db1')).toBe('mongodb://127.0.0.1:27017/db1?replicaSet=rs0');
    expect(uriWithDatabase('mongodb://h/orders', 'db1')).toBe('mongodb://h/db1');
    expect(uriWithDatabase('mongodb+srv://u:p@cluster0.example.net/?retryWrites=true', 'db1')).toBe('mongodb+srv://u:p@cluster0.example.net/db1?retryWrites=true');
    expect(uriWithDatabase('mongodb://u:p@h/orders?authSource=admin', 'db1')).toBe('mongodb://u:p@h/db1?authSource=admin');
    expect(uriWithDatabase('mongodb://u@h/orders?authMechanism=MONGODB-X509', 'db1')).toBe('mongodb://u@h/db1?authMechanism=MONGODB-X509');
    expect(uriWithDatabase('mongodb://h', 'db1')).toBe('mongodb://h/db1');
  });

  it('refuses what is no MongoDB connection string', () => {
    expect(() => uriWithDatabase('http://h/orders', 'db1')).toThrow(/connection string/);
  });
});
