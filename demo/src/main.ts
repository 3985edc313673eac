import { createRuntime, type DurableClient } from '@durable-rx/runtime';
import { createRemoteClient } from '@durable-rx/rx-client';
import { shareReplay } from 'rxjs';
import { mountApp } from './app/mount-app.js';
import { DATABASE_NAME, openStore } from './app/open-store.js';
import { remoteTargetOf, type RemoteTarget } from './app/remote-target.js';
import { ServerPaymentSwitch } from './app/server-payment-switch.js';
import { startWorker } from './app/start-worker.js';
import { ACTIVITY_DELAY_MS, createDemoActivities } from './orchestrations/demo-activities.js';
import { demoOrchestrators } from './orchestrations/demo-orchestrators.js';
import { PaymentSwitch, type PaymentSwitchControl } from './orchestrations/payment-switch.js';
import './styles.css';

/** What the panels work with: the page's own runtime, or a server's. */
interface Backend {
  readonly client: DurableClient;
  readonly paymentSwitch: PaymentSwitchControl;
}

function main(): void {
  const info = document.getElementById('store-info')!;
  const root = document.getElementById('main')!;
  let target: RemoteTarget | undefined;
  try {
    target = remoteTargetOf(location.search);
  } catch (error) {
    showFatal(info, error);
    fillServerForm(undefined);
    return;
  }
  fillServerForm(target);
  const backend = target ? watchServer(info, target) : runInPage(info);
  document.body.dataset['mode'] = target ? 'remote' : 'local';

  const client = backend.client;
  const instances$ = client.instances$({ showInput: false }).pipe(shareReplay({ bufferSize: 1, refCount: true }));
  mountApp(root, { client, instances$, paymentSwitch: backend.paymentSwitch, names: Object.keys(demoOrchestrators) });
  document.body.dataset['ready'] = 'true';
}

/** Local mode: the runtime runs in the page, on IndexedDB, with one tab of the origin working at a time. */
function runInPage(info: HTMLElement): Backend {
  const { store, description } = openStore();
  const paymentSwitch = new PaymentSwitch();
  const runtime = createRuntime({
    store,
    orchestrators: demoOrchestrators,
    activities: createDemoActivities({ delayMs: ACTIVITY_DELAY_MS, paymentSwitch }),
    // Leases are not renewed: keep them a little longer than one activity, so that work a closed or reloaded tab
    // left half done is taken over within seconds.
    activityLeaseMs: 5_000,
    orchestrationLeaseMs: 5_000,
  });
  const role = startWorker(runtime, `${DATABASE_NAME}:worker`, store.capabilities.shared);
  role.working$.subscribe({
    next: (working) => {
      info.textContent = `Store: ${description}. ${working ? 'This tab runs the worker.' : 'Another tab runs the worker; this one watches.'}`;
    },
    error: (error: unknown) => showFatal(info, error, 'The worker could not start'),
  });
  addEventListener('pagehide', () => void role.release());
  // A page restored from the back/forward cache has given up its worker: start afresh.
  addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload();
  });
  return { client: runtime.client, paymentSwitch };
}

/**
 * Remote mode (`?server=<origin>&key=<key>`): no runtime and no worker in the page; the panels use the server's
 * HTTP API through `createRemoteClient`, commands over fetch and status pushed over Server-Sent Events. All the
 * page's observables share the remote client's one streaming connection.
 */
function watchServer(info: HTMLElement, target: RemoteTarget): Backend {
  const client = createRemoteClient({ baseUrl: target.baseUrl, ...(target.key === undefined ? {} : { key: target.key }) });
  info.textContent = `Watching a server: ${target.baseUrl} (push over Server-Sent Events)`;
  return { client, paymentSwitch: new ServerPaymentSwitch(target) };
}

/** The header's form that opens the page in remote mode (a plain GET form: it sets `?server=&key=`). */
function fillServerForm(target: RemoteTarget | undefined): void {
  const server = document.getElementById('server-url') as HTMLInputElement | null;
  const key = document.getElementById('server-key') as HTMLInputElement | null;
  const local = document.getElementById('run-in-page') as HTMLAnchorElement | null;
  const summary = document.querySelector('.server-settings summary');
  if (!server || !key || !local || !summary) return;
  local.href = location.pathname;
  local.hidden = !new URLSearchParams(location.search).has('server');
  if (!target) return;
  summary.textContent = 'Server settings';
  server.value = target.baseUrl;
  key.value = target.key ?? '';
}

function showFatal(info: HTMLElement, error: unknown, prefix?: string): void {
  const message = error instanceof Error ? error.message : String(error);
  info.textContent = prefix ? `${prefix}: ${message}` : message;
  info.setAttribute('role', 'alert');
}

main();
