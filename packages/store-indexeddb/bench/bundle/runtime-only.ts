// Baseline app: the runtime with its in-memory store.
import { createRuntime, MemoryStore } from '@durable-rx/runtime';

(globalThis as { app?: unknown }).app = createRuntime({ store: new MemoryStore(), orchestrators: {} });
