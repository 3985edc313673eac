import { filter, firstValueFrom } from 'rxjs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import type { Activity, Orchestrator } from '../src/engine/orchestration-context.js';
import { silentLogger } from '../src/env/logger.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { decideStart, decideStep, decideTerminate } from '../src/engine/decide-step.js';
import { OrchestrationExecution } from '../src/engine/orchestration-execution.js';
import { toWireHistory, toWireStatus } from '../src/http/wire-status.js';
import { toInstanceStatus, type InstanceStatus } from '../src/model/instance-status.js';
import type { WriteRequest } from '../src/model/write-set.js';
import type { OrchestrationMessage } from '../src/model/message.js';
import { serve } from '../src/node/serve.js';
import { echo, sampleActivities, sampleOrchestrators, waitForEvents } from '../src/testing/samples.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { SETTLED } from '../src/testing/settled.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { heldActivity } from './held-activity.js';
import { servedRuntimes } from './served-runtimes.js';

const continuedAt = new Date('2026-11-30T10:05:00.000Z');
const terminatedAt = new Date('2026-11-30T10:09:00.000Z');

/**
 * An instance `can` whose first execution (created 10:00) continued as new at {@link continuedAt}, its next start
 * queued: the committed step, and the ids and executions the engine calls that go on from it use.
 */
function continuedAsNew() {
  let n = 0;
  const newId = () => `id-${n++}`;
  const again: Orchestrator = function* (ctx) {
    if (ctx.getInput() === 1) ctx.continueAsNew(2);
    yield ctx.waitForExternalEvent('never');
  };
  const newExecution = () => new OrchestrationExecution(again, { customStatusLimitBytes: 16_384 });
  const [create] = decideStart({ instanceId: 'can', name: 'Again', input: 1, now: new Date('2026-11-30T10:00:00.000Z'), newId }).requests;
  if (create?.type !== 'createInstance') throw new Error('expected a create');
  const step = decideStep({ state: create.state, messages: [create.message], leaseToken: 'l', now: continuedAt, newId, newExecution });
  if (step.kind !== 'commit') throw new Error('expected a commit');
  return { step, newId, newExecution };
}

/**
 * Raw HTTP bodies compared field by field with the shapes the Durable Functions extension documents and sends
 * (HTTP API reference: "Get instance status", "Get all instances status", "HTTP API URL discovery"; the custom
 * status seed): status bodies, `historyEvents` and check-status bodies.
 */

const KEY = 'shape-key-0123456789';
/** `createdTime` / `lastUpdatedTime`: UTC to the second, as the extension formats them (`ToString("s") + "Z"`). */
const STATUS_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** History times: UTC ISO 8601, fraction without trailing zeros. */
const HISTORY_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z$/;
const STATUS_FIELDS = ['createdTime', 'customStatus', 'input', 'instanceId', 'lastUpdatedTime', 'name', 'output', 'runtimeStatus'];

const serving = servedRuntimes(KEY);
let runtime: Runtime;
let base: string;

const orchestrators: Record<string, Orchestrator> = {
  ...sampleOrchestrators,
  Echo: echo,
  WaitForEvents: waitForEvents,
  Fails: function* (ctx) {
    return yield ctx.callActivity('Broken', 'x');
  },
  Parent: function* (ctx) {
    return yield ctx.callSubOrchestrator('Echo', 'child input', `${ctx.instanceId}-child`);
  },
  NoInputs: function* (ctx) {
    yield ctx.callActivity('E1_SayHello');
    return yield ctx.callSubOrchestrator('Echo', undefined, `${ctx.instanceId}-child`);
  },
  Sleeper: function* (ctx) {
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 20));
    return 'rested';
  },
};
const activities: Record<string, Activity> = {
  ...sampleActivities,
  Broken: () => {
    throw new RangeError('out of range');
  },
};

beforeEach(async () => {
  ({ runtime, base } = await serving.open({ orchestrators, activities }));
});

function get(path: string): Promise<Response> {
  return fetch(`${base}${path}`, { headers: { authorization: `Bearer ${KEY}` } });
}

async function body(path: string): Promise<Record<string, unknown>> {
  return (await (await get(path)).json()) as Record<string, unknown>;
}

function until(id: string, predicate: (s: InstanceStatus | undefined) => boolean): Promise<InstanceStatus | undefined> {
  return firstValueFrom(runtime.client.status$(id).pipe(filter(predicate)));
}

type Event = Record<string, unknown>;
const keys = (value: object) => Object.keys(value).sort();

describe('status bodies', () => {
  it('match the custom status seed for a Running instance: input and output null, times to the second', async () => {
    await runtime.client.startNew('SetStatusTest', { instanceId: 'instance123' });
    await until('instance123', (s) => s?.customStatus !== undefined);
    const response = await get('/instances/instance123');
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(`${base}/instances/instance123`);
    // The status route asks for 5 s, as Durable Functions' does (its check-status response asks for 10: below).
    expect(response.headers.get('retry-after')).toBe('5');
    const status = (await response.json()) as Record<string, unknown>;
    expect(keys(status)).toEqual(STATUS_FIELDS);
    expect(status).toMatchObject({
      name: 'SetStatusTest', instanceId: 'instance123', runtimeStatus: 'Running', input: null,
      customStatus: { nextActions: ['A', 'B', 'C'], foo: 2 }, output: null,
    });
    expect(status.createdTime).toMatch(STATUS_TIME);
    expect(status.lastUpdatedTime).toMatch(STATUS_TIME);
    expect(Date.parse(status.lastUpdatedTime as string)).toBeGreaterThanOrEqual(Date.parse(status.createdTime as string));
  });

  it('send the error message as the output of a Failed instance, failure details as an extra field', async () => {
    await runtime.client.startNew('Fails', { instanceId: 'f' });
    const failed = await runtime.client.waitForCompletion('f', SETTLED);
    const status = await body('/instances/f');
    expect(keys(status)).toEqual([...STATUS_FIELDS, 'failureDetails'].sort());
    expect(status.output).toBe(failed.failureDetails?.errorMessage);
    expect(status.output).toContain('out of range');
    expect(status.failureDetails).toEqual({ errorType: failed.failureDetails?.errorType, errorMessage: failed.failureDetails?.errorMessage });
  });

  it('send the reason as the output of a Terminated instance', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 't', input: 1 });
    await runtime.client.terminate('t', 'no longer needed');
    await until('t', (s) => s?.runtimeStatus === 'Terminated');
    expect(await body('/instances/t')).toMatchObject({ runtimeStatus: 'Terminated', input: 1, output: 'no longer needed', customStatus: null });
  });

  it('list every instance with exactly the documented fields (no history)', async () => {
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'done' });
    await runtime.client.waitForCompletion('done', SETTLED);
    await runtime.client.startNew('WaitForEvents', { instanceId: 'running', input: 1 });
    await until('running', (s) => s?.runtimeStatus === 'Running');
    const list = (await (await get('/instances?showHistory=true')).json()) as Record<string, unknown>[];
    expect(list).toHaveLength(2);
    for (const status of list) expect(keys(status)).toEqual(STATUS_FIELDS);
    expect(list.find((s) => s.instanceId === 'done')).toMatchObject({
      runtimeStatus: 'Completed', input: null, customStatus: 'London', output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'],
    });
    expect(list.find((s) => s.instanceId === 'running')).toMatchObject({ runtimeStatus: 'Running', input: 1, customStatus: null, output: null });
  });
});

describe('the list\'s x-ms-continuation-token header', () => {
  /** The header's value, `undefined` when the response has none (what `GetValues` throws on, `headers[...]` a KeyError). */
  const tokenOf = (response: Response) => response.headers.get('x-ms-continuation-token') ?? undefined;

  it('is on every page, empty on the last one, as the extension sends it (a client that reads it without a check must not fail)', async () => {
    for (const id of ['a', 'b']) {
      await runtime.client.startNew('Echo', { instanceId: id, input: id });
      await runtime.client.waitForCompletion(id, SETTLED);
    }
    // The extension adds the header to every list answer, its value empty when no page follows (its own test reads it
    // so); .NET's `Headers.GetValues` throws and Python's `headers['x-ms-continuation-token']` raises without it.
    expect(tokenOf(await get('/instances'))).toBe('');
    const first = await get('/instances?top=1');
    const token = tokenOf(first);
    expect(token).toMatch(/./);
    const last = await fetch(`${base}/instances?top=1`, { headers: { authorization: `Bearer ${KEY}`, 'x-ms-continuation-token': token! } });
    expect(tokenOf(last)).toBe('');
    expect(((await first.json()) as unknown[]).length + ((await last.json()) as unknown[]).length).toBe(2);
    // A filter that matches no instance, answered without asking the store, too.
    const none = await get('/instances?runtimeStatus=Canceled');
    expect([await none.json(), tokenOf(none)]).toEqual([[], '']);
    // The empty value sent back, as a loop that echoes the header does, asks for the first page.
    const echoed = await fetch(`${base}/instances`, { headers: { authorization: `Bearer ${KEY}`, 'x-ms-continuation-token': '' } });
    expect([((await echoed.json()) as unknown[]).length, tokenOf(echoed)]).toEqual([2, '']);
  });
});

describe('historyEvents', () => {
  it('match the documented hello sequence example field by field (showHistory, showHistoryOutput)', async () => {
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'hello' });
    await runtime.client.waitForCompletion('hello', SETTLED);
    // The reference example shows no inputs; showInput=false hides them, so the events must match it exactly.
    const status = await body('/instances/hello?showHistory=true&showHistoryOutput=true&showInput=false');
    expect(keys(status)).toEqual([...STATUS_FIELDS, 'historyEvents'].sort());
    const events = status.historyEvents as Event[];
    expect(events.map((e) => keys(e))).toEqual([
      ['EventType', 'FunctionName', 'Timestamp'],
      ['EventType', 'FunctionName', 'Result', 'ScheduledTime', 'Timestamp'],
      ['EventType', 'FunctionName', 'Result', 'ScheduledTime', 'Timestamp'],
      ['EventType', 'FunctionName', 'Result', 'ScheduledTime', 'Timestamp'],
      ['EventType', 'OrchestrationStatus', 'Result', 'Timestamp'],
    ]);
    expect(events).toMatchObject([
      { EventType: 'ExecutionStarted', FunctionName: 'E1_HelloSequence' },
      { EventType: 'TaskCompleted', FunctionName: 'E1_SayHello', Result: 'Hello Tokyo!' },
      { EventType: 'TaskCompleted', FunctionName: 'E1_SayHello', Result: 'Hello Seattle!' },
      { EventType: 'TaskCompleted', FunctionName: 'E1_SayHello', Result: 'Hello London!' },
      { EventType: 'ExecutionCompleted', OrchestrationStatus: 'Completed', Result: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'] },
    ]);
    for (const event of events) {
      expect(event.Timestamp).toMatch(HISTORY_TIME);
      if (event.ScheduledTime !== undefined) {
        expect(event.ScheduledTime).toMatch(HISTORY_TIME);
        expect(Date.parse(event.ScheduledTime as string)).toBeLessThanOrEqual(Date.parse(event.Timestamp as string));
      }
    }
    expect(status).toMatchObject({ input: null, output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'], runtimeStatus: 'Completed' });
  });

  it('show Result only with showHistoryOutput, and the inputs unless showInput=false, as the extension does', async () => {
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'hello', input: { trip: 1 } });
    await runtime.client.waitForCompletion('hello', SETTLED);
    const events = (await body('/instances/hello?showHistory=true')).historyEvents as Event[];
    expect(events.some((e) => 'Result' in e)).toBe(false);
    // Inputs are the JSON text the Durable Task history holds; an activity's is the text of [input], as the
    // extension's own test reads it ("[\"Tokyo\"]" with storeInputsInOrchestrationHistory).
    expect(events[0]).toEqual({ EventType: 'ExecutionStarted', FunctionName: 'E1_HelloSequence', Input: '{"trip":1}', Timestamp: expect.any(String) });
    expect(events.filter((e) => e.EventType === 'TaskCompleted').map((e) => e.Input)).toEqual(['["Tokyo"]', '["Seattle"]', '["London"]']);
    expect(await body('/instances/hello')).not.toHaveProperty('historyEvents');
  });

  it('send a missing input as null, and an activity called without one as "[null]"', async () => {
    await runtime.client.startNew('NoInputs', { instanceId: 'none' });
    await runtime.client.waitForCompletion('none', SETTLED);
    const events = (await body('/instances/none?showHistory=true')).historyEvents as Event[];
    expect(events.map((e) => [e.EventType, e.Input])).toEqual([
      ['ExecutionStarted', null], ['TaskCompleted', '[null]'], ['SubOrchestrationInstanceCompleted', null], ['ExecutionCompleted', undefined],
    ]);
  });

  it('fold a failed activity into TaskFailed with its name, schedule time and failure, and end with ExecutionCompleted Failed', async () => {
    await runtime.client.startNew('Fails', { instanceId: 'f' });
    await runtime.client.waitForCompletion('f', SETTLED);
    const events = (await body('/instances/f?showHistory=true&showHistoryOutput=true')).historyEvents as Event[];
    expect(events.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'TaskFailed', 'ExecutionCompleted']);
    const failed = events[1]!;
    expect(keys(failed)).toEqual(['EventType', 'FailureDetails', 'FunctionName', 'Input', 'Reason', 'ScheduledTime', 'Timestamp']);
    expect(failed).toMatchObject({ FunctionName: 'Broken', Input: '["x"]', Reason: 'out of range', FailureDetails: { ErrorType: 'RangeError', ErrorMessage: 'out of range' } });
    expect(failed.FailureDetails).not.toHaveProperty('StackTrace');
    expect(events[2]).toMatchObject({ OrchestrationStatus: 'Failed', Result: expect.stringContaining('out of range') });
  });

  it('show raised events, timers, sub-orchestrations, suspension and termination in the extension field names', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'ev', input: 2 });
    await runtime.client.raiseEvent('ev', 'Item', { a: 1 });
    await until('ev', (s) => (s?.customStatus as { received?: number } | undefined)?.received === 1);
    await runtime.client.suspend('ev', 'pause');
    await until('ev', (s) => s?.runtimeStatus === 'Suspended');
    await runtime.client.resume('ev', 'go');
    await until('ev', (s) => s?.runtimeStatus === 'Running');
    await runtime.client.terminate('ev', 'stop');
    await until('ev', (s) => s?.runtimeStatus === 'Terminated');
    const ev = (await body('/instances/ev?showHistory=true')).historyEvents as Event[];
    expect(ev.find((e) => e.EventType === 'EventRaised')).toEqual({ EventType: 'EventRaised', Name: 'Item', Input: '{"a":1}', Timestamp: expect.any(String) });
    expect(ev.find((e) => e.EventType === 'ExecutionSuspended')).toEqual({ EventType: 'ExecutionSuspended', Reason: 'pause', Timestamp: expect.any(String) });
    expect(ev.find((e) => e.EventType === 'ExecutionResumed')).toEqual({ EventType: 'ExecutionResumed', Reason: 'go', Timestamp: expect.any(String) });
    // The reason itself, not JSON text ('"stop"'): the extension stores a termination reason as it is given.
    expect(ev.find((e) => e.EventType === 'ExecutionTerminated')).toEqual({ EventType: 'ExecutionTerminated', Input: 'stop', Timestamp: expect.any(String) });

    await runtime.client.startNew('Sleeper', { instanceId: 'sleep' });
    await runtime.client.waitForCompletion('sleep', SETTLED);
    const timers = ((await body('/instances/sleep?showHistory=true')).historyEvents as Event[]).filter((e) => String(e.EventType).startsWith('Timer'));
    expect(timers.map((e) => keys(e))).toEqual([['EventType', 'FireAt', 'Timestamp'], ['EventType', 'FireAt', 'Timestamp']]);
    expect(timers[0]!.FireAt).toBe(timers[1]!.FireAt);

    await runtime.client.startNew('Parent', { instanceId: 'p' });
    await runtime.client.waitForCompletion('p', SETTLED);
    const sub = ((await body('/instances/p?showHistory=true&showHistoryOutput=true')).historyEvents as Event[]);
    expect(sub.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'SubOrchestrationInstanceCompleted', 'ExecutionCompleted']);
    expect(sub[1]).toEqual({
      EventType: 'SubOrchestrationInstanceCompleted', FunctionName: 'Echo', Input: '"child input"', Result: 'child input',
      ScheduledTime: expect.stringMatching(HISTORY_TIME), Timestamp: expect.stringMatching(HISTORY_TIME),
    });
  });

  it('show a pending activity input as the text of [input], and pass ContinueAsNew through with its Result as JSON text', () => {
    const at = '2026-11-30T10:15:00.000Z';
    const wire = toWireHistory([
      { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'Loop', instanceId: 'l', executionId: 'e1', input: 1 },
      { type: 'TaskScheduled', eventId: 0, timestamp: at, name: 'Work', input: 'a' },
      { type: 'ContinueAsNew', eventId: -1, timestamp: at, input: { n: 2 }, preserveUnprocessedEvents: false },
    ]);
    // The extension leaves ContinueAsNew untouched: no parsing, and no hiding without showHistoryOutput.
    expect(wire).toEqual([
      { EventType: 'ExecutionStarted', FunctionName: 'Loop', Input: '1', Timestamp: '2026-11-30T10:15:00Z' },
      { EventType: 'TaskScheduled', Name: 'Work', Input: '["a"]', Timestamp: '2026-11-30T10:15:00Z' },
      { EventType: 'ContinueAsNew', OrchestrationStatus: 'ContinuedAsNew', Result: '{"n":2}', Timestamp: '2026-11-30T10:15:00Z' },
    ]);
  });

  it('hide ContinueAsNew\'s Result (the new input) with showInput=false, as every other input', () => {
    const at = '2026-11-30T10:15:00.000Z';
    const wire = toWireHistory([
      { type: 'ExecutionStarted', eventId: -1, timestamp: at, name: 'Loop', instanceId: 'l', executionId: 'e1', input: 1 },
      { type: 'ContinueAsNew', eventId: -1, timestamp: at, input: { secret: 2 }, preserveUnprocessedEvents: false },
    ], { showInput: false, showHistoryOutput: true });
    expect(wire).toEqual([
      { EventType: 'ExecutionStarted', FunctionName: 'Loop', Timestamp: '2026-11-30T10:15:00Z' },
      { EventType: 'ContinueAsNew', OrchestrationStatus: 'ContinuedAsNew', Timestamp: '2026-11-30T10:15:00Z' },
    ]);
  });

  it('put the start of an execution suspended before it started first, its suspends and resumes after it in time order', () => {
    const started = '2026-11-30T10:15:00.000Z';
    const step = '2026-11-30T10:15:09.000Z'; // the worker took the start in after the client's suspend and resume
    const wire = toWireHistory([
      { type: 'OrchestratorStarted', eventId: -1, timestamp: step },
      { type: 'ExecutionSuspended', eventId: -1, timestamp: '2026-11-30T10:15:01.000Z', reason: 'hold' },
      { type: 'ExecutionResumed', eventId: -1, timestamp: '2026-11-30T10:15:02.000Z' },
      { type: 'ExecutionSuspended', eventId: -1, timestamp: '2026-11-30T10:15:03.000Z', reason: 'again' },
      { type: 'ExecutionStarted', eventId: -1, timestamp: started, name: 'Hold', instanceId: 'h', executionId: 'e1', input: 1 },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: step },
      { type: 'OrchestratorStarted', eventId: -1, timestamp: '2026-11-30T10:15:10.000Z' },
      { type: 'ExecutionResumed', eventId: -1, timestamp: '2026-11-30T10:15:10.000Z' },
      { type: 'TaskScheduled', eventId: 0, timestamp: '2026-11-30T10:15:10.000Z', name: 'Work', input: 'a' },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: '2026-11-30T10:15:10.000Z' },
    ]);
    // Durable Functions clients read the orchestrator's name and input from the first event.
    expect(wire).toEqual([
      { EventType: 'ExecutionStarted', FunctionName: 'Hold', Input: '1', Timestamp: '2026-11-30T10:15:00Z' },
      { EventType: 'ExecutionSuspended', Reason: 'hold', Timestamp: '2026-11-30T10:15:01Z' },
      { EventType: 'ExecutionResumed', Timestamp: '2026-11-30T10:15:02Z' },
      { EventType: 'ExecutionSuspended', Reason: 'again', Timestamp: '2026-11-30T10:15:03Z' },
      { EventType: 'ExecutionResumed', Timestamp: '2026-11-30T10:15:10Z' },
      { EventType: 'TaskScheduled', Name: 'Work', Input: '["a"]', Timestamp: '2026-11-30T10:15:10Z' },
    ]);
    // A first step whose terminate came first: the start first all the same, as Durable Task orders a batch, and the
    // execution completed Terminated at the end of that step.
    const ended = toWireHistory([
      { type: 'OrchestratorStarted', eventId: -1, timestamp: step },
      { type: 'ExecutionTerminated', eventId: -1, timestamp: step, reason: 'stop' },
      { type: 'ExecutionSuspended', eventId: -1, timestamp: step },
      { type: 'ExecutionStarted', eventId: -1, timestamp: started, name: 'Hold', instanceId: 'h', executionId: 'e1' },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: step },
    ]);
    expect(ended.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'ExecutionTerminated', 'ExecutionSuspended', 'ExecutionCompleted']);
  });

  it('end a terminated execution as Durable Task does: ExecutionTerminated, then ExecutionCompleted with OrchestrationStatus Terminated', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'end', input: 2 });
    await until('end', (s) => s?.runtimeStatus === 'Running');
    await runtime.client.raiseEvent('end', 'Item', 'a');
    await until('end', (s) => (s?.customStatus as { received?: number } | undefined)?.received === 1);
    await runtime.client.terminate('end', 'stop');
    await until('end', (s) => s?.runtimeStatus === 'Terminated');
    const events = (await body('/instances/end?showHistory=true&showHistoryOutput=true')).historyEvents as Event[];
    expect(events.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'EventRaised', 'ExecutionTerminated', 'ExecutionCompleted']);
    expect(events[2]).toEqual({ EventType: 'ExecutionTerminated', Input: 'stop', Timestamp: expect.stringMatching(HISTORY_TIME) });
    // The reason is its Result, as the status output (shown only with showHistoryOutput, as every result).
    expect(events[3]).toEqual({ EventType: 'ExecutionCompleted', OrchestrationStatus: 'Terminated', Result: 'stop', Timestamp: expect.stringMatching(HISTORY_TIME) });
    expect(Date.parse(events[3]!.Timestamp as string)).toBeGreaterThanOrEqual(Date.parse(events[2]!.Timestamp as string));
    const hidden = (await body('/instances/end?showHistory=true')).historyEvents as Event[];
    expect(hidden[3]).toEqual({ EventType: 'ExecutionCompleted', OrchestrationStatus: 'Terminated', Timestamp: events[3]!.Timestamp });
    // The stored history is not changed: it holds no such completion.
    expect((await runtime.client.getStatus('end', { showHistory: true }))?.history?.some((e) => e.type === 'ExecutionCompleted')).toBe(false);
  });

  it('end with the completion, as a Durable Task history does: what reached the instance after the step that ended it is not shown', () => {
    const at = (s: number) => `2026-11-30T10:15:${String(s).padStart(2, '0')}.000Z`;
    const wire = toWireHistory([
      { type: 'OrchestratorStarted', eventId: -1, timestamp: at(0) },
      { type: 'ExecutionStarted', eventId: -1, timestamp: at(0), name: 'Work', instanceId: 'w', executionId: 'e1' },
      { type: 'TaskScheduled', eventId: 0, timestamp: at(0), name: 'Slow' },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: at(0) },
      { type: 'OrchestratorStarted', eventId: -1, timestamp: at(1) },
      { type: 'ExecutionTerminated', eventId: -1, timestamp: at(1), reason: 'stop' },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: at(1) },
      // Recorded after the termination and ignored: Durable Task discards a message that reaches an ended instance.
      { type: 'TaskCompleted', eventId: -1, timestamp: at(2), taskScheduledId: 0, result: 'late' },
      { type: 'TimerFired', eventId: -1, timestamp: at(3), timerId: 1, fireAt: at(3) },
    ], { showHistoryOutput: true });
    expect(wire).toEqual([
      { EventType: 'ExecutionStarted', FunctionName: 'Work', Input: null, Timestamp: '2026-11-30T10:15:00Z' },
      { EventType: 'TaskScheduled', Name: 'Slow', Input: '[null]', Timestamp: '2026-11-30T10:15:00Z' },
      { EventType: 'ExecutionTerminated', Input: 'stop', Timestamp: '2026-11-30T10:15:01Z' },
      { EventType: 'ExecutionCompleted', OrchestrationStatus: 'Terminated', Result: 'stop', Timestamp: '2026-11-30T10:15:01Z' },
    ]);

    // A step whose orchestrator returned before the last events of its batch: Durable Task completes the execution
    // after the batch, so those events come before the completion; a late event after the step is not shown.
    const completed = toWireHistory([
      { type: 'OrchestratorStarted', eventId: -1, timestamp: at(0) },
      { type: 'ExecutionStarted', eventId: -1, timestamp: at(0), name: 'Race', instanceId: 'r', executionId: 'e1' },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: at(0) },
      { type: 'OrchestratorStarted', eventId: -1, timestamp: at(1) },
      { type: 'EventRaised', eventId: -1, timestamp: at(1), name: 'A', input: 1 },
      { type: 'ExecutionCompleted', eventId: -1, timestamp: at(1), orchestrationStatus: 'Completed', result: 1 },
      { type: 'EventRaised', eventId: -1, timestamp: at(1), name: 'B', input: 2 },
      { type: 'OrchestratorCompleted', eventId: -1, timestamp: at(1) },
      { type: 'EventRaised', eventId: -1, timestamp: at(2), name: 'C', input: 3 },
    ]);
    expect(completed.map((e) => [e.EventType, e.Name])).toEqual([
      ['ExecutionStarted', undefined], ['EventRaised', 'A'], ['EventRaised', 'B'], ['ExecutionCompleted', undefined],
    ]);
  });

  it('show a late result of a terminated instance in the native history only', async () => {
    const held = heldActivity();
    const { runtime: late, base: lateBase } = await serving.open({
      orchestrators: { Slow: function* (ctx) { return yield ctx.callActivity('Held'); } },
      activities: { Held: held.activity },
    });
    await late.client.startNew('Slow', { instanceId: 'slow' });
    await held.running;
    await late.client.terminate('slow', 'stop');
    const native = firstValueFrom(late.client.history$('slow').pipe(filter((e) => e.type === 'TaskCompleted')));
    held.finish('too late');
    expect(await native).toMatchObject({ type: 'TaskCompleted', result: 'too late' });
    const read = async (query: string) => (await fetch(`${lateBase}/instances/slow?${query}`, { headers: { authorization: `Bearer ${KEY}` } })).json();
    const wire = (await read('showHistory=true&showHistoryOutput=true') as { historyEvents: Event[] }).historyEvents;
    expect(wire.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'TaskScheduled', 'ExecutionTerminated', 'ExecutionCompleted']);
    expect(wire.at(-1)).toMatchObject({ OrchestrationStatus: 'Terminated', Result: 'stop' });
    // Kept where durable-rx's own readers look: the native history.
    const kept = (await read('showHistory=true&format=native') as { history: { type: string }[] }).history;
    expect(kept.at(-1)).toMatchObject({ type: 'TaskCompleted' });
  });

  it('begin with ExecutionStarted for an instance terminated before it started, and keep it first once a worker records its start', async () => {
    const store = new MemoryStore();
    const alone = await serve(createHttpHandler(createClient({ store }), { key: KEY, logger: silentLogger }), { port: 0 });
    try {
      const url = `${alone.url}${WEBHOOK_PATH}`;
      const headers = { authorization: `Bearer ${KEY}` };
      const history = async (id: string): Promise<Event[]> => (
        (await (await fetch(`${url}/instances/${id}?showHistory=true&showHistoryOutput=true`, { headers })).json()) as { historyEvents: Event[] }
      ).historyEvents;
      // No worker anywhere: the terminate is committed ahead of the start, which stays queued.
      const pending = await fetch(`${url}/orchestrators/WaitForEvents/pend`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"n":1}' });
      expect(pending.status).toBe(202);
      // One that would start in an hour (durable-rx's startAt), terminated before it ran.
      const later = new Date(Date.now() + 3_600_000).toISOString();
      expect((await fetch(`${url}/orchestrators/WaitForEvents/later?startAt=${later}`, { method: 'POST', headers })).status).toBe(202);
      for (const id of ['pend', 'later']) {
        expect((await fetch(`${url}/instances/${id}/terminate?reason=stop`, { method: 'POST', headers })).status).toBe(202);
      }
      const created = (await fetch(`${url}/instances/pend`, { headers }).then((r) => r.json()) as { createdTime: string }).createdTime;
      const expected = [
        { EventType: 'ExecutionStarted', FunctionName: 'WaitForEvents', Input: '{"n":1}', Timestamp: expect.stringMatching(HISTORY_TIME) },
        { EventType: 'ExecutionTerminated', Input: 'stop', Timestamp: expect.stringMatching(HISTORY_TIME) },
        { EventType: 'ExecutionCompleted', OrchestrationStatus: 'Terminated', Result: 'stop', Timestamp: expect.stringMatching(HISTORY_TIME) },
      ];
      const before = await history('pend');
      expect(before).toEqual(expected);
      // The start's time is when it was asked for (the status's createdTime, to the second there).
      expect(String(before[0]!.Timestamp).slice(0, 19)).toBe(created.slice(0, 19));
      expect((await history('later')).map((e) => e.EventType)).toEqual(['ExecutionStarted', 'ExecutionTerminated', 'ExecutionCompleted']);
      // The start made from the instance hides its input with showInput=false, as a recorded start does.
      const hidden = (await (await fetch(`${url}/instances/pend?showHistory=true&showInput=false`, { headers })).json()) as { historyEvents: Event[] };
      expect(hidden.historyEvents).toEqual([
        { EventType: 'ExecutionStarted', FunctionName: 'WaitForEvents', Timestamp: before[0]!.Timestamp },
        { EventType: 'ExecutionTerminated', Timestamp: before[1]!.Timestamp },
        { EventType: 'ExecutionCompleted', OrchestrationStatus: 'Terminated', Timestamp: before[2]!.Timestamp },
      ]);

      // A worker takes the queued start later: recorded after the termination and ignored, shown first all the same.
      const worker = createRuntime({ store, logger: silentLogger, orchestrators: { WaitForEvents: waitForEvents } });
      await worker.start();
      try {
        await vi.waitFor(async () => {
          expect((await worker.client.getStatus('pend', { showHistory: true }))?.history?.map((e) => e.type)).toContain('ExecutionStarted');
        }, { timeout: SETTLED.timeoutMs, interval: 20 });
      } finally {
        await worker.stop();
      }
      const after = await history('pend');
      expect(after).toEqual(expected);
      expect(after[0]!.Timestamp).toBe(before[0]!.Timestamp);
    } finally {
      await alone.close();
      await store.close();
    }
  });

  it('time the start made for a continueAsNew execution terminated before it started when the continueAsNew sent it, as a worker later records it', () => {
    // The first execution continues as new; no worker takes the next one's start before a client terminates it.
    const { step, newId, newExecution } = continuedAsNew();
    expect(step.state.runtimeStatus).toBe('ContinuedAsNew');
    const next = step.writeSet.requests.flatMap((r) => (r.type === 'insertMessage' && r.message.event.type === 'ExecutionStarted' ? [r.message] : []));
    expect(next).toHaveLength(1);
    const stop = decideTerminate({ state: step.state, event: { type: 'ExecutionTerminated', eventId: -1, timestamp: terminatedAt.toISOString(), reason: 'stop' }, now: terminatedAt, newId });
    if (stop.kind !== 'commit') throw new Error('expected a commit');
    const appended = (decision: { writeSet: { requests: readonly WriteRequest[] } }) => decision.writeSet.requests.flatMap((r) => (r.type === 'appendHistory' ? r.events : []));
    const history = appended(stop);
    const status = { ...toInstanceStatus(stop.state), history };
    const before = toWireStatus(status, { showHistoryOutput: true }).historyEvents!;
    expect(before.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'ExecutionTerminated', 'ExecutionCompleted']);
    // When the continueAsNew sent the start, not the instance's first createdTime, which a continueAsNew leaves.
    expect(before[0]).toEqual({ EventType: 'ExecutionStarted', FunctionName: 'Again', Input: '2', Timestamp: '2026-11-30T10:05:00Z' });

    // A worker takes the queued start later: recorded and ignored, shown first, with the time shown before.
    const late = decideStep({ state: stop.state, messages: next, leaseToken: 'l', now: new Date('2026-11-30T10:20:00.000Z'), newId, newExecution, history });
    if (late.kind !== 'commit') throw new Error('expected a commit');
    const after = toWireStatus({ ...toInstanceStatus(late.state), history: [...history, ...appended(late)] }, { showHistoryOutput: true }).historyEvents!;
    expect(after).toEqual(before);
  });

  it('time the start of a continueAsNew execution a worker terminated before its start, claimed alone, when the continueAsNew sent it', () => {
    const { step, newId, newExecution } = continuedAsNew();
    // A terminate sent as a message while the continueAsNew step was in flight is queued ahead of the next start; a
    // claim of one message at a time (MongoStore's maxMessagesPerClaim) hands it to a worker alone.
    const terminate: OrchestrationMessage = {
      id: 'stop', instanceId: 'can', event: { type: 'ExecutionTerminated', eventId: -1, timestamp: terminatedAt.toISOString(), reason: 'stop' },
    };
    const stop = decideStep({ state: step.state, messages: [terminate], leaseToken: 'l', now: terminatedAt, newId, newExecution, history: [] });
    if (stop.kind !== 'commit') throw new Error('expected a commit');
    const history = stop.writeSet.requests.flatMap((r) => (r.type === 'appendHistory' ? r.events : []));
    const events = toWireStatus({ ...toInstanceStatus(stop.state), history }, { showHistoryOutput: true }).historyEvents!;
    expect(events.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'ExecutionTerminated', 'ExecutionCompleted']);
    // When the continueAsNew sent the start (before, the instance's first createdTime, until a claim recorded the start).
    expect(events[0]).toEqual({ EventType: 'ExecutionStarted', FunctionName: 'Again', Input: '2', Timestamp: '2026-11-30T10:05:00Z' });
  });

  it('keep work still pending as its scheduling event', async () => {
    await runtime.client.startNew('ReserveTicket', { instanceId: 'rt', input: 'user-1' });
    await until('rt', (s) => s?.customStatus !== undefined);
    const events = (await body('/instances/rt?showHistory=true&showHistoryOutput=true')).historyEvents as Event[];
    expect(events.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'TaskCompleted']);
    expect(events[1]).toMatchObject({ FunctionName: 'CalculateDiscount', Input: '["user-1"]', Result: expect.any(Number) });
  });
});

describe('check-status bodies', () => {
  it('carry the documented management URLs, Location and Retry-After', async () => {
    const response = await fetch(`${base}/orchestrators/E1_HelloSequence/abc?code=${KEY}`, { method: 'POST' });
    expect(response.status).toBe(202);
    const payload = (await response.json()) as Record<string, string>;
    const instance = `${base}/instances/abc`;
    const code = `code=${KEY}`;
    // The reference's URLs, without taskHub and connection (one store per handler; see docs/http-api.md).
    expect(payload).toEqual({
      id: 'abc',
      statusQueryGetUri: `${instance}?${code}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}?${code}`,
      terminatePostUri: `${instance}/terminate?reason={text}&${code}`,
      rewindPostUri: `${instance}/rewind?reason={text}&${code}`,
      purgeHistoryDeleteUri: `${instance}?${code}`,
      restartPostUri: `${instance}/restart?${code}`,
      suspendPostUri: `${instance}/suspend?reason={text}&${code}`,
      resumePostUri: `${instance}/resume?reason={text}&${code}`,
    });
    expect(response.headers.get('location')).toBe(payload.statusQueryGetUri);
    expect(response.headers.get('retry-after')).toBe('10');
    expect(response.headers.get('content-type')).toContain('application/json');
  });
});

describe('empty answers', () => {
  it('say Content-Length: 0, as the extension sends its 202s, not a chunked body of no chunks', async () => {
    const post = (path: string) => fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` } });
    const empty = async (response: Promise<Response>) => {
      const answer = await response;
      return [answer.status, answer.headers.get('content-length'), answer.headers.get('transfer-encoding'), await answer.text()];
    };
    await runtime.client.startNew('WaitForEvents', { instanceId: 'e', input: 2 });
    await until('e', (s) => s?.runtimeStatus === 'Running');
    await runtime.client.startNew('WaitForEvents', { instanceId: 'ec', input: 1 });
    await runtime.client.startNew('Fails', { instanceId: 'ef' });
    await runtime.client.waitForCompletion('ef', SETTLED);
    const answers = [
      await empty(post('/instances/e/raiseEvent/Item')),
      await empty(post('/instances/e/suspend?reason=a')),
      await empty(post('/instances/e/resume?reason=b')),
      await empty(post('/instances/e/terminate?reason=c')),
      await empty(post('/instances/ec/cancel?reason=d')),
      await empty(post('/instances/ef/rewind?reason=e')),
    ];
    expect(answers).toEqual(Array.from({ length: 6 }, () => [202, '0', null, '']));
  });
});

describe('error bodies', () => {
  it('carry ExceptionMessage, which the Python client raises when a start is refused with 400', async () => {
    const response = await fetch(`${base}/orchestrators/NoSuchOrchestrator?code=${KEY}`, { method: 'POST' });
    expect(response.status).toBe(400);
    const error = (await response.json()) as Record<string, unknown>;
    expect(error).toEqual({ code: 'invalid-argument', message: expect.stringContaining('NoSuchOrchestrator'), ExceptionMessage: error.message });
  });
});

describe('JSON response bodies', () => {
  /**
   * Reads a body as Windows PowerShell 5.1's Invoke-RestMethod does: by the `charset` of its `Content-Type`, and as
   * ISO-8859-1 when there is none (PowerShell/PowerShell#20488), which turns UTF-8 text into mojibake. The extension
   * sends `application/json; charset=utf-8`, so such a script reads Durable Functions' bodies as sent.
   */
  async function readAsWindowsPowerShell(response: Response): Promise<unknown> {
    const charset = /;\s*charset="?([^";\s]+)/i.exec(response.headers.get('content-type') ?? '')?.[1] ?? 'iso-8859-1';
    return JSON.parse(new TextDecoder(charset).decode(await response.arrayBuffer())) as unknown;
  }

  it('declare charset=utf-8, as the extension does, so a client that defaults to ISO-8859-1 reads text beyond ASCII as sent', async () => {
    const text = 'Café ✓ 東京';
    const call = (path: string, method = 'GET', input?: unknown) => fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(input === undefined ? {} : { body: JSON.stringify(input) }),
    });
    const started = await call('/orchestrators/Echo/é1', 'POST', text); // check-status body, 202
    expect(started.status).toBe(202);
    expect(await readAsWindowsPowerShell(started)).toMatchObject({ id: 'é1' });
    expect((await runtime.client.waitForCompletion('é1', SETTLED)).runtimeStatus).toBe('Completed');
    expect(await readAsWindowsPowerShell(await call('/instances/é1'))).toMatchObject({ input: text, output: text }); // 200
    await runtime.client.startNew('WaitForEvents', { instanceId: 'é2', input: 1 });
    await until('é2', (s) => s?.runtimeStatus === 'Running');
    const running = await call('/instances/é2'); // 202
    expect(running.status).toBe(202);
    expect(await readAsWindowsPowerShell(running)).toMatchObject({ instanceId: 'é2' });
    expect(await readAsWindowsPowerShell(await call('/instances?instanceIdPrefix=é1'))).toMatchObject([{ input: text }]); // list
    const waited = await call('/orchestrators/Echo/é3?timeout=60', 'POST', text); // completion body, 200
    expect([waited.status, await readAsWindowsPowerShell(waited)]).toEqual([200, text]);
    const missing = await call('/instances/ünbekannt'); // error body, 404
    expect(missing.status).toBe(404);
    expect(await readAsWindowsPowerShell(missing)).toMatchObject({ message: expect.stringContaining('ünbekannt') });
    const purged = await call('/instances/é1', 'DELETE');
    expect(purged.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });
});
