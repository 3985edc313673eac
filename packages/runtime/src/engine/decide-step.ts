import {
  assertNever, type EventRaisedEvent, type ExecutionCancelRequestedEvent, type ExecutionResumedEvent, type ExecutionRewoundEvent, type ExecutionStartedEvent, type ExecutionSuspendedEvent,
  type ExecutionTerminatedEvent, type HistoryEvent,
} from '../model/history-event.js';
import { isTerminalStatus, type FailureDetails, type HeldCommand, type InstanceState, type InstanceTags, type Mutable } from '../model/instance-status.js';
import { freezeBuilt } from '../model/frozen.js';
import { historyIdOf } from '../model/history-position.js';
import { cutText, ellipsis } from '../model/cut-text.js';
import { isoTime } from '../model/iso-time.js';
import type { JsonValue } from '../model/json.js';
import { isStaleResult, type ActivityTask, type Lease, type MessageEvent, type OrchestrationMessage } from '../model/message.js';
import type { CreateInstanceWrite, DeleteMessagesWrite, InstanceCondition, StartIfExists, UnclaimedLease, WriteLease, WriteRequest, WriteSet } from '../model/write-set.js';
import { applyEvent, heldCommands, parentCallOf, startsAnotherExecution } from './apply-event.js';
import {
  firstStepMarker, keptWhileSuspendedAfter, parentLinkAfter, stepMarkers, suspendedWithNothingDeferredFrom, type OrchestrationExecution, type StepResult,
} from './orchestration-execution.js';
import { copiedStart, forkHistory, startLineage } from './fork-history.js';
import { holdsGuid } from './fork-call-id.js';
import { rewindHistory } from './rewind-history.js';
import { recursiveTerminateOf } from './active-children.js';

/** The parent link of a sub-orchestration, as recorded in its ExecutionStarted event. */
export type ParentLink = NonNullable<ExecutionStartedEvent['parentInstance']>;

/** Everything {@link decideStep} needs about one claimed orchestration work item. */
export interface StepInput {
  /** The instance as claimed. */
  readonly state: InstanceState;
  /** The claimed messages, in arrival order. */
  readonly messages: readonly OrchestrationMessage[];
  readonly leaseToken: string;
  readonly now: Date;
  /** Makes unique ids (UUIDs); injected to keep the decision pure. */
  readonly newId: () => string;
  /** The worker's cached execution, valid for exactly `state.executionId` and `state.historyLength`, if any. */
  readonly cached?: OrchestrationExecution;
  /** The stored history of the current execution, once the decision asked for it (`needHistory`). */
  readonly history?: readonly HistoryEvent[] | undefined;
  /** A fresh execution of the orchestrator named `name` (the instance's), to replay the history into. */
  readonly newExecution: (name: string) => OrchestrationExecution;
}

/** What {@link decideStep} decided. */
export type StepDecision =
  | {
      /** The step cannot be decided without the stored history: call again with `history`. */
      readonly kind: 'needHistory';
    }
  | {
      readonly kind: 'commit';
      /** Everything the step writes, under the claim's lease. */
      readonly writeSet: WriteSet;
      /** The instance's state after the commit. */
      readonly state: InstanceState;
      /** The execution to cache for the next step (at `state`), or `undefined` when it finished or did not run. */
      readonly execution: OrchestrationExecution | undefined;
      /** True when the cached execution was used. */
      readonly cacheHit: boolean;
      /** History events replayed (cache misses). */
      readonly eventsReplayed: number;
      /** New events applied by the step. */
      readonly eventsApplied: number;
    };

/**
 * The step decision: what one claimed orchestration work item commits, as a complete {@link WriteSet}. Every rule
 * of a step lives here (or in the engine it drives), never in a store or the worker:
 *
 * - results of another execution (`continueAsNew`, restart) are consumed and dropped; a batch of nothing else commits
 *   only their deletion (no step, no history, no new version);
 * - a terminal instance records and ignores what reaches it (results racing a terminate, a timer or answer after it
 *   completed, late events): appended to its history, `version` + 1, its status as it was (`lastUpdatedTime` too, so
 *   `status$` shows no change: nothing it shows changed), unless it is rewound (Failed + ExecutionRewound) or started
 *   again;
 * - a rewind replays the history without the failures that failed it (`rewindHistory`), rewrites the history and
 *   bumps `historyEpoch`; one whose history a client rewrote (`decideRewind`, the state's `rerun`) replays the history
 *   as stored, in the next step, whatever messages it took;
 * - otherwise the cached execution continues (or a fresh one replays the history) and the step's events, actions,
 *   custom status, result to a parent and `continueAsNew` become requests; the status comes from {@link applyEvent}
 *   and `version` grows by one;
 * - a recursive terminate (`ExecutionTerminatedEvent.recursive`) that ends the execution also sends itself, in the same
 *   commit, to each sub-orchestration whose call is unanswered (`activeChildrenOf`), for an active child of this
 *   instance only (`ifActiveChildOf`): the step reads the history for it (no replay) even when the execution is cached.
 *
 * Pure apart from running the orchestrator, which is deterministic; `newId` and `now` are injected.
 */
export function decideStep(input: StepInput): StepDecision {
  return decide(input, input.messages, undefined, input.leaseToken, undefined, true);
}

/** What a step decides from, apart from its messages and lease. */
type DecideInput = Omit<StepInput, 'messages' | 'leaseToken'>;

/** Why a rewind of an instance with no history is not made (see `decide`). */
const NOTHING_TO_REWIND = 'the rewind was refused, the instance has no history to replay; restart it';

/** The one `needHistory` decision (it carries nothing). */
const NEED_HISTORY: StepDecision = Object.freeze({ kind: 'needHistory' });

/**
 * The step decision of {@link decideStep} and {@link decideActivityStep}: the write set goes under `lease` (an
 * orchestration lease with `leaseToken` when absent), starts with `first` (if any) and, with `consume`, deletes the
 * claimed messages (not when the only message was never stored). Whether the history is needed is decided before
 * anything runs: a cache miss asks for it, and the call with the history does the work once.
 */
function decide(
  input: DecideInput, messages: readonly OrchestrationMessage[], lease: WriteLease | undefined, leaseToken: string | undefined,
  first: WriteRequest | undefined, consume: boolean,
): StepDecision {
  const { state } = input;
  const stepped = stepEvents(state, messages);
  const { rewind, rerun, ignored } = stepped;
  let { events } = stepped;
  const writeLease: WriteLease = lease ?? { kind: 'orchestration', instanceId: state.instanceId, token: leaseToken! };
  let consumed: DeleteMessagesWrite | undefined;
  if (consume) {
    const messageIds = new Array<string>(messages.length);
    for (let i = 0; i < messages.length; i++) messageIds[i] = messages[i]!.id;
    consumed = { type: 'deleteMessages', instanceId: state.instanceId, messageIds };
  }
  if (rewind && state.historyLength === 0) {
    // Failed before any of its history was recorded (its first step consumed with no record: decideRefusedStep's
    // `unrecorded`): there is nothing to replay, so the rewind is recorded as refused (`refusedRewindOf`), as one whose
    // history the store refused, after the events of its batch; the instance stays Failed. A restart starts it again.
    const refused = events.map((e) => (e === rewind ? summaryRecord(e, NOTHING_TO_REWIND) : e));
    return stepless(state, writeLease, first, consumed, refused, undefined);
  }
  // Events claimed ahead of a rewind, in its batch, reached the Failed execution before it: late events, recorded
  // ahead of the rewind as a step of their own would have recorded them, so the rewind reruns a call one of them failed.
  // Given to the rewound run instead, a failure among them failed it again in this step, and the rewind, recorded after
  // that end, left it Running with its execution over: waiting for ever.
  let late: readonly HistoryEvent[] = NO_HISTORY;
  if (rewind) {
    const at = events.findIndex((e) => e.type === 'ExecutionRewound');
    if (at > 0) {
      late = events.slice(0, at);
      events = events.slice(at);
    }
  }
  // A rewind whose history a client rewrote (`decideRewind`) replays too: a cached execution of the same length may
  // be one of the history before the rewrite.
  const replays = !ignored && (input.cached === undefined || !!rerun);
  // Only stale results (`isStaleResult`: of an execution the instance no longer runs, such as a timer it queued or an
  // activity that lost a race before it continued as new; a late result of the current execution, Completed or
  // Terminated, is no stale result: recorded and ignored by the step): consumed (an activity step's task deleted),
  // and that is all. They are no work of the current execution: no step, no history, no new version, no change.
  if (events.length === 0 && messages.length > 0 && !rerun) {
    return stepless(state, writeLease, first, consumed, undefined, isTerminalStatus(state.runtimeStatus) ? undefined : input.cached);
  }
  // A recursive terminate names the sub-orchestrations of the history (`stepWriteSet`): read, not replayed, the cached
  // execution applies it as any terminate.
  const needsHistory = replays || (!ignored && input.cached !== undefined && hasRecursiveTerminate(events));
  if (needsHistory && input.history === undefined && (state.historyLength > 0 || rewind)) return NEED_HISTORY;

  // Recorded, visibly in history (a new version, so history readers see it), and ignored: the status is as it was.
  if (ignored) return stepless(state, writeLease, first, consumed, events, undefined);

  let execution: OrchestrationExecution;
  let baseHistory: readonly HistoryEvent[] | undefined;
  let eventsReplayed = 0;
  if (!replays) {
    execution = input.cached!;
  } else {
    const history = input.history ?? NO_HISTORY;
    execution = input.newExecution(state.name);
    // The run it belongs to: a rewind step's is the next epoch (the history it commits, `stepWriteSet`).
    execution.historyEpoch = (state.historyEpoch ?? 0) + (rewind ? 1 : 0);
    if (rewind) {
      const markers = late.length > 0 ? stepMarkers(isoTime(input.now)) : undefined;
      baseHistory = rewindHistory(markers ? [...history, markers.started, ...late, markers.completed] : history, state.input);
    }
    eventsReplayed = execution.replay(baseHistory ?? history);
  }
  const step = execution.step(input.now, events);
  const { writeSet, state: next } = stepWriteSet({
    state, step, consumed, first, lease: writeLease, now: input.now, newId: input.newId, baseHistory, parent: execution.parentInstance,
    answers: stateLinkOf(state), rewind: rerun, history: input.history,
  });
  return {
    kind: 'commit', writeSet, state: next, execution: step.isFinished ? undefined : execution, cacheHit: !replays,
    eventsReplayed, eventsApplied: events.length, // the step applies each of its events once
  };
}

/** What a step's claimed messages make of it, before anything runs: see {@link stepEvents}. */
interface StepEvents {
  /** The events of the messages of the current execution, in arrival order, after the lead event if any. */
  readonly events: HistoryEvent[];
  /** The `ExecutionRewound` among them when it rewinds the instance (a Failed one): its history is rewritten. */
  readonly rewind: ExecutionRewoundEvent | undefined;
  /**
   * The `ExecutionRewound` whose failed calls the step reruns: `rewind`, or the one a client's rewind left pending in
   * the state of an instance that is not terminal (`rerun`: the client rewrote the history, `decideRewind`, and left
   * this half to the next step, which reruns whichever messages its claim took: its claim may hand out an older
   * message, a timer fallen due, and leave the `ExecutionRewound` queued behind it).
   */
  readonly rerun: ExecutionRewoundEvent | undefined;
  /** The instance records and ignores them: it is terminal, and they neither rewind it nor start it again. */
  readonly ignored: boolean;
  /** They start another execution over the instance (a restart, a new start over the id). */
  readonly restarts: boolean;
}

/**
 * The one reading of a step's claimed messages, for every step decision ({@link decideStep},
 * {@link decideActivityStep}, {@link decideRefusedStep}): results of another execution (`continueAsNew`, restart) are
 * dropped ({@link isStaleResult}); the rest give the step's events, in an array of their exact size (a push into an
 * empty array reserves room for 16), after the suspends and resumes an execution not started yet holds in its state
 * (`heldCommands`) and with its suspends and resumes ahead of its start ({@link commandsFirst}); a rewind (an
 * `ExecutionRewound` reaching a Failed instance) or a start of another execution (a new one over this instance) is what a terminal instance does not ignore. A start
 * of the current execution reaching a terminal instance is one the instance never ran (an instance a client
 * terminated directly before it started, `decideTerminate`): recorded and ignored.
 */
function stepEvents(state: InstanceState, messages: readonly OrchestrationMessage[]): StepEvents {
  // The suspends and resumes a client committed before the execution started (of a Pending or ContinuedAsNew
  // instance, or a continueAsNew and a suspend in one step), held back in the state (`heldSuspend`), each go ahead of
  // its start, in order, as when they reach a worker as messages: one whose latest suspend is not resumed starts
  // suspended, and keeps what reaches it until a resume. (A Suspended instance is never ignored: it is not terminal;
  // nor is one holding a resume.)
  const notStarted = state.historyLength === 0;
  const lead = heldCommands(state);
  let rewound: ExecutionRewoundEvent | undefined;
  let restarted = false;
  let current = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (isStaleResult(m, state)) continue;
    current++;
    if (m.event.type === 'ExecutionRewound') rewound = m.event;
    else if (m.event.type === 'ExecutionStarted') {
      if (startsAnotherExecution(state, m.event)) restarted = true;
      if (m.event.carriedEvents) current += m.event.carriedEvents.length;
    }
  }
  const events = new Array<HistoryEvent>(current + lead.length);
  let e = 0;
  for (; e < lead.length; e++) events[e] = lead[e]!;
  // A terminate that reaches an execution not started ahead of any start (one a claim of so many messages hands out
  // alone, its start queued behind it) records when that start was sent (`recordedTerminate`).
  let startTaken = !notStarted;
  for (let i = 0; i < messages.length; i++) {
    const event = messages[i]!.event;
    if (isStaleResult(messages[i]!, state)) continue;
    if (event.type === 'ExecutionStarted') startTaken = true;
    if (event.type === 'ExecutionStarted' && event.carriedEvents) {
      // The events a continueAsNew carried over (`carriedOver`), recorded just ahead of the start they came with.
      const { carriedEvents, ...start } = event;
      for (const carried of carriedEvents) events[e++] = carried;
      events[e++] = start;
    } else {
      events[e++] = event.type === 'ExecutionTerminated' && !startTaken ? recordedTerminate(state, event) : event;
    }
  }
  const rewind = state.runtimeStatus === 'Failed' ? rewound : undefined;
  const terminal = isTerminalStatus(state.runtimeStatus);
  // A suspend held back in the state by a client (the lead), or sent as a message (a command queued behind another
  // message, or sent while a worker held the instance) that this batch takes in with the start, keeps the first step
  // from running any code of the execution until a resume. The suspends and resumes take effect ahead of the start
  // (those ahead of a terminate: `commandsFirst`). One that reaches a later batch (a start handed to the runtime's own
  // worker, which steps it on the start alone; a claim capped by `maxMessages`) finds the execution started.
  return {
    events: notStarted && !terminal ? commandsFirst(events) : events, rewind, rerun: rewind ?? (terminal ? undefined : state.rerun),
    ignored: terminal && !rewind && !restarted, restarts: restarted,
  };
}

/** Everything {@link decideRefusedStep} needs: the step's input, and why the store refused its write set. */
export interface RefusedStepInput extends Omit<StepInput, 'cached' | 'newExecution'> {
  /** The store's reason (its error as failure details). */
  readonly failure: FailureDetails;
  /**
   * The runtime's `customStatusLimitBytes`, which the step records when it is the first of an execution
   * (`firstStepMarker`), as a step that runs the code does: a later rewind runs the code under it.
   */
  readonly customStatusLimitBytes: number;
  /**
   * The store refused the failure record too (the events in full): the events are recorded without their payloads and
   * the failure is bounded ({@link decideRefusedStep}).
   */
  readonly bare?: boolean;
  /**
   * The store refused the bare record too, for good (400 or 413): a record of fixed size is written instead
   * ({@link decideRefusedStep}), whatever the step held.
   */
  readonly summary?: boolean;
  /**
   * The store refused the record of fixed size too, for good: the claimed messages are consumed with no record of them
   * in history ({@link decideRefusedStep}; what the state then says is {@link unrecordable}'s rule).
   */
  readonly unrecorded?: boolean;
}

/**
 * What a step of `messages` whose every record the store refused for good (its record of fixed size too) leaves when
 * it consumes them with no record in history (`RefusedStepInput.unrecorded`): true when it leaves the instance as it
 * was (an ended instance's late events; a rewind, the instance staying Failed; a start of another execution over an
 * ended one, not made), its state written again with its `version` moved on; false for any other step (a running
 * instance's, a first step's), which ends the instance in its state alone: the status the record of fixed size would
 * have given (Failed with the store's reason, or Terminated by a terminate among the messages), its history as it was.
 * Either way the step is not claimed again at every lease expiry. The one rule the worker (its log) and
 * {@link decideRefusedStep} share.
 */
export function unrecordable(state: InstanceState, messages: readonly OrchestrationMessage[]): boolean {
  return leavesAsItWas(stepEvents(state, messages));
}

/** {@link unrecordable} of the events a step takes in. */
function leavesAsItWas(stepped: StepEvents): boolean {
  return stepped.ignored || stepped.rewind !== undefined || stepped.restarts;
}

/**
 * What a claimed step commits when the store refused its write set for good (a DurableError with status 400 or 413:
 * MongoStore refuses a document over its payload limit), so that the instance ends instead of having the same step
 * refused at every lease expiry: the instance fails with the store's reason, without running the orchestrator. The
 * claimed messages are consumed and their events recorded, between step markers, followed by `ExecutionCompleted`
 * (Failed) unless they ended the execution themselves (a terminate). A sub-orchestration answers its parent, as any
 * failed one does. A rewind (a Failed instance and its `ExecutionRewound`) is recorded as a rewound execution that
 * failed again: the history becomes the rewound one plus this step, under a new `historyEpoch`, so a later rewind
 * replays it. A step that reaches a terminal instance and is not a rewind or a start (late events, recorded and
 * ignored: {@link stepEvents}) is recorded all the same, visibly, each event without its payload ({@link withoutPayload}:
 * a bounded record, so the store's reason cannot refuse it again), and the instance is left as it is; refused again
 * (`bare`: no room even for that), its messages are consumed with a record of fixed size: the step markers, the first
 * (`payloadRefused`) saying how many late events were not recorded and why.
 * A failure record refused too (`bare`, the events in full) is written bounded, so that no claimed message vanishes:
 * each event without its payload (the start keeps its input, which the instance's state holds already and a restart
 * or rewind needs; a terminate still ends the instance, without its reason), and the failure with its type and the
 * store's reason cut to a few hundred characters, without a stack. A store with no room even for that fails the step
 * (the worker leaves it to be claimed again when its lease expires, its messages kept). One that refuses it for good
 * (`summary`: the record grows with the events, and keeps the start's input) gets a record of fixed size, which ends
 * the instance all the same: the start without its input (`payloadRefused`; the state keeps the input, which
 * {@link applyEvent} leaves in place and {@link rewindHistory} puts back for a rewind; a restart reads it there), a
 * terminate without its reason, no other event, and the failure saying how many claimed events were not recorded. A
 * rewind among them is not made (its rewritten history is what the store refused): it is recorded as refused, with
 * that count, after the history as it is, and the instance stays Failed as it was. Refused for good too
 * (`unrecorded`: the store takes no history of the instance at all), the step consumes its messages with no record in
 * history ({@link unrecordable}): one that leaves the instance as it was (late events of an ended one, a refused
 * rewind, a start of another execution, not made) writes its state again, the `version` moved on, its status and
 * history as they were; any other ends the instance in its state alone (the status the record of fixed size gives,
 * `failureDetails` saying that no record of the step was taken, a parent answered), its history as it was. So the
 * step is not claimed again at every lease expiry.
 * A sub-orchestration answers the parent call its state names (`stateLinkOf`, after the step's events), without
 * reading its history. `needHistory` when the history is needed: a rewind's, a recursive terminate's (the children it
 * hands on to), or that of a started sub-orchestration whose state, stored before 2026-12-03, names no call (its link).
 */
export function decideRefusedStep(input: RefusedStepInput): StepDecision {
  const { state, messages, now, summary } = input;
  const bare = input.bare || summary;
  const stepped = stepEvents(state, messages);
  const { ignored } = stepped;
  let { rewind } = stepped;
  let reason = refusalReason(input.failure);
  let events = stepped.events;
  let failure = input.failure;
  const consumed: DeleteMessagesWrite = { type: 'deleteMessages', instanceId: state.instanceId, messageIds: messages.map((m) => m.id) };
  const lease: WriteLease = { kind: 'orchestration', instanceId: state.instanceId, token: input.leaseToken };
  // A write of the state the store holds, the version moved on: what it refuses for good is history.
  if (input.unrecorded && leavesAsItWas(stepped)) return stepless(state, lease, undefined, consumed, NO_HISTORY, undefined);
  if (summary && !ignored) {
    // A record of fixed size: at most one start and one terminate, each bounded, the other events only counted.
    const kept: HistoryEvent[] = rewind ? [rewind] : [];
    for (const e of rewind ? NO_HISTORY : events) {
      if ((e.type === 'ExecutionStarted' || e.type === 'ExecutionTerminated') && !kept.some((k) => k.type === e.type)) kept.push(e);
    }
    const left = `${events.length - kept.length} claimed events not recorded`;
    const why = `${failure.errorType}: ${failure.errorMessage}`;
    if (rewind) {
      // Its history not rewritten: the rewind recorded as refused, after the history as it is, the status kept.
      return stepless(state, lease, undefined, consumed, [summaryRecord(rewind, cut(`the rewind was refused, the store refused its history (${left}; ${why})`))], undefined);
    }
    reason = cut(`the store refused to record it (${left}; ${why})`);
    events = kept.map((e) => summaryRecord(e, reason));
    const refused = input.unrecorded ? 'the step and every record of it were refused' : 'the step and its failure records were refused';
    failure = { errorType: cut(failure.errorType), errorMessage: cut(`${refused}, ${left}: ${failure.errorMessage}`) };
    rewind = undefined;
  } else if (bare && !ignored) {
    events = events.map((e) => boundedRecord(e, reason));
    failure = { errorType: cut(failure.errorType), errorMessage: cut(`the step and its failure record were refused: ${failure.errorMessage}`) };
  }
  // Only stale results (`isStaleResult`, of another execution): consumed, nothing else written, as a step that is not
  // refused does.
  if (ignored && events.length === 0 && messages.every((m) => isStaleResult(m, state))) {
    return stepless(state, lease, undefined, consumed, undefined, undefined);
  }
  if (ignored) {
    // Late events of an ended instance: the write of them was refused (decideStep records them in full), so each is
    // recorded without its payload, as decideStep would record it otherwise: visibly, the status as it was.
    // Refused again (`bare`: no room even for that, a record that grows with the events): a record of fixed size, the
    // step markers, the first saying how many late events were not recorded and why, so the messages are consumed with
    // a trace in history.
    return stepless(state, lease, undefined, consumed, bare ? lateSummary(events.length, input.failure, now) : events.map((e) => withoutPayload(e, reason)), undefined);
  }
  // A sub-orchestration answers the call its state names (a state stored before 2026-12-03 names none: its history has
  // the link); the history is read for a rewind (rewritten) or a recursive terminate (the children it hands on to).
  const needsHistory = !!rewind || (state.historyLength > 0 && ((state.parentInstanceId !== undefined && !state.parentCall) || hasRecursiveTerminate(events)));
  if (needsHistory && input.history === undefined) return NEED_HISTORY;
  const history = input.history ?? NO_HISTORY;
  const baseHistory = rewind ? rewindHistory(history, state.input) : undefined;
  const before = baseHistory ?? (state.historyLength > 0 ? history : NO_HISTORY);
  const nowIso = isoTime(now);
  const markers = stepMarkers(nowIso);
  // The first step's marker (with the replay flags and the limit) only where the execution's history begins: chosen by
  // its length, as the history is not read for most steps.
  const firstStep = baseHistory ? baseHistory.length === 0 : state.historyLength === 0;
  const newEvents: HistoryEvent[] = [firstStep ? firstStepMarker(nowIso, input.customStatusLimitBytes) : markers.started, ...events];
  // A rewind makes a Failed instance Running again; a terminate among the events ends it without the failure.
  // The events' own link moves the state's (a start, a parent's rewind: `applyEvent`), as they move the history's.
  const applied = newEvents.reduce(applyEvent, state);
  const answers = stateLinkOf(applied);
  if (!isTerminalStatus(applied.runtimeStatus)) {
    newEvents.push({ type: 'ExecutionCompleted', eventId: -1, timestamp: nowIso, orchestrationStatus: 'Failed', failureDetails: failure });
  }
  newEvents.push(markers.completed);
  const step: StepResult = {
    newEvents, actions: [], isFinished: true,
    // An execution that has not started yet has no custom status of its own.
    customStatus: state.historyLength === 0 && !rewind ? undefined : state.customStatus as JsonValue | undefined,
  };
  // The history's link when the history was read (a rewind's, a recursive terminate's): a state stored before
  // 2026-12-06 may name a call a parent's rewind has since moved (recorded while the child ran); otherwise the state's.
  const { writeSet, state: next } = stepWriteSet({
    state, step, consumed, lease, now, newId: input.newId, baseHistory,
    parent: input.history !== undefined || !answers ? parentLinkOf([...before, ...events]) : undefined, answers, rewind, history: before,
  });
  if (input.unrecorded) {
    // Its record of fixed size refused too: the end it records, in the state alone, at the history the store holds
    // (no rewind here: that leaves the instance as it was); the messages consumed, a parent answered.
    const alone: InstanceState = { ...next, historyLength: state.historyLength };
    const requests: WriteRequest[] = [{ type: 'replaceState', state: alone }];
    for (const r of writeSet.requests) if (r.type === 'deleteMessages' || r.type === 'insertMessage') requests.push(r);
    return { kind: 'commit', writeSet: { lease, requests }, state: alone, execution: undefined, cacheHit: false, eventsReplayed: 0, eventsApplied: 0 };
  }
  return { kind: 'commit', writeSet, state: next, execution: undefined, cacheHit: false, eventsReplayed: 0, eventsApplied: events.length };
}

/**
 * Why a rewind was not made, when `appended` (events appended to a Failed instance's history while it stayed that
 * history: same execution, same `historyEpoch`) hold the record {@link decideRefusedStep} writes for a rewind whose
 * rewritten history the store refused: its `ExecutionRewound` with `payloadRefused`, which is returned; `undefined`
 * otherwise. Nothing else appends such an event to that history: a rewind that is made starts a new one, and one that
 * reaches an instance no longer Failed is no rewind. What a client's `rewind` waiting for a worker rejects on.
 */
export function refusedRewindOf(appended: readonly HistoryEvent[]): string | undefined {
  return appended.find((e) => e.type === 'ExecutionRewound' && e.payloadRefused !== undefined)?.payloadRefused;
}

/**
 * Why a rewind sent to a worker when the instance was `before` was not made, when `next` shows a step of it consumed
 * with no record ({@link decideRefusedStep}, `unrecorded`: the store refused every record of it): still `before`'s
 * history, Failed, nothing appended, and the `version` moved on. Only that step writes such a state: any other write
 * of a Failed instance appends to its history, or starts a new one. `undefined` otherwise. One consumed unrecorded
 * stands for every message its step took (late events too): a store that takes no history of the instance refuses
 * this rewind's record as well.
 */
export function unrecordedRewindOf(before: InstanceState, next: InstanceState): string | undefined {
  const same = next.runtimeStatus === 'Failed' && historyIdOf(next) === historyIdOf(before);
  return same && next.historyLength === before.historyLength && next.version > before.version
    ? 'the rewind was refused, the store refused every record of it' : undefined;
}

/**
 * Where a rewind sent to a worker when the instance was `before` may have been recorded as refused, now that it is
 * `next`: the index of `before`'s history from which the events appended since are to be read for
 * {@link refusedRewindOf}, when `next` still shows that history, Failed, with events appended (a refusal leaves the
 * instance Failed and its history as it was, the record appended); `undefined` when `next` can hold no such record (the
 * rewind was made: another status, or a new history; or nothing was appended), so nothing need be read.
 */
export function refusedRewindFrom(before: InstanceState, next: InstanceState): number | undefined {
  const from = before.historyLength;
  const same = next.runtimeStatus === 'Failed' && historyIdOf(next) === historyIdOf(before);
  return same && next.historyLength > from ? from : undefined;
}

/**
 * A commit that runs no step: `first` (an activity step's task deletion) and the consumed messages, after `recorded`,
 * events of an ended instance recorded and ignored (a new version whose status is as it was; none for only stale
 * results). `cached` is the execution a stale-only commit leaves in the cache.
 */
function stepless(
  state: InstanceState, lease: WriteLease, first: WriteRequest | undefined, consumed: DeleteMessagesWrite | undefined,
  recorded: readonly HistoryEvent[] | undefined, cached: OrchestrationExecution | undefined,
): StepDecision {
  const requests: WriteRequest[] = [];
  if (first) requests.push(first);
  let next = state;
  if (recorded) {
    next = { ...state, version: state.version + 1, historyLength: state.historyLength + recorded.length };
    requests.push({ type: 'replaceState', state: next });
    if (recorded.length > 0) requests.push({ type: 'appendHistory', instanceId: state.instanceId, from: state.historyLength, events: recorded });
  }
  if (consumed) requests.push(consumed);
  return { kind: 'commit', writeSet: { lease, requests }, state: next, execution: cached, cacheHit: cached !== undefined, eventsReplayed: 0, eventsApplied: 0 };
}

/**
 * The record of fixed size of late events whose payload-less record the store refused too: the step markers of a step
 * that applied nothing, the first with `payloadRefused` counting the events not recorded and giving the store's reason
 * (cut to {@link RECORD_TEXT_MAX} characters).
 */
function lateSummary(count: number, failure: FailureDetails, now: Date): readonly HistoryEvent[] {
  const markers = stepMarkers(isoTime(now));
  const why = `${failure.errorType}: ${failure.errorMessage}`;
  return [{ ...markers.started, payloadRefused: cut(`${count} late events not recorded, the store refused to record them (${why})`) }, markers.completed];
}

/** Most characters of a text a payload-less record keeps (a name, an error type, the store's reason). */
const RECORD_TEXT_MAX = 256;

function cut(text: string): string {
  return cutText(text, RECORD_TEXT_MAX, ellipsis);
}

/** The reason a payload-less record gives: the store's refusal, bounded. */
function refusalReason(failure: FailureDetails): string {
  return cut(`the store refused to record it (${failure.errorType}: ${failure.errorMessage})`);
}

/**
 * The record of a late event whose write the store refused: the event without its payload (`result`, `input`,
 * `reason`, a failure's message and stack), with `payloadRefused` saying why when it had one. Its type, times and the
 * work it answers (`taskScheduledId`, `timerId`, a name, ids, a parent link of ids and names, which are bounded) are
 * kept, each text cut to {@link RECORD_TEXT_MAX} characters, so the record has a bounded size whatever the event held.
 * An event with no payload (a timer's) is recorded as it was.
 */
function withoutPayload(event: HistoryEvent, reason: string): HistoryEvent {
  const record: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === 'failureDetails') {
      // A failure's type kept (the field is required), its message and stack left out.
      record[key] = { errorType: cut(String((value as FailureDetails).errorType)), errorMessage: '(not recorded)' };
    } else if (!PAYLOADS.includes(key)) {
      record[key] = typeof value === 'string' ? cut(value) : value;
      continue;
    }
    record.payloadRefused = reason;
  }
  return record as unknown as HistoryEvent;
}

/**
 * An event of a step whose failure record the store refused, as that record keeps it: {@link withoutPayload}, but a
 * start keeps its input (the instance's state holds it already, and a restart or a rewind of the failed instance needs
 * it).
 */
function boundedRecord(event: HistoryEvent, reason: string): HistoryEvent {
  if (event.type !== 'ExecutionStarted' || event.input === undefined) return withoutPayload(event, reason);
  const { input, ...rest } = event;
  return { ...withoutPayload(rest as HistoryEvent, reason), input } as HistoryEvent;
}

/**
 * An event of a fixed-size record (`summary`): {@link withoutPayload}, a start without its input too, and always
 * `payloadRefused`, which says why (an event with no payload, a rewind without a reason, included).
 */
function summaryRecord(event: HistoryEvent, reason: string): HistoryEvent {
  return { ...withoutPayload(event, reason), payloadRefused: reason };
}

/** The fields of an event a payload-less record leaves out (a failure's details it cuts). */
const PAYLOADS = ['result', 'input', 'reason', 'payloadRefused'];

const NO_HISTORY: readonly HistoryEvent[] = Object.freeze([]);

interface StepWriteSetInput {
  readonly state: InstanceState;
  readonly step: StepResult;
  /** The consumed messages, if any was stored. */
  readonly consumed?: DeleteMessagesWrite | undefined;
  /** A request that goes first (the deleted task of an activity step). */
  readonly first?: WriteRequest | undefined;
  readonly lease: WriteLease;
  readonly now: Date;
  readonly newId: () => string;
  /** Set for a rewind: the history is replaced by `baseHistory` + the step's events. */
  readonly baseHistory?: readonly HistoryEvent[] | undefined;
  readonly parent: ParentLink | undefined;
  /** The call answered when `parent` is absent: {@link stateLinkOf}. */
  readonly answers?: ParentAnswer | undefined;
  /** Set for a rewind: the `ExecutionRewound` event, sent on to the failed sub-orchestrations the step calls again. */
  readonly rewind?: ExecutionRewoundEvent | undefined;
  /**
   * The stored history of the execution before the step (when `baseHistory` is absent): given whenever the step may
   * apply a recursive terminate ({@link hasRecursiveTerminate}), whose sub-orchestrations it names.
   */
  readonly history?: readonly HistoryEvent[] | undefined;
}

/** Turns a step's result into its write set. */
function stepWriteSet(input: StepWriteSetInput): { writeSet: WriteSet; state: InstanceState } {
  const { state, step, now } = input;
  // Only sub-orchestrations, results to a parent and continueAsNew write the time as text: `isoTime` formats it when
  // first needed and shares it with the rest of that millisecond.
  const id = state.instanceId;
  let events = step.newEvents;
  let next = events.reduce(applyEvent, state);
  // A step that ends the instance after its continueAsNew (a termination later in its batch) ends in that execution:
  // the continueAsNew is dropped, from the history too, so the status keeps that execution's input and replaying the
  // history written gives the status written.
  if (step.continueAsNew && isTerminalStatus(next.runtimeStatus)) {
    events = events.filter((e) => e.type !== 'ContinueAsNew');
    next = events.reduce(applyEvent, state);
  }
  const tasks: ActivityTask[] = [];
  const after: WriteRequest[] = [];

  for (const action of step.actions) {
    switch (action.type) {
      case 'ScheduleTask': {
        const task: { -readonly [K in keyof ActivityTask]: ActivityTask[K] } = {
          id: input.newId(), instanceId: id, executionId: state.executionId, name: action.name,
          taskScheduledId: action.eventId, attempt: action.attempt,
        };
        if (action.input !== undefined) task.input = action.input;
        tasks.push(task);
        break;
      }
      case 'CreateTimer':
        after.push(send(message(input.newId(), id, state.executionId, {
          type: 'TimerFired', eventId: -1, timestamp: action.fireAt, timerId: action.eventId, fireAt: action.fireAt,
        }, new Date(action.fireAt))));
        break;
      case 'CreateSubOrchestration': {
        // The call's failure when the id is taken: the child is running, or (`ifChildOf`) is another's.
        const taken = (why: string) => message(input.newId(), id, state.executionId, {
          type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp: isoTime(now), taskScheduledId: action.eventId,
          failureDetails: {
            errorType: 'InstanceAlreadyExistsError',
            errorMessage: `A sub-orchestration with id ${JSON.stringify(action.instanceId)} ${why}`,
          },
        });
        const conflict = taken('is already running');
        if (action.instanceId === id) {
          // The parent itself holds the id: it is running while it schedules the call, so the call fails in it.
          // When the parent finishes in this same step nobody waits for the answer, and nothing is created over it.
          if (!step.isFinished) after.push(send(conflict));
          break;
        }
        // A rerun call that this very step answers (a sub-orchestration rewound on its own whose result came after the
        // history the rewind reran from was read) has its answer: its instance is not created, or rewound, again.
        if (input.rewind && events.some((e) => 'taskScheduledId' in e && e.taskScheduledId === action.eventId)) break;
        // A GUID-named call of a copy names its lineage's root on the child's link (`ParentCall.forkRoot`), so that a
        // call of another instance of the lineage over that child is refused (`ifChildOf`, below).
        const { forkedFrom } = step;
        const guidNamed = holdsGuid(action.instanceId);
        const forkRoot = guidNamed && forkedFrom?.length ? forkedFrom[forkedFrom.length - 1] : undefined;
        const parent = forkRoot === undefined
          ? { instanceId: id, name: state.name, taskScheduledId: action.eventId, executionId: state.executionId }
          : { instanceId: id, name: state.name, taskScheduledId: action.eventId, executionId: state.executionId, forkRoot };
        // The child starts with its parent's tags, as the Durable Task Framework passes them on.
        const start = startOf({ instanceId: action.instanceId, name: action.name, input: action.input, now, newId: input.newId, parent, tags: state.tags });
        // A rewind step schedules again the calls that failed the parent: a sub-orchestration among them is rewound in
        // place (keeping its completed work, and so on down the tree), or created afresh when its instance is gone.
        // The rewound one reports to this call from then on: it may have been created for another call, of another
        // execution (a call that failed because it found that instance still running). One running again that reports
        // to this very call (the child that failed it, rewound on its own since) is attached to it the same way: it
        // keeps running and answers it. The store decides which (`rewindsChild`).
        const create: { -readonly [K in keyof CreateInstanceWrite]: CreateInstanceWrite[K] } = { type: 'createInstance', state: start.state, message: start.message, ifRunning: { kind: 'notify', message: conflict } };
        if (input.rewind) create.ifFailed = message(input.newId(), action.instanceId, undefined, { ...input.rewind, parentInstance: parent });
        // A call by a GUID: not over a child of another instance of this one's fork lineage (the GUID came from one
        // run to the other by a way the engine does not follow): one it was copied from, or a copy of the same root.
        if (guidNamed) {
          const root = forkRoot ?? id;
          const ofFork = taken(`is a child of ${forkRoot === undefined ? 'a fork of this instance' : `another copy of ${JSON.stringify(root)}`}, which called it first with a GUID a copy does not rename`);
          create.ifChildOf = {
            parents: forkedFrom ?? [],
            message: forkedFrom?.length
              ? taken(`is a child of ${forkedFrom.map((from) => JSON.stringify(from)).join(' or ')}, which this instance was copied from: its GUID came from that run by a way the copy does not rename`)
              : ofFork,
            root,
            ofFork,
          };
        }
        after.push(create);
        break;
      }
      default:
        assertNever(action);
    }
  }

  // A recursive terminate that ends the execution goes on to each sub-orchestration whose call is unanswered (those this
  // step started too, created above), in this commit: each level hands it on as durably as it applies it. Only to an
  // active child of this instance (`ifActiveChildOf`): one of that id that another caller started, or that ended
  // meanwhile, is left alone. Looked for only in a step that terminated the instance: the others (nearly every step)
  // walk none of their events for it.
  const handOn = next.runtimeStatus === 'Terminated' && !isTerminalStatus(state.runtimeStatus)
    ? recursiveTerminateOf(input.baseHistory ?? input.history ?? NO_HISTORY, events, id) : undefined;
  if (handOn) {
    const { reason } = handOn.terminate;
    const timestamp = isoTime(now);
    for (const child of handOn.children) {
      const terminate: ExecutionTerminatedEvent = {
        type: 'ExecutionTerminated', eventId: -1, timestamp, ...(reason === undefined ? {} : { reason }), recursive: true,
      };
      after.push({ type: 'insertMessage', message: message(input.newId(), child, undefined, terminate), ifMissing: 'drop', ifActiveChildOf: id });
    }
  }

  // A rewound instance that ends again (Failed to Failed) answers the call that rewound it too.
  const answers = input.parent ?? input.answers;
  if (answers && (next.runtimeStatus !== state.runtimeStatus || input.rewind)) {
    const result = parentResult(next, answers, isoTime(now), input.newId);
    if (result) after.push(send(result));
  }

  let history: WriteRequest = input.baseHistory
    ? { type: 'replaceHistory', instanceId: id, events: [...input.baseHistory, ...events] }
    : { type: 'appendHistory', instanceId: id, from: state.historyLength, events };
  // A step that ends the instance after its continueAsNew (a termination later in its batch) ends there: no next
  // execution, the history kept with the termination, its parent answered once (just above), nothing carried over.
  if (step.continueAsNew && !isTerminalStatus(next.runtimeStatus)) {
    // The next execution starts from an empty history, with its start message and the carried events.
    const executionId = input.newId();
    const sentAt = isoTime(now);
    history = { type: 'replaceHistory', instanceId: id, events: [] };
    const carried = step.continueAsNew.carryOverEvents;
    after.push(send(message(input.newId(), id, undefined, {
      type: 'ExecutionStarted', eventId: -1, timestamp: sentAt, name: state.name, instanceId: id, executionId,
      ...(step.continueAsNew.input === undefined ? {} : { input: step.continueAsNew.input }),
      ...(input.parent ? { parentInstance: input.parent } : {}),
      ...(carried.length === 0 ? {} : { carriedEvents: carriedOver(carried) }),
      ...(step.continueAsNew.copiedGuids ? { copiedGuids: step.continueAsNew.copiedGuids } : {}),
      ...(step.forkedFrom ? { forkedFrom: step.forkedFrom } : {}),
    })));
    const continued = (next = writable(next, state));
    continued.executionId = executionId;
    continued.continuedAt = sentAt;
    // What the next start names of the copies it descends from (`copiedStart` reads it while that start is queued).
    const lineage = startLineage({ copiedGuids: step.continueAsNew.copiedGuids, forkedFrom: step.forkedFrom });
    if (lineage) continued.lineage = lineage;
    else if (continued.lineage) delete continued.lineage;
    // The next execution starts at once: the time the last one was scheduled for is not its own.
    if (continued.scheduledStartTime !== undefined) delete continued.scheduledStartTime;
    // Commands held in this step (a suspend after the continueAsNew) wait for that execution (`held` names it); those
    // it applied before the continueAsNew are in the history replaced above, and kept beside them for their callers.
    const applied = commandsBeforeContinue(events);
    if (continued.held || applied) {
      const commands = continued.held?.commands ?? [];
      continued.held = applied ? { executionId, commands, applied } : { executionId, commands };
    }
  }

  const historyLength = history.type === 'replaceHistory' ? history.events.length : state.historyLength + history.events.length;
  // One copy of the state, written field by field: the step's custom status replaces the last one, or none is kept
  // when the execution set none (a new one, after continueAsNew or a restart, drops the last execution's). When an
  // event of this step already made a new object (start, end, continueAsNew), that one is completed in place instead
  // of copied again. Assigning keeps the members and their order as a spread would: a member already there stays in
  // its place, a new one comes last.
  let committed: Mutable<InstanceState>;
  if (step.customStatus === undefined && 'customStatus' in next) {
    const { customStatus: _c, ...withoutCustomStatus } = next;
    committed = withoutCustomStatus;
  } else if (step.customStatus !== undefined && !('customStatus' in next)) {
    // A first custom status: a member added to a copy made by a spread (`{ ...next }`, or `{ ...next, customStatus }`)
    // gave that object a hidden class (map) of its own in V8 (Node 20), every time: a 10k-map burst the first time
    // 10k waiting instances set a status, each step several times slower, and every property access that saw them
    // megamorphic for good. A copy by Object.assign takes the shared transition.
    committed = Object.assign({}, next);
    committed.customStatus = step.customStatus;
  } else {
    committed = writable(next, state);
    if (step.customStatus !== undefined) committed.customStatus = step.customStatus;
  }
  committed.lastUpdatedTime = now;
  committed.version = state.version + 1;
  committed.historyLength = historyLength;
  if (input.baseHistory) committed.historyEpoch = (state.historyEpoch ?? 0) + 1;
  // A step that leaves a started execution Suspended says whether anything was kept while suspended, so a resume
  // decides without reading the history (`decideResume`); any other step drops what the state before it said. A
  // rewind step writes its whole history (the rewound one and its events), which says it from the start.
  const kept = next.runtimeStatus !== 'Suspended' ? undefined
    : history.type === 'appendHistory' ? keptAfterStep(state, events, input.history)
    : input.baseHistory && history.events.length > 0 ? keptWhileSuspendedAfter(history.events, 0, history.events.length, false, false) : undefined;
  if (kept !== undefined) committed.suspension = { version: committed.version, kept };
  else if (committed.suspension !== undefined) delete committed.suspension;
  // The state goes first (after the deleted task of an activity step): the messages below are delivered against it
  // (a continued execution drops the old execution's timers; a sub-orchestration sees its parent as it is after
  // this step).
  const { consumed, first } = input;
  // Of its exact size, filled by index (a push into an empty array reserves room for 16).
  const requests = new Array<WriteRequest>((first ? 1 : 0) + 2 + (consumed ? 1 : 0) + tasks.length + after.length);
  let r = 0;
  if (first) requests[r++] = first;
  requests[r++] = { type: 'replaceState', state: committed };
  requests[r++] = history;
  if (consumed) requests[r++] = consumed;
  for (let i = 0; i < tasks.length; i++) requests[r++] = { type: 'insertTask', task: tasks[i]! };
  for (let i = 0; i < after.length; i++) requests[r++] = after[i]!;
  return { state: committed, writeSet: { lease: input.lease, requests } };
}

/**
 * Whether the execution a step's `events` (appended to its history) leave Suspended has something kept while suspended
 * ({@link InstanceState.suspension}), by the rule its history gives (`keptWhileSuspendedAfter`), from where the state
 * before the step leaves it: at the start of its history (none yet), Suspended as its own `suspension` says, or
 * running (any other status). A rewound history is no exception: `rewindHistory` drops the suspends no resume
 * followed, so the Running status a rewind leaves is its history's too, and the steps after it say what was kept as
 * any do. Except the state a client's rewind of an earlier release left (its `rerun` pending, so the step after it
 * replays): its history may end suspended, which only that history (`history`, the stored one, when read) tells.
 * `undefined` when that is not known, or the events leave it otherwise.
 */
function keptAfterStep(state: InstanceState, events: readonly HistoryEvent[], history: readonly HistoryEvent[] | undefined): boolean | undefined {
  let suspended = state.historyLength > 0 && state.runtimeStatus === 'Suspended';
  let kept = suspended ? suspensionOf(state) : false;
  if (!suspended && state.historyLength > 0 && state.rerun !== undefined) {
    if (history?.length !== state.historyLength) return undefined;
    const end = keptWhileSuspendedAfter(history, 0, history.length, false, false);
    if (end !== undefined) [suspended, kept] = [true, end];
  }
  if (kept === undefined) return undefined;
  return keptWhileSuspendedAfter(events, 0, events.length, suspended, kept);
}

/**
 * What a started Suspended execution's state says was kept while it was suspended ({@link InstanceState.suspension}):
 * `undefined` when it says nothing, or said it of another version of the state.
 */
function suspensionOf(state: InstanceState): boolean | undefined {
  const { suspension } = state;
  return suspension !== undefined && suspension.version === state.version && state.runtimeStatus === 'Suspended' && state.historyLength > 0
    ? suspension.kept : undefined;
}

/**
 * The suspends and resumes among a step's events before its `ContinueAsNew` (`HeldCommands.applied`), `undefined` when
 * there are none.
 */
function commandsBeforeContinue(events: readonly HistoryEvent[]): HeldCommand[] | undefined {
  let applied: HeldCommand[] | undefined;
  for (const e of events) {
    if (e.type === 'ContinueAsNew') break;
    if (e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed') (applied ??= []).push(e);
  }
  return applied;
}

/**
 * `next` when it is a new object of this step (the stored `state` reduced by an event that changes it), else a copy
 * of it to write on: the stored state and the cached execution's are shared and never changed.
 */
function writable(next: InstanceState, state: InstanceState): Mutable<InstanceState> {
  return next === state ? { ...next } : next;
}

/**
 * The events a continueAsNew carries over, as its start message holds them (`carriedEvents`), each marked `carried`
 * (one carried again keeps its mark), in the order the execution buffered them: per name, the order raised. They
 * travel in the start message, not as messages of their own behind it: an event raised while the continueAsNew step
 * was in flight is queued ahead of that start, and a claim may take the start without the messages after it. The step
 * that takes the start records them just ahead of it (`stepEvents`), and the execution buffers a carried event ahead
 * of the unmarked ones of its name (those raised later), so the next execution receives each name's events in the
 * order raised, on every replay too.
 */
function carriedOver(events: readonly (EventRaisedEvent | ExecutionCancelRequestedEvent)[]): (EventRaisedEvent | ExecutionCancelRequestedEvent)[] {
  return events.map((e) => (e.type !== 'EventRaised' || e.carried ? e : { ...e, carried: true }));
}

/** The parent call a sub-orchestration's result goes to: its link without the parent's name, which no result names. */
type ParentAnswer = Pick<ParentLink, 'instanceId' | 'taskScheduledId' | 'executionId'>;

/**
 * The parent call an execution reports to, from its state (`parentCall`: set by `startOf` and by its recorded start,
 * kept by a continueAsNew, moved by a parent's rewind in place, each through {@link applyEvent}, so it is the link its
 * history gives, `parentLinkAfter`): what a step that ends an execution with no history yet answers when the step
 * took no start (a terminate queued ahead of the start a continueAsNew sent, which a store's claim of at most so many
 * messages, MongoStore's `maxMessagesPerClaim`, may hand out alone; the start, claimed later, is recorded and
 * ignored), and what a client's terminate answers (`decideTerminate`), started or not, without reading the history.
 * `undefined` for a top-level instance, and for a sub-orchestration whose state names no call (stored before
 * 2026-12-03: its link is only in its start, queued or in its history).
 */
function stateLinkOf(state: InstanceState): ParentAnswer | undefined {
  const call = state.parentCall;
  return state.parentInstanceId === undefined || !call ? undefined : { instanceId: state.parentInstanceId, ...call };
}

/** The result a finished sub-orchestration sends its parent. */
function parentResult(next: InstanceState, parent: ParentAnswer, timestamp: string, newId: () => string): OrchestrationMessage | undefined {
  const executionId = parent.executionId;
  switch (next.runtimeStatus) {
    case 'Completed':
      return message(newId(), parent.instanceId, executionId, {
        type: 'SubOrchestrationInstanceCompleted', eventId: -1, timestamp, taskScheduledId: parent.taskScheduledId,
        ...(next.output === undefined ? {} : { result: next.output }),
      });
    case 'Failed':
    case 'Terminated':
      return message(newId(), parent.instanceId, executionId, {
        type: 'SubOrchestrationInstanceFailed', eventId: -1, timestamp, taskScheduledId: parent.taskScheduledId,
        failureDetails: next.failureDetails ?? {
          errorType: 'Terminated',
          errorMessage: `Sub-orchestration ${JSON.stringify(next.instanceId)} was terminated` +
            (next.output === undefined ? '' : `: ${JSON.stringify(next.output)}`),
        },
      });
    case 'Pending':
    case 'Running':
    case 'ContinuedAsNew':
    case 'Suspended':
      return undefined;
    default:
      return assertNever(next.runtimeStatus);
  }
}


// ---------------------------------------------------------------- the client's and the activity worker's writes

/** What starting an orchestration needs. */
export interface StartInput {
  readonly instanceId: string;
  readonly name: string;
  readonly input: JsonValue | undefined;
  readonly now: Date;
  readonly newId: () => string;
  /** The calling orchestration, for sub-orchestrations. */
  readonly parent?: ParentLink;
  /** A client start only: the lease of the local worker that runs the first step (see `CreateInstanceWrite.lease`). */
  readonly lease?: Lease;
  /** A client start only: what it does when the id is taken (`StartNewOptions.ifExists`); absent: `overwrite`. */
  readonly ifExists?: StartIfExists | undefined;
  /**
   * A client start only: when the execution may start (`StartNewOptions.startAt`, a valid Date). Later than `now`, the
   * start is delayed ({@link isDelayedStart}); at or before `now`, or absent, it starts at once.
   */
  readonly startAt?: Date | undefined;
  /**
   * The instance's tags, checked (`isTags`): a client's start's own, a restart's those of the restarted instance, a
   * sub-orchestration's its parent's. Absent: none.
   */
  readonly tags?: InstanceTags | undefined;
  /**
   * A start with an input an earlier start of a fork's lineage had (a fork that keeps no results, a restart): the
   * GUIDs copied steps made that that start named as held by its input (`copiedStart`), named on this start as
   * well, so that its calls rename them as that execution's did (`ExecutionStartedEvent.copiedGuids`). Absent: none.
   */
  readonly copiedGuids?: ExecutionStartedEvent['copiedGuids'];
  /** A fork's start when it keeps no results: the instances it was copied from (`copiedStart`); a restart names none. */
  readonly forkedFrom?: ExecutionStartedEvent['forkedFrom'];
}

/**
 * Whether a start at `now` asked to begin at `startAt` is delayed: `startAt` is later than `now`. The one rule of the
 * client's starts: a delayed start stores the instance Pending with `scheduledStartTime` and its start message visible
 * at `startAt` (`decideStart`), and a runtime's own worker is not handed its first step.
 *
 * @example
 * ```ts
 * isDelayedStart(new Date('2026-12-05T12:00:00Z'), new Date('2026-12-05T11:00:00Z')); // true
 * isDelayedStart(new Date('2026-12-05T11:00:00Z'), new Date('2026-12-05T11:00:00Z')); // false: starts at once
 * ```
 */
export function isDelayedStart(startAt: Date | undefined, now: Date): startAt is Date {
  return startAt !== undefined && startAt.getTime() > now.getTime();
}

/** The new state and ExecutionStarted message of an instance (a new `executionId`). */
function startOf(input: StartInput): { state: InstanceState; message: OrchestrationMessage } {
  const { instanceId, name, now } = input;
  const executionId = input.newId();
  const withInput = input.input === undefined ? {} : { input: input.input };
  // A delayed start: Pending, with the time it was scheduled for, and its start message hidden until then (every
  // message that reaches it before is hidden as long: `planWriteSet`).
  const delayed = isDelayedStart(input.startAt, now) ? new Date(input.startAt!.getTime()) : undefined;
  // What the start names of the copies it descends from, kept on the state too: a restart or fork of the execution
  // before a worker recorded its start reads it there (`copiedStart`).
  const lineage = startLineage(input);
  return {
    state: {
      instanceId, name, runtimeStatus: 'Pending', createdTime: now, lastUpdatedTime: now, executionId, historyLength: 0,
      version: 1, ...withInput, ...(input.parent ? { parentInstanceId: input.parent.instanceId, parentCall: parentCallOf(input.parent) } : {}),
      ...(delayed ? { scheduledStartTime: delayed } : {}), ...(input.tags ? { tags: input.tags } : {}), ...(lineage ? { lineage } : {}),
    },
    // Without a spread when it has neither input nor parent (the object then has room for its six members only).
    message: message(input.newId(), instanceId, undefined, input.input === undefined && !input.parent && !input.copiedGuids?.length && !input.forkedFrom?.length
      ? { type: 'ExecutionStarted', eventId: -1, timestamp: isoTime(now), name, instanceId, executionId }
      : {
        type: 'ExecutionStarted', eventId: -1, timestamp: isoTime(now), name, instanceId, executionId, ...withInput,
        ...(input.parent ? { parentInstance: input.parent } : {}), ...(input.copiedGuids?.length ? { copiedGuids: input.copiedGuids } : {}),
        ...(input.forkedFrom?.length ? { forkedFrom: input.forkedFrom } : {}),
      }, delayed && new Date(delayed.getTime())),
  };
}

/**
 * The write set of a client start: creates the instance with its start message (a new execution id). When the id is
 * taken, `input.ifExists` decides, in the store's transaction (`planWriteSet`): by default (`overwrite`) it fails with
 * `InstanceAlreadyExistsError` when a non-terminal instance has the id and replaces a terminal one; `fail` fails over
 * any instance; `useExisting` writes nothing. A delayed start (`input.startAt` after `now`, {@link isDelayedStart})
 * stores the instance Pending with `scheduledStartTime` and its start message with `visibleAt` = `startAt`, never
 * leased (`input.lease` is left out: its holder would run the first step at once).
 */
export function decideStart(input: StartInput): WriteSet {
  const { state, message: start } = startOf(input);
  const { ifExists } = input;
  const lease = state.scheduledStartTime === undefined ? input.lease : undefined;
  return {
    requests: [{
      type: 'createInstance', state, message: start, ifRunning: { kind: 'fail' }, ...(lease ? { lease } : {}),
      ...(ifExists && { ifExists }),
    }],
  };
}

/**
 * The write set of a signal-with-start (`DurableClient.signalWithStart`): the event `eventName` (with `eventData`)
 * for the instance `input.instanceId`, decided in the store's transaction (`planWriteSet`, `CreateInstanceWrite.signal`):
 * an active instance gets it and nothing is started; otherwise (no instance, or a terminal one, replaced) a new
 * execution is started with `input.input` and gets the event right after its start message. Never leased (the first
 * step may be the event's instance's, not this start's); `input.lease` and `input.ifExists` are not read. With
 * `idempotencyKey`, a repeat of a call with that key delivers and starts nothing (`CreateInstanceWrite.idempotencyKey`).
 */
export function decideSignalWithStart(input: StartInput, eventName: string, eventData: JsonValue | undefined, idempotencyKey?: string): WriteSet {
  const { state, message: start } = startOf(input);
  const timestamp = isoTime(input.now);
  const event: MessageEvent = eventData === undefined
    ? { type: 'EventRaised', eventId: -1, timestamp, name: eventName }
    : { type: 'EventRaised', eventId: -1, timestamp, name: eventName, input: eventData };
  return {
    requests: [{
      type: 'createInstance', state, message: start, ifRunning: { kind: 'fail' }, signal: message(input.newId(), input.instanceId, undefined, event),
      ...(idempotencyKey !== undefined && { idempotencyKey }),
    }],
  };
}

/**
 * The write set of a restart: starts `input.instanceId` (the restarted id, or a new one) provided the instance
 * `restartedId` is still terminal when the write commits: `InstanceNotFoundError` when it is gone,
 * `InstanceNotTerminalError` when it is active again.
 */
export function decideRestart(restartedId: string, input: StartInput): WriteSet {
  const { state, message: start } = startOf(input);
  return {
    requests: [{
      type: 'createInstance', state, message: start, ifRunning: { kind: 'fail' },
      requires: { instanceId: restartedId, status: 'terminal', operation: 'restart' },
    }],
  };
}

/** Everything {@link decideFork} needs. */
export interface ForkInput {
  /** The source instance as read. */
  readonly source: InstanceState;
  /** The source's current history, read with `source` (one snapshot: `source.historyLength` events). */
  readonly history: readonly HistoryEvent[];
  /** How many of the source's results the fork keeps (`forkHistory`); default all. */
  readonly keepResults?: number | undefined;
  /**
   * Raise to the fork the external events among the results not kept (`ForkedHistory.reapplied`), after the kept
   * results; default true. False leaves them out.
   */
  readonly reapplyEvents?: boolean | undefined;
  /** The fork's id. */
  readonly instanceId: string;
  readonly now: Date;
  readonly newId: () => string;
}

/**
 * The write set of a fork (`DurableClient.fork`): creates `input.instanceId` with the source's name, input and tags,
 * no parent, refused with `InstanceAlreadyExistsError` when any instance has the id (`ifExists: 'fail'`). The fork's
 * history is the source's cut by {@link forkHistory}: when it keeps results (not all of them received before the source's first step), the instance is created Running with that
 * history and an `ExecutionRewound` (reason `forked from "<source>"`) queued, then the kept results from the step of
 * the last one on (`ForkedHistory.pending`): its first step replays the history, issues the calls the replay makes
 * anew and takes those results at its own time, as a client's rewind leaves an instance to a step (`decideRewind`);
 * when every result it keeps reached the source before its first step (`ForkedHistory.start`), it is created Pending
 * with the source's start (naming the fork) as its start message and those results behind it; when it keeps none, it
 * is a start of a new execution with the source's input, Pending, as a restart's, delayed to the source's
 * `scheduledStartTime` when that is still after `now` (`isDelayedStart`; a source that has not started yet), else at
 * once. Unless `input.reapplyEvents` is
 * false, the external events among the results not kept (`ForkedHistory.reapplied`) are queued behind that, in the
 * order the source received them, as raised events stamped with the fork's time (`now`, as a client's raise is, and as
 * a Temporal reset reapplies signals as new events of the new run): its first step records them after its
 * `ExecutionRewound`, at that event's time. The kept results keep the source's times (those of the step the cut falls
 * in, taken after the `ExecutionRewound`, are earlier than it). Nothing of the source is written.
 * `InvalidArgumentError` when `keepResults` is out of range.
 */
export function decideFork(input: ForkInput): WriteSet {
  const { source, instanceId, now, newId } = input;
  const executionId = newId();
  const { events, pending, reapplied, start: first } = forkHistory(input.history, input.keepResults, { instanceId, executionId, input: source.input });
  const tags = source.tags ? { tags: source.tags } : {};
  const kept = pending.map((event): WriteRequest => ({ type: 'insertMessage', message: message(newId(), instanceId, executionId, event), ifMissing: 'drop' }));
  // The external events not kept, raised to the fork as a client raises them (to whichever execution it runs, at the
  // fork's time: new events of the fork, as a Temporal reset reapplies signals), behind its start or the kept results.
  const timestamp = isoTime(now);
  const raised = input.reapplyEvents === false ? [] : reapplied.map((event): WriteRequest => ({
    type: 'insertMessage', message: message(newId(), instanceId, undefined, { ...event, timestamp }), ifMissing: 'drop',
  }));
  if (first) {
    // Every kept result reached the source before its first step: the source's start as a message, those results behind it.
    const lineage = startLineage(first);
    const state: InstanceState = {
      instanceId, name: source.name, runtimeStatus: 'Pending', createdTime: now, lastUpdatedTime: now, executionId,
      historyLength: 0, version: 1, ...(source.input === undefined ? {} : { input: source.input }), ...tags, ...(lineage ? { lineage } : {}),
    };
    const start = message(newId(), instanceId, undefined, { ...first, timestamp });
    return { requests: [{ type: 'createInstance', state, message: start, ifRunning: { kind: 'fail' }, ifExists: 'fail' }, ...kept, ...raised] };
  }
  if (events.length === 0) {
    // A source whose scheduled start is still to come (a delayed start not yet run) forks into a start delayed as long.
    const startAt = source.scheduledStartTime;
    // Its input's GUIDs a copied step made are renamed as the source's execution renamed them, and it names the
    // source among the instances it was copied from (`copiedStart`).
    const { state, message: start } = startOf({
      instanceId, name: source.name, input: source.input as JsonValue | undefined, now, newId, ...tags, ...(startAt ? { startAt } : {}),
      ...copiedStart(source, input.history, source.instanceId),
    });
    return { requests: [{ type: 'createInstance', state, message: start, ifRunning: { kind: 'fail' }, ifExists: 'fail' }, ...raised] };
  }
  const rewound: ExecutionRewoundEvent = { type: 'ExecutionRewound', eventId: -1, timestamp, reason: `forked from ${JSON.stringify(source.instanceId)}` };
  const lineage = startLineage(copiedStart({}, events));
  const state: InstanceState = {
    instanceId, name: source.name, runtimeStatus: 'Running', createdTime: now, lastUpdatedTime: now, executionId,
    historyLength: events.length, version: 1, ...(source.input === undefined ? {} : { input: source.input }), ...tags, ...(lineage ? { lineage } : {}),
  };
  return {
    requests: [
      { type: 'createInstance', state, message: message(newId(), instanceId, executionId, rewound), ifRunning: { kind: 'fail' }, ifExists: 'fail' },
      { type: 'replaceHistory', instanceId, events },
      // The kept results of the step the cut is in, taken by the fork's first step after its `ExecutionRewound`.
      ...kept,
      ...raised,
    ],
  };
}

/**
 * The write set that sends `message` to an existing instance; `InstanceNotFoundError` when there is none. With
 * `requires` (a client command), refused atomically when the instance is not in that state at commit time. With
 * `idempotencyKey` (a raised event's), a repeat of a raise with that key delivers nothing (`InsertMessageWrite.idempotencyKey`).
 */
export function decideSend(message: OrchestrationMessage, requires?: InstanceCondition, idempotencyKey?: string): WriteSet {
  if (idempotencyKey !== undefined) {
    return { requests: [requires ? { type: 'insertMessage', message, ifMissing: 'fail', requires, idempotencyKey } : { type: 'insertMessage', message, ifMissing: 'fail', idempotencyKey }] };
  }
  return { requests: [requires ? { type: 'insertMessage', message, ifMissing: 'fail', requires } : { type: 'insertMessage', message, ifMissing: 'fail' }] };
}

/** Everything {@link decideTerminate}, {@link decideSuspend} or {@link decideResume} needs to decide command `E`. */
export interface DirectInput<E extends HistoryEvent> {
  /** The instance as read. */
  readonly state: InstanceState;
  /** The command's event, with its reason (a termination's becomes the output). */
  readonly event: E;
  /**
   * The current execution's stored history, read after `state`, once the decision asked for it (`needHistory`): its
   * events from position `historyFrom` up to the state's `historyLength`.
   */
  readonly history?: readonly HistoryEvent[] | undefined;
  /** The position of the first event of `history`: the `fromIndex` the decision asked for (absent: 0, all of it). */
  readonly historyFrom?: number | undefined;
  readonly now: Date;
  readonly newId: () => string;
  /**
   * The command may go ahead of the messages queued before it that its kind allows (`UnclaimedLease.command`: all
   * but a command queued before it): the writer has no worker at hand that applies
   * them first (a client without a worker of its own running: a client alone, or a runtime's that is not started or is
   * stopping; a started runtime's worker, idle or busy, applies them first), and the instance
   * would otherwise show the command only once some worker ran. Absent: it goes ahead of none but the start of the
   * execution, and a worker applies what was queued before it first, in order.
   */
  readonly ahead?: boolean;
  /**
   * The id of a queued message that carries this very command (a terminate a parent's recursive terminate handed on):
   * the commit applies it and deletes it, and it does not hold the commit back (`UnclaimedLease.takes`).
   */
  readonly takes?: string | undefined;
}

/**
 * What {@link decideTerminate}, {@link decideSuspend} or {@link decideResume} decided: a command applied by whoever
 * holds no lease (a client), in its own commit, or left to a worker.
 */
export type DirectDecision =
  /**
   * Decided again with the events of the current execution's history from `fromIndex` (absent: 0) up to the state's
   * `historyLength` (`DirectInput.history`). A decision given a tail may ask for more, from further back, and the
   * reader prepends only what it had not read: asked from 0 it always decides.
   */
  | { readonly kind: 'needHistory'; readonly fromIndex?: number }
  /** Not decided here: the command goes to a worker as a message. */
  | { readonly kind: 'send' }
  | { readonly kind: 'commit'; readonly writeSet: WriteSet; readonly state: InstanceState };

const SEND: DirectDecision = Object.freeze({ kind: 'send' });

/**
 * A terminate applied by whoever holds no lease (a client), in its own commit: the step a worker would commit for an
 * `ExecutionTerminated` that reaches the instance, without running the orchestrator (decideStep's own write set
 * builder, over a step of that one event). The instance becomes Terminated with the reason as output, the event is
 * appended to its history between step markers, `version` grows by one, and a sub-orchestration sends its parent the
 * result of a terminated child, to the parent call its state holds (`stateLinkOf`), in the same commit, without
 * reading its history; so a purge or restart of the child once it is Terminated leaves no parent waiting. One with no
 * history yet (Pending, or ContinuedAsNew) has its queued start recorded and ignored by the worker that takes it, as
 * a top-level instance's is. A child whose state names no parent call (stored before 2026-12-03) answers by the link
 * in its history (`needHistory` asks for it: the whole history, as a parent's rewind may have moved the link), and is
 * left to a worker (`send`) before it started, which answers by the link in the start it takes. Later results are
 * recorded and ignored, as for any terminated instance. A terminal
 * instance is left to the message too (`send`), whose condition refuses it (410).
 *
 * The write set goes under an `unclaimed` lease naming the terminate: the store commits it only while the instance is
 * still at the version and execution read and no worker holds a live lease on it (`unclaimedHolds`), else refuses with
 * `LeaseLostError`, and then the terminate goes to a worker as a message. A message queued before it holds it back
 * too (a worker applies it first), unless `ahead` (no worker at hand to apply it at once): then only a command does (a
 * terminate queued first keeps its reason, as in Durable Functions), and an event, result or timer queued stays so,
 * for the worker that takes it later to meet as any message reaching a terminated instance (an event raised is
 * recorded after the termination and ignored).
 *
 * A recursive terminate (`event.recursive`) of a started execution asks for its history (`needHistory`), top-level
 * too: the commit sends the same terminate to each sub-orchestration whose call is unanswered, as a worker's step does
 * ({@link decideStep}).
 */
export function decideTerminate(input: DirectInput<ExecutionTerminatedEvent>): DirectDecision {
  const { state } = input;
  if (isTerminalStatus(state.runtimeStatus)) return SEND;
  // A recursive one names the sub-orchestrations of the history (none before the execution started).
  if (input.event.recursive && started(state) && input.history === undefined) return NEED_HISTORY as DirectDecision;
  if (state.parentInstanceId === undefined) return unclaimedStep(input, true, undefined);
  // Its parent call is in its state, started or not: no history read. A history read all the same (a recursive
  // terminate's) gives the link, which wins: a state stored before 2026-12-06 may name a call a parent's rewind has
  // since moved.
  const answers = stateLinkOf(state);
  if (answers) return unclaimedStep(input, true, input.history && parentLinkOf(input.history), answers);
  // A state stored before 2026-12-03 names none: the queued start tells it (a worker's), or the history.
  if (!started(state)) return SEND;
  if (input.history === undefined) return NEED_HISTORY as DirectDecision;
  return unclaimedStep(input, true, parentLinkOf(input.history));
}

/**
 * A suspend applied by whoever holds no lease (a client), in its own commit, as {@link decideTerminate} applies a
 * terminate: the step a worker commits for an `ExecutionSuspended` that reaches a Running or a Suspended instance,
 * which runs no orchestrator code (the execution only stops taking events, or already has). The event is appended
 * between step markers and `version` grows by one, under an `unclaimed` lease: a Running instance becomes Suspended,
 * and a Suspended one stays so, its suspend recorded as a worker records it (a repeated suspend, an HTTP retry). The
 * store's check (`unclaimedHolds`) orders it behind a message committed before it (a resume whose call timed out):
 * it refuses the commit then, and the suspend goes to a worker after that message. With `ahead` (no worker at hand)
 * only a command holds it back: an event, result or timer queued before it stays queued, and reaches the Suspended
 * instance as one that arrived after the suspend (kept, and processed after the resume). An execution with no history yet
 * (Pending, ContinuedAsNew, or any status a continueAsNew and a suspend in one step leave) is suspended by its state
 * alone (`unclaimedStatus`), the suspend held back there with its time and reason (`applyEvent`; a repeated one
 * changes nothing: not held, and nothing written, see `unclaimedStatus`): a worker then starts it suspended and records them. A terminal one is left to the message (`send`), whose condition refuses it.
 */
export function decideSuspend(input: DirectInput<ExecutionSuspendedEvent>): DirectDecision {
  const status = input.state.runtimeStatus;
  if (isTerminalStatus(status)) return SEND;
  if (!started(input.state)) return unclaimedStatus(input, applyEvent(input.state, input.event));
  return status === 'Running' || status === 'Suspended' ? unclaimedStep(input, false, undefined) : SEND;
}

/**
 * A resume applied by whoever holds no lease (a client), in its own commit, when it runs no orchestrator code: the
 * instance is Suspended and nothing reached it while suspended (the stored history, which `needHistory` asks for,
 * shows no event kept for the resume: the state says so when the step that left it Suspended said it, `suspension`,
 * and nothing is read; otherwise its last {@link RESUME_TAIL_EVENTS} events, and as many again from further back
 * each time they cannot tell, `suspendedWithNothingDeferredFrom`), or it is Running (a repeated resume, recorded
 * as a worker records it, the status unchanged). The event is appended between step markers and `version` grows by
 * one, under an `unclaimed` lease: a Suspended instance becomes Running. One suspended before its execution
 * started gets back the status it had before the suspend (Pending, or ContinuedAsNew) by its state alone
 * (`unclaimedStatus`), the resume held after the commands before it for the worker that takes the start to record
 * them all; one not started and not Suspended (nothing to resume) keeps its status, nothing held (a retry at every
 * call would grow the state) and nothing written (`unclaimedStatus`), and no message is left to hold back later direct commands. Otherwise it is left to a worker (`send`): events kept in the
 * history, which the resume runs the orchestrator on; a terminal one, refused by the message's condition. A message
 * committed before the resume (one that arrived while suspended and no worker ran, a suspend whose call timed out) is
 * still queued: the store refuses the commit then (`unclaimedHolds`), and the resume goes to a worker after it. With
 * `ahead` (no worker at hand) only a command does: an event, result or timer still queued stays so, and a worker
 * processes it after the resume.
 */
export function decideResume(input: DirectInput<ExecutionResumedEvent>): DirectDecision {
  const { state, history } = input;
  // Asked before the history is: an execution not started yet needs no read.
  if (!started(state)) {
    if (isTerminalStatus(state.runtimeStatus)) return SEND;
    // Suspended: the status before the suspend (`applyEvent`, from the held suspend); a state stored before
    // `heldSuspend` existed has none and becomes Pending, as it did then, its suspend (stamped with its last change, as
    // `heldCommands` reads it) held with the resume. Not Suspended: nothing to resume, the status kept, nothing held
    // (`applyEvent`), and nothing is queued (a message would hold back every later direct command).
    const legacy = state.runtimeStatus === 'Suspended' && !state.heldSuspend;
    return unclaimedStatus(input, applyEvent(legacy ? { ...state, heldSuspend: { timestamp: isoTime(state.lastUpdatedTime), resumeTo: 'Pending' } } : state, input.event));
  }
  if (state.runtimeStatus === 'Running') return unclaimedStep(input, false, undefined);
  if (state.runtimeStatus !== 'Suspended') return SEND;
  // What the state says was kept while suspended, when it says it (`suspension`): no history read.
  const kept = suspensionOf(state);
  if (kept !== undefined) return kept ? SEND : unclaimedStep(input, false, undefined);
  // A tail of the history, from further back while it cannot tell (`suspendedWithNothingDeferredFrom`).
  const length = state.historyLength;
  const from = history === undefined ? length : Math.max(0, input.historyFrom ?? 0);
  const nothingKept = history === undefined ? undefined : suspendedWithNothingDeferredFrom(history.slice(0, length - from), from);
  if (nothingKept === undefined) return { kind: 'needHistory', fromIndex: Math.max(0, length - Math.max(RESUME_TAIL_EVENTS, 2 * (length - from))) };
  return nothingKept ? unclaimedStep(input, false, undefined) : SEND;
}

/**
 * How many last events of a Suspended execution's history a client's resume reads first ({@link decideResume}); while
 * they cannot tell whether anything was kept while suspended, it reads as many again from further back.
 */
export const RESUME_TAIL_EVENTS = 16;

/**
 * A rewind applied by whoever holds no lease (a client), in its own commit: the half of a worker's rewind step that
 * runs no orchestrator code. The history of a Failed instance (`needHistory` asks for it) is rewritten by the rule a
 * worker's rewind applies ({@link rewindHistory}: the failures that failed it, the calls that made them and the final
 * ExecutionCompleted dropped), the status becomes Running ({@link applyEvent}: no output or failure details), the
 * history gets a new `historyEpoch`, `version` grows by one, and the `ExecutionRewound` goes to the instance as a
 * message, under an `unclaimed` lease (see {@link decideTerminate}). The rerun is recorded in the state (`rerun`), not
 * only by that message: the next step of the instance, whichever of its messages its claim took (a claim that hands
 * out the oldest only may take a timer fallen due meanwhile and leave the `ExecutionRewound` queued), replays the
 * rewritten history, issuing the calls the replay makes again (the failed ones: completed calls keep their results)
 * as a rewind step does, a failed sub-orchestration among them rewound in place (`stepEvents`'s `rerun`), and its
 * first event clears `rerun`; the `ExecutionRewound` is recorded by the step that takes it. A rewind of an instance that is not Failed is left to the message (`send`), whose condition refuses it
 * (410 / 409), and so is one of a Failed instance with no history (nothing to replay).
 */
export function decideRewind(input: DirectInput<ExecutionRewoundEvent>): DirectDecision {
  const { state, history, now } = input;
  if (state.runtimeStatus !== 'Failed' || !started(state)) return SEND;
  if (history === undefined) return NEED_HISTORY as DirectDecision;
  const events = rewindHistory(history, state.input);
  const next: InstanceState = {
    ...applyEvent(state, input.event), lastUpdatedTime: now, version: state.version + 1, historyLength: events.length,
    historyEpoch: (state.historyEpoch ?? 0) + 1, rerun: input.event,
  };
  const id = state.instanceId;
  return {
    kind: 'commit', state: next,
    writeSet: {
      lease: { kind: 'unclaimed', instanceId: id, executionId: state.executionId, version: state.version, now },
      requests: [
        { type: 'replaceState', state: next }, { type: 'replaceHistory', instanceId: id, events },
        send(message(input.newId(), id, state.executionId, input.event)),
      ],
    },
  };
}

/** Everything {@link decideMisuse} needs: the instance as read, and the run whose `ctx` was used outside it. */
export interface MisuseInput {
  /** The instance as read. */
  readonly state: InstanceState;
  /** The current execution's stored history, read after `state`, once the decision asked for it (`needHistory`). */
  readonly history?: readonly HistoryEvent[] | undefined;
  /** The misused run: its execution and history epoch (see `MisuseMarks`). */
  readonly executionId: string;
  readonly historyEpoch: number;
  /** Why the run fails. */
  readonly failure: FailureDetails;
  readonly now: Date;
  readonly newId: () => string;
}

/** What {@link decideMisuse} decided. */
export type MisuseDecision =
  | { readonly kind: 'needHistory' }
  /** The run is over (ended, continued as new, rewound, started again, purged): nothing to fail. */
  | { readonly kind: 'over' }
  /** Not now: the run is Suspended, or its start is not committed yet; decided again when the instance changes. */
  | { readonly kind: 'wait' }
  | { readonly kind: 'commit'; readonly writeSet: WriteSet; readonly state: InstanceState };

const OVER: MisuseDecision = Object.freeze({ kind: 'over' });
const WAIT: MisuseDecision = Object.freeze({ kind: 'wait' });

/**
 * The failure of a run whose `ctx` was used outside the orchestrator's run (from a callback, after an `await`: see
 * `MisuseMarks`), committed at once by the worker that saw it, holding no lease: what it called is in no history, so
 * the run cannot go on. Recorded in the store, the failure holds whichever worker takes the instance's next step, and
 * after a restart (a worker's mark alone lives in its memory). The step a worker's mark fails, without running the
 * orchestrator: `ExecutionCompleted` (Failed, with `failure`) between step markers, `version` + 1, a sub-orchestration
 * answering the parent call its state holds (`stateLinkOf`; one stored before 2026-12-03 holds none: its history has
 * the link, `needHistory` asks for it), as {@link decideTerminate}
 * commits a terminate. The write set goes under an `unclaimed` lease at the version read: the store refuses it
 * (`LeaseLostError`) while a step of the instance runs or is due (a lease held, a message visible) or once one
 * committed since the read. A step that runs when the misuse happens is not raced: it commits first, and the run
 * fails after it (a worker's own step fails it by its mark); the worker decides again at the instance's next change.
 */
export function decideMisuse(input: MisuseInput): MisuseDecision {
  const { state, now } = input;
  if (state.executionId !== input.executionId || (state.historyEpoch ?? 0) !== input.historyEpoch || isTerminalStatus(state.runtimeStatus)) return OVER;
  if (state.runtimeStatus !== 'Running' || !started(state)) return WAIT;
  // The parent call its state names; a state stored before 2026-12-03 names none, and its history has the link.
  const answers = stateLinkOf(state);
  if (state.parentInstanceId !== undefined && !answers && input.history === undefined) return NEED_HISTORY as MisuseDecision;
  const event: HistoryEvent = { type: 'ExecutionCompleted', eventId: -1, timestamp: isoTime(now), orchestrationStatus: 'Failed', failureDetails: input.failure };
  return unclaimedStep({ state, event, now, newId: input.newId }, true, answers ? undefined : input.history && parentLinkOf(input.history), answers) as MisuseDecision;
}

/**
 * The events of the first step of an execution not started yet with its suspends and resumes (those ahead of a
 * terminate) moved ahead of the rest, each group in its order, so that the execution meets them before its start: a
 * suspend defers the start and everything after it until a resume, and a resume before any suspend has nothing to
 * resume. `events` itself when there is none (a terminate ends the execution; the commands after it are recorded and
 * ignored, in their place).
 */
function commandsFirst(events: HistoryEvent[]): HistoryEvent[] {
  let end = 0;
  let commands = 0;
  for (; end < events.length && events[end]!.type !== 'ExecutionTerminated'; end++) {
    if (isSuspendOrResume(events[end]!)) commands++;
  }
  if (commands === 0) return events;
  const ordered = new Array<HistoryEvent>(events.length);
  let c = 0;
  let o = commands;
  for (let i = 0; i < events.length; i++) ordered[i >= end ? i : isSuspendOrResume(events[i]!) ? c++ : o++] = events[i]!;
  return ordered;
}

function isSuspendOrResume(event: HistoryEvent): boolean {
  return event.type === 'ExecutionSuspended' || event.type === 'ExecutionResumed';
}

/**
 * The current execution has started: it has a history. One not started yet (its ExecutionStarted still queued, which
 * unclaimedHolds lets through) takes no client's suspend or resume recorded ahead of its start: a worker replaying that
 * history would defer the start behind it and take the execution for started (a continueAsNew and a suspend in one
 * step leave it Suspended so). A client changes its state alone instead (`unclaimedStatus`, the suspend held back
 * there). A terminate may go first: it ends the execution, and the start that reaches it then is recorded and
 * ignored, as for a Pending instance.
 */
function started(state: InstanceState): boolean {
  return state.historyLength > 0;
}

/**
 * A terminate of an execution not started yet (its start still queued), as its history records it: for one a
 * `continueAsNew` began, with `startRequestedAt`, when that start was sent (`continuedAt`), which the Durable Functions
 * view shows as the execution's start time until a worker records the start. The one rule of a client's terminate
 * (`unclaimedStep`) and a worker's step that takes the terminate ahead of the start (`stepEvents`).
 */
function recordedTerminate(state: InstanceState, event: ExecutionTerminatedEvent): ExecutionTerminatedEvent {
  return state.continuedAt === undefined ? event : { ...event, startRequestedAt: state.continuedAt };
}

/**
 * A suspend or resume of an execution not started yet (its ExecutionStarted queued: a Pending instance, or one that
 * continued as new), decided without a lease: only its state changes (to `changed`, the command folded in by
 * `applyEvent`), `version` grows by one, and nothing is appended (a history ahead of the start would have a worker
 * defer the start behind it and take the execution for started). Each command is held back in the state, after those
 * before it (`heldSuspend`, with the status before the first suspend); a worker that then claims the start of a
 * Suspended execution starts it suspended (decideStep records the held commands ahead of the start), so none of its
 * code runs before a resume. A resume before any worker came gives the instance back the status it had (Pending, or
 * ContinuedAsNew: the next execution has not started, as before the suspend), and its start runs as any start does,
 * recording the commands ahead of it. A resume of one that is not Suspended keeps its status.
 *
 * A command that changes nothing (`changed` is `state`: a resume of one not Suspended, a suspend of one Suspended, an
 * HTTP retry) is a commit of no request: no new snapshot on `status$`, `version` and `lastUpdatedTime` kept (IndexedDB
 * wrote a row per retry, and a state stored before `heldSuspend` existed had its suspend's time, which `heldCommands`
 * reads from `lastUpdatedTime`, moved by each retry). It still goes to the store, whose check orders it: behind a
 * command message committed before it (a suspend whose call timed out), it is refused and goes as a message after it,
 * where it is no longer a no-op. A started execution's repeated command is no such case: a worker's step records it
 * in the history (`unclaimedStep`), and so does the client's.
 */
function unclaimedStatus(input: DirectInput<HistoryEvent>, changed: InstanceState): DirectDecision {
  const { state, now } = input;
  const lease = unclaimedLeaseOf(input);
  // Nothing changed (a resume of one not suspended, a suspend of one suspended: an HTTP retry): no state written, no
  // new snapshot, `version` and `lastUpdatedTime` kept (a legacy suspend's time, which `heldCommands` reads from it,
  // too). The commit still goes, under the same check: a command message committed before it (a suspend whose call
  // timed out) makes the store refuse it, and the command then goes to a worker after that message, in order.
  if (changed === state) return { kind: 'commit', state, writeSet: { lease, requests: [] } };
  const next: InstanceState = { ...changed, lastUpdatedTime: now, version: state.version + 1 };
  return { kind: 'commit', state: next, writeSet: { lease, requests: [{ type: 'replaceState', state: next }] } };
}

/**
 * The commit of one client command's event (`input.event`) decided without a lease: decideStep's own write set
 * builder over the step a worker would commit for it, the event between step markers, under an `unclaimed` lease at
 * the version and execution read. A terminate of an execution not started yet records the suspends and resumes it
 * holds (`heldCommands`, the rule a worker's step reads) ahead of the termination, as a worker that takes both its
 * start and the terminate records them. A step that ends a sub-orchestration answers its parent: `parent`, the link of
 * its history, or else `answers`, the call its state names (an execution with no history yet).
 */
function unclaimedStep(input: DirectInput<HistoryEvent>, isFinished: boolean, parent: ParentLink | undefined, answers?: ParentAnswer): DirectDecision {
  const { state, now } = input;
  // Recorded as a worker's step records it, between step markers (readers of the history rely on the shape: a history
  // stream with `untilTerminal` ends at the marker after the termination).
  const markers = stepMarkers(isoTime(now));
  // The terminate of an execution a continueAsNew began that no worker started says when its start was sent: its
  // history holds no start until a worker records it.
  const { event } = input;
  const recorded = event.type === 'ExecutionTerminated' && !started(state) ? recordedTerminate(state, event) : event;
  const step: StepResult = {
    newEvents: [markers.started, ...heldCommands(state), recorded, markers.completed], actions: [],
    // An execution not started yet has no custom status of its own (a worker's first step drops the last execution's).
    customStatus: started(state) ? state.customStatus as JsonValue | undefined : undefined, isFinished,
  };
  const { takes } = input;
  return {
    kind: 'commit',
    ...stepWriteSet({
      state, step, now, newId: input.newId, lease: unclaimedLeaseOf(input), parent, answers, history: input.history,
      consumed: takes === undefined ? undefined : { type: 'deleteMessages', instanceId: state.instanceId, messageIds: [takes] },
    }),
  };
}

/**
 * The `unclaimed` lease of a write decided from `state` as read at `now`, naming the client command `event` is when it
 * may go ahead of the messages queued before it (`ahead`): what it may go ahead of is `UnclaimedLease.command`'s rule,
 * judged by store-kit's `unclaimedHolds`. A misuse's failure names none.
 */
function unclaimedLeaseOf(input: {
  readonly state: InstanceState; readonly event: HistoryEvent; readonly now: Date; readonly ahead?: boolean; readonly takes?: string | undefined;
}): UnclaimedLease {
  const { state, event, now, takes } = input;
  const command = !input.ahead ? undefined : event.type === 'ExecutionTerminated' ? 'terminate' : event.type === 'ExecutionSuspended' ? 'suspend'
    : event.type === 'ExecutionResumed' ? 'resume' : undefined;
  const lease: UnclaimedLease = { kind: 'unclaimed', instanceId: state.instanceId, executionId: state.executionId, version: state.version, now };
  const taking = takes === undefined ? lease : { ...lease, takes };
  return command ? { ...taking, command } : taking;
}

/** The parent call a sub-orchestration's execution reports to, read from its history by the execution's own rule. */
function parentLinkOf(history: readonly HistoryEvent[]): ParentLink | undefined {
  return history.reduce(parentLinkAfter, undefined as ParentLink | undefined);
}

/**
 * The write set of a finished activity: deletes its task and delivers the result (dropped when the instance is gone
 * or runs another execution), under the task's lease.
 */
export function decideActivityResult(taskId: string, leaseToken: string, result: OrchestrationMessage): WriteSet {
  return {
    lease: { kind: 'activity', taskId, token: leaseToken },
    requests: [{ type: 'deleteTask', taskId }, { type: 'insertMessage', message: result, ifMissing: 'drop' }],
  };
}

/** How {@link leaseNewTasks} leases a step's new activity tasks to the worker that commits the step. */
export interface TaskLeaseOptions {
  /** The committing worker's id. */
  readonly owner: string;
  readonly leaseMs: number;
  readonly now: Date;
  /** Most tasks to lease (the worker's free activity slots); the rest are stored unleased, for any worker to claim. */
  readonly max: number;
  /** Fresh lease tokens. */
  readonly newId: () => string;
}

/**
 * Leases the first `max` activity tasks a write set inserts to the worker that commits it, in the commit itself: the
 * worker runs them right after the commit instead of claiming them in transactions of their own, and nobody else
 * runs them before the leases expire (a worker that dies leaves them to be claimed then). Returns the write set with
 * the leases and the work items the worker now holds. For stores with `capabilities.fusedSteps`.
 */
export function leaseNewTasks(writeSet: WriteSet, options: TaskLeaseOptions): { writeSet: WriteSet; leased: { task: ActivityTask; lease: Lease }[] } {
  const leased: { task: ActivityTask; lease: Lease }[] = [];
  let requests: WriteRequest[] | undefined;
  let expiresAt: Date | undefined;
  const given = writeSet.requests;
  for (let i = 0; i < given.length && leased.length < options.max; i++) {
    const request = given[i]!;
    if (request.type !== 'insertTask' || request.lease) continue;
    requests ??= given.slice();
    expiresAt ??= new Date(options.now.getTime() + options.leaseMs);
    const lease: Lease = { owner: options.owner, token: options.newId(), expiresAt };
    leased.push({ task: request.task, lease });
    requests[i] = { type: 'insertTask', task: request.task, lease };
  }
  return { writeSet: requests ? { ...writeSet, requests } : writeSet, leased };
}

/** Everything {@link decideActivityStep} needs: an activity's result and the instance's state the worker cached. */
export interface ActivityStepInput extends Omit<StepInput, 'messages' | 'leaseToken' | 'history'> {
  /** The task whose result it is, and the lease the worker holds on it. */
  readonly taskId: string;
  readonly taskLeaseToken: string;
  /** The result message (TaskCompleted or TaskFailed). */
  readonly result: OrchestrationMessage;
}

/**
 * An activity's result and the step it wakes, decided together from the worker's cached execution, for one
 * transaction instead of three (complete the activity, claim the instance, commit the step). The step is exactly
 * the one a claim would give if the result were the instance's only visible message; the write set's
 * `activityStep` lease makes the store check that (see `ActivityStepLease`) and refuse otherwise. The result message
 * is consumed in the same commit, so it is never stored. `needHistory` when the execution is not cached (the worker
 * then commits the result alone). For stores with `capabilities.fusedSteps`.
 */
export function decideActivityStep(input: ActivityStepInput): StepDecision {
  const { taskId, taskLeaseToken, state } = input;
  if (!input.cached) return NEED_HISTORY;
  // The result's event goes both to the orchestrator (its result or failure details) and into the write set, which a
  // store may keep as it is after the step ran (MemoryStore does): frozen first, the engine hands the orchestrator a
  // copy of it (`owned`), as it does on a replay from MemoryStore, so a change in place never reaches the recorded
  // event. Marked as built (plain JSON, by its types), the store keeps it without walking it again or copying it.
  freezeBuilt(input.result.event);
  // The result is the step's only message and is never stored, so nothing is deleted for it.
  return decide(
    input, [input.result],
    { kind: 'activityStep', taskId, token: taskLeaseToken, instanceId: state.instanceId, version: state.version, now: input.now },
    undefined, { type: 'deleteTask', taskId }, false,
  );
}

/**
 * True when `events` hold an `ExecutionTerminated` with `recursive`: the step that applies it needs the execution's
 * history, whose unanswered sub-orchestration calls it terminates too (`stepWriteSet`).
 */
function hasRecursiveTerminate(events: readonly HistoryEvent[]): boolean {
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.type === 'ExecutionTerminated' && e.recursive) return true;
  }
  return false;
}

/** A message to deliver within a step's write set (dropped when its instance is gone). */
function send(message: OrchestrationMessage): WriteRequest {
  return { type: 'insertMessage', message, ifMissing: 'drop' };
}

function message(
  id: string, instanceId: string, executionId: string | undefined, event: MessageEvent, visibleAt?: Date,
): OrchestrationMessage {
  return { id, instanceId, ...(executionId === undefined ? {} : { executionId }), event, ...(visibleAt ? { visibleAt } : {}) };
}
