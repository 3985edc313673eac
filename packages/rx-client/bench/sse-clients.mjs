// One client process of the fan-out and connection benchmarks: opens N stream sessions (one connection each, raw
// node:http, one status subscription to the same instance) against the bench server, then reports, for each custom
// status value the instance commits, the times (on the clock the bench processes share, clock.mjs) at which each
// connection received it.
//
// argv: <webhook base url> <key> <instanceId> <connections>
// stdout: "ready <open>" once every session has its first status; then, for each value every connection received,
// one JSON line { value, arrivals: [ms, ...] }. Exits when stdin closes.
import http from 'node:http';
import { sharedClock as now } from './clock.mjs';

const [base, key, instanceId, countArg] = process.argv.slice(2);
const count = Number(countArg);
const url = new URL(base);
const auth = { authorization: `Bearer ${key}` };
const posts = new http.Agent({ keepAlive: true, maxSockets: 16 });
const streams = new http.Agent({ keepAlive: false, maxSockets: Infinity });
/** value -> arrival times */
const arrivals = new Map();
const CUSTOM = /"customStatus":(\d+)/g;

function request(method, path, headers, body, agent) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: `${url.pathname}${path}`, headers, agent }, resolve);
    req.once('error', reject);
    req.end(body);
  });
}

async function openSession() {
  const response = await request('GET', '/streams', { ...auth, accept: 'text/event-stream' }, undefined, streams);
  if (response.statusCode !== 200) throw new Error(`session refused: ${response.statusCode}`);
  response.setEncoding('utf8');
  let buffered = '';
  let session;
  let sawStatus;
  const firstStatus = new Promise((resolve) => (sawStatus = resolve));
  const gotSession = new Promise((resolve, reject) => {
    response.on('data', (chunk) => {
      const at = now();
      if (session === undefined) {
        buffered += chunk;
        const m = /"session":"([^"]+)"/.exec(buffered);
        if (m) {
          session = m[1];
          resolve(session);
        }
        return;
      }
      if (sawStatus && chunk.includes('event: status')) {
        sawStatus();
        sawStatus = undefined;
      }
      for (const m of chunk.matchAll(CUSTOM)) {
        const value = Number(m[1]);
        let list = arrivals.get(value);
        if (!list) arrivals.set(value, (list = []));
        list.push(at);
        if (list.length === open) {
          console.log(JSON.stringify({ value, arrivals: list }));
          arrivals.delete(value);
        }
      }
    });
    response.once('error', reject);
    response.once('end', () => reject(new Error('session ended')));
  });
  await gotSession;
  const body = JSON.stringify({ subscribe: [{ sub: 'a', kind: 'status', instanceId }] });
  // A kept-alive socket the server closed meanwhile resets the request: send it again on a fresh one.
  const post = () => request('POST', `/streams/${session}/subscriptions`, { ...auth, 'content-type': 'application/json' }, body, posts);
  const answer = await post().catch(post).catch(post);
  answer.resume();
  if (answer.statusCode !== 200) throw new Error(`subscribe refused: ${answer.statusCode}`);
  await firstStatus;
}

let open = 0;
const BATCH = 100;
for (let i = 0; i < count; i += BATCH) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push(openSession().then(() => open++));
  await Promise.all(batch);
}
posts.destroy();
console.log(`ready ${open}`);

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
