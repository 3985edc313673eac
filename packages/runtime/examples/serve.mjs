// `npm run serve -w @durable-rx/runtime`: the HTTP management API (plus SSE status streams) on 127.0.0.1, in front
// of a runtime that runs the hello sequence on the embedded MemoryStore.
//
//   DURABLE_RX_KEY        the access key (default: a random one, printed below)
//   PORT                  default 7071
//   DURABLE_RX_CORS       comma-separated origins allowed to call from a browser, e.g. http://127.0.0.1:5173
import { createRuntime } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve } from '@durable-rx/runtime/node';
import { sampleActivities, sampleOrchestrators, sayHello } from '@durable-rx/runtime/samples';

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const runtime = createRuntime({
  orchestrators: sampleOrchestrators,
  activities: {
    ...sampleActivities,
    E1_SayHello: async (name) => {
      await delay(500); // visible progress
      return sayHello(name);
    },
  },
});

const key = process.env.DURABLE_RX_KEY || crypto.randomUUID();
const origins = (process.env.DURABLE_RX_CORS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
const handler = createHttpHandler(runtime.client, { key, ...(origins.length > 0 ? { cors: { origins } } : {}) });

await runtime.start();
const server = await serve(handler, { port: Number(process.env.PORT ?? 7071), hostname: '127.0.0.1' });
const api = `${server.url}/runtime/webhooks/durabletask`;

console.log(`durable-rx HTTP API on ${api}`);
console.log(`key: ${process.env.DURABLE_RX_KEY ? '(from DURABLE_RX_KEY)' : key}`);
console.log('try:');
console.log(`  curl -si -X POST -H "Authorization: Bearer $KEY" ${api}/orchestrators/E1_HelloSequence`);
console.log(`  curl -sN -H "Authorization: Bearer $KEY" ${api}/instances/<id>/stream`);
console.log(`  curl -s -H "Authorization: Bearer $KEY" "${api}/instances?runtimeStatus=Completed"`);

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
