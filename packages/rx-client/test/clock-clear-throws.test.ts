import { VirtualClock } from '@durable-rx/runtime/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, type Harness } from './harness.js';

/** A virtual clock that cannot clear a timer (a custom clock gone wrong). */
class ClockThatCannotClear extends VirtualClock {
  override clearTimeout(): void {
    throw new Error('injected: this clock cannot clear a timer');
  }
}

let harness: Harness;

beforeEach(async () => {
  harness = await openHarness();
  await harness.runtime.client.startNew('WaitForEvents', { instanceId: 'running', input: 1 });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await harness.close();
});

describe('a remote client whose clock cannot clear a timer', () => {
  it('resolves a command the server applied, reporting the clear once, and the deadline it let go of does nothing', async () => {
    const reports = vi.spyOn(console, 'error').mockImplementation(() => {});
    const clock = new ClockThatCannotClear();
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock, timeoutMs: 60_000 });
    try {
      // Before, the request's deadline was cleared in its `finally` by the clock itself: its error rejected the command.
      await expect(client.raiseEvent('running', 'Ping', 1)).resolves.toBeUndefined();
      expect(reports.mock.calls.filter(([message]) => String(message).includes('failed to clear a timer'))).toHaveLength(1);
      // The deadline the clock kept fires into nothing: the next command is not cut short, nor reported timed out.
      await clock.advance(60_000);
      await expect(client.raiseEvent('running', 'Ping', 2)).resolves.toBeUndefined();
    } finally {
      client.close();
    }
  });
});
