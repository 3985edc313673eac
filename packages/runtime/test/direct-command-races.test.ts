import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createClient, createRuntime, MemoryStore, silentLogger, type Orchestrator } from '../src/index.js';
import type { CommitResult } from '../src/store/store.js';
import type { WriteSet } from '../src/model/write-set.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { within } from './within.js';

/** A MemoryStore that lists the commands queued as messages (terminate, suspend, resume: not committed directly). */
class CommandsQueued extends MemoryStore {
  readonly queued: string[] = [];
  override async commit(writeSet: WriteSet): Promise<CommitResult> {
    const result = await super.commit(writeSet);
    for (const request of writeSet.requests) {
      if (request.type === 'insertMessage' && !writeSet.lease && request.message.event.type.startsWith('Execution')) {
        this.queued.push(request.message.event.type);
      }
    }
    return result;
  }
}

const awaitGo: Orchestrator = function* (ctx) {
  return yield ctx.waitForExternalEvent('go');
};

describe('direct commands of several clients with no worker', () => {
  it('commit concurrent suspends and resumes of one instance directly, none left queued for a worker', async () => {
    const store = new CommandsQueued();
    const runtime = createRuntime({ store, orchestrators: { AwaitGo: awaitGo }, activities: {}, logger: silentLogger });
    await runtime.start();
    await runtime.client.startNew('AwaitGo', { instanceId: 'a' });
    await within(firstValueFrom(runtime.client.status$('a').pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the first step');
    await runtime.stop();
    // A clock that never moves: a call that waited for a worker (COMMAND_APPLIED_TIMEOUT_MS) would never settle.
    const clock = new VirtualClock();
    const clients = Array.from({ length: 4 }, () => createClient({ store, clock }));
    await within(Promise.all(clients.map((client, i) => (i % 2 === 0 ? client.suspend('a', `s${i}`) : client.resume('a', `r${i}`)))), 'the racing commands');
    expect(store.queued).toEqual([]);
    // So a later command of one of them needs no worker either.
    const status = (await clients[0]!.getStatus('a'))!.runtimeStatus;
    await within(status === 'Suspended' ? clients[0]!.resume('a') : clients[0]!.suspend('a'), 'the later command');
    expect((await clients[0]!.getStatus('a'))!.runtimeStatus).toBe(status === 'Suspended' ? 'Running' : 'Suspended');
    expect(store.queued).toEqual([]);
  });
});
