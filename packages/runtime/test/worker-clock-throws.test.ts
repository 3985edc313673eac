import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { createClient, createRuntime, MemoryStore, type Orchestrator } from '../src/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { RecordingLogger } from './failing-store.js';
import { HandClock, runtimesStoppedAfterEach } from './hand-clock.js';

/** A HandClock whose `now()` throws while `throwing` is set (a custom Clock gone wrong), counting the throws. */
class ThrowingClock extends HandClock {
  throwing = false;
  thrown = 0;

  override now(): Date {
    if (this.throwing) {
      this.thrown++;
      throw new Error('injected: the clock failed');
    }
    return super.now();
  }
}

const runtimes = runtimesStoppedAfterEach();

const echo: Orchestrator = function* (ctx) {
  return ctx.getInput();
};

describe('a worker whose clock throws for a while', () => {
  it('claims again on its back-off once the clock answers, after a claim round failed on it', async () => {
    const clock = new ThrowingClock();
    const store = new MemoryStore();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    clock.throwing = true;
    // Started by another process's client: the store's signal wakes the worker, whose claim round fails on its clock.
    const other = createClient({ store, clock: new HandClock() });
    const id = await other.startNew('Echo', { input: 'hello' });
    await vi.waitFor(() => expect(clock.thrown).toBeGreaterThan(0), { timeout: SETTLED.timeoutMs });
    clock.throwing = false;
    const completed = firstValueFrom(other.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
    expect(await clock.fireUntil(completed, 'the claim round\'s retry', 10)).toBeDefined();
    expect(await completed).toMatchObject({ output: 'hello' });
    expect(logger.errors.some((message) => message.includes('could not claim work; retrying'))).toBe(true);
  });
});
