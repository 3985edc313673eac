// `npm run bench -w @durable-rx/rx-client`: the remote client's streams, measured over real HTTP on 127.0.0.1.
//
// 1. commit -> remote customStatus$ latency, p50/p99, with 1 subscription and with 100 subscriptions sharing the
//    client's one connection. The commit time is when the server's own (in-process) customStatus$ sees the value,
//    which is microseconds after the store commits; the arrival time is when the remote observable, in the same
//    process, emits it. Both on one performance.now() clock.
// 2. Concurrent stream sessions one server process holds, and its memory per session: the server runs in a child
//    process (node --expose-gc); N sessions are opened (one status subscription each) and the server's heap and RSS
//    are compared with those before.
//
// Options: --quick (fewer samples and sessions). Writes bench-results.json beside package.json.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve } from '@durable-rx/runtime/node';
import { filter, firstValueFrom, skip } from 'rxjs';
import { createRemoteClient } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const KEY = 'bench-key';

function* Ticker(ctx) {
  const count = ctx.getInput();
  for (let i = 1; i <= count; i++) ctx.setCustomStatus(yield ctx.waitForExternalEvent('Tick'));
  return count;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Latency of `rounds` rounds; each round raises one Tick on each of `subscriptions` instances at once. */
async function latency(subscriptions, rounds) {
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { Ticker }, activities: {}, logger: silentLogger });
  await runtime.start();
  const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger });
  const server = await serve(handler, { port: 0 });
  const client = createRemoteClient({ baseUrl: server.url, key: KEY });
  const local = runtime.client;
  const ids = Array.from({ length: subscriptions }, (_, i) => `lat-${i}`);
  const committedAt = new Map();
  const samples = [];
  const waiters = new Map();
  const subs = [];
  const warmup = Math.min(20, Math.floor(rounds / 5));
  for (const id of ids) {
    // Every round raises one Tick: the instance must still be waiting for the last one.
    await local.startNew('Ticker', { instanceId: id, input: warmup + rounds });
    subs.push(local.customStatus$(id).subscribe((v) => committedAt.set(`${id}:${v}`, performance.now())));
    subs.push(client.customStatus$(id).subscribe((v) => {
      const key = `${id}:${v}`;
      const at = committedAt.get(key);
      if (at !== undefined && v !== undefined) samples.push(performance.now() - at);
      waiters.get(key)?.();
    }));
  }
  await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'live')));
  for (const id of ids) await firstValueFrom(local.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
  for (let round = 1; round <= rounds + warmup; round++) {
    const arrived = ids.map((id) => new Promise((resolve) => waiters.set(`${id}:${round}`, resolve)));
    if (round === warmup + 1) samples.length = 0;
    await Promise.all(ids.map((id) => local.raiseEvent(id, 'Tick', round)));
    await Promise.all(arrived);
  }
  for (const s of subs) s.unsubscribe();
  await server.close();
  await runtime.stop();
  samples.sort((a, b) => a - b);
  return { subscriptions, samples: samples.length, p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99) };
}

/** Opens `count` sessions against a server in a child process; returns its memory per session. */
async function sessions(levels) {
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(new URL('./stream-server.mjs', import.meta.url))], {
    env: { ...process.env, BENCH_KEY: KEY }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('exit', () => reject(new Error('the bench server exited')));
  });
  const memory = async () => (await fetch(`${url}/__bench/memory`)).json();
  const base = `${url}/runtime/webhooks/durabletask`;
  const auth = { authorization: `Bearer ${KEY}` };
  const before = await memory();
  const open = [];
  const rows = [];
  for (const level of levels) {
    while (open.length < level) {
      const batch = [];
      for (let i = 0; i < 200 && open.length + batch.length < level; i++) batch.push(openSession(base, auth, `s-${open.length + batch.length}`));
      open.push(...(await Promise.all(batch)));
    }
    const now = await memory();
    console.log(`  ${level} sessions open`);
    rows.push({
      sessions: level, open: now.open,
      heapPerSessionKiB: (now.heapUsed - before.heapUsed) / level / 1024,
      rssPerSessionKiB: (now.rss - before.rss) / level / 1024,
      serverRssMiB: now.rss / 1024 / 1024,
    });
  }
  for (const session of open) session.controller.abort();
  child.kill('SIGTERM');
  return rows;
}

/** One stream session with one status subscription, read until its first status event. */
async function openSession(base, auth, instanceId) {
  const controller = new AbortController();
  const response = await fetch(`${base}/streams`, { headers: { ...auth, accept: 'text/event-stream' }, signal: controller.signal });
  if (!response.ok) throw new Error(`session refused: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const until = async (pattern) => {
    while (!pattern.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error('session ended');
      text += value;
    }
  };
  await until(/"session":"([^"]+)"/);
  const session = /"session":"([^"]+)"/.exec(text)[1];
  const answer = await fetch(`${base}/streams/${session}/subscriptions`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ subscribe: [{ sub: 'a', kind: 'status', instanceId }] }),
  });
  if (!answer.ok) throw new Error(`subscribe refused: ${answer.status}`);
  await until(/event: status/);
  // Keep reading (and discarding) so the connection stays healthy.
  void (async () => {
    try {
      for (;;) if ((await reader.read()).done) return;
    } catch {
      // aborted at the end
    }
  })();
  return { controller };
}

const started = performance.now();
const rounds = quick ? 50 : 200;
const f = (n) => n.toFixed(2);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const one = only === 'sessions' ? undefined : await latency(1, rounds);
if (one) console.log(`  1 subscription: p50 ${f(one.p50Ms)} ms, p99 ${f(one.p99Ms)} ms`);
const hundred = only === 'sessions' ? undefined : await latency(100, quick ? 10 : 30);
if (hundred) console.log(`  100 subscriptions: p50 ${f(hundred.p50Ms)} ms, p99 ${f(hundred.p99Ms)} ms`);
const held = only === 'latency' ? [] : await sessions(quick ? [200, 1000] : [1000, 2000]);
const results = { date: new Date().toISOString(), quick, latency: [one, hundred].filter(Boolean), sessions: held };
console.log('commit -> remote customStatus$ (one connection)');
for (const r of results.latency) console.log(`  ${String(r.subscriptions).padStart(3)} subscription(s): p50 ${f(r.p50Ms)} ms, p99 ${f(r.p99Ms)} ms (${r.samples} samples)`);
console.log('stream sessions held by one server process (one status subscription each)');
for (const r of held) {
  console.log(`  ${r.sessions} sessions (${r.open} open): heap ${f(r.heapPerSessionKiB)} KiB/session, RSS ${f(r.rssPerSessionKiB)} KiB/session, server RSS ${f(r.serverRssMiB)} MiB`);
}
writeFileSync(new URL('../bench-results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
