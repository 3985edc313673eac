import type { DurableClient, InstanceStatus } from '@durable-rx/runtime';
import { distinctUntilChanged, map, type Observable, type Subscription } from 'rxjs';
import { newestNamed } from './format.js';
import type { Notices } from './notices.js';

/** What every panel gets. */
export interface PanelContext {
  readonly client: DurableClient;
  /** Every instance, live (one shared `instances$()` subscription). */
  readonly instances$: Observable<InstanceStatus[]>;
  readonly notices: Notices;
}

/** A mounted panel: its element and the subscription that keeps it live. */
export interface Panel {
  readonly element: HTMLElement;
  readonly subscription: Subscription;
}

/** The id of the newest instance of an orchestrator (the one a panel shows), as it changes. */
export function newestIdOf(instances$: Observable<InstanceStatus[]>, name: string): Observable<string | undefined> {
  return instances$.pipe(map((list) => newestNamed(list, name)?.instanceId), distinctUntilChanged());
}
