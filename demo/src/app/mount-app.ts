import type { DurableClient, InstanceStatus } from '@durable-rx/runtime';
import { BehaviorSubject, Subscription, type Observable } from 'rxjs';
import type { PaymentSwitchControl } from '../orchestrations/payment-switch.js';
import { bookingPanel } from '../ui/booking-panel.js';
import { helloPanel } from '../ui/hello-panel.js';
import { historyPanel } from '../ui/history-panel.js';
import { instancesPanel } from '../ui/instances-panel.js';
import { createNotices } from '../ui/notices.js';
import type { PanelContext } from '../ui/panel.js';
import { paymentPanel } from '../ui/payment-panel.js';

/** What the page shows and works with. */
export interface AppOptions {
  readonly client: DurableClient;
  readonly instances$: Observable<InstanceStatus[]>;
  /** The page's payment switch, or the server's. */
  readonly paymentSwitch: PaymentSwitchControl;
  /** Orchestrator names, for the name filter. */
  readonly names: readonly string[];
}

/** Renders every panel into `root`; the returned subscription keeps them live. */
export function mountApp(root: HTMLElement, { client, instances$, paymentSwitch, names }: AppOptions): Subscription {
  const notices = createNotices();
  const context: PanelContext = { client, instances$, notices };
  const selected$ = new BehaviorSubject<string | undefined>(undefined);
  const history = historyPanel(client, notices, selected$, () => {
    selected$.next(undefined);
    document.getElementById('instances-title')?.focus();
  });
  const panels = [
    helloPanel(context),
    bookingPanel(context),
    paymentPanel(context, paymentSwitch),
    instancesPanel(context, names, (id) => {
      selected$.next(id);
      history.heading.focus();
    }),
    history,
  ];
  root.append(notices.element, ...panels.map((p) => p.element));
  const subscription = new Subscription();
  for (const panel of panels) subscription.add(panel.subscription);
  return subscription;
}
