import { describeClientConformance } from '@durable-rx/runtime/testing';
import { DexieStore } from '../../src/dexie-store.js';
import { KeyvalStore } from '../../src/keyval-store.js';

// The DurableClient suite (every command, observable and bad input of the client) on runtimes over each IndexedDB
// store, so a client behaves the same whichever store it runs on. Node only (fake-indexeddb): the store suite already
// proves the adapters in real Chromium, and this suite exercises the client on top of them.
const local = async (runtime: { client: import('@durable-rx/runtime').DurableClient }) => ({ client: runtime.client, close: async () => {} });
describeClientConformance('local client on DexieStore', local, { createStore: (name) => new DexieStore({ name }) });
describeClientConformance('local client on KeyvalStore', local, { createStore: (name) => new KeyvalStore({ name }) });
