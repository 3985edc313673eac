import { ALL_RUNTIME_STATUSES, type InstanceStatus, type OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import { BehaviorSubject, catchError, map, Subscription, switchMap, throwError } from 'rxjs';
import { formatJson, formatTime, shortId, statusBadge, updateStatusBadge } from './format.js';
import { h, setText } from './h.js';
import { reportErrors, runCommand } from './notices.js';
import type { Panel, PanelContext } from './panel.js';

/** The filters of the instance list. */
interface ListFilter {
  readonly status: OrchestrationRuntimeStatus | '';
  readonly name: string;
}

type Action = 'suspend' | 'resume' | 'terminate' | 'rewind' | 'purge' | 'history';

const ACTIONS: readonly { readonly action: Action; readonly label: string; readonly when: (s: OrchestrationRuntimeStatus) => boolean }[] = [
  { action: 'suspend', label: 'Suspend', when: (s) => s === 'Running' || s === 'Pending' },
  { action: 'resume', label: 'Resume', when: (s) => s === 'Suspended' },
  { action: 'terminate', label: 'Terminate', when: (s) => s === 'Running' || s === 'Pending' || s === 'Suspended' },
  { action: 'rewind', label: 'Rewind', when: (s) => s === 'Failed' },
  { action: 'purge', label: 'Purge', when: (s) => s === 'Completed' || s === 'Failed' || s === 'Terminated' },
  { action: 'history', label: 'History', when: () => true },
];

interface Row {
  readonly tr: HTMLTableRowElement;
  readonly badge: HTMLElement;
  readonly custom: HTMLElement;
  readonly updated: HTMLElement;
  readonly buttons: ReadonlyMap<Action, HTMLButtonElement>;
}

/**
 * Every instance from `instances$`, filtered by status (in the query) and name (in the page), with the management
 * commands each status allows. Rows are updated in place, so a focused button keeps its focus.
 */
export function instancesPanel(
  { client, notices }: PanelContext,
  names: readonly string[],
  showHistory: (instanceId: string) => void,
): Panel {
  const statusSelect = h('select', { id: 'filter-status', name: 'status' },
    h('option', { value: '' }, 'Any status'), ...ALL_RUNTIME_STATUSES.map((s) => h('option', { value: s }, s)));
  const nameSelect = h('select', { id: 'filter-name', name: 'name' },
    h('option', { value: '' }, 'Any orchestrator'), ...names.map((n) => h('option', { value: n }, n)));
  const count = h('p', { id: 'instance-count', role: 'status', 'aria-live': 'polite', class: 'live' }, 'Loading…');
  const body = h('tbody');
  const empty = h('tr', { class: 'empty' }, h('td', { colspan: 6 }, 'No instances match the filters.'));
  const table = h('table', { id: 'instances' },
    h('caption', { class: 'visually-hidden' }, 'Orchestration instances, newest first'),
    h('thead', {}, h('tr', {}, ...['Instance', 'Orchestrator', 'Status', 'Custom status', 'Updated', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
    body);

  const element = h('section', { class: 'card wide', 'aria-labelledby': 'instances-title', id: 'instance-list' },
    h('h2', { id: 'instances-title', tabindex: -1 }, 'Instances'),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter instances' },
      h('div', {}, h('label', { for: 'filter-status' }, 'Status'), statusSelect),
      h('div', {}, h('label', { for: 'filter-name' }, 'Orchestrator'), nameSelect)),
    count,
    h('div', { class: 'table-wrap' }, table),
  );

  const filter$ = new BehaviorSubject<ListFilter>({ status: '', name: '' });
  const onFilter = () => filter$.next({ status: statusSelect.value as ListFilter['status'], name: nameSelect.value });
  statusSelect.addEventListener('change', onFilter);
  nameSelect.addEventListener('change', onFilter);

  const rows = new Map<string, Row>();
  const act = (action: Action, status: InstanceStatus, button: HTMLButtonElement) => {
    const id = status.instanceId;
    if (action === 'history') return showHistory(id);
    void runCommand(button, notices, () => {
      switch (action) {
        case 'suspend': return client.suspend(id, 'Suspended from the demo');
        case 'resume': return client.resume(id, 'Resumed from the demo');
        case 'terminate': return client.terminate(id, 'Terminated from the demo');
        case 'rewind': return client.rewind(id, 'Rewound from the demo');
        case 'purge': return client.purgeInstanceHistory(id);
      }
    });
  };
  const createRow = (status: InstanceStatus): Row => {
    const badge = statusBadge(status.runtimeStatus);
    const custom = h('td', { 'data-label': 'Custom status', class: 'json' });
    const updated = h('td', { 'data-label': 'Updated' });
    const buttons = new Map<Action, HTMLButtonElement>();
    const who = `${status.name} ${shortId(status.instanceId)}`;
    for (const { action, label } of ACTIONS) {
      const button = h('button', { type: 'button', class: 'small', 'data-action': action, 'aria-label': `${label} ${who}` }, label);
      button.addEventListener('click', () => act(action, current.get(status.instanceId) ?? status, button));
      buttons.set(action, button);
    }
    const tr = h('tr', { 'data-instance-id': status.instanceId, 'data-name': status.name },
      h('th', { scope: 'row', 'data-label': 'Instance' }, h('code', { title: status.instanceId }, shortId(status.instanceId))),
      h('td', { 'data-label': 'Orchestrator' }, status.name),
      h('td', { 'data-label': 'Status' }, badge),
      custom,
      updated,
      h('td', { 'data-label': 'Actions' }, h('div', { class: 'row-actions' }, ...buttons.values())));
    return { tr, badge, custom, updated, buttons };
  };
  const current = new Map<string, InstanceStatus>();

  const subscription = new Subscription();
  subscription.add(filter$.pipe(
    switchMap((f) => client.instances$(f.status ? { runtimeStatus: [f.status], showInput: false } : { showInput: false }).pipe(
      map((list) => list.filter((s) => !f.name || s.name === f.name).reverse()),
    )),
    catchError((error: unknown) => {
      count.textContent = 'The list is not available (see the message above).';
      return throwError(() => error);
    }),
    reportErrors(notices),
  ).subscribe((list) => {
    current.clear();
    for (const s of list) current.set(s.instanceId, s);
    for (const [id, row] of rows) {
      if (!current.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    list.forEach((status, index) => {
      let row = rows.get(status.instanceId);
      if (!row) {
        row = createRow(status);
        rows.set(status.instanceId, row);
      }
      updateStatusBadge(row.badge, status.runtimeStatus);
      setText(row.custom, formatJson(status.customStatus));
      setText(row.updated, formatTime(status.lastUpdatedTime));
      row.updated.title = status.lastUpdatedTime.toISOString();
      for (const { action, when } of ACTIONS) row.buttons.get(action)!.hidden = !when(status.runtimeStatus);
      if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] ?? null);
    });
    if (list.length === 0) body.replaceChildren(empty);
    else empty.remove();
    setText(count, `${list.length} ${list.length === 1 ? 'instance' : 'instances'}`);
  }));
  return { element, subscription };
}
