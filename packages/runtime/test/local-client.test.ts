import { describeClientConformance } from '../src/testing/index.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { withoutInstanceHistory } from './without-instance-history.js';

const local = async (runtime: { client: import('../src/index.js').DurableClient }) => ({ client: runtime.client, close: async () => {} });

describeClientConformance('local client', local);

// A store without the optional `getInstanceHistory` (an adapter may leave it out): the client reads the state again
// once a history has answered, and the suite's late history reads go through that path.
describeClientConformance('local client on a store without getInstanceHistory', local, { createStore: () => withoutInstanceHistory(new MemoryStore()) });
