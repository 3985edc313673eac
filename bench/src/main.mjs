/**
 * `npm run bench`: runs every scenario of the registry (scenarios/index.mjs), prints each table as it finishes, and
 * writes docs/benchmarks.md.
 *
 * Options: --quick (few samples and rounds, a smoke check; does not write the report unless --write is given),
 * --only=<id>,<id> (ids in scenarios/index.mjs), --no-write, --no-durably (the IndexedDB scenario leaves durably out:
 * minutes shorter, for iterating on the stores; its ratios to durably are then missing).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { collectGarbage } from './harness.mjs';
import { describeMachine } from './machine.mjs';
import { renderReport } from './report.mjs';
import { SCENARIOS } from './scenarios/index.mjs';
import { toText } from './format.mjs';

const REPORT = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noDurably = args.includes('--no-durably');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const write = args.includes('--write') || (!quick && !args.includes('--no-write') && !only);
const unknown = (only ?? []).filter((id) => !SCENARIOS.some((s) => s.id === id));
if (unknown.length > 0) {
  console.error(`Unknown scenario: ${unknown.join(', ')}. Known: ${SCENARIOS.map((s) => s.id).join(', ')}.`);
  process.exit(2);
}

const started = performance.now();
const machine = describeMachine();
console.log(`durable-rx benchmarks${quick ? ' (quick: few samples, not for publishing)' : ''}`);
console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}, load average ${machine.loadAtStart.toFixed(2)}`);
if (!globalThis.gc) console.log('(run with node --expose-gc to collect garbage between measurements)');

/** @type {import('./report.mjs').Results} */
const results = { machine, quick, durations: {}, load: {}, failures: {}, failedChecks: [], results: {} };

for (const s of SCENARIOS) {
  if (only && !only.includes(s.id)) continue;
  console.log(`\n== ${s.label} ...`);
  const t0 = performance.now();
  const loadBefore = os.loadavg()[0] ?? 0;
  try {
    const value = await s.run({ quick, noDurably });
    results.results[s.id] = value;
    const checks = s.checks?.(value) ?? [];
    console.log([...s.tables(value).map(toText), ...checks].join('\n\n'));
    if (s.pass?.(value) === false) results.failedChecks.push(s.id);
  } catch (error) {
    results.failures[s.id] = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    console.error(`${s.label} FAILED:`, error);
  } finally {
    results.durations[s.id] = (performance.now() - t0) / 1000;
    results.load[s.id] = { before: loadBefore, after: os.loadavg()[0] ?? 0 };
    console.log(`(${results.durations[s.id]?.toFixed(1)} s, load average ${loadBefore.toFixed(2)} -> ${results.load[s.id]?.after.toFixed(2)})`);
    collectGarbage();
  }
}

results.totalSeconds = (performance.now() - started) / 1000;
results.loadAtEnd = os.loadavg()[0] ?? 0;
if (write) {
  writeFileSync(REPORT, renderReport(results));
  console.log(`\nWrote ${REPORT}`);
}
console.log(`\nTotal: ${results.totalSeconds.toFixed(1)} s`);
const failed = Object.keys(results.failures);
if (failed.length > 0) console.error(`Failed: ${failed.join(', ')}`);
if (results.failedChecks.length > 0) console.error(`Checks failed in: ${results.failedChecks.join(', ')}`);
// A check decided on few samples is noise: --quick reports it but fails only on errors.
if (failed.length > 0 || (!quick && results.failedChecks.length > 0)) process.exitCode = 1;
