// `npm test`: builds and typechecks every package, runs every test suite (turbo), then prints one totals line,
//   N passed, N failed, N skipped
// followed by the tests that failed (with the first line of each error) and the suites that were skipped and why.
// Exits non-zero when anything failed. Extra arguments go to turbo
// (e.g. `npm test -- --filter=@durable-rx/runtime`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const reporter = fileURLToPath(new URL('./totals-reporter.mjs', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'durable-rx-test-'));
const env = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
  DURABLE_RX_TEST_REPORT_DIR: reportDir,
  DURABLE_RX_REPO_ROOT: root,
};
const turboArgs = process.argv.slice(2);
const turbo = (args) =>
  spawnSync('npx', ['turbo', 'run', ...args], { cwd: root, env, stdio: 'inherit' }).status ?? 1;

let status = 0;
try {
  // Build and typecheck first, then the tests with the totals reporter (turbo hands `--` arguments to every task
  // of a run, and only vitest understands them).
  status ||= turbo(['build', 'typecheck', '--continue', '--output-logs=new-only', ...turboArgs]);
  const testStatus = turbo([
    'test', 'test:repo', '--continue', '--output-logs=new-only', ...turboArgs,
    '--', '--reporter=default', `--reporter=${reporter}`,
  ]);
  status ||= testStatus;

  const reports = readdirSync(reportDir).map((name) => JSON.parse(readFileSync(join(reportDir, name), 'utf8')));
  const modules = reports.flatMap((report) => report.modules);
  const totals = { passed: 0, failed: 0, skipped: 0 };
  for (const m of modules) {
    totals.passed += m.passed;
    totals.failed += m.failed + m.loadErrors;
    totals.skipped += m.skipped;
  }
  totals.failed += reports.reduce((sum, report) => sum + report.unhandledErrors, 0);
  if (totals.failed > 0 || modules.length === 0) status ||= 1;

  console.log('');
  if (modules.length === 0) console.log('No test ran (see the errors above).');
  else if (status !== 0 && totals.failed === 0) console.log('A build, typecheck or test task failed (see above).');
  console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  const failed = modules.flatMap((m) => (m.failures ?? []).map((f) => ({ ...f, file: m.file, project: m.project })));
  if (failed.length > 0) {
    console.log('failed:');
    for (const f of failed) console.log(`  ${f.file}${f.project ? ` [${f.project}]` : ''} > ${f.name}: ${f.error}`);
  }
  const skipped = modules.flatMap((m) => m.skippedSuites);
  if (skipped.length > 0) {
    console.log('skipped:');
    for (const s of skipped) {
      const where = `${s.file}${s.project ? ` [${s.project}]` : ''} > ${s.name}`;
      console.log(`  ${where} (${s.tests} ${s.tests === 1 ? 'test' : 'tests'}): ${s.reason}`);
    }
  }
} finally {
  rmSync(reportDir, { recursive: true, force: true });
}
process.exit(status);
