import { createRuntime } from '@durable-rx/runtime';
import { shareReplay } from 'rxjs';
import { mountApp } from './app/mount-app.js';
import { DATABASE_NAME, openStore } from './app/open-store.js';
import { startWorker } from './app/start-worker.js';
import { createDemoActivities } from './orchestrations/demo-activities.js';
import { demoOrchestrators } from './orchestrations/demo-orchestrators.js';
import { PaymentSwitch } from './orchestrations/payment-switch.js';
import './styles.css';

/** How long each activity takes, so progress can be watched. */
const ACTIVITY_DELAY_MS = 1500;

function main(): void {
  const info = document.getElementById('store-info')!;
  const root = document.getElementById('main')!;
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
    error: (error: unknown) => showFatal(info, error),
  });
  addEventListener('pagehide', () => void role.release());
  // A page restored from the back/forward cache has given up its worker: start afresh.
  addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload();
  });

  const client = runtime.client;
  const instances$ = client.instances$({ showInput: false }).pipe(shareReplay({ bufferSize: 1, refCount: true }));
  mountApp(root, { client, instances$, paymentSwitch, names: Object.keys(demoOrchestrators) });
  document.body.dataset['ready'] = 'true';
}

function showFatal(info: HTMLElement, error: unknown): void {
  info.textContent = `The worker could not start: ${error instanceof Error ? error.message : String(error)}`;
  info.setAttribute('role', 'alert');
}

main();
