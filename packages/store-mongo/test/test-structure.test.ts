import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const TEST_CALLS = new Set(['it', 'test']);

/** `it`, `it.skipIf(x)`, `test.each(t)`...: the name a test call starts from, if it is one. */
function testCallName(callee: ts.Expression): string | undefined {
  if (ts.isIdentifier(callee)) return TEST_CALLS.has(callee.text) ? callee.text : undefined;
  if (ts.isPropertyAccessExpression(callee)) return testCallName(callee.expression);
  if (ts.isCallExpression(callee)) return testCallName(callee.expression);
  return undefined;
}

/**
 * The test declarations (`it(...)`, `test(...)` and their `.skipIf`/`.each` forms) of `source` made inside the body of
 * another test, as `line: title`. Vitest refuses such a declaration when the outer test runs ("Calling the test
 * function inside another test function is not allowed"), so the outer test fails and the inner one never runs.
 */
function nestedTests(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node, insideTest: boolean): void => {
    if (ts.isCallExpression(node) && testCallName(node.expression) !== undefined) {
      if (insideTest) {
        const title = node.arguments[0] !== undefined && ts.isStringLiteralLike(node.arguments[0]) ? node.arguments[0].text : '?';
        found.push(`${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${title}`);
      }
      // The callee (`it.each(table)`) is the same declaration; its arguments, the test's body among them, are inside it.
      for (const argument of node.arguments) visit(argument, true);
      return;
    }
    ts.forEachChild(node, (child) => visit(child, insideTest));
  };
  visit(file, false);
  return found;
}

describe('this package\u2019s test files', () => {
  // The integration suites skip without MONGODB_URI, so a test declared inside another one is found by reading them.
  const dir = fileURLToPath(new URL('./', import.meta.url));
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts'));

  it('declare no test inside the body of another (vitest fails the outer one and never runs the inner one)', () => {
    expect(files).toContain('mongo-store.test.ts');
    const nested = files.flatMap((f) => nestedTests(f, readFileSync(`${dir}${f}`, 'utf8')).map((where) => `${f}:${where}`));
    expect(nested).toEqual([]);
  });

  it('finds a test declared in another\u2019s body, and not an it.each or a test beside another', () => {
    const source = [
      "describe('d', () => {",
      "  it('outer', async () => {",
      '    try { await work(); } finally { await close(); }',
      "    it('inner', () => {});",
      '  });',
      "  it.each([1, 2])('each %i', () => {});",
      "  it.skipIf(true)('beside', () => {});",
      '});',
    ].join('\n');
    expect(nestedTests('x.test.ts', source)).toEqual(['4: inner']);
  });
});
