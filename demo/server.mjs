// `npm run serve -w demo`: the demo's orchestrations and activities on a server, for the page's remote mode.
//
// A runtime on a MemoryStore (instances last until the server stops) behind the HTTP management API and its
// Server-Sent Event streams (`createHttpHandler`), served on 127.0.0.1. The orchestrations are the page's own:
// `tsc -p tsconfig.server.json` compiles src/orchestrations/ to dist-server/ first (the serve and test scripts do).
// Open the printed URL, or the demo with `?server=<this server's origin>&key=<key>`.
//
//   PORT                 default 7071 (0: any free port)
//   DURABLE_RX_KEY       the access key (default: a random one, printed below)
//   DURABLE_RX_CORS      comma-separated origins the page may be served from
//                        (default: http://127.0.0.1:4173 for `npm start`, http://127.0.0.1:5173 for `npm run dev`)
//   DEMO_LOG_REQUESTS=1  print each request's method and path (never its query, which may hold the key)
import { createRuntime, MemoryStore } from '@durable-rx/runtime';
import { createHttpHandler, KeyVerifier } from '@durable-rx/runtime/http';
import { serve } from '@durable-rx/runtime/node';
import { ACTIVITY_DELAY_MS, createDemoActivities } from './dist-server/demo-activities.js';
import { demoOrchestrators } from './dist-server/demo-orchestrators.js';
import { SERVER_PAYMENT_SWITCH_PATH } from './dist-server/payment-switch.js';

const keyFromEnv = process.env.DURABLE_RX_KEY;
const key = keyFromEnv || crypto.randomUUID();
const corsSetting = process.env.DURABLE_RX_CORS ?? 'http://127.0.0.1:4173,http://127.0.0.1:5173';
const origins = corsSetting.split(',').map((o) => o.trim()).filter(Boolean);
const logRequests = process.env.DEMO_LOG_REQUESTS === '1';

// In the page, the payment switch lives in localStorage; here `ChargeCard` reads this flag, which the page sets
// through SERVER_PAYMENT_SWITCH_PATH.
const paymentService = { isUp: false };

const runtime = createRuntime({
  store: new MemoryStore(),
  orchestrators: demoOrchestrators,
  activities: createDemoActivities({ delayMs: ACTIVITY_DELAY_MS, paymentSwitch: paymentService }),
});
const api = createHttpHandler(runtime.client, { key, ...(origins.length > 0 ? { cors: { origins } } : {}) });
const verifier = new KeyVerifier([key]);

/** `GET` → `{ up }`; `PUT { up }` sets the flag. Same key and CORS origins as the API. */
async function paymentSwitchRoute(request) {
  const origin = request.headers.get('origin');
  const cors = { vary: 'Origin', ...(origin !== null && origins.includes(origin) ? { 'access-control-allow-origin': origin } : {}) };
  if (request.method === 'OPTIONS') {
    return new Response(null, {
      status: 204,
      headers: {
        ...cors,
        'access-control-allow-methods': 'GET, PUT, OPTIONS',
        'access-control-allow-headers': 'Authorization, Content-Type',
        'access-control-max-age': '600',
      },
    });
  }
  const answer = (status, body, headers = {}) => Response.json(body, { status, headers: { ...cors, ...headers } });
  const presented = /^Bearer +(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  if (!(await verifier.verify(presented))) {
    return answer(401, { code: 'unauthorized', message: 'A valid key is required (Authorization: Bearer <key>)' });
  }
  if (request.method === 'PUT') {
    const body = await request.json().catch(() => undefined);
    if (typeof body?.up !== 'boolean') return answer(400, { code: 'bad-request', message: 'Send {"up":true} or {"up":false}' });
    paymentService.isUp = body.up;
  } else if (request.method !== 'GET') {
    return answer(405, { code: 'method-not-allowed', message: `${request.method} is not allowed here` }, { allow: 'GET, PUT' });
  }
  return answer(200, { up: paymentService.isUp });
}

const handler = Object.assign(
  (request) => {
    const { pathname } = new URL(request.url);
    if (logRequests) console.log(`${request.method} ${pathname}`);
    return pathname === SERVER_PAYMENT_SWITCH_PATH ? paymentSwitchRoute(request) : api(request);
  },
  { close: () => api.close() },
);

await runtime.start();
const server = await serve(handler, { port: Number(process.env.PORT ?? 7071), hostname: '127.0.0.1' });

console.log(`durable-rx demo server on ${server.url} (MemoryStore: instances last until it stops)`);
console.log(`key: ${keyFromEnv ? '(from DURABLE_RX_KEY)' : key}`);
console.log(`pages allowed to call it (CORS): ${origins.join(', ') || 'none'}`);
if (origins.length > 0) {
  const page = new URL(`${origins[0]}/`);
  page.search = new URLSearchParams({ server: server.url, ...(keyFromEnv ? {} : { key }) }).toString();
  const keyHint = keyFromEnv ? '&key=<DURABLE_RX_KEY>' : '';
  console.log(`open the demo watching it (serve the page with \`npm start\`): ${page.href}${keyHint}`);
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  await runtime.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
