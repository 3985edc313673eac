import { createClient, type StartIfExists } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { adapters, claim, uniqueName, type AdapterName } from './fixtures.js';

// A start of an id another handle (another tab) holds: KeyvalStore's handle writes an id it has not met without
// reading it first, and the database's refusal of that write makes the start run again reading the instance. Whatever
// the handle knew, the start follows `ifExists` as over an instance it had read, and a refused one writes nothing.
describe.each(Object.keys(adapters) as AdapterName[])('%s: a start of an id another handle holds', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  async function twoHandles() {
    const name = uniqueName('taken-id');
    const holder = adapters[adapter](name);
    const starter = adapters[adapter](name);
    opened.push(holder, starter);
    const first = createClient({ store: holder });
    await first.startNew('Orch', { instanceId: 'x', input: 'first' });
    return { holder, starter, first, second: createClient({ store: starter }) };
  }

  it.each(['overwrite', 'fail', 'useExisting'] as const)("over an active instance, with ifExists '%s': refused or kept, nothing written", async (ifExists: StartIfExists) => {
    const { holder, starter, first, second } = await twoHandles();
    const before = await holder.getInstance('x');
    const started = second.startNew('Orch', { instanceId: 'x', input: 'second', ifExists });
    if (ifExists === 'useExisting') expect(await started).toBe('x');
    else await expect(started).rejects.toMatchObject({ code: 'instance-already-exists' });
    // Delayed, the same.
    const delayed = second.startNew('Orch', { instanceId: 'x', input: 'third', ifExists, startAt: new Date(Date.now() + 3_600_000) });
    if (ifExists === 'useExisting') expect(await delayed).toBe('x');
    else await expect(delayed).rejects.toMatchObject({ code: 'instance-already-exists' });
    expect(await starter.getInstance('x')).toEqual(before);
    expect((await first.getStatus('x', { showInput: true }))?.input).toBe('first');
    expect((await claim(starter)).messages.map((m) => (m.event as { input?: unknown }).input)).toEqual(['first']);
  });

  it.each(['overwrite', 'fail', 'useExisting'] as const)("over a terminal instance, with ifExists '%s'", async (ifExists: StartIfExists) => {
    const { holder, starter, first, second } = await twoHandles();
    await first.terminate('x', 'done');
    const ended = await holder.getInstance('x');
    expect(ended?.runtimeStatus).toBe('Terminated');
    const started = second.startNew('Orch', { instanceId: 'x', input: 'second', ifExists });
    if (ifExists === 'fail') await expect(started).rejects.toMatchObject({ code: 'instance-already-exists' });
    else expect(await started).toBe('x');
    if (ifExists === 'overwrite') {
      // Replaced: a new execution after the old one, its history gone, its start the one message to claim.
      const state = await holder.getInstance('x');
      expect(state).toMatchObject({ runtimeStatus: 'Pending', input: 'second', version: ended!.version + 1 });
      expect(state?.executionId).not.toBe(ended?.executionId);
      expect(await holder.getHistory('x')).toEqual([]);
      expect((await claim(holder)).messages.map((m) => (m.event as { input?: unknown }).input)).toEqual(['second']);
    } else {
      expect(await starter.getInstance('x')).toEqual(ended);
      expect((await holder.getHistory('x')).length).toBeGreaterThan(0);
      const left = await holder.claimOrchestration({ owner: 'test', leaseMs: 30_000, now: new Date() });
      expect(left?.messages.map((m) => (m.event as { input?: unknown }).input) ?? []).not.toContain('second');
    }
  });
});
