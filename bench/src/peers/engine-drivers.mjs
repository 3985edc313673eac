/**
 * Drivers that run the `Sequence` orchestration (N sequential activities) through each SDK's replay engine alone,
 * fed with equivalent, pre-built histories: no store, no activities, no I/O. History building happens in
 * `prepare()`, outside the timed region; the timed calls are exactly what each SDK's worker does per step.
 *
 * A "step at depth d" is the orchestrator invocation that delivers the result of activity d after d results are
 * already in history. Per SDK:
 * - durable-rx cached: the live execution from the previous step gets only the new TaskCompleted.
 * - durable-rx full replay: a new OrchestrationExecution replays the committed history, then steps.
 * - durable-functions: every invocation replays the whole history it is given (its binding carries old + new
 *   events; `IsPlayed` marks old ones), as in the Azure Functions host.
 * - durabletask-js: every work item creates a new OrchestrationExecutor and replays `oldEvents`, then
 *   `newEvents` (as its gRPC worker and its TestOrchestrationWorker do).
 */
// The engine is not part of the package's public surface; this benchmark drives it directly from the built files.
import {
  OrchestrationExecution, DEFAULT_CUSTOM_STATUS_LIMIT_BYTES,
} from '../../../packages/runtime/dist/engine/orchestration-execution.js';
import { durableFunctions, durableRx, durableTask, SEQUENCE, STEP_ACTIVITY } from '../orchestrations.mjs';
import { loadDurableFunctions, loadDurableTask } from './load-peers.mjs';

const START = new Date('2026-01-01T00:00:00.000Z');
const INSTANCE_ID = 'bench-instance';
/** @param {number} step */
const stepTime = (step) => new Date(START.getTime() + step * 1000);
/** @param {number} i */
const activityResult = (i) => i;

/** @typedef {import('@durable-rx/runtime').HistoryEvent} RxEvent */

/**
 * @typedef {object} EngineDriver
 * @property {string} name
 * @property {boolean} async  whether fullRun/stepAt return promises
 * @property {(n: number, depths?: readonly number[]) => void} prepare builds the histories for N activities
 *   (untimed): the inputs of the steps at `depths`, or of every step when `depths` is omitted (O(N^2) memory for
 *   the replaying engines, so only for small N)
 * @property {() => unknown} fullRun runs all N+1 steps (needs `prepare(n)` without depths); returns the output
 * @property {(depth: number) => unknown} stepAt runs the single step at `depth` (sync or a promise)
 * @property {(output: unknown, n: number) => void} checkOutput throws unless `output` is the orchestration's result
 * @property {(depth: number) => Promise<void>} checkStep throws unless the step at `depth` schedules activity depth+1
 */

// ------------------------------------------------------------------ durable-rx

/** @param {{ cached: boolean }} options @returns {EngineDriver} */
export function durableRxDriver({ cached }) {
  const orchestrator = durableRx[SEQUENCE];
  const options = { customStatusLimitBytes: DEFAULT_CUSTOM_STATUS_LIMIT_BYTES };
  /** @type {import('@durable-rx/runtime').HistoryEvent} */
  let started;
  /** @type {import('@durable-rx/runtime').HistoryEvent[]} */
  let completions = [];
  /** @type {Map<number, import('@durable-rx/runtime').HistoryEvent[]>} committed history before the step at depth d */
  let prefixes = new Map();
  /** @type {(readonly import('@durable-rx/runtime').HistoryEvent[])[]} */
  let chunks = [];
  let n = 0;

  /** Runs the engine once, cached, to record what the worker would commit after each step. @param {number} count */
  function record(count) {
    n = count;
    started = {
      type: 'ExecutionStarted', eventId: -1, timestamp: START.toISOString(), name: SEQUENCE, instanceId: INSTANCE_ID,
      executionId: 'execution-1', input: count,
    };
    completions = Array.from({ length: count }, (_, i) => ({
      type: 'TaskCompleted', eventId: -1, timestamp: stepTime(i + 1).toISOString(), taskScheduledId: i, result: activityResult(i),
    }));
    const execution = new OrchestrationExecution(orchestrator, options);
    execution.replay([]);
    chunks = [execution.step(START, [started]).newEvents];
    for (let i = 0; i < count; i++) chunks.push(execution.step(stepTime(i + 1), [/** @type {RxEvent} */ (completions[i])]).newEvents);
  }
  /** @param {number} depth */
  const prefix = (depth) => chunks.slice(0, depth + 1).flat();

  return {
    name: cached ? 'durable-rx (cached)' : 'durable-rx (full replay)',
    async: false,
    prepare(count, depths) {
      record(count);
      const wanted = depths ?? (cached ? [] : Array.from({ length: count }, (_, d) => d));
      prefixes = new Map(wanted.map((d) => [d, prefix(d)]));
    },
    fullRun() {
      if (cached) {
        const execution = new OrchestrationExecution(orchestrator, options);
        execution.replay([]);
        let result = execution.step(START, [started]);
        for (let i = 0; i < n; i++) result = execution.step(stepTime(i + 1), [/** @type {RxEvent} */ (completions[i])]);
        return result;
      }
      let result = runStep([], START, started);
      for (let i = 0; i < n; i++) result = runStep(/** @type {any} */ (prefixes.get(i)), stepTime(i + 1), /** @type {RxEvent} */ (completions[i]));
      return result;
    },
    stepAt(depth) {
      return runStep(/** @type {any} */ (prefixes.get(depth)), stepTime(depth + 1), /** @type {RxEvent} */ (completions[depth]));
    },
    checkOutput(result, count) {
      const r = /** @type {import('../../../packages/runtime/dist/engine/orchestration-execution.js').StepResult} */ (result);
      const done = r.newEvents.find((e) => e.type === 'ExecutionCompleted');
      if (!r.isFinished || !done || done.type !== 'ExecutionCompleted' || done.result !== count - 1) {
        throw new Error(`durable-rx did not complete with ${count - 1}: ${JSON.stringify(done)}`);
      }
    },
    async checkStep(depth) {
      const r = runStep(prefix(depth), stepTime(depth + 1), /** @type {RxEvent} */ (completions[depth]));
      const action = r.actions[0];
      if (depth < n - 1 && (r.actions.length !== 1 || action?.type !== 'ScheduleTask' || action.eventId !== depth + 1)) {
        throw new Error(`durable-rx step at depth ${depth} scheduled ${JSON.stringify(r.actions)}`);
      }
    },
  };

  /** @param {readonly import('@durable-rx/runtime').HistoryEvent[]} history @param {Date} now @param {import('@durable-rx/runtime').HistoryEvent} event */
  function runStep(history, now, event) {
    const execution = new OrchestrationExecution(orchestrator, options);
    execution.replay(history);
    return execution.step(now, [event]);
  }
}

// ------------------------------------------------------------------ durable-functions

/** @returns {EngineDriver} */
export function durableFunctionsDriver() {
  const df = loadDurableFunctions();
  const orchestrator = df.testing.createOrchestrator(durableFunctions[SEQUENCE]);
  // One invocation context, reset per call: Orchestrator.handle only builds `context.df` when it is unset.
  const context = new df.testing.DummyOrchestrationContext('Sequence', 'bench-invocation', () => {});
  /** @type {any[][]} the committed events of each step (IsPlayed = true) */
  let chunks = [];
  /** @type {any[][]} the new events of each step (IsPlayed = false) */
  let fresh = [];
  /** @type {Map<number, any[]>} the full binding history of the step at depth d */
  let inputs = new Map();
  let n = 0;

  /** @param {number} eventId @param {number} step @param {boolean} played */
  const opts = (eventId, step, played) => new df.HistoryEventOptions(eventId, stepTime(step), played);
  /** @param {number} step @param {boolean} played */
  function stepEvents(step, played) {
    const events = [new df.OrchestratorStartedEvent(opts(-1, step, played))];
    if (step === 0) {
      events.push(new df.ExecutionStartedEvent({ ...opts(-1, step, played), name: SEQUENCE, input: JSON.stringify(n) }));
    } else {
      events.push(new df.TaskCompletedEvent({ ...opts(-1, step, played), taskScheduledId: step - 1, result: JSON.stringify(activityResult(step - 1)) }));
    }
    return events;
  }
  /** @param {number} step */
  function committed(step) {
    const events = stepEvents(step, true);
    if (step < n) events.push(new df.TaskScheduledEvent({ ...opts(step, step, true), name: STEP_ACTIVITY, input: JSON.stringify(step) }));
    events.push(new df.OrchestratorCompletedEvent(opts(-1, step, true)));
    return events;
  }
  /** @param {number} step the step number (0 = start, d + 1 = depth d) */
  const history = (step) => [...chunks.slice(0, step).flat(), ...(fresh[step] ?? [])];

  /** @param {number} step */
  function invoke(step) {
    context.df = undefined;
    const trigger = new df.testing.DurableOrchestrationInput(
      INSTANCE_ID, inputs.get(step), n, undefined, undefined, undefined, df.LatestReplaySchema,
    );
    return orchestrator(trigger, context);
  }

  return {
    name: `durable-functions ${df.version}`,
    async: true,
    prepare(count, depths) {
      n = count;
      chunks = Array.from({ length: count + 1 }, (_, s) => committed(s));
      fresh = Array.from({ length: count + 1 }, (_, s) => stepEvents(s, false));
      const steps = depths ? depths.map((d) => d + 1) : Array.from({ length: count + 1 }, (_, s) => s);
      inputs = new Map(steps.map((s) => [s, history(s)]));
    },
    async fullRun() {
      let state;
      for (let s = 0; s <= n; s++) state = await invoke(s);
      return state;
    },
    stepAt(depth) {
      return invoke(depth + 1);
    },
    checkOutput(state, count) {
      const s = /** @type {any} */ (state);
      if (!s.isDone || s.output !== count - 1) throw new Error(`durable-functions did not complete with ${count - 1}: ${JSON.stringify(s)}`);
    },
    async checkStep(depth) {
      const s = /** @type {any} */ (await this.stepAt(depth));
      // Its actions list every activity the code has called so far; the host skips those already in history.
      const last = s.actions.flat().at(-1);
      if (depth < n - 1 && (s.isDone || last?.functionName !== STEP_ACTIVITY || last.input !== depth + 1)) {
        throw new Error(`durable-functions step at depth ${depth} returned ${JSON.stringify(s)}`);
      }
    },
  };
}

// ------------------------------------------------------------------ durabletask-js

/** @returns {EngineDriver} */
export function durableTaskDriver() {
  const dt = loadDurableTask();
  const registry = new dt.Registry();
  registry.addNamedOrchestrator(SEQUENCE, durableTask[SEQUENCE]);
  const logger = new dt.NoOpLogger();
  const { pbh } = dt;
  /** @type {any[][]} new events of each step */
  let fresh = [];
  /** @type {any[][]} events the backend commits after each step (new events + TaskScheduled) */
  let chunks = [];
  /** @type {Map<number, any[]>} old events before step s */
  let olds = new Map();
  let n = 0;

  /** @param {number} step */
  function stepEvents(step) {
    const events = [pbh.newOrchestratorStartedEvent(stepTime(step))];
    // durabletask-js numbers scheduled work from 1.
    if (step === 0) events.push(pbh.newExecutionStartedEvent(SEQUENCE, INSTANCE_ID, JSON.stringify(n), undefined, 'execution-1'));
    else events.push(pbh.newTaskCompletedEvent(step, JSON.stringify(activityResult(step - 1))));
    return events;
  }
  /** @param {number} step */
  const old = (step) => chunks.slice(0, step).flat();
  /** @param {number} step */
  function invoke(step) {
    const executor = new dt.OrchestrationExecutor(registry, logger);
    return executor.execute(INSTANCE_ID, olds.get(step), fresh[step], 'execution-1');
  }

  return {
    name: `durabletask-js ${dt.version}`,
    async: true,
    prepare(count, depths) {
      n = count;
      fresh = Array.from({ length: count + 1 }, (_, s) => stepEvents(s));
      // As InMemoryOrchestrationBackend.completeOrchestration commits: the new events, then TaskScheduled.
      chunks = fresh.map((events, s) => (s < count ? [...events, pbh.newTaskScheduledEvent(s + 1, STEP_ACTIVITY, JSON.stringify(s))] : events));
      const steps = depths ? depths.map((d) => d + 1) : Array.from({ length: count + 1 }, (_, s) => s);
      olds = new Map(steps.map((s) => [s, old(s)]));
    },
    async fullRun() {
      let result;
      for (let s = 0; s <= n; s++) result = await invoke(s);
      return result;
    },
    stepAt(depth) {
      return invoke(depth + 1);
    },
    checkOutput(result, count) {
      const actions = /** @type {any} */ (result).actions;
      const complete = actions[0]?.getCompleteorchestration();
      if (actions.length !== 1 || !complete || complete.getResult()?.getValue() !== JSON.stringify(count - 1)) {
        throw new Error(`durabletask-js did not complete with ${count - 1}: ${JSON.stringify(actions.map((/** @type {any} */ a) => a.toObject()))}`);
      }
    },
    async checkStep(depth) {
      const actions = /** @type {any} */ (await this.stepAt(depth)).actions;
      const task = actions[0]?.getScheduletask();
      if (depth < n - 1 && (actions.length !== 1 || !task || task.getName() !== STEP_ACTIVITY || task.getInput()?.getValue() !== JSON.stringify(depth + 1))) {
        throw new Error(`durabletask-js step at depth ${depth} returned ${JSON.stringify(actions.map((/** @type {any} */ a) => a.toObject()))}`);
      }
    },
  };
}
