import { lastValueFrom, takeWhile, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { echo } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { startedRuntimes } from './started-runtimes.js';

/**
 * MemoryStore keeps history events frozen and hands the stored objects out (replays read them without a copy). Users
 * of the local client must still get events of their own, as with every other store: mutable, and changing them
 * changes nothing anyone else reads.
 */

const { start } = startedRuntimes();

async function completedEcho(): Promise<{ runtime: Runtime; id: string }> {
  const runtime = await start({ store: new MemoryStore(), orchestrators: { Echo: echo }, activities: {} });
  const id = await runtime.client.startNew('Echo', { input: { nested: { n: 1 } } });
  await runtime.client.waitForCompletion(id, SETTLED);
  return { runtime, id };
}

/** Changes every event in place, its nested input and result included (a user annotating what they were given). */
function scribble(events: readonly HistoryEvent[]): void {
  for (const event of events) {
    const e = event as unknown as Record<string, unknown>;
    e.timestamp = 'changed by the user';
    for (const key of ['input', 'result'] as const) {
      if (typeof e[key] === 'object' && e[key] !== null) (e[key] as { nested: { n: number } }).nested.n = 99;
    }
  }
}

const historyOf = (runtime: Runtime, id: string): Promise<HistoryEvent[]> =>
  lastValueFrom(runtime.client.history$(id).pipe(takeWhile((e) => e.type !== 'ExecutionCompleted', true), toArray()));

describe('local client history copies', () => {
  it('getStatus with showHistory hands out events the caller may change without changing the next read', async () => {
    const { runtime, id } = await completedEcho();
    const first = (await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true }))!.history!;
    const original = structuredClone(first);
    expect(original.some((e) => e.type === 'ExecutionStarted' && 'input' in e)).toBe(true);
    scribble(first);
    expect(first.every((e) => e.timestamp === 'changed by the user')).toBe(true);
    expect((await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true }))!.history).toEqual(original);

    const withoutOutput = (await runtime.client.getStatus(id, { showHistory: true }))!.history!;
    scribble(withoutOutput);
    expect((await runtime.client.getStatus(id, { showHistory: true }))!.history!.map((e) => e.timestamp))
      .toEqual(original.map((e) => e.timestamp));
  });

  it('history$ hands out events the caller may change without changing what a later read returns', async () => {
    const { runtime, id } = await completedEcho();
    const first = await historyOf(runtime, id);
    const original = structuredClone(first);
    scribble(first);
    expect(first.every((e) => e.timestamp === 'changed by the user')).toBe(true);
    expect(await historyOf(runtime, id)).toEqual(original);
    const stored = (await runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true }))!.history!;
    expect(stored.slice(0, original.length)).toEqual(original); // history$ was read up to ExecutionCompleted
  });
});
