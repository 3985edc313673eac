/**
 * An activity that runs until the test lets it end: `running` resolves once it has started, `finish(value)` ends its
 * latest run with `value`, and `runs()` counts its runs.
 */
export function heldActivity() {
  let finish!: (value: string) => void;
  let started!: () => void;
  let runs = 0;
  const running = new Promise<void>((resolve) => (started = resolve));
  const activity = (): Promise<string> => new Promise<string>((resolve) => {
    runs++;
    finish = resolve;
    started();
  });
  return { activity, running, finish: (value: string) => finish(value), runs: () => runs };
}
