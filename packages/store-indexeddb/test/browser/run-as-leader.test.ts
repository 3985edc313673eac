import { firstValueFrom, filter } from 'rxjs';
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
