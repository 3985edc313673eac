// The `prepack` and `postpack` scripts of every package: npm runs them in the package's directory around `npm pack` and
// `npm publish`, so a plain `npm pack -w packages/<pkg>` in a fresh clone gives a complete tarball.
//   node ../../scripts/prepack.mjs          builds the package and the packages it imports (turbo, cached), checks its
//                                           dist holds no module without a source, copies the repository's LICENSE in
//   node ../../scripts/prepack.mjs --after  removes that copy (packages/*/LICENSE is git-ignored: a copy left by a pack
//                                           that failed half-way is never committed, and the next pack writes it again)
// DURABLE_RX_PACK_NO_BUILD=1 skips the build (scripts/pack.mjs --no-build: the caller has just built the packages).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = process.cwd();
const license = join(dir, 'LICENSE');
if (resolve(dir, '..') !== resolve(root, 'packages')) {
  console.error(`prepack.mjs runs in a package directory under ${root}packages/, not in ${dir}`);
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

if (process.argv.includes('--after')) {
  rmSync(license, { force: true });
  process.exit(0);
}

if (process.env.DURABLE_RX_PACK_NO_BUILD !== '1') {
  // `^build` in turbo.json builds the packages this one imports first: a package compiles against their dist.
  const turbo = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'turbo.cmd' : 'turbo');
  // Its output goes to stderr: `npm pack --json` prints the scripts' stdout ahead of its JSON.
  const built = spawnSync(turbo, ['run', 'build', `--filter=${manifest.name}`, '--output-logs=errors-only'], {
    cwd: root, stdio: ['ignore', 2, 2], shell: process.platform === 'win32',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
  });
  if (built.status !== 0) {
    console.error(`${manifest.name}: the build failed (${built.error ?? `exit code ${built.status ?? built.signal}`}); nothing packed`);
    process.exit(1);
  }
}

// The build writes into dist without emptying it first (and turbo restores cached outputs over it): a module whose
// source was deleted or renamed would ship, with a source map pointing at a file that is not in the tarball.
const dist = join(dir, 'dist');
if (!existsSync(dist)) {
  console.error(`${manifest.name}: no dist/ (run npm run build)`);
  process.exit(1);
}
const stale = readdirSync(dist, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.js'))
  .filter((file) => !['.ts', '.tsx'].some((ext) => existsSync(join(dir, 'src', file.replace(/\.js$/, ext)))));
if (stale.length > 0) {
  console.error(`${manifest.name}: dist files without a source (rm -r ${relative(root, dist)}, then npx turbo run build --force): ${stale.join(', ')}`);
  process.exit(1);
}
copyFileSync(resolve(root, 'LICENSE'), license);
