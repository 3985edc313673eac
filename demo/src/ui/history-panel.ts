import type { DurableClient, HistoryEvent, InstanceStatus } from '@durable-rx/runtime';
import {
  concat, distinctUntilChanged, EMPTY, map, merge, mergeMap, of, scan, share, Subscription, switchMap, tap, type Observable,
} from 'rxjs';
import { formatJson, formatTime, shortId } from './format.js';
import { h, setText } from './h.js';
import { reportErrors, type Notices } from './notices.js';
import type { Panel } from './panel.js';

/** The history view: `history$` of the selected instance, appended live. */
export function historyPanel(
  client: DurableClient, notices: Notices, selected$: Observable<string | undefined>, close: () => void,
): Panel & { readonly heading: HTMLElement } {
  const heading = h('h2', { id: 'history-title', tabindex: -1 }, 'History');
  const summary = h('p', { id: 'history-summary', role: 'status', 'aria-live': 'polite', class: 'live' });
  const list = h('ol', { id: 'history', class: 'history' });
  const closeButton = h('button', { type: 'button', class: 'small', onclick: () => close() }, 'Close history');
  const showSteps = h('input', { type: 'checkbox', id: 'history-steps' });
  showSteps.addEventListener('change', () => list.classList.toggle('show-steps', showSteps.checked));
  const element = h('section', { class: 'card wide', 'aria-labelledby': 'history-title', id: 'history-panel', hidden: true },
    h('div', { class: 'card-head' }, heading, closeButton),
    summary,
    h('div', { class: 'switch' }, showSteps, h('label', { for: 'history-steps' }, 'Show OrchestratorStarted / OrchestratorCompleted')),
    list);

  const subscription = new Subscription();
  subscription.add(selected$.pipe(
    tap((id) => {
      element.hidden = id === undefined;
      list.replaceChildren();
      setText(heading, id ? `History of ${shortId(id)}` : 'History');
      setText(summary, '');
    }),
    switchMap((id) => (id ? eventsOf(client, id) : EMPTY)),
    reportErrors(notices),
  ).subscribe((item) => {
    if (item.kind === 'reset') {
      list.replaceChildren();
      setText(summary, item.status ? `${item.status.name}, ${item.status.runtimeStatus}` : 'This instance was purged.');
      return;
    }
    if (item.kind === 'status') {
      setText(summary, `${item.status.name}, ${item.status.runtimeStatus}`);
      return;
    }
    if (item.event.type === 'ExecutionStarted' && list.children.length > 0) list.replaceChildren(); // a new execution
    list.append(renderEvent(item.event, list.children.length));
  }));
  return { element, subscription, heading };
}

type Item =
  | { readonly kind: 'reset'; readonly status: InstanceStatus | undefined }
  | { readonly kind: 'status'; readonly status: InstanceStatus }
  | { readonly kind: 'event'; readonly event: HistoryEvent };

/**
 * The history of one instance, plus its status for the summary line. `history$` only appends, and a rewind replaces
 * the history of the same execution, so the view re-reads the history from the start whenever the instance leaves
 * Failed (a rewind) or disappears (a purge).
 */
function eventsOf(client: DurableClient, instanceId: string): Observable<Item> {
  const status$ = client.status$(instanceId).pipe(share());
  const epochs$ = status$.pipe(
    scan((acc, status) => ({
      epoch: acc.epoch + ((acc.status?.runtimeStatus === 'Failed' && status?.runtimeStatus !== 'Failed') || (acc.status && !status) ? 1 : 0),
      status,
    }), { epoch: 0, status: undefined as InstanceStatus | undefined }),
    distinctUntilChanged((a, b) => a.epoch === b.epoch),
  );
  const events$ = epochs$.pipe(switchMap(({ status }) => concat(
    of<Item>({ kind: 'reset', status }),
    status ? client.history$(instanceId).pipe(map((event): Item => ({ kind: 'event', event }))) : EMPTY,
  )));
  const statuses$ = status$.pipe(mergeMap((status) => (status ? of<Item>({ kind: 'status', status }) : EMPTY)));
  return merge(events$, statuses$);
}

function renderEvent(event: HistoryEvent, index: number): HTMLLIElement {
  return h('li', { 'data-type': event.type },
    h('span', { class: 'event-index' }, String(index)),
    h('span', { class: 'event-type' }, event.type),
    h('time', { datetime: event.timestamp }, formatTime(new Date(event.timestamp))),
    h('span', { class: 'event-detail' }, detailOf(event)));
}

function detailOf(event: HistoryEvent): string {
  switch (event.type) {
    case 'ExecutionStarted': return `${event.name}(${argument(event.input)})`;
    case 'ExecutionCompleted':
      return event.orchestrationStatus === 'Failed' ? `Failed: ${event.failureDetails?.errorMessage ?? ''}` : `→ ${formatJson(event.result)}`;
    case 'ExecutionTerminated': return formatJson(event.reason);
    case 'ExecutionSuspended':
    case 'ExecutionResumed':
    case 'ExecutionRewound':
    case 'ExecutionCancelRequested': return event.reason ?? '';
    case 'ContinueAsNew': return formatJson(event.input);
    case 'TaskScheduled': return `#${event.eventId} ${event.name}(${argument(event.input)})`;
    case 'TaskCompleted': return `#${event.taskScheduledId} → ${formatJson(event.result)}`;
    case 'TaskFailed': return `#${event.taskScheduledId} ${event.failureDetails.errorType}: ${event.failureDetails.errorMessage}`;
    case 'TimerCreated': return `#${event.eventId} fires at ${formatTime(new Date(event.fireAt))}`;
    case 'TimerFired': return `#${event.timerId}`;
    case 'EventRaised': return `${event.name}: ${formatJson(event.input)}`;
    case 'SubOrchestrationInstanceCreated': return `#${event.eventId} ${event.name} ${event.instanceId}`;
    case 'SubOrchestrationInstanceCompleted': return `#${event.taskScheduledId} → ${formatJson(event.result)}`;
    case 'SubOrchestrationInstanceFailed': return `#${event.taskScheduledId} ${event.failureDetails.errorMessage}`;
    case 'OrchestratorStarted':
    case 'OrchestratorCompleted': return '';
  }
}

/** A call's input as it would be written in code: nothing when there is none, JSON otherwise. */
function argument(input: unknown): string {
  return input === undefined ? '' : JSON.stringify(input);
}
