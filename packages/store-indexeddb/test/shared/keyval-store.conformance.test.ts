import { describeStoreConformance } from '@durable-rx/runtime/testing';
import { KeyvalStore } from '../../src/keyval-store.js';

// See dexie-store.conformance.test.ts for the prefix.
describeStoreConformance('KeyvalStore', (name) => new KeyvalStore({ name: `keyval:${name}` }), { shared: true, frozenInput: true });
