import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/env/logger.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';

// A root that calls two children one after the other; each calls a grandchild of one fixed id (the root's id with
// `-g`), so the second child's call starts a new instance over the first one's finished grandchild.
const orchestrators: Record<string, Orchestrator> = {
  Root: function* (ctx) {
    yield ctx.callSubOrchestrator('Child', 'quick', `${ctx.instanceId}-a`);
    return yield ctx.callSubOrchestrator('Child', ctx.getInput(), `${ctx.instanceId}-b`);
  },
  Child: function* (ctx) {
    return yield ctx.callSubOrchestrator('Grandchild', ctx.getInput(), `${ctx.parentInstanceId}-g`);
  },
  Grandchild: function* (ctx) {
    return ctx.getInput() === 'wait' ? yield ctx.waitForExternalEvent('never') : 'done';
  },
};

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop({ graceMs: 0 })));
});

async function started(): Promise<Runtime> {
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators, logger: silentLogger });
  runtimes.push(runtime);
  await runtime.start();
  return runtime;
}

describe('purgeInstanceHistory with recursive', () => {
  it('deletes a sub-orchestration whose id an earlier member of the tree called too, under the member that holds it', async () => {
    const { client } = await started();
    await client.startNew('Root', { instanceId: 'twice', input: 'quick' });
    expect((await client.waitForCompletion('twice')).runtimeStatus).toBe('Completed');
    expect((await client.getStatus('twice-g'))?.parentInstanceId).toBe('twice-b');
    expect(await client.purgeInstanceHistory('twice', { recursive: true })).toEqual({ instancesDeleted: 4 });
    for (const id of ['twice', 'twice-a', 'twice-b', 'twice-g']) expect(await client.getStatus(id)).toBeUndefined();
  });

  it('refuses (409, nothing deleted) while such a sub-orchestration still runs', async () => {
    const { client } = await started();
    await client.startNew('Root', { instanceId: 'busy', input: 'wait' });
    await firstValueFrom(client.status$('busy-g').pipe(filter((s) => s?.runtimeStatus === 'Running' && s.parentInstanceId === 'busy-b')));
    // The terminated child's failure answers the root's call, which fails the root.
    await client.terminate('busy-b', 'stop');
    expect((await client.waitForCompletion('busy')).runtimeStatus).toBe('Failed');
    await expect(client.purgeInstanceHistory('busy', { recursive: true })).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
    for (const id of ['busy', 'busy-a', 'busy-b']) expect(await client.getStatus(id)).toBeDefined();
    expect((await client.getStatus('busy-g'))?.runtimeStatus).toBe('Running');
  });
});

describe('purgeInstanceHistory with recursive, racing a start', () => {
  it('leaves alone an instance started over a member\'s id after the tree was read', async () => {
    // The first deletion (the deepest member's) first starts and ends an instance of the next member's id, as another
    // caller could while the purge runs.
    let before: (() => Promise<void>) | undefined;
    class Racing extends MemoryStore {
      override async purgeInstance(instanceId: string): Promise<number> {
        const run = before;
        before = undefined;
        if (run) await run();
        return super.purgeInstance(instanceId);
      }
    }
    const runtime = createRuntime({ store: new Racing(), orchestrators, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    const { client } = runtime;
    await client.startNew('Root', { instanceId: 'race', input: 'quick' });
    expect((await client.waitForCompletion('race')).runtimeStatus).toBe('Completed');
    before = async () => {
      await client.startNew('Grandchild', { instanceId: 'race-b', input: 'wait' });
      await client.terminate('race-b', 'not the tree\'s');
    };
    // Deepest first: race-g, then race-b (now another instance), race-a, race.
    expect(await client.purgeInstanceHistory('race', { recursive: true })).toEqual({ instancesDeleted: 3 });
    expect(await client.getStatus('race-b')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not the tree\'s' });
    for (const id of ['race', 'race-a', 'race-g']) expect(await client.getStatus(id)).toBeUndefined();
  });
});
