// `npm run pack`: builds the four packages and writes their tarballs to packs/, for installing durable-rx in another
// project before it is on the registry:
//   npm install /path/to/durable-rx/packs/durable-rx-runtime-0.1.0.tgz
// Each package's `prepack` (scripts/prepack.mjs) builds it and copies the LICENSE in, as for a plain `npm pack` or
// `npm publish`; this script packs all four at once and checks that each tarball holds its README, the LICENSE,
// package.json and every file its `exports` point to, and no test file.
//   --out=<dir>   write the tarballs there instead of packs/ (test/packed-install.test.ts packs into a temp dir)
//   --no-build    pack the dist as it is (the caller has just built it)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' };
if (args.includes('--no-build')) env.DURABLE_RX_PACK_NO_BUILD = '1';
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0) {
    process.stdout.write(result.stdout ?? '');
    console.error(`${command} ${args.join(' ')} failed (exit code ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
  return result.stdout;
};

mkdirSync(packs, { recursive: true });
for (const file of readdirSync(packs)) if (/^durable-rx-.*\.tgz$/.test(file)) rmSync(`${packs}${file}`);
console.log(args.includes('--no-build') ? 'Packing the packages...' : 'Building and packing the packages...');
const results = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', packs, ...packages.flatMap((p) => ['-w', `packages/${p}`])]));

let problems = 0;
for (const result of results) {
  const dir = packages.find((p) => JSON.parse(readFileSync(`${root}packages/${p}/package.json`, 'utf8')).name === result.name);
  const manifest = JSON.parse(readFileSync(`${root}packages/${dir}/package.json`, 'utf8'));
  const files = new Set(result.files.map((f) => f.path));
  // An entry is a path ("./package.json") or an object of conditions.
  const targets = Object.values(manifest.exports).flatMap((entry) => (typeof entry === 'string' ? [entry] : Object.values(entry)))
    .map((t) => t.replace(/^\.\//, ''));
  const missing = ['package.json', 'README.md', 'LICENSE', ...targets].filter((f) => !files.has(f));
  if (missing.length > 0) {
    problems++;
    console.error(`${result.filename}: missing ${missing.join(', ')}`);
  }
  const tests = [...files].filter((f) => /\.(test|spec)\.[cm]?[jt]sx?$/.test(f));
  if (tests.length > 0) {
    problems++;
    console.error(`${result.filename}: test files: ${tests.join(', ')}`);
  }
  console.log(`  ${out ? packs : 'packs/'}${result.filename}  ${(result.size / 1024).toFixed(0)} kB, ${result.entryCount} files`);
}
if (problems > 0) process.exit(1);
console.log(`\nInstall in another project (a package needs the runtime's tarball too):\n  npm install ${packs}${results[0].filename}`);
