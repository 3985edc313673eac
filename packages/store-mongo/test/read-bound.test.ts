import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MongoServerError } from 'mongodb';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { mapDriverError } from '../src/map-driver-error.js';
import { readBound } from '../src/read-bound.js';

/** The driver's read methods, with the index of their options argument. */
const READS: Readonly<Record<string, number>> = { find: 1, findOne: 1, aggregate: 1, countDocuments: 1, distinct: 2, estimatedDocumentCount: 0 };

/**
 * Every call of a driver read (`READS`) on a mongodb `Collection` or `Db` in the store's source, with whether the
 * options it passes have, by type, a `maxTimeMS` that is a number and not optional. By type, so a bound spread in
 * from `readBound()`, a constant or a parameter counts, and a call that drops it does not. A read is known by the
 * method the call resolves to (declared on the driver's `Collection` or `Db` class), not by its receiver's type name,
 * so a receiver typed `Pick<Collection, 'find'>` or through an alias is found too. `diagnostics` are the program's
 * type errors: with any, types may have fallen back to error types and reads gone unseen.
 */
function readsInSource(): { readonly reads: readonly { readonly where: string; readonly bounded: boolean }[]; readonly diagnostics: readonly string[] } {
  const dir = fileURLToPath(new URL('../src/', import.meta.url));
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => `${dir}${f}`);
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true, skipLibCheck: true, noEmit: true, types: ['node'], lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  });
  const checker = program.getTypeChecker();
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const at = d.file === undefined || d.start === undefined ? '' : `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1} `;
    return `${at}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  const isDriverRead = (call: ts.CallExpression) => {
    const declaration = checker.getResolvedSignature(call)?.declaration;
    const owner = declaration?.parent;
    return owner !== undefined && ts.isClassDeclaration(owner) && ['Collection', 'Db'].includes(owner.name?.text ?? '')
      && owner.getSourceFile().fileName.includes('/node_modules/mongodb/');
  };
  const reads: { where: string; bounded: boolean }[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file)!;
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
        const method = node.expression.name.text;
        const at = READS[method];
        if (at !== undefined && isDriverRead(node)) {
          const options = node.arguments[at];
          const maxTimeMS = options === undefined ? undefined : checker.getTypeAtLocation(options).getProperty('maxTimeMS');
          const bounded = maxTimeMS !== undefined && (maxTimeMS.flags & ts.SymbolFlags.Optional) === 0
            && (checker.getTypeOfSymbol(maxTimeMS).flags & ts.TypeFlags.NumberLike) !== 0;
          const { line } = source.getLineAndCharacterOfPosition(node.getStart());
          reads.push({ where: `${file.slice(dir.length)}:${line + 1} ${method}`, bounded });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { reads, diagnostics };
}

describe('the store\u2019s reads are bounded in time', () => {
  // A type-checked program of the whole package: CPU-bound (21 s in a full test run at load 16, 75 s at load 30), so
  // more than the suite's 120 s per test.
  it('every read the store sends to a collection passes a maxTimeMS (by type: a read that drops its bound fails here)', { timeout: 360_000 }, () => {
    const { reads, diagnostics } = readsInSource();
    // Not vacuous: the program type-checks (so no read hides behind an error type) and the store's reads are found
    // (the server suite checks the commands themselves, with MONGODB_URI).
    expect(diagnostics).toEqual([]);
    expect(reads.length).toBeGreaterThan(20);
    expect(reads.filter((read) => !read.bounded).map((read) => read.where)).toEqual([]);
  });

  it('a read outside a transaction gets a deadline of its own: one read\u2019s timeout never aborts another\u2019s', () => {
    const bound = readBound();
    expect(bound.maxTimeMS).toBeGreaterThan(0); // the server reads maxTimeMS 0 as "no limit"
    expect(bound.signal.aborted).toBe(false);
    expect(readBound().signal).not.toBe(bound.signal);
  });

  it('a read that runs out fails with the retryable UnavailableError (503), nothing written', () => {
    const expired = new MongoServerError({ message: 'operation exceeded time limit', code: 50, codeName: 'MaxTimeMSExpired' });
    expect(mapDriverError(expired, 'reading instance "a"')).toMatchObject({ code: 'unavailable', status: 503, cause: expired });
    const deadline = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(mapDriverError(deadline, 'reading instance "a"')).toMatchObject({ code: 'store-unreachable', status: 503 });
  });
});
