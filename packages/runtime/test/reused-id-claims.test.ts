import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/index.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { ending } from './ending.js';
import { HandClock } from './hand-clock.js';
import { within } from './within.js';

/** A few turns of the event loop: what a claim started now would need to reach the store. */
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe('a worker that reuses its id', () => {
  it('claims nothing while the leases of its earlier life are being released, though work is signalled meanwhile', async () => {
    const store = new FailingStore();
    const clock = new HandClock();
    const logger = new RecordingLogger();
    const runtime = createRuntime({
      store, clock, logger, workerId: 'w1',
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Echo', 'a'); } },
      activities: { Echo: (value: string) => value },
    });
    const releasing = store.hangNext('releaseOwner');
    await runtime.start();
    await within(releasing.called, 'the release being sent');
    let claimed = false;
    void store.calledNext('claimOrchestration').then(() => (claimed = true));
    // A start: the store signals work. A claim now would take a lease of `w1` that the release then takes away.
    const id = await runtime.client.startNew('Calls');
    await turns(10);
    expect(claimed).toBe(false);
    await within(releasing.release(), 'the release settling');
    const ended = ending(runtime.client, id);
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'a' });
    expect(logger.warnings.filter((message) => message.includes('lost'))).toEqual([]);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
  });
});
