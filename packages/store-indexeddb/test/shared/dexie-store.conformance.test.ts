import { describeStoreConformance } from '@durable-rx/runtime/testing';
import { DexieStore } from '../../src/dexie-store.js';

// The dependencies are passed explicitly (fake-indexeddb's globals in Node, the browser's in Chromium) to exercise
// the injection path. The prefix keeps this suite's databases apart from KeyvalStore's: in Chromium both files run
// at once in one origin, and the suite's names (Date.now() and a per-file counter) can coincide.
describeStoreConformance('DexieStore', (name) => new DexieStore({ name: `dexie:${name}`, indexedDB, IDBKeyRange }), { shared: true, frozenInput: true });
