import { createRuntime, isDurableError, type DurableClient } from '@durable-rx/runtime';
import { createRemoteClient, type ConnectionState } from '@durable-rx/rx-client';
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
  /** Called with the panels' fieldset once they are mounted. */
  readonly onMounted?: (commands: HTMLFieldSetElement) => void;
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
  // The panels sit in one fieldset: disabling it disables every command while the server cannot be reached.
  const commands = document.createElement('fieldset');
  commands.className = 'commands';
  root.append(commands);
  mountApp(commands, { client, instances$, paymentSwitch: backend.paymentSwitch, names: Object.keys(demoOrchestrators) });
  backend.onMounted?.(commands);
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
    // Leases are not renewed: keep them a little longer than one activity, so that work a closed tab left half done
    // is taken over within seconds.
    activityLeaseMs: 5_000,
    orchestrationLeaseMs: 5_000,
    // A reloaded tab frees the leases its previous life held at once, instead of waiting for them to expire.
    leaseStorage: sessionStorage,
  });
  const role = startWorker(runtime, `${DATABASE_NAME}:worker`, store.capabilities.shared);
  role.working$.subscribe({
    next: (working) => {
      info.textContent = `Store: ${description}. ${working
        ? 'This tab runs the worker.'
        : "Waiting for another tab's lease: that tab runs the worker, this one watches and takes over when it closes."}`;
      document.body.dataset['worker'] = working ? 'working' : 'waiting';
    },
    error: (error: unknown) => showFatal(info, error, (error as { code?: unknown }).code === 'database-upgrading' ? 'The worker stopped' : 'The worker could not start'),
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
  const onMounted = (commands: HTMLFieldSetElement) => {
    client.connection$.subscribe((connection) => showConnection(info, commands, target, connection));
  };
  return { client, paymentSwitch: new ServerPaymentSwitch(target), onMounted };
}

/**
 * Tells the truth about the server connection: live, connecting, reconnecting (the server is gone; it is retried) or
 * failed (e.g. a wrong key). Commands are disabled unless the connection is live.
 */
function showConnection(info: HTMLElement, commands: HTMLFieldSetElement, target: RemoteTarget, connection: ConnectionState): void {
  document.body.dataset['connection'] = connection.state;
  commands.disabled = connection.state !== 'live' && connection.state !== 'idle';
  const problem = connection.state === 'failed' || connection.state === 'reconnecting';
  if (problem) info.setAttribute('role', 'alert');
  else info.removeAttribute('role');
  info.classList.toggle('error', problem);
  switch (connection.state) {
    case 'idle':
    case 'connecting':
      info.textContent = `Connecting to ${target.baseUrl}…`;
      return;
    case 'live':
      info.textContent = `Live: watching ${target.baseUrl} (push over Server-Sent Events)`;
      return;
    case 'reconnecting':
      info.textContent = `Reconnecting to ${target.baseUrl}…${connection.error ? ` (${describe(connection.error)})` : ''} — commands are disabled until the server answers.`;
      return;
    case 'failed':
      info.textContent = `Cannot watch ${target.baseUrl}: ${describe(connection.error)}. Check the server address and key.`;
      return;
  }
}

function describe(error: Error): string {
  return isDurableError(error) ? `${error.message} (${error.code}, ${error.status})` : error.message;
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
