// `npm run pack`: builds the four packages and writes their tarballs to packs/, for installing durable-rx in another
// project before it is on the registry:
//   npm install /path/to/durable-rx/packs/durable-rx-runtime-0.1.0.tgz
// Checks that each tarball holds its README, the LICENSE, package.json and every file its `exports` point to, and no
// test file or stale build output.
//   --out=<dir>   write the tarballs there instead of packs/ (test/packed-install.test.ts packs into a temp dir)
//   --no-build    pack the dist as it is (the caller has just built it)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--no-build' && !arg.startsWith('--out='));
if (unknown.length > 0) {
  console.error(`unknown argument ${unknown.join(' ')} (usage: node scripts/pack.mjs [--out=<dir>] [--no-build])`);
  process.exit(2);
}
const out = args.find((arg) => arg.startsWith('--out='))?.slice('--out='.length);
const packs = out ? `${resolve(out)}/` : `${root}packs/`;
const packages = ['runtime', 'store-indexeddb', 'store-mongo', 'rx-client'];
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0) {
    process.stdout.write(result.stdout ?? '');
    console.error(`${command} ${args.join(' ')} failed (exit code ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
  return result.stdout;
};

if (!args.includes('--no-build')) {
  console.log('Building the packages...');
  spawnSync('npx', ['turbo', 'run', 'build', ...packages.map((p) => `--filter=./packages/${p}`), '--output-logs=errors-only'], {
    cwd: root, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
  }).status === 0 || process.exit(1);
}

mkdirSync(packs, { recursive: true });
for (const file of readdirSync(packs)) if (/^durable-rx-.*\.tgz$/.test(file)) rmSync(`${packs}${file}`);
// npm puts a package's own LICENSE file into its tarball; the packages share the repository's, copied in for the pack
// and removed after. packages/*/LICENSE is git-ignored: a copy left by a run killed before its `finally` is never
// committed, and the next run writes it afresh and removes it.
const copied = packages.map((p) => `${root}packages/${p}/LICENSE`);
let results;
try {
  for (const file of copied) copyFileSync(`${root}LICENSE`, file);
  results = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', packs, ...packages.flatMap((p) => ['-w', `packages/${p}`])]));
} finally {
  for (const file of copied) rmSync(file, { force: true });
}

let problems = 0;
for (const result of results) {
  const dir = packages.find((p) => JSON.parse(readFileSync(`${root}packages/${p}/package.json`, 'utf8')).name === result.name);
  const manifest = JSON.parse(readFileSync(`${root}packages/${dir}/package.json`, 'utf8'));
  const files = new Set(result.files.map((f) => f.path));
  const targets = Object.values(manifest.exports).flatMap((entry) => Object.values(entry)).map((t) => t.replace(/^\.\//, ''));
  const missing = ['package.json', 'README.md', 'LICENSE', ...targets].filter((f) => !files.has(f));
  if (missing.length > 0) {
    problems++;
    console.error(`${result.filename}: missing ${missing.join(', ')}`);
  }
  // The build writes into dist without emptying it first (and turbo restores cached outputs over it): a module whose
  // source was deleted or renamed would ship, with a source map pointing at a file that is not in the tarball.
  const stale = [...files].filter((f) => /^dist\/.*\.js$/.test(f))
    .filter((f) => !['.ts', '.tsx'].some((ext) => files.has(f.replace(/^dist\//, 'src/').replace(/\.js$/, ext))));
  const tests = [...files].filter((f) => /\.(test|spec)\.[cm]?[jt]sx?$/.test(f));
  if (stale.length + tests.length > 0) {
    problems++;
    if (stale.length > 0) console.error(`${result.filename}: dist files without a source (rm -r packages/${dir}/dist, then npx turbo run build --force): ${stale.join(', ')}`);
    if (tests.length > 0) console.error(`${result.filename}: test files: ${tests.join(', ')}`);
  }
  console.log(`  ${out ? packs : 'packs/'}${result.filename}  ${(result.size / 1024).toFixed(0)} kB, ${result.entryCount} files`);
}
if (problems > 0) process.exit(1);
console.log(`\nInstall in another project (a package needs the runtime's tarball too):\n  npm install ${packs}${results[0].filename}`);
