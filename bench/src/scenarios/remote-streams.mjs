/**
 * Scenario 5: the remote client's streams over real HTTP on 127.0.0.1, measured by the rx-client package's own
 * bench (`packages/rx-client/bench/streams.bench.mjs`) in a child process, so its server and sockets cannot disturb
 * the other scenarios. Figures: commit -> remote `customStatus$` p50/p99 (server and client in two processes) with 1
 * and 100 subscriptions on one connection; one commit fanned out to 5,000 connections (server writes and client
 * arrivals), interleaved with a bare node:http server writing the same event (the write floor); and the connections one server process holds (up to 19,900) with its heap per connection.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../packages/rx-client/bench/streams.bench.mjs', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../../packages/rx-client/bench-results.json', import.meta.url));

/**
 * @param {{ quick: boolean }} options
 * @returns {Promise<{ latency: { subscriptions: number, samples: number, p50Ms: number, p99Ms: number, p999Ms: number, maxMs: number }[],
 *   fanOut?: { subscribers: number, rounds: number, firstMs: number, lastMs: number, firstRangeMs: number[], lastRangeMs: number[],
 *     firstWriteMs: number, lastWriteMs: number, lastWriteRangeMs: number[], writesPerRound: number, servedEveryRound: boolean,
 *     serverCpuMs?: number, serverCpuPerConnectionUs: number },
 *   floor?: { subscribers: number, rounds: number, firstMs: number, lastMs: number, firstWriteMs: number, lastWriteMs: number,
 *     serverCpuMs: number, serverCpuPerConnectionUs: number },
 *   connections: { connections: number, open: number, heapPerConnectionKiB: number, rssPerConnectionKiB: number, serverRssMiB: number }[] }>}
 */
export async function runRemoteStreams({ quick }) {
  const args = ['--expose-gc', SCRIPT, ...(quick ? ['--quick'] : [])];
  const code = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal));
  });
  if (code !== 0) throw new Error(`packages/rx-client/bench/streams.bench.mjs exited with ${code}`);
  return JSON.parse(readFileSync(RESULTS, 'utf8'));
}
