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
});
