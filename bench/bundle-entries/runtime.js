// An app that runs orchestrations in the page on the in-memory store and shows the custom status.
import { createRuntime, MemoryStore } from '@durable-rx/runtime';
import { hello } from './shared.js';

const runtime = createRuntime({ store: new MemoryStore(), ...hello });
await runtime.start();
const id = await runtime.client.startNew('E1_HelloSequence');
runtime.client.customStatus$(id).subscribe((s) => document.body.append(String(s)));
