import { Subject, filter, firstValueFrom, lastValueFrom } from 'rxjs';
import { InvalidArgumentError } from '@durable-rx/runtime';
import { describe, expect, it } from 'vitest';
import { runAsLeader } from '../../src/run-as-leader.js';
import { uniqueName } from '../shared/fixtures.js';

describe('runAsLeader (Web Locks, one page)', () => {
  it('lets one candidate lead at a time and hands over when the leader releases', async () => {
    const lock = uniqueName('leader');
    const log: string[] = [];
    const first = runAsLeader(lock, () => void log.push('start 1'), () => void log.push('stop 1'));
    await firstValueFrom(first.isLeader$.pipe(filter(Boolean)));
    const second = runAsLeader(lock, () => void log.push('start 2'), () => void log.push('stop 2'));
    const held = await navigator.locks.query();
    expect(held.pending?.some((l) => l.name === lock)).toBe(true);
    expect(second.isLeader).toBe(false);
    await first.release();
    await firstValueFrom(second.isLeader$.pipe(filter(Boolean)));
    await second.release();
    expect(log).toEqual(['start 1', 'stop 1', 'start 2', 'stop 2']);
    expect((await navigator.locks.query()).held?.some((l) => l.name === lock)).toBe(false);
  });

  it('stops waiting when a candidate that never led is released', async () => {
    const lock = uniqueName('leader-wait');
    const leader = runAsLeader(lock, () => undefined, () => undefined);
    await firstValueFrom(leader.isLeader$.pipe(filter(Boolean)));
    let started = false;
    const waiting = runAsLeader(lock, () => void (started = true), () => undefined);
    await waiting.release();
    await leader.release();
    expect(started).toBe(false);
    expect((await navigator.locks.query()).pending?.some((l) => l.name === lock)).toBe(false);
  });

  it('leaves the election when its store fails for good: the leader stops and lets the lock go', async () => {
    const lock = uniqueName('leader-lost');
    const log: string[] = [];
    const workA = new Subject<void>();
    const leader = runAsLeader(lock, () => void log.push('start A'), () => void log.push('stop A'), { store: { workAvailable$: workA } });
    await firstValueFrom(leader.isLeader$.pipe(filter(Boolean)));
    // A candidate waiting behind it whose store fails too (another tab of the old version) stops waiting.
    const workW = new Subject<void>();
    const waiting = runAsLeader(lock, () => void log.push('start W'), () => void log.push('stop W'), { store: { workAvailable$: workW } });
    const lost = new Error('the database was upgraded');
    workW.error(lost);
    await expect(lastValueFrom(waiting.isLeader$)).rejects.toBe(lost);
    workA.error(lost);
    await expect(lastValueFrom(leader.isLeader$)).rejects.toBe(lost);
    expect(leader.isLeader).toBe(false);
    // The lock is free for the tab of the new version; releasing the lost ones later resolves.
    const next = runAsLeader(lock, () => void log.push('start B'), () => void log.push('stop B'));
    await firstValueFrom(next.isLeader$.pipe(filter(Boolean)));
    await leader.release();
    await waiting.release();
    await next.release();
    expect(log).toEqual(['start A', 'stop A', 'start B', 'stop B']);
  });

  it('leaves the election when its store closes', async () => {
    const lock = uniqueName('leader-closed');
    const work = new Subject<void>();
    const leader = runAsLeader(lock, () => undefined, () => undefined, { store: { workAvailable$: work } });
    await firstValueFrom(leader.isLeader$.pipe(filter(Boolean)));
    work.complete();
    expect(await lastValueFrom(leader.isLeader$)).toBe(false);
    const next = runAsLeader(lock, () => undefined, () => undefined);
    await firstValueFrom(next.isLeader$.pipe(filter(Boolean)));
    await next.release();
  });

  it('refuses bad arguments with InvalidArgumentError and takes no part in the election', async () => {
    const lock = uniqueName('leader-bad');
    let started = false;
    const start = () => void (started = true);
    const stop = () => undefined;
    // The runtime given where its store belongs (it has no workAvailable$): the lock was requested before the store
    // was read, so the call threw a TypeError and then led with no Leadership to release it.
    const runtimeLike = { store: { workAvailable$: new Subject<void>() } };
    expect(() => runAsLeader(lock, start, stop, { store: runtimeLike as never })).toThrow(InvalidArgumentError);
    expect(() => runAsLeader(lock, start, stop, { locks: {} as never })).toThrow(InvalidArgumentError);
    expect(() => runAsLeader(lock, 'start' as never, stop)).toThrow(InvalidArgumentError);
    expect(() => runAsLeader(lock, start, undefined as never)).toThrow(InvalidArgumentError);
    expect(() => runAsLeader(lock, start, stop, 'options' as never)).toThrow(InvalidArgumentError);
    // Web Locks reserves names that start with '-' (NotSupportedError on isLeader$ only once the request failed).
    expect(() => runAsLeader('-reserved', start, stop)).toThrow(InvalidArgumentError);
    expect(() => runAsLeader('', start, stop)).toThrow(InvalidArgumentError);
    // Nothing holds or waits for the lock: a request that takes it only if it is free gets it.
    expect(await navigator.locks.request(lock, { ifAvailable: true }, (held) => held !== null)).toBe(true);
    expect(started).toBe(false);
  });

  it('reports a failing start on isLeader$ and from release()', async () => {
    const lock = uniqueName('leader-fail');
    const failing = runAsLeader(lock, () => Promise.reject(new Error('cannot start')), () => undefined);
    await expect(firstValueFrom(failing.isLeader$.pipe(filter(Boolean)))).rejects.toThrow('cannot start');
    await expect(failing.release()).rejects.toThrow('cannot start');
    // The lock is free again for the next candidate.
    const next = runAsLeader(lock, () => undefined, () => undefined);
    await firstValueFrom(next.isLeader$.pipe(filter(Boolean)));
    await next.release();
  });
});
