import { StoreClosedError } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, outcome, within, type Harness } from './harness.js';

/**
 * Many commands on their way at once (a page that loads a list of rows, a script that starts a batch): each is
 * answered, nothing warns of a leak, and a close() in the middle settles every one with StoreClosedError and leaves no
 * timer.
 */

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
});

/** The warnings Node emits while `run` runs (and the turn after it, where they are emitted). */
async function warningsDuring(run: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe('many requests at once', () => {
  it('answers 50 commands on their way together without a warning of a leaked listener', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const warnings = await warningsDuring(async () => {
      const statuses = await within(Promise.all(Array.from({ length: 50 }, (_, i) => client.getStatus(`none-${i}`))), 'the answers');
      expect(statuses).toEqual(Array(50).fill(undefined));
    });
    expect(warnings).toEqual([]);
    client.close();
  });

  it('settles 50 commands on their way with StoreClosedError when closed, and leaves no timer', async () => {
    const h = (harness = await openHarness());
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, clock });
    h.holdRequests('-held'); // the server never answers them
    const warnings = await warningsDuring(async () => {
      const pending = Array.from({ length: 50 }, (_, i) => outcome(client.getStatus(`${i}-held`)));
      // Closed once the server has every one of them.
      await within(new Promise<void>((resolve) => {
        const poll = (): unknown => h.requests.filter((r) => r.path.endsWith('-held')).length < 50 ? setTimeout(poll, 10) : resolve();
        poll();
      }), 'the server receiving the commands');
      client.close();
      const outcomes = await within(Promise.all(pending), 'every command settled');
      for (const error of outcomes) expect(error).toBeInstanceOf(StoreClosedError);
    });
    expect(warnings).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });
});
