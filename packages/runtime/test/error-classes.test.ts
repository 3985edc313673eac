import { describe, expect, it } from 'vitest';
import * as runtime from '../src/index.js';
import { DurableError, TaskFailedError } from '../src/index.js';

/** Every error class the package entry exports (DurableError itself is abstract). */
const errorClasses = Object.entries(runtime as Record<string, unknown>).filter(
  (entry): entry is [string, new (message: string) => DurableError] =>
    typeof entry[1] === 'function' && entry[1].prototype instanceof DurableError,
);

describe('exported error classes', () => {
  it('are found', () => {
    expect(errorClasses.map(([name]) => name)).toContain('TaskFailedError');
  });

  it.each(errorClasses)('%s builds from a message alone', (name, ErrorClass) => {
    const error = new ErrorClass('went wrong');
    expect(error).toBeInstanceOf(DurableError);
    expect(error).toMatchObject({ name, message: 'went wrong' });
    expect(typeof error.code).toBe('string');
    expect(typeof error.status).toBe('number');
  });

  it('gives a TaskFailedError built from a message alone no task, and the message as its failure', () => {
    const error = new TaskFailedError('Activity "Charge" failed: declined');
    expect(error.task).toEqual({ name: '', taskScheduledId: -1 });
    expect(error.failureDetails).toEqual({ errorType: 'Error', errorMessage: 'Activity "Charge" failed: declined' });
    expect(error.cause).toMatchObject({ message: 'Activity "Charge" failed: declined' });
  });

  it('keeps building a TaskFailedError from a message, its task and its failure', () => {
    const failure = { errorType: 'RangeError', errorMessage: 'declined', stackTrace: 'RangeError: declined\n    at charge' };
    const error = new TaskFailedError('Activity "Charge" (#3) failed: declined', { name: 'Charge', taskScheduledId: 3 }, failure);
    expect(error.task).toEqual({ name: 'Charge', taskScheduledId: 3 });
    expect(error.failureDetails).toBe(failure);
    expect(error.cause).toMatchObject({ name: 'RangeError', message: 'declined', stack: failure.stackTrace });
  });
});
