import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A fresh Node process loading the entry takes well under a second on an idle machine, and many times that on a shared
// one under load; the bound only ends a hung child, below the suite's 120 s per-test timeout (spawnSync blocks the
// test's thread, so that timeout could not end it).
const CHILD_MS = 100_000;

describe('the testing entry', () => {
  // vitest is an optional peer: a project testing with node:test, jest or mocha uses the virtual clock and the
  // history builders of `@durable-rx/runtime/testing` as the root README does, without vitest installed.
  it('runs the virtual clock and the history builders where vitest is not installed; the vitest suites say they need it', () => {
    const script = fileURLToPath(new URL('./fixtures/testing-without-vitest.mjs', import.meta.url));
    const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: CHILD_MS });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      'a week later',
      'OrchestratorStarted ExecutionStarted OrchestratorCompleted',
      'The suites of @durable-rx/runtime/testing need vitest, an optional peer dependency: npm install --save-dev vitest',
    ]);
  });

  // Node refuses require() of a module graph with a top-level await (ERR_REQUIRE_ASYNC_MODULE), and the entry `import`
  // loads awaits vitest: `require` gets an entry without it, where the suites say they need `import`.
  it('loads with require() from CommonJS: the virtual clock and history builders run, the vitest suites say they need import', () => {
    const script = fileURLToPath(new URL('./fixtures/testing-by-require.cjs', import.meta.url));
    const result = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', script], { encoding: 'utf8', timeout: CHILD_MS });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const refused = 'The suites of @durable-rx/runtime/testing need vitest, which cannot be loaded by require(): import this entry instead';
    expect(result.stdout.trim().split('\n')).toEqual([
      'a week later',
      'OrchestratorStarted ExecutionStarted OrchestratorCompleted',
      `describeStoreConformance: ${refused}`,
      `assertNoDuplicateSteps: ${refused}`,
      `describeClientConformance: ${refused}`,
      `describeSoak: ${refused}`,
      'the same names as under import',
    ]);
  });
});
