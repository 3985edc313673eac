import { afterEach, describe, expect, it } from 'vitest';
import { guardedLogger } from '../src/store-kit/index.js';
import { createRuntime, silentLogger, type Logger, type RetryOptions, type Runtime } from '../src/index.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { FailingStore } from './failing-store.js';
import { within } from './within.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** Rejections no handler took, while `run` runs and for one macrotask after it (when Node reports them). */
async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const listener = (reason: unknown, promise: Promise<unknown>) => {
    unhandled.push(reason);
    promise.catch(() => {}); // recorded here: keep the run itself green
  };
  process.on('unhandledRejection', listener);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return unhandled;
}

describe('a logger whose methods are async and reject', () => {
  it('has its rejections handled by guardedLogger, as a throw is', () => {
    const rejectionHandlers: unknown[] = [];
    const thenable = { then: (_onFulfilled: unknown, onRejected: unknown) => void rejectionHandlers.push(onRejected) };
    const logger = guardedLogger({ warn: () => thenable as never, error: () => thenable as never });
    logger.warn('retrying');
    logger.error('failed');
    expect(rejectionHandlers).toHaveLength(2);
    expect(rejectionHandlers.every((handler) => typeof handler === 'function')).toBe(true);
  });

  const running: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((runtime) => within(runtime.stop({ graceMs: 0 }), 'the stop')));
  });

  it('does not end the process when the runtime reports a failed claim through it', async () => {
    const store = new FailingStore();
    store.failNext('claimOrchestration', 2);
    const clock = new VirtualClock(new Date(T0));
    const reports: string[] = [];
    const logger: Logger = {
      async warn(message) { reports.push(message); throw new Error('log sink down'); },
      async error(message) { reports.push(message); throw new Error('log sink down'); },
    };
    const runtime = createRuntime({ store, clock, logger, orchestrators: {} });
    running.push(runtime);
    const unhandled = await unhandledDuring(async () => {
      await runtime.start();
      await clock.advance(0);
      await clock.advance(100);
      expect(reports.filter((message) => message.includes('could not claim work'))).toHaveLength(2);
      await within(runtime.stop({ graceMs: 0 }), 'the stop');
    });
    expect(unhandled).toEqual([]);
  });
});

describe('a retry handle that is async (untyped code) and rejects', () => {
  it('fails the call once, saying the handle returned a promise, and its rejection ends nothing', async () => {
    let attempts = 0;
    const retry = {
      firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 3,
      async handle() { throw new Error('handle broke'); },
    } as unknown as RetryOptions;
    const runtime = createRuntime({
      logger: silentLogger,
      orchestrators: {
        Caught: function* (ctx) {
          try {
            return yield ctx.callActivityWithRetry('Fails', retry);
          } catch (error) {
            return (error as Error).message;
          }
        },
      },
      activities: { Fails: () => { attempts++; throw new Error('boom'); } },
    });
    let output: unknown;
    const unhandled = await unhandledDuring(async () => {
      await runtime.start();
      const id = await runtime.client.startNew('Caught');
      output = (await within(runtime.client.waitForCompletion(id, { timeoutMs: Infinity }), 'the instance ending')).output;
      await within(runtime.stop({ graceMs: 0 }), 'the stop');
    });
    expect(output).toMatch(/boom; its retry handle returned a promise: a handle must return true or false/);
    expect(attempts).toBe(1); // no retry
    expect(unhandled).toEqual([]);
  });
});
