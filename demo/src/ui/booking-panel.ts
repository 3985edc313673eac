import type { InstanceStatus } from '@durable-rx/runtime';
import { combineLatest, of, Subscription, switchMap } from 'rxjs';
import type { BookingOffer } from '../orchestrations/demo-orchestrators.js';
import { formatJson, shortId, statusBadge, updateStatusBadge } from './format.js';
import { h, setText } from './h.js';
import { reportErrors, runCommand, setEnabled } from './notices.js';
import { newestIdOf, type Panel, type PanelContext } from './panel.js';

/**
 * ReserveTicket: the discount arrives as custom status; "Confirm booking" raises `BookingConfirmed` with `true`,
 * "Decline" with `false`.
 */
export function bookingPanel({ client, instances$, notices }: PanelContext): Panel {
  const userId = h('input', { id: 'booking-user', name: 'user', value: 'user-42', autocomplete: 'off', required: true, maxlength: 64 });
  const reserve = h('button', { type: 'submit', class: 'primary', id: 'reserve-ticket' }, 'Reserve ticket');
  const form = h('form', { class: 'inline-form' },
    h('label', { for: 'booking-user' }, 'Customer'), userId, reserve);
  const instanceId = h('code', { id: 'booking-instance' }, '—');
  const badge = statusBadge('None');
  badge.id = 'booking-status';
  const offer = h('p', { id: 'booking-offer', role: 'status', 'aria-live': 'polite', class: 'live' }, 'No reservation yet.');
  const confirm = h('button', { type: 'button', class: 'primary', id: 'confirm-booking', disabled: true }, 'Confirm booking');
  const decline = h('button', { type: 'button', id: 'decline-booking', disabled: true }, 'Decline');
  const outcome = h('output', { id: 'booking-output' }, '—');

  const element = h('section', { class: 'card', 'aria-labelledby': 'booking-title', id: 'booking' },
    h('h2', { id: 'booking-title' }, 'Reserve a ticket'),
    h('p', { class: 'hint' }, 'The discount is pushed as custom status; the orchestration then waits for BookingConfirmed.'),
    form,
    h('dl', { class: 'facts' },
      h('dt', {}, 'Instance'), h('dd', {}, instanceId),
      h('dt', {}, 'Status'), h('dd', {}, badge),
      h('dt', {}, 'Output'), h('dd', {}, outcome)),
    offer,
    h('div', { class: 'actions' }, confirm, decline),
  );
  setEnabled(confirm, false);
  setEnabled(decline, false);

  let current: string | undefined;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void runCommand(reserve, notices, () => client.startNew('ReserveTicket', { input: userId.value.trim() || 'guest' }));
  });
  const answer = (button: HTMLButtonElement, value: boolean) => () => {
    const id = current;
    if (id) void runCommand(button, notices, () => client.raiseEvent(id, 'BookingConfirmed', value));
  };
  confirm.addEventListener('click', answer(confirm, true));
  decline.addEventListener('click', answer(decline, false));

  const subscription = new Subscription();
  const id$ = newestIdOf(instances$, 'ReserveTicket');
  subscription.add(id$.pipe(
    switchMap((id) => (id ? combineLatest([of(id), client.status$(id), client.customStatus$(id)]) : of([undefined, undefined, undefined] as const))),
    reportErrors(notices),
  ).subscribe(([id, status, custom]) => {
    current = id;
    setText(instanceId, id ? shortId(id) : '—');
    instanceId.title = id ?? '';
    element.dataset['instanceId'] = id ?? '';
    updateStatusBadge(badge, status?.runtimeStatus ?? 'None');
    setText(outcome, status?.runtimeStatus === 'Completed' ? (status.output === true ? 'Booked' : 'Not booked') : '—');
    const waiting = isOffer(custom) && isActive(status);
    setEnabled(confirm, waiting);
    setEnabled(decline, waiting);
    setText(offer, describe(status, custom));
  }));
  return { element, subscription };
}

function isOffer(value: unknown): value is BookingOffer {
  return typeof value === 'object' && value !== null && 'discount' in value;
}

function isActive(status: InstanceStatus | undefined): boolean {
  return status?.runtimeStatus === 'Running' || status?.runtimeStatus === 'Pending' || status?.runtimeStatus === 'Suspended';
}

function describe(status: InstanceStatus | undefined, custom: unknown): string {
  if (!status) return 'No reservation yet.';
  if (isOffer(custom)) {
    return isActive(status)
      ? `Your discount: ${custom.discount} %. Confirm within ${custom.discountTimeout} s.`
      : `Discount of ${custom.discount} % offered; the instance is ${status.runtimeStatus}.`;
  }
  if (typeof custom === 'object' && custom !== null && 'message' in custom) return formatJson(custom.message);
  if (status.runtimeStatus === 'Terminated' || status.runtimeStatus === 'Failed') return `The reservation is ${status.runtimeStatus}.`;
  return 'Calculating your discount…';
}
