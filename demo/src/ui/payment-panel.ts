import type { InstanceStatus } from '@durable-rx/runtime';
import { of, Subscription, switchMap } from 'rxjs';
import type { PaymentSwitchControl } from '../orchestrations/payment-switch.js';
import { formatJson, shortId, statusBadge, updateStatusBadge } from './format.js';
import { h, setText } from './h.js';
import { reportErrors, runCommand, setEnabled } from './notices.js';
import { newestIdOf, type Panel, type PanelContext } from './panel.js';

/**
 * The rewind sample: E3_PayForTicket fails while the payment service is down. Flip the switch, then rewind the
 * Failed instance (here or in the instance list): only the failed charge runs again.
 */
export function paymentPanel({ client, instances$, notices }: PanelContext, paymentSwitch: PaymentSwitchControl): Panel {
  const toggle = h('input', { type: 'checkbox', id: 'payment-up', role: 'switch' });
  const start = h('button', { type: 'button', class: 'primary', id: 'start-payment' }, 'Buy a ticket');
  const rewind = h('button', { type: 'button', id: 'rewind-payment', disabled: true }, 'Rewind');
  const instanceId = h('code', { id: 'payment-instance' }, '—');
  const badge = statusBadge('None');
  badge.id = 'payment-status';
  const detail = h('p', { id: 'payment-detail', role: 'status', 'aria-live': 'polite', class: 'live' }, 'No purchase yet.');

  const element = h('section', { class: 'card', 'aria-labelledby': 'payment-title', id: 'payment' },
    h('h2', { id: 'payment-title' }, 'Rewind a failure'),
    h('p', { class: 'hint' },
      'E3_PayForTicket reserves a seat, then charges the card. The charge fails while the payment service is down.'),
    h('div', { class: 'switch' }, toggle, h('label', { for: 'payment-up' }, 'Payment service is up')),
    h('div', { class: 'actions' }, start, rewind),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Instance'), h('dd', {}, instanceId),
      h('dt', {}, 'Status'), h('dd', {}, badge)),
    detail,
  );
  setEnabled(rewind, false);

  let current: string | undefined;
  toggle.addEventListener('change', () => {
    const up = toggle.checked;
    toggle.disabled = true;
    notices.clear();
    paymentSwitch.setUp(up).then(
      () => { toggle.disabled = false; },
      (error: unknown) => {
        toggle.checked = !up;
        toggle.disabled = false;
        notices.report(error);
      },
    );
  });
  start.addEventListener('click', () => void runCommand(start, notices, () => client.startNew('E3_PayForTicket', { input: 'Concert' })));
  rewind.addEventListener('click', () => {
    const id = current;
    if (id) void runCommand(rewind, notices, () => client.rewind(id, 'Payment service is back'));
  });

  const subscription = new Subscription();
  // The page's switch is known at once; a server's is disabled until it has answered (and stays so if it cannot).
  toggle.disabled = true;
  subscription.add(paymentSwitch.isUp$.subscribe({
    next: (up) => {
      toggle.checked = up;
      toggle.disabled = false;
    },
    error: (error: unknown) => notices.report(error),
  }));
  const id$ = newestIdOf(instances$, 'E3_PayForTicket');
  subscription.add(id$.pipe(switchMap((id) => (id ? client.status$(id) : of(undefined))), reportErrors(notices)).subscribe((status) => {
    current = status?.instanceId;
    setText(instanceId, status ? shortId(status.instanceId) : '—');
    instanceId.title = status?.instanceId ?? '';
    element.dataset['instanceId'] = status?.instanceId ?? '';
    updateStatusBadge(badge, status?.runtimeStatus ?? 'None');
    setEnabled(rewind, status?.runtimeStatus === 'Failed');
    setText(detail, describe(status));
  }));
  return { element, subscription };
}

function describe(status: InstanceStatus | undefined): string {
  if (!status) return 'No purchase yet.';
  const seat = seatOf(status.customStatus);
  switch (status.runtimeStatus) {
    case 'Failed': return `${status.failureDetails?.errorMessage ?? 'Failed'}. Turn the payment service on, then rewind.`;
    case 'Completed': return `${formatJson(status.output)}.`;
    case 'Terminated': return `Terminated: ${formatJson(status.output)}.`;
    case 'Suspended': return 'Suspended.';
    default: return seat ? `Seat reserved (${seat}); charging the card…` : 'Reserving a seat…';
  }
}

function seatOf(customStatus: unknown): string | undefined {
  if (typeof customStatus !== 'object' || customStatus === null || !('seat' in customStatus)) return undefined;
  return String(customStatus.seat);
}
