import type { InstanceStatus } from '@durable-rx/runtime';
import { lastValueFrom, of, takeWhile, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRemoteClient, progressFrom, untilTerminal } from '../src/index.js';
import { KEY, openHarness, type Harness } from './harness.js';

const status = (runtimeStatus: InstanceStatus['runtimeStatus'], customStatus?: unknown): InstanceStatus => ({
  instanceId: 'i', name: 'n', runtimeStatus, createdTime: new Date(0), lastUpdatedTime: new Date(0),
  ...(customStatus === undefined ? {} : { customStatus }),
});

describe('untilTerminal', () => {
  it('completes after the first terminal status, emitting it', async () => {
    const source = of(undefined, status('Pending'), status('Running'), status('Failed'), status('Running'));
    const seen = await lastValueFrom(source.pipe(untilTerminal(), toArray()));
    expect(seen.map((s) => s?.runtimeStatus)).toEqual([undefined, 'Pending', 'Running', 'Failed']);
  });

  it('keeps going through Suspended and ContinuedAsNew', async () => {
    const source = of(status('Suspended'), status('ContinuedAsNew'), status('Terminated'));
    expect((await lastValueFrom(source.pipe(untilTerminal(), toArray()))).map((s) => s.runtimeStatus))
      .toEqual(['Suspended', 'ContinuedAsNew', 'Terminated']);
  });
});

describe('progressFrom', () => {
  it('maps custom status values to progress through the known steps', async () => {
    const progress = await lastValueFrom(of(undefined, 'Tokyo', 'Seattle', 'London').pipe(progressFrom(['Tokyo', 'Seattle', 'London']), toArray()));
    expect(progress).toEqual([
      { completed: 0, total: 3, fraction: 0, current: undefined },
      { completed: 1, total: 3, fraction: 1 / 3, current: 'Tokyo' },
      { completed: 2, total: 3, fraction: 2 / 3, current: 'Seattle' },
      { completed: 3, total: 3, fraction: 1, current: 'London' },
    ]);
  });

  it('matches objects as JSON and ignores values that are not steps', async () => {
    const steps = [{ stage: 'a' }, { stage: 'b' }];
    const progress = await lastValueFrom(of({ stage: 'a' }, 'noise', { stage: 'a' }, { stage: 'b' }).pipe(progressFrom(steps), toArray()));
    expect(progress.map((p) => p.completed)).toEqual([1, 2]);
  });
});

describe('operators on a remote client', () => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await openHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  it('shows the hello sequence as progress and completes with the final status', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    await client.startNew('E1_HelloSequence', { instanceId: 'bar' });
    const final = await lastValueFrom(client.status$('bar').pipe(untilTerminal()));
    expect(final?.runtimeStatus).toBe('Completed');
    const progress = await lastValueFrom(client.customStatus$('bar').pipe(progressFrom(['Tokyo', 'Seattle', 'London']), takeWhile((p) => p.fraction < 1, true), toArray()));
    expect(progress.at(-1)).toEqual({ completed: 3, total: 3, fraction: 1, current: 'London' });
  });
});
