// The same app on KeyvalStore.
import { createRuntime } from '@durable-rx/runtime';
import { KeyvalStore } from '@durable-rx/store-indexeddb';

(globalThis as { app?: unknown }).app = createRuntime({ store: new KeyvalStore({ name: 'app' }), orchestrators: {} });
