import { describe, expect, it } from 'vitest';
import { SETTLED } from '../src/testing/settled.js';
import { startedRuntimes } from './started-runtimes.js';

const { start } = startedRuntimes();

/** A proxy that throws on every trap: reading it in any way throws. */
function throwingProxy(): object {
  return new Proxy({}, new Proxy({}, { get: () => () => { throw new Error('no access'); } }));
}

/** The second argument of `continueAsNew` by name, each with the message of the InvalidArgumentError it is refused with. */
const refused: Record<string, { options: () => unknown; message: string }> = {
  'a boolean (the durabletask-js and .NET signature, continueAsNew(input, true))': {
    options: () => true,
    message: 'continueAsNew options must be an object',
  },
  'null': { options: () => null, message: 'continueAsNew options must be an object' },
  'a misspelt member': {
    options: () => ({ preserveUnprocessedEvent: true }),
    message: 'continueAsNew options.preserveUnprocessedEvent is not known: accepted are preserveUnprocessedEvents',
  },
  'a preserveUnprocessedEvents that is no boolean': {
    options: () => ({ preserveUnprocessedEvents: 'no' }),
    message: 'continueAsNew options.preserveUnprocessedEvents must be a boolean',
  },
  'an object that throws when read': { options: throwingProxy, message: 'continueAsNew options threw when read' },
};

describe('continueAsNew options', () => {
  for (const [name, { options, message }] of Object.entries(refused)) {
    it(`refuses ${name} with an InvalidArgumentError at the call, which fails the instance when uncaught`, async () => {
      const runtime = await start({
        orchestrators: {
          Loop: function* (ctx) {
            if (ctx.getInput() === 'next') return 'continued';
            ctx.continueAsNew('next', options() as never);
            return 'not continued';
          },
        },
      });
      const id = await runtime.client.startNew('Loop');
      const status = await runtime.client.waitForCompletion(id, SETTLED);
      expect(status.runtimeStatus).toBe('Failed');
      expect(status.failureDetails).toMatchObject({ errorType: 'InvalidArgumentError', errorMessage: message });
    });
  }

  it('changes nothing when refused: an orchestrator that catches the error goes on in the same execution', async () => {
    const runtime = await start({
      orchestrators: {
        Loop: function* (ctx) {
          if (ctx.getInput() === 'next') return 'continued';
          try {
            ctx.continueAsNew('next', true as never);
          } catch (error) {
            return `${(error as Error).name}: ${(error as Error).message}`;
          }
          return 'not refused';
        },
      },
    });
    const id = await runtime.client.startNew('Loop', { input: 'first' });
    const status = await runtime.client.waitForCompletion(id, SETTLED);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', input: 'first', output: 'InvalidArgumentError: continueAsNew options must be an object' });
  });

  it('takes no options, an empty object and a boolean preserveUnprocessedEvents as before', async () => {
    const accepted = [undefined, {}, { preserveUnprocessedEvents: false }, { preserveUnprocessedEvents: true }, { preserveUnprocessedEvents: undefined }];
    const runtime = await start({
      orchestrators: {
        Loop: function* (ctx) {
          const input = ctx.getInput() as number | 'next';
          if (input === 'next') return 'continued';
          ctx.continueAsNew('next', accepted[input]);
          return 'not continued';
        },
      },
    });
    for (let i = 0; i < accepted.length; i++) {
      const id = await runtime.client.startNew('Loop', { input: i });
      expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'continued' });
    }
  });
});
