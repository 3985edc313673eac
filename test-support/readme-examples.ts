import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * Runs every ```ts block of a README as a user would paste it: typechecked in strict mode against the built packages,
 * then executed, checking that it logs what its comments promise (`expectedLogs[i]`: values `console.log` must have
 * received while block i ran). Repository test support, shared by the packages' docs tests; not published.
 */
export function describeReadmeExamples(readme: URL, workDir: URL, expectedLogs: readonly (readonly unknown[])[]): void {
  const text = readFileSync(readme, 'utf8');
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const dir = fileURLToPath(workDir);
  const write = (name: string, code: string) => {
    const file = `${dir}${name}.ts`;
    writeFileSync(file, `${code}\nexport {};\n`);
    return file;
  };

  describe(`README examples (${fileURLToPath(readme)})`, () => {
    mkdirSync(dir, { recursive: true });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('has the blocks this test knows about', () => {
      expect(blocks).toHaveLength(expectedLogs.length);
    });

    it('typechecks every block as strict user code against the published types', () => {
      const files = blocks.map((code, index) => write(`typed-${index + 1}`, code));
      const program = ts.createProgram(files, {
        target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true, noEmit: true, skipLibCheck: true, types: ['node'], lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      });
      const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(diagnostics).toEqual([]);
    });

    blocks.forEach((code, index) => {
      it(`runs block ${index + 1} and prints what it promises`, async () => {
        const file = write(`block-${index + 1}`, code);
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
}
