import { describeReadmeExamples } from '../../../test-support/readme-examples.js';

// This package's README blocks, and the values their comments promise they print.
describeReadmeExamples(new URL('../README.md', import.meta.url), new URL('./.docs-blocks/', import.meta.url), [
  ['custom status:', 'Tokyo', 'Seattle', 'London', ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']],
  [[0, 1 / 3, 2 / 3, 1], ['Running', 'Completed']],
]);
