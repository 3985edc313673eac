import type { Observable } from 'rxjs';
import type { HistoryEvent } from '../model/history-event.js';
import type { InstanceStatus, OrchestrationRuntimeStatus } from '../model/instance-status.js';
import type { StartIfExists } from '../model/write-set.js';

/** Options of {@link DurableClient.startNew}. */
export interface StartNewOptions {
  /**
   * Plain JSON input, read as `JSON.stringify` reads it (as Durable Functions, which serialises with it): Dates become
   * ISO strings, `undefined` and holes in arrays become `null` (`[1, undefined]` is stored as `[1,null]`), and object
   * members whose value is `undefined` are dropped, as are symbol-keyed ones (only own enumerable string keys are
   * read). Refused with `InvalidArgumentError`, naming where, nothing written: functions, symbols, BigInts, cycles,
   * NaN and Infinity, invalid Dates, class instances (Map, Set, typed arrays, ...), more than 256 levels of nesting.
   */
  readonly input?: unknown | undefined;
  /**
   * The id to use; a random UUID when absent. By default a terminal instance with this id is replaced, and an active
   * one (Pending, Running, Suspended) refuses the start (see {@link StartNewOptions.ifExists}).
   */
  readonly instanceId?: string | undefined;
  /**
   * What the start does when an instance with `instanceId` exists, decided atomically in the store's transaction (two
   * starts of one id that race, from any process, cannot both create):
   * - `overwrite` (default): a terminal instance (Completed, Failed, Terminated) is replaced by a new execution; an
   *   active one refuses the start with `InstanceAlreadyExistsError` (409);
   * - `fail`: any instance, terminal or not, refuses the start with `InstanceAlreadyExistsError` (409), nothing
   *   written: a finished run's result is never replaced;
   * - `useExisting`: the start resolves with the id of the instance there, whatever its orchestrator, input and
   *   status, and writes nothing (no new execution, no change event): a retried start runs the orchestration once.
   *
   * Anything else is refused with `InvalidArgumentError`. Over HTTP: the start route's `ifExists` query parameter.
   *
   * @example
   * ```ts
   * // Safe to retry: the second call finds the instance and neither restarts it nor fails.
   * const id = await client.startNew('ProcessOrder', { input: order, instanceId: `order-${order.id}`, ifExists: 'useExisting' });
   * ```
   */
  readonly ifExists?: StartIfExists | undefined;
  /**
   * When the orchestration may start (as `StartOrchestrationOptions.StartAt` of the Durable Task .NET client,
   * durabletask's scheduled start time, Temporal's start delay): the instance is stored at once, Pending, with
   * `scheduledStartTime` set to this time, so `getStatus`, `listInstances`, `status$` and `instances$` show it and
   * `ifExists` treats it as any active instance; its first step runs no sooner than this time, when its start message
   * becomes visible to workers (they wake for it through the store's next due time: no polling). A time at or before
   * now starts it at once (no `scheduledStartTime`). Any valid Date is taken (no upper bound, as for `ctx.createTimer`);
   * anything else (an Invalid Date, a number, a string) is refused with `InvalidArgumentError`, nothing written.
   *
   * Until it starts: `terminate` ends it without running it; `raiseEvent` is buffered (delivered when the orchestrator
   * waits for it); `suspend` and `resume` work as on any Pending instance (suspended at its start time, it starts
   * suspended). These apply at once on a store with `capabilities.unclaimedWrites` (every store of durable-rx); on one
   * without it, a command goes to the instance as a message, which waits for the start time as every message to it does.
   * `restart` of it, once terminal, starts the new execution at once, and a `continueAsNew` runs the next
   * execution at once. Over HTTP: the start route's `startAt` query parameter (an ISO 8601 date-time with a zone).
   *
   * @example
   * ```ts
   * // Send the reminder tomorrow at 9:00 UTC; it shows as Pending until then.
   * const id = await client.startNew('SendReminder', { input: { to: 'ana' }, startAt: new Date('2026-12-06T09:00:00Z') });
   * (await client.getStatus(id))?.scheduledStartTime; // 2026-12-06T09:00:00.000Z
   * ```
   */
  readonly startAt?: Date | undefined;
  /**
   * The instance's tags: string keys and string values shown on its status (`InstanceStatus.tags`), as
   * `StartOrchestrationOptions.Tags` of the Durable Task .NET client. At most 64 tags, each key 1 to 128 characters and
   * each value 0 to 256, without control characters, all together at most 4 KiB of UTF-8 (a `"` or `\` counting 2, as JSON escapes it); any other key (`__proto__`, `$env`, `a.b`) is kept as it is.
   * Anything else is refused with `InvalidArgumentError`, nothing written; an empty object is no tags. They stay with
   * the instance through `continueAsNew` and rewinds; a `restart` starts again with them; its sub-orchestrations
   * start with them (as the Durable Task Framework passes a parent's tags on). Over HTTP: the start route's `tags`
   * query parameter, the tags as a JSON object.
   *
   * @example
   * ```ts
   * const id = await client.startNew('ProcessOrder', { input: order, tags: { tenant: 'acme', channel: 'web' } });
   * (await client.getStatus(id))?.tags; // { tenant: 'acme', channel: 'web' }
   * ```
   */
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

/** Options of {@link DurableClient.signalWithStart}. */
export interface SignalWithStartOptions {
  /** The instance to signal, or to start with this id: required (an instance id as `startNew` takes it). */
  readonly instanceId: string;
  /** The input of the execution started when none is active; read as `startNew` reads it ({@link StartNewOptions.input}). */
  readonly input?: unknown | undefined;
  /** The event's name, as `raiseEvent` takes it: reaches `waitForExternalEvent(eventName)`, case ignored. */
  readonly eventName: string;
  /** The event's data, read as `raiseEvent` reads it (plain JSON). */
  readonly eventData?: unknown | undefined;
  /**
   * The tags of the execution started when none is active ({@link StartNewOptions.tags}); an active instance that
   * gets the event keeps its own.
   */
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /**
   * Makes the call safe to repeat, as {@link RaiseEventOptions.idempotencyKey} makes a raise: a call with a key the
   * instance of `instanceId` remembers (from a raise or a signal-with-start with it) delivers nothing and starts
   * nothing, and resolves with the id, as the first call did; otherwise the key is remembered with the event, whichever
   * way the call goes (delivered to the active instance, or to the execution it started). The same keys as
   * `raiseEvent`'s (one list per instance id, the latest 64); decided in the store's transaction, so calls with one key
   * that race deliver once and start at most once. Over HTTP: the signalWithStart route's `Idempotency-Key` header.
   *
   * @example
   * ```ts
   * const key = crypto.randomUUID(); // one key per item, kept across its retries
   * await retry(() => client.signalWithStart('Cart', { instanceId: 'cart-7', eventName: 'AddItem', eventData: item, idempotencyKey: key }));
   * ```
   */
  readonly idempotencyKey?: string | undefined;
}

/** Options of {@link DurableClient.raiseEvent}. */
export interface RaiseEventOptions {
  /**
   * Makes the raise safe to repeat: a raise with a key the instance remembers delivers nothing and resolves, as the
   * first did (a caller that retries after a network failure or a crash, not knowing whether its raise committed,
   * delivers the event once). Like a Temporal signal's request id or a DBOS `send`'s idempotency key:
   * - scoped to the instance id: the same key raised to another instance is another event. Remembered across
   *   `continueAsNew`, restarts and new starts of the id, until a purge;
   * - the latest 64 keys raised to the instance are remembered (`MAX_REMEMBERED_EVENT_KEYS`), whether their event
   *   is still pending or consumed long since: a repeat is recognised until 64 other keyed raises have reached the
   *   instance since;
   * - a repeat is recognised by its key alone: it resolves without delivering even when its name or data differ from
   *   the first raise's (no error: the first one won), and even when the instance is terminal by now;
   * - decided atomically in the store's transaction: two raises with one key that race deliver once, on every store;
   * - a string of 1 to 128 visible ASCII characters (`!` to `~`), such as a UUID; anything else is refused with
   *   `InvalidArgumentError` (400), nothing written.
   *
   * Over HTTP: the raise-event route's `Idempotency-Key` header.
   *
   * @example
   * ```ts
   * const key = crypto.randomUUID(); // one key per event, kept across its retries
   * await retry(() => client.raiseEvent(id, 'Approved', { by: 'ana' }, { idempotencyKey: key }));
   * ```
   */
  readonly idempotencyKey?: string | undefined;
  /** Durable Functions' (its `TaskHubOptions`): taken and ignored, as the HTTP API takes `taskHub`. A client serves one store. */
  readonly taskHubName?: string | undefined;
  /** Durable Functions' (its `TaskHubOptions`): taken and ignored, as the HTTP API takes `connection`. */
  readonly connectionName?: string | undefined;
}

/** Options of {@link DurableClient.getStatus}. */
export interface GetStatusOptions {
  /**
   * Include the history events: an array and events of the caller's own (a copy, whatever the store hands out), so
   * changing them changes nothing the store, a later read or another caller sees.
   */
  readonly showHistory?: boolean | undefined;
  /** With `showHistory`: include activity and sub-orchestration results and inputs in the events. */
  readonly showHistoryOutput?: boolean | undefined;
  /**
   * Include the input (default true). `false` leaves out every input of the history too (the orchestration's, the
   * calls', the events' data), as Durable Functions does; results stay with `showHistoryOutput`.
   */
  readonly showInput?: boolean | undefined;
}

/** Filters of {@link DurableClient.getStatusBy} and {@link DurableClient.instances$}. */
export interface InstanceFilter {
  /** Only instances in one of these statuses. */
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[] | undefined;
  /** Only instances created at or after this time. */
  readonly createdTimeFrom?: Date | undefined;
  /** Only instances created at or before this time; before `createdTimeFrom`, nothing matches (not an error). */
  readonly createdTimeTo?: Date | undefined;
  /** Matched literally. */
  readonly instanceIdPrefix?: string | undefined;
  /**
   * Only instances of this orchestrator, or of one of these (at most 100), matched exactly, case included, as the
   * runtime looks up orchestrators (`'hello'` does not match `'Hello'`); an empty array means any name. Each must be a
   * name `startNew` takes (1 to 256 characters, no control characters), else `InvalidArgumentError` (400). Over HTTP:
   * the `name` query parameter, repeated for several (`?name=A&name=B`).
   *
   * @example
   * ```ts
   * const failedOrders = await client.getStatusBy({ name: 'ProcessOrder', runtimeStatus: ['Failed'], order: 'desc' });
   * ```
   */
  readonly name?: string | readonly string[] | undefined;
  /**
   * The order of the result: `'asc'` (default) by (createdTime, instanceId), oldest first; `'desc'` the exact reverse,
   * newest first, as dashboards list runs. Paging is stable in both (see {@link ListInstancesQuery.continuationToken}),
   * and `instances$` keeps its list in this order as it changes. Anything else: `InvalidArgumentError` (400). Over
   * HTTP: the `order` query parameter (`asc` or `desc`).
   */
  readonly order?: 'asc' | 'desc' | undefined;
  /**
   * Only instances that have every one of these tags ({@link InstanceStatus.tags}; AND, no OR): each key present with
   * exactly that value (case included); other tags of the instance do not matter, and an instance without tags matches
   * no pair. `{}` means any tags. Checked by the rule of {@link StartNewOptions.tags} (a plain object of at most 64
   * string keys of 1 to 128 characters and string values of at most 256, 4 KiB in all, no control characters):
   * anything else is `InvalidArgumentError` (400), and nothing is read, changed or purged. It combines with every
   * other filter and pages in both orders; the listing follows an instance's tags as a new execution changes them
   * (a restart and `continueAsNew` keep them). Every store serves it from an index of tag pairs, reading the
   * entries of the pair with the fewest instances. Over HTTP: the `tags` query parameter, a JSON object as on a start
   * (`?tags={"tenant":"acme"}`, percent-encoded).
   *
   * @example
   * ```ts
   * const acmeFailures = await client.getStatusBy({ tags: { tenant: 'acme' }, runtimeStatus: ['Failed'] });
   * ```
   */
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /** Include inputs (default true). */
  readonly showInput?: boolean | undefined;
}

/** Query of {@link DurableClient.listInstances}: filters plus paging. */
export interface ListInstancesQuery extends InstanceFilter {
  /**
   * How many instances a page holds at most: a positive integer, default 100. A page may be shorter than asked, and
   * one is never longer than 1000 (a larger size is taken as 1000, as the HTTP API takes `top`): follow
   * `continuationToken` for the rest.
   */
  readonly pageSize?: number | undefined;
  /**
   * The `continuationToken` of the previous page, for the page after it (same filters). Pages follow the order
   * (createdTime, instanceId), ascending, or descending with `order: 'desc'` (a token is refused with
   * `InvalidArgumentError`, 400, when used with the other order; filters may change between pages: a token is a
   * position in the order), and list what existed when paging began (the first page): every instance that existed
   * then, and was neither purged nor started again since, appears exactly once. An instance started after paging
   * began is not listed, nor is one started again over a terminal one (`startNew`, `restart`: a new execution, with a
   * new createdTime), whether a page listed its earlier execution or not, so none comes back; a listing begun later
   * shows it. Only a new createdTime at or before the newest one held when paging began can still bring one back:
   * stamped by a clock behind the one that stamped that instance, or in its very millisecond (see the Store's
   * `queryInstances`).
   */
  readonly continuationToken?: string | undefined;
}

/** One page of {@link DurableClient.listInstances}. */
export interface InstancesPage {
  /** The instances of this page, ordered by (createdTime, instanceId), ascending or as the query's `order` asks. */
  readonly instances: InstanceStatus[];
  /** Present when another page may follow. */
  readonly continuationToken?: string;
}

/** Filter of {@link DurableClient.purgeInstanceHistoryBy}. */
export interface PurgeInstancesFilter {
  /** Only instances created at or after this time (required, as in Durable Functions). */
  readonly createdTimeFrom: Date;
  /** Only instances created at or before this time; before `createdTimeFrom`, nothing is purged (not an error). */
  readonly createdTimeTo?: Date | undefined;
  /** Only instances in one of these statuses; only terminal instances are ever purged. */
  readonly runtimeStatus?: readonly OrchestrationRuntimeStatus[] | undefined;
  /** Only instances of this orchestrator, or of one of these, as {@link InstanceFilter.name} matches them. */
  readonly name?: string | readonly string[] | undefined;
  /**
   * Only instances that have every one of these tags, as {@link InstanceFilter.tags} matches them (a purge deletes no
   * other). Over HTTP: `tags` on `DELETE /instances`.
   */
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

/**
 * Options of {@link DurableClient.terminate}. As in the Durable Task SDKs (`TerminateInstanceOptions.Recursive` in
 * .NET, `recursive=` in Python), with the default of Durable Functions: the named instance only.
 */
export interface TerminateOptions {
  /**
   * `true`: the instance's sub-orchestrations that are still running (Pending, Running or Suspended), at any depth,
   * are terminated with it, with the same reason. Default `false`.
   */
  readonly recursive?: boolean | undefined;
}

/** Options of {@link DurableClient.purgeInstanceHistory}. */
export interface PurgeInstanceOptions {
  /**
   * `true`: the sub-orchestrations the instance's last execution started, at any depth, are deleted with it; every one
   * of them must be terminal too (409 otherwise, nothing deleted). Default `false`.
   */
  readonly recursive?: boolean | undefined;
}

/** Result of a purge. */
export interface PurgeResult {
  /** How many instances were deleted, with their history and messages. */
  readonly instancesDeleted: number;
}

/**
 * Options of the commands by filter ({@link DurableClient.terminateBy}, {@link DurableClient.suspendBy},
 * {@link DurableClient.resumeBy}, {@link DurableClient.cancelBy}): how many instances one call takes up, where it
 * begins, and how to stop it.
 */
export interface BulkCommandOptions {
  /**
   * Take up at most this many matching instances (a positive integer; default: all). When more may match, the result
   * has a `continuationToken` to go on from there. Counts every instance taken up, affected or skipped.
   */
  readonly limit?: number | undefined;
  /**
   * The `continuationToken` of an earlier call's result, with the same filter: this call takes up the instances after
   * the last one that call took up, in the listing's order (the list's token, read by the same rule; a forged one, or
   * one of the other `order`, is refused with `InvalidArgumentError`, 400, nothing changed).
   */
  readonly continuationToken?: string | undefined;
  /**
   * Stops the call: no instance is taken up once it is aborted, the commands already sent finish, and the call then
   * rejects with the signal's `reason` (as `fetch` does), unless it had already taken up every instance asked for (all
   * that match, or `limit`): then it returns its result. What was changed before stays changed; a later call with
   * the same filter goes on with the rest. An already aborted signal changes nothing. A remote client stops before
   * its next request (each carries at most 16 instances).
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Options of {@link DurableClient.terminateBy}: {@link BulkCommandOptions} plus `recursive`, as `terminate` takes it. A
 * local client's recursive `terminateBy` resolves each instance's terminate once its tree is terminal, as `terminate`
 * does; a remote client's (rx-client) once each instance's own terminate is applied, its sub-orchestrations following
 * durably, as the HTTP API answers it.
 */
export interface BulkTerminateOptions extends BulkCommandOptions, TerminateOptions {}

/** Result of a command by filter ({@link DurableClient.terminateBy} and its siblings). */
export interface BulkCommandResult {
  /** How many instances the command was applied to, each as its per-instance command applies it. */
  readonly instancesAffected: number;
  /**
   * How many instances matched when listed but whose state no longer allowed the command when their turn came: ended
   * meanwhile (410), purged (404). Skipped, not an error.
   */
  readonly instancesSkipped: number;
  /**
   * Present when `limit` stopped the call and more instances may match: pass it as `continuationToken` (with the same
   * filter) to go on. Absent: every instance that matched has been taken up.
   */
  readonly continuationToken?: string;
}

/** The management URLs of an instance, as Durable Functions' `createCheckStatusResponse` formats them. */
export interface HttpManagementPayload {
  /** The instance id. */
  readonly id: string;
  /** GET: the instance's status. */
  readonly statusQueryGetUri: string;
  /** POST: raise an event; replace `{eventName}`. */
  readonly sendEventPostUri: string;
  /** POST: terminate; replace `{text}` with the reason. */
  readonly terminatePostUri: string;
  /** POST: rewind a Failed instance; replace `{text}` with the reason. */
  readonly rewindPostUri: string;
  /** DELETE: purge a terminal instance. */
  readonly purgeHistoryDeleteUri: string;
  /** POST: suspend; replace `{text}` with the reason. */
  readonly suspendPostUri: string;
  /** POST: resume; replace `{text}` with the reason. */
  readonly resumePostUri: string;
  /** POST: restart a terminal instance. */
  readonly restartPostUri: string;
}

/** Options of {@link DurableClient.createHttpManagementPayload}. */
export interface HttpManagementPayloadOptions {
  /** Appended to every URL as `code=` (the HTTP API's access key). */
  readonly key?: string | undefined;
}

/** Options of {@link DurableClient.restart}. */
export interface RestartOptions {
  /**
   * Start the new execution under a new random id instead of the instance's own. Default false: a restart keeps the
   * id. (The HTTP API's `restart` route keeps Durable Functions' default there: a new id unless
   * `restartWithNewInstanceId=false`.)
   */
  readonly restartWithNewInstanceId?: boolean | undefined;
}

/** Options of {@link DurableClient.fork}. */
export interface ForkOptions {
  /** The fork's id. Default: a new random id. Checked as `startNew`'s `instanceId`; one that any instance has: 409. */
  readonly newInstanceId?: string | undefined;
  /**
   * How many of the source's results the fork keeps: its activity, sub-orchestration, timer and external-event results
   * (completions and failures), counted in the order the orchestrator received them, up to the end of its current
   * execution. 0 starts the fork afresh; default: all of them (the fork gets back every result and makes anew the
   * calls still waiting for one; a Completed source's fork completes again with the same output without running an
   * activity, a Failed one's fails again unless its code changed: keep fewer to rerun the failed call).
   */
  readonly keepResults?: number | undefined;
  /**
   * Raise to the fork the external events the source received that it does not keep (the `EventRaised` results after
   * the first `keepResults`, up to the end of the source's current execution), in the order the source received them,
   * after the kept results (with `keepResults: 0`, after its start), as `raiseEvent` would, at the fork's time (each
   * is a new event of the fork, stamped when the fork is made, as a Temporal reset reapplies signals as new events of
   * its run): each goes to the fork's waiter of its name, or waits for one. Default true, as a Temporal reset reapplies
   * signals: those events came from outside (an approval, a user's input), so the code the fork runs again does not
   * make them, and without them a fork taken before an approval waits for one that was already given. False leaves
   * them out, to run the fork as if they never came.
   *
   * Only the events the source's history records are reapplied. One still waiting in the source's message queue when
   * the fork reads it is not: raised to a Pending source (its first step records it, with its start), or to a Running
   * or Suspended one whose worker has not yet taken it in a step. The Store port gives a client an instance's state and
   * history, not its queued messages (only a worker's claim, under a lease, hands those out), so the fork cannot see
   * them: raise such an event to the fork yourself, or fork once the source has taken it (its `history$` shows the
   * `EventRaised`). Not among them either: an event raised to the source after the fork read it (a race outside the
   * fork), and one recorded after the source's execution ended (recorded and ignored).
   */
  readonly reapplyEvents?: boolean | undefined;
}

/** Options of {@link DurableClient.createCheckStatusResponse}. */
export interface CheckStatusResponseOptions extends HttpManagementPayloadOptions {
  /**
   * Origin (optionally with a path prefix) of the management URLs. Default: the origin of the request, as Durable
   * Functions does.
   */
  readonly baseUrl?: string | undefined;
  /**
   * `true` appends `returnInternalServerErrorOnFailure=true` to `statusQueryGetUri` (and so to `Location`), as the
   * Durable Functions .NET client's parameter of that name does: a caller polling that link gets 500 once the
   * instance Failed, instead of 200 with the Failed status. Default false. In
   * {@link DurableClient.waitForCompletionOrCreateCheckStatusResponse} it also sets the answer of a wait that ends
   * Failed: 500 with `true` (the default there), 200 with `false`, as .NET's wait.
   */
  readonly returnInternalServerErrorOnFailure?: boolean | undefined;
}

/** Options of {@link DurableClient.waitForCompletionOrCreateCheckStatusResponse}. */
export interface WaitForCompletionOrCheckStatusOptions extends CheckStatusResponseOptions {
  /** How long to wait for completion, in ms (`Infinity`: no limit). Default 10 s, as Durable Functions. */
  readonly timeoutMs?: number | undefined;
  /**
   * Durable Functions' name of {@link timeoutMs} (its JavaScript SDK's `WaitForCompletionOptions`), accepted so code
   * written for it runs unchanged; `timeoutMs` wins when both are given.
   */
  readonly timeoutInMilliseconds?: number | undefined;
  /**
   * Durable Functions' polling interval: checked (a number >= 0) and otherwise ignored. The wait follows `status$`
   * and answers the moment the instance completes, so there is nothing to poll.
   */
  readonly retryIntervalInMilliseconds?: number | undefined;
}

/**
 * Starts, manages and watches orchestration instances. The same interface is implemented locally (over a Store,
 * `createClient` / `runtime.client`) and remotely over HTTP + Server-Sent Events (`@durable-rx/rx-client`), so a UI
 * written against it runs unchanged against either.
 *
 * Commands reject with `DurableError`s (`code`/`status`): invalid input 400, unknown instance 404, conflicting state
 * 409, terminal instance 410, and `'unavailable'` 503 when the store did not answer within `storeCallTimeoutMs` (the
 * local client's, or the server's behind the HTTP API; the command may still take effect). Observables push every
 * committed change; nothing polls.
 *
 * @example
 * ```ts
 * import type { DurableClient } from '@durable-rx/runtime';
 *
 * // runtime.client, createClient({ store }) or createRemoteClient({ baseUrl }): the same code runs on each.
 * async function greet(client: DurableClient): Promise<unknown> {
 *   const id = await client.startNew('Greet', { input: 'Tokyo' });
 *   client.customStatus$(id).subscribe((status) => console.log('progress:', status)); // pushed, never polled
 *   const done = await client.waitForCompletion(id, { timeoutMs: 30_000 });
 *   return done.runtimeStatus === 'Completed' ? done.output : done.failureDetails?.errorMessage;
 * }
 * ```
 */
export interface DurableClient {
  /**
   * Creates a Pending instance and returns its id. With the runtime's own client, the reads issued as it resolves
   * (`getStatus`, `status$`'s first value, `listInstances`) show it Pending: the worker takes it up a macrotask later.
   * Over HTTP the server's worker runs on its own, so a read may find it Running already. With a `startAt` later than
   * now it stays Pending until that time ({@link StartNewOptions.startAt}).
   */
  startNew(name: string, options?: StartNewOptions): Promise<string>;
  /** The status of an instance, `undefined` if unknown. */
  getStatus(instanceId: string, options?: GetStatusOptions): Promise<InstanceStatus | undefined>;
  /** One page of instances, ordered by (createdTime, instanceId), ascending or, with `order: 'desc'`, newest first. */
  listInstances(query?: ListInstancesQuery): Promise<InstancesPage>;
  /** Every instance (all pages), ordered as {@link listInstances}: by createdTime, then instanceId. */
  getStatusAll(): Promise<InstanceStatus[]>;
  /**
   * Every instance matching the filter (all pages), ordered as {@link listInstances}: by createdTime, then instanceId,
   * or newest first with `order: 'desc'`.
   */
  getStatusBy(filter: InstanceFilter): Promise<InstanceStatus[]>;
  /**
   * Delivers an event to `waitForExternalEvent(eventName)`; buffered if the orchestrator is not waiting yet. Names match
   * with case ignored, as in Durable Functions: `raiseEvent(id, 'approval')` reaches `waitForExternalEvent('Approval')`,
   * and events of one name in any case are delivered in the order raised (one FIFO queue). The event keeps the name as
   * raised in the history. An instance started before this rule keeps exact matching until its next execution.
   * `eventData` follows the rule of `startNew`'s input ({@link StartNewOptions.input}): plain JSON read as
   * `JSON.stringify` reads it (`undefined` and holes in arrays become `null`; `undefined` and symbol-keyed members
   * are dropped), anything else refused with `InvalidArgumentError`. With `options.idempotencyKey` a repeat of the
   * raise delivers nothing ({@link RaiseEventOptions.idempotencyKey}).
   */
  raiseEvent(instanceId: string, eventName: string, eventData?: unknown, options?: RaiseEventOptions): Promise<void>;
  /**
   * Signal-with-start (Temporal's `signalWithStart`): delivers the event `eventName` to the instance `instanceId`,
   * starting it first when it is not active, in one atomic step, so callers do not race a `getStatus`, a `startNew`
   * and a `raiseEvent`. Decided in the store's transaction:
   * - an active instance (Pending, Running, Suspended), whatever its orchestrator: gets the event, as `raiseEvent`
   *   delivers it (kept while Suspended), and nothing is started;
   * - no instance, or a terminal one (Completed, Failed, Terminated, which is replaced as `startNew` replaces it): a
   *   new execution of `name` is started with `input`, and the event is buffered for it, so its first
   *   `waitForExternalEvent(eventName)` gets it.
   *
   * Calls for one id that race, from any process, start one execution and deliver every event. Resolves with the id
   * (an instance id, unlike `startNew`'s, is required); as after `startNew`, reads a runtime's own client issues as it
   * resolves show an execution it started Pending. Refused with `InvalidArgumentError` (400), nothing written:
   * what `startNew` refuses in `name`, `instanceId` and `input` (a runtime's own client: an orchestrator name it does
   * not know, too) and what `raiseEvent` refuses in `eventName` and `eventData`. Over HTTP: `POST
   * /orchestrators/{name}/{instanceId}/signalWithStart/{eventName}`, a durable-rx extension.
   *
   * @example
   * ```ts
   * // Every item goes to the cart's one running instance, started by the first item.
   * await client.signalWithStart('Cart', { instanceId: `cart-${userId}`, input: { userId }, eventName: 'AddItem', eventData: item });
   * ```
   */
  signalWithStart(name: string, options: SignalWithStartOptions): Promise<string>;
  /**
   * Terminates a Pending, Running or Suspended instance; `reason` becomes its output. Resolves once the termination
   * is committed (reads then show a terminal status), or, when it is only queued for a worker (the cases below), once
   * a worker has applied it or after 10 s, whichever comes first: then the status may not be terminal yet (no worker
   * running anywhere), and the termination takes effect when one takes the instance. When no worker holds the
   * instance, the local client commits the termination itself, so it needs no worker at all (a `createClient({ store })` alone, an instance nobody has
   * started yet), whatever events, results and timers are queued for the instance: they stay queued, and the worker that
   * takes them later records them after the termination, and ignores them. A command queued before it as a message (a
   * terminate, suspend, resume or rewind sent while a worker held the instance, by a call that gave up waiting) is
   * applied first, by a worker, and this terminate after it: a terminate queued first keeps its `reason` as the output,
   * as in Durable Functions, the later one recorded and ignored. Such a terminate is queued behind that command, and
   * with no worker running anywhere the call resolves after its 10 s wait with the status not yet terminal (read
   * `status$` or `waitForCompletion` to see it end). That is the rule for a client with no worker of its
   * own running: `createClient({ store })`, or a runtime's client while the runtime is not started, stopping or
   * stopped. It cannot see workers of other processes or tabs (API-only processes, an IndexedDB tab that is not the
   * leader), so an event it raised just before the terminate is ignored even when such a worker would have applied it
   * at once; to keep that order, send both through a started runtime's client, or wait for the event's effect
   * (`status$`, `history$`) before terminating. A started runtime's client (busy, backing off or not) leaves every message committed before
   * the terminate (an event, a result) to its worker, applied first, in order: the terminate is queued behind it. A sub-orchestration that has not started yet is terminated
   * the same way, its parent's call answered with a failure in the same commit. On a store without
   * `capabilities.unclaimedWrites`, while a worker is running a step of the instance, or for a sub-orchestration not
   * started yet whose state names no parent call (stored before 2026-12-03), it is queued for a worker,
   * and the call resolves once a worker has applied it (or after 10 s, the command still queued). When the instance
   * completes or fails before a worker applies the queued terminate (its step was under way), or another terminate
   * queued before it ends it first with another reason (both taken by one step), the call rejects with
   * `InstanceNotRunningError` (410), as when it was terminal before the call: the terminate did nothing, and is
   * recorded after the end and ignored, visibly in the history. One queued while the step continues the instance as
   * new reaches the next execution, ahead of its start, as in Durable Functions: the call resolves once that one is
   * Terminated. Results, timers and
   * a start that reach the instance later, and events raised before the terminate that were still queued, are
   * recorded and ignored: appended to its history, which `history$` and `getStatus(id, { showHistory: true })` show,
   * the status as the terminate left it (a purge or a new start of the id drops them: they name the old run); a terminated
   * sub-orchestration answers its parent's call with a failure. As in Durable Functions, the
   * sub-orchestrations it started are not terminated with it by default (nor suspended, resumed or purged with it): they are
   * instances of their own, whose `parentInstanceId` names it, and run on until they are terminated by id.
   *
   * With `{ recursive: true }` ({@link TerminateOptions}) they are: the step that terminates the instance (the
   * client's own commit, or a worker's) sends the same terminate, recursive too, to every sub-orchestration of its
   * current execution whose call is still unanswered, in the same commit, and each of them does the same for its own
   * when it applies it. So a
   * crash or a lost lease between two levels leaves the rest queued in the store, never lost: the next worker goes on
   * with it. A child that ended meanwhile, or an instance of that id that this instance did not start, is left alone.
   * The call resolves once every instance it reached is terminal (reads then show them terminal; a sub-orchestration
   * below a child that had completed, such as one a `Task.any` left running, is not reached, nor is anything when a
   * terminate queued before this one, not recursive, ended the instance). Where the client
   * commits a terminate itself (as above), it applies the ones its commits handed on too, level by level, each in a
   * commit that deletes the queued message it applies, so a client with no worker anywhere sees the whole tree end at
   * once; a child a worker holds, or on a store without `capabilities.unclaimedWrites`, is left to a worker, and when
   * none applies it the call resolves after a further wait of 10 s (the child ends when one runs).
   *
   * @example
   * ```ts
   * const admin = createClient({ store }); // no worker anywhere
   * await admin.terminate(id, 'not needed');
   * (await admin.getStatus(id))?.runtimeStatus; // 'Terminated'
   * await runtime.client.terminate(orderId, 'cancelled', { recursive: true }); // its sub-orchestrations too
   * ```
   */
  terminate(instanceId: string, reason?: unknown, options?: TerminateOptions): Promise<void>;
  /**
   * Asks a Pending, Running or Suspended instance to stop, cooperatively (Temporal's cancellation; a durable-rx
   * extension: Durable Functions has none). Unlike {@link terminate}, which ends the instance without running its code,
   * the request is delivered into the orchestrator: a `CanceledError` (code `'canceled'`, with `reason`) is thrown at
   * the `yield` it waits at, and `ctx.isCancellationRequested` becomes true. The orchestrator may catch it, call
   * compensating activities and timers (they work as before), and return (Completed) or throw (Failed). When the
   * `CanceledError` escapes it, the instance ends Failed with `failureDetails.errorType` `'CanceledError'`
   * (`isCancellation(status.failureDetails)`), and, for a sub-orchestration, its parent's call fails with a
   * `TaskFailedError` for which `isCancellation` holds.
   *
   * Resolves once the request is stored (as {@link raiseEvent} does); the status changes only when the orchestrator
   * ends, so wait with `waitForCompletion` or `status$`. The request is recorded in the history
   * (`ExecutionCancelRequested`) by the step that delivers it, so replays meet it at the same `yield`. An instance that
   * has not run yet (Pending) starts and meets it at its first `yield`; a Suspended one keeps it until it is resumed,
   * as any event. A second request is recorded and ignored, and so is one that reaches the instance after it ended
   * in the same step. One that reaches an execution after its `continueAsNew` (in the same step, or while suspended),
   * or before it reached its first `yield`, is carried to the next execution (whatever `preserveUnprocessedEvents`
   * says), which meets it at its first `yield`: a cancel is never lost to a continueAsNew. The
   * work the orchestrator waited for is not canceled: a running activity finishes and its result is recorded (and
   * ignored unless the orchestrator yields that task again), and sub-orchestrations it started are not canceled with
   * it (cancel each by id, from an activity or the caller, as with terminate). A call with retries made before the
   * request starts no new attempt after it: its next failure, or its pending retry timer, fails it with the last error
   * (calls made after the request, the compensation, retry as usual). `reason`: a string (well-formed
   * Unicode, as suspend's). Unknown: 404 (`InstanceNotFoundError`); terminal: 410 (`InstanceNotRunningError`).
   *
   * @example
   * ```ts
   * await client.cancel(id, 'order withdrawn');
   * const done = await client.waitForCompletion(id);
   * isCancellation(done.failureDetails); // true when the orchestrator let the CanceledError escape
   * ```
   */
  cancel(instanceId: string, reason?: string): Promise<void>;
  /**
   * Suspends an instance: it makes no progress, messages are kept for later. Resolves once it is Suspended. A Running
   * instance that no worker holds is suspended by the local client in its own commit, so it needs no worker at all (a
   * `createClient({ store })` alone); a Suspended one (a repeated suspend, an HTTP retry) is answered at once, the
   * status unchanged, its suspend recorded in the history in the client's commit as a worker records it. So is a
   * Pending (or ContinuedAsNew) instance that no worker holds: its status becomes Suspended at once, the suspend held
   * back in its state (a repeated one writes no state: no new snapshot, `version` kept), and the worker that later takes its queued start records it ahead of the start (with its
   * reason, at the time it was committed) and starts it suspended, so none of its code runs before the resume. A
   * suspend queued as a message has the same effect when it is in the batch a worker claims with the start; one that
   * reaches a later batch finds the execution started, its first step run: a suspend sent while the runtime's own
   * client hands a start it just committed to its worker (that worker runs the first step on the start alone), or one
   * queued behind more messages than a claim takes (MongoStore's `maxMessagesPerClaim`). An event, a result or a
   * timer queued before the suspend and not applied yet does not hold it back: it stays queued, and reaches the
   * instance as one that arrived while it was suspended (kept, and processed after the resume). The suspend is queued for a
   * worker, and the call resolves once a worker has applied it (or after 10 s, the command still queued;
   * at once when the instance is Suspended already, unless a worker's step in flight took a resume queued before it:
   * then once a committed status shows Suspended again, as for {@link DurableClient.resume}), on a store without `capabilities.unclaimedWrites`,
   * while a worker holds the instance (running a step of it, or a Pending one that the runtime's own client handed to
   * its worker: that worker runs its first step, then suspends it), while a command committed before it (a resume
   * whose call timed out) waits for the instance, or, for a started runtime's client (whatever its worker's load), while
   * any message committed before it does (each is applied first, in order). Unknown: 404; terminal: 410, and so when
   * the instance ends before a worker applies the queued suspend (the suspend is then recorded and ignored). A suspend
   * a worker applied in the step that then terminated or resumed the instance (a terminate or resume queued behind it)
   * resolves: it was applied, and the history shows it before them. One queued
   * while the step continues the instance as new suspends the next execution, and resolves once that one is Suspended,
   * or, when a resume behind it resumed it in the same step, once the instance's state holds it for the next execution;
   * one that step applied before its `continueAsNew`, undone by a resume behind it, resolves once the step committed
   * (the state keeps it until the next execution starts).
   *
   * @example
   * ```ts
   * const admin = createClient({ store }); // no worker anywhere
   * await admin.suspend(id, 'maintenance');
   * (await admin.getStatus(id))?.runtimeStatus; // 'Suspended' (it was Running)
   * ```
   */
  suspend(instanceId: string, reason?: string): Promise<void>;
  /**
   * Resumes a suspended instance. Resolves once it is no longer Suspended. When no worker took in anything that
   * reached the instance while it was suspended and no worker holds it, the local client resumes it in its own commit
   * (Running at once, no worker needed); what is still queued for it (an event raised while it was suspended) and the
   * work it waits for are then run by any worker that starts. A Running one (a repeated resume)
   * is answered at once, the status unchanged, its resume recorded in the history in the client's commit as a worker
   * records it, also when another caller's suspend is queued ahead of it: the two reach the instance in order, and
   * the last committed decides its status. When a worker's step in flight already took that suspend (its claim says
   * so: `LeaseLostError.claimedCommand`), that step commits Suspended first: the resume then goes behind it, and the
   * call resolves once a committed status shows the instance no longer Suspended (or after 10 s), so no read after it
   * resolved shows that suspend (a suspend of a Suspended one likewise; docs/design.md, Read-your-writes, says what a
   * MongoStore claim of at most so many messages leaves). Otherwise it is queued for a worker, and the call resolves once a worker has applied it (or after
   * 10 s, the command still queued; at once when the instance is not Suspended): when the resume runs the orchestrator
   * on what a worker kept (an event raised, an activity result or a timer that arrived while suspended), while a
   * command committed before it (a suspend whose call timed out) waits for the instance, or, for a started runtime's
   * client (whatever its worker's load), any message committed before it (it is applied first), on a store
   * without `capabilities.unclaimedWrites`, and while a worker is running a step of
   * the instance. An instance suspended before its execution started (its start still queued) is resumed in the
   * client's commit too: it gets back the status it had (Pending, or ContinuedAsNew when it had continued as new), and
   * its start runs as any start does, the worker that takes it recording the suspend and this resume ahead of it (as
   * when both reach it as messages); one not started and not suspended (nothing to resume) is answered at once,
   * no state written (no new snapshot, `version` kept). Unknown: 404; terminal: 410. A resume a worker applied in the
   * step that then suspended the instance again (a suspend queued behind it) resolves: it was applied, and the history
   * shows it before that suspend; so does one whose step ran the code on to a `continueAsNew` (the next execution,
   * suspended by a suspend behind it, replaces that history).
   */
  resume(instanceId: string, reason?: string): Promise<void>;
  /**
   * Makes a Failed instance run its failed calls again. Resolves once the rewind is committed: the status is no
   * longer Failed (unless the rerun calls fail again). With no failed call to rerun (the orchestrator's own code
   * threw), the rewind's own step replays the code and records how it ends: Failed again at once if it still throws,
   * Completed if it now returns (its history shows `ExecutionRewound`, then the new outcome). A failed sub-orchestration among those calls is rewound in
   * place with its parent (same instance and execution, its completed work kept; created afresh when it was purged),
   * and reports its result to the parent's call that now waits for it: the rewind tells it which call that is, since
   * it may have been created by another call or another execution of the parent (whose call then failed because the
   * instance was still running), which its own start records. Rewound in place, it keeps the input it was started
   * with, even when the call now waiting for it passed another (purge it before the rewind to have that call start it
   * afresh with its own input). One rewound on its own before its parent is not started again: if it completed
   * since, the call gets the result it sent the Failed parent; if it still runs, the call waits for it (an instance of that
   * id that runs for another call or execution of the parent fails the call again, as before the rewind). A terminate, suspend or resume that reached the instance once it had failed (sent
   * while it still ran) is dropped by the rewind, not applied late; so is a suspend not resumed before the failure (a
   * step the store refused for good while the instance was Suspended failed it): the rewound instance runs. Raised events are kept and delivered to the rewound
   * instance, also one recorded after the failure: an event to a Failed instance is refused (410), so each was accepted
   * while it ran, and an accepted event is never dropped. Results of its calls are kept. A rewind has two halves:
   * the history rewritten without the failure (the status Running), and the replay that reruns the failed calls,
   * which runs the orchestrator's code and so needs a worker. A runtime's own client whose worker is running with a
   * free slot leaves both to that worker and resolves once its step committed them. Otherwise, when no worker holds
   * the instance (none runs, or a busy or stopped one has not claimed it), the client commits the rewrite itself, as
   * it commits a terminate, and resolves at once with the instance Running; the next worker that claims it reruns the
   * failed calls (a code that throws again without rerunning any fails it then). While a worker holds the instance, or
   * a message sent before the rewind still waits for it, the rewind goes to a worker as a message, and with no worker
   * applying it the call resolves after 10 s with the instance still Failed. A store that refuses the rewritten history
   * for good (a 413: larger than it records at once) refuses a client's rewrite (the call rejects with the store's
   * error, nothing written); a worker's, once every smaller record of it was refused too, is recorded as refused: its
   * `ExecutionRewound` appended with `payloadRefused` saying why, the instance still Failed, and the call rejects with
   * `PayloadTooLargeError` (413) as soon as that record is committed (a remote client's too: the HTTP route
   * answers 413), so it never resolves as if the rewind had been made (a record the client could not read when it
   * came is read again when the 10 s end). The record names no call: a rewind sent while a worker records another
   * caller's refusal of the same history may be answered by it, and its own message is applied later (the store
   * refuses it again, unless it takes more by then). A step of late events (results, raised events) that reach the
   * Failed instance while the rewind waits, consumed with no record because the store refused every record of it,
   * leaves the same trace and rejects the rewind the same way. So does a rewind of an instance failed with no history
   * at all (the store refused every record of its first step): nothing to replay, it is recorded as refused; restart
   * it instead. Unknown: 404; Completed or Terminated: 410;
   * Pending, Running or Suspended: 409.
   */
  rewind(instanceId: string, reason?: string): Promise<void>;
  /**
   * Starts a terminal (Completed, Failed, Terminated) instance again with its original input, under its own id, or a
   * new one with `restartWithNewInstanceId: true`; resolves with the id once the new instance is Pending (shown so to
   * the reads issued as it resolves, as after `startNew`). Unknown:
   * 404; not terminal: 409. An instance whose orchestrator the runtime does not know (started by a client of another
   * runtime on the same store) is refused as `startNew` refuses that name: 400 `invalid-argument`, nothing written, so
   * no restart waits for a worker that may never come (restart it through a runtime that has the orchestrator). A
   * client made with `createClient({ store })` knows no names and checks none: its restart is Pending until a worker
   * that has the orchestrator claims it (one without it fails it, as any start of a name it does not have). The
   * instance's state and history are read together: the new start names the GUIDs its input holds that copied steps
   * of a fork made, as the restarted execution's start named them (`ExecutionStarted.copiedGuids`), so a call named
   * with one runs under a GUID of the new execution's own, not the id of the fork's source's child (see `fork`). A
   * restart is no copy, as a Durable Functions restart is not: under either id, a sub-orchestration call it makes over an
   * ended child of the restarted instance replaces that child, as any start of an ended id does (a fork's such call
   * fails instead, see `fork`).
   */
  restart(instanceId: string, options?: RestartOptions): Promise<string>;
  /**
   * Forks an instance into a new one (DBOS's `forkWorkflow`, Temporal's reset into a new run): the fork runs the same
   * orchestrator with the same input and tags, as a top-level instance, from a snapshot of the source's current
   * execution. It gets back the first `keepResults` results the source received ({@link ForkOptions.keepResults}:
   * activity, sub-orchestration, timer and external-event results, in the order received; default all of them), so the
   * calls that made them are not made again, and runs everything after them again: the code after the last kept
   * result runs in the fork's first step, at the fork's time (`ctx.currentUtcDateTime`: a timer it creates counts from
   * then); a call the source made before that but whose result is not kept is made anew (an activity runs again, a
   * timer is created again for the time it was created for, so one due already fires at once; a sub-orchestration
   * starts as a child of the fork). Resolves with the fork's id once it is committed: Running (its history holds the
   * kept results up to the step of the last one, whose results are queued for the fork's first step, which records
   * an `ExecutionRewound` with the reason `forked from "<source>"`); Pending when every kept result reached the
   * source before its first step ran (events raised to it while Pending, a signal-with-start's: the source's start,
   * naming the fork, is its start message, those results behind it, so the code after them runs at the fork's time
   * too, and no `ExecutionRewound` is recorded); or Pending when it keeps no result (a new start with the source's input; of a
   * source whose delayed start, `startAt`, is still to come, a start delayed to that same time, and at once when
   * that time has passed though no worker started the source yet). The
   * source's own state and history are not changed (but see sub-orchestrations called with an id, below), whatever
   * its status (Pending, Running, Suspended, Completed, Failed, Terminated; one that continued as new is forked from
   * its current execution). A terminate, a suspend not resumed and a cancel request after the last kept result are
   * not copied: the fork of a terminated or canceled instance goes on from there (a cancel request before a kept
   * result is, as the code met it).
   *
   * The fork's `ctx.instanceId` is its own, and the replay of the steps it copies makes the GUIDs its source made
   * (each copied step's `guidSeed`; a fork of a fork copies the seeds along), so a kept call the code named with one
   * (a sub-orchestration id) replays. The steps the fork runs itself make GUIDs of its own, whatever their time: two
   * forks of one source, or a fork and its running source, stepping in the same millisecond do not name children
   * alike. A sub-orchestration call made anew (its result not kept) whose id holds a GUID a copied step made (the
   * source's: `newGuid()`, or an id built from one, such as `` `job-${ctx.newGuid()}` ``) runs under that id with the
   * GUID the fork would have made in its place (`forkCallId`): a fan-out of GUID-named children cut in the middle
   * neither fails on the source's running children nor replaces its ended ones, no two forks of one source share such
   * an id, and every replay of the fork (or of a fork of it) names the call alike. The code's own variable still holds
   * the source's GUID (it was made in the copied step); list the fork's children by their `parentInstanceId`. An
   * execution the fork starts by `continueAsNew` has GUIDs of its own, as any execution; a GUID a copied step made that
   * the code hands it in the `continueAsNew` input is named on its start (`ExecutionStarted.copiedGuids`), so a
   * sub-orchestration named with it there (or in a later execution it is handed on to) runs under a GUID of that
   * execution's own, not the source's child's id; a fork of that execution that keeps no results, and a restart of it,
   * start with that input and name them on their start too (`copiedStart`), so their calls are renamed alike. One
   * that reaches a copy another way (an activity's result, an event, the input of an execution before the one copied)
   * is not renamed: a sub-orchestration call of the fork whose id holds a GUID and
   * names a child of an instance it was copied from (`ExecutionStarted.forkedFrom`), running or ended, fails with
   * `InstanceAlreadyExistsError` saying so, and does not take that child over; so does the other way round, a call of
   * the source, of another fork of it or of a fork of the fork over a child a fork called first (its link names the
   * lineage's root, `ParentCall.forkRoot`). A
   * sub-orchestration the source called without an id gets the fork's id for it (kept or called anew); one called with
   * an id the code chose (`'shipping-42'`, no GUID a
   * copied step made in it) is called with that id again: the call fails while the source's child of that id is still
   * active, and once that child ended it is started again as the fork's child, replacing it (as any start of an ended
   * id: the code named one instance for that work, and the fork does that work again). A kept call whose child id the code built
   * from `ctx.instanceId` (the fork's own) replays: each copied step names the instance id it ran under
   * (`OrchestratorStarted.sourceInstanceId`), and the replay matches the recorded id with that id at places where the
   * id the code made holds the fork's, once the code read `ctx.instanceId` (an id holding the fork's id that code never
   * reading it wrote out is no such call; a fork recorded before steps named it fails there with
   * `NonDeterminismError`); made anew, such a call names the fork, and is its own child.
   *
   * The external events the source received that the fork does not keep are raised to it after the kept results,
   * in the order received ({@link ForkOptions.reapplyEvents}, default true).
   *
   * Unknown source: 404. `newInstanceId` not a valid id, `keepResults` not an integer from 0 to the number of results
   * the source recorded, `reapplyEvents` not a boolean, or an orchestrator this runtime does not know (as `restart`): 400. `newInstanceId` taken by
   * any instance: 409 (`InstanceAlreadyExistsError`). Each writes nothing.
   *
   * @example
   * ```ts
   * // Run an order again from its second activity on, keeping the first activity's result.
   * const forkId = await client.fork(orderId, { keepResults: 1 });
   * const done = await client.waitForCompletion(forkId);
   * ```
   */
  fork(instanceId: string, options?: ForkOptions): Promise<string>;
  /**
   * Deletes a terminal instance, its history and messages; 0 for an unknown id, 409 for an instance that is not
   * terminal. With `{ recursive: true }` ({@link PurgeInstanceOptions}) the sub-orchestrations its last execution
   * started (named in its history), and theirs, at any depth, are deleted too, and `instancesDeleted` counts them all;
   * an id such a call found taken by another parent's instance, or gone already, is skipped. Every instance of the tree
   * must be terminal: one that is not refuses the purge with 409 before anything is deleted. The tree is deleted in one
   * store transaction (`Store.purgeInstanceSet`), each instance only while it is still the snapshot the purge read
   * (its execution and version, terminal): when one changed since (an instance started over a descendant's id, a
   * rewind, a late result recorded), nothing is deleted, the tree is read again and the purge decided again, up to 5
   * times, after which it rejects with `UnavailableError` (503), nothing more deleted. A tree larger than one
   * transaction's bound (`MAX_PURGE_SET`, 50) is deleted in several, the deepest first and the named instance in the
   * last, so a purge cut short between them leaves the named instance, whose history still names the rest, and
   * repeating the call finishes it. What is deleted is the tree as it is when the deletion commits: an instance another
   * caller started over a descendant's id is left alone, and so are the sub-orchestrations only that descendant's old
   * history named.
   *
   * @example
   * ```ts
   * await client.purgeInstanceHistory(orderId, { recursive: true }); // { instancesDeleted: 3 }: the order and its two children
   * ```
   */
  purgeInstanceHistory(instanceId: string, options?: PurgeInstanceOptions): Promise<PurgeResult>;
  /**
   * Deletes the terminal instances matching the filter. A purge the store's close cuts short (`Store.purgeInstances`)
   * rejects with `StoreClosedError`, whose message names the count deleted before.
   */
  purgeInstanceHistoryBy(filter: PurgeInstancesFilter): Promise<PurgeResult>;
  /**
   * Terminates every instance matching `filter` (the filter of {@link listInstances}: `runtimeStatus`, the created-time
   * range, `instanceIdPrefix`, `name`, `tags`, `order`), as {@link terminate} terminates one, with the same `reason` (and
   * `recursive`, see {@link BulkTerminateOptions}): Temporal's batch terminate, Inngest's bulk cancellation. The
   * commands by filter (`terminateBy`, {@link suspendBy}, {@link resumeBy}, {@link cancelBy}) are named as Durable
   * Functions names its one command by filter: the per-instance command and `By` (`purgeInstanceHistoryBy`,
   * `getStatusBy`), and share these rules:
   *
   * - **Which instances.** Those the filter matches as the store lists them, page by page through its indexes (never
   *   all in memory): what existed when the call began (as a listing's paging), in the listing's order. Only the
   *   statuses the command applies to are listed: Pending, Running and Suspended for terminate and cancel; Pending and
   *   Running for suspend; Suspended for resume. A `runtimeStatus` filter narrows these; one that lists none of them
   *   matches nothing (0, not an error). No filter at all takes every such instance.
   * - **Each instance on its own.** Each is changed by its per-instance command (read, checked and committed in its own
   *   transaction, resolving as that command resolves: see {@link terminate}), not atomically across instances: a
   *   call cut short (a crash, `signal`, a store error, which it rejects with) leaves the instances it changed changed
   *   and the rest as they were. Repeating the call is safe and goes on with the rest: a changed instance no longer
   *   matches (a terminated one is terminal, a suspended one Suspended, a resumed one no longer Suspended; a second
   *   cancel is recorded and ignored). Up to 16 commands run at once.
   * - **What it returns.** `instancesAffected`, and `instancesSkipped`: an instance whose state no longer allowed the
   *   command when its turn came (ended or purged since it was listed) is skipped, not an error
   *   ({@link BulkCommandResult}).
   * - **Bounds.** `limit` takes up at most that many and gives a `continuationToken` to go on; `signal` stops the call
   *   ({@link BulkCommandOptions}).
   *
   * A malformed filter, reason or option is refused with `InvalidArgumentError` (400) before anything changes. Over
   * HTTP: `POST /instances/terminate` with the list filters as query parameters; there a request must name at least
   * one filter (the remote client names the statuses, so `terminateBy({})` takes every instance through it too): a
   * command on the id `.` reaches that route once URL parsers remove the dot segment, and is refused.
   *
   * @example
   * ```ts
   * // Every running or pending run of ImportFile started yesterday, at most 1000 per call.
   * let token: string | undefined;
   * do {
   *   const r = await client.terminateBy(
   *     { name: 'ImportFile', createdTimeFrom: yesterday, createdTimeTo: today },
   *     'bad input file', { limit: 1000, continuationToken: token },
   *   );
   *   console.log(`${r.instancesAffected} terminated, ${r.instancesSkipped} had ended`);
   *   token = r.continuationToken;
   * } while (token);
   * ```
   */
  terminateBy(filter: InstanceFilter, reason?: unknown, options?: BulkTerminateOptions): Promise<BulkCommandResult>;
  /**
   * Suspends every Pending or Running instance matching `filter`, as {@link suspend} suspends one; the rules of
   * {@link terminateBy}. Over HTTP: `POST /instances/suspend`.
   *
   * @example
   * ```ts
   * await client.suspendBy({ name: 'SendNewsletter' }, 'mail provider down'); // { instancesAffected: 12, instancesSkipped: 0 }
   * ```
   */
  suspendBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult>;
  /**
   * Resumes every Suspended instance matching `filter`, as {@link resume} resumes one; the rules of
   * {@link terminateBy}. Over HTTP: `POST /instances/resume`.
   *
   * @example
   * ```ts
   * await client.resumeBy({ name: 'SendNewsletter' }, 'mail provider back');
   * ```
   */
  resumeBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult>;
  /**
   * Asks every Pending, Running or Suspended instance matching `filter` to stop, cooperatively, as {@link cancel} asks
   * one (each resolves once its request is stored); the rules of {@link terminateBy}, except that a canceled instance
   * may go on running (its code decides when it ends), so a repeated call asks it again (recorded and ignored): go on
   * with the `continuationToken` instead. Over HTTP: `POST /instances/cancel`.
   *
   * @example
   * ```ts
   * await client.cancelBy({ name: 'ProcessOrder', instanceIdPrefix: 'tenant-42/' }, 'tenant closed');
   * ```
   */
  cancelBy(filter: InstanceFilter, reason?: string, options?: BulkCommandOptions): Promise<BulkCommandResult>;
  /**
   * Resolves when the instance is terminal, or with its latest status after `timeoutMs` (default 10 s), counted from
   * the call on the client's clock: a runtime's client uses the runtime's `clock` (`createClient`, its `clock` option;
   * the remote client, its own), so under a `VirtualClock` the timeout passes when the test advances that clock, not
   * in real time (`clock.advance` past it resolves the wait with the latest status, even before a timer due later). When no status has arrived by then (the store has not answered the first read; a remote client's server
   * has sent no snapshot: that client then reads the status once with a plain request if its event stream failed),
   * the first one that arrives within `FIRST_ANSWER_GRACE_MS` (10 s) more ends the wait, and without one the wait
   * rejects with `UnavailableError` (`unavailable`, 503; its message says no status could be read) instead of
   * waiting on. Unknown: 404. A runtime's client reads the status again while its read fails with an error worth
   * another read (see {@link status$}); the `UnavailableError` of a wait that no read answered by then carries the
   * last failure as its `cause`. When the client or its store closes first (a remote client's `close()`), the wait
   * rejects with `StoreClosedError` (`store-closed`; a runtime's client gives it the last failure of a read made again
   * as its `cause`): it resolves only with a terminal status or at its timeout. A remote client whose server ends the
   * watch (its handler, client or store closed) or fails it with an error worth retrying is not closed: its wait
   * subscribes again (after 1 s, doubling) and goes on. Any other failure of the read rejects at once with the store's
   * error.
   */
  waitForCompletion(instanceId: string, options?: { readonly timeoutMs?: number | undefined }): Promise<InstanceStatus>;
  /**
   * The current status (`undefined` for an unknown id), then every committed change in commit order (no consecutive
   * duplicates). One exception, across browser tabs: a tab that goes (closes, reloads, crashes) between a commit and
   * its post on the IndexedDB stores' channel never announces that commit, so the other tabs may skip a value committed
   * in its last moment; they still get the latest state (they read the instances they watch again once its lock frees),
   * in commit order (the store-indexeddb README, "How the cross-tab feed works"). The current status comes at once: as soon as one store read answers (a remote client's: once its
   * server has read it and sent it), which is after `subscribe` returns, on a MemoryStore too; a subscriber that looks right after
   * subscribing has nothing yet (wait for the value: `firstValueFrom(client.status$(id))`). The same holds for the
   * first value of {@link customStatus$}, {@link instances$} and {@link history$}. It does not complete when the instance is terminal, since the id may be started again (`startNew`,
   * `restart`) or purged, which it shows too; it completes only when the client or its store closes. To end it at
   * the first terminal status: `takeWhile((s) => s !== undefined && !isTerminalStatus(s.runtimeStatus), true)`.
   * Each subscriber gets values of its own: one that changes a status it got (its input, say)
   * changes nothing another subscriber or a read sees, nor what its own later statuses are compared with (a status
   * changed to equal the next committed one is still followed by that one).
   *
   * What a command of this client commits after the subscription (made later, even in the same tick, with no await
   * between) is delivered: subscribe, then `startNew` with the id, gets every status of the run. A remote client keeps
   * this only within the bounds of its wait (its README, "Commands after watches"): a command it sends without the
   * server holding the watch (the stream down, the wait's `timeoutMs` passed) may be applied before the watch starts,
   * which then misses what was committed before its first value. What was committed before the subscription is not
   * delivered (only the current status): a watch subscribed after `await startNew(...)` may miss the first steps.
   *
   * A runtime's client rides out a transient failure of its read of the current status: when
   * `isRetryableError(error)` (`@durable-rx/runtime/client-kit`) says the failure may pass (`unavailable` 503, a
   * store's own 5xx such as IndexedDB's `database-blocked` while another tab keeps an older version of the database
   * open, a store call past `storeCallTimeoutMs`), it reads again after 100 ms, doubling the delay with each failure
   * in a row up to 5 s, on the client's clock, for as long as the subscription lasts: the
   * first value only comes later. Unsubscribing meanwhile lets the pending delay go; the client's or the store's close
   * completes it at once. Any other failure (a closed store or client, `isStoreClosed`; a 4xx; an error that is no
   * `DurableError`) ends the observable with that error, and so does a failure of the store's change feed; nothing of
   * it is held after the error. A remote client reconnects its event stream by itself (its `reconnect` option) and
   * ends a watch with an error only as its README says.
   */
  status$(instanceId: string): Observable<InstanceStatus | undefined>;
  /**
   * The current custom status (`undefined` when none is set, or for an unknown id), then every committed value in
   * order; a value with the same JSON text as the one before is not emitted again. The one before is the value as
   * committed: a subscriber that changes a value it got (it is its own) changes nothing the next is compared with.
   * Completes as {@link status$} does, may skip a value as it does (across browser tabs, a tab's last commit before
   * it went), and sees what later commands commit as it does, within the same bounds for a
   * remote client: subscribe, then start. Reads its first value again after a transient failure, and ends with the
   * store's error, as {@link status$} does.
   */
  customStatus$(instanceId: string): Observable<unknown>;
  /**
   * A live query: the matching instances, re-emitted whenever membership or a member's status changes. Each list is
   * ordered as {@link listInstances}: by createdTime, then instanceId, or the reverse with `order: 'desc'` (newest
   * first: an instance started meanwhile comes first); an instance started again over a terminal one (`startNew`,
   * `restart`) has a new createdTime and moves to its new place. Each subscriber gets lists and statuses
   * of its own. It follows the commits its store reports, and runs its query once again when the store says it may
   * have missed some (`Store.resync$`: across browser tabs, the IndexedDB stores, a tab went, closed, reloaded or
   * crashed, between a commit and its post), so such a tab's last completion, terminate or purge reaches it too.
   * It takes {@link listInstances}' query whole: `pageSize` and `continuationToken` are checked by the same rules, and
   * have no effect (a live list holds every match).
   */
  instances$(filter?: InstanceFilter): Observable<InstanceStatus[]>;
  /**
   * The history events: those already committed, then each one as it is committed. When the history starts over
   * (`continueAsNew`, a new execution over a terminal one, a rewind), the new history follows from its first event.
   * Each event is shown once, under its own history: a store keeps only the current history, so the events of one
   * that was replaced before they could be read (an execution shorter than a history read) are not shown at all.
   * Each subscriber gets events of its own (copies): one that changes them changes nothing another subscriber, a read
   * or the store sees.
   */
  history$(instanceId: string): Observable<HistoryEvent>;
  /** The management URLs of an instance under `baseUrl`. */
  createHttpManagementPayload(instanceId: string, baseUrl: string, options?: HttpManagementPayloadOptions): HttpManagementPayload;
  /**
   * The response an HTTP handler returns after starting an instance, as Durable Functions builds it: 202, the
   * management URLs (built from the request's origin) as JSON body, `Location` = `statusQueryGetUri`,
   * `Retry-After: 10`.
   */
  createCheckStatusResponse(request: Request, instanceId: string, options?: CheckStatusResponseOptions): Response;
  /**
   * Waits for the instance (on `status$`, no polling) and answers as Durable Functions' client does: 200 with the
   * output as soon as it completes within `timeoutMs`; 200 with the status body when it is Terminated; 500 with the
   * status body when it Failed (200 with `returnInternalServerErrorOnFailure: false`); otherwise the check-status response of {@link createCheckStatusResponse}, also when
   * the wait fails (a store read, the network): the instance goes on, and a rejection passed on as a 5xx would invite
   * a second start. Unknown instance: rejects (404).
   */
  waitForCompletionOrCreateCheckStatusResponse(
    request: Request, instanceId: string, options?: WaitForCompletionOrCheckStatusOptions,
  ): Promise<Response>;
  /**
   * Durable Functions' positional form of {@link waitForCompletionOrCreateCheckStatusResponse} (its JavaScript SDK
   * before v3), read as `{ timeoutInMilliseconds, retryIntervalInMilliseconds }` by the same rule: the timeout
   * defaults to 10 s, and the retry interval is checked (a number >= 0) and ignored.
   *
   * @example
   * ```ts
   * return client.waitForCompletionOrCreateCheckStatusResponse(request, id, 30_000, 1000);
   * ```
   */
  waitForCompletionOrCreateCheckStatusResponse(
    request: Request, instanceId: string, timeoutInMilliseconds?: number, retryIntervalInMilliseconds?: number,
  ): Promise<Response>;
}

/**
 * A {@link DurableClient} over a store in this process: `runtime.client` and `createClient({ store })`. It follows the
 * store until it is closed (its own `close()`, or the store's); a runtime's `stop()` and `start()` leave it alone.
 */
export interface LocalDurableClient extends DurableClient {
  /**
   * Ends everything this client watches, for good: `status$`, `customStatus$`, `history$` and `instances$` complete
   * after their current snapshot, and pending `waitForCompletion` calls reject with `StoreClosedError`
   * (`store-closed`), as when the store closes, unless the instance is terminal (a non-terminal status is never
   * mistaken for the end of a wait). Observables made later complete after their first snapshot, and later waits
   * resolve at once with a terminal status or reject with `StoreClosedError`. Commands and reads still go to the store, each with its bound (`storeCallTimeoutMs`), but with no
   * read-your-writes: a command that would wait for a worker to apply it resolves as soon as its commit lands (a
   * status read right after may not show its effect yet). The store is not closed. Idempotent. It ends every feed
   * even when letting go of one throws (a store feed whose teardown throws), then throws the first such error,
   * synchronously.
   *
   * @example
   * ```ts
   * runtime.client.status$(id).subscribe({ complete: () => console.log('done watching') });
   * runtime.client.close(); // prints "done watching" (after the current status)
   * ```
   */
  close(): void;
}
