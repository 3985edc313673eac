/** Resolves after `ms` milliseconds: gives the demo's activities a visible duration. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
