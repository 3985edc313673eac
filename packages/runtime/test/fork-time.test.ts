import { filter, firstValueFrom } from 'rxjs';
import { expect, it } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import type { TimerCreatedEvent } from '../src/model/history-event.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';

const { start } = startedRuntimes();

/** An activity, then a timer a minute from the time the code runs at. */
const later: Orchestrator = function* (ctx) {
  const a: unknown = yield ctx.callActivity('A');
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
  return [a, ctx.currentUtcDateTime.toISOString()];
};

it("runs the code after the last kept result at the fork's time: a timer it creates counts from then, not from the source's", async () => {
  const clock = new VirtualClock();
  const runs: string[] = [];
  const runtime = await start({ clock, orchestrators: { Later: later }, activities: { A: () => {
    runs.push('A');
    return 'a';
  } } });
  const { client } = runtime;
  const timerOf = (id: string) => within(
    firstValueFrom(client.history$(id).pipe(filter((e): e is TimerCreatedEvent => e.type === 'TimerCreated'))), `${id} creating its timer`,
  );
  const id = await client.startNew('Later');
  const sourceTimer = await timerOf(id);
  await clock.advance(60_000);
  expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
  await clock.advance(3_600_000);
  const forkedAt = clock.now().getTime();
  const fork = await client.fork(id, { keepResults: 1 });
  const forkTimer = await timerOf(fork);
  expect(Date.parse(forkTimer.fireAt)).toBe(forkedAt + 60_000);
  expect(Date.parse(sourceTimer.fireAt)).toBeLessThan(forkedAt);
  await clock.advance(60_000);
  expect(await client.waitForCompletion(fork, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', new Date(forkedAt + 60_000).toISOString()] });
  expect(runs).toEqual(['A']); // the kept result's activity ran once, for the source
});
