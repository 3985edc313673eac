import { describeReadmeExamples } from '../../../../test-support/readme-examples.js';

// The README's blocks, run in Node on fake-indexeddb's globals (test/setup-node.ts installs them), and the values
// their comments promise they print. The ```ts norun block (leader mode) needs Web Locks, which Node lacks; it is
// typechecked here, and runAsLeader runs in Chromium in test/browser/.
describeReadmeExamples(new URL('../../README.md', import.meta.url), new URL('./.docs-blocks/', import.meta.url), [
  ['Hello Tokyo!'],
  ['status', 'London', ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']],
]);
