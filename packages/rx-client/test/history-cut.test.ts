import { createRuntime, MemoryStore, silentLogger, type HistoryEvent, type Orchestrator } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve } from '@durable-rx/runtime/node';
import { SETTLED } from '../../../test-support/settled.js';
import { describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, ownedByEachTest, within } from './harness.js';

const { record, cleanups } = ownedByEachTest();
const orchestrators: Record<string, Orchestrator> = {
  /** Waits for Go, then continues as new through generations 2..last without waiting. */
  Gen: function* (ctx) {
    const { n, last } = ctx.getInput() as { n: number; last: number };
    if (n === 1) yield ctx.waitForExternalEvent('Go');
    yield ctx.callActivity('Ok', n);
    ctx.setCustomStatus(n);
    if (n >= last) return n;
    ctx.continueAsNew({ n: n + 1, last });
    return undefined;
  },
};

describe('a stream the server cut', () => {
  // The session wrote on into the destroyed socket until Node told of its close, and each of those lost events took a
  // place in the session's resume log (then 256 events): the resume then failed, a new session began, and the history of
  // 38 executions committed meanwhile never arrived (2 executions of 40).
  it('resumes its session, and history$ delivers every continueAsNew execution written meanwhile', async () => {
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities: { Ok: (x: unknown) => x }, logger: silentLogger });
    await runtime.start();
    const server = await serve(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, reconnectDelayMs: 10 }), { port: 0 });
    const client = createRemoteClient({ baseUrl: server.url, key: KEY });
    cleanups.push(() => runtime.stop(), () => server.close(), () => client.close());
    const id = 'gen';
    await runtime.client.startNew('Gen', { instanceId: id, input: { n: 1, last: 40 } });
    const remote = record<HistoryEvent>(client.history$(id));
    const local = record<HistoryEvent>(runtime.client.history$(id));
    record<unknown>(client.status$(id));
    record<unknown>(client.customStatus$(id));
    await within(remote.seen((e) => e.type === 'ExecutionStarted'), 'started');
    server.server.closeAllConnections(); // the stream is cut; the client resumes within the window
    await runtime.client.raiseEvent(id, 'Go');
    await runtime.client.waitForCompletion(id, SETTLED);
    await within(remote.seen((e) => e.type === 'ExecutionCompleted'), 'remote done');
    await within(local.seen((e) => e.type === 'ExecutionCompleted'), 'local done');
    const starts = (events: HistoryEvent[]) => events.filter((e) => e.type === 'ExecutionStarted').length;
    expect(starts(local.values)).toBe(40);
    expect(starts(remote.values)).toBe(40);
  });
});
