// The same app on DexieStore.
import { createRuntime } from '@durable-rx/runtime';
import { DexieStore } from '@durable-rx/store-indexeddb';

(globalThis as { app?: unknown }).app = createRuntime({ store: new DexieStore({ name: 'app' }), orchestrators: {} });
