// Makes sure a Chromium for the real-browser tests exists: CHROMIUM_PATH, or Debian's /usr/bin/chromium, installed
// with apt-get when missing (as CI expects). Never downloads a browser of its own (no `playwright install`).
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/**
 * What to do about the browser, decided from facts only (no side effects): `ok` when it exists; `fail` with a message
 * when it cannot be had here; `install` when apt-get can install Debian's chromium, which is only ever the default
 * path: a CHROMIUM_PATH that is set and missing fails at once (apt-get would install /usr/bin/chromium, not it).
 *
 * @param {{ chromiumPath: string | undefined, exists: (path: string) => boolean, platform: string, isRoot: boolean }} facts
 * @returns {{ action: 'ok' | 'install', path: string } | { action: 'fail', path: string, message: string }}
 */
export function chromiumPlan({ chromiumPath, exists, platform, isRoot }) {
  const path = chromiumPath ?? DEBIAN_CHROMIUM;
  if (exists(path)) return { action: 'ok', path };
  if (chromiumPath !== undefined) {
    return { action: 'fail', path, message: `CHROMIUM_PATH is set to ${path}, which does not exist. Point it at a Chromium executable, or unset it to use ${DEBIAN_CHROMIUM}.` };
  }
  if (platform !== 'linux' || !isRoot || !exists('/usr/bin/apt-get')) {
    return { action: 'fail', path, message: `Chromium not found at ${path}. Install it (Debian: apt-get install chromium) or set CHROMIUM_PATH.` };
  }
  return { action: 'install', path };
}

function main() {
  const plan = chromiumPlan({
    chromiumPath: process.env.CHROMIUM_PATH,
    exists: existsSync,
    platform: process.platform,
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
  });
  if (plan.action === 'ok') return;
  if (plan.action === 'fail') {
    console.error(plan.message);
    process.exit(1);
  }
  console.log('Chromium missing: installing Debian\'s chromium package for the browser tests...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
  if (!existsSync(plan.path)) {
    console.error(`apt-get finished but ${plan.path} does not exist`);
    process.exit(1);
  }
}

// Run as a script (`node scripts/ensure-chromium.mjs`); imported (by its test), it only provides chromiumPlan.
// (import.meta.url is the real path; argv[1] the one given, which may go through a symlink.)
const invoked = process.argv[1] !== undefined && existsSync(process.argv[1]) ? realpathSync(process.argv[1]) : undefined;
if (invoked === fileURLToPath(import.meta.url)) main();
