import { describe, expect, it } from 'vitest';
import { OrchestrationExecution, toFailureDetails } from '../src/engine/orchestration-execution.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { FailureDetails } from '../src/model/instance-status.js';
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

/** A stack as a serialised error carries it: only ever `stackTrace`, never part of a message. */
const SECRET = 'SECRET STACK at x.js:1';

/** Thrown values that are not Errors, by name, each with the failure details it is recorded as. */
const notErrors: Record<string, { make: () => unknown; details: FailureDetails }> = {
  'a plain object with a message and a stack': {
    make: () => ({ message: 'obj msg', stack: SECRET }),
    details: { errorType: 'Error', errorMessage: 'obj msg', stackTrace: SECRET },
  },
  'a plain object with a name and a message': {
    make: () => ({ name: 'ValidationError', message: 'bad input', code: 7 }),
    details: { errorType: 'ValidationError', errorMessage: 'bad input' },
  },
  'a plain object without a message': {
    make: () => ({ code: 7, stack: SECRET, cause: { reason: 'x', stack: SECRET } }),
    details: { errorType: 'Error', errorMessage: '{"code":7,"cause":{"reason":"x"}}', stackTrace: SECRET },
  },
  'a string': { make: () => 'just text', details: { errorType: 'Error', errorMessage: 'just text' } },
  'undefined': { make: () => undefined, details: { errorType: 'Error', errorMessage: 'undefined' } },
  'an object whose message getter throws': {
    make: () => ({ get message(): string { throw new Error('no message for you'); }, stack: SECRET }),
    details: { errorType: 'Error', errorMessage: '(the thrown value\'s message could not be read)', stackTrace: SECRET },
  },
  'a circular object holding a BigInt': {
    make: () => {
      const value: Record<string, unknown> = { code: 7, amount: 10n };
      value.self = value;
      return value;
    },
    details: { errorType: 'Error', errorMessage: '{"code":7,"amount":"10","self":"[Circular]"}' },
  },
};

describe('toFailureDetails of a value that is not an Error', () => {
  for (const [name, { make, details }] of Object.entries(notErrors)) {
    it(`describes ${name} as an Error would be: message, name, and the stack only as stackTrace`, () => {
      expect(toFailureDetails(make())).toEqual(details);
    });
  }

  it('describes an Error from another realm (not instanceof Error here) by its name, message and stack', () => {
    const foreign = Object.create(null) as Record<string, unknown>;
    Object.assign(foreign, { name: 'TypeError', message: 'x is not a function', stack: SECRET });
    expect(toFailureDetails(foreign)).toEqual({ errorType: 'TypeError', errorMessage: 'x is not a function', stackTrace: SECRET });
  });

  it('leaves stacks out of a message described as JSON, at any depth, also for an Error whose message is an object', () => {
    const error = new Error();
    Object.defineProperty(error, 'message', { value: { detail: 'd', inner: { stack: SECRET } } });
    expect(toFailureDetails(error).errorMessage).toBe('{"detail":"d","inner":{}}');
    expect(toFailureDetails([{ stack: SECRET }, 1]).errorMessage).toBe('[{},1]');
  });

  it('marks only a real cycle as circular: an object met twice on different branches is described twice', () => {
    const shared = { n: 1 };
    expect(toFailureDetails({ a: shared, b: shared }).errorMessage).toBe('{"a":{"n":1},"b":{"n":1}}');
  });

  it('describes a thrown function without printing its source', () => {
    function secretHandler(): string { return 'source text'; }
    expect(toFailureDetails(secretHandler)).toEqual({ errorType: 'Error', errorMessage: '(a thrown function)' });
  });
});

const { start } = startedRuntimes();

/** The failure details of the first `type` event of the instance's history. */
async function recordedFailure(runtime: Awaited<ReturnType<typeof start>>, id: string, type: HistoryEvent['type']): Promise<FailureDetails | undefined> {
  const status = await runtime.client.getStatus(id, { showHistory: true });
  const event = status?.history?.find((e) => e.type === type);
  return event && 'failureDetails' in event ? event.failureDetails : undefined;
}

describe('an orchestrator or activity that throws a value that is not an Error', () => {
  for (const [name, { make, details }] of Object.entries(notErrors)) {
    it(`records ${name} thrown by an orchestrator as its failure details, in the status and the history`, async () => {
      const runtime = await start({
        // eslint-disable-next-line require-yield
        orchestrators: { Throws: function* () { throw make(); } },
      });
      const id = await runtime.client.startNew('Throws');
      const done = await runtime.client.waitForCompletion(id, SETTLED);
      expect(done.runtimeStatus).toBe('Failed');
      expect(done.failureDetails).toEqual(details);
      expect(await recordedFailure(runtime, id, 'ExecutionCompleted')).toEqual(details);
    });

    it(`records ${name} thrown by an activity as the task's failure, which the orchestrator's failure names`, async () => {
      const runtime = await start({
        orchestrators: { CallsThrower: function* (ctx) { return yield ctx.callActivity('Thrower'); } },
        activities: { Thrower: () => { throw make(); } },
      });
      const id = await runtime.client.startNew('CallsThrower');
      const done = await runtime.client.waitForCompletion(id, SETTLED);
      expect(done.runtimeStatus).toBe('Failed');
      expect(await recordedFailure(runtime, id, 'TaskFailed')).toEqual(details);
      expect(done.failureDetails?.errorType).toBe('TaskFailedError');
      expect(done.failureDetails?.errorMessage).toBe(`Activity "Thrower" (#0) failed: ${details.errorMessage}`);
    });
  }

  it('hands a sub-orchestration\'s failure to its parent as the child recorded it, the stack only as stackTrace', async () => {
    const { make, details } = notErrors['a plain object with a message and a stack']!;
    const runtime = await start({
      orchestrators: {
        Parent: function* (ctx) { return yield ctx.callSubOrchestrator('Child', undefined, 'errdesc-child'); },
        // eslint-disable-next-line require-yield
        Child: function* () { throw make(); },
      },
    });
    const id = await runtime.client.startNew('Parent');
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done.runtimeStatus).toBe('Failed');
    expect(await recordedFailure(runtime, id, 'SubOrchestrationInstanceFailed')).toEqual(details);
    expect(done.failureDetails?.errorMessage).toBe('Sub-orchestration "Child" (#0) failed: obj msg');
    expect(JSON.stringify({ ...done.failureDetails, stackTrace: undefined })).not.toContain('SECRET');
  });

  it('records the last failure of retried calls, and a retry handle that throws a plain object, by its message', async () => {
    const { make } = notErrors['a plain object with a message and a stack']!;
    const retry = { firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 2 };
    const runtime = await start({
      orchestrators: {
        RetriesThrower: function* (ctx) { return yield ctx.callActivityWithRetry('Thrower', retry); },
        HandleThrows: function* (ctx) {
          return yield ctx.callActivityWithRetry('Thrower', { ...retry, handle: () => { throw { message: 'handle says no', stack: SECRET }; } });
        },
      },
      activities: { Thrower: () => { throw make(); } },
    });
    const retried = await runtime.client.waitForCompletion(await runtime.client.startNew('RetriesThrower'), SETTLED);
    expect(retried.runtimeStatus).toBe('Failed');
    expect(retried.failureDetails?.errorMessage).toBe('Activity "Thrower" (#2) failed: obj msg');
    const handled = await runtime.client.waitForCompletion(await runtime.client.startNew('HandleThrows'), SETTLED);
    expect(handled.runtimeStatus).toBe('Failed');
    expect(handled.failureDetails?.errorMessage).toBe('Activity "Thrower" (#0) failed: obj msg; its retry handle threw: handle says no');
    expect(JSON.stringify({ ...handled.failureDetails, stackTrace: undefined })).not.toContain('SECRET');
  });
});


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

describe('failure details of a huge thrown value', () => {
  const MAX = 65_536;
  /** True for a text that ends in the middle of a surrogate pair. */
  const splitsAPair = (text: string) => /[\uD800-\uDBFF]$/.test(text.replace(/… \(\d+ characters cut\)$/, ''));

  it('cuts the message of a thrown string to 64 Ki characters, saying how many were cut', () => {
    const details = toFailureDetails('x'.repeat(200_000));
    expect(details.errorMessage.length).toBeLessThanOrEqual(MAX);
    expect(details.errorMessage.length).toBeGreaterThan(MAX - 30);
    expect(details.errorMessage).toMatch(/^x+… \(\d+ characters cut\)$/);
    const kept = details.errorMessage.indexOf('…');
    expect(Number(/\((\d+) characters cut\)$/.exec(details.errorMessage)![1])).toBe(200_000 - kept);
    expect(toFailureDetails('x'.repeat(MAX)).errorMessage).toBe('x'.repeat(MAX)); // at the bound, whole
  });

  it('never splits a character made of two code units', () => {
    for (const offset of [0, 1]) {
      const details = toFailureDetails('a'.repeat(offset) + '😀'.repeat(100_000));
      expect(details.errorMessage.length).toBeLessThanOrEqual(MAX);
      expect(splitsAPair(details.errorMessage)).toBe(false);
    }
  });

  it('cuts a typed array described as JSON, and an Error\'s message and stack, keeping the stack\'s frames', () => {
    expect(toFailureDetails(new Uint8Array(100_000)).errorMessage.length).toBeLessThanOrEqual(MAX);
    const error = new Error('y'.repeat(200_000));
    const details = toFailureDetails(error);
    expect(details.errorMessage.length).toBeLessThanOrEqual(MAX);
    expect(details.stackTrace!.length).toBeLessThan(MAX);
    expect(details.stackTrace).toMatch(/^Error: y{299}…\n\s+at /); // the message once, its start only
    expect(details.stackTrace).toContain(error.stack!.slice(error.stack!.indexOf('\n')));
  });

  it('records a huge string thrown by an activity cut, in the history and in the failure it gives the orchestration', async () => {
    const runtime = await start({
      orchestrators: { CallsThrower: function* (ctx) { return yield ctx.callActivity('Thrower'); } },
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      activities: { Thrower: () => { throw 'z'.repeat(1_000_000); } },
    });
    const id = await runtime.client.startNew('CallsThrower');
    const done = await runtime.client.waitForCompletion(id, SETTLED);
    expect(done.runtimeStatus).toBe('Failed');
    const recorded = await recordedFailure(runtime, id, 'TaskFailed');
    expect(recorded?.errorMessage).toMatch(/^z+… \(\d+ characters cut\)$/);
    expect(recorded!.errorMessage.length).toBeLessThanOrEqual(MAX);
    expect(done.failureDetails?.errorMessage.length).toBeLessThanOrEqual(MAX);
    expect(done.failureDetails?.stackTrace?.length ?? 0).toBeLessThanOrEqual(MAX);
  });
});
