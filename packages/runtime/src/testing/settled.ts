/**
 * `waitForCompletion` options for tests that wait for an instance to finish: 60 s instead of the 10 s default.
 * CI machines are shared and often loaded, and an instance that takes 11 s there is slow, not wrong; a test that
 * waited with the default would read it as Running and fail.
 */
export const SETTLED = { timeoutMs: 60_000 } as const;

/** A promise that settles within SETTLED of real time, or rejects saying what did not happen. */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${SETTLED.timeoutMs} ms`)), SETTLED.timeoutMs))),
  ]).finally(() => clearTimeout(timer));
}
