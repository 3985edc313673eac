import { SETTLED } from '../src/testing/settled.js';

/** A promise that settles within SETTLED of real time, or rejects saying what did not happen. */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${SETTLED.timeoutMs} ms`)), SETTLED.timeoutMs))),
  ]).finally(() => clearTimeout(timer));
}
