// A vitest reporter that `npm test` (scripts/test.mjs) adds next to the default one. It writes this run's counts and
// its skipped suites, with the reason each gives, as JSON into $DURABLE_RX_TEST_REPORT_DIR; without that variable
// it does nothing. The reason of a skip is the note of `ctx.skip(note)`, else the line the test file printed that
// says "skipped" (the convention of conditional suites, such as the MongoDB integration tests). Failed tests are
// written with the first line of their error, so the totals at the very end of `npm test` name what failed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export default class TotalsReporter {
  /** @type {{ taskId?: string, content: string }[]} */
  #logs = [];

  onUserConsoleLog(log) {
    if (/skip/i.test(log.content)) this.#logs.push({ taskId: log.taskId, content: log.content.trim() });
  }

  onTestRunEnd(testModules, unhandledErrors) {
    const dir = process.env.DURABLE_RX_TEST_REPORT_DIR;
    if (!dir) return;
    const repoRoot = process.env.DURABLE_RX_REPO_ROOT ?? process.cwd();
    const modules = testModules.map((module) => this.#summarize(module, repoRoot));
    mkdirSync(dir, { recursive: true });
    const report = { cwd: relative(repoRoot, process.cwd()) || '.', modules, unhandledErrors: unhandledErrors.length };
    writeFileSync(join(dir, `${process.pid}-${Date.now()}.json`), JSON.stringify(report, null, 2));
  }

  #summarize(module, repoRoot) {
    const file = relative(repoRoot, module.moduleId);
    const project = module.project.name || undefined;
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const failures = [];
    for (const test of module.children.allTests()) {
      const result = test.result();
      counts[result.state === 'passed' || result.state === 'failed' ? result.state : 'skipped']++;
      if (result.state === 'failed') failures.push({ name: test.fullName, error: firstLine(result.errors?.[0]) });
    }
    // A file that failed to load (syntax error, failing import, throwing hook) has no failed test: count it.
    const loadErrors = module.state() === 'failed' && counts.failed === 0 ? 1 : 0;
    if (loadErrors > 0) failures.push({ name: '(the file failed to load)', error: firstLine(module.errors()[0]) });
    const ids = new Set([module.id]);
    const skippedSuites = [];
    const reasonFor = (taskIds, note) => {
      if (note) return note;
      const line = this.#logs.find((log) => log.taskId !== undefined && taskIds.has(log.taskId));
      return line?.content ?? 'no reason given';
    };
    const visit = (collection, path) => {
      for (const child of collection) {
        ids.add(child.id);
        if (child.type === 'suite') {
          const tests = [...child.children.allTests()];
          if (tests.length > 0 && tests.every((t) => t.result().state === 'skipped')) {
            const childIds = new Set([module.id, child.id, ...tests.map((t) => t.id)]);
            const notes = tests.map((t) => t.result().note).filter(Boolean);
            skippedSuites.push({ file, project, name: [...path, child.name].join(' > '), tests: tests.length, reason: reasonFor(childIds, notes[0]) });
          } else {
            visit(child.children, [...path, child.name]);
          }
        } else if (child.result().state === 'skipped') {
          skippedSuites.push({ file, project, name: [...path, child.name].join(' > '), tests: 1, reason: reasonFor(new Set([module.id, child.id]), child.result().note) });
        }
      }
    };
    visit(module.children, []);
    return { file, project, ...counts, loadErrors, skippedSuites, failures };
  }
}

/** The first line of a test error's message, for a one-line summary. */
function firstLine(error) {
  const text = error?.message ?? (error === undefined ? 'no error recorded' : String(error));
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
