import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRuntime, silentLogger, type OrchestrationContext } from '../src/index.js';
import { FailingStore } from './failing-store.js';
import { within } from './within.js';

describe('a store whose change feed throws when the worker lets go of a misuse record\'s feed', () => {
  it('still stops the worker (its work feed let go, the stop waited out), then rejects runtime.stop() with the error', async () => {
    const store = new FailingStore();
    let saved: OrchestrationContext | undefined;
    const runtime = createRuntime({
      store, logger: silentLogger,
      orchestrators: { Misuser: function* (ctx: OrchestrationContext) { saved = ctx; yield ctx.waitForExternalEvent('go'); } },
    });
    await runtime.start();
    const id = await runtime.client.startNew('Misuser');
    await within(firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the instance running');
    // The misuse record's first read hangs: its change feed stays open until the stop.
    const read = store.hangNext('getInstance');
    saved!.newGuid();
    await within(read.called, 'the misuse record reading the instance');
    store.teardownThrows = true;
    const stopped = await within(runtime.stop({ graceMs: 0 }).then(() => 'resolved', (error: unknown) => error), 'the stop settling');
    expect(stopped).toBeInstanceOf(Error); // the teardown's failure is not swallowed
    // Before, the stop ended at that error: the worker's work feed stayed subscribed, and nothing else of the stop ran.
    expect(store.workSubscribers).toBe(0);
    expect(store.changeSubscribers).toBe(0);
    await read.release();
  });
});
