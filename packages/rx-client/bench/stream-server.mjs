// The server side of the stream benchmarks, in its own process so that its memory is measured alone: a runtime on
// MemoryStore behind createHttpHandler on 127.0.0.1. It prints its URL; `GET /__bench/memory` answers its memory
// after a garbage collection (run it with --expose-gc), `GET /__bench/sessions` the open streaming connections.
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve } from '@durable-rx/runtime/node';

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
let open = 0;
const counting = Object.assign(async (request) => {
  const path = new URL(request.url).pathname;
  if (path === '/__bench/memory') {
    globalThis.gc?.();
    globalThis.gc?.();
    return Response.json({ ...process.memoryUsage(), open });
  }
  const response = await handler(request);
  if (request.method === 'GET' && path.endsWith('/streams') && response.ok && response.body) {
    open++;
    const [mine, theirs] = response.body.tee();
    const done = () => open--;
    void mine.pipeTo(new WritableStream(), { signal: request.signal }).then(done, done);
    return new Response(theirs, response);
  }
  return response;
}, { close: () => handler.close() });
const server = await serve(counting, { port: 0 });
console.log(`listening ${server.url}`);
process.on('SIGTERM', async () => {
  await server.close();
  await runtime.stop();
  process.exit(0);
});
