import { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { DEADLINE_FAILED, DeadlineList } from '../src/env/deadline-list.js';
import type { Logger } from '../src/env/logger.js';
import { LocalClient } from '../src/client/local-client.js';
import { MAX_TIMER_DELAY_MS } from '../src/env/clock.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { StatusChange } from '../src/store/store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { failPlatformTimers, HandClock, nextTurn, T0 } from './hand-clock.js';
import { within } from './within.js';

/** When a fresh VirtualClock starts. */
const T_VIRTUAL = new VirtualClock().now().getTime();

/** `add` of a fresh list on `clock`. */
function adder(clock: VirtualClock) {
  const list = new DeadlineList(clock, false);
  return (timeoutMs: number, onTimeout: () => void): (() => void) => list.add(timeoutMs, onTimeout);
}

/** A logger that keeps the error of each report a DeadlineList makes (each with DEADLINE_FAILED) in `reported`. */
function reporter(reported: unknown[]): Logger {
  return {
    warn: () => undefined,
    error: (message, error) => void reported.push(message === DEADLINE_FAILED ? error : new Error(`unexpected report: ${message}`)),
  };
}

/** A deadline list on `clock` (the platform's timer standing in) whose reports are collected in `reports`. */
function reportingList(clock: HandClock): { readonly list: DeadlineList; readonly reports: string[] } {
  const reports: string[] = [];
  return { list: new DeadlineList(clock, true, 'the clock', { warn: () => undefined, error: (message) => void reports.push(message) }), reports };
}

/** Moves `clock` to `ms` and fires what is due there: `call` rejects with `message`, its bound passed. */
async function expectEndedAt(clock: HandClock, ms: number, call: Promise<unknown>, message: string): Promise<void> {
  clock.ms = ms;
  clock.fireDue();
  await expect(call).rejects.toThrow(message);
}

/**
 * Fires what is due on `clock` at `ms` while neither the clock (refusing from then on) nor the platform can arm a
 * timer; `meanwhile` runs before the platform's timers come back.
 */
async function fireUnarmable(clock: HandClock, ms: number, meanwhile?: () => Promise<void>): Promise<void> {
  clock.refusing = true;
  const platform = failPlatformTimers();
  clock.ms = ms;
  try {
    clock.fireDue();
    if (meanwhile) await meanwhile();
  } finally {
    platform.restore();
  }
}

describe('DeadlineList', () => {
  it('bounds no call when its clock fails to set the timer: it throws with nothing sent, and the timer armed before still ends the others', async () => {
    const clock = new HandClock();
    const list = new DeadlineList(clock, false);
    const first = list.bound(() => new Promise<string>(() => {}), 1_000, 'first');
    clock.refusing = true;
    let sent = 0;
    expect(() => list.bound(() => (sent++, Promise.resolve('x')), 10, 'second')).toThrow('injected: no timer');
    expect(sent).toBe(0);
    clock.refusing = false;
    // The first call's timer was left armed: it ends the first call, and nothing else was linked to end.
    clock.ms += 1_000;
    clock.fireDue();
    await expect(first).rejects.toThrow('first did not settle within 1000 ms');
    const ended: string[] = [];
    list.add(5, () => ended.push('later'));
    list.endAll(() => new Error('stopped'));
    expect(ended).toEqual(['later']);
  });

  it('ends each deadline when its time passes, in time order, on one clock timer', async () => {
    const clock = new VirtualClock();
    const add = adder(clock);
    const ended: string[] = [];
    add(300, () => ended.push('c'));
    add(100, () => ended.push('a'));
    add(200, () => ended.push('b'));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(99);
    expect(ended).toEqual([]);
    await clock.advance(1);
    expect(ended).toEqual(['a']);
    await clock.advance(200);
    expect(ended).toEqual(['a', 'b', 'c']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('never ends a cancelled deadline, and holds no timer once every deadline is cancelled', async () => {
    const clock = new VirtualClock();
    const add = adder(clock);
    const ended: string[] = [];
    const cancelFirst = add(100, () => ended.push('first'));
    const cancelSecond = add(200, () => ended.push('second'));
    cancelFirst();
    await clock.advance(150);
    expect(ended).toEqual([]);
    cancelSecond();
    cancelSecond(); // twice: nothing more happens
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(1_000);
    expect(ended).toEqual([]);
  });

  it('arms no timer for an Infinity timeout, and waits out a delay beyond what setTimeout honours in steps', async () => {
    const clock = new VirtualClock();
    const add = adder(clock);
    let ended = false;
    add(Infinity, () => {
      ended = true;
    });
    expect(clock.pendingTimers).toBe(0);
    add(MAX_TIMER_DELAY_MS + 10, () => {
      ended = true;
    });
    await clock.advance(MAX_TIMER_DELAY_MS);
    expect(ended).toBe(false);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(10);
    expect(ended).toBe(true);
  });

  it('holds no timer once the finite deadlines are cancelled while an Infinity one is pending', async () => {
    const clock = new VirtualClock();
    const add = adder(clock);
    let ended = false;
    const cancelForever = add(Infinity, () => {
      ended = true;
    });
    const cancelHour = add(3_600_000, () => {
      ended = true;
    });
    expect(clock.pendingTimers).toBe(1);
    cancelHour();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(2 * MAX_TIMER_DELAY_MS);
    expect(ended).toBe(false);
    cancelForever();
    expect(clock.pendingTimers).toBe(0);
  });

  it('re-arms for an earlier deadline added after a later one', async () => {
    const clock = new VirtualClock();
    const add = adder(clock);
    const ended: string[] = [];
    add(1_000, () => ended.push('late'));
    add(10, () => ended.push('early'));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(10);
    expect(ended).toEqual(['early']);
    await clock.advance(990);
    expect(ended).toEqual(['early', 'late']);
  });

  it('ends a deadline that the callback of a passing one adds, and skips one that it cancels', async () => {
    const clock = new VirtualClock();
    const add = adder(clock);
    const ended: string[] = [];
    let cancelSecond: (() => void) | undefined;
    add(100, () => {
      ended.push('first');
      cancelSecond?.();
      add(50, () => ended.push('added'));
    });
    cancelSecond = add(100, () => ended.push('second'));
    await clock.advance(100);
    expect(ended).toEqual(['first']);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(50);
    expect(ended).toEqual(['first', 'added']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('looks only at the due deadlines and the next one as its timer fires, however many are pending', async () => {
    const clock = new HandClock();
    const list = new DeadlineList(clock, true);
    const pending = 10_000;
    // A worker's long activities: each keeps its renewal's deadline on the list, minutes ahead.
    for (let i = 0; i < pending; i++) list.add(60_000 + i, () => undefined);
    const never = () => new Promise<string>(() => {});
    const calls = [list.bound(never, 1_000, 'first'), list.bound(never, 1_000, 'second')];
    const before = list.inspected;
    clock.ms = T0 + 1_000;
    clock.fireDue();
    await expect(calls[0]).rejects.toThrow('first did not settle within 1000 ms');
    await expect(calls[1]).rejects.toThrow('second did not settle within 1000 ms');
    // O(log n) for each due one, nothing for the others; before, every firing walked all 10,002.
    expect(list.inspected - before).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(pending + 2)));
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 60_000]);
    list.endAll(() => new Error('stopped'));
  });

  it('ends every deadline at its time, earliest first, however they were added and cancelled', async () => {
    const clock = new VirtualClock();
    const list = new DeadlineList(clock, false);
    let seed = 7;
    const random = (below: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % below);
    const ended: { at: number; i: number }[] = [];
    const expected: { at: number; i: number }[] = [];
    const cancels: (() => void)[] = [];
    for (let i = 0; i < 2_000; i++) {
      const ms = 1 + random(500);
      cancels.push(list.add(ms, () => ended.push({ at: clock.now().getTime() - T_VIRTUAL, i })));
      expected.push({ at: ms, i });
    }
    const cancelled = new Set<number>();
    for (let k = 0; k < 1_000; k++) {
      const i = random(2_000);
      cancels[i]!();
      cancelled.add(i);
    }
    const live = expected.filter(({ i }) => !cancelled.has(i)).sort((a, b) => a.at - b.at || a.i - b.i);
    await clock.advance(500);
    expect(ended).toEqual(live);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ends the other passed deadlines and re-arms when a callback throws, and reports its error instead of throwing it into the timer', async () => {
    const clock = new HandClock();
    const reported: unknown[] = [];
    const list = new DeadlineList(clock, false, 'the clock', reporter(reported));
    const ended: string[] = [];
    list.add(100, () => {
      throw new Error('boom');
    });
    list.add(100, () => ended.push('second'));
    list.add(200, () => ended.push('later'));
    clock.ms = T0 + 100;
    // Thrown from the clock's timer callback, it was an uncaught exception on Node.
    expect(() => clock.fireDue()).not.toThrow();
    expect(reported).toEqual([new Error('boom')]);
    expect(ended).toEqual(['second']);
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 200]);
    // endAll reports one too, and ends the rest (a stop that calls it goes on).
    list.add(50, () => {
      throw new Error('at the end');
    });
    expect(() => list.endAll(() => new Error('stopped'))).not.toThrow();
    expect(reported).toEqual([new Error('boom'), new Error('at the end')]);
    expect(ended).toEqual(['second', 'later']);
  });

  it('ends the other passed deadlines when its logger throws or rejects as a callback\'s error is reported', async () => {
    const clock = new HandClock();
    const reports: string[] = [];
    const logger: Logger = {
      warn: () => undefined,
      error: (message) => {
        reports.push(message);
        if (reports.length === 1) throw new Error('the logger failed');
        return Promise.reject(new Error('the logger failed later')) as unknown as void;
      },
    };
    const list = new DeadlineList(clock, false, 'the clock', logger);
    const ended: string[] = [];
    for (const name of ['first', 'second']) {
      list.add(100, () => {
        ended.push(name);
        throw new Error(`${name} failed`);
      });
    }
    list.add(100, () => ended.push('third'));
    clock.ms = T0 + 100;
    expect(() => clock.fireDue()).not.toThrow();
    expect(ended).toEqual(['first', 'second', 'third']);
    expect(reports).toEqual([DEADLINE_FAILED, DEADLINE_FAILED]);
    await new Promise((resolve) => setTimeout(resolve, 0)); // the rejection is handled: no unhandled rejection
  });

  it('ends what was due by the time the timer was armed for when its clock throws as the timer fires, and reports it', async () => {
    const clock = new HandClock();
    const reported: unknown[] = [];
    const list = new DeadlineList(clock, false, 'the clock', reporter(reported));
    const call = list.bound(() => new Promise<string>(() => {}), 100, 'due call');
    const later = list.bound(() => new Promise<string>(() => {}), 200, 'later call');
    clock.ms = T0 + 100;
    const now = clock.now.bind(clock);
    clock.now = () => {
      throw new Error('injected: no time');
    };
    // Before, the error was thrown into the clock's timer callback (uncaught on Node), nothing ended and no timer was
    // armed again: both calls stayed pending for good.
    expect(() => clock.fireDue()).not.toThrow();
    await expect(call).rejects.toThrow('due call did not settle within 100 ms');
    expect(reported).toEqual([new Error('injected: no time')]);
    clock.now = now;
    await expectEndedAt(clock, T0 + 200, later, 'later call did not settle within 200 ms');
  });

  it('ends the passed deadlines when its clock fails to arm the timer for the next one, and reports that error', async () => {
    const clock = new HandClock();
    const reported: unknown[] = [];
    const list = new DeadlineList(clock, false, 'the clock', reporter(reported));
    const ended: string[] = [];
    list.add(100, () => ended.push('due'));
    const call = list.bound(() => new Promise<string>(() => {}), 100, 'due call');
    list.add(200, () => ended.push('later'));
    clock.ms = T0 + 100;
    clock.refusing = true;
    // Before, the timer for the later deadline was armed first: its error left the passed ones waiting for ever.
    expect(() => clock.fireDue()).not.toThrow();
    expect(reported).toEqual([new Error('injected: no timer')]);
    expect(ended).toEqual(['due']);
    await expect(call).rejects.toThrow('due call did not settle within 100 ms');
    clock.refusing = false;
    // The later one is still pending: ended by endAll (or by the platform's timer set in the clock's place).
    list.endAll(() => new Error('stopped'));
    expect(ended).toEqual(['due', 'later']);
  });

  it('ends a call left pending when its clock fails to arm the timer for it, on the platform\'s timer, and asks the clock again after', async () => {
    const clock = new HandClock();
    const reported: unknown[] = [];
    const list = new DeadlineList(clock, true, 'the clock', reporter(reported));
    const ended: string[] = [];
    list.add(100, () => ended.push('due'));
    const later = list.bound(() => new Promise<string>(() => {}), 150, 'later call');
    clock.refusing = true;
    clock.ms = T0 + 100;
    clock.fireDue();
    expect(ended).toEqual(['due']);
    expect(reported).toEqual([new Error('injected: no timer')]);
    // The later call's bound passes on the clock; nothing else is linked, nothing stops the list. Before, no timer was
    // armed for it: the call (a worker's store call) stayed pending for ever.
    clock.ms = T0 + 150;
    await expect(within(later, 'the later call ending')).rejects.toThrow('later call did not settle within 150 ms');
    // A clock that arms again is used again.
    clock.refusing = false;
    const next = list.bound(() => new Promise<string>(() => {}), 100, 'next call');
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 250]);
    await expectEndedAt(clock, T0 + 250, next, 'next call did not settle within 100 ms');
  });

  it('arms the timer again at its next turn when neither its clock nor the platform could as deadlines ended, and logs it', async () => {
    const clock = new HandClock();
    const { list, reports } = reportingList(clock);
    const ended: string[] = [];
    list.add(100, () => ended.push('due'));
    const later = list.bound(() => new Promise<string>(() => {}), 150, 'later call');
    await fireUnarmable(clock, T0 + 100);
    expect(ended).toEqual(['due']);
    expect(reports).toEqual([`${DEADLINE_FAILED}: none is armed; it is tried again at the next turn`]);
    // The timers work again a moment later. Before, none was armed for the later call (a worker's store call): it
    // stayed pending until another call armed one, or the stop.
    clock.refusing = false;
    await nextTurn();
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 150]);
    await expectEndedAt(clock, T0 + 150, later, 'later call did not settle within 150 ms');
  });

  it('keeps its try for the pending deadlines when a call made before it comes cannot arm the timer', async () => {
    const clock = new HandClock();
    const { list, reports } = reportingList(clock);
    list.add(100, () => undefined);
    const later = list.bound(() => new Promise<string>(() => {}), 150, 'later call');
    let sent = 0;
    await fireUnarmable(clock, T0 + 100, async () => {
      // Earlier than the try's deadline: it arms the clock itself, which throws, with nothing sent or linked.
      expect(() => list.bound(() => (sent++, Promise.resolve('x')), 5, 'early call')).toThrow('injected: no timer');
    });
    expect(sent).toBe(0);
    expect(reports).toEqual([`${DEADLINE_FAILED}: none is armed; it is tried again at the next turn`]);
    // The timers work again at the next turn. Before, the failed call had cancelled the try while the list still held
    // the timer armed for the later call: none was, and it stayed pending until the stop.
    clock.refusing = false;
    await nextTurn();
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 150]);
    await expectEndedAt(clock, T0 + 150, later, 'later call did not settle within 150 ms');
  });

  it('tries 3 times in a row at most when the timers keep failing, reported as it begins and as it ends, then arms for its earliest deadline with the next call', async () => {
    const clock = new HandClock();
    const { list, reports } = reportingList(clock);
    list.add(100, () => undefined);
    const later = list.bound(() => new Promise<string>(() => {}), 150, 'later call');
    await fireUnarmable(clock, T0 + 100, async () => {
      for (let turn = 0; turn < 6; turn++) await nextTurn();
    });
    expect(clock.refused).toBe(4); // the firing's, then 3 more
    // Before, each try was reported: 4 lines for one failure.
    expect(reports.map((report) => report.slice(DEADLINE_FAILED.length))).toEqual([
      ': none is armed; it is tried again at the next turn', ': none is armed; the next call or wait arms it',
    ]);
    // A call made then arms the timer for the earliest deadline pending (the later call's), not for its own.
    clock.refusing = false;
    const next = list.bound(() => new Promise<string>(() => {}), 1_000, 'next call');
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 150]);
    await expectEndedAt(clock, T0 + 150, later, 'later call did not settle within 150 ms');
    list.endAll(() => new Error('stopped'));
    await expect(next).rejects.toThrow('stopped');
  });

  it('ends a call at its bound when a wait that passed adds a later deadline and the clock then fails to arm timers', async () => {
    const clock = new HandClock();
    const reported: unknown[] = [];
    const list = new DeadlineList(clock, false, 'the clock', reporter(reported));
    const ended: string[] = [];
    list.add(100, () => {
      // Armed on the clock, which still works, for the earliest deadline pending (the call's), not for its own; then
      // the clock fails. (Armed for its own, the call waited for it, 24.8 days, or for a platform's timer set in its
      // place once the clock failed.)
      list.add(MAX_TIMER_DELAY_MS, () => ended.push('much later'));
      clock.setTimeout = () => {
        throw new Error('injected: no timer');
      };
    });
    const call = list.bound(() => new Promise<string>(() => {}), 150, 'next call');
    clock.ms = T0 + 100;
    clock.fireDue();
    expect(reported).toEqual([]);
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 150]);
    await expectEndedAt(clock, T0 + 150, call, 'next call did not settle within 150 ms');
    expect(reported).toEqual([new Error('injected: no timer')]); // re-armed for the wait left, on the platform's timer
    list.endAll(() => new Error('stopped'));
    expect(ended).toEqual(['much later']);
  });

  it('settles a call when its clock fails to clear the timer the call leaves, and reports that instead of throwing it', async () => {
    const clock = new HandClock();
    const reported: unknown[] = [];
    const list = new DeadlineList(clock, false, 'the clock', reporter(reported));
    clock.clearTimeout = () => {
      throw new Error('injected: no clear');
    };
    const call = list.bound(() => Promise.resolve('value'), 100, 'call');
    // Settled in the promise jobs after the call's: before, the clock's error was thrown out of the settling (an
    // unhandled rejection) and the call never settled.
    const outcome = await Promise.race([call, new Promise((resolve) => setTimeout(() => resolve('still pending'), 0))]);
    expect(outcome).toBe('value');
    expect(reported).toEqual([new Error('injected: no clear')]);
    // The timer the clock kept fires into nothing; a later call arms one of its own.
    const later = list.bound(() => new Promise<string>(() => {}), 100, 'later call');
    await expectEndedAt(clock, T0 + 100, later, 'later call did not settle within 100 ms');
  });

  it('bounds a call: its value or error before the deadline, an UnavailableError naming it after, a late value to `late`', async () => {
    const clock = new HandClock();
    const list = new DeadlineList(clock, false);
    expect(await list.bound(() => Promise.resolve('v'), 100, 'read')).toBe('v');
    await expect(list.bound(() => Promise.reject(new Error('no')), 100, 'read')).rejects.toThrow('no');
    expect(clock.timers.size).toBe(0);
    let answer: (value: string) => void = () => undefined;
    const late: string[] = [];
    const bounded = list.bound(() => new Promise<string>((resolve) => (answer = resolve)), 100, 'read', (value) => late.push(value));
    clock.ms = T0 + 100;
    clock.fireDue();
    await expect(bounded).rejects.toMatchObject({ code: 'unavailable', message: 'read did not settle within 100 ms' });
    expect(clock.timers.size).toBe(0);
    answer('after');
    await Promise.resolve();
    expect(late).toEqual(['after']);
  });

  it('bounds a call with `drop`: resolves with nothing when the call settles with a value, passes its error, ends it with an UnavailableError after the bound', async () => {
    const clock = new HandClock();
    const list = new DeadlineList(clock, false);
    expect(await list.bound(() => Promise.resolve('v'), 100, 'commit', undefined, undefined, true)).toBeUndefined();
    await expect(list.bound(() => Promise.reject(new Error('no')), 100, 'commit', undefined, undefined, true)).rejects.toThrow('no');
    expect(clock.timers.size).toBe(0);
    let answer: (value: string) => void = () => undefined;
    const late: unknown[] = [];
    const bounded = list.bound(() => new Promise<string>((resolve) => (answer = resolve)), 100, 'commit', (value) => late.push(value), undefined, true);
    clock.ms = T0 + 100;
    clock.fireDue();
    await expect(bounded).rejects.toMatchObject({ code: 'unavailable', message: 'commit did not settle within 100 ms' });
    expect(clock.timers.size).toBe(0);
    answer('after'); // a late answer goes to `late`, dropped like the value
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(late).toEqual([undefined]);
  });

  it('takes any thenable as a call', async () => {
    const clock = new HandClock();
    const list = new DeadlineList(clock, false);
    const thenable: PromiseLike<number> = { then: (onValue) => Promise.resolve(onValue?.(7)) as never };
    expect(await list.bound(() => thenable, 100, 'read')).toBe(7);
    expect(clock.timers.size).toBe(0);
  });

  it('lingers: leaves the timer armed once no call is pending, and lets it go when it fires with nothing pending', async () => {
    const clock = new HandClock();
    const list = new DeadlineList(clock, true);
    await list.bound(() => Promise.resolve(1), 100, 'read');
    await list.bound(() => Promise.resolve(2), 150, 'read');
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 100]);
    clock.ms = T0 + 100;
    clock.fireDue();
    expect(clock.timers.size).toBe(0);
  });

  it('endAll ends every pending call with its own error', async () => {
    const clock = new HandClock();
    const list = new DeadlineList(clock, false);
    const never = new Promise<never>(() => undefined);
    const calls = [list.bound(() => never, 100, 'a'), list.bound(() => never, Infinity, 'b')];
    list.endAll(() => new Error('closed'));
    const errors = await Promise.all(calls.map((call) => call.catch((error: unknown) => error)));
    expect(errors.map((error) => (error as Error).message)).toEqual(['closed', 'closed']);
    expect(errors[0]).not.toBe(errors[1]);
    expect(clock.timers.size).toBe(0);
  });
});

describe('waitForCompletion timeouts', () => {
  it('share one timer between concurrent waits, each resolving at its own timeout, and leave none behind', async () => {
    const store = new MemoryStore();
    const clock = new VirtualClock();
    const client = createClient({ store, clock }); // no worker: the instances stay Pending
    try {
      const ids = await Promise.all([client.startNew('Anything'), client.startNew('Anything'), client.startNew('Anything')]);
      const settled: string[] = [];
      const waits = ids.map((id, i) => client.waitForCompletion(id, { timeoutMs: 1_000 * (i + 1) }).then((status) => {
        settled.push(status.instanceId);
        return status;
      }));
      await clock.waitForTimer();
      expect(clock.pendingTimers).toBe(1);
      await clock.advance(1_000);
      expect(settled).toEqual([ids[0]]);
      await clock.advance(2_000);
      expect(settled).toEqual(ids);
      for (const status of await Promise.all(waits)) expect(status.runtimeStatus).toBe('Pending');
      expect(clock.pendingTimers).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('let go of the store\u2019s change feed as they end: by timeout, by unsubscribing, or when the client closes', async () => {
    const store = new CountedFeed();
    const clock = new VirtualClock();
    const client = new LocalClient({ store, clock, storeCallTimeoutMs: Infinity }); // no worker: the instances stay Pending
    try {
      const [a, b] = await Promise.all([client.startNew('Anything'), client.startNew('Anything')]);
      const first = client.waitForCompletion(a, { timeoutMs: 1_000 });
      const second = client.waitForCompletion(b, { timeoutMs: 2_000 });
      await clock.waitForTimer();
      expect(store.subscribers).toBe(1); // the waits share one subscription
      const watching = client.status$(a).subscribe();
      expect(store.subscribers).toBe(1);
      await clock.advance(1_000);
      expect((await first).runtimeStatus).toBe('Pending');
      watching.unsubscribe();
      expect(store.subscribers).toBe(1); // the second wait still holds it
      await clock.advance(1_000);
      expect((await second).runtimeStatus).toBe('Pending');
      expect(store.subscribers).toBe(0);
      const third = client.waitForCompletion(a, { timeoutMs: 60_000 }).then((status) => status, (error: unknown) => error);
      expect(store.subscribers).toBe(1);
      client.close();
      expect(await third).toMatchObject({ code: 'store-closed' }); // not its Pending status
      expect(store.subscribers).toBe(0);
      expect(clock.pendingTimers).toBe(0);
    } finally {
      await store.close();
    }
  });
});

/** A MemoryStore that counts the subscriptions open on its change feed. */
class CountedFeed extends MemoryStore {
  subscribers = 0;

  constructor() {
    super();
    const feed = this.changes$;
    Object.defineProperty(this, 'changes$', {
      value: new Observable<StatusChange>((subscriber) => {
        this.subscribers++;
        const subscription = feed.subscribe(subscriber);
        return () => {
          this.subscribers--;
          subscription.unsubscribe();
        };
      }),
    });
  }
}
