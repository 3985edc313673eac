import { describe, expect, it } from 'vitest';
import { validateNamespace } from '../src/indexes.js';
import { testDatabaseName } from './support/integration.js';

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
