import type { Store } from '../src/store/store.js';

/** `store` as an adapter without the optional `getInstanceHistory` would be: every other member its own. */
export function withoutInstanceHistory(store: Store): Store {
  return new Proxy(store, {
    get: (target, key) => {
      if (key === 'getInstanceHistory') return undefined;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
