import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { demoRoot } from './preview-server.js';

/** `demo/server.mjs`, running in a child process. */
export interface DemoServerHandle {
  /** e.g. `http://127.0.0.1:41234` */
  readonly url: string;
  readonly key: string;
  /** `METHOD /path` of every request the server received so far, in order. */
  readonly requests: readonly string[];
  /** What the server wrote to stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

/**
 * Starts `node server.mjs` (as `npm run serve` does, on a free port of 127.0.0.1, with a random key) and lets
 * `pageOrigin` call it. The orchestrations it imports are compiled to `dist-server/` by `npm test` beforehand.
 */
export async function startDemoServer(pageOrigin: string): Promise<DemoServerHandle> {
  if (!existsSync(new URL('../dist-server/demo-orchestrators.js', import.meta.url))) {
    throw new Error('demo/dist-server is missing: `npm test -w demo` compiles it (tsc -p tsconfig.server.json)');
  }
  const key = randomUUID();
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: demoRoot,
    env: { ...process.env, PORT: '0', DURABLE_RX_KEY: key, DURABLE_RX_CORS: pageOrigin, DEMO_LOG_REQUESTS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const requests: string[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const listening = /^durable-rx demo server on (http:\/\/\S+)/.exec(line);
      if (listening) resolve(listening[1]!);
      else if (/^[A-Z]+ \//.test(line)) requests.push(line);
    });
    child.once('error', reject);
    void exited.then(() => reject(new Error(`demo/server.mjs exited before listening (code ${child.exitCode}):\n${stderr}`)));
  });
  return {
    url,
    key,
    requests,
    stderr: () => stderr,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
