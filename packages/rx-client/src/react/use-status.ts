import type { DurableClient, InstanceStatus } from '@durable-rx/runtime';
import { useInstanceState } from './use-instance-state.js';
import type { ObservableState } from './use-observable-state.js';

/**
 * The status of instance `instanceId`, live: the current snapshot, then every committed change (`client.status$`),
 * each rendered in a commit of its own, in order, however fast they arrive (a `Running` that is followed at once by
 * `Completed` is rendered too).
 * `value` is `undefined` while loading or when no such instance exists (then `loading` is false). Pass
 * `undefined` as the id to watch nothing (not loading, from the first render on; no value). Works with a local client (`runtime.client`) and a
 * remote one (`createRemoteClient`).
 *
 * @example
 * ```ts
 * const { value: status, loading, error } = useStatus(client, id);
 * // error: e.g. RemoteError 'unauthorized'; loading: before the first snapshot; status?.runtimeStatus
 * ```
 */
export function useStatus(client: DurableClient, instanceId: string | undefined): ObservableState<InstanceStatus | undefined> {
  return useInstanceState(client, instanceId, (c, id) => c.status$(id), true);
}
