import { describe, expect, it } from 'vitest';
import { OrchestrationExecution, toFailureDetails } from '../src/engine/orchestration-execution.js';
import { HistoryBuilder } from '../src/testing/history-builder.js';
import { SETTLED } from '../src/testing/settled.js';
import { startedRuntimes } from './started-runtimes.js';

/** Thrown values that break a naive conversion to text, by name. Each is built fresh per use. */
const awkward: Record<string, () => unknown> = {
  'a cyclic object without a prototype': () => {
    const value = Object.create(null) as Record<string, unknown>;
    value.self = value;
    return value;
  },
  'an Error whose message getter throws': () => {
    const error = new Error('hidden');
    Object.defineProperty(error, 'message', { get: () => { throw new Error('no message for you'); } });
    return error;
  },
  'an Error whose name and stack getters throw': () => {
    const error = new Error('plain message');
    Object.defineProperty(error, 'stack', { get: () => { throw new Error('no stack'); } });
    Object.defineProperty(error, 'name', { get: () => { throw new Error('no name'); } });
    return error;
  },
  'an object whose toJSON and toString throw': () => ({
    toJSON: () => { throw new Error('no JSON'); },
    toString: () => { throw new Error('no string'); },
  }),
  'a revoked proxy': () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  },
  'an Error whose message is an object that cannot be printed': () => {
    const error = new Error();
    const message = Object.create(null) as Record<string, unknown>;
    message.self = message;
    Object.defineProperty(error, 'message', { value: message });
    return error;
  },
};

describe('toFailureDetails', () => {
  for (const [name, make] of Object.entries(awkward)) {
    it(`describes ${name} with readable strings instead of throwing`, () => {
      const details = toFailureDetails(make());
      expect(typeof details.errorType).toBe('string');
      expect(details.errorType.length).toBeGreaterThan(0);
      expect(typeof details.errorMessage).toBe('string');
      expect(details.errorMessage.length).toBeGreaterThan(0);
      expect(details.stackTrace === undefined || typeof details.stackTrace === 'string').toBe(true);
      expect(() => JSON.stringify(details)).not.toThrow();
    });
  }

  it('keeps the name, message and stack of an ordinary error', () => {
    const error = new RangeError('out of range');
    expect(toFailureDetails(error)).toEqual({ errorType: 'RangeError', errorMessage: 'out of range', stackTrace: error.stack });
  });

  it('describes thrown primitives and plain objects as JSON or text', () => {
    expect(toFailureDetails('boom')).toEqual({ errorType: 'Error', errorMessage: 'boom' });
    expect(toFailureDetails({ code: 7 })).toEqual({ errorType: 'Error', errorMessage: '{"code":7}' });
    expect(toFailureDetails(10n)).toEqual({ errorType: 'Error', errorMessage: '10' });
    expect(toFailureDetails(undefined)).toEqual({ errorType: 'Error', errorMessage: 'undefined' });
  });
});

const { start } = startedRuntimes();

describe('an activity or orchestrator that throws an awkward value', () => {
  for (const [name, make] of Object.entries(awkward)) {
    it(`fails the instance once, with readable failureDetails, when an activity throws ${name}`, async () => {
      let runs = 0;
      const runtime = await start({
        orchestrators: { CallsAwkward: function* (ctx) { return yield ctx.callActivity('Awkward'); } },
        activities: {
          Awkward: () => {
            runs++;
            throw make();
          },
        },
      });
      const id = await runtime.client.startNew('CallsAwkward');
      const done = await runtime.client.waitForCompletion(id, SETTLED);
      expect(done.runtimeStatus).toBe('Failed');
      expect(typeof done.failureDetails?.errorMessage).toBe('string');
      expect(runs).toBe(1);
    });

    it(`fails the instance with readable failureDetails when an orchestrator throws ${name}`, async () => {
      const runtime = await start({
        // eslint-disable-next-line require-yield
        orchestrators: { ThrowsAwkward: function* () { throw make(); } },
      });
      const id = await runtime.client.startNew('ThrowsAwkward');
      const done = await runtime.client.waitForCompletion(id, SETTLED);
      expect(done.runtimeStatus).toBe('Failed');
      expect(typeof done.failureDetails?.errorMessage).toBe('string');
    });
  }
});

describe('a replay that meets an awkward value thrown outside the orchestrator\'s code', () => {
  for (const [name, make] of Object.entries(awkward)) {
    it(`fails the instance on the next step instead of throwing out of the replay, for ${name}`, () => {
      // A yielded value whose type check throws (a proxy whose getPrototypeOf trap throws): the check runs in the engine,
      // after the generator returned the value, so the orchestrator's own try/catch does not cover it.
      const awkwardYield = new Proxy({}, { getPrototypeOf: () => { throw make(); } });
      const execution = new OrchestrationExecution(function* (ctx) {
        yield ctx.callActivity('A');
        yield awkwardYield as never;
      }, { customStatusLimitBytes: 16_384 });
      const history = new HistoryBuilder({ name: 'Awkward' }).started().taskScheduled('A').taskCompleted(0, 1).build();
      expect(() => execution.replay(history)).not.toThrow();
      const step = execution.step(new Date('2026-01-01T00:01:00.000Z'), []);
      const end = step.newEvents.find((e) => e.type === 'ExecutionCompleted');
      expect(end).toMatchObject({ orchestrationStatus: 'Failed', failureDetails: { errorMessage: expect.any(String) } });
      expect(() => JSON.stringify(end)).not.toThrow();
    });
  }
});
