import type { InstanceStatus, OrchestrationRuntimeStatus } from '@durable-rx/runtime';
import { setText } from './h.js';

/** JSON for display; `undefined` becomes an em dash. */
export function formatJson(value: unknown): string {
  if (value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Local time with seconds. */
export function formatTime(date: Date): string {
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The first block of a UUID, enough to tell instances apart on screen. */
export function shortId(instanceId: string): string {
  return instanceId.length > 13 ? `${instanceId.slice(0, 8)}…` : instanceId;
}

/** A status badge: the status as text (never colour alone), styled by `data-status`. */
export function statusBadge(status: OrchestrationRuntimeStatus | 'None'): HTMLSpanElement {
  const badge = document.createElement('span');
  updateStatusBadge(badge, status);
  return badge;
}

/** Updates a badge made by {@link statusBadge}. */
export function updateStatusBadge(badge: HTMLElement, status: OrchestrationRuntimeStatus | 'None'): void {
  badge.className = 'badge';
  badge.dataset['status'] = status;
  setText(badge, status === 'None' ? 'Not started' : status);
}

/** The newest instance with the given orchestrator name, or `undefined`. */
export function newestNamed(instances: readonly InstanceStatus[], name: string): InstanceStatus | undefined {
  let newest: InstanceStatus | undefined;
  for (const s of instances) {
    if (s.name === name && (!newest || s.createdTime.getTime() >= newest.createdTime.getTime())) newest = s;
  }
  return newest;
}
