import type { DurableTask } from './durable-task.js';
import type { RetryOptions } from './retry-options.js';
import type { Task } from './task.js';
import type { TimerTask } from './timer-task.js';

/**
 * The argument of an orchestrator generator. Everything on it is deterministic: replaying the same history gives the
 * same values, which is what lets the runtime rebuild an orchestration after a crash.
 *
 * Call its methods on `ctx` itself (`ctx.callActivity(...)`), as with Durable Functions' `context.df`: they are
 * shared by every execution rather than bound to one, so a method taken off `ctx` (`const { callActivity } = ctx`)
 * throws a `TypeError` when called.
 *
 * Use `ctx` only while the orchestrator runs: in the generator's own code, between its `yield`s, never from a callback
 * that runs later (`promise.then(() => ctx.setCustomStatus(...))`, a timer, an event listener). A step runs the
 * generator synchronously, so a call made from such a callback has no step to record it: it changes nothing and does
 * not throw there (a throw in a host callback would go uncaught), and the instance's next step fails it with an
 * `OrchestrationError` ("ctx used outside the orchestrator's run"). That holds for every method that schedules work or
 * changes state (`callActivity` and the other calls, `createTimer`, `waitForExternalEvent`, `setCustomStatus`,
 * `continueAsNew`, `newGuid`); reading `instanceId`, `name`, `currentUtcDateTime` or `getInput()` from a callback
 * does not fail the instance.
 *
 * @example
 * ```ts
 * function* helloSequence(ctx: OrchestrationContext): Orchestration<string[]> {
 *   const outputs: string[] = [];
 *   outputs.push(yield ctx.callActivity('E1_SayHello', 'Tokyo'));
 *   ctx.setCustomStatus('Tokyo');
 *   return outputs;
 * }
 * ```
 */
export interface OrchestrationContext {
  /** This orchestration's instance id. */
  readonly instanceId: string;
  /** The parent orchestration's id, for sub-orchestrations. */
  readonly parentInstanceId: string | undefined;
  /** Orchestrator name. */
  readonly name: string;
  /** True while the engine replays history (side effects such as logging should be skipped). */
  readonly isReplaying: boolean;
  /**
   * True once `client.cancel(id)` reached this execution (deterministic: from its history). The request is also thrown
   * into the orchestrator, once, as a `CanceledError` at the `yield` it waits at (at its first `yield` when it came
   * before the start); this flag tells code that caught it, or that runs later, that it should wind up. Calls and timers
   * made after it work as before, so the orchestrator may compensate and then return (Completed) or throw (Failed:
   * with the `CanceledError` itself, `failureDetails.errorType` is `'CanceledError'`).
   *
   * @example
   * ```ts
   * try {
   *   yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 86_400_000));
   * } catch (error) {
   *   if (!ctx.isCancellationRequested) throw error;
   *   yield ctx.callActivity('Refund');
   *   return 'refunded';
   * }
   * ```
   */
  readonly isCancellationRequested: boolean;
  /**
   * The time of the current step, from history (never the wall clock); within an execution it never goes back from one
   * step to the next (after `continueAsNew` the new execution starts afresh).
   */
  readonly currentUtcDateTime: Date;
  /** Combinators: `ctx.Task.all(tasks)`, `ctx.Task.any(tasks)`. */
  readonly Task: typeof Task;
  /** The orchestration input. */
  getInput<T = unknown>(): T;
  /**
   * Sets the custom status committed with this step. Must be JSON and no larger than the runtime's
   * `customStatusLimitBytes` in UTF-8 bytes of its JSON text (default 16 KiB): otherwise throws in the orchestrator.
   * Durable Functions counts its 16 KB in UTF-16 instead: the default here takes an ASCII string of up to 16,382
   * characters (its JSON text's two quotes count; about 8,192 there) and a CJK string of up to 5,460 (about 8,192 there).
   * An execution keeps the limit of the runtime that started it (recorded in its history): a runtime started with
   * another limit applies its own to executions that start afterwards (new instances, the next `continueAsNew` pass).
   */
  setCustomStatus(value: unknown): void;
  /** Schedules an activity. */
  callActivity<TOut = unknown>(name: string, input?: unknown): DurableTask<TOut>;
  /**
   * Schedules an activity, retrying failures after durable timers. The input and `retryOptions` are taken at the call:
   * every attempt runs with the input as it was then (a plain-JSON copy, as `callActivity` takes it), and changing
   * either object afterwards changes no attempt. Options that are no object, or out of range, throw
   * `InvalidArgumentError` here (see {@link RetryOptions}).
   */
  callActivityWithRetry<TOut = unknown>(name: string, retryOptions: RetryOptions, input?: unknown): DurableTask<TOut>;
  /**
   * Starts a sub-orchestration and waits for its output. Without `instanceId` the id is
   * `${ctx.instanceId}:${executionId}:${sequence}`: unique per execution, so a call after `continueAsNew` or a restart
   * never meets a child of an earlier execution. Where that is no valid instance id (a parent id longer than about 216
   * characters leaves no room for the rest), it is `${uuid}:${sequence}`, the uuid a name-based one of the instance and
   * execution ids. Such a child does not start with the parent's id, so a list or purge by `instanceIdPrefix` of the
   * parent's id misses it; its status's `parentInstanceId` still names the parent.
   */
  callSubOrchestrator<TOut = unknown>(name: string, input?: unknown, instanceId?: string): DurableTask<TOut>;
  /**
   * Starts a sub-orchestration, retrying failures after durable timers. The input and `retryOptions` are taken at the
   * call, as {@link OrchestrationContext.callActivityWithRetry} takes them.
   */
  callSubOrchestratorWithRetry<TOut = unknown>(
    name: string, retryOptions: RetryOptions, input?: unknown, instanceId?: string,
  ): DurableTask<TOut>;
  /** A durable timer that fires at `fireAt`. Cancel it when it lost a race. */
  createTimer(fireAt: Date): TimerTask;
  /**
   * Waits for an event raised with `client.raiseEvent(id, name, data)`; earlier events are buffered (FIFO per name).
   * Names match with case ignored, as in Durable Functions (`raiseEvent(id, 'approval')` completes
   * `waitForExternalEvent('Approval')`); events of one name in any case queue in the order raised. An instance whose
   * execution began before this rule keeps exact matching until its next execution (`continueAsNew`, a restart).
   *
   * An event goes to the first waiter of its name the orchestrator is waiting on (the task it yielded, or one inside
   * the `Task.all` / `Task.any` it yielded), else to the first one made that has not had its event. So one raised while
   * no waiter of its name is awaited (in a reminder loop that waits anew on each pass, between passes, while its
   * reminder activity runs) goes to an earlier pass's waiter, whose race the timer won, and the loop never hears it.
   * Create the waiter once, before the loop, and race that same task on every pass (right under the older rule too,
   * which an instance started before this one keeps: always the first one made).
   *
   * @example
   * ```ts
   * const approval = ctx.waitForExternalEvent<string>('Approval');
   * for (;;) {
   *   const reminder = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 3600_000));
   *   if ((yield ctx.Task.any([approval, reminder])) === approval) { reminder.cancel(); return approval.result; }
   *   yield ctx.callActivity('Remind');
   * }
   * ```
   */
  waitForExternalEvent<T = unknown>(name: string): DurableTask<T>;
  /**
   * Restarts the orchestration with a new input and an empty history once the generator returns (or yields).
   * The execution ends there: what the orchestrator calls after `continueAsNew` is not scheduled (an activity, a
   * sub-orchestration or a timer never runs; `yield ctx.callActivity('Side')` ends the execution without running
   * `Side`), and `waitForExternalEvent` takes no buffered event. An instance whose execution began before this rule
   * schedules such calls, until its next execution.
   * With `preserveUnprocessedEvents`, external events received but not yet consumed are delivered to the new execution.
   * `options` is checked at the call, as every options argument is: anything but an object whose only member is a
   * boolean `preserveUnprocessedEvents` (a `true` in its place, as durabletask-js and .NET write it; a misspelt member)
   * throws `InvalidArgumentError`, as an `input` that is no JSON does, and the execution does not continue as new.
   * Those events travel with the input in one message (the next execution's start): together they must fit one record
   * of the store (`maxPayloadBytes` on MongoStore), or the store refuses the step and the instance fails, its history
   * kept with every event in full.
   */
  continueAsNew(input: unknown, options?: { readonly preserveUnprocessedEvents?: boolean }): void;
  /**
   * A deterministic UUID (name-based, derived from the instance id, the execution id, the step time and a counter):
   * the same on every replay, and another one in each call and each execution (after `continueAsNew` or a restart too).
   */
  newGuid(): string;
}

/**
 * The generator an orchestrator returns. `yield task` evaluates to the task's result; its static type is `never` so
 * that it can be assigned to whatever type the orchestrator expects (`const s: string = yield ctx.callActivity(...)`)
 * without `any`.
 */
export type Orchestration<TOutput = unknown> = Generator<DurableTask<unknown>, TOutput, never>;

/** An orchestrator function: a generator function of an {@link OrchestrationContext}. */
export type Orchestrator<TOutput = unknown> = (ctx: OrchestrationContext) => Orchestration<TOutput>;

/** What an activity function receives besides its input. */
export interface ActivityContext {
  /** The instance of the orchestration that called the activity. */
  readonly instanceId: string;
  /** Activity name. */
  readonly name: string;
  /** 1 for the first attempt, then +1 for each retry. */
  readonly attempt: number;
}

/** An activity function: ordinary (possibly async) code, run at least once per scheduled call. */
export type Activity<TInput = never, TOutput = unknown> = (input: TInput, ctx: ActivityContext) => TOutput | Promise<TOutput>;
