// Long seeded soaks with fault injection: `npm run soak -- --seeds N [--from S] [--store memory|dexie|keyval|all] [--concurrency C] [--extended] [--hang R]`.
// Runs the soak test of each store with SOAK_SEEDS / SOAK_FROM set (see describeSoak in @durable-rx/runtime/testing),
// then prints what was injected and found per store, and for the extended workload which side of each race came first
// in how many runs. Reports land in soak-results/ as JSON.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const seeds = Number(option('seeds', '100'));
const concurrency = option('concurrency', '8');
const from = Number(option('from', '1'));
const which = option('store', 'all');
// The extended workload when asked either way (`--extended`, or SOAK_EXTENDED=1 in the environment).
const extended = args.includes('--extended') || process.env.SOAK_EXTENDED === '1';
// The share of the workers' store calls that never settle (FaultRates.hang): 0, none, unless asked for.
const hang = Number(option('hang', '0'));
if (!Number.isInteger(seeds) || seeds < 1 || !Number.isInteger(from) || !(hang >= 0 && hang <= 1)) {
  console.error('usage: npm run soak -- --seeds N [--from S] [--store memory|dexie|keyval|all] [--concurrency C] [--extended] [--hang R (0 to 1)]');
  process.exit(2);
}
const root = resolve(import.meta.dirname, '..');
const out = join(root, 'soak-results');
mkdirSync(out, { recursive: true });

const env = { ...process.env, SOAK_SEEDS: String(seeds), SOAK_FROM: String(from), SOAK_REPORT: out, SOAK_CONCURRENCY: concurrency, SOAK_EXTENDED: extended ? '1' : '0', SOAK_HANG: String(hang), TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' };
const run = (command, commandArgs, cwd) => spawnSync(command, commandArgs, { cwd, env, stdio: 'inherit' }).status ?? 1;

if (run('npx', ['turbo', 'run', 'build', '--filter=@durable-rx/store-indexeddb...', '--output-logs=errors-only'], root) !== 0) process.exit(1);
const runs = [
  { store: 'memory', file: 'MemoryStore.json', cwd: 'packages/runtime', args: ['vitest', 'run', 'test/soak.test.ts'] },
  { store: 'dexie', file: 'DexieStore.json', cwd: 'packages/store-indexeddb', args: ['vitest', 'run', '--project', 'node', 'test/node/soak.test.ts', '-t', 'soak on DexieStore'] },
  { store: 'keyval', file: 'KeyvalStore.json', cwd: 'packages/store-indexeddb', args: ['vitest', 'run', '--project', 'node', 'test/node/soak.test.ts', '-t', 'soak on KeyvalStore'] },
].filter((r) => which === 'all' || r.store === which);
let failed = false;
for (const r of runs) failed = run('npx', r.args, join(root, r.cwd)) !== 0 || failed;

console.log(`\nseeds ${from}..${from + seeds - 1}, faults on${hang > 0 ? `, ${hang} of the workers' store calls hung` : ''}, ${extended ? 'extended' : 'core'} workload`);
console.log('store        runs  calls   errorBefore errorAfter delay  leaseExpiry hang  crashes instances activityRuns failed workload');
const tallies = [];
for (const file of runs.map((r) => r.file).filter((f) => readdirSync(out).includes(f))) {
  const { store, races, reports } = JSON.parse(readFileSync(join(out, file), 'utf8'));
  // The workload each report says it ran (a report file left by an earlier run of another one shows so).
  const workload = [...new Set(reports.map((r) => (r.extended === undefined ? '?' : r.extended ? 'extended' : 'core')))].join('+');
  const sum = (pick) => reports.reduce((a, r) => a + pick(r), 0);
  const bad = reports.filter((r) => r.problems.length > 0);
  console.log([
    store.padEnd(12), String(reports.length).padStart(4), String(sum((r) => r.faults.calls)).padStart(7),
    String(sum((r) => r.faults.errorBefore)).padStart(11), String(sum((r) => r.faults.errorAfter)).padStart(10),
    String(sum((r) => r.faults.delay)).padStart(6), String(sum((r) => r.faults.leaseExpiry)).padStart(11),
    String(sum((r) => r.faults.hang ?? 0)).padStart(5), String(sum((r) => r.faults.crashes)).padStart(7), String(sum((r) => r.instances)).padStart(9),
    String(sum((r) => r.activityRuns)).padStart(12), String(bad.length).padStart(6), workload,
  ].join(' '));
  for (const r of bad) console.log(`  seed ${r.seed}: ${r.problems.join('; ')}`);
  tallies.push({ store, tally: raceTally(races ?? {}, reports) });
}
// Which side of each race of the extended workload came first, in how many runs: a race that went one way only on a
// store leaves the other order untested there.
const raceNames = [...new Set(tallies.flatMap(({ tally }) => Object.keys(tally)))];
if (raceNames.length > 0) {
  console.log('\nraces (runs in which each side came first; ! when one side never did)');
  console.log(`${'race'.padEnd(10)} ${'sides'.padEnd(22)} ${tallies.map(({ store }) => store.padStart(16)).join(' ')}`);
  for (const name of raceNames) {
    // Its two sides first (each tally lists them first), then '?' if any run never saw it end.
    const sides = [...new Set(tallies.flatMap(({ tally }) => Object.keys(tally[name] ?? {})))];
    const cells = tallies.map(({ tally }) => {
      const counts = sides.map((side) => tally[name]?.[side] ?? 0);
      return `${counts.slice(0, 2).includes(0) ? '!' : ''}${counts.join(' / ')}`.padStart(16);
    });
    console.log(`${name.padEnd(10)} ${sides.join(' / ').padEnd(22)} ${cells.join(' ')}`);
  }
}
process.exit(failed ? 1 : 0);

/**
 * Per race, the runs in which each of its sides (`races`: name -> its two sides) came first; '?' counts runs that never
 * saw the race end.
 */
function raceTally(races, reports) {
  const tally = {};
  for (const r of reports) {
    for (const [name, race] of Object.entries(r.races ?? {})) {
      tally[name] ??= Object.fromEntries((races[name] ?? []).map((side) => [side, 0]));
      const side = race.first ?? '?';
      tally[name][side] = (tally[name][side] ?? 0) + 1;
    }
  }
  return tally;
}
