import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { LocalClient } from '../src/client/local-client.js';
import { versionedStatus$ } from '../src/client/versioned-status.js';
import type { InstanceStatus } from '../src/model/instance-status.js';
import { MemoryStore } from '../src/store/memory-store.js';

/** A local client subclass whose `status$` shows only the statuses of running instances (none for the others). */
class RunningOnly extends LocalClient {
  override status$(instanceId: string) {
    return super.status$(instanceId).pipe(filter((status): status is InstanceStatus | undefined => status?.runtimeStatus !== 'Pending'));
  }
}

describe('versionedStatus$', () => {
  it('tells the commit version of each status of the local client', async () => {
    const client = createClient({ store: new MemoryStore() });
    await client.startNew('Anything', { instanceId: 'a' });
    expect(await firstValueFrom(versionedStatus$(client, 'a'))).toMatchObject({ status: { runtimeStatus: 'Pending' }, version: 1 });
    client.close();
  });

  it('reads a subclass that overrides status$ through its own status$, without versions', async () => {
    const client = createClient({ store: new MemoryStore() });
    Object.setPrototypeOf(client, RunningOnly.prototype);
    await client.startNew('Anything', { instanceId: 'a' });
    const first = firstValueFrom(versionedStatus$(client, 'a'));
    await client.terminate('a', 'done');
    const got = await first;
    expect(got.status?.runtimeStatus).toBe('Terminated');
    expect(got.version).toBeUndefined();
    client.close();
  });
});
