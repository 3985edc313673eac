import { describe, expect, it, vi } from 'vitest';
import * as withLookupGetter from '../src/model/frozen.js';
import type { Orchestration, OrchestrationContext } from '../src/engine/orchestration-context.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { ActivityTask, OrchestrationMessage } from '../src/model/message.js';

type Frozen = typeof withLookupGetter;

/** The module as an engine without Annex B's `__lookupGetter__` loads it. */
async function withoutLookupGetter(): Promise<Frozen> {
  return (await loadedWithoutLookupGetter(() => import('../src/model/frozen.js')))[0];
}

/**
 * Modules loaded afresh as an engine without Annex B's `__lookupGetter__` loads them, with `frozen.js` of the same load:
 * there `isDeepFrozen` is true of an object with members only when it was frozen as built (`freezeBuilt`), so it tells
 * what a store keeps without a walk.
 */
async function loadedWithoutLookupGetter<T>(load: () => Promise<T>): Promise<[Frozen, T]> {
  const proto = Object.prototype as { __lookupGetter__?: unknown };
  const original = Object.getOwnPropertyDescriptor(proto, '__lookupGetter__')!;
  vi.resetModules();
  delete proto.__lookupGetter__;
  try {
    expect(proto.__lookupGetter__).toBeUndefined();
    return [await import('../src/model/frozen.js'), await load()];
  } finally {
    Object.defineProperty(proto, '__lookupGetter__', original);
  }
}

const frozenWithGetter = (read: () => unknown) => Object.freeze(Object.defineProperty({}, 'city', { enumerable: true, get: read }));

describe.each([
  ['with __lookupGetter__', async () => withLookupGetter],
  ['on an engine without __lookupGetter__', withoutLookupGetter],
] as const)('isDeepFrozen %s', (name, load) => {
  // Without __lookupGetter__ no member can be told from a getter without a descriptor per member: every object or
  // array with a member counts as one that may change, so MemoryStore copies it (correct, as for a value not frozen).
  const walks = name === 'with __lookupGetter__';

  it('is true of primitives and empty frozen values, and of plain values frozen all the way down where it can tell', async () => {
    const { deepFreeze, isDeepFrozen } = await load();
    for (const value of [undefined, null, 1, 'a', true, Object.freeze({}), Object.freeze([])]) expect(isDeepFrozen(value)).toBe(true);
    expect(isDeepFrozen(deepFreeze({ a: [1, { b: 'c' }], d: Object.create(null) as object }))).toBe(walks);
    expect(isDeepFrozen(Object.freeze(Object.defineProperty({}, 'onlySet', { enumerable: true, set: () => undefined })))).toBe(walks);
  });

  it('is false of what can still change: an unfrozen member, a class instance, a getter, whose getter it never calls', async () => {
    const { isDeepFrozen } = await load();
    expect(isDeepFrozen({})).toBe(false);
    expect(isDeepFrozen(Object.freeze({ a: { b: 1 } }))).toBe(false);
    expect(isDeepFrozen(Object.freeze([Object.freeze(new Date(0))]))).toBe(false);
    let reads = 0;
    const read = () => ++reads;
    expect(isDeepFrozen(frozenWithGetter(read))).toBe(false);
    expect(isDeepFrozen(Object.freeze([Object.freeze(Object.defineProperty([], 0, { enumerable: true, get: read }))]))).toBe(false);
    expect(isDeepFrozen(Object.freeze(Object.defineProperty({}, '', { enumerable: true, get: read })))).toBe(false);
    expect(reads).toBe(0);
  });

  it('is false of an object whose prototype has an enumerable getter (polluted), without calling it', async () => {
    const { isDeepFrozen } = await load();
    const value = Object.freeze({ a: 1 });
    let reads = 0;
    let frozen: boolean;
    // Only the check runs while the prototype is polluted (anything else that copies objects would trip over it).
    Object.defineProperty(Object.prototype, 'polluted', { enumerable: true, configurable: true, get: () => ++reads });
    try {
      frozen = isDeepFrozen(value);
    } finally {
      delete (Object.prototype as { polluted?: unknown }).polluted;
    }
    expect(frozen).toBe(false);
    expect(reads).toBe(0);
  });
});

describe.each([
  ['with __lookupGetter__', async () => withLookupGetter],
  ['on an engine without __lookupGetter__', withoutLookupGetter],
] as const)('freezeBuilt %s', (_name, load) => {
  it('freezes a value all the way down, and isDeepFrozen takes it as it is, even where it cannot walk one', async () => {
    const { freezeBuilt, deepFreeze, isDeepFrozen } = await load();
    const message = freezeBuilt({ id: 'm', instanceId: 'i', event: { type: 'EventRaised', name: 'go', input: { items: [1, { a: 'b' }] } } });
    expect(Object.isFrozen(message) && Object.isFrozen(message.event) && Object.isFrozen(message.event.input.items[1])).toBe(true);
    expect(isDeepFrozen(message)).toBe(true);
    // Its copies are not marked: a deep-frozen copy is walked as any other value.
    const copy = deepFreeze(structuredClone(message));
    expect(isDeepFrozen(copy)).toBe(isDeepFrozen(deepFreeze({ a: [1] })));
  });

  it('leaves no trace a reader can see: no key or symbol, and equal to the same literal', async () => {
    const { freezeBuilt } = await load();
    const value = freezeBuilt({ a: 1, b: [2] });
    expect(Reflect.ownKeys(value)).toEqual(['a', 'b']);
    expect(value).toStrictEqual({ a: 1, b: [2] });
    expect(structuredClone(value)).toStrictEqual({ a: 1, b: [2] });
    expect(JSON.stringify(value)).toBe('{"a":1,"b":[2]}');
  });
});

describe('the events a step records', () => {
  const T0 = new Date('2026-01-01T00:00:00.000Z');

  /** The events the steps of an instance append that the engine made (not the messages' events it consumed). */
  async function recorded(activityInput: unknown, output: unknown) {
    const [{ isDeepFrozen }, [{ decideStart, decideStep }, { OrchestrationExecution }]] = await loadedWithoutLookupGetter(
      () => Promise.all([import('../src/engine/decide-step.js'), import('../src/engine/orchestration-execution.js')]),
    );
    const orchestrator = function* (ctx: OrchestrationContext): Orchestration {
      yield ctx.callActivity('Act', activityInput);
      return output;
    };
    let n = 0;
    const newId = () => `id-${n++}`;
    const [create] = decideStart({ instanceId: 'i', name: 'O', input: undefined, now: T0, newId }).requests;
    if (create?.type !== 'createInstance') throw new Error('expected a create');
    const events: HistoryEvent[] = [];
    const tasks: ActivityTask[] = [];
    let state = create.state;
    let cached: InstanceType<typeof OrchestrationExecution> | undefined;
    const step = (message: OrchestrationMessage) => {
      const decision = decideStep({
        state, messages: [message], leaseToken: 'lease', now: T0, newId, cached,
        newExecution: () => new OrchestrationExecution(orchestrator, { customStatusLimitBytes: 16_384 }),
      });
      if (decision.kind !== 'commit') throw new Error('expected a commit');
      for (const request of decision.writeSet.requests) {
        if (request.type === 'appendHistory') events.push(...request.events.filter((e) => e !== message.event));
        if (request.type === 'insertTask') tasks.push(request.task);
      }
      ({ state, execution: cached } = decision);
    };
    step(create.message);
    step({ id: 'r', instanceId: 'i', executionId: state.executionId, event: { type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'done' } });
    return { events, tasks, isDeepFrozen };
  }

  it('are frozen as built when they hold no object, so MemoryStore keeps them without a walk or a copy', async () => {
    const { events, isDeepFrozen } = await recorded('Tokyo', 3);
    expect(events.map((e) => e.type)).toEqual([
      'OrchestratorStarted', 'TaskScheduled', 'OrchestratorCompleted', 'OrchestratorStarted', 'ExecutionCompleted', 'OrchestratorCompleted',
    ]);
    for (const event of events) expect([event.type, isDeepFrozen(event)]).toEqual([event.type, true]);
  });

  it('leave an object payload unfrozen: the activity gets the same input, the state the same output', async () => {
    const { events, tasks } = await recorded({ city: 'Tokyo' }, { greetings: ['Hello'] });
    const scheduled = events.find((e) => e.type === 'TaskScheduled');
    const completed = events.find((e) => e.type === 'ExecutionCompleted');
    expect(Object.isFrozen(scheduled) || Object.isFrozen(completed)).toBe(false);
    expect(Object.isFrozen(tasks[0]!.input)).toBe(false);
  });
});
