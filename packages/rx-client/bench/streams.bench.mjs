// `npm run bench -w @durable-rx/rx-client`: the remote client's streams, measured over real HTTP on 127.0.0.1.
//
// 1. commit -> remote customStatus$ latency, p50/p99, with 1 subscription (2,000 rounds after 200 of warm-up) and
//    with 100 subscriptions sharing the client's one connection. The server runs in a child process
//    (stream-server.mjs), the remote client in this one, as a UI and its server do: each side has its own heap, so a
//    collection of the server's runtime no longer lands inside a client's sample (nor the client's inside the
//    server's commit), and the two can run on two cores. Each round raises one Tick over the IPC channel; the commit
//    time is when the server's own customStatus$ sees the value (microseconds after the store commits), the arrival
//    time when the remote observable emits it, on the clock the processes share.
// 2. Fan-out and memory per connection: the server runs alone in a child process (stream-server.mjs, node
//    --expose-gc); client processes (sse-clients.mjs, up to 5,000 raw node:http connections each) open stream
//    sessions with one status subscription each, all to one instance. At 5,000 connections each round commits one
//    custom status and records when the server wrote it to the first and the last socket and when the first and the
//    last connection received it (clock shared by the processes). At each level (1,000, 5,000, 19,900) the
//    server's heap and RSS after a GC are compared with those before any connection. 19,900, not 20,000: the hard
//    limit on open files per process here is 20,000 and cannot be raised without CAP_SYS_RESOURCE.
//
// Options: --quick (fewer samples and connections), --only=latency|connections. Writes bench-results.json beside
// package.json.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { filter, firstValueFrom } from 'rxjs';
import { createRemoteClient } from '../dist/index.js';
import { sharedClock as clock } from './clock.mjs';

const quick = process.argv.includes('--quick');
const KEY = 'bench-key';


function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * Latency of `rounds` rounds after `warmup` more; each round raises one Tick on each of `subscriptions` instances at
 * once. The server runs in its own process (stream-server.mjs), as it does for a real UI, so the two sides have their
 * own heaps and collections and can run on two cores; this process only runs the remote client. The tick goes to the
 * server over the IPC channel, so the stream is the only traffic that comes back. The commit time is when the
 * server's own customStatus$ sees the value (microseconds after the store commits), the arrival time when the remote
 * observable emits it, both on the clock the processes share (clock.mjs: the monotonic clock; two processes
 * here agree within a few microseconds).
 */
async function latency(subscriptions, rounds, warmup) {
  const { child, url } = await startServer();
  try {
    const get = async (path) => (await fetch(`${url}${path}`)).json();
    const client = createRemoteClient({ baseUrl: url, key: KEY });
    const ids = Array.from({ length: subscriptions }, (_, i) => `lat-${i}`);
    const arrivals = new Map();
    const waiters = new Map();
    const subs = [];
    for (const id of ids) {
      // Every round raises one Tick: the instance must still be waiting for the last one.
      await get(`/__bench/start?id=${id}&count=${warmup + rounds}`);
      subs.push(client.customStatus$(id).subscribe((v) => {
        const key = `${id}:${v}`;
        arrivals.set(key, clock());
        waiters.get(key)?.();
      }));
    }
    await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'live')));
    for (const id of ids) await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    for (let round = 1; round <= warmup + rounds; round++) {
      const arrived = ids.map((id) => new Promise((resolve) => waiters.set(`${id}:${round}`, resolve)));
      child.send({ tick: round, ids });
      await Promise.all(arrived);
    }
    for (const s of subs) s.unsubscribe();
    const samples = [];
    for (const id of ids) {
      for (const [value, committedAt] of await get(`/__bench/committed?id=${id}`)) {
        if (typeof value === 'number' && value > warmup) samples.push(arrivals.get(`${id}:${value}`) - committedAt);
      }
    }
    samples.sort((a, b) => a - b);
    return {
      subscriptions, samples: samples.length,
      p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), p999Ms: percentile(samples, 0.999), maxMs: samples.at(-1),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

/**
 * Starts a bench server in a child process with --expose-gc (`stream-server.mjs`, durable-rx; `floor-server.mjs`, the
 * bare write floor); resolves with its URL. `--profile-server=<dir>` writes a V8 CPU profile of each server there.
 */
async function startServer(script = fileURLToPath(new URL('./stream-server.mjs', import.meta.url))) {
  const profile = process.argv.find((a) => a.startsWith('--profile-server='))?.slice(17);
  const flags = ['--expose-gc', ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [])];
  const child = spawn(process.execPath, [...flags, script], {
    env: { ...process.env, BENCH_KEY: KEY }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('exit', () => reject(new Error('the bench server exited')));
  });
  return { child, url };
}

/**
 * A client process (sse-clients.mjs) holding `count` stream sessions, each subscribed to `instanceId`. Resolves once
 * all are open; `arrivals(value)` resolves with the shared-clock times at which its connections received `value`.
 */
async function startClients(base, instanceId, count) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./sse-clients.mjs', import.meta.url)), base, KEY, instanceId, String(count)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stop = () => child.stdin.end();
  const received = new Map();
  const waiting = new Map();
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^ready (\d+)/.exec(line);
      if (m) return resolve(Number(m[1]));
      const report = JSON.parse(line);
      received.set(report.value, report.arrivals);
      waiting.get(report.value)?.(report.arrivals);
    });
    child.once('exit', (code) => reject(new Error(`a client process exited (${code})`)));
  });
  const open = await ready.catch((error) => {
    stop();
    throw error;
  });
  return {
    open,
    arrivals: (value) => (received.has(value) ? Promise.resolve(received.get(value)) : new Promise((resolve) => waiting.set(value, resolve))),
    stop,
  };
}

/**
 * Fan-out and memory per connection. One instance; connections (stream sessions, one status subscription each, raw
 * node:http clients in `procs` processes) are opened up to each level. At `fanOutAt` connections, `rounds` commits
 * are timed: from the server seeing the commit (its own customStatus$, subscribed first) to the first and the last
 * connection receiving it (clock shared by the processes). The write floor (floor-server.mjs, a bare node:http
 * server writing one shared buffer to as many sockets of the same kind of clients) is timed in the same rounds,
 * interleaved (durable-rx, floor, durable-rx, floor …), then stopped. At every level the server's heap and RSS after
 * a GC are compared with those before any connection.
 */
async function connections(plan) {
  const server = await startServer();
  const clients = [];
  try {
    return await measure(server.url, clients, plan);
  } finally {
    for (const c of clients) c.stop();
    server.child.kill('SIGTERM');
  }
}

/** Opens client processes of up to `perProcess` connections to `base` until `clients` hold `level`. */
async function openUpTo(base, id, clients, open, level, perProcess) {
  while (open < level) {
    const n = Math.min(perProcess, level - open);
    const batch = await startClients(base, id, n);
    if (batch.open !== n) throw new Error(`only ${batch.open} of ${n} connections opened`);
    clients.push(batch);
    open += n;
  }
  return open;
}

/** One fan-out target: a server URL, its client processes, its connection count and the values committed so far. */
function target(url, clients, open) {
  return { url, clients, open, value: 0, samples: [], get: async (path) => (await fetch(`${url}${path}`)).json() };
}

/** Commits one value on `t` and records when its server wrote it and when the clients received it. */
async function fanOutRound(t, id) {
  const value = ++t.value;
  const arrived = t.clients.map((c) => c.arrivals(value));
  const { committedAt } = await t.get(`/__bench/tick?id=${id}&value=${value}&expect=${t.open}`);
  const times = (await Promise.all(arrived)).flat();
  const written = await t.get('/__bench/writes');
  t.samples.push({
    first: Math.min(...times) - committedAt, last: Math.max(...times) - committedAt, served: times.length,
    firstWrite: written.first - committedAt, lastWrite: written.last - committedAt, writes: written.count, cpu: written.cpuMs,
  });
}

/** Medians and ranges of a target's rounds. */
function fanOutSummary(t) {
  const samples = t.samples;
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const spread = (xs) => [Math.min(...xs), Math.max(...xs)];
  return {
    subscribers: t.open, rounds: samples.length,
    firstMs: median(samples.map((s) => s.first)), firstRangeMs: spread(samples.map((s) => s.first)),
    lastMs: median(samples.map((s) => s.last)), lastRangeMs: spread(samples.map((s) => s.last)),
    firstWriteMs: median(samples.map((s) => s.firstWrite)), lastWriteMs: median(samples.map((s) => s.lastWrite)),
    lastWriteRangeMs: spread(samples.map((s) => s.lastWrite)), writesPerRound: median(samples.map((s) => s.writes)),
    serverCpuMs: median(samples.map((s) => s.cpu)), serverCpuPerConnectionUs: (median(samples.map((s) => s.cpu)) * 1000) / t.open,
    servedEveryRound: samples.every((s) => s.served === t.open),
  };
}

/**
 * The durable-rx fan-out and the write floor at `open` connections each, `rounds` rounds interleaved. With
 * `BENCH_BASELINE_SERVER=<path of another stream-server.mjs>` (e.g. one beside a copy of an older build), that server
 * is measured in the same rounds too, as a third contender.
 */
async function fanOutAgainstFloor(ours, id, rounds, perProcess) {
  const servers = [];
  const allClients = [];
  try {
    const contender = async (script, start) => {
      const server = await startServer(script);
      servers.push(server);
      const clients = [];
      allClients.push(clients);
      if (start) await (await fetch(`${server.url}/__bench/start?id=${id}&count=${rounds * 2 + 10}`)).json();
      return target(server.url, clients, await openUpTo(`${server.url}/runtime/webhooks/durabletask`, id, clients, 0, ours.open, perProcess));
    };
    const floor = await contender(fileURLToPath(new URL('./floor-server.mjs', import.meta.url)), false);
    const baselineScript = process.env.BENCH_BASELINE_SERVER;
    const baseline = baselineScript ? await contender(baselineScript, true) : undefined;
    for (let round = 0; round < rounds; round++) {
      for (const t of [ours, floor, baseline]) if (t) await fanOutRound(t, id);
    }
    return { fanOut: fanOutSummary(ours), floor: fanOutSummary(floor), ...(baseline ? { baseline: fanOutSummary(baseline) } : {}) };
  } finally {
    for (const clients of allClients) for (const c of clients) c.stop();
    for (const server of servers) server.child.kill('SIGTERM');
  }
}

async function measure(url, clients, { levels, fanOutAt, rounds, perProcess }) {
  const base = `${url}/runtime/webhooks/durabletask`;
  const get = async (path) => (await fetch(`${url}${path}`)).json();
  const id = 'fan';
  await get(`/__bench/start?id=${id}&count=${rounds * 2 + 10}`);
  const before = await get('/__bench/memory');
  let open = 0;
  const memory = [];
  let fanOut;
  let floor;
  let baseline;
  for (const level of [...new Set([fanOutAt, ...levels])].sort((a, b) => a - b)) {
    open = await openUpTo(base, id, clients, open, level, perProcess);
    if (level === fanOutAt) {
      ({ fanOut, floor, baseline } = await fanOutAgainstFloor(target(url, clients, open), id, rounds, perProcess));
      console.log(`  fan-out to ${open}: written ${fanOut.firstWriteMs.toFixed(2)}-${fanOut.lastWriteMs.toFixed(2)} ms, received ${fanOut.firstMs.toFixed(2)}-${fanOut.lastMs.toFixed(2)} ms after the commit (medians of ${rounds})`);
      console.log(`  write floor to ${open}: written ${floor.firstWriteMs.toFixed(2)}-${floor.lastWriteMs.toFixed(2)} ms, received ${floor.firstMs.toFixed(2)}-${floor.lastMs.toFixed(2)} ms`);
      if (baseline) console.log(`  baseline server to ${open}: written ${baseline.firstWriteMs.toFixed(2)}-${baseline.lastWriteMs.toFixed(2)} ms, received ${baseline.firstMs.toFixed(2)}-${baseline.lastMs.toFixed(2)} ms, CPU ${baseline.serverCpuPerConnectionUs.toFixed(2)} µs/connection`);
    }
    if (levels.includes(level)) {
      const now = await get('/__bench/memory');
      const row = {
        connections: level, open: now.open,
        heapPerConnectionKiB: (now.heapUsed - before.heapUsed) / level / 1024,
        rssPerConnectionKiB: (now.rss - before.rss) / level / 1024,
        serverRssMiB: now.rss / 1024 / 1024,
      };
      memory.push(row);
      console.log(`  ${level} connections: heap ${row.heapPerConnectionKiB.toFixed(2)} KiB/connection`);
    }
  }
  return { fanOut, floor, baseline, memory };
}

const started = performance.now();
const f = (n) => n.toFixed(2);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const one = only === 'connections' || only === 'fanout' ? undefined : await latency(1, quick ? 300 : 2000, quick ? 50 : 200);
if (one) console.log(`  1 subscription: p50 ${f(one.p50Ms)} ms, p99 ${f(one.p99Ms)} ms`);
const hundred = only === 'connections' || only === 'fanout' ? undefined : await latency(100, quick ? 10 : 30, 5);
if (hundred) console.log(`  100 subscriptions: p50 ${f(hundred.p50Ms)} ms, p99 ${f(hundred.p99Ms)} ms`);
// 19,900 rather than 20,000: the container's hard limit on open files is 20,000 per process (it cannot be raised
// without CAP_SYS_RESOURCE), and the server needs a few for itself.
const held = only === 'latency'
  ? undefined
  : await connections(only === 'fanout'
    ? { levels: [5000], fanOutAt: 5000, rounds: quick ? 10 : 30, perProcess: 5000 }
    : quick
    ? { levels: [1000, 5000], fanOutAt: 5000, rounds: 10, perProcess: 2500 }
    : { levels: [1000, 5000, 19_900], fanOutAt: 5000, rounds: 30, perProcess: 5000 });
const results = { date: new Date().toISOString(), quick, latency: [one, hundred].filter(Boolean), fanOut: held?.fanOut, floor: held?.floor, ...(held?.baseline ? { baseline: held.baseline } : {}), connections: held?.memory ?? [] };
console.log('commit -> remote customStatus$ (one connection)');
for (const r of results.latency) {
  console.log(`  ${String(r.subscriptions).padStart(3)} subscription(s): p50 ${f(r.p50Ms)} ms, p99 ${f(r.p99Ms)} ms, p99.9 ${f(r.p999Ms)} ms, max ${f(r.maxMs)} ms (${r.samples} samples)`);
}
if (results.fanOut) {
  const o = results.fanOut;
  console.log(`one commit fanned out to ${o.subscribers} connections, after the commit, median (range) of ${o.rounds}; every connection every value: ${o.servedEveryRound}`);
  console.log(`  server wrote it to the first socket ${f(o.firstWriteMs)} ms, to the last ${f(o.lastWriteMs)} ms (${o.lastWriteRangeMs.map(f).join('-')}) (${o.writesPerRound} writes)`);
  console.log(`  server CPU for the commit and the whole fan-out ${f(o.serverCpuMs)} ms: ${f(o.serverCpuPerConnectionUs)} µs per connection`);
  console.log(`  client processes received it first ${f(o.firstMs)} ms (${o.firstRangeMs.map(f).join('-')}), all ${f(o.lastMs)} ms (${o.lastRangeMs.map(f).join('-')})`);
}
if (results.floor) {
  const o = results.floor;
  const share = results.fanOut ? ` (durable-rx: ${(o.lastWriteMs / results.fanOut.lastWriteMs * 100).toFixed(0)} % of the floor's speed for the last write, ${(o.lastMs / results.fanOut.lastMs * 100).toFixed(0)} % for the last arrival)` : '';
  console.log(`write floor: one shared buffer written to ${o.subscribers} sockets by a bare node:http server, interleaved with the rounds above${share}`);
  console.log(`  wrote the first socket ${f(o.firstWriteMs)} ms, the last ${f(o.lastWriteMs)} ms (${o.lastWriteRangeMs.map(f).join('-')}); CPU ${f(o.serverCpuMs)} ms, ${f(o.serverCpuPerConnectionUs)} µs per connection`);
  console.log(`  client processes received it first ${f(o.firstMs)} ms (${o.firstRangeMs.map(f).join('-')}), all ${f(o.lastMs)} ms (${o.lastRangeMs.map(f).join('-')})`);
}
console.log('connections held by one server process (a stream session with one status subscription each)');
for (const r of results.connections) {
  console.log(`  ${r.connections} connections (${r.open} open sockets): heap ${f(r.heapPerConnectionKiB)} KiB/connection, RSS ${f(r.rssPerConnectionKiB)} KiB/connection, server RSS ${f(r.serverRssMiB)} MiB`);
}
writeFileSync(new URL('../bench-results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
