// `npm run pack`: builds the four packages and writes their tarballs to packs/, for installing durable-rx in another
// project before it is on the registry:
//   npm install /path/to/durable-rx/packs/durable-rx-runtime-0.1.0.tgz
// Checks that each tarball holds its README, the LICENSE, package.json and every file its `exports` point to.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const packs = `${root}packs/`;
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

console.log('Building the packages...');
spawnSync('npx', ['turbo', 'run', 'build', ...packages.map((p) => `--filter=./packages/${p}`), '--output-logs=errors-only'], {
  cwd: root, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
}).status === 0 || process.exit(1);

rmSync(packs, { recursive: true, force: true });
mkdirSync(packs);
// npm puts a package's own LICENSE file into its tarball; the packages share the repository's.
const copied = packages.map((p) => `${root}packages/${p}/LICENSE`).filter((file) => !existsSync(file));
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
  console.log(`  packs/${result.filename}  ${(result.size / 1024).toFixed(0)} kB, ${result.entryCount} files`);
}
if (problems > 0) process.exit(1);
console.log(`\nInstall in another project (a package needs the runtime's tarball too):\n  npm install ${packs}${results[0].filename}`);
