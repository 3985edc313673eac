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

const keyLine = `${process.env.DURABLE_RX_KEY ? 'export KEY="$DURABLE_RX_KEY"' : `export KEY=${key}`} API=${api}`;
const auth = '-H "Authorization: Bearer $KEY"';
const json = `${auth} -H "Content-Type: application/json"`;
console.log(`durable-rx HTTP API on ${api}`);
console.log(`key: ${process.env.DURABLE_RX_KEY ? '(from DURABLE_RX_KEY)' : `${key} (random; set DURABLE_RX_KEY to choose one)`}`);
console.log(`
Try it from another shell. First set KEY (the key the commands send) and API:
  ${keyLine}

The four orchestrations it runs (a start answers 202 with the instance id and its management URLs):
  E1_HelloSequence: three activities, custom status Tokyo, Seattle, London
    curl -si -X POST ${auth} $API/orchestrators/E1_HelloSequence
  CityRecommender: input 1, 2 or 3 picks the recommendations; then waits for the event CitySelected
    curl -si -X POST ${json} -d 1 $API/orchestrators/CityRecommender/city-1
    curl -si -X POST ${json} -d '"Tokyo"' $API/instances/city-1/raiseEvent/CitySelected
  ReserveTicket: input a user id; the discount appears as custom status; then waits for BookingConfirmed
    curl -si -X POST ${json} -d '"user-42"' $API/orchestrators/ReserveTicket/ticket-1
    curl -si -X POST ${json} -d true $API/instances/ticket-1/raiseEvent/BookingConfirmed
  SetStatusTest: sets a custom status, then waits for the event Proceed
    curl -si -X POST ${auth} $API/orchestrators/SetStatusTest/status-1
    curl -si -X POST ${auth} $API/instances/status-1/raiseEvent/Proceed

Watch and list (status pushed as Server-Sent Events; Ctrl-C ends the stream):
  curl -sN ${auth} $API/instances/ticket-1/stream
  curl -s ${auth} "$API/instances?runtimeStatus=Completed"
`);

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
