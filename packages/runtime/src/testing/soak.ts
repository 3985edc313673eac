import { createClient } from '../client/create-client.js';
import type { DurableClient } from '../client/durable-client.js';
import type { Activity, ActivityContext, Orchestrator } from '../engine/orchestration-context.js';
import { Task } from '../engine/task.js';
import { isDurableError } from '../model/errors/durable-error.js';
import { UnavailableError } from '../model/errors/unavailable-error.js';
import type { HistoryEvent } from '../model/history-event.js';
import { isTerminalStatus, type InstanceState, type OrchestrationRuntimeStatus } from '../model/instance-status.js';
import type { Store } from '../store/store.js';
import { createRuntime, type Runtime } from '../runtime/create-runtime.js';
import type { Logger } from '../env/logger.js';
import { FaultInjector, InjectedFaultError, seededRandom, type FaultCounts, type FaultRates, type FaultyStore } from './fault-injection.js';
import { sampleActivities, sampleOrchestrators, sayHello } from './samples.js';
import { VirtualClock } from './virtual-clock.js';

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Decides every fault, delay, crash and input of the run. */
  readonly seed: number;
  /** A fresh, empty store. The soak does not close it. */
  readonly store: Store;
  /** Inject faults (default true); `false` gives a fault-free run, in which every activity must run exactly once. */
  readonly faults?: boolean;
  /** Per-call fault probabilities for the workers' store calls. */
  readonly rates?: Partial<FaultRates>;
  /** Probability per round that a runtime crashes and a new one starts on the same store. Default 0.03 with faults. */
  readonly crashRate?: number;
  /** Rounds (driver actions, then a random advance of the virtual clock) before the run gives up. Default 3000. */
  readonly maxRounds?: number;
  /**
   * Add the scenarios that combine features under faults (default false; the CI seeds with faults run without them): continueAsNew
   * with preserveUnprocessedEvents across suspend/resume, events raised before their wait and out of order, a
   * terminate racing an instance's activity results, restart of a terminated instance, purge of an ended instance
   * while others run and a new start of its id, a failed sub-orchestration rewound with its parent, an event racing
   * a timer, a parent terminated and purged while its sub-orchestrations run, a continueAsNew loop terminated between
   * its executions (on its own, and as a sub-orchestration). The commands that race an instance's own progress wait a
   * number of rounds drawn from the seed first, so that either side may come first ({@link SoakReport.races}).
   */
  readonly extended?: boolean;
}

/** What a soak run did and found. */
export interface SoakReport {
  readonly seed: number;
  /** The workload that ran: the extended scenarios too ({@link SoakOptions.extended}), or the core ones only. */
  readonly extended: boolean;
  readonly faults: FaultCounts;
  /** Instances created, sub-orchestrations included. */
  readonly instances: number;
  /** Activity invocations. */
  readonly activityRuns: number;
  /** Driver rounds until every instance was terminal. */
  readonly rounds: number;
  /** Virtual time the run took, in ms. */
  readonly virtualMs: number;
  /**
   * Store calls a worker abandoned at their bound (an `UnavailableError`). The virtual clock jumps while real store I/O is
   * in flight, so a call can outlast its bound in virtual time with no fault injected: counted, not a problem. What
   * such a call leaves behind is checked like everything else (without faults, each activity still runs exactly once).
   */
  readonly boundTimeouts: number;
  /**
   * How each race of the extended workload went, by race (none for the core workload). Each is a driver's command
   * against the instance's own progress, sent after a number of rounds drawn from the seed, so that both sides come
   * first in some runs on every store:
   *
   * - `busy`: a terminate against the instance's activity results and retry timers (`terminate` or `completion`);
   * - `deadline`: an event against a timer in `Task.any` (`event` or `timer`);
   * - `gone`: the same, seen before the instance is purged (`event` or `timer`);
   * - `orphan`: a terminate against a parent's sub-orchestrations (`terminate` or `completion`), seen before the purge.
   */
  readonly races: Readonly<Record<string, SoakRace>>;
  /** Every broken promise found; empty when the run passed. */
  readonly problems: readonly string[];
}

/**
 * How one race of a soak run went ({@link SoakReport.races}).
 *
 * @example
 * ```ts
 * import { MemoryStore } from '@durable-rx/runtime';
 * import { runSoak } from '@durable-rx/runtime/testing';
 *
 * const report = await runSoak({ seed: 1, store: new MemoryStore(), extended: true });
 * console.log(report.races['busy']); // e.g. { delayRounds: 16, first: 'completion' }
 * ```
 */
export interface SoakRace {
  /** Driver rounds the racing command waited, once the instance existed, before it was sent (drawn from the seed). */
  readonly delayRounds: number;
  /** The side that came first; absent when the run never saw the race end (a run that failed). */
  readonly first?: string;
}

/**
 * The races of the extended workload ({@link SoakReport.races}) with their two sides: the command's first, the
 * instance's second.
 */
export const SOAK_RACES = {
  busy: ['terminate', 'completion'],
  deadline: ['event', 'timer'],
  gone: ['event', 'timer'],
  orphan: ['terminate', 'completion'],
} as const satisfies Record<string, readonly [string, string]>;

type RaceName = keyof typeof SOAK_RACES;

/**
 * The most rounds a racing command waits (it waits 0 to this many, evenly drawn). The instance's side comes first
 * from about 3 rounds on MemoryStore, 12 to 18 on DexieStore and KeyvalStore over fake-indexeddb, and from about 13
 * on every store for the deadline's 20 s timer (a round advances the clock by 1.5 s on average): with 30, each side
 * comes first in a quarter to three quarters of the runs on each of these stores.
 */
const RACE_DELAY_ROUNDS = 30;

/** A race in progress: its delay, and the side that came first once the driver saw it end. */
interface RaceEntry {
  delayRounds: number;
  first?: string;
}

/** How a race's instance ended says which side came first. */
interface RaceEnd {
  readonly name: RaceName;
  readonly first: (state: Pick<InstanceState, 'runtimeStatus' | 'output'>) => string;
}

/** How an instance may end: a status and output, or purged (no state, no history). */
interface Outcome {
  readonly status: OrchestrationRuntimeStatus | 'Purged';
  readonly output?: unknown;
}

/** A client command of a scenario; `'wait'` when it cannot be sent yet (a status it waits for), to try in a later round. */
type Command = (client: DurableClient) => Promise<void | 'wait'>;

/** One orchestration the soak starts, with what the driver does to it and what it must end as. */
interface Scenario {
  readonly instanceId: string;
  readonly name: string;
  readonly input?: unknown;
  /** Client commands in order, one per round once the instance exists. */
  readonly commands: readonly Command[];
  /** The ends its commands allow, read once every command was sent (a command's answer may narrow them). */
  readonly outcomes: () => readonly Outcome[];
  /** Sub-orchestrations it creates and how they end. */
  readonly children: readonly {
    readonly instanceId: string;
    readonly output: unknown;
    /** Default Completed. */
    readonly status?: OrchestrationRuntimeStatus;
    readonly optional?: boolean;
  }[];
  /** Activity runs it causes, by key (see `runKey`), a key once per run it must cause. */
  readonly runs: readonly string[];
  /** Activity runs it may cause or not (a terminate racing them). */
  readonly optionalRuns?: readonly string[];
  /** Rewound once when it is Failed. */
  readonly rewind?: boolean;
  /** Instances whose FailsUntilRewound calls succeed once it is rewound (default: itself). */
  readonly fixes?: readonly string[];
  /**
   * Every event raised to it since its last start is in its history, once each (default true; false when a
   * continueAsNew leaves earlier executions' events out of it).
   */
  readonly eventsInHistory?: boolean;
  /** The race its end state tells (one it is not purged after). */
  readonly race?: RaceEnd;
}

const HELLO = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];
const ORCHESTRATION_LEASE_MS = 10_000;
const ACTIVITY_LEASE_MS = 20_000;

/**
 * Runs the seed orchestrations plus timers, retries, sub-orchestrations, external events, terminate, suspend/resume
 * and rewind on two runtimes over `store`, through a {@link FaultInjector} driven by `seed` (errors before and after
 * a call takes effect, delays, lease expiries, crashes that drop a runtime without `stop()` and start a new one on
 * the same store). Everything runs on a {@link VirtualClock}. After quiescence it checks, through the store itself:
 * every instance reached its expected terminal state and output; no history holds a step applied twice; every
 * activity ran at least once (exactly once without faults); no instance is left non-terminal and no work is left
 * behind. Returns a report whose `problems` list what broke.
 *
 * @example
 * ```ts
 * const report = await runSoak({ seed: 1, store: new MemoryStore() });
 * expect(report.problems).toEqual([]);
 * ```
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { seed, store } = options;
  const faultsOn = options.faults ?? true;
  const random = seededRandom(seed);
  const clock = new VirtualClock();
  const injector = new FaultInjector(store, { random: seededRandom(seed ^ 0x5eed), ...(options.rates ? { rates: options.rates } : {}) });
  injector.enabled = faultsOn;
  const crashRate = faultsOn ? options.crashRate ?? 0.03 : 0;
  const problems: string[] = [];
  const runs = new Map<string, number>();
  const rewound = new Set<string>();
  const unexpectedErrors: string[] = [];
  let boundTimeouts = 0;
  const logger: Logger = {
    warn: () => undefined,
    error: (message: string, error?: unknown) => {
      if (error instanceof UnavailableError) boundTimeouts++;
      else if (!(error instanceof InjectedFaultError)) unexpectedErrors.push(`${message}: ${String(error)}`);
    },
  };
  const record = (name: string, ctx: ActivityContext, detail: string): void => {
    const key = runKey(name, ctx.instanceId, detail);
    runs.set(key, (runs.get(key) ?? 0) + 1);
  };
  const activities: Record<string, Activity<never>> = {
    E1_SayHello: ((name: string, ctx: ActivityContext) => {
      record('E1_SayHello', ctx, name);
      return sayHello(name, ctx);
    }) as Activity<never>,
    CalculateDiscount: ((userId: string, ctx: ActivityContext) => {
      record('CalculateDiscount', ctx, userId);
      return sampleActivities.CalculateDiscount(userId, ctx);
    }) as Activity<never>,
    Echo: ((value: string, ctx: ActivityContext) => {
      record('Echo', ctx, value);
      return value;
    }) as Activity<never>,
    Flaky: ((_: unknown, ctx: ActivityContext) => {
      record('Flaky', ctx, String(ctx.attempt));
      if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} fails`);
      return `ok after ${ctx.attempt}`;
    }) as Activity<never>,
    FailsUntilRewound: ((_: unknown, ctx: ActivityContext) => {
      const fixed = rewound.has(ctx.instanceId);
      record('FailsUntilRewound', ctx, fixed ? 'after' : 'before');
      if (!fixed) throw new Error('broken until rewound');
      return 'fixed';
    }) as Activity<never>,
  };
  const orchestrators: Record<string, Orchestrator> = { ...sampleOrchestrators, ...SOAK_ORCHESTRATORS };

  // Per instance, the events raised to it since its last start (name and data as JSON), in the order their raises resolved.
  const raised = new Map<string, string[]>();
  const races = new Map<RaceName, RaceEntry>();
  const scenarios = scenariosFor(seed, random, raised, races, options.extended ?? false);
  const workerFaults = options.rates ?? {};
  const live: { runtime: Runtime; handle: FaultyStore }[] = [];
  let started = 0;
  const startRuntime = async (): Promise<void> => {
    const handle = injector.handle(workerFaults);
    const runtime = createRuntime({
      store: handle, clock, logger, orchestrators, activities, workerId: `soak-${seed}-w${++started}`,
      orchestrationLeaseMs: ORCHESTRATION_LEASE_MS, activityLeaseMs: ACTIVITY_LEASE_MS,
    });
    live.push({ runtime, handle });
    await runtime.start();
  };
  await startRuntime();
  await startRuntime();
  // The driver is a client process of its own. Its commands are not idempotent (a second raiseEvent is a second
  // event), so only faults that leave no doubt reach it: errors before the call, and delays (no hangs). Its store
  // calls are not bounded (storeCallTimeoutMs: Infinity): the virtual clock jumps (by minutes at the end) while real
  // store I/O is in flight, so a bound would end commands that nothing is wrong with, and one ended so might still
  // take effect (its scenario would send it again).
  const client = createClient({ store: injector.handle({ errorAfter: 0, leaseExpiry: 0, hang: 0 }), clock, storeCallTimeoutMs: Infinity });

  const progress = new Map<string, number>(scenarios.map((s) => [s.instanceId, -1]));
  const inFlight = new Map<string, Promise<void>>();
  const driverErrors: unknown[] = [];
  let rounds = 0;
  const startMs = clock.now().getTime();
  const maxRounds = options.maxRounds ?? 3000;
  for (; rounds < maxRounds; rounds++) {
    if (random() < crashRate) {
      const victim = live.splice(Math.floor(random() * live.length), 1)[0]!;
      victim.handle.crash(); // dropped without stop(): a dead process
      await startRuntime();
    }
    // A command resolves only once a worker applied it (read-your-writes), and a worker may need virtual time to
    // do so (a lease to lapse, a retry backoff). Its fallback timeout runs on this virtual clock too, so a driver that
    // awaited it before advancing the clock would wait forever: the driver never blocks the clock on a command. Each
    // scenario has at most one command in flight, so its commands still go in order.
    for (const s of scenarios) {
      if (inFlight.has(s.instanceId)) continue;
      inFlight.set(s.instanceId, drive(s, client, store, progress, rewound)
        .catch((error: unknown) => { driverErrors.push(error); })
        .finally(() => inFlight.delete(s.instanceId)));
    }
    await Promise.race([Promise.all(inFlight.values()), clock.advance(0).then(() => clock.advance(0))]);
    if (driverErrors.length > 0) throw driverErrors[0];
    if (await allSettled(scenarios, store, progress)) break;
    await clock.advance(Math.floor(random() * 3000));
  }

  // Quiescence: no more faults; let leases lapse and timers fire so whatever was left behind gets done.
  injector.enabled = false;
  for (let i = 0; i < 4; i++) await clock.advance(ACTIVITY_LEASE_MS);
  await Promise.all(inFlight.values());
  if (driverErrors.length > 0) throw driverErrors[0];
  const virtualMs = clock.now().getTime() - startMs;

  if (rounds === maxRounds) problems.push(`not settled after ${maxRounds} rounds`);
  const all = await allInstances(store);
  const expectedIds = new Set(scenarios.flatMap((s) => [s.instanceId, ...s.children.map((c) => c.instanceId)]));
  for (const state of all) {
    if (!isTerminalStatus(state.runtimeStatus)) problems.push(`${state.instanceId} is left ${state.runtimeStatus}`);
    if (!expectedIds.has(state.instanceId)) problems.push(`unexpected instance ${state.instanceId}`);
  }
  for (const s of scenarios) {
    const history = await check(s.instanceId, s.outcomes());
    if (s.race) {
      // Only an end tells the race: an instance left running (a run that failed) says nothing of it.
      const state = await store.getInstance(s.instanceId);
      if (state && isTerminalStatus(state.runtimeStatus)) races.get(s.race.name)!.first = s.race.first(state);
    }
    if (history && s.eventsInHistory !== false) problems.push(...eventProblems(raised.get(s.instanceId) ?? [], history).map((p) => `${s.instanceId}: ${p}`));
    // A child it may not have created (a terminate that came first) may be missing; one that exists ends as listed.
    for (const child of s.children) {
      await check(child.instanceId, [{ status: child.status ?? 'Completed', output: child.output }, ...child.optional ? [{ status: 'Purged' as const }] : []]);
    }
  }
  // A key listed n times must run n times without faults, at least n times with them.
  const expectedRuns = new Map<string, number>();
  for (const key of scenarios.flatMap((s) => s.runs)) expectedRuns.set(key, (expectedRuns.get(key) ?? 0) + 1);
  const optionalRuns = new Set(scenarios.flatMap((s) => s.optionalRuns ?? []));
  for (const [key, n] of expectedRuns) {
    const count = runs.get(key) ?? 0;
    if (count === 0) problems.push(`activity ${key} never ran`);
    else if (count < n) problems.push(`activity ${key} ran ${count} times, expected ${n}`);
    else if (!faultsOn && count !== n) problems.push(`activity ${key} ran ${count} times without faults, expected ${n}`);
  }
  for (const [key, count] of runs) {
    if (expectedRuns.has(key)) continue;
    if (!optionalRuns.has(key)) problems.push(`unexpected activity run ${key}`);
    else if (!faultsOn && count !== 1) problems.push(`activity ${key} ran ${count} times without faults`);
  }
  const left = await store.nextWakeTime(clock.now());
  if (left !== undefined) problems.push(`work left behind (next wake time ${left.toISOString()})`);
  if (!faultsOn) problems.push(...unexpectedErrors.map((e) => `logged without faults: ${e}`));

  for (const { runtime } of live) await runtime.stop({ graceMs: 0 });
  return {
    seed, extended: options.extended ?? false, faults: injector.counts, instances: all.length, activityRuns: [...runs.values()].reduce((a, b) => a + b, 0),
    rounds, virtualMs, boundTimeouts, races: Object.fromEntries(races), problems,
  };

  /** Checks that the instance ended as one of `outcomes`; its history, when it has one. */
  async function check(instanceId: string, outcomes: readonly Outcome[]): Promise<readonly HistoryEvent[] | undefined> {
    const state = await store.getInstance(instanceId);
    const history = await store.getHistory(instanceId);
    const expected = outcomes.map((o) => `${o.status}${o.status === 'Purged' ? '' : ` ${JSON.stringify(o.output)}`}`).join(' or ');
    if (!state) {
      if (!outcomes.some((o) => o.status === 'Purged')) problems.push(`${instanceId} does not exist, expected ${expected}`);
      else if (history.length > 0) problems.push(`${instanceId} is purged but ${history.length} history events are left`);
      return undefined;
    }
    const actual = `${state.runtimeStatus} ${JSON.stringify(state.output)}`;
    if (!outcomes.some((o) => o.status === state.runtimeStatus && JSON.stringify(o.output) === JSON.stringify(state.output))) {
      problems.push(`${instanceId} is ${actual}, expected ${expected}${state.failureDetails ? ` (${state.failureDetails.errorMessage})` : ''}`);
    }
    problems.push(...[...historyProblems(history), ...endProblems(state, history)].map((p) => `${instanceId}: ${p}`));
    return history;
  }
}

/**
 * What is wrong with a history if a step was applied twice: a task, timer, sub-orchestration or event recorded more
 * than once, or more than one start or completion.
 */
export function historyProblems(history: readonly HistoryEvent[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const count = (key: string): void => {
    seen.set(key, (seen.get(key) ?? 0) + 1);
  };
  for (const e of history) {
    switch (e.type) {
      case 'ExecutionStarted': count('ExecutionStarted'); break;
      case 'ExecutionCompleted': count('ExecutionCompleted'); break;
      case 'TaskScheduled': count(`TaskScheduled ${e.eventId}`); break;
      case 'TaskCompleted': count(`task result ${e.taskScheduledId}`); break;
      case 'TaskFailed': count(`task result ${e.taskScheduledId}`); break;
      case 'TimerCreated': count(`TimerCreated ${e.eventId}`); break;
      case 'TimerFired': count(`TimerFired ${e.timerId}`); break;
      case 'SubOrchestrationInstanceCreated': count(`SubOrchestrationInstanceCreated ${e.eventId}`); break;
      case 'SubOrchestrationInstanceCompleted': count(`sub result ${e.taskScheduledId}`); break;
      case 'SubOrchestrationInstanceFailed': count(`sub result ${e.taskScheduledId}`); break;
      // By name and data: the soak's events of one name carry distinct data, and an event is one raise.
      case 'EventRaised': count(`EventRaised ${e.name} ${JSON.stringify(e.input)}`); break;
      default: break;
    }
  }
  for (const [key, n] of seen) if (n > 1) problems.push(`${key} recorded ${n} times`);
  if (!seen.has('ExecutionStarted')) problems.push('no ExecutionStarted');
  return problems;
}

/**
 * What is wrong with a history that does not say what the state says: another execution's, another length, or an end
 * (its first `ExecutionCompleted` or `ExecutionTerminated`) other than the status and output.
 */
function endProblems(state: InstanceState, history: readonly HistoryEvent[]): string[] {
  const problems: string[] = [];
  const started = history.find((e) => e.type === 'ExecutionStarted');
  if (started && started.executionId !== state.executionId) problems.push(`history of execution ${started.executionId}, state of ${state.executionId}`);
  if (history.length !== state.historyLength) problems.push(`history has ${history.length} events, state says ${state.historyLength}`);
  const end = history.find((e) => e.type === 'ExecutionCompleted' || e.type === 'ExecutionTerminated');
  const ended = end === undefined ? undefined
    : end.type === 'ExecutionTerminated' ? { status: 'Terminated', output: end.reason } : { status: end.orchestrationStatus, output: end.result };
  if (!isTerminalStatus(state.runtimeStatus)) {
    if (ended) problems.push(`${state.runtimeStatus}, but its history ended ${ended.status}`);
  } else if (!ended) {
    problems.push(`${state.runtimeStatus}, but its history has no end`);
  } else if (ended.status !== state.runtimeStatus || (ended.status !== 'Failed' && JSON.stringify(ended.output) !== JSON.stringify(state.output))) {
    problems.push(`${state.runtimeStatus} ${JSON.stringify(state.output)}, but its history ended ${ended.status} ${JSON.stringify(ended.output)}`);
  }
  return problems;
}

/**
 * What is wrong when the events raised (name and data as JSON) are not each in the history: lost or invented. One raised
 * and recorded more than once is a step applied twice, which {@link historyProblems} reports: not reported again here.
 */
export function eventProblems(raised: readonly string[], history: readonly HistoryEvent[]): string[] {
  const left = [...raised];
  const problems: string[] = [];
  for (const e of history) {
    if (e.type !== 'EventRaised') continue;
    const key = JSON.stringify([e.name, e.input]);
    const at = left.indexOf(key);
    if (at >= 0) left.splice(at, 1);
    else if (!raised.includes(key)) problems.push(`event ${key} in its history was not raised`);
  }
  for (const key of left) problems.push(`raised event ${key} is not in its history`);
  return problems;
}

/** The orchestrators the soak adds to the seed samples. */
const SOAK_ORCHESTRATORS: Record<string, Orchestrator> = {
  Nap: function* (ctx) {
    const ms = ctx.getInput<number>();
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + ms));
    return yield ctx.callActivity('Echo', `slept ${ms}`);
  },
  Retry: function* (ctx) {
    return yield ctx.callActivityWithRetry('Flaky', { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5 });
  },
  Parent: function* (ctx) {
    return yield Task.all([
      ctx.callSubOrchestrator('E1_HelloSequence', undefined, `${ctx.instanceId}~hello`),
      ctx.callSubOrchestrator('Nap', 2000, `${ctx.instanceId}~nap`),
    ]);
  },
  Forever: function* (ctx) {
    yield ctx.waitForExternalEvent('Never');
    return 'unreachable';
  },
  Gate: function* (ctx) {
    const value: string = yield ctx.waitForExternalEvent<string>('Open');
    return yield ctx.callActivity('Echo', value);
  },
  Fragile: function* (ctx) {
    const first: string = yield ctx.callActivity('Echo', 'first');
    const second: string = yield ctx.callActivity('FailsUntilRewound');
    return [first, second];
  },
  /** Calls a continueAsNew loop as a sub-orchestration; the soak terminates that child. */
  LoopParent: function* (ctx) {
    try {
      return yield ctx.callSubOrchestrator('Loop', { left: 5, got: [] }, `${ctx.instanceId}~loop`);
    } catch {
      return 'child ended';
    }
  },
  FragileParent: function* (ctx) {
    return yield ctx.callSubOrchestrator('Fragile', undefined, `${ctx.instanceId}~child`);
  },
  /**
   * Takes one `Item` per execution, after a timer (so items arrive before their wait), carrying the others over.
   * Returns them in the order taken: each must arrive once, and in the order raised (events of one name are FIFO,
   * carried over or not: the carried ones travel in the next execution's start, ahead of those raised meanwhile).
   */
  Loop: function* (ctx) {
    const { left, got } = ctx.getInput<{ left: number; got: string[] }>();
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 500));
    const item: string = yield ctx.waitForExternalEvent<string>('Item');
    if (left <= 1) return [...got, item];
    ctx.continueAsNew({ left: left - 1, got: [...got, item] }, { preserveUnprocessedEvents: true });
    return undefined;
  },
  Pair: function* (ctx) {
    const first: string = yield ctx.callActivity('Echo', 'pair');
    const a: string = yield ctx.waitForExternalEvent<string>('A');
    const b: string = yield ctx.waitForExternalEvent<string>('B');
    return [first, a, b];
  },
  Busy: function* (ctx) {
    return yield Task.all([
      ctx.callActivity('Echo', 'busy'),
      ctx.callActivityWithRetry('Flaky', { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5 }),
    ]);
  },
  Deadline: function* (ctx) {
    const answer = ctx.waitForExternalEvent<string>('Answer');
    const timer = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 20_000));
    const winner: unknown = yield Task.any([answer, timer]);
    return winner === answer ? answer.result : 'timeout';
  },
};

function runKey(name: string, instanceId: string, detail: string): string {
  return `${name}(${detail}) of ${instanceId}`;
}

function scenariosFor(
  seed: number, random: () => number, raised: Map<string, string[]>, races: Map<RaceName, RaceEntry>, extended: boolean,
): Scenario[] {
  const id = (kind: string) => `soak${seed}-${kind}`;
  const city = 1 + Math.floor(random() * 3);
  const napMs = 1 + Math.floor(random() * 120_000);
  const user = `user-${seed}`;
  type InstanceCommand = (c: DurableClient, instanceId: string) => Promise<void | 'wait'>;
  // A raise that resolved is an event the instance has: recorded for the check of its history.
  const event = (name: string, data: unknown): InstanceCommand => async (c, instanceId) => {
    await c.raiseEvent(instanceId, name, data);
    raised.set(instanceId, [...raised.get(instanceId) ?? [], JSON.stringify([name, data])]);
  };
  const scenario = (
    kind: string, name: string, s: Omit<Scenario, 'instanceId' | 'name' | 'commands' | 'children' | 'runs' | 'outcomes' | 'optionalRuns'> & {
      commands?: readonly InstanceCommand[];
      expected: Outcome | (() => readonly Outcome[]);
      children?: Scenario['children'];
      runs?: (instanceId: string) => string[];
      optionalRuns?: (instanceId: string) => string[];
    },
  ): Scenario => {
    const instanceId = id(kind);
    const { expected, optionalRuns, ...rest } = s;
    return {
      ...rest, instanceId, name,
      commands: (s.commands ?? []).map((command) => (c: DurableClient) => command(c, instanceId)),
      outcomes: typeof expected === 'function' ? expected : () => [expected],
      children: s.children ?? [],
      runs: s.runs?.(instanceId) ?? [],
      ...(optionalRuns ? { optionalRuns: optionalRuns(instanceId) } : {}),
    };
  };
  const parentId = id('parent');
  const core: Scenario[] = [
    scenario('hello', 'E1_HelloSequence', {
      expected: { status: 'Completed', output: HELLO },
      runs: (i) => ['Tokyo', 'Seattle', 'London'].map((c) => runKey('E1_SayHello', i, c)),
    }),
    scenario('city', 'CityRecommender', { input: city, commands: [event('CitySelected', 'Lisbon')], expected: { status: 'Completed', output: 'Lisbon' } }),
    scenario('reserve', 'ReserveTicket', {
      input: user, commands: [event('BookingConfirmed', true)], expected: { status: 'Completed', output: true },
      runs: (i) => [runKey('CalculateDiscount', i, user)],
    }),
    scenario('status', 'SetStatusTest', { commands: [event('Proceed', null)], expected: { status: 'Completed', output: 'done' } }),
    scenario('nap', 'Nap', {
      input: napMs, expected: { status: 'Completed', output: `slept ${napMs}` }, runs: (i) => [runKey('Echo', i, `slept ${napMs}`)],
    }),
    scenario('retry', 'Retry', {
      expected: { status: 'Completed', output: 'ok after 3' }, runs: (i) => ['1', '2', '3'].map((a) => runKey('Flaky', i, a)),
    }),
    {
      instanceId: parentId, name: 'Parent', commands: [],
      outcomes: () => [{ status: 'Completed', output: [HELLO, 'slept 2000'] }],
      children: [{ instanceId: `${parentId}~hello`, output: HELLO }, { instanceId: `${parentId}~nap`, output: 'slept 2000' }],
      runs: [
        ...['Tokyo', 'Seattle', 'London'].map((c) => runKey('E1_SayHello', `${parentId}~hello`, c)),
        runKey('Echo', `${parentId}~nap`, 'slept 2000'),
      ],
    },
    scenario('forever', 'Forever', {
      commands: [(c, i) => c.terminate(i, 'stop')], expected: { status: 'Terminated', output: 'stop' },
    }),
    scenario('gate', 'Gate', {
      commands: [(c, i) => c.suspend(i, 'hold'), event('Open', 'opened'), (c, i) => c.resume(i, 'go')],
      expected: { status: 'Completed', output: 'opened' }, runs: (i) => [runKey('Echo', i, 'opened')],
    }),
    scenario('fragile', 'Fragile', {
      rewind: true, expected: { status: 'Completed', output: ['first', 'fixed'] },
      runs: (i) => [runKey('Echo', i, 'first'), runKey('FailsUntilRewound', i, 'before'), runKey('FailsUntilRewound', i, 'after')],
    }),
  ];
  if (!extended) return core;

  // Commands for the extended scenarios. `when` sends `command` once the instance is in `status`, or any terminal one
  // for 'ended' (read by the driver's client: a fault there is tried again in a later round, as any command's). With
  // `race`, the state read also says which side of that race came first (before a purge removes it).
  const when = (status: OrchestrationRuntimeStatus | 'ended', command: InstanceCommand, race?: RaceEnd): InstanceCommand =>
    async (c, instanceId) => {
      const state = await c.getStatus(instanceId);
      const reached = state && (status === 'ended' ? isTerminalStatus(state.runtimeStatus) : state.runtimeStatus === status);
      if (!reached) return 'wait';
      if (race) races.get(race.name)!.first = race.first(state);
      return command(c, instanceId);
    };
  // A race: its command waits a number of rounds drawn from the seed, so that the instance's side comes first in some
  // runs on every store, however fast its steps go. Which side came first is read from the instance's end.
  const race = (name: RaceName, command: InstanceCommand): InstanceCommand => {
    const entry: RaceEntry = { delayRounds: Math.floor(random() * (RACE_DELAY_ROUNDS + 1)) };
    races.set(name, entry);
    let waited = 0;
    return async (c, instanceId) => (waited++ < entry.delayRounds ? 'wait' : command(c, instanceId));
  };
  const terminateOrCompletion = (name: RaceName): RaceEnd => ({
    name, first: (state) => (state.runtimeStatus === 'Terminated' ? SOAK_RACES[name][0] : SOAK_RACES[name][1]),
  });
  const eventOrTimer = (name: RaceName): RaceEnd => ({
    name, first: (state) => (state.output === 'yes' ? SOAK_RACES[name][0] : SOAK_RACES[name][1]),
  });
  // Sent to the scenario's `~loop` child once it exists.
  const toChild = (command: InstanceCommand): InstanceCommand => async (c, instanceId) => {
    const child = `${instanceId}~loop`;
    return (await c.getStatus(child)) ? command(c, child) : 'wait';
  };
  const purge: InstanceCommand = async (c, instanceId) => {
    const { instancesDeleted } = await c.purgeInstanceHistory(instanceId);
    if (instancesDeleted !== 1) throw new Error(`purge of ${instanceId} deleted ${instancesDeleted} instances`);
    raised.set(instanceId, []);
  };
  const restart: InstanceCommand = async (c, instanceId) => {
    await c.restart(instanceId);
    raised.set(instanceId, []);
  };
  const start = (name: string): InstanceCommand => async (c, instanceId) => {
    await c.startNew(name, { instanceId });
    raised.set(instanceId, []);
  };
  // A command an instance that ended first may refuse (410): `refused` says whether it did.
  const unlessEnded = (command: InstanceCommand, refused: { value: boolean }): InstanceCommand => async (c, instanceId) => {
    try {
      return await command(c, instanceId);
    } catch (error) {
      if (!isDurableError(error) || error.code !== 'instance-not-running') throw error;
      refused.value = true;
    }
  };
  const busyRefused = { value: false };
  const answerRefused = { value: false };
  const goneRefused = { value: false };
  const subId = id('subfail');
  const orphanId = id('orphan');
  const extra: Scenario[] = [
    // continueAsNew keeping unconsumed events, across a suspend and resume; each item raised before its wait.
    scenario('loop', 'Loop', {
      input: { left: 3, got: [] }, eventsInHistory: false,
      commands: [event('Item', 'a'), (c, i) => c.suspend(i, 'hold'), event('Item', 'b'), (c, i) => c.resume(i, 'go'), event('Item', 'c')],
      expected: { status: 'Completed', output: ['a', 'b', 'c'] },
    }),
    // Events raised before their waits and in the other order.
    scenario('pair', 'Pair', {
      commands: [event('B', 'b'), event('A', 'a')], expected: { status: 'Completed', output: ['pair', 'a', 'b'] },
      runs: (i) => [runKey('Echo', i, 'pair')],
    }),
    // A terminate racing the instance's activity results and retry timers: Terminated, or Completed when it ended first.
    scenario('busy', 'Busy', {
      commands: [race('busy', unlessEnded((c, i) => c.terminate(i, 'late'), busyRefused))], race: terminateOrCompletion('busy'),
      expected: () => [
        { status: 'Completed', output: ['busy', 'ok after 3'] },
        ...busyRefused.value ? [] : [{ status: 'Terminated' as const, output: 'late' }],
      ],
      optionalRuns: (i) => [runKey('Echo', i, 'busy'), ...['1', '2', '3'].map((a) => runKey('Flaky', i, a))],
    }),
    // Terminated while it waits, restarted under its id, then completed by an event to the new execution.
    scenario('again', 'Gate', {
      commands: [(c, i) => c.terminate(i, 'stop'), when('Terminated', restart), event('Open', 'again')],
      expected: { status: 'Completed', output: 'again' }, runs: (i) => [runKey('Echo', i, 'again')],
    }),
    // Purged once it ended, while the others run, and its id started afresh with another orchestrator.
    scenario('reuse', 'Nap', {
      input: 1000, commands: [when('Completed', purge), start('Gate'), event('Open', 'second')],
      expected: { status: 'Completed', output: 'second' },
      runs: (i) => [runKey('Echo', i, 'slept 1000'), runKey('Echo', i, 'second')],
    }),
    // An event racing a timer: the answer, or 'timeout' when the timer fired first (the event, if accepted, recorded).
    scenario('deadline', 'Deadline', {
      commands: [race('deadline', unlessEnded(event('Answer', 'yes'), answerRefused))], race: eventOrTimer('deadline'),
      expected: () => [{ status: 'Completed', output: 'timeout' }, ...answerRefused.value ? [] : [{ status: 'Completed' as const, output: 'yes' }]],
    }),
    // The same, purged once it ended, with its losing timer (or late event) still pending.
    scenario('gone', 'Deadline', {
      commands: [race('gone', unlessEnded(event('Answer', 'yes'), goneRefused)), when('Completed', purge, eventOrTimer('gone'))],
      expected: { status: 'Purged' },
    }),
    // Terminated while its sub-orchestrations run (or completed first), and purged: they run on (instances of their own)
    // and complete.
    {
      ...scenario('orphan', 'Parent', {
        commands: [
          race('orphan', unlessEnded((c, i) => c.terminate(i, 'cut'), { value: false })), when('ended', purge, terminateOrCompletion('orphan')),
        ],
        expected: { status: 'Purged' },
      }),
      children: [{ instanceId: `${orphanId}~hello`, output: HELLO, optional: true }, { instanceId: `${orphanId}~nap`, output: 'slept 2000', optional: true }],
      optionalRuns: [...['Tokyo', 'Seattle', 'London'].map((c) => runKey('E1_SayHello', `${orphanId}~hello`, c)), runKey('Echo', `${orphanId}~nap`, 'slept 2000')],
    },
    // Terminated between its continueAsNew executions, with events carried over.
    scenario('halt', 'Loop', {
      input: { left: 5, got: [] }, eventsInHistory: false,
      commands: [event('Item', 'a'), event('Item', 'b'), (c, i) => c.terminate(i, 'halt')], expected: { status: 'Terminated', output: 'halt' },
    }),
    // A sub-orchestration terminated between its continueAsNew executions answers its parent's call with a failure.
    {
      ...scenario('kidhalt', 'LoopParent', {
        commands: [toChild((c, i) => c.raiseEvent(i, 'Item', 'a')), toChild((c, i) => c.raiseEvent(i, 'Item', 'b')), toChild((c, i) => c.terminate(i, 'halt'))],
        expected: { status: 'Completed', output: 'child ended' },
      }),
      children: [{ instanceId: `${id('kidhalt')}~loop`, status: 'Terminated', output: 'halt' }],
    },
    // A failed sub-orchestration fails its parent; rewinding the parent reruns the child's failed call in place.
    {
      ...scenario('subfail', 'FragileParent', { rewind: true, fixes: [`${subId}~child`], expected: { status: 'Completed', output: ['first', 'fixed'] } }),
      children: [{ instanceId: `${subId}~child`, output: ['first', 'fixed'] }],
      runs: ['before', 'after'].map((d) => runKey('FailsUntilRewound', `${subId}~child`, d)).concat(runKey('Echo', `${subId}~child`, 'first')),
    },
  ];
  return [...core, ...extra];
}

/**
 * One driver step for a scenario: start it, or send its next command, or rewind it once it failed. `progress` is
 * -1 before the start and then the number of commands sent. A command that failed before taking effect is retried
 * in a later round.
 */
async function drive(
  s: Scenario, client: DurableClient, store: Store, progress: Map<string, number>, rewound: Set<string>,
): Promise<void> {
  const step = progress.get(s.instanceId)!;
  try {
    if (step < 0) {
      await client.startNew(s.name, { instanceId: s.instanceId, ...(s.input === undefined ? {} : { input: s.input }) });
      progress.set(s.instanceId, 0);
    } else if (step < s.commands.length) {
      if ((await s.commands[step]!(client)) !== 'wait') progress.set(s.instanceId, step + 1);
    } else if (s.rewind && !rewound.has(s.instanceId) && (await store.getInstance(s.instanceId))?.runtimeStatus === 'Failed') {
      const fixes = s.fixes ?? [s.instanceId];
      rewound.add(s.instanceId);
      for (const fixed of fixes) rewound.add(fixed);
      try {
        await client.rewind(s.instanceId, 'soak');
      } catch (error) {
        rewound.delete(s.instanceId);
        for (const fixed of fixes) rewound.delete(fixed);
        throw error;
      }
    }
  } catch (error) {
    if (!(error instanceof InjectedFaultError) && !(isDurableError(error) && error.code === 'injected-fault')) throw error;
  }
}

async function allSettled(scenarios: readonly Scenario[], store: Store, progress: ReadonlyMap<string, number>): Promise<boolean> {
  for (const s of scenarios) {
    if (progress.get(s.instanceId)! < s.commands.length) return false;
    const state = await store.getInstance(s.instanceId);
    if (!s.outcomes().some((o) => (o.status === 'Purged' ? state === undefined : state?.runtimeStatus === o.status))) return false;
  }
  return true;
}

async function allInstances(store: Store): Promise<InstanceState[]> {
  const all: InstanceState[] = [];
  let token: string | undefined;
  do {
    const page = await store.queryInstances({ pageSize: 1000, ...(token ? { continuationToken: token } : {}) });
    all.push(...page.instances);
    token = page.continuationToken;
  } while (token);
  return all;
}
