import { filter, firstValueFrom } from 'rxjs';
import { expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import type { TimerCreatedEvent } from '../src/model/history-event.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';

const { start } = startedRuntimes();

/** Waits for `go`, then a timer a minute from the time the code runs at. */
const later: Orchestrator = function* (ctx) {
  const go: unknown = yield ctx.waitForExternalEvent('go');
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
  return [go, ctx.currentUtcDateTime.toISOString()];
};

it("runs the code after kept results that reached the source before its first step at the fork's time, not the source's start time", async () => {
  const clock = new VirtualClock();
  const runtime = await start({ clock, orchestrators: { Later: later } });
  const { client } = runtime;
  const timerOf = (id: string) => within(
    firstValueFrom(client.history$(id).pipe(filter((e): e is TimerCreatedEvent => e.type === 'TimerCreated'))), `${id} creating its timer`,
  );
  // The event comes with the start: the source's first step takes both.
  const startedAt = clock.now().getTime();
  await client.signalWithStart('Later', { instanceId: 'src', eventName: 'go', eventData: 'g' });
  expect(Date.parse((await timerOf('src')).fireAt)).toBe(startedAt + 60_000);
  await clock.advance(60_000);
  expect((await within(client.waitForCompletion('src', SETTLED), 'the source ending')).runtimeStatus).toBe('Completed');
  await clock.advance(3_600_000);
  const forkedAt = clock.now().getTime();
  const fork = await client.fork('src', { keepResults: 1 });
  expect((await client.getStatus(fork))?.runtimeStatus).toBe('Pending');
  expect(Date.parse((await timerOf(fork)).fireAt)).toBe(forkedAt + 60_000);
  await clock.advance(60_000);
  expect(await within(client.waitForCompletion(fork, SETTLED), 'the fork ending')).toMatchObject({
    runtimeStatus: 'Completed', output: ['g', new Date(forkedAt + 60_000).toISOString()],
  });
});

/** Waits for `go` with events `e1` and `e2` left unread, carries them over to the next execution, which reads both. */
const eternal: Orchestrator = function* (ctx) {
  if (ctx.getInput() === 0) {
    yield ctx.waitForExternalEvent('go');
    ctx.continueAsNew(1, { preserveUnprocessedEvents: true });
    return undefined;
  }
  const e1: unknown = yield ctx.waitForExternalEvent('e1');
  const e2: unknown = yield ctx.waitForExternalEvent('e2');
  return [e1, e2];
};

it('gives a fork that keeps some of the events a continueAsNew carried over those events, then the others raised again, in order', async () => {
  const runtime = await start({ orchestrators: { Eternal: eternal } });
  const { client } = runtime;
  await client.startNew('Eternal', { instanceId: 'src', input: 0 });
  await client.raiseEvent('src', 'e1', 1);
  await client.raiseEvent('src', 'e2', 2);
  await client.raiseEvent('src', 'go');
  expect(await within(client.waitForCompletion('src', SETTLED), 'the source ending')).toMatchObject({ runtimeStatus: 'Completed', output: [1, 2] });
  // The cut falls between the carried events: e1 kept, e2 raised again behind it.
  const fork = await client.fork('src', { keepResults: 1 });
  expect(await within(client.waitForCompletion(fork, SETTLED), 'the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: [1, 2] });
  // Without the events not kept raised again, the fork has e1 and waits for e2.
  const bare = await client.fork('src', { keepResults: 1, reapplyEvents: false });
  await client.raiseEvent(bare, 'e2', 'late');
  expect(await within(client.waitForCompletion(bare, SETTLED), 'the fork ending')).toMatchObject({ runtimeStatus: 'Completed', output: [1, 'late'] });
});
