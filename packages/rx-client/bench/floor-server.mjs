// The write floor of the fan-out benchmark: a bare node:http server, no durable-rx, that speaks just enough of the
// stream protocol for sse-clients.mjs (a `session` event on `GET …/streams`, one status event after
// `POST …/streams/{session}/subscriptions`) and, on `/__bench/tick?value=&expect=`, writes ONE pre-serialised,
// pre-framed buffer (the HTTP/1.1 chunk of a status event of the same shape and size as durable-rx sends) to every
// open stream socket in one synchronous loop of `socket.write`. No store, no commit, no per-connection framing, no
// spreading over turns of the event loop: what is left is Node's socket write and the kernel's loopback delivery,
// i.e. the least any server in this language pays on this machine to put one event on N sockets.
// Same bench endpoints as stream-server.mjs: `/__bench/start`, `/__bench/tick`, `/__bench/writes`, `/__bench/memory`.
import http from 'node:http';
import { sharedClock as now } from './clock.mjs';

/** session id -> response of its open stream */
const streams = new Map();
const writes = { first: 0, last: 0, count: 0, expect: 0, cpuMs: 0 };
let current = 0;
const created = new Date().toISOString();

/** A status event as durable-rx frames it for a session subscription (same fields, a fixed session id). */
function statusEvent(value, seq) {
  const status = {
    name: 'Ticker', instanceId: 'fan', runtimeStatus: 'Running', input: 70, customStatus: value, output: null,
    createdTime: created, lastUpdatedTime: new Date().toISOString(),
  };
  return `event: status\nid: 00000000-0000-4000-8000-000000000000.${seq}\ndata: {"sub":"a","data":${JSON.stringify(status)}}\n\n`;
}

/** {@link statusEvent} framed as one HTTP/1.1 chunk, in one buffer. */
function statusChunk(value, seq) {
  const event = statusEvent(value, seq);
  return Buffer.from(`${Buffer.byteLength(event).toString(16)}\r\n${event}\r\n`, 'utf8');
}

let sessions = 0;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/__bench/memory') {
    globalThis.gc?.();
    server.getConnections((_, open) => res.end(JSON.stringify({ ...process.memoryUsage(), open })));
    return;
  }
  if (url.pathname === '/__bench/start') return res.end(JSON.stringify({ id: url.searchParams.get('id') }));
  if (url.pathname === '/__bench/writes') return res.end(JSON.stringify(writes));
  if (url.pathname === '/__bench/tick') {
    const cpuStart = process.cpuUsage();
    current = Number(url.searchParams.get('value'));
    writes.expect = Number(url.searchParams.get('expect') ?? 0);
    const committedAt = now();
    const chunk = statusChunk(current, current + 1);
    writes.count = 0;
    for (const stream of streams.values()) {
      stream.socket.write(chunk);
      const at = now();
      if (writes.count++ === 0) writes.first = at;
      writes.last = at;
    }
    const cpu = process.cpuUsage(cpuStart);
    writes.cpuMs = (cpu.user + cpu.system) / 1000;
    return res.end(JSON.stringify({ committedAt }));
  }
  if (req.method === 'GET' && url.pathname.endsWith('/streams')) {
    const session = `floor-${++sessions}`;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`retry: 1000\n\nevent: session\nid: ${session}.0\ndata: {"session":"${session}"}\n\n`);
    streams.set(session, res);
    res.once('close', () => streams.delete(session));
    return;
  }
  const subscribe = /\/streams\/([^/]+)\/subscriptions$/.exec(url.pathname);
  if (req.method === 'POST' && subscribe) {
    req.resume();
    req.once('end', () => {
      res.end('{}');
      streams.get(subscribe[1])?.write(statusEvent(current, 1)); // through the response, which frames it
    });
    return;
  }
  res.statusCode = 404;
  res.end();
});
server.listen(0, '127.0.0.1', () => console.log(`listening http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
