/**
 * `waitForCompletion` options for tests that wait for an instance to finish: 60 s instead of the 10 s default.
 * CI machines are shared and often loaded, and an instance that takes 11 s there is slow, not wrong; a test that
 * waited with the default would read it as Running and fail.
 */
export const SETTLED = { timeoutMs: 60_000 } as const;
