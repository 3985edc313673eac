import type { InstanceStatus, Orchestrator } from '@durable-rx/runtime';
import { filter, firstValueFrom, type Observable } from 'rxjs';

/** An app whose instance waits for an event `go`, then greets its data in an activity: it stays Running until told. */
export const orchestrators: Record<string, Orchestrator> = {
  Greet: function* (ctx) {
    const name = (yield ctx.waitForExternalEvent('go')) as string;
    return yield ctx.callActivity('Hello', name);
  },
};
export const activities = { Hello: (name: string) => `Hello ${name}!` };

/** Resolves once `status$` shows the instance Running. */
export function runningOf(status$: Observable<InstanceStatus | undefined>): Promise<unknown> {
  return firstValueFrom(status$.pipe(filter((s) => s?.runtimeStatus === 'Running')));
}
