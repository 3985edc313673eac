/**
 * Replay flags: every change to what the engine schedules or records for a given history sits behind a numbered
 * flag, so instances that started under an older engine keep replaying exactly as they were recorded.
 *
 * The engine records the flags in force on the first `OrchestratorStarted` event of each execution (the step that
 * applies `ExecutionStarted`), and reads them back from there on replay. A history recorded before a flag existed
 * carries no such flag and keeps the old behaviour for the rest of that execution; the next execution (after
 * `continueAsNew` or a restart) starts with every current flag.
 *
 * The flags themselves, each with its TSDoc, are in `replay-flag.ts`, reached here as `ReplayFlag.<Name>`.
 *
 * Rules (see "Adding a replay flag" in the package README): a flag's id is never reused or renumbered, a flag is
 * never removed while histories that lack it may still be replayed, and each flag says in its TSDoc since when it
 * exists and why.
 */
import * as ReplayFlag from './replay-flag.js';

export { ReplayFlag };

/** The id of a {@link ReplayFlag}. */
export type ReplayFlagId = (typeof ReplayFlag)[keyof typeof ReplayFlag];

/**
 * The flags a new execution runs with: all of them (frozen: every new execution records this one list). A new flag is
 * added here too; `test/replay-flags.test.ts` checks that the list holds every flag of `ReplayFlag`.
 */
export const CURRENT_REPLAY_FLAGS: readonly ReplayFlagId[] = Object.freeze([
  ReplayFlag.SubOrchestrationIdPerExecution, ReplayFlag.CompositesNotifyEveryParent,
  ReplayFlag.CompositeOverCancelledTimerThrows, ReplayFlag.EventGoesToAwaitedWaiter, ReplayFlag.GuidPerExecution,
  ReplayFlag.SubOrchestrationIdFits, ReplayFlag.RetriesAsDurableFunctions, ReplayFlag.EventNamesIgnoreCase,
  ReplayFlag.RetryArgumentsAtCall, ReplayFlag.NothingScheduledAfterContinueAsNew,
  ReplayFlag.RetryHandleDecidesAtOnce, ReplayFlag.NoRetryAfterCancel, ReplayFlag.RetryOptionsRefuseUnknownMembers,
]);
