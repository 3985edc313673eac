import { filter, firstValueFrom, throwError, timeout } from 'rxjs';
import type { DurableClient } from '../src/client/durable-client.js';
import { isTerminalStatus, type InstanceStatus } from '../src/model/instance-status.js';
import { SETTLED } from '../src/testing/settled.js';

/**
 * The first terminal status of instance `id`, by notification. Rejects when there is none within SETTLED of real time:
 * a test on a clock it moves by hand (or a virtual one) cannot use `waitForCompletion`, whose timeout runs on that clock.
 */
export function ending(client: DurableClient, id: string): Promise<InstanceStatus | undefined> {
  return firstValueFrom(client.status$(id).pipe(
    filter((s) => s !== undefined && isTerminalStatus(s.runtimeStatus)),
    timeout({ first: SETTLED.timeoutMs, with: () => throwError(() => new Error(`instance ${id} did not end within ${SETTLED.timeoutMs} ms`)) }),
  ));
}
