import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * A page may import every entry point but `@durable-rx/runtime/node` and `@durable-rx/store-mongo`: no module reachable
 * from those entries (their built dist, following relative imports, import() calls and other @durable-rx packages)
 * imports a Node built-in. A bundler otherwise stubs it out for the browser and warns (Vite: `Module "node:fs/promises"
 * has been externalized for browser compatibility`), and the code using it breaks in the page. Third-party packages
 * are not followed here (test/packed-install.test.ts builds a page with Vite from the installed tarballs).
 * The repository's builds must be current (`npm test` builds first).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const NODE_ONLY = new Set(['@durable-rx/runtime/node', '@durable-rx/store-mongo']);
const packages = ['runtime', 'store-indexeddb', 'store-mongo', 'rx-client'].map((dir) => {
  const manifest = JSON.parse(readFileSync(`${root}packages/${dir}/package.json`, 'utf8')) as {
    name: string; exports: Record<string, string | Record<string, string>>;
  };
  return { dir, manifest };
});
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The file an entry specifier such as `@durable-rx/runtime/testing` loads in a page (the `default` condition). */
function entryFile(specifier: string): string | undefined {
  for (const { dir, manifest } of packages) {
    if (specifier !== manifest.name && !specifier.startsWith(`${manifest.name}/`)) continue;
    const target = manifest.exports[`.${specifier.slice(manifest.name.length)}`];
    const file = typeof target === 'string' ? target : target?.['default'];
    return file === undefined ? undefined : resolve(root, 'packages', dir, file);
  }
  return undefined;
}

/** Each Node built-in reachable from the entry, with the chain of modules that imports it. */
function nodeImportsFrom(entry: string): string[] {
  const start = entryFile(entry);
  if (start === undefined) throw new Error(`${entry} is not an entry point`);
  const parent = new Map<string, string | undefined>([[start, undefined]]);
  const queue = [start];
  const found: string[] = [];
  const chain = (file: string): string => {
    const names: string[] = [];
    for (let at: string | undefined = file; at !== undefined; at = parent.get(at)) names.unshift(relative(root, at));
    return names.join(' -> ');
  };
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      let next: string | undefined;
      if (specifier.startsWith('.')) next = resolve(dirname(file), specifier);
      else if (builtins.has(specifier)) found.push(`${chain(file)} imports ${specifier}`);
      else if (specifier.startsWith('@durable-rx/')) {
        if (NODE_ONLY.has(specifier)) found.push(`${chain(file)} imports ${specifier}`);
        else next = entryFile(specifier);
      }
      if (next !== undefined && !parent.has(next)) {
        parent.set(next, file);
        queue.push(next);
      }
    }
  }
  return found;
}

const browserEntries = packages.flatMap(({ manifest }) => Object.keys(manifest.exports)
  .filter((key) => key !== './package.json')
  .map((key) => `${manifest.name}${key.slice(1)}`)
  .filter((entry) => !NODE_ONLY.has(entry)));

describe('entry points a page imports', () => {
  it('include every entry but the Node-only ones', () => {
    expect(browserEntries).toEqual(expect.arrayContaining([
      '@durable-rx/runtime', '@durable-rx/runtime/testing', '@durable-rx/runtime/http', '@durable-rx/store-indexeddb',
      '@durable-rx/rx-client', '@durable-rx/rx-client/react',
    ]));
  });

  it.for(browserEntries)('%s reaches no Node built-in', (entry) => {
    expect(nodeImportsFrom(entry)).toEqual([]);
  });

  it('the Node-only entry is seen to import Node built-ins (the walk follows what it should)', () => {
    expect(nodeImportsFrom('@durable-rx/runtime/node').length).toBeGreaterThan(0);
  });
});
