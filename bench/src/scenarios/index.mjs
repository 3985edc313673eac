/**
 * The scenario registry: `npm run bench` runs these in order, prints their tables, and writes each as a section of
 * docs/benchmarks.md (numbered in this order). To add a scenario, write `scenarios/<name>.mjs` with a `run`, turn its
 * result into tables (tables.mjs), and add one entry here; `--only=<id>` selects it, and its result is
 * `results.results[id]` for the written analysis (analysis.mjs).
 */
import {
  bundleTable, checkLine, endToEndTable, endToEndTargets, indexedDbTables, indexedDbTargets, latencyTable, replayTable, streamsTable,
  streamsTargets,
} from '../tables.mjs';
import { runBundleSize } from './bundle-size.mjs';
import { runEndToEnd } from './end-to-end.mjs';
import { runIndexedDb } from './indexeddb.mjs';
import { memoryScaleTable, runMemoryScale } from './memory-scale.mjs';
import { runNotificationLatency } from './notification-latency.mjs';
import { reloadResumeTable, runReloadResume } from './reload-resume.mjs';
import { runRemoteStreams } from './remote-streams.mjs';
import { runReplayEngine } from './replay-engine.mjs';

/**
 * @typedef {object} ScenarioOptions
 * @property {boolean} quick  few samples and rounds: a smoke check, not for publishing
 * @property {boolean} [noDurably]  the IndexedDB scenario leaves durably out (a shorter run while iterating)
 */

/**
 * @template T
 * @typedef {object} Scenario
 * @property {string} id        `--only=<id>`; the key of its result in `Results.results`
 * @property {string} label     console heading
 * @property {string} title     section heading in docs/benchmarks.md
 * @property {(options: ScenarioOptions) => Promise<T>} run
 * @property {(result: T) => import('../format.mjs').Table[]} tables
 * @property {(result: T) => string[]} [checks]  bold lines above the tables (pass/fail checks)
 * @property {(result: T) => boolean} [pass]     false makes the run exit with code 1
 * @property {string} [intro]   a paragraph above the tables
 */

/**
 * Keeps `T` tied between `run` and `tables` for each entry.
 * @template T
 * @param {Scenario<T>} scenario
 * @returns {Scenario<any>}
 */
export const scenario = (scenario) => scenario;

/** @type {readonly Scenario<any>[]} */
export const SCENARIOS = [
  scenario({
    id: 'replay', label: 'Scenario 1: replay engine', title: 'Replay engine: N sequential activities',
    run: runReplayEngine, tables: (r) => [replayTable(r)], checks: (r) => [checkLine(r.check)], pass: (r) => r.check.pass,
  }),
  scenario({
    id: 'e2e', label: 'Scenario 2: end to end in memory', title: 'End to end, in memory',
    run: runEndToEnd, tables: (r) => [endToEndTable(r)], checks: endToEndTargets,
  }),
  scenario({
    id: 'latency', label: 'Scenario 3: notification latency', title: 'Notification latency',
    run: runNotificationLatency, tables: (r) => [latencyTable(r)],
  }),
  scenario({
    id: 'bundle', label: 'Scenario 4: bundle size', title: 'Bundle size',
    run: () => runBundleSize(), tables: (r) => [bundleTable(r)],
  }),
  scenario({
    id: 'streams', label: 'Scenario 5: remote streams over HTTP (one connection per client)',
    title: 'Remote streams: one connection per client, over HTTP on 127.0.0.1',
    run: runRemoteStreams, tables: (r) => [streamsTable(r)], checks: streamsTargets,
  }),
  scenario({
    id: 'indexeddb', label: 'Scenario 6: IndexedDB in headless Chromium, next to raw IndexedDB and durably (SQLite on OPFS)',
    title: 'IndexedDB in Chromium: DexieStore and KeyvalStore, the raw ceiling, and durably on SQLite/OPFS',
    run: runIndexedDb, tables: indexedDbTables, checks: indexedDbTargets,
  }),
  scenario({
    id: 'scale', label: 'Scenario 7: MemoryStore at scale (raise throughput, heap per waiting instance)',
    title: 'MemoryStore at scale: raised events per second and heap per waiting instance',
    run: runMemoryScale, tables: (r) => [memoryScaleTable(r)],
  }),
  scenario({
    id: 'reload', label: 'Scenario 8: reload to resume in Chromium',
    title: 'Reload to resume: one Chromium tab on IndexedDB',
    run: runReloadResume, tables: (r) => [reloadResumeTable(r)],
  }),
];
