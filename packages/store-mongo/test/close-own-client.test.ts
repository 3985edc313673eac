import { VirtualClock } from '@durable-rx/runtime/testing';
import { describe, expect, it } from 'vitest';
import { CLIENT_CLOSE_WAIT_MS, closeOwnClient } from '../src/close-own-client.js';

/** A client whose close settles when the test says (as the driver's, waiting a server selection for an abort). */
function heldClient() {
  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const closing = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  let calls = 0;
  return { client: { close: () => (calls++, closing) }, settle, calls: () => calls };
}

describe('closeOwnClient (MongoStore.close on a client of its own)', () => {
  it('returns once the client closed and the transaction ends left over settled, its timer cleared', async () => {
    const clock = new VirtualClock();
    const held = heldClient();
    let ended!: () => void;
    const unanswered = new Promise<void>((resolve) => (ended = resolve));
    let done: string | undefined;
    const closing = closeOwnClient(held.client, () => [unanswered], clock).then((outcome) => (done = outcome));
    held.settle.resolve();
    await clock.advance(1);
    expect(done).toBeUndefined(); // the abort the store stopped waiting for has not settled yet
    ended();
    await expect(closing).resolves.toBe('closed');
    expect(held.calls()).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops waiting after its bound when the driver waits a server selection to abort a transaction, without an unhandled failure', async () => {
    const clock = new VirtualClock();
    const held = heldClient();
    let done: string | undefined;
    const closing = closeOwnClient(held.client, () => [], clock).then((outcome) => (done = outcome));
    await clock.advance(CLIENT_CLOSE_WAIT_MS - 1);
    expect(done).toBeUndefined();
    await clock.advance(1);
    await expect(closing).resolves.toBe('late');
    // The driver's close fails later (its server selection timed out): caught, nothing unhandled.
    held.settle.reject(new Error('Server selection timed out after 30000 ms'));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(clock.pendingTimers).toBe(0);
  });

  it("throws the client's close failure when it fails in time", async () => {
    const clock = new VirtualClock();
    const held = heldClient();
    const closing = closeOwnClient(held.client, () => [], clock);
    held.settle.reject(new Error('close failed'));
    await expect(closing).rejects.toThrow('close failed');
  });
});
