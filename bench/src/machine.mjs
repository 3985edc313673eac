/** What the numbers were measured on, and with which versions. */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('../', import.meta.url));

/** @param {string} name @returns {string} the installed version (bench/node_modules first, then the root) */
export function packageVersion(name) {
  for (const dir of [`${BENCH}node_modules/`, `${BENCH}../node_modules/`]) {
    const file = `${dir}${name}/package.json`;
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).version;
  }
  return 'not installed';
}

export function describeMachine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() || 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    /** 1-minute load average when the run began: other processes competing for the cores make figures noisier. */
    loadAtStart: os.loadavg()[0] ?? 0,
    versions: {
      '@durable-rx/runtime': packageVersion('@durable-rx/runtime'),
      'durable-functions': packageVersion('durable-functions'),
      '@microsoft/durabletask-js': packageVersion('@microsoft/durabletask-js'),
      tinybench: packageVersion('tinybench'),
      vite: packageVersion('vite'),
      rxjs: packageVersion('rxjs'),
    },
  };
}
