import { describe, expect, it } from 'vitest';
import type { LeaseStorage, Logger } from '../src/index.js';
import { LeaseSuccession } from '../src/worker/lease-succession.js';
import { within } from './within.js';

/** A Web-Storage-like map, as sessionStorage is to a tab. */
function mapStorage(): LeaseStorage {
  const map = new Map<string, string>();
  return { getItem: (key) => map.get(key) ?? null, setItem: (key, value) => void map.set(key, value) };
}

function recordingLogger(): Logger & { readonly errors: string[] } {
  const errors: string[] = [];
  return { errors, warn: () => undefined, error: (message: string) => void errors.push(message) };
}

describe('LeaseSuccession', () => {
  it('lets a reused id claim all the same when its locks throw instead of rejecting: claims are never held back for ever', async () => {
    const logger = recordingLogger();
    const released: string[] = [];
    const succession = new LeaseSuccession({
      releaseOwner: async (id) => void released.push(id), logger, owner: 'tab-1', ownerReused: true, storage: mapStorage(),
      locks: { request: () => { throw new Error('injected: request threw'); } },
    });
    // Before, `begin` rejected (the worker's claims waited on it for ever, the rejection unhandled).
    await expect(within(succession.begin(), 'the succession\'s begin')).resolves.toBeUndefined();
    expect(logger.errors).toEqual([expect.stringContaining('holding the lock of worker tab-1 failed')]);
    // Without its lock the life cannot tell its earlier lives from a live twin: their leases expire in their own time.
    expect(released).toEqual([]);
    succession.end(true);
  });
});
