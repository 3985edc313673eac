/**
 * `@durable-rx/rx-client/react`: React hooks over any `DurableClient` — a local one (`runtime.client`, e.g. on
 * IndexedDB in the page) or a remote one (`createRemoteClient`). Built on `useSyncExternalStore`; each hook returns
 * `{ value, loading, error }`; after a transient error (`isRetryableForHooks`) a hook subscribes again by itself, with
 * backoff. `useStatus` and `useCustomStatus` render every value, in order, however fast they arrive; the others the
 * latest. React (18 or later) is an optional peer dependency of `@durable-rx/rx-client`: only
 * this entry imports it.
 *
 * @packageDocumentation
 */
export { useObservableState, type ObservableState } from './use-observable-state.js';
export { useStatus } from './use-status.js';
export { useCustomStatus } from './use-custom-status.js';
export { useInstances } from './use-instances.js';
export { useHistory } from './use-history.js';
