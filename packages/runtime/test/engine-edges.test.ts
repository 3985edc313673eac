import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Activity, Orchestrator } from '../src/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { ending } from './ending.js';
import { HandClock } from './hand-clock.js';
import { startedRuntimes } from './started-runtimes.js';

const { start } = startedRuntimes();

/** A value that cannot be JSON, by name; each built fresh. */
const notJson: Record<string, () => unknown> = {
  'a BigInt': () => 10n,
  'a cyclic object': () => {
    const value: Record<string, unknown> = {};
    value.self = value;
    return value;
  },
  'a function': () => () => 1,
  'NaN': () => Number.NaN,
};

/**
 * Runs `orchestrator` (with `activities`) to its end on a fresh runtime, then checks the worker still runs the next
 * instance: a failure is recorded on the instance, and nothing is thrown out of the worker or left stuck.
 */
async function outcome(orchestrator: Orchestrator, activities: Record<string, Activity> = {}, customStatusLimitBytes?: number) {
  const runtime = await start({
    customStatusLimitBytes,
    orchestrators: { Edge: orchestrator, Next: function* () { return 'next'; } },
    activities,
  });
  const done = await runtime.client.waitForCompletion(await runtime.client.startNew('Edge'), SETTLED);
  const next = await runtime.client.waitForCompletion(await runtime.client.startNew('Next'), SETTLED);
  expect(next).toMatchObject({ runtimeStatus: 'Completed', output: 'next' });
  return done;
}

describe('an orchestrator that misbehaves fails its instance, visibly and once', () => {
  it('throws from finally while a failure unwinds it: the finally block\'s error is recorded', async () => {
    const done = await outcome(function* (ctx) {
      try {
        yield ctx.callActivity('Fails');
      } finally {
        // eslint-disable-next-line no-unsafe-finally
        throw new RangeError('from finally');
      }
    }, { Fails: () => { throw new Error('activity failed'); } });
    expect(done).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'RangeError', errorMessage: 'from finally' } });
  });

  it('throws from finally after returning: the return is void', async () => {
    const done = await outcome(function* (ctx) {
      try {
        return yield ctx.callActivity('Works');
      } finally {
        // eslint-disable-next-line no-unsafe-finally
        throw new Error('after the return');
      }
    }, { Works: () => 'ok' });
    expect(done).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorMessage: 'after the return' } });
  });

  const notTasks: Record<string, () => unknown> = {
    'a number': () => 1,
    undefined: () => undefined,
    'a promise': () => Promise.resolve(1),
    'a revoked proxy': () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
  };
  for (const [name, make] of Object.entries(notTasks)) {
    it(`yields ${name}`, async () => {
      const done = await outcome(function* () {
        yield make();
      } as unknown as Orchestrator);
      expect(done.runtimeStatus).toBe('Failed');
      expect(done.failureDetails?.errorMessage).toMatch(/yielded|revoked/);
    });
  }

  for (const [name, make] of Object.entries(notJson)) {
    it(`returns ${name}`, async () => {
      // eslint-disable-next-line require-yield
      const done = await outcome(function* () {
        return make();
      });
      expect(done).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'InvalidArgumentError' } });
      expect(done.failureDetails?.errorMessage).toMatch(/^orchestrator output/);
    });

    it(`sets ${name} as its custom status: it throws there, and can be caught`, async () => {
      const uncaught = await outcome(function* (ctx) {
        ctx.setCustomStatus('before');
        yield ctx.callActivity('Works');
        ctx.setCustomStatus(make());
        return 'unreached';
      }, { Works: () => 'ok' });
      expect(uncaught).toMatchObject({ runtimeStatus: 'Failed', customStatus: 'before', failureDetails: { errorType: 'InvalidArgumentError' } });
      const caught = await outcome(function* (ctx) {
        ctx.setCustomStatus('before');
        try {
          ctx.setCustomStatus(make());
        } catch {
          // kept: the status stays as it was
        }
        return yield ctx.callActivity('Works');
      }, { Works: () => 'ok' });
      expect(caught).toMatchObject({ runtimeStatus: 'Completed', customStatus: 'before', output: 'ok' });
    });
  }

  it('sets an oversized custom status: PayloadTooLargeError in the orchestrator, the stored status unchanged', async () => {
    const uncaught = await outcome(function* (ctx) {
      ctx.setCustomStatus('small');
      yield ctx.callActivity('Works');
      ctx.setCustomStatus('x'.repeat(200));
    }, { Works: () => 'ok' }, 100);
    expect(uncaught).toMatchObject({ runtimeStatus: 'Failed', customStatus: 'small', failureDetails: { errorType: 'PayloadTooLargeError' } });
    const caught = await outcome(function* (ctx) {
      ctx.setCustomStatus('small');
      try {
        ctx.setCustomStatus('x'.repeat(200));
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return yield ctx.callActivity('Works');
    }, {}, 100);
    expect(caught).toMatchObject({ runtimeStatus: 'Completed', customStatus: 'small', output: 'payload-too-large' });
  });
});

describe('an activity that misbehaves', () => {
  it('returns undefined: a completed call with no value', async () => {
    const done = await outcome(function* (ctx) {
      const value: unknown = yield ctx.callActivity('Nothing');
      return { wasUndefined: value === undefined };
    }, { Nothing: () => undefined });
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { wasUndefined: true } });
  });

  for (const [name, make] of Object.entries(notJson)) {
    it(`returns ${name}: the call fails in the orchestrator with a TaskFailedError naming the output, once`, async () => {
      let runs = 0;
      const done = await outcome(function* (ctx) {
        try {
          yield ctx.callActivity('Returns');
          return 'unreached';
        } catch (error) {
          return (error as Error).message;
        }
      }, { Returns: () => { runs++; return make(); } });
      expect(done.runtimeStatus).toBe('Completed');
      expect(done.output).toMatch(/activity output/);
      expect(runs).toBe(1);
    });
  }

  for (const [name, make] of Object.entries({ 'rejects with undefined': () => Promise.reject(undefined), 'throws a string': () => { throw 'text'; }, 'resolves to a BigInt': () => Promise.resolve(1n) })) {
    it(`${name}: the instance fails with readable details`, async () => {
      const done = await outcome(function* (ctx) {
        return yield ctx.callActivity('Bad');
      }, { Bad: make as Activity });
      expect(done.runtimeStatus).toBe('Failed');
      expect(typeof done.failureDetails?.errorMessage).toBe('string');
    });
  }
});

describe('currentUtcDateTime when the clock goes back between steps', () => {
  it('never goes back: the next step, taken after the clock was set back a minute, sees the time of the one before (runtime)', async () => {
    const clock = new HandClock();
    const runtime = await start({
      clock,
      orchestrators: {
        Elapsed: function* (ctx) {
          const began = ctx.currentUtcDateTime.getTime();
          yield ctx.waitForExternalEvent('go');
          return ctx.currentUtcDateTime.getTime() - began;
        },
      },
    });
    const id = await runtime.client.startNew('Elapsed');
    await firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    clock.ms -= 60_000; // e.g. the next step is taken by a process whose clock is a minute behind
    await runtime.client.raiseEvent(id, 'go');
    expect(await ending(runtime.client, id)).toMatchObject({ runtimeStatus: 'Completed', output: 0 });
  });
});
