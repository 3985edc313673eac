// Sums vitest's per-package "Tests  ..." lines in a turbo log and prints one closing line:
//   tests: N passed, N failed, N skipped
import { readFileSync } from 'node:fs';

const log = readFileSync(process.argv[2] ?? 0, 'utf8').replace(/\u001b\[[0-9;]*m/g, '');
const totals = { passed: 0, failed: 0, skipped: 0 };
let packages = 0;
for (const line of log.split('\n')) {
  const match = /(?:^|\s)Tests\s+(.*)\(\d+\)\s*$/.exec(line);
  if (!match) continue;
  packages++;
  for (const [, count, kind] of match[1].matchAll(/(\d+) (passed|failed|skipped)/g)) totals[kind] += Number(count);
}
if (packages === 0) {
  console.log('tests: no test summary found in the log');
  process.exit(1);
}
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
