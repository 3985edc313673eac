import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';

// Every ```ts block of the root README runs here, as a user would paste it, and prints what its comments promise.
const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = fileURLToPath(new URL('./.docs-blocks/', import.meta.url));

const expectedLogs: unknown[][] = [
  [['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']],
  ['Pending', 'Running', { discount: 15, discountTimeout: 60 }, 'Completed', true],
  ['invalid-argument', 400],
  ['a week later'],
];

describe('README examples', () => {
  mkdirSync(dir, { recursive: true });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has the blocks this test knows about', () => {
    expect(blocks).toHaveLength(expectedLogs.length);
  });

  it('typechecks every README block as strict user code against the published types', () => {
    const files = blocks.map((code, index) => {
      const file = `${dir}typed-${index + 1}.ts`;
      writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true, noEmit: true, skipLibCheck: true, types: ['node'], lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  blocks.forEach((code, index) => {
    it(`runs README block ${index + 1} and prints what it promises`, async () => {
      const file = `${dir}block-${index + 1}.ts`;
      writeFileSync(file, `${code}\nexport {};\n`);
      const logs: unknown[] = [];
      const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        logs.push(...args);
      });
      try {
        await import(/* @vite-ignore */ file);
      } finally {
        spy.mockRestore();
      }
      for (const expected of expectedLogs[index]!) expect(logs).toContainEqual(expected);
    });
  });
});
