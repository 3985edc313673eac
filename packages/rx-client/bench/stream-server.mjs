// The server side of the stream benchmarks, in its own process so that its memory is measured alone: a runtime on
// MemoryStore behind createHttpHandler on 127.0.0.1. It prints its URL; `GET /__bench/memory` answers its memory
// after a garbage collection (run it with --expose-gc) and its open connections; `/__bench/start?id=&count=` starts a
// Ticker watched in-process, `/__bench/tick?id=&value=` raises a Tick and answers when the server saw it committed,
// `/__bench/committed?id=` lists [value, shared-clock time the server saw it committed] for every value so far.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Socket } from 'node:net';
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve } from '@durable-rx/runtime/node';
import { sharedClock as now } from './clock.mjs';

const KEY = process.env.BENCH_KEY ?? 'bench-key';

/** Sets each received Tick as its custom status, for as many ticks as its input says. */
function* Ticker(ctx) {
  const count = ctx.getInput();
  for (let i = 1; i <= count; i++) {
    const tick = yield ctx.waitForExternalEvent('Tick');
    ctx.setCustomStatus(tick);
  }
  return count;
}

const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { Ticker }, activities: {}, logger: silentLogger });
await runtime.start();
const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, maxStreams: 100_000, heartbeatMs: 60_000 });
// Bench instrument: when the server wrote a status value's bytes to the first and to the last socket (the node
// adapter writes each event with one Socket.write per connection), so the server's own
// fan-out time can be told apart from the client processes' time to read and parse.
// With `expect` (the number of connections), it also records the server's CPU time (user + system) from the tick
// request to the last of those writes: the commit plus the whole fan-out, whatever else the machine runs.
const writes = { first: 0, last: 0, count: 0, expect: 0, cpuStart: undefined, cpuMs: 0 };
const write = Socket.prototype.write;
Socket.prototype.write = function (chunk, ...rest) {
  if (chunk instanceof Uint8Array && chunk.length > 64) {
    const at = now();
    if (writes.count++ === 0) writes.first = at;
    writes.last = at;
    if (writes.count === writes.expect && writes.cpuStart) {
      const cpu = process.cpuUsage(writes.cpuStart);
      writes.cpuMs = (cpu.user + cpu.system) / 1000;
    }
  }
  return write.call(this, chunk, ...rest);
};
// BENCH_FANOUT_PROFILE=<file>: a V8 CPU profile from the first fan-out tick to SIGTERM (the rounds, not the set-up).
const profileFile = process.env.BENCH_FANOUT_PROFILE;
const profiler = profileFile ? new Session() : undefined;
profiler?.connect();
if (profiler) await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
if (profiler) await profiler.post('Profiler.enable');
let profiling = false;
/** instanceId -> (value -> shared-clock time at which the server's own customStatus$ saw it committed) */
const committed = new Map();
const waiters = new Map();
const bench = Object.assign(async (request) => {
  const url = new URL(request.url);
  if (url.pathname === '/__bench/memory') {
    globalThis.gc?.();
    globalThis.gc?.();
    const open = await new Promise((resolve) => server.server.getConnections((_, n) => resolve(n)));
    return Response.json({ ...process.memoryUsage(), open });
  }
  if (url.pathname === '/__bench/start') {
    // Starts a Ticker and watches its custom status in-process, before any remote subscriber, so the time recorded is
    // the commit's (the first notification), not after the fan-out.
    const id = url.searchParams.get('id');
    await runtime.client.startNew('Ticker', { instanceId: id, input: Number(url.searchParams.get('count')) });
    const times = new Map();
    committed.set(id, times);
    runtime.client.customStatus$(id).subscribe((value) => {
      times.set(value, now());
      waiters.get(`${id}:${value}`)?.();
    });
    return Response.json({ id });
  }
  if (url.pathname === '/__bench/committed') return Response.json([...committed.get(url.searchParams.get('id'))]);
  if (url.pathname === '/__bench/writes') return Response.json(writes);
  if (url.pathname === '/__bench/tick') {
    const id = url.searchParams.get('id');
    const value = Number(url.searchParams.get('value'));
    const seen = new Promise((resolve) => waiters.set(`${id}:${value}`, resolve));
    writes.count = 0;
    writes.expect = Number(url.searchParams.get('expect') ?? 0);
    writes.cpuMs = 0;
    writes.cpuStart = process.cpuUsage();
    if (profiler && writes.expect > 0 && !profiling) {
      profiling = true;
      await profiler.post('Profiler.start');
    }
    await runtime.client.raiseEvent(id, 'Tick', value);
    await seen;
    waiters.delete(`${id}:${value}`);
    return Response.json({ committedAt: committed.get(id).get(value) });
  }
  return handler(request);
}, { close: () => handler.close() });
// The latency benchmark raises its ticks over the IPC channel (`{ tick, ids }`) rather than over HTTP: nothing then
// travels back to the client process but the stream itself, so no response of the bench's own competes with the event.
process.on('message', (message) => {
  for (const id of message.ids) {
    runtime.client.raiseEvent(id, 'Tick', message.tick).catch((error) => {
      console.error(error);
      process.exit(1);
    });
  }
});
const server = await serve(bench, { port: 0 });
console.log(`listening ${server.url}`);
process.on('SIGTERM', async () => {
  if (profiling) writeFileSync(profileFile, JSON.stringify((await profiler.post('Profiler.stop')).profile));
  await server.close();
  await runtime.stop();
  process.exit(0);
});
