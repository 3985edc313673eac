import type { ClockTimer } from './clock.js';

/**
 * Lets a process exit while a timer is pending, where the platform's timer handle supports it (Node, Deno); a no-op
 * for other handles (a browser's numbers, a `VirtualClock`'s ids).
 */
export function unref(timer: ClockTimer): void {
  const handle = timer as unknown as { unref?: () => void };
  if (typeof handle === 'object' && handle !== null && typeof handle.unref === 'function') handle.unref();
}
