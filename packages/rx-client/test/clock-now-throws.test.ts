import type { InstanceStatus } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom, type Subscription } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, recordInto, within, type Harness } from './harness.js';

/** A virtual clock whose `now()` throws (a custom clock gone wrong); its timers still work. */
class ClockThatGivesNoTime extends VirtualClock {
  override now(): Date {
    throw new Error('injected: this clock gives no time');
  }
}

let harness: Harness;
const subscriptions: Subscription[] = [];
const record = recordInto(subscriptions);

beforeEach(async () => {
  harness = await openHarness();
});

afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  vi.restoreAllMocks();
  await harness.close();
});

describe('a remote client whose clock throws as it is read', () => {
  it('goes live and watches all the same, reporting the clock once', async () => {
    const reports = vi.spyOn(console, 'error').mockImplementation(() => {});
    const clock = new ClockThatGivesNoTime();
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock });
    try {
      const remote = record<InstanceStatus | undefined>(client.status$('watched'));
      // Before, the reading threw as the stream's `session` event came: every attempt failed, and the end of the
      // first threw out of the connection's loop (unhandled), which never reconnected.
      await within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'live'))), 'the stream live');
      await within(remote.seen((s) => s === undefined), 'the first status');
      await harness.runtime.client.startNew('WaitForEvents', { instanceId: 'watched', input: 1 });
      await within(remote.seen((s) => s?.runtimeStatus === 'Running'), 'the status of the started instance');
      expect(reports.mock.calls.filter(([message]) => String(message).includes('gave no time'))).toHaveLength(1);
    } finally {
      client.close();
    }
  });
});
