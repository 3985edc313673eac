import { map, type Observable } from 'rxjs';
import type { InstanceStatus } from '../model/instance-status.js';
import type { DurableClient } from './durable-client.js';
import { LocalClient } from './local-client.js';

/** A status with the commit version of its snapshot (see `InstanceState.version`; 0 for no instance), when known. */
export interface VersionedStatus {
  readonly status: InstanceStatus | undefined;
  /** The snapshot's commit version; `undefined` from a client that does not tell it. */
  readonly version?: number | undefined;
}

/**
 * The statuses of instance `instanceId` as `client.status$` emits them, each with its commit version when the client
 * tells it (the local client), else without: what the HTTP API's status streams send, so that a reader that comes back
 * in a new stream knows whether it missed commits (`statusChangesMissed`). Only a client whose `status$` is the local client's
 * own tells versions: a wrapper or a subclass that puts a `status$` of its own in front of the local client's (to
 * filter, to count) is read through it, without versions.
 *
 * @example
 * ```ts
 * versionedStatus$(client, id).subscribe(({ status, version }) => console.log(status?.runtimeStatus, version));
 * ```
 */
export function versionedStatus$(client: DurableClient, instanceId: string): Observable<VersionedStatus> {
  // The local client's own `status$`, not the class's: a subclass that overrides it is a wrapper too.
  return client instanceof LocalClient && client.status$ === LocalClient.prototype.status$
    ? client.versionedStatus$(instanceId)
    : client.status$(instanceId).pipe(map((status) => ({ status })));
}
