import { assertNever, type ExecutionStartedEvent, type HistoryEvent } from '../model/history-event.js';
import { isoTime } from '../model/iso-time.js';
import {
  isTerminalStatus, type HeldCommand, type HeldCommands, type HeldSuspend, type InstanceState, type Mutable, type ParentCall,
} from '../model/instance-status.js';

/**
 * Whether `event` starts an execution other than the instance's current one (a restart, a new start over the id): the
 * only start a terminal instance does not ignore. The start of the current execution reaching it is one of an
 * execution that ended before it started (a terminate queued ahead of the start a continueAsNew sent, a top-level
 * instance a client terminated directly): recorded and ignored, by {@link applyEvent} as by decideStep's reading of a
 * batch, so the instance stays as the termination left it.
 */
export function startsAnotherExecution(state: InstanceState, event: HistoryEvent): boolean {
  return event.type === 'ExecutionStarted' && event.executionId !== state.executionId;
}

/**
 * The status reducer: folds one history event into an instance's state. Every status change of an instance goes
 * through here (worker commits, the client's direct commands, tests, store helpers), so the rules live in one place:
 * a terminal instance only changes again through a rewind (Failed) or a new ExecutionStarted. Every suspend and
 * resume of an execution not started yet (Pending, ContinuedAsNew) that changes its status (a retry changes nothing)
 * is held back, in order (`held`), with the status before the first suspend (`heldSuspend`), which a resume gives
 * back, so that the worker that takes the start records each ahead of it ({@link heldCommands}), as it records them when they reach it as messages; an ExecutionStarted leaves a
 * Suspended instance Suspended (the execution starts suspended, decideStep having recorded the held commands ahead of
 * it) and lets what is held go, as a termination or a completion of the execution not started does; the
 * OrchestratorStarted of a step of a started execution lets go one left behind, and the rerun a client's rewind left
 * pending (`rerun`: that step is the one that reruns).
 *
 * `version`, `historyLength` and `lastUpdatedTime` are bookkeeping the caller sets for the whole commit.
 */
export function applyEvent(state: InstanceState, event: HistoryEvent): InstanceState {
  const terminal = isTerminalStatus(state.runtimeStatus);
  switch (event.type) {
    case 'ExecutionStarted': {
      if (terminal && !startsAnotherExecution(state, event)) return state;
      const { output: _o, failureDetails: _f, input: _i, parentInstanceId: _p, parentCall: _c, heldSuspend: _h, held: _l, ...rest } = state;
      const next: Mutable<InstanceState> = rest;
      next.name = event.name;
      // An execution suspended before its start (see decideStep) starts suspended: the start waits for the resume.
      if (state.runtimeStatus !== 'Suspended') next.runtimeStatus = 'Running';
      next.executionId = event.executionId;
      // A start recorded without its input (the store refused its step's records) keeps the instance's (its state's).
      if (event.input !== undefined) next.input = event.input;
      else if (event.payloadRefused !== undefined && state.input !== undefined) next.input = state.input;
      if (event.parentInstance) {
        next.parentInstanceId = event.parentInstance.instanceId;
        next.parentCall = parentCallOf(event.parentInstance);
      }
      return next;
    }
    case 'ExecutionCompleted': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, heldSuspend: _h, held: _l, ...rest } = state;
      const next: Mutable<InstanceState> = rest;
      if (event.orchestrationStatus === 'Completed') {
        next.runtimeStatus = 'Completed';
        if (event.result !== undefined) next.output = event.result;
      } else {
        next.runtimeStatus = 'Failed';
        if (event.failureDetails) next.failureDetails = event.failureDetails;
      }
      return next;
    }
    case 'ExecutionTerminated': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, heldSuspend: _h, held: _l, ...rest } = state;
      const next: Mutable<InstanceState> = rest;
      next.runtimeStatus = 'Terminated';
      if (event.reason !== undefined) next.output = event.reason;
      return next;
    }
    case 'ExecutionSuspended': {
      // Not started (the status before it, or the one the held commands give back, is Pending or ContinuedAsNew):
      // nothing of the execution is in its history yet, so the suspend waits in the state after those before it.
      const held = heldOf(state);
      const resumeTo = held ? held.resumeTo : state.runtimeStatus;
      if (resumeTo !== 'Pending' && resumeTo !== 'ContinuedAsNew') {
        // One Suspended already (a repeated suspend) is the same state, not a copy: nothing changed.
        return terminal || state.runtimeStatus === 'Suspended' ? state : { ...state, runtimeStatus: 'Suspended' };
      }
      // One suspended already (its latest held command a suspend) holds no other: nothing would change.
      if (state.runtimeStatus === 'Suspended') return state;
      const { timestamp, reason } = event;
      const heldSuspend: HeldSuspend = reason === undefined ? { timestamp, resumeTo } : { timestamp, reason, resumeTo };
      return { ...state, runtimeStatus: 'Suspended', heldSuspend, held: holding(state, held, event) };
    }
    case 'ExecutionResumed': {
      // Nothing suspended, nothing to resume: nothing held (an HTTP retry would grow the state at every call). A
      // started execution's history has the resume (its step records it).
      if (state.runtimeStatus !== 'Suspended') return state;
      const held = heldOf(state);
      // Before the start: held after the commands before it, and the status before the suspend comes back.
      if (held) {
        const { commands: _c, ...legacy } = held;
        return { ...state, runtimeStatus: held.resumeTo, heldSuspend: { ...legacy, resumed: event }, held: holding(state, held, event) };
      }
      const { heldSuspend: _h, held: _l, ...rest } = state;
      return { ...rest, runtimeStatus: 'Running' };
    }
    case 'ExecutionRewound': {
      // A parent's rewind: from now on it reports to the call that rewound it (of the same parent), whatever its status
      // when the step records it, as its execution does (`parentLinkAfter`): one rewound on its own meanwhile (its own
      // rewind queued ahead of the parent's, which reached it Failed) reports to the parent's call, not the one before.
      const moved = event.parentInstance ? { ...state, parentCall: parentCallOf(event.parentInstance) } : state;
      if (state.runtimeStatus !== 'Failed') return moved;
      const { output: _o, failureDetails: _f, ...rest } = moved;
      return { ...rest, runtimeStatus: 'Running' };
    }
    case 'ContinueAsNew': {
      if (terminal) return state;
      const { output: _o, failureDetails: _f, input: _i, ...rest } = state;
      const next: Mutable<InstanceState> = rest;
      next.runtimeStatus = 'ContinuedAsNew';
      if (event.input !== undefined) next.input = event.input;
      return next;
    }
    case 'OrchestratorStarted': {
      // A step of an execution that has started holds no suspend back: one there was kept through the start by a
      // worker of an earlier version (its ExecutionStarted kept the field), and a resume would take it for a suspend
      // before the start. (A continueAsNew and a suspend in one step hold one for the next execution after this.)
      // Nor a rerun a client's rewind left pending (`rerun`): this step is the one that reruns (decideStep read it).
      const letGo = (!!state.heldSuspend || !!state.held) && state.historyLength > 0;
      if (!letGo && !state.rerun) return state;
      const { rerun: _r, ...rest } = state;
      if (!letGo) return rest;
      const { heldSuspend: _h, held: _l, ...started } = rest;
      return started;
    }
    case 'OrchestratorCompleted':
    case 'TaskScheduled':
    case 'TaskCompleted':
    case 'TaskFailed':
    case 'TimerCreated':
    case 'TimerFired':
    case 'EventRaised':
    case 'ExecutionCancelRequested':
    case 'SubOrchestrationInstanceCreated':
    case 'SubOrchestrationInstanceCompleted':
    case 'SubOrchestrationInstanceFailed':
      return state;
    default:
      return assertNever(event);
  }
}

/** The call of a parent link, as a state keeps it (`parentCall`). */
export function parentCallOf(link: NonNullable<ExecutionStartedEvent['parentInstance']>): ParentCall {
  const call: ParentCall = link.executionId === undefined ? { taskScheduledId: link.taskScheduledId } : { executionId: link.executionId, taskScheduledId: link.taskScheduledId };
  return link.forkRoot === undefined ? call : { ...call, forkRoot: link.forkRoot };
}

/**
 * The suspends and resumes an execution not started yet holds (`heldSuspend`), in order: what the step that takes its
 * start records ahead of it, and a terminate decided before that ahead of the termination. Empty for a started
 * execution and one that holds none. A Suspended state stored before `heldSuspend` existed holds its suspend with the
 * state's last change (the suspend's commit) as its time, and no reason.
 */
export function heldCommands(state: InstanceState): readonly HeldCommand[] {
  if (state.historyLength > 0) return NONE;
  const held = heldOf(state);
  if (held) return heldCommandsOf(state, held);
  if (state.runtimeStatus !== 'Suspended') return NONE;
  return [{ type: 'ExecutionSuspended', eventId: -1, timestamp: isoTime(state.lastUpdatedTime) }];
}

const NONE: readonly HeldCommand[] = Object.freeze([]);

/**
 * The commands an instance holds, when they are in force: it shows Suspended (the latest held suspend), or the status
 * they give back (held resumes). One a worker of an earlier version kept through a start and a continueAsNew (it
 * copied the field) holds a suspend but shows another status: it is no command of this execution.
 */
function heldOf(state: InstanceState): HeldSuspend | undefined {
  const held = state.heldSuspend;
  if (held === undefined) return undefined;
  if (state.runtimeStatus === 'Suspended') return held;
  return held.resumeTo === state.runtimeStatus && (held.commands !== undefined || held.resumed !== undefined) ? held : undefined;
}

/**
 * The commands held once `event` is: those before it (`held`, if in force), then it, for the execution not started;
 * what the step that continued the instance as new applied before it ({@link continuedCommands}) kept beside them.
 */
function holding(state: InstanceState, held: HeldSuspend | undefined, event: HeldCommand): HeldCommands {
  const commands = held ? [...heldCommandsOf(state, held), event] : [event];
  const applied = continuedCommands(state);
  return applied.length === 0 ? { executionId: state.executionId, commands } : { executionId: state.executionId, commands, applied };
}

/**
 * The suspends and resumes the step that continued the instance as new applied to the execution it ended, before its
 * `continueAsNew` ({@link HeldCommands.applied}), while the next execution has not started: in the history that step
 * replaced, so only its state tells their callers (`sentCommandOutcome`). Empty otherwise.
 */
export function continuedCommands(state: InstanceState): readonly HeldCommand[] {
  const held = state.held;
  return state.historyLength > 0 || held?.applied === undefined || held.executionId !== state.executionId ? NONE : held.applied;
}

/**
 * The commands `held` stands for: the list this version keeps (`state.held`, when it is this execution's; a version
 * of 2026-12-02 and 03 kept it in `held.commands`), then any the latest suspend and the resume after it (the fields a
 * tab of an earlier version reads and writes, on a shared IndexedDB) show after that list. Such a tab resumes by
 * copying `heldSuspend` and adding `resumed`, and suspends by writing a `heldSuspend` of its own, keeping every other
 * field: a suspend that is not the list's last suspend, or that suspends a list ending with its resume, came after the
 * list, and so did a resume beside a suspend after the list or beside a list ending with its suspend. Each is read
 * once, after the list, and the last command gives the status the instance shows. What such a tab wrote before its
 * latest suspend is lost (its own rule: a suspend replaces what it held); a repeated suspend by it cannot be told
 * from a resume and a suspend, and reads as one suspend more (one at most: each replaces the last).
 */
function heldCommandsOf(state: InstanceState, held: HeldSuspend): readonly HeldCommand[] {
  const list = held.commands ?? (state.held?.executionId === state.executionId ? state.held.commands : NONE);
  const { timestamp, reason, resumed } = held;
  const suspended = state.runtimeStatus === 'Suspended';
  let lastSuspend: HeldCommand | undefined;
  for (const command of list) if (command.type === 'ExecutionSuspended') lastSuspend = command;
  const endsSuspended = lastSuspend !== undefined && lastSuspend === list.at(-1);
  const suspendAfter = timestamp !== undefined &&
    (!lastSuspend || lastSuspend.timestamp !== timestamp || lastSuspend.reason !== reason || (suspended && !endsSuspended));
  const resumeAfter = !suspended && resumed !== undefined && (suspendAfter || endsSuspended);
  if (!suspendAfter && !resumeAfter) return list;
  const after: HeldCommand[] = [...list];
  if (suspendAfter) after.push({ type: 'ExecutionSuspended', eventId: -1, timestamp, ...(reason === undefined ? {} : { reason }) });
  if (resumeAfter) after.push(resumed);
  return after;
}
