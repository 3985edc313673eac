import { describe, expect, it } from 'vitest';
import { AtomicTask } from '../src/engine/atomic-task.js';
import { Task } from '../src/engine/task.js';
import type { DurableTask, TaskParent } from '../src/engine/durable-task.js';

/** A parent that records which children told it they settled. */
function parent(): TaskParent & { heard: DurableTask[] } {
  const heard: DurableTask[] = [];
  return { heard, onChildSettled: (child) => heard.push(child) };
}

describe('DurableTask (what an orchestrator yields)', () => {
  it('reads pending, then completed with its result, or failed with its error', () => {
    const done = new AtomicTask<string>('activity', 'A', 0);
    expect([done.isSettled, done.isCompleted, done.isFaulted, done.result, done.error]).toEqual([false, false, false, undefined, undefined]);
    done.complete('ok');
    expect([done.isSettled, done.isCompleted, done.isFaulted, done.result, done.error]).toEqual([true, true, false, 'ok', undefined]);
    const failed = new AtomicTask<string>('activity', 'B', 1);
    const error = new Error('boom');
    failed.fail(error);
    expect([failed.isSettled, failed.isCompleted, failed.isFaulted, failed.result, failed.error]).toEqual([true, true, true, undefined, error]);
  });

  it('settles once: a second settle throws and changes nothing', () => {
    const done = new AtomicTask<string>('activity', 'A', 0);
    done.complete('ok');
    expect(() => done.fail(new Error('late'))).toThrow('task already completed');
    expect(() => done.complete('again')).toThrow('task already completed');
    expect([done.isFaulted, done.result]).toEqual([false, 'ok']);
    const failed = new AtomicTask<string>('activity', 'B', 1);
    failed.fail(new Error('boom'));
    expect(() => failed.complete('late')).toThrow('task already failed');
    expect(failed.error?.message).toBe('boom');
  });

  it('tells every parent once when it settles, or only the last one with lastParentOnly, which settling keeps', () => {
    const [a, b] = [parent(), parent()];
    const task = new AtomicTask('external-event', 'go', -1);
    task.addParent(a);
    task.addParent(b);
    task.complete(1);
    expect([a.heard, b.heard]).toEqual([[task], [task]]);

    const [c, d] = [parent(), parent()];
    const old = new AtomicTask('external-event', 'go', -1);
    old.lastParentOnly = true;
    expect(old.lastParentOnly).toBe(true);
    old.addParent(c);
    old.addParent(d);
    old.fail(new Error('x'));
    expect([c.heard, d.heard]).toEqual([[], [old]]);
    expect([old.lastParentOnly, old.isFaulted, old.isSettled]).toEqual([true, true, true]);
    old.lastParentOnly = false;
    expect([old.lastParentOnly, old.isFaulted]).toEqual([false, true]);
  });
});

describe('Task.all and Task.any', () => {
  const refusal = (call: () => unknown) => {
    try {
      call();
      return 'accepted';
    } catch (error) {
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
  };

  it('refuse anything but an array of tasks with InvalidArgumentError, before touching a task', () => {
    const task = new AtomicTask<string>('activity', 'A', 0);
    const listener = parent();
    task.addParent(listener);
    for (const combinator of ['all', 'any'] as const) {
      const combine = Task[combinator] as (tasks: unknown) => unknown;
      expect(refusal(() => combine([1, 2]))).toBe(`InvalidArgumentError: Task.${combinator} element 0 is no task`);
      expect(refusal(() => combine([task, 'x']))).toBe(`InvalidArgumentError: Task.${combinator} element 1 is no task`);
      expect(refusal(() => combine(task))).toBe(`InvalidArgumentError: Task.${combinator} needs an array of tasks`);
      expect(refusal(() => combine(undefined))).toBe(`InvalidArgumentError: Task.${combinator} needs an array of tasks`);
    }
    expect(refusal(() => Task.any([]))).toBe('InvalidArgumentError: Task.any needs at least one task');
    // No refused combinator became a parent of the task: only the listener hears it settle.
    task.complete('ok');
    expect(listener.heard).toEqual([task]);
    expect(refusal(() => Task.all([task]))).toBe('accepted');
  });
});
