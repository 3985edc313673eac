import { combineLatest, of, switchMap } from 'rxjs';
import { formatJson, shortId, statusBadge, updateStatusBadge } from './format.js';
import { h, setText } from './h.js';
import { reportErrors, runCommand } from './notices.js';
import { newestIdOf, type Panel, type PanelContext } from './panel.js';

const CITIES = ['Tokyo', 'Seattle', 'London'] as const;

/**
 * The hello sequence: a start button, and progress driven by `customStatus$` of the newest E1_HelloSequence
 * instance. Every tab shows the same instance, so progress is live in all of them and survives reloads.
 */
export function helloPanel({ client, instances$, notices }: PanelContext): Panel {
  const start = h('button', { type: 'button', class: 'primary', id: 'start-hello' }, 'Start hello sequence');
  const instanceId = h('code', { id: 'hello-instance' }, '—');
  const badge = statusBadge('None');
  badge.id = 'hello-status';
  const customStatus = h('output', { id: 'hello-custom-status' }, '—');
  const progress = h('progress', { id: 'hello-progress', max: CITIES.length, value: 0 });
  const stepStates = CITIES.map(() => h('span', { class: 'visually-hidden' }, ': not yet'));
  const steps = CITIES.map((city, i) => h('li', { 'data-city': city, 'data-state': 'todo' }, city, stepStates[i]));
  const live = h('p', { id: 'hello-live', role: 'status', 'aria-live': 'polite', class: 'live' }, 'Not started yet.');
  const output = h('ul', { id: 'hello-output', class: 'output', 'aria-label': 'Output' });

  const element = h('section', { class: 'card', 'aria-labelledby': 'hello-title', id: 'hello' },
    h('h2', { id: 'hello-title' }, 'Hello sequence'),
    h('p', { class: 'hint' },
      'Three activities of 1.5 s each. Reload the page or open a second tab while it runs: it carries on where it was.'),
    start,
    h('dl', { class: 'facts' },
      h('dt', {}, 'Instance'), h('dd', {}, instanceId),
      h('dt', {}, 'Status'), h('dd', {}, badge),
      h('dt', {}, 'Custom status'), h('dd', {}, customStatus)),
    h('label', { for: 'hello-progress' }, 'Progress'),
    progress,
    h('ol', { class: 'steps', 'aria-label': 'Cities' }, ...steps),
    live,
    h('h3', {}, 'Output'),
    output,
  );

  start.addEventListener('click', () => void runCommand(start, notices, () => client.startNew('E1_HelloSequence')));

  // The instance id, its status and its custom status are shown together, so no value of one instance is ever shown
  // under the id of another.
  const subscription = newestIdOf(instances$, 'E1_HelloSequence').pipe(
    switchMap((id) => (id ? combineLatest([of(id), client.status$(id), client.customStatus$(id)]) : of([undefined, undefined, undefined] as const))),
    reportErrors(notices),
  ).subscribe(([id, status, value]) => {
    setText(instanceId, id ? shortId(id) : '—');
    instanceId.title = id ?? '';
    element.dataset['instanceId'] = id ?? '';
    const done = typeof value === 'string' ? CITIES.indexOf(value as (typeof CITIES)[number]) + 1 : 0;
    setText(customStatus, formatJson(value));
    progress.value = done;
    steps.forEach((step, i) => {
      step.dataset['state'] = i < done ? 'done' : 'todo';
      setText(stepStates[i]!, i < done ? ': greeted' : ': not yet');
    });
    updateStatusBadge(badge, status?.runtimeStatus ?? 'None');
    const lines = status?.runtimeStatus === 'Completed' && Array.isArray(status.output) ? status.output.map(String) : [];
    if (output.textContent !== lines.join('')) output.replaceChildren(...lines.map((line) => h('li', {}, line)));
    if (status?.runtimeStatus === 'Failed' || status?.runtimeStatus === 'Terminated') {
      setText(live, `${status.runtimeStatus}: ${formatJson(status.failureDetails?.errorMessage ?? status.output)}`);
    } else if (status?.runtimeStatus === 'Suspended') {
      setText(live, `Suspended after ${done} of ${CITIES.length} cities.`);
    } else {
      setText(live, done === 0 ? (id ? 'Saying hello to Tokyo…' : 'Not started yet.') : done < CITIES.length
        ? `Said hello to ${CITIES[done - 1]} (${done} of ${CITIES.length}).`
        : `Said hello to all ${CITIES.length} cities.`);
    }
  });
  return { element, subscription };
}
