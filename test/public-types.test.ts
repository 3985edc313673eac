import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The published types (each package's built `dist`), as a user's editor shows them: every export of every entry point
 * has TSDoc, no declaration says `any`, members marked `@internal` are left out, and the declarations typecheck as
 * they are (a project with `skipLibCheck: false` reads them without errors).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const packages = ['runtime', 'store-indexeddb', 'store-mongo', 'rx-client'];

interface PackageJson {
  /** Module entries have conditions; `./package.json` is a plain path. */
  readonly exports: Record<string, string | { readonly types: string }>;
}

const entries = packages.flatMap((name) => {
  const dir = `${root}packages/${name}/`;
  const { exports } = JSON.parse(readFileSync(`${dir}package.json`, 'utf8')) as PackageJson;
  return Object.entries(exports).flatMap(([path, target]) => (typeof target === 'string' ? [] : [{
    name: `${name}${path.slice(1)}`,
    file: `${dir}${target.types.slice(2)}`,
  }]));
});

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.d.ts'))
    .map((entry) => `${entry.parentPath}/${entry.name}`);
}

describe('the published types', () => {
  const program = ts.createProgram(entries.map((entry) => entry.file), {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true, noEmit: true, skipLibCheck: true, types: ['node'],
  });
  const checker = program.getTypeChecker();
  /** The symbol an export names, through its aliases (`export { x } from`, `export type { T }`). */
  const resolved = (symbol: ts.Symbol): ts.Symbol => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

  it.each(entries)('every export of $name has TSDoc', ({ file }) => {
    const source = program.getSourceFile(file);
    const module = source && checker.getSymbolAtLocation(source);
    expect(module, file).toBeDefined();
    const undocumented = checker.getExportsOfModule(module!)
      .filter((symbol) => {
        return resolved(symbol).getDocumentationComment(checker).length === 0;
      })
      .map((symbol) => symbol.name);
    expect(undocumented).toEqual([]);
  });

  // What the packages use among themselves, kept off the entry points: no README, doc or demo names
  // them, and a published name is one no later version may drop. The packages' tests import them by path.
  const internal: readonly (readonly [string, readonly string[]])[] = [
    ['runtime/http', ['toWireStatus', 'toNativeWireStatus', 'toWireHistory']],
    ['runtime/testing', ['SETTLED', 'CI_SOAK_SEEDS', 'historyProblems', 'eventRaised', 'executionStarted', 'taskCompleted', 'taskFailed',
      'timerFired']],
    ['rx-client', ['errorFromBody', 'fromWireStatus']],
    ['store-indexeddb', ['DEXIE_SCHEMA_VERSION', 'KEYVAL_SCHEMA_VERSION']],
    ['store-mongo', ['clientOptionsFor', 'DEFAULT_RESUME_POLICY', 'classifyDeployment', 'DeploymentKind', 'RETIRED_INDEXES', 'missingIndexes']],
  ];

  it.each(internal)('%s publishes none of its internal helpers', (name, helpers) => {
    const entry = entries.find((candidate) => candidate.name === name);
    const source = entry && program.getSourceFile(entry.file);
    const module = source && checker.getSymbolAtLocation(source);
    expect(module, name).toBeDefined();
    const published = checker.getExportsOfModule(module!).map((symbol) => symbol.name);
    expect(published.filter((exported) => helpers.includes(exported))).toEqual([]);
  });

  it('every type a published declaration names is exported by an entry point (a user can name what a call returns)', () => {
    const modules = entries.map((entry) => program.getSourceFile(entry.file)).map((source) => source && checker.getSymbolAtLocation(source));
    const exported = new Set(modules.flatMap((module) => (module ? checker.getExportsOfModule(module).map(resolved) : [])));
    const ours = (symbol: ts.Symbol): boolean => symbol.declarations?.some((d) => d.getSourceFile().fileName.startsWith(`${root}packages/`)) ?? false;
    const missing = new Map<string, string>();
    const seen = new Set<ts.Symbol>();
    const visit = (symbol: ts.Symbol, path: string): void => {
      if (seen.has(symbol)) return;
      seen.add(symbol);
      for (const declaration of symbol.declarations ?? []) {
        declaration.forEachChild(function walk(node: ts.Node): void {
          if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
            const at = checker.getSymbolAtLocation(ts.isTypeReferenceNode(node) ? node.typeName : node.expression);
            const target = at && resolved(at);
            if (target && !(target.flags & ts.SymbolFlags.TypeParameter) && ours(target)) {
              if (!exported.has(target) && !missing.has(target.name)) missing.set(target.name, `${path} > ${target.name}`);
              visit(target, `${path} > ${target.name}`);
            }
          }
          node.forEachChild(walk);
        });
      }
    };
    for (const symbol of exported) visit(symbol, symbol.name);
    expect([...missing.values()]).toEqual([]);
  });

  // A name published and documented nowhere is one no user can find but no later version may drop: an entry point
  // publishes what a README or a doc names (the kits' helpers: a table in the runtime README; /testing and /samples:
  // docs/testing.md), and what only the packages use among themselves stays off it.
  it('every value an entry point exports is named in a README or a doc', () => {
    const docs = [
      'README.md', 'demo/README.md', 'bench/README.md', ...packages.map((name) => `packages/${name}/README.md`),
      ...readdirSync(`${root}docs`).filter((file) => file.endsWith('.md') && file !== 'benchmarks.md').map((file) => `docs/${file}`),
    ].map((file) => readFileSync(`${root}${file}`, 'utf8')).join('\n');
    const undocumented = entries.flatMap((entry) => {
      const source = program.getSourceFile(entry.file);
      const module = source && checker.getSymbolAtLocation(source);
      // Values only: a class exported as a type (`export type { WhenAllTask }`) is not one.
      const typeOnly = (symbol: ts.Symbol): boolean => symbol.declarations?.some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) ?? false;
      return checker.getExportsOfModule(module!)
        .filter((symbol) => !typeOnly(symbol) && resolved(symbol).flags & ts.SymbolFlags.Value)
        .map((symbol) => symbol.name)
        .filter((name) => !new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(docs))
        .map((name) => `${entry.name}: ${name}`);
    });
    expect(undocumented).toEqual([]);
  });

  it('the runtime\'s and MongoStore\'s declarations typecheck without the DOM library (a Node-only app)', () => {
    const files = entries.filter((entry) => /^(runtime|store-mongo)\b/.test(entry.name)).map((entry) => entry.file);
    const nodeOnly = ts.createProgram(files, { ...program.getCompilerOptions(), skipLibCheck: false, lib: ['lib.es2023.d.ts'] });
    const ours = ts.getPreEmitDiagnostics(nodeOnly).filter((d) => d.file?.fileName.startsWith(`${root}packages/`));
    const shown = ours.map((d) => `${d.file!.fileName.slice(root.length)}: ${ts.flattenDiagnosticMessageText(d.messageText, '')}`);
    expect(shown).toEqual([]);
  });

  it('the declarations typecheck without skipLibCheck', () => {
    const files = entries.map((entry) => entry.file);
    const strict = ts.createProgram(files, { ...program.getCompilerOptions(), skipLibCheck: false });
    const ours = ts.getPreEmitDiagnostics(strict).filter((d) => d.file?.fileName.startsWith(`${root}packages/`));
    const shown = ours.map((d) => `${d.file!.fileName.slice(root.length)}: ${ts.flattenDiagnosticMessageText(d.messageText, '')}`);
    expect(shown).toEqual([]);
  });

  it('every entry point resolves under moduleResolution node10, which ignores exports (TS2307 without types fields)', () => {
    const fixture = fileURLToPath(new URL('./fixtures/node10-imports.ts', import.meta.url));
    const node10 = ts.createProgram([fixture], {
      ...program.getCompilerOptions(), module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Node10,
      skipLibCheck: false, lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    });
    const ours = ts.getPreEmitDiagnostics(node10)
      .filter((d) => d.file === undefined || d.file.fileName === fixture || d.file.fileName.startsWith(`${root}packages/`));
    const shown = ours.map((d) => `${d.file?.fileName.slice(root.length)}: ${ts.flattenDiagnosticMessageText(d.messageText, '')}`);
    expect(shown).toEqual([]);
  });

  it('a DurableClient\'s options take undefined fields under exactOptionalPropertyTypes (else TS2379)', () => {
    const fixture = fileURLToPath(new URL('./fixtures/exact-optional.ts', import.meta.url));
    const exact = ts.createProgram([fixture], {
      ...program.getCompilerOptions(), exactOptionalPropertyTypes: true, lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    });
    const ours = ts.getPreEmitDiagnostics(exact).filter((d) => d.file?.fileName === fixture);
    const shown = ours.map((d) => `${d.file!.fileName.slice(root.length)}: ${ts.flattenDiagnosticMessageText(d.messageText, '')}`);
    expect(shown).toEqual([]);
  });

  it.each(packages)('no member of %s marked @internal is published', (name) => {
    const published = declarationFiles(`${root}packages/${name}/dist`)
      .filter((file) => readFileSync(file, 'utf8').includes('@internal'));
    expect(published.map((file) => file.slice(root.length))).toEqual([]);
  });

  it.each(packages)('no declaration of %s says any', (name) => {
    const found: string[] = [];
    for (const file of declarationFiles(`${root}packages/${name}/dist`)) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
      const visit = (node: ts.Node): void => {
        if (node.kind === ts.SyntaxKind.AnyKeyword) {
          const { line } = source.getLineAndCharacterOfPosition(node.getStart());
          found.push(`${file.slice(root.length)}:${line + 1}`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(found).toEqual([]);
  });
});
