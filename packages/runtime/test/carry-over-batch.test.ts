import { describe, expect, it } from 'vitest';
import { OrchestrationExecution } from '../src/engine/orchestration-execution.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';

const accumulate: Orchestrator = function* (ctx) {
  const total = ctx.getInput<number>();
  const added: number = yield ctx.waitForExternalEvent<number>('add');
  if (added === 0) return total;
  ctx.continueAsNew(total + added, { preserveUnprocessedEvents: true });
  return undefined;
};

describe('continueAsNew with preserveUnprocessedEvents', () => {
  it('carries over an event that arrived in the same batch as the one that made it continue', () => {
    const execution = new OrchestrationExecution(accumulate, { customStatusLimitBytes: 16_384 });
    const at = '2026-01-01T00:00:00.000Z';
    const step = execution.step(new Date(at), [
      { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'Accumulate', instanceId: 'acc', executionId: 'e1', input: 0 },
      { type: 'EventRaised', eventId: -1, timestamp: at, name: 'add', input: 1 },
      { type: 'EventRaised', eventId: -1, timestamp: at, name: 'add', input: 2 },
    ]);
    expect(step.continueAsNew).toMatchObject({ input: 1, carryOverEvents: [{ type: 'EventRaised', name: 'add', input: 2 }] });
  });

  // The soak found it (seed 13 of the extended workload, fault-free): events raised while the instance was suspended
  // are applied at the resume; those after the one that made it continue were dropped, not carried over.
  it('carries over the events that reached it while suspended, after the one that made it continue at the resume', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const steps = [
      [{ type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'Accumulate', instanceId: 'acc', executionId: 'e1', input: 0 }],
      [{ type: 'ExecutionSuspended', eventId: -1, timestamp: at }],
      [{ type: 'EventRaised', eventId: -1, timestamp: at, name: 'add', input: 1 }],
      [{ type: 'EventRaised', eventId: -1, timestamp: at, name: 'add', input: 2 }, { type: 'EventRaised', eventId: -1, timestamp: at, name: 'add', input: 3 }],
    ] as const;
    const resume = [{ type: 'ExecutionResumed', eventId: -1, timestamp: at }] as const;
    // Stepped by one execution throughout (a worker's cached one), and replayed from the history before the resume.
    const cached = new OrchestrationExecution(accumulate, { customStatusLimitBytes: 16_384 });
    const history = steps.flatMap((events) => cached.step(new Date(at), events).newEvents);
    const replayed = new OrchestrationExecution(accumulate, { customStatusLimitBytes: 16_384 });
    replayed.replay(history);
    for (const execution of [cached, replayed]) {
      const step = execution.step(new Date(at), resume);
      expect(step.continueAsNew).toMatchObject({
        input: 1, carryOverEvents: [{ type: 'EventRaised', name: 'add', input: 2 }, { type: 'EventRaised', name: 'add', input: 3 }],
      });
    }
  });
});
