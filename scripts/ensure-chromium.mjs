// Makes sure a Chromium for the real-browser tests exists: CHROMIUM_PATH, or Debian's /usr/bin/chromium, installed
// with apt-get when missing (as CI expects). Never downloads a browser of its own (no `playwright install`).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const wanted = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (existsSync(wanted)) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (process.platform !== 'linux' || !isRoot || !existsSync('/usr/bin/apt-get')) {
  console.error(`Chromium not found at ${wanted}. Install it (Debian: apt-get install chromium) or set CHROMIUM_PATH.`);
  process.exit(1);
}
console.log('Chromium missing: installing Debian\'s chromium package for the browser tests...');
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
if (!existsSync(wanted)) {
  console.error(`apt-get finished but ${wanted} does not exist`);
  process.exit(1);
}
