// `npm run example`: the hello sequence in Node, on the embedded MemoryStore. Prints each custom status as the
// observable pushes it, then the output. (`npm start` shows the same sequence in the browser demo.)
import { createRuntime } from '@durable-rx/runtime';

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const runtime = createRuntime({
  orchestrators: {
    E1_HelloSequence: function* (ctx) {
      const outputs = [];
      outputs.push(yield ctx.callActivity('E1_SayHello', 'Tokyo'));
      ctx.setCustomStatus('Tokyo');
      outputs.push(yield ctx.callActivity('E1_SayHello', 'Seattle'));
      ctx.setCustomStatus('Seattle');
      outputs.push(yield ctx.callActivity('E1_SayHello', 'London'));
      ctx.setCustomStatus('London');
      return outputs;
    },
  },
  activities: {
    E1_SayHello: async (name) => {
      await delay(300); // visible progress
      return `Hello ${name}!`;
    },
  },
});

await runtime.start();
const id = await runtime.client.startNew('E1_HelloSequence');
console.log(`started ${id}`);
runtime.client.customStatus$(id).subscribe((status) => console.log('custom status:', status));
const done = await runtime.client.waitForCompletion(id, { timeoutMs: 10_000 });
console.log(`${done.runtimeStatus}:`, done.output);
await runtime.stop();
