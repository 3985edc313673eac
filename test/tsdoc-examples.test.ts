import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { strictDiagnostics, typescriptBlocks } from '../test-support/readme-examples.js';

/**
 * The `@example` blocks an editor shows on the exports of the main entry and of `/testing`, read from the built
 * declarations: every block that imports what it uses (`from '@durable-rx/...'`) typechecks as strict user code, and
 * the declarations a user meets first carry one. The repository's builds must be current (`npm test` builds first).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const workDir = fileURLToPath(new URL('./.docs-blocks-tsdoc/', import.meta.url));
const FIRST_READ = ['DurableClient', 'createRuntime', 'createClient', 'RuntimeOptions', 'InstanceStatus', 'DurableError', 'replayHistory'];

function exampleBlocks(): { name: string; code: string }[] {
  const entries = ['index.d.ts', 'testing/index.d.ts'].map((file) => `${root}packages/runtime/dist/${file}`);
  const program = ts.createProgram(entries, {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true, skipLibCheck: true, types: [],
  });
  const checker = program.getTypeChecker();
  const modules = entries.map((entry) => checker.getSymbolAtLocation(program.getSourceFile(entry)!)!);
  return modules.flatMap((module) => checker.getExportsOfModule(module)).flatMap((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return target.getJsDocTags(checker)
      .filter((tag) => tag.name === 'example')
      .flatMap((tag) => typescriptBlocks(`${ts.displayPartsToString(tag.text)}\n`))
      .filter((block) => /from '@durable-rx\//.test(block.code))
      .map((block) => ({ name: symbol.name, code: block.code }));
  });
}

describe('@example blocks of the main entry and /testing', () => {
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));
  const blocks = exampleBlocks();

  it('the declarations a user reads first each have a self-contained example', () => {
    expect(FIRST_READ.filter((name) => !blocks.some((block) => block.name === name))).toEqual([]);
  });

  it('every self-contained example typechecks under strict', () => {
    mkdirSync(workDir, { recursive: true });
    const files = blocks.map((block, index) => {
      const file = `${workDir}${block.name}-${index + 1}.ts`;
      writeFileSync(file, `${block.code}\nexport {};\n`);
      return file;
    });
    expect(strictDiagnostics(files).map((d) => d.replace(workDir, ''))).toEqual([]);
  });
});
