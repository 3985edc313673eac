import { describe, expect, it } from 'vitest';
import { InstanceNotRunningError } from '../src/index.js';
import { appliedBeforeEnd, sentCommandOutcome } from '../src/engine/sent-command-outcome.js';
import type { ExecutionResumedEvent, ExecutionSuspendedEvent, ExecutionTerminatedEvent, HistoryEvent } from '../src/model/history-event.js';
import type { InstanceState } from '../src/model/instance-status.js';

const at = new Date('2026-12-06T12:00:00.000Z');
const running: InstanceState = {
  instanceId: 'i', name: 'W', runtimeStatus: 'Running', createdTime: at, lastUpdatedTime: at,
  executionId: 'x1', historyLength: 4, version: 3,
};
const suspend: ExecutionSuspendedEvent = { type: 'ExecutionSuspended', eventId: -1, timestamp: '2026-12-06T12:00:01.000Z', reason: 'hold' };
const terminated: HistoryEvent = { type: 'ExecutionTerminated', eventId: -1, timestamp: '2026-12-06T12:00:01.001Z', reason: 'stop' };
const step: HistoryEvent = { type: 'OrchestratorStarted', eventId: -1, timestamp: '2026-12-06T12:00:02.000Z' };
const ended = (runtimeStatus: InstanceState['runtimeStatus'], more: Partial<InstanceState> = {}): InstanceState =>
  ({ ...running, runtimeStatus, historyLength: 8, version: 4, ...more });

describe('sentCommandOutcome (the one answer of a terminate or suspend sent to a worker)', () => {
  it('asks for the events recorded since a suspend was sent when its instance shows ended, from where the history stood', () => {
    expect(sentCommandOutcome('suspend', running, ended('Terminated'))).toEqual({ readFrom: 4 });
    expect(sentCommandOutcome('suspend', running, ended('Completed'))).toEqual({ readFrom: 4 });
    // A later execution, which a command queued across a continueAsNew reaches: read from its start.
    expect(sentCommandOutcome('suspend', running, ended('Terminated', { executionId: 'x2', continuedAt: '2026-12-06T12:00:00.500Z' }))).toEqual({ readFrom: 0 });
  });

  it('answers a suspend applied once the events show it before the end, 410 when after it or not there', () => {
    const next = ended('Terminated');
    expect(sentCommandOutcome('suspend', running, next, { event: suspend, events: [step, suspend, terminated] })).toBe('applied');
    expect(sentCommandOutcome('suspend', running, next, { event: suspend, events: [step, terminated, suspend] })).toBeInstanceOf(InstanceNotRunningError);
    expect(sentCommandOutcome('suspend', running, next, { event: suspend, events: [step, terminated] })).toBeInstanceOf(InstanceNotRunningError);
  });

  it('asks for no read where the status answers: nothing recorded since, a terminate', () => {
    expect(sentCommandOutcome('suspend', running, ended('Terminated', { historyLength: 4 }))).toBeInstanceOf(InstanceNotRunningError);
    expect(sentCommandOutcome('terminate', running, ended('Completed'))).toBeInstanceOf(InstanceNotRunningError);
    expect(sentCommandOutcome('terminate', running, ended('Terminated'))).toBe('applied');
    expect(sentCommandOutcome('suspend', running, ended('Running', { historyLength: 4 }))).toBe('waiting');
  });

  it('answers a terminate by the reason its instance ended with: its own applied, another\'s 410 (that one ended it first)', () => {
    const stop: ExecutionTerminatedEvent = { type: 'ExecutionTerminated', eventId: -1, timestamp: '2026-12-06T12:00:01.000Z', reason: { why: 'stop' } };
    expect(sentCommandOutcome('terminate', running, ended('Terminated', { output: { why: 'stop' } }), { event: stop })).toBe('applied');
    expect(sentCommandOutcome('terminate', running, ended('Terminated', { output: 'other' }), { event: stop })).toBeInstanceOf(InstanceNotRunningError);
    const { reason: _r, ...noReason } = stop;
    expect(sentCommandOutcome('terminate', running, ended('Terminated'), { event: noReason })).toBe('applied');
  });

  it('asks for the events since a terminate with a reason when its instance ended without one: its own record without the reason, or another terminate\'s', () => {
    const stop: ExecutionTerminatedEvent = { type: 'ExecutionTerminated', eventId: -1, timestamp: '2026-12-06T12:00:01.000Z', reason: 'stop' };
    const next = ended('Terminated');
    expect(sentCommandOutcome('terminate', running, next, { event: stop })).toEqual({ readFrom: 4 });
    // Its own, recorded without its reason (a step whose record the store refused): applied.
    const bounded: HistoryEvent = { type: 'ExecutionTerminated', eventId: -1, timestamp: stop.timestamp, payloadRefused: 'the store refused to record it' };
    expect(sentCommandOutcome('terminate', running, next, { event: stop, events: [step, bounded] })).toBe('applied');
    // Another one, without a reason, taken first: this one reached the instance terminated.
    const other: HistoryEvent = { type: 'ExecutionTerminated', eventId: -1, timestamp: '2026-12-06T12:00:00.900Z' };
    expect(sentCommandOutcome('terminate', running, next, { event: stop, events: [step, other, stop] })).toBeInstanceOf(InstanceNotRunningError);
    // No end recorded since: a step the store took no record of ended it, by the first terminate it took.
    expect(sentCommandOutcome('terminate', running, next, { event: stop, events: [step] })).toBe('applied');
    // Nothing recorded since at all: so, without a read.
    expect(sentCommandOutcome('terminate', running, ended('Terminated', { historyLength: 4 }), { event: stop })).toBe('applied');
  });

  it('asks for them too when the instance shows running after a step: a resume right behind the suspend, or no suspend yet', () => {
    const next = ended('Running');
    const resumed: HistoryEvent = { type: 'ExecutionResumed', eventId: -1, timestamp: '2026-12-06T12:00:01.001Z' };
    expect(sentCommandOutcome('suspend', running, next)).toEqual({ readFrom: 4 });
    expect(sentCommandOutcome('suspend', running, next, { event: suspend, events: [step, suspend, resumed] })).toBe('applied');
    expect(sentCommandOutcome('suspend', running, next, { event: suspend, events: [step] })).toBe('waiting');
  });
});

describe('sentCommandOutcome for a resume (applied once no longer Suspended, or as its history shows)', () => {
  const suspended = ended('Suspended', { historyLength: 4, version: 3 });
  const resume: ExecutionResumedEvent = { type: 'ExecutionResumed', eventId: -1, timestamp: '2026-12-06T12:00:01.000Z', reason: 'go' };
  const again: HistoryEvent = { type: 'ExecutionSuspended', eventId: -1, timestamp: '2026-12-06T12:00:01.001Z', reason: 'again' };

  it('is applied once the instance is no longer Suspended, terminal too, and asks for no read then', () => {
    expect(sentCommandOutcome('resume', suspended, ended('Running'))).toBe('applied');
    expect(sentCommandOutcome('resume', suspended, ended('Terminated'))).toBe('applied');
    expect(sentCommandOutcome('resume', suspended, ended('Suspended', { historyLength: 4 }))).toBe('waiting');
  });

  it('asks for the events since it was sent while the instance shows Suspended after a step, and finds itself there', () => {
    const next = ended('Suspended');
    expect(sentCommandOutcome('resume', suspended, next)).toEqual({ readFrom: 4 });
    // Resumed, then suspended again by a suspend queued behind it, in one step.
    expect(sentCommandOutcome('resume', suspended, next, { event: resume, events: [step, resume, again] })).toBe('applied');
    // A step on an event kept while suspended: the resume is still queued.
    expect(sentCommandOutcome('resume', suspended, next, { event: resume, events: [step] })).toBe('waiting');
  });
});

describe('sentCommandOutcome across a continueAsNew (the next execution not started: its history empty)', () => {
  const resume: ExecutionResumedEvent = { type: 'ExecutionResumed', eventId: -1, timestamp: '2026-12-06T12:00:01.001Z', reason: 'go' };
  /** The state the step that continued the instance as new leaves, holding `commands` for the next execution. */
  const continued = (runtimeStatus: InstanceState['runtimeStatus'], commands: readonly (ExecutionSuspendedEvent | ExecutionResumedEvent)[]): InstanceState => ({
    ...running, runtimeStatus, executionId: 'x2', continuedAt: '2026-12-06T12:00:01.500Z', historyLength: 0, version: 4,
    heldSuspend: { timestamp: suspend.timestamp, reason: 'hold', resumeTo: 'ContinuedAsNew', ...(commands.length > 1 ? { resumed: resume } : {}) },
    held: { executionId: 'x2', commands },
  });

  it('answers a suspend the next execution holds applied, from the state: nothing is recorded to read', () => {
    const next = continued('ContinuedAsNew', [suspend, resume]);
    // Before, `waiting`: the suspend waited 10 s (for ever on a clock that does not move).
    expect(sentCommandOutcome('suspend', running, next, { event: suspend })).toBe('applied');
    // Another caller's suspend, of another reason: still waiting, nothing to read.
    expect(sentCommandOutcome('suspend', running, next, { event: { ...suspend, reason: 'other' } })).toBe('waiting');
    expect(sentCommandOutcome('suspend', running, next)).toBe('waiting');
  });

  it('answers a suspend that the step continuing the instance as new applied before its continueAsNew applied, from the state', () => {
    // Suspended, resumed, then the code ran on to the continueAsNew: both in the history that step replaced.
    const next: InstanceState = {
      ...running, runtimeStatus: 'ContinuedAsNew', executionId: 'x2', continuedAt: '2026-12-06T12:00:01.500Z', historyLength: 0, version: 4,
      held: { executionId: 'x2', commands: [], applied: [suspend, resume] },
    };
    // Before, `waiting`: the suspend waited 10 s (for ever on a clock that does not move).
    expect(sentCommandOutcome('suspend', running, next, { event: suspend })).toBe('applied');
    expect(sentCommandOutcome('suspend', running, next, { event: { ...suspend, reason: 'other' } })).toBe('waiting');
    // Once the next execution has started, its history answers (read from its start).
    expect(sentCommandOutcome('suspend', running, { ...next, runtimeStatus: 'Running', historyLength: 3 }, { event: suspend })).toEqual({ readFrom: 0 });
  });

  it('answers a resume sent to a Suspended execution that has since continued as new applied when that step applied it', () => {
    const suspended = { ...running, runtimeStatus: 'Suspended' as const };
    // The resume ran the code, which continued as new; a suspend behind it suspended the next execution.
    const again = { ...suspend, reason: 'again' };
    const next: InstanceState = {
      ...continued('Suspended', [again]), heldSuspend: { timestamp: suspend.timestamp, reason: 'again', resumeTo: 'ContinuedAsNew' },
      held: { executionId: 'x2', commands: [again], applied: [resume] },
    };
    expect(sentCommandOutcome('resume', suspended, next, { event: resume })).toBe('applied');
    // Another caller's resume, still queued (for the next execution): before, 'applied' as soon as the execution changed.
    expect(sentCommandOutcome('resume', suspended, next, { event: { ...resume, reason: 'later' } })).toBe('waiting');
    expect(sentCommandOutcome('resume', suspended, next)).toBe('waiting');
    // Still the execution it was sent to: waiting.
    expect(sentCommandOutcome('resume', suspended, { ...suspended, version: 4 })).toBe('waiting');
  });
});

describe('appliedBeforeEnd (whether a sent suspend was applied, not recorded after the end)', () => {
  it('knows the suspend by its type, time and reason; another caller\'s suspend of another reason is not it', () => {
    expect(appliedBeforeEnd(suspend, [{ ...suspend, reason: 'other' }, terminated, suspend])).toBe(false);
    expect(appliedBeforeEnd(suspend, [{ ...suspend, timestamp: '2026-12-06T12:00:00.999Z' }, terminated])).toBe(false);
  });

  it('knows a suspend recorded without its payload by its type and time', () => {
    const { reason: _, ...bare } = suspend;
    expect(appliedBeforeEnd(suspend, [{ ...bare, payloadRefused: 'too large' }, terminated])).toBe(true);
  });

  it('stops at the first end of any kind: a completion too', () => {
    const completed: HistoryEvent = { type: 'ExecutionCompleted', eventId: -1, timestamp: suspend.timestamp, orchestrationStatus: 'Completed', result: 1 };
    expect(appliedBeforeEnd(suspend, [completed, suspend])).toBe(false);
  });
});
