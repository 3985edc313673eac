// The same app on IndexedDB through KeyvalStore (idb-keyval).
import { createRuntime } from '@durable-rx/runtime/core'; // requires a store: no MemoryStore in the bundle
import { KeyvalStore } from '@durable-rx/store-indexeddb';
import { hello } from './shared.js';

const runtime = createRuntime({ store: new KeyvalStore({ name: 'bench' }), ...hello });
await runtime.start();
const id = await runtime.client.startNew('E1_HelloSequence');
runtime.client.customStatus$(id).subscribe((s) => document.body.append(String(s)));
