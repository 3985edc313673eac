/**
 * The replay flags, one numbered constant each (rules and use: `flags.ts`, which re-exports this module as
 * `ReplayFlag`). Constants rather than members of an object: a bundler puts each flag's number where it is read, and no
 * flag's name ships to a page.
 */

/**
 * @since 2026-11-30. A sub-orchestration called without an explicit instance id gets
 * `<instanceId>:<executionId>:<eventId>` instead of `<instanceId>:<eventId>`. Without the execution in the id, the
 * first call after `continueAsNew` (or a restart) reused the id of the previous execution's first child, and failed
 * with "already exists" whenever that child was still running. The Durable Task Framework keys default child ids
 * by execution for the same reason.
 */
export const SubOrchestrationIdPerExecution = 1;

/**
 * @since 2026-12-03. A task tells every `Task.all` / `Task.any` waiting on it that it settled (in the order they
 * were built), and `Task.all` counts its pending children. Before, each composite built over a task replaced the
 * task's one parent, so only the last one heard it settle (and `Task.all` looked at every child then): with
 * `Task.all([Task.any([shared, e1]), Task.any([shared, e2])])` the first `Task.any` waited for `e1`, and
 * `race = Task.any([a, timer]); Task.all([a, b]); yield race` gave the timer. A history recorded before keeps that.
 */
export const CompositesNotifyEveryParent = 2;

/**
 * @since 2026-12-03. Yielding a `Task.all` that waits for a cancelled timer (at any depth), or a `Task.any` all of
 * whose tasks are such (a cancelled timer, a `Task.all` over one), throws an `OrchestrationError` into the
 * orchestrator, as yielding the cancelled timer itself does: a cancelled timer never fires, so the composite would
 * wait for ever. Before, it waited; a `Task.all` whose other task then failed failed with that task's error, and an
 * orchestrator that caught it went on. A history recorded before keeps that.
 */
export const CompositeOverCancelledTimerThrows = 3;

/**
 * @since 2026-12-04. An external event goes to the first waiter of its name that the orchestrator is waiting on when
 * the event is applied (the task it yielded, or one inside the `Task.all` / `Task.any` it yielded, at any depth), and
 * to the first waiter of its name only when it waits on none. Before, it always went to the first waiter made: a loop
 * that calls `waitForExternalEvent` once per pass and races it with a timer (Durable Functions' reminder pattern) gave
 * the event to the waiter of a pass whose race the timer had won, and the pass waiting never heard it (Durable
 * Functions gives it to the pass waiting). A history recorded before keeps that.
 */
export const EventGoesToAwaitedWaiter = 4;

/**
 * @since 2026-12-04. `newGuid` names the execution too: a UUID of `<instanceId>_<executionId>_<step time>_<counter>`
 * instead of `<instanceId>_<step time>_<counter>`. The counter starts over with each execution, so two executions of
 * one instance that started in the same millisecond (a `continueAsNew` loop whose passes take less than that, a
 * restart or a start over a purged id within it, every execution on a clock that stands still) gave the same guids,
 * in the same order: a pass that named its job or a sub-orchestration with one reused the previous pass's. A history
 * recorded before keeps the old guids.
 */
export const GuidPerExecution = 5;

/**
 * @since 2026-12-04. A sub-orchestration called without an explicit instance id, whose id
 * `<instanceId>:<executionId>:<eventId>` ({@link SubOrchestrationIdPerExecution}) is no valid instance id
 * (a parent id of more than about 216 of the 256 characters an id may have, or an execution id from a custom `newId`
 * with a character ids may not hold), gets `<uuid>:<eventId>` instead, the uuid a name-based one of the parent's
 * instance and execution ids. Before, the call threw, and the instance failed although its own id was valid and it
 * named no child id. A history recorded before keeps that.
 */
export const SubOrchestrationIdFits = 6;

/**
 * @since 2026-12-04. `callActivityWithRetry` / `callSubOrchestratorWithRetry` decide a retry as Durable Functions
 * does (the Durable Task Framework's `RetryInterceptor`, which its extension runs for the `durable-functions`
 * package): with `retryTimeoutInMilliseconds`, a failure is retried while the orchestration's time at the failure is
 * before the first attempt's time plus the timeout, however long the delay; and a delay is capped at 6 days when
 * `maxRetryIntervalInMilliseconds` is left out (the extension's default). Before, a failure was retried only when the
 * retry would start within the timeout (a first interval longer than the timeout never retried), and an uncapped
 * delay grew without bound. A non-finite `firstRetryIntervalInMilliseconds` or `maxRetryIntervalInMilliseconds`
 * throws at the call (under the cap, `Infinity` would retry after 6 days). A history recorded before keeps all that.
 */
export const RetriesAsDurableFunctions = 7;

/**
 * @since 2026-12-04. External events are matched to `waitForExternalEvent` by name with case ignored
 * (`eventNameKey`), as Durable Functions (`OrdinalIgnoreCase`), durabletask-js and durabletask-python match them:
 * `raiseEvent(id, 'approval')` reaches `waitForExternalEvent('Approval')`, and the events of one name in any case
 * form one FIFO queue. Before, names matched exactly, and an event raised in another case stayed buffered for ever. A
 * history recorded before keeps exact matching: an event it buffered under another case would, matched now, resume
 * code that did not run when it was recorded (a `Task.any` with a timer would change winner, and the replay diverge).
 */
export const EventNamesIgnoreCase = 8;

/**
 * @since 2026-12-04. `callActivityWithRetry` / `callSubOrchestratorWithRetry` take their input and their retry options
 * at the call. Every attempt is scheduled with the input as it was then (a plain-JSON copy, as `callActivity` takes
 * its input; Durable Functions retries with the input it serialized at the call), and the options are read once and
 * checked there: an object, numbers that are numbers (a numeric string such as `'100'` is refused, as Durable
 * Functions' `RetryOptions` refuses it), `handle` a function, else `InvalidArgumentError`. Before, each attempt read
 * the caller's input object again, so a loop that reused one payload object retried the call of `a` with the input
 * of `c`, and each failure read the options object again (numeric strings were coerced, and a `handle` that is no
 * function threw only when a failure came). A history recorded before keeps all that.
 */
export const RetryArgumentsAtCall = 9;

/**
 * @since 2026-12-05. After `continueAsNew` the execution ends at the orchestrator's next `yield` or `return`, and what
 * it calls until then is not scheduled: an activity, a sub-orchestration, a timer (each a task that never settles),
 * and a `waitForExternalEvent` takes no buffered event (`preserveUnprocessedEvents` carries it to the next execution).
 * Before, `ctx.continueAsNew(x); yield ctx.callActivity('Side')` ended the execution at that yield all the same but
 * scheduled `Side`, which ran with its result recorded in no history, and a wait took a buffered event that no code
 * received and no execution got. A history recorded before keeps that.
 */
export const NothingScheduledAfterContinueAsNew = 10;

/**
 * @since 2026-12-05. A retry `handle` that returns a promise (an `async` function, allowed by untyped code) stops the
 * retries, and the call fails with a `TaskFailedError` that says so, as when it throws: a handle decides at once
 * (it runs again on replay, which cannot wait for a promise's answer). Before, the promise counted as true (every
 * failure retried, whatever it would have answered) and a rejection of it went unhandled, which ends a Node process.
 * The rejection is handled now either way; a history recorded before keeps the retries.
 */
export const RetryHandleDecidesAtOnce = 11;

/**
 * @since 2026-12-05. Once `client.cancel` reached the execution, a call with retries starts no new attempt: a failed
 * attempt fails the call with its error, and a retry timer that fires after the cancel does too; and a
 * sub-orchestration that ended canceled (canceled by id) is not called again. Before, the retries went on while the
 * orchestrator compensated (a charge retried after its refund), and a retry started a canceled child again. A history
 * recorded before keeps them.
 */
export const NoRetryAfterCancel = 12;

/**
 * @since 2026-12-06. `callActivityWithRetry` / `callSubOrchestratorWithRetry` refuse, at the call, an own member of
 * `retryOptions` that is none of its six (`readChecked`, the rule every options argument follows), with
 * `InvalidArgumentError` naming it and the members taken. Before, a misspelt member (`backoffCoeficient: 2`) was
 * dropped and the call retried without the backoff it asked for, since a `handle` could read members of its own
 * through `this`; a handle now takes what it decides on from its closure (or the object's prototype). A history
 * recorded before keeps taking such members: a call that ran then must not throw on replay.
 */
export const RetryOptionsRefuseUnknownMembers = 13;
