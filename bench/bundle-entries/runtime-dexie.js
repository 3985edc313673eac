// The same app on IndexedDB through DexieStore.
import { createRuntime } from '@durable-rx/runtime/core'; // requires a store: no MemoryStore in the bundle
import { DexieStore } from '@durable-rx/store-indexeddb';
import { hello } from './shared.js';

const runtime = createRuntime({ store: new DexieStore({ name: 'bench' }), ...hello });
await runtime.start();
const id = await runtime.client.startNew('E1_HelloSequence');
runtime.client.customStatus$(id).subscribe((s) => document.body.append(String(s)));
