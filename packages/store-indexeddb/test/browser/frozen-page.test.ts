import { VirtualClock } from '@durable-rx/runtime/testing';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { changeChannelName } from '../../src/idb-store.js';
import { ChangeFeed } from '../../src/internal/change-feed.js';
import { newInstance, uniqueName } from '../shared/fixtures.js';

// A frozen page (Chromium freezes background tabs) still receives BroadcastChannel messages while none of its
// IndexedDB callbacks runs: a worker woken then starts claims whose transactions cannot end, and another tab's claims
// wait for them until Chromium aborts them (60 s). The page's `freeze` and `resume` events are dispatched here by hand.

/** A feed on `name` that posts every commit (its lock requests are refused: no presence, so no peer to wait for). */
function feedOn(name: string): ChangeFeed {
  const refused = () => Promise.reject(new DOMException('refused', 'SecurityError'));
  return new ChangeFeed({
    channelName: changeChannelName(name), gapTimeoutMs: 1000, joinTimeoutMs: 600_000, clock: new VirtualClock(),
    locks: { request: refused, query: () => navigator.locks.query() } as unknown as LockManager,
  });
}

describe('the change feed of a frozen page', () => {
  it('holds the work signals other tabs post until the page resumes, then gives one', async () => {
    const name = uniqueName('frozen-page');
    const here = feedOn(name);
    const there = feedOn(name);
    let signals = 0;
    here.workAvailable$.subscribe(() => signals++);
    try {
      await Promise.all([here.joined, there.joined]);
      document.dispatchEvent(new Event('freeze'));
      const delivered = firstValueFrom(here.changes$);
      there.publish([{ instanceId: 'x', after: 0, state: newInstance('x').state }], true);
      expect((await delivered).instanceId).toBe('x'); // the changes come (they start no transaction), with the signal
      expect(signals).toBe(0);
      document.dispatchEvent(new Event('resume'));
      expect(signals).toBe(1);
      there.publish([], true);
      await firstValueFrom(here.workAvailable$);
      expect(signals).toBe(2);
    } finally {
      document.dispatchEvent(new Event('resume'));
      here.close();
      there.close();
    }
  });
});
