import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { typescriptBlocks } from '../test-support/readme-examples.js';

/**
 * What `npm run pack` writes, as a user gets it: the four tarballs are packed into a temporary directory and installed
 * into a new project there (their third-party dependencies come from the npm registry, through a temporary npm cache
 * removed afterwards, so runs do not grow the user's), which then
 * imports and requires every entry point, runs the README's quick start, typechecks a browser app and a Node service
 * under moduleResolution node16, nodenext and bundler (strict, exactOptionalPropertyTypes, skipLibCheck: false),
 * builds a page with Vite, and reads what the packages ship. The repository's builds must be current (`npm test`
 * builds first). Without a reachable registry the suite skips, saying so, except in CI (`CI` set), where it fails.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/packed-install/', import.meta.url));
const packages = ['runtime', 'store-indexeddb', 'store-mongo', 'rx-client'];
const STEP_MS = 600_000;

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly exports: Record<string, string | Record<string, string>>;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>;
  readonly engines?: { readonly node?: string };
  readonly sideEffects?: boolean;
  readonly publishConfig?: { readonly access?: string };
  readonly types?: string;
  readonly files?: readonly string[];
}

const manifests = packages.map((dir) => JSON.parse(readFileSync(`${root}packages/${dir}/package.json`, 'utf8')) as Manifest);
/** Every module specifier the packages' `exports` declare, e.g. `@durable-rx/runtime/testing` (not `/package.json`). */
const entryPoints = manifests.flatMap((m) => Object.keys(m.exports).filter((key) => key !== './package.json').map((key) => `${m.name}${key.slice(1)}`));
const installedVersion = (name: string): string =>
  (JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;

/** npm's variables of the `npm test` running this file would point the project's npm at the repository. */
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) =>
  !/^npm_(package_|lifecycle_|command$|config_(local_prefix|call|workspaces?|include_workspace_root)$)/i.test(key)
  && key !== 'INIT_CWD'));

function run(command: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env: childEnv, encoding: 'utf8', timeout: STEP_MS, maxBuffer: 64 * 1024 * 1024 });
}

function output(result: SpawnSyncReturns<string>): string {
  const status = result.error ? String(result.error) : `exit code ${result.status ?? result.signal}`;
  return `${status}\n${result.stdout}\n${result.stderr}`.trim();
}

let project = '';
/** The install's own npm cache (`--cache`): the tarballs and what they pull in stay out of the user's cache. */
let cache = '';
let skipReason: string | undefined;

function skipWithoutRegistry(ctx: TestContext): void {
  if (skipReason !== undefined) ctx.skip(skipReason);
}

describe('the packed tarballs, installed in a new project', () => {
  beforeAll(() => {
    project = realpathSync(mkdtempSync(join(tmpdir(), 'durable-rx-packed-')));
    cache = realpathSync(mkdtempSync(join(tmpdir(), 'durable-rx-npm-cache-')));
    const packs = join(project, 'packs');
    const packed = run(process.execPath, [`${root}scripts/pack.mjs`, `--out=${packs}`, '--no-build'], root);
    if (packed.status !== 0) throw new Error(`node scripts/pack.mjs failed:\n${output(packed)}`);
    const tarballs = readdirSync(packs).filter((file) => file.endsWith('.tgz'));
    const dependencies: Record<string, string> = {};
    for (const m of manifests) {
      const file = tarballs.find((name) => name === `${m.name.replace('@', '').replace('/', '-')}-${m.version}.tgz`);
      if (file === undefined) throw new Error(`no tarball of ${m.name} among ${tarballs.join(', ')}`);
      dependencies[m.name] = `file:./packs/${file}`;
    }
    // What a user of @durable-rx/rx-client/react and of the Node entry points would have: the repository's versions.
    for (const name of ['react', '@types/react', '@types/node']) dependencies[name] = installedVersion(name);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'durable-rx-user', private: true, type: 'module', dependencies }, null, 2));
    // Against a registry that does not answer, npm retries for many minutes: ask once first (a registry that answers
    // a ping at all answers within seconds).
    const ping = run('npm', ['ping', '--loglevel=error', '--fetch-retries=0', '--fetch-timeout=10000'], project);
    if (ping.status !== 0 && !process.env['CI']) {
      const why = `${ping.error ?? ''}\n${ping.stderr}`.split('\n').find((line) => line.trim() !== '') ?? `exit code ${ping.status}`;
      skipReason = `skipped: the npm registry is unreachable (npm ping: ${why.trim()}), so the tarballs' dependencies cannot be installed; CI never skips`;
      console.log(skipReason);
      return;
    }
    const installed = run('npm', ['install', '--no-audit', '--no-fund', `--cache=${cache}`, '--loglevel=error'], project);
    if (installed.status !== 0) throw new Error(`npm install of the tarballs failed:\n${output(installed)}`);
  }, 2 * STEP_MS);

  afterAll(() => {
    if (project !== '') rmSync(project, { recursive: true, force: true });
    if (cache !== '') rmSync(cache, { recursive: true, force: true });
  });

  it('every entry point in exports loads with import, and the README quick start runs to completion', (ctx) => {
    skipWithoutRegistry(ctx);
    const script = `const results = {};
for (const entry of ${JSON.stringify(entryPoints)}) {
  results[entry] = await import(entry).then((m) => Object.keys(m).length > 0 ? 'ok' : 'no exports', (e) => String(e));
}
console.log(JSON.stringify(results));`;
    writeFileSync(join(project, 'imports.mjs'), script);
    const imported = run(process.execPath, ['imports.mjs'], project);
    expect(imported.status, output(imported)).toBe(0);
    expect(JSON.parse(imported.stdout)).toEqual(Object.fromEntries(entryPoints.map((entry) => [entry, 'ok'])));

    writeFileSync(join(project, 'quick-start.mjs'), ts.transpileModule(quickStart(), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
    }).outputText);
    const started = run(process.execPath, ['quick-start.mjs'], project);
    // It prints the output and exits by itself: runtime.stop() leaves nothing running.
    expect(started.status, output(started)).toBe(0);
    expect(started.stdout).toContain(`[ 'Hello Tokyo!', 'Hello Seattle!', 'Hello London!' ]`);
  });

  it('require() (CommonJS, Node 20.19 and later) loads every entry point but the vitest suites and each package.json, and runs an orchestration', (ctx) => {
    skipWithoutRegistry(ctx);
    const script = `const results = {};
for (const entry of ${JSON.stringify(entryPoints)}) {
  try { results[entry] = Object.keys(require(entry)).length > 0 ? 'ok' : 'no exports'; } catch (e) { results[entry] = String(e); }
}
const { createRuntime } = require('@durable-rx/runtime');
const runtime = createRuntime({ orchestrators: { Echo: function* (ctx) { return ctx.getInput(); } } });
(async () => {
  await runtime.start();
  const id = await runtime.client.startNew('Echo', { input: 42 });
  results.output = (await runtime.client.waitForCompletion(id)).output;
  await runtime.stop();
  try { require('@durable-rx/runtime/testing').describeStoreConformance(); } catch (e) { results.suites = e.message; }
  // Tools read a package's manifest through its exports (e.g. require.resolve('<name>/package.json')).
  results.manifests = ${JSON.stringify(manifests.map((m) => m.name))}.map((name) => require(name + '/package.json').name);
  console.log(JSON.stringify(results));
})();`;
    writeFileSync(join(project, 'require.cjs'), script);
    const required = run(process.execPath, ['require.cjs'], project);
    expect(required.status, output(required)).toBe(0);
    const results = JSON.parse(required.stdout) as Record<string, unknown>;
    expect(results).toEqual({
      ...Object.fromEntries(entryPoints.map((entry) => [entry, 'ok'])),
      output: 42,
      suites: expect.stringContaining('import this entry instead'),
      manifests: manifests.map((m) => m.name),
    });
  });

  it.for([
    ['node16', ts.ModuleKind.Node16, ts.ModuleResolutionKind.Node16],
    ['nodenext', ts.ModuleKind.NodeNext, ts.ModuleResolutionKind.NodeNext],
    ['bundler', ts.ModuleKind.ESNext, ts.ModuleResolutionKind.Bundler],
  ] as const)('a browser app, a Node service and the quick start typecheck under moduleResolution %s, exactOptionalPropertyTypes, skipLibCheck: false', ([, module, moduleResolution], ctx) => {
    skipWithoutRegistry(ctx);
    const dir = join(project, 'src');
    mkdirSync(dir, { recursive: true });
    for (const file of ['browser.ts', 'node.ts']) copyFileSync(`${fixtures}${file}`, join(dir, file));
    writeFileSync(join(dir, 'quick-start.ts'), `${quickStart()}\nexport {};\n`);
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022, module, moduleResolution, strict: true, exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true, skipLibCheck: false, noEmit: true,
    };
    const programs = [
      // In a page: the DOM, no @types/node.
      { files: ['browser.ts', 'quick-start.ts'], lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'], types: [] },
      // On Node: @types/node, no DOM.
      { files: ['node.ts'], lib: ['lib.es2023.d.ts'], types: ['node'] },
    ];
    const shown: string[] = [];
    for (const { files, lib, types } of programs) {
      const program = ts.createProgram(files.map((file) => join(dir, file)), { ...options, lib, types });
      for (const d of ts.getPreEmitDiagnostics(program)) {
        const where = d.file ? `${d.file.fileName.slice(project.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : '';
        shown.push(`${where}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
      }
      // The files typechecked are the installed ones, not the repository's.
      const ours = program.getSourceFiles().filter((f) => f.fileName.includes('/@durable-rx/'));
      expect(ours.length).toBeGreaterThan(0);
      expect(ours.filter((f) => !f.fileName.startsWith(`${project}/node_modules/@durable-rx/`)).map((f) => f.fileName)).toEqual([]);
    }
    expect(shown).toEqual([]);
  });

  it('a Vite production build of a page on DexieStore and KeyvalStore takes nothing Node-only', async (ctx) => {
    skipWithoutRegistry(ctx);
    const web = join(project, 'web');
    mkdirSync(web, { recursive: true });
    writeFileSync(join(web, 'index.html'), '<!doctype html>\n<script type="module" src="./main.js"></script>\n');
    writeFileSync(join(web, 'main.js'), `import { createRuntime } from '@durable-rx/runtime';
import { DexieStore, KeyvalStore } from '@durable-rx/store-indexeddb';
const store = location.hash === '#keyval' ? new KeyvalStore({ name: 'app' }) : new DexieStore({ name: 'app' });
const runtime = createRuntime({
  store,
  orchestrators: { Hello: function* (ctx) { const greeting = yield ctx.callActivity('Say', 'Tokyo'); ctx.setCustomStatus(greeting); return greeting; } },
  activities: { Say: async (name) => 'Hello ' + name + '!' },
});
await runtime.start();
const id = await runtime.client.startNew('Hello');
runtime.client.customStatus$(id).subscribe((status) => document.body.append(String(status)));
`);
    const { build } = await import('vite');
    const warnings: string[] = [];
    const result = await build({
      root: web, configFile: false, logLevel: 'warn', mode: 'production',
      customLogger: {
        info: () => {}, warn: (message) => warnings.push(message), warnOnce: (message) => warnings.push(message),
        error: (message) => warnings.push(message), clearScreen: () => {}, hasErrorLogged: () => false, hasWarned: false,
      },
      build: { write: false, target: 'es2022', modulePreload: false, reportCompressedSize: false },
    });
    const chunks = (Array.isArray(result) ? result : [result]).flatMap((out) => ('output' in out ? out.output : []))
      .filter((file) => file.type === 'chunk');
    const modules = chunks.flatMap((chunk) => Object.keys(chunk.modules));
    // Every module from the installed project (none from the repository), none a Node built-in stubbed out for the page.
    expect(modules.filter((id) => id.startsWith('/') && !id.startsWith(`${project}/`))).toEqual([]);
    expect(modules.filter((id) => /browser-external|^node:/.test(id))).toEqual([]);
    expect(chunks.filter((chunk) => /from\s*["']node:|import\(["']node:/.test(chunk.code)).map((chunk) => chunk.fileName)).toEqual([]);
    for (const pkg of ['@durable-rx/runtime', '@durable-rx/store-indexeddb', 'dexie', 'idb-keyval', 'rxjs']) {
      expect(modules.some((id) => id.startsWith(`${project}/node_modules/${pkg}/`)), pkg).toBe(true);
    }
    expect(warnings.filter((message) => /externalized|node:|built-in/i.test(message))).toEqual([]);
  });

  it.for(manifests.map((m) => m.name))('%s ships what it imports and declares, and only that', (name, ctx) => {
    skipWithoutRegistry(ctx);
    const dir = join(project, 'node_modules', name);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => !file.startsWith('node_modules/'));
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE']));
    expect(files.filter((file) => /(^|\/)(test|tests|__tests__)\/|\.(test|spec)\.[cm]?[jt]sx?$/.test(file))).toEqual([]);
    expect(manifest.engines?.node).toBe('>=20.19');
    expect(manifest.sideEffects).toBe(false);
    // A scoped package publishes as restricted (paid, private) unless it says otherwise.
    expect(manifest.publishConfig?.access).toBe('public');

    // Every import of its JavaScript and declarations is a file it ships, a Node built-in (in Node-only modules), or a
    // package it depends on: nothing from the repository, no devDependency.
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const unresolved: string[] = [];
    for (const file of files.filter((f) => /\.(d\.ts|js)$/.test(f))) {
      // The compiler's own scan: imports, re-exports, import() and require() calls, triple-slash references; not the
      // examples in TSDoc comments.
      const found = ts.preProcessFile(readFileSync(join(dir, file), 'utf8'), true, true);
      const specifiers = [
        ...found.importedFiles, ...found.typeReferenceDirectives, ...found.referencedFiles.map((ref) => ({ fileName: `./${ref.fileName}` })),
      ].map((ref) => ref.fileName);
      for (const specifier of specifiers) {
        if (specifier.startsWith('.')) {
          const target = resolve(dirname(join(dir, file)), specifier);
          const candidates = file.endsWith('.d.ts') ? [target.replace(/\.js$/, '.d.ts'), target] : [target];
          if (!candidates.some((candidate) => existsSync(candidate))) unresolved.push(`${file}: ${specifier}`);
        } else if (builtins.has(specifier)) {
          if (!/^dist\/(node|testing)\//.test(file) && !name.endsWith('store-mongo')) unresolved.push(`${file}: ${specifier} (Node built-in)`);
        } else {
          const pkg = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
          if (!declared.has(pkg)) unresolved.push(`${file}: ${specifier} (not a dependency)`);
        }
      }
    }
    expect(unresolved).toEqual([]);

    // Source maps point at sources it ships.
    const maps = files.filter((file) => file.endsWith('.map'));
    const missingSources = maps.flatMap((file) => {
      const map = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { sources: string[]; sourceRoot?: string };
      return map.sources.map((source) => resolve(dirname(join(dir, file)), map.sourceRoot ?? '', source)).filter((source) => !existsSync(source));
    });
    expect(maps.length).toBeGreaterThan(0);
    expect(missingSources).toEqual([]);

    // A driver the app shares with the store is a peer dependency: one copy, installed next to the app's.
    const shared = { '@durable-rx/store-mongo': ['mongodb'], '@durable-rx/store-indexeddb': ['dexie'] }[name as string] ?? [];
    for (const peer of shared) {
      expect(manifest.peerDependencies?.[peer], peer).toBeDefined();
      expect(manifest.dependencies?.[peer], peer).toBeUndefined();
      expect(existsSync(join(dir, 'node_modules', peer)), `a second ${peer} under ${name}`).toBe(false);
    }
  });
});

/** The README's quick start, as a user copies it. */
function quickStart(): string {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('\n## Quick start\n'));
  const block = typescriptBlocks(section)[0];
  if (block === undefined || !block.code.includes('createRuntime')) throw new Error('README.md has no ## Quick start with a ts block');
  return block.code;
}
