/**
 * `npm run bench`: runs every scenario, prints each table as it finishes, and writes docs/benchmarks.md.
 *
 * Options: --quick (few samples, for trying changes; does not write the report unless --write is given),
 * --only=replay,e2e,latency,bundle,streams, --no-write.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { collectGarbage } from './harness.mjs';
import { describeMachine } from './machine.mjs';
import { renderReport } from './report.mjs';
import { runBundleSize } from './scenarios/bundle-size.mjs';
import { runEndToEnd } from './scenarios/end-to-end.mjs';
import { runNotificationLatency } from './scenarios/notification-latency.mjs';
import { runRemoteStreams } from './scenarios/remote-streams.mjs';
import { runReplayEngine } from './scenarios/replay-engine.mjs';
import { bundleTable, checkLine, endToEndTable, latencyTable, replayTable, streamsTable } from './tables.mjs';
import { toText } from './format.mjs';

const REPORT = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const INDEXEDDB_RESULTS = fileURLToPath(new URL('../../packages/store-indexeddb/bench-results.json', import.meta.url));

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const write = args.includes('--write') || (!quick && !args.includes('--no-write') && !only);
/** @param {string} name */
const selected = (name) => !only || only.includes(name);

const started = performance.now();
const machine = describeMachine();
console.log(`durable-rx benchmarks${quick ? ' (quick: few samples, not for publishing)' : ''}`);
console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}, load average ${machine.loadAtStart.toFixed(2)}`);
if (!globalThis.gc) console.log('(run with node --expose-gc to collect garbage between measurements)');

/** @type {import('./report.mjs').Results} */
const results = { machine, quick, durations: {}, failures: {} };

/**
 * @template T
 * @param {string} name
 * @param {string} label
 * @param {() => Promise<T>} run
 * @param {(value: T) => string} print
 * @returns {Promise<T | undefined>}
 */
async function scenario(name, label, run, print) {
  if (!selected(name)) return undefined;
  console.log(`\n== ${label} ...`);
  const t0 = performance.now();
  try {
    const value = await run();
    results.durations[name] = (performance.now() - t0) / 1000;
    console.log(`${print(value)}\n(${results.durations[name].toFixed(1)} s)`);
    return value;
  } catch (error) {
    results.durations[name] = (performance.now() - t0) / 1000;
    results.failures[name] = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    console.error(`${label} FAILED:`, error);
    return undefined;
  } finally {
    collectGarbage();
  }
}

results.replay = await scenario('replay', 'Scenario 1: replay engine', () => runReplayEngine({ quick }),
  (r) => `${toText(replayTable(r))}\n\n${checkLine(r.check)}`);
results.endToEnd = await scenario('e2e', 'Scenario 2: end to end in memory', () => runEndToEnd({ quick }), (r) => toText(endToEndTable(r)));
results.latency = await scenario('latency', 'Scenario 3: notification latency', () => runNotificationLatency({ quick }), (r) => toText(latencyTable(r)));
results.bundle = await scenario('bundle', 'Scenario 4: bundle size', () => runBundleSize(), (r) => toText(bundleTable(r)));
results.streams = await scenario('streams', 'Scenario 5: remote streams over HTTP (one connection per client)',
  () => runRemoteStreams({ quick }), (r) => toText(streamsTable(r)));

if (existsSync(INDEXEDDB_RESULTS)) {
  try {
    results.indexeddb = JSON.parse(readFileSync(INDEXEDDB_RESULTS, 'utf8'));
    console.log('\nIncluding packages/store-indexeddb/bench-results.json in the report.');
  } catch (error) {
    results.failures.indexeddb = `packages/store-indexeddb/bench-results.json is not valid JSON: ${error}`;
  }
}

results.totalSeconds = (performance.now() - started) / 1000;
results.loadAtEnd = os.loadavg()[0] ?? 0;
if (write) {
  writeFileSync(REPORT, renderReport(results));
  console.log(`\nWrote ${REPORT}`);
}
console.log(`\nTotal: ${results.totalSeconds.toFixed(1)} s`);
if (results.replay) console.log(checkLine(results.replay.check));
const failed = Object.keys(results.failures);
if (failed.length > 0) console.error(`Failed: ${failed.join(', ')}`);
if (failed.length > 0 || results.replay?.check.pass === false) process.exitCode = 1;
