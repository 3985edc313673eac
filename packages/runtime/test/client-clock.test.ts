import { describe, expect, it } from 'vitest';
import { createClient, createRuntime, MemoryStore, systemClock, type Clock } from '../src/index.js';
import { helloSequence, sayHello } from '../src/testing/samples.js';

describe('a client whose clock returns an Invalid Date', () => {
  it('refuses every command with invalid-argument and writes nothing (no terminate ahead of a queued event)', async () => {
    let broken = false;
    const clock: Clock = { ...systemClock, now: () => (broken ? new Date(NaN) : systemClock.now()) };
    const store = new MemoryStore();
    const client = createClient({ store, clock });
    await client.startNew('HelloSequence', { instanceId: 'queued' });
    await client.raiseEvent('queued', 'go', 1);
    await client.startNew('HelloSequence', { instanceId: 'alone' });
    const before = await Promise.all(['queued', 'alone'].map((id) => store.getInstance(id)));
    broken = true;
    for (const id of ['queued', 'alone']) {
      // An Invalid Date as the unclaimed write's time saw no message as visible: the terminate went ahead of the event.
      await expect(client.terminate(id, 'stop')).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(client.suspend(id, 'pause')).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(client.resume(id, 'go on')).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(client.raiseEvent(id, 'go', 2)).rejects.toMatchObject({ code: 'invalid-argument' });
    }
    await expect(client.startNew('HelloSequence', { instanceId: 'new' })).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(await Promise.all(['queued', 'alone'].map((id) => store.getInstance(id)))).toEqual(before);
    expect(await store.getInstance('new')).toBeUndefined();
    expect(await store.getHistory('queued')).toEqual([]);
    const work = await store.claimOrchestration({ owner: 'w1', leaseMs: 1000, now: systemClock.now() });
    const queued = work?.state.instanceId === 'queued' ? work : await store.claimOrchestration({ owner: 'w1', leaseMs: 1000, now: systemClock.now() });
    expect(queued?.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
  });
});

describe('a worker whose clock returns an Invalid Date', () => {
  it('logs each failed claim round as invalid-argument and claims nothing, instead of finding no work in silence', async () => {
    const store = new MemoryStore();
    const id = await createClient({ store }).startNew('E1_HelloSequence');
    const errors: unknown[] = [];
    let logged!: () => void;
    const firstError = new Promise<void>((resolve) => (logged = resolve));
    const runtime = createRuntime({
      store, clock: { ...systemClock, now: () => new Date(NaN) },
      logger: { warn: () => {}, error: (_message, error) => { errors.push(error); logged(); } },
      orchestrators: { E1_HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello },
    });
    await runtime.start();
    try {
      // Before, the claims went out with the Invalid Date: no message was visible to them, and nothing was logged.
      await firstError;
      expect(errors[0]).toMatchObject({ code: 'invalid-argument', message: expect.stringContaining("worker's clock") });
      expect(await store.getInstance(id)).toMatchObject({ runtimeStatus: 'Pending' });
    } finally {
      await runtime.stop();
      await store.close();
    }
  });
});
