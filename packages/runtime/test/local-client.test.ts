import { describeClientConformance } from '../src/testing/index.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';

const local = async (runtime: { client: import('../src/index.js').DurableClient }) => ({ client: runtime.client, close: async () => {} });

describeClientConformance('local client', local);

// A store without the optional `getInstanceHistory` (an adapter may leave it out): the client reads the state again
// once a history has answered, and the suite's late history reads go through that path.
describeClientConformance('local client on a store without getInstanceHistory', local, { createStore: () => withoutInstanceHistory(new MemoryStore()) });

/** `store` as an adapter without `getInstanceHistory` would be: every other member its own. */
function withoutInstanceHistory(store: Store): Store {
  return new Proxy(store, {
    get: (target, key) => {
      if (key === 'getInstanceHistory') return undefined;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
