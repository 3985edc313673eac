// `npm start`: builds the packages and the demo once (turbo; cached builds are skipped), then serves demo/dist on
// 127.0.0.1, on port 4173 or, when that one is taken, the next free one. Prints what it is doing, then the URL.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const demo = fileURLToPath(new URL('../demo/', import.meta.url));
const wantedPort = 4173;
const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

const started = performance.now();
console.log('[1/2] Building the packages and the demo (turbo; a first build takes a minute or two, later ones are cached)...');
const build = spawnSync('npx', ['turbo', 'run', 'build', '--filter=demo...', '--output-logs=new-only'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
});
if (build.status !== 0) {
  console.error(`The build failed (exit code ${build.status ?? build.signal}); see the errors above.`);
  process.exit(build.status || 1);
}
console.log(`[1/2] Built in ${seconds(started)}.`);

console.log(`[2/2] Serving demo/dist on 127.0.0.1 (port ${wantedPort}, or the next free one)...`);
// The demo's own Vite, with its config; only the port policy differs: take the next port instead of failing.
const { preview } = await import(pathToFileURL(createRequire(`${demo}package.json`).resolve('vite')).href);
const server = await preview({
  root: demo,
  logLevel: 'warn',
  preview: { host: '127.0.0.1', port: wantedPort, strictPort: false, open: false },
});
const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${wantedPort}/`;
const port = Number(new URL(url).port);
console.log('');
console.log(`  The demo is ready: ${url}`);
if (port !== wantedPort) console.log(`  (port ${wantedPort} was taken, so it uses ${port})`);
console.log('  Orchestrations run in the page on IndexedDB: reload mid-run, open a second tab. Ctrl-C stops the server.');
if (port !== 4173) {
  console.log(`  For remote mode, start the demo server with DURABLE_RX_CORS=http://127.0.0.1:${port} npm run serve -w demo`);
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
