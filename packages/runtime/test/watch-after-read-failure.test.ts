import { filter, firstValueFrom } from 'rxjs';
import { expect, it } from 'vitest';
import { isRetryableError } from '../src/client-kit/index.js';
import { createClient, UnavailableError } from '../src/index.js';
import { FailingStore } from './failing-store.js';
import { HandClock } from './hand-clock.js';
import { within } from './within.js';

it('ends status$ with a retryable error when its first read fails, and a new subscription follows the instance', async () => {
  const store = new FailingStore();
  const client = createClient({ store, clock: new HandClock() });
  const id = await client.startNew('Echo');
  store.failNext('getInstance', 1, 'reject', () => new UnavailableError('the store cannot be read now'));
  const failed = await within(firstValueFrom(client.status$(id)).then(() => 'a value', (error: unknown) => error), 'status$ failing');
  expect(failed).toMatchObject({ code: 'unavailable', status: 503 });
  // The app's cue to subscribe again (what rx-client's React hooks do by themselves); nothing of the first is held.
  expect(isRetryableError(failed)).toBe(true);
  expect(store.changeSubscribers).toBe(0);
  const statuses = client.status$(id);
  expect(await within(firstValueFrom(statuses), 'the current status')).toMatchObject({ instanceId: id, runtimeStatus: 'Pending' });
  const terminated = firstValueFrom(statuses.pipe(filter((status) => status?.runtimeStatus === 'Terminated')));
  await client.terminate(id, 'done');
  expect(await within(terminated, 'the terminated status')).toMatchObject({ output: 'done' });
  await store.close();
});
