import type { Runtime } from '../src/runtime/create-runtime.js';
import type { VirtualClock } from '../src/testing/virtual-clock.js';

/**
 * The status of `id`, with its history, once it has left Pending and Running: `clock` is moved on a second at a time
 * (each timer fired in order, the work it starts let run), at most `max` seconds.
 */
export async function untilEnded(runtime: Runtime, clock: VirtualClock, id: string, max = 120) {
  for (let s = 0; s < max; s++) {
    const status = await runtime.client.getStatus(id);
    if (status && status.runtimeStatus !== 'Pending' && status.runtimeStatus !== 'Running') break;
    await clock.advance(1000);
  }
  return runtime.client.getStatus(id, { showHistory: true });
}
