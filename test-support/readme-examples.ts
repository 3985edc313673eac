import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';

/** One ```ts or ```tsx block of a Markdown file: its code and the words after the language on the fence line. */
export interface CodeBlock {
  readonly language: 'ts' | 'tsx';
  readonly code: string;
  /** `norun`: typechecked but never executed (the text around it says why, e.g. browser-only APIs). */
  readonly tags: readonly string[];
}

/** Every ```ts and ```tsx block of a Markdown text, in order. */
export function typescriptBlocks(markdown: string): CodeBlock[] {
  return [...markdown.matchAll(/^```(tsx?)(?:[ \t]+([^\n]*))?\n([\s\S]*?)^```/gm)].map((m) => ({
    language: m[1] as 'ts' | 'tsx',
    code: m[3]!,
    tags: (m[2] ?? '').trim().split(/\s+/).filter(Boolean),
  }));
}

/** The compiler options a user's strict project would have: ES modules on Node, DOM types, React JSX, strict. */
const STRICT_USER_CODE: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true, noEmit: true, skipLibCheck: true, types: ['node'], lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  jsx: ts.JsxEmit.ReactJSX,
};

/**
 * Typechecks files as strict user code against the packages' published types (their `dist`), and returns the
 * diagnostics as `file:line: message` strings (empty when everything typechecks).
 */
export function strictDiagnostics(files: readonly string[]): string[] {
  const program = ts.createProgram(files, STRICT_USER_CODE);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName}:${line + 1}: ${message}`;
  });
}

/** A whole TypeScript program is checked per README: seconds on an idle machine, much longer on a loaded one. */
const SLOW_MS = 300_000;

/** How a README's runnable blocks run. */
export interface ReadmeExampleOptions {
  /** When set, the blocks are typechecked but not run, and the run tests are skipped with this reason. */
  readonly skipRun?: string;
}

/**
 * Runs every ```ts block of a README as a user would paste it: typechecked in strict mode against the built packages,
 * then executed, checking that it logs what its comments promise (`expectedLogs[i]`: values `console.log` must have
 * received while the i-th runnable block ran). Blocks tagged `norun`, and ```tsx blocks, are typechecked only. Repository test support,
 * shared by the docs tests; not published.
 */
export function describeReadmeExamples(
  readme: URL,
  workDir: URL,
  expectedLogs: readonly (readonly unknown[])[],
  options: ReadmeExampleOptions = {},
): void {
  const blocks = typescriptBlocks(readFileSync(readme, 'utf8'));
  const runnable = blocks.filter((block) => block.language === 'ts' && !block.tags.includes('norun'));
  const dir = fileURLToPath(workDir);
  const write = (name: string, code: string, language: 'ts' | 'tsx' = 'ts') => {
    const file = `${dir}${name}.${language}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${code}\nexport {};\n`);
    return file;
  };

  describe(`README examples (${relative(fileURLToPath(new URL('..', import.meta.url)), fileURLToPath(readme))})`, () => {
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('has the runnable blocks this test knows about', () => {
      expect(runnable).toHaveLength(expectedLogs.length);
    });

    it('typechecks every block as strict user code against the published types', { timeout: SLOW_MS }, () => {
      const files = blocks.map((block, index) => write(`typed-${index + 1}`, block.code, block.language));
      expect(strictDiagnostics(files)).toEqual([]);
    });

    runnable.forEach((block, index) => {
      it(`runs block ${index + 1} and prints what it promises`, { timeout: SLOW_MS }, async (context) => {
        if (options.skipRun !== undefined) context.skip(options.skipRun);
        const file = write(`block-${index + 1}`, block.code);
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
